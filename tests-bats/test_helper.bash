# Shared set-up and assertions for the bats tests.
# Each test gets its own HOME, working directory and cache; no SEAMLESS_* or XDG_* variable
# leaks in from the caller, and PATH holds only the directory of our commands and the system.
# Load it with:  load test_helper

bats_require_minimum_version 1.5.0

_seamless_bin_dir() {
    dirname "$(command -v seamless-mode-rewrite)"
}

setup_isolated() {
    local bindir
    bindir=$(_seamless_bin_dir)
    local name
    for name in $(compgen -e); do
        case "$name" in
            SEAMLESS_* | XDG_*) unset "$name" ;;
        esac
    done
    export HOME="$BATS_TEST_TMPDIR/home"
    export WORK="$BATS_TEST_TMPDIR/work"
    mkdir -p "$HOME" "$WORK"
    export PATH="$bindir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    export CACHE="$HOME/.cache/seamless/__TOPLEVEL__"
    export LC_ALL=C.UTF-8
    cd "$WORK" || return 1
}

setup() {
    setup_isolated
}

flunk() {
    {
        printf '%s\n' "$@"
        printf 'exit status: %s\n' "${status-}"
        printf -- '--- stdout ---\n%s\n' "${output-}"
        [ -z "${stderr+x}" ] || printf -- '--- stderr ---\n%s\n' "$stderr"
    } >&2
    return 1
}

assert_success() {
    [ "$status" -eq 0 ] || flunk "expected success"
}

assert_failure() {
    local expected=${1-}
    if [ -z "$expected" ]; then
        [ "$status" -ne 0 ] || flunk "expected failure"
    else
        [ "$status" -eq "$expected" ] || flunk "expected exit status $expected"
    fi
}

assert_output() {
    [ "$output" = "$1" ] || flunk "expected stdout: $1"
}

assert_stderr() {
    [ "$stderr" = "$1" ] || flunk "expected stderr: $1"
}

assert_stderr_contains() {
    [[ "$stderr" == *"$1"* ]] || flunk "expected stderr to contain: $1"
}

assert_output_contains() {
    [[ "$output" == *"$1"* ]] || flunk "expected stdout to contain: $1"
}

assert_file_content() {
    local actual
    actual=$(cat -- "$1"; printf x)
    [ "${actual%x}" = "$2" ] || flunk "file '$1' holds: ${actual%x}" "expected: $2"
}

assert_no_file() {
    [ ! -e "$1" ] || flunk "expected no file '$1'"
}

# wait (up to 15 s) until a command succeeds
wait_until() {
    local _
    for _ in $(seq 150); do
        "$@" && return 0
        sleep 0.1
    done
    flunk "timed out waiting for: $*"
}

# The pids of processes a test left behind: those whose command line names the test's
# temporary directory or whose working directory is inside it, except this shell and its ancestors.
# Builtins only inside the loop (a subshell of its own, free to cd): a fork per process on the
# machine would cost seconds per test on a busy one.
_leftover_pids() (
    ancestors=" " pid=$BASHPID
    while [ -n "$pid" ] && [ "$pid" != 0 ]; do
        ancestors+="$pid "
        pid=$(awk '{print $4}' "/proc/$pid/stat" 2> /dev/null)
    done
    for dir in /proc/[0-9]*; do
        pid=${dir#/proc/}
        [[ $ancestors == *" $pid "* ]] && continue
        cd -P "$dir/cwd" 2> /dev/null || continue
        if [[ $PWD == "$BATS_TEST_TMPDIR"* ]]; then
            echo "$pid"
        elif mapfile -d '' -t args < "$dir/cmdline" 2> /dev/null && [[ "${args[*]}" == *"$BATS_TEST_TMPDIR"* ]]; then
            echo "$pid"
        fi
    done
)

# Stop what a test left running (TERM, then KILL after 5 s), so that a failed assertion never
# leaves a job behind that keeps the whole bats run waiting. Every teardown calls it.
stop_leftovers() {
    local pids _
    pids=$(_leftover_pids)
    [ -n "$pids" ] || return 0
    kill -TERM $pids 2> /dev/null || true
    for _ in $(seq 50); do
        pids=$(_leftover_pids)
        [ -n "$pids" ] || return 0
        sleep 0.1
    done
    kill -KILL $pids 2> /dev/null || true
}

teardown() {
    stop_leftovers
}
