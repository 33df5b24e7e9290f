#!/usr/bin/env bats
# seamless-run: the flags of SPEC §4.2 that are not covered elsewhere, the preparation modes of
# §4.9, output modes (-nd, --scratch, confirmations) of §4.8, and bug 11 (no no-op flags).

load run_helper

# the installed seamless-run, callable with a PATH that lacks everything else
seamless_run_path() {
    python3 -c 'import os, sysconfig; print(os.path.join(sysconfig.get_path("scripts"), "seamless-run"))'
}

@test "--var is an identity pin and its value reaches the command" {
    sr --dry --var N=3 'echo $N'
    assert_output "83b7891433572c08e68010456398956aef4d548acdf8d228f4022ba9fcfe2ee9"
    sr --var N=3 'echo $N'
    assert_success
    assert_output "3"
}

@test "--metavar values are not identity" {
    sr --dry --metavar T=4 'echo $T'
    assert_output "1005b60e6a284eb979da708264c71e888d13a871fead9da65f85f6565765afbb"
    sr --dry --metavar T=5 'echo $T'
    assert_output "1005b60e6a284eb979da708264c71e888d13a871fead9da65f85f6565765afbb"
    sr --metavar T=4 'echo $T'
    assert_output "4"
}

@test "--conda is orthogonal: same tf, and -j writes env.json" {
    sr --dry -j J --conda myenv 'echo hello'
    assert_output "$ECHO_HELLO_TF"
    assert_file_content J/env.json $'{\n  "conda_environment": "myenv"\n}\n'
    [ "$(sha256 J/env.json)" = c809a3b60f1c866bc6ee08846690ee669e005b4523252b0449ced0da7a8bc257 ] || flunk "env buffer"
}

@test "--docker without docker on PATH is exit 2 (bug 11)" {
    run --separate-stderr env PATH=/nonexistent "$(seamless_run_path)" --docker some-image 'echo hi'
    assert_failure 2
    assert_stderr "seamless-run: error: --docker some-image: docker is not available"
}

@test "--ncores is orthogonal and the job sees SEAMLESS_NCORES (bug 11)" {
    sr --dry 'echo $SEAMLESS_NCORES'
    local plain=$output
    sr --dry -j J --ncores 3 'echo $SEAMLESS_NCORES'
    assert_output "$plain"
    assert_file_content J/dunder.json $'{\n  "__meta__": {\n    "ncores": 3\n  }\n}\n'
    sr --ncores 3 'echo $SEAMLESS_NCORES'
    assert_success
    assert_output "3"
}

@test "--direct-print and --local are recorded in __meta__ without changing the tf (bug 11)" {
    sr --dry -j J --direct-print --local 'echo hello'
    assert_output "$ECHO_HELLO_TF"
    assert_file_content J/dunder.json $'{\n  "__meta__": {\n    "__direct_print__": true,\n    "local": true\n  }\n}\n'
    sr --direct-print --local 'echo hello'
    assert_success
    assert_output "hello"
}

@test "--node needs Dask, so it is exit 2" {
    sr --node n1 'echo hello'
    assert_failure 2
    assert_stderr "seamless-run: error: --node n1: choosing a node needs Dask execution, which is not available (see seamless-run --help)"
}

@test "--undo forgets a cached result; without one it is exit 3 (bug 11)" {
    export LOG=$BATS_TEST_TMPDIR/log
    sr --undo 'echo x >> "$LOG"; echo hi'
    assert_failure 3
    assert_stderr "seamless-run: error: no cached result to undo"
    sr 'echo x >> "$LOG"; echo hi'
    sr --dry 'echo x >> "$LOG"; echo hi'
    local tf=$output
    sr --undo 'echo x >> "$LOG"; echo hi'
    assert_success
    assert_output "$tf"
    [ -z "$(db_result "$tf")" ] || flunk "still cached"
    run sqlite3 "$CACHE/seamless.db" "SELECT count(*) FROM irreproducible_transformation WHERE checksum = '$tf'"
    assert_output "1"
    sr 'echo x >> "$LOG"; echo hi'
    assert_output "hi"
    assert_file_content "$LOG" $'x\nx\n'
}

@test "--fingertip recomputes a missing input buffer from the transformation that made it (bug 11)" {
    sr 'echo x'
    local cs
    cs=$(printf 'x\n' | sha256sum | cut -d' ' -f1)
    echo "$cs" > o.txt.CHECKSUM
    rm "$(buffer_file "$cs")"
    sr cat o.txt
    assert_failure 3
    assert_stderr "seamless-run: error: buffer $cs not available"
    sr --fingertip cat o.txt
    assert_success
    assert_output "x"
}

@test "--prologue commands run first and are identity" {
    sr --dry 'echo $X'
    local plain=$output
    sr --prologue 'X=5' 'echo $X'
    assert_success
    assert_output "5"
    sr --dry --prologue 'X=5' 'echo $X'
    [ "$output" != "$plain" ] || flunk "prologue is identity"
}

@test "--primary chooses the command whose words are inputs" {
    printf 'x\n' > a.txt
    sr --primary 2 'echo hi; cat a.txt'
    assert_success
    assert_output $'hi\nx'
    sr --primary 3 'echo hi; cat a.txt'
    assert_failure 2
    assert_stderr "seamless-run: error: --primary 3: the command has only 2 command(s)"
}

@test "-mx renames input files and rewrites the command" {
    make_data
    sr --dry -j J -mx cat data/a.txt
    assert_file_content J/command.txt $'(\ncat file1.txt\n) > RESULT\n'
    sr -mx cat data/a.txt
    assert_output_contains "pineapples"
}

@test "-y with -n, and -j, --upload or --write-remote-job without --dry, are usage errors" {
    sr -y -n 'echo hi'
    assert_failure 2
    assert_stderr "seamless-run: error: -y and -n cannot be combined (see seamless-run --help)"
    sr -j J 'echo hi'
    assert_stderr "seamless-run: error: -j requires --dry (see seamless-run --help)"
    sr --upload 'echo hi'
    assert_stderr "seamless-run: error: --upload requires --dry (see seamless-run --help)"
    sr --write-remote-job R 'echo hi'
    assert_failure 2
    assert_stderr "seamless-run: error: --write-remote-job requires --dry (see seamless-run --help)"
    mkdir J
    sr --dry -j J 'echo hi'
    assert_failure 2
    assert_stderr "seamless-run: error: -j J: the directory already exists (see seamless-run --help)"
}

@test "--dry stores nothing; --dry --upload stores inputs and job buffers" {
    printf 'x\n' > in.txt
    sr --dry 'cat in.txt'
    local tf=$output
    assert_no_file "$CACHE"
    sr --dry --upload -j J 'cat in.txt'
    assert_output "$tf"
    assert_file_content J/transformation.json.CHECKSUM "$tf"$'\n'
    [ -f "$(buffer_file "$tf")" ] || flunk "identity buffer not stored"
    [ -f "$(buffer_file "$(sha256 in.txt)")" ] || flunk "input not stored"
    run seamless-run-transformation J/transformation.json.CHECKSUM
    assert_success
    assert_output "$(sha256 in.txt)"
}

@test "-nd writes the sidecar only and removes a stale output" {
    printf 'old' > out.txt
    sr -nd 'echo new > out.txt'
    assert_success
    assert_no_file out.txt
    assert_file_content out.txt.CHECKSUM $'7aa7a5359173d05b63cfd682e3c38487f3cb4f7f1d60659fe59fab1505977d4c\n'
    sr cat out.txt
    assert_output "new"
}

@test "--scratch is refused in stdout mode, and records the result without storing it" {
    sr --scratch 'echo hi'
    assert_failure 2
    assert_stderr "seamless-run: error: no capture targets; refusing to print output"
    sr --scratch 'echo scratch > o.txt'
    assert_success
    assert_no_file o.txt
    local cs
    cs=$(printf 'scratch\n' | sha256sum | cut -d' ' -f1)
    assert_file_content o.txt.CHECKSUM "$cs"$'\n'
    assert_no_file "$(buffer_file "$cs")"
    sr --dry 'echo scratch > o.txt'
    [ -n "$(db_result "$output")" ] || flunk "no transformation row"
}

@test "a download above the file threshold is refused with -n and done by default without a TTY" {
    export SEAMLESS_MAX_DOWNLOAD_FILES=2
    sr -n -cp d 'mkdir d; echo 1 > d/1; echo 2 > d/2; echo 3 > d/3'
    assert_failure 2
    assert_stderr "seamless-run: error: download of 3 files (6 B) not confirmed; use -y"
    assert_no_file d
    sr -cp d 'mkdir d; echo 1 > d/1; echo 2 > d/2; echo 3 > d/3'
    assert_success
    assert_file_content d/3 $'3\n'
}

@test "an upload above the file threshold needs -y without a TTY" {
    export SEAMLESS_MAX_UPLOAD_FILES=1
    printf 'a\n' > a.txt
    printf 'b\n' > b.txt
    sr cat a.txt b.txt
    assert_failure 2
    assert_stderr "seamless-run: error: upload of 2 files (4 B) not confirmed; use -y"
    sr -y cat a.txt b.txt
    assert_success
    assert_output $'a\nb'
}

@test "a target without a result is a warning, which -q silences" {
    sr -cp a -cp e 'mkdir e; echo x > a'
    assert_success
    assert_stderr "seamless-run: warning: no result for 'e'"
    assert_file_content a $'x\n'
    sr -q -cp a -cp e 'mkdir e; echo x > a'
    assert_success
    assert_stderr_empty
}

@test "stderr carries no carriage returns when it is not a TTY" {
    sr -y -cp d 'mkdir d; for i in $(seq 50); do echo $i > d/$i.txt; done'
    assert_success
    [[ "$stderr" != *$'\r'* ]] || flunk "a progress bar was drawn"
}

@test "--stage keeps its own storage under the project" {
    sr --stage s1 'echo hello'
    assert_success
    [ -f "$CACHE/STAGE-s1/seamless.db" ] || flunk "stage storage not used"
}

@test "an unquoted glob in a one-string command makes the matches inputs" {
    printf 'a\n' > a.txt
    printf 'b\n' > b.txt
    sr 'cat *.txt'
    assert_success
    assert_output $'a\nb'
}

@test "-ms names inputs by their basename" {
    make_data
    sr --dry -j J -ms head -n 1 data/a.txt
    assert_file_content J/command.txt $'(\nhead -n 1 a.txt\n) > RESULT\n'
    sr -ms head -n 1 data/a.txt
    assert_output "apples"
}
