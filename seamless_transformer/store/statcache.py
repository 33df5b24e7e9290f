"""A memo of file checksums keyed by what `stat` says, so unchanged files are not re-read.

The memo lives in ``${XDG_CACHE_HOME:-$HOME/.cache}/seamless/statcache.sqlite`` (resolved at
call time). A row is one path; it answers only while (dev, ino, size, mtime_ns, ctime_ns) of the
file are all unchanged. Keying the row by path (rather than by inode alone) keeps one row per
file, so the memo does not grow with every edit, and keeps hard links that are read differently
(``x`` and ``x.gz``) apart.

This is only ever a shortcut, never identity: every failure (no cache dir, a locked or corrupt
database, a read-only disk) is swallowed and reported as a miss. Deciding *which* files are worth
memoizing, and guarding against edits within one timestamp tick, is the caller's job.
"""

import os
import threading

from .._util import unpinned
from .._util import lazy_logger

logger = lazy_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS statcache (
    path TEXT PRIMARY KEY,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    checksum TEXT NOT NULL
) WITHOUT ROWID
"""
_CHUNK = 500  # bound on SQL variables per SELECT (old SQLite builds allow 999)
_TIMEOUT = 2.0

_lock = threading.Lock()
_connections = {}  # (pid, db_path) -> sqlite3.Connection
_abandoned = []  # connections inherited over fork: never used, never closed by the child
_ready = set()  # connections whose schema and pragmas are set up


def statcache_path() -> str:
    """Where the memo lives, from the environment as it is now."""
    from ..config import cache_dir

    return cache_dir("statcache.sqlite")


def _int64(value: int) -> int:
    """SQLite integers are signed 64-bit; some filesystems hand out inodes above 2**63."""
    return value - (1 << 64) if value >= (1 << 63) else value


def _stat_key(st: os.stat_result) -> tuple:
    return (
        _int64(st.st_dev),
        _int64(st.st_ino),
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
    )


def _connect(write=False):
    """The connection for this process and the current cache location (caller holds _lock); the
    schema and pragmas are set up before its first write (a lookup of a missing table is a miss)."""
    import sqlite3

    db_path = statcache_path()
    pid = os.getpid()
    conn = _connections.get((pid, db_path))
    if conn is not None:
        if write and conn not in _ready:
            _init(conn)
        return conn
    for key in [k for k in _connections if k[0] != pid]:
        _abandoned.append(_connections.pop(key))
    os.makedirs(os.path.dirname(db_path), exist_ok=True)
    conn = sqlite3.connect(
        db_path, timeout=_TIMEOUT, check_same_thread=False, isolation_level=None
    )
    if write:
        try:
            _init(conn)
        except BaseException:
            conn.close()
            raise
    _connections[(pid, db_path)] = conn
    return conn


def _init(conn) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(_SCHEMA)
    _ready.add(conn)


def get_cached_checksums(items) -> dict:
    """Memo lookup for many files at once: items = [(path, stat_result)] -> {path: hex} (hits only)."""
    wanted = {unpinned(os.path.abspath(path)): (path, _stat_key(st)) for path, st in items}
    if not wanted:
        return {}
    found = {}
    try:
        with _lock:
            conn = _connect()
            keys = list(wanted)
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    "SELECT path, dev, ino, size, mtime_ns, ctime_ns, checksum"
                    f" FROM statcache WHERE path IN ({marks})",
                    chunk,
                ).fetchall()
                for row in rows:
                    path, key = wanted[row[0]]
                    if tuple(row[1:6]) == key:
                        found[path] = row[6]
    except Exception as exc:  # a shortcut only: any failure is a miss
        logger.debug("statcache lookup failed: %s", exc)
        return {}
    return found


def put_cached_checksums(items) -> None:
    """Memoize many files in one transaction: items = [(path, stat_result, hex)]."""
    rows = [(unpinned(os.path.abspath(p)),) + _stat_key(st) + (str(cs),) for p, st, cs in items]
    if not rows:
        return
    try:
        from .db import run_in_transaction

        with _lock:
            run_in_transaction(_connect(write=True), lambda conn: conn.executemany(
                "INSERT OR REPLACE INTO statcache"
                " (path, dev, ino, size, mtime_ns, ctime_ns, checksum)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            ))
    except Exception as exc:  # a shortcut only: a failed write is forgotten
        logger.debug("statcache write failed: %s", exc)


def get_cached_checksum(path, st: os.stat_result):
    """The memoized checksum hex of `path` if its stat is unchanged, else None."""
    return get_cached_checksums([(path, st)]).get(path)


def put_cached_checksum(path, st: os.stat_result, hex) -> None:
    put_cached_checksums([(path, st, hex)])


def _reset() -> None:
    """Close this process's connections (tests, and callers that move the cache)."""
    with _lock:
        pid = os.getpid()
        for key in list(_connections):
            conn = _connections.pop(key)
            if key[0] == pid:
                try:
                    conn.close()
                except Exception:
                    pass
            else:
                _abandoned.append(conn)
