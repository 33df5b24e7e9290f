"""Argtyping rules, sidecar inputs, globs and pin-name mappings of seamless-run (SPEC §4.3, §4.4)."""

import gzip
import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from seamless_transformer.errors import UsageError
from seamless_transformer.bashrun.prepare import RunOptions, prepare, wait_for_future


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def data():
    Path("data").mkdir()
    Path("data/a.txt").write_text("a\n")
    Path("data/b.txt").write_text("b\n")


def error_of(words, **options) -> str:
    with pytest.raises(UsageError) as exc:
        prepare(words, RunOptions(**options))
    return str(exc.value)


# -- the rules ----------------------------------------------------------------------------


def test_rule1_missing_file_with_extension_is_an_error(data):
    assert error_of(["cat", "data/a.txt", "data/nope.txt"]) == (
        "argument #3 'data/nope.txt' has an extension, so it must be an existing file (use -g1 to disable this rule)"
    )


def test_rule1_off_with_g1_makes_the_word_a_value(data):
    job = prepare(["cat", "data/a.txt", "data/nope.txt"], RunOptions(allow_missing_extension_files=True))
    assert list(job.inputs) == ["data/a.txt"]
    assert job.code == "(\ncat data/a.txt data/nope.txt\n) > RESULT\n"


def test_rule1_directory_with_extension_is_an_error():
    Path("d.dir").mkdir()
    Path("d.dir/f").write_text("f")
    assert error_of(["ls", "d.dir"]) == (
        "argument #2 'd.dir' has an extension but is a directory, so it must be an existing file (use -g1 to disable this rule)"
    )


def test_rule2_a_dotfile_has_no_extension():
    Path(".env").write_text("n\n")
    assert error_of(["cat", ".env"]) == (
        "argument #2 '.env' has no extension, so it may not be an existing file (use -g2 to disable this rule)"
    )


def test_rule2_existing_file_without_extension_is_an_error():
    Path("notes").write_text("n\n")
    assert error_of(["cat", "notes"]) == (
        "argument #2 'notes' has no extension, so it may not be an existing file (use -g2 to disable this rule)"
    )


def test_rule2_off_with_g2_makes_the_word_a_file_input():
    Path("notes").write_text("n\n")
    job = prepare(["cat", "notes"], RunOptions(allow_files_without_extension=True))
    assert job.tf_dict["notes"] == ["bytes", None, sha(b"n\n")]


def test_rule3_word_with_trailing_slash_must_be_a_directory():
    assert error_of(["ls", "nodir/"]) == "argument #2 'nodir/' ends with '/', so it must be an existing directory"


def test_rule3_existing_directory_with_slash_is_a_directory_input(data):
    job = prepare(["ls", "data/"])
    assert job.inputs["data"].kind == "directory"
    assert job.code == "(\nls data\n) > RESULT\n"


def test_float_words_are_values():
    job = prepare(["echo", "1.5", "2e3"])
    assert job.inputs == {}


def test_words_with_whitespace_have_no_extension():
    job = prepare(["echo", "a.b c.d"])
    assert job.inputs == {}


def test_words_with_expansions_are_not_checked():
    job = prepare(["cat $X.txt"])
    assert job.inputs == {}


def test_pipeline_words_are_numbered_across_commands(data):
    assert error_of(["paste data/a.txt | cat nope.txt"]).startswith("argument #4 'nope.txt' has an extension")


def test_words_after_the_first_redirection_are_not_analysed(data):
    job = prepare(["cat data/a.txt > o.txt nope.txt"])
    assert list(job.inputs) == ["data/a.txt"]


def test_missing_input_redirect_is_an_error():
    assert error_of(["sort < nope"]) == "input 'nope': file or directory does not exist"


def test_directory_input_has_index_and_leaf_buffers(data):
    job = prepare(["ls", "data"])
    pin = job.inputs["data"]
    index = b'{\n  "a.txt": "%s",\n  "b.txt": "%s"\n}\n' % (sha(b"a\n").encode(), sha(b"b\n").encode())
    assert pin.index == index
    assert job.tf_dict["data"] == ["mixed", None, sha(index)]
    assert job.tf_dict["__format__"]["data"] == {"filesystem": {"optional": True, "mode": "directory"}, "celltype": "deepfolder"}
    assert job.buffers[sha(index)] == index
    assert job.buffers[sha(b"a\n")] == os.path.abspath("data/a.txt")


def test_existing_command_word_file_becomes_an_executable_pin():
    Path("x.sh").write_text("echo x\n")
    job = prepare(["x.sh", "1"])
    assert job.inputs["x.sh"].executable
    assert job.code == "export PATH=./:$PATH\nchmod +x 'x.sh'\n(\nx.sh 1\n) > RESULT\n"


def test_unknown_command_word_is_left_alone():
    job = prepare(["no-such-tool-xyz", "1"])
    assert job.inputs == {} and "chmod" not in job.code


# -- futures ------------------------------------------------------------------------------


def test_future_is_waited_for_until_removed():
    Path("in.txt.FUTURE").write_text("tf.local\n")
    waiting = threading.Event()

    def wait(path, shown):
        waiting.set()
        wait_for_future(path, shown, poll=0.02)

    def produce():
        assert waiting.wait(30)
        Path("in.txt").write_text("ready\n")
        os.unlink("in.txt.FUTURE")

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        job = prepare(["cat", "in.txt"], wait_future=wait)
    finally:
        producer.join()
    assert job.tf_dict["in.txt"] == ["bytes", None, sha(b"ready\n")]
    assert job.futures == ["in.txt.FUTURE"]


def test_stale_future_is_an_error_naming_its_path():
    Path("in.txt").write_text("x\n")
    Path("in.txt.FUTURE").write_text("tf.local\n")
    old = time.time() - 300
    os.utime("in.txt.FUTURE", (old, old))
    assert error_of(["cat", "in.txt"]) == "stale future 'in.txt.FUTURE'"


def test_wait_for_future_returns_at_once_without_future():
    wait_for_future("absent.FUTURE")


# -- sidecars -----------------------------------------------------------------------------


def test_sidecar_only_file_is_an_input():
    Path("x.txt.CHECKSUM").write_text(sha(b"x\n") + "\n")
    job = prepare(["cat", "x.txt"])
    pin = job.inputs["x.txt"]
    assert (pin.kind, pin.path, pin.checksum) == ("file", None, sha(b"x\n"))
    assert job.tf_dict["x.txt"] == ["bytes", None, sha(b"x\n")]
    assert sha(b"x\n") not in job.buffers


def test_sidecar_only_directory_is_an_input_via_its_index():
    index = b'{\n  "a.txt": "%s"\n}\n' % sha(b"x\n").encode()
    Path("outdir.INDEX").write_bytes(index)
    Path("outdir.CHECKSUM").write_text(sha(index) + "\n")
    job = prepare(["ls", "outdir"])
    assert job.tf_dict["outdir"] == ["mixed", None, sha(index)]
    assert job.inputs["outdir"].kind == "directory" and job.inputs["outdir"].path is None
    assert job.buffers[sha(index)] == index


def test_sidecar_for_compressed_word_uses_the_base_name():
    Path("x.txt.CHECKSUM").write_text(sha(b"hello\n") + "\n")
    job = prepare(["zcat", "x.txt.gz"])
    assert job.tf_dict["x.txt.gz"] == ["bytes", None, sha(b"hello\n")]


def test_sidecar_matching_the_file_is_accepted():
    Path("x.txt").write_text("x\n")
    Path("x.txt.CHECKSUM").write_text(sha(b"x\n") + "\n")
    job = prepare(["cat", "x.txt"])
    assert job.inputs["x.txt"].path == "x.txt"


def test_sidecar_differing_from_the_file_is_an_error():
    Path("x.txt").write_text("x\n")
    Path("x.txt.CHECKSUM").write_text(sha(b"other\n") + "\n")
    os.utime("x.txt", (1, 1))
    assert error_of(["cat", "x.txt"]) == (
        "argument #2 'x.txt' differs from x.txt.CHECKSUM, and the sidecar is newer: to use the file as it is, refresh "
        "the sidecar with `seamless-upload x.txt`; to get the sidecar's version back, run `seamless-download x.txt`"
    )


def test_a_file_newer_than_its_differing_sidecar_is_named_newer():
    Path("x.txt.CHECKSUM").write_text(sha(b"other\n") + "\n")
    os.utime("x.txt.CHECKSUM", (1, 1))
    Path("x.txt").write_text("x\n")
    assert ", and the file is newer: " in error_of(["cat", "x.txt"])


def test_a_differing_sidecar_message_names_the_compressed_word_as_typed():
    Path("x.txt.gz").write_bytes(gzip.compress(b"x\n"))
    Path("x.txt.CHECKSUM").write_text(sha(b"other\n") + "\n")
    assert error_of(["zcat", "x.txt.gz"]).endswith(
        "refresh the sidecar with `seamless-upload x.txt.gz`; to get the sidecar's version back, run "
        "`seamless-download x.txt.gz`")


def test_the_commands_in_a_differing_sidecar_message_are_shell_quoted():
    Path("my x.txt").write_text("x\n")
    Path("my x.txt.CHECKSUM").write_text(sha(b"other\n") + "\n")
    assert "`seamless-upload 'my x.txt'`" in error_of(["cat", "my x.txt"])


def test_invalid_sidecar_is_an_error():
    Path("x.txt").write_text("x\n")
    Path("x.txt.CHECKSUM").write_text("not a checksum\n")
    assert error_of(["cat", "x.txt"]) == "argument #2 'x.txt': x.txt.CHECKSUM does not contain a valid checksum"


def test_words_ending_in_checksum_are_literal_files():
    Path("x.txt.CHECKSUM").write_text(sha(b"x\n") + "\n")
    job = prepare(["cat", "x.txt.CHECKSUM"])
    assert job.tf_dict["x.txt.CHECKSUM"] == ["bytes", None, sha((sha(b"x\n") + "\n").encode())]


# -- globs --------------------------------------------------------------------------------


def test_glob_matches_become_inputs_and_the_word_stays(data):
    job = prepare(["cat data/*.txt"])
    assert sorted(job.inputs) == ["data/a.txt", "data/b.txt"]
    assert job.code == "(\ncat data/*.txt\n) > RESULT\n"


def test_glob_word_is_replaced_by_mapped_names_under_strip(data):
    job = prepare(["cat data/*.txt"], RunOptions(mapping="strip"))
    assert job.code == "(\ncat a.txt b.txt\n) > RESULT\n"


def test_glob_without_match_is_a_value():
    job = prepare(["echo *.nothing"])
    assert job.inputs == {}


def test_quoted_glob_is_not_expanded(data):
    job = prepare(["echo 'data/*'"])
    assert job.inputs == {}


def test_glob_skips_hidden_files():
    Path(".hidden.txt").write_text("h")
    Path("v.txt").write_text("v")
    job = prepare(["cat *.txt"])
    assert list(job.inputs) == ["v.txt"]


# -- pin names ----------------------------------------------------------------------------


def test_literal_mapping_normalizes_and_rewrites(data):
    Path("code").mkdir()
    job = prepare(["cat", "./data/a.txt", "code/../data/b.txt"])
    assert sorted(job.inputs) == ["data/a.txt", "data/b.txt"]
    assert job.code == "(\ncat data/a.txt data/b.txt\n) > RESULT\n"


def test_literal_mapping_refuses_paths_outside_the_working_directory():
    Path("../outside.txt").write_text("o")
    assert error_of(["cat", "../outside.txt"]) == (
        "argument '../outside.txt' is not under the working directory; use -ms, -mx, -w or -W"
    )


def test_a_metafile_outside_the_working_directory_is_refused_naming_its_path():
    Path("../outside-meta.txt").write_text("m")
    assert error_of(["echo hi"], metafiles=["../outside-meta.txt"]) == (
        "argument '../outside-meta.txt' is not under the working directory; use -ms, -mx, -w or -W"
    )


def test_workdir_option_names_pins_from_that_root_but_keeps_local_paths(data):
    job = prepare(["cat", "data/a.txt"], RunOptions(workdir=".."))
    name = os.path.basename(os.getcwd())
    pin = job.inputs[f"{name}/data/a.txt"]
    assert pin.path == "data/a.txt"
    assert job.code == f"(\ncat {name}/data/a.txt\n) > RESULT\n"


def test_root_slash_mapping_uses_the_full_path(data):
    job = prepare(["cat", "data/a.txt"], RunOptions(root_slash=True))
    expected = os.path.abspath("data/a.txt").lstrip("/")
    assert list(job.inputs) == [expected]


def test_strip_mapping_uses_basenames(data):
    job = prepare(["cat", "data/a.txt"], RunOptions(mapping="strip"))
    assert job.code == "(\ncat a.txt\n) > RESULT\n"


def test_strip_mapping_refuses_two_sources_with_one_name(data):
    Path("other").mkdir()
    Path("other/a.txt").write_text("other\n")
    with pytest.raises(UsageError, match="pin name 'a.txt'"):
        prepare(["cat", "data/a.txt", "other/a.txt"], RunOptions(mapping="strip"))


def test_extension_mapping_numbers_files_and_keeps_suffixes(data):
    Path("a.npy.gz").write_bytes(gzip.compress(b"z"))
    job = prepare(["cat", "data/a.txt", "a.npy.gz", "data"], RunOptions(mapping="extension", allow_missing_extension_files=True))
    assert sorted(job.inputs) == ["data", "file1.txt", "file2.npy.gz"]
    assert job.code == "(\ncat file1.txt file2.npy.gz data\n) > RESULT\n"


def test_extension_mapping_gives_a_name_ending_in_a_dot_no_suffix():
    Path("notes.").write_text("n\n")
    job = prepare(["cat", "notes."], RunOptions(mapping="extension", allow_files_without_extension=True))
    assert list(job.inputs) == ["file1"]


def test_reserved_pin_name_is_an_error():
    Path("code").mkdir()
    Path("code/f.txt").write_text("f")
    with pytest.raises(UsageError, match="'code', which is reserved"):
        prepare(["ls", "code"])


def test_unsafe_pin_names_are_shell_quoted():
    Path("sub dir").mkdir()
    Path("sub dir/f").write_text("f")
    job = prepare(["ls", "./sub dir"])
    assert job.code == "(\nls 'sub dir'\n) > RESULT\n"


# -- explicit inputs ----------------------------------------------------------------------


def test_input_option_adds_a_pin_without_rules():
    Path("extra").write_text("e\n")
    job = prepare(["echo hi"], RunOptions(inputs=["extra"]))
    assert job.tf_dict["extra"] == ["bytes", None, sha(b"e\n")]


def test_missing_input_option_is_an_error():
    assert error_of(["echo hi"], inputs=["nope.txt"]) == "input 'nope.txt': file or directory does not exist"


def test_input_list_skips_blank_and_comment_lines_and_resolves_relative_lines():
    Path("code").mkdir()
    Path("x.txt").write_text("x\n")
    Path("code/y.txt").write_text("y\n")
    Path("code/l.txt").write_text("\n# a comment\n../x.txt\n\ny.txt\n")
    job = prepare(["echo hi"], RunOptions(input_files=["code/l.txt"]))
    assert sorted(job.inputs) == ["code/y.txt", "x.txt"]


def test_glob_word_is_replaced_when_workdir_changes_the_pin_names(data):
    job = prepare(["cat data/*.txt"], RunOptions(workdir=".."))
    name = os.path.basename(os.getcwd())
    assert job.code == f"(\ncat {name}/data/a.txt {name}/data/b.txt\n) > RESULT\n"


def test_cwd_reached_through_a_symlink_still_maps_literally(data, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(os.getcwd())
    job = prepare(["cat", str(link / "data" / "a.txt")], cwd=str(link))
    assert list(job.inputs) == ["data/a.txt"]


def test_input_option_accepts_a_sidecar_only_path():
    Path("x.txt.CHECKSUM").write_text(sha(b"x\n") + "\n")
    job = prepare(["echo hi"], RunOptions(inputs=["x.txt"]))
    assert job.tf_dict["x.txt"] == ["bytes", None, sha(b"x\n")]


def test_tilde_word_is_expanded_to_the_home_file():
    Path(os.environ["HOME"], "h.txt").write_text("h\n")
    job = prepare(["cat ~/h.txt"], RunOptions(mapping="strip"))
    assert job.tf_dict["h.txt"] == ["bytes", None, sha(b"h\n")]
    assert job.code == "(\ncat h.txt\n) > RESULT\n"


def test_directory_differing_from_its_sidecar_is_an_error(data):
    Path("data.CHECKSUM").write_text(sha(b"other") + "\n")
    with pytest.raises(UsageError) as exc:
        prepare(["ls", "data"])
    assert str(exc.value).startswith("argument #2 'data' differs from data.CHECKSUM, and the sidecar is newer: to use "
                                     "the directory as it is, refresh the sidecar with `seamless-upload data`")


def test_index_sidecar_not_matching_its_checksum_is_an_error():
    Path("outdir.INDEX").write_bytes(b"{}\n")
    Path("outdir.CHECKSUM").write_text(sha(b"other") + "\n")
    with pytest.raises(UsageError, match="outdir.INDEX does not match"):
        prepare(["ls", "outdir"])


def test_a_word_ending_in_slash_has_no_extension_whatever_precedes_it():
    Path("d.dir").mkdir()
    Path("d.dir/f").write_text("f")
    job = prepare(["ls", "d.dir/"])
    assert job.inputs["d.dir"].kind == "directory"


@pytest.mark.parametrize("pattern", ["./data/*.txt", "other/../data/*.txt"])
def test_glob_matches_written_with_dot_parts_map_to_the_normalized_pins(data, pattern):
    Path("other").mkdir()
    job = prepare([f"cat {pattern}"])
    assert sorted(job.inputs) == ["data/a.txt", "data/b.txt"]
    assert job.code == f"(\ncat {pattern}\n) > RESULT\n"


def test_existence_is_checked_in_the_given_cwd_not_the_process_cwd_nor_the_w_root(tmp_path):
    sub = tmp_path / "work" / "sub"
    sub.mkdir()
    (sub / "a.txt").write_text("a\n")
    Path("b.txt").write_text("b\n")  # exists in the process cwd, which is also the -w root
    job = prepare(["cat", "a.txt"], RunOptions(workdir=".."), cwd=str(sub))
    assert list(job.inputs) == ["sub/a.txt"]
    with pytest.raises(UsageError, match="'b.txt' has an extension, so it must be an existing file"):
        prepare(["cat", "b.txt"], RunOptions(workdir=".."), cwd=str(sub))


def test_bashcode_is_a_reserved_pin_name():
    Path("bashcode").mkdir()
    Path("bashcode/f.txt").write_text("f")
    with pytest.raises(UsageError, match="'bashcode', which is reserved"):
        prepare(["ls", "bashcode"])


def test_strip_mapping_takes_the_basename_of_the_full_path_not_of_the_typed_word(data):
    job = prepare(["ls", "data/"], RunOptions(mapping="strip"))
    assert list(job.inputs) == ["data"]
    assert job.code == "(\nls data\n) > RESULT\n"


BAD_NAME = os.fsdecode(b"\xff.txt")  # a file name that is not UTF-8, as Python lists it


@pytest.mark.parametrize("command, options", [
    ("cat *.txt", {}),
    ("true; cat *.txt", {}),
    ("cat *.txt", {"mapping": "strip"}),
    ("cat a.txt", {"inputs": [BAD_NAME]}),
    ("cat a.txt", {"metafiles": [BAD_NAME]}),
])  # fmt: skip
def test_a_file_name_that_is_not_utf8_is_one_usage_error(command, options):
    Path("a.txt").write_text("a\n")
    Path(BAD_NAME).write_text("bad\n")
    with pytest.raises(UsageError, match=r"^file name is not valid UTF-8: '\\xff\.txt'$"):
        prepare([command], RunOptions(**options))


def test_an_input_list_that_is_not_utf8_is_one_usage_error():
    Path("a.txt").write_text("a\n")
    Path("list").write_bytes(b"a.txt\n\xff.txt\n")
    with pytest.raises(UsageError, match=r"^input file list 'list' is not valid UTF-8$"):
        prepare(["cat a.txt"], RunOptions(input_files=["list"]))
