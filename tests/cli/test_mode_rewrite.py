"""seamless-mode-rewrite (SPEC §7): golden rewrites, declines and variable substitution, in-process."""

import pytest

from seamless_transformer.cli.mode_rewrite import main


def rewrite(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    "line, expected",
    [
        ("head -n 3 data/a.txt", "seamless-run -c 'head -n 3 data/a.txt'\n"),
        ("grep 'a b' *.txt | sort", "seamless-run -c 'grep '\\''a b'\\'' *.txt | sort'\n"),
        ("head x.txt.CHECKSUM", "seamless-run -c 'head x.txt'\n"),
        ("awk '{print}' a", "seamless-run -c 'awk '\\''{print}'\\'' a'\n"),
        ("sort 'a'", "seamless-run -c 'sort '\\''a'\\'' '\n"),
        ("awk '{print $1}' d.txt", "seamless-run -c 'awk '\\''{print $1}'\\'' d.txt'\n"),
    ],
)
def test_spec_lines_are_rewritten_to_the_golden_command(capsys, line, expected):
    assert rewrite(capsys, "--", line) == (0, expected)


@pytest.mark.parametrize("line", ["ls -l", "X=5", "F=x.txt", "", "  # note", "sort 'a", "seamless-run x"])
def test_declined_lines_exit_1_without_output(capsys, line):
    assert rewrite(capsys, "--", line) == (1, "")


def test_options_come_before_dash_c(capsys):
    assert rewrite(capsys, "--opts", "-v --scratch", "--", "sort a.txt") == (
        0,
        "seamless-run -v --scratch -c 'sort a.txt'\n",
    )


def test_a_double_quoted_variable_is_substituted_in_double_quotes(capsys):
    assert rewrite(capsys, "--set", "F=my file.txt", "--", 'cat "$F"') == (
        0,
        "seamless-run -c 'cat \"my file.txt\"'\n",
    )


def test_an_unquoted_value_is_split_and_each_field_quoted(capsys):
    code, out = rewrite(capsys, "--set", "X=a; touch PWNED", "--", "printf '%s\\n' $X")
    assert (code, out) == (0, "seamless-run -c 'printf '\\''%s\\n'\\'' '\\''a;'\\'' touch PWNED'\n")


def test_skip_words_come_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("SEAMLESS_MODE_SKIP", "make,ninja")
    assert rewrite(capsys, "--", "ninja all") == (1, "")


def test_list_vars_names_only_substitutable_references(capsys):
    line = "cat $A \"${B}\" '$C' $(echo $D) `$E` $((F+1)) \\$G $1 ${H:-x} $A"
    assert rewrite(capsys, "--list-vars", "--", line) == (0, "A\nB\n")


def test_a_bad_set_argument_is_a_usage_error(capsys):
    assert main(["--set", "1x=3", "--", "sort a.txt"]) == 2
    assert capsys.readouterr().err.startswith("seamless-mode-rewrite: error: --set needs NAME=VALUE")


def test_a_usage_error_is_exactly_one_line_pointing_to_help(capsys):
    assert main(["--bogus"]) == 2
    assert capsys.readouterr().err == (
        "seamless-mode-rewrite: error: unexpected argument '--bogus' (see seamless-mode-rewrite --help)\n"
    )


def test_an_option_without_its_value_says_so(capsys):
    assert main(["--opts"]) == 2
    assert capsys.readouterr().err == (
        "seamless-mode-rewrite: error: option --opts requires an argument (see seamless-mode-rewrite --help)\n"
    )


def test_help_prints_the_usage_on_stdout(capsys):
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: seamless-mode-rewrite [--opts STR]")


@pytest.mark.parametrize(
    "line",
    ["sort a.txt |", "make all &&", "grep x a.txt ||", "sort a.txt |&", "(cd data", "for f in *.txt; do",
     "for f in a b", "if true; then", "cat <<EOF", "while read l; do echo $l", "tac a.txt \\",
     "head 'a", "case x in", "{ sort a.txt", "[[ -f a"],
)
def test_unfinished_lines_are_left_to_the_shell(capsys, line):
    assert rewrite(capsys, "--", line) == (1, "")


@pytest.mark.parametrize(
    "line",
    ["for f in *.txt; do wc -l $f; done", "sort a.txt | uniq", "grep '|' a.txt", "(sort a.txt | uniq)",
     "awk '/do/' a.txt", "sort a.txt &", "grep 'a <<b' x.txt"],
)
def test_complete_lines_with_operators_and_keywords_are_rewritten(capsys, line):
    code, out = rewrite(capsys, "--", line)
    assert code == 0 and out.startswith("seamless-run -c ")


@pytest.mark.parametrize("line", ["wc -l fruit.txt", "du -s data", "nl a.txt", "od -c a.txt"])
def test_short_command_names_are_rewritten(capsys, line):
    assert rewrite(capsys, "--", line) == (0, f"seamless-run -c '{line}'\n")


@pytest.mark.parametrize(
    "line", ["mkdir -p newdir", "touch x", "ln -s a b", "chmod +x a", "git status", "cp a b", "sort a.txt | less"]
)
def test_commands_that_change_the_working_tree_or_need_the_terminal_decline(capsys, line):
    assert rewrite(capsys, "--", line) == (1, "")


def test_skip_words_can_be_given_as_an_option(capsys):
    assert rewrite(capsys, "--skip", "workon:deactivate", "--", "workon env1") == (1, "")
    assert rewrite(capsys, "--skip", "workon", "--", "sort a.txt") == (0, "seamless-run -c 'sort a.txt'\n")


def test_commands_lists_the_command_word_of_every_simple_command_after_r(capsys):
    line = "LC_ALL=C sort a.txt 2>&1 | my_fn x > out.txt && A=1 'tr' a b <in; head"
    code, out = rewrite(capsys, "--commands", "--", line)
    assert code == 0
    assert out.splitlines()[1:] == ["sort", "my_fn", "tr", "head"]


def test_a_skip_word_anywhere_in_a_pipeline_declines(capsys):
    assert rewrite(capsys, "--skip", "pager", "--", "sort a.txt | pager") == (1, "")
