"""seamless-queue [-q] [--workers N] [--queue-file F]: run the jobs submitted with `seamless-run --qsubmit`.

Waits for the queue file, runs its jobs (at most N slots at once) until the EOF record written by
seamless-queue-finish, deletes the file and exits 0 if every job succeeded, 1 otherwise.
Progress lines on stderr: `seamless-queue: job N started: <command>`, `... job N finished`,
`... job N failed: <reason>`. With -q only the failures and errors are shown.
"""

import signal
import sys

import click

from ._click import parse, parse_only
from ._common import run_main
from ._options import common_options, start

PROG = "seamless-queue"


@parse_only(
    "Run many seamless-run jobs, several at a time. `seamless-run --qsubmit ...` prepares a job "
    "and appends it to the queue file instead of running it; this server waits for that file, "
    "runs its jobs (at most --workers at once) and writes each job's results into the directory "
    "it was submitted from, until seamless-queue-finish ends the queue. Then it deletes the file "
    "and exits 0 if every job succeeded, 1 otherwise. Ctrl-C or SIGTERM stops the running jobs "
    "and leaves the queue file for a new server.",
    epilog=(
        "\b\nExamples:\n"
        "  seamless-queue --workers 4 & server=$!\n"
        "  seamless-run --qsubmit 'sort a.txt > a.sorted'\n"
        "  seamless-queue-finish; wait $server"
    ),
)
@common_options
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Run at most N jobs at once (a job with --ncores K counts K). Default: the number of CPUs.")
@click.option("--queue-file", metavar="F",
              help="The queue file (default: $SEAMLESS_QUEUE_FILE, else ./.seamless-queue).")
def command(**_params):
    """Parse only: body() does the work."""


def body(argv) -> int:
    params = parse(command, argv, PROG)
    if params is None:
        return 0
    start(PROG, params)
    # `seamless-queue &` in a script inherits SIGINT ignored (bash does that for background jobs
    # of a non-interactive shell): Ctrl-C / kill -INT must stop the server as in a terminal
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from ..backends import activate_backend
    from ..queue.queuefile import queue_file
    from ..queue.server import QueueServer
    from ..store.outputs import write_targets

    activate_backend()  # SEAMLESS_DASK_SCHEDULER / execution: remote: the jobs run on Dask or a jobserver
    server = QueueServer(queue_file(params["queue_file"]), workers=params["workers"],
                         write_targets=write_targets, quiet=params["quiet"])
    return server.serve()


def main(argv=None):
    sys.exit(run_main(PROG, body, argv))


if __name__ == "__main__":
    main()
