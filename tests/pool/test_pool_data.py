"""Buffers, captured output and execution records of worker transformations."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

from seamless_transformer import config, delayed
from seamless_transformer.config import get_settings


def test_100_mb_numpy_result_round_trips_bit_exactly(workers, shm_listing):
    import numpy as np

    from seamless_transformer.pool import get_pool

    workers(1)
    listing, new_segments = shm_listing
    before = listing()

    @delayed
    def big(n):
        import numpy as np

        return np.arange(n, dtype=np.float64) * 1.000001

    n = 100_000_000 // 8
    value = big(n).run()
    expected = np.arange(n, dtype=np.float64) * 1.000001
    assert value.dtype == expected.dtype and value.tobytes() == expected.tobytes()
    assert get_pool().segments.created >= 1  # the result did travel through shared memory
    assert new_segments(before) == set()


def test_large_input_and_result_without_persistent_storage(workers):
    with open("seamless.yaml", "w") as f:
        f.write("- persistent: false\n")
    assert get_settings().persistent is False
    workers(1)

    @delayed
    def reverse(data):
        import os

        return [data[::-1], os.getpid()]

    data = os.urandom(200_000).hex()
    out, pid = reverse(data).run()
    assert out == data[::-1] and pid != os.getpid()


def test_print_in_a_successful_worker_transformation_is_in_logs(workers):
    workers(1)

    @delayed
    def talk(x):
        print("hello from the worker")
        return x

    tf = talk(5)
    assert tf.run() == 5
    assert tf.logs == "hello from the worker\n"


def test_concurrent_transformations_in_one_worker_capture_only_their_own_prints(workers):
    workers(1, throttle=2)

    @delayed
    def chatter(marker):
        import os
        import time

        for _ in range(1000):
            print(marker)
            time.sleep(0)
        return os.getpid()

    a, b = chatter("AAAA").start(), chatter("BBBB").start()
    assert a.run() == b.run()
    assert a.logs == "AAAA\n" * 1000
    assert b.logs == "BBBB\n" * 1000


def test_records_are_written_by_the_parent_with_execution_mode_spawn(workers):
    config.select_record(True)
    workers(1)

    @delayed
    def where(x):
        import os

        return os.getpid()

    tf = where(11)
    worker_pid = tf.run()
    conn = sqlite3.connect(get_settings().database_paths[0])
    (text,) = conn.execute("SELECT metadata FROM meta_data WHERE checksum=?",
                           (tf.transformation_checksum.hex(),)).fetchone()
    record = json.loads(text)
    assert record["execution_mode"] == "spawn"
    assert record["pid"] == worker_pid
    assert record["worker_execution_index"] == 1
    assert record["retry_count"] == 0


def test_no_resource_tracker_warning_after_big_buffers_and_a_crash(tmp_path, shm_listing):
    script = textwrap.dedent("""
        import os
        from seamless_transformer import delayed, spawn, shutdown_workers, TransformationError

        @delayed
        def echo(data, die):
            import os
            if die:
                os.kill(os.getpid(), 9)
            return data

        if __name__ == "__main__":
            spawn(1)
            data = os.urandom(150_000).hex()  # a str: mixed bytes lose trailing NULs
            assert echo(data, False).run() == data
            try:
                echo(data, True).run()
            except TransformationError as exc:
                print(exc)
            shutdown_workers()
    """)
    path = tmp_path / "scenario.py"
    path.write_text(script)
    env = dict(os.environ, SEAMLESS_CACHE=str(tmp_path / "cache"))
    listing, new_segments = shm_listing
    before = listing()
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "(3 attempts)" in proc.stdout
    assert "resource_tracker" not in proc.stderr and "leaked" not in proc.stderr
    assert new_segments(before) == set()
