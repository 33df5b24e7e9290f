"""A damaged seamless.db is detected: one warning line with the command that moves it aside, and
every command keeps serving what the buffers can serve (the buffers are never touched)."""

import os
import sqlite3
import subprocess

import pytest

from seamless_transformer.store.db import CorruptDatabaseError, ResultDB

TF = "5" * 64
RES = "6" * 64


def db_path() -> str:
    return os.path.expanduser("~/.cache/seamless/__TOPLEVEL__/seamless.db")


def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True)


def garbage(path: str) -> None:
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    with open(path, "wb") as f:
        f.write(os.urandom(8192))


def malformed(path: str) -> None:
    """A real database whose pages after the first are overwritten: sqlite says 'malformed'."""
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(path, "r+b") as f:
        f.seek(4096)
        f.write(b"\xff" * (os.path.getsize(path) - 4096))


def the_warning(path: str) -> str:
    folder = os.path.dirname(path)
    return (
        f"seamless-run: warning: {path} is damaged (file is not a database); results are neither looked up"
        f" nor recorded there. The buffers are kept. To start a new database: mkdir {folder}/corrupt-db"
        f" && mv {path} {folder}/corrupt-db/\n"
    )


def test_a_database_that_is_not_one_raises_corrupt_database_error_naming_the_recovery(tmp_path):
    path = str(tmp_path / "seamless.db")
    garbage(path)
    with pytest.raises(CorruptDatabaseError, match="To start a new database: mkdir .*corrupt-db && mv "):
        ResultDB(path).get_transformation(TF)


def test_a_malformed_database_raises_corrupt_database_error(tmp_path):
    path = str(tmp_path / "seamless.db")
    db = ResultDB(path)
    for i in range(300):
        db.put_transformation(f"{i:064x}", RES)
    db.close()
    malformed(path)
    with pytest.raises(CorruptDatabaseError, match="malformed"):
        ResultDB(path).get_transformation(f"{299:064x}")


def test_seamless_run_warns_once_with_the_exact_command_and_still_computes():
    assert run("seamless-run", "echo hello").returncode == 0
    garbage(db_path())
    done = run("seamless-run", "echo hello")
    assert (done.returncode, done.stdout) == (0, "hello\n")
    assert done.stderr == the_warning(db_path())


def test_the_command_in_the_warning_recovers_and_the_buffers_serve_the_old_results():
    assert run("seamless-run", "echo hello").returncode == 0
    garbage(db_path())
    command = run("seamless-run", "echo hello").stderr.split("To start a new database: ")[1]
    subprocess.run(["bash", "-c", command], check=True)
    done = run("seamless-run", "echo hello")
    assert (done.returncode, done.stdout, done.stderr) == (0, "hello\n", "")
    assert sqlite3.connect(db_path()).execute("select count(*) from transformation").fetchone() == (1,)


def test_seamless_download_and_upload_work_with_a_damaged_database():
    with open("h.txt", "w") as f:
        f.write("hello\n")
    assert run("seamless-upload", "h.txt").returncode == 0
    garbage(db_path())
    with open("g.txt", "w") as f:
        f.write("other\n")
    assert run("seamless-upload", "g.txt").returncode == 0
    os.unlink("g.txt")
    done = run("seamless-download", "g.txt")
    assert done.returncode == 0, done.stderr
    with open("g.txt") as f:
        assert f.read() == "other\n"
    done = run("seamless-download", "--stdout", open("h.txt.CHECKSUM").read().strip())
    assert (done.returncode, done.stdout) == (0, "hello\n")
