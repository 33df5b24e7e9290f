#!/usr/bin/env bats
# seamless-upload (SPEC 6.1, bug 16)

load test_helper

INDEX_AB='{
  "a.txt": "06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0",
  "sub/b.txt": "c0cde77fa8fef97d476c10aad3d2d54fcc2f336140d073651c2dcccf1e379fd6"
}
'
HELLO=5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03

make_data() {
    mkdir -p data/sub
    printf 'A\n' > data/a.txt
    printf 'B\n' > data/sub/b.txt
}

teardown() {
    if [ -e d/ro/f.txt ] && command -v chattr >/dev/null; then
        chattr -i d/ro/f.txt 2>/dev/null || true
    fi
    chmod -R u+w "$WORK" 2>/dev/null || true
}

@test "a directory gets DIR.INDEX in the index format and DIR.CHECKSUM = sha256 of it" {
    make_data
    run --separate-stderr seamless-upload data
    assert_success
    assert_output ""
    assert_stderr ""
    assert_file_content data.INDEX "$INDEX_AB"
    assert_file_content data.CHECKSUM "6a3c780b41ab4198de3221f73319728816daa8af40ba5ee4f18c210d60b46e43
"
}

@test "a directory upload stores its leaves and its index buffer in the cache" {
    make_data
    run seamless-upload data
    assert_success
    [ -f "$CACHE/06/06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0" ]
    [ -f "$CACHE/c0/c0cde77fa8fef97d476c10aad3d2d54fcc2f336140d073651c2dcccf1e379fd6" ]
    [ -f "$CACHE/6a/6a3c780b41ab4198de3221f73319728816daa8af40ba5ee4f18c210d60b46e43" ]
}

@test "a gzipped file gets the sidecar of its name without .gz and its canonical bytes are stored" {
    printf 'hello\n' | gzip > x.txt.gz
    run --separate-stderr seamless-upload x.txt.gz
    assert_success
    assert_file_content x.txt.CHECKSUM "$HELLO
"
    assert_file_content "$CACHE/58/$HELLO" "hello
"
}

@test "a trailing slash is stripped" {
    make_data
    run seamless-upload data/
    assert_success
    assert_file_content data.CHECKSUM "6a3c780b41ab4198de3221f73319728816daa8af40ba5ee4f18c210d60b46e43
"
}

@test "arguments ending in .CHECKSUM are ignored; nothing left is 'upload no files'" {
    printf 'x\n' > f.txt.CHECKSUM
    run --separate-stderr seamless-upload -v f.txt.CHECKSUM
    assert_success
    assert_stderr "seamless-upload: upload no files"
    assert_file_content f.txt.CHECKSUM "x
"
}

@test "an option after the first path is refused with exit 2" {
    printf 'x\n' > f.txt
    run --separate-stderr seamless-upload f.txt -v
    assert_failure 2
    assert_stderr "seamless-upload: error: option -v must come before upload targets (see seamless-upload --help)"
    assert_no_file f.txt.CHECKSUM
}

@test "a missing path is an input error with exit 2" {
    run --separate-stderr seamless-upload nope.txt
    assert_failure 2
    assert_stderr "seamless-upload: error: upload target 'nope.txt' does not exist"
}

@test "--move removes a plain file and keeps its sidecar (bug 16)" {
    printf 'hello\n' > f.txt
    run --separate-stderr seamless-upload --move f.txt
    assert_success
    assert_no_file f.txt
    assert_file_content f.txt.CHECKSUM "$HELLO
"
    assert_file_content "$CACHE/58/$HELLO" "hello
"
}

@test "--move removes a directory and keeps DIR.INDEX and DIR.CHECKSUM" {
    make_data
    run seamless-upload -m data
    assert_success
    assert_no_file data
    assert_file_content data.INDEX "$INDEX_AB"
}

@test "--move that cannot remove an original exits 1 with one error line" {
    mkdir -p d/ro
    printf 'x\n' > d/ro/f.txt
    if [ "$(id -u)" = 0 ]; then chattr +i d/ro/f.txt; else chmod a-w d/ro; fi
    run --separate-stderr seamless-upload --move d
    assert_failure 1
    if [ "$(id -u)" = 0 ]; then reason="Operation not permitted"; else reason="Permission denied"; fi
    assert_stderr "seamless-upload: error: cannot remove 'd': $reason"
    [ -f d.CHECKSUM ]
}

@test "names with spaces, quotes and non-ASCII characters get sidecars next to them" {
    printf 'A\n' > "my file 'q\" é.txt"
    run seamless-upload "my file 'q\" é.txt"
    assert_success
    assert_file_content "my file 'q\" é.txt.CHECKSUM" "06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0
"
}

@test "an empty file has the checksum of the empty buffer" {
    : > empty.txt
    run seamless-upload empty.txt
    assert_success
    assert_file_content empty.txt.CHECKSUM "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
"
}

@test "a symlinked file is read through the link" {
    printf 'hello\n' > target.txt
    ln -s target.txt link.txt
    run seamless-upload link.txt
    assert_success
    assert_file_content link.txt.CHECKSUM "$HELLO
"
}

@test "an upload above SEAMLESS_MAX_UPLOAD_FILES is declined when stdin is not a terminal" {
    make_data
    printf 'C\n' > data/c.txt
    export SEAMLESS_MAX_UPLOAD_FILES=2
    run --separate-stderr seamless-upload data < /dev/null
    assert_failure 2
    assert_stderr "seamless-upload: error: upload of 3 files (6 B) not confirmed; use -y"
    assert_no_file data.CHECKSUM
}

@test "-y confirms an upload above the thresholds" {
    make_data
    export SEAMLESS_MAX_UPLOAD_SIZE="3 B"
    run seamless-upload -y data < /dev/null
    assert_success
    [ -f data.CHECKSUM ]
}

@test "a directory of 3000 files needs -y and is then fully indexed" {
    mkdir many
    (cd many && for i in $(seq 3000); do echo "$i" > "$i.txt"; done)
    run --separate-stderr seamless-upload many < /dev/null
    assert_failure 2
    assert_stderr "seamless-upload: error: upload of 3000 files (13.9 kB) not confirmed; use -y"
    run seamless-upload -y many
    assert_success
    [ "$(grep -c '\.txt' many.INDEX)" -eq 3000 ]
}

@test "--destination without .HASHSERVER_PREFIX writes a flat buffer directory" {
    make_data
    mkdir dest
    run seamless-upload --destination dest data
    assert_success
    assert_file_content dest/06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0 "A
"
    [ -f dest/6a3c780b41ab4198de3221f73319728816daa8af40ba5ee4f18c210d60b46e43 ]
    assert_no_file "$CACHE"
}

@test "--destination with .HASHSERVER_PREFIX writes the prefix layout" {
    printf 'hello\n' > h.txt
    mkdir dest && printf '1\n' > dest/.HASHSERVER_PREFIX
    run seamless-upload --destination dest h.txt
    assert_success
    assert_file_content "dest/58/$HELLO" "hello
"
}

@test "--destination stores a compressed source as <cs>.gz plus <cs>.BUFFERLENGTH" {
    printf 'hello\n' | gzip > x.txt.gz
    mkdir dest
    run seamless-upload --destination dest x.txt.gz
    assert_success
    cmp x.txt.gz "dest/$HELLO.gz"
    assert_file_content "dest/$HELLO.BUFFERLENGTH" "6
"
    assert_no_file "dest/$HELLO"
}

@test "--hardlink links the source into the destination and keeps its mode" {
    printf 'hello\n' > h.txt
    chmod 644 h.txt
    mkdir dest
    run seamless-upload --destination dest --hardlink h.txt
    assert_success
    [ "$(stat -c %i h.txt)" = "$(stat -c %i "dest/$HELLO")" ]
    [ -w h.txt ]
}

@test "--symlink puts a symlink to the source into the destination" {
    printf 'hello\n' > h.txt
    mkdir dest
    run seamless-upload --destination dest --symlink h.txt
    assert_success
    [ -L "dest/$HELLO" ]
    [ "$(readlink "dest/$HELLO")" = "$WORK/h.txt" ]
}

@test "--copy without --destination is a usage error" {
    printf 'hello\n' > h.txt
    run --separate-stderr seamless-upload --copy h.txt
    assert_failure 2
    assert_stderr "seamless-upload: error: --copy needs --destination (see seamless-upload --help)"
}

@test "--incremental without --hardlink is a usage error" {
    printf 'hello\n' > h.txt
    run --separate-stderr seamless-upload --destination d --incremental h.txt
    assert_failure 2
    assert_stderr "seamless-upload: error: --incremental needs --hardlink (see seamless-upload --help)"
}

@test "--dest-verify refuses a corrupt buffer in the destination" {
    printf 'hello\n' > h.txt
    mkdir dest
    printf 'tampered\n' > "dest/$HELLO"
    run --separate-stderr seamless-upload --destination dest --dest-verify h.txt
    assert_failure 2
    assert_stderr "seamless-upload: error: dest/$HELLO: buffer in the destination does not match its checksum"
}

@test "--dest-repair rewrites a corrupt buffer in the destination" {
    printf 'hello\n' > h.txt
    mkdir dest
    printf 'tampered\n' > "dest/$HELLO"
    run seamless-upload --destination dest --dest-repair h.txt
    assert_success
    assert_file_content "dest/$HELLO" "hello
"
}

@test "--help describes the command and exits 0" {
    run seamless-upload --help
    assert_success
    assert_output_contains "Usage: seamless-upload [OPTIONS] PATHS..."
}

@test "--project stores the buffers under the project's directory" {
    printf 'hello\n' > h.txt
    run seamless-upload --project myproj h.txt
    assert_success
    assert_file_content "$HOME/.cache/seamless/myproj/58/$HELLO" "hello
"
    assert_no_file "$CACHE"
}

@test "--incremental trusts a sidecar that is newer than its file when the destination has the buffer" {
    printf 'hello\n' > h.txt
    mkdir dest
    seamless-upload --destination dest --hardlink h.txt
    rm h.txt
    printf 'other\n' > h.txt
    touch -d '2001-01-01' h.txt
    run seamless-upload --destination dest --hardlink --incremental h.txt
    assert_success
    assert_file_content h.txt.CHECKSUM "$HELLO
"
    run seamless-upload --destination dest --hardlink h.txt
    assert_success
    assert_file_content h.txt.CHECKSUM "$(printf 'other\n' | sha256sum | cut -d' ' -f1)
"
}

@test "-y with -n is a usage error" {
    printf 'hello\n' > h.txt
    run --separate-stderr seamless-upload -y -n h.txt
    assert_failure 2
    assert_stderr "seamless-upload: error: -y and -n cannot be combined (see seamless-upload --help)"
    assert_no_file h.txt.CHECKSUM
}

@test "a sidecar that disagrees with its file is rewritten from the file" {
    printf 'hello\n' > h.txt
    printf '%s\n' 0000000000000000000000000000000000000000000000000000000000000000 > h.txt.CHECKSUM
    run seamless-upload h.txt
    assert_success
    assert_file_content h.txt.CHECKSUM "$HELLO
"
}
