"""Transformation: one call of a transformer, computed lazily and cached.

    construct()  build the dict (dependencies computed first), store its buffers → tf Checksum
    compute()    look up or execute → result Checksum          run() → value
    start()      the same in the background; `await tf` → value

Buffers and results are stored through write-behind (engine.flush): what a method that hands out a
checksum (construct, compute, construction, computation) has stored is written before it returns, so
that another process can be given that checksum; run() and `await tf` give values and do not wait.
"""

import asyncio
import threading
import types
from concurrent.futures import Future

from .handles import Checksum
from ..errors import CanceledError, SeamlessError, TransformationError
from .. import engine
from ..identity import build_python_dict
from ..store.storage import store_buffers

DEFAULT_META = {"transformer_path": ["tf", "tf"], "local": False, "__direct_print__": False}


def _no_running_loop(what: str):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"Cannot block on {what}() from within the running event loop: await instead "
                       "('await tf' gives the value, 'await tf.computation()' the checksum; "
                       "use delayed, not direct)")


def _spawn_if_configured():
    """Config `execution: spawn`: the worker pool starts on first use; Dask (SEAMLESS_DASK_SCHEDULER
    or `execution: remote`): the client connects on first use; `remote: jobserver`: installed."""
    from ..backends import activate_backend

    activate_backend(pool=True)


def _again(exc: TransformationError, text: str) -> TransformationError:
    """A fresh error of the same type (WorkerCrashedError, CanceledError...) and attributes as
    `exc`, with the text of `.exception`: raising the future's own object again and again would
    pile up tracebacks."""
    return type(exc)(text, tf=exc.tf, logs=exc.logs, stderr=exc.stderr)


class Transformation:
    """A lazy transformation: code + arguments, identified by a checksum."""

    def __init__(self, transformer, arguments: dict):
        self._transformer = transformer
        self._language = transformer.language
        self._code_text = transformer.code_text
        self._celltypes = dict(transformer.celltypes._data)
        self._modules = dict(transformer.modules._data)
        self._globals = dict(transformer.globals._data)
        self._env = transformer.environment.to_dict()
        self._meta = {**DEFAULT_META, **transformer.meta}
        self._meta["__direct_print__"] = bool(transformer.direct_print)
        if transformer.local:
            self._meta["local"] = True
        self._scratch = bool(transformer.scratch)
        self._fingertip = bool(transformer.allow_input_fingertip)
        self._direct_print = bool(transformer.direct_print)
        self._arguments = dict(arguments)
        self._lock = threading.RLock()
        self._tf = None
        self._tf_dict = None
        self._job = None
        self._future = None
        self._canceled = False
        self._exception = None

    # -- construction -------------------------------------------------------------------
    def _dependency_checksum(self, name, dep: "Transformation") -> Checksum:
        try:
            return dep._compute()
        except TransformationError:
            raise TransformationError(
                f"Dependency '{name}' has an exception:\n{dep.exception}"
            ) from None

    def _bound_arguments(self, compute_dependencies=True):
        """The arguments with each dependency replaced by its result checksum (None: not known)."""
        arguments = {}
        for name, value in self._arguments.items():
            if isinstance(value, Transformation):
                if not compute_dependencies:
                    cached = value._cached_result()
                    if cached is None:
                        return None
                    value = cached
                else:
                    value = self._dependency_checksum(name, value)
            arguments[name] = value
        return arguments

    def _build(self, *, compute_dependencies=True):
        arguments = self._bound_arguments(compute_dependencies)
        if arguments is None:
            return None
        return build_python_dict(
            language=self._language, code_text=self._code_text, arguments=arguments,
            celltypes=self._celltypes, modules=self._modules, globals_=self._globals,
            env=self._env, meta=self._meta,
        )

    def construct(self) -> Checksum:
        """Build and store the transformation; return its checksum (dependencies are computed)."""
        tf = self._construct()
        engine.flush()
        return tf

    def _construct(self) -> Checksum:
        with self._lock:
            if self._tf is None:
                if self._exception is not None:
                    raise TransformationError(self._exception)
                try:
                    tf_dict, tf, buffers = self._build()
                except TransformationError as exc:
                    self._exception = str(exc)
                    raise
                store_buffers(buffers, defer=True)  # write-behind: see engine.flush
                self._tf_dict, self._tf = tf_dict, Checksum(tf)
            return self._tf

    def _cached_result(self):
        if self._future is not None and self._future.done() and self._future.exception() is None:
            return self._future.result()
        built = self._build(compute_dependencies=False) if self._tf is None else (None, self._tf, None)
        if built is None:
            return None
        return engine.lookup(built[1], need_value=False)

    # -- execution ----------------------------------------------------------------------
    def start(self, _inline=False) -> "Transformation":
        """Start computing in the background (dependencies too). Returns self."""
        with self._lock:
            if self._future is not None:
                return self
            self._future = Future()
            has_deps = any(isinstance(v, Transformation) for v in self._arguments.values())
        if has_deps:
            for value in self._arguments.values():
                if isinstance(value, Transformation):
                    value.start()
            threading.Thread(target=self._drive, daemon=True).start()
        else:
            self._drive(inline=_inline)
        return self

    def _drive(self, inline=False):
        try:
            tf = self._construct()
            if not self._meta.get("local"):
                _spawn_if_configured()
            options = {"scratch": self._scratch, "direct_print": self._direct_print, "fingertip": self._fingertip,
                       "defer_writes": True}
            if inline:  # compute() would only wait: run it in this thread
                engine.run_here(self._tf_dict, tf, on_job=self._attach, **options)
            else:
                self._attach(engine.submit(self._tf_dict, tf, **options))
        except BaseException as exc:  # noqa: BLE001 - reported through the future
            self._fail(exc)

    def _attach(self, job):
        with self._lock:
            self._job = job
        job.future.add_done_callback(self._job_done)

    def _job_done(self, fut):
        exc = fut.exception()
        if exc is not None:
            self._fail(exc)
        elif not self._future.done():
            self._future.set_result(Checksum(fut.result()))

    def _fail(self, exc):
        if not isinstance(exc, SeamlessError):
            wrapped = TransformationError(f"{type(exc).__name__}: {exc}")
            wrapped.__cause__, exc = exc, wrapped
        with self._lock:
            if self._exception is None:
                self._exception = "Transformation was canceled" if self._canceled else str(exc)
        if not self._future.done():
            self._future.set_exception(exc)

    def compute(self) -> Checksum:
        """The result checksum (blocking)."""
        _no_running_loop("compute")
        result = self._compute()
        engine.flush()
        return result

    def _compute(self) -> Checksum:
        self.start(_inline=True)
        try:
            return self._future.result()
        except TransformationError as exc:
            raise _again(exc, self._exception) from exc.__cause__

    def run(self):
        """The result value (blocking)."""
        _no_running_loop("run")
        result = self._compute()
        return self._value(result)

    def _value(self, result):
        job = self._job
        celltype = self._celltypes.get("result", "mixed")
        return engine.result_value(result, celltype, job=job)

    async def computation(self) -> Checksum:
        """The result checksum; the running event loop is never blocked."""
        result = await self._computation()
        await asyncio.to_thread(engine.flush)
        return result

    async def _computation(self) -> Checksum:
        await asyncio.to_thread(self.start)
        try:
            return await asyncio.wrap_future(self._future)
        except TransformationError as exc:
            raise _again(exc, self._exception) from exc.__cause__

    async def construction(self) -> Checksum:
        return await asyncio.to_thread(self.construct)

    async def _value_async(self):
        result = await self._computation()
        return await asyncio.to_thread(self._value, result)

    def __await__(self):
        return self._value_async().__await__()

    def task(self) -> asyncio.Task:
        """An asyncio Task of the running event loop that gives the value (`await tf.task()`).
        Raises RuntimeError outside a running event loop (use run() there)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("tf.task() needs a running event loop; use tf.run() outside one") from None
        return loop.create_task(self._value_async())

    def cancel(self, recursive=False) -> bool:
        """Cancel the computation; terminal. Returns False if it had already finished."""
        if recursive:
            for value in self._arguments.values():
                if isinstance(value, Transformation):
                    value.cancel(recursive=True)
        with self._lock:
            if self._future is not None and self._future.done():
                return False
            self._canceled = True
            self._exception = "Transformation was canceled"
            if self._future is None:
                self._future = Future()
            job = self._job
        if job is not None:
            job.cancel()
        if not self._future.done():
            self._future.set_exception(CanceledError("Transformation was canceled"))
        return True

    # -- properties ---------------------------------------------------------------------
    @property
    def transformation_checksum(self) -> Checksum:
        return self.construct()

    @property
    def checksum(self) -> Checksum:
        if self._exception is not None:
            raise TransformationError("Transformation has an exception")
        if self._future is None:
            raise TransformationError("Transformation has not been computed")
        if not self._future.done():
            raise TransformationError("Transformation is still computing")
        engine.flush()  # a checksum handed out: another process may be given it
        return self._future.result()

    @property
    def result(self):
        return self.run()

    @property
    def exception(self) -> str | None:
        return self._exception

    @property
    def logs(self) -> str | None:
        job = self._job
        if job is None or job.cached:
            return None
        return job.logs

    @property
    def status(self) -> str:
        if self._canceled:
            return "canceled"
        if self._exception is not None:
            return "exception"
        if self._future is None:
            return "ready"
        return "OK" if self._future.done() else "pending"

    @property
    def meta(self):
        return types.MappingProxyType(self._meta)

    @meta.setter
    def meta(self, value):
        raise TransformationError("Transformation definition is immutable")

    def is_cached(self) -> bool:
        """Whether a result is known (memory, then databases). Never executes anything."""
        return self._cached_result() is not None

    def __repr__(self):
        return f"<Transformation {self.status} {self._tf.hex() if self._tf else ''}>"
