"""Compute one transformation: look it up, attach to it, or execute it.

Every entry point (seamless-run, seamless-run-transformation, the queue, the Python API, the
pool's delegation) goes through this door:

    lookup(tf) -> Checksum | None       the cached result: in-process map, then the result DBs
    in_flight(tf) -> Job | None         the job computing tf in this process (the running latch)
    submit(tf_dict, tf, ...) -> Job     compute in the background; job.result() waits
    run_here(tf_dict, tf, ...) -> Job   compute in the calling thread; returns the finished Job
    join(job, timeout)                  wait until a (canceled) job's execution has ended
    flush()                             make the deferred writes (defer_writes=True) durable

    submit / run_here ──► in-process map ──► result DBs ──► running latch ──► execute on the backend
                               │ hit            │ hit (buffer           │ attach     │
                               ▼                ▼  obtainable if needed) ▼            ▼
                            done Job         done Job                same Job    store buffer (unless scratch)
                                                                                  put_result, put_record,
                                                                                  in-process map

A Job is the engine's unit of work: one transformation in flight, shared by everyone who asks
for its tf meanwhile. Where it runs is a Backend (backend.py, which draws the protocol):
`InProcess` runs it in a thread of this process (with `run_here`, in the caller's thread);
the worker pool and Dask register themselves with `set_backend` (they live in higher layers,
so this module never imports them). A transformation whose `__meta__` says `local` always runs
in this process. Failures and cancellations are never cached.

A job submitted with `defer_writes=True` (the Python API's) stores its result through write-behind
(store/behind.py): queued in memory, written in order (buffers, result row, record) soon after, when
the queue fills, at `flush()` and at exit. Before a job is handed to another backend (a worker
process, Dask, a jobserver) everything queued is written, so the other side finds it.
"""

import logging
import os
import threading
from concurrent.futures import Future, wait

from ..celltypes import deserialize
from ..checksum import Checksum, checksum_of
from ..errors import CacheMissError, CanceledError, SeamlessError, StrictDunderError, TransformationError, UsageError
from ..store.storage import get_storage
from ..execution import execute
from ..identity import META_PREFIX, ORTHOGONAL_DUNDERS
from .backend import Backend, InProcess

logger = logging.getLogger(__name__)

_lock = threading.RLock()
_results: dict = {}  # tf hex -> result hex, this process
_running: dict = {}  # tf hex -> Job
_backend = None


def _after_fork_in_child() -> None:
    """A child forked (os.fork) while jobs ran: the threads and workers that would finish them are
    the parent's, so the child must compute those transformations itself, not wait for them."""
    global _lock
    _lock = threading.RLock()  # another thread of the parent may have held it
    _running.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def set_backend(backend: Backend | None) -> None:
    """Run every non-local job on `backend` (see backend.py) from now on; None: in this process."""
    global _backend
    _backend = backend


def get_backend() -> Backend | None:
    """The backend installed with set_backend, or None."""
    return _backend


def _reset():
    with _lock:
        _results.clear()
        _running.clear()


def envelope_checksum(tf_dict: dict, scratch: bool) -> Checksum:
    """Checksum of the execution-only part of a transformation (used by strict attach)."""
    from ..celltypes import serialize

    tf_dunder = {k: v for k, v in tf_dict.items() if k in ORTHOGONAL_DUNDERS or k.startswith(META_PREFIX)}
    return checksum_of(serialize({"tf_dunder": tf_dunder, "scratch": bool(scratch)}, "plain"))


class Job:
    """The engine's unit of work: one transformation being computed, shared by every caller
    that asks for its tf meanwhile ("job" means this in the engine and above; the queue's
    unit is a QueueJob).

    `future` resolves to the result Checksum, or to the error (TransformationError and its
    subclasses, CacheMissError, StrictDunderError). `cached`: answered from the cache.
    `logs` (str), `result_buffer` (bytes, scratch results) once it ran here. `ended` is set
    once its execution is over, clean-up included (see join).
    """

    def __init__(self, tf_dict, tf, *, scratch=False, direct_print=False, fingertip=False, defer_writes=False,
                 _ended=None):
        self.tf_dict = tf_dict
        self.tf = Checksum(tf)
        self.scratch = scratch
        self.direct_print = direct_print
        self.fingertip = fingertip
        self.defer_writes = defer_writes
        self.future: Future = Future()
        self.cancel_event = threading.Event()
        self.cached = False
        self.logs = None
        self.result_buffer = None
        self.execution_mode = "process"
        self.backend = None  # where it runs, once started
        self.ended = _ended or threading.Event()  # set when its execution is over (see join)

    @property
    def envelope(self):
        """envelope_checksum of the job (None for a cache hit's job); computed when asked for."""
        return envelope_checksum(self.tf_dict, self.scratch) if self.tf_dict is not None else None

    def result(self, timeout=None) -> Checksum:
        return self.future.result(timeout)

    def cancel(self) -> bool:
        if self.future.done():
            return False
        self.cancel_event.set()
        if self.backend is not None:
            self.backend.cancel(self)
        exc = CanceledError("Transformation was canceled", tf=self.tf.hex())
        self._finish(exception=exc)
        return True

    def _finish(self, result=None, exception=None):
        with _lock:
            if _running.get(self.tf.hex()) is self:
                del _running[self.tf.hex()]
        if self.future.done():
            return
        if exception is not None:
            self.future.set_exception(exception)
        else:
            self.future.set_result(result)


_ENDED = threading.Event()  # the `ended` of every cache hit's job (nothing ever clears it)
_ENDED.set()


def _done_job(tf, result) -> Job:
    job = Job(None, tf, _ended=_ENDED)
    job.cached = True
    job.future.set_result(Checksum(result))
    return job


def lookup(tf, *, need_value=True, storage=None) -> Checksum | None:
    """The cached result of `tf`, or None. With need_value, a result whose buffer is gone or
    corrupt is no hit (the corrupt file is discarded, and the recomputation stores it again)."""
    storage = storage or get_storage()
    tfhex = Checksum(tf).hex()
    with _lock:
        result = _results.get(tfhex)
    if result is None:
        result = storage.get_result(tfhex)
    if result is None:
        return None
    if need_value and not storage.has_valid_buffer(result):
        logger.info("result %s of %s is no longer available; recomputing", result, tfhex)
        return None
    with _lock:
        _results[tfhex] = Checksum(result).hex()
    return Checksum(result)


def in_flight(tf) -> Job | None:
    """The Job computing `tf` in this process right now (the running latch), or None."""
    with _lock:
        return _running.get(Checksum(tf).hex())


def is_cached(tf) -> bool:
    return lookup(tf, need_value=False) is not None


def _claim(tf_dict, tf, *, scratch, need_value, use_cache, strict, direct_print, fingertip, defer_writes=False):
    """(job, new): a done job from the cache, the job in flight to attach to, or a new job
    (new=True) that now holds the running latch of `tf`."""
    tf = Checksum(tf)
    result = lookup(tf, need_value=need_value and not scratch) if use_cache else None
    if result is not None:
        return _done_job(tf, result), False
    job = Job(tf_dict, tf, scratch=scratch, direct_print=direct_print, fingertip=fingertip,
              defer_writes=defer_writes)
    with _lock:
        running = _running.get(tf.hex())
        if running is not None:
            if strict and running.envelope != job.envelope:
                raise StrictDunderError(
                    f"transformation {tf.hex()} is already running with different execution dunders"
                )
            return running, False
        _running[tf.hex()] = job
    return job, True


def submit(tf_dict, tf, *, scratch=False, need_value=True, strict=False, direct_print=False,
           fingertip=False, defer_writes=False) -> Job:
    """Start computing `tf` in the background (or attach to it, or answer from the cache).

    The job runs on the installed backend, else in a thread of its own. Returns the Job at
    once; `job.result()` waits. Raises StrictDunderError (with `strict`) when the run in
    flight has other execution dunders. `defer_writes`: store the result through write-behind.
    """
    job, new = _claim(tf_dict, tf, scratch=scratch, need_value=need_value, use_cache=True,
                      strict=strict, direct_print=direct_print, fingertip=fingertip, defer_writes=defer_writes)
    if new:
        _start(job)
    return job


def run_here(tf_dict, tf, *, scratch=False, need_value=True, use_cache=True, strict=False,
             direct_print=False, fingertip=False, on_job=None, defer_writes=False) -> Job:
    """Compute `tf` in the calling thread; return its Job, finished (result or exception set).

    A cache hit or a run in flight is waited for; a new job executes here (on a backend, this
    thread waits for it). `use_cache=False`: the caller found the cached result unusable (a
    file of it is gone), so it is recomputed, unless a run is already in flight.
    `on_job(job)` is called as soon as the job exists, before it runs (to keep a handle for
    cancel); an exception it raises fails a new job. An interrupt (KeyboardInterrupt) while
    the job runs here fails the job (on a backend: cancels it there) and is not re-raised: the
    caller decides. `defer_writes`: as submit.
    """
    job, new = _claim(tf_dict, tf, scratch=scratch, need_value=need_value, use_cache=use_cache,
                      strict=strict, direct_print=direct_print, fingertip=fingertip, defer_writes=defer_writes)
    if not new:
        if on_job is not None:
            on_job(job)
        if not job.future.done():  # a cache hit's is
            wait([job.future])
        return job
    try:
        if on_job is not None:
            on_job(job)
    except BaseException as exc:  # noqa: BLE001 - handled by _complete
        _complete(job, None, exc)
        return job
    _run_job(job)
    return job


def join(job: Job, timeout: float | None = None) -> bool:
    """Wait until the job's execution has ended, its clean-up included (a canceled job's future
    resolves at once, its processes may take a moment to go). False on timeout."""
    return job.ended.wait(timeout)


def flush() -> None:
    """Write what write-behind holds (the results of jobs with defer_writes, the API's buffers) to the
    buffer directories and result databases, in order: call it before another process is to read them.
    Raises what the write raises (an unwritable store only gives a warning)."""
    get_storage().flush()


def compute(tf_dict, tf, **kwargs) -> Checksum:
    """Blocking `submit`: the result checksum, or TransformationError."""
    return submit(tf_dict, tf, **kwargs).result()


def _execute_here(job: Job):
    """Execute the job in this thread (the in-process backend's `run`)."""
    return execute.execute(job.tf_dict, job.tf, resolve=resolve_buffer, cancel=job.cancel_event,
                           direct_print=job.direct_print, fingertip=job.fingertip)


_IN_PROCESS = InProcess(_execute_here)


def _backend_of(job: Job):
    """The installed backend, unless the job's `__meta__` says `local` (then: this process)."""
    if _backend is not None and not job.tf_dict.get("__meta__", {}).get("local"):
        return _backend
    return _IN_PROCESS


def _run_job(job: Job) -> None:
    """Run a new job in the calling thread (on a backend: wait here for it) and complete it."""
    from .running import registered

    job.backend = backend = _backend_of(job)
    outcome = error = None
    try:
        _hand_over(backend)
        with registered(job.tf, job.cancel):  # reachable by seamless-cancel
            if isinstance(backend, InProcess):  # it runs jobs in this process: in this thread, then
                outcome = backend.run(job)
            else:
                outcome = _wait_for(backend, job)
    except BaseException as exc:  # noqa: BLE001 - handled by _complete
        error = exc
    _complete(job, outcome, error)


def _hand_over(backend) -> None:
    """Before a job may go to another process (any backend but this module's own: a pool worker's
    in-process backend delegates to its parent), write what is queued; unless the backend says
    it does so itself (`flushes_write_behind`: once for a batch of jobs, in a thread of its own)."""
    if backend is not _IN_PROCESS and not getattr(backend, "flushes_write_behind", False):
        get_storage().flush()


def _wait_for(backend, job: Job):
    """Submit the job to `backend` and block until it reports back; the Outcome, or raise. An
    interrupt (KeyboardInterrupt, a signal's exception) cancels the job on the backend and is re-raised."""
    reported = Future()

    def done(outcome, error):
        if error is not None:
            reported.set_exception(error)
        else:
            reported.set_result(outcome)

    try:
        backend.submit(job, done)
        return reported.result()
    except BaseException as exc:
        if not isinstance(exc, Exception) and not reported.done():  # interrupted (Ctrl-C): the backend
            job.cancel_event.set()  # must not keep running it
            backend.cancel(job)
        raise


def _start(job: Job) -> None:
    """Start a new job on its backend; the backend's `done` completes it."""
    from .running import registered

    job.backend = backend = _backend_of(job)
    registration = registered(job.tf, job.cancel)  # reachable by seamless-cancel
    registration.__enter__()

    def done(outcome=None, error=None):
        registration.__exit__(None, None, None)
        _complete(job, outcome, error)

    try:
        _hand_over(backend)
        backend.submit(job, done)
    except BaseException as exc:  # noqa: BLE001 - handled by _complete
        done(error=exc)


def _complete(job: Job, outcome, error) -> None:
    """Store a finished execution (or report its failure), resolve the job, mark it ended."""
    try:
        if error is not None:
            raise error
        if job.cancel_event.is_set():
            raise CanceledError("Transformation was canceled")
        result = _store(job, outcome)
    except BaseException as exc:  # noqa: BLE001 - every failure reaches the waiting caller
        if not isinstance(exc, TransformationError | CacheMissError | UsageError):
            logger.debug("engine failure", exc_info=True)
            wrapped = TransformationError(f"{type(exc).__name__}: {exc}")
            wrapped.__cause__, exc = exc, wrapped
        job.logs = getattr(exc, "logs", job.logs)
        job._finish(exception=exc)
    else:
        job._finish(result=result)
    job.ended.set()


def _store(job: Job, outcome) -> Checksum:
    storage = get_storage()
    job.result_buffer = outcome.result_buffer
    job.logs = outcome.logs
    job.execution_mode = outcome.execution_mode
    if outcome.result_checksum is not None:  # stored where it ran (result_buffer: a copy, or None)
        result = Checksum(outcome.result_checksum)
    elif job.scratch:
        result = checksum_of(outcome.result_buffer)
    else:
        for cs, buf in outcome.extra_buffers.items():
            storage.put_buffer(buf, cs, defer=job.defer_writes)
        result = storage.put_buffer(outcome.result_buffer, defer=job.defer_writes)  # hashes it once
    storage.put_result(job.tf, result, defer=job.defer_writes)
    if outcome.extra_buffers:  # a deep result: its leaves can be recomputed through it
        storage.put_leaves(result, outcome.extra_buffers, defer=job.defer_writes)
    record = execute.make_record(job, outcome, result)
    storage.put_record(job.tf, result, record, defer=job.defer_writes)
    with _lock:
        _results[job.tf.hex()] = result.hex()
    return result


def result_value(result, celltype, *, job=None):
    """Deserialize a result (from the job's own bytes for scratch results, else from storage)."""
    if job is not None and job.result_buffer is not None:
        buffer = job.result_buffer
    else:
        buffer = get_storage().get_buffer(result)
    return deserialize(buffer, celltype)


MAX_FINGERTIP_DEPTH = 10
_fingertip = threading.local()  # .depth: recomputations nested in this thread


def resolve_buffer(cs, *, fingertip=False, storage=None) -> bytes:
    """The buffer of `cs` (bytes; CacheMissError if it cannot be had).

    With `fingertip`, a missing or corrupt buffer is recomputed by a transformation that produced
    it: one whose result is `cs`, or whose deep result holds `cs` as a leaf (a --scratch output).
    Their own missing inputs are recomputed the same way, at most MAX_FINGERTIP_DEPTH deep.
    """
    storage = storage or get_storage()
    try:
        return storage.get_buffer(cs)
    except CacheMissError:
        depth = getattr(_fingertip, "depth", 0)
        if not fingertip or depth >= MAX_FINGERTIP_DEPTH:
            raise
    _fingertip.depth = depth + 1
    try:
        for producer in _producers(cs, storage):
            try:
                _recompute(producer, storage)
                return storage.get_buffer(cs)
            except SeamlessError:
                continue
    finally:
        _fingertip.depth = depth
    raise CacheMissError(f"buffer {Checksum(cs).hex()} not available")


def _producers(cs, storage) -> list:
    """Transformations whose result is `cs`, then those whose deep result holds it as a leaf."""
    found = list(storage.get_rev_transformations(cs))
    for deep in storage.get_leaf_parents(cs):
        found += storage.get_rev_transformations(deep)
    return list(dict.fromkeys(found))


def _recompute(tf, storage) -> None:
    """Execute `tf` again, whatever the cache says (its cached result's buffers are what is missing)."""
    identity = resolve_buffer(tf, fingertip=True, storage=storage)
    tf_dict = deserialize(identity, "plain")
    tf_dict.setdefault("__output__", ["result", "mixed", None])
    run_here(tf_dict, tf, use_cache=False, fingertip=True).result()
