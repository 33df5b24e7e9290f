"""Crash consistency of result targets: after `kill -9` of seamless-run at any instant, a file
and its sidecar agree, or the sidecar is absent (the old one never stays next to new content)."""

import os
import random
import shutil
import subprocess
import time


SIZE = 200_000_000
KILLS = 20
RUN = shutil.which("seamless-run")


def _content_checksum(path: str, known: dict) -> str:
    """The checksum of big.bin, which can only be one of the two known 200 MB contents, or a
    part of one: a full size and its first and last bytes tell which (hashing 200 MB twenty
    times would cost more than the test)."""
    with open(path, "rb") as f:
        first = f.read(1)
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
    if os.path.getsize(path) != SIZE or first != last or first not in known:
        return "incomplete"
    return known[first]


def _agree(path: str, known: dict) -> str | None:
    """None if big.bin and big.bin.CHECKSUM agree (or the sidecar is absent), else a description."""
    sidecar = path + ".CHECKSUM"
    if not os.path.exists(sidecar):
        return None
    with open(sidecar) as f:
        named = f.read().strip()
    if not os.path.exists(path):
        return None  # a sidecar standing in for absent data is a valid state
    actual = _content_checksum(path, known)
    return None if actual == named else f"{path} is {actual[:12]} but its sidecar says {named[:12]}"


def _commands():
    return [f"head -c {SIZE} /dev/zero > big.bin", f"head -c {SIZE} /dev/zero | tr '\\0' a > big.bin"]


def test_a_kill_at_any_instant_while_replacing_a_200_MB_output_leaves_file_and_sidecar_in_agreement():
    assert RUN is not None, "seamless-run is not installed: run scripts/test.sh"
    commands = _commands()
    known = {}
    for command, byte in zip(commands, (b"\0", b"a")):  # both cached: each later run only replaces big.bin
        subprocess.run([RUN, command], check=True)
        with open("big.bin.CHECKSUM") as f:
            known[byte] = f.read().strip()
    started = time.monotonic()
    subprocess.run([RUN, commands[0]], check=True)
    duration = time.monotonic() - started
    rng = random.Random(20261129)
    for attempt in range(KILLS):
        proc = subprocess.Popen([RUN, commands[attempt % 2]], stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.0, duration * 1.2)
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        problem = _agree("big.bin", known)
        assert problem is None, f"kill {attempt} after {delay:.3f} s: {problem}"
        for name in os.listdir("."):
            if ".tmp-" in name:  # a killed writer's 200 MB temp file
                os.unlink(name)
