"""The built module is reused: by a second process, by spawned workers, and by a concurrent
builder that lost the race."""

import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from compiled_helpers import ADD_CODE, ADD_SCHEMA, make, record_of
from seamless_transformer.celltypes import serialize
from seamless_transformer.checksum import Checksum

SCRIPT = textwrap.dedent('''
    import sys
    from seamless.transformer import CompiledTransformer

    tf = CompiledTransformer("c")
    tf.schema, tf.code = sys.argv[1], sys.argv[2]
    print(tf(a=19, b=23).run())
''')


def _unique_code() -> str:
    """The add example with a comment nobody else compiled: a module key of its own."""
    return ADD_CODE["c"] + f"\n/* {uuid.uuid4().hex} */\n"


def _run_elsewhere(tmp_path, code, name):
    """Start the add example in a new process with an empty result cache of its own."""
    env = {**os.environ, "SEAMLESS_CACHE": str(tmp_path / f"results-{name}")}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, ADD_SCHEMA, code], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_process_runs_the_module_without_invoking_the_compiler(counting_compilers, tmp_path):
    code = _unique_code()
    assert make("c", ADD_SCHEMA, code)(a=1, b=2).run() == 3
    assert any(line.startswith("gcc ") for line in counting_compilers())  # the wrappers do count
    before = len(counting_compilers())
    out, err = _run_elsewhere(tmp_path, code, "second").communicate(timeout=120)
    assert (out, err) == ("42\n", "")
    assert counting_compilers()[before:] == []


def test_spawned_workers_use_the_built_module_without_compiling(counting_compilers):
    from seamless_transformer import config, shutdown_workers, spawn

    config.select_record(True)
    code = _unique_code()
    assert make("c", ADD_SCHEMA, code)(a=1, b=2).run() == 3
    before = len(counting_compilers())
    spawn(1)
    try:
        tf = make("c", ADD_SCHEMA, code)(a=19, b=23)
        assert tf.run() == 42
    finally:
        shutdown_workers(wait=True)
    assert counting_compilers()[before:] == []
    assert record_of(tf)["execution_mode"] == "spawn"



def test_two_processes_building_the_same_module_at_once_both_succeed(tmp_path):
    from seamless_transformer.config import cache_dir

    code = _unique_code()
    first, second = _run_elsewhere(tmp_path, code, "one"), _run_elsewhere(tmp_path, code, "two")
    assert first.communicate(timeout=120) == ("42\n", "")
    assert second.communicate(timeout=120) == ("42\n", "")
    leftovers = [n for n in os.listdir(cache_dir("compiled")) if n.startswith(".tmp-")]
    assert leftovers == []


def test_a_damaged_module_directory_is_rebuilt(tmp_path):
    from seamless_transformer.config import cache_dir

    code = _unique_code()
    out, _err = _run_elsewhere(tmp_path, code, "build").communicate(timeout=120)
    assert out == "42\n"
    newest = max((os.path.join(cache_dir("compiled"), n) for n in os.listdir(cache_dir("compiled"))),
                 key=os.path.getmtime)
    for name in os.listdir(newest):
        os.remove(os.path.join(newest, name))
    assert make("c", ADD_SCHEMA, code)(a=2, b=2).run() == 4


def test_seamless_run_transformation_runs_a_compiled_transformation_by_checksum(tmp_path):
    tf = make("c", ADD_SCHEMA, ADD_CODE["c"])(a=100, b=23)
    checksum = tf.construct().hex()  # stored, never run
    proc = subprocess.run(["seamless-run-transformation", checksum], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == Checksum.of(serialize(123, "mixed")).hex()


def test_python_transformer_in_a_compiled_language_asks_for_a_schema():
    from seamless.transformer import TransformationError, direct

    with pytest.raises(TransformationError) as info:
        direct("int x;", language="c")(a=1)
    assert str(info.value) == "a 'c' transformation needs a schema (use CompiledTransformer)"
