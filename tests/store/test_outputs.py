"""seamless-run's outputs in the current directory (store/outputs.py): order, atomicity, names, download decision."""

import json
import os
import subprocess
import sys
import time

import pytest

from seamless_transformer.bashrun.prepare import RunOptions, prepare
from seamless_transformer.checksum import Checksum
from seamless_transformer.errors import CacheMissError, UsageError
from seamless_transformer.store.outputs import Futures, missing_leaves, parse_deep, usable_result, write_targets
from seamless_transformer.store.storage import get_storage

ABSENT = Checksum.of(b"a buffer that was never stored\n")


def deep(storage, files: dict) -> bytes:
    """A targets-mode result buffer {relpath: cs}; bytes values are stored, Checksums are not."""
    return json.dumps({rel: (data if isinstance(data, Checksum) else storage.put_buffer(data)).hex()
                       for rel, data in files.items()}).encode()


def write(prepared, buffer, download=True):
    storage = get_storage()
    write_targets(prepared, buffer, storage, cwd=os.getcwd(), download=download, answer=True)


def test_a_file_sidecar_is_not_written_when_its_content_cannot_be():
    prepared = prepare(["echo x > o.txt"])
    with pytest.raises(CacheMissError):
        write(prepared, deep(get_storage(), {"o.txt": ABSENT}))
    assert sorted(os.listdir()) == []


def test_a_directory_sidecar_is_not_written_when_its_content_cannot_be():
    prepared = prepare(["true"], RunOptions(captures=["d"]))
    with pytest.raises(CacheMissError):
        write(prepared, deep(get_storage(), {"d/a.txt": b"A\n", "d/b.txt": ABSENT}))
    assert sorted(os.listdir()) == []


def test_a_file_target_is_replaced_never_rewritten_in_place():
    open("o.txt", "w").write("old\n")
    open("o.txt.CHECKSUM", "w").write(Checksum.of(b"old\n").hex() + "\n")
    os.link("o.txt", "reader-of-o.txt")
    os.link("o.txt.CHECKSUM", "reader-of-o.txt.CHECKSUM")
    write(prepare(["echo new > o.txt"]), deep(get_storage(), {"o.txt": b"new\n"}))
    assert open("o.txt").read() == "new\n"
    assert open("reader-of-o.txt").read() == "old\n"
    assert open("reader-of-o.txt.CHECKSUM").read() == Checksum.of(b"old\n").hex() + "\n"


def test_a_directory_target_and_its_sidecars_are_replaced_never_rewritten_in_place():
    os.mkdir("d")
    open("d/a.txt", "w").write("old\n")
    open("d.INDEX", "w").write("{}\n")
    os.link("d/a.txt", "reader-of-a.txt")
    os.link("d.INDEX", "reader-of-d.INDEX")
    write(prepare(["true"], RunOptions(captures=["d"])), deep(get_storage(), {"d/a.txt": b"new\n"}))
    assert open("d/a.txt").read() == "new\n"
    assert open("reader-of-a.txt").read() == "old\n"
    assert open("reader-of-d.INDEX").read() == "{}\n"


def test_the_entries_of_a_deep_result_keep_their_relative_names():
    prepared = prepare(["true"], RunOptions(captures=["d"]))
    write(prepared, deep(get_storage(), {"d/sub/x/a.txt": b"A\n", "d/b.txt": b"B\n"}))
    assert open("d/sub/x/a.txt").read() == "A\n"
    assert open("d/b.txt").read() == "B\n"
    assert json.loads(open("d.INDEX").read()) == {"b.txt": Checksum.of(b"B\n").hex(),
                                                 "sub/x/a.txt": Checksum.of(b"A\n").hex()}


@pytest.mark.parametrize("absent", ["d/a.txt", "d/b.txt", "o.txt"])
def test_one_missing_leaf_among_present_ones_makes_the_cached_result_unusable(absent):
    prepared = prepare(["echo x > o.txt"], RunOptions(captures=["d"]))
    storage = get_storage()
    files = {"d/a.txt": b"A\n", "d/b.txt": b"B\n", "o.txt": b"x\n"}
    files[absent] = ABSENT
    assert missing_leaves(prepared, parse_deep(deep(storage, files)), storage) is True


def test_a_cached_result_with_every_leaf_present_is_usable():
    prepared = prepare(["echo x > o.txt"], RunOptions(captures=["d"]))
    storage = get_storage()
    buffer = deep(storage, {"d/a.txt": b"A\n", "d/b.txt": b"B\n", "o.txt": b"x\n"})
    assert missing_leaves(prepared, parse_deep(buffer), storage) is False


def test_a_directory_target_stays_as_it_was_when_its_new_content_cannot_be_written():
    os.mkdir("d")
    open("d/old.txt", "w").write("old\n")
    prepared = prepare(["true"], RunOptions(captures=["d"]))
    with pytest.raises(CacheMissError):
        write(prepared, deep(get_storage(), {"d/a.txt": ABSENT}))
    assert os.listdir("d") == ["old.txt"]


def test_futures_are_still_touched_after_one_of_them_was_removed():
    prepared = prepare(["echo x > o.txt"], RunOptions(captures=["log.txt"]))
    with Futures(prepared, os.getcwd(), interval=0.05):
        os.unlink("log.txt.FUTURE")
        os.utime("o.txt.FUTURE", (0, 0))
        deadline = time.monotonic() + 30
        while os.stat("o.txt.FUTURE").st_mtime == 0:
            assert time.monotonic() < deadline, "o.txt.FUTURE was not touched"
            time.sleep(0.02)


def test_a_target_in_a_subdirectory_that_does_not_exist_here_gets_its_directory():
    prepared = prepare(["mkdir -p sub/deeper; echo x > sub/deeper/o.txt"])
    write(prepared, deep(get_storage(), {"sub/deeper/o.txt": b"x\n"}))
    assert open("sub/deeper/o.txt").read() == "x\n"
    assert open("sub/deeper/o.txt.CHECKSUM").read() == Checksum.of(b"x\n").hex() + "\n"


NO_ROOM = "n" * (255 - len(".CHECKSUM") + 1 - len(".txt")) + ".txt"  # X.FUTURE fits in NAME_MAX, X.CHECKSUM not


def test_a_job_whose_output_name_leaves_no_room_for_its_sidecar_is_refused_before_any_future_is_written():
    prepared = prepare([f"echo x > {NO_ROOM}"])
    with pytest.raises(UsageError, match="too long for its .CHECKSUM sidecar"):
        Futures(prepared, os.getcwd()).__enter__()
    assert os.listdir() == []


def test_a_result_whose_output_name_leaves_no_room_for_its_sidecar_writes_nothing():
    prepared = prepare(["true"], RunOptions(captures=["ok.txt", NO_ROOM]))
    with pytest.raises(UsageError, match="too long for its .CHECKSUM sidecar"):
        write(prepared, deep(get_storage(), {NO_ROOM: b"x\n", "ok.txt": b"y\n"}))
    assert os.listdir() == []


def test_the_future_of_a_target_in_a_subdirectory_that_does_not_exist_yet_is_written_there():
    prepared = prepare(["mkdir -p sub; echo x > sub/o.txt"])
    with Futures(prepared, os.getcwd()):
        assert os.path.exists("sub/o.txt.FUTURE")
    assert os.listdir("sub") == []


def test_the_thread_that_touches_futures_does_not_keep_the_process_alive(tmp_path):
    script = ("import os, sys\n"
              "from seamless_transformer.bashrun.prepare import prepare\n"
              "from seamless_transformer.store.outputs import Futures\n"
              "Futures(prepare(['echo x > o.txt']), os.getcwd()).__enter__()\n"
              "sys.exit(0)  # without leaving the context: the process must still end\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, timeout=60)
    assert proc.returncode == 0


def _many_files_result(storage):
    return deep(storage, {"d/a.txt": b"A\n", "d/b.txt": b"B\n", "d/c.txt": b"C\n"})


def test_a_declined_download_above_the_file_threshold_writes_nothing(monkeypatch):
    monkeypatch.setenv("SEAMLESS_MAX_DOWNLOAD_FILES", "2")
    prepared = prepare(["true"], RunOptions(captures=["d"]))
    with pytest.raises(UsageError, match="not confirmed"):
        write_targets(prepared, _many_files_result(get_storage()), get_storage(), cwd=os.getcwd(),
                      download=True, answer=False)
    assert os.listdir() == []


def test_without_download_no_confirmation_is_asked_and_the_sidecars_are_written(monkeypatch):
    monkeypatch.setenv("SEAMLESS_MAX_DOWNLOAD_FILES", "2")
    prepared = prepare(["true"], RunOptions(captures=["d"]))
    write_targets(prepared, _many_files_result(get_storage()), get_storage(), cwd=os.getcwd(),
                  download=False, answer=False)
    assert sorted(os.listdir()) == ["d.CHECKSUM", "d.INDEX"]


@pytest.mark.parametrize("stored", [b'{"o.txt": 5}', b'["o.txt"]', b'{"o.txt": null}', b'"o.txt"'])
def test_a_cached_result_that_is_no_valid_deep_buffer_is_computed_again(stored):
    storage = get_storage()
    prepared = prepare(["echo x > o.txt"])
    result = storage.put_buffer(stored)
    storage.put_result(prepared.tf_checksum, result)
    assert usable_result(prepared.tf_checksum, prepared.targets, storage, download=True) is None
