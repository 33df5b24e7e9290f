"""Words reach the job as the user typed them: quoting, spaces, leading dashes, `~` (issue 11)."""

from pathlib import Path

import pytest

from seamless_transformer.errors import UsageError
from seamless_transformer.bashrun.bashcode import build_command_string, generate_code
from seamless_transformer.bashrun.prepare import RunOptions, prepare


# -- several argv words are joined with shell quoting where a word needs it -------------------


def test_a_word_with_parentheses_is_quoted():
    assert build_command_string(["python3", "-c", "print(2)"]) == "python3 -c 'print(2)'"


def test_a_word_with_a_semicolon_is_quoted():
    assert build_command_string(["echo", "x;y"]) == "echo 'x;y'"


def test_words_with_dollar_glob_and_backslash_are_quoted():
    assert build_command_string(["echo", "$HOME", "*", "a\\b"]) == "echo '$HOME' '*' 'a\\b'"


def test_words_that_need_no_quoting_stay_as_they_are():
    assert build_command_string(["wc", "-l", "fruit.txt", "a=b,c:d@e%f+g"]) == "wc -l fruit.txt a=b,c:d@e%f+g"


@pytest.mark.parametrize("operator", ["|", "||", "&&", ";", "&", "<", ">", ">>", "2>", "&>", "2>&1", ">&2", "|&"])
def test_a_word_that_is_exactly_an_operator_is_kept(operator):
    assert build_command_string(["a", operator, "b"]) == f"a {operator} b"


def test_one_argument_is_used_verbatim():
    assert build_command_string(["echo 'x;y' | wc"]) == "echo 'x;y' | wc"


# -- words with whitespace or parentheses name files -----------------------------------------


def test_an_existing_file_with_a_space_is_an_input():
    Path("my fruit.txt").write_text("apple\n")
    job = prepare(["wc", "-l", "my fruit.txt"])
    assert list(job.inputs) == ["my fruit.txt"]
    assert job.command == "wc -l 'my fruit.txt'"


def test_an_existing_file_with_a_space_and_no_extension_is_an_input():
    Path("my notes").write_text("n\n")
    assert list(prepare(["cat", "my notes"]).inputs) == ["my notes"]


def test_an_existing_file_with_parentheses_is_an_input():
    Path("report(1).txt").write_text("r\n")
    assert list(prepare(["cat", "report(1).txt"]).inputs) == ["report(1).txt"]


def test_a_sentence_naming_no_file_is_a_value():
    assert prepare(["echo", "see notes.txt"]).inputs == {}


def test_a_missing_file_with_an_extension_is_refused_by_rule_1_with_its_reason():
    with pytest.raises(UsageError, match=r"^argument #2 'nope\.txt' has an extension, so it must be an existing file"):
        prepare(["cat", "nope.txt"])


# -- a rewritten word never starts with '-' where the typed word did not ---------------------


def test_a_dot_slash_dash_file_keeps_its_dot_slash():
    Path("-n.txt").write_text("hello\n")
    job = prepare(["cat", "./-n.txt"])
    assert list(job.inputs) == ["-n.txt"]
    assert job.command == "cat ./-n.txt"


def test_a_dash_pin_under_strip_mapping_gets_a_dot_slash():
    Path("d").mkdir()
    Path("d/-n.txt").write_text("hello\n")
    assert prepare(["cat", "d/-n.txt"], RunOptions(mapping="strip")).command == "cat ./-n.txt"


def test_dash_glob_matches_under_strip_mapping_get_a_dot_slash():
    Path("d").mkdir()
    Path("d/-n.txt").write_text("hello\n")
    assert prepare(["cat d/*.txt"], RunOptions(mapping="strip")).command == "cat ./-n.txt"


def test_a_dash_result_is_moved_with_a_dot_slash():
    code = generate_code("echo hi > -n.txt", targets=["-n.txt"])
    assert "mv ./-n.txt RESULT/\n" in code


def test_a_dash_executable_is_made_executable_with_a_dot_slash():
    assert "chmod +x './-x.sh'\n" in generate_code("./-x.sh", executables=["-x.sh"])


def test_an_absolute_dash_redirect_target_is_rewritten_with_a_dot_slash():
    job = prepare([f"echo hi > {Path.cwd()}/-n.txt"])
    assert job.command == "echo hi > ./-n.txt"


# -- `~` ------------------------------------------------------------------------------------


def test_a_quoted_tilde_is_a_value():
    assert prepare(["echo", "~"]).inputs == {}


@pytest.mark.parametrize("name", ["echo", "if", "time", "test", "a=b.sh", "x+=1"])
@pytest.mark.parametrize("line", ["./{} hi", "true && ./{} | cat"])
def test_an_executable_named_like_a_builtin_keyword_or_assignment_keeps_its_dot_slash(name, line):
    Path(name).write_text("#!/bin/bash\necho script-ran\n")
    command = prepare([line.format(name)], RunOptions(single=True)).command
    assert command == line.format(name)
