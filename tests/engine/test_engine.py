"""The engine (engine/__init__.py): cache lookup, scratch, META__ pins and attaching to a running job."""

import os

import pytest

from seamless_transformer import engine
from seamless_transformer.bashrun.prepare import RunOptions, prepare
from seamless_transformer.celltypes import Buffer
from seamless_transformer.checksum import Checksum
from seamless_transformer.errors import StrictDunderError, TransformationError
from seamless_transformer.store import storage as storage_mod
from seamless_transformer.store.storage import get_storage


def prepared(command, **options):
    """A bash transformation whose input buffers are stored, ready for the engine."""
    job = prepare([command], RunOptions(**options))
    storage = get_storage()
    for cs, value in job.buffers.items():
        storage.put_buffer(value if isinstance(value, bytes) else open(value, "rb").read(), cs)
    return job


def forget_buffer(result):
    """Remove a result buffer from the store, and every in-memory copy of it."""
    os.remove(get_storage().buffer_path(result))
    storage_mod._reset()
    engine._reset()


def test_a_result_whose_buffer_is_gone_is_recomputed_when_the_value_is_needed():
    job = prepared("echo recomputed")
    result = engine.compute(job.tf_dict, job.tf_checksum)
    forget_buffer(result)
    assert engine.lookup(job.tf_checksum) is None
    again = engine.submit(job.tf_dict, job.tf_checksum)
    assert again.result(timeout=60) == result and not again.cached
    assert get_storage().get_buffer(result) == b"recomputed\n"


def test_a_result_whose_buffer_is_gone_is_a_hit_when_the_value_is_not_needed():
    job = prepared("echo kept")
    result = engine.compute(job.tf_dict, job.tf_checksum)
    forget_buffer(result)
    assert engine.lookup(job.tf_checksum, need_value=False) == result


def test_a_scratch_submission_does_not_need_the_result_buffer():
    job = prepared("echo scratch")
    result = engine.compute(job.tf_dict, job.tf_checksum)
    forget_buffer(result)
    again = engine.submit(job.tf_dict, job.tf_checksum, scratch=True)
    assert again.cached and again.result(timeout=60) == result


def test_meta_pins_reach_the_executed_job_but_not_the_identity():
    five = prepared("echo $N", metavars=["N=5"])
    six = prepare(["echo $N"], RunOptions(metavars=["N=6"]))
    assert five.tf_checksum == six.tf_checksum
    result = engine.compute(five.tf_dict, five.tf_checksum)
    assert get_storage().get_buffer(result) == b"5\n"


def _gated(tmp_path):
    """(gate file, prepared job, submitted Job): the job runs until the gate file exists."""
    go = tmp_path / "go"
    job = prepared(f"while [ ! -e {go} ]; do sleep 0.05; done; echo done")
    return go, job, engine.submit(job.tf_dict, job.tf_checksum)


def test_a_strict_submission_with_other_execution_dunders_does_not_join_a_running_job(tmp_path):
    go, job, running = _gated(tmp_path)
    try:
        other = dict(job.tf_dict, __meta__={"ncores": 2})
        with pytest.raises(StrictDunderError, match="already running with different execution dunders"):
            engine.submit(other, job.tf_checksum, strict=True)
        assert engine.submit(dict(job.tf_dict), job.tf_checksum, strict=True) is running
        assert engine.submit(other, job.tf_checksum) is running  # not strict: joins
    finally:
        go.touch()
    assert running.result(timeout=60) is not None


class _ElsewhereBackend:
    """A backend that is not InProcess: it runs each job in a thread and reports through `done`."""

    def submit(self, job, done):
        from seamless_transformer.engine.backend import InProcess

        InProcess(engine._execute_here).submit(job, done)

    def cancel(self, job):
        pass

    def close(self, wait=True):
        pass


def test_a_job_run_here_on_another_backend_reports_its_result_back():
    job = prepared("echo on a backend")
    engine.set_backend(_ElsewhereBackend())
    try:
        result = engine.run_here(job.tf_dict, job.tf_checksum).result(timeout=60)
    finally:
        engine.set_backend(None)
    assert get_storage().get_buffer(result) == b"on a backend\n"


class _RefusingBackend(_ElsewhereBackend):
    """A backend that refuses every job (as a closed one does)."""

    def submit(self, job, done):
        raise RuntimeError("the backend is closed")


def test_a_job_its_backend_refuses_fails_with_the_backend_error():
    job = prepared("echo refused")
    engine.set_backend(_RefusingBackend())
    try:
        submitted = engine.submit(job.tf_dict, job.tf_checksum)
    finally:
        engine.set_backend(None)
    with pytest.raises(TransformationError, match="RuntimeError: the backend is closed"):
        submitted.result(timeout=60)

def test_an_on_job_callback_that_raises_fails_the_new_job_instead_of_raising():
    job = prepared("echo never run")

    def refuse(_job):
        raise RuntimeError("no handle for it")

    done = engine.run_here(job.tf_dict, job.tf_checksum, on_job=refuse)
    with pytest.raises(TransformationError, match="RuntimeError: no handle for it"):
        done.result(timeout=60)

def test_cancel_reports_whether_it_stopped_the_job(tmp_path):
    go, _job, started = _gated(tmp_path)
    try:
        assert started.cancel() is True
    finally:
        go.touch()
    assert started.cancel() is False


def forget_stored(*checksums):
    """Remove buffers from the store if they are there, and every in-memory copy."""
    for cs in checksums:
        path = get_storage().buffer_path(cs)
        if path is not None:
            os.remove(path)
    storage_mod._reset()
    engine._reset()


def test_the_leaves_of_a_directory_result_are_stored():
    job = prepared("mkdir d; echo leaf > d/a.txt", captures=["d"])
    engine.compute(job.tf_dict, job.tf_checksum)
    storage_mod._reset()
    assert get_storage().get_buffer(Checksum.of(b"leaf\n")) == b"leaf\n"


def test_fingertip_also_recomputes_a_missing_input_of_the_producer():
    from seamless_transformer import delayed

    @delayed
    def plus_one(x):
        return x + 1

    @delayed
    def times_ten(y):
        return y * 10

    plus_one.scratch = True
    times_ten.allow_input_fingertip = True
    intermediate = plus_one(1).compute()
    result = times_ten(intermediate).compute()
    forget_stored(intermediate, result)
    assert engine.resolve_buffer(result, fingertip=True) == Buffer(20, "mixed").content


def test_fingertip_tries_the_next_producer_when_one_cannot_be_recomputed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("hi\n")
    from_file = prepared("tr a-z A-Z < a.txt")  # its input will be gone for good
    typed = prepared("echo HI")
    result = engine.compute(from_file.tf_dict, from_file.tf_checksum)
    assert engine.compute(typed.tf_dict, typed.tf_checksum) == result
    forget_stored(result, Checksum.of(b"hi\n"))
    assert engine.resolve_buffer(result, fingertip=True) == b"HI\n"


FORK_WHILE_RUNNING = """
import os, sys, threading
from seamless_transformer import delayed

@delayed
def slow(x):
    import os
    import time
    if os.environ.get("STARTED"):
        open(os.environ["STARTED"], "w").close()
    time.sleep(float(os.environ.get("SLOW", "0")))
    return x

os.environ["SLOW"], os.environ["STARTED"] = "5", sys.argv[1]
tf = slow(7).start()  # runs in a thread of this process
while not os.path.exists(sys.argv[1]):
    pass
child = os.fork()
if child == 0:
    os.environ["SLOW"], os.environ["STARTED"] = "0", ""
    got = []
    worker = threading.Thread(target=lambda: got.append(slow(7).run()), daemon=True)
    worker.start()
    worker.join(30)
    print("child", got, flush=True)
    os._exit(0)
os.waitpid(child, 0)
print("parent", tf.run(), flush=True)
"""


def test_a_child_forked_while_a_transformation_runs_computes_it_itself_instead_of_waiting(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "fork.py"
    script.write_text(FORK_WHILE_RUNNING)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "started")], capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout == "child [7]\nparent 7\n", proc.stderr
