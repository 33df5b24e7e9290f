"""Which engine backend runs this process's transformations: one decision for every entry point.

    activate_backend(pool=False) -> "dask" | "jobserver" | "pool" | "local"

In this order: Dask, when a client was set (`set_dask_client`), SEAMLESS_DASK_SCHEDULER is set,
or the config says `execution: remote` without a jobserver (and on a Dask worker, whose nested
transformations go to Dask too); a seamless-jobserver, when the config says `execution: remote`
+ `remote: jobserver`; the spawned worker pool, for `execution: spawn` when the caller runs
many transformations (`pool=True`: the Python API); else this process. Called on a cache
miss only, so that a hit never imports `distributed`. It sits beside the backends (pool/,
dask/, jobserver/) and imports each only when it is chosen.
"""


def activate_backend(*, pool: bool = False) -> str:
    """Install the backend the environment and the config ask for (see the module docstring);
    its name. Raises ConfigError for `execution: remote` with neither a scheduler address nor a
    jobserver, or a jobserver without shared servers; RemoteError when the Dask scheduler
    cannot be reached; ImportError (with the pip line) when distributed is missing."""
    from .config import get_settings
    from .dask import activate_if_configured
    from .jobserver import install_if_configured

    if activate_if_configured():
        return "dask"
    settings = get_settings()
    if install_if_configured(settings):
        return "jobserver"
    if pool and settings.execution == "spawn":
        from .pool import ensure_spawned

        ensure_spawned(settings.workers)
        return "pool"
    return "local"
