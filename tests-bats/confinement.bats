#!/usr/bin/env bats
# Paths that come from data (index keys, pin names, dunder files, queue records) stay inside
# their target: no absolute path, no '..', no empty or NUL component, no symlink out of the target.

load queue_helper

# a stored file e.txt; $E_CS is its checksum
stored_e() {
    mkdir -p "$BATS_TEST_TMPDIR/outside"
    printf 'evil\n' > e.txt
    seamless-upload e.txt
    E_CS=$(head -c 64 e.txt.CHECKSUM)
}

# d.INDEX (and d.CHECKSUM) naming the stored e.txt under key $1
crafted_index() {
    printf '{\n  "%s": "%s"\n}\n' "$1" "$E_CS" > d.INDEX
    sha256sum d.INDEX | cut -c1-64 > d.CHECKSUM
}

# a stored transformation dict: the one of `seamless-run $2` with its pin $1 renamed to $3;
# its checksum in $TF
crafted_transformation() {
    seamless-run --dry --upload "$2" > /dev/null
    seamless-run --dry -j J "$2" > /dev/null
    python3 - "$1" "$3" <<'EOF'
import json, sys
d = json.load(open("J/transformation.json"))
d[sys.argv[2]] = d.pop(sys.argv[1])
d["__format__"] = {}
open("t.json", "w").write(json.dumps(d, indent=2, sort_keys=True) + "\n")
EOF
    seamless-upload t.json
    TF=$(head -c 64 t.json.CHECKSUM)
}

@test "seamless-download refuses an index key with '..' and writes nothing outside" {
    stored_e
    crafted_index "../outside/pwned.txt"
    run --separate-stderr seamless-download d
    assert_failure 2
    assert_stderr "seamless-download: error: d.INDEX: unsafe path '../outside/pwned.txt' (contains '..')"
    assert_no_file "$BATS_TEST_TMPDIR/outside/pwned.txt"
    assert_no_file d
}

@test "seamless-download refuses an absolute index key" {
    stored_e
    crafted_index "$BATS_TEST_TMPDIR/outside/pwned.txt"
    run --separate-stderr seamless-download d
    assert_failure 2
    assert_stderr "seamless-download: error: d.INDEX: unsafe path '$BATS_TEST_TMPDIR/outside/pwned.txt' (absolute)"
    assert_no_file "$BATS_TEST_TMPDIR/outside/pwned.txt"
}

@test "seamless-download refuses an index key with an empty component" {
    stored_e
    crafted_index "a//b.txt"
    run --separate-stderr seamless-download d
    assert_failure 2
    assert_stderr "seamless-download: error: d.INDEX: unsafe path 'a//b.txt' (empty component)"
}

@test "seamless-download refuses an index whose key is a directory of another key, and writes nothing" {
    stored_e
    printf '{\n  "x": "%s",\n  "x/y": "%s"\n}\n' "$E_CS" "$E_CS" > d.INDEX
    sha256sum d.INDEX | cut -c1-64 > d.CHECKSUM
    run --separate-stderr seamless-download d
    assert_failure 2
    assert_stderr "seamless-download: error: d.INDEX: unsafe path 'x/y' ('x' is a file too)"
    assert_no_file d
}

@test "seamless-download refuses an index key whose name is longer than 255 bytes" {
    stored_e
    long=$(printf 'n%.0s' $(seq 256))
    crafted_index "sub/$long"
    run --separate-stderr seamless-download d
    assert_failure 2
    assert_stderr "seamless-download: error: d.INDEX: unsafe path 'sub/$long' (a component longer than 255 bytes)"
    assert_no_file d
}

@test "seamless-run refuses an input directory whose .INDEX key is a directory of another, before running anything" {
    stored_e
    mkdir d
    printf '{\n  "x": "%s",\n  "x/y": "%s"\n}\n' "$E_CS" "$E_CS" > d.INDEX
    sha256sum d.INDEX | cut -c1-64 > d.CHECKSUM
    sr 'ls d; touch ran'
    assert_failure 2
    assert_stderr "seamless-run: error: $WORK/d.INDEX: unsafe path 'x/y' ('x' is a file too)"
    assert_no_file ran
}

@test "seamless-download of a bare checksum refuses a stored index with '..'" {
    stored_e
    crafted_index "../outside/pwned.txt"
    mv d.INDEX idx.json
    seamless-upload idx.json
    cs=$(head -c 64 idx.json.CHECKSUM)
    run --separate-stderr seamless-download --directory "$cs" -o d
    assert_failure 2
    assert_stderr "seamless-download: error: index $cs: unsafe path '../outside/pwned.txt' (contains '..')"
    assert_no_file "$BATS_TEST_TMPDIR/outside/pwned.txt"
}

@test "seamless-download does not write through a symlinked directory that leads out of the target" {
    stored_e
    mkdir d
    ln -s "$BATS_TEST_TMPDIR/outside" d/sub
    crafted_index "sub/pwned.txt"
    run --separate-stderr seamless-download d
    assert_failure 2
    assert_stderr "seamless-download: error: index of 'd': unsafe path 'sub/pwned.txt' (a symlink leads outside the target)"
    assert_no_file "$BATS_TEST_TMPDIR/outside/pwned.txt"
}

@test "seamless-download --index refuses an index key with '..'" {
    stored_e
    crafted_index "ok.txt"
    seamless-download --index d
    printf '{\n  "../outside/pwned.txt": "%s"\n}\n' "$E_CS" > idx.json
    seamless-upload idx.json
    run --separate-stderr seamless-download --index --directory "$(head -c 64 idx.json.CHECKSUM)" -o d2
    assert_failure 2
    assert_no_file "$BATS_TEST_TMPDIR/outside/pwned.txt.CHECKSUM"
}

@test "seamless-run refuses an input directory whose .INDEX has a '..' key, before running anything" {
    stored_e
    crafted_index "../outside/pwned.txt"
    sr 'ls d; touch ran'
    assert_failure 2
    assert_stderr "seamless-run: error: $WORK/d.INDEX: unsafe path '../outside/pwned.txt' (contains '..')"
    assert_no_file ran
}

@test "seamless-run-transformation refuses a stored dict whose pin name leaves the workspace" {
    stored_e
    crafted_transformation e.txt 'cat e.txt' ../outside/pwned.txt
    run --separate-stderr seamless-run-transformation "$TF"
    assert_failure 2
    assert_stderr "seamless-run-transformation: error: transformation $TF: pin: unsafe path '../outside/pwned.txt' (contains '..')"
    assert_no_file "$TMPDIR/outside/pwned.txt"
}

@test "seamless-run-transformation refuses a dunder.json whose META__FILE__ name is absolute" {
    stored_e
    seamless-run --dry --upload -j J 'cat e.txt' > /dev/null
    printf '{"META__FILE__/tmp/pwned": ["bytes", null, "%s"]}\n' "$E_CS" > J/dunder.json
    run --separate-stderr seamless-run-transformation J/transformation.json.CHECKSUM
    assert_failure 2
    assert_stderr "seamless-run-transformation: error: J/dunder.json: pin: unsafe path '/tmp/pwned' (absolute)"
}

@test "seamless-run-transformation refuses a directory pin whose stored index has a '..' key" {
    stored_e
    mkdir d
    printf 'x\n' > d/x.txt
    printf '{\n  "../../outside/pwned.txt": "%s"\n}\n' "$E_CS" > idx.json
    seamless-upload idx.json
    seamless-run --dry --upload 'ls d' > /dev/null
    seamless-run --dry -j J 'ls d' > /dev/null
    python3 - "$(head -c 64 idx.json.CHECKSUM)" <<'EOF'
import json, sys
d = json.load(open("J/transformation.json"))
d["d"][2] = sys.argv[1]
open("t.json", "w").write(json.dumps(d, indent=2, sort_keys=True) + "\n")
EOF
    seamless-upload t.json
    run --separate-stderr seamless-run-transformation t.json.CHECKSUM
    assert_failure 2
    assert_stderr "seamless-run-transformation: error: index of directory pin 'd': unsafe path '../../outside/pwned.txt' (contains '..')"
}

@test "seamless-queue skips a record whose result target leaves the workdir" {
    python3 - "$WORK" <<'EOF'
import json, sys
cmd = {"queue_command": "SUBMIT", "original_command": "x",
       "transformation_checksum": "00" * 32, "transformation_dict": {},
       "result_targets": {"out.txt": "../outside/pwned.txt"}, "params": {"workdir": sys.argv[1]}}
open(".seamless-queue", "wb").write(json.dumps(cmd, indent=2).encode() + b"\0")
EOF
    start_queue
    finish_queue
    assert_q_err_contains "seamless-queue: error: record 1 is not a valid queue command"
    assert_no_file "$BATS_TEST_TMPDIR/outside/pwned.txt"
}

@test "a queued dict whose pin name leaves the workspace fails and writes nothing outside" {
    stored_e
    crafted_transformation e.txt 'cat e.txt > o.txt' ../outside/pwned.txt
    python3 - "$WORK" "$TF" <<'EOF'
import json, sys
d = json.load(open("t.json"))
cmd = {"queue_command": "SUBMIT", "original_command": "x", "transformation_checksum": sys.argv[2],
       "transformation_dict": d, "result_targets": {"o.txt": None}, "params": {"workdir": sys.argv[1]}}
open(".seamless-queue", "wb").write(json.dumps(cmd, indent=2).encode() + b"\0")
EOF
    start_queue
    finish_queue
    [ "$q_status" -eq 1 ] || { stderr=$q_err; flunk "server exit status $q_status"; }
    assert_q_err_contains "seamless-queue: job 1 failed: invalid pin name: unsafe path '../outside/pwned.txt' (contains '..')"
    assert_no_file o.txt
}

@test "seamless-upload reads a symlink to an outside file by content, and --move removes only the link" {
    printf 'hello\n' > "$BATS_TEST_TMPDIR/outside.txt"
    mkdir d
    ln -s "$BATS_TEST_TMPDIR/outside.txt" d/link.txt
    run seamless-upload --move d
    assert_success
    assert_no_file d
    assert_file_content "$BATS_TEST_TMPDIR/outside.txt" $'hello\n'
    run seamless-download d
    assert_success
    [ ! -L d/link.txt ] || flunk "the download is a symlink"
    assert_file_content d/link.txt $'hello\n'
}
