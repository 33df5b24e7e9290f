#!/usr/bin/env bash
# Every benchmark of the performance table, in one run, printed as ONE table: our figure, the
# peer's figure measured in the same run, their ratio, and the target.
#
#   bash bench/all.sh            (about 5 minutes on 2 cores; not part of the test run)
#
# Rows: 100 tiny queue jobs end to end (and the cost of one submit, also next to the interpreter's
# own start, and the server alone draining a filled queue), 1000 trivial delayed
# transformations cold and cached, parallel() on spawn(2), a 100 MB buffer to a worker and back,
# and the seamless-run cache hit. Peers: `xargs -P 2`, upstream Seamless 0.6.1, joblib.Memory,
# ProcessPoolExecutor(2), memcpy and `python3 -c pass`.
#
# What it installs when missing, into $BENCH_DIR (default ${XDG_CACHE_HOME:-~/.cache}/seamless-bench,
# throwaway: delete it at will): this checkout into a venv if no python3 on PATH imports
# seamless_transformer; joblib (pip --target, put on PYTHONPATH for the Python rows); upstream
# seamless-transformer 0.6.1 into a venv of its own (or set UPSTREAM_VENV to one that has it).
# Upstream is optional: if it cannot be installed or run, its cell says why.
# Sizes: N_QUEUE (100) jobs, N_TASKS (1000) transformations, N_UPSTREAM (10) upstream jobs, scaled
# to N_QUEUE in the table (upstream takes about a second a job; 0 skips upstream), N_HIT (20) cache hits.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
n_queue=${N_QUEUE:-100}
n_tasks=${N_TASKS:-1000}
n_up=${N_UPSTREAM:-10}
n_hit=${N_HIT:-20}
bench_dir=${BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/seamless-bench}
mkdir -p "$bench_dir"
log=$bench_dir/install.log

# ---- our installation: the python3 on PATH if it has seamless_transformer, else a venv of this checkout
python=$(command -v python3)
if ! (cd / && "$python" -c 'import seamless_transformer' 2> /dev/null); then
    echo "installing this checkout into $bench_dir/ours (log: $log)" >&2
    [ -x "$bench_dir/ours/bin/python" ] || python3 -m venv "$bench_dir/ours" >> "$log" 2>&1
    "$bench_dir/ours/bin/pip" install -q "$repo" >> "$log" 2>&1
    python=$bench_dir/ours/bin/python
fi
scripts=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
[ -x "$scripts/seamless-run" ] || scripts=$(dirname "$(command -v seamless-run)")

# ---- peers
if ! "$python" -c 'import joblib' 2> /dev/null; then
    if [ ! -d "$bench_dir/joblib/joblib" ]; then
        echo "installing joblib into $bench_dir/joblib" >&2
        "$python" -m pip install -q --target "$bench_dir/joblib" joblib >> "$log" 2>&1 || echo "joblib: install failed (see $log)" >&2
    fi
    export PYTHONPATH=$bench_dir/joblib${PYTHONPATH:+:$PYTHONPATH}
fi
upstream_venv=${UPSTREAM_VENV:-$bench_dir/upstream}
upstream_note=
if [ "$n_up" = 0 ]; then
    upstream_note="upstream: skipped (N_UPSTREAM=0)"
elif [ ! -x "$upstream_venv/bin/seamless-queue" ]; then
    echo "installing upstream seamless-transformer 0.6.1 into $upstream_venv" >&2
    { python3 -m venv "$upstream_venv" && "$upstream_venv/bin/pip" install -q seamless-transformer==0.6.1 seamless-config; } >> "$log" 2>&1 \
        || upstream_note="upstream: install failed (see $log)"
fi

tmp=$(mktemp -d)
rows=$tmp/rows.tsv
: > "$rows"
# upstream starts servers (hashserver, database) under its HOME; stop the ones started for us
cleanup() {
    local pid
    for pid in $(pgrep -f -- "$tmp/" || true); do kill "$pid" 2> /dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp/home TMPDIR=$tmp/tmp
unset SEAMLESS_CACHE XDG_CACHE_HOME SEAMLESS_QUEUE_FILE PYTHONDONTWRITEBYTECODE
mkdir -p "$HOME" "$TMPDIR"

now() { echo "$EPOCHREALTIME"; }
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$rows"; }
fresh_dir() { rm -rf "$tmp/w"; mkdir -p "$tmp/w"; cd "$tmp/w"; }

# ---- 1. queue: N jobs, one seamless-run --qsubmit process each, drained by seamless-queue --workers 2
# prints "total_s submit_s missing" ; $1 = bin dir, $2 = number of jobs, $3 = salt, $4 = "each" (one
# seamless-run --qsubmit per job) or "batch" (one --qsubmit --batch -), $5... = seamless-queue options.
# Every job must leave a right X.CHECKSUM; "missing" counts the jobs whose X is missing or wrong
# although their sidecar is right (upstream loses downloads, see below); ours must have none.
queue_round() {
    local bin=$1 n=$2 salt=$3 mode=$4 t0 t1 t2 server i missing=0
    shift 4
    fresh_dir
    export SEAMLESS_QUEUE_FILE=$tmp/w/queue
    "$bin/seamless-queue" -q "$@" > /dev/null 2>&1 &
    server=$!
    t0=$(now)
    if [ "$mode" = batch ]; then
        for i in $(seq "$n"); do echo "echo $i$salt > o_$i.txt"; done | "$bin/seamless-run" --qsubmit --batch - > /dev/null
    else
        for i in $(seq "$n"); do "$bin/seamless-run" --qsubmit "echo $i$salt > o_$i.txt" > /dev/null; done
    fi
    t1=$(now)
    "$bin/seamless-queue-finish" > /dev/null
    wait "$server"
    t2=$(now)
    for i in $(seq "$n"); do
        [ "$(cat "o_$i.txt.CHECKSUM")" = "$(echo "$i$salt" | sha256sum | cut -d' ' -f1)" ] \
            || { echo "queue: o_$i.txt.CHECKSUM is wrong" >&2; return 1; }
        [ "$(cat "o_$i.txt" 2> /dev/null)" = "$i$salt" ] || missing=$((missing + 1))
    done
    unset SEAMLESS_QUEUE_FILE
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v m="$missing" 'BEGIN {printf "%.3f %.3f %d\n", c - a, b - a, m}'
}

# one round of ours: a missing output is a failure of the bench
our_round() {
    local total submit missing
    read -r total submit missing < <(queue_round "$@")
    [ "$missing" = 0 ] || { echo "queue: $missing outputs missing" >&2; return 1; }
    echo "$total $submit"
}

# the server alone: N jobs queued (one --qsubmit --batch) and the EOF written before it starts
drain_round() {
    local i t0 t1
    fresh_dir
    export SEAMLESS_QUEUE_FILE=$tmp/w/queue
    for i in $(seq "$n_queue"); do echo "echo ${i}d > o_$i.txt"; done | "$scripts/seamless-run" --qsubmit --batch - > /dev/null
    "$scripts/seamless-queue-finish" --no-wait
    t0=$(now)
    "$scripts/seamless-queue" -q --workers 2
    t1=$(now)
    for i in $(seq "$n_queue"); do
        [ "$(cat "o_$i.txt")" = "${i}d" ] || { echo "queue: o_$i.txt is wrong" >&2; return 1; }
    done
    unset SEAMLESS_QUEUE_FILE
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

xargs_round() {
    local t0 t1
    fresh_dir
    t0=$(now)
    seq "$n_queue" | xargs -P 2 -I{} bash -c 'echo {} > o_{}.txt'
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

echo "measuring: queue ($n_queue jobs)" >&2
read -r q_total q_submit < <(our_round "$scripts" "$n_queue" "" each --workers 2)
xargs_s=$(xargs_round)
row "$n_queue tiny jobs: --qsubmit x$n_queue + seamless-queue --workers 2" "$q_total" "xargs -P 2" "$xargs_s" s "<= 5 s"
up_total=
if [ -z "$upstream_note" ]; then
    echo "measuring: upstream queue ($n_up jobs)" >&2
    # upstream has no --workers, needs a SEAMLESS_CACHE and starts a hashserver and a database server.
    # Its queue runs jobs concurrently while each bash job chdirs the whole process into its
    # workspace (under a global lock), and it downloads a finished job's outputs to paths relative
    # to the process cwd: an output finished while another job runs lands in that job's workspace
    # and is deleted with it. Its sidecars are right, so the time is measured; the lost outputs
    # are counted in a note.
    if up=$(PATH=$upstream_venv/bin:$PATH SEAMLESS_CACHE=$tmp/upstream-cache timeout 600 bash -c "$(declare -f now fresh_dir queue_round); tmp=$tmp; queue_round $upstream_venv/bin $n_up u each" 2> "$tmp/upstream.err"); then
        read -r up_total _ up_missing <<< "$up"
        up_total=$(awk -v t="$up_total" -v a="$n_up" -v b="$n_queue" 'BEGIN {printf "%.3f", t * b / a}')
        [ "$up_missing" = 0 ] || upstream_note="upstream: $up_missing of its $n_up outputs were lost (right .CHECKSUM, no file): its queue writes a finished job's downloads relative to the process cwd, which a running bash job has changed to its own workspace"
    else
        upstream_note="upstream: its queue failed: $(tail -n 1 "$tmp/upstream.err")"
    fi
fi
if [ -n "$up_total" ]; then
    row "  same, upstream 0.6.1 ($n_up jobs, scaled to $n_queue)" "$q_total" "upstream 0.6.1" "$up_total" s "-"
fi
q_per_submit=$(awk -v s="$q_submit" -v n="$n_queue" 'BEGIN {printf "%.2f", s / n * 1000}')
row "  one seamless-run --qsubmit (of the above)" "$q_per_submit" "limit" 30 "ms" "<= 30 ms"
read -r b_total b_submit < <(our_round "$scripts" "$n_queue" b batch --workers 2)
row "  same, submitted with one --qsubmit --batch -" "$b_total" "xargs -P 2" "$xargs_s" s "<= 5 s"
per_submit=$(awk -v s="$b_submit" -v n="$n_queue" 'BEGIN {printf "%.2f", s / n * 1000}')
row "  one submit of the batch (of the above)" "$per_submit" "limit" 30 "ms" "<= 30 ms"
row "  the server alone, $n_queue jobs queued before it starts" "$(drain_round)" "xargs -P 2" "$xargs_s" s "-"

# ---- 2-5. in-process rows
cd "$tmp"
notes=
python_row() {  # a row that fails (a worker lost under heavy load, ...) is a note, not the end of the table
    echo "measuring: $*" >&2
    "$python" "$here/all_python.py" "$@" >> "$rows" 2> "$tmp/row.err" \
        || notes="$notes$1: failed: $(tail -n 1 "$tmp/row.err")"$'\n'
}
python_row delayed "$n_tasks"
python_row parallel "$n_tasks"
python_row transport

# ---- 6. seamless-run cache hit next to python3 -c pass (same interpreter), medians of N_HIT runs
median_ms() {
    "$python" - "$n_hit" "$@" << 'EOF'
import statistics, subprocess, sys, time
n, argv = int(sys.argv[1]), sys.argv[2:]
walls = []
for _ in range(n):
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    walls.append((time.perf_counter() - t0) * 1000)
print(f"{statistics.median(walls):.1f}")
EOF
}
echo "measuring: cache hit" >&2
fresh_dir
printf 'apples\npears\n' > a.txt
"$scripts/seamless-run" wc -l a.txt > /dev/null && "$scripts/seamless-run" wc -l a.txt > /dev/null
hit=$(median_ms "$scripts/seamless-run" wc -l a.txt)
pass=$(median_ms "$python" -c pass)
row "seamless-run trivial cache hit (wc -l a.txt)" "$hit" "python3 -c pass" "$pass" ms "<= 2x peer"
row "one --qsubmit (row 1) next to the interpreter's start" "$q_per_submit" "python3 -c pass" "$pass" ms "-"

# ---- the table
echo
echo "Performance table ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; ratio = ours / peer)"
awk -F '\t' '
BEGIN { printf "%-62s %10s  %-24s %10s  %7s  %-8s %s\n", "what", "ours", "peer", "peer fig.", "ratio", "unit", "target" }
{
    ratio = ($4 == "-" || $4 + 0 == 0) ? "-" : sprintf("%.2f", $2 / $4)
    printf "%-62s %10s  %-24s %10s  %7s  %-8s %s\n", $1, $2, $3, $4, ratio, $5, $6
}' "$rows"
[ -z "$upstream_note" ] || echo "$upstream_note"
printf '%s' "$notes"
