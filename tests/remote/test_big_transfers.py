"""A 1 GiB buffer goes through seamless-upload and seamless-download streamed: the peak RSS of
either command stays far below the buffer's size. The two runs share one module-scoped server."""

import hashlib
import json
import os
import subprocess
import sys

import pytest
from upstream_servers import _Servers, executable

from seamless_transformer.checksum import hash_file

SIZE = 1 << 30
PEAK_LIMIT = 100 << 20  # bytes

# The measuring parent has no other child, so RUSAGE_CHILDREN is the command's own peak.
MEASURE = ("import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024); sys.exit(rc)")


def _peak_rss(argv, cwd, env) -> int:
    """Run argv; its peak RSS in bytes (fails the test if it fails)."""
    result = subprocess.run([sys.executable, "-c", MEASURE, *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.splitlines()[-1])


def _write_big(path) -> str:
    block = os.urandom(1 << 20)
    hasher = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(SIZE >> 20):
            chunk = block[:-8] + i.to_bytes(8, "big")
            hasher.update(chunk)
            f.write(chunk)
    return hasher.hexdigest()


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """(work dir, env, checksum, peak RSS of the upload): a 1 GiB file uploaded once."""
    base = tmp_path_factory.mktemp("big")
    (base / "hs").mkdir()
    (base / "work").mkdir()
    servers = _Servers(base)
    try:
        url = servers.start([executable("hashserver"), str(base / "hs"), "--writable"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLESS_")}
        env["HOME"] = str(base)
        env["SEAMLESS_REMOTE_CLIENTS"] = json.dumps({"buffer": [{"url": url, "readonly": False}]})
        cs = _write_big(base / "work" / "big.bin")
        peak = _peak_rss([executable("seamless-upload"), "-y", "big.bin"], base / "work", env)
        yield base / "work", env, cs, peak
    finally:
        servers.stop_all()


def test_uploading_a_1_gib_file_to_a_hashserver_keeps_the_peak_rss_under_100_mib(big):
    work, _env, cs, peak = big
    assert (work / "big.bin.CHECKSUM").read_text().strip() == cs
    assert peak < PEAK_LIMIT


def test_downloading_a_1_gib_buffer_from_a_hashserver_keeps_the_peak_rss_under_100_mib(big):
    work, env, cs, _ = big
    os.unlink(work / "big.bin")
    env = {**env, "SEAMLESS_CACHE": str(work.parent / "fresh-cache")}  # the buffer is only on the server
    peak = _peak_rss([executable("seamless-download"), "-y", "big.bin"], work, env)
    assert peak < PEAK_LIMIT
    assert hash_file(work / "big.bin").hex() == cs


def _only_remote(tmp_path, start_hashserver):
    """(env with only a hashserver and no local cache, work dir)."""
    (tmp_path / "hs").mkdir()
    url = start_hashserver(tmp_path / "hs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLESS_")}
    env["SEAMLESS_REMOTE_CLIENTS"] = json.dumps({"buffer": [{"url": url, "readonly": False}]})
    (tmp_path / "w").mkdir()
    return env, tmp_path / "w"


def _run(prog, *args, cwd, env):
    return subprocess.run([executable(prog), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=120)


def test_download_to_stdout_without_a_local_cache_streams_the_server_buffer(tmp_path, start_hashserver):
    env, work = _only_remote(tmp_path, start_hashserver)
    data = b"streamed to stdout\n" * 1000
    (work / "x.txt").write_bytes(data)
    assert _run("seamless-upload", "-y", "x.txt", cwd=work, env=env).returncode == 0
    result = _run("seamless-download", "--stdout", hashlib.sha256(data).hexdigest(), cwd=work, env=env)
    assert (result.returncode, result.stdout) == (0, data)
    assert sorted(os.listdir(work)) == ["x.txt", "x.txt.CHECKSUM"]  # no spool directory left behind


def test_a_directory_downloads_without_a_local_cache_and_leaves_no_spool(tmp_path, start_hashserver):
    env, work = _only_remote(tmp_path, start_hashserver)
    (work / "d").mkdir()
    for i in range(5):
        (work / "d" / f"f{i}.txt").write_text(f"file {i}\n")
    assert _run("seamless-upload", "-y", "d", cwd=work, env=env).returncode == 0
    for i in range(5):
        os.unlink(work / "d" / f"f{i}.txt")
    os.rmdir(work / "d")
    result = _run("seamless-download", "d", cwd=work, env=env)
    assert result.returncode == 0, result.stderr
    assert [(work / "d" / f"f{i}.txt").read_text() for i in range(5)] == [f"file {i}\n" for i in range(5)]
    assert sorted(os.listdir(work)) == ["d", "d.CHECKSUM", "d.INDEX"]
