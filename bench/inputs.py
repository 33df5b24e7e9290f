"""Benchmark: what a job's input file costs to materialize (run by hand, not part of the tests).

    python bench/inputs.py [--dir DIR] [SIZE]     SIZE in bytes, or with a K/M/G suffix (default 1G)

In a fresh temp dir under DIR (default: the system temp dir; pass a directory on the filesystem
you want to measure, e.g. an XFS or btrfs mount for reflinks), stores a file of SIZE random bytes
in a private cache, then places it into a job workspace the way a bash job gets its inputs
(`execution.workspace` file pins, through `store.filecopy.copy_verified`), and compares with
`cp --reflink=auto` of the same stored file, in the same run:

  * cp --reflink=auto            the baseline
  * first placement              the stored file not verified yet: read and hashed once, then placed as below
  * later placement              the verification remembered (stat memo): a reflink where the
                                 filesystem shares blocks, else an in-kernel copy_file_range

For each: wall time (best of 3), its ratio to the baseline, and the new disk blocks it took
(statvfs before/after a sync: 0 for shared blocks, SIZE for a full copy).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from identity import parse_size  # bench/identity.py: this directory is on sys.path when run

REPEAT = 3
CHUNK = 64 << 20


def make_file(path: str, size: int) -> None:
    block = os.urandom(CHUNK)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)


def used_bytes(path: str) -> int:
    os.sync()
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def measure(place, work: str, name: str) -> tuple:
    """(best wall time in s, new bytes on disk) of place(dst) over REPEAT fresh destinations."""
    best, new_bytes = None, None
    for i in range(REPEAT):
        dst = os.path.join(work, f"{name}-{i}")
        before = used_bytes(work)
        start = time.perf_counter()
        place(dst)
        elapsed = time.perf_counter() - start
        grown = used_bytes(work) - before
        best = elapsed if best is None else min(best, elapsed)
        new_bytes = grown if new_bytes is None else max(new_bytes, grown)  # a free that lags only lowers it
        os.unlink(dst)
    return best, new_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", nargs="?", default="1G")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    size = parse_size(args.size)
    top = tempfile.mkdtemp(prefix="seamless-bench-inputs-", dir=args.dir)
    os.environ["SEAMLESS_CACHE"] = os.path.join(top, "cache")
    os.environ["XDG_CACHE_HOME"] = os.path.join(top, "xdg")
    try:
        return run(top, size)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def run(top: str, size: int) -> int:
    from seamless_transformer.execution.workspace import _write_file_pin
    from seamless_transformer.store import statcache
    from seamless_transformer.store.storage import get_storage

    source = os.path.join(top, "input.bin")
    make_file(source, size)
    storage = get_storage()
    cs = storage.put_file(source)
    os.unlink(source)
    stored = storage.buffer_path(cs)
    work = os.path.join(top, "workspace")
    os.mkdir(work)

    def cp(dst):
        subprocess.run(["cp", "--reflink=auto", stored, dst], check=True)

    def first(dst):
        statcache._reset()
        shutil.rmtree(os.environ["XDG_CACHE_HOME"], ignore_errors=True)  # forget the verification
        _write_file_pin(storage, cs, dst)

    def later(dst):
        _write_file_pin(storage, cs, dst)

    fstype = subprocess.run(["stat", "-f", "-c", "%T", top], capture_output=True, text=True).stdout.strip()
    print(f"input: {size / 2**30:.2f} GiB on {fstype} ({top})")
    base_time, base_bytes = measure(cp, work, "cp")
    rows = [("cp --reflink=auto", base_time, base_bytes)]
    rows.append(("first placement (hash, then reflink or copy)", *measure(first, work, "first")))
    later(os.path.join(work, "warm"))  # the verification is now remembered
    os.unlink(os.path.join(work, "warm"))
    rows.append(("later placement (memo: reflink/copy_file_range)", *measure(later, work, "later")))
    print(f"{'':50} {'time':>8} {'x cp':>6} {'new bytes':>12}")
    for label, seconds, new_bytes in rows:
        print(f"{label:50} {seconds:7.3f}s {seconds / base_time:6.2f} {new_bytes:12d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
