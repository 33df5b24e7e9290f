"""The Dask side: the task function that runs one transformation on a Dask worker.

    run_transformation(tf_dict, tf, tf_dunder, scratch, storage_spec, fingertip=False)
        -> ("ok", result_hex, outcome)  the result buffer is stored (scratch: it is in outcome)
         | ("error", wire)              the failure (pool.channel's wire form, traceback included)

The worker process takes its storage from `storage_spec` (see spec.storage_spec): the
SEAMLESS_REMOTE_CLIENTS shape of the client's servers (the worker keeps its own SEAMLESS_CACHE,
if any, in front), or the client's embedded cache directory, which the worker must reach. Each
distinct spec gets a Storage of its own, kept for the life of the worker process, and every
task (and the nested transformations it runs) uses the Storage of its own spec: clients with
different storage can share one cluster. The process-wide config (project, stage, record mode
of nested records, the environment a bash job inherits) follows the latest spec.

A failure is returned, not raised: Dask then never retries a failing transformation, and the
client rebuilds the same TransformationError (the user's traceback) the engine raises in process.
A worker that dies mid-task is another matter: Dask runs the task again elsewhere, up to the
scheduler's `distributed.scheduler.allowed-failures` (3 by default) and then fails the future
with KilledWorker. The result is stored by whichever attempt finishes (buffer stores are
content-addressed, so a repeated store changes nothing) and its row is written once, by the client.

Nested transformations (code that runs transformations) go to Dask too, through the worker's
client (`distributed.get_client()`, keys `seamless-tf-<tf>` as everywhere). The transformation
itself runs in a helper thread while the task's own thread waits for it; as soon as any nested
transformation is submitted from this worker process, every waiting task thread secedes from
the worker's thread pool (`distributed.secede`, `rejoin` when it is done), so the nested tasks
always find a free thread: no deadlock, also with one worker of one thread.
"""

import json
import os
import threading

from ..checksum import Checksum
from ..engine.backend import InProcess
from ..store.storage import get_storage, storage_in_thread
from .spec import outcome_of, storage_spec, task_key, tf_dunder

MAX_INLINE_BYTES = 64 << 20  # a scratch result travels back inline, up to this size
MAX_COPY_BYTES = 1 << 20  # a stored result travels back too, up to this size
CANCEL_POLL_SECONDS = 0.25  # how often a waiting task thread looks whether its task was released

_lock = threading.Lock()
_installed = {"spec": None}
_storages = {}  # storage spec (JSON) -> its Storage, in this worker process
_task = threading.local()  # .spec: the storage spec of the task this thread works for
_waiting = set()  # the _Wait of every task thread of this process that waits for its execution


def _install(storage_spec: dict):
    """The Storage of the client's spec (made once per distinct spec); the process-wide config
    follows the latest spec."""
    from .. import engine

    with _lock:
        if getattr(engine.get_backend(), "is_dask_client", False):  # the client's own process (threaded workers)
            _installed["spec"] = storage_spec
            return get_storage()
        own_cache = _installed.setdefault("own_cache", os.environ.get("SEAMLESS_CACHE"))
        key = json.dumps(storage_spec, sort_keys=True)
        if key not in _storages:
            from ..store.storage import Storage

            _storages[key] = Storage(_settings_of(storage_spec, own_cache))
        if _installed["spec"] != storage_spec:
            _install_config(storage_spec, own_cache)
        return _storages[key]


def _install_config(storage_spec: dict, own_cache) -> None:
    """Make the process-wide config follow the client's (under _lock)."""
    from .. import config, engine

    _set_env("SEAMLESS_REMOTE_CLIENTS", json.dumps(storage_spec["clients"]) if storage_spec.get("clients") else None)
    _set_env("SEAMLESS_CACHE", storage_spec.get("directory") or own_cache)  # servers: the worker's own cache
    config.init(project=storage_spec.get("project"), subproject=storage_spec.get("subproject"),
                stage=storage_spec.get("stage"), substage=storage_spec.get("substage"),
                prog="seamless-dask-worker")
    config.select_record(storage_spec.get("record"))
    engine.set_backend(_Nested(_run_nested))
    _installed["spec"] = storage_spec


def _settings_of(storage_spec: dict, own_cache):
    """config.Settings whose storage is the one `storage_spec` names (see the module docstring)."""
    from .. import config
    from .._util import record_replace

    sub = config._storage_subpath(storage_spec.get("project"), storage_spec.get("subproject"),
                                  storage_spec.get("stage"))
    clients = storage_spec.get("clients") or {}
    root = storage_spec.get("directory") or (own_cache if clients else None)
    embedded = (os.path.join(os.path.abspath(os.path.expanduser(root)), sub),) if root else ()
    buffers, databases = clients.get("buffer") or [], clients.get("database") or []

    def urls(entries, readonly):
        return tuple(e["url"] for e in entries if "url" in e and bool(e.get("readonly")) == readonly)

    return record_replace(
        config.get_settings(), persistent=True, buffer_dirs=embedded,
        database_paths=tuple(os.path.join(d, "seamless.db") for d in embedded),
        readonly_buffer_dirs=tuple(e["directory"] for e in buffers if "directory" in e),
        hashserver_urls=urls(buffers, False), readonly_hashserver_urls=urls(buffers, True),
        database_urls=urls(databases, False), readonly_database_urls=urls(databases, True))


def serves_tasks() -> bool:
    """Whether this process is a Dask worker that has run a transformation task."""
    return _installed["spec"] is not None


def _set_env(name: str, value) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def run_transformation(tf_dict, tf, tf_dunder, scratch, storage_spec, fingertip=False):
    """The Dask task of one transformation (see the module docstring)."""
    from ..pool.channel import error_to_wire

    try:
        storage = _install(storage_spec)
        if _installed.get("client") is None:
            from distributed import get_client

            _installed["client"] = get_client()
        with _for_task(storage, storage_spec):
            outcome = _execute_waiting(_with_dunder(tf_dict, tf_dunder), tf, fingertip)
            outcome.stored_for = storage_spec
            return ("ok", _store(outcome, scratch), outcome)
    except BaseException as exc:  # noqa: BLE001 - a failure is an answer, not a Dask error
        return ("error", error_to_wire(exc))


class _for_task(storage_in_thread):
    """This thread works for a task of `spec`, with its Storage."""

    def __init__(self, storage, spec):
        super().__init__(storage)
        self.spec = spec

    def __enter__(self):
        self.previous_spec, _task.spec = getattr(_task, "spec", None), self.spec
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        _task.spec = self.previous_spec
        super().__exit__(*exc)


class _Nested(InProcess):
    """The worker's engine backend: a nested transformation runs in a thread of its own (which
    submits it as a Dask task and waits), with the storage of the task that asked for it."""

    def submit(self, job, done) -> None:
        task = _for_task(get_storage(), getattr(_task, "spec", None))

        def run():
            with task:
                self._run(job, done)

        threading.Thread(target=run, name=f"seamless-{job.tf.hex()[:8]}", daemon=True).start()


def _with_dunder(tf_dict: dict, tf_dunder: dict) -> dict:
    return {**tf_dict, **(tf_dunder or {})}


def _execute(tf_dict, tf, fingertip, cancel):
    from .. import engine
    from ..execution.execute import execute

    return execute(tf_dict, Checksum(tf), resolve=engine.resolve_buffer, cancel=cancel, fingertip=fingertip)


class _Wait:
    """A task thread waiting for its execution, ready to secede when nested work appears."""

    def __init__(self):
        self.changed = threading.Condition()
        self.finished = False
        self.secede_wanted = False


def _execute_waiting(tf_dict, tf, fingertip):
    """Execute in a helper thread; the task thread waits, seceding if nested work is submitted,
    and stopping a bash job whose task the scheduler released (client.cancel)."""
    wait, box, cancel, released = _Wait(), {}, threading.Event(), _release_watch()
    task = _for_task(get_storage(), getattr(_task, "spec", None))

    def target():
        try:
            with task:
                box["outcome"] = _execute(tf_dict, tf, fingertip, cancel)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the task thread
            box["error"] = exc
        with wait.changed:
            wait.finished = True
            wait.changed.notify_all()

    with _lock:
        _waiting.add(wait)
    seceded = False
    try:
        threading.Thread(target=target, name=f"seamless-dask-{tf[:8]}", daemon=True).start()
        with wait.changed:
            while not wait.finished:
                if wait.secede_wanted and not seceded:
                    seceded = _secede()
                wait.changed.wait(CANCEL_POLL_SECONDS)
                if not cancel.is_set() and released():
                    cancel.set()
    finally:
        with _lock:
            _waiting.discard(wait)
        if seceded:
            from distributed import rejoin

            rejoin()
    if "error" in box:
        raise box["error"]
    return box["outcome"]


def _release_watch():
    """released() -> bool: whether the scheduler has released this task meanwhile (Dask cannot
    stop a running task: it marks it "cancelled" on the worker and lets it finish)."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        worker, key = get_worker(), thread_state.key
    except (ImportError, AttributeError, ValueError):  # not a task thread of a worker
        return lambda: False

    def released() -> bool:
        task = worker.state.tasks.get(key)
        return task is None or task.state in ("cancelled", "released", "forgotten")

    return released


def _secede() -> bool:
    from distributed import secede

    try:
        secede()
    except (AttributeError, ValueError):  # not a task thread of a worker
        return False
    return True


def free_waiting_threads() -> None:
    """Nested work is coming: every waiting task thread of this process secedes."""
    with _lock:
        waits = list(_waiting)
    for wait in waits:
        with wait.changed:
            wait.secede_wanted = True
            wait.changed.notify_all()


def _store(outcome, scratch) -> str:
    """Store the result where the client reads it; the outcome keeps a copy of a small result
    only (scratch: nothing is stored, the outcome travels whole, as in process)."""
    from ..checksum import checksum_of
    from ..store.storage import get_storage

    if outcome.result_checksum is not None:  # a big bash RESULT, stored from its file already
        return outcome.result_checksum
    buffer = outcome.result_buffer
    if scratch:
        if len(buffer) > MAX_INLINE_BYTES:
            from ..errors import TransformationError

            raise TransformationError(f"scratch result of {len(buffer)} bytes is larger than the "
                                      f"{MAX_INLINE_BYTES >> 20} MiB a Dask task returns inline")
        return checksum_of(buffer).hex()
    storage = get_storage()
    for cs, extra in outcome.extra_buffers.items():
        storage.put_buffer(extra, cs)
    result = storage.put_buffer(buffer)
    if outcome.extra_buffers:  # a deep result: its leaves can be recomputed through it
        storage.put_leaves(result, outcome.extra_buffers)
    # a small result and its leaves also travel back: the caller needs no fetch (and a client of
    # other storage whose identical task this was can store them: spec._adopt)
    if len(buffer) + sum(map(len, outcome.extra_buffers.values())) > MAX_COPY_BYTES:
        outcome.result_buffer, outcome.extra_buffers = None, {}
    outcome.result_checksum, outcome.output_total_bytes = result.hex(), len(buffer)
    return result.hex()


def _run_nested(job):
    """The worker's engine backend: run a nested transformation as a Dask task of its own
    (through the worker's client, taken by a task thread: helper threads cannot ask for it)."""
    free_waiting_threads()
    future = submit_job(_installed["client"], job, getattr(_task, "spec", None))
    return outcome_of(future.result(), job, spec=getattr(_task, "spec", None))


def submit_job(client, job, spec=None):
    """Submit an engine job as its Dask task; the distributed Future."""
    return submit_jobs(client, [job], spec)[0]


def submit_jobs(client, jobs, spec=None) -> list:
    """Submit engine jobs as their Dask tasks, one client.map per target node; their Futures,
    in the order of `jobs`."""
    from ..config import get_settings

    spec = spec if spec is not None else storage_spec(get_settings())
    groups = {}  # node -> [index in jobs]
    for index, job in enumerate(jobs):
        groups.setdefault((job.tf_dict.get("__meta__") or {}).get("node"), []).append(index)
    futures = [None] * len(jobs)
    for node, indices in groups.items():
        chosen = [jobs[i] for i in indices]
        mapped = client.map(run_transformation, [j.tf_dict for j in chosen], [j.tf.hex() for j in chosen],
                            [tf_dunder(j.tf_dict) for j in chosen], [j.scratch for j in chosen],
                            [spec] * len(chosen), [j.fingertip for j in chosen],
                            key=[task_key(j.tf) for j in chosen], pure=False,
                            workers=[node] if node else None, allow_other_workers=False)
        for i, future in zip(indices, mapped):
            futures[i] = future
    return futures
