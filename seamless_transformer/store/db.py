"""The result database `seamless.db`: upstream seamless-database 2.1.0 schema.

One connection per process (reopened after fork, guarded by a lock so threads may share it),
WAL mode, one transaction per operation, and a retry loop on SQLITE_BUSY for up to 30 s on
top of sqlite's own busy timeout. The file is created on the first write, never on a read.

Read-only use: ResultDB(path, readonly=True) opens the file with mode=ro (falling back to
immutable=1 when the directory does not let sqlite create its -shm file) and every write
raises PermissionError. A writable ResultDB whose file or directory the OS refuses to write
raises PermissionError as well (one clear line); store.storage turns that into a warning.

LeafDB is our own small database next to it, `seamless-leaves.db` (seamless.db keeps the exact
upstream schema): leaf -> the deep results that hold it, so that fingertip can recompute a missing
leaf of a deep result, such as a --scratch output file.
"""

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager

from ..checksum import Checksum

SCHEMA = """\
CREATE TABLE IF NOT EXISTS "transformation" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL);
CREATE INDEX IF NOT EXISTS "transformation_result" ON "transformation" ("result");
CREATE TABLE IF NOT EXISTS "rev_transformation" ("id" INTEGER NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "checksum" CHAR(64) NOT NULL);
CREATE INDEX IF NOT EXISTS "rev_transformation_result" ON "rev_transformation" ("result");
CREATE TABLE IF NOT EXISTS "meta_data" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "metadata" TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS "meta_data_result" ON "meta_data" ("result");
CREATE TABLE IF NOT EXISTS "irreproducible_transformation" ("id" INTEGER NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "checksum" CHAR(64) NOT NULL, "metadata" TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS "irreproducible_transformation_result" ON "irreproducible_transformation" ("result");
CREATE INDEX IF NOT EXISTS "irreproducible_transformation_checksum" ON "irreproducible_transformation" ("checksum");
CREATE TABLE IF NOT EXISTS "buffer_info" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "buffer_info" TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS "syntactic_to_semantic" ("syntactic" CHAR(64) NOT NULL, "celltype" TEXT NOT NULL, "subcelltype" TEXT NOT NULL, "semantic" CHAR(64) NOT NULL, PRIMARY KEY ("syntactic", "celltype", "subcelltype", "semantic"));
CREATE INDEX IF NOT EXISTS "syntactic_to_semantic_syntactic" ON "syntactic_to_semantic" ("syntactic");
CREATE INDEX IF NOT EXISTS "syntactic_to_semantic_semantic" ON "syntactic_to_semantic" ("semantic");
CREATE TABLE IF NOT EXISTS "expression" ("input_checksum" CHAR(64) NOT NULL, "path" VARCHAR(100) NOT NULL, "celltype" VARCHAR(20) NOT NULL, "target_celltype" VARCHAR(20) NOT NULL, "validator" CHAR(64), "validator_language" VARCHAR(20), "result" CHAR(64) NOT NULL, PRIMARY KEY ("input_checksum", "path", "celltype", "target_celltype"));
CREATE INDEX IF NOT EXISTS "expression_result" ON "expression" ("result");
CREATE TABLE IF NOT EXISTS "bucket_probe" ("bucket_kind" VARCHAR(20) NOT NULL, "label" TEXT NOT NULL, "bucket_checksum" CHAR(64) NOT NULL, "captured_at" TEXT NOT NULL, "freshness_tokens" TEXT NOT NULL, PRIMARY KEY ("bucket_kind", "label"));
CREATE INDEX IF NOT EXISTS "bucket_probe_bucket_checksum" ON "bucket_probe" ("bucket_checksum");
"""

# The table of LeafDB (seamless-leaves.db): which deep results hold a leaf.
LEAF_SCHEMA = """\
CREATE TABLE IF NOT EXISTS "deep_leaf" ("leaf" CHAR(64) NOT NULL, "result" CHAR(64) NOT NULL, PRIMARY KEY ("leaf", "result")) WITHOUT ROWID"""

BUSY_RETRY_SECONDS = 30.0


def _hex(cs) -> str:
    return Checksum(cs).hex()


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


class CorruptDatabaseError(OSError):
    """seamless.db is damaged. Its message says how to move it aside; the buffers are not affected."""

    def __init__(self, path: str, cause):
        import shlex

        folder = os.path.dirname(path)
        aside = shlex.quote(os.path.join(folder, "corrupt-db"))
        moved = " ".join(shlex.quote(path + s) for s in ("", "-wal", "-shm") if os.path.exists(path + s))
        super().__init__(
            f"{path} is damaged ({cause}); results are neither looked up nor recorded there."
            f" The buffers are kept. To start a new database: mkdir {aside} && mv {moved} {aside}/"
        )


def _is_readonly(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


class ResultDB:
    _schema_init = staticmethod(lambda conn: _init_schema(conn))  # LeafDB has its own
    def __init__(self, path, *, readonly=False):
        self.path = os.path.abspath(os.fspath(path))
        self.readonly = readonly
        self._lock = threading.RLock()
        self._conn = None
        self._pid = None
        self._conn_readonly = False
        self._ready = None  # the connection whose schema and pragmas are set up
        self._abandoned = []  # connections inherited over fork: never used, never closed

    def __repr__(self):
        return f"ResultDB({self.path!r}, readonly={self.readonly})"

    # ------------------------------------------------------------ connection

    def _guard(self):
        """The lock of this process (a lock inherited over fork may be held by a lost thread)."""
        if self._pid is not None and self._pid != os.getpid():
            self._lock = threading.RLock()
            if self._conn is not None:
                self._abandoned.append(self._conn)
            self._conn, self._pid = None, None
        return self._lock

    def _connect(self, write: bool):
        """The process's connection, or None for a read when the file does not exist yet."""
        if write and self.readonly:
            raise PermissionError(f"{self.path}: result database is read-only")
        if self._conn is not None:
            if write and self._conn_readonly:
                raise PermissionError(f"{self.path}: result database is not writable")
            if write and self._ready is not self._conn:
                self._init_schema_now()
            return self._conn
        if not os.path.exists(self.path):
            if not write:
                return None
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            # created here so that the umask decides its mode (sqlite would make it 0644, and
            # its -wal/-shm files copy that): umask 002 lets a group share the cache
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o666))
        self._conn_readonly = self.readonly
        if self.readonly:
            self._conn = self._open_readonly()
        else:
            try:
                self._conn = self._open_writable(init=write)
            except sqlite3.OperationalError as exc:
                if write or _is_busy(exc):
                    raise PermissionError(f"{self.path}: result database is not writable ({exc})") from None
                self._conn, self._conn_readonly = self._open_readonly(), True  # reads still work
        self._pid = os.getpid()
        return self._conn

    def _open_writable(self, init=True):
        """A connection; the schema and pragmas are set up now with `init`, else before its first write
        (a process that only reads, such as a cache hit, runs just its query)."""
        conn = sqlite3.connect(self.path, timeout=BUSY_RETRY_SECONDS, isolation_level=None,
                               check_same_thread=False)
        if init:
            try:
                _retry(lambda: self._schema_init(conn))
            except BaseException:
                conn.close()
                raise
            self._ready = conn
        return conn

    def _init_schema_now(self) -> None:
        try:
            _retry(lambda: self._schema_init(self._conn))
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise
            raise PermissionError(f"{self.path}: result database is not writable ({exc})") from None
        self._ready = self._conn

    def _open_readonly(self):
        uri = "file:" + self.path.replace("?", "%3f").replace("#", "%23")
        for suffix in ("?mode=ro", "?immutable=1"):
            conn = sqlite3.connect(uri + suffix, uri=True, timeout=BUSY_RETRY_SECONDS,
                                   isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError:
                conn.close()
        raise PermissionError(f"{self.path}: cannot open result database for reading")

    def _read(self, sql, params):
        with self._guard(), self._corruption():
            conn = self._connect(write=False)
            if conn is None:
                return []
            try:
                return _retry(lambda: conn.execute(sql, params).fetchall())
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                if conn is self._ready or self._conn_readonly or not _is_readonly(exc):
                    raise
            # a connection opened for writing that cannot even read (its -wal/-shm files cannot be made)
            conn.close()
            self._conn, self._conn_readonly = self._open_readonly(), True
            return _retry(lambda: self._conn.execute(sql, params).fetchall())

    def _write(self, func):
        """Run func(conn) inside one BEGIN IMMEDIATE transaction, retrying while busy."""
        with self._guard(), self._corruption():
            conn = self._connect(write=True)
            try:
                return _retry(lambda: run_in_transaction(conn, func))
            except sqlite3.OperationalError as exc:
                if _is_readonly(exc):
                    raise PermissionError(f"{self.path}: result database is not writable ({exc})") from None
                raise

    @contextmanager
    def _corruption(self):
        """A damaged file becomes CorruptDatabaseError (one line, with the command that recovers)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise
            if self._conn is not None:
                self._abandoned.append(self._conn)
                self._conn = None
            raise CorruptDatabaseError(self.path, exc) from None

    def close(self) -> None:
        with self._guard():
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # ------------------------------------------------------------ operations

    def get_transformation(self, tf) -> str | None:
        rows = self._read('SELECT "result" FROM "transformation" WHERE "checksum"=?', (_hex(tf),))
        return rows[0][0] if rows else None

    def put_transformation(self, tf, res) -> None:
        tf, res = _hex(tf), _hex(res)
        self._write(lambda conn: _put_transformation(conn, tf, res))

    def get_rev_transformations(self, res) -> list:
        rows = self._read('SELECT "checksum" FROM "rev_transformation" WHERE "result"=? ORDER BY "id"', (_hex(res),))
        return list(dict.fromkeys(row[0] for row in rows))

    def put_metadata(self, tf, res, record: dict) -> bool:
        """Record `record` for (tf, res). False when refused: tf was declared irreproducible,
        or its transformation row (or an existing meta_data row) has a different result.
        True when the row was inserted, or was already there ("already recorded")."""
        tf, res = _hex(tf), _hex(res)
        text = json.dumps(record)
        return self._write(lambda conn: _put_metadata(conn, tf, res, text))

    def put_batch(self, results, records) -> None:
        """Write result rows [(tf, res)], then records [(tf, res, dict)] (see put_metadata), in one
        transaction."""
        results = [(_hex(tf), _hex(res)) for tf, res in results]
        written = dict(results)
        records = [(_hex(tf), _hex(res), json.dumps(record)) for tf, res, record in records]

        def write(conn):
            for tf, res in results:
                _put_transformation(conn, tf, res)
            for tf, res, text in records:
                _put_metadata(conn, tf, res, text, rows_written=written.get(tf) == res)

        self._write(write)

    def get_metadata(self, tf) -> dict | None:
        rows = self._read('SELECT "metadata" FROM "meta_data" WHERE "checksum"=?', (_hex(tf),))
        return json.loads(rows[0][0]) if rows else None

    def declare_irreproducible(self, tf, res) -> bool:
        """Move the rows of (tf, res) into irreproducible_transformation. True if any row moved."""
        tf, res = _hex(tf), _hex(res)
        return self._write(lambda conn: _declare_irreproducible(conn, tf, res))


def _retry(func):
    deadline = time.monotonic() + BUSY_RETRY_SECONDS
    delay = 0.005
    while True:
        try:
            return func()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _pragmas(conn) -> None:
    conn.execute("PRAGMA busy_timeout=30000")
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        conn.execute("PRAGMA journal_mode=WAL")  # needs a moment without other connections
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")


def _init_schema(conn) -> None:
    _pragmas(conn)
    exists = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='bucket_probe'").fetchone()[0]
    if not exists:
        run_in_transaction(conn, _create_tables)


def _init_leaf_schema(conn) -> None:
    _pragmas(conn)
    conn.execute(LEAF_SCHEMA)


class LeafDB(ResultDB):
    """seamless-leaves.db: leaf checksum -> the deep results that hold it (same connection rules)."""

    _schema_init = staticmethod(_init_leaf_schema)

    def put_leaves(self, res, leaves) -> None:
        """Remember that deep result `res` holds each checksum of `leaves`."""
        rows = [(_hex(leaf), _hex(res)) for leaf in leaves]
        if rows:
            self._write(lambda conn: conn.executemany(
                'INSERT OR IGNORE INTO "deep_leaf" ("leaf", "result") VALUES (?, ?)', rows))

    def get_leaf_parents(self, leaf) -> list:
        """The deep results that hold `leaf`."""
        rows = self._read('SELECT "result" FROM "deep_leaf" WHERE "leaf"=?', (_hex(leaf),))
        return [row[0] for row in rows]


def _create_tables(conn) -> None:
    for statement in SCHEMA.strip().split(";\n"):
        conn.execute(statement.rstrip(";"))


def run_in_transaction(conn, func):
    """func(conn) inside one BEGIN IMMEDIATE transaction, rolled back on any failure."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = func(conn)
        conn.execute("COMMIT")
        return result
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _put_transformation(conn, tf, res) -> None:
    conn.execute('INSERT INTO "transformation" ("checksum", "result") VALUES (?, ?) '
                 'ON CONFLICT ("checksum") DO UPDATE SET "result"=excluded."result"', (tf, res))
    present = conn.execute('SELECT 1 FROM "rev_transformation" WHERE "result"=? AND "checksum"=?',
                           (res, tf)).fetchone()
    if present is None:
        conn.execute('INSERT INTO "rev_transformation" ("result", "checksum") VALUES (?, ?)', (res, tf))


def _put_metadata(conn, tf, res, text, rows_written=False) -> bool:
    """rows_written: this transaction has just written the transformation and rev rows of (tf, res)."""
    if conn.execute('SELECT 1 FROM "irreproducible_transformation" WHERE "checksum"=?', (tf,)).fetchone():
        return False
    if not rows_written:
        row = conn.execute('SELECT "result" FROM "transformation" WHERE "checksum"=?', (tf,)).fetchone()
        if row is not None and row[0] != res:
            return False
    meta = conn.execute('SELECT "result" FROM "meta_data" WHERE "checksum"=?', (tf,)).fetchone()
    if meta is not None:
        return meta[0] == res
    conn.execute('INSERT INTO "meta_data" ("checksum", "result", "metadata") VALUES (?, ?, ?)', (tf, res, text))
    if not rows_written:
        _put_transformation(conn, tf, res)  # make sure the transformation and rev rows exist
    return True


def _declare_irreproducible(conn, tf, res) -> bool:
    moved = conn.execute('DELETE FROM "transformation" WHERE "checksum"=? AND "result"=?', (tf, res)).rowcount
    moved += conn.execute('DELETE FROM "rev_transformation" WHERE "checksum"=? AND "result"=?', (tf, res)).rowcount
    meta = conn.execute('SELECT "metadata" FROM "meta_data" WHERE "checksum"=? AND "result"=?', (tf, res)).fetchone()
    if meta is not None:
        conn.execute('DELETE FROM "meta_data" WHERE "checksum"=? AND "result"=?', (tf, res))
        moved += 1
    if moved:
        conn.execute('INSERT INTO "irreproducible_transformation" ("result", "checksum", "metadata") VALUES (?, ?, ?)',
                     (res, tf, meta[0] if meta is not None else "{}"))
    return bool(moved)
