# Shared by the seamless-run bats files: isolation (test_helper), the SPEC §2.8 data files,
# and small wrappers. $CACHE is the zero-config embedded store under the per-test HOME.
# shellcheck disable=SC2034  # the globals set here are read by the .bats files that load this helper

load test_helper

ECHO_HELLO_TF=706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550
HELLO_CS=5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
A_CS=ee53c53e5f65f2a25583be11f99f1c2f159378c40299cd14a7c9c3a691247c58
EXAMPLE_B_TF=4cdfa93114f1d80004979ee4338069f477f04317e2cf97d7558987512904f014
EXAMPLE_B="paste data/b.txt data/a.txt | awk 'NF == 2 && \$1 > 10{print \$2}' "

make_data() {
    mkdir -p data
    printf 'apples\npears\noranges\nbananas\npineapples\nkiwis\ntomatoes' > data/a.txt
    printf '5\n12\n7\n4\n15\n8\n1\n80\n90' > data/b.txt
}

# seamless-run with stdout in $output and stderr in $stderr
sr() {
    run --separate-stderr seamless-run "$@"
}

# the result recorded for a transformation checksum in the embedded database ("" if none)
db_result() {
    sqlite3 "${2:-$CACHE}/seamless.db" "SELECT result FROM transformation WHERE checksum = '$1'"
}

sha256() {
    sha256sum "$1" | cut -d' ' -f1
}

# the stored buffer file of a checksum in the embedded store
buffer_file() {
    printf '%s/%s/%s' "${2:-$CACHE}" "${1:0:2}" "$1"
}

assert_stderr_empty() {
    [ -z "$stderr" ] || flunk "expected an empty stderr"
}
