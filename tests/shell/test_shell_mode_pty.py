"""Seamless mode in real interactive bash and zsh (pty), emacs and vi keymaps (SPEC §7).

Lines run through the installed seamless-run; tests of the exact argv use the stub (stub=True).
"""

import time

import psutil
import pytest
from shell_session import BIND_SCRIPT, read_argv

SHELLS = ["bash", "zsh"]
KEYMAPS = ["emacs", "vi"]
HOTKEY = "\x15u"  # Ctrl-U then u
SOURCE = f"source {BIND_SCRIPT}"
LAST_ENTRY = {"bash": "history 2", "zsh": "fc -ln -1"}
ALL_ENTRIES = {"bash": "history", "zsh": "fc -ln 1"}
SORTED = "apples\npears\nzucchini\n"  # `sort a.txt` in the `work` fixture


def lines_after_echo(output):
    """The output of a command without the echoed command line itself."""
    return output.split("\n", 1)[1] if "\n" in output else ""


def press_hotkey(session):
    """Press the hotkey and return the next prompt's line (with its prefix, if any).

    zsh redraws the prompt from the widget (zle reset-prompt); a bash key binding cannot change
    the prompt readline is showing, so there the new prefix shows from the next prompt on.
    """
    session.send(HOTKEY)
    session.expect("seamless mode O(N|FF)")
    text = session.expect_prompt() if session.shell == "zsh" else session.run("")
    return text.rsplit("\n", 1)[-1]


def mode_on(session):
    session.run(SOURCE)
    session.run("seamless-mode-on")


@pytest.mark.parametrize("keymap", KEYMAPS)
@pytest.mark.parametrize("shell", SHELLS)
def test_sourcing_prints_nothing(make_session, shell, keymap):
    session = make_session(shell, keymap)
    assert lines_after_echo(session.run(SOURCE)) == ""


@pytest.mark.parametrize("keymap", KEYMAPS)
@pytest.mark.parametrize("shell", SHELLS)
def test_hotkey_toggles_the_prompt_prefix(make_session, shell, keymap):
    session = make_session(shell, keymap)
    session.run(SOURCE)
    assert press_hotkey(session).endswith("[seamless-mode] ")
    assert "[seamless-mode]" not in press_hotkey(session)


@pytest.mark.parametrize("keymap", KEYMAPS)
@pytest.mark.parametrize("shell", SHELLS)
def test_enter_runs_the_line_with_seamless_run_and_the_second_time_is_a_cache_hit(make_session, shell, keymap):
    session = make_session(shell, keymap)
    session.run(SOURCE)
    session.run("seamless-mode-on -v")
    first = session.run("sort a.txt")
    assert SORTED in first and "seamless-run: cache miss " in first
    second = session.run("sort a.txt")
    assert SORTED in second and "seamless-run: cache hit " in second
    assert "cache miss" not in second


@pytest.mark.parametrize("shell", SHELLS)
def test_the_exit_status_of_a_rewritten_line_is_that_of_seamless_run(make_session, shell):
    session = make_session(shell)
    mode_on(session)
    assert "command failed with exit status 1" in session.run("grep zucchinis a.txt")
    assert "\nrc=1\n" in session.run("echo rc=$?")
    assert SORTED in session.run("sort a.txt")
    assert "\nrc=0\n" in session.run("echo rc=$?")


@pytest.mark.parametrize("keymap", KEYMAPS)
@pytest.mark.parametrize("shell", SHELLS)
def test_enter_hands_the_typed_line_to_seamless_run_as_one_argument(make_session, shell, keymap, argv_file):
    session = make_session(shell, keymap, stub=True)
    mode_on(session)
    assert SORTED in session.run("sort a.txt")
    assert read_argv(argv_file) == [b"-c", b"sort a.txt"]


@pytest.mark.parametrize("keymap", KEYMAPS)
@pytest.mark.parametrize("shell", SHELLS)
def test_history_holds_the_typed_line_not_the_rewritten_one(make_session, shell, keymap):
    session = make_session(shell, keymap)
    mode_on(session)
    assert SORTED in session.run("sort a.txt")
    assert "sort a.txt" in lines_after_echo(session.run(LAST_ENTRY[shell]))
    listing = lines_after_echo(session.run(ALL_ENTRIES[shell]))
    assert "seamless-run" not in listing
    assert "seamless-mode-exec" not in listing


@pytest.mark.parametrize("keymap", KEYMAPS)
def test_a_users_own_bash_enter_macro_runs_in_the_mode_and_after_mode_off(make_session, keymap):
    session = make_session("bash", keymap)
    km = "emacs" if keymap == "emacs" else "vi-insert"
    session.run(f"""bind -m {km} '"\\C-m": "; echo USER-MACRO\\C-j"'""")
    mode_on(session)
    assert "\nUSER-MACRO\n" in session.run("echo hi")
    session.run("seamless-mode-off")
    assert "\nUSER-MACRO\n" in session.run("echo hi")


@pytest.mark.parametrize("keymap", KEYMAPS)
def test_zsh_chains_a_users_accept_line_widget_and_restores_it(make_session, keymap):
    session = make_session("zsh", keymap)
    session.run('my-accept() { BUFFER+="; echo USER-WIDGET"; zle .accept-line }; zle -N accept-line my-accept')
    mode_on(session)
    assert "\nUSER-WIDGET\n" in session.run("echo hi")
    session.run("seamless-mode-off")
    assert "\nUSER-WIDGET\n" in session.run("echo hi")


def _sleepers(home):
    """Every `sleep 30` on the machine started from a shell of this test (same HOME).

    Not only descendants of the shell: a sleep left behind by a killed parent is re-parented.
    """
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.info["cmdline"] == ["sleep", "30"] and proc.environ().get("HOME") == str(home):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("keymap", KEYMAPS)
@pytest.mark.parametrize("shell", SHELLS)
def test_ctrl_c_cancels_the_running_command_and_leaves_no_process(make_session, shell, keymap, home):
    session = make_session(shell, keymap)
    session.run(SOURCE)
    session.run("seamless-mode-on -v")
    session.send("sleep 30\r")
    session.expect("seamless-run: cache miss ")
    assert _wait_for(lambda: _sleepers(home), 20), session.screen()
    session.send("\x03")
    deadline = time.monotonic() + 5  # SPEC §4.7: every process is gone within 5 s
    session.expect_prompt(timeout=5)
    assert _wait_for(lambda: not _sleepers(home), max(deadline - time.monotonic(), 0)), session.screen()
    assert "\nrc=130\n" in session.run("echo rc=$?")  # SPEC §12: interrupted by SIGINT


VENV_ACTIVATE = """\
# a venv-style activate script
deactivate () {{ PATH="$_OLD_PATH"; unset VIRTUAL_ENV; unset -f deactivate; }}
VIRTUAL_ENV={prefix}
_OLD_PATH="$PATH"
PATH="$VIRTUAL_ENV/bin:$PATH"
export VIRTUAL_ENV PATH
source "$(command -v seamless-mode-bind.sh)"
"""

CONDA_ACTIVATE = """\
# the part of `conda activate` that runs activate.d scripts
CONDA_PREFIX={prefix}
export CONDA_PREFIX
for __f in "$CONDA_PREFIX"/etc/conda/activate.d/*.sh; do . "$__f"; done
unset __f
"""


def _check_mode_works(session):
    """The hotkey turns the mode on and `sort a.txt` runs through seamless-run: running that
    transformation again directly (a line starting with `seamless` is never rewritten) is a hit."""
    assert press_hotkey(session).endswith("[seamless-mode] ")
    assert SORTED in session.run("sort a.txt")
    assert "seamless-run: cache hit " in session.run("seamless-run -v -c 'sort a.txt'")


@pytest.mark.parametrize("shell", SHELLS)
def test_venv_activate_with_the_hook_appended_enables_the_mode(make_session, shell, tmp_path):
    prefix = tmp_path / "venv"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "activate").write_text(VENV_ACTIVATE.format(prefix=prefix))
    session = make_session(shell)
    assert lines_after_echo(session.run(f"source {prefix}/bin/activate")) == ""
    _check_mode_works(session)


@pytest.mark.parametrize("shell", SHELLS)
def test_conda_activate_d_script_enables_the_mode(make_session, shell, tmp_path):
    prefix = tmp_path / "env"
    hook_dir = prefix / "etc" / "conda" / "activate.d"
    hook_dir.mkdir(parents=True)
    (hook_dir / "seamless-mode.sh").write_text('source "$(command -v seamless-mode-bind.sh)"\n')
    activate = tmp_path / "conda-activate.sh"
    activate.write_text(CONDA_ACTIVATE.format(prefix=prefix))
    session = make_session(shell)
    assert lines_after_echo(session.run(f"source {activate}")) == ""
    _check_mode_works(session)


@pytest.mark.parametrize("shell", SHELLS)
def test_enter_works_in_a_shell_with_nounset_and_pipefail(make_session, shell, argv_file):
    session = make_session(shell, stub=True)
    session.run("set -u -o pipefail")
    mode_on(session)
    output = session.run("F=a.txt; sort $F $NOT_SET_ANYWHERE")
    assert "unbound" not in output and "parameter not set" not in output
    assert read_argv(argv_file) == [b"-c", b"F=a.txt; sort $F $NOT_SET_ANYWHERE"]


@pytest.mark.parametrize("shell", SHELLS)
def test_set_variables_are_substituted_quoted(make_session, shell, argv_file, work):
    session = make_session(shell, stub=True)
    (work / "my file.txt").write_text("b\na\n")
    mode_on(session)
    session.run("F='my file.txt'")
    assert "a\nb\n" in session.run('sort "$F"')
    assert read_argv(argv_file) == [b"-c", b'sort "my file.txt"']


@pytest.mark.parametrize("shell", SHELLS)
def test_echo_setting_shows_the_rewritten_command(make_session, shell):
    session = make_session(shell, extra_env={"SEAMLESS_MODE_ECHO": "1"})
    mode_on(session)
    output = session.run("sort a.txt")
    assert "seamless-run -c 'sort a.txt'\n" in output and SORTED in output


@pytest.mark.parametrize("shell", SHELLS)
def test_declined_lines_run_unchanged(make_session, shell, argv_file):
    session = make_session(shell, stub=True)
    mode_on(session)
    assert "\nhello\n" in session.run("echo hello")
    assert not argv_file.exists()
