#!/usr/bin/env bats
# seamless-run-transformation (SPEC 6.3)

load test_helper

ADD_TF=b305d13f07b5d60227ab9085d44f9abc346793f684d20fd246b199907311a006
ADD_RESULT=084c799cd551dd1d8d5c5f9a5d593b2e931f5e36122ee5c793c1d08a19839cc0

construct() {
    # construct <python file>: print the tf checksums the file's `tfs` list constructs
    python - "$1" <<'EOF'
import runpy, sys
for tf in runpy.run_path(sys.argv[1])["tfs"]:
    print(tf.construct())
EOF
}

write_add() {
    cat > add.py <<'EOF'
from seamless_transformer import delayed

@delayed
def add(a, b):
    return a + b

tfs = [add(19, 23)]
EOF
}

@test "the SPEC 2.8 add, constructed from Python, runs from its checksum" {
    write_add
    run construct add.py
    assert_output "$ADD_TF"
    run --separate-stderr seamless-run-transformation "$ADD_TF"
    assert_success
    assert_output "$ADD_RESULT"
    assert_stderr ""
}

@test "an unknown checksum is exit 3: transformation not available" {
    run --separate-stderr seamless-run-transformation 1111111111111111111111111111111111111111111111111111111111111111
    assert_failure 3
    assert_output ""
    assert_stderr "seamless-run-transformation: error: transformation 1111111111111111111111111111111111111111111111111111111111111111 not available"
}

@test "a .CHECKSUM file names the transformation" {
    write_add
    construct add.py > /dev/null
    printf '%s\n' "$ADD_TF" > tf.CHECKSUM
    run seamless-run-transformation tf.CHECKSUM
    assert_success
    assert_output "$ADD_RESULT"
}

@test "--output writes the result checksum to a file" {
    write_add
    construct add.py > /dev/null
    run --separate-stderr seamless-run-transformation --output res.txt "$ADD_TF"
    assert_success
    assert_output ""
    assert_file_content res.txt "$ADD_RESULT
"
}

@test "--scratch prints the result without storing its buffer" {
    write_add
    construct add.py > /dev/null
    run seamless-run-transformation --scratch "$ADD_TF"
    assert_success
    assert_output "$ADD_RESULT"
    assert_no_file "$CACHE/08/$ADD_RESULT"
}

@test "a failing Python transformation shows the user's traceback and exits 1" {
    cat > bad.py <<'EOF'
from seamless_transformer import delayed

@delayed
def bad(a):
    return {}["nope"]

tfs = [bad(1)]
EOF
    tf=$(construct bad.py)
    run --separate-stderr seamless-run-transformation "$tf"
    assert_failure 1
    assert_output ""
    assert_stderr_contains "Traceback (most recent call last):"
    [ "${stderr##*$'\n'}" = "seamless-run-transformation: error: KeyError: 'nope'" ] || flunk "last stderr line"
}

@test "a failing bash transformation exits 1 with the exit status" {
    cat > fail.py <<'EOF'
from seamless_transformer import delayed

tfs = [delayed("echo oops >&2; exit 5", "bash")(a=1)]
EOF
    tf=$(construct fail.py)
    run --separate-stderr seamless-run-transformation "$tf"
    assert_failure 1
    assert_stderr "oops
seamless-run-transformation: error: command failed with exit status 5"
}

@test "a missing input buffer is exit 3: buffer not available" {
    cat > cat.py <<'EOF'
from seamless_transformer import delayed

tfs = [delayed("cat inp > RESULT", "bash")(inp="hello")]
EOF
    tf=$(construct cat.py)
    cs=$(python -c 'from seamless_transformer import Buffer; print(Buffer("hello", "mixed").checksum)')
    rm "$CACHE/${cs:0:2}/$cs"
    run --separate-stderr seamless-run-transformation "$tf"
    assert_failure 3
    assert_stderr "seamless-run-transformation: error: buffer $cs not available"
}

@test "a dunder file adds META__ pins that the transformation sees" {
    cat > meta.py <<'EOF'
from seamless_transformer import delayed

tfs = [delayed("echo $META__T > RESULT", "bash")(a=1)]
EOF
    tf=$(construct meta.py)
    cs=$(python - <<'EOF'
from seamless_transformer import Buffer
from seamless_transformer.store.storage import get_storage
b = Buffer("4", "str")
get_storage().put_buffer(b.content)
print(b.checksum)
EOF
)
    printf '{"META__T": ["str", null, "%s"]}\n' "$cs" > d.json
    run seamless-run-transformation --dunder d.json "$tf"
    assert_success
    result=$output
    run seamless-download --stdout "$result"
    assert_output "4"
}

@test "an argument that is neither a checksum nor a .CHECKSUM file is a usage error" {
    run --separate-stderr seamless-run-transformation nonsense
    assert_failure 2
    assert_stderr "seamless-run-transformation: error: 'nonsense' is not a checksum or a .CHECKSUM file (see seamless-run-transformation --help)"
}

@test "--help exits 0" {
    run seamless-run-transformation --help
    assert_success
    assert_output_contains "Usage: seamless-run-transformation [OPTIONS] CHECKSUM_OR_FILE"
}

@test "--direct-print forwards what a Python transformation prints" {
    cat > noisy.py <<'EOF2'
from seamless_transformer import delayed

@delayed
def noisy(a):
    import sys
    print("to stderr", file=sys.stderr)
    return a

tfs = [noisy(5), noisy(6)]
EOF2
    construct noisy.py > tfs.txt
    run --separate-stderr seamless-run-transformation "$(sed -n 1p tfs.txt)"
    assert_success
    assert_stderr ""
    run --separate-stderr seamless-run-transformation --direct-print "$(sed -n 2p tfs.txt)"
    assert_success
    assert_stderr "to stderr"
}

@test "a job dir written by seamless-run --dry --upload -j replays with its metavars (bug 8)" {
    run seamless-run --dry --upload -j J --metavar T=4 'echo $T > t.txt'
    assert_success
    run --separate-stderr seamless-run-transformation J/transformation.json.CHECKSUM
    assert_success
    run seamless-download --stdout "$output"
    assert_output '{
  "t.txt": "7de1555df0c2700329e815b93b32c571c3ea54dc967b89e81ab73b9972b72d1d"
}'
}

@test "the -j job dir of 'echo hello' prints the hello checksum after --upload" {
    run seamless-run --dry --upload -j J 'echo hello'
    assert_success
    run --separate-stderr seamless-run-transformation J/transformation.json.CHECKSUM
    assert_success
    assert_output "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
}
