"""seamless-run-transformation CHECKSUM_OR_FILE: run a stored transformation by its checksum.

The identity buffer is resolved (plain), `__output__` defaults to ["result","mixed",null], and
the execution-only entries of a dunder file (--dunder, else dunder.json next to a .CHECKSUM
argument: `__meta__`, `__env__`, `META__*`) are merged in. The GIVEN checksum is the tf: it
is never recomputed. Prints the result checksum. Exit 1 if it fails, 3 if the dict or an
input is unavailable.
"""

import json
import os
import sys

import click

from ..checksum import Checksum
from ..errors import CacheMissError, CanceledError, TransformationError, UsageError
from ._click import parse, parse_only
from ._common import run_main
from ._options import common_options, start, tf_argument

PROG = "seamless-run-transformation"
JOIN_SECONDS = 5.0  # an interrupted job: how long its processes may take to go


@parse_only(
    "Run a transformation that was stored earlier (for instance by `seamless-run --dry --upload`) "
    "and print the checksum of its result. A transformation is a command or function together "
    "with its inputs, stored under one checksum; CHECKSUM_OR_FILE is that 64-digit checksum, or "
    "an X.CHECKSUM file holding it. A result that is already known is printed without running.",
    epilog=(
        "\b\nExamples:\n"
        "  seamless-run --dry --upload -j job 'sort data.txt'\n"
        "  seamless-run-transformation job/transformation.json.CHECKSUM\n"
        "  seamless-run-transformation --fingertip 4cdfa93114f1d80004979ee4338069f477f04317e2cf97d7558987512904f014"
    ),
)
@common_options
@click.option("--direct-print", is_flag=True, help="Show the transformation's output as it runs.")
@click.option("--scratch", is_flag=True, help="Keep only the result's checksum, not its bytes.")
@click.option("--fingertip", is_flag=True, help="Recompute a missing input from the transformation that produced it.")
@click.option("--strict", is_flag=True, help="Refuse to share a run of the same transformation that has other "
              "execution settings (see --dunder).")
@click.option("--output", metavar="FILE", help="Write the result checksum to FILE instead of stdout.")
@click.option("--dunder", metavar="FILE", help="Execution settings that are not part of the checksum, as JSON: "
              "__meta__ (e.g. ncores), __env__ (conda or docker), META__* variables. Default: dunder.json "
              "next to an X.CHECKSUM argument.")
@click.argument("checksum_or_file")
def command(**_params):
    """Parse only: body() does the work."""


def load_transformation(tf: Checksum) -> dict:
    """The transformation dict stored under `tf` (CacheMissError if absent or not a dict)."""
    from ..celltypes import deserialize
    from ..store.storage import get_storage

    missing = CacheMissError(f"transformation {tf.hex()} not available")
    try:
        buffer = get_storage().get_buffer(tf)
    except CacheMissError:
        raise missing from None
    try:
        tf_dict = deserialize(buffer, "plain")
    except ValueError:
        raise missing from None
    if not isinstance(tf_dict, dict):
        raise missing
    tf_dict.setdefault("__output__", ["result", "mixed", None])
    check_pin_names(tf_dict, f"transformation {tf.hex()}")
    return tf_dict


def check_pin_names(tf_dict: dict, what: str) -> None:
    """Every pin of a dict read from data names a path inside the workspace (UsageError otherwise)."""
    from .._util import check_relpath
    from ..execution.workspace import file_name, pin_names

    for name in pin_names(tf_dict):
        check_relpath(file_name(name), f"{what}: pin")


def _dunder_file(arg: str, explicit):
    if explicit:
        return explicit
    if arg.endswith(".CHECKSUM"):
        candidate = os.path.join(os.path.dirname(arg), "dunder.json")
        if os.path.isfile(candidate):
            return candidate
    return None


def merge_dunders(tf_dict: dict, path) -> None:
    """Add the execution-only entries of dunder file `path` to the dict."""
    try:
        with open(path, encoding="utf-8") as f:
            dunder = json.load(f)
    except OSError as exc:
        raise UsageError(f"cannot read '{path}': {exc.strerror or exc}") from None
    except ValueError:
        raise UsageError(f"'{path}' is not valid JSON") from None
    if not isinstance(dunder, dict):
        raise UsageError(f"'{path}' is not a JSON object")
    for key, value in dunder.items():
        if key in ("__meta__", "__env__") or key.startswith("META__"):
            tf_dict[key] = value
    check_pin_names(tf_dict, path)


def _wait(job, tf: Checksum):
    """The job's result; an interrupt cancels the job and waits for its processes to go."""
    try:
        return job.result()
    except CanceledError:
        raise CanceledError(f"transformation {tf.hex()} was canceled") from None
    except BaseException:
        if job.cancel():
            from .. import engine

            engine.join(job, JOIN_SECONDS)
        raise


def _report_failure(exc: TransformationError) -> None:
    """A multi-line failure (a Python traceback) is shown as it is, then one error line."""
    text = str(exc)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        raise TransformationError(lines[-1]) from None
    raise exc


def body(argv) -> int:
    params = parse(command, argv, PROG)
    if params is None:
        return 0
    start(PROG, params)
    arg = params["checksum_or_file"]
    tf = tf_argument(arg)
    tf_dict = load_transformation(tf)
    dunder = _dunder_file(arg, params["dunder"])
    if dunder:
        merge_dunders(tf_dict, dunder)
    if params["direct_print"]:
        tf_dict["__meta__"] = {**tf_dict.get("__meta__", {}), "__direct_print__": True}
    from .. import engine
    from ..backends import activate_backend

    activate_backend()  # SEAMLESS_DASK_SCHEDULER / `remote: daskserver`: on Dask; `remote: jobserver`: there
    job = engine.submit(tf_dict, tf, scratch=params["scratch"], strict=params["strict"],
                        direct_print=params["direct_print"], fingertip=params["fingertip"])
    try:
        result = _wait(job, tf)
    except CanceledError:
        raise
    except TransformationError as exc:
        _report_failure(exc)
    line = result.hex() + "\n"
    if params["output"]:
        from .._util import atomic_write

        atomic_write(params["output"], line.encode("ascii"))
    else:
        sys.stdout.write(line)
    return 0


def main(argv=None):
    sys.exit(run_main(PROG, body, argv))
