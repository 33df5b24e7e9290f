"""The cancel registry of running transformations (SPEC 6.5)."""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from seamless_transformer.checksum import Checksum
from seamless_transformer.errors import CanceledError
from seamless_transformer.engine import running

TF = Checksum("5" * 64)


@pytest.fixture(autouse=True)
def private_runtime_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    running._reset()
    yield
    running._reset()


def entry_path(tf=TF, pid=None):
    return os.path.join(running.registry_root(), tf.hex(), running.entry_name(pid))


def wait_for_entry(tf=TF):
    """The entry is written once the transformation has run for DEFER_SECONDS."""
    deadline = time.monotonic() + 30
    while not os.path.exists(entry_path(tf)):
        assert time.monotonic() < deadline, "no registry entry after 30 s"
        time.sleep(0.02)


def test_registry_root_prefers_xdg_runtime_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    assert running.registry_root() == str(tmp_path / "xdg" / f"seamless-{os.getuid()}" / "running")


def test_registry_root_falls_back_to_the_cache_dir_never_the_shared_tmpdir(tmp_path):
    home = os.path.expanduser("~")
    assert running.registry_root() == os.path.join(home, ".cache", "seamless", f"seamless-{os.getuid()}", "running")


def test_the_registry_directories_are_created_private(tmp_path):
    root = running.checked_root(create=True)
    for path in (root, os.path.dirname(root)):
        assert os.stat(path).st_mode & 0o777 == 0o700


def test_a_registry_dir_that_is_a_symlink_is_refused_and_nothing_is_written_through_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    os.symlink(tmp_path / "elsewhere", tmp_path / "run" / f"seamless-{os.getuid()}")
    with pytest.raises(PermissionError, match="not a private directory of this user"):
        running.checked_root(create=True)
    assert os.listdir(tmp_path / "elsewhere") == []


def test_a_registry_dir_open_to_others_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    os.makedirs(tmp_path / "run" / f"seamless-{os.getuid()}")
    os.chmod(tmp_path / "run" / f"seamless-{os.getuid()}", 0o777)
    with pytest.raises(PermissionError, match="not a private directory of this user"):
        running.checked_root(create=True)


def test_registered_writes_a_host_pid_entry_and_removes_it_on_exit():
    with running.registered(TF, lambda: None):
        wait_for_entry()
        assert os.path.basename(entry_path()) == f"{socket.gethostname()}-{os.getpid()}"
        with open(entry_path()) as f:
            assert f.read().split()[0] == str(os.getpid())
    assert not os.path.exists(os.path.dirname(entry_path()))


def test_a_cancel_file_naming_this_process_calls_the_callback():
    called = threading.Event()
    with running.registered(TF, called.set):
        wait_for_entry()
        with open(os.path.join(os.path.dirname(entry_path()), running.CANCEL_FILE), "w") as f:
            f.write(running.entry_name() + "\n")
        assert called.wait(5)
        assert not os.path.exists(entry_path())


def test_a_cancel_file_naming_another_process_is_ignored():
    called = threading.Event()
    with running.registered(TF, called.set):
        wait_for_entry()
        with open(os.path.join(os.path.dirname(entry_path()), running.CANCEL_FILE), "w") as f:
            f.write("otherhost-1\n")
        assert not called.wait(3 * running.POLL_SECONDS)
        assert os.path.exists(entry_path())


def test_cancel_running_reports_the_process_that_stopped():
    called = threading.Event()
    with running.registered(TF, called.set):
        wait_for_entry()
        outcomes = running.cancel_running(TF)
    assert outcomes == [(os.getpid(), True)]
    assert called.is_set()
    assert not os.path.exists(os.path.dirname(entry_path()))


def test_cancel_running_reports_a_stop_only_after_the_cancel_callback_has_run():
    finished = threading.Event()

    def slow_callback():
        time.sleep(0.5)  # a callback that takes a while to stop its job
        finished.set()

    with running.registered(TF, slow_callback):
        wait_for_entry()
        outcomes = running.cancel_running(TF)
        assert finished.is_set(), "seamless-cancel returned before the job was stopped"
    assert outcomes == [(os.getpid(), True)]


def test_a_transformation_that_ends_quickly_never_writes_an_entry():
    with running.registered(TF, lambda: None):
        pass
    time.sleep(running.DEFER_SECONDS + 2 * running.POLL_SECONDS)
    assert not os.path.exists(os.path.dirname(entry_path()))


def test_cancel_running_with_nothing_registered_is_empty():
    assert running.cancel_running(TF) == []


def test_the_entry_of_a_dead_process_is_removed():
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(proc.stdout)
    path = entry_path(pid=dead)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(f"{dead} 0\n")
    assert running.live_entries(TF) == []
    assert not os.path.exists(os.path.dirname(path))


def test_an_exiting_process_removes_its_entries():
    code = (
        "from seamless_transformer.engine import running\n"
        "ctx = running.registered('" + TF.hex() + "', lambda: None)\n"
        "ctx.__enter__()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())
    assert not os.path.exists(os.path.join(running.registry_root(), TF.hex()))


def test_an_engine_job_canceled_through_the_registry_raises_canceled_error_with_its_tf():
    from seamless_transformer.api.transformer import delayed
    from seamless_transformer.store.storage import get_storage
    from seamless_transformer import engine

    transformation = delayed("sleep 60; echo x > RESULT", "bash")(a=2)
    tf = transformation.construct()
    job = engine.submit(transformation._tf_dict, tf)
    for _ in range(100):
        if running.live_entries(tf):
            break
        threading.Event().wait(0.05)
    assert running.cancel_running(tf) == [(os.getpid(), True)]
    with pytest.raises(CanceledError) as info:
        job.result(timeout=60)
    assert str(info.value) == "Transformation was canceled"
    assert info.value.tf == tf.hex()
    assert get_storage().get_result(tf) is None


def test_an_entry_whose_pid_was_reused_by_another_process_is_removed():
    path = entry_path()
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(f"{os.getpid()} 12345.0\n")  # this pid, but a start time long ago
    assert running.live_entries(TF) == []
    assert not os.path.exists(path)


def test_cancel_running_sees_a_job_that_started_just_before():
    called = threading.Event()
    with running.registered(TF, called.set):
        outcomes = running.cancel_running(TF)  # no entry yet: it is written after DEFER_SECONDS
    assert outcomes == [(os.getpid(), True)]
    assert called.is_set()


def test_a_registration_younger_than_the_deferral_gets_no_entry(monkeypatch):
    monkeypatch.setattr(running, "DEFER_SECONDS", 3600.0)
    with running.registered(TF, lambda: None):
        running._write_due_entries()
        assert not os.path.exists(entry_path())


def test_the_start_time_of_a_process_that_is_gone_is_unknown():
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert running._start_time(int(proc.stdout)) == "?"


def test_two_processes_registering_one_transformation_over_and_over_never_fail():
    # each removes the transformation's directory when its own entry goes; that can fall
    # between the other's mkdir and its write
    loop = ("import sys\nfrom seamless_transformer.engine import running\n"
            "for _ in range(400):\n    running._write_entry(sys.argv[1])\n    running._remove_entry(sys.argv[1])\n")
    procs = [subprocess.Popen([sys.executable, "-c", loop, TF.hex()], stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err


HOLDER = """\
import os, sys, threading, time
from seamless_transformer.engine import running

def hold():
    with running.registered(sys.argv[1], lambda: None):
        threading.Event().wait()

threading.Thread(target=hold, daemon=True).start()
path = os.path.join(running.registry_root(), sys.argv[1], running.entry_name())
deadline = time.monotonic() + 30
while not os.path.exists(path) and time.monotonic() < deadline:
    time.sleep(0.02)
print(path, os.path.exists(path), flush=True)
"""


def test_a_process_that_exits_while_registered_removes_its_entry():
    child = subprocess.run([sys.executable, "-c", HOLDER, TF.hex()], capture_output=True, text=True, timeout=60)
    path, written = child.stdout.split()
    assert written == "True"  # the entry was there while the registration held
    assert not os.path.exists(path)
