#!/usr/bin/env bats
# seamless-run: storage (SPEC §3.6), the must-pass list of §4.10, exit codes and messages (§12),
# and awkward file names and inputs.

load run_helper

# ---------------------------------------------------------------- storage (§3.6)

@test "echo hello with a clean HOME prints hello and fills the zero-config cache" {
    sr 'echo hello'
    assert_success
    assert_output "hello"
    assert_stderr_empty
    assert_file_content "$CACHE/.HASHSERVER_PREFIX" $'1\n'
    assert_file_content "$(buffer_file $HELLO_CS)" $'hello\n'
    [ "$(db_result $ECHO_HELLO_TF)" = "$HELLO_CS" ] || flunk "no transformation row"
}

@test "a second run answers from the cache without running the command" {
    export LOG=$BATS_TEST_TMPDIR/log
    sr 'echo x >> "$LOG"; echo hello'
    assert_output "hello"
    sr 'echo x >> "$LOG"; echo hello'
    assert_success
    assert_output "hello"
    assert_file_content "$LOG" $'x\n'
}

@test "XDG_CACHE_HOME and SEAMLESS_CACHE choose the cache, and two caches share nothing" {
    export LOG=$BATS_TEST_TMPDIR/log
    XDG_CACHE_HOME=$BATS_TEST_TMPDIR/x sr 'echo x >> "$LOG"; echo hi'
    [ -d "$BATS_TEST_TMPDIR/x/seamless/__TOPLEVEL__" ] || flunk "XDG cache not used"
    SEAMLESS_CACHE=$BATS_TEST_TMPDIR/y1 sr 'echo x >> "$LOG"; echo hi'
    SEAMLESS_CACHE=$BATS_TEST_TMPDIR/y2 sr 'echo x >> "$LOG"; echo hi'
    assert_success
    [ -f "$BATS_TEST_TMPDIR/y1/__TOPLEVEL__/seamless.db" ] || flunk "SEAMLESS_CACHE not used"
    [ -f "$BATS_TEST_TMPDIR/y2/__TOPLEVEL__/seamless.db" ] || flunk "SEAMLESS_CACHE not used"
    assert_file_content "$LOG" $'x\nx\nx\n'
    assert_no_file "$CACHE"
}

@test "a result whose buffer was deleted is computed again" {
    sr 'echo hello'
    rm -f "$(buffer_file $HELLO_CS)"
    sr 'echo hello'
    assert_success
    assert_output "hello"
    assert_file_content "$(buffer_file $HELLO_CS)" $'hello\n'
}

@test "no child process is left running after the command exits" {
    sr 'sleep 41.5 & echo started'
    assert_success
    assert_output "started"
    run pgrep -f '^sleep 41.5$'
    assert_failure 1
}

@test "--project keeps its own storage" {
    sr --project proj 'echo hello'
    assert_success
    [ -f "$HOME/.cache/seamless/proj/seamless.db" ] || flunk "project storage not used"
    assert_no_file "$CACHE"
}

@test "SEAMLESS_CACHE with seamless.yaml record: true writes full records there (bug 28)" {
    printf -- '- record: true\n' > seamless.yaml
    SEAMLESS_CACHE=$BATS_TEST_TMPDIR/y sr 'echo hello'
    assert_success
    run sqlite3 "$BATS_TEST_TMPDIR/y/__TOPLEVEL__/seamless.db" "SELECT metadata FROM meta_data WHERE checksum = '$ECHO_HELLO_TF'"
    assert_output_contains '"hostname": '
}

# ---------------------------------------------------------------- must pass (§4.10)

@test "Example B prints its result, -v names the tf, and the second run is a cache hit" {
    make_data
    sr -v "$EXAMPLE_B"
    assert_success
    assert_output $'pears\npineapples'
    assert_stderr_contains "seamless-run: cache miss $EXAMPLE_B_TF"
    sr -v "$EXAMPLE_B"
    assert_output $'pears\npineapples'
    assert_stderr_contains "seamless-run: cache hit $EXAMPLE_B_TF"
}

@test "a missing file with an extension is exit 2; with -g1 it is a value and cat fails" {
    make_data
    sr cat data/a.txt data/nope.txt
    assert_failure 2
    assert_output ""
    assert_stderr "seamless-run: error: argument #3 'data/nope.txt' has an extension, so it must be an existing file (use -g1 to disable this rule)"
    sr -g1 cat data/a.txt data/nope.txt
    assert_failure 1
    assert_stderr_contains "seamless-run: error: command failed with exit status 1 (transformation "
}

@test "an output redirect becomes a file with its checksum sidecar and nothing on stdout" {
    make_data
    sr 'cat data/a.txt > out.txt'
    assert_success
    assert_output ""
    cmp out.txt data/a.txt
    assert_file_content out.txt.CHECKSUM "$A_CS"$'\n'
}

@test "a stale output is replaced and its sidecar agrees (bug 5)" {
    printf 'old' > out.txt
    sr --dry 'echo new > out.txt'
    [[ "$output" == c5dfea40*a222 ]] || flunk "tf"
    sr 'echo new > out.txt'
    assert_success
    assert_file_content out.txt $'new\n'
    assert_file_content out.txt.CHECKSUM $'7aa7a5359173d05b63cfd682e3c38487f3cb4f7f1d60659fe59fab1505977d4c\n'
}

@test "a captured directory gets its index and checksum, and its sidecar serves as input afterwards" {
    sr --dry -cp outdir 'mkdir -p outdir; echo x > outdir/a.txt'
    [[ "$output" == b4f90c95*1332 ]] || flunk "tf"
    sr -cp outdir 'mkdir -p outdir; echo x > outdir/a.txt'
    assert_success
    assert_file_content outdir/a.txt $'x\n'
    assert_file_content outdir.INDEX $'{\n  "a.txt": "73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac"\n}\n'
    assert_file_content outdir.CHECKSUM $'7df6025c93491813236301bb70c102f28929d755390b7bac1bbfb5150e7e342c\n'
    rm -r outdir
    sr ls outdir
    assert_success
    assert_output "a.txt"
}

@test "-cp :B captures stdout next to a redirect-free target" {
    sr -cp :log.txt -cp r.txt 'echo hi; echo r > r.txt'
    assert_success
    assert_file_content log.txt $'hi\n'
    assert_file_content r.txt $'r\n'
    assert_file_content r.txt.CHECKSUM "$(sha256 r.txt)"$'\n'
}

@test "--dry -j writes exactly the identity buffer and the code, and prints the tf" {
    sr --dry -j J 'echo hello'
    assert_success
    assert_output "$ECHO_HELLO_TF"
    run ls J
    assert_output $'command.txt\ntransformation.json'
    [ "$(sha256 J/transformation.json)" = "$ECHO_HELLO_TF" ] || flunk "identity buffer"
    assert_file_content J/command.txt $'(\necho hello\n) > RESULT\n'
    assert_no_file "$CACHE"
}

@test "-c with two arguments is one usage error line without -1" {
    sr -c a b
    assert_failure 2
    assert_stderr "seamless-run: error: -c requires exactly one command argument, got 2 (see seamless-run --help)"
}

@test "an invalid --var name is one usage error line" {
    sr --var 1x=3 true
    assert_failure 2
    assert_stderr "seamless-run: error: --var 1x: invalid name (it must match [A-Za-z_][A-Za-z0-9_]*)"
}

# ---------------------------------------------------------------- exit codes (§12)

@test "a failing command exits 1 with the status and the tf prefix" {
    sr --dry 'echo oops >&2; exit 3'
    local tf=$output
    sr 'echo oops >&2; exit 3'
    assert_failure 1
    assert_output ""
    assert_stderr $'oops\n'"seamless-run: error: command failed with exit status 3 (transformation ${tf:0:12})"
    [ -z "$(db_result "$tf")" ] || flunk "a failure was cached"
}

@test "a command that is not found reports status 127" {
    sr -g1 no-such-command-xyz
    assert_failure 1
    assert_stderr_contains "seamless-run: error: command failed with exit status 127 (transformation "
}

@test "an unknown option is a usage error" {
    sr --bogus echo hi
    assert_failure 2
    assert_stderr "seamless-run: error: no such option: --bogus (see seamless-run --help)"
}

@test "no command is a usage error" {
    sr -v
    assert_failure 2
    assert_stderr "seamless-run: error: no command given (see seamless-run --help)"
}

@test "an unparseable command is exit 2" {
    sr 'echo "unterminated'
    assert_failure 2
    assert_stderr_contains "seamless-run: error: cannot parse command: "
    [ "${#lines[@]}" -eq 0 ] || flunk "stdout"
}

@test "an invalid seamless.yaml is exit 2 and nothing runs" {
    printf -- '- bogus: 1\n' > seamless.yaml
    sr 'echo hi'
    assert_failure 2
    assert_output ""
    assert_stderr "seamless-run: error: $WORK/seamless.yaml: unknown command 'bogus'"
}

@test "a missing -i input is exit 2" {
    sr -i nope true
    assert_failure 2
    assert_stderr "seamless-run: error: input 'nope': file or directory does not exist"
}

@test "a buffer that is in no store is exit 3" {
    echo 0000000000000000000000000000000000000000000000000000000000000001 > gone.txt.CHECKSUM
    sr cat gone.txt
    assert_failure 3
    assert_stderr "seamless-run: error: buffer 0000000000000000000000000000000000000000000000000000000000000001 not available"
}

@test "--help documents that options go before the command, and exits 0" {
    sr --help
    assert_success
    assert_output_contains "Usage: seamless-run [OPTIONS] [--] COMMAND..."
    assert_output_contains "passes
  \`--input b.txt\` to cat"
    assert_output_contains "--qsubmit, --qsub"
}

# ---------------------------------------------------------------- inputs

@test "file names with spaces, quotes and non-ASCII characters are inputs" {
    printf 'one\n' > 'my file.txt'
    printf 'two\n' > "it's.txt"
    printf 'three\n' > 'é.txt'
    sr cat 'my file.txt' "it's.txt" 'é.txt'
    assert_success
    assert_output $'one\ntwo\nthree'
    sr --dry -j J cat 'my file.txt' "it's.txt" 'é.txt'
    run grep -c '"mode": "file"' J/transformation.json
    assert_output "3"
}

@test "an empty input file and an empty result work" {
    : > empty.txt
    sr cat empty.txt
    assert_success
    assert_output ""
    sr 'cat empty.txt > out.txt'
    assert_success
    assert_file_content out.txt ""
    assert_file_content out.txt.CHECKSUM $'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n'
}

@test "a symlinked input file is read through the link" {
    make_data
    ln -s data/a.txt link.txt
    sr head -n 1 link.txt
    assert_success
    assert_output "apples"
}

@test "a file edited after its sidecar is exit 2, and the message's seamless-upload makes the file win" {
    printf 'hello\n' > x.txt
    seamless-upload x.txt
    printf 'edited\n' > x.txt
    touch -d '+1 second' x.txt
    sr cat x.txt
    assert_failure 2
    assert_stderr "seamless-run: error: argument #2 'x.txt' differs from x.txt.CHECKSUM, and the file is newer: to use the file as it is, refresh the sidecar with \`seamless-upload x.txt\`; to get the sidecar's version back, run \`seamless-download x.txt\`"
    seamless-upload x.txt
    sr cat x.txt
    assert_success
    assert_output "edited"
}

@test "a file that disagrees with its sidecar: the message's seamless-download brings the sidecar's version back" {
    printf 'hello\n' > x.txt
    seamless-upload x.txt
    printf 'edited\n' > x.txt
    sr cat x.txt
    assert_failure 2
    assert_stderr_contains "run \`seamless-download x.txt\`"
    seamless-download x.txt
    sr cat x.txt
    assert_success
    assert_output "hello"
}

@test "an input directory is passed as a tree" {
    mkdir -p d/sub
    printf 'A\n' > d/a.txt
    printf 'B\n' > d/sub/b.txt
    sr 'cat d/a.txt d/sub/b.txt; ls d/'
    assert_success
    sr cat d/sub/b.txt
    assert_output "B"
    sr ls d
    assert_output $'a.txt\nsub'
}

@test "ls in an empty directory lists RESULT, which bash creates for the redirect of stdout" {
    sr ls
    assert_success
    assert_output "RESULT"
}

@test "non-UTF-8 stdout is passed through byte-exact, also from the cache (bug 7)" {
    run bash -c "seamless-run 'printf \"\\xff\\xfe\"' 2> err.txt | od -An -tx1"
    assert_output " ff fe"
    assert_file_content err.txt ""
    run bash -c "seamless-run 'printf \"\\xff\\xfe\"' 2> err.txt | od -An -tx1"
    assert_output " ff fe"
}

@test "a closed stdout pipe exits silently" {
    run bash -c "seamless-run 'seq 100000' | head -n 1"
    assert_output "1"
    run bash -c "seamless-run 'seq 100000' 2>&1 >/dev/null | head -n 1; seamless-run 'seq 100000' 2> err.txt | head -n 1"
    assert_file_content err.txt ""
}
