"""The spawn-based worker pool: `spawn`, `has_spawned`, `shutdown_workers`.

Once spawned, the pool is the engine's backend: every non-local transformation of this
process runs in a worker. Nothing is imported or started until `spawn` is called.
"""

import atexit
import os
import threading
import warnings

SPAWN_TIMEOUT = 60.0
SENDER_IDLE_SECONDS = 5.0  # the sender thread ends after this long without work

_lock = threading.Lock()
_pool = None
_atexit_installed = False


class PoolBackend:
    """The engine backend (engine/backend.py) that runs jobs in the pool's workers: `submit`
    holds no thread of ours while the job is in a worker; `done` runs on a completion thread.

    When write-behind holds something (a worker reads the inputs from the cache), `submit` only
    builds the task and queues it; a sender thread writes the queue once for all the tasks queued
    meanwhile and then hands them to the pool together. Otherwise, with no task queued before it,
    the task goes to the pool at once."""

    flushes_write_behind = True

    def __init__(self, pool):
        self.pool = pool
        self._cond = threading.Condition()
        self._outbox = []  # (job, done, storage, task) not handed to the pool yet
        self._in_hand = 0  # taken by the sender, not handed to the pool yet
        self._sender = None
        self._closed = False  # closed: the sender ends as soon as the outbox is empty

    def submit(self, job, done):
        from ..store.storage import get_storage

        task = self.pool.make_task(job.tf_dict, job.tf, self.pool.completing(done),
                                   scratch=job.scratch, fingertip=job.fingertip,
                                   direct_print=job.direct_print, job=job)
        storage = get_storage()  # the submitting thread's
        with self._cond:
            if self._outbox or self._in_hand or storage.has_queued_writes():
                self._outbox.append((job, done, storage, task))
                self._ensure_sender()
                self._cond.notify_all()
                return
        # nothing to write and nothing ahead of it: straight to the pool, without a thread switch
        self.pool.submit(task)
        if job.cancel_event.is_set():  # canceled while it was handed over: cancel it there
            self.pool.cancel_job(job)

    def _ensure_sender(self) -> None:
        """Start the sender thread unless it runs (under self._cond)."""
        if self._sender is None:
            self._sender = threading.Thread(target=self._send_loop, name="seamless-pool-submit", daemon=True)
            self._sender.start()

    def _send_loop(self):
        try:
            while batch := self._take():
                self._send(batch)
        finally:  # also when a callback raised: what is queued gets a new sender
            with self._cond:
                if self._sender is threading.current_thread():  # not after an idle end (see _take)
                    self._sender = None
                    self._in_hand = 0
                    if self._outbox:
                        self._ensure_sender()
                self._cond.notify_all()

    def _take(self) -> list:
        """Everything in the outbox (waiting for some); [] when the sender has been idle long enough
        or the backend is closed."""
        with self._cond:
            self._in_hand = 0
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._outbox or self._closed, SENDER_IDLE_SECONDS)
            if not self._outbox:  # idle or closed: end now, under the lock, so that the next submit starts a sender
                self._sender = None
                return []
            batch, self._outbox = self._outbox, []
            self._in_hand = len(batch)
            return batch

    def _send(self, batch: list) -> None:
        from ..engine.backend import hand_over_batch, report_failure

        try:
            keep = hand_over_batch(batch)
        except BaseException as exc:  # noqa: BLE001 - every job of the batch fails with it
            report_failure(batch, exc)
            return
        try:
            self.pool.submit_many([task for _job, _done, _storage, task in keep])
        except BaseException as exc:  # noqa: BLE001 - shut down, or no worker can start
            report_failure(keep, exc)
            return
        for job, _done, _storage, _task in keep:
            if job.cancel_event.is_set():  # canceled while it was handed over: cancel it there
                self.pool.cancel_job(job)

    def cancel(self, job):
        from ..engine.backend import report_failure

        with self._cond:
            queued = [entry for entry in self._outbox if entry[0] is job]
            for entry in queued:
                self._outbox.remove(entry)
        report_failure(queued)
        self.pool.cancel_job(job)

    def close(self, wait=True):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            if wait:  # what was submitted reaches the pool before it closes
                self._cond.wait_for(lambda: not self._outbox and not self._in_hand)
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
            os.register_at_fork(after_in_child=_forget_after_fork)
            _atexit_installed = True


def _forget_after_fork() -> None:
    """In a child forked (os.fork) from a process with a pool: the pool is the parent's. The child
    runs its transformations itself, and its exit neither stops nor terminates the parent's workers."""
    global _pool, _lock
    import multiprocessing.process

    from .. import engine

    _lock = threading.Lock()  # another thread of the parent may have held it
    pool, _pool = _pool, None
    if pool is None:
        return
    for worker in pool.workers:  # or multiprocessing's exit handler terminates them
        multiprocessing.process._children.discard(worker.process)
    backend = engine.get_backend()
    if isinstance(backend, PoolBackend) and backend.pool is pool:
        engine.set_backend(None)


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
        ours = isinstance(backend, PoolBackend) and backend.pool is pool
        if ours:
            engine.set_backend(None)
        config.note_spawned_workers(None)
    if ours:
        backend.close(wait=wait)  # what it has not handed to the pool yet goes first
    else:
        pool.close(wait=wait)


def get_pool():
    """The running pool (or None): for benchmarks and tests."""
    return _pool


__all__ = ["spawn", "has_spawned", "shutdown_workers", "ensure_spawned"]
