"""Outputs never pass through memory: a 160 MB result is stored and written with a flat peak RSS.

A computing seamless-run peaks near 85 MiB whatever the size: a tenth of the result held in memory breaks the limit."""

import os
import shutil
import subprocess

import pytest

SIZE = 160_000_000
RSS_LIMIT = 100 * 2**20


def _peak_rss(*argv) -> int:
    """Run a command; its peak resident set size in bytes (its largest process, children included)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, proc.stderr.read().decode()
    proc.stderr.close()
    return usage.ru_maxrss * 1024


@pytest.fixture
def seamless_run():
    path = shutil.which("seamless-run")
    assert path is not None
    return path


def test_a_160_mb_output_file_is_computed_and_written_with_a_flat_peak_rss(seamless_run):
    rss = _peak_rss(seamless_run, f"head -c {SIZE} /dev/zero > big.bin")
    assert os.path.getsize("big.bin") == SIZE
    assert rss < RSS_LIMIT, f"peak RSS {rss / 2**20:.0f} MiB"


def test_a_160_mb_output_file_is_written_from_the_cache_with_a_flat_peak_rss(seamless_run):
    command = f"head -c {SIZE} /dev/zero > big.bin"
    _peak_rss(seamless_run, command)
    os.unlink("big.bin")
    rss = _peak_rss(seamless_run, command)
    assert os.path.getsize("big.bin") == SIZE
    assert rss < RSS_LIMIT, f"peak RSS {rss / 2**20:.0f} MiB"


def test_a_160_mb_file_of_an_output_directory_is_written_from_the_cache_with_a_flat_peak_rss(seamless_run):
    command = f"mkdir -p out && head -c {SIZE} /dev/zero > out/big.bin"
    _peak_rss(seamless_run, "-cp", "out/", command)
    shutil.rmtree("out")
    rss = _peak_rss(seamless_run, "-cp", "out/", command)
    assert os.path.getsize("out/big.bin") == SIZE
    assert rss < RSS_LIMIT, f"peak RSS {rss / 2**20:.0f} MiB"
