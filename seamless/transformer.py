"""`seamless.transformer`: the Python API of seamless_transformer under its upstream name.

    from seamless.transformer import delayed, direct, parallel, spawn
"""

import threading

from seamless_transformer import (
    Transformation,
    TransformationError,
    Transformer,
    delayed,
    direct,
    has_spawned,
    parallel,
    parallel_async,
    shutdown_workers,
    spawn,
)
from seamless_transformer.api.compiled import (
    CompiledObject,
    CompiledTransformer,
    DirectCompiledTransformer,
    define_compiled_language,
)
from seamless_transformer.api.transformer import Environment

# One lock per process, for transformations of this process that must not overlap (upstream's name).
global_lock = threading.Lock()

__all__ = [
    "CompiledObject",
    "CompiledTransformer",
    "DirectCompiledTransformer",
    "Environment",
    "Transformation",
    "TransformationError",
    "Transformer",
    "define_compiled_language",
    "delayed",
    "direct",
    "global_lock",
    "has_spawned",
    "parallel",
    "parallel_async",
    "shutdown_workers",
    "spawn",
]
