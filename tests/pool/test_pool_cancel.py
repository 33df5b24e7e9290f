"""Cancel terminates the worker running the transformation and respawns it (SPEC §8.2, §8.5)."""

import os
import time

import psutil

from seamless_transformer import delayed
from seamless_transformer.pool import get_pool


@delayed
def pid_then_sleep(t):
    import os
    import time

    time.sleep(t)
    return os.getpid()


def wait_until_dispatched():
    deadline = time.monotonic() + 30
    while not any(w.tasks for w in get_pool().workers):
        assert time.monotonic() < deadline, "the transformation never reached a worker"
        time.sleep(0.02)


@delayed
def pid(i):
    import os

    return os.getpid()


def test_cancel_kills_the_worker_and_a_new_one_serves(workers):
    workers(1)
    first = pid(1).run()
    tf = pid_then_sleep(30).start()
    wait_until_dispatched()
    assert tf.cancel() is True
    assert tf.status == "canceled" and tf.exception == "Transformation was canceled"
    deadline = time.monotonic() + 60
    while psutil.pid_exists(first) and psutil.Process(first).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second = pid(2).run()
    assert second != first and second != os.getpid()


def test_cancel_kills_the_bash_command_of_the_worker(workers, tmp_path):
    workers(1)
    marker = f"sleep 4{os.getpid() % 1000}.5"
    tf = delayed(f"{marker}; echo done > RESULT", "bash")(x=1).start()
    deadline = time.monotonic() + 60
    while not any(marker in " ".join(p.cmdline()) for p in psutil.process_iter(["cmdline"])
                  if p.info["cmdline"] and "sleep" in p.info["cmdline"][0]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    tf.cancel()
    deadline = time.monotonic() + 60
    while any(p.info["cmdline"] and " ".join(p.info["cmdline"]) == marker
              for p in psutil.process_iter(["cmdline"])):
        assert time.monotonic() < deadline, "the bash command survived the cancel"
        time.sleep(0.1)


def test_seamless_cancel_reaches_a_transformation_running_in_a_worker(workers):
    from seamless_transformer.engine.running import cancel_running

    workers(1)
    first = pid(3).run()
    tf = pid_then_sleep(31).start()
    deadline = time.monotonic() + 30
    while not (outcomes := cancel_running(tf.transformation_checksum)):  # registered after a moment
        assert time.monotonic() < deadline, "the transformation was never registered"
        time.sleep(0.02)
    assert outcomes == [(os.getpid(), True)]
    while tf.exception is None:  # the registry entry goes just before the cancel callback runs
        assert time.monotonic() < deadline, "the cancel never reached the transformation"
        time.sleep(0.02)
    assert tf.exception == "Transformation was canceled"
    assert pid(4).run() not in (first, os.getpid())
