"""Temp names fit NAME_MAX whatever the target's name, and the temp files of killed writers
(in the user's directories and in the store) are cleaned by the next writer, never a live one's."""

import os
import subprocess
import time

from seamless_transformer._util import STALE_SECONDS, TEMP_PREFIX, temp_name
from seamless_transformer.store.files import BufferDir

HELLO = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
N255 = "n" * 255
N246 = "m" * 246


def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True)


def stored_hello():
    with open("h.txt", "w") as f:
        f.write("hello\n")
    assert run("seamless-upload", "h.txt").returncode == 0


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def aged(path: str) -> str:
    old = time.time() - STALE_SECONDS - 60
    os.utime(path, (old, old))
    return path


# ---------------------------------------------------------------- NAME_MAX


def test_a_temp_name_is_short_whatever_the_length_of_the_target_name(tmp_path):
    name = os.path.basename(temp_name(str(tmp_path / N255)))
    assert name.startswith(TEMP_PREFIX) and len(name) < 64


def test_a_255_byte_name_is_downloaded_and_its_impossible_sidecar_is_skipped_with_a_warning():
    stored_hello()
    done = run("seamless-download", HELLO, "-o", N255)
    assert done.returncode == 0
    assert done.stderr == f"seamless-download: warning: no sidecar for '{N255}.CHECKSUM': the name is too long\n"
    with open(N255) as f:
        assert f.read() == "hello\n"
    assert sorted(os.listdir(".")) == sorted(["h.txt", "h.txt.CHECKSUM", N255])


def test_a_246_byte_name_is_restored_from_its_255_byte_sidecar():
    stored_hello()
    os.rename("h.txt", N246)
    assert run("seamless-upload", N246).returncode == 0
    os.unlink(N246)
    done = run("seamless-download", N246)
    assert done.returncode == 0, done.stderr
    with open(N246) as f:
        assert f.read() == "hello\n"


def test_seamless_run_writes_a_246_byte_output_and_its_sidecar():
    done = run("seamless-run", f"echo x > {N246}")
    assert done.returncode == 0, done.stderr
    with open(N246 + ".CHECKSUM") as f:
        assert f.read() == _sha256(b"x\n") + "\n"


def test_seamless_run_refuses_a_255_byte_output_before_running_and_keeps_the_old_file():
    with open(N255, "w") as f:
        f.write("old\n")
    done = run("seamless-run", f"touch ran; echo x > {N255}")
    assert done.returncode == 2
    assert done.stderr == (
        f"seamless-run: error: output '{os.path.join(os.getcwd(), N255)}' has a name of 255 bytes:"
        " too long for its .CHECKSUM sidecar (at most 246 bytes)\n"
    )
    assert not os.path.exists("ran")
    with open(N255) as f:
        assert f.read() == "old\n"


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- stale temp files


def test_the_next_download_removes_a_dead_writers_stale_temp_file():
    stored_hello()
    stale = aged(_touch(f"{TEMP_PREFIX}{dead_pid()}-0123456789ab"))
    assert run("seamless-download", HELLO, "-o", "out.txt").returncode == 0
    assert not os.path.exists(stale)


def test_a_stale_looking_temp_file_of_a_live_writer_is_kept():
    stored_hello()
    live = aged(_touch(f"{TEMP_PREFIX}{os.getppid()}-0123456789ab"))  # a live process, not the cleaner
    assert run("seamless-download", HELLO, "-o", "out.txt").returncode == 0
    assert os.path.exists(live)


def test_a_fresh_temp_file_of_a_dead_writer_is_kept():
    stored_hello()
    fresh = _touch(f"{TEMP_PREFIX}{dead_pid()}-0123456789ab")
    assert run("seamless-download", HELLO, "-o", "out.txt").returncode == 0
    assert os.path.exists(fresh)


def test_a_killed_directory_build_is_removed_by_the_next_seamless_run():
    stale_dir = f"{TEMP_PREFIX}{dead_pid()}-0123456789ab"
    os.makedirs(os.path.join(stale_dir, "d"))
    aged(stale_dir)
    assert run("seamless-run", "echo x > out.txt").returncode == 0
    assert not os.path.exists(stale_dir)


def test_the_next_store_write_removes_a_dead_writers_stale_buffer_temp(tmp_path):
    store = BufferDir(tmp_path / "store")
    prefix_dir = os.path.dirname(store.file_path(store.put(b"hello\n")))
    os.unlink(store.file_path(HELLO))
    stale = aged(_touch(os.path.join(prefix_dir, f"{HELLO}-{dead_pid()}-0123456789abcdef")))
    live = aged(_touch(os.path.join(prefix_dir, f"{HELLO}-{os.getppid()}-fedcba9876543210")))
    fresh_store = BufferDir(tmp_path / "store")  # what the next process sees
    _forget_cleaned()
    fresh_store.put(b"hello\n")
    assert not os.path.exists(stale)
    assert os.path.exists(live)


def _forget_cleaned():
    from seamless_transformer.store import files

    files._cleaned.clear()


def _touch(path: str) -> str:
    with open(path, "w") as f:
        f.write("partial")
    return path
