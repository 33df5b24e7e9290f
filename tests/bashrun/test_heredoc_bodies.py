"""Files named by `$( )` and backquotes in a here-document body are inputs wherever bash runs them.

tree-sitter-bash misses some of them (after leading blanks, in `<<-` bodies, in backquotes, in a
body that starts with a backslash); the body is read the way bash reads it instead.
"""

import subprocess
from pathlib import Path

import pytest

from seamless_transformer.bashrun.prepare import RunOptions, prepare
from seamless_transformer.errors import UsageError


@pytest.fixture(autouse=True)
def data():
    Path("data").mkdir()
    Path("data/a.txt").write_text("a\n")
    Path("data/b.txt").write_text("b\n")


def inputs(command: str) -> list:
    return sorted(prepare([command], RunOptions(single=True)).inputs)


@pytest.mark.parametrize("body", [
    "  $(cat data/a.txt)",
    "x\n  $(cat data/a.txt)",
    "`cat data/a.txt`",
    "x `cat data/a.txt` y",
    "\\$x $(cat data/a.txt)",
    "\\t(x) $(cat data/a.txt)",
    "\\\\$(cat data/a.txt)",
    "it's \"$(cat data/a.txt)\"",
    "$(cat data/a.txt\n  data/a.txt)",
    "${x:-`cat data/a.txt`}",
    "$((1 + $(cat data/a.txt | wc -l)))",
    "$(echo ')'; cat data/a.txt)",
])  # fmt: skip
def test_a_file_in_a_substitution_of_a_here_document_body_is_an_input(body):
    assert inputs(f"cat <<EOF\n{body}\nEOF") == ["data/a.txt"]


@pytest.mark.parametrize("body", ["\t$(cat data/a.txt)", "\t\t`cat data/a.txt`", "x\n\t$(cat data/a.txt)"])
def test_a_file_in_a_substitution_of_a_tab_stripped_body_is_an_input(body):
    assert inputs(f"cat <<-EOF\n{body}\n\tEOF") == ["data/a.txt"]


@pytest.mark.parametrize("body", ["\\$(cat data/a.txt)", "\\`cat data/a.txt\\`"])
def test_an_escaped_substitution_in_a_body_is_text(body):
    command = f"cat <<EOF\n{body}\nEOF"
    assert subprocess.run(["bash", "-c", command], capture_output=True, text=True).stdout == body.replace("\\", "") + "\n"
    assert inputs(command) == []


def test_a_body_with_a_quoted_delimiter_is_text():
    assert inputs("cat <<'EOF'\n  $(cat data/a.txt) `cat data/b.txt`\nEOF") == []


def test_a_word_after_the_operator_is_an_argument_of_the_command():
    assert inputs("cat <<EOF data/a.txt\n$(cat data/b.txt)\nEOF") == ["data/a.txt", "data/b.txt"]


def test_a_word_after_the_operator_of_a_compound_is_refused_as_bash_refuses_it():
    command = "{ cat; } <<EOF data/a.txt\nx\nEOF"
    assert subprocess.run(["bash", "-n", "-c", command], capture_output=True).returncode != 0
    with pytest.raises(UsageError, match="^cannot parse command: syntax error near 'data/a.txt'"):
        inputs(command)


def test_a_word_in_a_body_substitution_is_rewritten_in_place_after_non_ascii_text():
    command = "cat <<EOF\né ü  $(cat ./data/a.txt) `cat ./data/b.txt` ß\nEOF"
    prepared = prepare([command], RunOptions(single=True))
    assert prepared.command == "cat <<EOF\né ü  $(cat data/a.txt) `cat data/b.txt` ß\nEOF"


@pytest.mark.parametrize("body", ["$(cat data/a.txt", "`cat data/a.txt", "$(fi)"])
def test_a_broken_substitution_in_a_body_is_refused(body):
    with pytest.raises(UsageError, match="^cannot parse command: syntax error near "):
        inputs(f"cat <<EOF\n{body}\nEOF")
