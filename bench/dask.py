"""Benchmark: transformations on Dask next to plain `client.map` (run by hand, not part of the tests).

    python bench/dask.py [N_SLEEP]      N_SLEEP: how many 0.5 s transformations (default 40)

On one LocalCluster(n_workers=2, processes=True), in a fresh embedded cache (a temp dir):
  * 1000 trivial transformations (x + 1) through parallel(), next to client.map of the same function
  * N_SLEEP transformations of 0.5 s each, next to client.map of the same function
  * each batch again: all cache hits (in this process; then again after forgetting this process's
    memory of results, so the database answers), next to the first run
Prints the times and the ratios; no assertions. Targets (issue 13): trivial <= 2x client.map,
0.5 s tasks <= 1.1x, a run of hits >= 20x faster than the first. The default N_SLEEP is 40, not
100: on 2 cores 100 x 0.5 s is 25 s per run, and the ratio is the same.
"""

import os
import sys
import tempfile
import time

# this file is named dask.py: its own directory must not shadow the dask package
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

NPARALLEL = 256  # in flight at once: enough to keep both workers busy


def trivial(x):
    return x + 1


def half_second(x):
    import time

    time.sleep(0.5)
    return x


def trivial_tf(x, tag):
    return x + 1


def sleep_tf(x, tag):
    import time

    time.sleep(0.5)
    return x


def timed(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def ours(transformer, n, tag, expected):
    from seamless_transformer import parallel

    tfs = [transformer(i, tag) for i in range(n)]
    values = [tf.run() for tf in parallel(tfs, nparallel=NPARALLEL)]
    if values != expected:
        raise SystemExit("wrong results")


def plain(client, func, n):
    futures = client.map(func, range(n), pure=False)
    client.gather(futures)


def bench_batch(client, transformer, func, n, label):
    from seamless_transformer import engine

    tag = time.time_ns()  # a fresh identity per run of this script: the first run computes
    expected = [func(i) for i in range(n)] if func is trivial else list(range(n))
    base = timed(lambda: plain(client, func, n))
    first = timed(lambda: ours(transformer, n, tag, expected))
    hits = timed(lambda: ours(transformer, n, tag, expected))
    engine._reset()  # forget this process's memory of results: the database answers
    hits_db = timed(lambda: ours(transformer, n, tag, expected))
    print(f"{label}: client.map {base:.2f} s, ours {first:.2f} s ({first / base:.2f}x); "
          f"all hits {hits:.3f} s ({first / hits:.0f}x faster), "
          f"all hits from the database {hits_db:.3f} s ({first / hits_db:.0f}x faster)")


def main():
    n_sleep = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SEAMLESS_CACHE"] = os.path.join(tmp, "cache")
        from distributed import Client, LocalCluster

        from seamless_transformer import delayed, set_dask_client

        with LocalCluster(n_workers=2, processes=True, dashboard_address=":0") as cluster, \
                Client(cluster) as client:
            set_dask_client(client)
            plain(client, trivial, 10)  # warm up both sides
            bench_batch(client, delayed(trivial_tf), trivial, 1000, "1000 trivial")
            bench_batch(client, delayed(sleep_tf), half_second, n_sleep, f"{n_sleep} x 0.5 s")
            set_dask_client(None)


if __name__ == "__main__":
    main()
