"""A bash command line parsed with tree-sitter-bash, as the small node tree bashparse walks.

`parse(text)` returns the top-level statements as `Node`s of these kinds (positions are
character offsets into `text`):

* "command": `parts` = its words ("word"), assignments ("assignment") and redirects ("redirect"),
  in source order;
* "pipeline": `parts` = its elements; "list": `parts` = statements joined by `&&`/`||`;
* "compound": subshells, `{ }`, loops, `if`, `case`: `list` = the statements and words inside,
  `redirects` = the redirects of the whole compound;
* "function": `body`;
* "word": `word` (the value after quote removal), `pos`, `parts` (kind "tilde" for a leading
  unquoted `~`, "parameter" for any other expansion, "commandsubstitution" and
  "processsubstitution" with `command`);
* "redirect": `type` (the bash operator), `input` (fd or None), `output` (a word, or None for a
  close), `heredoc` (the commands of `$( )` in an unquoted here-document body).

It raises ValueError("syntax error near ...") where tree-sitter finds an error, and where it
accepts what bash refuses (see _check_syntax). The body of a here-document is read by our own scan
(_body_commands), since tree-sitter misses some of its substitutions. Where tree-sitter
departs from bash it is corrected here: a redirect after a pipeline or list belongs to its last
command; what follows a here-document operator on its line (`cat <<EOF | wc`) is the rest of the
pipeline or list, not part of the redirect. Two forms keep the shapes the line had before
tree-sitter was used, so transformation checksums stay the same: `time` before a command is
dropped, and `[[ ... ]]` stands as the command `true` (holding the `$( )` inside it).

Beyond the bashlex parser used before: `case ... esac` (the subject word and the bodies are read,
the patterns are not words, only their `$( )` are), here-documents with a quoted delimiter (the body
is text), `<<-` bodies (positions of the words in a `$( )` were one character early per leading tab),
`((...))`.
The grammar is pinned (pyproject): a different parse tree would change transformation checksums.
"""

import re

_PARSER = None

SUBSTITUTIONS = {"command_substitution": "commandsubstitution", "process_substitution": "processsubstitution"}
EXPANSIONS = frozenset({"simple_expansion", "expansion", "arithmetic_expansion", "command_substitution",
                        "process_substitution"})  # not `$'...'` and `$"..."`: quotes, decoded by unquote
REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
BLOCKS = frozenset({"do_group", "else_clause", "elif_clause", "case_item", "compound_statement", "subshell",
                    "for_statement", "c_style_for_statement", "while_statement", "if_statement",
                    "case_statement"})
DECLARATIONS = frozenset({"declaration_command", "unset_command"})
TEXT_NODES = frozenset({"word", "string", "string_content", "raw_string", "ansi_c_string", "translated_string",
                        "comment", "heredoc_body", "heredoc_content", "regex", "extglob_pattern"})
WORDS = frozenset({"word", "concatenation", "string", "raw_string", "simple_expansion", "expansion", "number",
                   "command_substitution", "process_substitution", "ansi_c_string", "translated_string"})
# words bash refuses where a command starts, though tree-sitter takes them for command names
CLOSING_WORDS = frozenset({"then", "do", "done", "fi", "else", "elif", "esac", "in", "}", "]]"})
RESERVED_WORDS = CLOSING_WORDS | {"!", "case", "coproc", "for", "function", "if", "select", "time", "until", "while", "{"}
CASE_ENDS = frozenset({";;", ";&", ";;&"})
BODIES = frozenset({"compound_statement", "do_group", "if_statement", "elif_clause", "else_clause"})


class Node:
    """One node of the tree (see the module docstring for the fields of each kind)."""

    __slots__ = ("kind", "pos", "word", "parts", "list", "redirects", "type", "input", "output", "heredoc",
                 "command", "body")

    def __init__(self, kind: str, pos=(0, 0), **fields):
        self.kind, self.pos = kind, pos
        self.word = self.type = self.input = self.output = self.command = self.body = None
        self.parts, self.list, self.redirects, self.heredoc = [], [], [], []
        for name, value in fields.items():
            setattr(self, name, value)


def _parser():
    global _PARSER
    if _PARSER is None:
        from tree_sitter import Language, Parser

        try:
            from tree_sitter_bash._binding import language  # skips importlib.resources (~20 ms)
        except ImportError:  # pragma: no cover - another packaging of tree-sitter-bash
            from tree_sitter_bash import language
        _PARSER = Parser(Language(language()))
    return _PARSER


class _Tree:
    """Converts tree-sitter nodes; holds the source and the byte -> character offset map.

    `_Tree(text, start, end)` parses only `text[start:end]` (a here-document's `$( )`), with
    positions still counted in `text`."""

    def __init__(self, text: str, start: int = 0, end: int | None = None):
        self.text, self.offset = text, start
        self.read_write = set()  # byte offsets of `<>` operators parsed as `>|`
        region = text[start:end]
        try:
            self.data = region.encode("ascii")
            self.chars = None
        except UnicodeEncodeError:
            self.data, self.chars = _encode(region)

    def pos(self, ts) -> tuple:
        if self.chars is None:
            return ts.start_byte + self.offset, ts.end_byte + self.offset
        return self.chars[ts.start_byte] + self.offset, self.chars[ts.end_byte] + self.offset

    def source(self, ts) -> str:
        start, end = self.pos(ts)
        return self.text[start:end]

    def source_at(self, node: Node) -> str:
        return self.text[node.pos[0] : node.pos[1]]


def _encode(text: str) -> tuple:
    """The bytes of `text` and, for each byte offset (and the end), its character offset."""
    chunks, chars = [], []
    for index, char in enumerate(text):
        try:
            chunk = char.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            chunk = char.encode("utf-8", "surrogatepass")
        chunks.append(chunk)
        chars.extend([index] * len(chunk))
    chars.append(len(text))
    return b"".join(chunks), chars


def parse(text: str) -> list:
    """The top-level statements of `text` (see the module docstring); ValueError on a syntax error."""
    tree = _Tree(text)
    data = tree.data
    root = _parser().parse(data).root_node
    if root.has_error and b"<>" in data:  # tree-sitter-bash lacks `<>`: parse it as `>|`
        tree.read_write = {index for index in range(len(data)) if data.startswith(b"<>", index)}
        data = data.replace(b"<>", b">|")
        root = _parser().parse(data).root_node
    if root.has_error and b"\\" in data:
        root = _parser().parse(_masked_escapes(data)).root_node
    prefixes = _keyword_prefixes(tree, root)
    if prefixes:  # `time { ...; }`: tree-sitter knows no `time`/`coproc` keyword, so it is parsed without it
        data = bytearray(data)
        for start, end in prefixes:
            data[start:end] = b" " * (end - start)
        root = _parser().parse(bytes(data)).root_node
    if root.has_error:
        raise ValueError(_error(tree, root))
    _check_syntax(tree, root)
    _check_blanks(tree, root)
    return [node for node in (_statement(tree, child) for child in root.named_children) if node is not None]


def _check_blanks(tree: _Tree, root) -> None:
    """ValueError for a carriage return, vertical tab or form feed outside quotes and words: tree-sitter
    takes it for a blank between words, bash for a character of a word (`cat a.txt\\r` reads `a.txt\\r`)."""
    for byte, name in ((b"\r", "carriage return (\\r: CRLF line ends?)"), (b"\v", "vertical tab"), (b"\f", "form feed")):
        index = tree.data.find(byte)
        while index >= 0:
            if root.descendant_for_byte_range(index, index + 1).type not in TEXT_NODES:
                start = tree.pos(root)[0] + (index if tree.chars is None else tree.chars[index])
                near = tree.text[max(0, start - 10) : start].split("\n")[-1]
                raise ValueError(f"a {name} after {near!r} is outside quotes: bash would make it part of a word")
            index = tree.data.find(byte, index + 1)


def _masked_escapes(data: bytes) -> bytes:
    """`data` with each escape `\\X` (X a printable ASCII character other than a quote, backquote or
    newline) as `__`: literal text in every context, of the same length, so positions and word values
    (read from the text) stay as they are. tree-sitter fails on a here-document body that starts with one."""
    out = bytearray(data)
    index = out.find(b"\\")
    while index >= 0:
        follower = out[index + 1 : index + 2]
        if follower and 32 < follower[0] < 127 and follower not in (b"'", b'"', b"`"):
            out[index : index + 2] = b"__"
        index = out.find(b"\\", index + 2)
    return bytes(out)


def _error(tree: _Tree, root) -> str:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            return _near(tree, node)
        if node.has_error:
            stack.extend(reversed(node.children))
    return "syntax error"


def _check_syntax(tree: _Tree, root) -> None:
    """ValueError where tree-sitter accepts what bash refuses: a closing reserved word where a
    command starts (`fi`, `echo a; done`), a reserved word after `time` or `coproc` (`coproc then`),
    a bare `coproc`, a reserved word as a function name (`fi() { :; }`), an empty body (`{ }`,
    `do done`, `then fi`), `;;` outside `case`, a command name with a blank (`} {`), a redirect
    without a target (`>` at the end of a line, `< 2>&1`)."""
    stack = [root]
    while stack:
        node = stack.pop()
        kind = node.type
        if kind == "command" and node.children[0].type == "command_name":
            _check_command_start(tree, node)
        elif kind == "file_redirect" and _bad_target(tree, node):
            raise ValueError(_near(tree, node))
        elif kind == "function_definition" and node.children[0].type == "word":
            if tree.source(node.children[0]) in RESERVED_WORDS:
                raise ValueError(_near(tree, node.children[0]))
        elif kind in BODIES and _empty_body(node):
            raise ValueError(_near(tree, node))
        elif kind in CASE_ENDS and node.parent.type != "case_item":
            raise ValueError(_near(tree, node))
        stack.extend(node.children)


def _check_command_start(tree: _Tree, command) -> None:
    """ValueError for a reserved word where bash looks for one: the command name, or what follows
    `time [-p]` or `coproc`: a closing word, or the start of a compound tree-sitter could not read."""
    words = [child for child in command.children if child.type in ("command_name", "word", "concatenation")]
    name = tree.source(words[0])
    if any(blank in name for blank in " \t\n") and not any(quote in name for quote in "\\'\"$`"):
        raise ValueError(_near(tree, words[0]))  # tree-sitter glued `} {` into one word
    index = 0
    while index < len(words) and tree.source(words[index]) in ("time", "coproc"):
        if tree.source(words[index]) == "coproc" and index + 1 == len(words):
            raise ValueError(_near(tree, words[index]))
        index += 1
        if index < len(words) and tree.source(words[index - 1]) == "time" and tree.source(words[index]) == "-p":
            index += 1
    if index < len(words) and tree.source(words[index]) in RESERVED_WORDS:
        raise ValueError(_near(tree, words[index]))  # a compound tree-sitter could not read, or a closing word


def _keyword_prefixes(tree: _Tree, root) -> list:
    """Byte spans of `time`, `time -p` and `coproc` before a reserved word (a compound follows)."""
    spans, stack = [], [root]
    while stack:
        node = stack.pop()
        if node.type == "command" and node.children[0].type == "command_name":
            words = [child for child in node.children if child.type in ("command_name", "word")]
            index = 0
            while index < len(words) and tree.source(words[index]) in ("time", "coproc"):
                index += 1
                if index < len(words) and tree.source(words[index - 1]) == "time" and tree.source(words[index]) == "-p":
                    index += 1
            if 0 < index + 1 < len(words) and tree.source(words[index - 1]) == "coproc" \
                    and tree.source(words[index + 1]) in ("{", "(") and tree.source(words[index]).isidentifier():
                index += 1  # `coproc NAME { ...; }`
            if 0 < index < len(words) and tree.source(words[index]) in RESERVED_WORDS - CLOSING_WORDS:
                spans.append((words[0].start_byte, words[index - 1].end_byte))
        stack.extend(node.children)
    return spans


def _bad_target(tree: _Tree, redirect) -> bool:
    """A redirect bash refuses for want of a target: its target on the next line (`>` newline `x`),
    or the fd of the next redirect (`< 2>&1`); tree-sitter reads on."""
    operator = next((child for child in redirect.children if not child.is_named), None)
    target = redirect.child_by_field_name("destination")
    if operator is None or target is None:
        return False
    start, end = tree.pos(target)
    if tree.source(target).isdigit() and tree.text[end : end + 1] in ("<", ">"):
        return True
    return "\n" in tree.text[tree.pos(operator)[1] : start].replace("\\\n", "")


def _empty_body(node) -> bool:
    """True if a `{ }`, `do ... done` or a `then`/`else` part holds no command."""
    if node.type in ("compound_statement", "do_group", "else_clause"):
        return not any(child.is_named and child.type != "comment" for child in node.children)
    after_then = False  # if_statement, elif_clause: the statements between `then` and what follows
    for child in node.children:
        if child.type == "then":
            after_then = True
        elif after_then and child.is_named and child.type != "comment" and not child.type.endswith("_clause"):
            return False
        elif after_then and (child.type.endswith("_clause") or child.type == "fi"):
            return True
    return after_then


def _near(tree: _Tree, ts) -> str:
    return _near_at(tree.text, tree.pos(ts)[0])


def _near_at(text: str, start: int) -> str:
    near = text[start : start + 20].split("\n")[0] or "end of line"
    return f"syntax error near {near!r}"


# ---------------------------------------------------------------- statements


def _statement(tree: _Tree, ts, redirects=()):
    kind = ts.type
    if kind == "redirected_statement":
        return _redirected(tree, ts, list(redirects))
    if kind == "command":
        return _command(tree, ts, redirects)
    if kind == "pipeline":
        return _pipeline(tree, [child for child in ts.named_children if child.type != "comment"], redirects)
    if kind == "list":
        items = _list_items(ts)
        parts = [_statement(tree, child) for child in items[:-1]] + [_statement(tree, items[-1], redirects)]
        return Node("list", tree.pos(ts), parts=parts)
    if kind == "negated_command":
        inner = _statement(tree, ts.named_children[-1], redirects)
        return inner if inner.kind == "pipeline" else Node("pipeline", tree.pos(ts), parts=[inner])
    if kind == "function_definition":
        return Node("function", tree.pos(ts), body=_statement(tree, ts.child_by_field_name("body"), redirects))
    if kind in DECLARATIONS or kind == "test_command":
        return _wordlist(tree, ts, redirects)
    if kind in ("variable_assignment", "variable_assignments"):
        assignments = [ts] if kind == "variable_assignment" else ts.named_children
        parts = [_assignment(tree, child) for child in assignments] + [_redirect(tree, r) for r in redirects]
        return Node("command", tree.pos(ts), parts=parts)
    if kind == "comment":
        return None
    return Node("compound", tree.pos(ts), list=_block(tree, ts), redirects=[_redirect(tree, r) for r in redirects])


def _list_items(ts) -> list:
    """The statements of `a && b || c` in order: tree-sitter nests the list to the left, a level
    per operator, which is unwound here without recursion (a long chain must not exhaust the stack)."""
    tails = []
    while ts.type == "list":
        items = [child for child in ts.named_children if child.type != "comment"]
        tails.append(items[1:])
        ts = items[0]
    out = [ts]
    for tail in reversed(tails):
        out.extend(tail)
    return out


def _pipeline(tree: _Tree, items: list, redirects=()):
    """A pipeline of tree-sitter statements; the redirects of the whole go to its last command."""
    parts = [_statement(tree, child) for child in items[:-1]] + [_statement(tree, items[-1], redirects)]
    flat = []
    for part in parts:
        flat.extend(part.parts if part.kind == "pipeline" else [part])
    return Node("pipeline", (flat[0].pos[0], flat[-1].pos[1]), parts=flat)


def _redirected(tree: _Tree, ts, outer: list):
    """`body redirect...`; what tree-sitter nests in a here-document operator is put back in line."""
    body = ts.child_by_field_name("body")
    redirects, rest, words = [], [], []
    for child in ts.named_children:
        if child.type not in REDIRECTS or child == body:
            continue
        redirects.append(child)
        if child.type == "heredoc_redirect":
            body_start = _body_span(tree, child)[0]
            for inner in child.named_children:
                if tree.pos(inner)[0] >= body_start:
                    continue  # the body, which tree-sitter sometimes reads as words: see _body_commands
                if inner.type in REDIRECTS:
                    redirects.append(inner)
                elif inner.type in WORDS:
                    words.append(inner)  # `cat <<EOF a.txt`: an argument
                elif not inner.type.startswith("heredoc_") and inner.type != "comment":
                    rest.append(inner)
    redirects.sort(key=lambda node: node.start_byte)
    if not rest:
        redirects += outer
    if body is None:
        node = Node("command", tree.pos(ts), parts=[_redirect(tree, r) for r in redirects])
    else:
        node = _with_words(tree, _statement(tree, body, redirects), words)
    for follower in rest:  # `cat <<EOF | wc`: a pipeline; `cat <<EOF && x`: a list
        if follower.type == "pipeline":
            node = _pipeline(tree, [body] + list(follower.named_children), outer)
            node.parts[0] = _with_words(tree, _statement(tree, body, redirects), words)
        else:
            node = Node("list", tree.pos(ts), parts=[node, _statement(tree, follower, outer)])
    return node


def _with_words(tree: _Tree, node, words: list):
    """`node` with the arguments that follow a here-document operator; bash takes them only after a command."""
    if words and (node.kind != "command" or not any(part.kind == "word" for part in node.parts)):
        raise ValueError(_near(tree, words[0]))
    node.parts = sorted(node.parts + [_word(tree, word) for word in words], key=lambda part: part.pos[0])
    return node


def _block(tree: _Tree, ts) -> list:
    """The statements inside a compound, and the words a loop or `case` reads (not case patterns)."""
    out = []
    for index, child in enumerate(ts.children):
        if not child.is_named or child.type in ("comment", "variable_name"):
            continue
        field = ts.field_name_for_child(index)
        if child.type in BLOCKS and child.type not in ("for_statement", "while_statement", "if_statement",
                                                       "case_statement", "subshell", "compound_statement"):
            out.extend(_block(tree, child))
        elif field == "value":
            if ts.type in ("for_statement", "case_statement"):
                out.append(_word(tree, child))
            else:
                out.extend(_substitution_statements(tree, child))  # a case pattern: only its `$( )` run
        elif child.type in ("word", "concatenation", "string", "raw_string", "simple_expansion", "expansion",
                            "number", "extglob_pattern") or child.type.endswith("_expression") \
                or child.type == "test_operator":
            out.extend(_substitution_statements(tree, child))  # a case pattern, `(( ))`: only its `$( )` run
        else:
            node = _statement(tree, child)
            if node is not None:
                out.append(node)
    return out


def _substitution_statements(tree: _Tree, ts) -> list:
    """The statements of every outermost `$( )`, `<( )` and `>( )` under `ts`."""
    return [node for sub in _substitutions(ts) for node in _inner(tree, sub)]


def _command(tree: _Tree, ts, redirects=()):
    parts = []
    for child in ts.named_children:
        kind = child.type
        if kind == "command_name":
            parts.append(_word(tree, child.named_children[0] if child.named_child_count == 1 else child))
        elif kind == "variable_assignment":
            parts.append(_assignment(tree, child))
        elif kind in REDIRECTS:
            parts += [_redirect(tree, child)] + _extra_words(tree, child)
        elif kind != "comment":
            parts.append(_word(tree, child))
    for redirect in redirects:
        parts += [_redirect(tree, redirect)] + _extra_words(tree, redirect)
    parts.sort(key=lambda node: node.pos[0])
    _join_continued(tree, parts)
    words = [part for part in parts if part.kind == "word"]
    if len(words) > 1 and tree.source_at(words[0]) == "time":
        parts.remove(words[0])  # the `time` keyword
    return Node("command", tree.pos(ts), parts=parts)


def _join_continued(tree: _Tree, parts: list) -> None:
    """`a\\<newline>b` is the one word `ab` in bash; tree-sitter makes two of it."""
    index = 1
    while index < len(parts):
        first, second = parts[index - 1], parts[index]
        if first.kind == second.kind == "word" and tree.text[first.pos[1] : second.pos[0]] == "\\\n":
            start, end = first.pos[0], second.pos[1]
            parts[index - 1] = Node("word", (start, end), word=unquote(tree.text[start:end]),
                                    parts=first.parts + [part for part in second.parts if part.kind != "tilde"])
            del parts[index]
        else:
            index += 1


def _wordlist(tree: _Tree, ts, redirects=()):
    """`export A=1 B`, `unset x`, `[ -f x ]`: a command whose words are its tokens; `[[ ]]` is `true`."""
    start, end = tree.pos(ts)
    if tree.text.startswith("[[", start):  # `true`, with the `$( )` inside the test
        substitutions = [Node(SUBSTITUTIONS[sub.type], tree.pos(sub), command=_as_one(tree, sub))
                         for sub in _substitutions(ts)]
        parts = [Node("word", (start, start + 4), word="true", parts=substitutions)]
    else:
        parts = [_word(tree, leaf) for leaf in _tokens(ts)]
    parts += [_redirect(tree, r) for r in redirects]
    return Node("command", (start, end), parts=parts)


def _tokens(ts) -> list:
    """The word-level tokens under `ts`: leaves, and word-like nodes as a whole."""
    if ts.type in ("word", "string", "raw_string", "concatenation", "simple_expansion", "expansion", "number",
                   "command_substitution", "process_substitution", "variable_assignment", "test_operator",
                   "ansi_c_string", "translated_string", "arithmetic_expansion", "regex", "extglob_pattern") \
            or ts.child_count == 0:
        return [ts]
    out = []
    for child in ts.children:
        out.extend(_tokens(child))
    return out


def _assignment(tree: _Tree, ts):
    return Node("assignment", tree.pos(ts), word=tree.source(ts), parts=_word_parts(tree, ts))


def _redirect(tree: _Tree, ts):
    start, end = tree.pos(ts)
    if ts.type == "herestring_redirect":
        return Node("redirect", (start, end), type="<<<", output=_word(tree, ts.named_children[-1]))
    if ts.type == "heredoc_redirect":
        return _heredoc(tree, ts)
    fd, op, output = None, None, None
    for index, child in enumerate(ts.children):
        if child.type == "file_descriptor":
            fd = int(tree.source(child))
        elif not child.is_named and op is None:
            op = "<>" if child.start_byte in tree.read_write else child.type
        elif ts.field_name_for_child(index) == "destination" and output is None:
            output = _word(tree, child)
    if op in (">&-", "<&-"):
        op, output = op[:2], None
    return Node("redirect", (start, end), type=op, input=fd, output=output)


def _extra_words(tree: _Tree, ts) -> list:
    """`cat < a.txt b.txt`: tree-sitter takes `b.txt` as a second destination; it is an argument."""
    if ts.type != "file_redirect":
        return []
    found = [child for index, child in enumerate(ts.children) if ts.field_name_for_child(index) == "destination"]
    return [_word(tree, child) for child in found[1:]]


def _heredoc(tree: _Tree, ts):
    op = next(child.type for child in ts.children if not child.is_named)
    start = next(child for child in ts.named_children if child.type == "heredoc_start")
    commands = []
    if not any(quote in tree.source(start) for quote in "'\\\""):
        commands = _body_commands(tree, *_body_span(tree, ts))
    return Node("redirect", tree.pos(ts), type=op, output=_word(tree, start), heredoc=commands)


def _body_span(tree: _Tree, ts) -> tuple:
    """(start, end) of a here-document's body: from the line after its operator to its delimiter line."""
    start = next(child for child in ts.named_children if child.type == "heredoc_start")
    end = next((child for child in ts.named_children if child.type == "heredoc_end"), None)
    body_end = tree.pos(end)[0] if end is not None else tree.pos(ts)[1]
    newline = tree.text.find("\n", tree.pos(start)[1], body_end)
    return (body_end if newline < 0 else newline + 1), body_end


def _body_commands(tree: _Tree, index: int, end: int) -> list:
    """The commands of every `$( )` and backquote in an unquoted here-document body, found as bash
    finds them (`\\$`, `\\``, `\\\\` are escapes; quotes are plain text). tree-sitter's own parse of a
    body misses some (after leading blanks, in backquotes, after a backslash), so it is not used."""
    text, commands = tree.text, []
    while index < end:
        if text[index] == "\\":
            index += 2
        elif text.startswith("$((", index):
            index += 3  # arithmetic: a `$( )` inside it is found on the way
        elif text.startswith("$(", index):
            statements, index = _substitution_at(tree, index, end)
            commands.extend(statements)
        elif text[index] == "`":
            close = index + 1
            while close < end and text[close] != "`":
                close += 2 if text[close] == "\\" else 1
            if close >= end:
                raise ValueError(_near_at(text, index))
            commands.extend(_region_statements(tree, index + 1, close))
            index = close + 1
        else:
            index += 1
    return commands


def _substitution_at(tree: _Tree, index: int, end: int) -> tuple:
    """(statements, end offset) of the `$( )` at `index`; it is parsed up to the end of its line
    first, and up to the end of the body when it spans lines."""
    line_end = tree.text.find("\n", index, end)
    for stop in dict.fromkeys([end if line_end < 0 else line_end, end]):
        sub = _Tree(tree.text, index, stop)
        node = _parser().parse(sub.data).root_node
        while node is not None and node.type != "command_substitution":
            node = node.children[0] if node.children and node.children[0].start_byte == 0 else None
        if node is not None and not node.has_error:
            _check_syntax(sub, node)
            return _inner(sub, node), sub.pos(node)[1]
    raise ValueError(_near_at(tree.text, index))


def _region_statements(tree: _Tree, start: int, end: int) -> list:
    """The statements of `tree.text[start:end]` (inside backquotes), parsed on their own."""
    sub = _Tree(tree.text, start, end)
    root = _parser().parse(sub.data).root_node
    if root.has_error:
        raise ValueError(_error(sub, root))
    _check_syntax(sub, root)
    return [node for node in (_statement(sub, child) for child in root.named_children) if node is not None]


# ---------------------------------------------------------------- words


def _word(tree: _Tree, ts):
    start, end = tree.pos(ts)
    dollar = ts.prev_sibling
    if dollar is not None and dollar.type == "$" and dollar.end_byte == ts.start_byte:
        start -= 1  # `$"..."`: tree-sitter leaves the `$` out of the word
    source = tree.text[start:end]
    parts = _word_parts(tree, ts)
    if source.startswith("~"):
        parts.insert(0, Node("tilde"))
    return Node("word", (start, end), word=unquote(source), parts=parts)


def _word_parts(tree: _Tree, ts) -> list:
    parts = []
    if _expands(ts):
        parts.append(Node("parameter"))
    for sub in _substitutions(ts):
        parts.append(Node(SUBSTITUTIONS[sub.type], tree.pos(sub), command=_as_one(tree, sub)))
    return parts


def _expands(ts) -> bool:
    if ts.type in EXPANSIONS:
        return True
    return any(_expands(child) for child in ts.named_children)


def _substitutions(ts) -> list:
    """The outermost `$( )` / `<( )` / `>( )` nodes under `ts` (or `ts` itself)."""
    if ts.type in SUBSTITUTIONS:
        return [ts]
    out = []
    for child in ts.named_children:
        out.extend(_substitutions(child))
    return out


def _inner(tree: _Tree, sub) -> list:
    return [node for node in (_statement(tree, child) for child in sub.named_children) if node is not None]


def _as_one(tree: _Tree, sub):
    inner = _inner(tree, sub)
    return inner[0] if len(inner) == 1 else Node("list", tree.pos(sub), parts=inner)


def unquote(source: str) -> str:
    """Bash quote removal on the source text of one word (`$...` expansions are kept as text)."""
    out, index, size = [], 0, len(source)
    while index < size:
        char = source[index]
        if char == "\\":
            if source[index + 1 : index + 2] != "\n":
                out.append(source[index + 1 : index + 2] or "\\")
            index += 2
        elif char == "'":
            end = source.find("'", index + 1)
            end = size if end < 0 else end
            out.append(source[index + 1 : end])
            index = end + 1
        elif char == '"':
            index = _double_quoted(source, index + 1, out)
        elif source.startswith("$'", index):
            index = _ansi_c_quoted(source, index + 2, out)
        elif source.startswith('$"', index):  # a string for translation: itself, without a message catalog
            index = _double_quoted(source, index + 2, out)
        else:
            out.append(char)
            index += 1
    return "".join(out)


_ANSI_C = re.compile(r"\\(?:([abeEfnrtv\\'\"?])|([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{1,4})"
                     r"|U([0-9A-Fa-f]{1,8})|c(.))", re.S)
_ANSI_C_LETTERS = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v"}


def _ansi_c_quoted(source: str, index: int, out: list) -> int:
    """Appends the value of a `$'...'` whose inside starts at `index` (bash's escapes); returns the offset after it."""
    end = index
    while end < len(source) and source[end] != "'":
        end += 2 if source[end] == "\\" else 1
    out.append(_ANSI_C.sub(_ansi_c_escape, source[index:end]).split("\0")[0])  # bash ends the string at a NUL
    return end + 1


def _ansi_c_escape(match) -> str:
    letter, octal, hex2, hex4, hex8, control = match.groups()
    if letter is not None:
        return _ANSI_C_LETTERS.get(letter, letter)
    if control is not None:
        return chr(ord(control) & 0x1F)
    if octal is not None:
        return chr(int(octal, 8) & 0xFF)
    code = int(hex2 or hex4 or hex8, 16)
    return chr(code) if code < 0xD800 or 0xE000 <= code < 0x110000 else match.group(0)


def _double_quoted(source: str, index: int, out: list) -> int:
    """Appends the inside of a `"..."` that starts at `index`; returns the offset after its end."""
    while index < len(source) and source[index] != '"':
        char = source[index]
        if char == "\\" and source[index + 1 : index + 2] in ('$', '`', '"', "\\", "\n"):
            if source[index + 1] != "\n":
                out.append(source[index + 1])
            index += 2
        else:
            out.append(char)
            index += 1
    return index + 1
