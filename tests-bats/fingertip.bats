#!/usr/bin/env bats
# --scratch outputs feed the next step with --fingertip: a missing buffer whose producing
# transformation is known is recomputed, recursively (SPEC 6.3, issue 11 item 13).

load run_helper

HI_CS=98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4

@test "a --scratch output feeds the next step with --fingertip" {
    seamless-run --scratch 'echo hi > a.txt'
    assert_no_file a.txt
    sr --fingertip 'cat a.txt'
    assert_success
    assert_output "hi"
}

@test "without --fingertip a --scratch output is not available: exit 3" {
    seamless-run --scratch 'echo hi > a.txt'
    sr 'cat a.txt'
    assert_failure 3
    assert_stderr "seamless-run: error: buffer $HI_CS not available"
}

@test "a chain of two --scratch steps is recomputed recursively" {
    seamless-run --scratch 'echo hi > a.txt'
    seamless-run --scratch --fingertip 'cat a.txt a.txt > b.txt'
    assert_no_file b.txt
    sr --fingertip 'cat b.txt'
    assert_success
    assert_output $'hi\nhi'
}

@test "the leaves of a --scratch directory output are recomputed with --fingertip" {
    seamless-run --scratch -cp d 'mkdir d; echo x > d/a.txt'
    assert_no_file d
    sr --fingertip 'ls d; cat d/a.txt'
    assert_success
    assert_output $'a.txt\nx'
}

@test "seamless-run-transformation --fingertip recomputes a --scratch input" {
    seamless-run --scratch 'echo hi > a.txt'
    tf=$(seamless-run --dry --upload 'cat a.txt')
    run --separate-stderr seamless-run-transformation "$tf"
    assert_failure 3
    run --separate-stderr seamless-run-transformation --fingertip "$tf"
    assert_success
    run seamless-download --stdout "$output"
    assert_output "hi"
}
