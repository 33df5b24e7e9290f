"""The client side: the engine backend that runs each transformation as one Dask task.

    engine ──submit(job, done)──► DaskBackend ──client.submit(run_transformation, ...,
                                                 key="seamless-tf-<tf>", pure=False,
                                                 workers=[node] if __meta__ names one)
    engine ◄──done(outcome)────── future callback ◄── ("ok", result hex, outcome) | ("error", wire)

The engine has already looked the transformation up (a cache hit submits nothing) and latched
it (one job per tf in this process). The key makes Dask itself merge identical transformations
in flight from different clients into one execution. When the task is done, the engine writes
the result row and the execution record (mode `remote`, remote_target `dask:<scheduler address>`);
the buffer was stored by the worker. `cancel` is `client.cancel`: the worker then stops a running
bash job (task.py); running Python code finishes, and its result is not recorded here.
"""

import threading

from .spec import outcome_of
from .task import free_waiting_threads, submit_job

class DaskBackend:
    """The engine backend (engine/backend.py) on a distributed.Client."""

    is_dask_client = True  # a Dask task that runs in this very process leaves its engine alone

    def __init__(self, client):
        self.client = client
        self.target = f"dask:{client.scheduler.address}"
        self._futures = {}  # id(job) -> Future, while in flight
        self._nodes = set()  # node names checked
        self._lock = threading.Lock()

    def submit(self, job, done) -> None:
        self._check_node((job.tf_dict.get("__meta__") or {}).get("node"))
        free_waiting_threads()  # threaded workers in this process: a waiting task may hold the thread
        future = submit_job(self.client, job)
        with self._lock:
            self._futures[id(job)] = future
        future.add_done_callback(lambda fut: self._finished(job, fut, done))

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

    def _finished(self, job, future, done) -> None:
        with self._lock:
            self._futures.pop(id(job), None)
        try:
            outcome = outcome_of(_answer(future), job, self.target)
        except BaseException as exc:  # noqa: BLE001 - every failure goes to done
            done(None, exc)
            return
        finally:
            future.release()
        done(outcome, None)

    def cancel(self, job) -> None:
        with self._lock:
            future = self._futures.get(id(job))
        if future is not None:
            self.client.cancel([future])

    def close(self, wait: bool = True) -> None:
        with self._lock:
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
