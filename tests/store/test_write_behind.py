"""Write-behind (store/behind.py): the Python API's writes are queued, then flushed in order."""

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from seamless_transformer import delayed, engine
from seamless_transformer.checksum import Checksum
from seamless_transformer.engine.backend import Backend
from seamless_transformer.store import behind
from seamless_transformer.store.storage import get_storage


def _cache():
    return os.path.dirname(get_storage().settings.database_paths[0])


def _buffer_file(cache, cs) -> str:
    cs = Checksum(cs).hex()
    return os.path.join(cache, cs[:2], cs)


def _rows(cache, table="transformation") -> list:
    path = os.path.join(cache, "seamless.db")
    if not os.path.exists(path):
        return []
    con = sqlite3.connect(path, timeout=30)
    try:
        return con.execute(f'SELECT "checksum", "result" FROM "{table}"').fetchall()
    except sqlite3.OperationalError as exc:  # the writer is creating the file
        assert "no such table" in str(exc)
        return []
    finally:
        con.close()


def double(x):
    return 2 * x


@pytest.fixture
def no_timed_flush(monkeypatch):
    """Only an explicit flush (or a full queue, or exit) writes: what is asserted cannot be the timer's work."""
    monkeypatch.setattr(behind, "FLUSH_SECONDS", 3600.0)


def test_a_result_is_served_from_memory_until_flush_writes_it_and_its_buffers(no_timed_flush):
    tf = delayed(double)(21)
    assert tf.run() == 42
    tf_checksum = tf._tf
    result = get_storage().get_result(tf_checksum)
    assert _rows(_cache()) == []  # queued, not yet written
    engine.flush()
    assert _rows(_cache()) == [(tf_checksum.hex(), result.hex())]
    assert [row[0] for row in _rows(_cache(), "meta_data")] == [tf_checksum.hex()]
    for cs in (tf_checksum, result):
        with open(_buffer_file(_cache(), cs), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == cs.hex()


def test_a_checksum_handed_out_by_construct_is_already_written(no_timed_flush):
    tf_checksum = delayed(double)(5).construct()
    assert os.path.exists(_buffer_file(_cache(), tf_checksum))


def test_a_checksum_handed_out_by_compute_is_already_cached_on_disk(no_timed_flush):
    result = delayed(double)(6).compute()
    assert [row[1] for row in _rows(_cache())] == [result.hex()]
    assert os.path.exists(_buffer_file(_cache(), result))


class _OtherProcess(Backend):
    """A backend that stands for another process: it reads the transformation from the disk."""

    def __init__(self):
        self.seen = []

    def submit(self, job, done):
        self.seen.append(os.path.exists(_buffer_file(_cache(), job.tf)))
        from seamless_transformer.engine import _IN_PROCESS

        done(_IN_PROCESS.run(job), None)

    def cancel(self, job):
        pass

    def close(self, wait=True):
        pass


def test_what_is_queued_is_written_before_a_job_goes_to_another_backend(no_timed_flush):
    other = _OtherProcess()
    engine.set_backend(other)
    try:
        assert delayed(double)(7).run() == 14
    finally:
        engine.set_backend(None)
    assert other.seen == [True]


def test_the_queue_is_written_at_interpreter_exit(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent('''
        from seamless_transformer import delayed
        from seamless_transformer.store import behind
        behind.FLUSH_SECONDS = 3600.0

        @delayed
        def triple(x):
            return 3 * x

        print([triple(x).run() for x in range(5)])
    '''))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "[0, 3, 6, 9, 12]\n", "")
    assert len(_rows(_cache())) == 5
    assert len(_rows(_cache(), "meta_data")) == 5


KILLED = '''
import sys
import time
from seamless_transformer import delayed
from seamless_transformer.store import behind, files
behind.FLUSH_SECONDS, behind.MAX_ITEMS = 0.01, 7  # flush often: the kill lands in or between flushes
put_verified = files.BufferDir.put_verified

def slow_put_verified(self, data, cs):  # a slow disk: most kills land while a flush writes buffers
    time.sleep(0.005)
    return put_verified(self, data, cs)

files.BufferDir.put_verified = slow_put_verified

@delayed
def shifted(x, k):
    return x + k

k = int(sys.argv[1])
print("started", flush=True)
for x in range(100000):
    shifted(x, k).run()
'''


def _assert_consistent(cache) -> int:
    """Every result row's buffer is a file with the right content; every record has its result row."""
    rows = _rows(cache)
    for tf, res in rows:
        with open(_buffer_file(cache, res), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == res
        assert os.path.exists(_buffer_file(cache, tf))
    results = dict(rows)
    for tf, res in _rows(cache, "meta_data"):
        assert results.get(tf) == res
    return len(rows)


def test_kill_9_at_random_moments_leaves_no_result_row_without_its_buffers(tmp_path):
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    rng = random.Random(16)
    for k in range(4):
        proc = subprocess.Popen([sys.executable, str(script), str(k)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "started\n"
        deadline = time.monotonic() + 60
        while len(_rows(_cache())) <= 20 * k and time.monotonic() < deadline:  # it has flushed meanwhile
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert _assert_consistent(_cache()) > 20 * k


def _flusher_threads() -> int:
    import threading

    return sum(t.name == "seamless-write-behind" for t in threading.enumerate())


def test_an_idle_queue_keeps_no_flusher_thread_so_replaced_storages_leak_none(monkeypatch):
    monkeypatch.setattr(behind, "FLUSH_SECONDS", 0.01)
    written = []
    before = _flusher_threads()
    for n in range(20):  # twenty storages, as a long-lived process that replaces its storage makes
        queue = behind.WriteBehind(lambda *batch: written.append(batch))
        queue.put_result(f"{n:064x}", "ab" * 32)
    deadline = time.monotonic() + 30
    while len(written) < 20 or _flusher_threads() > before:
        assert time.monotonic() < deadline, f"{_flusher_threads() - before} flusher threads left"
        time.sleep(0.02)


FILE_SIZE_LIMIT = '''
import resource
import signal
import sqlite3
from seamless_transformer.checksum import Checksum
from seamless_transformer.store import behind
from seamless_transformer.store.storage import get_storage

behind.FLUSH_SECONDS = 3600.0
storage = get_storage()
small, big = storage.put_buffer(b"small\\n", defer=True), storage.put_buffer(b"x" * 300_000, defer=True)
storage.put_result(Checksum.of(b"tf-small"), small, defer=True)
storage.put_result(Checksum.of(b"tf-big"), big, defer=True)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
storage.flush()
'''


def test_a_result_whose_buffer_cannot_be_written_gets_no_row_the_others_do(tmp_path):
    script = tmp_path / "full.py"
    script.write_text(FILE_SIZE_LIMIT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    small, big = Checksum.of(b"small\n").hex(), Checksum.of(b"x" * 300_000).hex()
    assert _rows(_cache()) == [(Checksum.of(b"tf-small").hex(), small)]
    assert os.path.exists(_buffer_file(_cache(), small)) and not os.path.exists(_buffer_file(_cache(), big))
