#!/usr/bin/env bats
# seamless-run behaves like plain bash (issue 11): each command gives the same stdout and exit
# status under seamless-run as under bash, the first time (computed) and the second (cached).

load run_helper

setup() {
    setup_isolated
    printf 'apple\nbanana\ncherry\n' > fruit.txt
    printf 'b\na\nc\n' > a.txt
    printf 'a\nc\nd\n' > b.txt
}

# twice WHAT ARG...: `seamless-run ARG...` gives $want_output and $want_status (set by the caller
# from WHAT, the plain run), the first time (computed) and the second (cached)
twice() {
    local what=$1 round
    shift
    for round in computed cached; do
        run --separate-stderr seamless-run "$@"
        [ "$output" = "$want_output" ] || flunk "$round: stdout differs from $what: $want_output"
        [ "$status" = "$want_status" ] || flunk "$round: exit status differs from $what ($want_status)"
    done
}

# like_bash CMD: `seamless-run CMD` (one argument) against `bash -c CMD`
like_bash() {
    run --separate-stderr bash -c "$1"
    local want_status=$status want_output=$output
    twice "bash's" "$1"
}

# like_argv WORD...: `seamless-run WORD...` against the words run as a command
like_argv() {
    run --separate-stderr "$@"
    local want_status=$status want_output=$output
    twice "the command's" "$@"
}

# ---------------------------------------------------------------- 1. every command names inputs

@test "a file named after && and in a pipeline is an input: echo hi && cat fruit.txt | wc -l" {
    like_bash 'echo hi && cat fruit.txt | wc -l'
    assert_output $'hi\n3'
}

@test "an input redirect is an input: cat < fruit.txt" {
    like_bash 'cat < fruit.txt'
    like_bash 'true; cat < fruit.txt'
    assert_output $'apple\nbanana\ncherry'
}

@test "process substitutions name inputs: diff <(sort a.txt) <(sort b.txt)" {
    like_bash 'diff <(sort a.txt) <(sort b.txt)'
    assert_failure 1
    assert_output $'2d1\n< b\n3a3\n> d'
}

@test "here-strings and subshells name inputs" {
    like_bash 'wc -l <<< "$(cat fruit.txt)"'
    like_bash 'while read f; do cat "$f"; done <<< fruit.txt'
    like_bash '(cat a.txt; cat b.txt) | sort -u'
    assert_output $'a\nb\nc\nd'
}

@test "a command substitution in a here-document names inputs" {
    like_bash $'cat <<EOF\nfirst: $(head -n 1 fruit.txt)\nEOF'
    assert_output "first: apple"
}

@test "a later missing file fails as in bash" {
    like_bash 'echo hi; cat nope.txt'
    assert_failure 1
}

# ---------------------------------------------------------------- 3. words as typed

@test "several words are shell-quoted where needed: python3 -c 'print(2)'" {
    like_argv python3 -c 'print(2)'
    assert_output "2"
}

@test "a ; inside a word is no command separator: echo 'x;y'" {
    like_argv echo 'x;y'
    assert_output "x;y"
}

@test "words with \$, quotes, globs and backslashes reach the command as typed" {
    like_argv echo '$HOME' "it's" '*' 'a\b' '"q"' '' '~'
}

@test "one argument is used verbatim: 'echo x;echo y'" {
    like_bash 'echo x;echo y'
    assert_output $'x\ny'
}

# ---------------------------------------------------------------- 4, 5. file names as typed

@test "a file name with a space is an input: wc -l 'my fruit.txt'" {
    cp fruit.txt 'my fruit.txt'
    like_argv wc -l 'my fruit.txt'
    assert_output "3 my fruit.txt"
}

@test "a quoted sentence stays a value: echo 'see notes.txt'" {
    like_argv echo 'see notes.txt'
    assert_output "see notes.txt"
}

@test "a file name with parentheses is an input: cat 'report(1).txt'" {
    cp fruit.txt 'report(1).txt'
    like_argv cat 'report(1).txt'
}

@test "a rewritten word never becomes an option: cat ./-n.txt" {
    printf 'hello\n' > ./-n.txt
    like_argv cat ./-n.txt
    assert_output "hello"
    like_bash 'cat ./-n.txt | wc -c'
}

@test "a rewritten glob match never becomes an option: cat ./*.txt under -ms" {
    mkdir d
    printf 'hello\n' > d/-n.txt
    run --separate-stderr seamless-run -ms 'cat d/*.txt'
    assert_success
    assert_output "hello"
}

@test "a result named like an option is written: echo hi > -n.txt" {
    run --separate-stderr seamless-run 'echo hi > -n.txt'
    assert_success
    assert_file_content ./-n.txt $'hi\n'
}

# ---------------------------------------------------------------- 2. a failed job's stdout

@test "a failing job shows what it printed: echo hi; false" {
    like_bash 'echo hi; false'
    assert_failure 1
    assert_output "hi"
    assert_stderr_contains "seamless-run: error: command failed with exit status 1"
}

@test "a failing job with -cp :B shows what it printed" {
    run --separate-stderr seamless-run -cp :log.txt 'echo partial; exit 3'
    assert_failure 1
    assert_output "partial"
    assert_no_file log.txt
}
