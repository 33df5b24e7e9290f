"""Storage: memory in front of buffer dirs and result databases, built from the settings (SPEC §3.1, §3.6)."""

import logging
import os
import sqlite3

import pytest

from seamless_transformer import config
from seamless_transformer.checksum import Checksum
from seamless_transformer.errors import CacheMissError, ChecksumMismatchError
from seamless_transformer.store import storage as storage_mod
from seamless_transformer.store.storage import MEMORY_ITEM_LIMIT, get_storage

HELLO = b"hello\n"
HELLO_CS = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
TF = "706b247d" + "1" * 56


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def cluster_yaml(bufdir, dbdir):
    return (f"- cluster: c\n- clusters:\n    c:\n      type: local\n      frontends:\n"
            f"        - hashserver: {{bufferdir: {bufdir}}}\n          database: {{database_dir: {dbdir}}}\n")


def test_zero_config_store_is_created_on_first_write():
    storage = get_storage()
    root = os.path.join(os.environ["HOME"], ".cache", "seamless", "__TOPLEVEL__")
    assert not os.path.exists(root)
    storage.put_buffer(HELLO)
    storage.put_result(TF, HELLO_CS)
    assert files_under(root)[:2] == [".HASHSERVER_PREFIX", f"58/{HELLO_CS}"]
    conn = sqlite3.connect(os.path.join(root, "seamless.db"))
    assert conn.execute("SELECT checksum, result FROM transformation").fetchall() == [(TF, HELLO_CS)]


def test_buffers_and_results_round_trip():
    storage = get_storage()
    cs = storage.put_buffer(HELLO)
    storage.put_result(TF, cs)
    assert storage.get_buffer(cs) == HELLO and storage.has_buffer(cs)
    assert storage.get_result(TF) == Checksum(HELLO_CS)
    assert storage.get_rev_transformations(cs) == [TF]


def test_missing_buffer_raises_cache_miss_with_the_checksum():
    with pytest.raises(CacheMissError) as info:
        get_storage().get_buffer("ab" * 32)
    assert str(info.value) == f"buffer {'ab' * 32} not available"


def test_a_stored_buffer_beyond_the_memory_is_valid():
    storage = get_storage()
    cs = storage.put_buffer(os.urandom(MEMORY_ITEM_LIMIT))
    assert storage.has_valid_buffer(cs)


def test_a_trivial_buffer_is_valid_without_storage():
    assert get_storage().has_valid_buffer(Checksum.of(b""))


def test_an_absent_buffer_without_servers_is_not_valid():
    assert not get_storage().has_valid_buffer("ab" * 32)


def test_an_absent_buffer_is_not_valid_without_persistence(isolated_env):
    (isolated_env / "seamless.yaml").write_text("- persistent: false\n")
    assert not get_storage().has_valid_buffer("ab" * 32)


def test_leaf_parents_are_remembered_in_the_database():
    storage = get_storage()
    storage.put_leaves(TF, [HELLO_CS])
    assert storage.get_leaf_parents(HELLO_CS) == [TF]


def test_trivial_buffers_need_no_storage():
    storage = get_storage()
    assert storage.get_buffer(Checksum.of(b"{}\n")) == b"{}\n"
    assert storage.has_buffer(Checksum.of(b""))


def test_put_buffer_with_a_wrong_checksum_is_refused():
    with pytest.raises(ChecksumMismatchError):
        get_storage().put_buffer(HELLO, "0" * 64)


def test_two_seamless_cache_values_share_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "a"))
    storage = get_storage()
    storage.put_buffer(HELLO)
    storage.put_result(TF, HELLO_CS)
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "b"))
    other = get_storage()
    assert not other.has_buffer(HELLO_CS)
    assert other.get_result(TF) is None
    assert files_under(tmp_path / "a" / "__TOPLEVEL__")[:2] == [".HASHSERVER_PREFIX", f"58/{HELLO_CS}"]
    assert not (tmp_path / "b").exists()


def test_persistent_false_writes_nothing_to_disk(isolated_env, tmp_path):
    (isolated_env / "seamless.yaml").write_text("- persistent: false\n")
    before = files_under(tmp_path)
    storage = get_storage()
    cs = storage.put_buffer(os.urandom(3 * MEMORY_ITEM_LIMIT))
    storage.put_result(TF, cs)
    storage.put_record(TF, cs, {"schema_version": 1})
    assert storage.get_result(TF) == cs and len(storage.get_buffer(cs)) == 3 * MEMORY_ITEM_LIMIT
    assert storage.get_record(TF) == {"schema_version": 1}
    assert files_under(tmp_path) == before


def test_persistent_false_ignores_results_on_disk(isolated_env):
    get_storage().put_result(TF, HELLO_CS)
    (isolated_env / "seamless.yaml").write_text("- persistent: false\n")
    config._reset()
    assert get_storage().get_result(TF) is None


def test_select_record_keeps_the_memory_store(isolated_env):
    (isolated_env / "seamless.yaml").write_text("- persistent: false\n")
    cs = get_storage().put_buffer(b"kept")
    config.select_record(True)
    assert get_storage().get_buffer(cs) == b"kept"


def test_small_buffers_are_served_from_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "c"))
    storage = get_storage()
    storage.put_buffer(HELLO)
    os.unlink(tmp_path / "c" / "__TOPLEVEL__" / "58" / HELLO_CS)
    assert storage.get_buffer(HELLO_CS) == HELLO


def test_a_buffer_just_below_1_mib_is_served_from_memory():
    storage = get_storage()
    data = os.urandom((1 << 20) - 1)
    cs = storage.put_buffer(data)
    os.unlink(storage.buffer_path(cs))
    assert storage.get_buffer(cs) == data


def test_big_buffers_are_not_kept_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "c"))
    storage = get_storage()
    cs = storage.put_buffer(os.urandom(MEMORY_ITEM_LIMIT))
    os.unlink(storage.buffer_path(cs))
    with pytest.raises(CacheMissError):
        storage.get_buffer(cs)


def test_writes_go_to_every_store_in_order(isolated_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "y"))
    (isolated_env / "seamless.yaml").write_text(cluster_yaml(tmp_path / "b", tmp_path / "d"))
    storage = get_storage()
    storage.put_buffer(HELLO)
    storage.put_result(TF, HELLO_CS)
    for bufroot in (tmp_path / "y" / "__TOPLEVEL__", tmp_path / "b" / "__TOPLEVEL__"):
        assert (bufroot / "58" / HELLO_CS).read_bytes() == HELLO
    for db in (tmp_path / "y" / "__TOPLEVEL__" / "seamless.db", tmp_path / "d" / "__TOPLEVEL__" / "seamless.db"):
        assert sqlite3.connect(db).execute("SELECT result FROM transformation").fetchall() == [(HELLO_CS,)]
    assert storage.buffer_path(HELLO_CS) == str(tmp_path / "y" / "__TOPLEVEL__" / "58" / HELLO_CS)


def test_a_store_that_cannot_be_written_is_skipped_with_a_warning(isolated_env, tmp_path, monkeypatch, caplog):
    (tmp_path / "notadir").write_text("a regular file where a directory should be")
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "notadir"))
    (isolated_env / "seamless.yaml").write_text(cluster_yaml(tmp_path / "b", tmp_path / "d"))
    storage = get_storage()
    with caplog.at_level(logging.WARNING):
        storage.put_buffer(HELLO)
        storage.put_result(TF, HELLO_CS)
    assert "not written" in caplog.text
    assert (tmp_path / "b" / "__TOPLEVEL__" / "58" / HELLO_CS).exists()
    assert storage.get_result(TF) == Checksum(HELLO_CS)


def test_put_file_stores_a_big_file(tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * MEMORY_ITEM_LIMIT))
    storage = get_storage()
    cs = storage.put_file(src)
    assert cs == Checksum.of(src.read_bytes())
    assert open(storage.buffer_path(cs), "rb").read() == src.read_bytes()


def test_put_file_without_persistence_keeps_the_content_in_memory(isolated_env, tmp_path):
    (isolated_env / "seamless.yaml").write_text("- persistent: false\n")
    src = tmp_path / "small.txt"
    src.write_bytes(HELLO)
    storage = get_storage()
    assert storage.put_file(src) == Checksum(HELLO_CS)
    src.unlink()
    assert storage.get_buffer(HELLO_CS) == HELLO


def test_the_memory_drops_its_least_recently_used_buffer_first(monkeypatch):
    monkeypatch.setattr(storage_mod, "MEMORY_TOTAL_LIMIT", 2500)  # room for two 1000-byte buffers
    storage = get_storage()
    first, second = storage.put_buffer(b"1" * 1000), storage.put_buffer(b"2" * 1000)
    storage.get_buffer(first)  # now the second is the least recently used
    third = storage.put_buffer(b"3" * 1000)
    for cs in (first, second, third):
        os.unlink(storage.buffer_path(cs))
    assert storage.get_buffer(first) == b"1" * 1000 and storage.get_buffer(third) == b"3" * 1000
    with pytest.raises(CacheMissError):
        storage.get_buffer(second)


def test_records_and_irreproducible_results(tmp_path):
    storage = get_storage()
    storage.put_record(TF, HELLO_CS, {"schema_version": 1})
    assert storage.get_record(TF) == {"schema_version": 1}
    assert storage.get_result(TF) == Checksum(HELLO_CS)
    assert storage.declare_irreproducible(TF, HELLO_CS) is True
    assert storage.get_result(TF) is None


def test_storage_is_rebuilt_when_the_store_location_changes(tmp_path, monkeypatch):
    first = get_storage()
    assert get_storage() is first
    monkeypatch.setenv("SEAMLESS_CACHE", str(tmp_path / "z"))
    assert get_storage() is not first


def test_storage_works_in_a_forked_child(tmp_path):
    storage = get_storage()
    storage.put_result(TF, HELLO_CS)
    pid = os.fork()
    if pid == 0:
        try:
            child = get_storage()
            child.put_buffer(HELLO)
            os._exit(0 if child.get_result(TF) == HELLO_CS else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert get_storage().get_buffer(HELLO_CS) == HELLO
