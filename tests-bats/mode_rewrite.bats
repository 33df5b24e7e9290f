#!/usr/bin/env bats
# seamless-mode-rewrite: the rewrite contract of SPEC §7, checked on R and on the argv that a
# stub seamless-run receives when R is evaluated.

load shell_mode_helper

rewrite() {
    run seamless-mode-rewrite "$@"
}

expect_argv() {
    local expected
    expected=$(printf '[%s]\n' "$@")
    local actual
    actual=$(argv_of "$output")
    [ "$actual" = "$expected" ] || flunk "argv: $actual" "expected: $expected"
}

@test "a plain command becomes seamless-run -c with the line in single quotes" {
    rewrite -- 'head -n 3 data/a.txt'
    assert_success
    assert_output "seamless-run -c 'head -n 3 data/a.txt'"
    expect_argv -c 'head -n 3 data/a.txt'
}

@test "quotes and globs in the line reach seamless-run untouched" {
    rewrite -- "grep 'a b' *.txt | sort"
    assert_success
    assert_output "seamless-run -c 'grep '\\''a b'\\'' *.txt | sort'"
    expect_argv -c "grep 'a b' *.txt | sort"
}

@test "a first word of two characters is rewritten like any other" {
    rewrite -- 'wc -l x'
    assert_success
    assert_output "seamless-run -c 'wc -l x'"
}

@test "a first word in the upstream skip list declines" {
    rewrite -- 'ls -l'
    assert_failure 1
    assert_output ""
}

@test "a first word in our skip list declines" {
    rewrite -- 'history 5'
    assert_failure 1
    rewrite -- 'sudo sort a.txt'
    assert_failure 1
}

@test "a first word listed in SEAMLESS_MODE_SKIP declines" {
    SEAMLESS_MODE_SKIP="make ninja" run seamless-mode-rewrite -- 'make all'
    assert_failure 1
    assert_output ""
}

@test "a line of assignments only declines" {
    rewrite -- 'X=5'
    assert_failure 1
    rewrite -- 'F=x.txt'
    assert_failure 1
    rewrite -- 'A=1 B+=2'
    assert_failure 1
}

@test "the command word after leading assignments is the one checked" {
    rewrite -- 'LC_ALL=C ls'
    assert_failure 1
    rewrite -- 'LC_ALL=C sort a.txt'
    assert_success
    assert_output "seamless-run -c 'LC_ALL=C sort a.txt'"
}

@test "blank lines and comments decline" {
    rewrite -- '   '
    assert_failure 1
    rewrite -- '# sort a.txt'
    assert_failure 1
}

@test "a seamless command declines" {
    rewrite -- 'seamless-run sort a.txt'
    assert_failure 1
    rewrite -- "'seamless-upload' x.txt"
    assert_failure 1
}

@test "unbalanced quotes decline" {
    rewrite -- "sort 'a.txt"
    assert_failure 1
    rewrite -- 'sort "a.txt'
    assert_failure 1
    rewrite -- 'sort $(cat x'
    assert_failure 1
}

@test "a one-character command name is rewritten" {
    rewrite -- 'r x.txt'
    assert_success
    assert_output "seamless-run -c 'r x.txt'"
}

@test "an unquoted word ending in .CHECKSUM loses the suffix" {
    rewrite -- 'head x.txt.CHECKSUM'
    assert_success
    assert_output "seamless-run -c 'head x.txt'"
}

@test "an unquoted word ending in .INDEX loses the suffix, a quoted one keeps it" {
    rewrite -- 'ls2 dir.INDEX "d.INDEX"'
    assert_success
    assert_output "seamless-run -c 'ls2 dir \"d.INDEX\"'"
}

@test "options go between seamless-run and -c" {
    rewrite --opts '-v --scratch' -- 'sort a.txt'
    assert_success
    assert_output "seamless-run -v --scratch -c 'sort a.txt'"
    expect_argv -v --scratch -c 'sort a.txt'
}

@test "a variable in double quotes is substituted inside the double quotes" {
    rewrite --set 'F=my file.txt' -- 'cat "$F"'
    assert_success
    assert_output "seamless-run -c 'cat \"my file.txt\"'"
    expect_argv -c 'cat "my file.txt"'
}

@test "braced variables are substituted too" {
    rewrite --set 'F=a.txt' -- 'cat ${F} "${F}"'
    assert_success
    expect_argv -c 'cat a.txt "a.txt"'
}

@test "special characters of a value are escaped inside double quotes" {
    rewrite --set 'V=a"b$c`d\e' -- 'echo2 "$V"'
    assert_success
    expect_argv -c 'echo2 "a\"b\$c\`d\\e"'
}

@test "single quotes in the line are escaped for the -c string" {
    rewrite -- "awk '{print}' a"
    assert_success
    assert_output "seamless-run -c 'awk '\\''{print}'\\'' a'"
    expect_argv -c "awk '{print}' a"
}

@test "a line ending in a single quote gets one trailing space" {
    rewrite -- "sort 'a'"
    assert_success
    assert_output "seamless-run -c 'sort '\\''a'\\'' '"
    expect_argv -c "sort 'a' "
}

@test "an unquoted value is split and each field quoted" {
    rewrite --set 'X=a; touch PWNED' -- "printf '%s\\n' \$X"
    assert_success
    expect_argv -c "printf '%s\\n' 'a;' touch PWNED"
}

@test "running a rewritten line with an injected value creates no file" {
    rewrite --set 'X=a; touch PWNED' -- "printf '%s\\n' \$X"
    assert_success
    STUB_EXEC=1 eval "$output" > /dev/null
    assert_no_file PWNED
}

@test "positional parameters are left as they are" {
    rewrite --set 'X=1' -- "awk '{print \$1}' d.txt"
    assert_success
    expect_argv -c "awk '{print \$1}' d.txt"
    rewrite -- 'printf2 "$1 $@ $# $? ${10}" $0'
    expect_argv -c 'printf2 "$1 $@ $# $? ${10}" $0'
}

@test "references in single quotes, ANSI-C quotes and escapes are left as they are" {
    rewrite --set 'X=v' -- "echo2 '\$X' \$'\$X' \\\$X \"\\\$X\""
    assert_success
    expect_argv -c "echo2 '\$X' \$'\$X' \\\$X \"\\\$X\""
}

@test "references in command and arithmetic substitutions are left as they are" {
    rewrite --set 'X=v' -- 'echo2 $(echo $X) `echo $X` $((X + 1)) "$(echo $X)"'
    assert_success
    expect_argv -c 'echo2 $(echo $X) `echo $X` $((X + 1)) "$(echo $X)"'
}

@test "unset names and expansions with operators are left as they are" {
    rewrite --set 'X=v' -- 'echo2 $UNSET_NAME ${X:-d} ${#X} $X'
    assert_success
    expect_argv -c 'echo2 $UNSET_NAME ${X:-d} ${#X} v'
}

@test "--list-vars prints each substitutable name once" {
    rewrite --list-vars -- 'cat $A "${B}" $A '\''$C'\'' $(echo $D) $1 ${E:-x}'
    assert_success
    assert_output "$(printf 'A\nB')"
}

@test "--list-vars declines the lines that would be declined" {
    rewrite --list-vars -- 'ls $A'
    assert_failure 1
    assert_output ""
}

@test "a malformed --set is a usage error" {
    run --separate-stderr seamless-mode-rewrite --set '1x=3' -- 'sort a.txt'
    assert_failure 2
    assert_stderr_contains "seamless-mode-rewrite: error: --set needs NAME=VALUE"
}

@test "--fast-argv gives a command that rewrites exactly like seamless-mode-rewrite" {
    run seamless-mode-rewrite --fast-argv
    assert_success
    local -a fast
    mapfile -t fast <<<"$output"
    [ "${#fast[@]}" -eq 4 ] || flunk "expected 4 lines"
    [ "${fast[2]}" = -S ] || flunk "expected the interpreter to run without site"
    run "${fast[@]}" --opts -v --set 'F=a b.txt' -- 'cat "$F" x.txt.CHECKSUM'
    assert_success
    assert_output "seamless-run -v -c 'cat \"a b.txt\" x.txt'"
}
