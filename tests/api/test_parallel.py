"""parallel() / parallel_async(): bounded in flight, input order (SPEC §8.4)."""

import asyncio
import os
import threading

import pytest

from seamless_transformer import config, delayed, parallel, parallel_async


@delayed
def sleeper(i, t):
    import time

    t0 = time.time()
    time.sleep(t)
    return [i, t0, time.time()]


def max_overlap(spans):
    """The largest number of [start, end] intervals open at one moment."""
    events = sorted([(s, 1) for _i, s, _e in spans] + [(e, -1) for _i, _s, e in spans])
    now = peak = 0
    for _t, delta in events:
        now += delta
        peak = max(peak, now)
    return peak


def test_parallel_bounds_concurrency_and_keeps_input_order():
    tfs = [sleeper(i, 0.3) for i in range(6)]
    spans = [tf.run() for tf in parallel(tfs, nparallel=2)]
    assert [i for i, _s, _e in spans] == list(range(6))
    assert max_overlap(spans) == 2


def test_parallel_default_bound_comes_from_set_nparallel():
    config.set_nparallel(3)
    tfs = [sleeper(i, 0.2) for i in range(7)]
    spans = [tf.run() for tf in parallel(tfs)]
    assert [i for i, _s, _e in spans] == list(range(7))
    assert max_overlap(spans) == 3


def test_parallel_inside_a_running_loop_is_refused():
    async def main():
        with pytest.raises(RuntimeError):
            parallel([sleeper(0, 0)])

    asyncio.run(main())


def test_parallel_async_yields_in_input_order():
    async def main():
        tfs = [sleeper(i, 0.1 * (5 - i)) for i in range(5)]
        return [await tf async for tf in parallel_async(tfs, nparallel=2)]

    spans = asyncio.run(main())
    assert [i for i, _s, _e in spans] == list(range(5))
    assert max_overlap(spans) == 2


def test_many_transformations_run_on_a_bounded_number_of_threads_and_files():
    """Ten thousand trivial transformations need no ten thousand threads; a thousand show it: the thread
    bound is checked at every step and does not grow with the count, and no file descriptor is left open."""
    square = delayed("x * x")
    threads_before, fds_before = threading.active_count(), len(os.listdir("/proc/self/fd"))
    peak = 0
    total = 0
    for tf in parallel((square(x=i) for i in range(1000)), nparallel=8):
        total += tf.run()
        peak = max(peak, threading.active_count())
    assert total == sum(i * i for i in range(1000))
    assert peak <= threads_before + 8 + 4
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 8


def test_a_failing_transformation_is_yielded_with_its_exception():
    boom = delayed("1 / x")
    results = list(parallel([boom(x=1), boom(x=0), boom(x=2)], nparallel=2))
    assert [tf.status for tf in results] == ["OK", "exception", "OK"]
    assert "ZeroDivisionError" in results[1].exception
