"""The Checksum type (SPEC §2.1)."""

import hashlib
import pickle

import pytest

from seamless_transformer.checksum import (
    TRIVIAL_BUFFERS,
    TRIVIAL_CHECKSUMS,
    Checksum,
    checksum_of,
    hash_file,
    is_hex_checksum,
    split_compression,
)

HELLO = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def test_checksum_is_sha256_of_the_buffer():
    assert Checksum.of(b"hello\n").hex() == HELLO
    assert checksum_of(b"hello\n") == hashlib.sha256(b"hello\n").hexdigest()


def test_accepts_lowercase_hex_string():
    assert Checksum(HELLO).hex() == HELLO


def test_uppercase_hex_is_normalized_to_lowercase():
    assert Checksum(HELLO.upper()).hex() == HELLO


def test_accepts_32_raw_bytes():
    assert Checksum(bytes.fromhex(HELLO)).hex() == HELLO


def test_accepts_another_checksum():
    assert Checksum(Checksum(HELLO)).hex() == HELLO


@pytest.mark.parametrize(
    "bad",
    [HELLO[:-1], HELLO + "0", "g" * 64, "", b"x" * 31, b"x" * 33, 12345, None, 1.5, [HELLO]],
    ids=["63-hex", "65-hex", "non-hex", "empty", "31-bytes", "33-bytes", "int", "None", "float", "list"],
)
def test_refuses_anything_else_with_valueerror(bad):
    with pytest.raises(ValueError):
        Checksum(bad)


def test_str_and_hex_are_the_hex_string():
    cs = Checksum(HELLO)
    assert str(cs) == HELLO
    assert cs.hex() == HELLO


def test_equals_its_hex_string_in_either_case():
    cs = Checksum(HELLO)
    assert cs == HELLO
    assert cs == HELLO.upper()
    assert cs != "0" * 64


def test_equals_an_equal_checksum_and_its_digest():
    assert Checksum(HELLO) == Checksum(HELLO.upper())
    assert Checksum(HELLO) == bytes.fromhex(HELLO)
    assert Checksum(HELLO) != Checksum("0" * 64)


def test_is_usable_as_a_dict_key():
    assert {Checksum(HELLO): 1}[Checksum(HELLO.upper())] == 1
    assert len({Checksum(HELLO), Checksum(HELLO)}) == 1


def test_survives_pickling():
    cs = Checksum(HELLO)
    again = pickle.loads(pickle.dumps(cs))
    assert again == cs and isinstance(again, Checksum)


def test_is_immutable():
    cs = Checksum(HELLO)
    with pytest.raises(AttributeError):
        cs._hex = "0" * 64


def test_digest_is_the_raw_32_bytes():
    assert Checksum(HELLO).digest() == bytes.fromhex(HELLO)


def test_is_hex_checksum_recognizes_only_64_hex_strings():
    assert is_hex_checksum(HELLO)
    assert not is_hex_checksum(HELLO[:-1])
    assert not is_hex_checksum(bytes.fromhex(HELLO))


@pytest.mark.parametrize(
    "buffer, prefix, suffix",
    [
        (b"", "e3b0c442", "b855"),
        (b"{}", "44136fa3", "ff8a"),
        (b"{}\n", "ca3d163b", "2356"),
        (b"[]", "4f53cda1", "b945"),
        (b"[]\n", "37517e5f", "b570"),
    ],
)
def test_trivial_buffers_have_the_spec_checksums(buffer, prefix, suffix):
    hexvalue = checksum_of(buffer).hex()
    assert hexvalue.startswith(prefix) and hexvalue.endswith(suffix)
    assert TRIVIAL_CHECKSUMS[hexvalue] == buffer


def test_exactly_five_trivial_buffers():
    assert set(TRIVIAL_BUFFERS) == {b"", b"{}", b"{}\n", b"[]", b"[]\n"}
    assert len(TRIVIAL_CHECKSUMS) == 5


LOW, HIGH = Checksum("1" * 64), Checksum("e" * 64)


@pytest.mark.parametrize("a, b", [(LOW, HIGH), (HIGH, LOW)])
def test_differs_from_another_checksum_its_hex_and_its_digest_either_way(a, b):
    assert a != b
    assert a != b.hex() and a != b.hex().upper()
    assert a != b.digest() and a != bytearray(b.digest())


@pytest.mark.parametrize("other", [bytes(31), bytes(33), b"1" * 64])
def test_bytes_of_another_length_are_never_equal(other):
    assert Checksum(bytes(32)) != other
    assert Checksum("0" * 64) != other


def test_a_sequence_of_32_ints_is_not_a_digest():
    assert Checksum(bytes(32)) != [0] * 32


def test_value_is_a_property_giving_the_hex():
    assert Checksum(HELLO.upper()).value == HELLO


def test_hash_file_is_the_checksum_of_the_whole_file_over_several_chunks(tmp_path):
    data = bytes(range(256)) * (5 << 12)  # 5 MiB: five 1 MiB chunks
    (tmp_path / "big").write_bytes(data)
    assert hash_file(tmp_path / "big") == Checksum.of(data)


@pytest.mark.parametrize(
    "name, parts",
    [("a.npy.zst", ("a.npy", ".zst")), ("x.txt.gz", ("x.txt", ".gz")), ("x.txt", ("x.txt", "")),
     (".gz", (".gz", ""))],
)
def test_split_compression_takes_off_a_compression_suffix_unless_the_name_is_nothing_else(name, parts):
    assert split_compression(name) == parts
