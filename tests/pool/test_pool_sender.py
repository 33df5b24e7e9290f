"""The pool backend's sender (pool/__init__.py): start() only queues; one thread writes the queued
inputs once for a batch and hands the batch to the pool. Cancel and shutdown see what it holds."""

import os
import threading

import pytest

from seamless_transformer import TransformationError, delayed, engine, shutdown_workers
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


def _held_and_queued(tmp_path, threads) -> tuple:
    """Start two transformations: the first held by the sender (flushing), the second waiting in
    the outbox; they write tmp_path/first and tmp_path/second when they run."""
    first = mark(str(tmp_path / "first"), 1).start()
    wait_until(lambda: threads, "the sender holds the first one, flushing")
    second = mark(str(tmp_path / "second"), 2).start()
    return first, second


def test_a_transformation_canceled_before_the_pool_got_it_never_runs(workers, tmp_path, gated_flush):
    workers(1)
    gate, threads = gated_flush
    first, second = _held_and_queued(tmp_path, threads)
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


@pytest.fixture
def idle_sender(monkeypatch):
    """The sender ends after 0.05 s without work; when it has decided to end it sets the first
    yielded Event and waits for the second before it goes."""
    from seamless_transformer import pool as pool_module

    monkeypatch.setattr(pool_module, "SENDER_IDLE_SECONDS", 0.05)
    ending, go, real = threading.Event(), threading.Event(), pool_module.PoolBackend._take

    def take(self):
        batch = real(self)
        if not batch and not go.is_set():
            ending.thread = threading.current_thread()
            ending.set()
            assert go.wait(10), "the sender was never let go"
        return batch

    monkeypatch.setattr(pool_module.PoolBackend, "_take", take)
    yield ending, go
    go.set()


def test_a_start_while_the_idle_sender_is_ending_still_runs(workers, tmp_path, idle_sender):
    workers(1)
    ending, go = idle_sender
    assert mark(str(tmp_path / "first"), 1).start().run() == 1
    assert ending.wait(10), "the idle sender never ended"
    second = mark(str(tmp_path / "second"), 2).start()  # queued while the old sender goes
    go.set()
    wait_until(lambda: os.path.exists(tmp_path / "second"), "the second transformation ran", timeout=10)
    assert second.run() == 2


def test_shutdown_waits_for_what_a_new_sender_holds_after_the_idle_one_ended(workers, tmp_path, idle_sender,
                                                                            gated_flush):
    workers(1)
    ending, go = idle_sender
    gate, threads = gated_flush
    gate.set()
    assert mark(str(tmp_path / "first"), 1).start().run() == 1
    assert ending.wait(10), "the idle sender never ended"
    gate.clear()
    flushes = len(threads)
    second = mark(str(tmp_path / "second"), 2).start()
    wait_until(lambda: len(threads) > flushes, "a new sender holds the second one, flushing")
    backend = engine.get_backend()
    go.set()
    ending.thread.join(10)
    assert not ending.thread.is_alive() and backend._in_hand == 1  # what shutdown waits for
    closer = threading.Thread(target=shutdown_workers, kwargs={"wait": True})
    closer.start()
    gate.set()
    closer.join(60)
    assert second.run() == 2


def test_an_interrupted_run_cancels_its_transformation_in_the_worker(workers, tmp_path):
    import signal

    from seamless_transformer.pool import get_pool
    from test_manager import wait_for_file

    workers(1)
    pool, main = get_pool(), threading.get_ident()

    def interrupt():
        wait_until(lambda: any(w.tasks for w in pool.workers), "it runs in the worker")
        signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(TransformationError):
        wait_for_file(str(tmp_path / "never"), 1).run()
    wait_until(lambda: not any(w.tasks for w in pool.workers), "the worker was relieved of it", timeout=10)



FORK_AFTER_SPAWN = """
import os, sys, threading
from seamless_transformer import delayed, spawn, shutdown_workers
from seamless_transformer.pool import get_pool

@delayed
def pid_of(tag):
    import os
    return os.getpid()

def run_in_child():
    ran = []
    runner = threading.Thread(target=lambda: ran.append(pid_of("child").run()), daemon=True)
    runner.start()
    runner.join(20)
    print("child ran", "here" if ran == [os.getpid()] else "nowhere" if not ran else "elsewhere", flush=True)

if __name__ == "__main__":
    spawn(1)
    worker = get_pool().workers[0].pid
    assert pid_of("before").run() == worker
    child = os.fork()
    if child == 0:
        CHILD
    os.waitpid(child, 0)
    print("parent ran on", "the same worker" if pid_of("after").run() == worker else "another worker")
    shutdown_workers()
"""


def _fork_after_spawn(tmp_path, child: str) -> str:
    """Run FORK_AFTER_SPAWN with `child` as the forked child's code; its output."""
    import subprocess
    import sys

    path = tmp_path / "fork_after_spawn.py"
    path.write_text(FORK_AFTER_SPAWN.replace("CHILD", child))
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_child_forked_after_spawn_runs_its_transformations_itself(tmp_path):
    assert "child ran here" in _fork_after_spawn(tmp_path, "run_in_child(); os._exit(0)")


def test_a_forked_child_that_exits_leaves_the_parents_workers_alone(tmp_path):
    out = _fork_after_spawn(tmp_path, "sys.exit(0)")  # the child's exit handlers run
    assert "parent ran on the same worker" in out


def test_shutdown_ends_the_sender_thread(workers, tmp_path, monkeypatch):
    from seamless_transformer import pool as pool_module

    monkeypatch.setattr(pool_module, "SENDER_IDLE_SECONDS", 600)  # it would wait that long for work
    workers(1)
    assert mark(str(tmp_path / "m"), 5).start().run() == 5
    sender = engine.get_backend()._sender
    shutdown_workers(wait=True)
    sender.join(30)
    assert not sender.is_alive()


def test_shutdown_without_wait_fails_what_the_sender_holds_as_shut_down(workers, tmp_path, gated_flush):
    workers(1)
    gate, threads = gated_flush
    held, queued = _held_and_queued(tmp_path, threads)
    shutdown_workers(wait=False)
    gate.set()
    for tf in (held, queued):
        with pytest.raises(TransformationError):
            tf.run()
        assert tf.exception == "the worker pool was shut down"  # as for one that ran in a worker
