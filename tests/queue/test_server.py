"""The queue server in this process: recorded workdirs, EOF, slots, download thresholds, undo, scratch (SPEC §6.4)."""

import io
import os
import threading
import time

import pytest

from seamless_transformer.store.outputs import write_targets
from seamless_transformer.cli.run import body as seamless_run
from seamless_transformer.queue import queuefile
from seamless_transformer.queue.server import QueueServer
from seamless_transformer.store.storage import get_storage


@pytest.fixture
def queue(tmp_path, monkeypatch):
    path = str(tmp_path / "queue")
    monkeypatch.setenv("SEAMLESS_QUEUE_FILE", path)
    return path


def qsubmit(capsys, *argv) -> str:
    assert seamless_run(["--qsubmit", *argv]) == 0
    return capsys.readouterr().out.strip()


def serve(queue, workers=2, quiet=False, eof=True):
    if eof:
        queuefile.append_record(queue, queuefile.EOF_RECORD)
    stream = io.StringIO()
    code = QueueServer(queue, workers=workers, write_targets=write_targets, quiet=quiet, stream=stream).serve()
    return code, stream.getvalue()


def test_outputs_land_in_the_recorded_workdir_not_the_servers_cwd(queue, capsys, tmp_path, monkeypatch):
    submit_dir, server_dir = tmp_path / "submit", tmp_path / "server"
    submit_dir.mkdir(), server_dir.mkdir()
    monkeypatch.chdir(submit_dir)
    qsubmit(capsys, "echo x > o.txt")
    monkeypatch.chdir(server_dir)
    code, _err = serve(queue)
    assert code == 0
    assert (submit_dir / "o.txt").read_text() == "x\n"
    assert (submit_dir / "o.txt.CHECKSUM").exists()
    assert not (server_dir / "o.txt").exists()


def test_the_queue_file_is_deleted_after_eof(queue, capsys):
    qsubmit(capsys, "echo x > o.txt")
    serve(queue)
    assert not os.path.exists(queue)


def test_records_after_eof_are_not_run(queue, capsys):
    qsubmit(capsys, "echo x > o.txt")
    submitted = open(queue, "rb").read()
    with open(queue, "wb") as handle:  # as a writer without the EOF check would leave it
        handle.write(queuefile.EOF_RECORD + submitted)
    code, err = serve(queue, eof=False)
    assert code == 0
    assert err == ""
    assert not os.path.exists("o.txt")


def test_the_server_waits_for_the_queue_file_to_appear(queue, capsys):
    result = {}
    server = threading.Thread(target=lambda: result.update(out=serve(queue, eof=False)))
    server.start()
    time.sleep(0.3)
    assert server.is_alive()
    qsubmit(capsys, "echo x > o.txt")
    queuefile.append_record(queue, queuefile.EOF_RECORD)
    server.join(20)
    assert result["out"][0] == 0
    assert open("o.txt").read() == "x\n"


def test_a_job_asking_more_cores_than_workers_still_runs(queue, capsys):
    qsubmit(capsys, "--ncores", "8", "echo x > o.txt")
    code, _err = serve(queue, workers=2)
    assert code == 0
    assert open("o.txt").read() == "x\n"


def test_above_the_recorded_download_threshold_only_sidecars_are_written(queue, capsys, monkeypatch):
    monkeypatch.setenv("SEAMLESS_MAX_DOWNLOAD_FILES", "0")
    qsubmit(capsys, "echo x > o.txt")
    monkeypatch.delenv("SEAMLESS_MAX_DOWNLOAD_FILES")
    code, _err = serve(queue)
    assert code == 0
    assert os.path.exists("o.txt.CHECKSUM")
    assert not os.path.exists("o.txt")


def test_above_the_recorded_download_threshold_y_still_downloads(queue, capsys, monkeypatch):
    monkeypatch.setenv("SEAMLESS_MAX_DOWNLOAD_FILES", "0")
    qsubmit(capsys, "-y", "echo x > o.txt")
    code, _err = serve(queue)
    assert code == 0
    assert open("o.txt").read() == "x\n"


def test_a_scratch_job_writes_sidecars_only(queue, capsys):
    qsubmit(capsys, "--scratch", "echo x > o.txt")
    code, _err = serve(queue)
    assert code == 0
    assert os.path.exists("o.txt.CHECKSUM")
    assert not os.path.exists("o.txt")


def test_an_undo_record_declares_the_cached_result_irreproducible(queue, capsys):
    tf = qsubmit(capsys, "echo x > o.txt")
    serve(queue)
    assert get_storage().get_result(tf) is not None
    qsubmit(capsys, "--undo", "echo x > o.txt")
    code, err = serve(queue)
    assert code == 0, err
    assert get_storage().get_result(tf) is None


def test_an_undo_record_without_a_cached_result_fails(queue, capsys):
    qsubmit(capsys, "--undo", "echo x > o.txt")
    code, err = serve(queue)
    assert code == 1
    assert err.endswith("seamless-queue: job 1 failed: no cached result to undo\n")


def test_quiet_still_reports_a_failed_job(queue, capsys):
    qsubmit(capsys, "--undo", "echo x > o.txt")
    code, err = serve(queue, quiet=True)
    assert code == 1
    assert err == "seamless-queue: job 1 failed: no cached result to undo\n"


def test_identical_failing_jobs_both_report_the_failure(queue, capsys, tmp_path, monkeypatch):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        qsubmit(capsys, "sleep 0.3; exit 4; echo x > o.txt")
    code, err = serve(queue)
    assert code == 1
    assert err.count("failed: command failed with exit status 4") == 2
    assert not (tmp_path / "a" / "o.txt.FUTURE").exists()
    assert not (tmp_path / "b" / "o.txt.FUTURE").exists()


def test_quiet_shows_no_progress_lines(queue, capsys):
    qsubmit(capsys, "echo x > o.txt")
    code, err = serve(queue, quiet=True)
    assert (code, err) == (0, "")


def test_a_finished_job_is_a_cache_hit_on_resubmission(queue, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RUNS", str(tmp_path / "runs"))
    qsubmit(capsys, 'echo run >> "$RUNS"; echo x > o.txt')
    serve(queue)
    os.unlink("o.txt")
    qsubmit(capsys, 'echo run >> "$RUNS"; echo x > o.txt')
    code, _err = serve(queue)
    assert code == 0
    assert open("o.txt").read() == "x\n"
    assert (tmp_path / "runs").read_text() == "run\n"


def test_captured_stdout_and_a_directory_target_are_written_like_seamless_run(queue, capsys):
    qsubmit(capsys, "-cp", ":log.txt", "-cp", "outdir", "echo hi; mkdir -p outdir; echo x > outdir/a.txt")
    code, err = serve(queue)
    assert code == 0, err
    assert open("log.txt").read() == "hi\n"
    assert open("outdir/a.txt").read() == "x\n"
    assert open("outdir.CHECKSUM").read() == "7df6025c93491813236301bb70c102f28929d755390b7bac1bbfb5150e7e342c\n"
    assert os.path.exists("outdir.INDEX")


def test_a_renamed_capture_is_recorded_with_its_local_name(queue, capsys):
    qsubmit(capsys, "-cp", "r.txt:local.txt", "echo r > r.txt")
    record = queuefile.parse(open(queue, "rb").read()[:-1])
    assert record.result_targets == {"r.txt": "local.txt"}
    code, _err = serve(queue)
    assert code == 0
    assert open("local.txt").read() == "r\n"
    assert not os.path.exists("r.txt")


def _read_all(fd) -> bytes:
    import select

    data = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_on_a_terminal_the_server_draws_a_bar_of_finished_jobs(queue, capsys):
    import pty

    qsubmit(capsys, "echo x > o.txt")
    queuefile.append_record(queue, queuefile.EOF_RECORD)
    master, slave = pty.openpty()
    with open(slave, "w") as stream:
        code = QueueServer(queue, workers=1, write_targets=write_targets, stream=stream).serve()
    shown = _read_all(master)
    os.close(master)
    assert code == 0
    assert b"0/1 [" in shown and b"job 1 finished" in shown


def test_without_a_terminal_there_is_no_bar_and_no_carriage_return(queue, capsys):
    qsubmit(capsys, "echo x > o.txt")
    code, err = serve(queue)
    assert code == 0
    assert "\r" not in err and "job/s" not in err


def test_a_stray_nul_is_skipped_without_an_error_or_a_job_number(queue, capsys):
    queuefile.append_record(queue, b"\x00")
    qsubmit(capsys, "echo x > o.txt")
    code, err = serve(queue)
    assert code == 0
    assert err == "seamless-queue: job 1 started: seamless-run --qsubmit echo x > o.txt\nseamless-queue: job 1 finished\n"


def serve_in_thread(queue, workers=2):
    """serve() in a daemon thread -> (thread, result dict filled with (code, stderr) when done)."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(out=serve(queue, workers=workers, eof=False)), daemon=True)
    thread.start()
    return thread, result


def test_a_job_gives_back_every_slot_it_took(queue, capsys):
    qsubmit(capsys, "--ncores", "2", "echo a > a.txt")
    qsubmit(capsys, "--ncores", "2", "echo b > b.txt")
    queuefile.append_record(queue, queuefile.EOF_RECORD)
    thread, result = serve_in_thread(queue, workers=2)
    thread.join(60)
    assert not thread.is_alive(), "the second two-slot job never got its slots"
    assert result["out"][0] == 0
    assert open("b.txt").read() == "b\n"


def test_the_futures_of_a_running_job_are_touched(queue, capsys, tmp_path, monkeypatch):
    from seamless_transformer.queue import server

    monkeypatch.setattr(server, "FUTURE_TOUCH_SECONDS", 0.05)
    started, go = tmp_path / "started", tmp_path / "go"
    qsubmit(capsys, f"touch {started}; while [ ! -e {go} ]; do sleep 0.05; done; echo x > o.txt")
    queuefile.append_record(queue, queuefile.EOF_RECORD)
    thread, result = serve_in_thread(queue)
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert time.monotonic() < deadline, "the job did not start within 30 s"
            time.sleep(0.02)
        os.utime("o.txt.FUTURE", (0, 0))
        while os.stat("o.txt.FUTURE").st_mtime == 0:
            assert time.monotonic() < deadline, "o.txt.FUTURE was not touched within 30 s"
            time.sleep(0.02)
    finally:
        go.touch()
        thread.join(60)
    assert result["out"][0] == 0
    assert not os.path.exists("o.txt.FUTURE")


def test_the_server_leaves_the_number_of_failed_jobs_for_seamless_queue_finish(queue, capsys):
    qsubmit(capsys, "exit 3; echo x > bad.txt")
    qsubmit(capsys, "echo y > good.txt")
    code, _err = serve(queue)
    assert code == 1
    assert queuefile.read_status(queue) == 1
    assert not os.path.exists(queuefile.status_path(queue))


def test_one_worker_runs_its_jobs_one_at_a_time(queue, capsys):
    qsubmit(capsys, "echo a > a.txt")
    qsubmit(capsys, "echo b > b.txt")
    code, err = serve(queue, workers=1)
    assert code == 0
    lines = err.splitlines()
    second_started = next(i for i, line in enumerate(lines) if line.startswith("seamless-queue: job 2 started"))
    assert lines.index("seamless-queue: job 1 finished") < second_started


def serve_one_job_on_a_terminal(queue, capsys, columns=None):
    """Serve one `echo x > o.txt` job with a pty as the stream (of `columns` if given): (code, what it showed)."""
    import fcntl
    import pty
    import struct
    import termios

    qsubmit(capsys, "echo x > o.txt")
    queuefile.append_record(queue, queuefile.EOF_RECORD)
    master, slave = pty.openpty()
    if columns is not None:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    with open(slave, "w") as stream:
        code = QueueServer(queue, workers=1, write_targets=write_targets, stream=stream).serve()
    shown = _read_all(master)
    os.close(master)
    return code, shown


def test_the_bar_fits_the_width_of_the_terminal(queue, capsys):
    import re

    code, shown = serve_one_job_on_a_terminal(queue, capsys, columns=40)
    assert code == 0
    shown = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", shown.decode())
    bars = [piece for piece in re.split(r"[\r\n]", shown) if "/1 [" in piece]
    assert bars and max(len(bar) for bar in bars) <= 40


def test_a_record_that_is_not_a_queue_command_is_reported_and_the_next_job_runs(queue, capsys):
    queuefile.append_record(queue, b'{"queue_command": "DANCE"}\x00')
    qsubmit(capsys, "echo x > o.txt")
    _code, err = serve(queue)
    assert "seamless-queue: error: record 1 is not a valid queue command\n" in err
    assert open("o.txt").read() == "x\n"


def test_an_interrupted_server_stops_the_jobs_it_runs(queue, capsys, tmp_path):
    import psutil
    import signal

    pid_file, go = tmp_path / "pid", tmp_path / "go"
    qsubmit(capsys, f"echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; "
                    f"while [ ! -e {go} ]; do sleep 0.05; done; echo x > o.txt")

    def interrupt_once_running():
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            serve(queue, eof=False)
        job = int(pid_file.read_text())
        deadline = time.monotonic() + 30
        while psutil.pid_exists(job) and psutil.Process(job).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the job's bash still runs after the interrupt"
            time.sleep(0.05)
    finally:
        go.touch()


def test_on_a_terminal_without_tqdm_the_server_runs_without_a_bar(queue, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if it were not installed
    code, shown = serve_one_job_on_a_terminal(queue, capsys)
    assert code == 0 and open("o.txt").read() == "x\n"
    assert b"job 1 finished" in shown and b"/1 [" not in shown
