"""The queue file of seamless-queue: records, the submitter lock, and the partial-record-safe reader."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from seamless_transformer.errors import UsageError
from seamless_transformer.queue import queuefile

TF = "706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550"


def submit(workdir="/abs/dir", **params):
    return queuefile.submit_command("seamless-run echo hi > o.txt", TF, {"__language__": "bash"}, {"o.txt": None},
                                  {"workdir": workdir, **params})


def test_a_record_is_json_with_indent_2_and_a_nul():
    cmd = submit()
    assert queuefile.encode(cmd) == json.dumps(cmd, indent=2).encode() + b"\x00"


def test_a_submit_command_has_the_upstream_keys_in_order():
    assert list(submit()) == ["queue_command", "original_command", "transformation_checksum",
                              "transformation_dict", "result_targets", "params"]


def test_the_eof_record_is_compact_json_and_a_nul():
    assert queuefile.EOF_RECORD == b'{"queue_command": "EOF"}\x00'


def test_half_a_record_yields_nothing_until_the_rest_arrives():
    data = queuefile.encode(submit())
    buffer = queuefile.RecordBuffer()
    assert buffer.feed(data[:50]) == []
    assert buffer.feed(data[50:]) == [data[:-1]]
    assert buffer.partial == b""


def test_one_and_a_half_records_yield_the_complete_one_and_keep_the_tail():
    first, second = queuefile.encode(submit("/a")), queuefile.encode(submit("/b"))
    buffer = queuefile.RecordBuffer()
    assert buffer.feed(first + second[:30]) == [first[:-1]]
    assert buffer.partial == second[:30]
    assert buffer.feed(second[30:]) == [second[:-1]]


def test_a_valid_submit_record_parses_with_defaults_for_missing_params():
    cmd = queuefile.parse(queuefile.encode(submit())[:-1])
    assert cmd.kind == "SUBMIT"
    assert cmd.tf_checksum == TF
    assert cmd.workdir == "/abs/dir"
    assert cmd.result_targets == {"o.txt": None}
    assert cmd.params["max_download_files"] == 2000 and cmd.params["auto_confirm"] == "no"


def test_the_eof_record_parses_as_eof():
    assert queuefile.parse(queuefile.EOF_RECORD[:-1]).kind == "EOF"


@pytest.mark.parametrize("record", [
    b"not json",
    b"[1, 2]",
    b'{"queue_command": "RUN"}',
    b'{"queue_command": "SUBMIT"}',
    b"\xff\xfe",
])
def test_records_that_are_no_queue_command_are_rejected(record):
    with pytest.raises(ValueError):
        queuefile.parse(record)


def test_a_relative_workdir_is_rejected():
    with pytest.raises(ValueError):
        queuefile.parse(queuefile.encode(submit("rel/dir"))[:-1])


def test_a_bad_transformation_checksum_is_rejected():
    cmd = submit()
    cmd["transformation_checksum"] = "abc"
    with pytest.raises(ValueError):
        queuefile.parse(queuefile.encode(cmd)[:-1])


def test_queue_file_precedence_is_option_then_env_then_cwd(monkeypatch):
    assert queuefile.queue_file() == os.path.join(os.getcwd(), ".seamless-queue")
    monkeypatch.setenv("SEAMLESS_QUEUE_FILE", "/env/q")
    assert queuefile.queue_file() == "/env/q"
    assert queuefile.queue_file("opt/q") == os.path.join(os.getcwd(), "opt/q")


def test_append_record_reports_whether_the_file_existed_and_removes_its_lock():
    assert queuefile.append_record("q", b"a\x00") is False
    assert queuefile.append_record("q", b"b\x00") is True
    assert open("q", "rb").read() == b"a\x00b\x00"
    assert not os.path.exists("q.LOCK")


def test_a_held_lock_makes_the_writer_wait():
    open("q.LOCK", "w").close()
    writer = threading.Thread(target=queuefile.append_record, args=("q", b"x\x00"))
    writer.start()
    time.sleep(0.2)
    assert not os.path.exists("q")
    os.unlink("q.LOCK")
    writer.join(60)
    assert open("q", "rb").read() == b"x\x00"


def test_a_lock_older_than_30_s_is_broken():
    open("q.LOCK", "w").close()
    old = time.time() - 31
    os.utime("q.LOCK", (old, old))
    queuefile.append_record("q", b"x\x00")
    assert open("q", "rb").read() == b"x\x00"


def test_concurrent_submitter_processes_append_whole_records():
    script = (
        "import sys; from seamless_transformer.queue import queuefile\n"
        "for i in range(50): queuefile.append_record('q', queuefile.encode(" 
        "{'queue_command': 'SUBMIT', 'n': sys.argv[1] + str(i), 'pad': 'x' * 5000}))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(p)]) for p in range(4)]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    found = queuefile.RecordBuffer().feed(open("q", "rb").read())
    assert sorted(json.loads(r)["n"] for r in found) == sorted(f"{p}{i}" for p in range(4) for i in range(50))


@pytest.mark.parametrize("targets", [{"/etc/passwd": None}, {"o.txt": "../o.txt"}, {"a/../../b": None}, {"o.txt": ""}])
def test_targets_outside_the_workdir_are_rejected(targets):
    cmd = submit()
    cmd["result_targets"] = targets
    with pytest.raises(ValueError):
        queuefile.parse(queuefile.encode(cmd)[:-1])


def test_empty_records_are_blank():
    assert queuefile.is_blank(b"") and queuefile.is_blank(b"\n")
    assert not queuefile.is_blank(queuefile.EOF_RECORD[:-1])


def test_a_submission_after_eof_is_refused_and_leaves_the_file_as_it_was():
    queuefile.append_record("q", queuefile.encode(submit()))
    queuefile.append_record("q", queuefile.EOF_RECORD)
    before = open("q", "rb").read()
    with pytest.raises(UsageError, match=r"^the queue 'q' is finished \(seamless-queue-finish was run\)"):
        queuefile.append_record("q", queuefile.encode(submit()))
    assert open("q", "rb").read() == before


def test_ends_with_eof_sees_only_a_final_eof_record():
    assert not queuefile.ends_with_eof("q")
    queuefile.append_record("q", queuefile.encode(submit()))
    assert not queuefile.ends_with_eof("q")
    queuefile.append_record("q", queuefile.EOF_RECORD)
    assert queuefile.ends_with_eof("q")


def test_append_eof_without_a_queue_file_is_an_error_and_creates_nothing():
    with pytest.raises(UsageError, match="^there is no queue file 'q': nothing was submitted"):
        queuefile.append_eof("q")
    assert not os.path.exists("q")


def test_append_eof_twice_appends_one_eof_record():
    queuefile.append_record("q", queuefile.encode(submit()))
    queuefile.append_eof("q")
    queuefile.append_eof("q")
    assert open("q", "rb").read().count(b"\x00") == 2


def test_append_eof_removes_a_status_left_by_an_earlier_queue():
    queuefile.write_status("q", 3)
    queuefile.append_record("q", queuefile.encode(submit()))
    queuefile.append_eof("q")
    assert queuefile.read_status("q") is None


def test_a_written_status_is_read_once():
    queuefile.write_status("q", 2)
    assert queuefile.read_status("q") == 2
    assert queuefile.read_status("q") is None


def test_a_record_appended_after_a_crashed_writers_half_record_stays_whole():
    half = queuefile.encode(submit("/a"))[:40]
    with open("q", "wb") as handle:
        handle.write(half)
    queuefile.append_record("q", queuefile.encode(submit("/b")))
    records = queuefile.RecordBuffer().feed(open("q", "rb").read())
    assert records == [half, queuefile.encode(submit("/b"))[:-1]]


def test_a_writer_out_of_file_space_fails_and_the_next_record_stays_whole():
    with open("q", "wb") as handle:
        handle.write(queuefile.encode(submit("/a")))
    limit = os.path.getsize("q") + 100  # the next record passes it: a partial write, then EFBIG
    script = (
        "import resource, signal, sys; from seamless_transformer.queue import queuefile\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "try: queuefile.append_record('q', queuefile.encode({'queue_command': 'SUBMIT', 'pad': 'x' * 5000}))\n"
        "except OSError: sys.exit(3)\n"
    )
    assert subprocess.run([sys.executable, "-c", script]).returncode == 3
    assert not os.path.exists("q.LOCK")
    queuefile.append_record("q", queuefile.encode(submit("/b")))
    records = queuefile.RecordBuffer().feed(open("q", "rb").read())
    assert queuefile.parse(records[0]).workdir == "/a"
    assert queuefile.parse(records[-1]).workdir == "/b"
    assert len(records) == 3
