"""Seamless mode in real interactive bash and zsh (pty), emacs and vi keymaps (SPEC §7)."""

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
def test_enter_runs_the_line_through_seamless_run(make_session, shell, keymap, argv_file):
    session = make_session(shell, keymap)
    mode_on(session)
    output = session.run("sort a.txt")
    assert "apples\npears\nzucchini\n" in output
    assert read_argv(argv_file) == [b"-c", b"sort a.txt"]


@pytest.mark.parametrize("keymap", KEYMAPS)
@pytest.mark.parametrize("shell", SHELLS)
def test_history_holds_the_typed_line_not_the_rewritten_one(make_session, shell, keymap):
    session = make_session(shell, keymap)
    mode_on(session)
    session.run("sort a.txt")
    assert "sort a.txt" in lines_after_echo(session.run(LAST_ENTRY[shell]))
    listing = lines_after_echo(session.run(ALL_ENTRIES[shell]))
    assert "seamless-run" not in listing
    assert "seamless-mode-exec" not in listing


@pytest.mark.parametrize("keymap", KEYMAPS)
def test_mode_off_restores_a_users_own_bash_enter_macro(make_session, keymap):
    session = make_session("bash", keymap)
    km = "emacs" if keymap == "emacs" else "vi-insert"
    session.run(f"""bind -m {km} '"\\C-m": "; echo USER-MACRO\\C-j"'""")
    mode_on(session)
    assert "USER-MACRO" not in session.run("echo hi")
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


def _sleepers(root_pid):
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for proc in children:
        try:
            if proc.cmdline()[:2] == ["sleep", "30"]:
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
def test_ctrl_c_cancels_the_running_command(make_session, shell, keymap, argv_file):
    session = make_session(shell, keymap)
    mode_on(session)
    session.send("sleep 30\r")
    assert _wait_for(lambda: _sleepers(session.child.pid), 20), session.screen()
    assert read_argv(argv_file) == [b"-c", b"sleep 30"]
    session.send("\x03")
    session.expect_prompt(timeout=5)
    assert _wait_for(lambda: not _sleepers(session.child.pid), 5)


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


def _check_mode_works(session, argv_file):
    assert press_hotkey(session).endswith("[seamless-mode] ")
    assert "apples\npears\nzucchini\n" in session.run("sort a.txt")
    assert read_argv(argv_file) == [b"-c", b"sort a.txt"]


@pytest.mark.parametrize("shell", SHELLS)
def test_venv_activate_with_the_hook_appended_enables_the_mode(make_session, shell, tmp_path, argv_file):
    prefix = tmp_path / "venv"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "activate").write_text(VENV_ACTIVATE.format(prefix=prefix))
    session = make_session(shell)
    assert lines_after_echo(session.run(f"source {prefix}/bin/activate")) == ""
    _check_mode_works(session, argv_file)


@pytest.mark.parametrize("shell", SHELLS)
def test_conda_activate_d_script_enables_the_mode(make_session, shell, tmp_path, argv_file):
    prefix = tmp_path / "env"
    hook_dir = prefix / "etc" / "conda" / "activate.d"
    hook_dir.mkdir(parents=True)
    (hook_dir / "seamless-mode.sh").write_text('source "$(command -v seamless-mode-bind.sh)"\n')
    activate = tmp_path / "conda-activate.sh"
    activate.write_text(CONDA_ACTIVATE.format(prefix=prefix))
    session = make_session(shell)
    assert lines_after_echo(session.run(f"source {activate}")) == ""
    _check_mode_works(session, argv_file)


@pytest.mark.parametrize("shell", SHELLS)
def test_enter_works_in_a_shell_with_nounset_and_pipefail(make_session, shell, argv_file):
    session = make_session(shell)
    session.run("set -u -o pipefail")
    mode_on(session)
    output = session.run("F=a.txt; sort $F $NOT_SET_ANYWHERE")
    assert "unbound" not in output and "parameter not set" not in output
    assert read_argv(argv_file) == [b"-c", b"F=a.txt; sort $F $NOT_SET_ANYWHERE"]


@pytest.mark.parametrize("shell", SHELLS)
def test_set_variables_are_substituted_quoted(make_session, shell, argv_file, work):
    session = make_session(shell)
    (work / "my file.txt").write_text("b\na\n")
    mode_on(session)
    session.run("F='my file.txt'")
    assert "a\nb\n" in session.run('sort "$F"')
    assert read_argv(argv_file) == [b"-c", b'sort "my file.txt"']


@pytest.mark.parametrize("shell", SHELLS)
def test_echo_setting_shows_the_rewritten_command(make_session, shell):
    session = make_session(shell, extra_env={"SEAMLESS_MODE_ECHO": "1"})
    mode_on(session)
    assert "seamless-run -c 'sort a.txt'\n" in session.run("sort a.txt")


@pytest.mark.parametrize("shell", SHELLS)
def test_declined_lines_run_unchanged(make_session, shell, argv_file):
    session = make_session(shell)
    mode_on(session)
    assert "\nhello\n" in session.run("echo hello")
    assert not argv_file.exists()
