"""Bash jobs run for real: output, errors, streaming, concurrency, cancellation (SPEC §4.7, §5)."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from seamless_transformer.celltypes import serialize
from seamless_transformer.checksum import Checksum
from seamless_transformer.errors import CanceledError, TransformationError
from seamless_transformer.execution.bash import JobEnv, command_line, execute_bash


def run(tf, storage, **kwargs):
    kwargs.setdefault("stdout", io.BytesIO())
    kwargs.setdefault("stderr", io.BytesIO())
    return execute_bash(tf, storage, **kwargs)


def _gone(pid) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_for_lines(path, n, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().split()
            if len(lines) >= n:
                return [int(x) for x in lines]
        time.sleep(0.02)
    raise AssertionError(f"{path} did not get {n} lines")


# ------------------------------------------------------------ results


def test_echo_hello_gives_hello_newline(bash_tf, storage):
    outcome = run(bash_tf("(\necho hello\n) > RESULT\n"), storage)
    assert outcome.result_buffer == b"hello\n"
    assert Checksum.of(outcome.result_buffer) == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def test_python_api_bash_pins_sum_to_42(bash_tf, storage):
    tf = bash_tf("echo $((a + b)) > RESULT", output="mixed", a=19, b=23)
    assert run(tf, storage).result_buffer == serialize(42, "mixed")


def test_var_pin_is_visible_as_environment_variable(bash_tf, storage):
    tf = bash_tf("(\necho $N\n) > RESULT\n", N=bash_tf.value("3", "str"))
    assert run(tf, storage).result_buffer == b"3\n"


def test_metavar_is_exported_from_its_meta_pin(bash_tf, storage):
    tf = bash_tf('export T="${META__T}"\n(\necho $T\n) > RESULT\n', META__T=bash_tf.value("4", "str"))
    assert run(tf, storage).result_buffer == b"4\n"


def test_file_pin_in_a_subdirectory_is_readable_by_the_job(bash_tf, storage):
    tf = bash_tf("(\ncat data/a.txt\n) > RESULT\n", files={"data/a.txt": b"apples\n"})
    assert run(tf, storage).result_buffer == b"apples\n"


def test_executable_pin_runs_without_touching_the_stored_buffer(bash_tf, storage):
    code = "export PATH=./:$PATH\nchmod +x 'run.sh'\n(\nrun.sh\n) > RESULT\n"
    script = b"#!/bin/bash\necho ran\n"
    tf = bash_tf(code, files={"run.sh": script})
    assert run(tf, storage).result_buffer == b"ran\n"
    assert os.stat(storage.buffer_path(Checksum.of(script))).st_mode & 0o777 == 0o444


def test_directory_pin_is_listed_by_the_job(bash_tf, storage):
    tf = bash_tf("(\nls d d/sub\n) > RESULT\n", dirs={"d": {"a.txt": b"A\n", "sub/b.txt": b"B\n"}})
    assert run(tf, storage).result_buffer == b"d:\na.txt\nsub\n\nd/sub:\nb.txt\n"


def test_script_is_not_visible_in_the_workspace(bash_tf, storage):
    err = io.BytesIO()
    run(bash_tf("ls -A >&2\ntouch RESULT\n"), storage, stderr=err)
    assert err.getvalue() == b""


def test_deep_result_is_packed_with_leaves(bash_tf, storage):
    tf = bash_tf("mkdir -p RESULT/\necho x > RESULT/a.txt\n", output="deepfolder")
    outcome = run(tf, storage)
    assert Checksum.of(outcome.result_buffer) == "7df6025c93491813236301bb70c102f28929d755390b7bac1bbfb5150e7e342c"
    assert outcome.extra_buffers == {Checksum.of(b"x\n"): b"x\n"}


def test_job_sees_seamless_ncores_from_meta(bash_tf, storage):
    tf = bash_tf("(\necho $SEAMLESS_NCORES\n) > RESULT\n")
    tf["__meta__"] = {"ncores": 3}
    assert run(tf, storage).result_buffer == b"3\n"


def test_rusage_figures_are_reported(bash_tf, storage):
    outcome = run(bash_tf("python3 -c 'x = bytearray(20_000_000)'\ntouch RESULT\n"), storage)
    assert outcome.maxrss_bytes > 20_000_000
    assert outcome.utime >= 0 and outcome.stime >= 0 and outcome.utime + outcome.stime > 0
    assert outcome.wall > 0


# ------------------------------------------------------------ failures


def test_nonzero_exit_status_is_reported_exactly(bash_tf, storage):
    with pytest.raises(TransformationError) as info:
        run(bash_tf("echo oops >&2\nexit 3\n"), storage)
    assert str(info.value) == "command failed with exit status 3"
    assert info.value.stderr == b"oops\n"


def test_command_not_found_is_status_127(bash_tf, storage):
    with pytest.raises(TransformationError, match="^command failed with exit status 127$"):
        run(bash_tf("no-such-command-xyz > RESULT\n"), storage)


def test_missing_result_is_reported(bash_tf, storage):
    with pytest.raises(TransformationError, match="^command did not create RESULT$"):
        run(bash_tf("true\n"), storage)


def test_empty_result_directory_is_reported(bash_tf, storage):
    with pytest.raises(TransformationError, match="^RESULT directory is empty$"):
        run(bash_tf("mkdir RESULT\n", output="deepfolder"), storage)


def test_missing_docker_is_an_error(bash_tf, storage, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    if __import__("shutil").which("docker"):
        pytest.fail("docker is in /usr/bin or /bin; this test needs a PATH without it")
    tf = bash_tf("touch RESULT\n", env={"docker": {"name": "ubuntu"}})
    with pytest.raises(TransformationError, match="docker is not available"):
        run(tf, storage)


def test_missing_conda_is_an_error(bash_tf, storage, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("CONDA_ROOT", raising=False)
    tf = bash_tf("touch RESULT\n", env={"conda_environment": "myenv"})
    with pytest.raises(TransformationError, match="conda is not available"):
        run(tf, storage)


def test_conda_environment_is_activated_from_conda_root(bash_tf, storage, tmp_path, monkeypatch):
    root = tmp_path / "conda"
    (root / "etc" / "profile.d").mkdir(parents=True)
    (root / "etc" / "profile.d" / "conda.sh").write_text(
        'conda() { if [ "$1" = activate ]; then export CONDA_DEFAULT_ENV="$2"; fi; }\n'
    )
    monkeypatch.setenv("CONDA_ROOT", str(root))
    tf = bash_tf("(\necho $CONDA_DEFAULT_ENV\n) > RESULT\n", env={"conda_environment": "myenv"})
    assert run(tf, storage).result_buffer == b"myenv\n"


# ------------------------------------------------------------ streams


def test_stderr_of_a_successful_job_reaches_the_stderr_stream(bash_tf, storage):
    err = io.BytesIO()
    run(bash_tf("echo progress >&2\ntouch RESULT\n"), storage, stderr=err)
    assert err.getvalue() == b"progress\n"


def test_300000_bytes_of_stderr_do_not_deadlock(bash_tf, storage):
    err = io.BytesIO()
    code = "python3 -c 'import sys; sys.stderr.write(\"x\"*300000)'\ntouch RESULT\n"
    worker = threading.Thread(target=run, args=(bash_tf(code), storage), kwargs={"stderr": err}, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the job is stuck writing its stderr"
    assert err.getvalue() == b"x" * 300000


def test_non_utf8_stdout_is_streamed_byte_exact(bash_tf, storage):
    out, err = io.BytesIO(), io.BytesIO()
    run(bash_tf("printf '\\xff\\xfe'\ntouch RESULT\n"), storage, stdout=out, stderr=err)
    assert out.getvalue() == b"\xff\xfe"
    assert err.getvalue() == b""


def test_non_utf8_result_is_byte_exact(bash_tf, storage):
    assert run(bash_tf("(\nprintf '\\xff\\xfe'\n) > RESULT\n"), storage).result_buffer == b"\xff\xfe"


def test_default_streams_without_a_binary_buffer_get_decoded_text(bash_tf, storage, monkeypatch):
    fake_out, fake_err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake_out)
    monkeypatch.setattr(sys, "stderr", fake_err)
    execute_bash(bash_tf("echo out\necho err >&2\ntouch RESULT\n"), storage)
    assert (fake_out.getvalue(), fake_err.getvalue()) == ("out\n", "err\n")


def test_logs_hold_the_job_output(bash_tf, storage):
    assert run(bash_tf("echo to-stderr >&2\ntouch RESULT\n"), storage).logs == "to-stderr\n"


# ------------------------------------------------------------ concurrency and processes


def test_four_concurrent_jobs_in_threads_run_in_parallel(bash_tf, storage, tmp_path):
    # each job waits (30 s at most) until all four have started: jobs run one by one would fail
    together = 'touch "$d/$i"; for _ in $(seq 300); do [ "$(ls "$d" | wc -l)" -ge 4 ] && break; sleep 0.1; done\n'
    together += '[ "$(ls "$d" | wc -l)" -ge 4 ] && echo "$i" > RESULT\n'
    tfs = [bash_tf(together, d=str(tmp_path), i=str(i)) for i in range(4)]
    results = {}

    def job(i):
        results[i] = run(tfs[i], storage).result_buffer

    threads = [threading.Thread(target=job, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: f"{i}\n".encode() for i in range(4)}


def test_cancel_set_before_start_runs_nothing(bash_tf, storage, tmp_path):
    marker = tmp_path / "ran"
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CanceledError, match="^Transformation was canceled$"):
        run(bash_tf('touch "$marker"; touch RESULT', marker=str(marker)), storage, cancel=cancel)
    assert not marker.exists()


def _start_canceled_job(tf, storage):
    cancel = threading.Event()
    box = {}

    def target():
        try:
            run(tf, storage, cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["exc"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return cancel, thread, box


def test_cancel_kills_the_whole_process_group(bash_tf, storage, tmp_path):
    pidfile = tmp_path / "pids"
    code = 'sleep 30 & echo $! >> "$pidfile"\nsleep 30 & echo $! >> "$pidfile"\nwait\n'
    cancel, thread, box = _start_canceled_job(bash_tf(code, pidfile=str(pidfile)), storage)
    pids = _wait_for_lines(pidfile, 2)
    cancel.set()
    thread.join(30)
    assert not thread.is_alive(), "the canceled job is still running"
    assert isinstance(box.get("exc"), CanceledError)
    assert str(box["exc"]) == "Transformation was canceled"
    assert all(_gone(pid) for pid in pids)


def test_cancel_kills_a_sigterm_ignoring_child(bash_tf, storage, tmp_path):
    pidfile = tmp_path / "pids"
    code = "trap '' TERM\nsleep 30 & echo $! >> \"$pidfile\"\nwait\n"
    cancel, thread, box = _start_canceled_job(bash_tf(code, pidfile=str(pidfile)), storage)
    pids = _wait_for_lines(pidfile, 1)
    cancel.set()
    thread.join(30)
    assert not thread.is_alive(), "the canceled job is still running"
    assert isinstance(box.get("exc"), CanceledError)
    assert all(_gone(pid) for pid in pids)


class _FailingStream(io.RawIOBase):
    def write(self, data):
        raise RuntimeError("our side broke")


def test_an_error_on_our_side_kills_the_job(bash_tf, storage, tmp_path):
    pidfile = tmp_path / "pids"
    code = 'sleep 30 & echo $! >> "$pidfile"\nsleep 0.2\necho hello >&2\nwait\n'
    with pytest.raises(RuntimeError, match="our side broke"):
        run(bash_tf(code, pidfile=str(pidfile)), storage, stderr=_FailingStream())
    assert all(_gone(pid) for pid in _wait_for_lines(pidfile, 1))


def test_no_process_outlives_a_finished_job(bash_tf, storage, tmp_path):
    pidfile = tmp_path / "pids"
    code = '( sleep 30 & echo $! >> "$pidfile" )\ntouch RESULT\n'
    run(bash_tf(code, pidfile=str(pidfile)), storage)
    assert all(_gone(pid) for pid in _wait_for_lines(pidfile, 1))


_RUNNER = """
import json, sys
from seamless_transformer.store.storage import get_storage
from seamless_transformer.execution.bash import execute_bash
execute_bash(json.load(open(sys.argv[1])), get_storage())
"""


def test_sigint_to_our_process_kills_the_job(bash_tf, storage, tmp_path):
    pidfile = tmp_path / "pids"
    tf_file = tmp_path / "tf.json"
    tf_file.write_text(json.dumps(bash_tf('sleep 30 & echo $! >> "$pidfile"\nwait\n', pidfile=str(pidfile))))
    proc = subprocess.Popen([sys.executable, "-c", _RUNNER, str(tf_file)], stderr=subprocess.PIPE)
    pids = _wait_for_lines(pidfile, 1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert b"KeyboardInterrupt" in err
    assert all(_gone(pid) for pid in pids)


# ------------------------------------------------------------ docker


def test_docker_command_line_runs_bash_in_the_workspace_as_our_user():
    argv = command_line("/tmp/ws", JobEnv(docker="ubuntu:24.04"), {"b": "2", "a": "1"}, "c1", 11)
    assert argv == [
        "docker", "run", "--rm", "-i", "-u", f"{os.getuid()}:{os.getgid()}", "--name", "c1",
        "-v", "/tmp/ws:/tmp/ws", "-w", "/tmp/ws", "-e", "a", "-e", "b",
        "ubuntu:24.04", "bash", "-c", 'eval "$(< /dev/fd/0)" 0</dev/null',
    ]  # fmt: skip


_FAKE_DOCKER = """#!/usr/bin/env python3
# docker stand-in: logs its argv (one JSON line), runs `run ... IMAGE CMD...` as CMD in -w, stdin inherited
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[0] != "run":
    sys.exit(0)
i, cwd = 1, None
while args[i].startswith("-"):
    if args[i] == "-w":
        cwd = args[i + 1]
    i += 2 if args[i] in ("-u", "--name", "-v", "-w", "-e") else 1
os.chdir(cwd)
os.execvp(args[i + 1], args[i + 1:])
"""


@pytest.fixture
def fake_docker(tmp_path, monkeypatch):
    """A `docker` on PATH that records every argv; returns the log path."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    (bindir / "docker").write_text(_FAKE_DOCKER)
    (bindir / "docker").chmod(0o755)
    log = tmp_path / "docker-argv.jsonl"
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    return log


def test_a_docker_job_never_gets_its_script_through_argv(bash_tf, storage, fake_docker):
    code = "echo marker-7d1e > RESULT\n"
    assert run(bash_tf(code, env={"docker": {"name": "img"}}), storage).result_buffer == b"marker-7d1e\n"
    logged = fake_docker.read_text()
    assert '"img"' in logged and "marker-7d1e" not in logged


def test_a_200_kb_script_runs_in_docker(bash_tf, storage, fake_docker):
    code = "x='" + "a" * 200_000 + "'\necho ${#x} > RESULT\n"
    assert run(bash_tf(code, env={"docker": {"name": "img"}}), storage).result_buffer == b"200000\n"


def test_a_docker_job_reads_an_empty_stdin(bash_tf, storage, fake_docker):
    outcome = run(bash_tf("cat > RESULT\necho end >> RESULT\n", env={"docker": {"name": "img"}}), storage)
    assert outcome.result_buffer == b"end\n"


# ------------------------------------------------------------ workspace lifetime


def test_workspace_is_removed_afterwards(bash_tf, storage):
    outcome = run(bash_tf("pwd > RESULT\n"), storage)
    workspace = outcome.result_buffer.decode().strip()
    assert os.path.basename(workspace).startswith("seamless-bash-")
    assert not os.path.exists(workspace)


def test_workspace_is_removed_after_a_failure(bash_tf, storage, tmp_path):
    record = tmp_path / "where"
    with pytest.raises(TransformationError):
        run(bash_tf('pwd > "$record"\nexit 1\n', record=str(record)), storage)
    assert not os.path.exists(record.read_text().strip())


def test_keep_workspace_keeps_it_and_prints_its_path(bash_tf, storage, monkeypatch):
    monkeypatch.setenv("SEAMLESS_KEEP_WORKSPACE", "1")
    err = io.BytesIO()
    outcome = run(bash_tf("pwd > RESULT\n"), storage, stderr=err)
    workspace = outcome.result_buffer.decode().strip()
    assert os.path.isfile(os.path.join(workspace, "RESULT"))
    assert workspace in err.getvalue().decode()
    __import__("shutil").rmtree(workspace)


# ------------------------------------------------------------ messages name workspace files relatively


def test_stderr_names_workspace_files_relatively(bash_tf, storage):
    err = io.BytesIO()
    run(bash_tf('echo "$PWD/script.py:3" >&2\ntouch RESULT\n'), storage, stderr=err)
    assert err.getvalue() == b"script.py:3\n"


def test_a_workspace_path_split_across_chunks_is_rewritten():
    from seamless_transformer.execution.bash import _PathRewriter

    rewriter = _PathRewriter("/tmp/seamless-bash-abc")
    out = rewriter.feed(b'File "/tmp/seaml') + rewriter.feed(b'ess-bash-abc/script.py"\n')
    assert out + rewriter.feed(b"", final=True) == b'File "script.py"\n'


def test_a_partial_line_that_is_not_the_workspace_path_is_not_held_back():
    from seamless_transformer.execution.bash import _PathRewriter

    assert _PathRewriter("/tmp/seamless-bash-abc").feed(b"progress 50%") == b"progress 50%"
