"""The queue file of seamless-queue (upstream Seamless's format, so that upstream submitters and servers interoperate).

    <record> = json.dumps(cmd, indent=2) + "\\x00"
    cmd      = {"queue_command": "SUBMIT", "original_command": "seamless-run ...", "transformation_checksum": hex,
                "transformation_dict": {...full dict, META__ pins included...},
                "result_targets": {workspace_target: local_name_or_null, ...},
                "params": {"undo", "scratch", "workdir", "download", "auto_confirm": "yes"|"no", "capture_stdout",
                           "max_download_size", "max_download_files"}}
    <end>    = '{"queue_command": "EOF"}' + "\x00"   (compact)

Writers append one whole record with a single write() while holding `<F>.LOCK` (created with
O_CREAT|O_EXCL; a lock older than LOCK_STALE_SECONDS is broken). A writer that finds the file not
ending with a NUL (a writer killed or out of disk space mid-record) writes a NUL first, so the
half record is one malformed record and the new one stays whole. The reader may still see a
record in pieces (another writer's implementation, a slow file system), so it keeps a byte buffer
(RecordBuffer) and only ever parses complete, NUL-terminated records.

    queue_file(explicit=None) -> str        --queue-file, else $SEAMLESS_QUEUE_FILE, else ./.seamless-queue
    submit_command(...) -> dict             a SUBMIT command
    encode(cmd) -> bytes                    one record
    EOF_RECORD                              the end record
    append_record(path, record)             locked, one write(); refused once the file ends with EOF
    append_eof(path)                        locked; UsageError if there is no queue file
    ends_with_eof(path) -> bool             the queue is finishing: nothing appended now would run
    write_status(path, failed) / read_status(path) -> int | None
                                            `<F>.STATUS`: how many jobs failed, written by the server
                                            just before it deletes F, read by seamless-queue-finish
    RecordBuffer().feed(data) -> [bytes]    the records completed by `data` (partial tail kept)
    parse(record_bytes) -> QueueCommand     ValueError if it is not a valid queue command
"""

import json
import os
import time
from dataclasses import dataclass

from ..checksum import is_hex_checksum
from ..errors import UsageError

DEFAULT_QUEUE_FILE = ".seamless-queue"
LOCK_STALE_SECONDS = 30.0
LOCK_POLL_SECONDS = 0.005
SEPARATOR = b"\x00"
PARAM_DEFAULTS = {
    "undo": False,
    "scratch": False,
    "download": True,
    "auto_confirm": "no",
    "capture_stdout": False,
    "max_download_size": 500_000_000,
    "max_download_files": 2000,
}


def queue_file(explicit: str | None = None) -> str:
    """The queue file: --queue-file, else $SEAMLESS_QUEUE_FILE, else ./.seamless-queue (absolute)."""
    from ..config import queue_file_env

    path = explicit or queue_file_env() or DEFAULT_QUEUE_FILE
    return os.path.abspath(os.path.expanduser(path))


def submit_command(original_command: str, tf_checksum: str, tf_dict: dict, result_targets: dict, params: dict) -> dict:
    return {
        "queue_command": "SUBMIT",
        "original_command": original_command,
        "transformation_checksum": tf_checksum,
        "transformation_dict": tf_dict,
        "result_targets": result_targets,
        "params": params,
    }


def encode(cmd: dict) -> bytes:
    return json.dumps(cmd, indent=2).encode() + SEPARATOR


EOF_RECORD = json.dumps({"queue_command": "EOF"}).encode() + SEPARATOR  # compact, as upstream writes it


# ---------------------------------------------------------------- writing


class SubmitterLock:
    """`<F>.LOCK`, created exclusively; a lock older than `stale` seconds is a crashed writer's and is broken."""

    def __init__(self, path: str, stale: float = LOCK_STALE_SECONDS):
        self.lock_path = path + ".LOCK"
        self.stale = stale

    def __enter__(self):
        while True:
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._break_if_stale()
                time.sleep(LOCK_POLL_SECONDS)
                continue
            os.close(fd)
            return self

    def _break_if_stale(self):
        try:
            age = time.time() - os.stat(self.lock_path).st_mtime
        except FileNotFoundError:
            return
        if age > self.stale:
            try:
                os.unlink(self.lock_path)
            except FileNotFoundError:
                pass

    def __exit__(self, *exc):
        try:
            os.unlink(self.lock_path)
        except FileNotFoundError:
            pass
        return False


def finished_error(path: str) -> UsageError:
    return UsageError(f"the queue '{path}' is finished (seamless-queue-finish was run), so this job would never run; "
                      "submit it after seamless-queue has deleted the file")


def append_record(path: str, record: bytes) -> bool:
    """Append one record under the submitter lock, with one write(). Returns whether the file existed.

    UsageError (exit 2) if the file already ends with EOF: the server ignores what follows EOF.
    """
    with SubmitterLock(path):
        existed = os.path.exists(path)
        if existed and ends_with_eof(path):
            raise finished_error(path)
        _write_whole(path, record)
    return existed


def append_eof(path: str) -> None:
    """End the queue: append EOF (once). UsageError if there is no queue file: nothing was submitted."""
    with SubmitterLock(path):
        if not os.path.exists(path):
            raise UsageError(f"there is no queue file '{path}': nothing was submitted, so there is nothing to finish")
        _remove(status_path(path))  # a status left by an earlier queue of this name
        if not ends_with_eof(path):
            _write_whole(path, EOF_RECORD)


def _write_whole(path: str, record: bytes) -> None:
    """Append `record` (called with the lock held). A file that does not end with a separator
    holds the half record of a writer that crashed or ran out of space: a separator first closes
    it off, so it stays one malformed record and ours stays whole."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != SEPARATOR:
            record = SEPARATOR + record
        written = os.write(fd, record)
        while written < len(record):  # only on a signal or a full disk; keep the record whole
            written += os.write(fd, record[written:])
    finally:
        os.close(fd)


def ends_with_eof(path: str, tail: int = 4096) -> bool:
    """True if the last complete record of the queue file is EOF (missing or unreadable file: False)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - tail))
            data = handle.read()
    except OSError:
        return False
    complete = [record for record in data.split(SEPARATOR)[:-1] if not is_blank(record)]
    if not complete:
        return False
    try:
        return json.loads(complete[-1].decode()).get("queue_command") == "EOF"
    except (UnicodeDecodeError, ValueError, AttributeError):
        return False


def status_path(path: str) -> str:
    return path + ".STATUS"


def write_status(path: str, failed: int) -> None:
    """The server's outcome, for seamless-queue-finish: written before the queue file is deleted."""
    from .._util import atomic_write

    atomic_write(status_path(path), (json.dumps({"failed": failed}) + "\n").encode())


def read_status(path: str) -> int | None:
    """How many jobs of the finished queue failed, and the status file is removed; None if unknown."""
    try:
        with open(status_path(path), "rb") as handle:
            failed = json.loads(handle.read().decode())["failed"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    _remove(status_path(path))
    return failed if isinstance(failed, int) else None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------- reading


class RecordBuffer:
    """Bytes read from the queue file so far; hands out complete records only."""

    def __init__(self):
        self._pending = bytearray()

    def feed(self, data: bytes) -> list:
        self._pending += data
        if SEPARATOR not in data:
            return []
        *records, tail = bytes(self._pending).split(SEPARATOR)
        self._pending = bytearray(tail)
        return records

    @property
    def partial(self) -> bytes:
        return bytes(self._pending)


@dataclass
class QueueCommand:
    kind: str  # "SUBMIT" | "EOF"
    original_command: str = ""
    tf_checksum: str = ""
    tf_dict: dict | None = None
    result_targets: dict | None = None  # workspace target -> local name (None: the same name)
    params: dict | None = None

    @property
    def workdir(self) -> str:
        return self.params["workdir"]


def _relative(path) -> bool:
    """A target name must stay inside the job's workdir."""
    from .._util import check_relpath
    from ..errors import UsageError

    try:
        return check_relpath(path) == path
    except UsageError:
        return False


def is_blank(record: bytes) -> bool:
    """An empty record (e.g. a stray NUL) is skipped silently, as upstream does."""
    return not record.strip()


def parse(record: bytes) -> QueueCommand:
    """A record's command; ValueError if it is not a valid queue command."""
    try:
        cmd = json.loads(record.decode())
    except (UnicodeDecodeError, ValueError):
        raise ValueError("not JSON") from None
    if not isinstance(cmd, dict):
        raise ValueError("not a JSON object")
    kind = cmd.get("queue_command")
    if kind == "EOF":
        return QueueCommand("EOF")
    if kind != "SUBMIT":
        raise ValueError(f"unknown queue command {kind!r}")
    tf, tf_dict, targets = cmd.get("transformation_checksum"), cmd.get("transformation_dict"), cmd.get("result_targets")
    params = cmd.get("params")
    if not isinstance(tf, str) or not is_hex_checksum(tf) or not isinstance(tf_dict, dict):
        raise ValueError("no valid transformation")
    if not isinstance(targets, dict) or not all(_relative(k) and (v is None or _relative(v)) for k, v in targets.items()):
        raise ValueError("invalid result_targets")
    if not isinstance(params, dict) or not isinstance(params.get("workdir"), str) or not os.path.isabs(params["workdir"]):
        raise ValueError("params.workdir must be an absolute path")
    params = {**PARAM_DEFAULTS, **params}
    original = cmd.get("original_command")
    return QueueCommand("SUBMIT", original if isinstance(original, str) else "", tf.lower(), tf_dict, targets, params)
