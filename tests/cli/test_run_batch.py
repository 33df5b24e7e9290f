"""`seamless-run --qsubmit --batch FILE` with the files users really write: CRLF line ends, a
byte-order mark, comments, and lines that depend on each other. A bad batch submits nothing."""

import os
import sys

import pytest

from seamless_transformer.cli.run import body as seamless_run
from seamless_transformer.errors import UsageError
from seamless_transformer.queue import queuefile


@pytest.fixture
def queue(tmp_path, monkeypatch):
    path = str(tmp_path / "queue")
    monkeypatch.setenv("SEAMLESS_QUEUE_FILE", path)
    with open("a.txt", "w") as handle:
        handle.write("apples\n")
    return path


def submit(capsys, content: bytes, *options) -> list:
    with open("commands", "wb") as handle:
        handle.write(content)
    assert seamless_run(["--qsubmit", "--batch", "commands", *options]) == 0
    return capsys.readouterr().out.split()


def refused(content: bytes, match: str) -> None:
    with open("commands", "wb") as handle:
        handle.write(content)
    with pytest.raises(UsageError, match=match):
        seamless_run(["--qsubmit", "--batch", "commands"])


def dry(capsys, command: str) -> str:
    assert seamless_run(["--dry", command]) == 0
    return capsys.readouterr().out.strip()


def targets(queue) -> list:
    buffer = queuefile.RecordBuffer()
    with open(queue, "rb") as handle:
        return [sorted(queuefile.parse(record).result_targets) for record in buffer.feed(handle.read())]


def nothing_submitted(queue) -> bool:
    return not os.path.exists(queue) and not [name for name in os.listdir() if name.endswith(".FUTURE")]


def test_crlf_line_ends_end_the_lines_and_are_not_in_the_file_names(queue, capsys):
    checksums = submit(capsys, b"sort a.txt > s.txt\r\necho hi > h.txt\r\n")
    assert targets(queue) == [["s.txt"], ["h.txt"]]
    assert checksums == [dry(capsys, "sort a.txt > s.txt"), dry(capsys, "echo hi > h.txt")]


def test_a_byte_order_mark_is_not_part_of_the_first_command(queue, capsys):
    assert submit(capsys, b"\xef\xbb\xbfecho hi > h.txt\n") == [dry(capsys, "echo hi > h.txt")]


def test_comment_lines_are_skipped_like_blank_lines(queue, capsys):
    assert submit(capsys, b"# the greeting\n  # indented\necho hi > h.txt\n") == [dry(capsys, "echo hi > h.txt")]


def test_a_line_that_reads_a_file_an_earlier_line_writes_submits_nothing(queue):
    with open("x.txt", "w") as handle:
        handle.write("old\n")
    refused(b"echo new > x.txt\ncat x.txt > y.txt\n", r"^--batch commands, line 2 reads 'x\.txt', which line 1 writes")
    assert nothing_submitted(queue)


def test_a_line_that_reads_the_sidecar_of_a_file_an_earlier_line_writes_submits_nothing(queue):
    with open("x.txt.CHECKSUM", "w") as handle:
        handle.write("ee53c53e16e7b0ea5fd5d9a13e2ec7f0faf8ab0fdbe8fa7c5e23dd4e4dbe7c58\n")
    refused(b"echo new > x.txt\n\ncat x.txt > y.txt\n", r"^--batch commands, line 3 reads 'x\.txt', which line 1 writes")
    assert nothing_submitted(queue)


def test_a_line_that_reads_a_directory_an_earlier_line_writes_into_submits_nothing(queue):
    os.mkdir("d")
    refused(b"echo x > d/x.txt\nls d > l.txt\n", r"^--batch commands, line 2 reads 'd', which line 1 writes")
    assert nothing_submitted(queue)


def test_two_lines_that_write_one_file_submit_nothing(queue):
    refused(b"echo x > x.txt\necho y > x.txt\n", r"^--batch commands, line 2 writes 'x\.txt', which line 1 writes")
    assert nothing_submitted(queue)


def test_a_repeated_line_is_submitted_each_time(queue, capsys):
    checksums = submit(capsys, b"echo x > x.txt\necho x > x.txt\n")
    assert checksums[0] == checksums[1]
    assert targets(queue) == [["x.txt"], ["x.txt"]]


def test_a_line_may_read_what_a_later_line_writes(queue, capsys):
    submit(capsys, b"cat a.txt > b.txt\necho new > a.txt\n")
    assert targets(queue) == [["b.txt"], ["a.txt"]]


def test_a_nul_byte_in_a_line_submits_nothing(queue):
    refused(b"echo x > x.txt\necho a\0b > y.txt\n", r"^--batch commands, line 2: argument #1 .* holds a NUL byte")
    assert nothing_submitted(queue)


def test_a_closed_standard_input_is_one_usage_error(queue, monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(UsageError, match=r"^--batch -: standard input is closed$"):
        seamless_run(["--qsubmit", "--batch", "-"])
    assert nothing_submitted(queue)


@pytest.mark.parametrize("content, name", [(b"echo new > n.txt\ncat n.txt > y.txt\n", "n.txt"),
                                           (b"echo new > out\nsort out > y.txt\n", "out"),
                                           (b"echo x > new/x.txt\nls new > l.txt\n", "new")],
                         ids=["file", "file-without-extension", "directory"])
def test_a_line_that_reads_what_an_earlier_line_creates_submits_nothing(queue, content, name):
    refused(content, rf"^--batch commands, line 2 reads '{name}', which line 1 writes")
    assert nothing_submitted(queue)


def test_a_line_that_does_not_parse_after_a_writing_line_is_refused_with_its_line_number(queue):
    refused(b"echo x > x.txt\necho a; fi > y.txt\n", r"^--batch commands, line 2: cannot parse command")
    assert nothing_submitted(queue)
