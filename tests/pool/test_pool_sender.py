"""The pool backend's sender (pool/__init__.py): start() only queues; one thread writes the queued
inputs once for a batch and hands the batch to the pool. Cancel and shutdown see what it holds."""

import os
import threading

import pytest

from seamless_transformer import TransformationError, delayed, shutdown_workers
from test_manager import wait_until  # tests/pool/test_manager.py


@delayed
def mark(path, value):
    with open(path, "w") as f:
        f.write("ran\n")
    return value


def test_starting_a_transformation_on_the_pool_leaves_writing_its_inputs_to_the_sender(workers, tmp_path,
                                                                                     gated_flush):
    workers(1)
    gate, threads = gated_flush
    tf = mark(str(tmp_path / "m"), 1).start()  # returns although every flush waits for the gate
    gate.set()
    assert tf.run() == 1
    assert threads and threading.current_thread() not in threads


def test_a_transformation_canceled_before_the_pool_got_it_never_runs(workers, tmp_path, gated_flush):
    workers(1)
    gate, threads = gated_flush
    first = mark(str(tmp_path / "first"), 1).start()
    wait_until(lambda: threads, "the sender holds the first one, flushing")
    second = mark(str(tmp_path / "second"), 2).start()  # waits in the outbox
    first.cancel()
    second.cancel()
    gate.set()
    for tf in (first, second):
        with pytest.raises(TransformationError):
            tf.run()
        assert tf.status == "canceled"
    shutdown_workers(wait=True)
    assert not os.path.exists(tmp_path / "first") and not os.path.exists(tmp_path / "second")


def test_shutdown_with_wait_runs_what_the_sender_still_holds(workers, tmp_path, gated_flush):
    workers(1)
    gate, threads = gated_flush
    tf = mark(str(tmp_path / "m"), 3).start()
    wait_until(lambda: threads, "the sender holds it, flushing")
    closer = threading.Thread(target=shutdown_workers, kwargs={"wait": True})
    closer.start()
    gate.set()
    closer.join(60)
    assert not closer.is_alive()
    assert tf.run() == 3
    assert os.path.exists(tmp_path / "m")
