"""Scale out on Dask: `set_dask_client`, and the activation the commands share.

Activation, any one of: `set_dask_client(client | "tcp://host:port")` in Python; the variable
SEAMLESS_DASK_SCHEDULER=tcp://host:port (the commands and Python); config `execution: remote`
with `remote: daskserver` (which needs one of the other two for the address). From then on
every transformation of this process that is not `local` and not in the cache runs as one
Dask task (backend.py, task.py). Nothing imports `distributed` before one of these is used.
"""

import threading

_lock = threading.Lock()
_state = {"client": None, "backend": None, "own": False}


def set_dask_client(client) -> None:
    """Run transformations on Dask from now on: a distributed.Client, a scheduler address
    ("tcp://host:port", connected here) or None (back to this process; a client made here from
    an address is closed). Raises ImportError (with the pip line) when distributed is missing,
    and OSError when the scheduler cannot be reached (distributed's timeout, 30 s by default)."""
    from .. import config, engine

    with _lock:
        previous, owned = _state["client"], _state["own"]
        if client is None:
            if _state["backend"] is not None and engine.get_backend() is _state["backend"]:
                engine.set_backend(None)
                config.note_spawned_workers(None)
            _state.update(client=None, backend=None, own=False)
        else:
            own = isinstance(client, str)
            if own:
                client = _connect(client)
            from .backend import DaskBackend

            backend = DaskBackend(client)
            engine.set_backend(backend)
            config.note_spawned_workers(sum(client.nthreads().values()) or None)  # parallel()'s default bound
            _state.update(client=client, backend=backend, own=own)
    if owned and previous is not None and previous is not client:
        previous.close()


def _connect(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("Dask execution needs distributed: pip install 'seamless-transformer[dask]'") from None
    try:
        return Client(address, set_as_default=False)
    except (OSError, ValueError, TypeError) as exc:
        from ..errors import RemoteError

        raise RemoteError(f"Dask scheduler {address}: unreachable ({exc})") from exc


def get_dask_client():
    """The client set with set_dask_client (or by activation), or None."""
    return _state["client"]


def activate_if_configured() -> bool:
    """Connect to Dask if SEAMLESS_DASK_SCHEDULER or the config asks for it (once); True if
    transformations now run on Dask. Raises ConfigError for `execution: remote` with no
    scheduler address and no client."""
    from .. import config
    from .task import serves_tasks

    if _state["client"] is not None or serves_tasks():  # on a worker, nested work already goes to Dask
        return True
    address = config.dask_scheduler()
    if address is None:
        if _remote_is_dask(config.get_settings()):
            from ..errors import ConfigError

            raise ConfigError("execution: remote (Dask) needs SEAMLESS_DASK_SCHEDULER=tcp://host:port "
                              "or set_dask_client()")
        return False
    set_dask_client(address)
    return True


def dask_configured() -> bool:
    """Whether Dask execution is asked for (a client, SEAMLESS_DASK_SCHEDULER or execution: remote),
    without connecting or importing distributed."""
    from .. import config

    return (_state["client"] is not None or config.dask_scheduler() is not None
            or _remote_is_dask(config.get_settings()))


def _remote_is_dask(settings) -> bool:
    """`execution: remote` that is not `remote: jobserver` (whose cluster gives a jobserver_url)."""
    return settings.execution == "remote" and settings.jobserver_url is None


__all__ = ["set_dask_client", "get_dask_client", "activate_if_configured", "dask_configured"]
