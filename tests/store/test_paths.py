"""File and directory checksums and their sidecars (SPEC §2.3, goldens of §2.8)."""

import gzip
import hashlib
import json
import os
import socket
import sqlite3
import sys
import time

import pytest

from seamless_transformer.checksum import Checksum
from seamless_transformer.errors import UsageError
from seamless_transformer.store import paths, statcache
from seamless_transformer.store.storage import get_storage
from seamless_transformer.store.paths import (
    directory_index,
    file_checksum,
    read_checksum_sidecar,
    read_index_sidecar,
    sidecar_base,
    upload_path,
    write_checksum_sidecar,
    write_index_sidecar,
)

HELLO = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
A_NL = "06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0"
B_NL = "c0cde77fa8fef97d476c10aad3d2d54fcc2f336140d073651c2dcccf1e379fd6"
GOLDEN_INDEX = f'{{\n  "a.txt": "{A_NL}",\n  "sub/b.txt": "{B_NL}"\n}}\n'.encode()
GOLDEN_DIR = "6a3c780b41ab4198de3221f73319728816daa8af40ba5ee4f18c210d60b46e43"


def _write(path, data: bytes):
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return os.fspath(path)


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


def _golden_dir(root):
    _write(root / "a.txt", b"A\n")
    _write(root / "sub" / "b.txt", b"B\n")
    return root


def _keys(path):
    return sorted(directory_index(path).entries)


# --- file checksums ---------------------------------------------------------------------------


def test_file_checksum_is_sha256_of_bytes(tmp_path):
    assert file_checksum(_write(tmp_path / "x.txt", b"hello\n")) == HELLO


def test_gz_file_is_hashed_decompressed(tmp_path):
    assert file_checksum(_write(tmp_path / "x.txt.gz", gzip.compress(b"hello\n"))) == HELLO


def test_zst_file_is_hashed_decompressed(tmp_path):
    assert file_checksum(_write(tmp_path / "x.txt.zst", _zstd(b"hello\n"))) == HELLO


def test_multi_frame_zst_file_is_hashed_whole(tmp_path):
    path = _write(tmp_path / "x.zst", _zstd(b"hel") + _zstd(b"lo\n"))
    assert file_checksum(path) == HELLO


def test_an_empty_zst_file_is_empty_content(tmp_path):
    assert file_checksum(_write(tmp_path / "x.zst", b"")) == Checksum.of(b"").hex()

def test_zst_without_zstandard_is_a_clear_error(tmp_path, monkeypatch):
    path = _write(tmp_path / "x.txt.zst", _zstd(b"hello\n"))
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(UsageError, match="zstandard package is required"):
        file_checksum(path)


def test_corrupt_gz_file_is_a_usage_error(tmp_path):
    path = _write(tmp_path / "x.txt.gz", b"definitely not gzip")
    with pytest.raises(UsageError, match="x.txt.gz' is not valid compressed data"):
        file_checksum(path)


def test_a_file_under_a_pinned_directory_is_named_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "sub" / "x.gz", b"definitely not gzip")
    fd = os.open(tmp_path / "sub", os.O_RDONLY)
    try:
        with pytest.raises(UsageError, match=r"^'sub/x\.gz' is not valid compressed data"):
            file_checksum(f"/proc/self/fd/{fd}/x.gz")
    finally:
        os.close(fd)

def test_truncated_gz_file_is_a_usage_error(tmp_path):
    path = _write(tmp_path / "x.gz", gzip.compress(os.urandom(100_000))[:-1000])
    with pytest.raises(UsageError, match="x.gz' is not valid compressed data"):
        file_checksum(path)


def test_corrupt_zst_file_is_a_usage_error(tmp_path):
    path = _write(tmp_path / "x.zst", b"definitely not zstd")
    with pytest.raises(UsageError, match="x.zst' is not valid compressed data"):
        file_checksum(path)


@pytest.mark.parametrize("cut", [10, 1000, 200_000])
def test_truncated_zst_file_is_a_usage_error(tmp_path, cut):
    path = _write(tmp_path / "x.zst", _zstd(os.urandom(1 << 20))[:-cut])
    with pytest.raises(UsageError, match="truncated zstd frame"):
        file_checksum(path)


def test_large_zst_file_is_hashed_in_chunks(tmp_path):
    data = os.urandom(3 << 20)
    path = _write(tmp_path / "big.zst", _zstd(data[: 1 << 20]) + _zstd(data[1 << 20 :]))
    assert file_checksum(path) == hashlib.sha256(data).hexdigest()


def test_empty_file_has_the_empty_checksum(tmp_path):
    assert file_checksum(_write(tmp_path / "empty", b"")) == EMPTY


def test_large_file_is_hashed_in_chunks(tmp_path):
    data = os.urandom(3 * paths.CHUNK_SIZE + 17)
    path = _write(tmp_path / "big", data)
    assert file_checksum(path) == hashlib.sha256(data).hexdigest()


def test_large_gz_file_is_hashed_in_chunks(tmp_path):
    data = os.urandom(paths.CHUNK_SIZE) * 3
    path = _write(tmp_path / "big.gz", gzip.compress(data, compresslevel=1))
    assert file_checksum(path) == hashlib.sha256(data).hexdigest()


def test_symlinked_file_is_read(tmp_path):
    target = _write(tmp_path / "target.txt", b"hello\n")
    os.symlink(target, tmp_path / "link.txt")
    assert file_checksum(tmp_path / "link.txt") == HELLO


def test_missing_file_is_a_usage_error_naming_it(tmp_path):
    with pytest.raises(UsageError, match=r"cannot read '.*nowhere\.txt': No such file"):
        file_checksum(tmp_path / "nowhere.txt")


def test_directory_given_as_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="is a directory"):
        file_checksum(tmp_path)


def test_fifo_given_as_file_is_a_usage_error(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UsageError, match="pipe' is a FIFO"):
        file_checksum(tmp_path / "pipe")


# --- directory indexes --------------------------------------------------------------------------


def test_golden_directory_index_is_byte_exact(tmp_path):
    index = directory_index(_golden_dir(tmp_path / "d"))
    assert index.buffer == GOLDEN_INDEX
    assert index.checksum == GOLDEN_DIR


def test_directory_index_keys_are_sorted_after_the_compression_suffix_is_stripped(tmp_path):
    _write(tmp_path / "d" / "a-b", b"first\n")
    _write(tmp_path / "d" / "a.gz", gzip.compress(b"hello\n"))  # listed after a-b, indexed as "a"
    first = hashlib.sha256(b"first\n").hexdigest()
    assert directory_index(tmp_path / "d").buffer == f'{{\n  "a": "{HELLO}",\n  "a-b": "{first}"\n}}\n'.encode()

def test_directory_index_entries_and_sources(tmp_path):
    root = _golden_dir(tmp_path / "d")
    index = directory_index(root)
    assert index.entries == {"a.txt": Checksum(A_NL), "sub/b.txt": Checksum(B_NL)}
    assert index.sources == {
        "a.txt": str(root / "a.txt"),
        "sub/b.txt": str(root / "sub" / "b.txt"),
    }


def test_compressed_and_non_ascii_names_golden(tmp_path):
    _write(tmp_path / "d" / "b.txt.gz", gzip.compress(b"hello\n"))
    _write(tmp_path / "d" / "é.txt", b"A\n")
    index = directory_index(tmp_path / "d")
    assert index.checksum == "e578b1994e8d178af7335a24d9430fde310085fbbc468e4b4e85b129a233ff69"
    assert '"é.txt"'.encode() in index.buffer


def test_zst_file_in_directory_is_keyed_without_suffix(tmp_path):
    _write(tmp_path / "d" / "b.txt.zst", _zstd(b"hello\n"))
    assert directory_index(tmp_path / "d").entries == {"b.txt": Checksum(HELLO)}


def test_compressed_and_plain_copy_of_same_content_agree(tmp_path):
    _write(tmp_path / "d" / "b.txt", b"hello\n")
    _write(tmp_path / "d" / "b.txt.gz", gzip.compress(b"hello\n"))
    assert directory_index(tmp_path / "d").entries == {"b.txt": Checksum(HELLO)}


def test_compressed_and_plain_files_that_differ_are_an_error(tmp_path):
    _write(tmp_path / "d" / "b.txt", b"other\n")
    _write(tmp_path / "d" / "b.txt.gz", gzip.compress(b"hello\n"))
    with pytest.raises(UsageError, match="both map to 'b.txt' but differ"):
        directory_index(tmp_path / "d")


def test_empty_file_is_an_entry(tmp_path):
    _write(tmp_path / "d" / "empty", b"")
    assert directory_index(tmp_path / "d").entries == {"empty": Checksum(EMPTY)}


def test_hidden_files_are_included(tmp_path):
    _write(tmp_path / "d" / ".hidden", b"hello\n")
    _write(tmp_path / "d" / ".git" / "config", b"hello\n")
    assert _keys(tmp_path / "d") == [".git/config", ".hidden"]


def test_empty_directories_vanish(tmp_path):
    root = _golden_dir(tmp_path / "d")
    os.makedirs(root / "empty" / "deeper")
    assert directory_index(root).checksum == GOLDEN_DIR


def test_directory_of_only_empty_directories_is_the_empty_index(tmp_path):
    os.makedirs(tmp_path / "d" / "empty")
    assert directory_index(tmp_path / "d").buffer == b"{}\n"


def test_symlinked_file_in_directory_is_read(tmp_path):
    target = _write(tmp_path / "outside.txt", b"hello\n")
    os.makedirs(tmp_path / "d")
    os.symlink(target, tmp_path / "d" / "link.txt")
    assert directory_index(tmp_path / "d").entries == {"link.txt": Checksum(HELLO)}


def test_symlinked_directory_is_not_descended(tmp_path):
    root = _golden_dir(tmp_path / "d")
    _write(tmp_path / "other" / "c.txt", b"hello\n")
    os.symlink(tmp_path / "other", root / "linked")
    assert directory_index(root).checksum == GOLDEN_DIR


def test_symlink_to_a_directory_as_top_is_followed(tmp_path):
    _golden_dir(tmp_path / "d")
    os.symlink(tmp_path / "d", tmp_path / "top")
    assert directory_index(tmp_path / "top").checksum == GOLDEN_DIR


def test_fifo_in_directory_is_a_usage_error_naming_it(tmp_path):
    root = _golden_dir(tmp_path / "d")
    os.mkfifo(root / "sub" / "pipe")
    with pytest.raises(UsageError, match=r"'.*/d/sub/pipe' is a FIFO"):
        directory_index(root)


def test_socket_in_directory_is_a_usage_error_naming_it(tmp_path):
    os.makedirs("d")  # relative to the test's cwd: keeps the socket path short
    _write("d/a.txt", b"A\n")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind("d/sock")
        with pytest.raises(UsageError, match=r"'d/sock' is a socket"):
            directory_index("d")
    finally:
        sock.close()


def test_non_utf8_file_name_is_a_one_line_usage_error(tmp_path):
    root = os.fsencode(tmp_path / "d")
    os.makedirs(root)
    _write(os.path.join(root, b"bad\xff.txt"), b"A\n")
    with pytest.raises(UsageError) as excinfo:
        directory_index(tmp_path / "d")
    message = str(excinfo.value)
    assert "file name is not valid UTF-8" in message
    assert "bad\\xff.txt" in message
    assert "\n" not in message


def test_vanished_file_is_a_usage_error_naming_it(tmp_path):
    root = _golden_dir(tmp_path / "d")
    os.symlink(tmp_path / "gone.txt", root / "dangling.txt")
    with pytest.raises(UsageError, match=r"cannot read '.*/d/dangling.txt'"):
        directory_index(root)


def test_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"cannot read '.*/nowhere'"):
        directory_index(tmp_path / "nowhere")


def test_file_given_as_directory_is_a_usage_error(tmp_path):
    path = _write(tmp_path / "f.txt", b"A\n")
    with pytest.raises(UsageError, match="is not a directory"):
        directory_index(path)


def test_three_thousand_file_directory(tmp_path):
    expected = {}
    for i in range(3000):
        data = b"file %d\n" % i
        _write(tmp_path / "d" / f"s{i % 10}" / f"f{i}.txt", data)
        expected[f"s{i % 10}/f{i}.txt"] = hashlib.sha256(data).hexdigest()
    text = json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    index = directory_index(tmp_path / "d")
    assert index.buffer == text.encode()
    assert index.checksum == hashlib.sha256(text.encode()).hexdigest()


def test_big_files_hashed_in_parallel_batches_give_their_checksums(tmp_path):
    data = {f"f{i}": os.urandom(3 << 20) for i in range(4)}
    files = [_write(tmp_path / "d" / name, blob) for name, blob in data.items()]
    assert len(paths._batches([(p, os.stat(p)) for p in files])) > 1  # several threads
    expected = {name: Checksum.of(blob) for name, blob in data.items()}
    assert directory_index(tmp_path / "d").entries == expected


# --- stat memo --------------------------------------------------------------------------------


def _settled_big_file(path, size=paths.MEMO_MIN_SIZE * 2):
    """A file big enough to be memoized, older than one timestamp tick."""
    data = os.urandom(size)
    _write(path, data)
    _wait_until_settled(path)
    return os.fspath(path), hashlib.sha256(data).hexdigest()


def _wait_until_settled(path):
    """Poll until the file's ctime is older than one timestamp tick (then it may be memoized)."""
    deadline = time.monotonic() + 10
    while not paths._memo_safe(os.stat(path), time.time_ns()):
        assert time.monotonic() < deadline, "the file's ctime never became older than a tick"
        time.sleep(0.01)


def _corrupt_memo(path, hexvalue):
    with sqlite3.connect(statcache.statcache_path()) as conn:
        n = conn.execute(
            "UPDATE statcache SET checksum = ? WHERE path = ?", (hexvalue, os.path.abspath(path))
        ).rowcount
    assert n == 1


def test_unchanged_file_is_answered_by_the_memo(tmp_path):
    path, real = _settled_big_file(tmp_path / "big")
    assert file_checksum(path) == real
    _corrupt_memo(path, "f" * 64)
    assert file_checksum(path) == "f" * 64


def test_touched_file_is_hashed_again(tmp_path):
    path, real = _settled_big_file(tmp_path / "big")
    file_checksum(path)
    _corrupt_memo(path, "f" * 64)
    os.utime(path)
    assert file_checksum(path) == real


def test_directory_index_uses_the_memo(tmp_path):
    path, _real = _settled_big_file(tmp_path / "d" / "big")
    directory_index(tmp_path / "d")
    _corrupt_memo(path, "f" * 64)
    assert directory_index(tmp_path / "d").entries == {"big": Checksum("f" * 64)}


def test_small_files_are_not_memoized(tmp_path):
    path = _write(tmp_path / "small", b"hello\n")
    _wait_until_settled(path)
    file_checksum(path)
    assert statcache.get_cached_checksum(path, os.stat(path)) is None


def test_directory_index_memoizes_no_small_file(tmp_path):
    path = _write(tmp_path / "d" / "small", b"hello\n")
    _wait_until_settled(path)
    directory_index(tmp_path / "d")
    assert statcache.get_cached_checksum(path, os.stat(path)) is None

def test_memo_waits_until_ctime_is_older_than_a_tick():
    now = time.time_ns()
    fields = [0o100644, 1, 1, 1, 0, 0, 10**6, 0, 0, 0, 0.0, 0.0, 0.0]

    def st(ctime_ns):
        return os.stat_result(fields + [0, ctime_ns, ctime_ns])

    assert not paths._memo_safe(st(now - 1_000_000 + 7), now)
    assert paths._memo_safe(st(now - 1_000_000_000 + 7), now)
    whole_second = (now // 10**9 - 1) * 10**9  # a filesystem with 1 s timestamps
    assert not paths._memo_safe(st(whole_second), now)


# --- sidecars ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, base",
    [("x.txt.gz", "x.txt"), ("x.txt.zst", "x.txt"), ("x.txt", "x.txt"), ("data/", "data")],
)
def test_sidecar_base_strips_compression_and_slash(path, base):
    assert sidecar_base(path) == base


def test_gz_file_sidecar_is_named_without_suffix(tmp_path):
    path = _write(tmp_path / "x.txt.gz", gzip.compress(b"hello\n"))
    sidecar = write_checksum_sidecar(path, file_checksum(path))
    assert sidecar == str(tmp_path / "x.txt.CHECKSUM")
    with open(sidecar, "rb") as f:
        assert f.read() == (HELLO + "\n").encode()


def test_checksum_sidecar_with_comments_and_whitespace_is_read(tmp_path):
    path = _write(tmp_path / "x.CHECKSUM", f"# made by hand\n\n   {HELLO.upper()}  \n\n".encode())
    assert read_checksum_sidecar(path) == HELLO


def test_invalid_checksum_sidecar_is_a_usage_error(tmp_path):
    path = _write(tmp_path / "x.CHECKSUM", b"hello\n")
    with pytest.raises(UsageError) as excinfo:
        read_checksum_sidecar(path)
    assert str(excinfo.value) == f"{path} does not contain a valid checksum"


def test_sidecar_with_two_checksums_is_invalid(tmp_path):
    path = _write(tmp_path / "x.CHECKSUM", f"{HELLO}\n{EMPTY}\n".encode())
    with pytest.raises(UsageError, match="does not contain a valid checksum"):
        read_checksum_sidecar(path)


def test_missing_checksum_sidecar_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        read_checksum_sidecar(tmp_path / "x.CHECKSUM")


def test_index_sidecars_round_trip(tmp_path):
    index = directory_index(_golden_dir(tmp_path / "d"))
    write_index_sidecar(str(tmp_path / "d") + "/", index.buffer)
    with open(tmp_path / "d.INDEX", "rb") as f:
        assert f.read() == GOLDEN_INDEX
    assert read_checksum_sidecar(tmp_path / "d.CHECKSUM") == GOLDEN_DIR
    assert read_index_sidecar(tmp_path / "d.INDEX") == GOLDEN_INDEX


def test_index_sidecar_is_normalized(tmp_path):
    text = b"# an index\n" + GOLDEN_INDEX.rstrip(b"\n") + b"\n\n  \n"
    _write(tmp_path / "d.INDEX", text)
    _write(tmp_path / "d.CHECKSUM", (GOLDEN_DIR + "\n").encode())
    assert read_index_sidecar(tmp_path / "d.INDEX") == GOLDEN_INDEX


def test_index_without_checksum_sidecar_is_accepted(tmp_path):
    _write(tmp_path / "d.INDEX", GOLDEN_INDEX.rstrip(b"\n"))
    assert read_index_sidecar(tmp_path / "d.INDEX") == GOLDEN_INDEX


def test_index_that_mismatches_its_checksum_is_a_usage_error(tmp_path):
    _write(tmp_path / "d.INDEX", GOLDEN_INDEX)
    _write(tmp_path / "d.CHECKSUM", (HELLO + "\n").encode())
    with pytest.raises(UsageError, match=r"d\.INDEX does not match .*d\.CHECKSUM"):
        read_index_sidecar(tmp_path / "d.INDEX")


def test_index_checked_against_an_explicit_checksum_file(tmp_path):
    _write(tmp_path / "d.INDEX", GOLDEN_INDEX)
    _write(tmp_path / "elsewhere", (HELLO + "\n").encode())
    with pytest.raises(UsageError, match="does not match"):
        read_index_sidecar(tmp_path / "d.INDEX", tmp_path / "elsewhere")


def test_invalid_index_sidecar_is_a_usage_error(tmp_path):
    _write(tmp_path / "d.INDEX", b'{"a.txt": "not a checksum"}\n')
    with pytest.raises(UsageError, match="does not contain a valid index"):
        read_index_sidecar(tmp_path / "d.INDEX")



def test_index_sidecar_with_a_dotdot_key_is_refused_naming_it(tmp_path):
    _write(tmp_path / "d.INDEX", f'{{"../escape.txt": "{HELLO}"}}\n'.encode())
    with pytest.raises(UsageError, match=r"d\.INDEX: unsafe path '\.\./escape\.txt'"):
        read_index_sidecar(tmp_path / "d.INDEX")


def test_retiring_sidecars_removes_both_before_new_content(tmp_path):
    _write(tmp_path / "d.CHECKSUM", (GOLDEN_DIR + "\n").encode())
    _write(tmp_path / "d.INDEX", GOLDEN_INDEX)
    paths.retire_sidecars(str(tmp_path / "d"), HELLO)
    assert not os.path.exists(tmp_path / "d.CHECKSUM") and not os.path.exists(tmp_path / "d.INDEX")


def test_retiring_sidecars_keeps_them_when_they_name_the_new_content(tmp_path):
    _write(tmp_path / "d.CHECKSUM", (GOLDEN_DIR + "\n").encode())
    _write(tmp_path / "d.INDEX", GOLDEN_INDEX)
    paths.retire_sidecars(str(tmp_path / "d"), GOLDEN_DIR)
    assert os.path.exists(tmp_path / "d.CHECKSUM") and os.path.exists(tmp_path / "d.INDEX")


def test_retiring_a_sidecar_that_holds_no_checksum_removes_it(tmp_path):
    _write(tmp_path / "o.txt.CHECKSUM", b"not a checksum\n")
    paths.retire_sidecars(str(tmp_path / "o.txt"), HELLO)
    assert not os.path.exists(tmp_path / "o.txt.CHECKSUM")

# --- upload -----------------------------------------------------------------------------------


def _stored_file(cs):
    root = os.path.join(os.environ["HOME"], ".cache", "seamless", "__TOPLEVEL__")
    return os.path.join(root, str(cs)[:2], str(cs))


def test_upload_file_stores_its_bytes(tmp_path):
    cs = upload_path(_write(tmp_path / "x.txt", b"hello\n"), get_storage())
    assert cs == HELLO
    with open(_stored_file(cs), "rb") as f:
        assert f.read() == b"hello\n"


@pytest.mark.parametrize("name, compress", [("x.txt.gz", gzip.compress), ("x.txt.zst", _zstd)])
def test_upload_compressed_file_stores_the_decompressed_bytes(tmp_path, name, compress):
    cs = upload_path(_write(tmp_path / name, compress(b"hello\n")), get_storage())
    assert cs == HELLO
    with open(_stored_file(cs), "rb") as f:
        assert f.read() == b"hello\n"


def test_upload_large_file_round_trips(tmp_path):
    data = os.urandom(3 << 20)
    cs = upload_path(_write(tmp_path / "big", data), get_storage())
    assert get_storage().get_buffer(cs) == data


def test_upload_directory_stores_leaves_and_index(tmp_path):
    _golden_dir(tmp_path / "d")
    _write(tmp_path / "d" / "c.txt.gz", gzip.compress(b"hello\n"))
    cs = upload_path(tmp_path / "d", get_storage())
    index = directory_index(tmp_path / "d")
    assert cs == index.checksum
    with open(_stored_file(cs), "rb") as f:
        assert f.read() == index.buffer
    for key, leaf in index.entries.items():
        with open(_stored_file(leaf), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == leaf.hex(), key


def test_upload_golden_directory_returns_its_checksum(tmp_path):
    assert upload_path(_golden_dir(tmp_path / "d"), get_storage()) == GOLDEN_DIR
    with open(_stored_file(GOLDEN_DIR), "rb") as f:
        assert f.read() == GOLDEN_INDEX


def test_a_name_of_246_bytes_has_room_for_its_sidecar_and_247_has_not(tmp_path):
    assert not paths.sidecar_too_long(str(tmp_path / ("a" * 246)))
    assert paths.sidecar_too_long(str(tmp_path / ("a" * 247)))
