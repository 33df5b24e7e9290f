"""Stored buffer files copied into a workspace: a file of its own, verified on the way."""

import os
import stat
import time

import pytest

from seamless_transformer.checksum import Checksum
from seamless_transformer.store.filecopy import copy_verified
from seamless_transformer.store import statcache


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "buffer"
    path.write_bytes(os.urandom(300_000))
    os.chmod(path, 0o444)
    return str(path)


def _checksum(path) -> Checksum:
    with open(path, "rb") as f:
        return Checksum.of(f.read())


def _remember(source):
    """Copy until the verification of `source` is in the stat memo (ctime older than one tick)."""
    deadline = time.monotonic() + 10
    n = 0
    while statcache.get_cached_checksum(source, os.stat(source)) is None:
        assert time.monotonic() < deadline, "never remembered"
        n += 1
        assert copy_verified(source, f"{source}.warm{n}", _checksum(source), 0o644)
        time.sleep(0.02)


def test_copy_has_the_content_and_the_mode_asked_for(source, tmp_path):
    dest = str(tmp_path / "copy")
    assert copy_verified(source, dest, _checksum(source), 0o755)
    assert open(dest, "rb").read() == open(source, "rb").read()
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o755


def test_a_mismatching_source_gives_false_and_leaves_no_file(source, tmp_path):
    dest = tmp_path / "copy"
    assert not copy_verified(source, str(dest), Checksum.of(b"something else"), 0o644)
    assert not dest.exists()


def test_a_remembered_source_is_copied_byte_exact_without_hashing(source, tmp_path):
    _remember(source)
    dest = str(tmp_path / "copy")
    assert copy_verified(source, dest, _checksum(source), 0o644)
    assert open(dest, "rb").read() == open(source, "rb").read()
    assert os.stat(dest).st_ino != os.stat(source).st_ino


def test_a_source_changed_since_its_verification_is_hashed_again(source, tmp_path):
    good = _checksum(source)
    _remember(source)
    os.chmod(source, 0o644)
    with open(source, "r+b") as f:
        f.write(b"\0")
    assert not copy_verified(source, str(tmp_path / "copy"), good, 0o644)
