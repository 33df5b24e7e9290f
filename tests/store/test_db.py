"""ResultDB: the seamless.db schema and operations of SPEC §3.3."""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from seamless_transformer.store.db import ResultDB

# SPEC §3.3, verbatim (upstream seamless-database 2.1.0)
GOLDEN_DDL = """\
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

TF = "706b247d" + "0" * 56
RES = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
OTHER = "f" * 64


def h(text):
    return hashlib.sha256(str(text).encode()).hexdigest()


def rows(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path):
    return ResultDB(tmp_path / "seamless.db")


def test_schema_is_exactly_the_upstream_ddl(db, tmp_path):
    db.put_transformation(TF, RES)
    stored = [r[0] for r in rows(tmp_path / "seamless.db", "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")]
    expected = [s.replace(" IF NOT EXISTS", "") for s in GOLDEN_DDL.strip().rstrip(";").split(";\n")]
    assert stored == expected
    assert len(expected) == 17  # 8 tables, 9 indexes


def test_database_uses_wal_mode(db, tmp_path):
    db.put_transformation(TF, RES)
    assert rows(tmp_path / "seamless.db", "PRAGMA journal_mode") == [("wal",)]


def test_reads_do_not_create_the_file(db, tmp_path):
    assert db.get_transformation(TF) is None
    assert db.get_metadata(TF) is None and db.get_rev_transformations(RES) == []
    assert not (tmp_path / "seamless.db").exists()


def test_put_then_get_transformation(db):
    db.put_transformation(TF, RES)
    assert db.get_transformation(TF) == RES
    assert db.get_rev_transformations(RES) == [TF]


def test_put_transformation_replaces_the_result_and_does_not_duplicate_rev_rows(db, tmp_path):
    db.put_transformation(TF, RES)
    db.put_transformation(TF, RES)
    db.put_transformation(TF, OTHER)
    assert db.get_transformation(TF) == OTHER
    assert rows(tmp_path / "seamless.db", "SELECT result, checksum FROM rev_transformation ORDER BY id") == [(RES, TF), (OTHER, TF)]


def test_put_metadata_stores_json_dumps_and_creates_the_result_rows(db, tmp_path):
    record = {"schema_version": 1, "tf_checksum": TF, "wall_time_seconds": 0.5}
    assert db.put_metadata(TF, RES, record) is True
    assert rows(tmp_path / "seamless.db", "SELECT checksum, result, metadata FROM meta_data") == [(TF, RES, json.dumps(record))]
    assert db.get_transformation(TF) == RES and db.get_rev_transformations(RES) == [TF]
    assert db.get_metadata(TF) == record


def test_put_metadata_keeps_an_existing_record(db):
    db.put_metadata(TF, RES, {"n": 1})
    assert db.put_metadata(TF, RES, {"n": 2}) is True
    assert db.get_metadata(TF) == {"n": 1}


def test_put_metadata_is_refused_when_the_result_differs(db):
    db.put_transformation(TF, OTHER)
    assert db.put_metadata(TF, RES, {"n": 1}) is False
    assert db.get_metadata(TF) is None and db.get_transformation(TF) == OTHER


def test_put_metadata_is_refused_after_declare_irreproducible(db):
    db.put_transformation(TF, RES)
    db.declare_irreproducible(TF, RES)
    assert db.put_metadata(TF, RES, {"n": 1}) is False
    assert db.get_metadata(TF) is None


def test_declare_irreproducible_moves_the_rows(db, tmp_path):
    db.put_metadata(TF, RES, {"n": 1})
    assert db.declare_irreproducible(TF, RES) is True
    path = tmp_path / "seamless.db"
    assert db.get_transformation(TF) is None and db.get_rev_transformations(RES) == []
    assert rows(path, "SELECT count(*) FROM meta_data") == [(0,)]
    assert rows(path, "SELECT result, checksum, metadata FROM irreproducible_transformation") == [(RES, TF, '{"n": 1}')]


def test_declare_irreproducible_of_an_unknown_result_moves_nothing(db, tmp_path):
    db.put_transformation(TF, RES)
    assert db.declare_irreproducible(TF, OTHER) is False
    assert db.get_transformation(TF) == RES


def test_readonly_database_serves_reads_and_refuses_writes(db, tmp_path):
    db.put_transformation(TF, RES)
    db.close()
    ro = ResultDB(tmp_path / "seamless.db", readonly=True)
    assert ro.get_transformation(TF) == RES
    with pytest.raises(PermissionError, match="read-only"):
        ro.put_transformation(OTHER, RES)
    assert rows(tmp_path / "seamless.db", "SELECT count(*) FROM transformation") == [(1,)]


def test_readonly_database_that_does_not_exist_answers_nothing(tmp_path):
    assert ResultDB(tmp_path / "none.db", readonly=True).get_transformation(TF) is None


def test_a_readonly_database_without_the_result_tables_answers_nothing(tmp_path):
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE unrelated (x)").connection.close()
    assert ResultDB(path, readonly=True).get_transformation(TF) is None


LOCKER = textwrap.dedent("""\
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("INSERT INTO transformation VALUES (?, ?)", ("a" * 64, "b" * 64))
    print("locked", flush=True)
    time.sleep(1)
    conn.execute("COMMIT")
""")


def test_a_database_locked_by_another_writer_is_written_after_waiting(db, tmp_path):
    db.put_transformation(TF, RES)
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(tmp_path / "seamless.db")], stdout=subprocess.PIPE, text=True)
    assert locker.stdout.readline() == "locked\n"
    db.put_transformation(OTHER, RES)
    assert locker.wait(timeout=30) == 0
    assert db.get_transformation(OTHER) == RES
    assert db.get_transformation("a" * 64) == "b" * 64


WRITER = textwrap.dedent("""\
    import hashlib, sys
    from seamless_transformer.store.db import ResultDB
    from seamless_transformer.store.files import BufferDir
    root, k = sys.argv[1], int(sys.argv[2])
    db, store = ResultDB(root + "/seamless.db"), BufferDir(root)
    for i in range(50):
        result = store.put(f"result {k} {i}".encode())
        db.put_transformation(hashlib.sha256(f"tf {k} {i}".encode()).hexdigest(), result)
""")


def test_eight_processes_writing_at_once_give_400_rows_and_an_intact_database(tmp_path):
    root = tmp_path / "__TOPLEVEL__"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(k)]) for k in range(8)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    path = root / "seamless.db"
    assert rows(path, "SELECT count(*) FROM transformation") == [(400,)]
    assert rows(path, "SELECT count(*) FROM rev_transformation") == [(400,)]
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]
    buffers = [f for d in os.listdir(root) if len(d) == 2 for f in os.listdir(root / d)]
    assert len(buffers) == 400


def test_threads_share_one_database_object(db):
    def work(k):
        for i in range(50):
            db.put_transformation(h(f"{k}-{i}"), RES)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(db.get_rev_transformations(RES)) == 400


def test_a_forked_child_reopens_and_writes(db):
    db.put_transformation(TF, RES)
    pid = os.fork()
    if pid == 0:  # child: must use its own connection
        try:
            db.put_transformation(OTHER, RES)
            os._exit(0 if db.get_transformation(TF) == RES else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert db.get_transformation(OTHER) == RES


def test_an_unwritable_database_is_still_read_and_writes_raise(db, tmp_path):
    """Root ignores permissions, so the database is made unwritable by blocking its -wal/-shm files."""
    db.put_transformation(TF, RES)
    db.close()
    (tmp_path / "seamless.db-wal").mkdir()
    (tmp_path / "seamless.db-shm").mkdir()
    reopened = ResultDB(tmp_path / "seamless.db")
    assert reopened.get_transformation(TF) == RES
    with pytest.raises(PermissionError, match="not writable"):
        reopened.put_transformation(OTHER, RES)


def test_writing_to_an_unwritable_database_raises_one_clear_error(db, tmp_path):
    db.put_transformation(TF, RES)
    db.close()
    (tmp_path / "seamless.db-wal").mkdir()
    (tmp_path / "seamless.db-shm").mkdir()
    with pytest.raises(PermissionError, match=r"seamless\.db: result database is not writable \("):
        ResultDB(tmp_path / "seamless.db").put_transformation(OTHER, RES)


def test_a_busy_error_is_retried_until_it_clears():
    from seamless_transformer.store import db as dbmod

    calls = []

    def locked_twice():
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    assert dbmod._retry(locked_twice) == "done"
    assert len(calls) == 3


def test_a_busy_error_that_outlasts_the_busy_timeout_is_raised(monkeypatch):
    from seamless_transformer.store import db as dbmod

    monkeypatch.setattr(dbmod, "BUSY_RETRY_SECONDS", 0.05)
    calls = []

    def always_locked():
        calls.append(1)
        assert len(calls) < 100, "retried past the busy timeout"
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        dbmod._retry(always_locked)
    assert len(calls) > 1


def test_a_non_busy_error_is_raised_without_a_retry():
    from seamless_transformer.store import db as dbmod

    calls = []

    def broken():
        calls.append(1)
        assert len(calls) == 1, "a non-busy error was retried"
        raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        dbmod._retry(broken)
    assert len(calls) == 1


def test_a_failing_write_raises_the_sqlite_error_unchanged(db):
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        db._write(lambda conn: conn.execute("INSERT INTO no_such_table VALUES (1)"))


def test_put_metadata_is_refused_when_the_recorded_metadata_has_another_result(db):
    db.put_metadata(TF, RES, {"n": 1})
    db.put_transformation(TF, OTHER)  # the transformation row now agrees with the new call
    assert db.put_metadata(TF, OTHER, {"n": 2}) is False
    assert db.get_metadata(TF) == {"n": 1}


def test_a_forked_child_writes_through_a_connection_of_its_own(db):
    db.put_transformation(TF, RES)
    inherited = db._conn
    pid = os.fork()
    if pid == 0:
        try:
            db.put_transformation(OTHER, RES)
            os._exit(0 if db._conn is not None and db._conn is not inherited else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert db.get_transformation(OTHER) == RES
    assert db._conn is inherited  # the parent keeps its own
