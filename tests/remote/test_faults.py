"""Servers that are down, die mid-transfer, answer garbage or refuse writes: one clear line, exit 3,
nothing cached wrongly, and never a hang."""

import hashlib
import json
import os
import sqlite3

import pytest
from garbage_server import GarbageServer
from machines import HELLO_CS, Machine, clients, servers_pair
from upstream_http import http
from upstream_servers import _free_port

from seamless_transformer.errors import RemoteError
from seamless_transformer.store import remote

WRONG_LINE = "seamless-download: error: checksum mismatch from {url}/{cs}\n"


def _tf_rows(machine) -> list:
    path = machine.root / "cache" / "__TOPLEVEL__" / "seamless.db"
    if not path.exists():
        return []
    con = sqlite3.connect(path)
    try:
        return con.execute('SELECT * FROM "transformation"').fetchall()
    finally:
        con.close()


def _local_buffers(machine) -> list:
    top = machine.root / "cache" / "__TOPLEVEL__"
    return sorted(p.name for p in top.rglob("*") if p.is_file() and p.name not in (".HASHSERVER_PREFIX",)
                  and not p.name.startswith("seamless.db"))


# ---------------------------------------------------------------- garbage answers


def test_wrong_bytes_from_a_hashserver_exit_3_naming_the_url(tmp_path):
    with GarbageServer("wrong-bytes") as bad:
        a = Machine(tmp_path, "a", json.dumps({"buffer": [{"url": bad.url}]}))
        result = a.run("seamless-download", "--stdout", HELLO_CS)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == WRONG_LINE.format(url=bad.url, cs=HELLO_CS)
    assert _local_buffers(a) == []


def test_wrong_bytes_from_one_hashserver_are_discarded_and_the_next_one_serves(tmp_path, start_hashserver):
    good_dir = tmp_path / "hs"
    good_dir.mkdir()
    good = start_hashserver(good_dir)
    assert http("PUT", f"{good}/{HELLO_CS}", data=b"hello\n")[0] in (200, 201)
    with GarbageServer("wrong-bytes") as bad:
        a = Machine(tmp_path, "a", json.dumps({"buffer": [{"url": bad.url}, {"url": good}]}))
        result = a.run("seamless-download", "--stdout", HELLO_CS)
    assert (result.returncode, result.stdout) == (0, "hello\n")
    assert f"checksum mismatch from {bad.url}/{HELLO_CS}" in result.stderr


def test_a_hashserver_answering_500_is_retried_3_times_then_exit_3(tmp_path):
    with GarbageServer("500") as bad:
        a = Machine(tmp_path, "a", json.dumps({"buffer": [{"url": bad.url}]}))
        result = a.run("seamless-download", "--stdout", HELLO_CS)
        requests = bad.requests
    assert result.returncode == 3
    assert result.stderr == f"seamless-download: error: {bad.url}: server error 500 (Internal Server Error)\n"
    assert requests == 4


def test_a_download_cut_short_exits_3_and_leaves_nothing_in_the_local_cache(tmp_path):
    with GarbageServer("truncated") as bad:
        a = Machine(tmp_path, "a", json.dumps({"buffer": [{"url": bad.url}]}))
        result = a.run("seamless-download", "--stdout", HELLO_CS)
    assert result.returncode == 3
    assert result.stderr.startswith(f"seamless-download: error: {bad.url}/{HELLO_CS}: download interrupted")
    assert result.stderr.count("\n") == 1
    assert _local_buffers(a) == []


# ---------------------------------------------------------------- servers down


def test_a_hashserver_that_is_down_gives_one_line_naming_it_and_exit_3(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}"
    a = Machine(tmp_path, "a", json.dumps({"buffer": [{"url": url}]}))
    result = a.run("seamless-download", "--stdout", HELLO_CS)
    assert result.returncode == 3
    assert result.stderr == f"seamless-download: error: {url}: unreachable (connection refused)\n"


def test_a_database_that_is_down_stops_the_run_before_executing_and_caches_nothing(tmp_path, start_hashserver):
    hs_dir = tmp_path / "hs"
    hs_dir.mkdir()
    hs = start_hashserver(hs_dir)
    db = f"http://127.0.0.1:{_free_port()}"
    log = tmp_path / "side-effects.log"
    a = Machine(tmp_path, "a", clients(hs, db))
    result = a.run("seamless-run", 'echo x >> "$LOG"; echo hello', env={"LOG": str(log)})
    assert result.returncode == 3
    assert result.stderr == f"seamless-run: error: {db}: unreachable (connection refused)\n"
    assert not log.exists()
    assert _tf_rows(a) == []


# ---------------------------------------------------------------- read-only servers


def test_a_read_only_database_server_gives_one_warning_and_the_run_succeeds(tmp_path, start_hashserver):
    hs_dir = tmp_path / "hs"
    hs_dir.mkdir()
    hs = start_hashserver(hs_dir)
    with GarbageServer("read-only-db") as ro:
        a = Machine(tmp_path, "a", clients(hs, ro.url))
        result = a.run("seamless-run", "echo hello")
    assert (result.returncode, result.stdout) == (0, "hello\n")
    assert result.stderr == (f"seamless-run: warning: {ro.url}: database server is read-only; "
                             "results are not written there\n")
    assert len(_tf_rows(a)) == 1


def test_readonly_clients_read_from_the_servers_but_never_write(tmp_path, start_hashserver, start_database):
    hs, db, hs_dir = servers_pair(tmp_path, start_hashserver, start_database)
    writer = Machine(tmp_path, "writer", clients(hs, db))
    reader = Machine(tmp_path, "reader", clients(hs, db, readonly=True))
    assert writer.run("seamless-run", "echo hello").stdout == "hello\n"
    assert reader.run("seamless-run", "-v", "echo hello").stderr.count("cache hit") == 1
    assert reader.run("seamless-run", "echo bye").stdout == "bye\n"
    bye = hashlib.sha256(b"bye\n").hexdigest()
    assert json.loads(http("GET", f"{hs}/has", json_body=[bye])[1]) == [False]


# ---------------------------------------------------------------- a real hashserver killed mid-transfer


class _KillingFile:
    """A file whose first read kills the server: the upload dies after its first chunk."""

    def __init__(self, path, kill):
        self._file, self._kill = open(path, "rb"), kill

    def read(self, size=-1):
        data = self._file.read(size)
        if self._kill is not None:
            self._kill()
            self._kill = None
        return data

    def close(self):
        self._file.close()


@pytest.fixture
def big_buffer(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(1 << 20) * 32)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_hashserver_killed_mid_upload_leaves_no_partial_buffer_and_a_restart_accepts_it(
        tmp_path, servers, start_hashserver, big_buffer):
    path, cs = big_buffer
    hs_dir = tmp_path / "hs"
    hs_dir.mkdir()
    url = start_hashserver(hs_dir)
    server = remote.BufferServer(url)
    kills = [lambda: servers.kill(url)]
    with pytest.raises(RemoteError, match=f"^{url}: unreachable"):
        server.put(cs, lambda: _KillingFile(path, kills.pop() if kills else None))
    assert not (hs_dir / cs[:2] / cs).exists()
    start_hashserver(hs_dir, port=int(url.rsplit(":", 1)[1]))
    assert server.has([cs]) == [False]
    server.put_file(cs, path)
    assert server.has([cs]) == [True]


def test_a_hashserver_killed_mid_download_raises_and_a_restart_serves_it(tmp_path, servers, start_hashserver,
                                                                         big_buffer):
    path, cs = big_buffer
    hs_dir = tmp_path / "hs"
    hs_dir.mkdir()
    url = start_hashserver(hs_dir)
    server = remote.BufferServer(url)
    server.put_file(cs, path)
    received = []

    def write(chunk):
        if not received:
            servers.kill(url)
        received.append(len(chunk))

    with pytest.raises(RemoteError, match=f"^{url}/{cs}: download interrupted"):
        server.download(cs, write)
    assert sum(received) < path.stat().st_size
    start_hashserver(hs_dir, port=int(url.rsplit(":", 1)[1]))
    assert hashlib.sha256(server.get(cs)).hexdigest() == cs
