"""Upstream Seamless 0.6.1 (its own venv) and we share one hashserver and seamless-database:
each gets cache hits on what the other computed, for a Python transformer and for seamless-run."""

import json
import os
import subprocess
import sys

import pytest
from upstream_servers import _Servers, executable, upstream_env, upstream_venv

# Run by both interpreters: `seamless` is upstream's package there, our compatible names here.
JOB = '''\
import sys
import seamless
try:  # upstream reads SEAMLESS_REMOTE_CLIENTS when told to
    from seamless_config.extern_clients import set_remote_clients_from_env
except ImportError:  # we read it by default
    pass
else:
    set_remote_clients_from_env(include_dask=False)
from seamless.transformer import delayed


@delayed
def logged_add(log, a, b):
    with open(log, "a") as f:
        f.write("ran\\n")
    return a + b


print(logged_add(sys.argv[1], int(sys.argv[2]), 23).run())
seamless.close()
'''


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """SEAMLESS_REMOTE_CLIENTS of a hashserver and a database server for the module."""
    upstream_venv()
    base = tmp_path_factory.mktemp("shared-servers")
    (base / "hs").mkdir()
    servers = _Servers(base)
    try:
        hs = servers.start([executable("hashserver"), str(base / "hs"), "--writable"])
        db = servers.start([executable("seamless-database"), str(base / "shared.db"), "--writable"])
        yield json.dumps({"buffer": [{"url": hs, "remote_url": hs, "readonly": False}],
                          "database": [{"url": db, "remote_url": db, "readonly": False}]})
    finally:
        servers.stop_all()


def _run(side, argv, cwd, clients, extra_env=None):
    """Run argv[0] of `side` ("ours" or "upstream") with HOME of its own and no local cache."""
    home = cwd / f"home-{side}"
    home.mkdir(exist_ok=True)
    env = {**upstream_env(home, clients), **(extra_env or {})}
    if side == "upstream":
        argv = [os.path.join(upstream_venv(), "bin", argv[0]), *argv[1:]]
    else:
        argv = [sys.executable if argv[0] == "python" else executable(argv[0]), *argv[1:]]
    result = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _python_twice(first, second, work, clients, a):
    (work / "job.py").write_text(JOB)
    log = work / "executions.log"
    outputs = [_run(side, ["python", "job.py", str(log), str(a)], work, clients) for side in (first, second)]
    return outputs, log.read_text()


def test_upstream_gets_a_hit_on_our_python_result(shared, isolated_env):
    outputs, log = _python_twice("ours", "upstream", isolated_env, shared, a=100)
    assert (outputs, log) == (["123\n", "123\n"], "ran\n")


def test_we_get_a_hit_on_the_python_result_of_upstream(shared, isolated_env):
    outputs, log = _python_twice("upstream", "ours", isolated_env, shared, a=200)
    assert (outputs, log) == (["223\n", "223\n"], "ran\n")


def _seamless_run_twice(first, second, work, clients, tag):
    (work / "fruit.txt").write_text("pear\napple\n")
    log = work / "executions.log"
    command = f'sort fruit.txt; echo x >> "$LOG"; echo {tag}'
    outputs = [_run(side, ["seamless-run", command], work, clients, {"LOG": str(log)}) for side in (first, second)]
    return outputs, log.read_text()


def test_upstream_seamless_run_gets_a_hit_on_our_seamless_run(shared, isolated_env):
    outputs, log = _seamless_run_twice("ours", "upstream", isolated_env, shared, "ours-first")
    assert (outputs, log) == (["apple\npear\nours-first\n"] * 2, "x\n")


def test_our_seamless_run_gets_a_hit_on_upstream_seamless_run(shared, isolated_env):
    outputs, log = _seamless_run_twice("upstream", "ours", isolated_env, shared, "upstream-first")
    assert (outputs, log) == (["apple\npear\nupstream-first\n"] * 2, "x\n")
