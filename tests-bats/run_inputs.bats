#!/usr/bin/env bats
# seamless-run inputs are plain files in the job's workspace: the job sees what
# plain bash sees, cannot change the store (as root too), and never sees a corrupt buffer.

load run_helper

setup() {
    setup_isolated
    mkdir -p data/sub
    printf 'apples\npears\n' > data/a.txt
    printf '5\n12\n7\n' > data/sub/b.txt
    chmod 0644 data/a.txt data/sub/b.txt
}

# the same command under seamless-run and plain bash: same stdout, same exit status
same_as_bash() {
    local expected expected_status=0
    expected=$(bash -c "$1") || expected_status=$?
    sr "$1"
    [ "$status" -eq "$expected_status" ] || flunk "bash exited $expected_status"
    [ "$output" = "$expected" ] || flunk "plain bash printed:" "$expected"
}

@test "find -type f on a directory input lists its files, as in plain bash" {
    same_as_bash 'find data -type f | sort'
    assert_output $'data/a.txt\ndata/sub/b.txt'
}

@test "find -type l on a directory input finds no links, as in plain bash" {
    same_as_bash 'find data -type l | wc -l'
    assert_output "0"
}

@test "tar of a directory input archives the same members and bytes as plain bash" {
    same_as_bash 'tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - data | sha256sum'
}

@test "tar of a directory input lists regular files, not links" {
    same_as_bash 'tar -cf - data | tar -tvf - | cut -c1 | sort | uniq -c'
}

@test "du of a directory input counts the same bytes and blocks as plain bash" {
    same_as_bash 'du -ab data'
    same_as_bash 'du -a data'
}

@test "stat of file inputs gives type, size, link count and mode as in plain bash" {
    same_as_bash 'stat -c "%F %s %h %a" data/a.txt data/sub/b.txt'
}

@test "cp -P of a file input copies a regular file, as in plain bash" {
    same_as_bash 'cp -P data/a.txt copy.txt && stat -c %F copy.txt'
}

@test "a job that truncates its input does not change what another job reads (bug: root writes through)" {
    printf 'b\na\n' > in.txt
    cp in.txt other.txt
    sr 'sort in.txt > in.txt'
    assert_success
    sr 'wc -l other.txt'
    assert_success
    assert_output "2 other.txt"
}

@test "sort -o over an input leaves the stored buffer intact for the next job" {
    printf 'b\na\n' > in.txt
    sr -i in.txt 'sort -o in.txt in.txt; echo done'
    assert_success
    assert_output "done"
    sr head -n1 in.txt
    assert_success
    assert_output "b"
}

@test "a stored input buffer with one byte flipped is never handed to the job" {
    printf 'b\na\n' > in.txt
    sr 'wc -l in.txt'
    assert_output "2 in.txt"
    local buffer
    buffer=$(buffer_file "$(sha256 in.txt)")
    chmod u+w "$buffer"
    printf 'b\na\n' | tr 'a' '\n' > "$buffer"  # same size, one byte changed
    sr 'wc -l < in.txt'
    assert_success
    assert_output "2"
    [ "$(sha256 "$buffer")" = "$(sha256 in.txt)" ] || flunk "the buffer was not repaired"
}

@test "a --write-remote-job directory holds regular files and runs elsewhere, without the cache" {
    sr --dry --write-remote-job R 'cat data/a.txt data/sub/b.txt > out.txt'
    assert_success
    [ -z "$(find R -type l)" ] || flunk "links in the job directory: $(find R -type l)"
    mv R "$BATS_TEST_TMPDIR/elsewhere"
    rm -rf "$CACHE"
    (cd "$BATS_TEST_TMPDIR/elsewhere" && bash transform.sh)
    assert_file_content "$BATS_TEST_TMPDIR/elsewhere/RESULT/out.txt" $'apples\npears\n5\n12\n7\n'
}
