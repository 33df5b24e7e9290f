#!/usr/bin/env bats
# seamless-run: one regression test per upstream bug of SPEC §5 that concerns it.

load run_helper

@test "bug 1: '< file' is an input: sorted on stdout, unchanged, no sidecar" {
    printf 'b\na\n' > in.txt
    sr --dry 'sort < in.txt'
    assert_output "2b1ef67bb12827a717603a92fe9dfaba4e34cadd1a2167147ee36787ea0ea416"
    sr 'sort < in.txt'
    assert_success
    assert_output $'a\nb'
    assert_file_content in.txt $'b\na\n'
    assert_no_file in.txt.CHECKSUM
}

@test "bug 2: fd duplications are not targets" {
    make_data
    sr 'echo err 1>&2'
    assert_success
    assert_output ""
    assert_stderr "err"
    sr 'ls data 2>&1'
    assert_success
    assert_output $'a.txt\nb.txt'
}

@test "bug 3: > /dev/null is no target, and an absolute path outside the cwd is exit 2" {
    sr 'echo hi > /dev/null'
    assert_success
    assert_output ""
    assert_stderr_empty
    sr "echo hi > $BATS_TEST_TMPDIR/outside.txt"
    assert_failure 2
    assert_stderr "seamless-run: error: output redirect target '$BATS_TEST_TMPDIR/outside.txt' is an absolute path outside the current directory"
    assert_no_file "$BATS_TEST_TMPDIR/outside.txt"
}

@test "bug 4: a redirect inside a -cp directory is not captured twice" {
    sr -cp outdir 'mkdir -p outdir; echo x > outdir/a.txt'
    assert_success
    assert_file_content outdir/a.txt $'x\n'
    assert_no_file outdir/a.txt.CHECKSUM
}

@test "bug 5: a stale directory output is swapped for the new one" {
    mkdir outdir
    printf 'old\n' > outdir/old.txt
    sr -cp outdir 'true; mkdir -p outdir; echo x > outdir/a.txt'
    assert_success
    run ls outdir
    assert_output "a.txt"
    run bash -c 'ls -a | grep -c tmp-'
    assert_output "0"
}

@test "bug 6: the index of a directory output is stored, so seamless-download restores it" {
    sr -cp outdir 'mkdir -p outdir/sub; echo x > outdir/a.txt; echo y > outdir/sub/b.txt'
    assert_success
    rm -r outdir
    run seamless-download outdir
    assert_success
    assert_file_content outdir/a.txt $'x\n'
    assert_file_content outdir/sub/b.txt $'y\n'
    rm -r outdir
    sr ls outdir outdir/sub
    assert_success
    assert_output $'outdir:\na.txt\nsub\n\noutdir/sub:\nb.txt'
}

@test "bug 8: metavars, metafiles and conda survive an uploaded job replayed by checksum" {
    mkdir conda/etc/profile.d -p
    printf 'conda() { export ACTIVE_ENV=$2; }\n' > conda/etc/profile.d/conda.sh
    export CONDA_ROOT=$WORK/conda
    printf 'meta\n' > m.txt
    sr --dry --upload -j J -cp t.txt -cp m2.txt --metavar T=4 --metafile m.txt --conda myenv 'echo $T > t.txt; cat m.txt > m2.txt; echo $ACTIVE_ENV > e.txt'
    assert_success
    run ls J
    assert_output $'dunder.json\ntransformation.json.CHECKSUM'
    run seamless-run-transformation J/transformation.json.CHECKSUM
    assert_success
    local deep
    deep=$(cat "$(buffer_file "$output")")
    [[ "$deep" == *'"t.txt": "7de1555df0c2700329e815b93b32c571c3ea54dc967b89e81ab73b9972b72d1d"'* ]] || flunk "t.txt: $deep"
    [[ "$deep" == *"\"m2.txt\": \"$(sha256 m.txt)\""* ]] || flunk "m2.txt: $deep"
    [[ "$deep" == *"\"e.txt\": \"$(printf 'myenv\n' | sha256sum | cut -d' ' -f1)\""* ]] || flunk "e.txt: $deep"
}

@test "bug 9: a builtin first word is not chmod'ed, and exit 3 is status 3" {
    sr 'exit 3'
    assert_failure 1
    assert_stderr_contains "seamless-run: error: command failed with exit status 3 (transformation "
    sr --dry -j J 'exit 3'
    assert_file_content J/command.txt $'(\nexit 3\n) > RESULT\n'
}

@test "bug 10: -I ignores blank and comment lines and resolves entries against the list's directory" {
    mkdir code
    printf 'x\n' > x.txt
    printf 'y\n' > y.txt
    printf '\n# a comment\n../x.txt\n\n' > code/l.txt
    sr --dry -j J -I code/l.txt 'cat x.txt'
    assert_success
    run grep -c '"mode": "file"' J/transformation.json
    assert_output "1"
    run grep -F '"x.txt": [' J/transformation.json
    assert_success
}

@test "bug 12: a stale future names the real path" {
    printf 'x\n' > x.txt
    echo "tf.x.txt" > x.txt.FUTURE
    touch -d '5 minutes ago' x.txt.FUTURE
    sr cat x.txt
    assert_failure 2
    assert_stderr "seamless-run: error: stale future 'x.txt.FUTURE'"
}

@test "bug 13: a redirect to \$PWD/o.txt writes o.txt in the cwd" {
    sr "echo x > $PWD/o.txt"
    assert_success
    assert_file_content o.txt $'x\n'
    assert_file_content o.txt.CHECKSUM "$(sha256 o.txt)"$'\n'
}

@test "bug 14: with -w .., the output and its sidecar land in the cwd" {
    sr -w .. 'echo x > o.txt'
    assert_success
    assert_file_content o.txt $'x\n'
    assert_file_content o.txt.CHECKSUM "$(sha256 o.txt)"$'\n'
    assert_no_file ../o.txt.CHECKSUM
}

@test "bug 15: a directory output of 3000 files is downloaded completely" {
    sr -y -cp d 'mkdir d; for i in $(seq 3000); do echo $i > d/$i.txt; done'
    assert_success
    run bash -c 'ls d | wc -l'
    assert_output "3000"
    assert_file_content d/2999.txt $'2999\n'
}

@test "bug 17: --write-remote-job prints only the tf, and a failure only an error line" {
    printf 'x\n' > in.txt
    sr --dry --write-remote-job R 'cat in.txt > out.txt'
    assert_success
    assert_stderr_empty
    [[ "$output" =~ ^[0-9a-f]{64}$ ]] || flunk "tf"
    assert_file_content R/in.txt $'x\n'
    (cd R && bash transform.sh)
    assert_file_content R/RESULT/out.txt $'x\n'
    sr --dry --write-remote-job R 'cat in.txt > out.txt'
    assert_failure 2
    assert_output ""
    assert_stderr "seamless-run: error: --write-remote-job R: the directory already exists (see seamless-run --help)"
}

@test "bug 18: argv quoting is preserved" {
    sr printf '%s\n' 'a b'
    assert_success
    assert_output "a b"
}

@test "bug 19: words after the command are the command's, and -- is accepted" {
    printf 'a\n' > a.txt
    printf 'b\n' > b.txt
    sr echo a.txt --input b.txt
    assert_success
    assert_output "a.txt --input b.txt"
    sr -- echo --dry
    assert_success
    assert_output "--dry"
}

@test "bug 23: 300000 bytes of stderr do not deadlock" {
    run --separate-stderr timeout 10 seamless-run -g1 "python3 -c 'import sys; sys.stderr.write(\"x\"*300000)'"
    assert_success
    [ "${#stderr}" -eq 300000 ] || flunk "stderr has ${#stderr} bytes"
}

@test "bug 22: the stderr of a successful job reaches our stderr" {
    sr 'echo progress >&2; echo done'
    assert_success
    assert_output "done"
    assert_stderr "progress"
}
