# Shared by the queue bats files: isolation, a server in the background, and timing.
# shellcheck disable=SC2034  # the globals set here are read by the .bats files that load this helper

load run_helper

setup() {
    setup_isolated
    export TMPDIR=$BATS_TEST_TMPDIR/tmp  # workspaces and the running registry of this test only
    mkdir -p "$TMPDIR"
}

teardown() {
    # never leave a server of this test behind
    if [ -n "${q_pid-}" ] && kill -0 "$q_pid" 2> /dev/null; then
        kill "$q_pid" 2> /dev/null || true
        wait "$q_pid" 2> /dev/null || true
    fi
    stop_leftovers
}

now() {
    date +%s.%N
}

# seconds elapsed since a `now` value, as a decimal
since() {
    awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
}

# true if decimal $1 < $2
lt() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

# seamless-queue in the background, run from $QDIR (default: a directory that is no submit dir);
# stderr in $WORK/q.err, pid in $q_pid
start_queue() {
    local dir=${QDIR:-$BATS_TEST_TMPDIR/server}
    mkdir -p "$dir"
    (cd "$dir" && exec seamless-queue --queue-file "$WORK/.seamless-queue" "$@") 2> "$WORK/q.err" &
    q_pid=$!
    q_start=$(now)
}

# seamless-queue-finish (exit status in $f_status), then wait for the server: its exit status in
# $q_status, its stderr in $q_err
finish_queue() {
    f_status=0
    seamless-queue-finish --queue-file "$WORK/.seamless-queue" --timeout 30 || f_status=$?
    q_status=0
    wait "$q_pid" || q_status=$?
    q_seconds=$(since "$q_start")
    q_err=$(cat "$WORK/q.err")
}

qsub() {
    SEAMLESS_QUEUE_FILE=$WORK/.seamless-queue seamless-run --qsubmit "$@" > /dev/null || flunk "submission failed: $*"
}

# the file and its .CHECKSUM sidecar agree
assert_sidecar_matches() {
    [ -e "$1.CHECKSUM" ] || flunk "no sidecar for '$1'"
    [ "$(sha256 "$1")" = "$(head -c 64 "$1.CHECKSUM")" ] || flunk "'$1' and its sidecar differ"
}

assert_q_err_contains() {
    [[ "$q_err" == *"$1"* ]] || { stderr=$q_err; flunk "expected the server's stderr to contain: $1"; }
}

assert_q_err_lacks() {
    [[ "$q_err" != *"$1"* ]] || { stderr=$q_err; flunk "expected the server's stderr not to contain: $1"; }
}
