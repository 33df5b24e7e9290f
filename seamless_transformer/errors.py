"""Exceptions of seamless-transformer, each carrying the exit code a CLI maps it to.

    SeamlessError (exit 1)
    ├── UsageError (ValueError, exit 2)          bad option, argument or input; nothing executed
    │   ├── ConfigError                          invalid seamless.yaml / environment
    │   └── StrictDunderError                    --strict and a differing envelope
    ├── CacheMissError (KeyError, exit 3)        a buffer or transformation is in no store
    │   └── ChecksumMismatchError                bytes that do not hash to their name
    ├── RemoteError (exit 3)                     a server is unreachable or misbehaves
    ├── TransformationError (RuntimeError, 1)    the transformation ran and failed
    │   ├── CanceledError                        it was canceled
    │   └── WorkerCrashedError                   its worker died too often
    └── NothingRunningError (exit 4)             seamless-cancel found nothing to cancel

The engine raises these and never exits; cli/ turns them into one stderr line + exit code.
Attributes an error carries are declared on its class (None when not known): a UsageError's
`usage` (its line points to --help), a TransformationError's `tf`, `logs` and `stderr`. An error
that happened in another process arrives with that process's traceback as its `__cause__`
(a RemoteTraceback), as concurrent.futures does.
"""


class SeamlessError(Exception):
    exit_code = 1

    def __str__(self):
        text = super().__str__()
        if isinstance(self, KeyError) and len(self.args) == 1:
            text = str(self.args[0])  # KeyError would quote the message
        return text


class UsageError(SeamlessError, ValueError):
    exit_code = 2

    def __init__(self, *args, usage: bool = False):
        super().__init__(*args)
        self.usage = usage  # True: the error line ends with "(see PROG --help)"


class ConfigError(UsageError):
    pass


class StrictDunderError(UsageError):
    pass


class CacheMissError(SeamlessError, KeyError):
    exit_code = 3


class ChecksumMismatchError(CacheMissError):
    pass


class RemoteError(SeamlessError):
    exit_code = 3


class TransformationError(SeamlessError, RuntimeError):
    """The transformation failed. `tf`: its checksum (hex), when known. `logs`: the stdout and
    stderr it produced (str). `stderr`: the last bytes of a bash job's stderr (bytes).
    `stdout`: what a failed bash job wrote as its result, which nobody has seen yet (bytes)."""

    exit_code = 1

    def __init__(self, *args, tf: str | None = None, logs: str | None = None, stderr: bytes | None = None,
                 stdout: bytes | None = None):
        super().__init__(*args)
        self.tf = tf
        self.logs = logs
        self.stderr = stderr
        self.stdout = stdout


class CanceledError(TransformationError):
    pass


class WorkerCrashedError(TransformationError):
    pass


class NothingRunningError(SeamlessError):
    exit_code = 4


class RemoteTraceback(Exception):
    """The formatted traceback of an exception raised in another process: the `__cause__` of the
    error that reports it here."""

    def __init__(self, tb: str):
        super().__init__(tb)
        self.tb = tb

    def __str__(self):
        return self.tb


def one_line(message) -> str:
    """A message as exactly one line: internal newlines become '; '."""
    parts = [p.strip() for p in str(message).splitlines()]
    return "; ".join(p for p in parts if p)
