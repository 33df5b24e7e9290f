#!/usr/bin/env bats
# Any command that plain bash can run, seamless-run can run: the job script reaches bash
# through a file, never through argv, whatever its size.

load run_helper

@test "echo of 40000 words prints what plain bash prints" {
    # shellcheck disable=SC2046  # the word split is the point
    run --separate-stderr seamless-run echo $(seq 1 40000)
    assert_success
    [ "$output" = "$(seq 1 40000 | tr '\n' ' ' | sed 's/ $//')" ] || flunk "not the 40000 numbers"
}

@test "cat over 1000 files with long names (a 140 kB command) given by a glob prints what plain bash prints" {
    # one argv string may hold at most 128 kB (MAX_ARG_STRLEN): the expanded glob is longer
    local i name
    for i in $(seq 1 1000); do printf -v name 'sample_%0128d.txt' "$i"; printf '%s\n' "$i" > "$name"; done
    local expected
    expected=$(cat sample_*.txt | sha256sum)
    # shellcheck disable=SC2046  # the glob is expanded here, as the shell would
    run --separate-stderr seamless-run -y cat sample_*.txt
    assert_success
    [ "$(printf '%s\n' "$output" | sha256sum)" = "$expected" ] || flunk "not the content of the 1000 files"
}

@test "the job's \$0 and error messages read as those of bash -c" {
    sr 'echo "$0" >&2; nosuchcommand'
    assert_failure
    [[ "$stderr" == "bash"$'\n'"bash: line "*": nosuchcommand: command not found"$'\n'* ]] || flunk "not as bash -c"
}

@test "the script's file descriptor is closed before the job's code runs" {
    sr 'd=/proc/self/fd; ls $d | wc -l'
    assert_success
    assert_output "4"  # ls's stdin, stdout, stderr and the directory it reads
}
