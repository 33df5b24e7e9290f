"""spawn / has_spawned / shutdown_workers (SPEC §8.5)."""

import os
import subprocess
import sys
import time

import pytest

from seamless_transformer import TransformationError, delayed, has_spawned, shutdown_workers, spawn


@delayed
def sleep_pid(i):
    import os
    import time

    time.sleep(0.5)
    return os.getpid()


@delayed
def process_name(i):
    import multiprocessing
    import time

    time.sleep(0.3)  # both are in flight at once
    return multiprocessing.current_process().name


@delayed
def together_pid(directory, i):
    """Wait (30 s at most) until four of these run at once, then return the pid."""
    import os
    import time

    open(os.path.join(directory, str(i)), "w").close()
    deadline = time.monotonic() + 30
    while len(os.listdir(directory)) < 4:
        if time.monotonic() > deadline:
            raise RuntimeError("the four transformations did not run at once")
        time.sleep(0.02)
    return os.getpid()


def test_four_workers_run_four_transformations_in_four_processes_at_once(workers, tmp_path):
    workers(4)
    tfs = [together_pid(str(tmp_path), i).start() for i in range(4)]
    pids = [tf.run() for tf in tfs]
    assert len(set(pids)) == 4
    assert os.getpid() not in pids


def test_workers_are_named_seamless_worker_n(workers):
    workers(2)
    names = {tf.run() for tf in [process_name(i).start() for i in range(2)]}
    assert names == {"seamless-worker-1", "seamless-worker-2"}


def test_second_spawn_raises(workers):
    workers(1)
    with pytest.raises(RuntimeError, match="^Workers have already been spawned$"):
        spawn(1)


def test_has_spawned_follows_spawn_and_shutdown(workers):
    assert not has_spawned()
    workers(1)
    assert has_spawned()
    shutdown_workers()
    assert not has_spawned()


def test_after_shutdown_transformations_run_in_process(workers):
    workers(1)
    shutdown_workers()
    assert sleep_pid(99).run() == os.getpid()


def test_spawn_outside_the_main_process_warns_and_does_nothing(tmp_path):
    script = (
        "import multiprocessing\n"
        "from seamless_transformer.pool import spawn\n"
        "if __name__ == '__main__':\n"
        "    p = multiprocessing.get_context('spawn').Process(target=spawn, args=(1,))\n"
        "    p.start(); p.join()\n"
        "    print(p.exitcode)\n"
    )
    path = tmp_path / "child_spawns.py"
    path.write_text(script)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.stdout == "0\n"
    assert "spawn() has no effect outside the main process" in proc.stderr


def test_config_execution_spawn_starts_the_pool_at_first_use(workers):
    with open("seamless.yaml", "w") as f:
        f.write("- execution: spawn\n")
    assert not has_spawned()
    assert sleep_pid(123).run() != os.getpid()
    assert has_spawned()


def test_ncores_takes_that_many_slots(workers):
    workers(1, throttle=2)

    @delayed
    def span(i):
        import time

        t0 = time.time()
        time.sleep(0.3)
        return [t0, time.time()]

    span.meta = {"ncores": 2}
    (a0, a1), (b0, b1) = [tf.run() for tf in [span(1).start(), span(2).start()]]
    assert a1 <= b0 or b1 <= a0  # one after the other on the single worker

    span.meta = {"ncores": 1}
    (a0, a1), (b0, b1) = [tf.run() for tf in [span(3).start(), span(4).start()]]
    assert a0 < b1 and b0 < a1  # side by side


def test_local_transformations_stay_in_this_process(workers):
    workers(1)

    @delayed
    def where(i):
        import os

        return os.getpid()

    assert where(1).run() != os.getpid()
    where.local = True
    assert where(2).run() == os.getpid()


def test_the_worker_entry_point_does_not_import_the_manager():
    code = ("import sys, seamless_transformer.pool.worker; "
            "print('seamless_transformer.pool.manager' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout == "False\n"


def wait_until_on_a_worker():
    from seamless_transformer.pool import get_pool

    deadline = time.monotonic() + 30
    while not any(w.tasks for w in get_pool().workers):
        assert time.monotonic() < deadline, "the transformation never reached a worker"
        time.sleep(0.02)


def test_shutdown_with_wait_lets_running_transformations_finish(workers):
    workers(1)
    tf = sleep_pid(7).start()
    wait_until_on_a_worker()
    shutdown_workers(wait=True)
    assert tf.status == "OK" and tf.run() != os.getpid()


def test_shutdown_without_wait_fails_running_transformations(workers):
    workers(1)
    tf = sleep_pid(8).start()
    wait_until_on_a_worker()
    shutdown_workers(wait=False)
    with pytest.raises(TransformationError):
        tf.run()
    assert tf.exception == "the worker pool was shut down"
