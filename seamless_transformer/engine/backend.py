"""Backends: where the engine runs a transformation that is not in the cache.

A backend takes an engine `Job` and runs it somewhere: in a thread of this process
(`InProcess`, the default, and always for a transformation whose `__meta__` says `local`),
in a spawned worker (pool/), and next on a jobserver or a Dask cluster. The engine installs
one with `engine.set_backend` (a higher layer registers itself: this layer never imports it).

    engine                                   backend                       elsewhere
      |                                         |                              |
      | submit(job, done) --------------------> |  returns at once             |
      |                                         | -- job.tf_dict, job.tf, ---> |  runs the
      |                                         |    scratch, fingertip,       |  transformation
      |                                         |    direct_print              |
      | cancel(job) --------------------------> | -- stop it (best effort) --> |
      |                                         | <-- result buffer, logs, --- |
      | <----- done(outcome, None) ------------ |     measurement              |
      |   or   done(None, error)                |                              |
      | close(wait=True) ---------------------> |  finish (or drop) the rest   |
      v                                         v                              v

`done` is called exactly once per submitted job, from any thread of the backend's (possibly
before `submit` returns); it stores the result, so the backend must not call it while holding
a lock its own I/O needs. The Outcome (execution.execute.Outcome) is what a backend reports:
`result_buffer` (the engine hashes it into the result checksum and stores it; when the backend
stored it where it ran, `result_checksum` and `output_total_bytes` say so, and `result_buffer`
is None or a copy for the caller), `extra_buffers`
(the leaves of a deep result), `logs`, and the `measurement`, `execution_mode`, `retry_count`
... that become the execution record. `error` is a SeamlessError where it can be
(TransformationError carrying `.logs`, WorkerCrashedError, CanceledError); anything else is
wrapped in a TransformationError by the engine, with the original as its `__cause__`.
`cancel` is called after the job's `cancel_event` is set; a backend whose execution watches
that event (InProcess) need do nothing more.

A job's input buffers may still be queued in this process (store/behind.py). Before handing a job
to a backend that is not this module's InProcess, the engine writes the queue out
(`Storage.flush`), in the submitting thread. A backend with `flushes_write_behind = True` takes
that over: it flushes the storage that was current in the submitting thread (`get_storage()`
there), after `submit` and before the job leaves this process, so that one flush serves a batch.
"""

import threading
from typing import Callable, Protocol

Done = Callable[[object, BaseException | None], None]  # done(outcome, error)


class Backend(Protocol):
    """What the engine needs from a place that runs transformations (see the module docstring)."""

    def submit(self, job, done: Done) -> None:
        """Start `job`; call `done(outcome, error)` once when it has finished."""

    def cancel(self, job) -> None:
        """Stop `job` if it still runs (its cancel_event is already set)."""

    def close(self, wait: bool = True) -> None:
        """Release the backend (after its running jobs if `wait`)."""


class InProcess:
    """The backend that runs each job in a thread of its own, in this process.

    `run(job) -> Outcome` executes the job (raising on failure): the engine hands in its
    in-process execution; a pool worker hands in its delegation to the parent.
    """

    def __init__(self, run: Callable):
        self.run = run

    def submit(self, job, done: Done) -> None:
        name = f"seamless-{job.tf.hex()[:8]}"
        threading.Thread(target=self._run, args=(job, done), name=name, daemon=True).start()

    def _run(self, job, done: Done) -> None:
        try:
            outcome = self.run(job)
        except BaseException as exc:  # noqa: BLE001 - every failure goes to done
            done(None, exc)
            return
        done(outcome, None)

    def cancel(self, job) -> None:
        """Nothing to do: the execution watches job.cancel_event."""

    def close(self, wait: bool = True) -> None:
        """Nothing to release: the threads end with their jobs."""


# -- for backends with flushes_write_behind: entries (job, done, storage, ...) queued by submit ----
def hand_over_batch(entries: list) -> list:
    """Write the write-behind queue of every storage the entries were submitted with (once each),
    then report a CanceledError to each entry whose job was canceled meanwhile: it never leaves.
    Returns the other entries. Raises what a flush raises."""
    for storage in {id(entry[2]): entry[2] for entry in entries}.values():
        storage.flush()  # the other process reads the inputs from the cache
    keep, canceled = [], []
    for entry in entries:
        (canceled if entry[0].cancel_event.is_set() else keep).append(entry)
    report_failure(canceled)
    return keep


def report_failure(entries: list, error: BaseException | None = None) -> None:
    """Report `error` (None: a CanceledError of its own) to the `done` of each entry; a `done` that
    raises is logged and the others are still reported."""
    from ..errors import CanceledError

    for entry in entries:
        try:
            entry[1](None, error if error is not None else CanceledError("Transformation was canceled"))
        except Exception:  # noqa: BLE001 - the others are still reported
            import logging

            logging.getLogger(__name__).exception("reporting the failure of %s failed", entry[0].tf.hex())
