"""One queued job: its slots, targets and futures; cache and undo.

    QueueJob(number, cmd, workers)   .slots (ncores, at most workers), .targets [Target], .futures [paths]
    cached(job) -> bytes | None      the cached result, if it and every leaf to download are available
    undo(tf)                         declare the cached result irreproducible (CacheMissError if none)
    write_futures(job) / remove_futures(job)

Every path is joined to the job's recorded workdir; nothing depends on the process cwd.
"""

import os

from .._util import unlink_quiet
from ..errors import CacheMissError
from ..bashrun.targets import Target
from .queuefile import QueueCommand


class QueueJob:
    """A SUBMIT record being run: job number = record number."""

    def __init__(self, number: int, cmd: QueueCommand, workers: int):
        self.number = number
        self.cmd = cmd
        self.tf = cmd.tf_checksum
        meta = cmd.tf_dict.get("__meta__") or {}
        try:
            ncores = int(meta.get("ncores") or 1)
        except (TypeError, ValueError):
            ncores = 1
        self.slots = max(1, min(ncores, workers))
        self.targets = [Target(ws, local if local is not None else ws) for ws, local in cmd.result_targets.items()]
        self.futures = [os.path.join(cmd.workdir, t.local + ".FUTURE") for t in self.targets]
        self.engine_job = None  # the engine Job computing its tf (to cancel it)
        self.leader = False  # it holds slots: no run of its tf was in flight when it started


def cached(job: QueueJob):
    """The cached result buffer, if it (and every leaf the job will download) is available."""
    from ..store.outputs import usable_result
    from ..store.storage import get_storage

    params = job.cmd.params
    download = bool(params["download"]) and not params["scratch"]
    return usable_result(job.tf, job.targets, get_storage(), download=download)


def undo(tf: str) -> None:
    from ..store.storage import get_storage

    storage = get_storage()
    result = storage.get_result(tf)
    if result is None:
        raise CacheMissError("no cached result to undo")
    storage.declare_irreproducible(tf, result)


def write_futures(job: QueueJob) -> None:
    """<local>.FUTURE for every target (our submitter wrote them already; other submitters may not)."""
    if job.cmd.params["undo"]:
        return
    for target, path in zip(job.targets, job.futures):
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as future:  # a marker: no fsync needed
                future.write(f"{job.tf}.{target.workspace}\n")
        except OSError:
            pass


def remove_futures(job: QueueJob) -> None:
    for path in job.futures:
        unlink_quiet(path)
