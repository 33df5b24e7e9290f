#!/usr/bin/env bats
# seamless-cancel (SPEC 6.5)

load test_helper

setup() {
    setup_isolated
    export TMPDIR="$BATS_TEST_TMPDIR/tmp"
    mkdir -p "$TMPDIR"
    export XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/run"
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    REGISTRY="$XDG_RUNTIME_DIR/seamless-$(id -u)/running"
}

teardown() {
    if [ -n "${RUNNER_PID-}" ]; then
        kill "$RUNNER_PID" 2>/dev/null || true
        wait "$RUNNER_PID" 2>/dev/null || true
    fi
    stop_leftovers
}

cached_rows() {
    python -c "
import os, sqlite3
path = '$CACHE/seamless.db'
rows = sqlite3.connect(path).execute('select count(*) from transformation').fetchone()[0] if os.path.exists(path) else 0
print(rows)"
}

start_long_job() {
    cat > long.py <<'EOF'
from seamless_transformer import delayed
from seamless_transformer.errors import TransformationError

t = delayed("sleep 60; echo x > RESULT", "bash")(a=1)
print(t.construct(), flush=True)
try:
    t.compute()
    print("finished", flush=True)
except TransformationError as exc:
    print(exc, flush=True)
EOF
    python long.py > runner.out 2> runner.err &
    RUNNER_PID=$!
    for _ in $(seq 100); do
        tf=$(head -n 1 runner.out)
        [ -n "$tf" ] && [ -d "$REGISTRY/$tf" ] && break
        sleep 0.1
    done
    TF=$(head -n 1 runner.out)
}

@test "a running transformation is canceled: exit 0, one line per process, nothing cached" {
    start_long_job
    run --separate-stderr seamless-cancel "$TF"
    assert_success
    assert_output "process $RUNNER_PID: canceled"
    assert_stderr ""
    for _ in $(seq 50); do kill -0 "$RUNNER_PID" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$RUNNER_PID" 2>/dev/null || flunk "the python process still runs"
    [ "$(sed -n 2p runner.out)" = "Transformation was canceled" ] || flunk "runner: $(cat runner.out)"
    run cached_rows
    assert_output "0"
    ! pgrep -f 'sleep 60; echo x > RESULT' || flunk "the bash job survived"
    assert_no_file "$REGISTRY/$TF"
}

@test "nothing running is exit 4" {
    tf=2222222222222222222222222222222222222222222222222222222222222222
    run --separate-stderr seamless-cancel "$tf"
    assert_failure 4
    assert_output ""
    assert_stderr "seamless-cancel: error: nothing running for transformation $tf"
}

@test "the entry of a dead process is removed and does not count" {
    tf=3333333333333333333333333333333333333333333333333333333333333333
    sleep 0 & dead=$!
    wait "$dead"
    (umask 077 && mkdir -p "$REGISTRY/$tf")  # the registry is private to its user
    printf '%s 0\n' "$dead" > "$REGISTRY/$tf/$(hostname)-$dead"
    run --separate-stderr seamless-cancel "$tf"
    assert_failure 4
    assert_no_file "$REGISTRY/$tf"
}

@test "a .CHECKSUM file names the transformation" {
    tf=4444444444444444444444444444444444444444444444444444444444444444
    printf '%s\n' "$tf" > job.CHECKSUM
    run --separate-stderr seamless-cancel job.CHECKSUM
    assert_failure 4
    assert_stderr "seamless-cancel: error: nothing running for transformation $tf"
}

@test "an argument that is not a checksum is a usage error" {
    run --separate-stderr seamless-cancel nonsense
    assert_failure 2
    assert_stderr "seamless-cancel: error: 'nonsense' is not a checksum or a .CHECKSUM file (see seamless-cancel --help)"
}

@test "--help exits 0 with the usage line" {
    run seamless-cancel --help
    assert_success
    assert_output_contains "Usage: seamless-cancel [OPTIONS] CHECKSUM_OR_FILE"
}

@test "a canceled seamless-run exits 1 with the canceled line and caches nothing" {
    tf=$(seamless-run --dry 'sleep 60; echo x > o.txt')
    seamless-run 'sleep 60; echo x > o.txt' 2> run.err &
    RUNNER_PID=$!
    for _ in $(seq 100); do [ -d "$REGISTRY/$tf" ] && break; sleep 0.1; done
    run --separate-stderr seamless-cancel "$tf"
    assert_success
    assert_output "process $RUNNER_PID: canceled"
    for _ in $(seq 50); do kill -0 "$RUNNER_PID" 2>/dev/null || break; sleep 0.1; done
    run wait "$RUNNER_PID"
    assert_failure 1
    RUNNER_PID=
    [ "$(tail -n 1 run.err)" = "seamless-run: error: transformation $tf was canceled" ] || flunk "$(cat run.err)"
    assert_no_file o.txt
    assert_no_file o.txt.CHECKSUM
    run cached_rows
    assert_output "0"
}
