"""Argtyping: which words of a seamless-run command are file or directory inputs.

`ArgTyper.type_word` decides for one analysed word and returns the text that replaces the word
in the command (or None to leave it). The inputs found are collected in `ArgTyper.inputs`,
keyed by pin name.
"""

import glob
import os
import re
from .._util import field, record_class as dataclass

from ..checksum import Checksum
from ..errors import UsageError
from .bashparse import AnalysedWord, has_unquoted_glob
from .pinnames import PinNamer, path_suffix, shell_word, split_compression

BASH_BUILTINS = frozenset(
    """
    ! [[ ]] { } case coproc do done elif else esac fi for function if in select then time until while
    . : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs
    disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local
    logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend
    test times trap true type typeset ulimit umask unalias unset wait
    """.split()
)
_EXTENSION = re.compile(r"\.[A-Za-z0-9_+~-]+\Z")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")  # a first word bash takes for `NAME=value`
_NO_EXTENSION_CHARS = re.compile(r"[\s();]")  # such a word has no extension (upstream), and is exempt from rules 1-2


@dataclass
class InputPin:
    """One file or directory input. `path` is None when only its sidecar exists."""

    pin: str
    kind: str  # "file" | "directory"
    path: str | None
    checksum: Checksum
    index: bytes | None = None  # directory index buffer
    sources: dict = field(default_factory=dict)  # directory leaves: relpath -> absolute path
    entries: dict = field(default_factory=dict)  # directory leaves: relpath -> Checksum
    executable: bool = False
    named: str | None = None  # the local path the command names, also when only its sidecar exists


def has_extension(word: str) -> bool:
    if word.endswith("/") or _NO_EXTENSION_CHARS.search(word):
        return False
    return _EXTENSION.match(path_suffix(word)) is not None


def is_float(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


class ArgTyper:
    def __init__(self, cwd: str, namer: PinNamer, *, allow_missing_extension_files=False,
                 allow_files_without_extension=False, wait_future=None):
        self.cwd = cwd
        self.namer = namer
        self.allow_missing_extension_files = allow_missing_extension_files  # -g1: rule 1 off
        self.allow_files_without_extension = allow_files_without_extension  # -g2: rule 2 off
        self.wait_future = wait_future
        self.inputs: dict[str, InputPin] = {}
        self.futures: list[str] = []
        self.written: list[str] = []  # absolute, normalized

    def local(self, path: str) -> str:
        return os.path.join(self.cwd, os.path.expanduser(path))

    # -- entry points -------------------------------------------------------------------

    def writes(self, paths) -> None:
        """Paths the line itself writes (output redirect and -cp targets): never inputs, nor what lies inside."""
        self.written.extend(os.path.normpath(self.local(path)) for path in paths)

    def type_word(self, aw: AnalysedWord, text: str, *, lenient: bool = False) -> str | None:
        """Classify one analysed word; return its replacement text, or None to keep it.

        A lenient word (of any command but the primary one) is an input when it names an
        existing file or directory under the working directory, or has a sidecar; rules 1 and 2 do
        not apply, and anything else is left alone.
        """
        word = aw.word
        if word.expands or not word.value or (word.value[0] == "~" and not word.tilde):
            return None  # a quoted `~` is no home directory
        if self._is_written(word.value):
            return None
        if aw.role == "command":
            return self._command_word(word.value)
        if lenient:
            return self._lenient(word.value, has_unquoted_glob(word.source(text)))
        label = f"argument #{aw.index} '{word.value}'"
        if aw.role == "input":
            return self._replacement(self.add_input(word.value, label=label), word.value)
        return self._argument(word.value, label, aw.index, has_unquoted_glob(word.source(text)))

    def add_input(self, path: str, *, label: str | None = None) -> InputPin:
        """An explicit input (-i, -I, `< F`): rules 1 and 2 off, must exist or have a sidecar."""
        if label is None:
            label = f"input '{path}'"
        self._check_future(path)
        found = self._sidecar_input(path, label) or self._existing_input(path)
        if found is None:
            raise UsageError(f"input '{path}': file or directory does not exist")
        return found

    # -- rules --------------------------------------------------------------------------

    def _command_word(self, value: str) -> str | None:
        if value in BASH_BUILTINS:
            return None
        import shutil

        if "/" not in value and shutil.which(value) is not None:
            return None
        if not os.path.isfile(self.local(value)):
            return None
        pin = self._register(value, "file", Checksum(_file_checksum(self.local(value))))
        pin.executable = True
        if "/" not in pin.pin and (pin.pin in BASH_BUILTINS or _ASSIGNMENT.match(pin.pin)):
            return shell_word("./" + pin.pin)  # `echo`, `if`, `a=b.sh` would not run the file
        return self._replacement(pin, value)

    def _argument(self, value: str, label: str, index: int, globbed: bool) -> str | None:
        self._check_future(value)
        found = self._sidecar_input(value, label)
        if found is not None:
            return self._replacement(found, value)
        if globbed:
            matches = self._glob(value)
            return self._glob_replacement(matches, value) if matches else None
        if is_float(value):
            return None
        if not _NO_EXTENSION_CHARS.search(value):  # `wc -l 'my fruit.txt'`: no rule 1 or 2, only existence
            self._check_rules(value, label, index)
        found = self._existing_input(value)
        return None if found is None else self._replacement(found, value)

    def _lenient(self, value: str, globbed: bool) -> str | None:
        if not self.namer.inside(value):
            return None  # left to the host, as before: a later `cd /` must not stage the filesystem
        self._check_future(value)
        found = self._sidecar_input(value, f"argument '{value}'")
        if found is not None:
            return self._replacement(found, value)
        if globbed:
            matches = [m for m in self._glob(value) if self.namer.inside(m) and not self._is_written(m)]
            return self._glob_replacement(matches, value) if matches else None
        if is_float(value):
            return None
        found = self._existing_input(value)
        return None if found is None else self._replacement(found, value)

    def _is_written(self, value: str) -> bool:
        full = os.path.normpath(self.local(value))
        return any(full == path or full.startswith(path.rstrip("/") + "/") for path in self.written)

    def _check_rules(self, value: str, label: str, index: int) -> None:
        full = self.local(value)
        extension = has_extension(value)
        if extension and not self.allow_missing_extension_files:
            if os.path.isdir(full):
                raise UsageError(
                    f"{label} has an extension but is a directory, so it must be an existing file (use -g1 to disable this rule)"
                )
            if not os.path.isfile(full):
                raise UsageError(f"{label} has an extension, so it must be an existing file (use -g1 to disable this rule)")
        if not extension and index > 1 and not self.allow_files_without_extension and not value.endswith("/") and os.path.isfile(full):
            raise UsageError(f"{label} has no extension, so it may not be an existing file (use -g2 to disable this rule)")
        if value.endswith("/") and not os.path.isdir(full):
            raise UsageError(f"{label} ends with '/', so it must be an existing directory")

    def _check_future(self, value: str) -> None:
        future = value + ".FUTURE"
        if os.path.exists(self.local(future)):
            self.futures.append(future)
            if self.wait_future is not None:
                self.wait_future(self.local(future), future)

    # -- inputs -------------------------------------------------------------------------

    def _existing_input(self, value: str) -> InputPin | None:
        full = self.local(value)
        if os.path.isdir(full):
            from ..store.paths import directory_index

            index = directory_index(full)
            pin = self._register(value, "directory", index.checksum, index=index.buffer)
            pin.sources, pin.entries = dict(index.sources), dict(index.entries)
            return pin
        if os.path.isfile(full):
            return self._register(value, "file", _file_checksum(full))
        return None

    def _sidecar_input(self, value: str, label: str) -> InputPin | None:
        if value.endswith(".CHECKSUM") or value.endswith(".INDEX"):
            return None
        from ..store.paths import read_checksum_sidecar, read_index_sidecar

        base = split_compression(value)[0]
        checksum_path = self.local(base + ".CHECKSUM")
        if not os.path.isfile(checksum_path):
            return None
        try:
            checksum = Checksum(read_checksum_sidecar(checksum_path))
        except (UsageError, ValueError):
            raise UsageError(f"{label}: {base}.CHECKSUM does not contain a valid checksum") from None
        index_path = self.local(base + ".INDEX")
        index = read_index_sidecar(index_path, checksum_path) if os.path.isfile(index_path) else None
        if os.path.exists(self.local(value)):
            return self._verified(self._existing_input(value), checksum, label, base, self.local(value))
        if index is not None:
            return self._register(value, "directory", checksum, index=index, local=False)
        return self._register(value, "file", checksum, local=False)

    @staticmethod
    def _verified(pin: InputPin, checksum: Checksum, label: str, base: str, full: str) -> InputPin:
        if pin.checksum != checksum:
            raise UsageError(_differs_message(pin, label, base, full))
        return pin

    def _register(self, value, kind, checksum, *, index=None, local=True) -> InputPin:
        name = self.namer.name(value, kind, label=value)
        existing = self.inputs.get(name)
        if existing is not None:
            return existing
        named = os.path.normpath(os.path.expanduser(value))
        pin = InputPin(name, kind, named if local else None, Checksum(checksum), index=index, named=named)
        self.inputs[name] = pin
        return pin

    # -- globs and rewriting ------------------------------------------------------------

    def _glob(self, pattern: str) -> list[str]:
        expanded = os.path.expanduser(pattern)
        if os.path.isabs(expanded):
            return sorted(glob.glob(expanded))
        return sorted(glob.glob(expanded, root_dir=self.cwd))

    def _glob_replacement(self, matches: list[str], value: str) -> str | None:
        pairs = [(match, self._existing_input(match)) for match in matches]
        pins = [pin for _, pin in pairs if pin is not None]
        if all(pin is None or pin.pin == os.path.normpath(match) for match, pin in pairs):
            return None  # the pattern matches the same names in the workspace
        return " ".join(shell_word(pin.pin, value) for pin in pins)

    @staticmethod
    def _replacement(pin: InputPin, value: str) -> str | None:
        if pin.pin == value:
            return None
        return shell_word(pin.pin, value)


def _differs_message(pin: InputPin, label: str, base: str, full: str) -> str:
    """Which of the two is newer, and the command that makes each one win (never: delete one)."""
    import shlex

    sidecar = os.path.join(os.path.dirname(full), os.path.basename(base) + ".CHECKSUM")
    content = max([os.path.getmtime(full)] + [os.path.getmtime(path) for path in pin.sources.values()])
    newer = "the file is newer" if content > os.path.getmtime(sidecar) else "the sidecar is newer"
    word = shlex.quote(pin.path or base)
    return (
        f"{label} differs from {base}.CHECKSUM, and {newer}: to use the {pin.kind} as it is, refresh the sidecar "
        f"with `seamless-upload {word}`; to get the sidecar's version back, run `seamless-download {word}`"
    )


def _file_checksum(path: str) -> Checksum:
    from ..store.paths import file_checksum

    return Checksum(file_checksum(path))
