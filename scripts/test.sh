#!/usr/bin/env bash
# Install the test dependencies and run every test: pytest (tests/) and bats (tests-bats/).
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests start a few thousand Python processes (the commands, workers, servers): let them reuse
# compiled bytecode instead of compiling every module at every start.
unset PYTHONDONTWRITEBYTECODE

# System packages the tests drive for real: zsh, shellcheck (lint of the shell code), and for the
# seamless-mode pty tests the shell plugins it must coexist with, plus valgrind.
# Each entry is PACKAGE:FILE, FILE being what shows that the package is installed.
missing=()
for entry in zsh:/usr/bin/zsh shellcheck:/usr/bin/shellcheck \
    zsh-autosuggestions:/usr/share/zsh-autosuggestions/zsh-autosuggestions.zsh \
    zsh-syntax-highlighting:/usr/share/zsh-syntax-highlighting/zsh-syntax-highlighting.zsh \
    fzf:/usr/share/doc/fzf/examples/key-bindings.bash bash-completion:/usr/share/bash-completion/bash_completion \
    direnv:/usr/bin/direnv valgrind:/usr/bin/valgrind \
    gcc:/usr/bin/gcc g++:/usr/bin/g++ gfortran:/usr/bin/gfortran; do
    [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
done
# Compiled transformers: rustc (any on PATH), and Python's headers for the CFFI modules.
command -v rustc >/dev/null 2>&1 || missing+=(rustc)
python3 -c 'import os, sysconfig; os.stat(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null \
    || missing+=(python3-dev)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "scripts/test.sh: please install: ${missing[*]}" >&2
        exit 2
    fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'

# Upstream Seamless (the jobserver and the 0.6.1 client, for tests/jobserver and tests/interop)
# owns the import name seamless_transformer, so it lives in a venv of its own, made once and reused.
upstream="${SEAMLESS_TEST_UPSTREAM_VENV:-/opt/seamless-upstream-venv}"
if [ ! -x "$upstream/bin/seamless-jobserver" ]; then
    python3 -m venv "$upstream"
    "$upstream/bin/python" -m pip install -q --disable-pip-version-check \
        seamless-jobserver==0.3.0 seamless-transformer==0.6.1 seamless-core==0.1.4 \
        seamless-remote==0.4.0 seamless-config==0.3.2
fi

python3 -m pytest -q "$@"
if [ -d tests-bats ] && ls tests-bats/*.bats >/dev/null 2>&1; then
    bats tests-bats
fi
