"""run_main: the error line, and when our traceback comes with it (SPEC §12)."""

from seamless_transformer.cli._common import run_main
from seamless_transformer.cli.run import PROG, body

UNDO_ERROR = "seamless-run: error: no cached result to undo\n"


def run(capsys, *argv):
    code = run_main(PROG, body, list(argv))
    return code, capsys.readouterr().err


def test_an_error_is_one_line_without_traceback_by_default(capsys):
    assert run(capsys, "--undo", "seq 7") == (3, UNDO_ERROR)


def test_debug_adds_the_traceback_before_the_error_line(capsys):
    code, err = run(capsys, "--debug", "--undo", "seq 7")
    assert code == 3
    assert "Traceback (most recent call last):" in err
    assert err.endswith(UNDO_ERROR)


def test_three_separate_v_options_add_the_traceback_like_vvv(capsys):
    code, err = run(capsys, "-v", "-v", "-v", "--undo", "seq 7")
    assert code == 3
    assert "Traceback (most recent call last):" in err


def test_debug_among_the_command_words_is_not_an_option(capsys):
    assert run(capsys, "--undo", "seq", "7", "--debug") == (3, UNDO_ERROR)
