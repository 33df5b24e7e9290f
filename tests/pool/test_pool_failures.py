"""The failure matrix (DESIGN §6): each failure gives its exact error and the pool serves on."""

import os
import time

import pytest

from seamless_transformer import TransformationError, delayed


@delayed
def pid(i):
    import os

    return os.getpid()


@delayed
def fail(how, i):
    import os
    import signal
    import sys
    import time

    if how == "raise":
        raise ValueError("boom")
    if how == "exit":
        sys.exit(3)
    if how == "segfault":
        import ctypes

        ctypes.string_at(0)
    if how == "_exit":
        os._exit(3)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
        time.sleep(30)  # the stop can take effect a moment later
    if how == "unserializable":
        return {1, 2}
    return i


def error_of(tf) -> str:
    with pytest.raises(TransformationError):
        tf.run()
    return tf.exception


def serves_next_job():
    return pid(os.urandom(4).hex()).run() != os.getpid()


def test_exception_gives_the_user_traceback_and_worker_survives(workers):
    workers(1)
    before = pid("a").run()
    assert error_of(fail("raise", 1)).endswith("ValueError: boom\n")
    assert pid("b").run() == before


def test_sys_exit_is_an_ordinary_failure(workers):
    workers(1)
    before = pid("a").run()
    text = error_of(fail("exit", 1))
    assert text.endswith("SystemExit: 3\n")
    assert pid("b").run() == before


def test_segfault_fails_after_three_attempts(workers):
    workers(1)
    text = error_of(fail("segfault", 1))
    assert text == "worker died (signal 11) while running this transformation (3 attempts)"
    assert serves_next_job()


def test_os_exit_fails_after_three_attempts(workers):
    workers(1)
    text = error_of(fail("_exit", 1))
    assert text == "worker died (exit code 3) while running this transformation (3 attempts)"
    assert serves_next_job()


def test_sigkill_fails_with_worker_crashed_error_after_three_attempts(workers):
    from seamless_transformer import WorkerCrashedError

    workers(1)
    with pytest.raises(WorkerCrashedError) as info:
        fail("kill", 1).run()
    assert str(info.value) == "worker died (signal 9) while running this transformation (3 attempts)"
    assert serves_next_job()


def test_a_worker_crash_reaches_await_as_worker_crashed_error(workers):
    import asyncio

    from seamless_transformer import WorkerCrashedError

    workers(1, max_retries=0)

    async def value():
        return await fail("kill", 4)

    with pytest.raises(WorkerCrashedError):
        asyncio.run(value())


def test_a_worker_exception_carries_the_workers_traceback_as_its_cause(workers):
    from seamless_transformer.errors import RemoteTraceback

    workers(1)
    with pytest.raises(TransformationError) as info:
        fail("raise", 5).run()
    cause = info.value.__cause__
    assert isinstance(cause, RemoteTraceback)
    assert "ValueError: boom" in str(cause)
    assert 'File "' in str(cause)  # the frames of the worker's side


def test_max_retries_setting_changes_the_attempt_count(workers):
    workers(1, max_retries=0)
    text = error_of(fail("kill", 2))
    assert text == "worker died (signal 9) while running this transformation (1 attempts)"


def test_unserializable_result_gives_the_in_process_error(workers):
    expected = error_of(fail("unserializable", 1))
    workers(1)
    before = pid("a").run()
    assert error_of(fail("unserializable", 1)) == expected
    assert pid("b").run() == before


def test_cotenant_of_a_crashing_transformation_still_succeeds(workers):
    workers(1, throttle=2)

    @delayed
    def slow(i):
        import time

        time.sleep(0.3)
        return i

    good = slow(7).start()
    bad = fail("kill", 3).start()
    assert good.run() == 7
    assert error_of(bad).endswith("(3 attempts)")


def test_a_worker_that_stops_answering_pings_is_replaced(workers):
    workers(1, max_retries=0)
    tf = fail("stop", 1)
    text = error_of(tf)
    assert text == "worker died (no answer to a ping for 1 s) while running this transformation (1 attempts)"
    assert serves_next_job()


def test_segments_sent_to_a_worker_that_dies_are_unlinked(workers, shm_listing):
    from seamless_transformer.pool import get_pool

    with open("seamless.yaml", "w") as f:
        f.write("- persistent: false\n")  # inputs travel with the transformation
    listing, new_segments = shm_listing
    before = listing()
    workers(1, throttle=2, max_retries=0)
    stopper = fail("stop", 5).start()
    deadline = time.monotonic() + 30
    while not get_pool().workers[0].tasks:  # the stopper is on the worker
        assert time.monotonic() < deadline
        time.sleep(0.02)

    @delayed
    def size(data):
        return len(data)

    sized = size(os.urandom(150_000).hex()).start()  # its input segment waits in the stopped worker
    while len(get_pool().segments.names()) != 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (waiting,) = get_pool().segments.names()
    assert waiting in listing()
    assert error_of(stopper).endswith("(1 attempts)")
    assert sized.run() == 300_000
    assert new_segments(before) == set()


def test_a_worker_busy_in_c_code_holding_the_gil_is_not_taken_for_hung(workers):
    workers(1, max_retries=0)

    @delayed
    def long_sum(n):
        return sum(range(n))  # one C call: no ping answer for seconds

    n = 3 * 10**8
    assert long_sum(n).run() == n * (n - 1) // 2


def test_a_worker_starved_of_cpu_on_a_loaded_machine_is_not_taken_for_hung(workers):
    import subprocess
    import sys

    from seamless_transformer.pool import get_pool

    workers(1, max_retries=0)
    worker_pid = pid("starved").run()  # the worker is up; its pid
    assert worker_pid == get_pool().workers[0].pid
    # the worker may only run on CPU 0 and only when nothing else wants it (SCHED_IDLE);
    # a CPU hog on CPU 0 then leaves it runnable but silent for about 4 s
    for tid in os.listdir(f"/proc/{worker_pid}/task"):  # every thread of the worker
        os.sched_setaffinity(int(tid), {0})
        os.sched_setscheduler(int(tid), os.SCHED_IDLE, os.sched_param(0))
    hog = subprocess.Popen([sys.executable, "-c", (
        "import os, time\nos.sched_setaffinity(0, {0})\nend = time.monotonic() + 4\n"
        "print('spinning', flush=True)\nwhile time.monotonic() < end: pass\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert hog.stdout.readline() == "spinning\n"
        @delayed
        def short_sum(n):
            return sum(range(n))

        assert short_sum(10**6).run() == 10**6 * (10**6 - 1) // 2
    finally:
        hog.wait()


def test_a_ping_to_a_worker_whose_pipe_just_closed_replaces_it_and_the_pool_serves_on(workers):
    from seamless_transformer.pool import get_pool

    workers(1)
    pool = get_pool()
    worker = pool.workers[0]
    generation = worker.generation
    worker.channel.closed = True  # what the sender thread records when a write finds the pipe gone
    deadline = time.monotonic() + 30
    while worker.generation == generation and pool._io.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool._io.is_alive()
    assert worker.generation > generation
    assert serves_next_job()
