"""Writes follow no symlink swapped in mid-operation: a thread flips a directory of the target to a
symlink to an outside directory and back, again and again, while downloads and result targets are
written; nothing may land outside."""

import os
import threading
from types import SimpleNamespace

import pytest

from seamless_transformer._util import pinned_dir, unpinned
from seamless_transformer.bashrun.targets import Target
from seamless_transformer.celltypes import serialize
from seamless_transformer.errors import UsageError
from seamless_transformer.store import materialize
from seamless_transformer.store.outputs import write_targets
from seamless_transformer.store.storage import get_storage

ROUNDS = 30
FILES = 30
DWELL = 0.001  # seconds in each state: long enough for a write to start in one and end in the other


class Flipper:
    """Points the symlink `path` at `inside` and at `outside` in turn (each an atomic rename of a new
    symlink over it, so `path` never goes missing), as fast as it can, until stopped."""

    def __init__(self, path, inside, outside):
        self.path, self.targets = str(path), (str(inside), str(outside))
        os.symlink(self.targets[0], self.path)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        tmp = self.path + ".new"
        while not self.stop.is_set():
            for target in self.targets:
                os.symlink(target, tmp)
                os.rename(tmp, self.path)
                self.stop.wait(DWELL)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


@pytest.fixture
def storage():
    return get_storage()


@pytest.fixture
def outside(tmp_path):
    path = tmp_path / "outside"
    path.mkdir()
    return path


def _entries(storage, prefix):
    return {f"{prefix}f{i}": storage.put_buffer(f"{i}\n".encode()) for i in range(FILES)}


def test_a_directory_download_never_writes_through_a_symlink_swapped_in_meanwhile(tmp_path, storage, outside):
    dest = tmp_path / "dest"
    (dest / "real").mkdir(parents=True)
    with Flipper(dest / "sub", "real", outside):
        for round_ in range(ROUNDS):
            try:  # new files every round: each one is written
                materialize.place_directory(str(dest), _entries(storage, f"sub/{round_}-"), storage,
                                            remove_unlisted=True)
            except (UsageError, OSError):
                pass
    assert os.listdir(outside) == []


def test_a_new_directory_download_lands_whole_in_one_place_while_its_parent_is_swapped(tmp_path, storage, outside):
    """The parent named by the user is followed once, when the download starts: each new directory
    lands complete where the parent led then, and nothing else (no temp file, no part) anywhere."""
    (tmp_path / "real").mkdir()
    entries = _entries(storage, "")
    with Flipper(tmp_path / "parent", tmp_path / "real", outside):
        for round_ in range(ROUNDS):
            try:
                materialize.place_directory(str(tmp_path / "parent" / f"d{round_}"), entries, storage)
            except (UsageError, OSError):
                pass
    for place in (outside, tmp_path / "real"):
        for name in os.listdir(place):
            assert name.startswith("d") and sorted(os.listdir(place / name)) == sorted(entries)


def test_result_targets_and_sidecars_are_never_written_through_a_symlink_swapped_in_meanwhile(
        tmp_path, storage, outside):
    work = tmp_path / "work"
    (work / "real").mkdir(parents=True)
    leaves = {f"out/f{i}": storage.put_buffer(f"{i}\n".encode()).hex() for i in range(FILES)}
    prepared = SimpleNamespace(targets=[Target(key, key) for key in leaves])
    with Flipper(work / "out", "real", outside):
        for _ in range(ROUNDS // 2):
            try:
                write_targets(prepared, serialize(leaves, "plain"), storage, cwd=str(work), download=True)
            except (UsageError, OSError):
                pass
    assert os.listdir(outside) == []


def test_a_pinned_directory_refuses_a_symlink_that_leads_outside(tmp_path, outside):
    (tmp_path / "root").mkdir()
    os.symlink(outside, tmp_path / "root" / "link")
    with pytest.raises(UsageError, match="a symlink leads outside the target"):
        with pinned_dir(str(tmp_path / "root"), "link/x", create=True):
            pass
    assert os.listdir(outside) == []


def test_a_pinned_directory_follows_a_symlink_that_stays_inside(tmp_path):
    (tmp_path / "root" / "real").mkdir(parents=True)
    os.symlink("real", tmp_path / "root" / "link")
    with pinned_dir(str(tmp_path / "root"), "link/new", create=True) as directory:
        assert unpinned(directory) == str((tmp_path / "root" / "real" / "new").resolve())


def test_a_pinned_directory_with_nofollow_root_refuses_a_symlinked_root_in_one_line(tmp_path, outside):
    os.symlink(outside, tmp_path / "root")
    with pytest.raises(UsageError, match="is a symbolic link"):
        with pinned_dir(str(tmp_path / "root"), nofollow_root=True):
            pass


def test_an_os_error_inside_a_pinned_directory_names_the_file_as_the_user_knows_it(tmp_path, monkeypatch):
    (tmp_path / "root").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        with pinned_dir("root") as directory:
            open(os.path.join(directory, "missing", "x"))
    assert info.value.filename == os.path.join("root", "missing", "x")


def test_future_files_are_never_written_through_a_symlink_swapped_in_meanwhile(tmp_path, outside):
    from seamless_transformer.checksum import Checksum
    from seamless_transformer.store.outputs import Futures

    work = tmp_path / "work"
    (work / "real").mkdir(parents=True)
    prepared = SimpleNamespace(tf_checksum=Checksum("ab" * 32),
                               targets=[Target(f"out/f{i}", f"out/f{i}") for i in range(FILES)])
    with Flipper(work / "out", "real", outside):
        for _ in range(ROUNDS):
            try:
                with Futures(prepared, str(work)):
                    pass
            except (UsageError, OSError):
                pass
    assert os.listdir(outside) == []
