"""Shared-memory transport of large buffers between the parent and its workers.

Ownership rule: **the parent creates, and the parent unlinks, every segment**. A worker only
maps a segment by name (without telling the resource tracker, which it shares with the parent
under the spawn start method), so every REGISTER the tracker sees has exactly one matching
UNREGISTER and it never reports a leak.

    parent -> worker   parent creates + fills a segment, sends ShmRef; the worker maps it,
                       then sends a "release" event; the parent unlinks
    worker -> parent   the worker asks the parent to "alloc" a segment, fills it, sends ShmRef;
                       the parent maps it and unlinks at once
    worker crash       the parent unlinks every segment it had created for that worker

One copy each way: the sender writes the buffer into the segment (pwrite), and the receiver
gets a read-only memoryview of a mapping of it (`map_segment`), never a copy. Unlinking only
removes the name: the mapping, and the memory behind it, lives as long as that memoryview
(or a slice of it) does, so receivers must accept bytes-like buffers, not only bytes.

Buffers below the threshold (SEAMLESS_SHM_THRESHOLD, default 64 KiB) travel inline in the
pickled message.
"""

import mmap
import os
import threading
from dataclasses import dataclass



def threshold() -> int:
    """Buffers of at least this many bytes go through shared memory."""
    from ..config import shm_threshold

    return shm_threshold()


@dataclass(frozen=True)
class ShmRef:
    """Stands in a message for a buffer that lives in a shared-memory segment."""

    name: str
    size: int


class SegmentTable:
    """The parent's segments, each owned by the worker it was made for (parent side only)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._segments = {}  # name -> (SharedMemory, owner)
        self.created = 0  # how many segments were ever created (for tests and benchmarks)
        self._taken = []

    def create(self, size: int, owner: str, data=None) -> ShmRef:
        from multiprocessing.shared_memory import SharedMemory

        segment = SharedMemory(create=True, size=max(size, 1))
        segment.close()  # the mapping; the name stays until unlink
        with self._lock:
            self._segments[segment.name] = (segment, owner)
            self.created += 1
        ref = ShmRef(segment.name, size)
        if data is not None:
            try:
                write_segment(ref, data)
            except BaseException:  # e.g. /dev/shm full: the segment would stay until shutdown
                self.unlink(ref.name)
                raise
        return ref

    def take(self, ref: ShmRef) -> memoryview:
        """A segment's content, mapped (see map_segment); it is unlinked by the next `unlink_taken()`."""
        data = map_segment(ref)
        with self._lock:
            self._taken.append(ref.name)
        return data

    def unlink_taken(self) -> None:
        """Unlink the segments copied out so far (after their data went on its way)."""
        with self._lock:
            names, self._taken = self._taken, []
        for name in names:
            self.unlink(name)

    def unlink(self, name: str) -> None:
        with self._lock:
            entry = self._segments.pop(name, None)
        if entry is not None:
            try:
                entry[0].unlink()
            except FileNotFoundError:
                pass

    def unlink_owned_by(self, owner: str) -> None:
        with self._lock:
            names = [n for n, (_seg, o) in self._segments.items() if o == owner]
        for name in names:
            self.unlink(name)

    def unlink_all(self) -> None:
        with self._lock:
            names = list(self._segments)
        for name in names:
            self.unlink(name)

    def names(self) -> list:
        with self._lock:
            return sorted(self._segments)


_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux: fault the pages in with the mmap call


def _open(name: str, flags=os.O_RDWR) -> int:
    """A file descriptor of an existing segment; the resource tracker is not told."""
    from _posixshmem import shm_open  # the module multiprocessing.shared_memory is built on

    return shm_open("/" + name.lstrip("/"), flags, mode=0o600)


def map_segment(ref: ShmRef) -> memoryview:
    """The content of a segment without a copy: a read-only memoryview of `ref.size` bytes over a
    shared mapping of it (pages populated at once). Raises OSError if the segment is gone."""
    fd = _open(ref.name, os.O_RDONLY)
    try:
        mapping = mmap.mmap(fd, max(ref.size, 1), flags=mmap.MAP_SHARED | _POPULATE, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    return memoryview(mapping)[: ref.size]  # the view keeps the mapping; unmapped when both are gone


def write_segment(ref: ShmRef, data) -> None:
    """Fill a segment with pwrite (faster than faulting in the pages of a fresh mapping)."""
    view = memoryview(data).cast("B")
    fd = _open(ref.name)
    try:
        done = 0
        while done < len(view):
            done += os.pwrite(fd, view[done:], done)
    finally:
        os.close(fd)
        view.release()


# ---------------------------------------------------------------- payload walking


def encode(value, make_ref, limit: int):
    """`value` with every bytes-like object of >= limit bytes replaced by make_ref(data)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return make_ref(value) if len(value) >= limit else value
    if isinstance(value, dict):
        return {k: encode(v, make_ref, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v, make_ref, limit) for v in value]
    return value


def decode(value, read_ref):
    """The inverse of `encode`: every ShmRef replaced by read_ref(ref)."""
    if isinstance(value, ShmRef):
        return read_ref(value)
    if isinstance(value, dict):
        return {k: decode(v, read_ref) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, read_ref) for v in value]
    return value


def refs_in(value) -> list:
    if isinstance(value, ShmRef):
        return [value]
    if isinstance(value, dict):
        return [r for v in value.values() for r in refs_in(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs_in(v)]
    return []
