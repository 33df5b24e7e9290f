"""Copy a stored buffer file out of the store (into a job's workspace, or to a result target):
a regular file of its own, verified.

    copy_verified(source, path, checksum, mode) -> bool
    stream_verified(source, out, checksum) -> bool     the same onto a binary stream (stdout)

The copy is a new inode, so nothing the job does to it (as root too) reaches the store. Its
content is verified against `checksum` on the way:

* unverified source (or one whose identity changed): read once and hashed, before anything is
  written; the verification is then remembered in the stat memo under the source's identity
  (dev, ino, size, mtime_ns, ctime_ns), as for the user's files;
* then (and at once for a remembered source): shared blocks where the filesystem can (FICLONE
  ioctl: btrfs, XFS, bcachefs), else an in-kernel copy (``os.copy_file_range``), else a plain
  read/write loop; afterwards the source's identity must still be the verified one, else the copy
  is redone with hashing. So a 1 GiB input costs one read and no new blocks where the filesystem
  shares them, and one read plus one copy elsewhere (bench/inputs.py measures it).

Small files (below the memo threshold) are always hashed while copied: that costs less than a
memo lookup.
"""

import fcntl
import hashlib
import os
import time

from .._util import unlink_quiet
from ..checksum import Checksum

CHUNK = 1 << 20
FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h


def copy_verified(source: str, path: str, checksum: Checksum, mode: int) -> bool:
    """Copy file `source` to the new file `path` (created with `mode`); False, with `path`
    removed, if the content of `source` does not match `checksum`. OSError from open/write."""
    from . import statcache
    from .paths import MEMO_MIN_SIZE, _memo_safe

    stat_time = time.time_ns()
    src = os.open(source, os.O_RDONLY)
    try:
        before = os.fstat(src)
        memo = before.st_size >= MEMO_MIN_SIZE
        known = memo and statcache.get_cached_checksum(source, before) == checksum.hex()
        if memo and not known:  # verify by reading alone: then the copy itself can share blocks
            known = _hash_fd(src) == checksum.hex()
            if not known:
                return False
            if _memo_safe(before, stat_time) and _same_file(before, os.fstat(src)):
                statcache.put_cached_checksum(source, before, checksum.hex())
        dst = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if known and _fast_copy(src, dst, before.st_size) and _same_file(before, os.fstat(src)):
                ok = True
            else:
                ok = _hashing_copy(src, dst) == checksum.hex()
            os.fchmod(dst, mode)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    if not ok:
        os.unlink(path)
    return ok


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    key = ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns")
    return all(getattr(a, k) == getattr(b, k) for k in key)


def _rewind(src: int, dst: int) -> None:
    os.lseek(src, 0, os.SEEK_SET)
    os.lseek(dst, 0, os.SEEK_SET)
    os.ftruncate(dst, 0)


def _hashing_copy(src: int, dst: int) -> str:
    """Copy the whole of `src` into the empty `dst` through one buffer; the sha256 hex of it."""
    _rewind(src, dst)
    hasher = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while True:
        n = os.readv(src, [buffer])
        if not n:
            return hasher.hexdigest()
        hasher.update(view[:n])
        written = 0
        while written < n:
            written += os.write(dst, view[written:n])


def _fast_copy(src: int, dst: int, size: int) -> bool:
    """Copy without reading into Python: a reflink, else copy_file_range. False if neither works."""
    try:
        fcntl.ioctl(dst, FICLONE, src)
        return True
    except OSError:
        pass  # no shared blocks here (ext4, tmpfs, another filesystem): copy in the kernel
    if not hasattr(os, "copy_file_range"):
        return False
    _rewind(src, dst)
    copied = 0
    try:
        while copied < size:
            n = os.copy_file_range(src, dst, min(size - copied, 1 << 30))
            if n == 0:
                break
            copied += n
    except OSError:
        return False
    return copied == size


def stream_verified(source: str, out, checksum) -> bool:
    """Write file `source` to the binary stream `out` in CHUNK pieces once its content is known to
    match `checksum` (the stat memo, else a hashing read first): memory stays flat whatever its
    size. False, with nothing written, if it does not match. OSError from open/read/write."""
    from . import statcache
    from .paths import MEMO_MIN_SIZE, _memo_safe

    checksum = Checksum(checksum)
    stat_time = time.time_ns()
    with open(source, "rb", buffering=0) as src:
        before = os.fstat(src.fileno())
        memo = before.st_size >= MEMO_MIN_SIZE
        if not (memo and statcache.get_cached_checksum(source, before) == checksum.hex()):
            if _hash_fd(src.fileno()) != checksum.hex():
                return False
            if memo and _memo_safe(before, stat_time):
                statcache.put_cached_checksum(source, before, checksum.hex())
            os.lseek(src.fileno(), 0, os.SEEK_SET)
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while n := src.readinto(buffer):
            out.write(view[:n])
    out.flush()
    return True


def _hash_fd(fd: int) -> str:
    hasher = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while n := os.readv(fd, [buffer]):
        hasher.update(view[:n])
    return hasher.hexdigest()


def place_verified(path: str, tmp: str, checksum, storage, mode: int = 0o644) -> bool:
    """Replace `path` atomically (via the new file `tmp` in its directory, then rename) by a
    verified copy of the stored file of `checksum`, streamed: memory stays flat whatever its size.
    False, with nothing changed, if the store has no uncompressed file for it or that file does
    not match (the caller falls back to a verified read, which also discards a corrupt file).
    OSError (naming `path`) if it cannot be written: `path` is then unchanged and `tmp` gone."""
    checksum = Checksum(checksum)
    source = storage.buffer_path(checksum)
    if source is None:
        return False
    try:
        if not copy_verified(source, tmp, checksum, mode):
            return False
        os.replace(tmp, path)
    except FileNotFoundError:
        unlink_quiet(tmp)
        return False  # the buffer file went away meanwhile
    except OSError as exc:  # a full disk, a file size limit: name the file it was for
        unlink_quiet(tmp)
        if exc.filename is None:
            exc.filename = path
        raise
    except BaseException:
        unlink_quiet(tmp)
        raise
    return True
