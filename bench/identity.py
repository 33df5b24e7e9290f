"""Benchmark: hashing one large file, cold and unchanged (run by hand, not part of the tests).

    python bench/identity.py [SIZE]      SIZE in bytes, or with a K/M/G suffix (default 1G)

Makes a file of SIZE bytes in a temp dir, with an empty stat memo (XDG_CACHE_HOME in the temp
dir), and times (best of 3):
  * hashlib.sha256 over the file read in 1 MiB chunks (the baseline, same page-cached bytes)
  * hashlib.sha256 over an in-memory buffer (the hash alone, no reading)
  * file_checksum, first pass (empty memo)
  * file_checksum again, the file unchanged (answered by the memo)
Targets: first pass >= 0.8x the baseline; unchanged <= 50 ms.
"""

import hashlib
import os
import resource
import sys
import tempfile
import time

CHUNK = 1 << 20
REPEAT = 3  # best of: other processes share the machine
UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    text = text.strip().upper().rstrip("B")
    if text and text[-1] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    return int(text)


def make_file(path: str, size: int) -> None:
    block = os.urandom(64 * CHUNK)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)


def timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def hashlib_file(path: str) -> str:
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def hashlib_memory(size: int) -> float:
    block = os.urandom(min(size, 64 * CHUNK))
    h = hashlib.sha256()
    start = time.perf_counter()
    for _ in range(max(1, size // len(block))):
        h.update(block)
    return (time.perf_counter() - start) * size / (max(1, size // len(block)) * len(block))


def main(argv) -> None:
    size = parse_size(argv[1]) if len(argv) > 1 else 1 << 30
    with tempfile.TemporaryDirectory(prefix="seamless-bench-") as tmp:
        from seamless_transformer.store.paths import file_checksum

        path = os.path.join(tmp, "big.dat")
        make_file(path, size)
        time.sleep(0.2)  # the memo only records files older than one timestamp tick
        hashlib_file(path)  # warm the page cache, as for every contender below
        gb = size / 1e9
        t_mem = min(hashlib_memory(size) for _ in range(REPEAT))
        bases, colds, memos = [], [], []
        for rep in range(REPEAT):  # interleaved, so load from elsewhere hits all alike
            bases.append(timed(lambda: hashlib_file(path)))
            os.environ["XDG_CACHE_HOME"] = os.path.join(tmp, f"cache{rep}")  # empty memo
            colds.append(timed(lambda: file_checksum(path)))
            memos.append(timed(lambda: file_checksum(path)))
        (t_base, base_hex), (t_cold, cold_cs), (t_memo, memo_cs) = min(bases), min(colds), min(memos)
        assert cold_cs == base_hex and memo_cs == base_hex, "checksums disagree"
        print(f"file size               {size} bytes")
        print(f"hashlib, file (base)    {t_base:8.3f} s  {gb / t_base:6.2f} GB/s")
        print(f"hashlib, in memory      {t_mem:8.3f} s  {gb / t_mem:6.2f} GB/s")
        print(f"file_checksum, cold     {t_cold:8.3f} s  {gb / t_cold:6.2f} GB/s"
              f"  ratio {t_base / t_cold:.2f}x of base (target >= 0.8x)")
        print(f"file_checksum, memo     {t_memo * 1e3:8.2f} ms"
              f"  {t_cold / t_memo:,.0f}x faster than cold (target <= 50 ms)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process {peak:6.0f} MiB (the 64 MiB write block included)")


if __name__ == "__main__":
    main(sys.argv)
