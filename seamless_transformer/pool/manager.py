"""The parent side of the worker pool: spawn, dispatch, crash recovery, delegation, cancel.

One I/O thread per pool waits on every worker's pipe and process sentinel (and a wake-up pipe)
and handles all messages; the pool state is guarded by one lock. Tasks wait in a FIFO until
some worker has enough free slots (SEAMLESS_WORKER_TRANSFORMATION_THROTTLE, default 3;
`ncores` k takes k slots) and then go to the least-loaded one (load, then index).

Batches: `submit` only queues the task and wakes the I/O thread, which dispatches once per
round, after it has handled every message that arrived: the tasks that one worker gets in a
round travel in one `run` message, and the results that arrive together free their slots
together. A batch never exceeds the worker's free slots, so every task of a batch starts at
once in a thread of its own, exactly as when they came one by one: for crashes and cancel a
batch is nothing but its tasks. Finished tasks reach their callbacks as one list per message
(`completing` callbacks run on one completion thread, in order), the place where the parent
persists the results of a batch.

Crashes (sentinel, pipe EOF, or a ping unanswered for PING_TIMEOUT): the worker is killed if
needed, its segments unlinked and it is respawned in place. A task that was alone on the
worker is at fault: its attempt is counted. Tasks that shared the worker are suspects: they
are re-dispatched uncounted, each alone on a worker, so that a crash then is theirs. After
SEAMLESS_WORKER_MAX_RETRIES retries (default 2) a task fails with WorkerCrashedError. A worker that
dies before it is ready, or is not ready STARTUP_TIMEOUT after its launch, failed to start; after
MAX_STARTUP_FAILURES of those in a row it is not relaunched, and once no worker is left every queued
and new task fails with WorkerCrashedError.
"""

import logging
import os
import threading
import time
from collections import deque

from . import shm
from .channel import Channel, ChannelClosed, error_from_wire, outcome_from_wire
from .delegation import Delegation
from .. import config
from .handles import Task, WorkerHandle
from .worker import settings_snapshot, worker_main

logger = logging.getLogger(__name__)

PING_INTERVAL = 0.5
PING_TIMEOUT = 1.0
BUSY_CPU_FRACTION = 0.05  # a silent worker that used this much CPU per timeout is busy, not hung
TERMINATE_GRACE = 2.0
MAX_STARTUP_FAILURES = 3
STARTUP_TIMEOUT = 60.0  # a relaunched worker not ready by then failed to start (it is killed)
COMPLETION_THREADS = 4  # store results and wake waiters, off the I/O thread
DRAIN_LIMIT = 64  # messages of one worker handled per round, so that no worker starves the others


class Pool(Delegation):
    def __init__(self, n: int):
        import multiprocessing

        self.ctx = multiprocessing.get_context("spawn")
        self.throttle = config.worker_throttle()
        self.max_retries = config.worker_max_retries()
        self.limit = shm.threshold()
        self.segments = shm.SegmentTable()
        self.workers = [WorkerHandle(i + 1) for i in range(n)]
        self.pending = deque()
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.closing = False
        self._echo = {}
        self._completion = None
        self._wake_r, self._wake_w = self.ctx.Pipe(duplex=False)
        self._woken = False  # a wake-up byte is on its way: the I/O thread will run a round anyway
        self._last_startup_failure = None  # "<worker>: <why>" of the latest start-up failure
        self._io = threading.Thread(target=self._io_loop, name="seamless-pool-io", daemon=True)

    # -- life cycle ---------------------------------------------------------------------
    def start(self, timeout: float) -> None:
        from ..config import get_settings

        settings = get_settings()
        for worker in self.workers:
            self._launch(worker, settings)
        self._io.start()
        deadline = time.monotonic() + timeout
        with self.lock:
            while not all(w.ready for w in self.workers):
                left = deadline - time.monotonic()
                if any(w.startup_failures for w in self.workers):
                    raise RuntimeError("a worker exited during start-up")
                if left <= 0:
                    raise RuntimeError(f"Workers did not announce themselves ready within {timeout:g} s")
                self.changed.wait(min(left, 0.1))

    def _launch(self, worker: WorkerHandle, settings) -> None:
        parent_conn, child_conn = self.ctx.Pipe()
        process = self.ctx.Process(target=worker_main, name=worker.name, daemon=True,
                                   args=(child_conn, worker.name, settings_snapshot(settings)))
        process.start()
        child_conn.close()
        worker.process, worker.channel = process, Channel(parent_conn, worker.name)
        worker.ready = worker.dead = False
        worker.sent_settings, worker.ping_sent, worker.kill_reason = settings, None, None
        worker.last_seen = time.monotonic()  # launched: the start-up deadline counts from here
        worker.load, worker.tasks = 0, {}
        worker.generation += 1
        self._wake()

    def _wake(self):
        """Make the I/O thread run a round (rebuild its wait list, dispatch). A burst of calls
        writes one byte: each write releases the GIL, and getting it back costs the caller up
        to a switch interval while the other threads of the process are busy."""
        if self._woken:
            return
        self._woken = True
        try:
            self._wake_w.send_bytes(b"x")
        except OSError:
            pass

    def close(self, wait=True) -> None:
        with self.lock:
            while wait and any(not w.dead for w in self.workers) and (
                    self.pending or any(w.tasks for w in self.workers if not w.dead)):
                self.changed.wait(0.1)
            self.closing = True
            dropped = list(self.pending)
            self.pending.clear()
            for worker in self.workers:
                dropped += list(worker.tasks.values())
                worker.tasks.clear()
                worker.kill_reason = "shutdown"
        for task in dropped:
            self._finish(task, error=_shutdown_error())
        for worker in self.workers:
            if worker.channel is not None and not worker.channel.closed:
                worker.channel.send("event", "stop")
        for worker in self.workers:
            if worker.process is None:
                continue
            worker.process.join(TERMINATE_GRACE if wait else 0.2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(TERMINATE_GRACE)
            worker.channel.close(0.2)
        self._wake()
        if self._io.ident is not None:  # not started when a launch failed in start()
            self._io.join(TERMINATE_GRACE)
        self.segments.unlink_all()
        if self._completion is not None:
            self._completion.shutdown(wait=wait)

    # -- submission ---------------------------------------------------------------------
    def make_task(self, tf_dict, tf, on_done, *, scratch=False, fingertip=False,
                  direct_print=False, job=None) -> Task:
        from ..store.storage import get_storage

        payload = {"tf_dict": tf_dict, "tf": str(tf), "scratch": scratch,
                   "fingertip": fingertip, "direct_print": direct_print}
        storage = get_storage()
        if not storage.persistent:  # memory-only storage: the worker cannot read our inputs
            from .worker import pin_buffers

            payload["inputs"] = pin_buffers(tf_dict, storage)
        ncores = (tf_dict.get("__meta__") or {}).get("ncores") or 1
        slots = min(max(int(ncores), 1), self.throttle)
        return Task(payload, slots, on_done, job=job)

    def completing(self, callback):
        """`callback(outcome, error)` marked to run on a completion thread instead of the I/O
        thread, with the other completions of its batch."""
        return _Completing(callback)

    def submit(self, task: Task) -> None:
        """Queue `task`; the I/O thread dispatches it with whatever else is queued by then.
        Raises CanceledError after shutdown (as for a task the shutdown dropped), WorkerCrashedError
        when no worker can be started."""
        self.submit_many([task])

    def submit_many(self, tasks: list) -> None:
        """Queue `tasks` at once (they reach the I/O thread's next round together); raises as `submit`."""
        with self.lock:
            if self.closing:
                raise _shutdown_error()
            if self._given_up():
                raise self._given_up_error()
            self.pending.extend(tasks)
        self._wake()

    def _given_up(self) -> bool:
        """Every worker failed to start MAX_STARTUP_FAILURES times in a row: none will run a task."""
        return all(w.dead and w.startup_failures >= MAX_STARTUP_FAILURES for w in self.workers)

    def _given_up_error(self):
        from ..errors import WorkerCrashedError

        return WorkerCrashedError(
            f"no worker could be started ({MAX_STARTUP_FAILURES} attempts per worker, the last: "
            f"{self._last_startup_failure}); shut the pool down and spawn it again")

    def _need(self, task) -> int:
        return self.throttle if task.solo else task.slots

    def _choose(self, need: int, exclude=None):
        best = None
        for worker in self.workers:
            # a worker being terminated on purpose (cancel, shutdown) takes no new work
            if not worker.ready or worker.dead or worker.kill_reason or worker is exclude:
                continue
            if self.throttle - worker.load >= need and (best is None or worker.load < best.load):
                best = worker
        return best

    def _dispatch_pending(self) -> None:
        """Give queued tasks to workers with free slots: one `run` message per worker (under the lock)."""
        batches = {}
        for task in list(self.pending):
            if not any(w.ready and not w.dead and not w.kill_reason and w.load < self.throttle
                       for w in self.workers):
                break  # every slot is taken: leave the rest of the queue alone
            worker = self._choose(self._need(task))
            if worker is not None:
                self.pending.remove(task)
                worker.tasks[task.id] = task
                worker.load += self._need(task)
                batches.setdefault(worker.index, (worker, []))[1].append(task)
        for worker, tasks in batches.values():
            self._send_batch(worker, tasks)

    def _dispatch(self, task: Task, worker: WorkerHandle) -> None:
        """Give one task to `worker` now (under the lock)."""
        worker.tasks[task.id] = task
        worker.load += self._need(task)
        self._send_batch(worker, [task])

    def _send_batch(self, worker: WorkerHandle, tasks: list) -> None:
        """Send tasks already in worker.tasks as one `run` message (under the lock)."""
        from ..config import get_settings
        from ..errors import TransformationError

        batch, failed = [], []
        for task in tasks:
            try:
                payload = shm.encode(task.payload, lambda d: self.segments.create(len(d), worker.name, d),
                                     self.limit)
            except OSError as exc:  # e.g. /dev/shm is full: this task fails, the others go
                del worker.tasks[task.id]
                worker.load -= self._need(task)
                failed.append((task, None, TransformationError(f"cannot send inputs to a worker: {exc}")))
                continue
            batch.append([task.id, payload])
        self._finish_many(failed)
        if not batch:
            return
        message = {"tasks": batch}
        settings = get_settings()
        if settings is not worker.sent_settings:
            message["settings"] = settings_snapshot(settings)
            worker.sent_settings = settings
        try:
            worker.channel.send("request", "run", None, message)
            worker.run_messages += 1
        except (ChannelClosed, OSError):
            # the worker died before the I/O thread noticed: the tasks stay in worker.tasks,
            # and the death handler re-dispatches them with the worker's other tasks
            self._wake()

    def _finish(self, task: Task, outcome=None, error=None) -> None:
        self._finish_many([(task, outcome, error)])

    def _finish_many(self, finished) -> None:
        """Call the callbacks of [(task, outcome, error)], each once; `completing` ones go to a
        completion thread together, in order."""
        later = []
        for task, outcome, error in finished:
            if task.done:
                continue
            task.done = True
            if isinstance(task.on_done, _Completing):
                later.append((task.on_done.callback, outcome, error))
            else:
                _call(task.on_done, outcome, error)
        if later:
            self._complete_later(later)

    def _complete_later(self, calls) -> None:
        from concurrent.futures import ThreadPoolExecutor

        with self.lock:
            if self._completion is None:
                self._completion = ThreadPoolExecutor(COMPLETION_THREADS, "seamless-pool-done")
            executor = self._completion
        try:
            executor.submit(_call_all, calls)
        except RuntimeError:  # the executor is shut down (interpreter exit): run them here
            _call_all(calls)

    # -- the I/O thread -----------------------------------------------------------------
    def _io_loop(self) -> None:
        from multiprocessing.connection import wait

        while True:
            with self.lock:
                if self.closing:
                    return
                live = [w for w in self.workers if not w.dead and w.process is not None]
                objects = {self._wake_r: None}
                for worker in live:
                    objects[worker.channel.conn] = worker
                    objects[worker.process.sentinel] = worker
            for obj in wait(list(objects), timeout=PING_INTERVAL / 2):
                if obj is self._wake_r:
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
                    # after the bytes are read (a byte written meanwhile would be read with them,
                    # leaving the flag set and no byte on its way: every later wake-up lost) and
                    # before the round, so that a later submit wakes us again
                    self._woken = False
                    continue
                worker = objects[obj]
                if obj is worker.process.sentinel:
                    generation = worker.generation
                    self._drain(worker)  # what it sent before it died; a broken pipe there handles the death
                    if worker.generation == generation:  # else its successor runs already: leave it alone
                        self._on_death(worker, self._exit_text(worker))
                else:
                    self._drain(worker, limit=DRAIN_LIMIT)
            with self.lock:
                if not self.closing:
                    self._dispatch_pending()  # one round: the freed slots and queued tasks meet once
                    self.changed.notify_all()
            self._check_pings()

    def _drain(self, worker: WorkerHandle, limit=None) -> None:
        """Handle the messages waiting on the worker's pipe (at most `limit`)."""
        conn = worker.channel.conn
        handled = 0
        while not worker.dead and (limit is None or handled < limit):
            try:
                if not conn.poll():
                    return
                msg = worker.channel.recv()
            except (ChannelClosed, OSError, EOFError):
                worker.process.join(0.5)
                self._on_death(worker, self._exit_text(worker))
                return
            handled += 1
            try:
                self._handle(worker, msg)
            except Exception:  # noqa: BLE001 - the I/O thread must survive any one message
                logger.exception("worker pool: cannot handle %r from %s", msg.get("op"), worker.name)
            finally:
                self.segments.unlink_taken()

    def _exit_text(self, worker) -> str:
        code = worker.process.exitcode
        if code is None:
            return "its pipe closed"
        return f"signal {-code}" if code < 0 else f"exit code {code}"

    def _check_pings(self) -> None:
        now = time.monotonic()
        with self.lock:
            for worker in self.workers:
                if not worker.dead and not worker.ready and now - worker.last_seen > STARTUP_TIMEOUT:
                    self._on_death(worker, f"not ready within {STARTUP_TIMEOUT:g} s")  # hung in start-up
                if worker.dead or not worker.ready:
                    continue
                if worker.ping_sent is None:
                    if now - worker.last_seen >= PING_INTERVAL:
                        worker.ping_sent, worker.cpu_at_ping = now, _cpu_seconds(worker.pid)
                        try:
                            worker.channel.send("request", "ping", 0)
                        except ChannelClosed:  # a write found the pipe gone before the sentinel fired
                            self._on_death(worker, self._exit_text(worker))
                elif now - worker.ping_sent > PING_TIMEOUT:
                    cpu, runnable = _cpu_seconds(worker.pid), _runnable(worker.pid)
                    if runnable or (cpu is not None and worker.cpu_at_ping is not None and (
                            cpu - worker.cpu_at_ping > BUSY_CPU_FRACTION * PING_TIMEOUT)):
                        # busy in C code that holds the GIL (a big sort, sum(range(...))), or
                        # waiting for a CPU on a loaded machine: it computes, so it is not
                        # hung; give it another period
                        worker.ping_sent, worker.cpu_at_ping = now, cpu
                        continue
                    self._on_death(worker, f"no answer to a ping for {PING_TIMEOUT:g} s")

    def _handle(self, worker: WorkerHandle, msg: dict) -> None:
        kind, op, rid, payload = msg["kind"], msg["op"], msg["id"], msg["payload"]
        with self.lock:
            worker.ping_sent, worker.last_seen = None, time.monotonic()  # it is alive
            if op == "ready":
                worker.ready, worker.pid, worker.startup_failures = True, payload["pid"], 0
                self._dispatch_pending()
                self.changed.notify_all()
            elif op == "alloc":
                try:
                    answer = {"ref": self.segments.create(payload["size"], worker.name)}
                except OSError as exc:  # e.g. /dev/shm is full
                    answer = {"error": f"no shared memory for {payload['size']} bytes: {exc}"}
                worker.channel.send("response", "alloc", rid, answer)
            elif op == "release":
                for name in payload["names"]:
                    self.segments.unlink(name)
            elif op == "run" and kind == "response":
                results = []
                for task_id, wire in payload["results"]:
                    task = worker.tasks.pop(task_id, None)
                    if task is not None:
                        worker.load -= self._need(task)
                    results.append((task, wire))
        if op == "run" and kind == "response":
            self._on_results(results)
        elif op == "delegate":
            self._on_delegate(worker, rid, payload)
        elif op == "echo" and kind == "response":
            self._echo.pop(rid).set_result(shm.decode(payload, self.segments.take)["data"])

    def _on_results(self, results) -> None:
        """[(task or None if canceled meanwhile, wire)] of one message: decode, then finish together."""
        finished = []
        for task, wire in results:
            wire = shm.decode(wire, self.segments.take)
            if task is None:
                continue
            if "outcome" in wire:
                outcome = outcome_from_wire(wire["outcome"])
                outcome.retry_count = task.attempts
                finished.append((task, outcome, None))
            else:
                finished.append((task, None, error_from_wire(wire)))
        self._finish_many(finished)

    # -- crashes ------------------------------------------------------------------------
    def _on_death(self, worker: WorkerHandle, why: str) -> None:
        from ..errors import WorkerCrashedError

        with self.lock:
            if worker.dead:
                return
            worker.dead = True
            if worker.process.is_alive():
                worker.process.kill()
            worker.process.join(TERMINATE_GRACE)
            if worker.process.exitcode is not None and why == "its pipe closed":
                why = self._exit_text(worker)
            worker.channel.close(0)
            self.segments.unlink_owned_by(worker.name)
            tasks, worker.tasks, worker.load = list(worker.tasks.values()), {}, 0
            failed = []
            if worker.kill_reason is None and len(tasks) == 1:
                tasks[0].attempts += 1  # alone on the worker: this task is at fault
            for task in tasks:
                task.solo = task.solo or worker.kill_reason is None
                if task.attempts > self.max_retries:
                    failed.append(task)
                else:
                    self.pending.appendleft(task)
            if self.closing:
                return
            if not worker.ready:
                worker.startup_failures += 1
                self._last_startup_failure = f"{worker.name}: {why}"
            respawned = worker.startup_failures < MAX_STARTUP_FAILURES
            if respawned:
                self._launch(worker, worker.sent_settings)
            else:
                logger.error("%s failed to start %d times; not respawned", worker.name,
                             worker.startup_failures)
            self._dispatch_pending()
            abandoned = []
            if self._given_up():  # what is queued would wait forever
                abandoned, given_up = list(self.pending), self._given_up_error()
                self.pending.clear()
        if respawned:
            logger.warning("%s died (%s); respawned", worker.name, why)
        for task in failed:
            self._finish(task, error=WorkerCrashedError(
                f"worker died ({why}) while running this transformation ({task.attempts} attempts)"))
        for task in abandoned:
            self._finish(task, error=given_up)

    # -- cancel -------------------------------------------------------------------------
    def cancel_job(self, job) -> None:
        from ..errors import CanceledError

        with self.lock:
            tasks = [t for t in self.pending if t.job is job]
            for task in tasks:
                self.pending.remove(task)
            for worker in self.workers:
                mine = [t for t in worker.tasks.values() if t.job is job]
                if mine and not worker.dead:
                    for task in mine:
                        del worker.tasks[task.id]
                        worker.load -= self._need(task)
                    tasks += mine
                    worker.kill_reason = "cancel"
                    threading.Thread(target=_terminate, args=(worker.process,), daemon=True).start()
        for task in tasks:
            self._finish(task, error=CanceledError("Transformation was canceled"))

    # -- transport benchmark ---------------------------------------------------------------
    def echo(self, data: bytes, timeout=60) -> bytes:
        from concurrent.futures import Future

        with self.lock:
            worker = self._choose(1)
            if worker is None:
                raise RuntimeError("no idle worker")
            future, rid = Future(), next(Task._ids)
            self._echo[rid] = future
            payload = shm.encode({"data": data}, lambda d: self.segments.create(len(d), worker.name, d),
                                 self.limit)
            worker.channel.send("request", "echo", rid, payload)
        return future.result(timeout)


class _Completing:
    """A task callback that runs on a completion thread (Pool.completing)."""

    def __init__(self, callback):
        self.callback = callback

    def __call__(self, outcome, error):
        self.callback(outcome, error)


def _call(callback, outcome, error) -> None:
    try:
        callback(outcome, error)
    except Exception:  # noqa: BLE001 - a broken callback must not stop the I/O thread
        logger.exception("worker pool callback failed")


def _call_all(calls) -> None:
    for callback, outcome, error in calls:
        _call(callback, outcome, error)


def _cpu_seconds(pid):
    """CPU time used so far by process `pid` (None if unknown)."""
    try:
        import psutil

        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    except Exception:  # noqa: BLE001 - psutil missing or the process is gone
        return None


def _runnable(pid) -> bool:
    """Whether a thread of process `pid` runs or waits for a CPU right now (False if unknown).

    Linux only: the state letter of each /proc/PID/task/TID/stat ("R": running or runnable).
    """
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2:][:1] == b"R":  # the name in (...) may hold spaces
            return True
    return False


def _terminate(process) -> None:
    """SIGTERM, then SIGKILL after a grace period."""
    process.terminate()
    process.join(TERMINATE_GRACE)
    if process.is_alive():
        process.kill()


def _shutdown_error():
    from ..errors import CanceledError

    return CanceledError("the worker pool was shut down")
