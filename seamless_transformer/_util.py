"""Small helpers with no dependency beyond the standard library: atomic file writes, quiet unlink,
the one validator of paths that come from data (index keys, pin names, queue records), and
pinned directories (`pinned_dir`), through which writes follow no symlink placed meanwhile.
"""

import contextlib
import os
import sys


TEMP_PREFIX = ".seamless-tmp-"
STALE_SECONDS = 600.0
_cleaned: set = set()  # (pid, directory) already cleaned by this process


def temp_name(path: str) -> str:
    """A temp name in the directory of `path` (so os.replace is atomic), short whatever the
    length of `path`'s own name: ".seamless-tmp-<pid>-<random>". The first call for a
    directory removes the stale temp files of killed writers there (see remove_stale_temps)."""
    directory = os.path.dirname(os.path.abspath(path))
    if (os.getpid(), directory) not in _cleaned:
        _cleaned.add((os.getpid(), directory))
        remove_stale_temps(directory, lambda name: writer_pid(name, TEMP_PREFIX))
    return os.path.join(directory, f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")


def writer_pid(name: str, prefix: str) -> int | None:
    """The pid in a temp name "<prefix><pid>-<random>", or None if `name` is not one."""
    if not name.startswith(prefix):
        return None
    pid, sep, rand = name[len(prefix):].partition("-")
    if not (sep and pid.isdigit() and rand and all(c in "0123456789abcdef" for c in rand)):
        return None
    return int(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temps(directory: str, pid_of) -> int:
    """Remove the temp files (and temp directories) of killed writers in `directory`: the names for
    which `pid_of(name)` gives a writer pid, not modified for STALE_SECONDS, whose writer is not
    alive on this host. A live writer's file is never removed. Returns how many were removed;
    errors are ignored."""
    import shutil
    import time

    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        pid = pid_of(entry.name)
        if pid is None or pid == os.getpid():
            continue
        try:
            fresh = time.time() - entry.stat(follow_symlinks=False).st_mtime < STALE_SECONDS
            if fresh or _pid_alive(pid):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` so that readers see either the old file or the new one.

    The bytes go to a temp file in the same directory, are fsynced, get their mode,
    and are renamed into place. A failure removes the temp file and re-raises.
    """
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = path  # a full disk: name the file it was for
        raise


def unlink_quiet(path: str) -> None:
    """Remove a file if it can be removed; a file that is gone or protected is left to others."""
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write_text(path: str, text: str, mode: int = 0o644) -> None:
    atomic_write(path, text.encode("utf-8"), mode)


def check_relpath(path, what: str = "path") -> str:
    """Validate a relative path that comes from data (an index key, a pin name, a queue target).

    It must be a non-empty str of "/"-separated components, none of them empty, ".", "..",
    containing NUL or longer than NAME_MAX bytes, and must not start with "/". Returns `path` unchanged; raises
    UsageError (exit 2) "<what>: unsafe path '<path>' (<reason>)" otherwise.
    """
    reason = _unsafe_reason(path)
    if reason is not None:
        from .errors import UsageError, one_line

        shown = path if isinstance(path, str) else repr(path)
        raise UsageError(one_line(f"{what}: unsafe path {shown!r} ({reason})"))
    return path


NAME_MAX = 255  # bytes in one file name: the limit of every common Linux filesystem


def _unsafe_reason(path) -> str | None:
    if not isinstance(path, str) or not path:
        return "empty" if path == "" else "not a string"
    if "\0" in path:
        return "contains NUL"
    if path.startswith("/"):
        return "absolute"
    for part in path.split("/"):
        if not part:
            return "empty component"
        if part in (".", ".."):
            return f"contains {part!r}"
        if len(os.fsencode(part)) > NAME_MAX:
            return f"a component longer than {NAME_MAX} bytes"
    return None


def check_relpaths(paths, what: str = "path") -> None:
    """check_relpath of every path of a set that names files (an index, the pins of a job), and
    none of them may be a directory of another (UsageError naming it: "a" and "a/b" cannot both
    be files)."""
    paths = list(paths)
    for path in paths:
        check_relpath(path, what)
    files = set(paths)
    for path in sorted(paths):
        parts = path.split("/")
        for n in range(1, len(parts)):
            if "/".join(parts[:n]) in files:
                from .errors import UsageError, one_line

                prefix = "/".join(parts[:n])
                raise UsageError(one_line(f"{what}: unsafe path {path!r} ({prefix!r} is a file too)"))


def confined_join(root: str, path, what: str = "path") -> str:
    """`root`/`path` for a `path` from data (see check_relpath) whose existing directories,
    symlinks resolved, stay inside `root`; the last component itself is never followed by
    our writers (they rename over it). Raises UsageError (exit 2) naming the path otherwise.
    """
    full = os.path.join(root, check_relpath(path, what))
    real_root = os.path.realpath(root)
    parent = os.path.realpath(os.path.dirname(full))
    if parent != real_root and not parent.startswith(real_root.rstrip(os.sep) + os.sep):
        from .errors import UsageError, one_line

        raise UsageError(one_line(f"{what}: unsafe path {path!r} (a symlink leads outside the target)"))
    return full


FD_DIR = "/proc/self/fd"  # /proc/self/fd/N names the directory open as fd N, whatever happens to its path


@contextlib.contextmanager
def pinned_dir(root: str, relpath: str = "", *, create: bool = False, nofollow_root: bool = False,
               what: str = "path"):
    """Yield a path naming directory `root`/`relpath` through an open descriptor
    ("/proc/self/fd/N"): what is written through it lands in that very directory, even if a
    component of its path is swapped for a symlink meanwhile.

    `root` is opened as given (with `nofollow_root`, a symlink there is refused); `relpath` (from
    data: see check_relpath) is walked one component at a time from its parent's descriptor,
    each created first (with `create`, mode per the umask); a component may be a symlink only
    to a directory inside `root`. Raises UsageError (exit 2) naming `relpath` otherwise, and
    OSError when a component is missing or not a directory. Without /proc (not Linux), yields
    the joined path after the same checks, which then cannot pin it. An OSError raised inside
    names its files as the user knows them, not as /proc/self/fd/N/..."""
    if relpath:
        check_relpath(relpath, what)
    if not os.path.isdir(FD_DIR):
        yield _unpinned_dir(root, relpath, create, nofollow_root, what)
        return
    yield from _pin(root, relpath, create, nofollow_root, what)


def _name_as_shown(exc: OSError) -> None:
    for attr in ("filename", "filename2"):
        if isinstance(getattr(exc, attr), str):
            setattr(exc, attr, unpinned(getattr(exc, attr), shown=True))


def _pin(root, relpath, create, nofollow_root, what):
    from .errors import UsageError, one_line

    try:
        fd = _open_dir(root, None, follow=not nofollow_root)
    except OSError as exc:
        if nofollow_root and os.path.islink(root):
            raise UsageError(one_line(f"'{root}' is a symbolic link; it could lead anywhere")) from None
        raise exc
    try:
        real_root = os.readlink(f"{FD_DIR}/{fd}")
        for part in relpath.split("/") if relpath else ():
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
            parent, fd = fd, _open_dir(part, fd)
            os.close(parent)
            if not _inside(os.readlink(f"{FD_DIR}/{fd}"), real_root):
                raise UsageError(one_line(f"{what}: unsafe path {relpath!r} (a symlink leads outside the target)"))
        try:
            yield f"{FD_DIR}/{fd}"
        except OSError as exc:
            _name_as_shown(exc)  # while fd still names the directory
            raise
    finally:
        os.close(fd)


def _open_dir(name: str, dir_fd, follow: bool = True) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    return os.open(name, flags, dir_fd=dir_fd)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _unpinned_dir(root, relpath, create, nofollow_root, what) -> str:
    from .errors import UsageError

    if nofollow_root and os.path.islink(root):
        raise UsageError(f"'{root}' is a symbolic link; it could lead anywhere")
    full = confined_join(root, relpath, what) if relpath else root
    if create:
        os.makedirs(full, exist_ok=True)
    return full


def unpinned(path: str, *, shown: bool = False) -> str:
    """The ordinary path of a path under a pinned directory ("/proc/self/fd/N/x" -> "/real/dir/x"),
    for the stat memo; with `shown`, for messages: relative to the current directory when inside
    it. Any other path is returned unchanged."""
    path = os.fspath(path)
    if not isinstance(path, str) or not path.startswith(FD_DIR + "/"):
        return path
    fd_part, _sep, rest = path[len(FD_DIR) + 1:].partition("/")
    try:
        real = os.readlink(f"{FD_DIR}/{fd_part}")
    except OSError:
        return path
    real = os.path.join(real, rest) if rest else real
    if shown:
        here = os.path.realpath(os.getcwd())
        if _inside(real, here) and real != here:
            return os.path.relpath(real, here)
    return real


# ---------------------------------------------------------------- record classes for the fast path


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record class."""


_MISSING = object()


class _Field:
    __slots__ = ("default", "default_factory", "compare")

    def __init__(self, default, default_factory, compare):
        self.default, self.default_factory, self.compare = default, default_factory, compare


def field(*, default=_MISSING, default_factory=_MISSING, compare=True):
    """Like dataclasses.field (default, default_factory, compare), for `record_class`."""
    return _Field(default, default_factory, compare)


def record_class(cls=None, *, frozen=False):
    """A small dataclasses.dataclass for the command-line fast path: fields from the class's own
    annotations (and those of record-class bases) with defaults or `field(...)`; __init__ by position
    or keyword, __repr__, __eq__ over the compared fields, and with frozen=True no assignment and a
    __hash__. It neither imports dataclasses (and inspect with it) nor compiles code per class."""
    def wrap(cls):
        specs = dict(getattr(cls, "__record_fields__", {}))
        for name in cls.__dict__.get("__annotations__", {}):
            value = cls.__dict__.get(name, _MISSING)
            spec = value if isinstance(value, _Field) else _Field(value, _MISSING, True)
            if isinstance(value, _Field):
                if value.default is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value.default)
            specs[name] = spec
        cls.__record_fields__ = specs
        cls.__init__ = _record_init
        cls.__repr__ = _record_repr
        cls.__eq__ = _record_eq
        if frozen:
            cls.__setattr__ = cls.__delattr__ = _frozen_setattr
            cls.__hash__ = lambda self: hash(_compared(self))
        else:
            cls.__hash__ = None
        return cls

    return wrap if cls is None else wrap(cls)


def record_replace(record, **changes):
    """A copy of a `record_class` instance with `changes` (like dataclasses.replace); TypeError for a
    name that is not a field."""
    fields = type(record).__record_fields__
    unknown = set(changes) - set(fields)
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {sorted(unknown)[0]!r}")
    return type(record)(**{name: changes.get(name, getattr(record, name)) for name in fields})


def _record_init(self, *args, **kwargs):
    specs = type(self).__record_fields__
    if len(args) > len(specs):
        raise TypeError(f"{type(self).__name__}() takes {len(specs)} arguments, {len(args)} given")
    values = dict(zip(specs, args))
    for name, value in kwargs.items():
        if name not in specs or name in values:
            raise TypeError(f"{type(self).__name__}() got an unexpected or repeated argument {name!r}")
        values[name] = value
    for name, spec in specs.items():
        if name not in values:
            if spec.default is not _MISSING:
                values[name] = spec.default
            elif spec.default_factory is not _MISSING:
                values[name] = spec.default_factory()
            else:
                raise TypeError(f"{type(self).__name__}() missing required argument {name!r}")
        object.__setattr__(self, name, values[name])


def _record_repr(self) -> str:
    inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in type(self).__record_fields__)
    return f"{type(self).__qualname__}({inner})"


def _compared(self) -> tuple:
    return tuple(getattr(self, name) for name, spec in type(self).__record_fields__.items() if spec.compare)


def _record_eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _compared(self) == _compared(other)


def _frozen_setattr(self, name, *value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


# ---------------------------------------------------------------- logging, imported when needed

_pending_logging: list = []  # a logging set-up deferred until a record is to be shown (see lazy_logger)


def defer_logging(configure) -> None:
    """Run `configure()` (which sets up logging) only when a logger of lazy_logger first needs logging,
    or at logging_ready(). For a set-up at the default level (WARNING): records below it are dropped."""
    _pending_logging[:] = [configure]


def logging_ready() -> None:
    """Apply a deferred logging set-up now (before code that logs through `logging` directly runs)."""
    while _pending_logging:
        _pending_logging.pop()()


class _LazyLogger:
    """logging.getLogger(name), with `logging` imported on first need. While nothing has imported
    logging, no level below WARNING can be enabled, so debug() and info() are then dropped at the
    cost of a dict lookup; every other attribute is the real logger's."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def _logger(self):
        import logging

        logging_ready()
        return logging.getLogger(self.name)

    def debug(self, *args, **kwargs) -> None:
        if "logging" in sys.modules:
            self._logger().debug(*args, **kwargs)

    def info(self, *args, **kwargs) -> None:
        if "logging" in sys.modules:
            self._logger().info(*args, **kwargs)

    def __getattr__(self, attr):
        return getattr(self._logger(), attr)


def lazy_logger(name: str):
    """A stand-in for logging.getLogger(name) that does not import logging on the fast path."""
    return _LazyLogger(name)
