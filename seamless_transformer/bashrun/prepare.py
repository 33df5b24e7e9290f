"""seamless-run preparation: argv + options -> a bash transformation, without executing it.

    prepare(words, RunOptions(...), cwd) -> PreparedRun
        build_command_string (§4.1) -> tree-sitter (bashparse) -> argtyping + pin names (§4.3, §4.4)
        -> result targets (§4.5) -> generated code (§2.7) -> transformation dict (§2.6)
    write_job_dir(prepared, DIR, upload=False)     the -j job directory (§4.9)
    wait_for_future(path, shown)                   block while an input is still being produced

Nothing here stores buffers or runs anything: PreparedRun.buffers says what to store.
"""

import os
import re
import time
from .._util import field, record_class as dataclass

from ..celltypes import serialize
from ..checksum import Checksum
from ..errors import UsageError
from .argtyping import ArgTyper, InputPin
from .bashcode import apply_rewrites, build_command_string, generate_code
from .bashparse import analyse
from ..identity import code_buffer as code_buffer_of, code_text_checksum, identity_buffer, tf_checksum
from .pinnames import PinNamer
from .targets import parse_captures, redirect_targets
from .._util import lazy_logger

__all__ = [
    "RunOptions",
    "PreparedRun",
    "build_command_string",
    "check_batch",
    "BatchWords",
    "prepare",
    "read_input_list",
    "wait_for_future",
    "write_job_dir",
]

logger = lazy_logger(__name__)
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
FUTURE_POLL_SECONDS = 0.5
FUTURE_STALE_SECONDS = 120


@dataclass
class RunOptions:
    """Every seamless-run flag that affects preparation."""

    single: bool = False  # -c
    allow_missing_extension_files: bool = False  # -g1: rule 1 off
    allow_files_without_extension: bool = False  # -g2: rule 2 off
    workdir: str | None = None  # -w
    root_slash: bool = False  # -W
    mapping: str = "literal"  # literal | strip (-ms) | extension (-mx)
    captures: list = field(default_factory=list)  # -cp
    inputs: list = field(default_factory=list)  # -i
    input_files: list = field(default_factory=list)  # -I
    vars: list = field(default_factory=list)  # "NAME=VALUE" strings
    metavars: list = field(default_factory=list)  # "NAME=VALUE" strings
    metafiles: list = field(default_factory=list)
    prologues: list = field(default_factory=list)
    primary: int = 1
    conda: str | None = None
    docker: str | None = None
    ncores: int | None = None
    direct_print: bool = False
    scratch: bool = False
    no_download: bool = False  # -nd
    qsubmit: bool = False
    meta: dict = field(default_factory=dict)  # extra __meta__ entries (queue, node, ...)


@dataclass
class PreparedRun:
    tf_dict: dict  # full dict: pins incl. META__, dunders
    tf_checksum: Checksum
    identity_buffer: bytes
    code: str  # the code buffer, decoded
    code_buffer: bytes
    command: str  # the user's command after rewriting (and prologues)
    inputs: dict  # pin name -> InputPin (META__FILE__ pins included)
    targets: list  # [Target(workspace, local)], STDOUT included when -cp :B
    capture_stdout: str | None  # local file for captured stdout
    mode: str  # "stdout" | "targets"
    futures: list  # .FUTURE files that were waited for
    buffers: dict  # Checksum -> bytes, or -> str (path of a file to store)
    env: dict | None  # the __env__ dict, if any
    dunder: dict  # execution-only part: __meta__, __env__, META__* pins


def wait_for_future(path: str, shown: str | None = None, *, poll: float = FUTURE_POLL_SECONDS, stale: float = FUTURE_STALE_SECONDS):
    """Block while `path` (a .FUTURE file) exists; a future older than `stale` seconds is an error."""
    shown = path if shown is None else shown
    announced = False
    while True:
        try:
            mtime = os.stat(path).st_mtime
        except FileNotFoundError:
            return
        if time.time() - mtime > stale:
            raise UsageError(f"stale future '{shown}'")
        from ..store.outputs import future_owner_dead

        if future_owner_dead(path):
            raise UsageError(f"stale future '{shown}': the process that wrote it is gone; delete it")
        if not announced:
            logger.info("waiting for '%s'", shown)
            announced = True
        time.sleep(poll)


def read_input_list(listfile: str, cwd: str) -> list[str]:
    """-I FILE: one path per line; blank and # lines ignored; relative lines are relative to FILE's directory."""
    full = os.path.join(cwd, os.path.expanduser(listfile))
    try:
        with open(full, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        raise UsageError(f"input file list '{listfile}' cannot be read") from None
    except UnicodeDecodeError:
        raise UsageError(f"input file list '{listfile}' is not valid UTF-8") from None
    base = os.path.dirname(os.path.expanduser(listfile))
    paths = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        entry = os.path.expanduser(entry)
        paths.append(entry if os.path.isabs(entry) else os.path.normpath(os.path.join(base, entry)))
    return paths


def _assignments(items, flag: str) -> dict:
    result: dict[str, str] = {}
    for item in items:
        if isinstance(item, (tuple, list)):
            name, value = item
        elif "=" in item:
            name, value = item.split("=", 1)
        else:
            raise UsageError(f"{flag} expects NAME=VALUE, got '{item}'")
        if not _VAR_NAME.match(name):
            raise UsageError(f"{flag} {name}: invalid name (it must match [A-Za-z_][A-Za-z0-9_]*)")
        if flag == "--metavar" and name.upper().startswith("META__"):
            raise UsageError(f"--metavar {name}: the name may not start with META__")
        if name in result and result[name] != value:
            raise UsageError(f"{flag} {name} is given twice with different values")
        result[name] = value
    return result


def _analyse_command(text: str, options: RunOptions, typer: ArgTyper, explicit: list, cwd: str):
    """Argtyping (strict for the primary command, lenient for every other word) + redirect
    targets of the last command -> (command, targets)."""
    analysis = analyse(text)
    commands = analysis.commands
    if not 1 <= options.primary <= len(commands):
        raise UsageError(f"--primary {options.primary}: the command has only {len(commands)} command(s)")
    typer.writes([word.value for word in analysis.written if not word.expands] + [t.workspace for t in explicit])
    rewrites = []
    for number, (strict, nested) in enumerate(zip(commands, analysis.nested), 1):
        primary = number == options.primary
        for analysed, leniently in [(aw, not primary) for aw in strict] + [(aw, True) for aw in nested]:
            replacement = typer.type_word(analysed, text, lenient=leniently)
            if replacement is not None:
                rewrites.append((analysed.word.start, analysed.word.end, replacement))
    targets, target_rewrites = redirect_targets(analysis.redirects, explicit, cwd, text)
    return apply_rewrites(text, rewrites + target_rewrites), targets


def _metafile_pins(options: RunOptions, namer: PinNamer, cwd: str) -> dict:
    from ..store.paths import file_checksum

    pins = {}
    for path in options.metafiles:
        full = os.path.join(cwd, os.path.expanduser(path))
        if not os.path.isfile(full):
            raise UsageError(f"--metafile '{path}': file does not exist")
        name = namer.name(path, "file")
        pins["META__FILE__" + name] = InputPin(name, "file", os.path.normpath(path), Checksum(file_checksum(full)))
    return pins


def _uncovered(inputs: dict, metafiles: dict) -> dict:
    """The pins without those another pin already puts in the workspace, which would be written
    twice: a file or directory inside a directory pin (`cat d/a.txt; ls d`), a --metafile's name."""
    directories = [name for name, pin in inputs.items() if pin.kind == "directory"]
    provided = {pin.pin for pin in metafiles.values()}
    kept = {}
    for name, pin in inputs.items():
        inside = any(name != d and (d == "." or name.startswith(d + "/")) for d in directories)
        if not inside and name not in provided:
            kept[name] = pin
    return kept


def _input_entry(pin: InputPin):
    if pin.kind == "directory":
        entry = ["mixed", None, pin.checksum.hex()]
        fmt = {"filesystem": {"optional": True, "mode": "directory"}, "celltype": "deepfolder"}
    else:
        entry = ["bytes", None, pin.checksum.hex()]
        fmt = {"filesystem": {"optional": True, "mode": "file"}}
    return entry, fmt


def _input_buffers(pin: InputPin, buffers: dict, cwd: str) -> None:
    if pin.kind == "directory":
        if pin.index is not None:
            buffers[pin.checksum] = pin.index
        for relpath, source in pin.sources.items():
            buffers[Checksum(pin.entries[relpath])] = source
    elif pin.path is not None:
        buffers[pin.checksum] = os.path.join(cwd, pin.path)


def _value_pins(tf_dict: dict, buffers: dict, values: dict, prefix: str) -> None:
    for name, value in values.items():
        buffer = serialize(value, "str")
        checksum = Checksum.of(buffer)
        buffers[checksum] = buffer
        tf_dict[prefix + name] = ["str", None, checksum.hex()]


def _meta_and_env(options: RunOptions, tf_dict: dict, buffers: dict):
    meta = dict(options.meta)
    if options.ncores is not None:
        meta["ncores"] = options.ncores
    if options.direct_print:
        meta["__direct_print__"] = True
    if meta:
        tf_dict["__meta__"] = meta
    env = {}
    if options.conda:
        env["conda_environment"] = options.conda
    if options.docker:
        env["docker"] = {"name": options.docker}
    if not env:
        return None
    buffer = serialize(env, "plain")
    checksum = Checksum.of(buffer)
    buffers[checksum] = buffer
    tf_dict["__env__"] = checksum.hex()
    return env


def _collect_inputs(typer: ArgTyper, options: RunOptions, cwd: str) -> None:
    for path in options.inputs:
        typer.add_input(path)
    for listfile in options.input_files:
        for path in read_input_list(listfile, cwd):
            typer.add_input(path)


def prepare(words, options: RunOptions | None = None, cwd: str | None = None, *, wait_future=wait_for_future) -> PreparedRun:
    """Build the transformation of a seamless-run command line (nothing is stored or executed)."""
    options = RunOptions() if options is None else options
    cwd = os.path.abspath(os.getcwd() if cwd is None else cwd)
    text = build_command_string(words, options.single)
    explicit, stdout_local = parse_captures(options.captures, cwd)
    namer = PinNamer(cwd, mapping=options.mapping, workdir=options.workdir, root_slash=options.root_slash)
    typer = ArgTyper(
        cwd, namer, wait_future=wait_future,
        allow_missing_extension_files=options.allow_missing_extension_files,
        allow_files_without_extension=options.allow_files_without_extension,
    )
    command, redirect_tgts = _analyse_command(text, options, typer, explicit, cwd)
    command = "".join(prologue + "; " for prologue in options.prologues) + command
    _collect_inputs(typer, options, cwd)
    targets = explicit + redirect_tgts
    if not targets and (options.no_download or options.scratch or options.qsubmit):
        raise UsageError("no capture targets; refusing to print output")
    variables = _assignments(options.vars, "--var")
    metavars = _assignments(options.metavars, "--metavar")
    for name in variables:
        namer.claim(name, f"--var {name}")
    metafiles = _metafile_pins(options, namer, cwd)
    inputs = _uncovered(typer.inputs, metafiles)
    inputs.update(metafiles)
    code = generate_code(
        command,
        executables=[pin.pin for pin in typer.inputs.values() if pin.executable],
        metavars=list(metavars),
        targets=[target.workspace for target in targets],
        capture_stdout=stdout_local is not None,
    )
    return _assemble(code, command, inputs, targets, stdout_local, variables, metavars, options, typer.futures, cwd)


def _assemble(code, command, inputs, targets, stdout_local, variables, metavars, options, futures, cwd) -> PreparedRun:
    mode = "targets" if targets else "stdout"
    tf_dict: dict = {"__language__": "bash", "__output__": ["result", "bytes" if mode == "stdout" else "deepfolder", None]}
    buffers: dict = {}
    fmt = {}
    for name, pin in inputs.items():
        entry, pin_format = _input_entry(pin)
        tf_dict[name] = entry
        if not name.startswith("META__"):
            fmt[name] = pin_format
        _input_buffers(pin, buffers, cwd)
    if fmt:
        tf_dict["__format__"] = fmt
    code_buffer = code_buffer_of(code)
    code_checksum = code_text_checksum(code)
    buffers[code_checksum] = code_buffer
    tf_dict["code"] = ["text", None, code_checksum.hex()]
    _value_pins(tf_dict, buffers, variables, "")
    _value_pins(tf_dict, buffers, metavars, "META__")
    env = _meta_and_env(options, tf_dict, buffers)
    ident = identity_buffer(tf_dict)
    checksum = tf_checksum(tf_dict)
    buffers[checksum] = ident
    dunder = {key: value for key, value in tf_dict.items() if key in ("__meta__", "__env__") or key.startswith("META__")}
    return PreparedRun(
        tf_dict=tf_dict,
        tf_checksum=checksum,
        identity_buffer=ident,
        code=code_buffer.decode(),
        code_buffer=code_buffer,
        command=command,
        inputs=inputs,
        targets=list(targets),
        capture_stdout=stdout_local,
        mode=mode,
        futures=list(futures),
        buffers=buffers,
        env=env,
        dunder=dunder,
    )


def check_batch(runs: list, labels: list, cwd: str) -> None:
    """UsageError if a job of a batch (submitted together, run in any order) reads or writes what
    an earlier one writes: it would hash the old contents, or two jobs would race for one file.
    Identical commands (the same transformation and targets) may repeat. `labels` name the jobs."""
    writers: dict = {}  # absolute path written -> index of the first job that writes it
    parents: dict = {}  # every directory above a written path -> that index
    for index, run in enumerate(runs):
        own = [os.path.normpath(os.path.join(cwd, target.local)) for target in run.targets]
        read = [os.path.normpath(os.path.join(cwd, pin.named)) for pin in run.inputs.values() if pin.named]
        for path, verb in [(path, "reads") for path in read] + [(path, "writes") for path in own]:
            earlier = _written_by(path, writers, parents)
            if earlier is not None and not _same_job(runs[earlier], run):
                shown = os.path.relpath(path, cwd)
                raise UsageError(
                    f"{labels[index]} {verb} '{shown}', which {labels[earlier]} writes: submit it after that job has finished"
                )
        for path in own:
            writers.setdefault(path, index)
            parent = os.path.dirname(path)
            while parent not in parents and parent != os.path.dirname(parent):
                parents[parent] = index
                parent = os.path.dirname(parent)


class BatchWords:
    """The words of a batch's commands, checked one command at a time before it is prepared:
    `check(text)` raises UsageError if `text` names a file (or a directory above one) that an
    earlier command's redirect writes. Such a file does not exist yet, so it would be no input
    (or rule 1 would refuse it for a reason that misleads). Identical commands may repeat; words
    with expansions and paths outside `cwd` are not checked. `labels` name the commands."""

    def __init__(self, labels: list, cwd: str):
        self.labels, self.cwd, self.commands = labels, cwd, []
        self.writers: dict = {}  # absolute path written -> index of the first command that writes it
        self.parents: dict = {}  # every directory above a written path, below cwd -> that index

    def check(self, text: str) -> None:
        cwd, index = self.cwd, len(self.commands)
        try:
            analysis = analyse(text)
        except UsageError:  # a line that does not parse: prepare says why, naming the line
            self.commands.append(text)
            return
        for word in [aw.word for group in analysis.commands + analysis.nested for aw in group]:
            path = os.path.normpath(os.path.join(cwd, word.value))
            inside = not word.expands and path.startswith(cwd + os.sep)
            earlier = _written_by(path, self.writers, self.parents) if inside else None
            if earlier is not None and self.commands[earlier] != text:
                raise UsageError(f"{self.labels[index]} reads '{os.path.relpath(path, cwd)}', which "
                                 f"{self.labels[earlier]} writes: submit it after that job has finished")
        self.commands.append(text)
        for word in analysis.written:
            path = os.path.normpath(os.path.join(cwd, word.value))
            self.writers.setdefault(path, index)
            while (path := os.path.dirname(path)).startswith(cwd + os.sep):
                self.parents.setdefault(path, index)


def _written_by(path: str, writers: dict, parents: dict):
    """The index of the job that writes `path`, a directory above it, or something inside it."""
    found = writers.get(path, parents.get(path))
    parent = os.path.dirname(path)
    while found is None and parent != os.path.dirname(parent):
        found = writers.get(parent)
        parent = os.path.dirname(parent)
    return found


def _same_job(first: PreparedRun, second: PreparedRun) -> bool:
    return first.tf_checksum == second.tf_checksum and first.targets == second.targets


def write_job_dir(prepared: PreparedRun, directory: str, upload: bool = False) -> None:
    """The -j job directory. With upload, only the tf checksum file and dunder.json."""
    from .._util import atomic_write

    if os.path.lexists(directory):
        raise UsageError(f"job directory '{directory}' already exists")
    os.mkdir(directory)
    if upload:
        atomic_write(os.path.join(directory, "transformation.json.CHECKSUM"), (prepared.tf_checksum.hex() + "\n").encode())
    else:
        atomic_write(os.path.join(directory, "transformation.json"), prepared.identity_buffer)
        atomic_write(os.path.join(directory, "command.txt"), prepared.code_buffer)
        if prepared.env is not None:
            atomic_write(os.path.join(directory, "env.json"), serialize(prepared.env, "plain"))
    if prepared.dunder:
        atomic_write(os.path.join(directory, "dunder.json"), serialize(prepared.dunder, "plain"))

