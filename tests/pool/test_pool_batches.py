"""Batches: tasks queued together travel to a worker in one message (pool/manager.py), and a
batch is nothing but its tasks: errors, crashes and cancel stay per task."""

import pytest

from seamless_transformer import TransformationError, delayed, engine
from seamless_transformer.pool import get_pool
from seamless_transformer.store.storage import get_storage
from test_manager import wait_until  # tests/pool/test_manager.py


@delayed
def task(how, i):
    import os
    import signal
    import time

    if how == "raise":
        raise ValueError(f"boom {i}")
    if how == "unserializable":
        return {1, 2}
    if how.startswith(("wait:", "kill:")):
        while not os.path.exists(how[5:]):
            time.sleep(0.02)
    if how.startswith("kill:"):
        os.kill(os.getpid(), signal.SIGKILL)
    return i


def start_as_one_batch(tfs):
    """Start `tfs` while neither the backend's sender nor the I/O thread can take them, so that
    they reach the pool together and leave in one round; returns how many run messages that round
    sent (to every worker). None of them may finish in a way that gets it queued again before the
    round is counted (a crash)."""
    pool, backend = get_pool(), engine.get_backend()
    before = sum(w.run_messages for w in pool.workers)
    with pool.lock, backend._cond:
        for tf in tfs:
            tf.start()  # all to the sender's outbox (inputs to write) or all to the pool's queue
        assert len(backend._outbox) + len(pool.pending) == len(tfs)
    wait_until(lambda: not backend._outbox and not backend._in_hand and not pool.pending, "the batch left")
    return sum(w.run_messages for w in pool.workers) - before


def error_of(tf) -> str:
    with pytest.raises(TransformationError):
        tf.run()
    return tf.exception


def test_tasks_queued_together_reach_the_worker_in_one_message(workers):
    workers(1, throttle=3)
    task("ok", 0).run()  # the worker is up and idle
    tfs = [task("ok", i) for i in (1, 2, 3)]
    assert start_as_one_batch(tfs) == 1
    assert [tf.run() for tf in tfs] == [1, 2, 3]


def test_each_task_of_a_batch_gets_its_own_error_or_value(workers):
    expected = error_of(task("unserializable", 2))  # in-process: the reference text
    workers(1, throttle=3)
    task("ok", 0).run()
    tfs = [task("raise", 1), task("unserializable", 2), task("ok", 3)]
    assert start_as_one_batch(tfs) == 1
    assert error_of(tfs[0]).endswith("ValueError: boom 1\n")
    assert error_of(tfs[1]) == expected
    assert tfs[2].run() == 3


def test_a_worker_killed_holding_a_batch_blames_none_of_its_tasks(workers, tmp_path):
    with open("seamless.yaml", "w") as f:
        f.write("- record: true\n")  # full records carry retry_count
    workers(1, throttle=3, max_retries=0)
    task("ok", 0).run()
    go, boom = tmp_path / "go", tmp_path / "boom"
    mates = [task(f"wait:{go}", i) for i in (1, 2)]
    crasher = task(f"kill:{boom}", 3)
    assert start_as_one_batch([*mates, crasher]) == 1
    wait_until(lambda: len(get_pool().workers[0].tasks) == 3, "the batch is on the worker")
    boom.touch()
    wait_until(lambda: get_pool().workers[0].generation >= 2, "the worker crashed")
    go.touch()
    assert [tf.run() for tf in mates] == [1, 2]
    for tf in mates:  # re-dispatched uncounted
        assert get_storage().get_record(tf.transformation_checksum)["retry_count"] == 0
    # then alone on a worker, the crash is its own: counted (no retries allowed)
    assert error_of(crasher) == "worker died (signal 9) while running this transformation (1 attempts)"


def test_cancel_of_one_task_in_a_batch_lets_its_batch_mates_finish(workers, tmp_path):
    workers(1, throttle=3)
    task("ok", 0).run()
    go = tmp_path / "go"
    mates = [task(f"wait:{go}", i) for i in (1, 2)]
    doomed = task(f"wait:{tmp_path / 'never'}", 3)
    assert start_as_one_batch([*mates, doomed]) == 1
    wait_until(lambda: len(get_pool().workers[0].tasks) == 3, "the batch is on the worker")
    assert doomed.cancel() is True
    go.touch()
    assert [tf.run() for tf in mates] == [1, 2]
    assert doomed.status == "canceled" and doomed.exception == "Transformation was canceled"
    assert get_pool().workers[0].generation >= 2  # the worker was replaced


def test_an_unpicklable_result_in_a_batch_fails_only_its_own_task():
    import multiprocessing

    from seamless_transformer.pool.channel import Channel

    parent_end, worker_end = multiprocessing.Pipe()
    sender = Channel(worker_end, "worker", direct=True)
    results = [[1, {"outcome": {"value": lambda: None}}], [2, {"outcome": {"value": 42}}]]
    sender.send("response", "run", None, {"results": results})
    assert parent_end.poll(10)
    (one, wire_one), (two, wire_two) = parent_end.recv()["payload"]["results"]
    assert (one, two) == (1, 2)
    assert wire_one["etype"] == "TransformationError" and "pickle" in wire_one["error"]
    assert wire_two == {"outcome": {"value": 42}}
    sender.close()
    parent_end.close()



@delayed
def plus_one(i):
    return i + 1


def test_the_io_thread_is_never_left_marked_woken_without_a_wake_up_byte_on_its_way(workers):
    from seamless_transformer import parallel

    workers(2)
    values = [tf.run() for tf in parallel([plus_one(i) for i in range(300)], nparallel=4)]
    assert values == list(range(1, 301))
    pool = get_pool()
    # marked woken with no byte in the pipe: every later submit skips its byte and waits for the timer
    wait_until(lambda: not pool._woken or pool._wake_r.poll(), "the I/O thread's last round")
