"""The storage of this process: memory in front of buffer directories and result databases.

Built from config.Settings (storage order = Settings order). Buffers: trivial buffers, then an
in-memory LRU of small buffers, then the writable buffer dirs, then the read-only ones, then
the hashservers (store/remote.py; what they serve is kept in the first writable dir). Results:
the local databases, then the database servers (a server's answer is kept locally too).
Writes go to memory and to every writable dir / database / server. A server that cannot be
reached raises RemoteError (exit 3). A store that refuses a write
(read-only file system, permissions) gets one warning and is skipped; the other stores still
receive the data. With `persistent: false` nothing touches the disk: buffers, results and
records live in memory only (unbounded, since memory is then the only store).
Nothing is created when Storage is built; the directories and seamless.db appear on first write.
Writes asked for with `defer=True` (the Python API's) go through write-behind (store/behind.py) when
only local stores are configured: queued in memory, served from there, flushed in order (buffers,
then result rows and records) by `flush()`, when the queue fills, soon after, and at exit.
"""

import os
import threading
from collections import OrderedDict

from .. import config
from ..checksum import TRIVIAL_CHECKSUMS, Checksum, hash_file
from ..errors import CacheMissError, ChecksumMismatchError
from .db import CorruptDatabaseError, LeafDB, ResultDB

LEAF_DB = "seamless-leaves.db"  # next to each seamless.db
from .files import BufferDir
from .._util import lazy_logger

logger = lazy_logger(__name__)

MEMORY_ITEM_LIMIT = 1 << 20  # buffers below 1 MiB are kept in memory when persistent
MEMORY_TOTAL_LIMIT = 64 << 20


class _MemoryBuffers:
    """An LRU map checksum -> bytes, bounded by total size (max_total None: unbounded)."""

    def __init__(self, max_item, max_total):
        self.max_item, self.max_total = max_item, max_total
        self._data = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, cs: str):
        with self._lock:
            data = self._data.get(cs)
            if data is not None:
                self._data.move_to_end(cs)
            return data

    def put(self, cs: str, data: bytes) -> None:
        if self.max_item is not None and len(data) >= self.max_item:
            return
        with self._lock:
            if cs in self._data:
                self._data.move_to_end(cs)
                return
            self._data[cs] = bytes(data)
            self._size += len(data)
            while self.max_total is not None and self._size > self.max_total and self._data:
                _, old = self._data.popitem(last=False)
                self._size -= len(old)

    def after_fork(self) -> None:
        self._lock = threading.Lock()


class Storage:
    def __init__(self, settings):
        self.persistent = settings.persistent
        self.settings = settings
        if self.persistent:
            self._memory = _MemoryBuffers(MEMORY_ITEM_LIMIT, MEMORY_TOTAL_LIMIT)
            self._dirs = [BufferDir(p) for p in settings.buffer_dirs]
            self._dbs = [ResultDB(p) for p in settings.database_paths]
            self._remote = None
            if settings.hashserver_urls or settings.readonly_hashserver_urls or settings.database_urls \
                    or settings.readonly_database_urls:  # the HTTP client is imported only for servers
                from .remote import RemoteBuffers, remote_databases

                self._remote = RemoteBuffers(settings)
                self._dbs += remote_databases(settings)
            self._leaf_dbs = [LeafDB(os.path.join(os.path.dirname(p), LEAF_DB)) for p in settings.database_paths]
        else:
            self._memory = _MemoryBuffers(None, None)
            self._dirs, self._dbs, self._remote, self._leaf_dbs = [], [], None, []
        self._readonly_dirs = [BufferDir(p, writable=False) for p in settings.readonly_buffer_dirs]
        self._results = {}  # tf hex -> result hex, when not persistent
        self._records = {}  # tf hex -> record, when not persistent
        self._leaves = {}  # leaf hex -> {deep result hex}, when not persistent
        self._warned = set()
        self._behind = None  # the write-behind queue (store/behind.py), made on the first deferred write

    def __repr__(self):
        return f"Storage(persistent={self.persistent}, dirs={[d.path for d in self._dirs]})"

    def _warn_once(self, store, exc) -> None:
        key = getattr(store, "path", repr(store))
        if key not in self._warned:
            self._warned.add(key)
            if isinstance(exc, CorruptDatabaseError):
                logger.warning("%s", exc)
            else:
                logger.warning("%s: not written (%s)", key, exc)

    # ------------------------------------------------------------ buffers

    def _get_buffer(self, cs: str):
        if cs in TRIVIAL_CHECKSUMS:
            return TRIVIAL_CHECKSUMS[cs]
        data = self._memory.get(cs)
        if data is None and self._behind is not None:
            data = self._behind.buffer(cs)
        if data is not None:
            return data
        for store in self._dirs + self._readonly_dirs:
            data = store.get(cs)
            if data is not None:
                self._memory.put(cs, data)
                return data
        if self._remote:
            data = self._remote.get(cs, self._dirs)
            if data is not None:
                self._memory.put(cs, data)
        return data

    def get_buffer(self, cs) -> bytes:
        cs = Checksum(cs).hex()
        data = self._get_buffer(cs)
        if data is None:
            raise CacheMissError(f"buffer {cs} not available")
        return data

    def has_buffer(self, cs, *, everywhere=False) -> bool:
        """Can `cs` be read from some store? With everywhere: is it in every writable store
        (so that storing it again would change nothing)?"""
        if everywhere:
            return not self.missing_buffers([cs])
        cs = Checksum(cs).hex()
        if cs in TRIVIAL_CHECKSUMS or self._memory.get(cs) is not None or self._queued_buffer(cs):
            return True
        if any(store.has(cs) for store in self._dirs + self._readonly_dirs):
            return True
        return bool(self._remote) and self._remote.has(cs)

    def missing_buffers(self, checksums) -> list:
        """The checksums (as Checksum, in input order) that some writable store lacks;
        servers are asked in batches."""
        checksums = [Checksum(cs) for cs in checksums]
        checksums = [cs for cs in checksums if cs.hex() not in TRIVIAL_CHECKSUMS]
        if not self.persistent:
            return [cs for cs in checksums if self._memory.get(cs.hex()) is None]
        # a corrupt stored copy counts as missing (it is discarded), so that it is stored again
        missing = {cs for cs in checksums
                   if not self._queued_buffer(cs.hex()) and not all(store.has_valid(cs) for store in self._dirs)}
        if self._remote:
            missing.update(self._remote.missing(checksums))
        return [cs for cs in checksums if cs in missing]

    def has_valid_buffer(self, cs) -> bool:
        """Like has_buffer, but a stored file must also hash to `cs` (a corrupt one is discarded,
        so that the next put repairs it). Used wherever a hit depends on the buffer."""
        cs = Checksum(cs).hex()
        if cs in TRIVIAL_CHECKSUMS or self._memory.get(cs) is not None or self._queued_buffer(cs):
            return True
        if any(store.has_valid(cs) for store in self._dirs + self._readonly_dirs):
            return True
        return bool(self._remote) and self._remote.has(cs)  # verified when it is downloaded

    def put_buffer(self, data, cs=None, *, defer=False) -> Checksum:
        """Store `data`; its Checksum. Raises ChecksumMismatchError when `cs` is given and differs.
        `defer`: through write-behind, when it applies (a buffer below MEMORY_ITEM_LIMIT); a buffer this
        process already holds in memory (stored or read before) is then neither hashed again nor queued."""
        if defer and cs is not None and self._deferring(defer):
            known = Checksum(cs)
            if self._memory.get(known.hex()) is not None:
                return known
        actual = Checksum.of(data)
        if cs is not None and Checksum(cs) != actual:
            raise ChecksumMismatchError(f"buffer does not match checksum {Checksum(cs).hex()}")
        self._memory.put(actual.hex(), data)
        if len(data) < MEMORY_ITEM_LIMIT and self._deferring(defer):
            self._queue().put_buffer(actual.hex(), data)
            return actual
        for store in self._dirs:
            try:
                store.put_verified(data, actual)
            except OSError as exc:
                self._warn_once(store, exc)
        if self._remote:
            self._remote.put(actual, data=data)
        return actual

    def put_file(self, path, cs=None) -> Checksum:
        """Store a file's content; big files are streamed (never fully read) when persistent."""
        if not self.persistent:
            with open(path, "rb") as f:
                return self.put_buffer(f.read(), cs)
        result = Checksum(cs) if cs is not None else None
        for store in self._dirs:
            try:
                result = store.put_file(path, result)
            except OSError as exc:
                self._warn_once(store, exc)
        if result is None:
            result = hash_file(path)
        if self._remote:
            self._remote.put(result, path=path)
        return result

    def buffer_path(self, cs) -> str | None:
        """The path of the file that holds `cs` (a queued buffer is written first), or None."""
        if self._queued_buffer(Checksum(cs).hex()):
            self.flush()
        for store in self._dirs + self._readonly_dirs:
            path = store.file_path(cs)
            if path is not None:
                return path
        return None

    # ------------------------------------------------------------ results

    def get_result(self, tf) -> Checksum | None:
        tf = Checksum(tf).hex()
        if not self.persistent:
            res = self._results.get(tf)
            return Checksum(res) if res else None
        res = self._behind.result(tf) if self._behind is not None else None
        if res is not None:
            return Checksum(res)
        for db in self._dbs:
            try:
                res = db.get_transformation(tf)
            except CorruptDatabaseError as exc:
                self._warn_once(db, exc)
                continue
            if res is not None:
                self._remember_result(db, tf, res)
                return Checksum(res)
        return None

    def _remember_result(self, source, tf, res) -> None:
        """A result found on a server is also written to the local databases in front of it."""
        if isinstance(source, ResultDB):
            return
        for db in self._dbs:
            if isinstance(db, ResultDB):
                try:
                    db.put_transformation(tf, res)
                except OSError as exc:
                    self._warn_once(db, exc)

    def _each_db(self, method, *args, skip=OSError, dbs=None) -> list:
        """[db.method(*args)] over the databases (default: the result databases); one that raises
        `skip` is left out with one warning (reads skip only a damaged one: CorruptDatabaseError)."""
        outcomes = []
        for db in self._dbs if dbs is None else dbs:
            try:
                outcomes.append(getattr(db, method)(*args))
            except skip as exc:
                self._warn_once(db, exc)
        return outcomes

    def put_result(self, tf, res, *, defer=False) -> None:
        """Cache tf -> res. `defer`: through write-behind (else what is queued is written first)."""
        tf, res = Checksum(tf).hex(), Checksum(res).hex()
        if not self.persistent:
            self._results[tf] = res
            return
        if self._deferring(defer):
            self._queue().put_result(tf, res)
            return
        self.flush()
        self._each_db("put_transformation", tf, res)

    def put_record(self, tf, res, record: dict, *, defer=False) -> None:
        tf, res = Checksum(tf).hex(), Checksum(res).hex()
        if not self.persistent:
            if self._results.get(tf, res) == res:
                self._results[tf] = res
                self._records.setdefault(tf, record)
            return
        if self._deferring(defer):
            self._queue().put_record(tf, res, record)
            return
        self.flush()
        self._each_db("put_metadata", tf, res, record)

    def get_record(self, tf) -> dict | None:
        """The execution record of tf (first database that has one)."""
        tf = Checksum(tf).hex()
        if not self.persistent:
            return self._records.get(tf)
        queued = self._behind.record(tf) if self._behind is not None else None
        if queued is not None:
            return queued
        for record in self._each_db("get_metadata", tf, skip=CorruptDatabaseError):
            if record is not None:
                return record
        return None

    def get_rev_transformations(self, res) -> list:
        res = Checksum(res).hex()
        if not self.persistent:
            return [tf for tf, r in self._results.items() if r == res]
        self.flush()
        rows = self._each_db("get_rev_transformations", res, skip=CorruptDatabaseError)
        found = [tf for each in rows for tf in each]
        return list(dict.fromkeys(found))

    def put_leaves(self, res, leaves, *, defer=False) -> None:
        """Remember which leaves deep result `res` holds (for fingertip recomputation)."""
        res = Checksum(res).hex()
        if not self.persistent:
            for leaf in leaves:
                self._leaves.setdefault(Checksum(leaf).hex(), set()).add(res)
            return
        if self._deferring(defer):
            self._queue().put_leaves(res, list(leaves))
            return
        self.flush()
        self._each_db("put_leaves", res, list(leaves), dbs=self._leaf_dbs)

    def get_leaf_parents(self, leaf) -> list:
        leaf = Checksum(leaf).hex()
        if not self.persistent:
            return sorted(self._leaves.get(leaf, ()))
        self.flush()
        rows = self._each_db("get_leaf_parents", leaf, skip=CorruptDatabaseError, dbs=self._leaf_dbs)
        found = [res for each in rows for res in each]
        return list(dict.fromkeys(found))

    def declare_irreproducible(self, tf, res) -> bool:
        """Forget (tf -> res) everywhere. True if any store had it."""
        tf, res = Checksum(tf).hex(), Checksum(res).hex()
        if not self.persistent:
            if self._results.get(tf) != res:
                return False
            del self._results[tf]
            self._records.pop(tf, None)
            return True
        self.flush()
        return any(self._each_db("declare_irreproducible", tf, res))


    # ------------------------------------------------------------ write-behind

    def _deferring(self, defer: bool) -> bool:
        """Whether a write asked to be deferred is: only with local stores (servers are written through)."""
        return defer and self.persistent and self._remote is None

    def _queue(self):
        if self._behind is None:
            from .behind import WriteBehind

            with _lock:
                if self._behind is None:
                    self._behind = WriteBehind(self._write_batch)
        return self._behind

    def _queued_buffer(self, cs: str) -> bool:
        return self._behind is not None and self._behind.buffer(cs) is not None

    def has_queued_writes(self) -> bool:
        """Whether write-behind holds anything not yet written (an entry leaves it once written)."""
        return self._behind is not None and bool(self._behind)

    def flush(self) -> None:
        """Write what write-behind holds: buffers first, then result rows and records, then leaves."""
        if self._behind is not None:
            self._behind.flush()

    def _write_batch(self, buffers: dict, results: list, records: list, leaves: list) -> None:
        unwritten = set()  # buffers no directory took (full disk, file size limit...)
        for cs, data in buffers.items():
            written = not self._dirs
            for store in self._dirs:
                try:
                    store.put_verified(data, Checksum(cs))
                    written = True
                except OSError as exc:
                    self._warn_once(store, exc)
            if not written:
                unwritten.add(cs)
        if unwritten:  # no result row, record or leaf list whose buffer is not written
            results = [(tf, res) for tf, res in results if Checksum(res).hex() not in unwritten]
            records = [(tf, res, rec) for tf, res, rec in records if Checksum(res).hex() not in unwritten]
            leaves = [(res, each) for res, each in leaves if Checksum(res).hex() not in unwritten]
        if results or records:
            self._each_db("put_batch", results, records)
        for res, each in leaves:
            self._each_db("put_leaves", res, each, dbs=self._leaf_dbs)


_lock = threading.Lock()
_current = {"storage": None, "generation": None, "pid": None}


def get_storage() -> Storage:
    """The process-wide Storage, rebuilt when the settings change (inside `storage_in_thread`:
    that thread's own)."""
    own = getattr(_in_thread, "storage", None)
    if own is not None:
        return own
    generation = config.settings_generation()
    with _lock:
        storage = _current["storage"]
        if storage is not None and _current["pid"] != os.getpid():
            storage._memory.after_fork()  # databases reopen themselves in the child
            _current["pid"] = os.getpid()
        if storage is None or _current["generation"] != generation:
            settings = config.get_settings()
            if storage is None or _storage_key(storage.settings) != _storage_key(settings):
                if storage is not None:
                    storage.flush()  # what it queued goes where it was meant to go
                storage = Storage(settings)
            storage.settings = settings
            _current.update(storage=storage, generation=generation, pid=os.getpid())
        return storage


_in_thread = threading.local()


class storage_in_thread:
    """`with storage_in_thread(storage):` get_storage() returns `storage` in this thread (a Dask
    worker that serves clients of different storage runs each task with the storage it names)."""

    def __init__(self, storage: Storage):
        self.storage = storage

    def __enter__(self) -> Storage:
        self.previous = getattr(_in_thread, "storage", None)
        _in_thread.storage = self.storage
        return self.storage

    def __exit__(self, *exc) -> None:
        _in_thread.storage = self.previous


def _storage_key(settings) -> tuple:
    return (settings.persistent, settings.buffer_dirs, settings.database_paths, settings.readonly_buffer_dirs,
            settings.hashserver_urls, settings.readonly_hashserver_urls, settings.database_urls,
            settings.readonly_database_urls)


def _reset() -> None:
    """Forget the process-wide Storage (what it queued is written first)."""
    with _lock:
        storage = _current["storage"]
        _current.update(storage=None, generation=None, pid=None)
    if storage is not None:
        storage.flush()


def store_buffers(buffers, storage=None, *, defer=False) -> None:
    """Put {checksum (hex or Checksum): bytes} into `storage` (default: the configured one);
    `defer`: through write-behind (see Storage.put_buffer)."""
    if not buffers:
        return
    storage = storage or get_storage()
    for cs, buf in buffers.items():
        storage.put_buffer(buf, Checksum(cs), defer=defer)
