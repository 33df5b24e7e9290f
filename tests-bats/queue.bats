#!/usr/bin/env bats
# seamless-run --qsubmit, seamless-queue and seamless-queue-finish (SPEC §4.9, §6.4; bugs 20, 21, 32, 33).
# The server always runs from a directory of its own: every output must land in the submit directory.

load queue_helper

@test "three jobs under --workers 3 run at once, outputs and sidecars in the submit dir (bug 20)" {
    # each job waits (30 s at most) until all three have started: jobs run one by one would fail
    export MEET=$BATS_TEST_TMPDIR/meet
    mkdir "$MEET"
    for i in 1 2 3; do
        qsub "touch \"\$MEET/$i\"; for _ in \$(seq 300); do [ \$(ls \"\$MEET\" | wc -l) -ge 3 ] && break; sleep 0.1; done; [ \$(ls \"\$MEET\" | wc -l) -ge 3 ]; echo $i > out_$i.txt"
    done
    start_queue --workers 3
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    for i in 1 2 3; do
        assert_file_content "out_$i.txt" "$i"$'\n'
        assert_sidecar_matches "out_$i.txt"
        assert_no_file "out_$i.txt.FUTURE"
    done
    assert_no_file "$BATS_TEST_TMPDIR/server/out_1.txt"
    assert_no_file .seamless-queue
}

@test "the server's stderr names each job: started with its command, finished" {
    qsub 'echo x > o.txt'
    start_queue
    finish_queue
    [ "$q_status" -eq 0 ] || flunk "server exit status $q_status"
    [ "$q_err" = "seamless-queue: job 1 started: seamless-run --qsubmit echo x > o.txt
seamless-queue: job 1 finished" ] || { stderr=$q_err; flunk "unexpected server stderr"; }
}

@test "a record written in two halves a second apart runs once, without an error (bug 21)" {
    SEAMLESS_QUEUE_FILE=staged seamless-run --qsubmit 'echo once >> log.txt; echo y > o.txt' > /dev/null
    local size half
    size=$(stat -c %s staged)
    half=$((size / 2))
    start_queue
    head -c "$half" staged >> .seamless-queue
    sleep 1
    tail -c +"$((half + 1))" staged >> .seamless-queue
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    assert_q_err_lacks "error"
    [ "$(grep -c started <<< "$q_err")" -eq 1 ] || { stderr=$q_err; flunk "the job did not start exactly once"; }
    assert_file_content o.txt $'y\n'
}

@test "a chunk with one and a half records runs the complete one at once (bug 21)" {
    SEAMLESS_QUEUE_FILE=staged seamless-run --qsubmit 'echo 1 > o1.txt' > /dev/null
    SEAMLESS_QUEUE_FILE=staged seamless-run --qsubmit 'echo 2 > o2.txt' > /dev/null
    local first size
    first=$(($(grep -abo $'\x00' staged | head -n 1 | cut -d: -f1) + 1))
    size=$(stat -c %s staged)
    start_queue
    head -c $((first + (size - first) / 2)) staged >> .seamless-queue
    wait_until [ -e o1.txt.CHECKSUM ]
    assert_no_file o2.txt
    tail -c +$((first + (size - first) / 2 + 1)) staged >> .seamless-queue
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    assert_file_content o2.txt $'2\n'
}

@test "--workers 2 never runs more than 2 of 5 one-second jobs at once, total >= 3 s (bug 32)" {
    export QLOG=$BATS_TEST_TMPDIR/events
    for i in 1 2 3 4 5; do
        qsub "echo \"\$(date +%s.%N) 1\" >> \"\$QLOG\"; sleep 1; echo \"\$(date +%s.%N) -1\" >> \"\$QLOG\"; echo $i > o$i.txt"
    done
    start_queue --workers 2
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    local most
    most=$(sort -n "$QLOG" | awk '{ n += $2; if (n > m) m = n } END { print m }')
    [ "$(wc -l < "$QLOG")" -eq 10 ] || flunk "expected 10 events"
    [ "$most" -le 2 ] || flunk "$most jobs ran at once"
    lt 2.99 "$q_seconds" || flunk "took only $q_seconds s"
}

@test "job A's downloads land in A's workdir while job B runs elsewhere (bug 33)" {
    mkdir A B
    (cd A && qsub 'sleep 0.5; echo a > a.txt')
    (cd B && qsub 'sleep 3; echo b > b.txt')
    start_queue --workers 2
    wait_until [ -e A/a.txt.CHECKSUM ]
    [ -e B/b.txt.FUTURE ] || flunk "job B had already finished"
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    assert_file_content A/a.txt $'a\n'
    assert_file_content B/b.txt $'b\n'
    assert_no_file B/a.txt
    assert_no_file A/b.txt
    assert_no_file a.txt
}

@test "a hand-written upstream-format record (echo hello > out.txt) is executed" {
    printf 'mkdir -p RESULT/\necho hello > out.txt\nmv out.txt RESULT/\n' > code.txt
    seamless-upload code.txt
    local code tf
    code=$(sha256 code.txt)
    tf=$(seamless-run --dry 'echo hello > out.txt')
    mkdir job
    printf '{\n  "queue_command": "SUBMIT",\n  "original_command": "seamless-run echo hello > out.txt",\n  "transformation_checksum": "%s",\n  "transformation_dict": {\n    "__language__": "bash",\n    "__output__": [\n      "result",\n      "deepfolder",\n      null\n    ],\n    "code": [\n      "text",\n      null,\n      "%s"\n    ]\n  },\n  "result_targets": {\n    "out.txt": null\n  },\n  "params": {\n    "undo": false,\n    "scratch": false,\n    "workdir": "%s",\n    "download": true,\n    "auto_confirm": "no",\n    "capture_stdout": false,\n    "max_download_size": 500000000,\n    "max_download_files": 2000\n  }\n}\0{"queue_command": "EOF"}\0' \
        "$tf" "$code" "$WORK/job" > .seamless-queue
    start_queue
    q_status=0
    wait "$q_pid" || q_status=$?
    [ "$q_status" -eq 0 ] || { cat q.err >&2; flunk "server exit status $q_status"; }
    assert_file_content job/out.txt $'hello\n'
    assert_file_content job/out.txt.CHECKSUM "$HELLO_CS"$'\n'
    [ "$(db_result "$tf")" != "" ] || flunk "the result was not cached under the recorded tf"
}

@test "20 jobs from 4 concurrent submitters under --workers 3: all outputs and sidecars" {
    export SEAMLESS_QUEUE_FILE=$WORK/.seamless-queue
    seq 20 | xargs -P 4 -I{} seamless-run --qsubmit 'echo {} > o_{}.txt' > tfs.txt
    [ "$(wc -l < tfs.txt)" -eq 20 ] || flunk "expected 20 tf checksums"
    start_queue --workers 3
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    [ "$(grep -c finished <<< "$q_err")" -eq 20 ] || { stderr=$q_err; flunk "not 20 jobs finished"; }
    for i in $(seq 20); do
        assert_file_content "o_$i.txt" "$i"$'\n'
        assert_sidecar_matches "o_$i.txt"
    done
    assert_no_file .seamless-queue.LOCK
}

@test "identical transformations in one queue run once and every job gets its outputs" {
    export QLOG=$BATS_TEST_TMPDIR/runs
    mkdir A B
    (cd A && qsub 'echo run >> "$QLOG"; sleep 0.5; echo s > s.txt')
    (cd B && qsub 'echo run >> "$QLOG"; sleep 0.5; echo s > s.txt')
    start_queue --workers 2
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    [ "$(wc -l < "$QLOG")" -eq 1 ] || flunk "the transformation ran $(wc -l < "$QLOG") times"
    assert_file_content A/s.txt $'s\n'
    assert_file_content B/s.txt $'s\n'
    assert_sidecar_matches B/s.txt
}

@test "a server killed with -9 mid-run, restarted, with the jobs re-submitted: no corrupt output, finished jobs are hits" {
    export QLOG=$BATS_TEST_TMPDIR/runs
    qsub 'echo one >> "$QLOG"; echo 1 > o1.txt'
    qsub 'echo two >> "$QLOG"; sleep 2; echo 2 > o2.txt'
    start_queue --workers 1
    wait_until [ -e o1.txt.CHECKSUM ]
    kill -9 "$q_pid"
    wait "$q_pid" || true
    qsub 'echo one >> "$QLOG"; echo 1 > o1.txt'
    qsub 'echo two >> "$QLOG"; sleep 2; echo 2 > o2.txt'
    start_queue --workers 1
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    [ "$(grep -c one "$QLOG")" -eq 1 ] || flunk "the finished job ran again"
    assert_file_content o1.txt $'1\n'
    assert_file_content o2.txt $'2\n'
    assert_sidecar_matches o1.txt
    assert_sidecar_matches o2.txt
    assert_no_file o2.txt.FUTURE
    [ -z "$(compgen -G 'o*.tmp-*')" ] || flunk "a temporary file was left behind"
}

@test "a submission whose input is another job's future waits for it at submit time" {
    start_queue --workers 2
    qsub 'sleep 1; echo x > a.txt'
    [ -e a.txt.FUTURE ] || flunk "no future for a.txt"
    qsub 'cat a.txt > b.txt'
    [ -e a.txt.CHECKSUM ] || flunk "the second submission did not wait for a.txt"
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    assert_file_content b.txt $'x\n'
}

@test "a failing job is reported on one line, the others finish, and the server exits 1" {
    qsub 'exit 3; echo x > bad.txt'
    qsub 'echo y > good.txt'
    local tf
    tf=$(seamless-run --dry 'exit 3; echo x > bad.txt')
    start_queue
    finish_queue
    [ "$q_status" -eq 1 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    [ "$f_status" -eq 1 ] || flunk "seamless-queue-finish exit status $f_status"
    assert_q_err_contains "seamless-queue: job 1 failed: command failed with exit status 3 (transformation ${tf:0:12})"
    assert_q_err_contains "seamless-queue: job 2 finished"
    assert_file_content good.txt $'y\n'
    assert_no_file bad.txt.FUTURE
    assert_no_file .seamless-queue
}

@test "a malformed record is reported and skipped; the next job runs" {
    printf 'this is not json\0' > .seamless-queue
    qsub 'echo y > o.txt'
    start_queue
    finish_queue
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    assert_q_err_contains "seamless-queue: error: record 1 is not a valid queue command"
    assert_q_err_contains "seamless-queue: job 2 finished"
    assert_file_content o.txt $'y\n'
}

@test "-q shows only failures" {
    qsub 'echo y > o.txt'
    qsub 'false > f.txt'
    start_queue -q
    finish_queue
    [ "$q_status" -eq 1 ] || flunk "server exit status $q_status"
    [ "$q_err" = "seamless-queue: job 2 failed: command failed with exit status 1 (transformation $(seamless-run --dry 'false > f.txt' | head -c 12))" ] \
        || { stderr=$q_err; flunk "unexpected server stderr"; }
}

@test "a canceled job is reported as failed and the other jobs continue" {
    qsub 'sleep 95; echo x > o.txt'
    qsub 'echo y > p.txt'
    local tf
    tf=$(seamless-run --dry 'sleep 95; echo x > o.txt')
    start_queue --workers 2
    wait_until pgrep -f '^sleep 95$'
    run seamless-cancel "$tf"
    assert_success
    finish_queue
    [ "$q_status" -eq 1 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    assert_q_err_contains "seamless-queue: job 1 failed: transformation $tf was canceled"
    assert_q_err_contains "seamless-queue: job 2 finished"
    assert_file_content p.txt $'y\n'
    assert_no_file o.txt.FUTURE
}

@test "--qsubmit prints the tf, stores the inputs and creates the futures" {
    printf 'in\n' > in.txt
    sr --qsubmit 'cat in.txt > o.txt'
    assert_success
    assert_output "$(seamless-run --dry 'cat in.txt > o.txt')"
    assert_file_content o.txt.FUTURE "$output.o.txt"$'\n'
    [ -e "$(buffer_file "$(sha256 in.txt)")" ] || flunk "the input was not stored"
    [ "$(tr -cd '\0' < .seamless-queue | wc -c)" -eq 1 ] || flunk "expected one record"
}

@test "--qsubmit with --dry is a usage error" {
    sr --qsubmit --dry 'echo x > o.txt'
    assert_failure 2
    assert_stderr "seamless-run: error: --qsubmit cannot be combined with --dry (see seamless-run --help)"
    assert_no_file .seamless-queue
}

@test "--qsub without targets refuses stdout mode" {
    sr --qsub 'echo x'
    assert_failure 2
    assert_stderr "seamless-run: error: no capture targets; refusing to print output"
    assert_no_file .seamless-queue
}

@test "seamless-queue-finish without a queue file says so, exits 2 and creates nothing" {
    run --separate-stderr seamless-queue-finish
    assert_failure 2
    assert_stderr "seamless-queue-finish: error: there is no queue file '$WORK/.seamless-queue': nothing was submitted, so there is nothing to finish"
    assert_no_file .seamless-queue
}

@test "a submission to a finishing queue is refused with one line and writes no future" {
    qsub 'echo x > o.txt'
    run --separate-stderr seamless-queue-finish --no-wait
    assert_success
    local before
    before=$(od -c .seamless-queue)
    run --separate-stderr seamless-run --qsubmit 'echo y > p.txt'
    assert_failure 2
    assert_stderr "seamless-run: error: the queue '$WORK/.seamless-queue' is finished (seamless-queue-finish was run), so this job would never run; submit it after seamless-queue has deleted the file"
    assert_no_file p.txt.FUTURE
    [ "$(od -c .seamless-queue)" = "$before" ] || flunk "the queue file changed"
}

@test "seamless-queue-finish twice appends one EOF, and both return when the server is done" {
    qsub 'echo x > o.txt'
    seamless-queue-finish --no-wait
    start_queue
    finish_queue
    [ "$f_status" -eq 0 ] || flunk "seamless-queue-finish exit status $f_status"
    [ "$q_status" -eq 0 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    assert_file_content o.txt $'x\n'
}

@test "seamless-queue-finish exits 1 with one line when a job failed" {
    qsub 'exit 3; echo x > bad.txt'
    start_queue
    run --separate-stderr seamless-queue-finish --timeout 30
    assert_failure 1
    assert_stderr "seamless-queue-finish: error: 1 job(s) of the queue failed (seamless-queue's output names them)"
    assert_no_file .seamless-queue.STATUS
}

@test "seamless-queue started with & from a script stops on SIGINT, killing its jobs (exit 130)" {
    qsub 'sleep 93; echo x > o.txt'
    # a non-interactive bash starts background jobs with SIGINT ignored
    bash -c 'seamless-queue --queue-file "$WORK/.seamless-queue" 2> "$WORK/q.err" & echo $! > q.pid; wait $!' &
    local script=$!
    wait_until pgrep -f '^sleep 93$'
    q_pid=$(cat q.pid)  # teardown kills a server that ignored the signal
    kill -INT "$q_pid"
    wait_until bash -c "! kill -0 $q_pid 2> /dev/null"
    local status=0
    wait "$script" || status=$?
    wait_until bash -c '! pgrep -f "^sleep 93$"'
    [ "$status" -eq 130 ] || flunk "exit status $status"
    assert_no_file o.txt.FUTURE
}

@test "seamless-queue-finish --timeout gives up when no server deletes the file" {
    qsub 'echo x > o.txt'
    run --separate-stderr seamless-queue-finish --timeout 0.3
    assert_failure 1
    assert_stderr "seamless-queue-finish: error: the queue '$WORK/.seamless-queue' was not finished within 0.3 s"
    run --separate-stderr seamless-queue-finish --no-wait
    assert_success
}

@test "SIGTERM to the server kills its jobs, removes every future and exits 143 within 5 s" {
    qsub 'sleep 92; echo x > o.txt'
    qsub 'echo y > p.txt'
    start_queue --workers 1
    wait_until pgrep -f '^sleep 92$'
    local start=$SECONDS status=0
    kill -TERM "$q_pid"
    wait "$q_pid" || status=$?
    [ "$status" -eq 143 ] || flunk "exit status $status"
    [ $((SECONDS - start)) -le 5 ] || flunk "took too long"
    run pgrep -f '^sleep 92$'
    assert_failure 1
    assert_no_file o.txt.FUTURE
    assert_no_file p.txt.FUTURE
    [ -e .seamless-queue ] || flunk "the unfinished queue was deleted"
    [ -z "$(compgen -G "$TMPDIR/seamless-bash-*")" ] || flunk "a workspace was left behind"
}

@test "seamless-queue --workers 0 is a usage error" {
    run --separate-stderr seamless-queue --workers 0
    assert_failure 2
    assert_stderr "seamless-queue: error: Invalid value for '--workers': 0 is not in the range x>=1. (see seamless-queue --help)"
}
