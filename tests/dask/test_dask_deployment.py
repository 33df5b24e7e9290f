"""The deployment shape: `dask scheduler` and two `dask worker` processes started from the command
line on 127.0.0.1, each worker with a HOME and a local cache of its own, sharing nothing with the
clients but a hashserver and a seamless-database (real servers, tests/interop)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "interop"))

from upstream_servers import _Servers, executable  # noqa: E402

STARTUP_SECONDS = 60


class Deployment:
    def __init__(self, base: pathlib.Path):
        self.base = base
        self.procs = []
        self.servers = _Servers(base)
        self.hs_dir = base / "hs"
        self.hs_dir.mkdir()

    def start(self):
        scheduler_file = self.base / "scheduler.json"  # the scheduler starts while the servers do
        self._spawn("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)], self.machine_env("scheduler"))
        hs = self.servers.start([executable("hashserver"), str(self.hs_dir), "--writable"])
        db = self.servers.start([executable("seamless-database"), str(self.base / "shared.db"), "--writable"])
        self.clients = json.dumps({"buffer": [{"url": hs, "readonly": False}],
                                   "database": [{"url": db, "readonly": False}]})
        self.address = _wait_for_address(scheduler_file)
        for name in ("w1", "w2"):
            env = self.machine_env(name, local_cache=True)
            self._spawn(name, ["worker", self.address, "--name", name, "--host", "127.0.0.1",
                               "--nthreads", "2", "--no-dashboard"], env)
        self.wait_for_workers(2)

    def machine_env(self, name, *, local_cache=False, dask=False) -> dict:
        """The environment of one machine: its own HOME (and local cache), the shared servers."""
        home = self.base / name / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLESS_")}
        env["HOME"] = str(home)
        env["SEAMLESS_REMOTE_CLIENTS"] = getattr(self, "clients", "")
        if local_cache:
            env["SEAMLESS_CACHE"] = str(self.base / name / "cache")
        if dask:
            env["SEAMLESS_DASK_SCHEDULER"] = self.address
        return env

    def _spawn(self, name, args, env):
        log = open(self.base / f"{name}.log", "wb")
        proc = subprocess.Popen([executable("dask"), *args], env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)

    def wait_for_workers(self, n):
        from distributed import Client

        with Client(self.address, set_as_default=False, timeout=STARTUP_SECONDS) as client:
            client.wait_for_workers(n, timeout=STARTUP_SECONDS)

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.servers.stop_all()


def _wait_for_address(scheduler_file) -> str:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    pytest.fail("dask scheduler did not write its scheduler file")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    running = Deployment(tmp_path_factory.mktemp("dask-deployment"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


def _run(deployment, name, argv, *, dask=True, cwd=None):
    env = deployment.machine_env(name, dask=dask)
    cwd = cwd or deployment.base / name
    return subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=180)


def test_seamless_run_runs_on_a_dask_worker_and_is_a_hit_for_a_third_process(deployment):
    ran = _run(deployment, "client", [executable("seamless-run"), 'echo "$HOME"'])
    assert ran.returncode == 0, ran.stderr
    worker_homes = {str(deployment.base / w / "home") for w in ("w1", "w2")}
    assert ran.stdout.strip() in worker_homes  # the job ran in a worker's environment
    third = _run(deployment, "third", [executable("seamless-run"), "-v", 'echo "$HOME"'], dask=False)
    assert third.returncode == 0, third.stderr
    assert third.stdout == ran.stdout and "cache hit" in third.stderr


BATCH = """
import sys
from seamless_transformer import delayed, parallel

@delayed
def square_plus(x, offset):
    return x * x + offset

tfs = [square_plus(i, %(offset)d) for i in range(200)]
if sys.argv[1] == "check":
    cached = [tf.is_cached() for tf in tfs]
    print(sum(cached))
values = [tf.result for tf in parallel(tfs, nparallel=64)]
assert values == [i * i + %(offset)d for i in range(200)], values
if sys.argv[1] == "check":
    print(sum(tf.logs is None for tf in tfs))
print("ok")
"""


def test_a_parallel_batch_of_200_completes_on_dask_and_is_all_hits_for_a_third_process(deployment):
    script = deployment.base / "batch.py"
    script.write_text(BATCH % {"offset": 7})
    ran = _run(deployment, "client", [sys.executable, str(script), "run"])
    assert ran.returncode == 0 and ran.stdout == "ok\n", ran.stderr[-3000:]
    third = _run(deployment, "third", [sys.executable, str(script), "check"], dask=False)
    assert third.returncode == 0, third.stderr[-3000:]
    assert third.stdout == "200\n200\nok\n"  # all cached, none executed


KILLED = """
import sys
from seamless_transformer import delayed, parallel

@delayed
def slow(i, pids):
    import os, time
    with open(os.path.join(pids, str(os.getpid())), "w"):
        pass
    time.sleep(2)
    return i * 10

tfs = [slow(i, sys.argv[1]) for i in range(4)]
print([tf.result for tf in parallel(tfs, nparallel=4)])
"""


def test_a_worker_killed_during_a_task_leaves_the_batch_complete_and_correct(deployment):
    pids = deployment.base / "pids"
    pids.mkdir()
    script = deployment.base / "killed.py"
    script.write_text(KILLED)
    env = deployment.machine_env("client", dask=True)
    client = subprocess.Popen([sys.executable, str(script), str(pids)], env=env, cwd=deployment.base / "client",
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(pids.iterdir()) and time.monotonic() < deadline and client.poll() is None:
        time.sleep(0.05)
    victim = int(next(pids.iterdir()).name)
    os.kill(victim, signal.SIGKILL)
    out, err = client.communicate(timeout=180)
    assert client.returncode == 0, err[-3000:]
    assert out == "[0, 10, 20, 30]\n"
    deployment.wait_for_workers(2)  # the nanny starts the killed worker again
