"""The Dask backend on a real LocalCluster(n_workers=2, processes=True) with a shared embedded cache."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from seamless_transformer import TransformationError, delayed, flush, parallel


@delayed
def triple(x):
    return 3 * x


def _db(tmp_path):
    flush()  # results are written behind
    return sqlite3.connect(tmp_path / "shared-cache" / "__TOPLEVEL__" / "seamless.db")


def test_twenty_transformations_give_correct_results_and_twenty_result_rows(on_dask, tmp_path):
    tfs = [triple(i) for i in range(20)]
    assert [tf.run() for tf in parallel(tfs, nparallel=8)] == [3 * i for i in range(20)]
    rows = _db(tmp_path).execute("SELECT checksum FROM transformation").fetchall()
    assert sorted(r[0] for r in rows) == sorted(tf.transformation_checksum.hex() for tf in tfs)


def test_a_result_computed_on_dask_was_executed_in_a_dask_worker(on_dask):
    @delayed
    def where():
        import os

        return os.getpid()

    pid = where().run()
    worker_pids = on_dask[1].run(os.getpid)
    assert pid in worker_pids.values() and pid != os.getpid()


def test_the_execution_record_says_remote_and_names_the_scheduler(on_dask, tmp_path):
    tf = triple(1000)
    tf.run()
    (metadata,) = _db(tmp_path).execute("SELECT metadata FROM meta_data WHERE checksum = ?",
                                        (tf.transformation_checksum.hex(),)).fetchone()
    record = json.loads(metadata)
    assert record["execution_mode"] == "remote"
    assert record["remote_target"] == "dask:" + on_dask[0].scheduler_address


def test_running_them_again_submits_no_dask_task(on_dask):
    counter = on_dask[2]
    [tf.run() for tf in parallel([triple(100 + i) for i in range(20)], nparallel=8)]
    submitted = len(counter.keys)
    assert submitted >= 20
    from seamless_transformer import engine

    engine._reset()  # forget this process's memory of results: the lookup goes to the database
    again = [tf.run() for tf in parallel([triple(100 + i) for i in range(20)], nparallel=8)]
    assert again == [3 * (100 + i) for i in range(20)]
    assert len(counter.keys) == submitted


def test_transformations_started_while_a_batch_is_being_sent_reach_the_scheduler_together(on_dask, gated_flush):
    counter = on_dask[2]
    keys, updates = len(counter.keys), counter.updates
    gate, _threads = gated_flush
    tfs = [triple(200 + i) for i in range(40)]
    for tf in tfs:
        tf.start()  # the first batch waits in its flush meanwhile
    gate.set()
    assert [tf.run() for tf in tfs] == [3 * (200 + i) for i in range(40)]
    assert len(counter.keys) - keys == 40
    assert counter.updates - updates <= 2


def test_starting_a_transformation_on_dask_leaves_writing_its_inputs_to_the_backend(on_dask, gated_flush):
    gate, threads = gated_flush
    tf = triple(300)
    tf.start()  # returns although every flush waits for the gate
    gate.set()
    assert tf.run() == 900
    assert threads and threading.current_thread() not in threads


def test_a_failing_task_raises_transformation_error_with_the_users_traceback(on_dask):
    @delayed
    def fails(key):
        return {}[key]

    tf = fails("nope")
    with pytest.raises(TransformationError):
        tf.run()
    assert tf.exception.endswith("KeyError: 'nope'\n")
    assert "seamless_transformer" not in tf.exception


def test_a_bash_transformation_runs_on_dask(on_dask):
    from seamless_transformer import direct

    assert direct("echo $((a * b)) > RESULT", "bash")(a=6, b=7) == 42


TWIN = """
import os, sys, time
from seamless_transformer import delayed
ready = sys.argv[1]
open(ready + "." + sys.argv[2], "w").close()
deadline = time.monotonic() + 60
while not (os.path.exists(ready + ".1") and os.path.exists(ready + ".2")) and time.monotonic() < deadline:
    time.sleep(0.01)

@delayed
def slow_logged(log):
    import time
    with open(log, "a") as f:
        f.write("ran\\n")
    time.sleep(2)
    return "done"

print(slow_logged(sys.argv[3]).run())
"""


def test_two_identical_submissions_at_the_same_time_from_two_processes_execute_once(cluster2, tmp_path):
    script = tmp_path / "twin.py"
    script.write_text(TWIN)
    log = tmp_path / "side-effects.log"
    env = {**os.environ, "SEAMLESS_CACHE": str(tmp_path / "shared-cache"),
           "SEAMLESS_DASK_SCHEDULER": cluster2[0].scheduler_address}
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "ready"), str(n), str(log)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in (1, 2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [out for out, _err in outputs] == ["done\n", "done\n"]
    assert log.read_text() == "ran\n"


TWO_STORES = """
import os, sys, time
from seamless_transformer import delayed, parallel
ready, me = sys.argv[1], sys.argv[2]
tag = sys.argv[3] if len(sys.argv) > 3 else me  # the same tag: identical transformations
open(ready + "." + me, "w").close()
deadline = time.monotonic() + 60
while not (os.path.exists(ready + ".a") and os.path.exists(ready + ".b")) and time.monotonic() < deadline:
    time.sleep(0.01)

@delayed
def slow_plus(x, tag):
    import time
    time.sleep(0.3)
    return x + 1

tfs = [slow_plus(i, tag) for i in range(8)]
print([tf.run() for tf in parallel(tfs, nparallel=8)])
"""


def _two_stores(cluster2, tmp_path, *tag):
    """Clients a and b, each with a cache of its own, run eight transformations at the same moment
    (with `tag`: the same eight): each gets the results, and each cache has them all."""
    from seamless_transformer.store.files import BufferDir

    script = tmp_path / "two_stores.py"
    script.write_text(TWO_STORES)
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "ready"), me, *tag],
                              env={**os.environ, "SEAMLESS_CACHE": str(tmp_path / f"cache-{me}"),
                                   "SEAMLESS_DASK_SCHEDULER": cluster2[0].scheduler_address},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for me in ("a", "b")]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [out for out, _err in outputs] == [f"{list(range(1, 9))}\n"] * 2, outputs
    for me in ("a", "b"):
        root = tmp_path / f"cache-{me}" / "__TOPLEVEL__"
        rows = sqlite3.connect(root / "seamless.db").execute("SELECT result FROM transformation").fetchall()
        assert len(rows) == 8 and all(BufferDir(str(root)).has(res) for (res,) in rows)


def test_two_clients_with_different_storage_share_the_cluster_each_in_its_own_storage(cluster2, tmp_path):
    _two_stores(cluster2, tmp_path)


def test_identical_transformations_of_two_clients_with_different_storage_leave_each_result_with_its_buffer(
        cluster2, tmp_path):
    _two_stores(cluster2, tmp_path, "same")


def _seamless_run_twice_at_once(cluster2, tmp_path, command) -> list:
    """seamless-run `command` in clients a and b (each with a cache of its own) at the same moment."""
    env = {**os.environ, "SEAMLESS_DASK_SCHEDULER": cluster2[0].scheduler_address}
    for me in ("a", "b"):
        (tmp_path / me).mkdir(exist_ok=True)
    procs = [subprocess.Popen(["seamless-run", command], cwd=tmp_path / me,
                              env={**env, "SEAMLESS_CACHE": str(tmp_path / f"cache-{me}")},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for me in ("a", "b")]
    outputs = [p.communicate(timeout=120) for p in procs]
    return [(p.returncode, err) for p, (_out, err) in zip(procs, outputs)]


def test_an_identical_bash_job_of_two_clients_with_different_storage_writes_its_file_for_both(cluster2, tmp_path):
    # the result is a deep one (the file is its leaf): the leaf must reach both storages too
    answers = _seamless_run_twice_at_once(cluster2, tmp_path, "sleep 2; echo same > y.txt")
    assert [code for code, _err in answers] == [0, 0], answers
    assert [(tmp_path / me / "y.txt").read_text() for me in ("a", "b")] == ["same\n"] * 2


def test_an_identical_bash_job_with_a_big_file_of_two_clients_with_different_storage_records_no_result_without_it(
        cluster2, tmp_path):
    import hashlib

    from seamless_transformer.store.files import BufferDir

    _seamless_run_twice_at_once(cluster2, tmp_path, "sleep 2; head -c 1200000 /dev/zero > big.bin")
    flush()
    leaf = hashlib.sha256(bytes(1200000)).hexdigest()
    for me in ("a", "b"):  # one of them may have got a cache miss (exit 3), but recorded nothing
        root = tmp_path / f"cache-{me}" / "__TOPLEVEL__"
        db = root / "seamless.db"
        rows = sqlite3.connect(db).execute("SELECT result FROM transformation").fetchall() if db.exists() else []
        assert not rows or BufferDir(str(root)).has(leaf), me


def test_nested_transformations_complete_on_one_worker_with_one_thread(cluster1, tmp_path, monkeypatch):
    from seamless_transformer import set_dask_client

    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "shared-cache"))
    set_dask_client(cluster1[1])
    try:
        @delayed
        def outer(n):
            from seamless_transformer import delayed

            inner = delayed("n * 10")
            return inner(n=n).run() + inner(n=n + 1).run() + 1

        assert outer(4).run() == 91
    finally:
        set_dask_client(None)


def test_a_transformation_for_a_named_worker_runs_there(on_dask):
    client = on_dask[1]
    pids = client.run(os.getpid)  # {worker address: pid}

    @delayed
    def pid_of(tag):
        import os

        return os.getpid()

    for n, address in enumerate(sorted(pids)):
        pid_of.meta = {"node": address}
        assert pid_of(n).run() == pids[address]


def test_a_node_that_no_worker_answers_to_is_a_usage_error(on_dask):
    from seamless_transformer.errors import UsageError

    triple.meta = {"node": "no-such-worker"}
    try:
        with pytest.raises(UsageError, match="node no-such-worker: no Dask worker"):
            triple(5000).compute()
    finally:
        triple.meta = {"node": None}


def test_cancel_cancels_the_dask_task(on_dask):
    scheduler = on_dask[0].scheduler

    @delayed
    def sleeper(seconds):
        import time

        time.sleep(seconds)
        return seconds

    tf = sleeper(30).start()
    key = "seamless-tf-" + tf.transformation_checksum.hex()
    _wait_until(lambda: key in scheduler.tasks and scheduler.tasks[key].state == "processing")
    assert tf.cancel() is True
    assert tf.status == "canceled"
    _wait_until(lambda: key not in scheduler.tasks)


def _wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_seamless_cancel_stops_a_seamless_run_job_that_runs_on_dask(cluster2, tmp_path):
    import sysconfig

    scripts = sysconfig.get_path("scripts")
    env = {**os.environ, "SEAMLESS_CACHE": str(tmp_path / "shared-cache"),
           "SEAMLESS_DASK_SCHEDULER": cluster2[0].scheduler_address}
    command = "sleep 45; echo late"
    tf = subprocess.run([os.path.join(scripts, "seamless-run"), "--dry", command], env=env, cwd=tmp_path,
                        capture_output=True, text=True, timeout=60).stdout.strip()
    key, scheduler = "seamless-tf-" + tf, cluster2[0].scheduler
    run = subprocess.Popen([os.path.join(scripts, "seamless-run"), command], env=env, cwd=tmp_path,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_until(lambda: key in scheduler.tasks and scheduler.tasks[key].state == "processing", timeout=90)
    cancel = subprocess.run([os.path.join(scripts, "seamless-cancel"), tf], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert cancel.returncode == 0, cancel.stderr
    out, err = run.communicate(timeout=90)  # a deadline, generous for a loaded machine
    assert (run.returncode, out) != (0, "late\n") and "canceled" in err
    _wait_until(lambda: key not in scheduler.tasks, timeout=90)


def test_seamless_queue_runs_its_jobs_on_dask(cluster2, tmp_path):
    import sysconfig

    scripts = sysconfig.get_path("scripts")
    env = {**os.environ, "SEAMLESS_CACHE": str(tmp_path / "shared-cache"),
           "SEAMLESS_DASK_SCHEDULER": cluster2[0].scheduler_address}
    server = subprocess.Popen([os.path.join(scripts, "seamless-queue"), "--workers", "2", "-q"], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for i in (1, 2):
        sub = subprocess.run([os.path.join(scripts, "seamless-run"), "--qsubmit", f"echo {i} > out{i}.txt"],
                             env=env, capture_output=True, text=True, timeout=60)
        assert sub.returncode == 0, sub.stderr
    finish = subprocess.run([os.path.join(scripts, "seamless-queue-finish")], env=env, capture_output=True,
                            text=True, timeout=120)
    assert finish.returncode == 0, finish.stderr
    assert server.wait(60) == 0, server.communicate()
    assert [open(f"out{i}.txt").read() for i in (1, 2)] == ["1\n", "2\n"]
    modes = {json.loads(m)["execution_mode"] for (m,) in _db(tmp_path).execute("SELECT metadata FROM meta_data")}
    assert modes == {"remote"}


def test_set_dask_client_takes_a_scheduler_address(cluster2, tmp_path, monkeypatch):
    from seamless_transformer import set_dask_client
    from seamless_transformer.dask import get_dask_client

    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "shared-cache"))
    set_dask_client(cluster2[0].scheduler_address)
    try:
        assert get_dask_client().scheduler.address == cluster2[0].scheduler_address
        assert triple(6000).run() == 18000
    finally:
        set_dask_client(None)
    assert get_dask_client() is None


def test_parallel_is_bounded_by_the_dask_worker_threads_by_default(on_dask):
    from seamless_transformer import config

    assert config.get_nparallel() == 4  # 2 workers x 2 threads


def test_cancel_stops_a_bash_job_that_runs_on_a_worker(on_dask, tmp_path):
    from seamless_transformer import delayed as make

    pidfile = tmp_path / "job.pid"
    job = make("echo $$ > " + str(pidfile) + "; sleep 60; echo late > RESULT", "bash")
    tf = job(tag=1).start()
    _wait_until(lambda: pidfile.exists() and pidfile.read_text().strip())
    pid = int(pidfile.read_text())
    assert tf.cancel() is True
    _wait_until(lambda: not _alive(pid))


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_compiled_transformation_runs_on_a_dask_worker(on_dask):
    from seamless_transformer import CompiledTransformer

    add = CompiledTransformer("c")
    add.schema = ("inputs:\n  - name: a\n    dtype: int32\n  - name: b\n    dtype: int32\n"
                  "outputs:\n  - name: result\n    dtype: int32\n")
    add.code = ("#include <stdint.h>\n"
                "int transform(int32_t a, int32_t b, int32_t *result) { *result = a + b; return 0; }\n")
    tf = add(a=19, b=23)
    assert tf.run() == 42
    assert f"seamless-tf-{tf.transformation_checksum.hex()}" in on_dask[2].keys


def test_a_transformation_canceled_while_its_batch_is_being_sent_never_reaches_the_scheduler(on_dask, gated_flush):
    counter = on_dask[2]
    gate, threads = gated_flush
    canceled = triple(500).start()
    _wait_until(lambda: threads)  # the submitter holds it, flushing
    assert canceled.cancel() is True
    later = triple(501).start()  # the next batch: sent after the canceled one's
    gate.set()
    assert later.run() == 1503
    assert "seamless-tf-" + canceled.transformation_checksum.hex() not in counter.keys
    assert canceled.status == "canceled"


def test_an_interrupted_run_cancels_its_dask_task(on_dask):
    import signal

    scheduler, main = on_dask[0].scheduler, threading.get_ident()

    @delayed
    def sleeper(seconds):
        import time

        time.sleep(seconds)
        return seconds

    tf = sleeper(31)
    key = "seamless-tf-" + tf.transformation_checksum.hex()

    def interrupt():
        _wait_until(lambda: key in scheduler.tasks and scheduler.tasks[key].state == "processing")
        signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(TransformationError):
        tf.run()
    _wait_until(lambda: key not in scheduler.tasks, timeout=10)
