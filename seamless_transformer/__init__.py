"""seamless-transformer: checksum-addressed, cached transformations.

The public names are loaded on first use, so `import seamless_transformer` costs almost nothing.
"""

import sys as _sys

# The `seamless` package of this distribution replaces upstream's seamless-core. When an upstream
# `seamless` imports us (its seamless.transformer does), stop here, with an error that upstream's
# `except ImportError` does not swallow.
_seamless = _sys.modules.get("seamless")
if _seamless is not None and getattr(_seamless, "_SEAMLESS_TRANSFORMER_FACADE", False) is not True:
    raise RuntimeError(
        f"the 'seamless' package at {getattr(_seamless, '__file__', None) or _seamless} is not "
        "seamless-transformer's (upstream's seamless-core?) and cannot be used beside it; run 'pip "
        "uninstall seamless-core', then 'pip install --force-reinstall seamless-transformer'"
    )

__all__ = sorted([
    "Buffer",
    "CacheMissError",
    "Checksum",
    "CompiledObject",
    "CompiledTransformer",
    "DirectCompiledTransformer",
    "Transformation",
    "TransformationError",
    "Transformer",
    "WorkerCrashedError",  # worker pool (pool/)
    "has_spawned",
    "shutdown_workers",
    "spawn",
    "config",
    "define_compiled_language",
    "delayed",
    "flush",
    "direct",
    "parallel",
    "parallel_async",
    "set_dask_client",  # Dask (dask/)
])

_WHERE = {
    "Buffer": "api.handles",
    "CacheMissError": "errors",
    "Checksum": "api.handles",
    "Transformation": "api.transformation",
    "TransformationError": "errors",
    "Transformer": "api.transformer",
    "delayed": "api.transformer",
    "direct": "api.transformer",
    "parallel": "api.parallel",
    "flush": "engine",
    "parallel_async": "api.parallel",
    # compiled transformers
    "CompiledObject": "api.compiled",
    "CompiledTransformer": "api.compiled",
    "DirectCompiledTransformer": "api.compiled",
    "define_compiled_language": "api.compiled",
    # the worker pool
    "WorkerCrashedError": "errors",
    "spawn": "pool",
    "has_spawned": "pool",
    "shutdown_workers": "pool",
    # Dask
    "set_dask_client": "dask",
}


def __getattr__(name):
    import importlib

    if name == "config":
        return importlib.import_module(".config", __name__)
    if name not in _WHERE:
        raise AttributeError(f"module 'seamless_transformer' has no attribute '{name}'")
    value = getattr(importlib.import_module("." + _WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
