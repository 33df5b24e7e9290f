"""BufferDir: the embedded buffer store layout of SPEC §3.2."""

import gzip
import hashlib
import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from seamless_transformer.errors import ChecksumMismatchError
from seamless_transformer.store.files import BufferDir

HELLO = b"hello\n"
HELLO_CS = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def listing(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


def test_put_writes_the_prefix_layout_with_marker_and_mode_0444(tmp_path):
    store = BufferDir(tmp_path / "s")
    assert store.put(HELLO) == HELLO_CS
    assert (tmp_path / "s" / ".HASHSERVER_PREFIX").read_bytes() == b"1\n"
    target = tmp_path / "s" / "58" / HELLO_CS
    assert target.read_bytes() == HELLO
    assert stat.S_IMODE(target.stat().st_mode) == 0o444
    assert store.layout == "prefix"


def _put_under_umask(path, umask):
    old = os.umask(umask)
    try:
        BufferDir(path).put(HELLO)
    finally:
        os.umask(old)


def test_prefix_directories_follow_the_umask_022_closed_to_the_group(tmp_path):
    _put_under_umask(tmp_path / "s", 0o022)
    assert stat.S_IMODE((tmp_path / "s" / "58").stat().st_mode) == 0o755


def test_prefix_directories_follow_the_umask_002_open_to_the_group(tmp_path):
    _put_under_umask(tmp_path / "s", 0o002)
    assert stat.S_IMODE((tmp_path / "s" / "58").stat().st_mode) == 0o775


def test_prefix_directories_inherit_a_setgid_store_group(tmp_path):
    os.mkdir(tmp_path / "s")
    os.chmod(tmp_path / "s", 0o2775)
    _put_under_umask(tmp_path / "s", 0o002)
    assert stat.S_IMODE((tmp_path / "s" / "58").stat().st_mode) == 0o2775


def test_construction_creates_nothing(tmp_path):
    BufferDir(tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_put_leaves_no_temp_file(tmp_path):
    BufferDir(tmp_path / "s").put(HELLO)
    assert listing(tmp_path / "s") == [".HASHSERVER_PREFIX", f"58/{HELLO_CS}"]


def test_get_returns_what_put_stored(tmp_path):
    store = BufferDir(tmp_path / "s")
    data = os.urandom(100_000)
    cs = store.put(data)
    assert store.has(cs)
    assert BufferDir(tmp_path / "s").get(cs) == data


def test_get_of_an_absent_checksum_is_none(tmp_path):
    store = BufferDir(tmp_path / "s")
    assert store.get(HELLO_CS) is None and not store.has(HELLO_CS)


def test_put_with_a_wrong_checksum_is_refused(tmp_path):
    store = BufferDir(tmp_path / "s")
    with pytest.raises(ChecksumMismatchError):
        store.put(HELLO, "0" * 64)
    assert not store.has(HELLO_CS)


def test_a_second_put_of_the_same_buffer_is_a_no_op(tmp_path):
    store = BufferDir(tmp_path / "s")
    store.put(HELLO)
    inode = (tmp_path / "s" / "58" / HELLO_CS).stat().st_ino
    store.put(HELLO)
    assert (tmp_path / "s" / "58" / HELLO_CS).stat().st_ino == inode


def test_names_containing_a_dash_are_ignored_by_readers(tmp_path):
    store = BufferDir(tmp_path / "s")
    store.put(b"other")
    (tmp_path / "s" / "58").mkdir(exist_ok=True)
    (tmp_path / "s" / "58" / f"{HELLO_CS}-abc123").write_bytes(HELLO)
    assert not store.has(HELLO_CS) and store.get(HELLO_CS) is None


def test_flat_layout_is_read_without_marker(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / HELLO_CS).write_bytes(HELLO)
    store = BufferDir(tmp_path / "flat", writable=False)
    assert store.layout == "flat"
    assert store.get(HELLO_CS) == HELLO
    assert store.file_path(HELLO_CS) == str(tmp_path / "flat" / HELLO_CS)


def test_gz_buffer_is_read_decompressed(tmp_path):
    BufferDir(tmp_path / "s").put(b"x")
    (tmp_path / "s" / "58").mkdir()
    (tmp_path / "s" / "58" / f"{HELLO_CS}.gz").write_bytes(gzip.compress(HELLO))
    (tmp_path / "s" / "58" / f"{HELLO_CS}.BUFFERLENGTH").write_text("6")
    store = BufferDir(tmp_path / "s")
    assert store.has(HELLO_CS) and store.get(HELLO_CS) == HELLO
    assert store.file_path(HELLO_CS) is None


def test_gz_buffer_without_bufferlength_is_read_without_a_warning(tmp_path, caplog):
    BufferDir(tmp_path / "s").put(b"x")
    (tmp_path / "s" / "58").mkdir()
    (tmp_path / "s" / "58" / f"{HELLO_CS}.gz").write_bytes(gzip.compress(HELLO))
    with caplog.at_level(logging.WARNING):
        assert BufferDir(tmp_path / "s").get(HELLO_CS) == HELLO
    assert caplog.records == []


def test_gz_buffer_whose_length_differs_from_its_bufferlength_is_logged(tmp_path, caplog):
    BufferDir(tmp_path / "s").put(b"x")
    (tmp_path / "s" / "58").mkdir()
    (tmp_path / "s" / "58" / f"{HELLO_CS}.gz").write_bytes(gzip.compress(HELLO))
    (tmp_path / "s" / "58" / f"{HELLO_CS}.BUFFERLENGTH").write_text("7")
    with caplog.at_level(logging.WARNING):
        BufferDir(tmp_path / "s").get(HELLO_CS)
    assert "length 6 differs from .BUFFERLENGTH 7" in caplog.text


def test_zst_buffer_is_read_decompressed(tmp_path):
    import zstandard

    data = b"z" * 50_000
    cs = hashlib.sha256(data).hexdigest()
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / f"{cs}.zst").write_bytes(
        zstandard.ZstdCompressor(write_content_size=False).compress(data)  # frame without content size
    )
    (tmp_path / "flat" / f"{cs}.BUFFERLENGTH").write_text(str(len(data)))
    assert BufferDir(tmp_path / "flat", writable=False).get(cs) == data


def test_corrupted_buffer_is_not_served_and_is_logged(tmp_path, caplog):
    store = BufferDir(tmp_path / "s", writable=True)
    store.put(HELLO)
    target = tmp_path / "s" / "58" / HELLO_CS
    os.chmod(target, 0o644)
    target.write_bytes(b"jello\n")
    with caplog.at_level(logging.WARNING):
        assert store.get(HELLO_CS) is None
    assert "does not match its checksum" in caplog.text


def test_an_intact_buffer_is_valid(tmp_path):
    store = BufferDir(tmp_path / "s")
    store.put(HELLO)
    assert store.has_valid(HELLO_CS)


def _corrupted_store(tmp_path):
    """(store, stored file of HELLO), the file overwritten by other bytes."""
    store = BufferDir(tmp_path / "s")
    store.put(HELLO)
    target = tmp_path / "s" / "58" / HELLO_CS
    os.chmod(target, 0o644)
    target.write_bytes(b"jello\n")
    return store, target


def test_a_corrupted_buffer_is_not_valid_and_is_discarded(tmp_path):
    store, target = _corrupted_store(tmp_path)
    assert not store.has_valid(HELLO_CS)
    assert not target.exists()


def test_corrupted_buffer_is_repaired_by_the_next_put(tmp_path):
    store, _target = _corrupted_store(tmp_path)
    assert store.get(HELLO_CS) is None
    store.put(HELLO)
    assert store.get(HELLO_CS) == HELLO


def test_corrupted_gz_buffer_is_not_served(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / f"{HELLO_CS}.gz").write_bytes(b"not gzip at all")
    assert BufferDir(tmp_path / "flat", writable=False).get(HELLO_CS) is None


def test_read_only_store_serves_reads_and_refuses_writes(tmp_path):
    BufferDir(tmp_path / "s").put(HELLO)
    os.chmod(tmp_path / "s", 0o555)
    store = BufferDir(tmp_path / "s", writable=False)
    assert store.get(HELLO_CS) == HELLO
    with pytest.raises(PermissionError, match="read-only"):
        store.put(b"new")
    assert listing(tmp_path / "s") == [".HASHSERVER_PREFIX", f"58/{HELLO_CS}"]


def test_read_only_store_keeps_a_corrupt_file(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / HELLO_CS).write_bytes(b"bad")
    assert BufferDir(tmp_path / "flat", writable=False).get(HELLO_CS) is None
    assert (tmp_path / "flat" / HELLO_CS).exists()


def test_put_file_streams_a_file_and_verifies_the_given_checksum(tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3_000_000))
    cs = hashlib.sha256(src.read_bytes()).hexdigest()
    store = BufferDir(tmp_path / "s")
    store.put_file(src, cs)
    assert store.get(cs) == src.read_bytes()
    assert store.file_path(cs) == str(tmp_path / "s" / cs[:2] / cs)


def test_put_file_without_checksum_computes_it(tmp_path):
    src = tmp_path / "f.txt"
    src.write_bytes(HELLO)
    assert BufferDir(tmp_path / "s").put_file(src) == HELLO_CS
    assert listing(tmp_path / "s") == [".HASHSERVER_PREFIX", f"58/{HELLO_CS}"]


def test_put_file_with_a_wrong_checksum_stores_nothing(tmp_path):
    src = tmp_path / "f.txt"
    src.write_bytes(HELLO)
    store = BufferDir(tmp_path / "s")
    with pytest.raises(ChecksumMismatchError):
        store.put_file(src, "1" * 64)
    assert listing(tmp_path / "s") == [".HASHSERVER_PREFIX"]


def test_put_file_link_hardlinks_the_file(tmp_path):
    src = tmp_path / "f.txt"
    src.write_bytes(HELLO)
    store = BufferDir(tmp_path / "s")
    store.put_file(src, HELLO_CS, link=True)
    assert os.path.samefile(store.file_path(HELLO_CS), src)


CONCURRENT_WRITER = textwrap.dedent("""\
    import sys
    from seamless_transformer.store.files import BufferDir
    data = bytes(range(256)) * 40000
    for _ in range(5):
        BufferDir(sys.argv[1]).put(data)
""")


def test_concurrent_writers_of_one_checksum_leave_one_good_file(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(tmp_path / "s")]) for _ in range(6)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    data = bytes(range(256)) * 40000
    cs = hashlib.sha256(data).hexdigest()
    assert listing(tmp_path / "s") == [".HASHSERVER_PREFIX", f"{cs[:2]}/{cs}"]
    assert BufferDir(tmp_path / "s").get(cs) == data


KILLED_WRITER = textwrap.dedent("""\
    import sys
    from seamless_transformer.store.files import BufferDir
    BufferDir(sys.argv[1]).put_file(sys.argv[2], sys.argv[3])
""")


def test_a_killed_writer_leaves_only_an_ignored_temp_file(tmp_path):
    data = os.urandom(8 << 20)
    cs = hashlib.sha256(data).hexdigest()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "s"), str(fifo), cs])
    with open(fifo, "wb") as pipe:
        pipe.write(data[: 4 << 20])  # half the buffer; the writer blocks waiting for the rest
        pipe.flush()
        prefix = tmp_path / "s" / cs[:2]
        deadline = time.monotonic() + 30
        while not (prefix.is_dir() and any(p.stat().st_size > 0 for p in prefix.iterdir())):
            assert time.monotonic() < deadline, "writer never started"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    leftovers = os.listdir(tmp_path / "s" / cs[:2])
    assert len(leftovers) == 1 and leftovers[0].startswith(cs + "-")
    store = BufferDir(tmp_path / "s")
    assert not store.has(cs) and store.get(cs) is None
    store.put(data)
    assert store.get(cs) == data


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def test_a_write_removes_stale_temp_files_of_dead_writers_and_nothing_else(tmp_path):
    store = BufferDir(tmp_path / "s")
    prefix = tmp_path / "s" / HELLO_CS[:2]
    prefix.mkdir(parents=True)
    dead = _dead_pid()
    stale = prefix / f"{HELLO_CS}-{dead}-0123456789abcdef"
    foreign = prefix / f"notes-{dead}-0123456789abcdef"
    for path in (stale, foreign):
        path.write_bytes(b"partial")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    store.put(HELLO)
    assert not stale.exists()
    assert foreign.exists()
