# Helpers for the shell-mode bats tests: a stub seamless-run, the bind script, and a way to run
# a script in an interactive bash or zsh that has a terminal (through `script`, in a pty).
# shellcheck disable=SC2034  # the globals set here are read by the .bats files that load this helper

load test_helper

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BIND_SCRIPT=$REPO_ROOT/bin/seamless-mode-bind.sh

setup() {
    setup_isolated
    local stub_dir=$BATS_TEST_TMPDIR/stubbin
    mkdir -p "$stub_dir"
    # The stub prints its argv NUL-separated; with STUB_EXEC=1 it then runs the command string.
    cat > "$stub_dir/seamless-run" <<'STUB'
#!/bin/bash
printf '%s\0' "$@"
if [ "${STUB_EXEC-}" = 1 ]; then exec bash -c "${@: -1}"; fi
STUB
    chmod +x "$stub_dir/seamless-run"
    export PATH="$stub_dir:$REPO_ROOT/bin:$PATH"
    export TERM=xterm
}

# in_pty SHELL SCRIPT: run SCRIPT in an interactive SHELL with line editing, under
# -e -u -o pipefail; sets $status and $output (carriage returns removed).
in_pty() {
    local shell=$1 file=$BATS_TEST_TMPDIR/pty-script.$1
    printf '%s\n' "$2" > "$file"
    local cmd
    case $shell in
        bash) cmd="bash --norc --noprofile -e -u -o pipefail -i -c 'source $file'" ;;
        zsh) cmd="zsh -f -e -u -o pipefail -i -c 'source $file'" ;;
    esac
    run bash -c "script -qec \"$cmd\" /dev/null < /dev/null | tr -d '\r'"
}

# The argv that the stub seamless-run receives when R (in $output) is evaluated, one element
# per line as a quoted word.
argv_of() {
    eval "$1" | while IFS= read -r -d '' word; do printf '[%s]\n' "$word"; done
}
