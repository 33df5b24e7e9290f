"""The stat memo: a real SQLite file under the (per-test) cache home."""

import os
import sqlite3

import pytest

from seamless_transformer.store import statcache

HEX_A = "a" * 64
HEX_B = "b" * 64


def _write(path, data=b"content\n"):
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def _rows(db_path):
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT path, checksum FROM statcache ORDER BY path").fetchall()


def test_memo_answers_while_stat_is_unchanged(tmp_path):
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    assert statcache.get_cached_checksum(path, os.stat(path)) == HEX_A


def test_memo_answers_in_another_thread_than_the_one_that_wrote_it(tmp_path):
    import threading

    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    found = []
    reader = threading.Thread(target=lambda: found.append(statcache.get_cached_checksum(path, os.stat(path))))
    reader.start()
    reader.join(60)
    assert found == [HEX_A]


def test_reset_closes_the_connection_of_this_process(tmp_path):
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    with statcache._lock:
        conn = statcache._connect()
    statcache._reset()
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")


def test_memo_misses_after_the_file_changes(tmp_path):
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    _write(path, b"other content, other size\n")
    assert statcache.get_cached_checksum(path, os.stat(path)) is None


def test_memo_misses_after_touch(tmp_path):
    path = _write(tmp_path / "f")
    st = os.stat(path)
    statcache.put_cached_checksum(path, st, HEX_A)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert statcache.get_cached_checksum(path, os.stat(path)) is None


def test_unknown_file_is_a_miss(tmp_path):
    path = _write(tmp_path / "f")
    assert statcache.get_cached_checksum(path, os.stat(path)) is None


def test_database_lives_under_home_cache_by_default(tmp_path):
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    db = os.path.join(os.environ["HOME"], ".cache", "seamless", "statcache.sqlite")
    assert _rows(db) == [(os.path.abspath(path), HEX_A)]


def test_xdg_cache_home_is_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    assert _rows(str(tmp_path / "xdg" / "seamless" / "statcache.sqlite")) == [
        (os.path.abspath(path), HEX_A)
    ]


def test_database_uses_wal_journal(tmp_path):
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    with sqlite3.connect(statcache.statcache_path()) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unusable_cache_location_is_silent(tmp_path, monkeypatch):
    blocker = _write(tmp_path / "not-a-dir")
    monkeypatch.setenv("XDG_CACHE_HOME", blocker)
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    assert statcache.get_cached_checksum(path, os.stat(path)) is None


def test_corrupt_database_is_silent(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    os.makedirs(tmp_path / "xdg" / "seamless")
    _write(tmp_path / "xdg" / "seamless" / "statcache.sqlite", b"this is not sqlite" * 100)
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    assert statcache.get_cached_checksum(path, os.stat(path)) is None


def test_rows_are_per_path_so_hard_links_stay_apart(tmp_path):
    path = _write(tmp_path / "x")
    link = str(tmp_path / "x.gz")
    os.link(path, link)
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    assert statcache.get_cached_checksum(link, os.stat(link)) is None


def test_a_new_checksum_replaces_the_row_of_its_path(tmp_path):
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    _write(path, b"changed and longer\n")
    statcache.put_cached_checksum(path, os.stat(path), HEX_B)
    assert _rows(statcache.statcache_path()) == [(os.path.abspath(path), HEX_B)]


def test_batch_put_and_get_of_many_files(tmp_path):
    items = []
    for i in range(1500):
        path = _write(tmp_path / f"f{i}", b"%d\n" % i)
        items.append((path, os.stat(path), f"{i:064x}"))
    statcache.put_cached_checksums(items)
    found = statcache.get_cached_checksums([(p, st) for p, st, _ in items])
    assert found == {p: cs for p, _st, cs in items}


def test_inode_numbers_above_two_to_the_63_are_stored(tmp_path):
    path = str(tmp_path / "f")
    fields = [0o100644, 2**63 + 5, 2**64 - 1, 1, 0, 0, 10, 1, 2, 3]
    st = os.stat_result(fields + [1.0, 2.0, 3.0, 10**9, 2 * 10**9, 3 * 10**9])
    statcache.put_cached_checksum(path, st, HEX_A)
    assert statcache.get_cached_checksum(path, st) == HEX_A


def test_memo_works_in_a_forked_child(tmp_path):
    path = _write(tmp_path / "f")
    statcache.put_cached_checksum(path, os.stat(path), HEX_A)
    child_path = _write(tmp_path / "g")
    pid = os.fork()
    if pid == 0:  # child: the inherited connection must not be reused
        statcache.put_cached_checksum(child_path, os.stat(child_path), HEX_B)
        ok = statcache.get_cached_checksum(path, os.stat(path)) == HEX_A
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert statcache.get_cached_checksum(child_path, os.stat(child_path)) == HEX_B


def _stat_with(st: os.stat_result, **changes) -> os.stat_result:
    fields = {"st_dev": 2, "st_ino": 1, "st_size": 6}  # indexes in the stat tuple
    values = list(st)
    for name, delta in changes.items():
        if name in fields:
            values[fields[name]] += delta
    extra = [st.st_atime, st.st_mtime, st.st_ctime, st.st_atime_ns,
             st.st_mtime_ns + changes.get("st_mtime_ns", 0), st.st_ctime_ns + changes.get("st_ctime_ns", 0)]
    return os.stat_result(values + extra)


@pytest.mark.parametrize("field", ["st_dev", "st_ino", "st_size", "st_mtime_ns", "st_ctime_ns"])
def test_each_part_of_the_stat_key_alone_makes_a_miss(tmp_path, field):
    path = _write(tmp_path / "f")
    st = os.stat(path)
    statcache.put_cached_checksum(path, st, HEX_A)
    assert statcache.get_cached_checksum(path, _stat_with(st, **{field: 1})) is None
    assert statcache.get_cached_checksum(path, _stat_with(st)) == HEX_A
