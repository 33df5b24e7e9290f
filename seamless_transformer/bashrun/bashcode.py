"""The command string and the generated bash code of a seamless-run job (SPEC §4.1, §2.7)."""

import os
import shlex

from ..errors import UsageError

_NEEDS_QUOTING = set(" \t\n\r\f\v'\"\\")


def build_command_string(words, single: bool = False) -> str:
    """argv words -> the command text (SPEC §4.1). The code pin is UTF-8 text, so every word must be."""
    words = list(words)
    for index, word in enumerate(words, 1):
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            shown = word.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise UsageError(f"argument #{index} '{shown}' is not valid UTF-8: a command must be text") from None
    if single:
        if len(words) != 1:
            raise UsageError(f"-c requires exactly one command argument, got {len(words)}")
        return words[0]
    if not words:
        raise UsageError("no command given")
    if len(words) == 1:
        return words[0]
    parts = []
    for word in words:
        if word and not (_NEEDS_QUOTING & set(word)):
            parts.append(word)
        else:
            parts.append(shlex.quote(word))
    return " ".join(parts)


def apply_rewrites(text: str, rewrites) -> str:
    """Replace (start, end, replacement) spans, right to left so earlier offsets stay valid."""
    spans = sorted(rewrites, key=lambda item: item[0], reverse=True)
    previous_start = len(text) + 1
    for start, end, replacement in spans:
        if end > previous_start:
            raise ValueError("overlapping rewrites")
        text = text[:start] + replacement + text[end:]
        previous_start = start
    return text


def _single_quote(name: str) -> str:
    return "'" + name.replace("'", "'\\''") + "'"


def generate_code(command: str, *, executables=(), metavars=(), targets=None, capture_stdout=False) -> str:
    """The bash code of the `code` pin.

    executables: pin names to chmod; metavars: variable names; targets: workspace paths
    (None or empty: stdout mode); capture_stdout: wrap the command into `> STDOUT`.
    """
    lines = []
    executables = list(executables)
    if executables:
        if any("/" not in name for name in executables):
            lines.append("export PATH=./:$PATH\n")
        lines.append("chmod +x " + " ".join(_single_quote(name) for name in executables) + "\n")
    for name in sorted(metavars):
        lines.append(f'export {name}="${{META__{name}}}"\n')
    if not targets:
        lines.append(f"(\n{command}\n) > RESULT\n")
        return "".join(lines)
    dirs = []
    for target in targets:
        directory = os.path.join("RESULT", os.path.dirname(target))
        if directory not in dirs:
            dirs.append(directory)
    lines.append("mkdir -p " + " ".join(shlex.quote(d) for d in dirs) + "\n")
    if capture_stdout:
        lines.append(f"(\n{command}\n) > STDOUT\n")
    else:
        lines.append(command + "\n")
    for target in targets:
        directory = os.path.join("RESULT", os.path.dirname(target))
        lines.append(f"mv {shlex.quote(target)} {shlex.quote(directory)}\n")
    return "".join(lines)
