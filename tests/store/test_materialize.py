"""Shared transfer helpers: sizes, confirmations, progress bars, atomic placement (SPEC 4.8, 6.2, 6.6)."""

import os
import pty
import subprocess

import pytest

from seamless_transformer.checksum import Checksum
from seamless_transformer.store import materialize
from seamless_transformer.errors import ChecksumMismatchError, UsageError
from seamless_transformer.store.storage import get_storage

HELLO = Checksum("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")


@pytest.mark.parametrize(
    "text, value",
    [("100 MB", 100_000_000), ("500MB", 500_000_000), ("1.5 kB", 1500), ("2 KiB", 2048), ("17", 17), ("3 B", 3),
     ("1 GiB", 2**30), ("2 TB", 2 * 10**12), ("3 GB", 3 * 10**9), ("2 MiB", 2 * 2**20), ("1 TiB", 2**40)],
)
def test_sizes_use_decimal_units_unless_binary_ones_are_named(text, value):
    assert materialize.parse_size(text) == value


def test_an_invalid_size_is_a_usage_error():
    with pytest.raises(UsageError, match="invalid size 'lots'"):
        materialize.parse_size("lots")


@pytest.mark.parametrize("nbytes, text", [(0, "0 B"), (999, "999 B"), (1500, "1.5 kB"), (120_000_000, "120.0 MB")])
def test_sizes_are_shown_in_decimal_units(nbytes, text):
    assert materialize.format_size(nbytes) == text


def test_an_upload_within_the_thresholds_needs_no_confirmation():
    materialize.confirm_upload(400, 100_000_000)


def test_an_upload_above_the_file_threshold_is_declined_by_default(monkeypatch):
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    with pytest.raises(UsageError) as info:
        materialize.confirm_upload(401, 2000)
    assert str(info.value) == "upload of 401 files (2.0 kB) not confirmed; use -y"


def test_the_thresholds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SEAMLESS_MAX_UPLOAD_SIZE", "1 kB")
    with pytest.raises(UsageError):
        materialize.confirm_upload(1, 1001, answer=False)
    materialize.confirm_upload(1, 1001, answer=True)


def test_a_download_above_the_thresholds_proceeds_by_default(monkeypatch):
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    materialize.confirm_download(2001, 10)


def test_a_declined_download_names_its_size():
    with pytest.raises(UsageError) as info:
        materialize.confirm_download(1, 600_000_000, answer=False)
    assert str(info.value) == "download of 1 files (600.0 MB) not confirmed; use -y"


def test_place_file_writes_through_a_temp_name_and_leaves_none(tmp_path):
    get_storage().put_buffer(b"hello\n")
    (tmp_path / "dir").mkdir()
    target = tmp_path / "dir" / "out.txt"
    assert materialize.place_file(str(target), HELLO, get_storage())
    assert target.read_bytes() == b"hello\n"
    assert os.listdir(tmp_path / "dir") == ["out.txt"]


def test_place_file_keeps_a_matching_file_untouched(tmp_path):
    get_storage().put_buffer(b"hello\n")
    target = tmp_path / "out.txt"
    target.write_bytes(b"hello\n")
    os.utime(target, (1, 1))
    assert not materialize.place_file(str(target), HELLO, get_storage())
    assert os.stat(target).st_mtime == 1


def test_swap_in_directory_replaces_the_old_contents(tmp_path):
    get_storage().put_buffer(b"hello\n")
    (tmp_path / "top").mkdir()
    target = tmp_path / "top" / "d"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    materialize.swap_in_directory(str(target), {"sub/h.txt": HELLO}, get_storage())
    assert sorted(os.listdir(target)) == ["sub"]
    assert (target / "sub" / "h.txt").read_bytes() == b"hello\n"
    assert os.listdir(tmp_path / "top") == ["d"]


def _tampered_storage():
    """The storage, with the stored file of HELLO overwritten by other bytes."""
    storage = get_storage()
    storage.put_buffer(b"hello\n")
    path = storage.buffer_path(HELLO)
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(b"tampered\n")
    return storage


def test_a_tampered_buffer_is_never_placed(tmp_path):
    storage = _tampered_storage()
    storage._memory._data.clear()
    with pytest.raises(KeyError):
        materialize.place_file(str(tmp_path / "out.txt"), HELLO, storage)
    assert not (tmp_path / "out.txt").exists()


def test_a_hard_link_to_a_tampered_buffer_is_refused_and_leaves_no_temp_file(tmp_path):
    storage = _tampered_storage()
    (tmp_path / "dir").mkdir()
    with pytest.raises(ChecksumMismatchError):
        materialize.place_file(str(tmp_path / "dir" / "out.txt"), HELLO, storage, link="hardlink")
    assert os.listdir(tmp_path / "dir") == []


def test_fetch_gives_the_stored_buffer():
    storage = get_storage()
    cs = storage.put_buffer(b"hello\n")
    assert materialize.fetch(cs, storage) == b"hello\n"


def test_removing_unlisted_files_also_removes_the_directories_left_empty(tmp_path):
    storage = get_storage()
    storage.put_buffer(b"hello\n")
    target = tmp_path / "d"
    (target / "old" / "deeper").mkdir(parents=True)
    (target / "old" / "deeper" / "stale.txt").write_text("old")
    materialize.place_directory(str(target), {"h.txt": HELLO}, storage, remove_unlisted=True)
    assert sorted(os.listdir(target)) == ["h.txt"]


def test_place_file_repairs_a_differing_file(tmp_path):
    get_storage().put_buffer(b"hello\n")
    target = tmp_path / "out.txt"
    target.write_bytes(b"jello\n")
    assert materialize.place_file(str(target), HELLO, get_storage(), policy="repair")
    assert target.read_bytes() == b"hello\n"


def test_place_file_verify_refuses_a_differing_file_and_keeps_it(tmp_path):
    get_storage().put_buffer(b"hello\n")
    target = tmp_path / "out.txt"
    target.write_bytes(b"jello\n")
    with pytest.raises(UsageError, match="differs from its checksum"):
        materialize.place_file(str(target), HELLO, get_storage(), policy="verify")
    assert target.read_bytes() == b"jello\n"


def test_a_symlinked_subdirectory_of_an_existing_directory_is_refused_before_anything_is_written(tmp_path):
    get_storage().put_buffer(b"hello\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "d").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "d" / "sub")
    with pytest.raises(UsageError):
        materialize.place_directory(str(tmp_path / "d"), {"a.txt": HELLO, "sub/h.txt": HELLO}, get_storage())
    assert sorted(os.listdir(tmp_path / "d")) == ["sub"]
    assert os.listdir(tmp_path / "elsewhere") == []


def test_removing_a_symlink_to_a_directory_removes_only_the_link(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "keep.txt").write_text("k")
    os.symlink(tmp_path / "target", tmp_path / "link")
    materialize.remove_path(str(tmp_path / "link"))
    assert not os.path.lexists(tmp_path / "link")
    assert (tmp_path / "target" / "keep.txt").exists()


def _upload_three_files(stderr):
    for name in ("a", "b", "c"):
        with open(f"{name}.txt", "w") as f:
            f.write(name * 10)
    return subprocess.run(["seamless-upload", "-y", "a.txt", "b.txt", "c.txt"], stderr=stderr,
                          stdout=subprocess.PIPE, env=os.environ.copy())


def test_no_progress_bar_or_carriage_return_when_stderr_is_not_a_terminal():
    proc = _upload_three_files(subprocess.PIPE)
    assert proc.returncode == 0
    assert b"\r" not in proc.stderr
    assert proc.stderr == b""


def test_a_progress_bar_appears_when_stderr_is_a_terminal():
    master, slave = pty.openpty()
    try:
        proc = _upload_three_files(slave)
        os.close(slave)
        output = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert b"\r" in output and b"upload" in output


def test_a_directory_is_never_downloaded_through_a_symlink_to_elsewhere(tmp_path):
    from seamless_transformer.errors import UsageError

    get_storage().put_buffer(b"hello\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "d").symlink_to(outside)
    with pytest.raises(UsageError, match="is a symbolic link"):
        materialize.place_directory(str(tmp_path / "d"), {"a.txt": HELLO}, get_storage())
    assert list(outside.iterdir()) == []


def test_a_write_that_fails_without_an_os_error_raises_that_error_and_leaves_no_temp_file(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "zstandard", None)  # as if it were not installed
    (tmp_path / "out").mkdir()
    with pytest.raises(UsageError, match="needs the zstandard package"):
        materialize.write_atomic(str(tmp_path / "out" / "o.txt.zst"), b"x", compression="zst")
    assert os.listdir(tmp_path / "out") == []
