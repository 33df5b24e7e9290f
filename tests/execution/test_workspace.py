"""Pins materialized into a bash workspace, and RESULT read back (SPEC §4.7)."""

import gzip
import io
import itertools
import json
import os
import stat
import time

import pytest

from seamless_transformer.celltypes import serialize
from seamless_transformer.checksum import Checksum
from seamless_transformer.errors import CacheMissError, TransformationError, UsageError
from seamless_transformer.execution.workspace import (
    collect_result,
    executable_pins,
    materialize_pins,
)


@pytest.fixture
def ws(tmp_path):
    path = tmp_path / "ws"
    path.mkdir()
    return path


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ------------------------------------------------------------ file pins


def test_file_pin_is_a_regular_0644_file_not_a_link_into_the_store(bash_tf, storage, ws):
    tf = bash_tf("cat data/a.txt", files={"data/a.txt": b"apples\n"})
    materialize_pins(tf, storage, str(ws))
    pin = ws / "data" / "a.txt"
    assert not pin.is_symlink()
    assert pin.read_bytes() == b"apples\n"
    assert _mode(pin) == 0o644


def test_file_pin_is_a_file_of_its_own_not_a_hard_link_to_the_buffer(bash_tf, storage, ws):
    tf = bash_tf("cat a.txt", files={"a.txt": b"apples\n"})
    materialize_pins(tf, storage, str(ws))
    buffer_file = storage.buffer_path(Checksum.of(b"apples\n"))
    assert os.stat(ws / "a.txt").st_ino != os.stat(buffer_file).st_ino
    assert os.stat(ws / "a.txt").st_nlink == 1


def test_writing_to_a_file_pin_leaves_the_stored_buffer_intact(bash_tf, storage, ws):
    tf = bash_tf("cat a.txt", files={"a.txt": b"b\na\n"})
    materialize_pins(tf, storage, str(ws))
    (ws / "a.txt").write_bytes(b"")  # what `sort a.txt > a.txt` does; root passes any mode bits
    buffer_file = storage.buffer_path(Checksum.of(b"b\na\n"))
    with open(buffer_file, "rb") as f:
        assert f.read() == b"b\na\n"


def test_file_pin_without_a_local_buffer_file_is_a_real_file(bash_tf, storage, ws):
    tf = bash_tf("cat a.txt", files={"a.txt": b"apples\n"})
    buffer_file = storage.buffer_path(Checksum.of(b"apples\n"))
    os.chmod(os.path.dirname(buffer_file), 0o755)
    os.unlink(buffer_file)  # the buffer is now only in memory
    materialize_pins(tf, storage, str(ws))
    pin = ws / "a.txt"
    assert not pin.is_symlink()
    assert pin.read_bytes() == b"apples\n"
    assert _mode(pin) == 0o644


def test_executable_pin_is_a_real_0755_file(bash_tf, storage, ws):
    tf = bash_tf("chmod +x 'run.sh'\nrun.sh", files={"run.sh": b"#!/bin/bash\necho hi\n"})
    materialize_pins(tf, storage, str(ws), executables={"run.sh"})
    pin = ws / "run.sh"
    assert not pin.is_symlink()
    assert _mode(pin) == 0o755


def test_executable_pins_are_read_from_chmod_lines():
    code = "export PATH=./:$PATH\nchmod +x 'my script.sh' 'tools/x'\n(\nmy\\ script.sh\n) > RESULT\n"
    names = ["my script.sh", "tools/x", "data.txt"]
    assert executable_pins(code, names) == {"my script.sh", "tools/x"}


def test_gz_pin_materializes_compressed(bash_tf, storage, ws):
    tf = bash_tf("zcat x.txt.gz", files={"x.txt.gz": b"hello\n"})
    materialize_pins(tf, storage, str(ws))
    assert gzip.decompress((ws / "x.txt.gz").read_bytes()) == b"hello\n"


def test_zst_pin_materializes_compressed(bash_tf, storage, ws):
    import zstandard
    tf = bash_tf("true", files={"x.txt.zst": b"hello\n"})
    materialize_pins(tf, storage, str(ws))
    data = (ws / "x.txt.zst").read_bytes()
    assert zstandard.ZstdDecompressor().decompressobj().decompress(data) == b"hello\n"


def test_meta_file_pin_becomes_a_file_under_its_name(bash_tf, storage, ws):
    tf = bash_tf("cat notes.txt", **{"META__FILE__notes.txt": bash_tf.file(b"meta\n")})
    materialize_pins(tf, storage, str(ws))
    assert (ws / "notes.txt").read_bytes() == b"meta\n"
    assert not (ws / "META__FILE__notes.txt").exists()


def test_directory_pin_is_built_from_its_index(bash_tf, storage, ws):
    tf = bash_tf("ls d", dirs={"d": {"a.txt": b"A\n", "sub/b.txt": b"B\n"}})
    materialize_pins(tf, storage, str(ws))
    assert (ws / "d" / "a.txt").read_bytes() == b"A\n"
    assert (ws / "d" / "sub" / "b.txt").read_bytes() == b"B\n"


def test_directory_pin_leaves_are_regular_files(bash_tf, storage, ws):
    tf = bash_tf("ls d", dirs={"d": {"a.txt": b"A\n", "sub/b.txt": b"B\n"}})
    materialize_pins(tf, storage, str(ws))
    for leaf in (ws / "d" / "a.txt", ws / "d" / "sub" / "b.txt"):
        assert not leaf.is_symlink() and leaf.is_file()


def test_code_pin_is_not_materialized(bash_tf, storage, ws):
    tf = bash_tf("echo hello")
    materialize_pins(tf, storage, str(ws))
    assert os.listdir(ws) == []


def test_pin_name_escaping_the_workspace_is_refused(bash_tf, storage, ws):
    tf = bash_tf("true", files={"../evil.txt": b"x"})
    with pytest.raises(UsageError, match="invalid pin name"):
        materialize_pins(tf, storage, str(ws))


# ------------------------------------------------------------ value pins


def test_scalar_pin_is_a_file_and_an_environment_variable(bash_tf, storage, ws):
    env = materialize_pins(bash_tf("true", a=19), storage, str(ws))
    assert (ws / "a").read_bytes() == b"19\n"
    assert env == {"a": "19"}


def test_str_pin_from_var_is_a_file_and_an_environment_variable(bash_tf, storage, ws):
    env = materialize_pins(bash_tf("true", N=bash_tf.value("3", "str")), storage, str(ws))
    assert (ws / "N").read_bytes() == b"3\n"
    assert env == {"N": "3"}


def test_text_ending_in_newline_gets_no_second_newline(bash_tf, storage, ws):
    env = materialize_pins(bash_tf("true", t="two\nlines\n"), storage, str(ws))
    assert (ws / "t").read_bytes() == b"two\nlines\n"
    assert env == {"t": "two\nlines"}


def test_pin_name_with_a_dot_gets_no_environment_variable(bash_tf, storage, ws):
    env = materialize_pins(bash_tf("true", **{"x.txt": 5}), storage, str(ws))
    assert (ws / "x.txt").read_bytes() == b"5\n"
    assert env == {}


def test_text_of_1000_chars_gets_an_environment_variable(bash_tf, storage, ws):
    env = materialize_pins(bash_tf("true", s="x" * 1000), storage, str(ws))
    assert env == {"s": "x" * 1000}


def test_text_longer_than_1000_chars_gets_no_environment_variable(bash_tf, storage, ws):
    env = materialize_pins(bash_tf("true", s="x" * 1001), storage, str(ws))
    assert (ws / "s").read_bytes() == b"x" * 1001 + b"\n"
    assert env == {}


def test_metavar_pin_gives_its_meta_environment_variable(bash_tf, storage, ws):
    tf = bash_tf('export T="${META__T}"', META__T=bash_tf.value("4", "str"))
    env = materialize_pins(tf, storage, str(ws))
    assert env == {"META__T": "4"}


def test_list_pin_is_one_line_json(bash_tf, storage, ws):
    materialize_pins(bash_tf("true", lst=bash_tf.value([1, "a", {"b": 2}])), storage, str(ws))
    assert (ws / "lst").read_bytes() == json.dumps([1, "a", {"b": 2}]).encode() + b"\n"


def test_bytes_pin_is_raw_and_has_no_environment_variable(bash_tf, storage, ws):
    env = materialize_pins(bash_tf("true", raw=b"\xff\x00abc"), storage, str(ws))
    assert (ws / "raw").read_bytes() == b"\xff\x00abc"
    assert env == {}


def test_uint8_vector_pin_is_raw_bytes(bash_tf, storage, ws):
    import numpy
    materialize_pins(bash_tf("true", v=numpy.arange(4, dtype="uint8")), storage, str(ws))
    assert (ws / "v").read_bytes() == b"\x00\x01\x02\x03"


def test_other_array_pin_is_npy(bash_tf, storage, ws):
    import numpy
    arr = numpy.arange(6, dtype="float64").reshape(2, 3)
    materialize_pins(bash_tf("true", m=arr), storage, str(ws))
    loaded = numpy.load(io.BytesIO((ws / "m").read_bytes()))
    assert (loaded == arr).all() and loaded.dtype == arr.dtype


# ------------------------------------------------------------ RESULT


def _result(ws, data: bytes):
    (ws / "RESULT").write_bytes(data)


def test_missing_result_is_an_error(ws):
    with pytest.raises(TransformationError, match="^command did not create RESULT$"):
        collect_result(str(ws), "bytes")


def test_empty_result_directory_is_an_error(ws):
    (ws / "RESULT" / "emptysub").mkdir(parents=True)
    with pytest.raises(TransformationError, match="^RESULT directory is empty$"):
        collect_result(str(ws), "deepfolder")


def test_result_file_is_returned_as_is_for_bytes(ws):
    _result(ws, b"\xff\xfe")
    assert collect_result(str(ws), "bytes") == (b"\xff\xfe", {})


def test_result_json_text_becomes_the_mixed_value(ws):
    _result(ws, b"42\n")
    assert collect_result(str(ws), "mixed")[0] == serialize(42, "mixed")


def test_result_non_json_text_becomes_a_mixed_string(ws):
    _result(ws, b"hello\n")
    assert collect_result(str(ws), "mixed")[0] == serialize("hello\n", "mixed")


def test_result_text_for_text_celltype_is_not_parsed_as_json(ws):
    _result(ws, b'{"a": 1}\n')
    assert collect_result(str(ws), "text")[0] == b'{"a": 1}\n'


def test_result_npy_becomes_the_array(ws):
    import numpy
    npy = serialize(numpy.arange(3, dtype="<i8"), "mixed")
    _result(ws, npy)
    assert collect_result(str(ws), "mixed")[0] == npy


def test_result_non_utf8_bytes_become_a_uint8_array(ws):
    import numpy
    _result(ws, b"\xff\xfe")
    expected = serialize(numpy.array([255, 254], dtype="uint8"), "mixed")
    assert collect_result(str(ws), "mixed")[0] == expected


def test_result_directory_is_packed_as_a_deep_result(ws):
    (ws / "RESULT" / "sub").mkdir(parents=True)
    (ws / "RESULT" / "a.txt").write_bytes(b"x\n")
    (ws / "RESULT" / "sub" / "b.txt").write_bytes(b"y\n")
    buffer, extra = collect_result(str(ws), "deepfolder")
    index = {"a.txt": Checksum.of(b"x\n").hex(), "sub/b.txt": Checksum.of(b"y\n").hex()}
    assert buffer == serialize(index, "plain")
    assert extra == {Checksum.of(b"x\n"): b"x\n", Checksum.of(b"y\n"): b"y\n"}


def test_deep_result_golden_index_checksum(ws):
    (ws / "RESULT").mkdir()
    (ws / "RESULT" / "a.txt").write_bytes(b"x\n")
    buffer, _ = collect_result(str(ws), "deepfolder")
    assert buffer == b'{\n  "a.txt": "73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac"\n}\n'
    assert Checksum.of(buffer) == "7df6025c93491813236301bb70c102f28929d755390b7bac1bbfb5150e7e342c"


@pytest.mark.parametrize("celltype", ["deepfolder", "folder", "deepcell"])
def test_deep_celltype_requires_a_result_directory(ws, celltype):
    _result(ws, b"x\n")
    with pytest.raises(TransformationError, match="must be a directory"):
        collect_result(str(ws), celltype)


# ------------------------------------------------------------ verified inputs


def _flip_first_byte(path):
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 1]))


def _fresh_storage():
    """The storage as a new process sees it: no buffers in memory."""
    from seamless_transformer.store import storage as storage_mod

    storage_mod._reset()
    return storage_mod.get_storage()


def test_corrupt_stored_input_is_refused_naming_its_checksum(bash_tf, storage, ws):
    tf = bash_tf("wc -l in.txt", files={"in.txt": b"b\na\n"})
    cs = Checksum.of(b"b\na\n")
    _flip_first_byte(storage.buffer_path(cs))
    with pytest.raises(CacheMissError, match=cs.hex()):
        materialize_pins(tf, _fresh_storage(), str(ws))
    assert not (ws / "in.txt").exists()


def test_corrupt_stored_input_is_replaced_by_a_good_copy_in_memory(bash_tf, storage, ws):
    tf = bash_tf("wc -l in.txt", files={"in.txt": b"b\na\n"})
    _flip_first_byte(storage.buffer_path(Checksum.of(b"b\na\n")))
    materialize_pins(tf, storage, str(ws))
    assert (ws / "in.txt").read_bytes() == b"b\na\n"


def _materialize_until_remembered(tf, storage, tmp_path, source):
    """Materialize into fresh workspaces until the verification of `source` is in the stat memo
    (it is remembered only once the file's ctime is older than one timestamp tick)."""
    from seamless_transformer.store import statcache

    deadline = time.monotonic() + 10
    for attempt in itertools.count():
        ws = tmp_path / f"ws{attempt}"
        ws.mkdir()
        materialize_pins(tf, storage, str(ws))
        if statcache.get_cached_checksum(source, os.stat(source)) is not None:
            return
        assert time.monotonic() < deadline, "the verification was never remembered"
        time.sleep(0.02)


def test_verification_of_a_big_input_is_remembered_under_its_file_identity(bash_tf, storage, tmp_path):
    data = os.urandom(200_000)
    tf = bash_tf("wc -c big.bin", files={"big.bin": data})
    source = storage.buffer_path(Checksum.of(data))
    _materialize_until_remembered(tf, storage, tmp_path, source)
    ws = tmp_path / "again"
    ws.mkdir()
    materialize_pins(tf, storage, str(ws))
    assert (ws / "big.bin").read_bytes() == data


def test_a_byte_flipped_after_a_remembered_verification_is_detected(bash_tf, storage, tmp_path):
    data = os.urandom(200_000)
    tf = bash_tf("wc -c big.bin", files={"big.bin": data})
    source = storage.buffer_path(Checksum.of(data))
    _materialize_until_remembered(tf, storage, tmp_path, source)
    before = os.stat(source)
    _flip_first_byte(source)
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))  # only ctime tells now
    ws = tmp_path / "after"
    ws.mkdir()
    with pytest.raises(CacheMissError, match=Checksum.of(data).hex()):
        materialize_pins(tf, _fresh_storage(), str(ws))
