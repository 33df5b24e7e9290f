"""Words of every command of the line name inputs, not only the primary command's."""

from pathlib import Path

import pytest

from seamless_transformer.errors import UsageError
from seamless_transformer.bashrun.prepare import RunOptions, prepare


@pytest.fixture
def data():
    Path("data").mkdir()
    Path("data/a.txt").write_text("a\n")
    Path("data/b.txt").write_text("b\n")


def inputs(command, **options):
    return sorted(prepare([command], RunOptions(**options)).inputs)


def test_a_file_after_and_and_in_a_pipeline_is_an_input(data):
    assert inputs("echo hi && cat data/a.txt | wc -l") == ["data/a.txt"]


def test_an_input_redirect_of_a_later_command_is_an_input(data):
    assert inputs("echo hi; cat < data/a.txt") == ["data/a.txt"]


def test_files_in_process_substitutions_are_inputs(data):
    assert inputs("diff <(sort data/a.txt) <(sort data/b.txt)") == ["data/a.txt", "data/b.txt"]


def test_files_in_a_here_string_and_its_command_substitution_are_inputs(data):
    assert inputs("wc -l <<< $(cat data/a.txt)") == ["data/a.txt"]
    assert inputs("while read f; do cat $f; done <<< data/b.txt") == ["data/b.txt"]


def test_files_in_subshells_braces_and_loops_are_inputs(data):
    assert inputs("(cat data/a.txt); { cat data/b.txt; }") == ["data/a.txt", "data/b.txt"]
    assert inputs("for f in data/a.txt; do cat $f; done") == ["data/a.txt"]


def test_a_file_in_a_command_substitution_of_the_primary_command_is_an_input(data):
    assert inputs('echo "$(cat data/a.txt)"') == ["data/a.txt"]


def test_a_word_after_a_redirection_is_an_input_when_it_exists(data):
    assert inputs("cat > o.txt data/a.txt") == ["data/a.txt"]


def test_missing_later_words_with_an_extension_are_left_alone(data):
    assert inputs("true; cat nope.txt; ls data/a.txt") == ["data/a.txt"]


def test_a_later_file_without_extension_is_an_input(data):
    Path("notes").write_text("n\n")
    assert inputs("true; cat notes") == ["notes"]


def test_what_the_line_writes_is_never_an_input(data):
    Path("out.txt").write_text("stale\n")
    assert inputs("sort data/a.txt > out.txt; cat out.txt") == ["data/a.txt"]


def test_an_fd2_redirect_target_is_never_an_input(data):
    Path("err.log").write_text("stale\n")
    assert inputs("ls data 2> err.log; cat err.log") == ["data"]


def test_a_capture_directory_and_its_contents_are_never_inputs():
    Path("outdir").mkdir()
    Path("outdir/old.txt").write_text("old\n")
    job = prepare(["mkdir -p outdir; cat outdir/old.txt > outdir/new.txt"], RunOptions(captures=["outdir"]))
    assert job.inputs == {}


def test_a_capture_target_named_by_the_primary_command_is_not_checked_by_rule_1():
    job = prepare(["touch", "new.txt"], RunOptions(captures=["new.txt"]))
    assert job.inputs == {}


def test_a_later_path_outside_the_working_directory_is_left_to_the_host(tmp_path):
    Path("sub").mkdir()
    Path(tmp_path / "outside.txt").write_text("x\n")
    job = prepare(["true; cat ../outside.txt /etc/hostname; ls /"], RunOptions(), cwd="sub")
    assert job.inputs == {}


def test_a_later_glob_stages_its_matches(data):
    assert inputs("true; cat data/*.txt") == ["data/a.txt", "data/b.txt"]


def test_a_later_executable_script_becomes_an_executable_pin(data):
    Path("run.sh").write_text("#!/bin/bash\necho run\n")
    job = prepare(["true; ./run.sh"])
    assert job.inputs["run.sh"].executable


def test_a_later_word_is_rewritten_to_its_pin_name(data):
    job = prepare(["true; cat ./data/a.txt"])
    assert job.command == "true; cat data/a.txt"


def test_a_later_word_differing_from_its_sidecar_is_an_error(data):
    Path("data/a.txt.CHECKSUM").write_text("0" * 64 + "\n")
    with pytest.raises(UsageError, match="^argument 'data/a.txt' differs from data/a.txt.CHECKSUM"):
        prepare(["true; cat data/a.txt"])


def test_a_later_sidecar_only_file_is_an_input():
    Path("gone.txt.CHECKSUM").write_text("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n")
    assert inputs("true; cat gone.txt") == ["gone.txt"]


def test_with_primary_2_the_first_command_is_lenient(data):
    assert inputs("cat data/a.txt nope.txt; cat data/b.txt", primary=2) == ["data/a.txt", "data/b.txt"]


def test_the_loop_variable_and_a_function_name_are_not_inputs(data):
    Path("f").write_text("f\n")
    assert inputs("for f in x; do echo $f; done; f() { true; }") == []


def test_a_file_inside_a_directory_input_is_not_staged_twice(data):
    assert inputs("cat data/a.txt; ls data") == ["data"]


def test_a_metafile_named_by_the_command_is_staged_once_as_the_metafile():
    Path("m.txt").write_text("meta\n")
    job = prepare(["true; cat m.txt"], RunOptions(metafiles=["m.txt"]))
    assert sorted(job.inputs) == ["META__FILE__m.txt"]


def test_a_file_in_a_command_substitution_of_a_here_document_is_an_input(data):
    assert inputs("cat <<EOF\nfirst: $(head -n 1 data/a.txt) $(wc -l < data/b.txt)\nEOF\n") == ["data/a.txt", "data/b.txt"]


def test_a_word_in_a_here_document_substitution_is_rewritten_in_place(data):
    job = prepare(["cat <<EOF\n$(cat ./data/a.txt)\nEOF\n"], RunOptions(mapping="strip"))
    assert job.command == "cat <<EOF\n$(cat a.txt)\nEOF\n"


@pytest.mark.parametrize("command", [
    "[[ $(cat data/a.txt) == a ]] && echo y",
    "[[ -n \"$(cat data/a.txt)\" ]] && echo y",
    "(( $(wc -l < data/a.txt) > 0 )) && echo y",
    "for ((i = $(wc -l < data/a.txt); i > 0; i--)); do echo $i; done",
    "case a in $(cat data/a.txt)) echo y;; esac",
    "case a in b|$(cat data/a.txt)) echo y;; esac",
])  # fmt: skip
def test_a_file_in_a_substitution_inside_a_test_arithmetic_or_case_pattern_is_an_input(data, command):
    assert inputs(command) == ["data/a.txt"]
