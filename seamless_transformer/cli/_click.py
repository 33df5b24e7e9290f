"""Parse argv with a click command without click's own error printing and exiting.

`parse(command, argv)` returns the parameter dict, or None when --help was printed.
A click usage error becomes our one-line UsageError ('... (see <prog> --help)').
"""

import click

from ._common import usage_error


def parse(command: click.Command, argv, prog: str):
    try:
        ctx = command.make_context(prog, list(argv))
    except click.exceptions.Exit as exc:  # --help / --version
        if exc.exit_code:
            raise SystemExit(exc.exit_code) from None
        return None
    except click.UsageError as exc:
        raise usage_error(exc.format_message()) from None
    return ctx.params


def no_op(**_params):
    """The callback of parse-only commands: the work happens in the caller."""
