"""The command string and the generated bash code of a seamless-run job."""

import os
import re
import shlex

from ..errors import UsageError
from .pinnames import shell_word

# a word that is exactly a control or redirection operator is kept: `seamless-run sort a.txt '|' uniq`
_OPERATOR = re.compile(r"\A(?:\|\|?|\|&|&&|;|&|\d*(?:<|<<<|<>|>|>>|>\|)|&>>?|\d*[<>]&(?:\d+|-))\Z")


def build_command_string(words, single: bool = False) -> str:
    """argv words -> the command text. The code pin is UTF-8 text, so every word must be, without NUL bytes.

    One word (or -c) is the command verbatim. Several words are joined with spaces, each one
    shell-quoted where it needs it (`print(2)` -> `'print(2)'`, `x;y` -> `'x;y'`; `wc` and `a.txt`
    stay as they are), except a word that is exactly an operator such as `|`, `&&`, `>` or `2>&1`.
    """
    words = list(words)
    for index, word in enumerate(words, 1):
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            shown = word.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise UsageError(f"argument #{index} '{shown}' is not valid UTF-8: a command must be text") from None
        if "\0" in word:
            shown = word.replace("\0", "\\0")
            raise UsageError(f"argument #{index} '{shown}' holds a NUL byte, which bash cannot take in a command")
    if single:
        if len(words) != 1:
            raise UsageError(f"-c requires exactly one command argument, got {len(words)}")
        return words[0]
    if not words:
        raise UsageError("no command given")
    if len(words) == 1:
        return words[0]
    return " ".join(word if _OPERATOR.match(word) else shlex.quote(word) for word in words)


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
    name = "./" + name if name.startswith("-") else name  # never an option of chmod
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
        lines.append(f"mv {shell_word(target)} {shlex.quote(directory)}\n")
    return "".join(lines)
