"""seamless-run preparation: golden tf values, generated code, dunders and the -j job directory."""

import hashlib
import json
import os
from pathlib import Path

import pytest

from seamless_transformer.errors import UsageError
from seamless_transformer.bashrun.prepare import RunOptions, build_command_string, prepare, write_job_dir

A_TXT = "apples\npears\noranges\nbananas\npineapples\nkiwis\ntomatoes"
B_TXT = "5\n12\n7\n4\n15\n8\n1\n80\n90"
A_CS = "ee53c53e5f65f2a25583be11f99f1c2f159378c40299cd14a7c9c3a691247c58"
B_CS = "856c10cafc4ca6f70d9779cf6b019071df40ffc6604390da57940aa336bf9603"
EXAMPLE_B = "paste data/b.txt data/a.txt | awk 'NF == 2 && $1 > 10{print $2}' "


@pytest.fixture
def data():
    Path("data").mkdir()
    Path("data/a.txt").write_text(A_TXT)
    Path("data/b.txt").write_text(B_TXT)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- §4.1 command string ----------------------------------------------------------------


def test_single_word_is_used_verbatim():
    assert build_command_string(["a | b  "]) == "a | b  "


def test_plain_words_are_joined_with_spaces():
    assert build_command_string(["cat", "-n", "x.txt"]) == "cat -n x.txt"


def test_words_with_whitespace_quotes_or_backslash_are_shell_quoted():
    assert build_command_string(["printf", "%s\\n", "a b", "it's", ""]) == "printf '%s\\n' 'a b' 'it'\"'\"'s' ''"


def test_dash_c_takes_exactly_one_argument():
    with pytest.raises(UsageError) as exc:
        build_command_string(["a", "b"], single=True)
    assert str(exc.value) == "-c requires exactly one command argument, got 2"
    assert "-1" not in str(exc.value)


def test_dash_c_uses_the_argument_verbatim():
    assert build_command_string(["echo  'x'"], single=True) == "echo  'x'"


def test_no_command_is_a_usage_error():
    with pytest.raises(UsageError, match="no command given"):
        prepare([])


def test_unparseable_command_is_a_usage_error():
    with pytest.raises(UsageError, match="^cannot parse command: "):
        prepare(["echo 'unterminated"])


# -- §2.8 golden values -----------------------------------------------------------------


def test_example_b_dict_and_tf(data):
    job = prepare([EXAMPLE_B])
    code_cs = "158840e8292054f14768d973d3630069697896202b18b1e487ed2874618a1525"
    assert job.code == "(\npaste data/b.txt data/a.txt | awk 'NF == 2 && $1 > 10{print $2}' \n) > RESULT\n"
    assert job.tf_dict == {
        "__format__": {
            "data/a.txt": {"filesystem": {"mode": "file", "optional": True}},
            "data/b.txt": {"filesystem": {"mode": "file", "optional": True}},
        },
        "__language__": "bash",
        "__output__": ["result", "bytes", None],
        "code": ["text", None, code_cs],
        "data/a.txt": ["bytes", None, A_CS],
        "data/b.txt": ["bytes", None, B_CS],
    }
    assert job.tf_checksum == "4cdfa93114f1d80004979ee4338069f477f04317e2cf97d7558987512904f014"
    assert job.mode == "stdout"


def test_example_b_buffers_hold_inputs_code_and_identity(data):
    job = prepare([EXAMPLE_B])
    assert job.buffers[A_CS] == os.path.abspath("data/a.txt")
    assert job.buffers[B_CS] == os.path.abspath("data/b.txt")
    assert sha(job.buffers[job.tf_dict["code"][2]]) == job.tf_dict["code"][2]
    assert job.buffers[job.tf_checksum] == job.identity_buffer
    assert sha(job.identity_buffer) == job.tf_checksum.hex()


def test_echo_hello_tf():
    job = prepare(["echo hello"])
    assert job.code == "(\necho hello\n) > RESULT\n"
    assert job.tf_checksum == "706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550"


def test_var_pin_and_tf():
    job = prepare(["echo $N"], RunOptions(vars=["N=3"]))
    assert job.tf_dict["N"] == ["str", None, "6a9d3546d0eafa98251ab1abb06d0d8a1fba95ec27fc1e9ed5b6dc380ac2c22d"]
    assert job.tf_checksum == "83b7891433572c08e68010456398956aef4d548acdf8d228f4022ba9fcfe2ee9"


@pytest.mark.parametrize("value", ["4", "5"])
def test_metavar_value_is_not_identity(value):
    job = prepare(["echo $T"], RunOptions(metavars=[f"T={value}"]))
    assert job.code == 'export T="${META__T}"\n(\necho $T\n) > RESULT\n'
    assert job.tf_dict["META__T"] == ["str", None, sha(f'"{value}"\n'.encode())]
    assert job.tf_checksum == "1005b60e6a284eb979da708264c71e888d13a871fead9da65f85f6565765afbb"


def test_two_argv_words_with_a_space_keep_their_quoting():
    job = prepare(["echo", "a b"])
    assert job.code == "(\necho 'a b'\n) > RESULT\n"
    assert job.tf_checksum.hex().startswith("bba037dc")
    assert job.tf_checksum.hex().endswith("a6a8")


def test_printf_format_words_keep_their_quoting():
    job = prepare(["printf", "%s\\n", "a b"])
    assert job.code == "(\nprintf '%s\\n' 'a b'\n) > RESULT\n"


def test_conda_sets_env_without_changing_tf():
    job = prepare(["echo hello"], RunOptions(conda="myenv"))
    env_buffer = b'{\n  "conda_environment": "myenv"\n}\n'
    assert job.env == {"conda_environment": "myenv"}
    assert job.tf_dict["__env__"] == sha(env_buffer)
    assert sha(env_buffer).startswith("c809a3b6")
    assert job.buffers[sha(env_buffer)] == env_buffer
    assert job.tf_checksum == "706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550"


def test_docker_and_conda_share_one_env_dict():
    job = prepare(["echo hello"], RunOptions(conda="e", docker="img:1"))
    assert job.env == {"conda_environment": "e", "docker": {"name": "img:1"}}
    assert job.tf_checksum == "706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550"


def test_no_env_key_without_conda_or_docker():
    job = prepare(["echo hello"])
    assert "__env__" not in job.tf_dict and job.env is None and "__meta__" not in job.tf_dict


def test_ncores_and_direct_print_go_to_meta_only():
    job = prepare(["echo hello"], RunOptions(ncores=3, direct_print=True))
    assert job.tf_dict["__meta__"] == {"ncores": 3, "__direct_print__": True}
    assert job.dunder == {"__meta__": {"ncores": 3, "__direct_print__": True}}
    assert job.tf_checksum == "706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550"


def test_echo_new_to_out_txt_tf():
    Path("out.txt").write_text("old\n")
    job = prepare(["echo new > out.txt"])
    assert job.code == "mkdir -p RESULT/\necho new > out.txt\nmv out.txt RESULT/\n"
    assert job.tf_dict["__output__"] == ["result", "deepfolder", None]
    assert job.tf_checksum == "c5dfea40736f805fde3365a1d21267160052be4fe605704dcaa935affe7aa222"


def test_capture_dir_with_redirect_inside_it_tf():
    job = prepare(["mkdir -p outdir; echo x > outdir/a.txt"], RunOptions(captures=["outdir"]))
    assert job.code == "mkdir -p RESULT/\nmkdir -p outdir; echo x > outdir/a.txt\nmv outdir RESULT/\n"
    assert [(t.workspace, t.local) for t in job.targets] == [("outdir", "outdir")]
    assert job.tf_checksum == "b4f90c9597f1da9c63891859a8a3970e552ea90f76c8d50f26f46502fdb11332"


def test_sort_from_input_redirect_tf():
    Path("in.txt").write_text("b\na\n")
    job = prepare(["sort < in.txt"])
    assert job.mode == "stdout"
    assert job.tf_dict["in.txt"] == ["bytes", None, sha(b"b\na\n")]
    assert job.tf_checksum == "2b1ef67bb12827a717603a92fe9dfaba4e34cadd1a2167147ee36787ea0ea416"


# -- §2.7 generated code ----------------------------------------------------------------


def test_section_2_7_example_code_is_byte_exact():
    Path("myscript.sh").write_text("#!/bin/bash\necho hi\n")
    Path("data").mkdir()
    Path("data/x.txt").write_text("x\n")
    options = RunOptions(metavars=["T=4"], captures=["out.dat", ":log.txt"])
    job = prepare(["./myscript.sh", "data"], options)
    assert job.code == (
        "export PATH=./:$PATH\nchmod +x 'myscript.sh'\nexport T=\"${META__T}\"\nmkdir -p RESULT/\n"
        "(\nmyscript.sh data\n) > STDOUT\nmv out.dat RESULT/\nmv STDOUT RESULT/\n"
    )
    assert job.capture_stdout == "log.txt"
    assert job.inputs["myscript.sh"].executable
    assert job.inputs["data"].kind == "directory"


def test_executable_with_slash_does_not_extend_path():
    Path("tools").mkdir()
    Path("tools/run.sh").write_text("echo\n")
    job = prepare(["tools/run.sh"])
    assert job.code == "chmod +x 'tools/run.sh'\n(\ntools/run.sh\n) > RESULT\n"


def test_metavars_are_exported_sorted_by_name():
    job = prepare(["true"], RunOptions(metavars=["Z=1", "A=2"]))
    assert job.code.startswith('export A="${META__A}"\nexport Z="${META__Z}"\n')


def test_builtin_command_word_gets_no_chmod():
    job = prepare(["exit 3"])
    assert "chmod" not in job.code
    assert job.code == "(\nexit 3\n) > RESULT\n"


def test_builtin_with_existing_file_of_same_name_gets_no_chmod():
    Path("test").write_text("not a script\n")
    job = prepare(["test", "-d", "."])
    assert "chmod" not in job.code and "test" not in job.inputs


def test_command_found_on_path_is_left_alone():
    Path("cat").write_text("shadow\n")
    job = prepare(["cat"])
    assert job.inputs == {} and "chmod" not in job.code


def test_words_after_the_command_are_command_words():
    Path("a.txt").write_text("a\n")
    job = prepare(["cat", "a.txt", "--input", "b.txt"], RunOptions(allow_missing_extension_files=True))
    assert job.code == "(\ncat a.txt --input b.txt\n) > RESULT\n"
    assert list(job.inputs) == ["a.txt"]


def test_prologues_are_prepended_to_the_command():
    job = prepare(["echo hi"], RunOptions(prologues=["set -o pipefail", "cd ."]))
    assert job.code == "(\nset -o pipefail; cd .; echo hi\n) > RESULT\n"


# -- options ------------------------------------------------------------------------------


def test_var_name_must_be_an_identifier():
    with pytest.raises(UsageError) as exc:
        prepare(["true"], RunOptions(vars=["1x=3"]))
    assert "\n" not in str(exc.value) and "1x" in str(exc.value)


def test_var_given_twice_with_different_values_is_an_error():
    with pytest.raises(UsageError, match="given twice"):
        prepare(["true"], RunOptions(vars=["N=1", "N=2"]))


def test_metavar_may_not_start_with_meta_prefix():
    with pytest.raises(UsageError, match="META__"):
        prepare(["true"], RunOptions(metavars=["meta__x=1"]))


def test_var_clashing_with_an_input_pin_is_an_error():
    Path("N").mkdir()
    Path("N/f.txt").write_text("f")
    with pytest.raises(UsageError, match="clashes"):
        prepare(["ls", "N"], RunOptions(vars=["N=1"]))


def test_metafile_pin_is_not_identity():
    Path("m.txt").write_text("meta\n")
    plain = prepare(["echo hi"])
    job = prepare(["echo hi"], RunOptions(metafiles=["m.txt"]))
    assert job.tf_dict["META__FILE__m.txt"] == ["bytes", None, sha(b"meta\n")]
    assert "__format__" not in job.tf_dict
    assert job.tf_checksum == plain.tf_checksum
    assert job.dunder == {"META__FILE__m.txt": ["bytes", None, sha(b"meta\n")]}


def test_primary_selects_the_analysed_command(data):
    job = prepare(["true; cat data/a.txt"], RunOptions(primary=2))
    assert list(job.inputs) == ["data/a.txt"]


def test_commands_after_semicolon_name_inputs_too(data):
    job = prepare(["true; cat data/a.txt"])
    assert list(job.inputs) == ["data/a.txt"]


def test_primary_beyond_the_number_of_commands_is_an_error():
    with pytest.raises(UsageError, match="--primary 3"):
        prepare(["a; b"], RunOptions(primary=3))


@pytest.mark.parametrize("flag", ["no_download", "scratch", "qsubmit"])
def test_stdout_mode_is_refused_with(flag):
    with pytest.raises(UsageError) as exc:
        prepare(["echo hi"], RunOptions(**{flag: True}))
    assert str(exc.value) == "no capture targets; refusing to print output"


def test_scratch_with_targets_is_accepted():
    job = prepare(["echo hi > o.txt"], RunOptions(scratch=True))
    assert job.mode == "targets"


# -- §4.9 job directory -------------------------------------------------------------------


def test_job_dir_holds_identity_and_code_only():
    job = prepare(["echo hello"])
    write_job_dir(job, "J")
    assert sorted(os.listdir("J")) == ["command.txt", "transformation.json"]
    assert sha(Path("J/transformation.json").read_bytes()) == job.tf_checksum.hex()
    assert Path("J/command.txt").read_bytes() == b"(\necho hello\n) > RESULT\n"


def test_job_dir_for_a_builtin_has_no_chmod():
    write_job_dir(prepare(["exit 3"]), "J")
    assert "chmod" not in Path("J/command.txt").read_text()


def test_job_dir_with_env_and_metavar_writes_env_and_dunder():
    job = prepare(["echo $T"], RunOptions(metavars=["T=4"], conda="myenv"))
    write_job_dir(job, "J")
    assert sorted(os.listdir("J")) == ["command.txt", "dunder.json", "env.json", "transformation.json"]
    assert Path("J/env.json").read_bytes() == b'{\n  "conda_environment": "myenv"\n}\n'
    dunder = json.loads(Path("J/dunder.json").read_text())
    assert dunder == {"META__T": ["str", None, sha(b'"4"\n')], "__env__": sha(Path("J/env.json").read_bytes())}


def test_job_dir_with_upload_writes_only_checksum_and_dunder():
    job = prepare(["echo $T"], RunOptions(metavars=["T=4"]))
    write_job_dir(job, "J", upload=True)
    assert sorted(os.listdir("J")) == ["dunder.json", "transformation.json.CHECKSUM"]
    assert Path("J/transformation.json.CHECKSUM").read_text() == job.tf_checksum.hex() + "\n"


def test_existing_job_dir_is_an_error():
    Path("J").mkdir()
    with pytest.raises(UsageError, match="already exists"):
        write_job_dir(prepare(["echo hello"]), "J")


def test_a_command_word_that_is_not_utf8_is_a_usage_error():
    from seamless_transformer.errors import UsageError
    from seamless_transformer.bashrun.bashcode import build_command_string

    word = b"bad\xff.txt".decode("utf-8", "surrogateescape")
    with pytest.raises(UsageError, match=r"argument #2 'bad\\xff.txt' is not valid UTF-8"):
        build_command_string(["cat", word])
