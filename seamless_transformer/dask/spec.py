"""What the client and the Dask task share: the task key, the storage spec, the task's answer."""

from ..checksum import Checksum
from ..identity import META_PREFIX, ORTHOGONAL_DUNDERS

KEY_PREFIX = "seamless-tf-"


def task_key(tf) -> str:
    """The Dask key of a transformation: seamless-tf-<tf hex>."""
    return KEY_PREFIX + Checksum(tf).hex()


def storage_spec(settings) -> dict:
    """Where Dask workers find the buffers and results of `settings` (a config.Settings).

    {"clients": <SEAMLESS_REMOTE_CLIENTS shape> | None, "directory": <embedded cache root> | None,
     "project", "subproject", "stage", "substage", "record"}: the client's servers when it has
    any (a worker keeps its own SEAMLESS_CACHE in front), else its embedded cache directory,
    which the workers must reach (one machine, or a shared file system). Raises ConfigError
    for memory-only storage (`persistent: false`), which no worker can reach.
    """
    from ..config import TOPLEVEL
    from ..errors import ConfigError

    if not settings.persistent:
        raise ConfigError("Dask execution needs persistent storage (persistent: false keeps it in this process)")
    project = None if settings.project == TOPLEVEL else settings.project
    spec = {"clients": _clients(settings), "directory": None, "project": project,
            "subproject": settings.subproject, "stage": settings.stage, "substage": settings.substage,
            "record": settings.record}
    if spec["clients"] is None:
        spec["directory"] = _embedded_root(settings)
    return spec


def _clients(settings):
    def entries(writable, readonly):
        return ([{"url": u, "readonly": False} for u in writable]
                + [{"url": u, "readonly": True} for u in readonly])

    buffers = entries(settings.hashserver_urls, settings.readonly_hashserver_urls)
    buffers += [{"directory": d} for d in settings.readonly_buffer_dirs]
    databases = entries(settings.database_urls, settings.readonly_database_urls)
    if not (buffers or databases):
        return None
    return {"buffer": buffers, "database": databases}


def _embedded_root(settings) -> str:
    """The cache root under which <project>[/<subproject>][/STAGE-<stage>] is the first buffer dir."""
    import os

    below = [settings.project] + (settings.subproject.split("/") if settings.subproject else [])
    path = settings.buffer_dirs[0]
    for _ in below + ([settings.stage] if settings.stage else []):
        path = os.path.dirname(path)
    return path


def tf_dunder(tf_dict: dict) -> dict:
    """The execution-only part of a transformation dict (__meta__, __env__, META__ pins, ...)."""
    return {k: v for k, v in tf_dict.items() if k in ORTHOGONAL_DUNDERS or k.startswith(META_PREFIX)}


def outcome_of(answer, job, target=None, spec=None):
    """The engine Outcome of a task's answer (raises its error), for a client of storage `spec`.

    Dask merges identical tasks of clients with different storage into one, which stored the
    result in the storage of the client that submitted it first: another client stores the copy
    of the result that travels back (see _adopt)."""
    from ..pool.channel import error_from_wire

    if answer[0] == "error":
        error = error_from_wire(answer[1])
        if getattr(error, "tf", None) is None and hasattr(error, "tf"):
            error.tf = job.tf.hex()
        raise error
    _status, _result, outcome = answer
    outcome.execution_mode = "remote"
    outcome.remote_target = target or outcome.remote_target
    if spec is not None:
        _adopt(outcome, spec, job)
    return outcome


def _adopt(outcome, spec, job) -> None:
    """A result stored for another storage spec is stored by this client from its copy (the
    engine then writes buffer, leaves, row and record in this client's storage); without a copy
    (result and leaves above task.MAX_COPY_BYTES) nothing is recorded here: CacheMissError, and running it again computes
    it in this storage."""
    from ..errors import CacheMissError

    if outcome.result_checksum is None or outcome.stored_for in (None, spec):
        outcome.extra_buffers = {}  # stored where it ran, with the result
        return
    if outcome.result_buffer is None or not _leaves_here(outcome, job):
        raise CacheMissError(f"transformation {job.tf.hex()}: an identical Dask task of a client with other "
                             f"storage computed it at the same moment, and its result is too big to travel "
                             f"back; run it again")
    outcome.result_checksum = None


def _leaves_here(outcome, job) -> bool:
    """Whether every leaf of a deep result travelled back with it (a big file does not: the
    worker stores it from its file)."""
    from ..celltypes import DEEP_CELLTYPES, deserialize

    output = job.tf_dict.get("__output__") or ()
    if len(output) < 2 or output[1] not in DEEP_CELLTYPES:
        return True
    here = {Checksum(cs).hex() for cs in outcome.extra_buffers}
    return all(Checksum(leaf).hex() in here for leaf in deserialize(outcome.result_buffer, "plain").values())
