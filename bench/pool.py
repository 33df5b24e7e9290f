"""The worker pool against joblib and ProcessPoolExecutor, and its buffer transport speed.

    python bench/pool.py [N]
    python bench/pool.py --profile [N]     where the time of run 1 (persistent) goes

1. N (default 1000) trivial Python transformations through parallel() on spawn(2), cold cache,
   with the default persistent storage and with memory-only storage (`persistent: false`),
   against joblib.Parallel(n_jobs=2) and concurrent.futures.ProcessPoolExecutor(2) running the
   same function. Worker start-up is excluded everywhere (each pool is warmed up first).
2. A 100 MB buffer sent to a worker and back through shared memory (best of 3), next to one
   in-process copy of it (memcpy into a fresh bytearray, best of 3): one copy each way is the floor.
Ratios are against joblib, measured in the same run. The CPU seconds per task of the parent and
of the workers are printed too: on a loaded machine they vary less than the wall time.
--profile runs only the persistent spawn(2) run, with cProfile in every thread of the parent and
of both workers, and prints per side the own time per task summed by package layer (waiting
apart) and the top functions.
"""

import os
import sys
import tempfile
import time

N = 1000  # python bench/pool.py N sets it
NPARALLEL = 64


def square(x):
    return x * x


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def cpu_seconds() -> tuple:
    """(this process, its live child processes): CPU seconds used so far (children: psutil)."""
    import psutil

    children = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            children += times.user + times.system
        except psutil.Error:
            pass
    return time.process_time(), children


CPU = {}  # label -> (parent, workers) CPU seconds of the last timed run: less load-sensitive than wall


def bench_joblib():
    try:
        from joblib import Parallel, delayed
    except ImportError:
        return None
    with Parallel(n_jobs=2) as run:
        run(delayed(square)(i) for i in range(4))  # warm-up: start the workers
        wall, out = timed(lambda: run(delayed(square)(i) for i in range(N)))
    assert out == [i * i for i in range(N)]
    return wall


def bench_ppe():
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as ex:
        list(ex.map(square, range(4)))
        wall, out = timed(lambda: list(ex.map(square, range(N))))
    assert out == [i * i for i in range(N)]
    return wall


def bench_seamless(persistent: bool):
    import seamless_transformer as st

    workdir = tempfile.mkdtemp(prefix="seamless-bench-pool-")
    if not persistent:
        with open(os.path.join(workdir, "seamless.yaml"), "w") as f:
            f.write("- persistent: false\n")
    os.environ["SEAMLESS_CACHE"] = os.path.join(workdir, "cache")
    st.config.init(workdir)
    tf_square = st.delayed(square)
    st.spawn(2)
    try:
        tf_square(-1).run()  # warm-up
        offset = 10**6 * (1 + persistent)  # fresh arguments: a cold cache in both runs
        cpu0 = cpu_seconds()
        wall, out = timed(lambda: [tf.run() for tf in st.parallel(
            [tf_square(offset + i) for i in range(N)], nparallel=NPARALLEL)])
        cpu1 = cpu_seconds()
        CPU["persistent" if persistent else "memory-only"] = (cpu1[0] - cpu0[0], cpu1[1] - cpu0[1])
    finally:
        st.shutdown_workers()
    assert out == [(offset + i) ** 2 for i in range(N)]
    return wall


def bench_transport(size=100_000_000, repeat=3):
    import seamless_transformer as st
    from seamless_transformer.pool import get_pool

    data = os.urandom(size)
    st.spawn(1)
    try:
        best = None
        for _ in range(repeat):
            wall, back = timed(lambda: get_pool().echo(data))
            assert back == data
            best = wall if best is None else min(best, wall)
    finally:
        st.shutdown_workers()
    return best


WAITS = ("'get' of '_queue.SimpleQueue'", "'acquire' of '_thread.lock'", "'poll' of 'select.poll'",
         "time.sleep", "'__enter__' of '_thread.RLock'", "posix.read>")  # blocking calls


def by_layer(stats) -> dict:
    """Seconds of own time per package layer (store, pool, engine...): a stdlib function counts for
    the nearest seamless_transformer caller on its heaviest call path; waiting is set apart."""
    def layer(func):
        path = func[0]
        return path.split("seamless_transformer/")[1].split("/")[0].removesuffix(".py") \
            if "seamless_transformer/" in path else None

    totals = {}
    for func, (_cc, _nc, own, _cum, callers) in stats.stats.items():
        name, where = str(func), layer(func)
        if any(w in name for w in WAITS):
            where = "(waiting)"
        current = func
        for _ in range(8):
            if where is not None:
                break
            callers_of = stats.stats.get(current, (0, 0, 0, 0, {}))[4]
            if not callers_of:
                break
            current = max(callers_of, key=lambda c: callers_of[c][2])
            where = layer(current)
        totals[where or "other"] = totals.get(where or "other", 0.0) + own
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def profile(top=25):
    import glob
    import pstats

    from seamless_transformer.pool.worker import profile_threads

    outdir = tempfile.mkdtemp(prefix="seamless-bench-profile-")
    os.environ["SEAMLESS_BENCH_WORKER_PROFILE"] = outdir  # read by config.worker_profile_dir()
    dump = profile_threads()
    wall = bench_seamless(True)
    parent = os.path.join(outdir, "parent.prof")
    dump(parent)
    print(f"{N} tasks: {wall:.3f} s wall under the profiler, {wall / N * 1e3:.2f} ms/task; stats in {outdir}")
    for label, paths in (("parent, all threads", [parent]),
                         ("workers, all threads", glob.glob(os.path.join(outdir, "seamless-worker-*")))):
        if not paths:
            print(f"== {label}: no stats written")
            continue
        stats = pstats.Stats(*paths)
        layers = by_layer(stats)
        busy = sum(v for k, v in layers.items() if k != "(waiting)")
        print(f"== {label}: {busy / N * 1e3:.2f} ms of CPU per task under the profiler, by layer:")
        for where, seconds in layers.items():
            share = "" if where == "(waiting)" else f"{100 * seconds / busy:5.1f} %"
            print(f"   {where:<12} {seconds / N * 1e3:7.3f} ms/task {share}")
        stats.sort_stats("tottime").print_stats(top)


def bench_memcpy(size=100_000_000, repeat=3) -> float:
    """GB/s of one in-process copy of `size` bytes into a fresh bytearray (best of `repeat`)."""
    data = os.urandom(size)
    best = min(timed(lambda: bytearray(data))[0] for _ in range(repeat))
    return size / 1e9 / best


def main():
    global N
    if sys.argv[1:2] == ["--profile"]:
        N = int(sys.argv[2]) if len(sys.argv) > 2 else N
        profile()
        return
    N = int(sys.argv[1]) if len(sys.argv) > 1 else N
    print(f"{N} trivial transformations, 2 workers (nparallel={NPARALLEL} for seamless)")
    walls = {"joblib.Parallel(n_jobs=2)": bench_joblib(),
             "ProcessPoolExecutor(2)": bench_ppe(),
             "seamless spawn(2), memory-only": bench_seamless(False),
             "seamless spawn(2), persistent": bench_seamless(True)}
    base = walls["joblib.Parallel(n_jobs=2)"]
    for label, wall in walls.items():
        if wall is None:
            print(f"  {label:<34} (not installed)")
            continue
        ratio = f"{wall / base:6.2f} x joblib" if base else ""
        print(f"  {label:<34} {wall:7.3f} s  {wall / N * 1e6:8.1f} µs/task  {ratio}")
    for label, (parent, workers) in CPU.items():
        print(f"  CPU per task, {label:<19} parent {parent / N * 1e3:6.3f} ms, workers {workers / N * 1e3:6.3f} ms")
    wall, memcpy = bench_transport(), bench_memcpy()
    print(f"100 MB to a worker and back: {wall:.3f} s, {2 * 100 / 1000 / wall:.2f} GB/s "
          f"(bytes moved both ways / wall); memcpy {memcpy:.2f} GB/s: "
          f"{2 * 100 / 1000 / wall / memcpy:.2f} x memcpy")


if __name__ == "__main__":
    main()
