"""Outputs never pass through memory: a 160 MB result is stored and written with a flat peak RSS.

A computing seamless-run peaks near 85 MiB whatever the size: a tenth of the result held in memory breaks the limit."""

import os
import shutil
import signal
import sys
import subprocess

import pytest

SIZE = 160_000_000
RSS_LIMIT = 100 * 2**20


# ru_maxrss counts the memory of the process a child was forked from (Linux records the old
# address space's peak at exec): forked from this pytest process, every command would start at
# pytest's own peak. A small parent with no other child measures the command alone.
MEASURE = ("import resource, subprocess, sys\n"
           "proc = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)\n"
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
           "sys.exit(proc.returncode)\n")


def _peak_rss(*argv) -> int:
    """Run a command; its peak resident set size in bytes (its largest process, children included)."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, *argv], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.splitlines()[-1])


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


def test_a_160_mb_stdout_result_is_computed_and_printed_with_a_flat_peak_rss(seamless_run):
    rss = _peak_rss(seamless_run, f"head -c {SIZE} /dev/zero")
    assert rss < RSS_LIMIT, f"peak RSS {rss / 2**20:.0f} MiB"


def test_a_160_mb_stdout_result_is_printed_from_the_cache_with_a_flat_peak_rss(seamless_run):
    command = f"head -c {SIZE} /dev/zero"
    _peak_rss(seamless_run, command)
    rss = _peak_rss(seamless_run, command)
    assert rss < RSS_LIMIT, f"peak RSS {rss / 2**20:.0f} MiB"


def test_a_big_stdout_result_printed_from_the_cache_is_the_whole_output(seamless_run, tmp_path):
    command = "seq 1 1000000"
    first = subprocess.run([seamless_run, command], capture_output=True, check=True).stdout
    second = subprocess.run([seamless_run, command], capture_output=True, check=True).stdout
    assert first == second == subprocess.run(["seq", "1", "1000000"], capture_output=True).stdout


def test_seamless_download_stdout_of_a_160_mb_buffer_has_a_flat_peak_rss(seamless_run):
    _peak_rss(seamless_run, f"head -c {SIZE} /dev/zero > big.bin")
    with open("big.bin.CHECKSUM") as sidecar:
        checksum = sidecar.read().strip()
    rss = _peak_rss(shutil.which("seamless-download"), "--stdout", checksum)
    assert rss < RSS_LIMIT, f"peak RSS {rss / 2**20:.0f} MiB"


def test_an_output_that_cannot_be_written_is_named_in_one_line_and_the_old_file_is_kept(seamless_run):
    """A write that fails midway (here a file size limit; a full disk takes the same path)."""
    import resource

    command = "head -c 3000000 /dev/zero > big.bin"
    subprocess.run([seamless_run, command], check=True)
    with open("big.bin", "wb") as old:
        old.write(b"old\n")
    os.unlink("big.bin.CHECKSUM")  # the user's own version, which the failed write must keep

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    done = subprocess.run([seamless_run, command], capture_output=True, text=True, preexec_fn=limited)
    assert done.returncode != 0
    assert done.stderr.endswith(": 'big.bin'\n") and done.stderr.count("\n") == 1, done.stderr
    assert open("big.bin", "rb").read() == b"old\n"
    assert sorted(os.listdir(".")) == ["big.bin"]
