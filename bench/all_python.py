"""The in-process rows of bench/all.sh, as tab-separated lines on stdout (run by bench/all.sh).

    python bench/all_python.py ROW [N]

ROW is one of:
  delayed    N trivial `delayed` transformations in-process, cold (the write-behind flush included)
             then cached, next to joblib.Memory cold then cached on the same function (two lines, ms/task)
  parallel   N trivial transformations through parallel() on spawn(2), persistent cache, next to
             ProcessPoolExecutor(2) on the same function (s); worker start-up excluded on both sides
  transport  a 100 MB buffer to a worker and back (GB/s, best of 3), next to one in-process copy
             of the same bytes (memcpy through bytearray, GB/s)
Each line: what, our figure, peer name, peer figure, unit, target. A missing peer gives "-".
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def square(x):
    return x * x


def per_task_ms(fn, n: int) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) / n * 1000


def row(what, ours, peer_name, peer, unit, target) -> None:
    peer_text = "-" if peer is None else f"{peer:.4g}"
    print(f"{what}\t{ours:.4g}\t{peer_name}\t{peer_text}\t{unit}\t{target}", flush=True)


def delayed_rows(n: int) -> None:
    tmp = tempfile.mkdtemp(prefix="seamless-bench-")
    os.environ["SEAMLESS_CACHE"] = os.path.join(tmp, "cache")
    from seamless_transformer import delayed, flush

    tf_square = delayed(square)
    cold = per_task_ms(lambda: ([tf_square(i).run() for i in range(n)], flush()), n)  # written to disk, as joblib's
    cached = per_task_ms(lambda: [tf_square(i).run() for i in range(n)], n)
    jl_cold = jl_cached = None
    try:
        import joblib
    except ImportError:
        joblib = None
    if joblib is not None:
        jl_square = joblib.Memory(os.path.join(tmp, "joblib"), verbose=0).cache(square)
        jl_cold = per_task_ms(lambda: [jl_square(i) for i in range(n)], n)
        jl_cached = per_task_ms(lambda: [jl_square(i) for i in range(n)], n)
    row(f"{n} trivial delayed tfs in-process, cold", cold, "joblib.Memory", jl_cold, "ms/task", "<= peer")
    row(f"{n} trivial delayed tfs in-process, cached", cached, "joblib.Memory", jl_cached, "ms/task", "<= peer")


def parallel_row(n: int) -> None:
    import pool  # bench/pool.py

    pool.N = n
    ppe = pool.bench_ppe()
    ours = pool.bench_seamless(True)
    row(f"parallel() {n} trivial tfs, spawn(2), persistent", ours, "ProcessPoolExecutor(2)", ppe, "s",
        "<= 2x peer")


def transport_row() -> None:
    import pool  # bench/pool.py

    size = 100_000_000
    data = os.urandom(size)
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        copy = bytearray(data)
        wall = time.perf_counter() - t0
        best = wall if best is None else min(best, wall)
    del copy
    memcpy = size / 1e9 / best
    ours = 2 * size / 1e9 / pool.bench_transport(size)
    row("100 MB buffer to a worker and back", ours, "memcpy (one copy)", memcpy, "GB/s", ">= 2 GB/s")


def main() -> None:
    which = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    if which == "delayed":
        delayed_rows(n)
    elif which == "parallel":
        parallel_row(n)
    elif which == "transport":
        transport_row()
    else:
        sys.exit(f"unknown row {which!r}: delayed, parallel or transport")


if __name__ == "__main__":
    main()
