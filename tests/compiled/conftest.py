"""Compiled-transformer tests: built modules are shared by every test of the session (one
XDG_CACHE_HOME for the on-disk module cache), while each test keeps its private result cache.

rustc may be a rustup proxy that finds its toolchains through $HOME, which tests replace: the real
RUSTUP_HOME/CARGO_HOME are kept for it.
"""

import os
import pathlib
import shutil

import pytest

_REAL_HOME = os.path.expanduser("~")



@pytest.fixture(scope="session")
def module_cache_home(tmp_path_factory):
    return tmp_path_factory.mktemp("compiled-xdg")


@pytest.fixture(autouse=True)
def shared_module_cache(isolated_env, module_cache_home, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(module_cache_home))
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "results"))
    for name, sub in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")):
        real = pathlib.Path(_REAL_HOME, sub)
        if name not in os.environ and real.is_dir():
            monkeypatch.setenv(name, str(real))
    cargo_bin = pathlib.Path(_REAL_HOME, ".cargo", "bin")
    if shutil.which("rustc") is None and (cargo_bin / "rustc").exists():
        monkeypatch.setenv("PATH", f"{os.environ['PATH']}:{cargo_bin}")
    yield


@pytest.fixture
def counting_compilers(tmp_path, monkeypatch):
    """Put gcc/g++/gfortran/rustc wrappers first on PATH; returns a function giving the logged runs."""
    log = tmp_path / "compiler-runs.log"
    wrappers = tmp_path / "wrappers"
    wrappers.mkdir()
    for name in ("gcc", "g++", "gfortran", "rustc", "cc"):
        real = shutil.which(name)
        if real is None:
            continue
        script = wrappers / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexec "{real}" "$@"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}:{os.environ['PATH']}")

    def runs():
        return log.read_text().splitlines() if log.exists() else []

    return runs
