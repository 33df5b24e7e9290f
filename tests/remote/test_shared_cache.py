"""SEAMLESS_REMOTE_CLIENTS and clusters point at a real hashserver and seamless-database (SPEC §9.3):
what one machine computes or uploads, another machine that shares only the servers gets."""

import json
import os
import subprocess

from upstream_http import http
from upstream_servers import executable

HELLO_CS = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
ECHO_HELLO_TF = "706b247d6ea7a8bc93e3e7ea9fe1cb3a3a2b9b8e5fb0d2b0e7e5e1ad1d6b3f52"


def clients(hs_url, db_url, *, readonly=False) -> str:
    return json.dumps({"buffer": [{"url": hs_url, "readonly": readonly}],
                       "database": [{"url": db_url, "readonly": readonly}]})


class Machine:
    """A HOME, a local cache and a working directory of its own; the servers are shared."""

    def __init__(self, base, name, remote_clients):
        self.root = base / name
        self.work = self.root / "work"
        self.work.mkdir(parents=True)
        (self.root / "home").mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLESS_")}
        self.env.update(HOME=str(self.root / "home"), SEAMLESS_CACHE=str(self.root / "cache"))
        if remote_clients:
            self.env["SEAMLESS_REMOTE_CLIENTS"] = remote_clients

    def run(self, prog, *args, env=None):
        return subprocess.run([executable(prog), *args], cwd=self.work, env={**self.env, **(env or {})},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def servers_pair(tmp_path, start_hashserver, start_database):
    hs_dir = tmp_path / "hs"
    hs_dir.mkdir()
    return start_hashserver(hs_dir), start_database(tmp_path / "shared.db"), hs_dir


def test_seamless_run_puts_the_result_buffer_on_the_hashserver(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a = Machine(tmp_path, "a", clients(hs, db))
    assert a.run("seamless-run", "echo hello").stdout == "hello\n"
    status, body = http("GET", f"{hs}/has", json_body=[HELLO_CS])
    assert (status, json.loads(body)) == (200, [True])


def test_seamless_run_puts_the_result_in_the_database_server(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    a = Machine(tmp_path, "a", clients(hs, db))
    tf = a.run("seamless-run", "--dry", "echo hello").stdout.strip()
    a.run("seamless-run", "echo hello")
    status, body = http("GET", db, json_body={"type": "transformation", "checksum": tf})
    assert tf.startswith("706b247d")
    assert (status, body.decode().strip().strip('"')) == (200, HELLO_CS)


def test_a_second_machine_with_a_fresh_cache_gets_a_hit_without_executing(tmp_path, start_hashserver, start_database):
    hs, db, _ = servers_pair(tmp_path, start_hashserver, start_database)
    log = tmp_path / "side-effects.log"
    command = 'echo x >> "$LOG"; echo hello'
    a = Machine(tmp_path, "a", clients(hs, db))
    b = Machine(tmp_path, "b", clients(hs, db))
    assert a.run("seamless-run", command, env={"LOG": str(log)}).stdout == "hello\n"
    second = b.run("seamless-run", "-v", command, env={"LOG": str(log)})
    assert second.stdout == "hello\n"
    assert "cache hit" in second.stderr
    assert log.read_text() == "x\n"


def test_a_tampered_buffer_on_the_hashserver_exits_3_naming_the_url(tmp_path, start_hashserver, start_database):
    hs, db, hs_dir = servers_pair(tmp_path, start_hashserver, start_database)
    a = Machine(tmp_path, "a", clients(hs, db))
    a.run("seamless-run", "echo hello")
    stored = hs_dir / HELLO_CS[:2] / HELLO_CS
    os.chmod(stored, 0o644)
    stored.write_bytes(b"tampered\n")
    b = Machine(tmp_path, "b", clients(hs, db))
    result = b.run("seamless-run", "echo hello")
    assert result.returncode == 3
    assert result.stderr == f"seamless-run: error: checksum mismatch from {hs}/{HELLO_CS}\n"
    assert result.stdout == ""
