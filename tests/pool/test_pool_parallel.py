"""parallel() on the worker pool: a job in flight in a worker holds no thread of this process."""

import os
import threading

from seamless_transformer import delayed, parallel


@delayed
def square(x):
    return x * x


def test_parallel_with_many_in_flight_uses_a_bounded_number_of_threads(workers):
    with open("seamless.yaml", "w") as f:
        f.write("- persistent: false\n")  # keep the test about threads, not about disk speed
    workers(2)
    n, peak = 1500, 0
    values = []
    for tf in parallel([square(i) for i in range(n)], nparallel=300):
        values.append(tf.run())
        peak = max(peak, threading.active_count())
    assert values == [i * i for i in range(n)]
    assert peak < 40


def test_the_default_bound_of_parallel_is_the_number_of_workers(workers):
    from seamless_transformer import config, shutdown_workers

    workers(3)
    assert config.get_nparallel() == 3
    shutdown_workers()
    assert config.get_nparallel() == (os.cpu_count() or 1)
