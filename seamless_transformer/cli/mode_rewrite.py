"""seamless-mode-rewrite: turn a typed shell line into a `seamless-run` command (SPEC §7).

    seamless-mode-rewrite [--opts STR] [--set NAME=VALUE]... [--list-vars] -- LINE

Prints the rewritten line R and a newline, exit 0; or prints nothing and exits 1, meaning
"do not rewrite, run LINE as typed". With --list-vars it prints the names of the shell
variables that LINE references in a substitutable place (one per line, exit 0), or exits 1
when LINE would be declined anyway, so the shell can skip the second call. Bad arguments: one
error line and exit 2; -h/--help prints the usage.

This runs on every Enter in seamless mode, so it imports nothing beyond sys/os and does not
use bashlex: a small quote-aware scanner is enough here because it only has to find words,
quote balance and `$NAME` / `${NAME}` references together with their quoting context.
"""

import os
import sys

UPSTREAM_SKIP = (
    "cd rm ls mv cp exit source echo function set unset let export man printenv conda mamba pip "
    "apt more less time code nano vi emacs gedit"
)
OUR_SKIP = (
    ". alias unalias bg fg jobs kill wait disown history fc pushd popd dirs pwd exec eval trap ulimit "
    "umask shopt setopt unsetopt bind bindkey zle declare typeset local readonly read hash type which "
    "whence builtin command logout clear reset sudo su ssh tmux screen vim nvim top htop watch"
)
SUFFIXES = (".CHECKSUM", ".INDEX")
OPERATORS = "|&;<>()"
NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
NAME_CHARS = NAME_START + "0123456789"
SAFE_CHARS = frozenset(NAME_CHARS + "@%+=:,./-")


class Unbalanced(Exception):
    """An open quote, substitution or trailing backslash: the line is not complete."""


def shell_quote(word):
    """shlex.quote without importing shlex (and re)."""
    if word and all(c in SAFE_CHARS for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def is_name(text):
    return bool(text) and text[0] in NAME_START and all(c in NAME_CHARS for c in text)


class Scan:
    """One pass over the line: words, variable references and their context.

    words: [start, end, plain] per top-level word (plain = no quoting or expansion in it).
    refs:  (start, end, name, context) with context "unquoted" or "dquote".
    """

    def __init__(self, line):
        self.line = line
        self.words = []
        self.refs = []
        self.ops = []  # indices of top-level operator characters
        self._top()

    # -- top level -------------------------------------------------------------------
    def _top(self):
        line, n, i = self.line, len(self.line), 0
        word = None
        while i < n:
            c = line[i]
            if c in " \t\n":
                word = None
                i += 1
                continue
            if c in OPERATORS:
                word = None
                self.ops.append(i)
                i += 1
                continue
            if word is None:
                if c == "#":
                    return
                word = [i, i, True]
                self.words.append(word)
            if c in "\\'\"$`":
                word[2] = False
            i = self._word_char(i, "unquoted", record=True)
            word[1] = i

    def _word_char(self, i, ctx, record):
        """Consume one syntactic unit of a word starting at i; return the index after it."""
        line = self.line
        c = line[i]
        if c == "\\":
            if i + 1 >= len(line):
                raise Unbalanced()
            return i + 2
        if c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise Unbalanced()
            return end + 1
        if c == '"':
            return self._dquote(i + 1, record)
        if c == "`":
            return self._backtick(i + 1)
        if c == "$":
            return self._dollar(i, ctx, record)
        return i + 1

    # -- quoting and expansions --------------------------------------------------------
    def _dquote(self, i, record):
        line, n = self.line, len(self.line)
        while i < n:
            c = line[i]
            if c == '"':
                return i + 1
            if c == "\\":
                i += 2
            elif c == "`":
                i = self._backtick(i + 1)
            elif c == "$":
                i = self._dollar(i, "dquote", record)
            else:
                i += 1
        raise Unbalanced()

    def _backtick(self, i):
        line, n = self.line, len(self.line)
        while i < n:
            if line[i] == "\\":
                i += 2
            elif line[i] == "`":
                return i + 1
            else:
                i += 1
        raise Unbalanced()

    def _dollar_quote(self, i):
        """$'...' with backslash escapes; i is just after the opening quote."""
        line, n = self.line, len(self.line)
        while i < n:
            if line[i] == "\\":
                i += 2
            elif line[i] == "'":
                return i + 1
            else:
                i += 1
        raise Unbalanced()

    def _dollar(self, i, ctx, record):
        line, n = self.line, len(self.line)
        nxt = line[i + 1] if i + 1 < n else ""
        if nxt == "'" and ctx == "unquoted":
            return self._dollar_quote(i + 2)
        if nxt == '"' and ctx == "unquoted":
            return self._dquote(i + 2, record)
        if nxt == "(":
            return self._parens(i + 2)
        if nxt == "{":
            end = self._braces(i + 2)
            name = line[i + 2:end - 1]
            if record and is_name(name):
                self.refs.append((i, end, name, ctx))
            return end
        if nxt and nxt in NAME_START:
            end = i + 1
            while end < n and line[end] in NAME_CHARS:
                end += 1
            if record:
                self.refs.append((i, end, line[i + 1:end], ctx))
            return end
        return i + 1

    def _parens(self, i):
        """Skip to the `)` closing an already opened `(` (command or arithmetic substitution)."""
        line, n, depth = self.line, len(self.line), 1
        while i < n:
            c = line[i]
            if c == "(":
                depth += 1
                i += 1
            elif c == ")":
                depth -= 1
                i += 1
                if depth == 0:
                    return i
            elif c in "\\'\"`$":
                i = self._word_char(i, "unquoted", record=False)
            else:
                i += 1
        raise Unbalanced()

    def _braces(self, i):
        """Skip to the `}` closing `${`."""
        line, n = self.line, len(self.line)
        while i < n:
            c = line[i]
            if c == "}":
                return i + 1
            if c in "\\'\"`$":
                i = self._word_char(i, "unquoted", record=False)
            else:
                i += 1
        raise Unbalanced()


# -- decisions -------------------------------------------------------------------------
def _unquote(text):
    """The word as the shell would see it, near enough to compare with a skip list."""
    return text.replace("'", "").replace('"', "").replace("\\", "")


def _is_assignment(text):
    name, eq, _ = text.partition("=")
    return bool(eq) and is_name(name[:-1] if name.endswith("+") else name)


def command_word(scan):
    """The first word that is not an assignment, unquoted; None if there is none."""
    for start, end, _plain in scan.words:
        text = scan.line[start:end]
        if not _is_assignment(text):
            return _unquote(text)
    return None


_OPENERS = {"if": "fi", "do": "done", "case": "esac", "{": "}"}


def unfinished(scan) -> bool:
    """A line the shell would ask to continue: a trailing `|`, `&&` or `||`, an open `(`,
    a here-document, or a compound command (if/do/case/{) without its closing word."""
    line = scan.line
    ops = "".join(line[i] for i in scan.ops)
    tail = line.rstrip()
    if scan.ops and scan.ops[-1] == len(tail) - 1 and (tail.endswith("|") or tail.endswith("&&")):
        return True
    heredoc = any(b == a + 1 and line[a] == line[b] == "<" for a, b in zip(scan.ops, scan.ops[1:]))
    if ops.count("(") > ops.count(")") or heredoc:
        return True
    plain = [line[start:end] for start, end, is_plain in scan.words if is_plain]
    return any(plain.count(opener) > plain.count(closer) for opener, closer in _OPENERS.items())


def skip_words(env_skip):
    words = set(UPSTREAM_SKIP.split()) | set(OUR_SKIP.split())
    words.update(env_skip.replace(",", " ").replace(":", " ").split())
    return words


def analyse(line, env_skip=""):
    """Return the Scan of LINE, or None when LINE must not be rewritten."""
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    try:
        scan = Scan(line)
    except Unbalanced:
        return None
    if unfinished(scan):
        return None
    first = command_word(scan)
    if first is None or first.startswith("seamless"):
        return None
    if len(first) <= 2 and first != "r":
        return None
    if first in skip_words(env_skip):
        return None
    return scan


# -- rendering -------------------------------------------------------------------------
def quote_value(value, ctx):
    """A variable's value, quoted so the shell reads it back as it would expand it."""
    if ctx == "dquote":
        for c in '\\"$`':
            value = value.replace(c, "\\" + c)
        return value
    return " ".join(shell_quote(field) for field in value.split())


def rewrite_line(scan, values):
    """L'': suffixes stripped from plain words, set variables substituted."""
    line = scan.line
    edits = []  # (start, end, replacement)
    for start, end, plain in scan.words:
        text = line[start:end]
        if plain:
            for suffix in SUFFIXES:
                if text.endswith(suffix) and len(text) > len(suffix):
                    edits.append((end - len(suffix), end, ""))
    for start, end, name, ctx in scan.refs:
        if name in values:
            edits.append((start, end, quote_value(values[name], ctx)))
    out = line
    for start, end, repl in sorted(edits, reverse=True):
        out = out[:start] + repl + out[end:]
    return out


def render(line2, opts):
    body = line2.strip()
    if body.endswith("'"):
        body += " "
    head = "seamless-run " + opts.strip() + " " if opts.strip() else "seamless-run "
    return head + "-c '" + body.replace("'", "'\\''") + "'"


def referenced_names(scan):
    seen = []
    for _s, _e, name, _ctx in scan.refs:
        if name not in seen:
            seen.append(name)
    return seen


# -- command line ----------------------------------------------------------------------
USAGE = (
    "usage: seamless-mode-rewrite [--opts STR] [--set NAME=VALUE]... [--list-vars] -- LINE\n"
    "       seamless-mode-rewrite --fast-argv"
)


def parse_args(argv):
    opts, values, list_vars = "", {}, False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest = argv[i + 1:]
            if len(rest) != 1:
                raise ValueError("exactly one LINE is required after --")
            return opts, values, list_vars, rest[0]
        if arg == "--list-vars":
            list_vars = True
        elif arg in ("--opts", "--set"):
            if i + 1 == len(argv):
                raise ValueError(f"option {arg} requires an argument")
            i += 1
            if arg == "--opts":
                opts = argv[i]
            else:
                name, eq, value = argv[i].partition("=")
                if not eq or not is_name(name):
                    raise ValueError(f"--set needs NAME=VALUE, got '{argv[i]}'")
                values[name] = value
        elif arg.startswith("--opts="):
            opts = arg[len("--opts="):]
        else:
            raise ValueError(f"unexpected argument '{arg}'")
        i += 1
    raise ValueError("missing -- LINE")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--fast-argv"]:
        sys.stdout.write("\n".join([sys.executable, "-E", "-S", os.path.abspath(__file__)]) + "\n")
        return 0
    if argv in (["-h"], ["--help"]):
        sys.stdout.write(USAGE + "\n")
        return 0
    try:
        opts, values, list_vars, line = parse_args(argv)
    except ValueError as exc:
        sys.stderr.write(f"seamless-mode-rewrite: error: {exc} (see seamless-mode-rewrite --help)\n")
        return 2
    scan = analyse(line, os.environ.get("SEAMLESS_MODE_SKIP", ""))
    if scan is None:
        return 1
    if list_vars:
        names = referenced_names(scan)
        sys.stdout.write("".join(name + "\n" for name in names))
    else:
        sys.stdout.write(render(rewrite_line(scan, values), opts) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
