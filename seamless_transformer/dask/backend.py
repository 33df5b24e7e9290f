"""The client side: the engine backend that runs each transformation as one Dask task.

    engine ──submit(job, done)──► DaskBackend outbox ──► submitter thread: client.map(run_transformation,
                                                          ..., key=["seamless-tf-<tf>", ...], pure=False,
                                                          workers=[node] if __meta__ names one)
    engine ◄──done(outcome)────── collector thread ◄── one client.gather per batch of finished futures
                                                       ("ok", result hex, outcome) | ("error", wire)

The engine has already looked the transformation up (a cache hit submits nothing) and latched
it (one job per tf in this process). The key makes Dask itself merge identical transformations
in flight from different clients into one execution. Jobs are submitted in batches (one
client.map, one message to the scheduler, for all the jobs that arrived meanwhile) and their
answers gathered in batches (one round trip for all the tasks that finished meanwhile), by two
threads of this backend: Dask's own callback thread only notes that a future is done. When the
task is done, the engine writes the result row and the execution record (mode `remote`,
remote_target `dask:<scheduler address>`); the buffer was stored by the worker before the task
returned, so a row never points at a buffer that was not stored. `cancel` is `client.cancel`
(or, for a job not yet submitted, taking it out of the outbox): the worker then stops a
running bash job (task.py); running Python code finishes, and its result is not recorded here.
"""

import logging
import threading

from ..config import get_settings
from ..store.storage import get_storage
from .spec import outcome_of, storage_spec
from ..engine.backend import hand_over_batch, report_failure
from .task import free_waiting_threads, submit_jobs

logger = logging.getLogger(__name__)

IDLE_SECONDS = 5.0  # a backend thread with nothing to do for this long ends (started again on demand)


class DaskBackend:
    """The engine backend (engine/backend.py) on a distributed.Client."""

    is_dask_client = True  # a Dask task that runs in this very process leaves its engine alone
    flushes_write_behind = True  # the submitter thread writes the queued inputs, once per batch

    def __init__(self, client):
        self.client = client
        self.target = f"dask:{client.scheduler.address}"
        self._futures = {}  # id(job) -> Future, while in flight
        self._outbox = []  # (job, done, storage) not submitted yet
        self._arrived = []  # (job, done, future) finished, not yet reported
        self._threads = {}  # name -> Thread
        self._nodes = set()  # node names checked
        self._cond = threading.Condition()

    def submit(self, job, done) -> None:
        self._check_node((job.tf_dict.get("__meta__") or {}).get("node"))
        free_waiting_threads()  # threaded workers in this process: a waiting task may hold the thread
        storage = get_storage()  # the submitting thread's (a Dask worker's nested job: its task's)
        with self._cond:
            self._outbox.append((job, done, storage))
            self._ensure_thread("submitter", self._submit_loop)
            self._cond.notify_all()

    def _check_node(self, node) -> None:
        """A node no worker answers to would leave the task pending forever: UsageError instead."""
        if node is None or node in self._nodes:
            return
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        names = {str(n) for address, info in workers.items()
                 for n in (address, info.get("name"), info.get("host"))}
        if str(node) not in names:
            from ..errors import UsageError

            raise UsageError(f"node {node}: no Dask worker of {self.target} has that name or address")
        self._nodes.add(node)

    def _ensure_thread(self, name, loop) -> None:
        """Start the backend thread `name` unless it runs (under self._cond)."""
        thread = self._threads.get(name)
        if thread is None or not thread.is_alive():
            thread = threading.Thread(target=loop, name=f"seamless-dask-{name}", daemon=True)
            self._threads[name] = thread
            thread.start()

    def _take(self, queue: list, name: str) -> list:
        """Everything in `queue` (waiting for some); [] when the thread `name` should end."""
        with self._cond:
            self._cond.wait_for(lambda: queue, IDLE_SECONDS)
            if not queue:
                self._threads.pop(name, None)
                return []
            batch = queue[:]
            queue.clear()
            return batch

    def _submit_loop(self) -> None:
        while batch := self._take(self._outbox, "submitter"):
            try:
                batch = hand_over_batch(batch)  # a worker reads the inputs from the shared cache
                futures = submit_jobs(self.client, [job for job, _done, _s in batch])
            except BaseException as exc:  # noqa: BLE001 - every job of the batch fails with it
                report_failure(batch, exc)
                continue
            for (job, done, _s), future in zip(batch, futures):
                with self._cond:
                    self._futures[id(job)] = future
                future.add_done_callback(lambda fut, job=job, done=done: self._on_done(job, done, fut))
                if job.cancel_event.is_set():  # canceled while it was being submitted
                    self.client.cancel([future])

    def _on_done(self, job, done, future) -> None:
        """Dask's callback thread: only queue the finished future for the collector."""
        with self._cond:
            self._arrived.append((job, done, future))
            self._ensure_thread("collector", self._collect_loop)
            self._cond.notify_all()

    def _collect_loop(self) -> None:
        while batch := self._take(self._arrived, "collector"):
            answers = self._gather([future for _job, _done, future in batch])
            for (job, done, future), answer in zip(batch, answers):
                with self._cond:
                    self._futures.pop(id(job), None)
                try:
                    self._report(job, done, future, answer)
                except BaseException:  # noqa: BLE001 - the rest of the batch must still be reported
                    logger.exception("reporting the Dask task of %s failed", job.tf.hex())

    def _gather(self, futures) -> list:
        """The answers of finished futures in one round trip; None for each one that must be
        asked alone (erred, canceled, or the batch failed)."""
        finished = [f for f in futures if f.status == "finished"]
        try:
            answers = dict(zip((f.key for f in finished), self.client.gather(finished))) if finished else {}
        except BaseException:  # noqa: BLE001 - each is asked alone, and reports its own error
            answers = {}
        return [answers.get(f.key) for f in futures]

    def _report(self, job, done, future, answer) -> None:
        try:
            outcome = outcome_of(answer if answer is not None else _answer(future), job, self.target,
                                 storage_spec(get_settings()))
        except BaseException as exc:  # noqa: BLE001 - every failure goes to done
            done(None, exc)
            return
        finally:
            future.release()
        done(outcome, None)

    def cancel(self, job) -> None:
        with self._cond:
            queued = [entry for entry in self._outbox if entry[0] is job]
            for entry in queued:
                self._outbox.remove(entry)
            future = self._futures.get(id(job))
        report_failure(queued)  # never submitted: it ends here
        if future is not None:
            self.client.cancel([future])

    def close(self, wait: bool = True) -> None:
        with self._cond:
            futures = list(self._futures.values())
        if not wait and futures:
            self.client.cancel(futures)


def _answer(future):
    """The task's answer; a Dask-level failure (KilledWorker, cancel) as our error."""
    from ..errors import CanceledError, WorkerCrashedError

    if future.cancelled():
        raise CanceledError("Transformation was canceled")
    try:
        return future.result()
    except BaseException as exc:  # noqa: BLE001 - KilledWorker and friends
        if type(exc).__name__ == "KilledWorker":
            raise WorkerCrashedError(f"Dask worker died while running this transformation ({exc})") from exc
        raise
