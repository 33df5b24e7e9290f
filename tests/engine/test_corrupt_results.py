"""A corrupt result buffer is no cache hit: the transformation that produced it is recomputed at
once (seamless-run, seamless-run-transformation, the Python API), and the store is repaired."""

import hashlib
import os
import subprocess

from seamless_transformer import delayed, flush

RESULT_42 = "084c799cd551dd1d8d5c5f9a5d593b2e931f5e36122ee5c793c1d08a19839cc0"
HELLO = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


@delayed
def add(a, b):
    return a + b


def buffer_file(cs: str) -> str:
    return os.path.expanduser(f"~/.cache/seamless/__TOPLEVEL__/{cs[:2]}/{cs}")


def corrupt(cs: str) -> None:
    """Flip one byte of a stored buffer, as a failing disk or a careless root would."""
    flush()  # the results are written behind
    path = buffer_file(cs)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 1]))


def is_intact(cs: str) -> bool:
    flush()
    with open(buffer_file(cs), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest() == cs


def forget_process_state():
    """What a fresh process would know: nothing in memory, only the store and seamless.db."""
    from seamless_transformer import engine
    from seamless_transformer.store import storage

    engine._reset()
    storage._reset()


def test_run_recomputes_a_result_whose_buffer_is_corrupt():
    assert add(19, 23).run() == 42
    corrupt(RESULT_42)
    forget_process_state()
    assert add(19, 23).run() == 42
    assert is_intact(RESULT_42)


def test_seamless_run_transformation_recomputes_a_corrupt_result_and_repairs_the_store():
    tf = str(add(19, 23).construct())
    assert add(19, 23).run() == 42
    corrupt(RESULT_42)
    done = subprocess.run(["seamless-run-transformation", tf], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, RESULT_42 + "\n"), done.stderr
    assert is_intact(RESULT_42)


def test_seamless_run_recomputes_when_an_output_file_buffer_is_corrupt():
    subprocess.run(["seamless-run", "echo hello > out.txt"], check=True)
    corrupt(HELLO)
    os.unlink("out.txt")
    done = subprocess.run(["seamless-run", "echo hello > out.txt"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with open("out.txt") as f:
        assert f.read() == "hello\n"
    assert is_intact(HELLO)


def test_seamless_run_in_stdout_mode_recomputes_a_corrupt_result():
    subprocess.run(["seamless-run", "echo hello"], check=True, capture_output=True)
    corrupt(HELLO)
    done = subprocess.run(["seamless-run", "echo hello"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "hello\n"), done.stderr
    assert is_intact(HELLO)


def test_seamless_run_repairs_a_corrupt_stored_input_from_the_local_file():
    with open("in.txt", "w") as f:
        f.write("hello\n")
    subprocess.run(["seamless-run", "cat in.txt"], check=True, capture_output=True)
    corrupt(HELLO)
    done = subprocess.run(["seamless-run", "wc -c in.txt"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "6 in.txt\n"), done.stderr
    assert is_intact(HELLO)
