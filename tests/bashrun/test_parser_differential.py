"""The tree-sitter parser against the bashlex one it replaced, on a corpus of command lines.

bashlex (a test-only dependency now) parses each line of tests/bashrun/bash_corpus.txt the way
seamless-run did before: on failure, with `$((...))`, `[[ ... ]]` and `time` masked, and `$( )`
in here-documents parsed on its own. Both trees go through the same analysis, and the results
argtyping reads (words, positions, roles, expansion flags, redirects, written targets) must be
equal. Lines bashlex cannot parse at all are checked against plain bash in test_bash_semantics.
"""

import os
import re

import pytest

from seamless_transformer.bashrun import bashparse
from seamless_transformer.errors import UsageError

HERE = os.path.dirname(os.path.abspath(__file__))


def corpus() -> list:
    with open(os.path.join(HERE, "bash_corpus.txt"), encoding="utf-8") as handle:
        text = handle.read()
    entries = text.split("\n%%\n")[1:]
    entries[-1] = entries[-1].rstrip("\n")
    return entries


# ---------------------------------------------------------------- the old parser (bashlex)

_TIME_KEYWORD = r"(^|[;&|(\n])(\s*)time(?=\s)"
_DOUBLE_BRACKET = r"(?s)(^|[;&|(\s])\[\[\s.*?\s\]\](?=$|[;&|)\s])"


def _arithmetic_end(text: str, start: int) -> int:
    depth = 0
    for pos in range(start + 1, len(text)):
        if text[pos] == "(":
            depth += 1
        elif text[pos] == ")":
            depth -= 1
            if depth == 0:
                return pos + 1
    return -1


def _mask(text: str) -> str:
    start = text.find("$((")
    while start >= 0:
        end = _arithmetic_end(text, start)
        if end < 0:
            break
        text = text[:start] + "$" + "_" * (end - start - 1) + text[end:]
        start = text.find("$((", end)
    text = re.sub(_DOUBLE_BRACKET, lambda m: m.group(1) + "true".ljust(len(m.group(0)) - len(m.group(1))), text)
    return re.sub(_TIME_KEYWORD, lambda m: m.group(1) + m.group(2) + "    ", text)


def _shift(node, offset: int) -> None:
    """Add `offset` to every position under a bashlex node."""
    if hasattr(node, "pos"):
        node.pos = (node.pos[0] + offset, node.pos[1] + offset)
    for name in ("parts", "list", "redirects"):
        for child in getattr(node, name, None) or []:
            _shift(child, offset)
    for name in ("command", "output", "body"):
        child = getattr(node, name, None)
        if child is not None and hasattr(child, "kind"):
            _shift(child, offset)


def _heredocs(node, text: str) -> None:
    """Give each `<<` redirect the `$( )` commands of its body, as tsbash does."""
    import bashlex

    for name in ("parts", "list", "redirects"):
        for child in getattr(node, name, None) or []:
            _heredocs(child, text)
    for name in ("command", "body"):
        child = getattr(node, name, None)
        if child is not None and hasattr(child, "kind"):
            _heredocs(child, text)
    if getattr(node, "kind", None) != "redirect" or node.type not in ("<<", "<<-"):
        return
    heredoc, commands = getattr(node, "heredoc", None), []
    delimiter = text[node.output.pos[0] : node.output.pos[1]]
    if heredoc is not None and not any(quote in delimiter for quote in "'\\\""):
        body, base = heredoc.value, heredoc.pos[0]
        start = body.find("$(")
        while start >= 0:
            end = _arithmetic_end(body, start)
            if end < 0:
                break
            for inner in bashlex.parse(body[start + 2 : end - 1]):
                _shift(inner, base + start + 2)
                commands.append(inner)
            start = body.find("$(", end)
    node.heredoc = commands


def old_commands(text: str) -> list:
    import bashlex

    try:
        nodes = bashlex.parse(text)
    except Exception:  # noqa: BLE001 - as the old parse_commands did
        masked = _mask(text)
        if masked == text:
            raise
        nodes = bashlex.parse(masked)
    commands = []
    for node in nodes:
        _heredocs(node, text)
        bashparse._flatten(node, commands)
    return commands


# ---------------------------------------------------------------- comparison


def _word(word) -> tuple:
    return (None if word.expands else word.value, word.start, word.end, word.expands, word.tilde)


def summary(analysis) -> dict:
    return {
        "commands": [[(_word(aw.word), aw.index, aw.role) for aw in words] for words in analysis.commands],
        "nested": [[(_word(aw.word), aw.role) for aw in words] for words in analysis.nested],
        "redirects": [(r.kind, r.fd, _word(r.target)) for r in analysis.redirects],
        "written": [_word(word) for word in analysis.written],
    }


def _old_or_none(text: str):
    try:
        return old_commands(text)
    except Exception:  # noqa: BLE001 - bashlex cannot parse it: compared against bash elsewhere
        return None


# bashlex got these wrong: `<<-` strips the tabs from the body it hands back, so the positions of
# the words of a `$( )` in it were one character early per tab (test_words_point_at_their_source);
# `$'...'` was an expansion, not a quoted word (test_quoted_words)
BASHLEX_WRONG = {"cat <<-EOF\n\tindented $(wc -l < b.txt)\n\tEOF", "echo $'tab\\there'"}
CORPUS = corpus()
COMPARED = [text for text in CORPUS if text not in BASHLEX_WRONG and _old_or_none(text) is not None]


def test_corpus_has_at_least_100_lines_bashlex_parses():
    assert len(COMPARED) >= 100


@pytest.mark.parametrize("text", COMPARED)
def test_new_parser_analyses_like_bashlex(text):
    old = summary(bashparse.analysis_of(text, old_commands(text)))
    new = summary(bashparse.analysis_of(text, bashparse.parse_commands(text)))
    assert new == old


@pytest.mark.parametrize("text", ["echo 'unterminated", "cat a.txt |", "( cat a.txt", "if true; then"])
def test_syntax_errors_are_usage_errors(text):
    with pytest.raises(UsageError, match="^cannot parse command: syntax error near "):
        bashparse.parse_commands(text)


def _all_words(analysis) -> list:
    words = [aw.word for group in analysis.commands + analysis.nested for aw in group]
    return words + [r.target for r in analysis.redirects] + list(analysis.written)


@pytest.mark.parametrize("text", CORPUS)
def test_words_point_at_their_source(text):
    analysis = bashparse.analysis_of(text, bashparse.parse_commands(text))
    for word in _all_words(analysis):
        source = text[word.start : word.end]
        if source.startswith("[["):
            assert word.value == "true"  # `[[ ... ]]` stands as `true`, as it always did
        elif not any(char in source for char in "'\"\\$`"):
            assert source == word.value


def _nested_values(text: str) -> list:
    analysis = bashparse.analysis_of(text, bashparse.parse_commands(text))
    return [(aw.word.value, aw.role) for group in analysis.nested for aw in group]


def test_case_bodies_are_read_and_patterns_are_not_words():
    text = "case $1 in *.txt) cat a.txt;; b.txt) wc -l < c.txt;; esac"
    assert _nested_values(text) == [("$1", "argument"), ("cat", "command"), ("a.txt", "argument"), ("wc", "command"),
                                    ("-l", "argument"), ("c.txt", "input")]


def test_case_output_redirect_is_written():
    analysis = bashparse.analysis_of("case x in x) sort a.txt > s.txt;; esac", bashparse.parse_commands(
        "case x in x) sort a.txt > s.txt;; esac"))
    assert [word.value for word in analysis.written] == ["s.txt"]


@pytest.mark.parametrize("quote", ["'EOF'", '"EOF"', "\\EOF"])
def test_quoted_heredoc_delimiter_leaves_its_body_as_text(quote):
    text = f"cat <<{quote} > out.txt\nhello $(cat a.txt)\nEOF"
    analysis = bashparse.analysis_of(text, bashparse.parse_commands(text))
    assert [value for value, _role in _nested_values(text)] == []
    assert [word.value for word in analysis.written] == ["out.txt"]


def test_unquoted_heredoc_substitution_is_read():
    text = "cat <<EOF | wc -l\n$(sort a.txt)\nEOF"
    assert ("a.txt", "argument") in _nested_values(text)


def test_process_substitution_words_are_read():
    assert ("b.txt", "argument") in _nested_values("diff a.txt <(sort b.txt)")


def test_line_continuation_joins_a_word():
    analysis = bashparse.analysis_of("cat a\\\n.txt", bashparse.parse_commands("cat a\\\n.txt"))
    assert [aw.word.value for aw in analysis.commands[0]] == ["cat", "a.txt"]
