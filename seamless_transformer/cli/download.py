"""seamless-download [opts] ARG…: materialize files and directories from their checksums.

An ARG is X or X.CHECKSUM (a file), X.INDEX or an X with an X.INDEX sibling (a directory), or a
bare 64-hex (output name = the hex unless -o; with --directory it names an index).
Files are written under a short temp name and renamed; a new directory is built under one and
renamed; an existing one is updated file by file under the --dest-* policy. Sidecars follow
the content. Every buffer is checksum-verified; a missing one is `buffer <cs> not available` (exit 3).
"""

import contextlib
import json
import logging
import os
import sys
from dataclasses import dataclass

import click

from ..checksum import COMPRESSION_SUFFIXES, TRIVIAL_CHECKSUMS, Checksum, is_hex_checksum
from ..errors import UsageError
from ._click import parse, parse_only
from ._common import run_main, usage_error
from ._options import answer, common_options, confirm_options, start

PROG = "seamless-download"


@parse_only(
    "Write files and directories back from the storage, by their checksums (the SHA-256 of their "
    "bytes). ARG is X or X.CHECKSUM (a file named by its sidecar, the small X.CHECKSUM file that "
    "seamless-upload and seamless-run write), X.INDEX or X with an X.INDEX sibling (a directory), "
    "or a bare 64-digit checksum. Every file is verified against its checksum. Options may be "
    "given anywhere.",
    epilog=(
        "\b\nExamples:\n"
        "  seamless-download data.txt              # from data.txt.CHECKSUM\n"
        "  seamless-download results               # the directory, from results.INDEX\n"
        "  seamless-download --stdout 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    ),
)
@common_options
@click.option("-o", "--output", "outputs", multiple=True, metavar="PATH",
              help="Output path of the ARG at the same position (repeatable).")
@click.option("--stdout", "to_stdout", is_flag=True, help="Write a single file to stdout.")
@click.option("--directory", is_flag=True, help="A bare checksum names a directory index.")
@click.option("--index", "index_only", is_flag=True, help="Write the index and per-file .CHECKSUM files only.")
@click.option("--destination", metavar="DIR", help="Read stored copies (buffers, named by checksum) from directory DIR first.")
@click.option("--copy", "link", flag_value="copy", help="Copy buffers (default).")
@click.option("--hardlink", "link", flag_value="hardlink", help="Hard-link files to stored buffers when possible.")
@click.option("--symlink", "link", flag_value="symlink", help="Symlink files to stored buffers when possible.")
@click.option("--dest-repair", "policy", flag_value="repair",
              help="Keep matching files, replace differing ones (default).")
@click.option("--dest-skip", "policy", flag_value="skip", help="Never touch existing files.")
@click.option("--dest-verify", "policy", flag_value="verify", help="Fail (exit 2) if an existing file differs.")
@click.option("--dest-rm", is_flag=True, help="Remove files of a target directory that its index does not list.")
@click.option("--incremental", is_flag=True,
              help="Trust an existing file whose X.CHECKSUM already names the checksum and is not older.")
@click.option("--compression", type=click.Choice(["zst", "gz"]), help="Write files compressed.")
@confirm_options
@click.argument("args", nargs=-1, required=True)
def command(**_params):
    """Parse only: body() does the work."""


@dataclass
class Item:
    output: str  # local path (directory or file, without compression suffix)
    kind: str  # "file" | "directory"
    checksum: Checksum
    index: bytes | None = None  # directory: the index buffer, once known
    compression: str | None = None
    entries: dict | None = None  # directory: {relpath: Checksum}, once known

    def checksums(self) -> list:
        """The buffers this item downloads."""
        return list(self.entries.values()) if self.kind == "directory" else [self.checksum]


def _from_sidecars(arg: str, output, params) -> Item:
    from ..store.paths import read_checksum_sidecar, read_index_sidecar, sidecar_base

    if arg.endswith(".CHECKSUM"):
        base = arg[: -len(".CHECKSUM")]
    elif arg.endswith(".INDEX"):
        base = arg[: -len(".INDEX")]
    else:
        base = sidecar_base(arg)
    compression = params["compression"] or next((s[1:] for s in COMPRESSION_SUFFIXES if arg.endswith(s)), None)
    if os.path.isfile(base + ".INDEX"):
        index = read_index_sidecar(base + ".INDEX")
        return Item(output or base, "directory", Checksum.of(index), index)
    if arg.endswith(".INDEX"):
        raise UsageError(f"'{arg}' does not exist")
    if os.path.isfile(base + ".CHECKSUM"):
        return Item(output or base, "file", read_checksum_sidecar(base + ".CHECKSUM"), compression=compression)
    raise UsageError(f"'{arg}' has no {os.path.basename(base)}.CHECKSUM or .INDEX sidecar")


def resolve(args, params) -> list:
    outputs = list(params["outputs"])
    if len(outputs) > len(args):
        raise usage_error("more -o/--output paths than arguments")
    items = []
    for position, arg in enumerate(args):
        output = outputs[position] if position < len(outputs) else None
        output = output.rstrip("/") or output if output else None
        arg = arg.rstrip("/") or arg
        if is_hex_checksum(arg) and not os.path.exists(arg + ".CHECKSUM"):
            kind = "directory" if params["directory"] else "file"
            items.append(Item(output or arg, kind, Checksum(arg), compression=params["compression"]))
        else:
            items.append(_from_sidecars(arg, output, params))
    return items


class Sources:
    """Where buffers come from: a --destination buffer directory first, then the storage."""

    def __init__(self, destination):
        from ..store.storage import get_storage

        self.storage = get_storage()
        self.extra = None
        self.spool = None  # BufferDir of buffers streamed from a server when there is no local cache
        if destination:
            from ..store.files import BufferDir

            self.extra = BufferDir(destination, writable=False)

    def get_buffer(self, cs) -> bytes:
        if self.extra is not None:
            data = self.extra.get(cs)
            if data is not None:
                return data
        return self.storage.get_buffer(cs)

    def buffer_path(self, cs):
        path = self.extra.file_path(cs) if self.extra is not None else None
        path = path or self.storage.buffer_path(cs)
        if path is None and self.spool is not None:
            path = self.spool.file_path(cs)
        return path

    def localize(self, checksums) -> None:
        """Stream every buffer that only a server has into a local file (the first cache
        directory, else a spool directory removed by close()), several at a time, so that
        files are placed from disk and memory stays flat whatever the sizes."""
        from ..store.remote import RemoteBuffers

        remote = RemoteBuffers(self.storage.settings)
        missing = [cs for cs in dict.fromkeys(checksums)
                   if cs.hex() not in TRIVIAL_CHECKSUMS and self.buffer_path(cs) is None] if remote else []
        if not missing:
            return
        from ..store.files import BufferDir
        from ..store.materialize import parallel_map

        dirs = self.storage.settings.buffer_dirs
        if dirs:
            store = BufferDir(dirs[0])
        else:
            import tempfile

            self.spool = store = BufferDir(tempfile.mkdtemp(prefix=".seamless-download-", dir=os.getcwd()))

        def fetch(cs):
            try:
                remote.fetch_into(cs.hex(), store)
            except OSError as exc:  # the directory cannot take it: placed from memory later
                logging.getLogger(__name__).debug("%s: %s", store.path, exc)

        parallel_map(fetch, missing)

    def close(self) -> None:
        if self.spool is not None:
            import shutil

            shutil.rmtree(self.spool.path, ignore_errors=True)


def _index_entries(item: Item, sources) -> dict:
    from ..store.materialize import fetch

    if item.index is None:
        item.index = fetch(item.checksum, sources)
    try:
        index = json.loads(item.index)
    except ValueError:
        index = None
    if not isinstance(index, dict) or not all(is_hex_checksum(v) for v in index.values()):
        raise UsageError(f"buffer {item.checksum.hex()} is not a directory index")
    from ..store.paths import check_index_keys

    check_index_keys(index, f"index {item.checksum.hex()}")
    return {rel: Checksum(cs) for rel, cs in index.items()}


def _write_if_changed(path: str, data: bytes) -> None:
    from .._util import atomic_write
    from ..store.paths import display_path, sidecar_too_long

    if path.endswith((".CHECKSUM", ".INDEX")) and sidecar_too_long(path, ""):
        logging.getLogger(__name__).warning("no sidecar for '%s': the name is too long", display_path(path))
        return

    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except OSError:
        pass
    atomic_write(path, data)


def _file_path(item: Item) -> str:
    suffix = "." + item.compression if item.compression else ""
    return item.output if item.output.endswith(suffix) else item.output + suffix


def _trusted(item: Item) -> bool:
    """--incremental: X.CHECKSUM names this checksum and is not older than X."""
    from ..store.paths import read_checksum_sidecar, sidecar_base

    path, sidecar = _file_path(item), sidecar_base(item.output) + ".CHECKSUM"
    try:
        newer = os.stat(sidecar).st_mtime_ns >= os.stat(path).st_mtime_ns
        return newer and read_checksum_sidecar(sidecar) == item.checksum
    except (OSError, UsageError):
        return False


def _download(item: Item, sources, params, bar) -> None:
    from ..store.paths import retire_sidecars, sidecar_base
    from ..store.materialize import place_directory, place_file

    policy = params["policy"] or "repair"
    link = params["link"] or "copy"
    if item.kind == "file":
        with _pinned_output(item) as item:
            if not (params["incremental"] and _trusted(item)):
                place_file(_file_path(item), item.checksum, sources, policy=policy, link=link,
                           compression=item.compression, before_write=lambda: retire_sidecars(item.output, item.checksum))
                bar.update()
            _write_if_changed(sidecar_base(item.output) + ".CHECKSUM", (item.checksum.hex() + "\n").encode())
        return
    with _pinned_output(item) as pinned:  # sidecars never outlive their content
        place_directory(item.output, item.entries, sources, policy=policy, link=link,
                        compression=params["compression"], remove_unlisted=params["dest_rm"], bar=bar,
                        before_write=lambda: retire_sidecars(pinned.output, item.checksum))
        _write_index(pinned)


@contextlib.contextmanager
def _pinned_output(item: Item):
    """`item` with its output named through its pinned parent directory (see _util.pinned_dir):
    nothing is written through a symlink swapped in for that directory meanwhile."""
    from dataclasses import replace

    from .._util import pinned_dir

    parent, name = os.path.split(os.path.abspath(item.output))
    with pinned_dir(parent) as directory:
        yield replace(item, output=os.path.join(directory, name))


def _write_index(item: Item) -> None:
    from ..store.paths import sidecar_base

    base = sidecar_base(item.output)
    _write_if_changed(base + ".INDEX", item.index)
    _write_if_changed(base + ".CHECKSUM", (item.checksum.hex() + "\n").encode())


def _index_only(item: Item) -> None:
    from ..store.paths import sidecar_base

    if item.kind == "file":
        _write_if_changed(sidecar_base(item.output) + ".CHECKSUM", (item.checksum.hex() + "\n").encode())
        return
    from .._util import pinned_dir

    os.makedirs(item.output, exist_ok=True)
    for rel, cs in sorted(item.entries.items()):
        reldir, name = os.path.split(rel + ".CHECKSUM")
        with pinned_dir(item.output, reldir, create=True, nofollow_root=True, what=f"index of '{item.output}'") as d:
            _write_if_changed(os.path.join(d, name), (cs.hex() + "\n").encode())
    with _pinned_output(item) as pinned:
        _write_index(pinned)


def _to_stdout(items, sources) -> int:
    from ..store.outputs import write_stored_stdout

    if len(items) != 1 or items[0].kind != "file":
        raise usage_error("--stdout needs exactly one file argument")
    sources.localize([items[0].checksum])  # a buffer only a server has: streamed to disk first
    write_stored_stdout(items[0].checksum, sources)  # streamed, verified
    return 0


def body(argv) -> int:
    params = parse(command, argv, PROG)
    if params is None:
        return 0
    confirmation = answer(params)
    start(PROG, params)
    items = resolve(params["args"], params)
    sources = Sources(params["destination"])
    try:
        return _body(items, sources, params, confirmation)
    finally:
        sources.close()


def _body(items, sources, params, confirmation) -> int:
    if params["to_stdout"]:
        return _to_stdout(items, sources)
    for item in items:
        if item.kind == "directory":
            item.entries = _index_entries(item, sources)
    if params["index_only"]:
        for item in items:
            _index_only(item)
        return 0
    from ..store.materialize import buffer_size, confirm_download, progress

    checksums = [cs for item in items for cs in item.checksums()]
    nbytes = sum(buffer_size(cs, sources) for cs in checksums)
    confirm_download(len(checksums), nbytes, confirmation, PROG)
    with progress(len(checksums), nbytes, "download") as bar:
        for item in items:
            sources.localize(item.checksums())
            _download(item, sources, params, bar)
    return 0


def main(argv=None):
    sys.exit(run_main(PROG, body, argv))
