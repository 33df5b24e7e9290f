"""The built module is reused: by a second process, by spawned workers, and by a concurrent
builder that lost the race."""

import os
import shutil
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


def _module_dir_built_elsewhere(tmp_path, code) -> str:
    """Build the add example with `code` in another process; the module directory it made."""
    from seamless_transformer.config import cache_dir

    out, _err = _run_elsewhere(tmp_path, code, "build").communicate(timeout=120)
    assert out == "42\n"
    return max((os.path.join(cache_dir("compiled"), n) for n in os.listdir(cache_dir("compiled"))),
               key=os.path.getmtime)


def _module_file_in(directory) -> str:
    (name,) = [n for n in os.listdir(directory) if n.endswith(".so")]
    return os.path.join(directory, name)


def test_a_damaged_module_directory_is_rebuilt(tmp_path):
    code = _unique_code()
    newest = _module_dir_built_elsewhere(tmp_path, code)
    for name in os.listdir(newest):
        os.remove(os.path.join(newest, name))
    assert make("c", ADD_SCHEMA, code)(a=2, b=2).run() == 4


def test_a_truncated_module_in_the_cache_is_rebuilt(tmp_path):
    code = _unique_code()
    module_file = _module_file_in(_module_dir_built_elsewhere(tmp_path, code))
    os.truncate(module_file, 100)
    assert make("c", ADD_SCHEMA, code)(a=2, b=2).run() == 4


def test_a_module_planted_in_the_cache_is_not_loaded(tmp_path):
    from seamless_transformer.execution.compiled.build import build_module
    from seamless_transformer.execution.compiled.languages import get_compilation
    from seamless_transformer.execution.compiled.schema import header_of

    code = _unique_code()
    directory = _module_dir_built_elsewhere(tmp_path, code)
    planted = [{"name": "main", "language": "c", "code": code.replace("a + b", "a * b"),
                "compilation": get_compilation("c")}]
    (tmp_path / "plant").mkdir()
    name = "_seamless_compiled_" + os.path.basename(directory)[:32]  # loads under the adder's key
    shutil.copyfile(build_module(planted, header_of(ADD_SCHEMA), name, str(tmp_path / "plant")),
                    _module_file_in(directory))
    assert make("c", ADD_SCHEMA, code)(a=3, b=3).run() == 6


@pytest.mark.parametrize("damage", ["writable by others", "owned by another user"])
def test_a_module_directory_another_user_may_write_is_refused(tmp_path, damage):
    from seamless.transformer import TransformationError

    code = _unique_code()
    directory = _module_dir_built_elsewhere(tmp_path, code)
    if damage == "writable by others":
        os.chmod(directory, 0o777)
    elif os.getuid() != 0:
        pytest.skip("only root can give a directory to another user")
    else:
        os.chown(directory, 65534, 65534)
    with pytest.raises(TransformationError, match="refusing the compiled module in"):
        make("c", ADD_SCHEMA, code)(a=2, b=2).run()


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
