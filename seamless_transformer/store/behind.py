"""Write-behind: a Storage's deferred writes, queued in memory and flushed in order.

    put(buffer) ─┐                     flush():  1. every queued buffer, as a file in each writable dir
    put(result) ─┼─► queue (memory) ──►          2. every queued result row and record, in one
    put(record) ─┤                                  transaction per database
    put(leaves) ─┘                               3. the leaves (seamless-leaves.db)

A result row is written only after the buffers queued before it are files, and a record only with or
after its result row, so a process killed at any moment (kill -9) leaves no row that points at a
missing buffer: at worst the last results are not cached. Queued data is served from memory meanwhile
(`buffer`, `result`, `record`).

When the queue is flushed: by `flush()` (the engine's `flush`, and before anything hands a checksum to
another process: a job sent to a worker, Dask or a jobserver; a buffer's file path asked for), when it
holds MAX_ITEMS entries or MAX_BYTES of buffers, FLUSH_SECONDS after an entry was queued (by one
daemon thread per queue, which ends when the queue is empty), and at interpreter exit (atexit). A
forked child drops what it inherited: the parent writes it.
"""

import atexit
import os
import threading
import time
from contextlib import contextmanager

MAX_ITEMS = 2000
MAX_BYTES = 32 << 20
FLUSH_SECONDS = 0.5


class WriteBehind:
    """The queue of one Storage. `write(buffers, results, records, leaves)` is the Storage's
    write-through of a batch (buffers {hex: bytes}; results [(tf hex, res hex)]; records
    [(tf hex, res hex, dict)]; leaves [(res hex, [leaf])]), called in that order of durability."""

    def __init__(self, write):
        self._write = write
        self._lock = threading.Lock()  # guards the queue
        self._flushing = threading.Lock()  # one flush at a time, in queue order
        self._pid = os.getpid()
        self._clear()
        self._wake = threading.Event()  # set when an entry is queued: the flusher thread flushes soon
        self._thread = None
        self._registered = False

    def _clear(self) -> None:
        self.buffers, self.results, self.records, self.leaves = {}, {}, {}, []
        self._nbytes = 0

    def _own(self) -> None:
        """In a forked child, forget the parent's queue (under _lock)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._lock, self._flushing = threading.Lock(), threading.Lock()
            self._clear()
            self._wake, self._thread, self._registered = threading.Event(), None, False

    def __bool__(self) -> bool:
        return bool(self.buffers or self.results or self.records or self.leaves)

    # ------------------------------------------------------------ queueing

    @contextmanager
    def _queueing(self):
        """The with-block queues an entry (under _lock); then the queue is flushed now if it is full."""
        with self._lock:
            self._own()
            yield
            full = self._queued()
        if full:
            self.flush()

    def put_buffer(self, cs: str, data: bytes) -> None:
        with self._queueing():
            if cs not in self.buffers:
                self.buffers[cs] = bytes(data)
                self._nbytes += len(data)

    def put_result(self, tf: str, res: str) -> None:
        with self._queueing():
            self.results[tf] = res

    def put_record(self, tf: str, res: str, record: dict) -> None:
        with self._queueing():
            self.records.setdefault(tf, (res, record))

    def put_leaves(self, res: str, leaves: list) -> None:
        with self._queueing():
            self.leaves.append((res, list(leaves)))

    def _queued(self) -> bool:
        """After an entry was queued (under _lock): arrange a flush soon; True when the queue is full
        (then the caller flushes it now)."""
        if not self._registered:
            atexit.register(self.flush)
            self._registered = True
        size = len(self.buffers) + len(self.results) + len(self.records) + len(self.leaves)
        if size >= MAX_ITEMS or self._nbytes >= MAX_BYTES:
            return True
        if self._thread is None:
            self._thread = threading.Thread(target=self._flusher, args=(self._wake,), name="seamless-write-behind",
                                            daemon=True)
            self._thread.start()
        if not self._wake.is_set():
            self._wake.set()
        return False

    def _flusher(self, wake) -> None:
        """The flusher thread: FLUSH_SECONDS after something was queued, flush (until a fork replaces it)."""
        while wake is self._wake:
            wake.wait()
            time.sleep(FLUSH_SECONDS)  # let a batch gather
            wake.clear()
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - the entries stay queued; the next flush writes them
                from .._util import lazy_logger

                lazy_logger(__name__).warning("writing the queued results failed (%s); retried later", exc)
                continue
            with self._lock:  # idle: end, so that a storage that is replaced leaves no thread behind
                if wake is self._wake and not self and not wake.is_set():
                    self._thread = None
                    if self._registered:
                        atexit.unregister(self.flush)
                        self._registered = False
                    return

    # ------------------------------------------------------------ reading what is queued

    def buffer(self, cs: str):
        return self.buffers.get(cs) if self._pid == os.getpid() else None

    def result(self, tf: str):
        return self.results.get(tf) if self._pid == os.getpid() else None

    def record(self, tf: str):
        entry = self.records.get(tf) if self._pid == os.getpid() else None
        return entry[1] if entry is not None else None

    # ------------------------------------------------------------ flushing

    def flush(self) -> None:
        """Write everything queued so far (buffers, then result rows and records, then leaves).
        An entry stays readable from memory until it is written."""
        with self._flushing:
            with self._lock:
                self._own()
                if not self:
                    return
                buffers, results, records = dict(self.buffers), dict(self.results), dict(self.records)
                leaves = list(self.leaves)
            self._write(buffers, list(results.items()), [(tf, res, rec) for tf, (res, rec) in records.items()],
                        leaves)
            with self._lock:  # entries queued meanwhile stay
                for cs in buffers:
                    self._nbytes -= len(self.buffers.pop(cs))
                for tf, res in results.items():
                    if self.results.get(tf) == res:
                        del self.results[tf]
                for tf, entry in records.items():
                    if self.records.get(tf) is entry:
                        del self.records[tf]
                del self.leaves[:len(leaves)]
