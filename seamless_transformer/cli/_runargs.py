"""The argv of seamless-run: one declarative option table that parses and also writes --help.

Why not click, like the other commands: seamless-run is the command a user types over and over,
and a cache hit has to answer in a few tens of milliseconds (at most a few times `python3 -S -c pass`).
Importing click alone costs about as much as the whole hit path, so this one command parses its
argv with the small table below. Its grammar is also simpler than click's: every option comes
before the first command word, so parsing stops at the first word that is not an
option, or after `--`, and everything from there on is the command, options lookalikes included.

    parse(argv) -> RunArgs       UsageError (exit 2, one line) on any bad option or combination
    help_text() -> str
"""

from ._common import usage_error

PROG = "seamless-run"


class Opt:
    """One option: every spelling (e.g. ("-cp", "--capture")), where its value goes, and its kind:
    "flag", "count" (-v -vv), "value" (the last one wins) or "append" (repeatable)."""

    __slots__ = ("names", "dest", "kind", "metavar", "help", "group")

    def __init__(self, names, dest, kind, metavar="", help="", group="Options"):  # noqa: A002
        self.names, self.dest, self.kind = names, dest, kind
        self.metavar, self.help, self.group = metavar, help, group


OPTIONS = (
    # output and verbosity
    Opt(("-v", "--verbose"), "verbose", "count", help="More messages: -v info (cache hit or miss, the transformation checksum), -vv debug, -vvv tracebacks."),
    Opt(("-q", "--quiet"), "quiet", "flag", help="Errors only."),
    Opt(("--debug",), "debug", "flag", help="Show tracebacks of internal errors."),
    Opt(("--project",), "project", "value", "P[:SUB]", "Project (and subproject) whose storage is used."),
    Opt(("--stage",), "stage", "value", "S[:SUB]", "Stage (and substage) of the project."),
    # the command and its inputs
    Opt(("-c",), "single", "flag", help="The command is exactly one argument, used verbatim.", group="Command and inputs"),
    Opt(("-g1",), "allow_missing_extension_files", "flag", help="Turn rule 1 off: a word with an extension (a.txt) need not be an existing file.", group="Command and inputs"),
    Opt(("-g2",), "allow_files_without_extension", "flag", help="Turn rule 2 off: a word without an extension may be an existing file (an input).", group="Command and inputs"),
    Opt(("-w",), "workdir", "value", "DIR", "Inputs keep their path relative to DIR (not to the current directory) inside the job's directory.", "Command and inputs"),
    Opt(("-W",), "root_slash", "flag", help="Inputs keep their full path (without the leading /) inside the job's directory.", group="Command and inputs"),
    Opt(("-ms",), "mapping_strip", "flag", help="Inputs are placed by their base name (data/a.txt becomes a.txt); the command is rewritten to match.", group="Command and inputs"),
    Opt(("-mx",), "mapping_extension", "flag", help="Input files are placed as file1.txt, file2.csv, ... (extensions kept); the command is rewritten to match.", group="Command and inputs"),
    Opt(("-i", "--input"), "inputs", "append", "PATH", "Extra input file or directory, also when the command does not name it (repeatable).", "Command and inputs"),
    Opt(("-I", "--input-file"), "input_files", "append", "FILE", "File listing input paths, one per line (repeatable).", "Command and inputs"),
    Opt(("--var",), "vars", "append", "NAME=VALUE", "Variable $NAME for the command; a different VALUE is a different computation.", "Command and inputs"),
    Opt(("--metavar",), "metavars", "append", "NAME=VALUE", "Variable $NAME that does not change the result (e.g. a thread count): not part of the checksum.", "Command and inputs"),
    Opt(("--metafile",), "metafiles", "append", "FILE", "Input file that does not change the result (e.g. a local setting): not part of the checksum.", "Command and inputs"),
    Opt(("--prologue",), "prologues", "append", "CMD", "Run CMD before the command (repeatable; part of the checksum).", "Command and inputs"),
    Opt(("--primary",), "primary", "value", "N", "Apply rules 1 and 2 to the N-th command of the line (commands are separated by ; && || and newlines; default 1).", "Command and inputs"),
    # results
    Opt(("-cp", "--capture"), "captures", "append", "X", "Capture the file or directory X that the command creates (A:B: A as local B; :B: stdout into B).", "Results"),
    Opt(("-nd", "--no-download"), "no_download", "flag", help="Write the .CHECKSUM/.INDEX sidecars only.", group="Results"),
    Opt(("--scratch",), "scratch", "flag", help="Keep only the result's checksum, not its bytes; write sidecars only.", group="Results"),
    Opt(("-y", "--yes"), "yes", "flag", help="Answer yes to every confirmation.", group="Results"),
    Opt(("-n", "--no"), "no", "flag", help="Answer no to every confirmation.", group="Results"),
    # execution
    Opt(("--conda", "--conda-env", "--conda-environment"), "conda", "value", "NAME", "Run in conda environment NAME.", "Execution"),
    Opt(("--docker", "--docker-image"), "docker", "value", "IMG", "Run inside docker image IMG.", "Execution"),
    Opt(("--ncores",), "ncores", "value", "N", "The job uses N cores: it counts N in the queue and worker pool, and sees $SEAMLESS_NCORES=N.", "Execution"),
    Opt(("--fingertip",), "fingertip", "flag", help="Recompute a stored input or result that has gone missing, from the transformation that produced it.", group="Execution"),
    Opt(("--direct-print",), "direct_print", "flag", help="Accepted for compatibility with upstream Seamless; output is shown as it comes either way.", group="Execution"),
    Opt(("--local",), "local", "flag", help="Run the command from this process, not in a worker.", group="Execution"),
    Opt(("--node",), "node", "value", "NODE", "Run on Dask worker NODE (Dask only).", "Execution"),
    # preparation modes
    Opt(("--dry", "--dry-run"), "dry", "flag", help="Prepare only: print the transformation checksum, run nothing.", group="Preparation"),
    Opt(("-j", "--write-job"), "job_dir", "value", "DIR", "With --dry: write the job files into the new directory DIR.", "Preparation"),
    Opt(("--upload",), "upload", "flag", help="With --dry: also store the inputs and the job's description, for seamless-run-transformation.", group="Preparation"),
    Opt(("--write-remote-job",), "remote_job_dir", "value", "DIR", "With --dry: write a runnable job (its inputs + transform.sh) into the new directory DIR.", "Preparation"),
    Opt(("--qsubmit", "--qsub"), "qsubmit", "flag", help="Store the inputs and append the job to the queue file; seamless-queue runs it.", group="Preparation"),
    Opt(("--batch",), "batch", "value", "FILE", "With --qsubmit: submit every command of FILE (- for stdin), one per line, each as if given as one argument; the other options apply to each. All are prepared before any is submitted: a bad line submits nothing. Prints one checksum per command.", "Preparation"),
    Opt(("-0", "--null"), "null", "flag", help="With --batch: the commands are separated by NUL bytes instead of newlines (a command may then span lines).", group="Preparation"),
    Opt(("--undo",), "undo", "flag", help="Forget the cached result of this command (declared irreproducible), so that the next run computes it again.", group="Preparation"),
    Opt(("-h", "--help"), "help", "flag", help="Show this message and exit."),
)

_BY_NAME = {name: opt for opt in OPTIONS for name in opt.names}


class RunArgs:
    """The command words, and every option's value as an attribute (args.dry, args.captures, ...)."""

    def __init__(self, command, values):
        self.command = command
        self.values = values

    def __getattr__(self, name):
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)


def _defaults() -> dict:
    initial = {"flag": False, "count": 0, "value": None}
    return {opt.dest: [] if opt.kind == "append" else initial[opt.kind] for opt in OPTIONS}


def _count(word: str) -> int:
    """-v, -vv, -vvv -> 1, 2, 3 (0 if the word is not a repeated -v)."""
    if len(word) > 1 and word[0] == "-" and set(word[1:]) == {"v"}:
        return len(word) - 1
    return 0


def parse(argv) -> RunArgs:
    """Options up to the first non-option word (or `--`); the rest is the command."""
    argv = list(argv)
    values = _defaults()
    pos = 0
    while pos < len(argv):
        word = argv[pos]
        if word == "--":
            pos += 1
            break
        if not word.startswith("-") or word == "-":
            break
        pos += 1
        if _count(word) and word not in _BY_NAME:
            values["verbose"] += _count(word)
            continue
        name, eq, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        opt = _BY_NAME.get(name)
        if opt is None:
            raise usage_error(f"no such option: {word}")
        if opt.kind in ("flag", "count"):
            if eq:
                raise usage_error(f"option {name} does not take a value")
            values[opt.dest] = values[opt.dest] + 1 if opt.kind == "count" else True
            continue
        if eq:
            value = attached
        elif pos < len(argv):
            value, pos = argv[pos], pos + 1
        else:
            raise usage_error(f"option {name} requires an argument")
        if opt.kind == "append":
            values[opt.dest].append(value)
        else:
            values[opt.dest] = value
    args = RunArgs(argv[pos:], values)
    if not values["help"]:
        _check(args)
    return args


def _positive_int(value, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise usage_error(f"option {name} needs a positive integer, got '{value}'")
    return number


def _check(args: RunArgs) -> None:
    """The rules between options: which may not be combined (exit 2)."""
    v = args.values
    if v["yes"] and v["no"]:
        raise usage_error("-y and -n cannot be combined")
    if v["mapping_strip"] and v["mapping_extension"]:
        raise usage_error("-ms and -mx cannot be combined")
    if v["workdir"] is not None and v["root_slash"]:
        raise usage_error("-w and -W cannot be combined")
    for dest, flag in (("job_dir", "-j"), ("upload", "--upload"), ("remote_job_dir", "--write-remote-job")):
        if v[dest] and not v["dry"]:
            raise usage_error(f"{flag} requires --dry")
    if v["qsubmit"] and v["dry"]:
        raise usage_error("--qsubmit cannot be combined with --dry")
    if v["undo"] and v["dry"]:
        raise usage_error("--undo cannot be combined with --dry")
    if v["primary"] is not None:
        v["primary"] = _positive_int(v["primary"], "--primary")
    if v["ncores"] is not None:
        v["ncores"] = _positive_int(v["ncores"], "--ncores")
    if v["batch"] is not None or v["null"]:
        _check_batch(args)
        return
    if v["single"] and len(args.command) != 1:
        raise usage_error(f"-c requires exactly one command argument, got {len(args.command)}")
    if not args.command:
        raise usage_error("no command given")


def _check_batch(args: RunArgs) -> None:
    v = args.values
    if v["batch"] is None:
        raise usage_error("-0 requires --batch")
    if not v["qsubmit"]:
        raise usage_error("--batch requires --qsubmit")
    if args.command:
        raise usage_error("--batch reads the commands from its file: give no command after the options")


_INTRO = """\
Usage: seamless-run [OPTIONS] [--] COMMAND...

  Run a bash command once and remember its result. The command, its input
  files and its --var values are hashed together into one checksum (the
  transformation checksum); when a command with the same checksum has run
  before, its stored result is written at once instead of running again.

  All options come before the command: everything from the first word that
  is not an option (or everything after --) is the command, including words
  that look like options, so `seamless-run cat a.txt --input b.txt` passes
  `--input b.txt` to cat. A single COMMAND argument is used verbatim
  (seamless-run 'sort a.txt | uniq'); several words are joined with shell
  quoting where a word needs it, so each reaches the command as you typed it.

  Inputs: a word that names an existing file or directory under the current
  directory is an input: it is hashed, stored, and copied into the private
  directory where the job runs. Two rules catch typos in the first command
  of the line: rule 1, a word with an extension (data.txt) must be an
  existing file; rule 2, a later word without an extension must not be an
  existing file (-g1 and -g2 turn them off). Words of the other commands
  (after ; && || |, inside $( ), <( ) and subshells) are inputs when they
  exist and are left alone otherwise. A sidecar, the small X.CHECKSUM file
  that seamless-upload writes next to X, stands in for X.

  Results: the output redirects of the last command (> out.txt) and -cp
  captures become result files, each written with an X.CHECKSUM sidecar
  (directories: X.INDEX too). Without either, the command's stdout is the
  result, and it is printed.
"""

_EXAMPLES = """\
Examples:
  seamless-run wc -l data.txt
  seamless-run 'sort data.txt | uniq -c > counts.txt'
  seamless-run --var N=3 'head -n $N data.txt'
  seamless-run -cp outdir 'mkdir -p outdir; split -l 2 data.txt outdir/part'
"""


def help_text(width: int = 100) -> str:
    """The --help text, generated from OPTIONS (grouped, help wrapped at `width` columns)."""
    import textwrap

    lines = [_INTRO]
    groups: dict = {}
    for opt in OPTIONS:
        groups.setdefault(opt.group, []).append(opt)
    for group, opts in groups.items():
        lines.append(f"{group}:")
        for opt in opts:
            spelling = ", ".join(opt.names) + (f" {opt.metavar}" if opt.metavar else "")
            wrapped = textwrap.wrap(opt.help, width - 34) or [""]
            if len(spelling) > 30:
                lines.append(f"  {spelling}")
            else:
                lines.append(f"  {spelling:30}  {wrapped.pop(0)}")
            lines.extend(f"  {'':30}  {text}" for text in wrapped)
        lines.append("")
    lines.append(_EXAMPLES)
    return "\n".join(lines)
