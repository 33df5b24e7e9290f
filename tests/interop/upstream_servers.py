"""Real upstream servers (hashserver 1.1.0, seamless-database 2.1.0) as subprocesses on 127.0.0.1.

`start_hashserver(directory)` and `start_database(db_file)` start a server on a free port, wait
(bounded) until its /healthcheck answers, and return its base URL. Every server started by a
test is terminated when the test ends, whatever happens; `servers.kill(url)` kills one sooner,
and passing its port back to start_… restarts it at the same URL. `seamless_run(*args)` runs our CLI as a subprocess.
"""

import os
import shutil
import socket
import subprocess
import sysconfig
import time

import pytest
from upstream_http import http

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
START_ATTEMPTS = 3


def executable(name: str) -> str:
    """The console script installed next to this interpreter (falls back to PATH)."""
    candidate = os.path.join(sysconfig.get_path("scripts"), name)
    if os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        status, body = http("GET", url + "/healthcheck", timeout=2.0)
    except OSError:
        return False
    return status == 200 and body.strip() == b"OK"


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)


class _Servers:
    def __init__(self, logdir):
        self.logdir = logdir
        self.procs = []
        self.by_url = {}

    def start(self, argv: list, port=None, env=None) -> str:
        """Start argv + host/port (a free one unless given), in `env` (default: ours); retry on
        another port if the process dies before it is healthy."""
        for attempt in range(START_ATTEMPTS):
            port = port or _free_port()
            log_path = self.logdir / f"{os.path.basename(argv[0])}-{port}.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    argv + ["--host", "127.0.0.1", "--port", str(port)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                )
            self.procs.append(proc)
            url = f"http://127.0.0.1:{port}"
            if self._wait_healthy(proc, url):
                self.by_url[url] = proc
                return url
            _stop(proc)
            port = None
        tail = log_path.read_text(errors="replace")[-2000:]
        pytest.fail(f"{argv[0]} did not become healthy; last log:\n{tail}")

    @staticmethod
    def _wait_healthy(proc, url) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if _healthy(url):
                return True
            time.sleep(0.05)
        return False

    def kill(self, url: str) -> None:
        """SIGKILL the server at url and wait for it to be gone."""
        proc = self.by_url.pop(url)
        proc.kill()
        proc.wait(STOP_TIMEOUT)

    def stop_all(self) -> None:
        for proc in self.procs:
            _stop(proc)


@pytest.fixture
def servers(tmp_path):
    logdir = tmp_path / "server-logs"
    logdir.mkdir()
    running = _Servers(logdir)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def start_hashserver(servers):
    def start(directory, *, writable=True, port=None):
        argv = [executable("hashserver"), os.fspath(directory)]
        return servers.start(argv + (["--writable"] if writable else []), port)

    return start


@pytest.fixture
def start_database(servers):
    # Always --writable: seamless-database 2.1.0 crashes at startup in read-only mode
    # (it passes uri=True to peewee's Database.connect(), which takes no such argument).
    def start(db_file, port=None):
        return servers.start([executable("seamless-database"), os.fspath(db_file), "--writable"], port)

    return start


@pytest.fixture
def seamless_run():
    """Run our `seamless-run` CLI in the test's cwd and environment; returns the CompletedProcess."""
    def run(*args):
        return subprocess.run([executable("seamless-run"), *args], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=60)

    return run


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    """SEAMLESS_CACHE for this test; returns the project directory <root>/__TOPLEVEL__ (created)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("SEAMLESS_CACHE", str(root))
    toplevel = root / "__TOPLEVEL__"
    toplevel.mkdir(parents=True)
    return toplevel


UPSTREAM_VENV_ENV = "SEAMLESS_TEST_UPSTREAM_VENV"
UPSTREAM_VENV_DEFAULT = "/opt/seamless-upstream-venv"


def upstream_venv() -> str:
    """The venv holding upstream's seamless-transformer 0.6.1 and seamless-jobserver 0.3.0
    (they own the import name `seamless_transformer`, so never ours): scripts/test.sh makes it."""
    venv = os.environ.get(UPSTREAM_VENV_ENV) or UPSTREAM_VENV_DEFAULT
    for name in ("seamless-jobserver", "python"):
        if not os.access(os.path.join(venv, "bin", name), os.X_OK):
            pytest.fail(f"upstream Seamless venv missing at {venv} (no bin/{name}): create it with "
                        f"python3 -m venv {venv} && {venv}/bin/pip install seamless-jobserver==0.3.0 "
                        "seamless-transformer==0.6.1 seamless-core==0.1.4 seamless-remote==0.4.0 seamless-config==0.3.2 (bash scripts/test.sh does this)")
    return venv


def upstream_env(home, remote_clients: str | None = None) -> dict:
    """Our environment for an upstream process: no SEAMLESS_* variable (upstream's SEAMLESS_CACHE
    would turn its remote clients off), its own HOME, unbuffered output, and SEAMLESS_REMOTE_CLIENTS if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLESS_")}
    env["HOME"] = os.fspath(home)
    env["PYTHONUNBUFFERED"] = "1"  # its log lines reach the log file as they are printed
    if remote_clients is not None:
        env["SEAMLESS_REMOTE_CLIENTS"] = remote_clients
    return env
