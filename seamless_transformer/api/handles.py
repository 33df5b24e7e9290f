"""Checksum and Buffer with the storage-bound methods of the `seamless` names (resolve, incref, …).

The data types live in `checksum` and `celltypes`, below storage; these subclasses add what needs
the cache of this process. The API hands these out (`tf.construct()`, `tf.compute()`), and
`seamless_transformer.Checksum` / `seamless.Checksum` (and `Buffer`) are these classes.

Reference counts: the cache of this process keeps every stored buffer on disk until its directory
is removed; nothing is evicted while a reference is missing. So `incref()` means "make sure this
buffer is in the persistent store" and `decref()` / `tempref()` do nothing.
"""

import os

from .. import celltypes
from .. import checksum as _checksum
from .._util import atomic_write, atomic_write_text

SUFFIX = ".CHECKSUM"


def _storage():
    from ..store.storage import get_storage

    return get_storage()


class Checksum(_checksum.Checksum):
    """A SHA-256 checksum (64 hex digits, 32 bytes or a Checksum) that can fetch its buffer."""

    __slots__ = ()

    @classmethod
    def load(cls, filename: str) -> "Checksum":
        """Read a checksum file (`X.CHECKSUM`; the suffix is added when missing).
        Raises OSError if unreadable, ValueError if it holds no checksum."""
        path = filename if filename.endswith(SUFFIX) else filename + SUFFIX
        with open(path, "rt") as f:
            text = f.read(200).strip()
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"{path}: does not hold a checksum (64 hex digits)") from None

    def save(self, filename: str) -> None:
        """Write `hex\\n` to `filename` (`.CHECKSUM` added when missing), atomically."""
        path = filename if filename.endswith(SUFFIX) else filename + SUFFIX
        atomic_write_text(path, self.hex() + "\n")

    def bytes(self) -> bytes:
        """The 32 raw bytes."""
        return self.digest()

    def resolve(self, celltype: str | None = None):
        """The Buffer of this checksum, or with a celltype its value (`"plain"`, `"int"`, …).
        Raises CacheMissError when no store of this process has the buffer."""
        buffer = Buffer(_storage().get_buffer(self))
        return buffer if celltype is None else buffer.get_value(celltype)

    def fingertip_sync(self, celltype: str | None = None):
        """As resolve(), but a missing buffer is recomputed from a transformation that produced
        it (depth ≤ 10). Raises CacheMissError when that fails too."""
        from ..engine import resolve_buffer

        buffer = Buffer(resolve_buffer(self, fingertip=True))
        return buffer if celltype is None else buffer.get_value(celltype)

    async def resolution(self, celltype: str | None = None):
        """resolve() in a thread: the running event loop is not blocked."""
        import asyncio

        return await asyncio.to_thread(self.resolve, celltype)

    async def fingertip(self, celltype: str | None = None):
        """fingertip_sync() in a thread: the running event loop is not blocked."""
        import asyncio

        return await asyncio.to_thread(self.fingertip_sync, celltype)

    def incref(self, *, scratch: bool = False) -> None:
        """Make sure the buffer is in the persistent store, where another process finds it.
        With `scratch`, nothing is written. Raises CacheMissError when the buffer is not known
        here (it cannot be kept without its bytes)."""
        storage = _storage()
        data = storage.get_buffer(self)
        if not scratch:
            storage.put_buffer(data, self)

    def decref(self) -> None:
        """Does nothing: stored buffers stay until their cache directory is removed."""

    def tempref(self, *args, **kwargs) -> None:
        """Does nothing: stored buffers stay until their cache directory is removed."""

    def find(self, verbose: bool = False) -> list | None:
        """Where the buffer is: a list of file paths in the cache directories, or None."""
        path = _storage().buffer_path(self.hex())
        return [path] if path is not None else None

    def __reduce__(self):
        return (type(self), (self.hex(),))


class Buffer(celltypes.Buffer):
    """Immutable bytes: `Buffer(b"...")` as they are, `Buffer(value, celltype)` serialized."""

    __slots__ = ()

    @classmethod
    def load(cls, filename: str) -> "Buffer":
        """The bytes of a file. Raises OSError when unreadable."""
        with open(filename, "rb") as f:
            return cls(f.read())

    def save(self, filename: str) -> None:
        """Write the bytes to `filename`, atomically."""
        atomic_write(os.fspath(filename), self.content)

    @property
    def checksum(self) -> Checksum:
        """The SHA-256 checksum of the bytes."""
        return Checksum(super().checksum)

    def get_checksum(self) -> Checksum:
        return self.checksum

    def get_value(self, celltype: str):
        """The value, deserialized with `celltype` (ValueError for an unknown celltype)."""
        return self.deserialize(celltype)

    def decode(self) -> str:
        """The bytes as UTF-8 text."""
        return self.content.decode()

    def incref(self) -> None:
        """Store the buffer in the persistent store, where another process finds it."""
        _storage().put_buffer(self.content, self.checksum)

    def decref(self) -> None:
        """Does nothing: stored buffers stay until their cache directory is removed."""

    def tempref(self, *args, **kwargs) -> None:
        """Does nothing: stored buffers stay until their cache directory is removed."""


def close() -> None:
    """End the session of this process: stop the worker pool, after its running transformations, then
    write what write-behind still holds (engine.flush), so nothing is lost. Later calls still work (a
    pool configured with `execution: spawn` starts again). Safe to call more than once."""
    from .. import engine
    from ..pool import has_spawned, shutdown_workers

    if has_spawned():
        shutdown_workers(wait=True)
    engine.flush()


__all__ = ["Checksum", "Buffer", "close"]
