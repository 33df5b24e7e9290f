"""What seamless-run reads from a bash command line, parsed with tree-sitter-bash (tsbash).

* `parse_commands(text)`: the top-level commands (the parts between `;`, `&&`, `||`, newlines).
* `analysed_words(command)`: the words argtyping looks at, for the primary command and its pipeline.
* `output_redirects(command)`: the stdout redirects of the last command (or of a top-level compound).
* `nested_words(command)`: every other word of a top-level command (after a redirection, inside
  subshells, `{ }`, loops, `$( )`, `<( )`, here-strings), which argtyping treats leniently.
* `written_targets(nodes)`: the target of every output redirect of the line (never an input).
* `analyse(text)`: all of the above as plain data, memoized on disk (see below).
Positions are offsets into the parsed text, so words can be rewritten right to left.

The memo: what seamless-run needs from a parse is a pure function of the command string, and
importing and running the parser costs more than everything else on a cache hit. `analyse(text)`
keeps the result as JSON in ${XDG_CACHE_HOME:-~/.cache}/seamless/cmdparse/<sha256(text)>.json
(atomic writes; a missing, unreadable or corrupt entry is simply parsed again). Bump
ANALYSIS_VERSION whenever the analysis below changes what it returns.
"""

import os
import re
from .._util import record_class as dataclass

from ..errors import UsageError

OUTPUT_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", ">&"})


@dataclass
class Word:
    """A word node: its unquoted value, its source span, and whether it holds expansions."""

    value: str
    start: int
    end: int
    expands: bool = False
    tilde: bool = False  # starts with an unquoted `~` (a quoted one is a plain character)

    def source(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass
class AnalysedWord:
    word: Word
    index: int  # 1-based over the analysed pipeline, the command word included
    role: str  # "command" | "argument" | "input" (target of `< F`)


@dataclass
class Redirect:
    kind: str  # bash operator, e.g. ">" or "&>>"
    fd: int | None
    target: Word | None  # None for fd duplications and closes


def _word(node) -> Word:
    parts = getattr(node, "parts", None) or []
    expands = any(part.kind != "tilde" for part in parts)  # `~` is expanded by argtyping itself
    tilde = any(part.kind == "tilde" for part in parts)
    return Word(node.word, node.pos[0], node.pos[1], expands=expands, tilde=tilde)


def parse_commands(text: str) -> list:
    """Parse `text` (tree-sitter-bash, see tsbash) and return its top-level command nodes, in order."""
    from .tsbash import parse

    try:
        nodes = parse(text)
    except ValueError as exc:
        raise UsageError(f"cannot parse command: {exc}") from None
    commands = []
    for node in nodes:
        _flatten(node, commands)
    if not commands:
        raise UsageError("no command given")
    return commands


def _flatten(node, out: list) -> None:
    if node.kind == "list":
        for part in node.parts:
            if part.kind != "operator":
                _flatten(part, out)
    else:
        out.append(node)


def _simple_commands(node) -> list:
    """The simple commands of a pipeline (or the command itself); compounds give none."""
    if node.kind == "pipeline":
        return [part for part in node.parts if part.kind == "command"]
    if node.kind == "command":
        return [node]
    return []


def analysed_words(node) -> list[AnalysedWord]:
    """Words before each command's first redirection, plus `< F` targets."""
    result: list[AnalysedWord] = []
    index = 0
    for command in _simple_commands(node):
        first = True
        redirected = False
        inputs = []
        for part in command.parts:
            if part.kind == "redirect":
                redirected = True
                if part.type == "<" and getattr(part.output, "kind", None) == "word":
                    inputs.append(_word(part.output))
                continue
            if part.kind != "word" or redirected:
                continue
            index += 1
            result.append(AnalysedWord(_word(part), index, "command" if first else "argument"))
            first = False
        for word in inputs:
            index += 1
            result.append(AnalysedWord(word, index, "input"))
    return result


class _Walk:
    """Collects every word of a node (roles as in analysed_words, index 0) and every output target."""

    def __init__(self, text: str = ""):
        self.text = text
        self.words: list[AnalysedWord] = []
        self.written: list[Word] = []

    def node(self, node) -> None:
        kind = node.kind
        if kind == "command":
            self.command(node)
        elif kind == "word":
            self.word(node, "argument")
        elif kind == "redirect":
            self.redirect(node)
        elif kind == "function":
            self.node(node.body)  # the name is not a path
        else:
            skip = None
            children = list(getattr(node, "parts", None) or getattr(node, "list", None) or [])
            for position, child in enumerate(children):
                if kind == "for" and child.kind == "reservedword" and child.word == "for":
                    skip = position + 1  # the loop variable
                if position != skip:
                    self.node(child)
            for redirect in getattr(node, "redirects", None) or []:
                self.redirect(redirect)

    def command(self, node) -> None:
        first = True
        for part in node.parts:
            if part.kind == "word":
                self.word(part, "command" if first else "argument")
                first = False
            elif part.kind == "redirect":
                self.redirect(part)
            elif part.kind == "assignment":
                self.substitutions(part)

    def word(self, node, role: str) -> None:
        word = _word(node)
        self.words.append(AnalysedWord(word, 0, role))
        self.substitutions(node)

    def heredoc(self, node) -> None:
        """`$( )` in the body of a here-document with an unquoted delimiter (parsed with the line)."""
        for command in node.heredoc or []:
            self.node(command)

    def substitutions(self, node) -> None:
        for part in getattr(node, "parts", None) or []:
            if part.kind in ("commandsubstitution", "processsubstitution"):
                self.node(part.command)

    def redirect(self, node) -> None:
        output = node.output
        if getattr(output, "kind", None) != "word":
            return  # fd duplications and closes
        if node.type in ("<<", "<<-"):
            self.heredoc(node)
            return
        if node.type in ("<", "<<<"):
            self.word(output, "input" if node.type == "<" else "argument")
            return
        self.substitutions(output)
        if node.type in OUTPUT_REDIRECTS or node.type == "<>":
            target = _word(output)
            if not (node.type == ">&" and (target.value.isdigit() or target.value == "-")):
                self.written.append(target)


def nested_words(node, text: str = "") -> list[AnalysedWord]:
    """The words of a top-level command that analysed_words leaves out (index 0), which argtyping treats leniently."""
    strict = {(aw.word.start, aw.word.end) for aw in analysed_words(node)}
    walk = _Walk(text)
    walk.node(node)
    return [aw for aw in walk.words if (aw.word.start, aw.word.end) not in strict]


def written_targets(nodes, text: str = "") -> list[Word]:
    """The target words of every output redirect in the line, any fd (`> f`, `2>> log`, `&> f`)."""
    walk = _Walk(text)
    for node in nodes:
        walk.node(node)
    return walk.written


def _redirects_of(node) -> list:
    if node.kind == "pipeline":
        commands = _simple_commands(node)
        return _redirects_of(commands[-1]) if commands else []
    if node.kind == "command":
        return [part for part in node.parts if part.kind == "redirect"]
    if node.kind == "compound":
        return list(getattr(node, "redirects", None) or [])
    return []


def output_redirects(node) -> list[Redirect]:
    """The stdout-to-file redirects of `node` (the last command): fd 2, dups and closes are dropped."""
    result = []
    for redirect in _redirects_of(node):
        if redirect.type not in OUTPUT_REDIRECTS:
            continue
        fd = redirect.input if isinstance(redirect.input, int) else None
        if fd not in (None, 1):
            continue
        output = redirect.output
        if getattr(output, "kind", None) != "word":
            continue  # `>&2`, `1>&2`, `>&-`
        target = _word(output)
        if redirect.type == ">&" and (target.value.isdigit() or target.value == "-"):
            continue
        result.append(Redirect(redirect.type, fd, target))
    return result


def has_unquoted_glob(source: str) -> bool:
    """True if the source text of a word has a `*`, `?` or `[` outside quotes."""
    quote = None
    escaped = False
    for char in source:
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "*?[":
            return True
    return False


# ---------------------------------------------------------------- memoized analysis

ANALYSIS_VERSION = 6


@dataclass
class Analysis:
    """What seamless-run reads from a command string: analysed words per top-level command,
    the output redirects of the last one, the other words, and what the line writes."""

    commands: list  # [[AnalysedWord, ...] per top-level command]
    redirects: list  # [Redirect] of the last command
    nested: list  # [[AnalysedWord, ...] per top-level command]: the words `commands` leaves out
    written: list  # [Word]: every output redirect target of the line


def _unquoted(word: Word, text: str) -> Word:
    """Quote removal from the source text, where the parser left a word partly quoted."""
    source = word.source(text)
    if word.expands or not any(char in word.value for char in "'\"") or "$'" in source or '$"' in source:
        return word  # the parser did remove the quotes (or there were none); shlex knows no `$'...'`
    import shlex

    try:
        parts = shlex.split(source)
    except ValueError:
        return word
    if len(parts) == 1:
        word.value = parts[0]
    return word


def _analysis_from_parse(text: str) -> Analysis:
    try:
        return analysis_of(text, parse_commands(text))
    except RecursionError:  # hundreds of levels of `$( )`, `{ }` or `if` inside each other
        raise UsageError("cannot parse command: it nests too deeply") from None


def analysis_of(text: str, commands: list) -> Analysis:
    """The analysis of `text` from its top-level command nodes (as parse_commands returns them)."""
    analysed = [analysed_words(command) for command in commands]
    redirects = output_redirects(commands[-1])
    nested = [nested_words(command, text) for command in commands]
    written = written_targets(commands, text)
    for words in analysed + nested:
        for aw in words:
            _unquoted(aw.word, text)
    for word in [redirect.target for redirect in redirects] + written:
        _unquoted(word, text)
    return Analysis(analysed, redirects, nested, written)


def _word_data(word: Word) -> list:
    return [word.value, word.start, word.end, word.expands, word.tilde]


def _words_data(lists) -> list:
    return [[[_word_data(aw.word), aw.index, aw.role] for aw in words] for words in lists]


def _words_from_data(lists) -> list:
    return [[AnalysedWord(Word(*word), index, role) for word, index, role in words] for words in lists]


def _to_json(text: str, analysis: Analysis) -> dict:
    return {
        "version": ANALYSIS_VERSION,
        "text": text,
        "commands": _words_data(analysis.commands),
        "redirects": [[r.kind, r.fd, _word_data(r.target)] for r in analysis.redirects],
        "nested": _words_data(analysis.nested),
        "written": [_word_data(word) for word in analysis.written],
    }


def _from_json(data: dict) -> Analysis:
    redirects = [Redirect(kind, fd, Word(*word)) for kind, fd, word in data["redirects"]]
    written = [Word(*word) for word in data["written"]]
    return Analysis(_words_from_data(data["commands"]), redirects, _words_from_data(data["nested"]), written)


def memo_dir() -> str:
    from ..config import cache_dir

    return cache_dir("cmdparse")


def _memo_path(text: str) -> str:
    import hashlib

    return os.path.join(memo_dir(), hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() + ".json")


def _memo_read(path: str, text: str) -> Analysis | None:
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("version") != ANALYSIS_VERSION or data.get("text") != text:
            return None
        return _from_json(data)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _memo_write(path: str, text: str, analysis: Analysis) -> None:
    """Write the entry through a temp file and a rename, without fsync: the memo is only a shortcut,
    and an entry a crash left empty or torn fails to load (or to match its text) and is parsed again."""
    import json

    from .._util import temp_name

    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        payload = json.dumps(_to_json(text, analysis), ensure_ascii=True)
        tmp = temp_name(path)
        with open(tmp, "wb") as handle:
            handle.write(payload.encode("ascii"))
        os.replace(tmp, path)
    except (OSError, ValueError):
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def analyse(text: str, *, memo: bool = True) -> Analysis:
    """The analysis of `text` (memoized). Unparseable text raises UsageError and is not memoized."""
    path = _memo_path(text) if memo else None
    if path is not None:
        found = _memo_read(path, text)
        if found is not None:
            return found
    analysis = _analysis_from_parse(text)
    if path is not None:
        _memo_write(path, text, analysis)
    return analysis
