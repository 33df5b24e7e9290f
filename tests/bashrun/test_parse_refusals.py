"""Lines bash refuses are refused, with one line, before any checksum is made; lines bash runs
are not refused for their length or for a long chain of commands.

tree-sitter accepts some lines bash will not run (a closing reserved word where a command starts,
an empty body, `;;` outside `case`); each case below is checked against `bash -n` first.
"""

import subprocess
from pathlib import Path

import pytest

from seamless_transformer.bashrun.prepare import RunOptions, prepare
from seamless_transformer.cli._common import run_main
from seamless_transformer.cli.run import PROG, body
from seamless_transformer.errors import UsageError

REFUSED_BY_BASH = [
    "fi", "done", "then", "else echo", "esac", "in", "}", "]]", "elif", "do echo",
    "echo a; fi", "echo a | done", "echo a && esac", "echo a\n fi", "(fi)", "echo $(done)", "cat <(done)",
    "! fi", "time fi", "time -p done",
    "fi() { echo; }",
    "{ }", "f() { }", "if true; then fi", "while true; do done",
    "echo a ;;", "(echo a;;)", "{ echo a;; }", "case x in x) echo;; esac;;",
    "coproc", "coproc then", "! while", "time ]] cat", "} { cat", "echo a >\nb", "cat < 2>&1",
]  # fmt: skip

RUN_BY_BASH = [
    "echo fi done esac", "x=1 fi", "fi=1", "function fi { echo; }", "time", "time echo fi", "coproc x",
    "case x in x) ;; esac", "case x in x) echo a;& y) echo b;;& *) ;; esac",
    "if true; then :; elif true; then :; else :; fi", "if true; then # c\n :; fi", "{ # c\n :; }",
    "'fi'", "\\fi",
    "time { cat a.txt; }", "time -p { cat; }", "coproc { cat; }", "coproc x { cat; }", "time if true; then :; fi",
    "time case x in x) ;; esac", "echo a >\\\nb", "echo 2 >&1", "exec 3<&0 4>&1",
]  # fmt: skip


def bash_accepts(command: str) -> bool:
    return subprocess.run(["bash", "-n", "-c", command], capture_output=True).returncode == 0


@pytest.mark.parametrize("command", REFUSED_BY_BASH)
def test_a_line_bash_refuses_is_refused(command):
    assert not bash_accepts(command)
    with pytest.raises(UsageError, match="^cannot parse command: syntax error near "):
        prepare([command], RunOptions(single=True))


@pytest.mark.parametrize("command", RUN_BY_BASH)
def test_reserved_words_where_bash_takes_them_as_words_are_accepted(command):
    assert bash_accepts(command)
    prepare([command], RunOptions(single=True))


def test_a_chain_of_thousands_of_and_or_commands_is_parsed_and_names_its_inputs():
    Path("a.txt").write_text("a\n")
    Path("b.txt").write_text("b\n")
    command = "true" + " && cat a.txt || true" * 3000 + " && cat b.txt"
    assert sorted(prepare([command], RunOptions(single=True)).inputs) == ["a.txt", "b.txt"]


@pytest.mark.parametrize("command", [
    "echo " + "$(" * 1000 + "x" + ")" * 1000,
    "{ " * 1000 + "x" + "; }" * 1000,
    "if true; then " * 1000 + "x" + "; fi" * 1000,
])  # fmt: skip
def test_a_line_nested_too_deeply_is_one_usage_error_exit_2(capsys, command):
    assert run_main(PROG, body, ["--dry", command]) == 2
    assert capsys.readouterr().err == "seamless-run: error: cannot parse command: it nests too deeply\n"


@pytest.mark.parametrize("command", ["cat a.txt\r", "cat\ra.txt", "cat a.txt\r\ncat b.txt", "cat\va.txt",
                                     "cat\fa.txt", "cat <<EOF\n$(cat a.txt\r)\nEOF"])
def test_a_carriage_return_vertical_tab_or_form_feed_between_words_is_refused(command):
    line = command.split("\n")[-2 if "<<" in command else 0].replace("$(", "").replace(")", "")
    words = subprocess.run(["bash", "-c", "printf '%s|' " + line], capture_output=True).stdout
    assert any(blank in words for blank in (b"\r", b"\v", b"\f"))  # bash keeps it in a word
    with pytest.raises(UsageError, match="^cannot parse command: a .* is outside quotes: bash would make it part of a word$"):
        prepare([command], RunOptions(single=True))


@pytest.mark.parametrize("command", ["echo 'a\rb' \"c\rd\"", "echo a # note\r", "cat <<EOF\nx\r\nEOF"])
def test_a_carriage_return_in_quotes_a_comment_or_a_body_is_text(command):
    prepare([command], RunOptions(single=True))


@pytest.mark.parametrize("command", ["time { cat a.txt; }", "time -p if true; then cat a.txt; fi", "coproc { cat a.txt; }"])
def test_a_compound_after_time_or_coproc_names_its_inputs(command):
    Path("a.txt").write_text("a\n")
    assert sorted(prepare([command], RunOptions(single=True)).inputs) == ["a.txt"]
