"""`seamless-run --qsubmit --batch FILE`: many commands submitted by one process."""

import io
import os
import sys

import pytest

from seamless_transformer.cli.run import body as seamless_run
from seamless_transformer.errors import UsageError
from seamless_transformer.queue import queuefile
from seamless_transformer.queue.server import QueueServer
from seamless_transformer.store.outputs import write_targets


@pytest.fixture
def queue(tmp_path, monkeypatch):
    path = str(tmp_path / "queue")
    monkeypatch.setenv("SEAMLESS_QUEUE_FILE", path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("apples\npears\n")
    return path


def batch(capsys, content: bytes, *options) -> list:
    with open("commands", "wb") as handle:
        handle.write(content)
    assert seamless_run(["--qsubmit", "--batch", "commands", *options]) == 0
    return capsys.readouterr().out.split()


def records(queue) -> list:
    buffer = queuefile.RecordBuffer()
    with open(queue, "rb") as handle:
        return [queuefile.parse(record) for record in buffer.feed(handle.read())]


def serve(queue) -> int:
    queuefile.append_record(queue, queuefile.EOF_RECORD)
    return QueueServer(queue, workers=2, write_targets=write_targets, quiet=True, stream=io.StringIO()).serve()


def test_every_line_is_submitted_in_order_and_runs(queue, capsys):
    checksums = batch(capsys, b"sort a.txt > s.txt\n\necho hi > h.txt\nwc -l a.txt > n.txt\n")
    assert [r.tf_checksum for r in records(queue)] == checksums
    assert serve(queue) == 0
    assert [open(name).read() for name in ("s.txt", "h.txt", "n.txt")] == ["apples\npears\n", "hi\n", "2 a.txt\n"]


def test_a_batch_checksum_is_the_checksum_of_the_same_command_alone(queue, capsys):
    [checksum] = batch(capsys, b"sort a.txt > s.txt\n")
    assert seamless_run(["--dry", "sort a.txt > s.txt"]) == 0
    assert capsys.readouterr().out.strip() == checksum


def test_a_bad_line_submits_nothing_and_says_which_line(queue, capsys):
    with open("commands", "w") as handle:
        handle.write("echo x > x.txt\ncat missing.txt > y.txt\n")
    with pytest.raises(UsageError, match="^--batch commands, line 2: argument #2 'missing.txt'"):
        seamless_run(["--qsubmit", "--batch", "commands"])
    assert not os.path.exists(queue)
    assert not os.path.exists("x.txt.FUTURE")


def test_nul_separated_commands_may_span_lines(queue, capsys):
    batch(capsys, b"printf 'a\\nb\\n' > m.txt\0echo 'one\ntwo' > t.txt\0", "-0")
    assert serve(queue) == 0
    assert open("t.txt").read() == "one\ntwo\n"


def test_commands_are_read_from_stdin_with_a_dash(queue, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"echo x > x.txt\necho y > y.txt\n")))
    assert seamless_run(["--qsubmit", "--batch", "-"]) == 0
    assert len(capsys.readouterr().out.split()) == len(records(queue)) == 2


@pytest.mark.parametrize("argv, message", [
    (["--batch", "commands"], "--batch requires --qsubmit"),
    (["--qsubmit", "--batch", "commands", "echo", "x"], "--batch reads the commands from its file"),
    (["--qsubmit", "-0", "echo x > x.txt"], "-0 requires --batch"),
    (["--qsubmit", "--batch", "nonexistent"], "--batch nonexistent: No such file or directory"),
    (["--qsubmit", "--batch", "empty"], "--batch empty: no command in it"),
])
def test_misuse_is_a_one_line_usage_error(queue, argv, message):
    open("commands", "w").write("echo x > x.txt\n")
    open("empty", "w").write("\n \n")
    with pytest.raises(UsageError, match="^" + message):
        seamless_run(argv)


def test_a_batch_after_finish_is_refused(queue, capsys):
    batch(capsys, b"echo x > x.txt\n")
    queuefile.append_eof(queue)
    with pytest.raises(UsageError, match="is finished"):
        seamless_run(["--qsubmit", "--batch", "commands"])
    assert len(records(queue)) == 2  # the job and the end record
