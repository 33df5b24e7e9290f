"""Options and arguments shared by seamless-upload, -download, -run-transformation, -cancel and -queue.

    common_options       --project P[:SUB] --stage S[:SUB] -v (count) -q --debug
    confirm_options      -y/--yes -n/--no
    answer(params)       True (-y), False (-n) or None (ask)
    start(prog, params)  logging + config.init from those options
    tf_argument(arg)     a transformation checksum: a 64-hex, an X.CHECKSUM file, or X with one
"""

import os

import click

from ..checksum import Checksum, is_hex_checksum
from . import _common
from ._common import usage_error


def common_options(func):
    func = click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")(func)
    func = click.option("-q", "--quiet", is_flag=True, help="Errors only.")(func)
    func = click.option("-v", "--verbose", count=True, help="More messages (-v info, -vv debug).")(func)
    func = click.option("--stage", metavar="S[:SUB]", help="Stage (and substage) of the project.")(func)
    func = click.option("--project", metavar="P[:SUB]", help="Project (and subproject) whose storage is used.")(func)
    return func


def confirm_options(func):
    func = click.option("-n", "--no", "answer_no", is_flag=True, help="Answer 'no' to every confirmation.")(func)
    func = click.option("-y", "--yes", "answer_yes", is_flag=True, help="Answer 'yes' to every confirmation.")(func)
    return func


def answer(params) -> bool | None:
    """True (-y), False (-n) or None (ask, or use the default)."""
    if params.get("answer_yes") and params.get("answer_no"):
        raise usage_error("-y and -n cannot be combined")
    if params.get("answer_yes"):
        return True
    if params.get("answer_no"):
        return False
    return None


def start(prog: str, params: dict) -> None:
    """Set up logging and the configuration (workdir = cwd) from the common options."""
    _common.start(prog, verbose=params.get("verbose") or 0, quiet=params.get("quiet", False),
                  debug=params.get("debug", False), project=params.get("project"), stage=params.get("stage"))


def tf_argument(arg: str) -> Checksum:
    """The checksum named by a CHECKSUM_OR_FILE argument: a 64-hex, X.CHECKSUM, or X with an X.CHECKSUM."""
    if is_hex_checksum(arg):
        return Checksum(arg)
    if arg.endswith(".CHECKSUM"):
        if not os.path.isfile(arg):
            raise usage_error(f"'{arg}': no such file")
        from ..store.paths import read_checksum_sidecar

        return read_checksum_sidecar(arg)
    if os.path.isfile(arg + ".CHECKSUM"):
        from ..store.paths import read_checksum_sidecar

        return read_checksum_sidecar(arg + ".CHECKSUM")
    raise usage_error(f"'{arg}' is not a checksum or a .CHECKSUM file")
