"""seamless-upload [opts] PATH…: store files and directories, write their sidecars.

A file gets `<name without .gz/.zst>.CHECKSUM`; a directory gets DIR.INDEX + DIR.CHECKSUM and
its index buffer is stored too. Buffers go to the active storage, or with --destination DIR
into that buffer directory (see store/uploads.py). Only missing buffers are sent.
"""

import logging
import os
import sys

import click

from ..errors import SeamlessError, UsageError
from ._click import parse, parse_only
from ._common import run_main, usage_error
from ._options import answer, common_options, confirm_options, start

PROG = "seamless-upload"
logger = logging.getLogger("seamless_transformer.cli.upload")


@parse_only(
    "Store files and directories, so that commands and other machines can use them by checksum "
    "(the SHA-256 of their bytes). For each PATH, the stored copy (a buffer) goes to the active "
    "storage, and a small file next to it, its sidecar, records the checksum: X.CHECKSUM for a "
    "file, DIR.INDEX (the checksum of every file inside) + DIR.CHECKSUM for a directory. With a "
    "sidecar, X itself may be deleted or moved (-m): seamless-run and seamless-download use the "
    "sidecar in its place.\n\n"
    "All options must come before the paths. Arguments ending in .CHECKSUM are ignored.",
    epilog=(
        "\b\nExamples:\n"
        "  seamless-upload data.txt            # writes data.txt.CHECKSUM\n"
        "  seamless-upload -m results/         # results.INDEX + results.CHECKSUM, then removes results/\n"
        "  seamless-upload --destination /mnt/buffers --hardlink big/"
    ),
    allow_interspersed_args=False,
)
@common_options
@click.option("-m", "-mv", "--move", is_flag=True, help="Delete the originals after a verified upload (sidecars stay).")
@click.option("--destination", metavar="DIR", help="Write the stored copies (buffers) into directory DIR instead "
              "(prefix layout if DIR/.HASHSERVER_PREFIX exists, otherwise flat).")
@click.option("--copy", "link", flag_value="copy", help="With --destination: copy files (default).")
@click.option("--hardlink", "link", flag_value="hardlink", help="With --destination: hard-link files.")
@click.option("--symlink", "link", flag_value="symlink", help="With --destination: symlink files.")
@click.option("--incremental", is_flag=True, help="With --hardlink: skip files whose sidecar is newer than "
              "the file and whose buffer the destination already holds.")
@click.option("--dest-skip", "policy", flag_value="skip", help="Keep buffers already in the destination (default).")
@click.option("--dest-verify", "policy", flag_value="verify", help="Check buffers already in the destination (exit 2 if bad).")
@click.option("--dest-repair", "policy", flag_value="repair", help="Rewrite bad buffers in the destination.")
@confirm_options
@click.argument("paths", nargs=-1, required=True)
def command(**_params):
    """Parse only: body() does the work."""


def _option_names() -> tuple:
    """(every option spelling, the spellings of the options that take a value)."""
    names, value_options = set(), set()
    for param in command.params:
        spellings = (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ()))
        names.update(spellings)
        if isinstance(param, click.Option) and not (param.is_flag or param.count):
            value_options.update(spellings)
    return names, value_options


def _check_order(argv) -> None:
    """Options after the first path: `option X must come before upload targets`."""
    names, value_options = _option_names()
    seen_path, expects_value = False, False
    for word in argv:
        if expects_value:
            expects_value = False
            continue
        if word == "--":
            return
        name = word.split("=", 1)[0]
        if seen_path and name in names:
            raise usage_error(f"option {name} must come before upload targets")
        if not seen_path and name in value_options and "=" not in word:
            expects_value = True
        elif not word.startswith("-") or word == "-":
            seen_path = True


def _check_options(params) -> None:
    if params["link"] and not params["destination"]:
        raise usage_error(f"--{params['link']} needs --destination")
    if params["incremental"] and params["link"] != "hardlink":
        raise usage_error("--incremental needs --hardlink")
    if params["policy"] and not params["destination"]:
        raise usage_error(f"--dest-{params['policy']} needs --destination")


def _targets(paths) -> list:
    targets = []
    for path in paths:
        path = path.rstrip("/") or path
        if path.endswith(".CHECKSUM"):
            continue
        if not os.path.lexists(path):
            raise UsageError(f"upload target '{path}' does not exist")
        targets.append(path)
    return targets


def body(argv) -> int:
    _check_order(argv)
    params = parse(command, argv, PROG)
    if params is None:
        return 0
    _check_options(params)
    confirmation = answer(params)
    start(PROG, params)
    targets = _targets(params["paths"])
    if not targets:
        logger.info("upload no files")
        return 0
    from ..store.uploads import plan_uploads, run_uploads

    plan = plan_uploads(targets, params)
    if not plan.items:
        logger.info("upload no files")
    else:
        from ..store.materialize import confirm_upload

        confirm_upload(len(plan.items), plan.nbytes, confirmation, PROG)
    run_uploads(plan, params)
    if params["move"]:
        _move(targets)
    return 0


def _move(targets) -> None:
    import shutil

    for path in targets:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError as exc:
            raise SeamlessError(f"cannot remove '{path}': {exc.strerror or exc}") from None


def main(argv=None):
    sys.exit(run_main(PROG, body, argv))
