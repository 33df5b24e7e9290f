"""The spawn-based worker pool: `spawn`, `has_spawned`, `shutdown_workers`.

Once spawned, the pool is the engine's backend: every non-local transformation of this
process runs in a worker. Nothing is imported or started until `spawn` is called.
"""

import atexit
import os
import threading
import warnings

SPAWN_TIMEOUT = 60.0

_lock = threading.Lock()
_pool = None
_atexit_installed = False


class PoolBackend:
    """The engine backend (engine/backend.py) that runs jobs in the pool's workers: `submit`
    holds no thread of ours while the job is in a worker; `done` runs on a completion thread."""

    def __init__(self, pool):
        self.pool = pool

    def submit(self, job, done):
        task = self.pool.make_task(job.tf_dict, job.tf, self.pool.completing(done),
                                   scratch=job.scratch, fingertip=job.fingertip,
                                   direct_print=job.direct_print, job=job)
        self.pool.submit(task)

    def cancel(self, job):
        self.pool.cancel_job(job)

    def close(self, wait=True):
        self.pool.close(wait=wait)


def _in_main_process() -> bool:
    import multiprocessing

    # a spawned child re-imports the main module before its process object knows its parent,
    # but it already carries its own name then
    return (multiprocessing.parent_process() is None
            and multiprocessing.current_process().name == "MainProcess")


def spawn(n=None) -> None:
    """Start n worker processes (default os.cpu_count()); return when all are ready."""
    global _pool, _atexit_installed
    if not _in_main_process():
        warnings.warn("spawn() has no effect outside the main process", RuntimeWarning, stacklevel=2)
        return
    if n is None:
        n = os.cpu_count() or 1
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError("the number of workers must be a positive integer")
    from .. import config
    from .. import engine
    from .manager import Pool

    with _lock:
        if _pool is not None:
            raise RuntimeError("Workers have already been spawned")
        pool = Pool(n)
        try:
            pool.start(SPAWN_TIMEOUT)
        except BaseException:
            pool.close(wait=False)
            raise
        _pool = pool
        engine.set_backend(PoolBackend(pool))
        config.note_spawned_workers(n)
        if not _atexit_installed:
            atexit.register(shutdown_workers, wait=False)
            _atexit_installed = True


def ensure_spawned(n=None) -> None:
    """Spawn the pool unless it runs already (config `execution: spawn`); silent in workers."""
    if _pool is None and _in_main_process():
        try:
            spawn(n)
        except RuntimeError:
            if _pool is None:
                raise


def has_spawned() -> bool:
    return _pool is not None


def shutdown_workers(wait=True) -> None:
    """Stop the workers (after their current work if `wait`); later transformations run in-process."""
    global _pool
    from .. import config
    from .. import engine

    with _lock:
        pool, _pool = _pool, None
        if pool is None:
            return
        backend = engine.get_backend()
        if isinstance(backend, PoolBackend) and backend.pool is pool:
            engine.set_backend(None)
        config.note_spawned_workers(None)
    pool.close(wait=wait)


def get_pool():
    """The running pool (or None): for benchmarks and tests."""
    return _pool


__all__ = ["spawn", "has_spawned", "shutdown_workers", "ensure_spawned"]
