"""Remote execution on a seamless-jobserver (upstream's jobserver 0.3.0): an engine Backend.

Selected by the config commands `execution: remote` + `remote: jobserver`, with a
`jobserver: {url: http://host:port}` in a frontend of the selected cluster. The jobserver
shares the cluster's hashserver and seamless-database with us: it reads the inputs from the
hashserver and writes the result buffer there; we write the result and the execution record
to the databases, as for any execution.

    client (this module)                                         jobserver
      | store inputs: batched /has, PUT what the hashserver lacks    |
      | GET /run-transformation  {transformation_dict, tf_checksum,  |
      |     tf_dunder, scratch, strict_dunder, record} ------------> |  runs it in a worker
      | GET /transformation-status/{tf} every POLL_SECONDS --------> |  (while we wait:
      |     <-- {"status": "running" | ...}                          |   a lost job fails)
      | POST /cancel-transformation/{tf} (tf.cancel, seamless-cancel, exit)
      | <-- 200 {"result_checksum": hex, "record_runtime": {...}}    |
      |     200 "Transformation was canceled"  -> CanceledError      |
      |     409 canceled, or record-mode mismatch -> error           |
      |     500 <error text>    -> TransformationError(<error text>)  |
      | fetch the result buffer from the hashserver (verified)       |

Nothing here is imported unless that configuration is active. A jobserver that cannot be
reached raises RemoteError naming its URL (exit 3).
"""

import atexit
import logging
import threading

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_installed = {"url": None, "backend": None}


def install_if_configured(settings=None) -> bool:
    """Make the engine run on the configured jobserver (`execution: remote` + `remote:
    jobserver`); True when a jobserver backend is installed. Another backend, or none, is left
    as it is when the settings name no jobserver. Raises ConfigError when the cluster has no
    hashserver or database server to share with the jobserver."""
    from .. import config, engine

    settings = settings or config.get_settings()
    url = settings.jobserver_url
    with _lock:
        current = _installed["backend"]
        if url is None:
            if current is not None and engine.get_backend() is current:
                engine.set_backend(None)
            _installed.update(url=None, backend=None)
            return False
        if current is not None and _installed["url"] == url and engine.get_backend() is current:
            return True
        from ..errors import ConfigError
        from .backend import JobserverBackend

        if not settings.hashserver_urls or not settings.database_urls:
            raise ConfigError(f"remote: jobserver ({url}) needs a writable hashserver and database server "
                              "shared with the jobserver (hashserver.url and database.url in the cluster)")
        backend = JobserverBackend(url)
        if current is not None:
            current.close(wait=False)
        engine.set_backend(backend)
        _installed.update(url=url, backend=backend)
        if not _installed.get("atexit"):
            atexit.register(_close_installed)
            _installed["atexit"] = True
        return True


def _close_installed() -> None:
    """At exit: cancel on the jobserver what this process still waits for."""
    backend = _installed["backend"]
    if backend is not None:
        backend.close(wait=False)


def _reset() -> None:
    """Uninstall the jobserver backend (tests)."""
    from .. import engine

    with _lock:
        if _installed["backend"] is not None and engine.get_backend() is _installed["backend"]:
            engine.set_backend(None)
        _installed.update(url=None, backend=None)


__all__ = ["install_if_configured"]
