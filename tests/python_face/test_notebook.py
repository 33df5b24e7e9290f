"""A real Jupyter kernel (nbclient + ipykernel) runs @delayed functions defined in its cells."""

import os

import pytest

import nbformat
import nbclient

ADD_TF = "b305d13f07b5d60227ab9085d44f9abc346793f684d20fd246b199907311a006"

CELLS = {
    "import": "from seamless.transformer import delayed, spawn, shutdown_workers",
    "define": "@delayed\ndef add(a, b):\n    return a + b",
    "await": "await add(19, 23)",
    "identity": "print(add(19, 23).construct().hex())",
    "task": "await add(1, 2).task()",
    "blocking": "try:\n    add(3, 4).run()\nexcept RuntimeError as exc:\n    print(exc)",
    "batch": (
        "from seamless.transformer import parallel_async\n"
        "values = []\n"
        "async for tf in parallel_async([add(i, i) for i in range(4)], nparallel=2):\n"
        "    values.append(await tf)\n"
        "print(values)"
    ),
    "spawn": (
        "import os\n"
        "@delayed\n"
        "def where(x):\n"
        "    import os\n"
        "    return [x, os.getpid()]\n"
        "spawn(2)\n"
        "value, pid = await where(5)\n"
        "shutdown_workers()\n"
        "print(value, pid != os.getpid())"
    ),
}


def _text(cell) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "execute_result":
            parts.append(output.data["text/plain"] + "\n")
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}\n")
    return "".join(parts)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Run one notebook (a cell per entry of CELLS) in a fresh kernel, with a private HOME and
    cache; give {name: the cell's output text}."""
    home = tmp_path_factory.mktemp("nbhome")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        for name in list(os.environ):
            if name.startswith("SEAMLESS_") or name in ("XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
                mp.delenv(name)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS.values()])
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(home)}})
        client.execute()
    return {name: _text(cell) for name, cell in zip(CELLS, nb.cells)}


def test_three_cells_import_define_and_await_give_the_value(outputs):
    assert (outputs["import"], outputs["define"], outputs["await"]) == ("", "", "42\n")


def test_a_function_defined_in_a_cell_has_the_same_identity_as_in_a_file(outputs):
    assert outputs["identity"] == ADD_TF + "\n"


def test_await_task_in_a_cell_gives_the_value(outputs):
    assert outputs["task"] == "3\n"


def test_a_blocking_run_in_a_cell_says_to_await_instead(outputs):
    assert outputs["blocking"].startswith(
        "Cannot block on run() from within the running event loop: await instead ('await tf'"
    )


def test_async_for_over_parallel_async_in_a_cell_yields_in_input_order(outputs):
    assert outputs["batch"] == "[0, 2, 4, 6]\n"


def test_a_cell_function_runs_in_spawned_workers(outputs):
    assert outputs["spawn"] == "5 True\n"
