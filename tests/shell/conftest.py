"""Fixtures for the interactive shell-mode tests: real bash and zsh in a pty.

Sessions run the installed `seamless-run` by default. A session made with `stub=True` finds a
stub `seamless-run` first, which records its argv (NUL-separated) and runs the command string
itself: those tests check the exact argv of the rewrite contract.
"""

import sysconfig
from pathlib import Path

import pytest

from shell_session import BIND_SCRIPT, ShellSession, shell_env

STUB = """#!/bin/bash
# Stub seamless-run: record argv (NUL-separated), log the command string (one line per run, the
# side-effect log that counts executions), then run the command string itself.
printf '%s\\0' "$@" > "$STUB_ARGV_FILE"
printf 'RUN %s\\n' "${@: -1}" >> "$STUB_LOG"
exec bash -c "${@: -1}"
"""


def installed_scripts_dir():
    """The directory of this Python's console scripts (not a pyenv shim, which needs pyenv on PATH)."""
    scripts = Path(sysconfig.get_path("scripts"))
    if not (scripts / "seamless-run").is_file():
        raise RuntimeError(f"seamless-run is not installed in {scripts}: run `pip install -e .`")
    return scripts


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
def argv_file(tmp_path):
    return tmp_path / "seamless-run.argv"


@pytest.fixture
def run_log(tmp_path):
    """The stub seamless-run's log: one `RUN <command>` line per execution."""
    return tmp_path / "seamless-run.log"


@pytest.fixture
def home(tmp_path):
    d = tmp_path / "home"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture
def work(tmp_path):
    d = tmp_path / "work"
    d.mkdir(exist_ok=True)
    (d / "a.txt").write_text("pears\napples\nzucchini\n")
    (d / "fruit.txt").write_text("pear\napple\nfig\nkiwi\nbanana\nplum\n")
    return d


@pytest.fixture
def make_session(tmp_path, home, stub_dir, argv_file, run_log, work):
    """make(shell, keymap="emacs", extra_env=None, stub=False) -> ShellSession in `work`.

    PATH: [stub dir,] bin/ of this checkout (the bind script under test), the installed console
    scripts, /usr/bin:/bin. HOME and both caches live in the test's tmp dir.
    """
    sessions = []
    scripts = installed_scripts_dir()

    def make(shell, keymap="emacs", extra_env=None, stub=False):
        path = [stub_dir] if stub else []
        path += [BIND_SCRIPT.parent, scripts, "/usr/bin", "/bin"]
        env = shell_env(home, path)
        env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
        env["SEAMLESS_CACHE"] = str(tmp_path / "seamless-cache")
        env["STUB_ARGV_FILE"] = str(argv_file)
        env["STUB_LOG"] = str(run_log)
        env.update(extra_env or {})
        session = ShellSession(shell, env, work)
        sessions.append(session)
        if keymap == "vi":
            session.run("set -o vi" if shell == "bash" else "bindkey -v")
        return session

    yield make
    for session in sessions:
        session.close()
