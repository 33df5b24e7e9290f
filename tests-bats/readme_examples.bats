#!/usr/bin/env bats
# Every seamless-run example of the README, side by side with the same command under plain bash,
# each in its own copy of examples/data: the same stdout, and the same files (sidecars aside).

load run_helper

README=$BATS_TEST_DIRNAME/../README.md
DATA=$BATS_TEST_DIRNAME/../examples/data

# the README's runnable seamless-run lines: code-block lines and inline `seamless-run ...` spans,
# without trailing comments; preparation-only and queue examples print checksums, not results
readme_examples() {
    {
        awk '/^```/ { inblock = !inblock; next } inblock && /^seamless-run /' "$README" |
            sed 's/[[:space:]]\{2,\}#.*$//; s/[[:space:]]*$//'
        grep -o '`seamless-run [^`]*`' "$README" | tr -d '`'
    } | grep -v -e '--dry' -e '--qsub' -e '--help' | awk '!seen[$0]++'
}

# files under the current directory with their checksums, sidecars left out
files_and_contents() {
    find . -type f ! -name '*.CHECKSUM' ! -name '*.INDEX' -print0 | sort -z | xargs -0 -r sha256sum
}

# compare_with_bash LINE: run LINE in ./sr and its bash twin in ./bash; "" if they agree
compare_with_bash() {
    local line=$1 words stdout_file="" capture_dirs=() i
    eval "words=(${line#seamless-run })"
    while [ "${#words[@]}" -gt 0 ]; do
        case "${words[0]}" in
            -v | -c) words=("${words[@]:1}") ;;
            -cp)
                if [[ "${words[1]}" == :* ]]; then stdout_file=${words[1]#:}; else capture_dirs+=("${words[1]}"); fi
                words=("${words[@]:2}")
                ;;
            -*) echo "unhandled option ${words[0]}"; return ;;
            *) break ;;
        esac
    done
    cp -r "$DATA" sr && cp -r "$DATA" bash
    local want got
    if [ "${#words[@]}" -eq 1 ]; then
        want=$(cd bash && bash -c "${words[0]}" 2> /dev/null)
    else
        want=$(cd bash && "${words[@]}" 2> /dev/null)
    fi
    got=$(cd sr && eval "$line" 2> /dev/null)
    if [ -n "$stdout_file" ]; then
        printf '%s\n' "$want" > "bash/$stdout_file"
        want=""
    fi
    [ "$got" = "$want" ] || { echo "stdout: '$got', bash: '$want'"; return; }
    [ "$(cd sr && files_and_contents)" = "$(cd bash && files_and_contents)" ] || echo "the files differ"
    rm -rf sr bash
}

@test "the README holds at least eight seamless-run examples to compare" {
    run readme_examples
    [ "${#lines[@]}" -ge 8 ] || flunk "found: $output"
}

@test "every README seamless-run example gives bash's stdout and files" {
    local line problem failures=()
    while IFS= read -r line; do
        problem=$(compare_with_bash "$line")
        [ -z "$problem" ] || failures+=("$line: $problem")
    done < <(readme_examples)
    [ "${#failures[@]}" -eq 0 ] || flunk "${failures[@]}"
}
