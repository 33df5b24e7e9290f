#!/usr/bin/env bash
# seamless-run cache-hit cost, next to `python3 -S -c pass` (target: hit <= 3x its wall time and
# <= 50 MiB peak RSS). Medians of N runs (N=${N:-20}) of wall time, and the maximum peak RSS,
# for a few commands that are all cache hits after one warm-up run. If upstream Seamless is
# installed in a venv named by $UPSTREAM_VENV (e.g. python3 -m venv up && up/bin/pip install
# seamless-transformer==0.6.1 seamless-config), the same commands are run with its
# seamless-run on a cache of its own, and our/upstream ratios are printed.
# Not part of the test run. Usage: bash bench/seamless_run.sh
set -euo pipefail
n=${N:-20}
upstream_venv=${UPSTREAM_VENV:-}
python=$(python3 -c 'import sys; print(sys.executable)')
ours=$(python3 -c 'import os, shutil, sysconfig; p = os.path.join(sysconfig.get_path("scripts"), "seamless-run"); print(p if os.path.exists(p) else shutil.which("seamless-run"))')
upstream=
if [ -n "$upstream_venv" ] && [ -x "$upstream_venv/bin/seamless-run" ]; then upstream=$upstream_venv/bin/seamless-run; fi

tmp=$(mktemp -d)
# upstream starts a hashserver and a database server per cache; stop the ones it started for us
stop_upstream_servers() {
    local status pid
    for status in "$tmp"/home/.remote-http-launcher/server/*.json; do
        [ -e "$status" ] || continue
        pid=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("pid", ""))' "$status")
        if [ -n "$pid" ]; then kill "$pid" 2> /dev/null || true; fi
    done
    for pid in $(pgrep -f -- "$tmp/" || true); do  # servers whose status file was replaced
        kill "$pid" 2> /dev/null || true
    done
    rm -rf "$tmp"
}
trap stop_upstream_servers EXIT
mkdir -p "$tmp/work/data" "$tmp/home"
printf 'apples\npears\noranges\nbananas\npineapples\nkiwis\ntomatoes' > "$tmp/work/data/a.txt"
printf '5\n12\n7\n4\n15\n8\n1\n80\n90' > "$tmp/work/data/b.txt"
seq 100000 > "$tmp/work/data/big.txt"
cd "$tmp/work"

# median wall ms and max peak RSS (KiB) of N runs of a command (stdout discarded)
measure() {
    "$python" - "$n" "$@" <<'EOF'
import os, statistics, subprocess, sys, time
n, argv = int(sys.argv[1]), sys.argv[2:]
walls, rss = [], 0
for _ in range(n):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    walls.append((time.perf_counter() - start) * 1000)
    rss = max(rss, usage.ru_maxrss)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {argv}")
print(f"{statistics.median(walls):.1f} {rss}")
EOF
}

commands=(
    "echo hello"
    "paste data/b.txt data/a.txt | awk 'NF == 2 && \$1 > 10{print \$2}' "
    "wc -l data/big.txt"
)

export HOME=$tmp/home
unset XDG_CACHE_HOME SEAMLESS_CACHE PYTHONDONTWRITEBYTECODE  # a hit reads .pyc files, as installed code does
upstream_path=$upstream_venv/bin:$PATH  # upstream needs its helper commands on PATH
read -r base base_rss < <(measure "$python" -S -c pass)
printf '%-58s %9s %9s %8s\n' "command (median of $n; cache hits)" "wall ms" "RSS MiB" "x base"
printf '%-58s %9s %9.1f %8s\n' "python3 -S -c pass" "$base" "$(awk -v r="$base_rss" 'BEGIN {print r / 1024}')" "1.00"
# what site.py (and the .pth files of this installation) cost every console script
read -r site site_rss < <(measure "$python" -c pass)
awk -v m="$site" -v b="$base" -v r="$site_rss" 'BEGIN {printf "%-58s %9.1f %9.1f %8.2f\n", "python3 -c pass (with site)", m, r / 1024, m / b}'
# our hit without site: the cost of seamless-run's own code
pkgroot=$(cd / && "$python" -c 'import os, seamless_transformer as s; print(os.path.dirname(os.path.dirname(s.__file__)))')
nosite=("$python" -S -c "import sys; sys.path.insert(0, '$pkgroot'); from seamless_transformer.cli.run import main; sys.argv[0] = 'seamless-run'; main()")
for cmd in "${commands[@]}"; do
    "$ours" "$cmd" > /dev/null && "$ours" "$cmd" > /dev/null  # the second run writes the .pyc files of the hit path
    read -r ours_ms rss < <(measure "$ours" "$cmd")
    line=$(awk -v m="$ours_ms" -v b="$base" -v r="$rss" 'BEGIN {printf "%9.1f %9.1f %8.2f", m, r / 1024, m / b}')
    printf '%-58s %s\n' "ours: ${cmd:0:52}" "$line"
    read -r ms rss < <(measure "${nosite[@]}" "$cmd")
    line=$(awk -v m="$ms" -v b="$base" -v r="$rss" 'BEGIN {printf "%9.1f %9.1f %8.2f", m, r / 1024, m / b}')
    printf '%-58s %s\n' "  ours without site (python3 -S)" "$line"
    if [ -n "$upstream" ]; then
        PATH=$upstream_path SEAMLESS_CACHE=$tmp/upstream-cache "$upstream" "$cmd" > /dev/null 2>&1
        read -r ums urss < <(PATH=$upstream_path SEAMLESS_CACHE=$tmp/upstream-cache measure "$upstream" "$cmd")
        line=$(awk -v m="$ums" -v b="$base" -v r="$urss" 'BEGIN {printf "%9.1f %9.1f %8.2f", m, r / 1024, m / b}')
        printf '%-58s %s\n' "upstream: ${cmd:0:48}" "$line"
        awk -v a="$ours_ms" -v b="$ums" 'BEGIN {printf "%-58s %9.2f\n", "  ours / upstream (wall)", a / b}'
    fi
done
