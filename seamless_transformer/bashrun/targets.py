"""Result targets of a seamless-run command: `-cp` captures and output redirects.

A target is a path in the job's workspace that is moved under RESULT/ at the end of the job,
plus the local path (relative to the cwd) where the CLI writes it back.
"""

import os
from .._util import record_class as dataclass

from ..errors import UsageError
from .bashparse import Redirect
from .pinnames import shell_word

STDOUT_TARGET = "STDOUT"
DEVICE_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})


@dataclass(frozen=True)
class Target:
    workspace: str  # path in the workspace, and key under RESULT/
    local: str  # where the CLI writes it, relative to the cwd


def _relative(path: str, cwd: str, what: str) -> str:
    """`path` as a normalized path relative to cwd; absolute paths must lie under cwd."""
    if os.path.isabs(path):
        base = os.path.abspath(cwd)
        candidates = {base, os.path.realpath(base)}
        for root in candidates:
            if path == root or path.startswith(root.rstrip("/") + "/"):
                path = os.path.relpath(path, root)
                break
        else:
            raise UsageError(f"{what} '{path}' is an absolute path outside the current directory")
    rel = os.path.normpath(path)
    if rel == "." or rel == ".." or rel.startswith("../"):
        raise UsageError(f"{what} '{path}' is not inside the current directory")
    return rel


def parse_captures(captures, cwd: str) -> tuple[list[Target], str | None]:
    """-cp values -> (targets in -cp order, local file for captured stdout or None)."""
    targets: list[Target] = []
    stdout_local = None
    for capture in captures:
        if ":" in capture:
            workspace, local = capture.split(":", 1)
        else:
            workspace = local = capture
        if not local:
            raise UsageError(f"-cp '{capture}': the local name is empty")
        local = _relative(local, cwd, "capture target")
        if workspace == "":
            if stdout_local is not None:
                raise UsageError("stdout can be captured only once (-cp :FILE)")
            stdout_local = local
            targets.append(Target(STDOUT_TARGET, local))
            continue
        workspace = _relative(workspace, cwd, "capture target")
        if any(t.workspace == workspace for t in targets):
            raise UsageError(f"-cp '{capture}' is given twice")
        targets.append(Target(workspace, local))
    return targets, stdout_local


def _covered(path: str, explicit: list[Target]) -> bool:
    for target in explicit:
        if target.workspace == STDOUT_TARGET:
            continue
        if path == target.workspace or path.startswith(target.workspace + "/"):
            return True
    return False


def redirect_targets(redirects: list[Redirect], explicit: list[Target], cwd: str, text: str):
    """Targets from the last command's output redirects -> (targets, rewrites).

    rewrites are (start, end, replacement) for absolute targets under the cwd.
    """
    found: list[tuple[Redirect, str]] = []
    for redirect in redirects:
        word = redirect.target
        value = word.value
        if value in DEVICE_TARGETS or value.startswith("/dev/fd/"):
            continue
        if word.expands:
            raise UsageError(f"output redirect target '{word.source(text)}' contains an expansion; use -cp")
        rel = _relative(value, cwd, "output redirect target")
        if _covered(rel, explicit):
            continue
        found.append((redirect, rel))
    if len(found) > 1:
        raise UsageError("multiple output redirects in the last command; use -cp")
    targets, rewrites = [], []
    for redirect, rel in found:
        targets.append(Target(rel, rel))
        if os.path.isabs(redirect.target.value):
            rewrites.append((redirect.target.start, redirect.target.end, shell_word(rel, redirect.target.value)))
    return targets, rewrites
