"""Every test runs isolated: a temp HOME and cwd, no XDG_CACHE_HOME, no SEAMLESS_* variable."""

import os

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith("SEAMLESS_") or name in ("XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(work)
    _reset_process_state()
    yield work
    _reset_process_state()


def _reset_process_state():
    """Forget per-process caches (config, storage, in-process result map) between tests,
    and undo a CLI's logging set-up (run in-process by some tests) so caplog sees records."""
    import logging
    import sys

    logger = logging.getLogger("seamless_transformer")
    logger.handlers[:] = []
    logger.propagate = True
    logger.setLevel(logging.NOTSET)

    for modname, fname in (
        ("seamless_transformer.config", "_reset"),
        ("seamless_transformer.store.storage", "_reset"),
        ("seamless_transformer.engine", "_reset"),
    ):
        mod = sys.modules.get(modname)
        if mod is not None and hasattr(mod, fname):
            getattr(mod, fname)()


@pytest.fixture
def gated_flush(monkeypatch):
    """Every flush of write-behind (a backend's and the half-second timer's) waits for the yielded
    Event (10 s at most, then fails); the list records the threads that flushed."""
    import threading

    from seamless_transformer.store.behind import WriteBehind

    gate, threads, real = threading.Event(), [], WriteBehind.flush

    def flush(self):
        threads.append(threading.current_thread())
        assert gate.wait(10), "the gate was never opened"
        return real(self)

    monkeypatch.setattr(WriteBehind, "flush", flush)
    yield gate, threads
    gate.set()
