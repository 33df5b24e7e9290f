"""`$'...'` (ANSI-C quoting) and `$"..."` (a string for translation) are quoted words, as in bash:
their value names an input, and a rewrite replaces the whole word, `$` included."""

import subprocess
from pathlib import Path

import pytest

from seamless_transformer.bashrun.prepare import RunOptions, prepare
from seamless_transformer.bashrun.tsbash import unquote


@pytest.fixture(autouse=True)
def data():
    Path("data").mkdir()
    Path("data/a.txt").write_text("a\n")


def prepared(command: str):
    return prepare([command], RunOptions(single=True))


@pytest.mark.parametrize("word", [
    "$'a.txt'", "$'it\\'s'", "$'\\x61\\101\\u00e9\\t\\e\\cA\\\\'", "$'\\U0001F600'", "x$'\\n'y", "'$x'$'b'",
    "\"$'x'\"", "$'\\0'z", "$\"a.txt\"", "x$\"b\"",
])  # fmt: skip
def test_a_word_has_the_value_bash_gives_it(word):
    printed = subprocess.run(["bash", "-c", "printf %s " + word], capture_output=True).stdout.decode()
    assert unquote(word) == printed


@pytest.mark.parametrize("command", ["cat $'data/a.txt'", "cat $'data/\\x61.txt'", "cat $\"data/a.txt\""])
def test_a_file_named_by_a_dollar_quoted_word_is_an_input(command):
    assert sorted(prepared(command).inputs) == ["data/a.txt"]


@pytest.mark.parametrize("word", ["$\"./data/a.txt\"", "$'./data/a.txt'"])
def test_a_rewrite_replaces_the_dollar_quoted_word_with_its_dollar(word):
    assert prepared(f"cat {word}").command == "cat data/a.txt"


def test_a_dollar_quoted_redirect_target_is_a_target():
    assert [target.local for target in prepared("echo x > $\"o.txt\"").targets] == ["o.txt"]
