#!/usr/bin/env bash
# Install the test dependencies and run every test: pytest (tests/) and bats (tests-bats/).
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests drive for real: zsh (shell mode), shellcheck (lint of the shell code).
missing=()
for tool in zsh shellcheck; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
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

python3 -m pytest -q "$@"
if [ -d tests-bats ] && ls tests-bats/*.bats >/dev/null 2>&1; then
    bats tests-bats
fi
