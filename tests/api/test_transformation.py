"""delayed / direct / Transformation behaviour in one process (SPEC §8.1-§8.3)."""

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from seamless_transformer import Checksum, TransformationError, config, delayed, direct, flush

ADD_TF = "b305d13f07b5d60227ab9085d44f9abc346793f684d20fd246b199907311a006"
RESULT_42 = "084c799cd551dd1d8d5c5f9a5d593b2e931f5e36122ee5c793c1d08a19839cc0"


@delayed
def add(a, b):
    return a + b


def _db_path():
    return os.path.expanduser("~/.cache/seamless/__TOPLEVEL__/seamless.db")


def _meta_rows():
    flush()  # the results are written behind
    with sqlite3.connect(_db_path()) as con:
        return con.execute("SELECT checksum, result, metadata FROM meta_data").fetchall()


def test_add_has_the_golden_transformation_checksum():
    assert add(19, 23).construct() == ADD_TF


def test_add_runs_to_42_with_the_golden_result_checksum():
    tf = add(19, 23)
    assert tf.run() == 42
    assert tf.checksum == RESULT_42


def test_direct_code_string_gives_value_and_golden_checksum():
    assert direct("a + b")(a=19, b=23) == 42
    assert delayed("a + b")(a=19, b=23).construct() == "27ac0bd642ebba065bb4b6fe85e9c2951428c9733db4785151e58df16bf69c37"


def test_direct_bash_code_gives_value_and_golden_checksum():
    code = "echo $((a + b)) > RESULT"
    assert direct(code, "bash")(a=19, b=23) == 42
    tf = delayed(code, "bash")(a=19, b=23).construct()
    assert tf == "e85c53866a80c5d15b27f88321b0b05e7ba312690c5181cc84cc027b50737140"


def test_code_string_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        delayed("a + b")(19, 23)


def test_transformer_of_a_builtin_is_refused():
    with pytest.raises(TypeError):
        delayed(len)


def test_status_goes_from_ready_to_ok():
    tf = add(1, 2)
    assert tf.status == "ready"
    tf.compute()
    assert tf.status == "OK"
    assert tf.exception is None


def test_checksum_before_computing_raises():
    with pytest.raises(TransformationError, match="not been computed"):
        add(1, 2).checksum


def test_exception_text_is_the_users_traceback_only():
    @delayed
    def fails(d):
        return d["nope"]

    tf = fails({"a": 1})
    with pytest.raises(TransformationError):
        tf.run()
    assert tf.status == "exception"
    assert tf.exception.endswith("KeyError: 'nope'\n")
    assert "seamless_transformer" not in tf.exception
    assert 'return d["nope"]' in tf.exception


def test_none_result_is_an_error():
    @delayed
    def nothing(x):
        return None

    tf = nothing(1)
    with pytest.raises(TransformationError):
        tf.compute()
    assert "Result is empty" in tf.exception


def test_code_block_must_assign_result():
    with pytest.raises(TransformationError, match="Output variable name 'result' undefined"):
        direct("x = a * 2")(a=1)


def test_code_block_result_variable_is_the_value():
    assert direct("x = a * 2\nresult = x + 1")(a=4) == 9


def test_single_line_lambda_is_called_with_the_pins():
    assert direct(lambda a, b: a * b)(a=6, b=7) == 42


def test_failed_dependency_names_the_dependency():
    @delayed
    def boom(x):
        raise ValueError("bad input")

    tf = add(boom(1), 2)
    with pytest.raises(TransformationError):
        tf.compute()
    assert tf.exception.startswith("Dependency 'a' has an exception:\n")
    assert "ValueError: bad input" in tf.exception


def test_dependency_result_checksum_is_the_pin():
    inner = add(1, 2)
    outer = add(inner, 10)
    assert outer.run() == 13
    assert inner.status == "OK"


def test_failures_are_not_cached():
    marker = os.path.abspath("flag")

    @delayed
    def flaky(path):
        import os

        if not os.path.exists(path):
            raise RuntimeError("not yet")
        return 1

    with pytest.raises(TransformationError):
        flaky(marker).compute()
    open(marker, "w").close()
    assert flaky(marker).run() == 1


def test_logs_hold_what_this_execution_printed():
    @delayed
    def talk(n):
        import sys

        print("out", n)
        print("err", n, file=sys.stderr)
        return n

    tf = talk(5)
    tf.run()
    assert tf.logs == "out 5\nerr 5\n"
    again = talk(5)
    again.run()
    assert again.logs is None  # a cache hit ran nothing


def test_concurrent_transformations_capture_only_their_own_prints():
    @delayed
    def chatty(marker):
        for _ in range(300):
            print(marker)
        return marker

    tfs = [chatty(m).start() for m in ("AAA", "BBB", "CCC")]
    for tf in tfs:
        tf.compute()
    for tf, marker in zip(tfs, ("AAA", "BBB", "CCC")):
        assert set(tf.logs.split()) == {marker}


def test_a_lot_of_printing_is_captured_whole():
    @delayed
    def loud(n):
        for i in range(n):
            print("x" * 100)
        return n

    tf = loud(20000)
    tf.run()
    assert len(tf.logs) == 20000 * 101


def test_is_cached_never_executes():
    tf = add(3, 4)
    assert tf.is_cached() is False
    assert tf.status == "ready"
    tf.run()
    assert add(3, 4).is_cached() is True


def test_meta_is_read_only():
    tf = add(1, 1)
    with pytest.raises(TransformationError, match="immutable"):
        tf.meta = {"x": 1}


def test_blocking_inside_an_event_loop_is_refused():
    async def main():
        with pytest.raises(RuntimeError, match="Cannot block on compute"):
            add(1, 5).compute()

    asyncio.run(main())


def test_await_gives_the_value():
    async def main():
        return await add(20, 22)

    assert asyncio.run(main()) == 42


def test_await_computation_gives_the_checksum():
    async def main():
        return await add(19, 23).computation()

    assert asyncio.run(main()) == RESULT_42


def test_nested_transformation_inside_a_transformation():
    @delayed
    def outer(n):
        from seamless_transformer import delayed as d

        inner = d("n * 10")
        return inner(n=n).run() + 1

    assert outer(4).run() == 41


def test_cancel_is_terminal(tmp_path):
    @delayed
    def slow(marker, t):
        import time

        open(marker, "w").close()
        time.sleep(t)
        return t

    started = tmp_path / "started"
    tf = slow(str(started), 2.5).start()
    deadline = time.monotonic() + 30
    while not started.exists():
        assert time.monotonic() < deadline, "the transformation did not start"
        time.sleep(0.02)
    assert tf.cancel() is True
    assert tf.status == "canceled"
    assert tf.exception == "Transformation was canceled"
    with pytest.raises(TransformationError):
        tf.compute()


def test_cancel_of_a_bash_transformation_kills_its_process():
    # a duration no other test uses, so that only this job's sleep can match
    import psutil

    tf = delayed("sleep 30.25; echo done > RESULT", "bash")(x=1).start()
    deadline = time.monotonic() + 30
    while not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "30.25"]]:
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.05)
    tf.cancel()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sleepers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "30.25"]]
        if not sleepers:
            break
        time.sleep(0.1)
    assert sleepers == []


def test_minimal_execution_record_has_the_eleven_keys_in_order():
    add(19, 23).run()
    rows = _meta_rows()
    assert len(rows) == 1
    checksum, result, metadata = rows[0]
    assert checksum == ADD_TF and result == RESULT_42
    record = json.loads(metadata)
    assert list(record) == [
        "schema_version", "tf_checksum", "result_checksum", "seamless_version", "execution_mode",
        "remote_target", "wall_time_seconds", "cpu_time_user_seconds", "cpu_time_system_seconds",
        "memory_peak_bytes", "gpu_memory_peak_bytes",
    ]
    assert record["tf_checksum"] == ADD_TF
    assert record["execution_mode"] == "process"


def test_a_cache_hit_writes_no_second_record():
    add(19, 23).run()
    add(19, 23).run()
    assert len(_meta_rows()) == 1


def test_a_failing_transformation_writes_no_record():
    with pytest.raises(TransformationError):
        direct("1/0")(x=1)
    assert not os.path.exists(_db_path()) or _meta_rows() == []


def test_select_record_writes_full_records():
    config.select_record(True)
    add(19, 23).run()
    record = json.loads(_meta_rows()[0][2])
    assert record["hostname"]
    assert record["language_kind"] == "python"
    assert record["pid"] == os.getpid()


def test_result_is_a_cache_hit_in_a_second_process_without_configuration(tmp_path):
    script = tmp_path / "second.py"
    script.write_text(textwrap.dedent('''
        from seamless_transformer import delayed

        @delayed
        def add(a, b):
            return a + b

        tf = add(19, 23)
        print(tf.is_cached(), tf.run(), tf.logs)
    '''))
    first = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert first.stdout == "False 42 \n"
    assert second.stdout == "True 42 None\n"


def test_many_transformations_run_concurrently_in_one_process(tmp_path):
    # SPEC §5 bug 20, no global lock: each job waits (30 s at most) until all four have started
    code = ('touch "$d/$i"; for _ in $(seq 300); do [ "$(ls "$d" | wc -l)" -ge 4 ] && break; sleep 0.1; done; '
            '[ "$(ls "$d" | wc -l)" -ge 4 ] && echo $i > RESULT')
    tfs = [delayed(code, "bash")(i=i, d=str(tmp_path)) for i in range(4)]
    for tf in tfs:
        tf.start()
    values = [tf.run() for tf in tfs]
    assert values == [0, 1, 2, 3]


def test_scratch_result_is_computed_but_not_stored():
    @delayed
    def triple(x):
        return 3 * x

    triple.scratch = True
    tf = triple(7)
    assert tf.run() == 21
    path = os.path.expanduser("~/.cache/seamless/__TOPLEVEL__")
    stored = {name for _dirpath, _dirs, names in os.walk(path) for name in names}
    assert tf.checksum.hex() not in stored
    assert triple(7).is_cached()


def test_run_of_a_canceled_transformation_raises_canceled_error():
    from seamless_transformer.errors import CanceledError

    tf = add(5, 6)
    tf.cancel()
    with pytest.raises(CanceledError, match="^Transformation was canceled$"):
        tf.run()


def test_a_failure_raised_by_run_carries_the_output_of_the_run():
    @delayed
    def noisy(n):
        print("about to fail", n)
        raise KeyError("nope")

    with pytest.raises(TransformationError) as info:
        noisy(3).run()
    assert "about to fail 3" in info.value.logs


def test_an_engine_failure_that_is_no_seamless_error_keeps_it_as_cause():
    @delayed
    def unserializable(n):
        return {n, n + 1}  # a set is no JSON

    with pytest.raises(TransformationError) as info:
        unserializable(1).run()
    assert info.value.__cause__ is not None
