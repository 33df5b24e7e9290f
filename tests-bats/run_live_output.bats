#!/usr/bin/env bats
# seamless-run's stdout is the job's stdout, live, as plain bash gives it; it is captured as the
# result at the same time, and a cache hit writes it at once.

load run_helper

setup() {
    setup_isolated
    export GO=$BATS_TEST_TMPDIR/go  # the job ends only once the test has seen its first line
}

teardown() {
    touch "$GO"  # a job still waiting, after a failed test, ends
}

GATED='echo first; until [ -e "$GO" ]; do sleep 0.05; done; echo second'

@test "the first line reaches a pipe while the job still runs" {
    seamless-run "$GATED" | cat > out.txt &
    local pipeline=$!
    wait_until grep -qx first out.txt
    [ ! -e "$GO" ] || flunk "the job was released before its first line arrived"
    touch "$GO"
    wait "$pipeline"
    assert_file_content out.txt $'first\nsecond\n'
}

@test "a streamed result is written exactly once and cached" {
    touch "$GO"
    sr "$GATED"
    assert_success
    assert_output $'first\nsecond'
    rm "$GO"
    sr "$GATED"  # a cache hit: the job does not run, so it does not wait for GO
    assert_success
    assert_output $'first\nsecond'
    assert_stderr_empty
}

@test "a failing job's partial stdout is shown, as in plain bash" {
    sr 'echo partial; exit 3'
    assert_failure 1
    assert_output "partial"
    assert_stderr_contains "command failed with exit status 3"
}

@test "non-UTF-8 stdout is streamed byte-exact" {
    sr 'printf "\xff\xfe\n"'
    assert_success
    [ "$output" = $'\xff\xfe' ] || flunk "bytes changed"
}

@test "a failing Python script's traceback names script.py, not a temporary directory" {
    printf 'def f():\n    raise ValueError("boom")\nf()\n' > script.py
    sr python3 script.py
    assert_failure 1
    assert_stderr_contains '  File "script.py", line 2, in f'
    [[ "$stderr" != *seamless-bash-* ]] || flunk "a temporary path is named"
}
