"""bashparse.analyse: the memoized analysis of a command string."""

import json
import os
import subprocess
import sys

import pytest

from seamless_transformer.errors import UsageError
from seamless_transformer.bashrun.bashparse import _analysis_from_parse, _memo_path, analyse

TEXT = "paste data/b.txt data/a.txt | awk '{print $2}' > out.txt"


def values(analysis):
    return [[(aw.word.value, aw.word.start, aw.word.end, aw.index, aw.role) for aw in words] for words in analysis.commands]


def test_the_analysis_is_memoized_under_the_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    analyse(TEXT)
    path = _memo_path(TEXT)
    assert path.startswith(str(tmp_path / "cache" / "seamless" / "cmdparse") + os.sep)
    assert json.loads(open(path).read())["text"] == TEXT


def test_a_memoized_analysis_equals_a_fresh_parse():
    first = analyse(TEXT)
    second = analyse(TEXT)
    fresh = _analysis_from_parse(TEXT)
    assert values(first) == values(second) == values(fresh)
    assert [(r.kind, r.fd, r.target.value) for r in second.redirects] == [(">", None, "out.txt")]


def test_a_corrupt_memo_entry_is_parsed_again_and_rewritten():
    analyse(TEXT)
    path = _memo_path(TEXT)
    with open(path, "w") as handle:
        handle.write("{not json")
    assert values(analyse(TEXT)) == values(_analysis_from_parse(TEXT))
    assert json.loads(open(path).read())["text"] == TEXT


def test_an_unparseable_command_is_an_error_and_is_not_memoized():
    with pytest.raises(UsageError, match="^cannot parse command: "):
        analyse('echo "open')
    assert not os.path.exists(_memo_path('echo "open'))


def test_words_in_shlex_quote_form_are_unquoted():
    analysis = analyse("cat 'it'\"'\"'s.txt' \"a b\" c\\ d")
    assert [aw.word.value for aw in analysis.commands[0]] == ["cat", "it's.txt", "a b", "c d"]


def test_a_memoized_analysis_does_not_import_the_parser():
    code = (
        "import sys; from seamless_transformer.bashrun.bashparse import analyse; "
        f"analyse({TEXT!r}); print('tree_sitter' in sys.modules)"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (first.stdout, second.stdout) == ("True\n", "False\n")
