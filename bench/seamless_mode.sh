#!/usr/bin/env bash
# Seamless mode costs: sourcing seamless-mode-bind.sh in interactive bash and zsh (target <= 20 ms),
# and one seamless-mode-rewrite call (the work done on every Enter) next to `python3 -S -c pass`
# (target <= 2x), and the cost of Enter in a real shell. Medians of N runs (N=${N:-20}). Not part of
# the test run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bind_script=$here/bin/seamless-mode-bind.sh
n=${N:-20}
rewrite=$(python3 -c 'import shutil, sysconfig, os; p = os.path.join(sysconfig.get_path("scripts"), "seamless-mode-rewrite"); print(p if os.path.exists(p) else shutil.which("seamless-mode-rewrite"))')
python=$(python3 -c 'import sys; print(sys.executable)')

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Milliseconds spent in `source` inside a fresh interactive shell with a terminal.
source_ms() {
    local shell=$1 code
    case $shell in
        bash) code="s=\$EPOCHREALTIME; source '$bind_script'; e=\$EPOCHREALTIME; echo \"\$s \$e\"" ;;
        zsh) code="zmodload zsh/datetime; s=\$EPOCHREALTIME; source '$bind_script'; e=\$EPOCHREALTIME; echo \"\$s \$e\"" ;;
    esac
    printf '%s\n' "$code" > "$tmp/src.$shell"
    local flags="--norc --noprofile"
    [ "$shell" = zsh ] && flags="-f"
    for _ in $(seq "$n"); do
        script -qec "$shell $flags -i -c 'source $tmp/src.$shell'" /dev/null < /dev/null | tr -d '\r' \
            | awk '{printf "%.2f\n", ($2 - $1) * 1000}'
    done | median
}

# Milliseconds per run of a command, wall clock.
run_ms() {
    for _ in $(seq "$n"); do
        local s e
        s=$EPOCHREALTIME
        "$@" > /dev/null || true
        e=$EPOCHREALTIME
        awk -v s="$s" -v e="$e" 'BEGIN {printf "%.2f\n", (e - s) * 1000}'
    done | median
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-58s %8s\n' "measure (median of $n)" "ms"
printf '%-58s %8s\n' "source seamless-mode-bind.sh, bash $BASH_VERSION" "$(source_ms bash)"
printf '%-58s %8s\n' "source seamless-mode-bind.sh, zsh $(zsh -fc 'echo $ZSH_VERSION')" "$(source_ms zsh)"
mapfile -t fast < <("$rewrite" --fast-argv)
base=$(run_ms "$python" -S -c pass)
once=$(run_ms "$rewrite" -- 'sort a.txt')
per_enter=$(run_ms "${fast[@]}" -- 'sort a.txt')
printf '%-58s %8s\n' "python3 -S -c pass" "$base"
printf '%-58s %8s\n' "seamless-mode-rewrite (console script, asked once per shell)" "$once"
printf '%-58s %8s\n' "rewrite on Enter (--fast-argv) -- 'sort a.txt'" "$per_enter"
# shellcheck disable=SC2016  # the line given to the rewriter is literally 'cat $F'
printf '%-58s %8s\n' "rewrite on Enter (--fast-argv) --list-vars -- 'cat \$F'" "$(run_ms "${fast[@]}" --list-vars -- 'cat $F')"
awk -v a="$per_enter" -v b="$base" 'BEGIN {printf "%-58s %8.2f\n", "rewrite on Enter / python3 -S -c pass", a / b}'

# Cost of Enter in a real interactive shell (pty, pexpect): the median wall time from Enter to
# the next prompt. Ratios are against baselines measured in the same run:
#   skipped line (`cd .`) with the mode on  - the same line with the mode off   (target <= 2 ms)
#   rewritten cache hit (`wc -l f.txt`)     / `seamless-run -c 'wc -l f.txt'` typed (target <= 1.5x)
PYTHONPATH="" "$python" - "$bind_script" "$n" <<'PY'
import os, statistics, sys, tempfile, time
import pexpect
bind, n = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp()
open(os.path.join(work, "f.txt"), "w").write("b\na\n")
env = dict(os.environ, TERM="xterm", INPUTRC="/dev/null", SEAMLESS_CACHE=os.path.join(work, "cache"),
           PATH=os.path.dirname(bind) + os.pathsep + os.environ["PATH"])
ARGV = {"bash": ["bash", "--norc", "--noprofile", "-i"], "zsh": ["zsh", "-f", "-i"]}
for shell in ("bash", "zsh"):
    s = pexpect.spawn(ARGV[shell][0], ARGV[shell][1:], env=env, cwd=work, encoding="utf-8", timeout=60)
    last = [0]
    def run(line):  # wait for a prompt numbered above every one seen (a redraw is not one)
        s.send(line + "\r")
        while True:
            s.expect(r"P(\d+)>")
            if int(s.match.group(1)) > last[0]:
                last[0] = int(s.match.group(1))
                return
    s.sendline("c=0; PS1='P$((++c))>'; PROMPT='P$((++c))>'; setopt promptsubst 2>/dev/null; source %s" % bind)
    run("")
    def ms(line):
        run(line)
        times = []
        for _ in range(n):
            t = time.perf_counter(); run(line); times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)
    off = ms("cd .")
    plain_hit = ms("seamless-run -c 'wc -l f.txt'")
    run("seamless-mode-on 2>/dev/null")
    on = ms("cd .")
    hit = ms("wc -l f.txt")
    print(f"{shell + ': skipped line, mode off / on (ms)':58s} {off:8.2f} {on:8.2f}  {on - off:+.2f} ms")
    print(f"{shell + ': cache hit, seamless-run typed / rewritten (ms)':58s} {plain_hit:8.2f} {hit:8.2f}  {hit / plain_hit:.2f}x")
    s.close(force=True)
PY
