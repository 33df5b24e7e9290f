"""The worker process: executes transformations sent by the parent (protocol: channel.py).

This is the entry point of every `seamless-worker-N` process. It imports the execution layer
only, never the manager. The main thread reads the pipe and answers pings; every
transformation runs in a thread of its own, so `run_python`'s thread-routed capture gives
each one its own `.logs`. Nested transformations go through the worker's engine, whose
backend asks the parent (`delegate`); when the parent refuses, the worker runs them itself.
"""

import itertools
import os
import signal
import threading
from concurrent.futures import Future

from .. import config
from . import shm
from .channel import (Channel, ChannelClosed, error_from_wire, error_to_wire, outcome_from_wire,
                      outcome_to_wire)

BASH_CANCEL_GRACE = 3.5
RUN_THREADS = 64  # more than the slots the parent ever fills (nested runs happen in their asker's thread)


def settings_snapshot(settings) -> dict:
    """What a worker needs to resolve the same Settings as the parent (parent side)."""
    return {
        "workdir": settings.workdir, "project": settings.project, "subproject": settings.subproject,
        "stage": settings.stage, "substage": settings.substage, "record": settings.record,
        "env": {k: os.environ.get(k) for k in config.SETTINGS_ENV},  # the worker's own environment
    }


def _install_settings(snapshot: dict) -> None:
    from .. import config

    for key, value in snapshot["env"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    project = snapshot["project"] if snapshot["project"] != config.TOPLEVEL else None
    config.init(snapshot["workdir"], project=project, subproject=snapshot["subproject"],
                stage=snapshot["stage"], substage=snapshot["substage"], prog="seamless-worker")
    config.select_record(snapshot["record"])


class _Worker:
    def __init__(self, conn, name):
        self.name = name
        self.channel = Channel(conn, name, direct=True)
        self.limit = shm.threshold()
        self._ids = itertools.count(1)
        self._pending = {}  # request id -> Future of the parent's response payload
        self._runs = {}  # run id -> (done event, cancel event, language): the transformations running here
        self._lock = threading.RLock()
        self._index = itertools.count(1)
        self._threads = None
        self._outbox = []  # [run id, wire] of finished transformations not sent yet
        self._reply_lock = threading.Lock()

    # -- requests to the parent -------------------------------------------------------
    def request(self, op: str, payload: dict) -> dict:
        future = Future()
        with self._lock:
            rid = next(self._ids)
            self._pending[rid] = future
        self.channel.send("request", op, rid, payload)
        return future.result()

    def _alloc(self, data) -> shm.ShmRef:
        answer = self.request("alloc", {"size": len(data)})
        if "error" in answer:
            from ..errors import TransformationError

            raise TransformationError(answer["error"])
        ref = answer["ref"]
        shm.write_segment(ref, data)
        return ref

    def _receive(self, payload):
        """Decode a payload from the parent; tell it which of its segments it may unlink now."""
        refs = shm.refs_in(payload)
        if not refs:
            return payload
        decoded = shm.decode(payload, shm.map_segment)
        self.channel.send("event", "release", payload={"names": [r.name for r in refs]})
        return decoded

    # -- the receive loop ----------------------------------------------------------------
    def serve(self):
        self.channel.send("event", "ready", payload={"pid": os.getpid()})
        while True:
            try:
                msg = self.channel.recv()
            except ChannelClosed:
                break
            kind, op = msg["kind"], msg["op"]
            if kind == "response":
                with self._lock:
                    future = self._pending.pop(msg["id"], None)
                if future is not None:
                    future.set_result(msg["payload"])
            elif op == "ping":
                self.channel.send("response", "ping", msg["id"])
            elif op == "run":  # a batch: every task starts at once (the parent filled free slots only)
                payload = msg["payload"]
                if payload.get("settings"):
                    _install_settings(payload["settings"])
                for rid, task in payload["tasks"]:
                    self._start(rid, task)
            elif op == "echo":
                self._start_thread(self._echo, msg["id"], msg["payload"])
            elif op == "stop":
                break
        self.channel.close()

    def _start_thread(self, target, rid, payload):
        """Run target(rid, payload) on a thread of its own (idle threads are reused)."""
        if self._threads is None:
            from concurrent.futures import ThreadPoolExecutor

            self._threads = ThreadPoolExecutor(RUN_THREADS, thread_name_prefix=f"{self.name}-run")
        self._threads.submit(target, rid, payload)

    def _start(self, rid, payload):
        language = payload["tf_dict"].get("__language__", "python")
        with self._lock:
            self._runs[rid] = (threading.Event(), threading.Event(), language)  # done, cancel
        self._start_thread(self._run, rid, payload)

    def _echo(self, rid, payload):
        data = self._receive(payload)["data"]
        self.channel.send("response", "echo", rid, shm.encode({"data": data}, self._alloc, self.limit))

    # -- execution ------------------------------------------------------------------------
    def _run(self, rid, payload):
        try:
            from ..store.storage import store_buffers

            payload = self._receive(payload)
            store_buffers(payload.get("inputs"))
            outcome = self.execute(payload, self._runs[rid][1])
            wire = shm.encode({"outcome": outcome_to_wire(outcome)}, self._alloc, self.limit)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            wire = error_to_wire(exc)
        finally:
            with self._lock:
                done = self._runs.pop(rid)[0]
            done.set()
        self._reply(rid, wire)

    def _reply(self, rid, wire) -> None:
        """Send this result, with every other one that finished while a reply was being sent."""
        with self._lock:
            self._outbox.append([rid, wire])
        with self._reply_lock:
            with self._lock:
                results, self._outbox = self._outbox, []
            if results:  # else a thread that held the reply lock before us sent ours too
                self.channel.send("response", "run", None, {"results": results})

    def execute(self, payload, cancel):
        from .. import engine
        from ..execution.execute import execute

        outcome = execute(payload["tf_dict"], payload["tf"], resolve=engine.resolve_buffer, cancel=cancel,
                          direct_print=payload.get("direct_print", False),
                          fingertip=payload.get("fingertip", False))
        outcome.execution_mode = "spawn"
        outcome.worker_execution_index = next(self._index)
        return outcome

    def delegate(self, job):
        """The worker's engine backend runs this (in a thread per nested transformation): ask the
        parent to run it; returns its Outcome."""
        from ..store.storage import get_storage

        payload = {"tf_dict": job.tf_dict, "tf": job.tf.hex(), "scratch": job.scratch,
                   "fingertip": job.fingertip, "direct_print": job.direct_print}
        storage = get_storage()
        if not storage.persistent:
            payload["inputs"] = pin_buffers(job.tf_dict, storage)
        answer = self.request("delegate", shm.encode(payload, self._alloc, self.limit))
        answer = self._receive(answer)
        status = answer["status"]
        if status == "refused":  # no free slot anywhere: run it here (no deadlock)
            return self.execute(payload, job.cancel_event)
        if status == "error":
            raise error_from_wire(answer)
        return outcome_from_wire(answer["outcome"])

    def on_sigterm(self, signum, frame):
        """Cancel: stop running bash jobs (their process groups), then exit."""
        with self._lock:  # an RLock: the handler may interrupt the main thread holding it
            runs = list(self._runs.values())
        for _done, cancel, _language in runs:
            cancel.set()
        for done, _cancel, language in runs:
            if language == "bash":
                done.wait(BASH_CANCEL_GRACE)
        os._exit(128 + signum)


def pin_buffers(tf_dict, storage) -> dict:
    """The input buffers of `tf_dict` that `storage` holds, for a peer that cannot read it."""
    from ..execution.execute import pins_of

    buffers = {}
    for _name, _celltype, _sub, cs in pins_of(tf_dict):
        if storage.has_buffer(cs):
            buffers[cs] = storage.get_buffer(cs)
    return buffers



def profile_threads():
    """Profile every thread of this process that starts or runs Python code from now on (cProfile,
    one profiler per thread). Returns dump(path): it writes their merged stats to `path`."""
    import cProfile
    import sys

    profilers = []

    def first_call(*_args):
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()  # replaces this hook in the calling thread

    threading.setprofile(first_call)
    sys.setprofile(first_call)

    def dump(path):
        import pstats

        threading.setprofile(None)
        stats = pstats.Stats(*profilers) if profilers else None
        if stats is not None:
            stats.dump_stats(path)

    return dump


def worker_main(conn, name, snapshot):
    """Entry point of a worker process (multiprocessing spawn target)."""
    from .. import engine
    from ..engine.backend import InProcess

    try:
        import setproctitle  # optional: nicer `ps` output

        setproctitle.setproctitle(name)
    except ImportError:
        pass
    _install_settings(snapshot)
    worker = _Worker(conn, name)
    engine.set_backend(InProcess(worker.delegate))  # nested transformations: ask the parent
    signal.signal(signal.SIGTERM, worker.on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    profile_dir = config.worker_profile_dir()  # bench/pool.py --profile
    dump = profile_threads() if profile_dir else None
    worker.serve()
    if dump is not None:
        dump(os.path.join(profile_dir, f"{name}-{os.getpid()}.prof"))
