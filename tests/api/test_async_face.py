"""`await tf` and `tf.task()` inside a running event loop (a notebook's): the loop keeps running."""

import asyncio
import subprocess
import sys
import textwrap

import pytest

from seamless_transformer import delayed


@delayed
def wait_for_file(path):
    import os
    import time

    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError("the event loop never wrote the file")
        time.sleep(0.01)
    return "seen"


async def _write_file_soon(path):
    await asyncio.sleep(0)
    with open(path, "w") as f:
        f.write("x")


def test_await_tf_leaves_the_event_loop_free_while_the_transformation_runs(tmp_path):
    async def main():
        path = str(tmp_path / "go")
        writer = asyncio.ensure_future(_write_file_soon(path))
        value = await wait_for_file(path)
        await writer
        return value

    assert asyncio.run(main()) == "seen"


def test_task_is_an_asyncio_task_that_gives_the_value(tmp_path):
    async def main():
        path = str(tmp_path / "go")
        task = wait_for_file(path).task()
        assert isinstance(task, asyncio.Task)
        await _write_file_soon(path)
        return await task

    assert asyncio.run(main()) == "seen"


def test_task_outside_a_running_event_loop_raises_runtime_error():
    with pytest.raises(RuntimeError, match=r"tf.task\(\) needs a running event loop; use tf.run\(\)"):
        wait_for_file("never").task()


def test_run_inside_a_running_event_loop_names_the_await_way_out():
    async def main():
        with pytest.raises(RuntimeError, match="await instead .'await tf' gives the value"):
            wait_for_file("never").run()

    asyncio.run(main())


POOL_START = textwrap.dedent(
    """
    import asyncio
    from seamless_transformer import delayed, has_spawned, shutdown_workers

    @delayed
    def one():
        return 1

    async def main():
        seen = []

        async def tick():
            seen.append(has_spawned())

        task = asyncio.ensure_future(one())
        await asyncio.sleep(0)  # the transformation's first step has run
        await tick()
        return await task, seen

    if __name__ == "__main__":
        value, seen = asyncio.run(main())
        shutdown_workers()
        print(value, seen)
    """
)


def test_a_worker_pool_started_by_await_starts_off_the_event_loop(tmp_path):
    """With `execution: spawn`, the first transformation starts the pool: not in the loop's thread."""
    (tmp_path / "seamless.yaml").write_text("- execution: spawn\n")
    (tmp_path / "main.py").write_text(POOL_START)
    proc = subprocess.run([sys.executable, "main.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1 [False]\n"
