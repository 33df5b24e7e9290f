"""Compute one transformation: look it up, attach to it, or execute it (SPEC §3.4).

    submit(tf_dict, tf) ──► in-process map ──► result DBs ──► running latch ──► start the execution
                                 │ hit            │ hit (buffer           │ attach     │
                                 ▼                ▼  obtainable if needed) ▼            ▼
                              done Job         done Job                same Job    store buffer (unless scratch)
                                                                                    put_result, put_record,
                                                                                    in-process map

An execution starts in one of three ways: on a backend that has `start(job, done)` (the worker
pool), without a thread of ours; in a thread of its own; or, with `submit(..., inline=True)`,
from the caller's thread through `run_inline`. Failures and cancellations are never cached.
Where the code runs is decided by a backend: `None` runs it in this process; the worker pool
and Dask register themselves with `set_backend` (they live in higher layers, so this module
never imports them). A transformation whose `__meta__` says `local` always runs in this process.
"""

import logging
import threading
from concurrent.futures import Future

from ..celltypes import deserialize
from ..checksum import Checksum, checksum_of
from ..errors import CacheMissError, CanceledError, SeamlessError, StrictDunderError, TransformationError, UsageError
from ..store.storage import get_storage
from ..execution import execute
from ..identity import ORTHOGONAL_DUNDERS

logger = logging.getLogger(__name__)

_lock = threading.RLock()
_results: dict = {}  # tf hex -> result hex, this process
_running: dict = {}  # tf hex -> Job
_backend = None


def set_backend(backend):
    """Install a callable(job) -> execute.Outcome that runs jobs elsewhere; None = in-process."""
    global _backend
    _backend = backend


def _reset():
    with _lock:
        _results.clear()
        _running.clear()


def envelope_checksum(tf_dict: dict, scratch: bool) -> Checksum:
    """Checksum of the execution-only part of a transformation (used by strict attach)."""
    from ..celltypes import serialize

    tf_dunder = {k: v for k, v in tf_dict.items() if k in ORTHOGONAL_DUNDERS or k.startswith("META__")}
    return checksum_of(serialize({"tf_dunder": tf_dunder, "scratch": bool(scratch)}, "plain"))


class Job:
    """One transformation being computed. `future` resolves to the result Checksum."""

    def __init__(self, tf_dict, tf, *, scratch=False, direct_print=False, fingertip=False):
        self.tf_dict = tf_dict
        self.tf = Checksum(tf)
        self.scratch = scratch
        self.direct_print = direct_print
        self.fingertip = fingertip
        self.envelope = envelope_checksum(tf_dict, scratch) if tf_dict is not None else None
        self.future: Future = Future()
        self.cancel_event = threading.Event()
        self.cached = False
        self.unstarted = False
        self.logs = None
        self.result_buffer = None
        self.execution_mode = "process"

    def result(self, timeout=None) -> Checksum:
        return self.future.result(timeout)

    def cancel(self) -> bool:
        if self.future.done():
            return False
        self.cancel_event.set()
        if _backend is not None and hasattr(_backend, "cancel"):
            _backend.cancel(self)
        exc = CanceledError("Transformation was canceled")
        exc.tf = self.tf.hex()
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


def _done_job(tf, result) -> Job:
    job = Job(None, tf)
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


def is_cached(tf) -> bool:
    return lookup(tf, need_value=False) is not None


def submit(tf_dict, tf, *, scratch=False, need_value=True, strict=False, direct_print=False,
           fingertip=False, inline=False) -> Job:
    """Start computing `tf` (or attach to it, or answer from the cache).

    The execution runs in a thread of its own. With `inline`, a new job is returned unstarted
    (`job.unstarted`): the caller, who would only block waiting for it anyway, keeps a handle
    on it and then runs it in its own thread with `run_inline(job)`.
    """
    tf = Checksum(tf)
    result = lookup(tf, need_value=need_value and not scratch)
    if result is not None:
        return _done_job(tf, result)
    job = Job(tf_dict, tf, scratch=scratch, direct_print=direct_print, fingertip=fingertip)
    with _lock:
        running = _running.get(tf.hex())
        if running is not None:
            if strict and running.envelope != job.envelope:
                raise StrictDunderError(
                    f"transformation {tf.hex()} is already running with different execution dunders"
                )
            return running
        _running[tf.hex()] = job
    if inline:
        job.unstarted = True
        return job
    if _backend_starts(job):  # worker pool: no parent thread per job in flight
        _start_on_backend(job)
        return job
    thread = threading.Thread(target=_run_job, args=(job,), name=f"seamless-{tf.hex()[:8]}", daemon=True)
    thread.start()
    return job


def run_inline(job: Job) -> None:
    """Execute a job returned unstarted by `submit(..., inline=True)` in the calling thread."""
    if job.unstarted:
        job.unstarted = False
        _run_job(job)


def compute(tf_dict, tf, **kwargs) -> Checksum:
    """Blocking `submit`: the result checksum, or TransformationError."""
    return submit(tf_dict, tf, **kwargs).result()


def _run_job(job: Job):
    from .running import registered

    outcome = error = None
    try:
        with registered(job.tf, job.cancel):  # reachable by seamless-cancel (SPEC §6.5)
            if _on_backend(job):
                outcome = _backend(job)
            else:
                outcome = execute.execute(job.tf_dict, job.tf, resolve=resolve_buffer, cancel=job.cancel_event,
                                          direct_print=job.direct_print, fingertip=job.fingertip)
    except BaseException as exc:  # noqa: BLE001 - handled by _complete
        error = exc
    _complete(job, outcome, error)


def _backend_starts(job: Job) -> bool:
    """Whether the backend runs this job without a thread of ours: it has `start(job, done)`
    and calls `done(outcome, error)` later, from a thread of its own (the worker pool does)."""
    return _on_backend(job) and hasattr(_backend, "start")


def _on_backend(job: Job) -> bool:
    """Whether a backend runs this job (not one marked local in its `__meta__`)."""
    return _backend is not None and not job.tf_dict.get("__meta__", {}).get("local")


def _start_on_backend(job: Job) -> None:
    from .running import registered

    registration = registered(job.tf, job.cancel)  # reachable by seamless-cancel (SPEC §6.5)
    registration.__enter__()

    def done(outcome=None, error=None):
        registration.__exit__(None, None, None)
        _complete(job, outcome, error)

    try:
        _backend.start(job, done)
    except BaseException as exc:  # noqa: BLE001 - handled by _complete
        done(error=exc)


def _complete(job: Job, outcome, error) -> None:
    """Store a finished execution (or report its failure) and resolve the job."""
    try:
        if error is not None:
            raise error
        if job.cancel_event.is_set():
            raise CanceledError("Transformation was canceled")
        result = _store(job, outcome)
    except BaseException as exc:  # noqa: BLE001 - every failure reaches the waiting caller
        if not isinstance(exc, TransformationError | CacheMissError | UsageError):
            logger.debug("engine failure", exc_info=True)
            exc = TransformationError(f"{type(exc).__name__}: {exc}")
        job.logs = getattr(exc, "logs", job.logs)
        job._finish(exception=exc)
        return
    job._finish(result=result)


def _store(job: Job, outcome) -> Checksum:
    storage = get_storage()
    job.result_buffer = outcome.result_buffer
    job.logs = outcome.logs
    job.execution_mode = outcome.execution_mode
    if job.scratch:
        result = checksum_of(outcome.result_buffer)
    else:
        for cs, buf in outcome.extra_buffers.items():
            storage.put_buffer(buf, cs)
        result = storage.put_buffer(outcome.result_buffer)  # hashes it once
    storage.put_result(job.tf, result)
    if outcome.extra_buffers:  # a deep result: its leaves can be recomputed through it
        storage.put_leaves(result, outcome.extra_buffers)
    record = execute.make_record(job, outcome, result)
    storage.put_record(job.tf, result, record)
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
    job = Job(tf_dict, tf, fingertip=True)
    _run_job(job)
    job.result()
