"""A real seamless-queue process with jobs running: one lifeline serves all its jobs, and when the
server is killed with SIGKILL every process of every job dies and every workspace goes."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from seamless_transformer.cli.run import body as seamless_run

DEADLINE = 20.0


def _poll(condition, what: str):
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _running(marker: str) -> list:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["cmdline"] and " ".join(proc.info["cmdline"]) == marker and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@pytest.fixture
def server(tmp_path, monkeypatch, capsys):
    """Two jobs (`sleep A | sleep B; echo x > oN.txt`) running under `seamless-queue --workers 2`;
    yields (server Popen, [markers], temp dir of the workspaces)."""
    monkeypatch.setenv("SEAMLESS_QUEUE_FILE", str(tmp_path / "queue"))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    tag = f"{os.getpid() % 1000}{time.monotonic_ns() % 1000}"
    markers = [f"sleep 8{job}{half}{tag}" for job in (1, 2) for half in (1, 2)]
    for job in (1, 2):
        assert seamless_run(["--qsubmit", f"{markers[2 * job - 2]} | {markers[2 * job - 1]}; echo x > o{job}.txt"]) == 0
    capsys.readouterr()
    proc = subprocess.Popen([sys.executable, "-m", "seamless_transformer.cli.queue", "-q", "--workers", "2"],
                            stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _poll(lambda: all(_running(marker) for marker in markers), "the jobs never started")
        yield proc, markers, tmpdir
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for marker in markers:
            for leftover in _running(marker):
                leftover.kill()


def test_a_queue_server_runs_one_lifeline_for_all_its_jobs(server):
    proc, markers, _tmpdir = server
    job_shells = {p.parent().pid for marker in markers for p in _running(marker)}
    helpers = [child for child in psutil.Process(proc.pid).children() if child.pid not in job_shells]
    assert len(job_shells) == 2
    assert [" ".join(helper.cmdline()[-1:]) for helper in helpers] == ["seamless-lifeline"]


def test_sigkill_of_the_queue_server_kills_every_process_of_every_job(server):
    proc, markers, _tmpdir = server
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _poll(lambda: not any(_running(marker) for marker in markers), "a process of a job survived the server")


def test_sigkill_of_the_queue_server_removes_every_workspace(server):
    proc, _markers, tmpdir = server
    assert len([n for n in os.listdir(tmpdir) if n.startswith("seamless-bash-")]) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _poll(lambda: not any(n.startswith("seamless-bash-") for n in os.listdir(tmpdir)), "a workspace was left")
