"""seamless-queue-finish [--no-wait] [--timeout S]: end the queue.

Appends the EOF record to the queue file (once; no queue file is an error, exit 2), then waits
until the server has run every job and deleted the file, unless --no-wait. Exit 1 if a job
failed (the server leaves the count in `<F>.STATUS`) or, with --timeout S, after S seconds.
"""

import os
import sys
import time

import click

from ..errors import SeamlessError
from ._click import parse, parse_only
from ._common import run_main, setup_logging

PROG = "seamless-queue-finish"
POLL_SECONDS = 0.1


@parse_only(
    "End the queue that `seamless-run --qsubmit` fills: mark its end in the queue file (after "
    "which no job can be submitted to it), wait until seamless-queue has run every job and deleted "
    "the file, and exit 0 if every job succeeded, 1 otherwise. With no queue file, nothing was "
    "submitted: exit 2.",
    epilog=(
        "\b\nExamples:\n"
        "  seamless-queue-finish\n"
        "  seamless-queue-finish --timeout 600\n"
        "  seamless-queue-finish --no-wait --queue-file /shared/.seamless-queue"
    ),
)
@click.option("--no-wait", is_flag=True, help="Return at once after marking the end.")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="S", help="Wait at most S seconds (then exit 1).")
@click.option("--queue-file", metavar="F",
              help="The queue file (default: $SEAMLESS_QUEUE_FILE, else ./.seamless-queue).")
@click.option("-q", "--quiet", is_flag=True, help="Errors only.")
def command(**_params):
    """Parse only: body() does the work."""


def body(argv) -> int:
    params = parse(command, argv, PROG)
    if params is None:
        return 0
    setup_logging(PROG, 0, params["quiet"])
    from ..queue.queuefile import append_eof, queue_file, read_status

    path = queue_file(params["queue_file"])
    append_eof(path)
    if params["no_wait"]:
        return 0
    deadline = None if params["timeout"] is None else time.monotonic() + params["timeout"]
    while os.path.exists(path):
        if deadline is not None and time.monotonic() > deadline:
            raise SeamlessError(f"the queue '{path}' was not finished within {params['timeout']:g} s")
        time.sleep(POLL_SECONDS)
    failed = read_status(path)
    if failed:
        raise SeamlessError(f"{failed} job(s) of the queue failed (seamless-queue's output names them)")
    return 0


def main(argv=None):
    sys.exit(run_main(PROG, body, argv))


if __name__ == "__main__":
    main()
