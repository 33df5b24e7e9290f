"""seamless-queue-finish [--no-wait] [--timeout S]: end the queue (SPEC §6.4).

Appends the EOF record to the queue file (creating it if needed). If the file existed, a server
is (or will be) working on it: wait until that server has run every job and deleted the file,
unless --no-wait. With --timeout S, give up after S seconds (exit 1).
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
    "Append the EOF record to the queue file; if the file existed, wait until "
    "seamless-queue has finished every job and deleted it.",
)
@click.option("--no-wait", is_flag=True, help="Return at once after appending EOF.")
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
    from ..queue.queuefile import EOF_RECORD, append_record, queue_file

    path = queue_file(params["queue_file"])
    existed = append_record(path, EOF_RECORD)
    if not existed or params["no_wait"]:
        return 0
    deadline = None if params["timeout"] is None else time.monotonic() + params["timeout"]
    while os.path.exists(path):
        if deadline is not None and time.monotonic() > deadline:
            raise SeamlessError(f"the queue '{path}' was not finished within {params['timeout']:g} s")
        time.sleep(POLL_SECONDS)
    return 0


def main(argv=None):
    sys.exit(run_main(PROG, body, argv))


if __name__ == "__main__":
    main()
