"""Fixtures for bash job tests: a real embedded storage under tmp_path and a tf dict builder."""

import pytest

from seamless_transformer.celltypes import serialize


@pytest.fixture
def storage(tmp_path, monkeypatch):
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "cache"))
    from seamless_transformer.store.storage import get_storage

    return get_storage()


class Pin(list):
    """A pin entry [celltype, subcelltype, checksum hex], as opposed to a value."""


class BashTF:
    """Builds bash transformation dicts whose buffers are put into `storage`."""

    def __init__(self, storage):
        self.storage = storage

    def put(self, data: bytes) -> str:
        return self.storage.put_buffer(data).hex()

    def value(self, value, celltype="mixed") -> list:
        return Pin([celltype, None, self.put(serialize(value, celltype))])

    def file(self, data: bytes) -> list:
        return Pin(["bytes", None, self.put(data)])

    def directory(self, files: dict) -> list:
        index = {rel: self.put(data) for rel, data in files.items()}
        return Pin(["mixed", None, self.put(serialize(index, "plain"))])

    def __call__(self, code, output="bytes", files=None, dirs=None, env=None, **values):
        tf = {
            "__language__": "bash",
            "__output__": ["result", output, None],
            "code": ["text", None, self.put(code.encode())],
        }
        fmt = {}
        for name, data in (files or {}).items():
            tf[name] = self.file(data)
            fmt[name] = {"filesystem": {"optional": True, "mode": "file"}}
        for name, tree in (dirs or {}).items():
            tf[name] = self.directory(tree)
            fmt[name] = {"filesystem": {"optional": True, "mode": "directory"}, "celltype": "deepfolder"}
        if fmt:
            tf["__format__"] = fmt
        if env:
            tf["__env__"] = self.put(serialize(env, "plain"))
        for name, value in values.items():
            tf[name] = list(value) if isinstance(value, Pin) else self.value(value)
        return tf


@pytest.fixture
def bash_tf(storage):
    return BashTF(storage)
