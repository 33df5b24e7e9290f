"""The engine's door: lookup, submit, run_here, join, and the Backend protocol (engine/backend.py)."""

import threading

import pytest

from seamless_transformer import engine
from seamless_transformer.api.transformer import delayed
from seamless_transformer.errors import CanceledError, TransformationError


def stored(code: str, language="bash", **args):
    """(tf_dict, tf) of a transformation whose buffers are stored."""
    transformation = delayed(code, language)(**args)
    tf = transformation.construct()
    return transformation._tf_dict, tf


def test_run_here_returns_the_finished_job_and_caches_its_result():
    tf_dict, tf = stored("echo 5 > RESULT", a=1)
    job = engine.run_here(tf_dict, tf)
    assert job.future.done()
    assert engine.lookup(tf) == job.result()


def test_run_here_on_a_cached_tf_gives_a_cached_job():
    tf_dict, tf = stored("echo 5 > RESULT", a=2)
    engine.run_here(tf_dict, tf)
    assert engine.run_here(tf_dict, tf).cached


def test_run_here_without_the_cache_executes_again():
    tf_dict, tf = stored("echo 5 > RESULT", a=3)
    first = engine.run_here(tf_dict, tf).result()
    job = engine.run_here(tf_dict, tf, use_cache=False)
    assert not job.cached
    assert job.result() == first


def test_run_here_attaches_to_the_same_tf_in_flight():
    tf_dict, tf = stored("sleep 0.5; echo 5 > RESULT", a=4)
    running = engine.submit(tf_dict, tf)
    assert engine.run_here(tf_dict, tf, use_cache=False) is running
    assert running.future.done()


def test_on_job_sees_the_job_before_it_runs():
    tf_dict, tf = stored("echo 5 > RESULT", a=5)
    seen = []
    job = engine.run_here(tf_dict, tf, on_job=lambda j: seen.append(j.future.done()))
    assert seen == [False]
    assert job.result() is not None


def test_an_on_job_failure_fails_the_new_job_and_frees_its_tf():
    tf_dict, tf = stored("echo 5 > RESULT", a=6)

    def refuse(_job):
        raise CanceledError("Transformation was canceled")

    job = engine.run_here(tf_dict, tf, on_job=refuse)
    assert isinstance(job.future.exception(), CanceledError)
    assert engine.submit(tf_dict, tf).result(timeout=30) is not None


def test_join_waits_until_a_canceled_job_has_ended():
    tf_dict, tf = stored("sleep 60; echo 5 > RESULT", a=7)
    job = engine.submit(tf_dict, tf)
    assert not engine.join(job, 0)
    assert job.cancel()
    assert engine.join(job, 10)
    assert isinstance(job.future.exception(), CanceledError)


class _Failing:
    """A backend whose executions fail with a plain exception, from a thread of its own."""

    def submit(self, job, done):
        threading.Thread(target=done, args=(None, OSError("disk on fire"))).start()

    def cancel(self, job):
        pass

    def close(self, wait=True):
        pass


@pytest.fixture
def failing_backend():
    engine.set_backend(_Failing())
    yield
    engine.set_backend(None)


@pytest.mark.parametrize("door", ["submit", "run_here"])
def test_a_backends_plain_exception_becomes_a_transformation_error_caused_by_it(failing_backend, door):
    tf_dict, tf = stored("echo 5 > RESULT", a=8)
    job = getattr(engine, door)(tf_dict, tf)
    engine.join(job, 10)
    error = job.future.exception()
    assert type(error) is TransformationError
    assert str(error) == "OSError: disk on fire"
    assert isinstance(error.__cause__, OSError)


def test_a_local_transformation_runs_here_even_with_a_backend(failing_backend):
    transformation = delayed("echo 5 > RESULT", "bash")(a=9)
    transformation._meta["local"] = True
    tf = transformation.construct()
    assert engine.run_here(transformation._tf_dict, tf).future.exception() is None
