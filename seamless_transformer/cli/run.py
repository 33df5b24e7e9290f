"""seamless-run [OPTIONS] [--] COMMAND...: a bash command as a cached transformation.

    argv ─► _runargs.parse ─► command.prepare (argtyping, pins, targets, code, tf checksum)
         ─► --dry / -j / --upload / --write-remote-job / --undo: print the tf and stop
         ─► lookup (result DB + result buffer) ──hit──► stdout bytes, or targets + sidecars
         ─► miss: store inputs ─► .FUTURE files ─► engine.run_here (in this thread) ─► outputs

The hit path is the one users pay for on every repeat, so it imports neither click nor bashlex
(the parse is memoized by bashparse.analyse) nor the execution layer (engine, execution.bash,
workspace): those are imported only on a miss. Input files are hashed through the stat memo.

Signals: SIGINT exits 130 and SIGTERM 143. Either one, arriving while the job runs, makes
execution.bash kill the job's process group and remove its workspace before we exit; the .FUTURE
files are removed on every exit path.
"""

import logging
import os
import signal
import sys

from ._common import Terminated, run_main, start, usage_error
from ._runargs import PROG, help_text, parse

logger = logging.getLogger("seamless_transformer.cli.run")


def main(argv=None):
    sys.exit(run_main(PROG, body, argv))


def body(argv) -> int:
    args = parse(argv)
    if args.help:
        sys.stdout.write(help_text())
        return 0
    if args.node is not None:
        raise usage_error(f"--node {args.node}: choosing a node needs Dask execution, which is not available")
    for directory, flag in ((args.job_dir, "-j"), (args.remote_job_dir, "--write-remote-job")):
        if directory is not None and os.path.lexists(directory):
            raise usage_error(f"{flag} {directory}: the directory already exists")
    start(PROG, verbose=args.verbose, quiet=args.quiet, debug=args.debug, project=args.project, stage=args.stage)
    from .. import config
    from ..bashrun.prepare import prepare

    cwd = os.getcwd()
    prepared = prepare(args.command, _run_options(args, config.get_settings()), cwd)
    logger.info("transformation %s", prepared.tf_checksum.hex())
    if args.dry:
        return _dry(args, prepared, cwd)
    if args.qsubmit:
        return _qsubmit(args, prepared, cwd, argv)
    if args.undo:
        return _undo(prepared)
    return _run(args, prepared, cwd)


def _answer(args):
    return True if args.yes else False if args.no else None


def _run_options(args, settings):
    from ..bashrun.prepare import RunOptions

    meta = {}
    if settings.queue:
        meta["queue"] = settings.queue
    if args.local:
        meta["local"] = True
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
    from ..store.outputs import future_files
    from ..store.materialize import _threshold

    queue_path = queuefile.queue_file()
    if queuefile.ends_with_eof(queue_path):
        raise queuefile.finished_error(queue_path)  # before anything is stored or a .FUTURE written
    store_buffers(prepared.buffers, get_storage(), _answer(args))
    tf = prepared.tf_checksum.hex()
    params = {
        "undo": bool(args.undo), "scratch": bool(args.scratch), "workdir": cwd,
        "download": not args.no_download, "auto_confirm": "yes" if args.yes else "no",
        "capture_stdout": prepared.capture_stdout is not None,
        "max_download_size": _threshold("SEAMLESS_MAX_DOWNLOAD_SIZE", str),
        "max_download_files": _threshold("SEAMLESS_MAX_DOWNLOAD_FILES", int),
    }  # fmt: skip
    targets = {t.workspace: (None if t.local == t.workspace else t.local) for t in prepared.targets}
    cmd = queuefile.submit_command("seamless-run " + " ".join(argv), tf, prepared.tf_dict, targets, params)
    futures = [] if args.undo else future_files(prepared, cwd)
    try:
        for path, content in futures:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as future:  # a marker: no fsync needed
                future.write(content)
        queuefile.append_record(queue_path, queuefile.encode(cmd))
    except BaseException:
        for path, _content in futures:
            if os.path.exists(path):
                os.unlink(path)
        raise
    print(tf)
    return 0


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
    logger.info("cache miss %s", tf)
    if args.docker:
        import shutil

        if shutil.which("docker") is None:
            from ..errors import UsageError

            raise UsageError(f"--docker {args.docker}: docker is not available")
    store_buffers(prepared.buffers, storage, _answer(args))
    from ..errors import CacheMissError
    from ..store.outputs import Futures

    streamed = prepared.mode == "stdout"  # the job's stdout reaches ours live, as it is written
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
    from ..errors import CanceledError, TransformationError
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
