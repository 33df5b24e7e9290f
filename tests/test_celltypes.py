"""Values to bytes and back per celltype (SPEC §2.2), with the golden values of SPEC §2.8."""

import hashlib
import math
import pathlib
import subprocess
import sys

import numpy
import pytest

from seamless_transformer.celltypes import CELLTYPES, Buffer, deserialize, npy_of_bytes, serialize
from seamless_transformer.checksum import Checksum

DATA = pathlib.Path(__file__).parent / "data"


def sha(buffer: bytes) -> str:
    return hashlib.sha256(buffer).hexdigest()


def assert_abbreviated(hexvalue: str, prefix: str, suffix: str):
    assert len(hexvalue) == 64
    assert hexvalue.startswith(prefix) and hexvalue.endswith(suffix), hexvalue


# --- golden values (SPEC §2.8) -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["hello", "hello\n\n"])
def test_golden_text_hello(value):
    buffer = serialize(value, "text")
    assert buffer == b"hello\n"
    assert sha(buffer) == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def test_golden_str_hello():
    buffer = serialize("hello", "str")
    assert buffer == b'"hello"\n'
    assert sha(buffer) == "11fc90bd25a4139f105bf5c0423c47ba4b1066cd221fabd4e255bd7d0f1b3758"


def test_golden_int_from_string_seven():
    buffer = serialize("7", "int")
    assert buffer == b"7\n"
    assert_abbreviated(sha(buffer), "10159baf", "7c58")


def test_golden_float_three():
    buffer = serialize(3, "float")
    assert buffer == b"3.0\n"
    assert_abbreviated(sha(buffer), "66e4c000", "8b32")


def test_golden_bool_one():
    buffer = serialize(1, "bool")
    assert buffer == b"true\n"
    assert_abbreviated(sha(buffer), "a17fcf0a", "0f74")


def test_golden_plain_none():
    buffer = serialize(None, "plain")
    assert buffer == b"null\n"
    assert_abbreviated(sha(buffer), "38e0b9de", "0bed")


def test_golden_plain_dict_sorted_and_indented():
    buffer = serialize({"b": 1, "a": [1, 2]}, "plain")
    assert buffer == b'{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    assert_abbreviated(sha(buffer), "095ea055", "f1b1")


def test_golden_plain_non_ascii_stays_raw_utf8():
    buffer = serialize("é", "plain")
    assert buffer == '"é"\n'.encode("utf-8")
    assert_abbreviated(sha(buffer), "784656ac", "34e5")


def test_golden_mixed_non_ascii_is_escaped():
    buffer = serialize("é", "mixed")
    assert buffer == b'"\\u00e9"\n'
    assert_abbreviated(sha(buffer), "103097e2", "ab01")


def test_golden_plain_large_float_uses_python_repr():
    buffer = serialize(1e20, "plain")
    assert buffer == b"1e+20\n"
    assert_abbreviated(sha(buffer), "5a9de20c", "c376")


def test_golden_plain_small_float_uses_python_repr_not_orjson():
    buffer = serialize(2.5e-5, "plain")
    assert buffer == b"2.5e-05\n"
    assert_abbreviated(sha(buffer), "0246dc57", "1bc6")
    orjson_style = sha(b"0.000025\n")
    assert_abbreviated(orjson_style, "16754777", "306c")
    assert sha(buffer) != orjson_style


def test_golden_mixed_bytes_is_a_131_byte_npy():
    buffer = serialize(b"abc", "mixed")
    assert len(buffer) == 131
    assert sha(buffer) == "aae202ad3c7756be55afb11486a5b38d141be126abf71aab5455fbde6729b904"
    assert_abbreviated(sha(buffer), "aae202ad", "b904")
    assert buffer == (DATA / "mixed_bytes_abc.npy").read_bytes()


def test_golden_mixed_numpy_arange():
    buffer = serialize(numpy.arange(3, dtype="<i8"), "mixed")
    assert len(buffer) == 152
    assert sha(buffer) == "eed7c944a674e7e9a3f4baf8393c37b9f169123e13a884a08b151a39da2adef5"
    assert buffer == (DATA / "mixed_arange3_i8.npy").read_bytes()


def test_golden_result_42_as_mixed():
    buffer = serialize(42, "mixed")
    assert buffer == b"42\n"
    assert sha(buffer) == "084c799cd551dd1d8d5c5f9a5d593b2e931f5e36122ee5c793c1d08a19839cc0"


# --- text celltypes ----------------------------------------------------------------------------


@pytest.mark.parametrize("celltype", ["text", "python", "ipython", "yaml"])
def test_text_celltypes_strip_trailing_newlines_and_add_one(celltype):
    assert serialize("a = 1\n\n\n", celltype) == b"a = 1\n"


def test_text_decodes_bytes_as_utf8_first():
    assert serialize("é\n".encode("utf-8"), "text") == "é\n".encode("utf-8")


def test_text_of_a_non_string_uses_str():
    assert serialize(12, "text") == b"12\n"


def test_text_deserialize_strips_only_one_newline():
    assert deserialize(b"a\n\n", "text") == "a\n"
    assert deserialize(b"a", "text") == "a"


# --- str, int, float, bool ---------------------------------------------------------------------


def test_str_of_a_number_is_its_json_string():
    assert serialize(5, "str") == b'"5"\n'


def test_int_coerces_floats_by_truncation():
    assert serialize(7.9, "int") == b"7\n"


def test_float_of_a_string_is_parsed():
    assert serialize("2.5", "float") == b"2.5\n"


def test_bool_accepts_true_and_zero():
    assert serialize(True, "bool") == b"true\n"
    assert serialize(0, "bool") == b"false\n"


@pytest.mark.parametrize("value", [2, "1", "true", 1.0, None, [1]], ids=repr)
def test_bool_refuses_anything_but_bool_zero_or_one(value):
    with pytest.raises(TypeError):
        serialize(value, "bool")


def test_scalar_celltypes_deserialize_with_coercion():
    assert deserialize(b'"5"\n', "str") == "5"
    assert deserialize(b"3\n", "float") == 3.0 and isinstance(deserialize(b"3\n", "float"), float)
    assert deserialize(b"7\n", "int") == 7
    assert deserialize(b"true\n", "bool") is True


# --- plain -------------------------------------------------------------------------------------


def test_plain_turns_tuples_into_lists():
    assert serialize({"a": (1, 2)}, "plain") == serialize({"a": [1, 2]}, "plain")


def test_plain_writes_a_checksum_as_its_hex():
    hexvalue = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    assert serialize([Checksum(hexvalue)], "plain") == serialize([hexvalue], "plain")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_plain_replaces_non_finite_floats_by_null(value):
    assert serialize({"x": [value]}, "plain") == b'{\n  "x": [\n    null\n  ]\n}\n'


@pytest.mark.parametrize("value", [{1: "a"}, {"a": {None: 1}}, [{True: 1}]], ids=["int", "nested-None", "bool"])
def test_plain_refuses_non_str_dict_keys(value):
    with pytest.raises(TypeError):
        serialize(value, "plain")


@pytest.mark.parametrize("celltype", ["checksum", "deepcell", "deepfolder", "folder", "module"])
def test_plain_family_celltypes_serialize_as_plain(celltype):
    value = {"z": "é", "a": (1.5, None)}
    assert serialize(value, celltype) == serialize(value, "plain")


def test_plain_deserializes_json():
    assert deserialize(b'{\n  "a": [\n    1\n  ]\n}\n', "plain") == {"a": [1]}


# --- mixed -------------------------------------------------------------------------------------


def test_mixed_json_is_sorted_indented_ascii():
    assert serialize({"b": "é", "a": 1}, "mixed") == b'{\n  "a": 1,\n  "b": "\\u00e9"\n}\n'


def test_mixed_converts_numpy_scalars_with_item():
    assert serialize({"x": numpy.float64(2.5), "n": numpy.int32(3)}, "mixed") == serialize({"x": 2.5, "n": 3}, "mixed")


def test_mixed_array_is_exactly_numpy_save_output():
    import io

    array = numpy.array([[1.5, 2.0], [3.0, -1.0]], dtype=">f4")
    stream = io.BytesIO()
    numpy.save(stream, array, allow_pickle=False)
    assert serialize(array, "mixed") == stream.getvalue()


@pytest.mark.parametrize("data", [b"", b"x", b"abc", b"a\x00b", bytes(range(256)) * 3], ids=["empty", "1", "3", "nul", "768"])
def test_mixed_bytes_npy_is_identical_to_numpy(data):
    import io

    stream = io.BytesIO()
    numpy.save(stream, numpy.array(data), allow_pickle=False)
    assert npy_of_bytes(data) == stream.getvalue()
    assert serialize(data, "mixed") == stream.getvalue()


def test_mixed_npy_header_ends_on_a_64_byte_boundary():
    buffer = npy_of_bytes(b"abc")
    header_end = buffer.index(b"\n") + 1
    assert header_end % 64 == 0
    assert buffer[header_end:] == b"abc"


@pytest.mark.parametrize("value", [{"a": numpy.arange(2)}, [numpy.arange(2)], [{"b": (numpy.zeros(1),)}]])
def test_mixed_containers_with_arrays_are_refused(value):
    with pytest.raises(TypeError, match="mixed containers with arrays are not supported"):
        serialize(value, "mixed")


def test_mixed_npy_deserializes_to_an_array():
    value = deserialize(serialize(numpy.arange(3, dtype="<i8"), "mixed"), "mixed")
    assert isinstance(value, numpy.ndarray) and value.tolist() == [0, 1, 2]


def test_mixed_0d_number_array_deserializes_to_an_array_not_bytes():
    value = deserialize(serialize(numpy.array(7, dtype="<i8"), "mixed"), "mixed")
    assert isinstance(value, numpy.ndarray) and value.shape == () and value.item() == 7


def test_mixed_1d_bytes_array_deserializes_to_the_whole_array():
    value = deserialize(serialize(numpy.array([b"ab", b"cd"]), "mixed"), "mixed")
    assert isinstance(value, numpy.ndarray) and value.tolist() == [b"ab", b"cd"]


def test_mixed_npy_with_an_unparsable_header_raises_valueerror():
    corrupt = npy_of_bytes(b"abc").replace(b"'shape'", b"'shape")
    with pytest.raises(ValueError, match="header"):
        deserialize(corrupt, "mixed")


def test_mixed_bytes_round_trip():
    assert deserialize(serialize(b"abc", "mixed"), "mixed") == b"abc"


def test_mixed_json_round_trip():
    value = {"a": [1, 2.5, None, "é"], "b": {"c": True}}
    assert deserialize(serialize(value, "mixed"), "mixed") == value


def test_mixed_non_json_buffer_deserializes_to_bytes():
    assert deserialize(b"\xff\xfe not json", "mixed") == b"\xff\xfe not json"
    assert deserialize(b"pears\npineapples\n", "mixed") == b"pears\npineapples\n"


# --- bytes, binary -----------------------------------------------------------------------------


def test_bytes_keeps_bytes_as_they_are():
    assert serialize(b"a\nb\n\n", "bytes") == b"a\nb\n\n"


def test_bytes_of_numpy_is_tobytes():
    array = numpy.arange(3, dtype="<i2")
    assert serialize(array, "bytes") == b"\x00\x00\x01\x00\x02\x00"


def test_bytes_of_other_values_is_str_without_trailing_newline():
    assert serialize("hello\n", "bytes") == b"hello"
    assert serialize(42, "bytes") == b"42"


def test_bytes_deserializes_to_raw_bytes():
    assert deserialize(b"[1]\n", "bytes") == b"[1]\n"


def test_bytes_keeps_an_npy_buffer_raw():
    npy = serialize(numpy.arange(3, dtype="<i8"), "mixed")
    assert deserialize(npy, "bytes") == npy


def test_binary_keeps_bytes_as_they_are():
    assert serialize(b"\x00\x01", "binary") == b"\x00\x01"


def test_binary_of_a_list_is_the_npy_of_its_array():
    import io

    stream = io.BytesIO()
    numpy.save(stream, numpy.array([1, 2, 3]), allow_pickle=False)
    assert serialize([1, 2, 3], "binary") == stream.getvalue()



def test_binary_npy_deserializes_to_an_array():
    value = deserialize(serialize([1, 2, 3], "binary"), "binary")
    assert isinstance(value, numpy.ndarray) and value.tolist() == [1, 2, 3]

# --- unknown celltypes -------------------------------------------------------------------------


def test_unknown_celltype_is_refused_by_serialize():
    with pytest.raises(ValueError, match="Unknown celltype"):
        serialize(1, "cson")


def test_unknown_celltype_is_refused_by_deserialize():
    with pytest.raises(ValueError, match="Unknown celltype"):
        deserialize(b"1\n", "jpeg")


def test_celltypes_lists_every_serializable_celltype():
    expected = {"text", "python", "ipython", "yaml", "str", "int", "float", "bool", "plain", "checksum",
                "deepcell", "deepfolder", "folder", "module", "mixed", "bytes", "binary"}  # fmt: skip
    assert CELLTYPES == expected


# --- without numpy (a real interpreter where numpy cannot be imported) -------------------------

_NO_NUMPY = "import sys; sys.modules['numpy'] = None\n"


def _run_without_numpy(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _NO_NUMPY + code], capture_output=True, text=True, timeout=60)


def test_bytes_round_trip_through_mixed_without_numpy():
    code = (
        "from seamless_transformer.celltypes import serialize, deserialize\n"
        "buffer = serialize(b'abc', 'mixed')\n"
        "assert len(buffer) == 131, len(buffer)\n"
        "assert deserialize(buffer, 'mixed') == b'abc'\n"
    )
    result = _run_without_numpy(code)
    assert result.returncode == 0, result.stderr


def test_npy_array_without_numpy_raises_runtimeerror():
    npy = (DATA / "mixed_arange3_i8.npy").read_bytes()
    code = (
        "from seamless_transformer.celltypes import deserialize\n"
        f"try:\n    deserialize({npy!r}, 'mixed')\n"
        "except RuntimeError as exc:\n    assert str(exc).startswith('numpy is required'), exc\n"
        "else:\n    raise SystemExit('no error')\n"
    )
    result = _run_without_numpy(code)
    assert result.returncode == 0, result.stderr


def test_json_values_never_import_numpy():
    code = (
        "import sys\n"
        "from seamless_transformer.celltypes import serialize, deserialize\n"
        "for celltype in ('mixed', 'plain', 'text', 'bytes', 'int'):\n"
        "    deserialize(serialize(5, celltype), celltype)\n"
        "deserialize(b'not json', 'mixed')\n"
        "print('numpy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# --- Buffer ------------------------------------------------------------------------------------


def test_buffer_of_bytes_keeps_them_raw():
    buffer = Buffer(b"hello\n")
    assert buffer.content == b"hello\n"
    assert buffer.checksum == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def test_buffer_of_a_value_serializes_it_with_its_celltype():
    assert Buffer("hello", "str").content == b'"hello"\n'


def test_buffer_of_a_non_bytes_value_without_celltype_is_mixed():
    assert Buffer(42).content == b"42\n"


def test_buffer_checksum_is_a_checksum():
    assert isinstance(Buffer(b"x").checksum, Checksum)


def test_buffer_length_is_content_length():
    assert len(Buffer(b"abc", "mixed")) == 131


def test_buffers_compare_by_content():
    assert Buffer(b"7\n") == Buffer(7, "int")
    assert Buffer(b"7\n") != Buffer(b"8\n")
    assert len({Buffer(b"7\n"), Buffer(7, "mixed")}) == 1


def test_buffer_deserializes_with_a_celltype():
    assert Buffer(b'{"a": 1}\n').deserialize("plain") == {"a": 1}
