"""Parse argv with a click command without click's own error printing and exiting.

`@parse_only(help)` makes such a command (-h/--help included); `parse(command, argv, prog)`
returns the parameter dict, or None when --help was printed. A click usage error becomes
our one-line UsageError ('... (see <prog> --help)').
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


def parse_only(help: str, epilog: str | None = None, **context):  # noqa: A002
    """click.command for a command that is only parsed by `parse` (the caller does the work).
    `epilog` (the examples) is printed after the options."""
    return click.command(context_settings={"help_option_names": ["-h", "--help"], **context}, help=help, epilog=epilog)
