"""Result targets of seamless-run: output redirects and -cp captures (SPEC §4.5, bugs 1-4, 13, 14)."""

import os
from pathlib import Path

import pytest

from seamless_transformer.errors import UsageError
from seamless_transformer.bashrun.prepare import RunOptions, prepare


def targets_of(job):
    return [(target.workspace, target.local) for target in job.targets]


def test_input_redirect_is_an_input_not_a_target():
    Path("in.txt").write_text("b\na\n")
    job = prepare(["sort < in.txt"])
    assert job.mode == "stdout" and job.targets == []
    assert job.inputs["in.txt"].path == "in.txt"


@pytest.mark.parametrize("command", ["echo err 1>&2", "echo err >&2", "echo x >&-", "echo x 2>&1", "echo x 2> err.txt"])
def test_fd_duplications_closes_and_stderr_redirects_are_not_targets(command):
    job = prepare([command])
    assert job.mode == "stdout" and job.targets == []


def test_stderr_merge_keeps_directory_argument_as_input():
    Path("data").mkdir()
    Path("data/a.txt").write_text("a")
    job = prepare(["ls data 2>&1"])
    assert job.mode == "stdout" and list(job.inputs) == ["data"]


@pytest.mark.parametrize("device", ["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/fd/3"])
def test_device_redirects_are_not_targets(device):
    job = prepare([f"echo hi > {device}"])
    assert job.targets == []
    assert job.code == f"(\necho hi > {device}\n) > RESULT\n"


def test_absolute_target_outside_the_cwd_is_an_error():
    with pytest.raises(UsageError, match="outside the current directory"):
        prepare(["echo hi > /abs/outside.txt"])


def test_absolute_target_under_the_cwd_becomes_relative():
    job = prepare([f"echo x > {os.getcwd()}/o.txt"])
    assert targets_of(job) == [("o.txt", "o.txt")]
    assert job.code == "mkdir -p RESULT/\necho x > o.txt\nmv o.txt RESULT/\n"


def test_workdir_option_keeps_targets_relative_to_cwd():
    job = prepare(["echo x > o.txt"], RunOptions(workdir=".."))
    assert targets_of(job) == [("o.txt", "o.txt")]


def test_redirect_inside_a_captured_directory_is_not_captured_twice():
    job = prepare(["mkdir -p outdir; echo x > outdir/a.txt"], RunOptions(captures=["outdir"]))
    assert targets_of(job) == [("outdir", "outdir")]
    assert job.code.count("mv ") == 1


def test_redirect_equal_to_a_capture_is_not_captured_twice():
    job = prepare(["echo x > o.txt"], RunOptions(captures=["o.txt"]))
    assert targets_of(job) == [("o.txt", "o.txt")]


def test_multiple_output_redirects_are_an_error():
    with pytest.raises(UsageError) as exc:
        prepare(["echo x > a.txt > b.txt"])
    assert str(exc.value) == "multiple output redirects in the last command; use -cp"


@pytest.mark.parametrize("operator", [">", ">>", ">|", "&>", "&>>", "1>"])
def test_stdout_redirect_operators_make_targets(operator):
    job = prepare([f"echo x {operator} o.txt"])
    assert targets_of(job) == [("o.txt", "o.txt")]
    assert job.tf_dict["__output__"] == ["result", "deepfolder", None]


def test_only_the_last_command_gives_redirect_targets():
    job = prepare(["echo a > a.txt; echo b"])
    assert job.mode == "stdout"


def test_last_command_of_a_pipeline_gives_the_target():
    job = prepare(["echo a | tr a b > t.txt"])
    assert targets_of(job) == [("t.txt", "t.txt")]


def test_top_level_subshell_redirect_is_a_target():
    job = prepare(["(echo a; echo b) > x.txt"])
    assert targets_of(job) == [("x.txt", "x.txt")]


def test_target_in_a_subdirectory_is_moved_into_that_result_directory():
    job = prepare(["mkdir sub; echo r > sub/r.txt"], RunOptions(captures=["sub/r.txt"]))
    assert job.code == "mkdir -p RESULT/sub\nmkdir sub; echo r > sub/r.txt\nmv sub/r.txt RESULT/sub\n"


def test_capture_with_workspace_and_local_names():
    job = prepare(["echo x > w.txt"], RunOptions(captures=["w.txt:local.txt"]))
    assert targets_of(job) == [("w.txt", "local.txt")]


def test_stdout_capture_and_file_capture_keep_option_order():
    job = prepare(["echo hi; echo r > r.txt"], RunOptions(captures=[":log.txt", "r.txt"]))
    assert targets_of(job) == [("STDOUT", "log.txt"), ("r.txt", "r.txt")]
    assert job.capture_stdout == "log.txt"
    assert job.code == "mkdir -p RESULT/\n(\necho hi; echo r > r.txt\n) > STDOUT\nmv STDOUT RESULT/\nmv r.txt RESULT/\n"


def test_redirect_target_with_an_expansion_is_an_error():
    with pytest.raises(UsageError, match="contains an expansion; use -cp"):
        prepare(["echo x > $OUT"])


def test_unsafe_target_names_are_shell_quoted():
    job = prepare(["echo x > 'my out.txt'"])
    assert job.code == "mkdir -p RESULT/\necho x > 'my out.txt'\nmv 'my out.txt' RESULT/\n"


@pytest.mark.parametrize(
    "command",
    ["echo $((1 + (2 * 3))) > o.txt", "[[ -n x ]] && echo y > o.txt", "time echo y > o.txt"],
)
def test_constructs_bashlex_cannot_parse_are_masked_not_refused(command):
    job = prepare([command])
    assert targets_of(job) == [("o.txt", "o.txt")]
    assert job.code == f"mkdir -p RESULT/\n{command}\nmv o.txt RESULT/\n"


def test_redirect_into_a_sibling_whose_name_starts_with_the_capture_is_its_own_target():
    job = prepare(["mkdir -p ws ws2; echo x > ws2/o.txt"], RunOptions(captures=["ws"]))
    assert targets_of(job) == [("ws", "ws"), ("ws2/o.txt", "ws2/o.txt")]


def test_absolute_target_in_a_sibling_whose_name_starts_with_the_cwd_is_outside():
    sibling = f"{os.getcwd()}2/o.txt"
    with pytest.raises(UsageError, match="is an absolute path outside the current directory"):
        prepare([f"echo x > {sibling}"])


@pytest.mark.parametrize("words, options", [
    (["echo x > ../o.txt"], {}),
    (["echo x > sub/../../o.txt"], {}),
    (["true"], {"captures": [".."]}),
    (["true"], {"captures": ["o.txt:../o.txt"]}),
])
def test_a_relative_target_above_the_cwd_is_an_error(words, options):
    with pytest.raises(UsageError, match="is not inside the current directory"):
        prepare(words, RunOptions(**options))


def test_a_capture_after_the_stdout_capture_is_kept():
    job = prepare(["echo hi; echo x > o.txt"], RunOptions(captures=[":log.txt", "o.txt"]))
    assert targets_of(job) == [("STDOUT", "log.txt"), ("o.txt", "o.txt")]


def test_a_redirect_after_a_device_redirect_is_a_target():
    job = prepare(["echo x > /dev/null > o.txt"])
    assert targets_of(job) == [("o.txt", "o.txt")]


def test_a_redirect_inside_a_capture_listed_after_the_stdout_capture_is_not_captured_twice():
    job = prepare(["mkdir -p outdir; echo x > outdir/a.txt"], RunOptions(captures=[":log.txt", "outdir"]))
    assert targets_of(job) == [("STDOUT", "log.txt"), ("outdir", "outdir")]


def test_a_redirect_after_one_a_capture_already_covers_is_still_a_target():
    job = prepare(["echo x > a.txt > b.txt"], RunOptions(captures=["a.txt"]))
    assert targets_of(job) == [("a.txt", "a.txt"), ("b.txt", "b.txt")]


def test_a_redirect_after_one_to_dev_null_is_still_a_target():
    job = prepare(["echo x > /dev/null > b.txt"])
    assert targets_of(job) == [("b.txt", "b.txt")]
