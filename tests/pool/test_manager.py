"""The parent side of the pool (pool/manager.py), below spawn()."""

import os
import signal
import time

import pytest

from seamless_transformer import TransformationError, delayed, shutdown_workers
from seamless_transformer.pool import get_pool
from seamless_transformer.pool.manager import MAX_STARTUP_FAILURES, Pool
from seamless_transformer.store.storage import get_storage


def test_a_pool_whose_start_never_ran_closes_without_error():
    # spawn() closes the pool when start() fails, possibly before the I/O thread was started;
    # that close must not replace the start-up error with one of its own
    pool = Pool(1)
    pool.close(wait=False)
    assert pool.closing


@delayed
def crash_once(marker):
    import os
    import signal

    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


@delayed
def crash(i):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


@delayed
def wait_for_file(path, i):
    import os
    import time

    while not os.path.exists(path):
        time.sleep(0.02)
    return i


def wait_until(predicate, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.02)


def test_a_crash_with_one_task_on_the_worker_counts_against_that_task(workers, tmp_path):
    workers(1, max_retries=0)
    tf = crash_once(str(tmp_path / "crashed"))
    with pytest.raises(TransformationError):
        tf.run()
    assert tf.exception == "worker died (signal 9) while running this transformation (1 attempts)"


def test_a_crash_with_several_tasks_on_the_worker_counts_against_none(workers, tmp_path):
    with open("seamless.yaml", "w") as f:
        f.write("- record: true\n")  # full records carry retry_count
    workers(1, throttle=2)
    go = tmp_path / "go"
    cotenant = wait_for_file(str(go), 1).start()
    wait_until(lambda: get_pool().workers[0].tasks, "the cotenant is on the worker")
    crasher = crash(1).start()
    wait_until(lambda: get_pool().workers[0].generation >= 2, "the worker crashed")
    go.touch()
    assert cotenant.run() == 1
    assert get_storage().get_record(cotenant.transformation_checksum)["retry_count"] == 0
    with pytest.raises(TransformationError):
        crasher.run()
    assert crasher.exception.endswith("(3 attempts)")


def test_a_worker_being_terminated_gets_no_new_task(workers, tmp_path):
    workers(2, throttle=2)
    pool = get_pool()
    go = tmp_path / "go"
    doomed = wait_for_file(str(tmp_path / "never"), 2).start()  # least loaded: worker 1
    holder = wait_for_file(str(go), 3).start()  # worker 2, one of its two slots
    wait_until(lambda: all(w.tasks for w in pool.workers), "both tasks are on their workers")
    wait_for_file.meta = {"ncores": 2}
    try:
        latecomer = wait_for_file(str(go), 4).start()  # two slots: no worker has them free
        wait_until(lambda: len(pool.pending) == 1, "the latecomer waits in the queue")
        with pool.lock:  # the I/O thread cannot see the worker die meanwhile
            doomed.cancel()  # worker 1 is empty now, and dying
            assert pool.workers[0].kill_reason == "cancel"
            pool._dispatch_pending()  # a round of the I/O thread
            assert not pool.workers[0].tasks and len(pool.pending) == 1
    finally:
        wait_for_file.meta = {}
        go.touch()
    assert holder.run() == 3 and latecomer.run() == 4


def test_every_shared_memory_segment_is_unlinked_at_shutdown(workers, shm_listing):
    listing, _new_segments = shm_listing
    workers(1)
    ref = get_pool().segments.create(4096, "no-worker", b"x" * 4096)  # never handed out
    assert ref.name in listing()
    shutdown_workers(wait=False)
    assert ref.name not in listing()


FAIL_AT_START = """
import os

if os.environ.get("SEAMLESS_TEST_START_LOG"):  # a worker launched from now on dies before it is ready
    with open(os.environ["SEAMLESS_TEST_START_LOG"], "a") as f:
        f.write("launched\\n")
    os._exit(3)
"""


def _fail_later_launches(tmp_path, monkeypatch, code=FAIL_AT_START):
    """Workers launched after this call exit during start-up (or run `code` then); the returned
    file gets a line per launch."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(code)
    log = tmp_path / "launches"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("SEAMLESS_TEST_START_LOG", str(log))
    return log


def test_a_worker_that_keeps_failing_to_start_is_launched_max_startup_failures_times(workers, tmp_path,
                                                                                   monkeypatch):
    workers(1)
    pool = get_pool()
    worker = pool.workers[0]
    log = _fail_later_launches(tmp_path, monkeypatch)
    os.kill(worker.pid, signal.SIGKILL)

    def given_up():
        with pool.lock:  # not between a death and the launch that follows it
            return worker.dead and worker.startup_failures >= MAX_STARTUP_FAILURES

    wait_until(given_up, "the worker is given up")
    assert log.read_text().count("launched") == MAX_STARTUP_FAILURES


@delayed
def plus_one(x):
    return x + 1


def test_a_transformation_submitted_when_no_worker_can_start_fails_instead_of_waiting(workers, tmp_path,
                                                                                     monkeypatch):
    workers(1)
    pool = get_pool()
    _fail_later_launches(tmp_path, monkeypatch)
    os.kill(pool.workers[0].pid, signal.SIGKILL)
    tf = plus_one(1).start()
    wait_until(lambda: tf.status != "pending", "the transformation ended", timeout=60)
    with pytest.raises(TransformationError):
        tf.run()
    assert tf.exception.startswith("no worker could be started (3 attempts per worker, the last: seamless-worker-1: ")


def _ping_finds_the_pipe_broken(worker) -> bool:
    """Send a ping (the channel's sender thread marks the channel closed when the write fails)."""
    from seamless_transformer.pool.channel import ChannelClosed

    try:
        worker.channel.send("request", "ping", 0)
    except ChannelClosed:
        return True
    return False


def test_tasks_sent_to_a_worker_whose_pipe_broke_before_its_death_was_handled_run_on_its_successor(workers):
    workers(1)
    pool = get_pool()
    worker = pool.workers[0]
    tf = plus_one(41)
    tf.construct()  # its inputs are written now: start() hands it to the pool's queue at once
    with pool.lock:  # the I/O thread cannot handle the death meanwhile
        os.kill(worker.pid, signal.SIGKILL)
        wait_until(lambda: _ping_finds_the_pipe_broken(worker), "the pipe is known to be broken")
        tf.start()
        assert len(pool.pending) == 1
        pool._dispatch_pending()  # a round of the I/O thread: the dying worker still looks free
        assert not pool.pending and len(worker.tasks) == 1
    assert tf.run() == 42


def test_canceling_a_queued_transformation_ends_its_job_and_leaves_the_running_one_alone(workers, tmp_path):
    from seamless_transformer import engine

    workers(1, throttle=1)
    pool, go = get_pool(), tmp_path / "go"
    busy = wait_for_file(str(go), 1).start()
    wait_until(lambda: pool.workers[0].tasks, "the first one runs")
    queued = wait_for_file(str(go), 2).start()
    wait_until(lambda: len(pool.pending) == 1, "the second one waits in the queue")
    assert queued.cancel() is True
    assert not pool.pending
    assert engine.join(queued._job, 30), "the canceled job never ended"
    go.touch()
    assert busy.run() == 1 and pool.workers[0].generation == 1


def test_a_transformation_fails_when_no_relaunched_worker_gets_ready_in_time(workers, tmp_path, monkeypatch):
    from seamless_transformer.pool import manager

    workers(1)
    pool = get_pool()
    monkeypatch.setattr(manager, "STARTUP_TIMEOUT", 0.5)
    hang = FAIL_AT_START.replace("os._exit(3)", "import time; time.sleep(600)")
    log = _fail_later_launches(tmp_path, monkeypatch, hang)
    os.kill(pool.workers[0].pid, signal.SIGKILL)
    tf = plus_one(2).start()
    wait_until(lambda: tf.status != "pending", "the transformation ended", timeout=30)
    assert tf.exception.startswith("no worker could be started (3 attempts per worker, the last: seamless-worker-1: "
                                   "not ready within 0.5 s")
    assert log.read_text().count("launched") == MAX_STARTUP_FAILURES
