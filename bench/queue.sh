#!/usr/bin/env bash
# 100 tiny jobs (`echo i > o_i.txt`) three ways: a plain bash loop, `xargs -P 2`, and
# `seamless-run --qsubmit` drained by `seamless-queue --workers 2` (target: <= 5 s in total).
# For the queue, the submissions (one seamless-run process each) and the drain after
# seamless-queue-finish are also shown apart, with the submissions one after the other and
# four at a time, and a second round in which every job is a cache hit; and the server alone
# draining a queue that was filled before it started.
# Not part of the test run. Usage: bash bench/queue.sh   (N=100 jobs by default)
set -euo pipefail
n=${N:-100}
python=$(python3 -c 'import sys; print(sys.executable)')
scripts=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
run=$scripts/seamless-run
queue=$scripts/seamless-queue
finish=$scripts/seamless-queue-finish
[ -x "$run" ] || { run=$(command -v seamless-run); queue=$(command -v seamless-queue); finish=$(command -v seamless-queue-finish); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home TMPDIR=$tmp/tmp SEAMLESS_QUEUE_FILE=$tmp/queue
unset SEAMLESS_CACHE XDG_CACHE_HOME
mkdir -p "$HOME" "$TMPDIR"

now() { "$python" -c 'import time; print(time.time())'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

fresh_dir() { rm -rf "$tmp/w"; mkdir -p "$tmp/w"; cd "$tmp/w"; }

fresh_dir
t0=$(now)
for i in $(seq "$n"); do bash -c "echo $i > o_$i.txt"; done
t1=$(now)
printf '%-52s %6s s\n' "plain bash loop ($n x bash -c)" "$(secs "$t0" "$t1")"

fresh_dir
t0=$(now)
seq "$n" | xargs -P 2 -I{} bash -c 'echo {} > o_{}.txt'
t1=$(now)
printf '%-52s %6s s\n' "xargs -P 2" "$(secs "$t0" "$t1")"

# one queue round: $1 = submitters in parallel, $2 = label, $3 = salt (a new salt: new transformations)
queue_round() {
    local parallel=$1 label=$2 salt=$3 t0 t1 t3
    fresh_dir
    "$queue" -q --workers 2 &
    local server=$!
    t0=$(now)
    seq "$n" | xargs -P "$parallel" -I{} "$run" --qsubmit "echo {}$salt > o_{}.txt" > /dev/null
    t1=$(now)
    "$finish"
    wait "$server"
    t3=$(now)
    for i in $(seq "$n"); do
        if [ "$(cat "o_$i.txt")" != "$i$salt" ] || [ ! -e "o_$i.txt.CHECKSUM" ]; then echo "o_$i.txt is wrong" >&2; exit 1; fi
    done
    printf '%-52s %6s s  (submit %s s, drain after finish %s s)\n' "seamless-queue --workers 2, $label" \
        "$(secs "$t0" "$t3")" "$(secs "$t0" "$t1")" "$(secs "$t1" "$t3")"
}

# the server alone: every job is queued (and the EOF written) before it starts
server_alone() {
    local t0 t1
    fresh_dir
    seq "$n" | xargs -P 2 -I{} "$run" --qsubmit "echo {}c > o_{}.txt" > /dev/null
    "$finish" --no-wait
    t0=$(now)
    "$queue" -q --workers 2
    t1=$(now)
    printf '%-52s %6s s\n' "seamless-queue --workers 2 alone, $n jobs queued" "$(secs "$t0" "$t1")"
}

server_alone
queue_round 1 "submitted one at a time" ""
queue_round 1 "again: every job a cache hit" ""
queue_round 4 "submitted 4 at a time" "b"
