"""When the process that owns a bash job dies, the job's whole process group dies too and its
workspace goes: kill -9 of the owner, and SIGINT to a program whose worker runs the job."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

DEADLINE = 15.0


def _processes(marker: str) -> list:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["cmdline"] and " ".join(proc.info["cmdline"]) == marker and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def _poll(condition, what: str):
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def owner(tmp_path):
    """Start `python -c CODE` with its own temp dir; yield a function that does it."""
    started = []
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()

    def start(code: str):
        env = {**os.environ, "TMPDIR": str(tmpdir), "SEAMLESS_CACHE": str(tmp_path / "cache")}
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL)
        started.append(proc)
        return proc

    start.tmpdir = tmpdir
    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _markers():
    tag = f"{os.getpid() % 1000}{time.monotonic_ns() % 1000}"
    return f"sleep 71{tag}", f"sleep 72{tag}"


def _job_code(first, second, spawn=False) -> str:
    prologue = "from seamless_transformer.pool import spawn\nspawn(1)\n" if spawn else ""
    return (
        "from seamless_transformer import delayed\n" + prologue
        + f"delayed('{first} | {second}; echo x > RESULT', 'bash')(x=1).run()\n"
    )


def test_sigkill_of_the_owner_kills_every_process_of_the_job(owner):
    first, second = _markers()
    proc = owner(_job_code(first, second))
    _poll(lambda: _processes(first) and _processes(second), "the job never started")
    proc.kill()
    _poll(lambda: not _processes(first) and not _processes(second), "a process of the job survived its owner")


def test_sigkill_of_the_owner_removes_the_workspace(owner):
    first, second = _markers()
    proc = owner(_job_code(first, second))
    _poll(lambda: _processes(second), "the job never started")
    assert any(name.startswith("seamless-bash-") for name in os.listdir(owner.tmpdir))
    proc.kill()
    _poll(lambda: not any(n.startswith("seamless-bash-") for n in os.listdir(owner.tmpdir)), "the workspace was left")


def test_sigint_to_a_program_whose_worker_runs_bash_leaves_no_process(owner):
    first, second = _markers()
    proc = owner(_job_code(first, second, spawn=True))
    _poll(lambda: _processes(first) and _processes(second), "the job never started")
    proc.send_signal(signal.SIGINT)
    _poll(lambda: not _processes(first) and not _processes(second), "a process of the job survived the interrupt")


def _registered_code(top: str) -> str:
    """A job's workspace registered with the lifeline, the job not started yet; then wait."""
    return (
        "import tempfile, time\n"
        f"tempfile.tempdir = {top!r}\n"
        "from seamless_transformer.execution.lifeline import new_workspace, start_watchdog\n"
        "workspace, _fd = new_workspace()\n"
        "start_watchdog(workspace)\n"
        "open(workspace + '/registered', 'w').close()\n"
        "time.sleep(60)\n"
    )


def _workspaces(top) -> list:
    return [name for name in os.listdir(top) if name.startswith("seamless-bash-")]


def test_a_workspace_registered_before_its_job_started_goes_with_its_owner(owner):
    proc = owner(_registered_code(str(owner.tmpdir)))
    _poll(lambda: any(os.path.exists(owner.tmpdir / n / "registered") for n in _workspaces(owner.tmpdir)), "no workspace")
    proc.kill()
    _poll(lambda: not _workspaces(owner.tmpdir), "the workspace was left")


def test_a_workspace_whose_path_has_a_space_a_backslash_and_a_newline_goes_with_its_owner(owner):
    top = owner.tmpdir / "a b\\c\nd"
    top.mkdir()
    proc = owner(_registered_code(str(top)))
    _poll(lambda: any(os.path.exists(top / n / "registered") for n in _workspaces(top)), "no workspace")
    proc.kill()
    _poll(lambda: not _workspaces(top), "the workspace was left")


def test_a_workspace_kept_on_request_survives_its_owners_death(owner):
    pidfile = owner.tmpdir / "lifeline.pid"
    code = _registered_code(str(owner.tmpdir)).replace("workspace, _fd", (
        "import os\nfrom seamless_transformer.execution import lifeline\n"
        "start_watchdog(new_workspace()[0]).disarm()\n"  # the lifeline runs already
        f"open({str(pidfile)!r}, 'w').write(str(lifeline._current.proc.pid))\n"
        "os.environ['SEAMLESS_KEEP_WORKSPACE'] = '1'\nworkspace, _fd"), 1)
    proc = owner(code)
    _poll(lambda: any(os.path.exists(owner.tmpdir / n / "registered") for n in _workspaces(owner.tmpdir)), "no workspace")
    lifeline = psutil.Process(int(pidfile.read_text()))
    proc.kill()
    _poll(lambda: not lifeline.is_running() or lifeline.status() == psutil.STATUS_ZOMBIE, "the lifeline did not end")
    assert any(os.path.exists(owner.tmpdir / n / "registered") for n in _workspaces(owner.tmpdir))


# ------------------------------------------------------------ stale workspaces


@pytest.fixture
def tmpdir_now(tmp_path, monkeypatch):
    import tempfile

    top = tmp_path / "tmp"
    top.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(top))
    return top


def _old_workspace(top, name="seamless-bash-old"):
    path = top / name
    path.mkdir()
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    return path


def _clean():
    import shutil

    from seamless_transformer.execution.lifeline import clean_stale_workspaces

    clean_stale_workspaces(shutil.rmtree)


def test_a_workspace_without_a_living_owner_is_removed(tmpdir_now):
    path = _old_workspace(tmpdir_now)
    _clean()
    assert not path.exists()


def test_the_workspace_of_a_running_job_is_kept(tmpdir_now):
    from seamless_transformer.execution.lifeline import new_workspace

    path, fd = new_workspace()
    try:
        os.utime(path, (time.time() - 3600, time.time() - 3600))
        _clean()
        assert os.path.isdir(path)
    finally:
        os.close(fd)


def test_a_workspace_kept_on_request_is_not_removed(tmpdir_now):
    from seamless_transformer.execution.lifeline import mark_kept

    path = _old_workspace(tmpdir_now)
    mark_kept(str(path))
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    _clean()
    assert path.exists()
