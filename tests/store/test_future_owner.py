"""A .FUTURE names the process that will remove it; when that process is gone, it is stale at once."""

import os
import socket
import subprocess
import sys

from seamless_transformer.bashrun.prepare import RunOptions, prepare
from seamless_transformer.store.outputs import Futures, _start_time, future_owner_dead


def test_a_future_names_its_owner_by_host_pid_and_start_time():
    prepared = prepare(["echo x > o.txt"], RunOptions())
    with Futures(prepared, os.getcwd()):
        owner = open("o.txt.FUTURE").read().splitlines()[1].split()
    assert owner[:4] == ["#", "owner", socket.gethostname(), str(os.getpid())]
    assert owner[4].isdigit()


def test_the_future_of_a_living_owner_is_not_stale():
    prepared = prepare(["echo x > o.txt"], RunOptions())
    with Futures(prepared, os.getcwd()):
        assert not future_owner_dead("o.txt.FUTURE")


def test_the_future_of_a_dead_owner_is_stale():
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with open("o.txt.FUTURE", "w") as f:
        f.write(f"tf.o.txt\n# owner {socket.gethostname()} {proc.stdout.strip()} 1\n")
    assert future_owner_dead("o.txt.FUTURE")


def test_a_future_without_an_owner_or_from_another_host_is_not_known_stale():
    with open("a.FUTURE", "w") as f:
        f.write("tf.a\n")
    with open("b.FUTURE", "w") as f:
        f.write("tf.b\n# owner elsewhere.example 1 1\n")
    assert not future_owner_dead("a.FUTURE")
    assert not future_owner_dead("b.FUTURE")


def test_a_future_that_cannot_be_read_is_not_known_stale():
    os.mkdir("d.FUTURE")
    assert not future_owner_dead("gone.FUTURE")
    assert not future_owner_dead("d.FUTURE")


def test_the_start_time_of_a_process_that_is_gone_is_unknown():
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert _start_time(int(proc.stdout)) is None


def test_the_futures_of_a_queued_job_stay_valid_after_the_submitting_command_exits(tmp_path):
    env = {**os.environ, "SEAMLESS_QUEUE_FILE": str(tmp_path / "queue"), "SEAMLESS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(["seamless-run", "--qsubmit", "echo x > o.txt"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert os.path.exists("o.txt.FUTURE")
    assert not future_owner_dead("o.txt.FUTURE")  # the queue server will write o.txt, not the submitter
