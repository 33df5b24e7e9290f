"""seamless-run outputs: .FUTURE files, atomic targets with sidecars, and what a cache hit imports."""

import json
import os
import subprocess
import sys
import time

import pytest

from seamless_transformer.checksum import Checksum
from seamless_transformer.store.outputs import Futures, write_targets
from seamless_transformer.store.storage import get_storage
from seamless_transformer.bashrun.prepare import RunOptions, prepare


def deep_result(storage, files: dict) -> bytes:
    """A targets-mode result buffer {relpath: cs}, with its leaves stored."""
    return json.dumps({rel: storage.put_buffer(data).hex() for rel, data in files.items()}).encode()


def test_futures_hold_the_tf_and_target_and_are_removed_on_an_error():
    prepared = prepare(["echo x > o.txt"], RunOptions(captures=[":log.txt"]))
    tf = prepared.tf_checksum.hex()
    with pytest.raises(RuntimeError):
        with Futures(prepared, os.getcwd()):
            assert open("o.txt.FUTURE").readline() == f"{tf}.o.txt\n"
            assert open("log.txt.FUTURE").readline() == f"{tf}.STDOUT\n"
            raise RuntimeError("job failed")
    assert not os.path.exists("o.txt.FUTURE")
    assert not os.path.exists("log.txt.FUTURE")


def test_futures_are_touched_while_the_job_runs():
    prepared = prepare(["echo x > o.txt"])
    with Futures(prepared, os.getcwd(), interval=0.05):
        os.utime("o.txt.FUTURE", (0, 0))
        deadline = time.monotonic() + 30
        while os.stat("o.txt.FUTURE").st_mtime == 0:
            assert time.monotonic() < deadline, "o.txt.FUTURE was not touched"
            time.sleep(0.02)


def test_a_file_target_replaces_a_stale_directory_and_its_index():
    os.mkdir("o.txt")
    open("o.txt/old", "w").close()
    open("o.txt.INDEX", "w").write("{}\n")
    storage = get_storage()
    prepared = prepare(["true; echo new > o.txt"])
    write_targets(prepared, deep_result(storage, {"o.txt": b"new\n"}), storage, cwd=os.getcwd(), download=True)
    assert open("o.txt").read() == "new\n"
    assert open("o.txt.CHECKSUM").read() == Checksum.of(b"new\n").hex() + "\n"
    assert not os.path.exists("o.txt.INDEX")
    assert sorted(os.listdir()) == ["o.txt", "o.txt.CHECKSUM"]


def test_a_directory_target_is_swapped_in_with_index_then_checksum():
    os.mkdir("d")
    open("d/stale.txt", "w").write("old")
    storage = get_storage()
    prepared = prepare(["true"], RunOptions(captures=["d"]))
    write_targets(prepared, deep_result(storage, {"d/a.txt": b"A\n", "d/sub/b.txt": b"B\n"}), storage,
                  cwd=os.getcwd(), download=True)
    assert sorted(os.listdir("d")) == ["a.txt", "sub"]
    index = open("d.INDEX", "rb").read()
    assert json.loads(index) == {"a.txt": Checksum.of(b"A\n").hex(), "sub/b.txt": Checksum.of(b"B\n").hex()}
    assert open("d.CHECKSUM").read() == Checksum.of(index).hex() + "\n"
    assert storage.get_buffer(Checksum.of(index)) == index
    assert sorted(os.listdir()) == ["d", "d.CHECKSUM", "d.INDEX"]


def test_without_download_only_the_sidecar_is_written_and_a_stale_file_goes():
    open("o.txt", "w").write("old")
    storage = get_storage()
    prepared = prepare(["true; echo new > o.txt"], RunOptions(no_download=True))
    write_targets(prepared, deep_result(storage, {"o.txt": b"new\n"}), storage, cwd=os.getcwd(), download=False)
    assert sorted(os.listdir()) == ["o.txt.CHECKSUM"]


HIT = """
import sys
at_start = set(sys.modules)  # what the interpreter's site hooks imported is not the hit's doing
from seamless_transformer.cli._common import run_main
from seamless_transformer.cli.run import body
code = run_main("seamless-run", body, ["echo hello"])
heavy = [m for m in ("click", "tree_sitter", "urllib3", "distributed", "dask", "seamless_transformer.engine",
                     "seamless_transformer.execution.bash", "seamless_transformer.execution.workspace",
                     "seamless_transformer.execution.execute", "seamless_transformer.api",
                     "logging", "dataclasses", "inspect", "tokenize", "secrets", "shutil",
                     "seamless_transformer.store.remote") if m in sys.modules and m not in at_start]
print(code, heavy, file=sys.stderr)
"""


def test_a_cache_hit_imports_neither_click_nor_the_parser_nor_the_execution_layer_nor_logging_nor_dataclasses():
    first = subprocess.run([sys.executable, "-c", HIT], capture_output=True, text=True)
    assert first.stdout == "hello\n"
    assert "'tree_sitter'" in first.stderr and "engine" in first.stderr
    second = subprocess.run([sys.executable, "-c", HIT], capture_output=True, text=True)
    assert second.stdout == "hello\n"
    assert second.stderr == "0 []\n"
