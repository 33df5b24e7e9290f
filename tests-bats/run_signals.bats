#!/usr/bin/env bats
# seamless-run while the job runs: .FUTURE files (SPEC §4.6), waiting on another run's future
# (§4.3), SIGINT/SIGTERM (bug 24) and seamless-cancel (§6.5).

load run_helper

setup() {
    setup_isolated
    export TMPDIR=$BATS_TEST_TMPDIR/tmp  # workspaces and the running registry of this test only
    mkdir -p "$TMPDIR"
}

workspace_exists() {
    compgen -G "$TMPDIR/seamless-bash-*" > /dev/null
}

no_workspace_left() {
    ! workspace_exists || flunk "a workspace was left behind"
}

# run seamless-run in the background; its pid in $job_pid, stderr in err.txt
start_job() {
    seamless-run "$@" > out.txt 2> err.txt &
    job_pid=$!
}

# wait (15 s at most) for the background job; its exit status in $job_status
wait_job() {
    wait_until eval '! kill -0 "$job_pid" 2> /dev/null'
    job_status=0
    wait "$job_pid" || job_status=$?
}

@test "each target has a .FUTURE with the tf while the job runs, removed afterwards" {
    local go=$BATS_TEST_TMPDIR/go tf
    start_job -cp :log.txt "while [ ! -e $go ]; do sleep 0.05; done; echo r > r.txt"
    wait_until [ -e r.txt.FUTURE ]
    tf=$(seamless-run --dry -cp :log.txt "while [ ! -e $go ]; do sleep 0.05; done; echo r > r.txt")
    run head -n1 r.txt.FUTURE  # the second line names the owner process
    assert_output "$tf.r.txt"
    run head -n1 log.txt.FUTURE
    assert_output "$tf.STDOUT"
    touch "$go"
    wait_job
    [ "$job_status" -eq 0 ] || flunk "exit status $job_status"
    assert_no_file r.txt.FUTURE
    assert_no_file log.txt.FUTURE
    assert_file_content r.txt $'r\n'
}

@test "a run whose input is still a future waits for it and then uses the file" {
    local go=$BATS_TEST_TMPDIR/go reader
    start_job "while [ ! -e $go ]; do sleep 0.05; done; echo x > o.txt"
    wait_until [ -e o.txt.FUTURE ]
    seamless-run -v cat o.txt > reader.out 2> reader.err &
    reader=$!
    wait_until grep -q "seamless-run: waiting for 'o.txt.FUTURE'" reader.err
    touch "$go"
    wait "$reader" || flunk "the waiting run failed: $(cat reader.err)"
    assert_file_content reader.out $'x\n'
    wait_job
}

@test "a failing job removes its futures" {
    sr 'false > o.txt'
    assert_failure 1
    assert_no_file o.txt.FUTURE
    no_workspace_left
}

@test "SIGTERM kills the job, removes workspace and futures, and exits 143 (bug 24)" {
    start_job 'sleep 97 > o.txt'
    wait_until pgrep -f '^sleep 97$'
    wait_until workspace_exists
    kill -TERM "$job_pid"
    wait_job
    [ "$job_status" -eq 143 ] || flunk "exit status $job_status"
    run pgrep -f '^sleep 97$'
    assert_failure 1
    assert_no_file o.txt.FUTURE
    no_workspace_left
    run grep -c Traceback err.txt
    assert_output "0"
}

@test "SIGINT kills the job and exits 130 (bug 24)" {
    start_job 'sleep 98'
    wait_until pgrep -f '^sleep 98$'
    wait_until workspace_exists
    kill -INT "$job_pid"
    wait_job
    [ "$job_status" -eq 130 ] || flunk "exit status $job_status"
    run pgrep -f '^sleep 98$'
    assert_failure 1
    no_workspace_left
}

@test "seamless-cancel stops a running job: exit 1 with the canceled line, nothing cached" {
    local tf
    tf=$(seamless-run --dry 'sleep 96; echo x > o.txt')
    start_job 'sleep 96; echo x > o.txt'
    wait_until pgrep -f '^sleep 96$'
    run seamless-cancel "$tf"
    assert_success
    wait_job
    [ "$job_status" -eq 1 ] || flunk "exit status $job_status"
    run tail -n 1 err.txt
    assert_output "seamless-run: error: transformation $tf was canceled"
    [ -z "$(db_result "$tf")" ] || flunk "a canceled run was cached"
    assert_no_file o.txt.FUTURE
    run pgrep -f '^sleep 96$'
    assert_failure 1
}

# the pids of the processes whose command line is exactly $1
pids_of() {
    pgrep -x -f "$1" || true
}

@test "kill -9 of seamless-run kills its job's processes and removes the workspace" {
    start_job 'sleep 91 | sleep 92 > o.txt'
    wait_until pgrep -x -f 'sleep 92'
    wait_until workspace_exists
    kill -KILL "$job_pid"
    wait_until [ -z "$(pids_of 'sleep 91')$(pids_of 'sleep 92')" ]
    wait_until no_workspace_left
}

@test "a run reading the future of a run killed with -9 fails at once, naming the stale future" {
    start_job 'sleep 93; echo x > o.txt'
    wait_until [ -e o.txt.FUTURE ]
    wait_until pgrep -x -f 'sleep 93'
    kill -KILL "$job_pid"
    wait "$job_pid" || true
    sr cat o.txt
    assert_failure 2
    assert_stderr "seamless-run: error: stale future 'o.txt.FUTURE': the process that wrote it is gone; delete it"
}

@test "the workspace of a job whose owner and watchdog were both killed is removed by a later job" {
    mkdir "$TMPDIR/seamless-bash-stale"
    touch -d '1 hour ago' "$TMPDIR/seamless-bash-stale"
    sr echo hi
    assert_success
    wait_until [ ! -e "$TMPDIR/seamless-bash-stale" ]
}
