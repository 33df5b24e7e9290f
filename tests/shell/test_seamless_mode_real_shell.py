"""Seamless mode as a user lives with it: multi-line input, history, shell words, prompts and
popular plugins, in real bash and zsh (pty). Each test types the exact key sequences and checks
the screen, `$?`, the history, and the side-effect log of the stub seamless-run (one `RUN` line
per execution, so it counts how often a line went through seamless-run).
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from shell_session import BIND_SCRIPT

SHELLS = ["bash", "zsh"]
SOURCE = f"source {BIND_SCRIPT}"
DATA = Path(__file__).parent / "data"
CONT = r"\[C\]> "  # the continuation prompt (PS2) set below
HEAD3 = "apple\nbanana\nfig\n"  # sort fruit.txt | head -n 3


def start(make_session, shell, keymap="emacs", before=(), after=()):
    """A shell in seamless mode (stub seamless-run), with setup lines run before and after sourcing."""
    session = make_session(shell, keymap, stub=True)
    session.run("PS2='[C]> '")
    for line in before:
        session.run(line)
    session.run(SOURCE)
    for line in after:
        session.run(line)
    session.run("seamless-mode-on")
    return session


def type_lines(session, *lines):
    """Type LINES as one command (Enter after each, waiting for the continuation prompt)."""
    for line in lines[:-1]:
        session.send(line + "\r")
        session.expect(CONT)
    return session.run(lines[-1])


def status(session):
    out = session.run("echo rc=$?")
    return int(out.rsplit("rc=", 1)[1].split()[0])


def history(session, n):
    """The last N history entries, as typed, leaving out the `echo rc=$?` of status()."""
    out = session.run(f"fc -ln -{n + 1}")
    lines = [line.strip() for line in out.split("\n")[1:]]
    lines = [line for line in lines if line and not line.startswith("[seamless-mode]") and line != "echo rc=$?"]
    return lines[-n:]


def runs(run_log):
    """The commands the stub seamless-run executed, in order."""
    if not run_log.exists():
        return []
    return [line[4:] for line in run_log.read_text().splitlines() if line.startswith("RUN ")]


# -- 1. continuation lines ----------------------------------------------------------------------
MULTI_LINE = {
    "pipe": (("sort fruit.txt |", "head -n 3"), HEAD3),
    "backslash": (("tac fruit.txt \\", "| head -n 2"), "plum\nbanana\n"),
    "if": (("if true; then", "head -n 1 fruit.txt", "fi"), "pear\n"),
    "for": (("for f in fruit.txt; do", "head -n 1 $f", "done"), "pear\n"),
    "heredoc": (("sort <<EOF", "b", "a", "EOF"), "a\nb\n"),
    # two patterns (a, x); the second line alone is a complete command, and still not rewritten
    "quote": (("grep -c 'a", "x' 'fruit.txt'"), "3\n"),
}


@pytest.mark.parametrize("kind", list(MULTI_LINE))
@pytest.mark.parametrize("shell", SHELLS)
def test_a_command_typed_over_several_lines_runs_once_as_typed(make_session, shell, kind, run_log):
    session = start(make_session, shell)
    lines, expected = MULTI_LINE[kind]
    out = type_lines(session, *lines)
    assert expected in out, session.screen()
    assert "seamless-mode-exec" not in out
    assert status(session) == 0
    assert runs(run_log) == []
    assert "seamless-mode-exec" not in " ".join(history(session, 2))


@pytest.mark.parametrize("shell", SHELLS)
def test_the_line_after_a_multi_line_command_is_rewritten_again(make_session, shell, run_log):
    session = start(make_session, shell)
    assert "a\n b\n" in type_lines(session, "echo 'a", " b'")
    assert HEAD3 in session.run("sort fruit.txt | head -n 3")
    assert status(session) == 0
    assert runs(run_log) == ["sort fruit.txt | head -n 3"]
    assert history(session, 1) == ["sort fruit.txt | head -n 3"]


# -- 2. no heap corruption ----------------------------------------------------------------------
def test_bash_stays_valgrind_clean_after_an_open_quote_in_the_mode(make_session, tmp_path, run_log, monkeypatch):
    assert shutil.which("valgrind"), "valgrind is missing: scripts/test.sh installs it"
    import shell_session

    vg_log = tmp_path / "valgrind.log"
    monkeypatch.setitem(
        shell_session.COMMAND, "bash", ["valgrind", f"--log-file={vg_log}", "bash", "--norc", "--noprofile", "-i"]
    )
    session = start(make_session, "bash")
    out = type_lines(session, "echo 'a", " b'")
    assert "a\n b\n" in out
    assert "\nz\n" in session.run("echo z")
    type_lines(session, "echo 'c", "d'")
    assert HEAD3 in session.run("sort fruit.txt | head -n 3", timeout=60)
    assert status(session) == 0
    assert runs(run_log) == ["sort fruit.txt | head -n 3"]
    session.send("exit\r")
    session.child.expect(shell_session.pexpect.EOF, timeout=60)
    report = vg_log.read_text()
    assert "ERROR SUMMARY" in report
    assert "Invalid write" not in report and "Invalid read" not in report, report[-3000:]


# -- 4. history -----------------------------------------------------------------------------------
@pytest.mark.parametrize("histcontrol", ["", "ignoredups", "ignorespace", "ignoreboth", "erasedups"])
def test_bash_history_keeps_the_entry_before_a_rewritten_command(make_session, histcontrol, run_log):
    session = start(make_session, "bash", after=[f"HISTCONTROL={histcontrol}"])
    session.run("echo two")
    out = session.run("sort fruit.txt")
    assert "apple\nbanana" in out
    assert status(session) == 0
    assert runs(run_log) == ["sort fruit.txt"]
    assert history(session, 2) == ["echo two", "sort fruit.txt"]


@pytest.mark.parametrize("shell", SHELLS)
def test_history_holds_each_typed_line_once_and_no_rewritten_line(make_session, shell, run_log):
    session = start(make_session, shell)
    session.run("echo one")
    session.run("wc -l fruit.txt")
    session.run("echo two")
    assert "apple" in session.run("sort fruit.txt")
    assert status(session) == 0
    assert history(session, 4) == ["echo one", "wc -l fruit.txt", "echo two", "sort fruit.txt"]
    assert runs(run_log) == ["wc -l fruit.txt", "sort fruit.txt"]


# -- 5. history expansion -------------------------------------------------------------------------
@pytest.mark.parametrize("shell", SHELLS)
def test_history_expansion_happens_before_the_rewrite(make_session, shell, run_log):
    session = start(make_session, shell)
    session.run("wc -l fruit.txt")
    out = session.run("head -n1 !$")
    assert "pear" in out
    assert status(session) == 0
    assert runs(run_log) == ["wc -l fruit.txt", "head -n1 fruit.txt"]
    assert history(session, 1) == ["head -n1 fruit.txt"]


# -- 6. shell words and working-tree commands run plainly ---------------------------------------
SHELL_WORDS = {
    "function": ("deactivate() { echo DEACTIVATED; }", "deactivate", "DEACTIVATED"),
    "function-workon": ("workon() { echo ON-$1; }", "workon env1", "ON-env1"),
    "alias": ("alias fruits='echo ALIASED'", "fruits", "ALIASED"),
    "function-in-pipeline": ("shout() { tr a-z A-Z; }", "head -n 1 fruit.txt | shout", "PEAR"),
}


@pytest.mark.parametrize("kind", list(SHELL_WORDS))
@pytest.mark.parametrize("shell", SHELLS)
def test_functions_and_aliases_run_plainly(make_session, shell, kind, run_log):
    define, line, expected = SHELL_WORDS[kind]
    session = start(make_session, shell, after=[define])
    assert f"\n{expected}\n" in session.run(line)
    assert status(session) == 0
    assert runs(run_log) == []
    assert history(session, 1) == [line]


def test_the_zsh_builtin_r_runs_plainly(make_session, run_log):
    session = start(make_session, "zsh")
    session.run("echo again")
    assert "\nagain\n" in session.run("r")
    assert status(session) == 0
    assert runs(run_log) == []


@pytest.mark.parametrize("shell", SHELLS)
def test_mkdir_in_the_mode_creates_the_directory(make_session, shell, run_log, work):
    session = start(make_session, shell)
    session.run("mkdir -p newdir")
    assert status(session) == 0
    assert (work / "newdir").is_dir()
    assert runs(run_log) == []
    assert history(session, 1) == ["mkdir -p newdir"]


@pytest.mark.parametrize("shell", SHELLS)
def test_an_unexported_skip_variable_is_honoured(make_session, shell, run_log):
    session = start(make_session, shell, after=["SEAMLESS_MODE_SKIP='tac sort'"])
    assert HEAD3 in session.run("sort fruit.txt | head -n 3")
    assert status(session) == 0
    assert runs(run_log) == []


@pytest.mark.parametrize("shell", SHELLS)
def test_a_two_letter_command_is_rewritten(make_session, shell, run_log):
    session = start(make_session, shell)
    assert "6 fruit.txt" in session.run("wc -l fruit.txt")
    assert status(session) == 0
    assert runs(run_log) == ["wc -l fruit.txt"]
    assert history(session, 1) == ["wc -l fruit.txt"]


# -- 3. plugins, keymaps and options, sourced before and after us --------------------------------
FZF = "/usr/share/doc/fzf/examples/key-bindings"
PLUGINS = {
    "bash": {
        "bash-completion": "source /usr/share/bash-completion/bash_completion",
        "fzf": f"source {FZF}.bash",
        "bash-preexec": f"source {DATA / 'preexec-hook.bash'}",
        "direnv": 'eval "$(direnv hook bash)"',
        "own-enter": """bind '"\\C-m": accept-line'; bind -x '"\\C-t": echo OWN-KEY'""",
        "nounset": "set -u",
    },
    "zsh": {
        "autosuggestions": "source /usr/share/zsh-autosuggestions/zsh-autosuggestions.zsh",
        "syntax-highlighting": "source /usr/share/zsh-syntax-highlighting/zsh-syntax-highlighting.zsh",
        "fzf": f"source {FZF}.zsh",
        "direnv": 'eval "$(direnv hook zsh)"',
        "own-accept-line": "my-accept() { zle .accept-line }; zle -N accept-line my-accept",
        "preexec": "preexec() { print -r -- \"PREEXEC $1\" >> $STUB_LOG }",
        "nounset": "setopt nounset",
    },
}
COMBOS = [(shell, plugin) for shell in SHELLS for plugin in PLUGINS[shell]]


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize("shell, plugin", COMBOS)
def test_the_mode_works_with_a_plugin_and_leaves_it_working(make_session, shell, plugin, order, run_log):
    setup = [PLUGINS[shell][plugin]]
    session = start(make_session, shell, **{order: setup})
    assert HEAD3 in type_lines(session, "sort fruit.txt |", "head -n 3")
    assert "6 fruit.txt" in session.run("wc -l fruit.txt")
    assert status(session) == 0
    assert runs(run_log) == ["wc -l fruit.txt"]
    assert history(session, 2)[-1] == "wc -l fruit.txt"
    session.run("seamless-mode-off")
    assert "\noff-ok\n" in session.run("echo off-ok")
    assert "6 fruit.txt" in session.run("wc -l fruit.txt")
    assert runs(run_log) == ["wc -l fruit.txt"]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_vi_keymap_rewrites_once_and_runs_continuations_as_typed(make_session, shell, run_log):
    session = start(make_session, shell, keymap="vi")
    assert HEAD3 in type_lines(session, "sort fruit.txt |", "head -n 3")
    session.send("wc -l fruit.txt\x1b")  # Enter from vi command mode
    session.expect("fruit.txt")
    assert "6 fruit.txt" in session.run("")
    assert status(session) == 0
    assert runs(run_log) == ["wc -l fruit.txt"]
    assert history(session, 1) == ["wc -l fruit.txt"]


# -- 7. prompt marker ----------------------------------------------------------------------------
ACTIVATE = "_OLD_PS1=$PS1; PS1=\"(venv) $PS1\"; deactivate() { PS1=$_OLD_PS1; }"
PROMPT_VAR = {"bash": "PS1", "zsh": "PROMPT"}


def prompt_line(session):
    """What the next prompt shows in front of the test's own `[P<n>]$ ` prompt."""
    return session.run("").rsplit("\n", 1)[-1]


@pytest.mark.parametrize("shell", SHELLS)
def test_activate_mode_on_deactivate_mode_off_leaves_no_venv_in_the_prompt(make_session, shell, run_log):
    session = make_session(shell, stub=True)
    session.run(SOURCE)
    session.run(ACTIVATE.replace("PS1", PROMPT_VAR[shell]))
    session.run("seamless-mode-on")
    assert prompt_line(session) == "[seamless-mode] (venv) "
    session.run("deactivate")
    assert prompt_line(session) == "[seamless-mode] "
    session.run("seamless-mode-off")
    assert prompt_line(session) == ""
    assert status(session) == 0
    assert runs(run_log) == []


@pytest.mark.parametrize("shell", SHELLS)
def test_mode_on_activate_mode_off_deactivate_leaves_no_marker(make_session, shell):
    session = make_session(shell, stub=True)
    session.run(SOURCE)
    session.run("seamless-mode-on")
    session.run(ACTIVATE.replace("PS1", PROMPT_VAR[shell]))
    session.run("seamless-mode-off")
    assert prompt_line(session) == "(venv) "
    session.run("deactivate")
    assert prompt_line(session) == ""
    assert status(session) == 0


# -- 9. a zsh accept-line widget that edits the line ---------------------------------------------
def test_a_zsh_widget_that_edits_the_line_keeps_seamless_mode_exec_out_of_history(make_session, run_log):
    widget = 'edit-accept() { BUFFER="${BUFFER%% #*} #note"; zle .accept-line }; zle -N accept-line edit-accept'
    session = start(make_session, "zsh", after=["setopt interactivecomments", widget])
    assert "apple\nbanana" in session.run("sort fruit.txt")
    assert status(session) == 0
    assert runs(run_log) == ["sort fruit.txt #note"]
    listing = " ".join(history(session, 3))
    assert "sort fruit.txt #note" in listing and "seamless-mode-exec" not in listing


def test_direnv_is_installed_for_the_plugin_tests():
    assert subprocess.run(["direnv", "version"], capture_output=True).returncode == 0


# -- 8. preexec-style hooks see the typed line ---------------------------------------------------
PREEXEC = {
    "bash": f"source {DATA / 'preexec-hook.bash'}",  # reads the line from `history 1`, as bash-preexec
    "zsh": "preexec() { print -r -- \"PREEXEC $1\" >> $STUB_LOG }",
    "zsh-preexec_functions": (
        "autoload -Uz add-zsh-hook; log-preexec() { print -r -- \"PREEXEC $1\" >> $STUB_LOG }; "
        "add-zsh-hook preexec log-preexec"
    ),
}


def log_lines(run_log, *prefixes):
    return [line for line in run_log.read_text().splitlines() if line.startswith(prefixes)]


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize("hook", list(PREEXEC))
def test_preexec_hooks_see_the_typed_line_of_a_rewritten_command(make_session, hook, order, run_log):
    shell = hook.split("-")[0]
    session = start(make_session, shell, **{order: [PREEXEC[hook]]})
    out = session.run("sort fruit.txt | head -n 3")
    assert HEAD3 in out and "seamless-mode-exec" not in out
    assert status(session) == 0
    assert log_lines(run_log, "PREEXEC sort", "RUN") == [
        "PREEXEC sort fruit.txt | head -n 3",
        "RUN sort fruit.txt | head -n 3",
    ]
    assert history(session, 1) == ["sort fruit.txt | head -n 3"]


def test_zsh_preexec_sees_the_typed_line_when_the_command_is_a_path(make_session, run_log, work):
    script = work / "count.sh"
    script.write_text("#!/bin/sh\nwc -l < \"$1\"\n")
    script.chmod(0o755)
    session = start(make_session, "zsh", after=[PREEXEC["zsh"]])
    assert "\n6\n" in session.run("./count.sh fruit.txt")
    assert status(session) == 0
    assert log_lines(run_log, "PREEXEC ./", "RUN") == ["PREEXEC ./count.sh fruit.txt", "RUN ./count.sh fruit.txt"]
    assert history(session, 1) == ["./count.sh fruit.txt"]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_expanded_line_reaches_preexec_and_history(make_session, shell, run_log):
    session = start(make_session, shell, after=[PREEXEC[shell]])
    session.run("echo fruit.txt")
    assert "\npear\n" in session.run("head -n1 !$")
    assert status(session) == 0
    assert log_lines(run_log, "PREEXEC head", "RUN") == ["PREEXEC head -n1 fruit.txt", "RUN head -n1 fruit.txt"]
    assert history(session, 1) == ["head -n1 fruit.txt"]


# -- 9. the zsh hotkey's message stays on the screen ---------------------------------------------
def rendered(session):
    """The screen as a terminal shows it now (pyte), as lines without trailing blanks."""
    import pyte

    screen = pyte.Screen(200, 40)
    pyte.Stream(screen).feed(session.log.getvalue())
    return [line.rstrip() for line in screen.display if line.strip()]


def test_the_zsh_hotkey_message_stays_above_the_new_prompt(make_session):
    session = make_session("zsh", stub=True)
    session.run(SOURCE)
    session.send("abc\x15u")
    session.expect_prompt()
    session.expect("abc")
    lines = rendered(session)
    assert lines[-2:] == ["seamless mode ON", f"[seamless-mode] [P{session.last}]$ abc"], "\n".join(lines)
    session.send("\x15u")
    session.expect_prompt()
    session.expect("abc")
    lines = rendered(session)
    assert lines[-2:] == ["seamless mode OFF", f"[P{session.last}]$ abc"], "\n".join(lines)


# -- a bash user's own Enter macro ---------------------------------------------------------------
OWN_MACRO = """bind '"\\C-m": "\\C-e 2>&1\\C-j"'"""  # appends ` 2>&1`, then accepts


@pytest.mark.parametrize("order", ["before", "after"])
def test_a_bash_enter_macro_runs_and_the_line_it_leaves_is_rewritten(make_session, order, run_log):
    session = start(make_session, "bash", **{order: [OWN_MACRO]})
    assert "\npear\n" in session.run("head -n 1 fruit.txt")
    assert runs(run_log) == ["head -n 1 fruit.txt 2>&1"]
    assert "head -n 1 fruit.txt 2>&1" in session.run("fc -ln -2")
    assert status(session) == 0
    session.run("seamless-mode-off")
    assert "\npear\n" in session.run("head -n 1 fruit.txt")
    assert "head -n 1 fruit.txt 2>&1" in session.run("fc -ln -2")
    assert runs(run_log) == ["head -n 1 fruit.txt 2>&1"]
