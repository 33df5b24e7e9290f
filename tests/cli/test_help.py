"""Every command's --help is readable without the project's vocabulary (issue 11, item 14)."""

import re
import subprocess

import pytest

COMMANDS = [
    "seamless-run",
    "seamless-upload",
    "seamless-download",
    "seamless-run-transformation",
    "seamless-cancel",
    "seamless-queue",
    "seamless-queue-finish",
]
JARGON = re.compile(r"\bpins?\b|argtyping|\bdunders?\b|\bidentity\b|\btf\b", re.IGNORECASE)


def help_of(command: str) -> str:
    proc = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_ends_with_two_to_four_examples_of_the_command(command):
    text = help_of(command)
    examples = text[text.rindex("Examples:"):].splitlines()[1:]
    assert "Options:" not in "\n".join(examples)
    runs = [line for line in examples if line.strip().startswith(command + " ")]
    assert 1 <= len(runs) and 2 <= len([line for line in examples if line.strip()]) <= 4


@pytest.mark.parametrize("command", COMMANDS)
def test_help_uses_no_undefined_jargon(command):
    text = help_of(command).replace("--dunder", "").replace("dunder.json", "")  # upstream's names
    assert JARGON.findall(text) == []


def test_seamless_upload_without_a_path_is_a_usage_error():
    proc = subprocess.run(["seamless-upload"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == "seamless-upload: error: Missing argument 'PATHS...'. (see seamless-upload --help)\n"


@pytest.mark.parametrize("command", ["seamless-run-transformation", "seamless-cancel"])
def test_a_missing_checksum_file_is_no_such_file(command):
    proc = subprocess.run([command, "nosuch.CHECKSUM"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == f"{command}: error: 'nosuch.CHECKSUM': no such file (see {command} --help)\n"
