"""The plain `>>>` prompt (pexpect on `python -i`): a function typed there has no source."""

import os
import sys

import pytest

import pexpect

DEFINE = ["from seamless.transformer import delayed", "@delayed", "def add(a, b):", "    return a + b", ""]


def _prompt():
    """`python -i` in a pty, with the basic prompt, which keeps no sources (also from 3.13 on)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    env["TERM"] = "dumb"
    env["PYTHON_BASIC_REPL"] = "1"
    child = pexpect.spawn(sys.executable, ["-i", "-q"], env=env, encoding="utf-8", timeout=60)
    child.expect_exact(">>> ")
    return child


def _type(child, lines):
    for line in lines:
        child.sendline(line)


def _quit(child):
    child.sendline("raise SystemExit")
    child.expect(pexpect.EOF)


def test_a_function_typed_at_the_prompt_is_refused_with_the_two_ways_out():
    child = _prompt()
    _type(child, DEFINE)
    child.expect_exact(
        "ValueError: cannot read the source code of function 'add' (functions typed at an interactive "
        "prompt or built with exec have none); define it in a file, or pass its code as a string"
    )
    _quit(child)


def test_code_given_as_a_string_at_the_prompt_runs():
    child = _prompt()
    _type(child, ["from seamless.transformer import delayed",
                  'add = delayed("def add(a, b):\\n    return a + b\\n")',
                  "print('value', add(a=19, b=23).run())"])
    child.expect_exact("value 42")
    _quit(child)
