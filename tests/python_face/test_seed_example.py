"""The README's two-process example: one process constructs, `seamless-run-transformation` runs it."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
ADD_TF = "b305d13f07b5d60227ab9085d44f9abc346793f684d20fd246b199907311a006"
RESULT_42 = "084c799cd551dd1d8d5c5f9a5d593b2e931f5e36122ee5c793c1d08a19839cc0"


def _readme_example() -> str:
    """The Python block of the README that prepares a transformation for another process."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    found = [b for b in blocks if "seamless_config.init()" in b and "incref()" in b]
    assert len(found) == 1
    return found[0]


def _cli(name):
    return shutil.which(name) or os.path.join(os.path.dirname(sys.executable), name)


def test_the_readme_example_prints_the_golden_transformation_checksum():
    pathlib.Path("prepare.py").write_text(_readme_example())
    proc = subprocess.run([sys.executable, "prepare.py"], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, ADD_TF + "\n", "")


def test_another_process_runs_the_printed_checksum_to_the_golden_result():
    pathlib.Path("prepare.py").write_text(_readme_example())
    prepared = subprocess.run([sys.executable, "prepare.py"], capture_output=True, text=True, timeout=60)
    tf = prepared.stdout.strip()
    proc = subprocess.run([_cli("seamless-run-transformation"), tf], capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode, proc.stdout) == (0, RESULT_42 + "\n"), proc.stderr


def test_the_identity_buffer_is_in_the_default_cache_after_the_example():
    pathlib.Path("prepare.py").write_text(_readme_example())
    subprocess.run([sys.executable, "prepare.py"], check=True, capture_output=True, timeout=60)
    cache = pathlib.Path.home() / ".cache" / "seamless" / "__TOPLEVEL__"
    assert (cache / ADD_TF[:2] / ADD_TF).is_file()
