"""What every command shares: one-line errors, exit codes, verbosity, signals.

A command's `main()` calls `run_main(prog, body, argv)`. `body(argv)` does the work and
returns an exit code; every exception becomes exactly one stderr line
`<prog>: error: <message>` and the exit code of its class. Ctrl-C exits 130, SIGTERM 143,
a broken stdout pipe exits silently. `--debug`, `-vvv` or `SEAMLESS_DEBUG=1` add our traceback.

This module does not import click: commands on the fast path can use it without paying
for click's import.
"""

import os
import signal
import sys

from ..errors import SeamlessError, UsageError, one_line


class Terminated(BaseException):
    """Raised in the main thread when SIGTERM arrives (so cleanup code runs)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _prog_formatter(prog):
    import logging

    class _ProgFormatter(logging.Formatter):
        def format(self, record):
            message = one_line(record.getMessage()) if record.levelno >= logging.WARNING else record.getMessage()
            if record.levelno >= logging.ERROR:
                return f"{prog}: error: {message}"
            if record.levelno >= logging.WARNING:
                return f"{prog}: warning: {message}"
            return f"{prog}: {message}"

    return _ProgFormatter()


def setup_logging(prog: str, verbose: int = 0, quiet: bool = False, *, lazy: bool = False) -> None:
    """Route the package's logging to stderr: warnings by default, -v info, -vv debug, -q errors.
    With `lazy`, the default set-up waits until a record is shown (so a quiet run never imports logging)."""
    from .._util import defer_logging

    level = 40 if quiet else {0: 30, 1: 20}.get(verbose, 10)  # ERROR, WARNING, INFO, DEBUG
    if lazy and level == 30 and "logging" not in sys.modules:
        defer_logging(lambda: _route_logging(prog, level))
    else:
        _route_logging(prog, level)


def _route_logging(prog: str, level: int) -> None:
    import logging

    logger = logging.getLogger("seamless_transformer")
    logger.handlers[:] = []
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_prog_formatter(prog))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


_debug = False  # --debug or -vvv, as parsed by start()


def debug_enabled() -> bool:
    """Show our traceback with the error line: SEAMLESS_DEBUG=1, or --debug / -vvv."""
    from ..config import debug_env

    return _debug or debug_env()


def error_line(prog: str, exc: BaseException) -> str:
    message = one_line(str(exc)) or type(exc).__name__
    if isinstance(exc, UsageError) and exc.usage:
        message += f" (see {prog} --help)"
    return f"{prog}: error: {message}"


def _silence_stdout():
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def run_main(prog: str, body, argv=None) -> int:
    """Run `body(argv)`; map every outcome to an exit code. Never returns a traceback by default."""
    global _debug
    argv = list(sys.argv[1:] if argv is None else argv)
    _debug = False
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = body(argv)
        sys.stdout.flush()
        return int(code or 0)
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return 143
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except SeamlessError as exc:
        if debug_enabled():
            import traceback

            traceback.print_exc()
        print(error_line(prog, exc), file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        if debug_enabled():
            import traceback

            traceback.print_exc()
        print(f"{prog}: error: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def start(prog: str, *, verbose=0, quiet=False, debug=False, project=None, stage=None, lazy_logging=False) -> None:
    """Set up logging (--debug implies -vv; `lazy_logging`: see setup_logging) and the configuration
    from "P[:SUB]" / "S[:SUB]"."""
    from .. import config

    global _debug
    _debug = debug or verbose >= 3
    setup_logging(prog, max(verbose, 2) if debug else verbose, quiet, lazy=lazy_logging)
    project, _, subproject = (project or "").partition(":")
    stage, _, substage = (stage or "").partition(":")
    config.init(project=project or None, subproject=subproject or None, stage=stage or None,
                substage=substage or None, prog=prog)


def usage_error(message: str) -> UsageError:
    """A usage error; its line ends with ' (see <prog> --help)'."""
    return UsageError(message, usage=True)
