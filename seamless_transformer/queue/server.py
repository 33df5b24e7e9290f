"""The seamless-queue server: run the jobs of a queue file, N slots at a time.

    QueueServer(path, workers=N, write_targets=..., quiet=False).serve() -> exit code

    main thread:  wait for the file ─► tail it every POLL_SECONDS ─► RecordBuffer (complete records only)
                  ─► pending (FIFO) ─► start the head when its slots are free ─► ... ─► EOF: wait, delete file
    job thread:   leader:   cache (result + every leaf to download) ──hit──┐
                            miss: engine.run_here in this thread (fingertip) ┴─► result buffer
                  follower: a job whose tf the engine has in flight attaches to that run (no slot)
                  then:     targets + sidecars in the job's recorded workdir ─► .FUTURE files removed

A job with `__meta__.ncores` k takes k slots (at most N). Nothing here changes the process cwd:
every local path is joined to the job's recorded workdir, so jobs of different directories run
side by side. `write_targets(prepared_like, result_buffer, storage, cwd=, download=, answer=)`
is injected by the CLI (the same code that writes seamless-run's outputs).
"""

import logging
import os
import sys
import threading
import time
from types import SimpleNamespace

from ..checksum import Checksum
from ..errors import CanceledError, SeamlessError, one_line
from . import queuefile
from ..store.outputs import download_size, leaf_checksums, parse_deep
from .jobs import QueueJob, cached, remove_futures, undo, write_futures

logger = logging.getLogger(__name__)

PROG = "seamless-queue"
POLL_SECONDS = 0.1
FUTURE_TOUCH_SECONDS = 30.0
CANCEL_JOIN_SECONDS = 5.0


class QueueServer:
    def __init__(self, path: str, *, workers: int | None = None, write_targets, quiet: bool = False,
                 poll: float = POLL_SECONDS, stream=None):
        self.path = path
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.write_targets = write_targets
        self.quiet = quiet
        self.poll = poll
        self.stream = stream if stream is not None else sys.stderr
        self._cond = threading.Condition()
        self._free = self.workers
        self._active: set = set()  # QueueJob started and not finished
        self._threads: list = []
        self._pending: list = []
        self._failures = 0
        self._records = 0
        self._eof = False
        self._print_lock = threading.Lock()
        self._stopping = threading.Event()
        self._bar = None  # a tqdm bar of finished jobs, on a TTY only

    # ------------------------------------------------------------ reporting

    def _say(self, text: str, error: bool = False) -> None:
        if self.quiet and not error:
            return
        with self._print_lock:
            if self._bar is not None:
                self._bar.write(f"{PROG}: {text}", file=self.stream)
                return
            self.stream.write(f"{PROG}: {text}\n")
            self.stream.flush()

    # ------------------------------------------------------------ main loop

    def serve(self) -> int:
        """Run every job of the queue file until its EOF record; 0 if all succeeded, else 1."""
        from ..backends import activate_backend

        activate_backend()  # Dask or `remote: jobserver`: the jobs run there
        while not os.path.exists(self.path):
            time.sleep(self.poll)
        fd = os.open(self.path, os.O_RDONLY)
        buffer = queuefile.RecordBuffer()
        self._bar = None if self.quiet else _job_bar(self.stream)
        next_touch = time.monotonic() + FUTURE_TOUCH_SECONDS
        try:
            while True:
                for record in buffer.feed(_read_new(fd)):
                    self._accept(record)
                with self._cond:
                    self._schedule()
                    if self._eof and not self._pending and not self._active:
                        break
                    self._cond.wait(self.poll)
                if time.monotonic() > next_touch:
                    self._touch_futures()
                    next_touch = time.monotonic() + FUTURE_TOUCH_SECONDS
        except BaseException:
            self._cancel_all()
            raise
        finally:
            os.close(fd)
            if self._bar is not None:
                self._bar.close()
        for thread in self._threads:
            thread.join()
        queuefile.write_status(self.path, self._failures)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        return 1 if self._failures else 0

    def _accept(self, record: bytes) -> None:
        if self._eof or queuefile.is_blank(record):
            return  # nothing after the EOF record counts
        self._records += 1
        number = self._records
        try:
            cmd = queuefile.parse(record)
        except ValueError:
            self._say(f"error: record {number} is not a valid queue command", error=True)
            return
        if cmd.kind == "EOF":
            self._eof = True
            return
        with self._cond:
            self._pending.append(QueueJob(number, cmd, self.workers))
        if self._bar is not None:
            self._bar.total += 1
            self._bar.refresh()

    def _schedule(self) -> None:
        """Start jobs in FIFO order while the head fits (called with the condition held). A job
        whose tf the engine is computing already (the engine's running latch) takes no slot."""
        from .. import engine

        while self._pending:
            job = self._pending[0]
            params = job.cmd.params  # a scratch result is not stored: a late follower could not read it
            job.leader = not params["undo"] and (params["scratch"] or engine.in_flight(job.tf) is None)
            if job.leader:
                if job.slots > self._free:
                    return
                self._free -= job.slots
            self._pending.pop(0)
            self._active.add(job)
            self._say(f"job {job.number} started: {job.cmd.original_command}")
            thread = threading.Thread(target=self._run, args=(job,), name=f"seamless-queue-{job.number}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()]  # a long queue keeps only its live threads
            self._threads.append(thread)
            thread.start()

    def _release(self, job: QueueJob) -> None:
        with self._cond:
            if job.leader:
                self._free += job.slots
                job.leader = False
            self._cond.notify_all()

    # ------------------------------------------------------------ one job

    def _run(self, job: QueueJob) -> None:
        try:
            write_futures(job)
            if job.cmd.params["undo"]:
                undo(job.tf)
            else:
                buffer = cached(job) if job.leader else None
                if buffer is None:
                    buffer = self._execute(job)
                self._write(job, buffer)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, the queue goes on
            self._failed(job, exc)
        else:
            self._say(f"job {job.number} finished")
        finally:
            remove_futures(job)
            self._release(job)
            with self._cond:
                self._active.discard(job)
                self._cond.notify_all()
            if self._bar is not None:
                self._bar.update()

    def _failed(self, job: QueueJob, exc: BaseException) -> None:
        with self._cond:
            self._failures += 1
        if isinstance(exc, CanceledError):
            reason = f"transformation {job.tf} was canceled"
        elif isinstance(exc, SeamlessError | OSError | ValueError | KeyError):
            reason = one_line(str(exc)) or type(exc).__name__
        else:
            logger.debug("job %d", job.number, exc_info=True)
            reason = f"{type(exc).__name__}: {one_line(str(exc))}"
        self._say(f"job {job.number} failed: {reason}", error=True)

    def _execute(self, job: QueueJob) -> bytes:
        from ..errors import TransformationError
        from ..store.storage import get_storage
        from .. import engine

        def claimed(engine_job):
            job.engine_job = engine_job
            if self._stopping.is_set():  # interrupted before this job got going (see _cancel_all)
                raise CanceledError("Transformation was canceled")

        engine_job = engine.run_here(job.cmd.tf_dict, Checksum(job.tf), scratch=bool(job.cmd.params["scratch"]),
                                     fingertip=True, use_cache=not job.leader, on_job=claimed)
        try:
            result = engine_job.result()
        except CanceledError:
            raise
        except TransformationError as exc:
            raise TransformationError(f"{exc} (transformation {job.tf[:12]})") from None
        if engine_job.result_buffer is not None:
            return engine_job.result_buffer
        return get_storage().get_buffer(result) if job.targets else result  # no targets: nothing to write

    def _write(self, job: QueueJob, buffer: bytes) -> None:
        if not job.targets:
            return
        from ..store.storage import get_storage

        storage = get_storage()
        params = job.cmd.params
        download = bool(params["download"]) and not params["scratch"] and self._download_confirmed(job, buffer, storage)
        prepared = SimpleNamespace(targets=job.targets)
        self.write_targets(prepared, buffer, storage, cwd=job.cmd.workdir, download=download, answer=True)

    def _download_confirmed(self, job: QueueJob, buffer: bytes, storage) -> bool:
        """The recorded thresholds; above them, only auto_confirm "yes" downloads (otherwise sidecars only)."""
        params = job.cmd.params
        checksums = leaf_checksums(job.targets, parse_deep(buffer))
        nbytes = download_size(checksums, storage)
        if len(checksums) <= int(params["max_download_files"]) and nbytes <= int(params["max_download_size"]):
            return True
        if params["auto_confirm"] == "yes":
            return True
        logger.warning("job %d: download of %d files (%d bytes) not confirmed; writing sidecars only",
                       job.number, len(checksums), nbytes)
        return False

    # ------------------------------------------------------------ housekeeping

    def _touch_futures(self) -> None:
        with self._cond:
            jobs = list(self._active) + list(self._pending)
        for job in jobs:
            for path in job.futures:
                try:
                    os.utime(path)
                except OSError:
                    pass

    def _cancel_all(self) -> None:
        """Interrupted: cancel every running execution and give the threads a moment to clean up."""
        self._stopping.set()
        with self._cond:
            engine_jobs = [job.engine_job for job in self._active if job.engine_job is not None]
        for engine_job in engine_jobs:
            engine_job.cancel()
        deadline = time.monotonic() + CANCEL_JOIN_SECONDS
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            pending, self._pending = self._pending, []
        for job in pending:  # every exit path removes the futures (they stay queued in the file)
            remove_futures(job)


def _job_bar(stream):
    """A bar of finished / submitted jobs when `stream` is a terminal and tqdm is installed."""
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    try:
        size = os.get_terminal_size(stream.fileno())
        columns, lines = size.columns, size.lines
    except (OSError, ValueError, AttributeError):
        columns = lines = 0
    # a fresh pty reports 0 x 0, and tqdm then draws nothing at all
    return tqdm(total=0, desc=PROG, unit="job", file=stream, leave=False, ncols=columns or 80, nrows=lines or 24)


def _read_new(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
