"""seamless-run [OPTIONS] [--] COMMAND...: a bash command as a cached transformation.

    argv ─► _runargs.parse ─► command.prepare (argtyping, pins, targets, code, tf checksum)
         ─► --dry / -j / --upload / --write-remote-job / --undo: print the tf and stop
         ─► lookup (result DB + result buffer) ──hit──► stdout bytes, or targets + sidecars
         ─► miss: store inputs ─► .FUTURE files ─► engine.run_here (in this thread) ─► outputs

The hit path is the one users pay for on every repeat, so it imports neither click nor the bash parser
(the parse is memoized by bashparse.analyse) nor the execution layer (engine, execution.bash,
workspace): those are imported only on a miss. Input files are hashed through the stat memo.

Signals: SIGINT exits 130 and SIGTERM 143. Either one, arriving while the job runs, makes
execution.bash kill the job's process group and remove its workspace before we exit; the .FUTURE
files are removed on every exit path.
"""

import os
import signal
import sys

from ._common import Terminated, run_main, start, usage_error
from ._runargs import PROG, help_text, parse
from .._util import lazy_logger, logging_ready

logger = lazy_logger("seamless_transformer.cli.run")


def main(argv=None):
    sys.exit(run_main(PROG, body, argv))


def body(argv) -> int:
    args = parse(argv)
    if args.help:
        sys.stdout.write(help_text())
        return 0
    for directory, flag in ((args.job_dir, "-j"), (args.remote_job_dir, "--write-remote-job")):
        if directory is not None and os.path.lexists(directory):
            raise usage_error(f"{flag} {directory}: the directory already exists")
    plain_run = args.batch is None and not (args.dry or args.qsubmit or args.undo)  # a hit imports no logging
    start(PROG, verbose=args.verbose, quiet=args.quiet, debug=args.debug, project=args.project, stage=args.stage,
          lazy_logging=plain_run)
    from .. import config
    from ..bashrun.prepare import prepare

    if args.node is not None and not _dask_configured():
        raise usage_error(f"--node {args.node}: choosing a node needs Dask execution, which is not available")
    cwd = os.getcwd()
    if args.batch is not None:
        return _qsubmit_batch(args, _run_options(args, config.get_settings()), cwd)
    prepared = prepare(args.command, _run_options(args, config.get_settings()), cwd)
    logger.info("transformation %s", prepared.tf_checksum.hex())
    if args.dry:
        return _dry(args, prepared, cwd)
    if args.qsubmit:
        return _qsubmit(args, prepared, cwd, argv)
    if args.undo:
        return _undo(prepared)
    return _run(args, prepared, cwd)


def _dask_configured() -> bool:
    from ..dask import dask_configured

    return dask_configured()


def _answer(args):
    return True if args.yes else False if args.no else None


def _run_options(args, settings):
    from ..bashrun.prepare import RunOptions

    meta = {}
    if settings.queue:
        meta["queue"] = settings.queue
    if args.local:
        meta["local"] = True
    if args.node is not None or settings.node:
        meta["node"] = args.node if args.node is not None else settings.node
    mapping = "strip" if args.mapping_strip else "extension" if args.mapping_extension else "literal"
    return RunOptions(
        single=args.single, allow_missing_extension_files=args.allow_missing_extension_files,
        allow_files_without_extension=args.allow_files_without_extension,
        workdir=os.path.expanduser(args.workdir) if args.workdir is not None else None,
        root_slash=args.root_slash, mapping=mapping, captures=list(args.captures),
        inputs=list(args.inputs), input_files=list(args.input_files), vars=list(args.vars),
        metavars=list(args.metavars), metafiles=list(args.metafiles), prologues=list(args.prologues),
        primary=args.primary or 1, conda=args.conda, docker=args.docker, ncores=args.ncores,
        direct_print=args.direct_print, scratch=args.scratch, no_download=args.no_download, meta=meta,
        qsubmit=args.qsubmit,
    )  # fmt: skip


# ---------------------------------------------------------------- preparation modes


def _dry(args, prepared, cwd) -> int:
    from ..bashrun.prepare import write_job_dir

    upload = args.upload or args.remote_job_dir is not None
    if upload:
        from ..store.storage import get_storage

        store_buffers(prepared.buffers, get_storage(), _answer(args))
    if args.job_dir is not None:
        write_job_dir(prepared, os.path.join(cwd, args.job_dir), upload=upload)
    if args.remote_job_dir is not None:
        from ._remote_job import write_remote_job

        write_remote_job(prepared, os.path.join(cwd, args.remote_job_dir))
    print(prepared.tf_checksum.hex())
    return 0


def _undo(prepared) -> int:
    from ..errors import CacheMissError
    from ..store.storage import get_storage

    storage = get_storage()
    tf = prepared.tf_checksum
    result = storage.get_result(tf)
    if result is None:
        raise CacheMissError("no cached result to undo")
    storage.declare_irreproducible(tf, result)
    logger.info("declared %s -> %s irreproducible", tf.hex(), result.hex())
    print(tf.hex())
    return 0


def _qsubmit(args, prepared, cwd, argv) -> int:
    """Store the inputs, create the targets' .FUTURE files, append the queue record."""
    from ..queue import queuefile
    from ..store.storage import get_storage

    queue_path = queuefile.queue_file()
    if queuefile.ends_with_eof(queue_path):
        raise queuefile.finished_error(queue_path)  # before anything is stored or a .FUTURE written
    store_buffers(prepared.buffers, get_storage(), _answer(args))
    record, futures = _queue_record(args, prepared, cwd, "seamless-run " + " ".join(argv))
    _append_with_futures(queue_path, record, futures)
    print(prepared.tf_checksum.hex())
    return 0


def _queue_record(args, prepared, cwd, original: str) -> tuple:
    """The queue record of a prepared job (bytes) and its .FUTURE files [(path, content)]."""
    from ..queue import queuefile
    from ..store.materialize import _threshold
    from ..store.outputs import future_files

    tf = prepared.tf_checksum.hex()
    params = {
        "undo": bool(args.undo), "scratch": bool(args.scratch), "workdir": cwd,
        "download": not args.no_download, "auto_confirm": "yes" if args.yes else "no",
        "capture_stdout": prepared.capture_stdout is not None,
        "max_download_size": _threshold("SEAMLESS_MAX_DOWNLOAD_SIZE", str),
        "max_download_files": _threshold("SEAMLESS_MAX_DOWNLOAD_FILES", int),
    }  # fmt: skip
    targets = {t.workspace: (None if t.local == t.workspace else t.local) for t in prepared.targets}
    cmd = queuefile.submit_command(original, tf, prepared.tf_dict, targets, params)
    futures = [] if args.undo else future_files(prepared, cwd)
    return queuefile.encode(cmd), futures


def _append_with_futures(queue_path: str, records: bytes, futures: list) -> None:
    """Write the .FUTURE files, then append the records in one locked write; on failure remove the futures."""
    from ..queue import queuefile

    try:
        for path, content in futures:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as future:  # a marker: no fsync needed
                future.write(content)
        queuefile.append_record(queue_path, records)
    except BaseException:
        for path, _content in futures:
            if os.path.exists(path):
                os.unlink(path)
        raise


def _qsubmit_batch(args, options, cwd) -> int:
    """--qsubmit --batch FILE: prepare every command first (a bad one submits nothing), then store
    all inputs, write all .FUTURE files and append all records with one locked write."""
    import shlex

    from ..bashrun.prepare import BatchWords, check_batch, prepare
    from ..errors import SeamlessError
    from ..queue import queuefile
    from ..store.storage import get_storage

    commands = _batch_commands(args.batch, args.null)
    queue_path = queuefile.queue_file()
    if queuefile.ends_with_eof(queue_path):
        raise queuefile.finished_error(queue_path)
    labels = [f"{'command' if args.null else 'line'} {number}" for number, _command in commands]
    jobs, words = [], BatchWords(labels, cwd)
    for number, command in commands:
        try:
            words.check(command)
        except SeamlessError as exc:  # the message names the lines
            exc.args = (f"--batch {args.batch}, {exc}",) + exc.args[1:]
            raise
        try:
            jobs.append((command, prepare([command], options, cwd)))
        except SeamlessError as exc:  # the same error, saying which command it is about
            where = f"command {number}" if args.null else f"line {number}"
            exc.args = (f"--batch {args.batch}, {where}: {exc}",) + exc.args[1:]
            raise
    try:
        check_batch([prepared for _command, prepared in jobs], labels, cwd)
    except SeamlessError as exc:
        exc.args = (f"--batch {args.batch}, {exc}",) + exc.args[1:]
        raise
    buffers = {}
    for _command, prepared in jobs:
        buffers.update(prepared.buffers)
    store_buffers(buffers, get_storage(), _answer(args))
    records, futures = [], []
    for command, prepared in jobs:
        record, job_futures = _queue_record(args, prepared, cwd, "seamless-run --qsubmit " + shlex.quote(command))
        records.append(record)
        futures += job_futures
    _append_with_futures(queue_path, b"".join(records), futures)
    sys.stdout.write("".join(prepared.tf_checksum.hex() + "\n" for _command, prepared in jobs))
    return 0


def _batch_commands(source: str, null: bool) -> list:
    """[(number, command)] from FILE or stdin (-): newline- or NUL-separated; blank entries skipped, and
    lines that are only a comment; a UTF-8 byte-order mark and the CR of CRLF line ends are dropped."""
    try:
        if source == "-":
            if sys.stdin is None:
                raise usage_error("--batch -: standard input is closed")
            data = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise usage_error(f"--batch {source}: {exc.strerror or exc}") from None
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    entries = text.split("\0") if null else [line.removesuffix("\r") for line in text.split("\n")]
    commands = [(number, entry) for number, entry in enumerate(entries, 1)
                if entry.strip() and (null or not entry.lstrip().startswith("#"))]
    if not commands:
        raise usage_error(f"--batch {source}: no command in it")
    return commands


def store_buffers(buffers: dict, storage, answer=None) -> None:
    """Store the job's buffers: bytes as they are, files by path (compressed ones decompressed)."""
    from ..checksum import Checksum
    from ..store.paths import store_file

    missing = set(storage.missing_buffers(buffers))
    files = [(cs, path) for cs, path in buffers.items() if isinstance(path, str) and Checksum(cs) in missing]
    if files:
        from ..store.materialize import confirm_upload

        nbytes = sum(_size(path) for _cs, path in files)
        confirm_upload(len(files), nbytes, answer, prog=PROG)
        logger.info("uploading %d file(s)", len(files))
    for cs, value in buffers.items():
        if not isinstance(value, str) and Checksum(cs) in missing:
            storage.put_buffer(value, cs)
    if not files:
        return
    from ..store.materialize import progress

    with progress(len(files), nbytes, desc="upload") as bar:
        for cs, path in files:
            store_file(path, cs, storage)
            bar.update()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# ---------------------------------------------------------------- lookup, execution, outputs


def _run(args, prepared, cwd) -> int:
    from ..store.storage import get_storage

    storage = get_storage()
    download = not (args.no_download or args.scratch)
    buffer = _cached_result(prepared, storage, download)
    tf = prepared.tf_checksum.hex()
    if buffer is not None:
        logger.info("cache hit %s", tf)
        _write_outputs(prepared, buffer, storage, cwd, download, _answer(args))
        return 0
    logging_ready()  # the engine and the execution layer log through logging itself
    logger.info("cache miss %s", tf)
    if args.docker:
        import shutil

        if shutil.which("docker") is None:
            from ..errors import UsageError

            raise UsageError(f"--docker {args.docker}: docker is not available")
    store_buffers(prepared.buffers, storage, _answer(args))
    from ..backends import activate_backend
    from ..errors import CacheMissError
    from ..store.outputs import Futures

    remote = activate_backend() in ("dask", "jobserver") and not args.local  # never on the hit path
    # the job's stdout reaches ours live, as it is written (unless the job runs on Dask or a jobserver)
    streamed = prepared.mode == "stdout" and not remote
    with Futures(prepared, cwd), _stdout_streamed(streamed, prepared.tf_dict):
        try:
            buffer = _execute(args, prepared)
        except CacheMissError:
            if not _restore_inputs(prepared, storage):
                raise
            buffer = _execute(args, prepared)  # an input buffer was corrupt: stored again from its file
        if not streamed:
            _write_outputs(prepared, buffer, storage, cwd, download, _answer(args))
    return 0


def _stdout_streamed(on: bool, tf_dict):
    import contextlib

    if not on:
        return contextlib.nullcontext()
    from ..execution.bash import result_streamed_to

    return result_streamed_to(sys.stdout.buffer, tf_dict)


def _restore_inputs(prepared, storage) -> bool:
    """Store again the input files whose buffers are gone (a corrupt buffer file is discarded
    when met); True if there were any."""
    gone = {cs: path for cs, path in prepared.buffers.items() if isinstance(path, str) and not storage.has_buffer(cs)}
    for cs, path in gone.items():
        logger.info("input buffer %s was not available; storing %s again", cs.hex(), path)
    store_buffers(gone, storage, True)
    return bool(gone)


def _cached_result(prepared, storage, download: bool):
    """The cached result buffer (stdout mode: its Checksum, streamed from the store), or None when
    the job must run (no result, or a buffer is gone)."""
    from ..store.outputs import usable_result

    targets = prepared.targets if prepared.mode == "targets" else ()
    return usable_result(prepared.tf_checksum, targets, storage, download=download)


def _write_outputs(prepared, buffer, storage, cwd, download, answer) -> None:
    """`buffer`: the result buffer, or its Checksum (stdout mode: streamed from the store)."""
    from ..checksum import Checksum
    from ..store.outputs import write_stdout, write_stored_stdout, write_targets

    if prepared.mode == "stdout" and isinstance(buffer, Checksum):
        write_stored_stdout(buffer, storage)
    elif prepared.mode == "stdout":
        write_stdout(buffer)
    else:
        if isinstance(buffer, Checksum):
            buffer = storage.get_buffer(buffer)  # the deep index: small
        write_targets(prepared, buffer, storage, cwd=cwd, download=download, answer=answer)


class _Signals:
    """SIGINT/SIGTERM while the job runs: interrupt the job once, remember which signal it was."""

    def __init__(self):
        self.caught = None
        self.previous = {}

    def __enter__(self):
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        return False

    def _handle(self, signum, frame):
        if self.caught is not None:
            return  # the job is already being stopped
        self.caught = KeyboardInterrupt if signum == signal.SIGINT else Terminated
        raise self.caught()

    def reraise(self):
        if self.caught is not None:
            raise self.caught()


def _execute(args, prepared):
    """Run the job in this thread (the engine records it); return the result buffer, or the
    result Checksum when the buffer is not at hand (a big result, stored from its file)."""
    from ..errors import CanceledError, RemoteError, TransformationError
    from .. import engine

    tf = prepared.tf_checksum
    with _Signals() as signals:
        try:  # use_cache=False: _cached_result found no usable result
            job = engine.run_here(prepared.tf_dict, tf, scratch=args.scratch, direct_print=args.direct_print,
                                  fingertip=args.fingertip, use_cache=False)
        except (KeyboardInterrupt, Terminated):
            signals.reraise()
            raise
        signals.reraise()
    try:
        result = job.result()
    except CanceledError:
        raise TransformationError(f"transformation {tf.hex()} was canceled") from None
    except TransformationError as exc:
        if isinstance(exc.__cause__, RemoteError):  # a server could not be reached: exit 3
            raise exc.__cause__ from None
        _print_unshown_stdout(exc)
        raise TransformationError(f"{exc} (transformation {tf.hex()[:12]})") from None
    return job.result_buffer if job.result_buffer is not None else result


def _print_unshown_stdout(exc) -> None:
    """A failed job's stdout that was captured but not streamed is printed, as bash would have."""
    stdout = getattr(exc, "stdout", None)
    if stdout:
        from ..store.outputs import write_stdout

        write_stdout(stdout)


if __name__ == "__main__":
    main()
