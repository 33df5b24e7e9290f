"""The `seamless` names (seamless.transformer, seamless.config, seamless.Checksum/Buffer, close)
are this package's own objects, and upstream's quick-start lines run under them."""

import subprocess
import sys
import textwrap

import seamless
import seamless.config
import seamless.transformer
import seamless_transformer
from seamless_transformer import config as st_config

ADD_TF = "b305d13f07b5d60227ab9085d44f9abc346793f684d20fd246b199907311a006"
RESULT_42 = "084c799cd551dd1d8d5c5f9a5d593b2e931f5e36122ee5c793c1d08a19839cc0"


def test_seamless_transformer_names_are_the_seamless_transformer_objects():
    for name in seamless.transformer.__all__:
        if hasattr(seamless_transformer, name):
            assert getattr(seamless.transformer, name) is getattr(seamless_transformer, name), name


def test_seamless_top_level_names_are_the_seamless_transformer_objects():
    for name in ("Checksum", "Buffer", "CacheMissError", "TransformationError"):
        assert getattr(seamless, name) is getattr(seamless_transformer, name)


def test_seamless_config_functions_are_the_config_functions():
    for name in seamless.config.__all__:
        assert getattr(seamless.config, name) is getattr(st_config, name)


def test_direct_quick_start():
    from seamless.transformer import direct

    @direct
    def func(a, b):
        return 10 * a + 2 * b

    assert func(30, 12) == 324
    assert func(40, 2) == 404


def test_delayed_quick_start():
    from seamless.transformer import delayed

    @delayed
    def add(a, b):
        return a + b

    tf = add(19, 23)
    assert tf.construct() == ADD_TF
    assert tf.run() == 42
    assert tf.checksum.hex() == RESULT_42


def test_parallel_quick_start():
    import seamless.config
    from seamless.transformer import delayed, parallel

    seamless.config.set_nparallel(4)

    @delayed
    def func(a, b):
        return 10000 * a + 2 * b

    tfs = [func(i, -1) for i in range(12)]
    assert [tf.run() for tf in parallel(tfs)] == [10000 * i - 2 for i in range(12)]


SPAWN_SCRIPT = textwrap.dedent(
    """
    import os
    from seamless.transformer import delayed, has_spawned, shutdown_workers, spawn

    @delayed
    def pid(x):
        import os
        return os.getpid()

    if __name__ == "__main__":
        spawn(2)
        assert has_spawned()
        pids = {pid(i).run() for i in range(4)}
        shutdown_workers()
        print(has_spawned(), os.getpid() in pids, len(pids) >= 1)
    """
)


def test_spawn_quick_start_runs_in_worker_processes(tmp_path):
    script = tmp_path / "spawn_quick_start.py"
    script.write_text(SPAWN_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "False False True\n"


def test_transformation_checksum_is_a_checksum_that_resolves_to_the_identity_buffer():
    from seamless.transformer import delayed

    @delayed
    def add(a, b):
        return a + b

    tf_checksum = add(19, 23).transformation_checksum
    assert isinstance(tf_checksum, seamless.Checksum)
    assert tf_checksum.resolve("plain")["code"][2] == (
        "ba1a531f581d2e6094e978ed6f7aca7a8d92eeb62c6e7ad73ee692f7f18bc772"
    )


def test_result_checksum_of_compute_is_a_seamless_checksum():
    from seamless.transformer import delayed

    @delayed
    def add(a, b):
        return a + b

    result = add(19, 23).compute()
    assert isinstance(result, seamless.Checksum)
    assert result.resolve("mixed") == 42


def test_close_stops_the_worker_pool_and_may_be_called_twice():
    script = textwrap.dedent(
        """
        import seamless
        from seamless.transformer import has_spawned, spawn

        if __name__ == "__main__":
            spawn(1)
            seamless.close()
            seamless.close()
            print(has_spawned())
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, "False\n"), proc.stderr


def test_transformation_code_can_take_the_global_lock():
    from seamless.transformer import direct

    @direct
    def locked(x):
        from seamless.transformer import global_lock

        with global_lock:
            return x + 1

    assert locked(1) == 2
