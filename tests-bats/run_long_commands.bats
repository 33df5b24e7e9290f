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

@test "cat over 9000 files given by a glob prints what plain bash prints" {
    local i
    for i in $(seq 1 9000); do printf '%s\n' "$i" > "sample_$i.txt"; done
    local expected
    expected=$(cat sample_*.txt | sha256sum)
    # shellcheck disable=SC2046  # the glob is expanded here, as the shell would
    run --separate-stderr seamless-run -y cat sample_*.txt
    assert_success
    [ "$(printf '%s\n' "$output" | sha256sum)" = "$expected" ] || flunk "not the content of the 9000 files"
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
