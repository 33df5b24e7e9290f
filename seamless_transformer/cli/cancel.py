"""seamless-cancel CHECKSUM_OR_FILE: cancel a transformation wherever this host runs it.

Prints one line per process that was asked: `process <pid>: canceled` (stdout), or the warning
`seamless-cancel: warning: process <pid> did not stop within 5 s` (stderr).
Exit 0 if anything was canceled, 4 if nothing was running.
"""

import logging
import sys

import click

from ..errors import NothingRunningError, SeamlessError
from ._click import parse, parse_only
from ._common import run_main
from ._options import common_options, start, tf_argument

PROG = "seamless-cancel"
logger = logging.getLogger("seamless_transformer.cli.cancel")


@parse_only(
    "Stop a running transformation (a command run by seamless-run, the queue or Python, "
    "identified by its checksum) in every process of this host that is running it. "
    "CHECKSUM_OR_FILE is the 64-digit transformation checksum that `seamless-run -v` or "
    "--dry prints, or an X.CHECKSUM file holding it. Exit 0 if anything was canceled, 4 if "
    "nothing was running.",
    epilog=(
        "\b\nExamples:\n"
        "  seamless-run 'sleep 100; echo done > out.txt' &\n"
        "  seamless-cancel $(seamless-run --dry 'sleep 100; echo done > out.txt')"
    ),
)
@common_options
@click.argument("checksum_or_file")
def command(**_params):
    """Parse only: body() does the work."""


def body(argv) -> int:
    params = parse(command, argv, PROG)
    if params is None:
        return 0
    start(PROG, params)
    tf = tf_argument(params["checksum_or_file"])
    from ..engine.running import CANCEL_WAIT_SECONDS, cancel_running

    outcomes = cancel_running(tf)
    if not outcomes:
        raise NothingRunningError(f"nothing running for transformation {tf.hex()}")
    stopped = 0
    for pid, done in outcomes:
        if done:
            print(f"process {pid}: canceled")
            stopped += 1
        else:
            logger.warning("process %s did not stop within %g s", pid, CANCEL_WAIT_SECONDS)
    if not stopped:
        raise SeamlessError(f"transformation {tf.hex()} was not canceled")
    return 0


def main(argv=None):
    sys.exit(run_main(PROG, body, argv))
