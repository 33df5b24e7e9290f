"""Pin names for seamless-run inputs: the literal, strip and extension mappings.

A `PinNamer` turns local paths (relative to the cwd, as the user typed them) into workspace
pin names, remembering every name it gave so that one source always gets one name and two
sources never share one.
"""

import os

from ..checksum import COMPRESSION_SUFFIXES, split_compression  # noqa: F401 - re-exported
from ..errors import UsageError

MAPPINGS = ("literal", "strip", "extension")
RESERVED_PIN_NAMES = frozenset({"code", "bashcode", "pins_"})


class PinNamer:
    """Assigns pin names to local paths under one mapping mode."""

    def __init__(self, cwd: str, *, mapping: str = "literal", workdir: str | None = None, root_slash: bool = False):
        if mapping not in MAPPINGS:
            raise UsageError(f"unknown mapping mode '{mapping}'")
        self.cwd = os.path.abspath(cwd)
        self.mapping = mapping
        self.root_slash = root_slash
        if workdir is None:
            root = os.path.realpath(self.cwd)
        else:
            root = os.path.realpath(os.path.join(self.cwd, os.path.expanduser(workdir)))
        self.root = root
        self._by_source: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        self._nfiles = 0

    def fullpath(self, path: str) -> str:
        """Absolute path with '..' kept (Path.absolute semantics, against our cwd)."""
        return absolute_path(self.cwd, os.path.expanduser(path))

    def name(self, path: str, kind: str, *, label: str | None = None) -> str:
        """The pin name of local `path` (kind 'file' or 'directory'); `label` names it in errors."""
        full = os.path.normpath(self.fullpath(path))
        known = self._by_source.get(full)
        if known is not None:
            return known
        shown = path if label is None else label
        if self.mapping == "strip":
            pin = os.path.basename(full)
        elif self.mapping == "extension" and kind == "file":
            pin = self._numbered(full)
        else:
            pin = self._literal(path, shown)
        self._register(pin, full, shown)
        return pin

    def _literal(self, path: str, shown: str) -> str:
        full = self.fullpath(path)
        if self.root_slash:
            pin = os.path.normpath(full).lstrip("/")
            return pin or "."
        if full.rstrip("/") == self.root:
            return "."
        prefix = self.root.rstrip("/") + "/"
        # the second candidate covers a cwd or an absolute argument reached through a symlink
        for candidate in (full, os.path.realpath(full)):
            if candidate.startswith(prefix):
                pin = os.path.normpath(candidate[len(prefix):])
                if pin != ".." and not pin.startswith("../"):
                    return pin
        raise UsageError(f"argument '{shown}' is not under the working directory; use -ms, -mx, -w or -W")

    def inside(self, path: str) -> bool:
        """True if local `path` is the pin-naming root (cwd or -w DIR) or lies under it; -W is ignored."""
        full = self.fullpath(path)
        prefix = self.root.rstrip("/") + "/"
        for candidate in (full, os.path.realpath(full)):
            candidate = os.path.normpath(candidate)
            if candidate == self.root or candidate.startswith(prefix):
                return True
        return False

    def _numbered(self, full: str) -> str:
        self._nfiles += 1
        base, compression = split_compression(os.path.basename(full))
        semantic = path_suffix(base)
        return f"file{self._nfiles}{semantic}{compression}"

    def _register(self, pin: str, full: str, shown: str) -> None:
        check_pin_name(pin, shown)
        other = self._by_name.get(pin)
        if other is not None and other != full:
            raise UsageError(f"pin name '{pin}' would be used for both '{other}' and '{full}'; use -mx or rename")
        self._by_name[pin] = full
        self._by_source[full] = pin

    def claim(self, pin: str, what: str) -> None:
        """Reserve a non-path pin name (a --var); clashes with a path pin are errors."""
        if pin in self._by_name:
            raise UsageError(f"{what} clashes with input pin '{pin}'")
        self._by_name[pin] = f"<{what}>"


def shell_word(path: str, typed: str = "") -> str:
    """`path` as one shell word for a rewrite: quoted where needed, and with `./` in front when it
    would start with `-` where the `typed` word did not (`./-n.txt` must not become the option `-n.txt`)."""
    import shlex

    if path.startswith("-") and not typed.startswith("-"):
        path = "./" + path
    return shlex.quote(path)


def absolute_path(cwd: str, path: str) -> str:
    """str(pathlib.Path(cwd, path)) without importing pathlib: '.' and empty parts go, '..' stays."""
    full = path if path.startswith("/") else cwd + "/" + path
    parts = [part for part in full.split("/") if part not in ("", ".")]
    return "/" + "/".join(parts)


def path_suffix(path: str) -> str:
    """pathlib's PurePosixPath(path).suffix, without importing pathlib (on the cache-hit path)."""
    name = ([part for part in path.split("/") if part not in ("", ".")] or [""])[-1]
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def check_pin_name(pin: str, shown: str) -> None:
    try:
        pin.encode("utf-8")
    except UnicodeEncodeError:  # a name read from the disk (a glob match, --metafile): the dict is UTF-8 JSON
        shown = shown.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UsageError(f"file name is not valid UTF-8: '{shown}'") from None
    if pin in RESERVED_PIN_NAMES:
        raise UsageError(f"argument '{shown}' gives the pin name '{pin}', which is reserved; rename it or use -mx")
    if pin.startswith("/") or pin == ".." or pin.startswith("../") or "/../" in pin:
        raise UsageError(f"argument '{shown}' gives the invalid pin name '{pin}'")
    if pin.startswith("META__"):
        raise UsageError(f"argument '{shown}' gives the pin name '{pin}'; names starting with META__ are reserved")
