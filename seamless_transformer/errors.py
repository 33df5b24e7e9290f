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
    exit_code = 1


class CanceledError(TransformationError):
    pass


class WorkerCrashedError(TransformationError):
    pass


class NothingRunningError(SeamlessError):
    exit_code = 4


def one_line(message) -> str:
    """A message as exactly one line: internal newlines become '; '."""
    parts = [p.strip() for p in str(message).splitlines()]
    return "; ".join(p for p in parts if p)
