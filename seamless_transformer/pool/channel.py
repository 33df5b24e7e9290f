"""The message channel between the parent and one worker: a multiprocessing Pipe.

Every message is a pickled dict {"kind", "op", "id", "payload"}; kind is "request",
"response" or "event". A response carries the id of its request. Buffers of at least
SEAMLESS_SHM_THRESHOLD bytes inside a payload are replaced by shm.ShmRef (see shm.py).

    parent                                              worker
      |                                                   |  (starts, imports the execution layer)
      | <------------- event    ready    {pid}  --------- |
      | -- request  run         {tasks: [[id, {tf_dict,   |  a batch: one thread per
      |                         tf, scratch, fingertip,   |  transformation, all started
      |                         direct_print, inputs?}],  |  at once
      |                         ...], settings?} -------> |
      | <----------- request  alloc    id' {size} ------- |  (a result buffer >= threshold)
      | -- response alloc    id' {ref} -----------------> |  the worker fills the segment
      | <----------- request  delegate id" {tf_dict, tf,  |  a nested transformation
      |                         scratch, fingertip, ...}  |
      | -- response delegate id" {status: cached | done | |  cached/done: {outcome}
      |                         error | refused, ...} --> |  refused: the worker runs it itself
      | <----------- event    release  {names} ---------- |  parent segments copied out: unlink
      | <----------- response run        {results: [[id,  |  what finished meanwhile
      |                  {outcome} | {error, etype, logs, |  (one or more)
      |                  traceback}], ...]} ------------- |
      | -- request  ping     id ----------------------->  |
      | <----------- response ping     id --------------- |  (within 1 s, or the worker is hung)
      | -- request  echo     id {data} ---------------->  |  (transport benchmark)
      | <----------- response echo     id {data} -------- |
      | -- event    stop ------------------------------>  |  the worker exits
      v                                                   v

The parent's sends never block: a sender thread per channel writes to the pipe, so its I/O
thread can never stall on a worker that is slow to read. A worker writes directly (under a
lock): the parent always reads, so a worker's write cannot block for long.
"""

import queue
import threading

_STOP = object()


class ChannelClosed(Exception):
    pass


def message(kind: str, op: str, id=None, payload=None) -> dict:
    return {"kind": kind, "op": op, "id": id, "payload": payload if payload is not None else {}}


class Channel:
    """One end of a pipe, with an asynchronous sender."""

    def __init__(self, conn, name="channel", direct=False):
        self.conn = conn
        self.closed = False
        self._queue = queue.SimpleQueue()
        self._sender = None
        self._send_lock = threading.Lock()
        if not direct:
            self._sender = threading.Thread(target=self._send_loop, name=f"{name}-send", daemon=True)
            self._sender.start()

    def send(self, kind: str, op: str, id=None, payload=None) -> None:
        if self.closed:
            raise ChannelClosed("channel is closed")
        if self._sender is not None:
            self._queue.put(message(kind, op, id, payload))
            return
        with self._send_lock:
            self._queue.put(message(kind, op, id, payload))
            self._flush()

    def _flush(self) -> None:
        """Write what is queued (direct mode, under the send lock)."""
        while not self._queue.empty():
            if not self._write(self._queue.get()):
                return

    def _send_loop(self):
        while True:
            item = self._queue.get()
            if item is _STOP or not self._write(item):
                return

    def _write(self, item) -> bool:
        """Send one message; False once the pipe is gone."""
        try:
            self.conn.send(item)
        except (OSError, ValueError, EOFError):
            self.closed = True
            return False
        except Exception as exc:  # noqa: BLE001 - an unpicklable payload: tell the peer
            if item["kind"] == "response":
                self._queue.put(_unpicklable_answer(item, exc))
        return True

    def recv(self) -> dict:
        """The next message (blocking). Raises ChannelClosed when the peer is gone."""
        try:
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            self.closed = True
            raise ChannelClosed(str(exc) or "peer closed the pipe") from None

    def close(self, flush_timeout=1.0) -> None:
        """Stop the sender (after it wrote what was queued) and close the pipe."""
        if self._sender is not None:
            self._queue.put(_STOP)
            self._sender.join(flush_timeout)
        self.closed = True
        try:
            self.conn.close()
        except OSError:
            pass


def _unpicklable_answer(item: dict, exc: Exception) -> dict:
    """The response that replaces one that cannot be pickled: an error; for a batch of results,
    an error in place of each result that cannot be pickled (the others go as they are)."""
    import pickle

    def error(exc):
        return {"error": f"{type(exc).__name__}: {exc}", "etype": "TransformationError"}

    results = item["payload"].get("results") if isinstance(item["payload"], dict) else None
    if not isinstance(results, list):
        return message("response", item["op"], item["id"], error(exc))
    fixed = []
    for rid, wire in results:
        try:
            pickle.dumps(wire)
        except Exception as one:  # noqa: BLE001 - whatever pickling raises
            wire = error(one)
        fixed.append([rid, wire])
    return message("response", item["op"], item["id"], {"results": fixed})


# ---------------------------------------------------------------- outcomes and errors on the wire


def outcome_to_wire(outcome) -> dict:
    """An execute.Outcome as a plain dict (its buffers can then be moved through shm)."""
    from dataclasses import fields

    return {f.name: getattr(outcome, f.name) for f in fields(outcome)}


def outcome_from_wire(data: dict):
    from ..execution.execute import Outcome

    return Outcome(**data)


def error_to_wire(exc: BaseException) -> dict:
    """What the parent needs to raise the same error the in-process engine would raise, with
    this process's traceback of it."""
    import traceback

    from ..errors import SeamlessError

    if isinstance(exc, SeamlessError):
        etype, text = type(exc).__name__, str(exc)
    else:
        etype, text = "TransformationError", f"{type(exc).__name__}: {exc}"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"error": text, "etype": etype, "logs": getattr(exc, "logs", None), "traceback": tb}


def error_from_wire(data: dict) -> BaseException:
    """The error of `error_to_wire`, its remote traceback as `__cause__` (a RemoteTraceback)."""
    from .. import errors

    cls = getattr(errors, data.get("etype") or "", None)
    if not (isinstance(cls, type) and issubclass(cls, errors.SeamlessError)):
        cls = errors.TransformationError
    exc = cls(data["error"])
    if isinstance(exc, errors.TransformationError):
        exc.logs = data.get("logs")
    if data.get("traceback"):
        exc.__cause__ = errors.RemoteTraceback(f'\n"""\n{data["traceback"]}"""')
    return exc
