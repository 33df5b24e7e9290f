#!/usr/bin/env bats
# seamless-download (SPEC 6.2, bug 6)

load test_helper

HELLO=5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
A_CS=06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0
DATA_CS=6a3c780b41ab4198de3221f73319728816daa8af40ba5ee4f18c210d60b46e43
MISSING=0000000000000000000000000000000000000000000000000000000000000000

make_data() {
    mkdir -p data/sub
    printf 'A\n' > data/a.txt
    printf 'B\n' > data/sub/b.txt
}

uploaded_data() {
    make_data
    seamless-upload data
    cp -r data data.orig
}

uploaded_hello() {
    printf 'hello\n' > h.txt
    seamless-upload h.txt
}

@test "a removed directory is restored byte-identical from its sidecars" {
    uploaded_data
    rm -r data
    run --separate-stderr seamless-download data
    assert_success
    assert_output ""
    assert_stderr ""
    diff -r data data.orig
    assert_file_content data.CHECKSUM "$DATA_CS
"
}

@test "--stdout prints a stored buffer byte-exactly" {
    uploaded_hello
    run --separate-stderr seamless-download --stdout "$HELLO"
    assert_success
    assert_output "hello"
    [ "$(seamless-download --stdout "$HELLO" | od -An -tx1 | tr -d ' \n')" = "68656c6c6f0a" ]
}

@test "an unavailable buffer is exit 3 with one error line" {
    run --separate-stderr seamless-download "$MISSING"
    assert_failure 3
    assert_stderr "seamless-download: error: buffer $MISSING not available"
    assert_no_file "$MISSING"
}

@test "an X.CHECKSUM argument restores X" {
    uploaded_hello
    rm h.txt
    run seamless-download h.txt.CHECKSUM
    assert_success
    assert_file_content h.txt "hello
"
}

@test "a bare checksum is written under its own name unless -o is given" {
    uploaded_hello
    run seamless-download "$HELLO"
    assert_success
    assert_file_content "$HELLO" "hello
"
    run seamless-download "$HELLO" -o out.txt
    assert_success
    assert_file_content out.txt "hello
"
    assert_file_content out.txt.CHECKSUM "$HELLO
"
}

@test "-o is matched to the arguments by position and may come anywhere" {
    uploaded_data
    uploaded_hello
    run seamless-download -o first.txt h.txt data -o second
    assert_success
    assert_file_content first.txt "hello
"
    diff -r second data.orig
    [ -f second.INDEX ]
}

@test "--directory makes a bare checksum name a directory index" {
    uploaded_data
    run seamless-download --directory "$DATA_CS" -o copy
    assert_success
    diff -r copy data.orig
    assert_file_content copy.CHECKSUM "$DATA_CS
"
}

@test "a missing argument without sidecars is an input error" {
    run --separate-stderr seamless-download nope.txt
    assert_failure 2
    assert_stderr "seamless-download: error: 'nope.txt' has no nope.txt.CHECKSUM or .INDEX sidecar"
}

@test "a file that disagrees with its sidecar is replaced by default" {
    uploaded_hello
    printf 'changed\n' > h.txt
    run seamless-download h.txt
    assert_success
    assert_file_content h.txt "hello
"
}

@test "a matching file is left untouched" {
    uploaded_hello
    touch -d '2001-01-01' h.txt
    run seamless-download h.txt
    assert_success
    [ "$(stat -c %Y h.txt)" = "$(date -d 2001-01-01 +%s)" ]
}

@test "--dest-skip never touches an existing file" {
    uploaded_hello
    printf 'changed\n' > h.txt
    run seamless-download --dest-skip h.txt
    assert_success
    assert_file_content h.txt "changed
"
}

@test "--dest-verify fails with exit 2 when an existing file differs" {
    uploaded_hello
    printf 'changed\n' > h.txt
    run --separate-stderr seamless-download --dest-verify h.txt
    assert_failure 2
    assert_stderr "seamless-download: error: 'h.txt' differs from its checksum $HELLO"
    assert_file_content h.txt "changed
"
}

@test "a file that the index does not list is an error unless --dest-rm" {
    uploaded_data
    printf 'x\n' > data/extra.txt
    run --separate-stderr seamless-download data
    assert_failure 2
    assert_stderr "seamless-download: error: 'data' holds 1 file(s) that are not in its index (first: 'extra.txt'); use --dest-rm to remove them"
    run seamless-download --dest-rm data
    assert_success
    assert_no_file data/extra.txt
    diff -r data data.orig
}

@test "a damaged file inside a directory is repaired" {
    uploaded_data
    printf 'Z\n' > data/sub/b.txt
    run seamless-download data
    assert_success
    diff -r data data.orig
}

@test "--index writes the index and one .CHECKSUM per file, no content" {
    uploaded_data
    run seamless-download --index data.CHECKSUM -o idx
    assert_success
    assert_file_content idx/a.txt.CHECKSUM "$A_CS
"
    [ -f idx/sub/b.txt.CHECKSUM ]
    assert_no_file idx/a.txt
    [ -f idx.INDEX ]
}

@test "--compression gz writes X.gz with the sidecar X.CHECKSUM" {
    uploaded_hello
    run seamless-download --compression gz "$HELLO" -o z.txt
    assert_success
    [ "$(gzip -dc z.txt.gz)" = "hello" ]
    assert_file_content z.txt.CHECKSUM "$HELLO
"
    assert_no_file z.txt
}

@test "a directory whose leaf is unavailable fails with exit 3 and leaves nothing behind" {
    make_data
    seamless-upload data
    rm -r data
    rm "$CACHE/06/$A_CS"
    run --separate-stderr seamless-download data
    assert_failure 3
    assert_stderr "seamless-download: error: buffer $A_CS not available"
    assert_no_file data
    [ -z "$(ls -A | grep tmp-)" ]
}

@test "names with spaces, quotes and non-ASCII characters and empty files round-trip" {
    mkdir -p "d é"
    printf 'q\n' > "d é/it's \"quoted\".txt"
    : > "d é/empty"
    seamless-upload "d é"
    cp -r "d é" orig
    rm -r "d é"
    run seamless-download "d é"
    assert_success
    diff -r "d é" orig
}

@test "a directory of 3000 files is restored completely" {
    mkdir many
    (cd many && for i in $(seq 3000); do echo "$i" > "$i.txt"; done)
    seamless-upload -y many
    rm -r many
    run seamless-download many < /dev/null
    assert_success
    [ "$(ls many | wc -l)" -eq 3000 ]
    assert_file_content many/2999.txt "2999
"
}

@test "a symlinked file in a directory is downloaded as a regular file" {
    mkdir d
    printf 'hello\n' > target.txt
    ln -s ../target.txt d/link.txt
    seamless-upload d
    rm -r d
    run seamless-download d
    assert_success
    [ ! -L d/link.txt ]
    assert_file_content d/link.txt "hello
"
}

@test "a download above SEAMLESS_MAX_DOWNLOAD_FILES proceeds without a terminal" {
    uploaded_data
    rm -r data
    export SEAMLESS_MAX_DOWNLOAD_FILES=1
    run seamless-download data < /dev/null
    assert_success
    diff -r data data.orig
}

@test "-n declines a download above the thresholds with exit 2" {
    uploaded_data
    rm -r data
    export SEAMLESS_MAX_DOWNLOAD_FILES=1
    run --separate-stderr seamless-download -n data
    assert_failure 2
    assert_stderr "seamless-download: error: download of 2 files (4 B) not confirmed; use -y"
    assert_no_file data
}

@test "--hardlink links the file to the stored buffer" {
    uploaded_hello
    run seamless-download --hardlink "$HELLO" -o linked.txt
    assert_success
    [ "$(stat -c %i linked.txt)" = "$(stat -c %i "$CACHE/58/$HELLO")" ]
}

@test "--symlink makes the file a symlink to the stored buffer" {
    uploaded_hello
    run seamless-download --symlink "$HELLO" -o linked.txt
    assert_success
    [ "$(readlink linked.txt)" = "$CACHE/58/$HELLO" ]
}

@test "--destination reads buffers from a flat buffer directory" {
    printf 'hello\n' > h.txt
    mkdir dest
    seamless-upload --destination dest h.txt
    rm h.txt
    run seamless-download --destination dest h.txt
    assert_success
    assert_file_content h.txt "hello
"
}

@test "--stdout with a directory is a usage error" {
    uploaded_data
    run --separate-stderr seamless-download --stdout data
    assert_failure 2
    assert_stderr "seamless-download: error: --stdout needs exactly one file argument (see seamless-download --help)"
}

@test "--stdout writes non-UTF-8 bytes unchanged" {
    printf '\377\376\000x' > bin.dat
    seamless-upload bin.dat
    run bash -c 'seamless-download --stdout bin.dat | od -An -tx1 | tr -d " \n"'
    assert_success
    assert_output "fffe0078"
}

@test "--incremental trusts an existing file whose sidecar is newer and names the checksum" {
    uploaded_hello
    printf 'other\n' > h.txt
    touch -d '2001-01-01' h.txt
    run seamless-download --incremental h.txt
    assert_success
    assert_file_content h.txt "other
"
    run seamless-download h.txt
    assert_success
    assert_file_content h.txt "hello
"
}

@test "--help exits 0 with the usage line" {
    run seamless-download --help
    assert_success
    assert_output_contains "Usage: seamless-download [OPTIONS] ARGS..."
}

@test "a directory output of seamless-run is restored from its sidecars (bug 6)" {
    run seamless-run -cp outdir 'mkdir -p outdir; echo x > outdir/a.txt'
    assert_success
    rm -r outdir
    run --separate-stderr seamless-download outdir
    assert_success
    assert_file_content outdir/a.txt "x
"
}
