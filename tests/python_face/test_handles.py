"""seamless.Checksum / seamless.Buffer: the storage-bound methods (resolve, incref, save/load, …)."""

import os
import pickle

import pytest

from seamless import Buffer, CacheMissError, Checksum
from seamless_transformer.store.storage import get_storage

HELLO = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def _buffer_file(checksum_hex):
    return os.path.expanduser(f"~/.cache/seamless/__TOPLEVEL__/{checksum_hex[:2]}/{checksum_hex}")


def test_buffer_incref_writes_the_buffer_into_the_cache_directory():
    buffer = Buffer(b"hello\n")
    buffer.incref()
    with open(_buffer_file(HELLO), "rb") as f:
        assert f.read() == b"hello\n"


def test_checksum_resolve_gives_the_buffer_and_with_a_celltype_the_value():
    Buffer(b"hello\n").incref()
    assert Checksum(HELLO).resolve() == Buffer(b"hello\n")
    assert Checksum(HELLO).resolve("text") == "hello"


def test_resolving_an_unknown_checksum_raises_cache_miss_error():
    with pytest.raises(CacheMissError, match="0" * 64):
        Checksum("0" * 64).resolve()


def test_incref_of_an_unknown_checksum_raises_cache_miss_error():
    with pytest.raises(CacheMissError):
        Checksum("1" * 64).incref()


def test_checksum_incref_writes_a_buffer_known_only_in_memory():
    storage = get_storage()
    storage._memory.put(HELLO, b"hello\n")
    assert not os.path.exists(_buffer_file(HELLO))
    Checksum(HELLO).incref()
    assert os.path.exists(_buffer_file(HELLO))


def test_decref_and_tempref_keep_the_buffer():
    Buffer(b"hello\n").incref()
    Checksum(HELLO).decref()
    Checksum(HELLO).tempref()
    assert os.path.exists(_buffer_file(HELLO))


def test_find_gives_the_file_of_a_stored_buffer_and_none_otherwise():
    Buffer(b"hello\n").incref()
    assert Checksum(HELLO).find() == [_buffer_file(HELLO)]
    assert Checksum("2" * 64).find() is None


def test_checksum_save_and_load_round_trip_through_a_checksum_file():
    Checksum(HELLO).save("x.txt")
    with open("x.txt.CHECKSUM") as f:
        assert f.read() == HELLO + "\n"
    assert Checksum.load("x.txt") == HELLO
    assert isinstance(Checksum.load("x.txt.CHECKSUM"), Checksum)


def test_loading_a_file_without_a_checksum_raises_value_error():
    with open("bad.CHECKSUM", "w") as f:
        f.write("not a checksum\n")
    with pytest.raises(ValueError, match="bad.CHECKSUM: does not hold a checksum"):
        Checksum.load("bad")


def test_checksum_bytes_are_the_32_raw_bytes():
    assert Checksum(HELLO).bytes() == bytes.fromhex(HELLO)


def test_a_pickled_checksum_keeps_its_type():
    assert type(pickle.loads(pickle.dumps(Checksum(HELLO)))) is Checksum


def test_buffer_of_a_value_has_the_celltype_checksum_and_gives_the_value_back():
    buffer = Buffer(42, "mixed")
    assert isinstance(buffer.checksum, Checksum)
    assert buffer.get_checksum().hex() == "084c799cd551dd1d8d5c5f9a5d593b2e931f5e36122ee5c793c1d08a19839cc0"
    assert buffer.get_value("mixed") == 42
    assert buffer.decode() == "42\n"


def test_buffer_save_and_load_round_trip():
    Buffer(b"abc").save("b.bin")
    assert Buffer.load("b.bin") == b"abc"
