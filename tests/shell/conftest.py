"""Fixtures for the interactive shell-mode tests: a stub seamless-run and real shells in a pty."""

import os
import sys

import pytest

from shell_session import BIND_SCRIPT, ShellSession, shell_env

STUB = """#!/bin/bash
# Stub seamless-run: record argv (NUL-separated), then run the command string itself.
printf '%s\\0' "$@" > "$STUB_ARGV_FILE"
exec bash -c "${@: -1}"
"""


@pytest.fixture
def stub_dir(tmp_path):
    """A directory holding the stub `seamless-run`."""
    d = tmp_path / "stubbin"
    d.mkdir()
    stub = d / "seamless-run"
    stub.write_text(STUB)
    stub.chmod(0o755)
    return d


@pytest.fixture
def seamless_run_dir(stub_dir):
    """Where the tests find `seamless-run`: switch to the real command by changing this line."""
    return stub_dir


@pytest.fixture
def argv_file(tmp_path):
    return tmp_path / "seamless-run.argv"


@pytest.fixture
def work(tmp_path):
    d = tmp_path / "work"
    d.mkdir(exist_ok=True)
    (d / "a.txt").write_text("pears\napples\nzucchini\n")
    return d


@pytest.fixture
def make_session(tmp_path, seamless_run_dir, argv_file, work):
    sessions = []

    def make(shell, keymap="emacs", extra_env=None):
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        env = shell_env(home, [seamless_run_dir, BIND_SCRIPT.parent, os.path.dirname(sys.executable)])
        env["STUB_ARGV_FILE"] = str(argv_file)
        env.update(extra_env or {})
        session = ShellSession(shell, env, work)
        sessions.append(session)
        if keymap == "vi":
            session.run("set -o vi" if shell == "bash" else "bindkey -v")
        return session

    yield make
    for session in sessions:
        session.close()
