"""seamless-mode-rewrite: turn a typed shell line into a `seamless-run` command (contract in shell/README.md).

    seamless-mode-rewrite [--opts STR] [--skip WORDS] [--set NAME=VALUE]... [--commands]
                          [--list-vars] -- LINE

Prints the rewritten line R and a newline, exit 0; or prints nothing and exits 1, meaning
"do not rewrite, run LINE as typed". With --commands, the command word of every simple command
in LINE follows R, one per line: the shell declines the rewrite when one of them is an alias, a
function, a builtin or a keyword (only the shell itself knows). With --list-vars it prints the
names of the shell variables that LINE references in a substitutable place (one per line, exit
0), or exits 1 when LINE would be declined anyway, so the shell can skip the second call.
--skip adds first words that are never rewritten (like $SEAMLESS_MODE_SKIP, which is read too).
--skip-words prints the built-in list of such words on one line (the shell declines them itself,
without starting Python). --fast-argv prints how to run this module fast (see main()).
Bad arguments: one error line and exit 2; -h/--help prints the usage.

This runs on every Enter in seamless mode, so it imports nothing beyond sys/os and does not
use the bash parser: a small quote-aware scanner is enough here because it only has to find words,
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
# Commands that change the working tree (or need the terminal): running them through
# seamless-run would do the work in a scratch copy, so they always run as typed.
WORKTREE_SKIP = "mkdir rmdir touch ln chmod chown chgrp install git hg svn make most view ed"
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
    commands: the word in command position of each simple command (after leading assignments;
    the target of a redirection is not one), as [start, end] like words.
    """

    def __init__(self, line):
        self.line = line
        self.words = []
        self.refs = []
        self.ops = []  # indices of top-level operator characters
        self.commands = []
        self._top()

    # -- top level -------------------------------------------------------------------
    def _top(self):
        line, n, i = self.line, len(self.line), 0
        word = None
        expect_command, redirect = True, False
        while i < n:
            c = line[i]
            if c in " \t\n" or c in OPERATORS:
                if word is not None and word is self._last_command() and _is_assignment(line[word[0]:word[1]]):
                    self.commands.pop()  # NAME=VALUE before the command: the command word comes later
                    expect_command = True
                word = None
            if c in " \t\n":
                expect_command = expect_command or c == "\n"
                i += 1
                continue
            if c in OPERATORS:
                self.ops.append(i)
                if c in "<>" or (c == "&" and line[i - 1] in "<>"):
                    redirect = True
                else:
                    expect_command, redirect = True, False
                i += 1
                continue
            if word is None:
                if c == "#":
                    return
                word = [i, i, True]
                self.words.append(word)
                if redirect:
                    redirect = False
                elif expect_command:
                    self.commands.append(word)
                    expect_command = False
            if c in "\\'\"$`":
                word[2] = False
            i = self._word_char(i, "unquoted", record=True)
            word[1] = i
        if word is not None and word is self._last_command() and _is_assignment(line[word[0]:word[1]]):
            self.commands.pop()

    def _last_command(self):
        return self.commands[-1] if self.commands else None

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


def command_words(scan):
    """The command word of each simple command, unquoted, in order, without repeats."""
    seen = []
    for start, end, _plain in scan.commands:
        word = _unquote(scan.line[start:end])
        if word not in seen:
            seen.append(word)
    return seen


# Compound commands: the words that open one and the word that closes it.
_COMPOUNDS = ((("if",), "fi"), (("for", "while", "until", "select"), "done"), (("case",), "esac"),
              (("{",), "}"), (("[[",), "]]"))


def unfinished(scan) -> bool:
    """A line the shell would ask to continue: a trailing `|`, `|&`, `&&` or `||`, an open `(`,
    a here-document, or a compound command (if/for/while/until/select/case/{/[[) without its
    closing word. Erring towards "unfinished" is safe: such a line runs as typed."""
    line = scan.line
    ops = "".join(line[i] for i in scan.ops)
    tail = line.rstrip()
    if scan.ops and scan.ops[-1] == len(tail) - 1 and tail.endswith(("|", "|&", "&&")):
        return True
    heredoc = any(b == a + 1 and line[a] == line[b] == "<" for a, b in zip(scan.ops, scan.ops[1:]))
    if ops.count("(") > ops.count(")") or heredoc:
        return True
    plain = [line[start:end] for start, end, is_plain in scan.words if is_plain]
    return any(sum(map(plain.count, openers)) > plain.count(closer) for openers, closer in _COMPOUNDS)


def skip_words(*user_skips):
    words = set(UPSTREAM_SKIP.split()) | set(OUR_SKIP.split()) | set(WORKTREE_SKIP.split())
    for skip in user_skips:
        words.update(skip.replace(",", " ").replace(":", " ").split())
    return words


def analyse(line, env_skip="", extra_skip=""):
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
    skip = skip_words(env_skip, extra_skip)
    if any(word in skip or word.startswith("seamless") or "\n" in word for word in command_words(scan)):
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
    "usage: seamless-mode-rewrite [--opts STR] [--skip WORDS] [--set NAME=VALUE]... [--commands]\n"
    "                             [--list-vars] -- LINE\n"
    "       seamless-mode-rewrite --fast-argv | --skip-words"
)


def parse_args(argv):
    opts, values, flags, skip = "", {}, set(), ""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest = argv[i + 1:]
            if len(rest) != 1:
                raise ValueError("exactly one LINE is required after --")
            return opts, values, flags, skip, rest[0]
        if arg in ("--list-vars", "--commands"):
            flags.add(arg)
        elif arg in ("--opts", "--set", "--skip"):
            if i + 1 == len(argv):
                raise ValueError(f"option {arg} requires an argument")
            i += 1
            if arg == "--opts":
                opts = argv[i]
            elif arg == "--skip":
                skip = argv[i]
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
    if argv == ["--skip-words"]:
        sys.stdout.write(" ".join(sorted(skip_words())) + "\n")
        return 0
    if argv == ["--fast-argv"]:
        sys.stdout.write("\n".join([sys.executable, "-E", "-S", os.path.abspath(__file__)]) + "\n")
        return 0
    if argv in (["-h"], ["--help"]):
        sys.stdout.write(USAGE + "\n")
        return 0
    try:
        opts, values, flags, skip, line = parse_args(argv)
    except ValueError as exc:
        sys.stderr.write(f"seamless-mode-rewrite: error: {exc} (see seamless-mode-rewrite --help)\n")
        return 2
    scan = analyse(line, os.environ.get("SEAMLESS_MODE_SKIP", ""), skip)
    if scan is None:
        return 1
    if "--list-vars" in flags:
        names = referenced_names(scan)
        sys.stdout.write("".join(name + "\n" for name in names))
    else:
        out = [render(rewrite_line(scan, values), opts)]
        if "--commands" in flags:
            out += command_words(scan)
        sys.stdout.write("".join(text + "\n" for text in out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
