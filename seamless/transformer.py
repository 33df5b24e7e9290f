"""`seamless.transformer`: the Python API of seamless_transformer under its upstream name.

    from seamless.transformer import delayed, direct, parallel, spawn
"""

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
from seamless_transformer.api.transformer import Environment

__all__ = [
    "Environment",
    "Transformation",
    "TransformationError",
    "Transformer",
    "delayed",
    "direct",
    "has_spawned",
    "parallel",
    "parallel_async",
    "shutdown_workers",
    "spawn",
]
