"""Seamless under the names its users know: `seamless.transformer`, `seamless.config`,
`seamless.Checksum`, `seamless.Buffer`, `seamless.close()`.

This package belongs to seamless-transformer and takes the place of upstream's `seamless` core
package (the seamless-core distribution), which must not be installed beside it: importing
`seamless` then fails with an ImportError that says so. Every name here is an object of
`seamless_transformer`, re-exported; nothing is implemented twice.
"""

_SEAMLESS_TRANSFORMER_FACADE = True  # seamless_transformer checks it: this `seamless` is ours


def _refuse_upstream_core() -> None:
    """ImportError when upstream's seamless-core is installed: its files share our paths."""
    from importlib import metadata

    try:
        version = metadata.version("seamless-core")
    except metadata.PackageNotFoundError:
        return
    raise ImportError(
        f"seamless-core {version} is installed beside seamless-transformer, whose 'seamless' "
        "package takes its place: run 'pip uninstall seamless-core', then "
        "'pip install --force-reinstall seamless-transformer'"
    )


_refuse_upstream_core()

from seamless_transformer.api.handles import Buffer, Checksum, close  # noqa: E402
from seamless_transformer.errors import CacheMissError, TransformationError  # noqa: E402

__all__ = ["Buffer", "CacheMissError", "Checksum", "TransformationError", "close"]
