"""Drive a real interactive bash or zsh in a pty (pexpect), with a counting prompt.

The prompt is `[P<n>]$ ` where n grows each time the shell draws it, so an expectation only
accepts a prompt numbered above the last one seen: an old prompt left in the buffer can never
satisfy a new expectation. Every failure shows the tail of the screen.
"""

import io
import os
import re
from pathlib import Path

import pexpect

# SEAMLESS_MODE_TEST_BIND_SCRIPT runs the suite against another build of the bind script (for
# instance an older commit's, to see that a test fails without its fix); its directory comes
# first on the sessions' PATH, so a `seamless-mode-rewrite` placed next to it is used too.
BIND_SCRIPT = Path(
    os.environ.get("SEAMLESS_MODE_TEST_BIND_SCRIPT") or Path(__file__).resolve().parents[2] / "bin" / "seamless-mode-bind.sh"
)
PROMPT_RE = re.compile(r"\[P(\d+)\]")
TIMEOUT = 20
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")

SETUP = {
    "bash": "__pc=0; PS1='[P$((++__pc))]$ '; PROMPT_COMMAND=; HISTFILE=; HISTCONTROL=",
    "zsh": "__pc=0; setopt promptsubst; PROMPT='[P$((++__pc))]$ '; RPROMPT=; unsetopt histignoredups promptsp",
}
COMMAND = {
    "bash": ["bash", "--norc", "--noprofile", "-i"],
    "zsh": ["zsh", "-f", "-i"],
}


class ShellSession:
    def __init__(self, shell, env, cwd):
        self.shell = shell
        self.log = io.StringIO()
        self.last = 0
        argv = COMMAND[shell]
        self.child = pexpect.spawn(
            argv[0], argv[1:], env=env, cwd=cwd, encoding="utf-8", dimensions=(40, 200), timeout=TIMEOUT
        )
        self.child.logfile_read = self.log
        self.child.delaybeforesend = None  # the pty buffers what is typed; pexpect's 50 ms pause is waste
        self.child.sendline(SETUP[shell])
        self.expect_prompt()

    def screen(self):
        return ANSI_RE.sub("", self.log.getvalue())[-3000:]

    def fail(self, what):
        raise AssertionError(f"{self.shell}: {what}\n----- screen (tail) -----\n{self.screen()}\n-----")

    def expect(self, pattern, timeout=TIMEOUT):
        """Wait for a regex; return the match."""
        try:
            self.child.expect(pattern, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            self.fail(f"did not see {pattern!r} ({type(exc).__name__})")
        return self.child.match

    def expect_prompt(self, timeout=TIMEOUT):
        """Wait for a prompt newer than every prompt seen so far; return the text before it."""
        seen = []
        while True:
            self.expect(PROMPT_RE, timeout)
            seen.append(self.child.before)
            number = int(self.child.match.group(1))
            if number > self.last:
                self.last = number
                self.expect(r"\$ ", timeout)
                return ANSI_RE.sub("", "".join(seen))

    def run(self, line, timeout=TIMEOUT):
        """Type LINE, press Enter, return the output up to the next prompt."""
        self.child.send(line + "\r")
        return self.expect_prompt(timeout)

    def send(self, text):
        self.child.send(text)

    def close(self):
        self.child.close(force=True)


def shell_env(home, path_dirs):
    env = {
        "HOME": str(home),
        "PATH": os.pathsep.join(map(str, path_dirs)),
        "TERM": "xterm",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "INPUTRC": "/dev/null",
        "SHELL_SESSIONS_DISABLE": "1",
    }
    return env


def read_argv(path):
    """The argv that the stub seamless-run recorded (NUL-separated)."""
    return path.read_bytes().split(b"\0")[:-1]
