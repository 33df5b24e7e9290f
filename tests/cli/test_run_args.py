"""seamless-run's own argv parser: options before the command, the option table, the mutual rules."""

import pytest

from seamless_transformer.cli._runargs import OPTIONS, help_text, parse
from seamless_transformer.errors import UsageError


def usage_message(argv) -> str:
    with pytest.raises(UsageError) as exc:
        parse(argv)
    assert exc.value.usage is True
    return str(exc.value)


def test_the_command_starts_at_the_first_word_that_is_not_an_option():
    args = parse(["-v", "cat", "a.txt", "--input", "b.txt"])
    assert args.command == ["cat", "a.txt", "--input", "b.txt"]
    assert args.inputs == []
    assert args.verbose == 1


def test_double_dash_ends_the_options():
    assert parse(["--", "-v", "x"]).command == ["-v", "x"]


def test_a_lone_dash_is_a_command_word():
    assert parse(["-"]).command == ["-"]


def test_repeated_v_counts_in_one_word_or_several():
    assert parse(["-vvv", "x"]).verbose == 3
    assert parse(["-v", "--verbose", "x"]).verbose == 2


def test_long_options_take_a_value_after_an_equals_sign():
    args = parse(["--var=N=3", "--capture=out.txt", "x"])
    assert args.vars == ["N=3"]
    assert args.captures == ["out.txt"]


def test_repeatable_options_keep_their_order():
    args = parse(["-cp", "a", "--capture", "b", "-i", "x", "--input", "y", "cmd"])
    assert args.captures == ["a", "b"]
    assert args.inputs == ["x", "y"]


def test_aliases_share_one_destination():
    assert parse(["--dry-run", "x"]).dry is True
    assert parse(["--conda-environment", "e", "x"]).conda == "e"
    assert parse(["--write-job", "J", "--dry", "x"]).job_dir == "J"


def test_an_unknown_option_is_a_usage_error():
    assert usage_message(["-z", "x"]) == "no such option: -z"


def test_an_option_without_its_value_is_a_usage_error():
    assert usage_message(["-j"]) == "option -j requires an argument"


def test_a_flag_given_a_value_is_a_usage_error():
    assert usage_message(["--dry=1", "x"]) == "option --dry does not take a value"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-y", "-n", "x"], "-y and -n cannot be combined"),
        (["-j", "J", "x"], "-j requires --dry"),
        (["--upload", "x"], "--upload requires --dry"),
        (["--write-remote-job", "R", "x"], "--write-remote-job requires --dry"),
        (["-ms", "-mx", "x"], "-ms and -mx cannot be combined"),
        (["-w", "..", "-W", "x"], "-w and -W cannot be combined"),
        (["-c", "a", "b"], "-c requires exactly one command argument, got 2"),
        (["-c"], "-c requires exactly one command argument, got 0"),
        ([], "no command given"),
        (["--primary", "x", "cmd"], "option --primary needs a positive integer, got 'x'"),
        (["--ncores", "0", "cmd"], "option --ncores needs a positive integer, got '0'"),
    ],
)
def test_mutual_rules_are_usage_errors(argv, message):
    assert usage_message(argv) == message


def test_numbers_are_converted():
    args = parse(["--primary", "2", "--ncores", "4", "x"])
    assert (args.primary, args.ncores) == (2, 4)


def test_help_skips_the_rules():
    assert parse(["-h"]).help is True


def test_help_lists_every_spelling_of_every_option():
    text = help_text()
    for opt in OPTIONS:
        for name in opt.names:
            assert name in text
    assert "--input b.txt" in text
