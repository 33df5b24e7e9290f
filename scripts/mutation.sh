#!/usr/bin/env bash
# A bounded mutation run over the core modules, by hand (never in CI).
#
#   bash scripts/mutation.sh                 every module below
#   bash scripts/mutation.sh store/db.py ...  only these (paths under seamless_transformer/)
#
# Tool: cosmic-ray (pinned below). It writes each mutant into the source file on disk, so the
# code run by subprocesses (the worker pool's spawned workers, the seamless-* commands) is the
# mutated code too, and each module gets its own test command: only the tests that guard it.
# Everything happens in a copy of the work tree with a venv of its own (MUTATION_DIR, default
# ${TMPDIR:-/tmp}/seamless-mutation); the checkout is never touched. The copy and venv are kept
# between runs (the sessions too: a second run resumes; MUTATION_FRESH=1 starts again;
# MUTATION_RETRY=1 runs the survivors of the kept sample again, against the tests as they are now).
#
# Bounds: per module at most MUTATION_SAMPLE mutants (default 40, drawn with a fixed seed; 0 =
# all), MUTATION_TIMEOUT seconds per mutant (default 120; a timeout counts as killed) and
# MUTATION_MINUTES of wall time per module (default 20; mutants not reached are reported as
# pending). With the defaults, 17 modules: at most 5 h 40 min; in practice (2 busy cores) the store,
# bashrun and checksum modules take 3-8 minutes each and pool/manager.py about 20.
# Operators left out (they make mostly equivalent or unrealistic faults): number replacement,
# variable replacement/insertion, comparison swaps other than negation and boundary shifts,
# arithmetic swaps other than to + and -.
#
# Output: one line per module, "killed K / survived S (P %), pending N", then the survivors'
# diffs in $MUTATION_DIR/<module>.survivors.txt.
#
# Survivors judged equivalent (no behaviour can tell them apart), by module:
#   identity   _lambda_end `depth == 0 or not in_parameters` (an unfinished lambda never parses);
#              _line_start_tokens at_line_start=True (def/async occur only at logical line starts);
#              _complete_lambdas `or string == "lambda"` (a text starting at another name never parses)
#   argtyping  ArgTyper/type_word defaults allow_missing_extension_files/lenient=True (the only caller
#              passes both); the "differs" message `>=` (on equal mtimes neither is newer)
#   pinnames   PinNamer root_slash=True default (the only caller passes it)
#   files      O_WRONLY + O_CREAT (disjoint bits: + is |); _holds_flat_buffers OSError -> True (the first
#              write makes the marker before the layout matters)
#   statcache  _connect `except BaseException` narrowed, `for key in []` / `k[0] == pid` (which dict keeps
#              an idle inherited connection), _reset `except Exception` narrowed (closing does not raise)
#   db         `_conn_readonly = True` in __init__ (_connect sets it before any use); _guard not keeping
#              the inherited connection after fork (the parent's shared lock keeps SQLite from touching
#              the WAL when the child closes it)
#   paths      _hash_many `len(batches) <= 2`, _batches `len(current) < _BATCH_FILES` (same checksums,
#              other threads); sidecar_too_long `except ValueError` narrowed (Linux knows PC_NAME_MAX)
#   engine     Job(scratch=True) default (only _claim builds a Job that runs, and it passes scratch)
#   running    cancel_running `<= deadline`; _start_time caching other pids (the cache is only read for
#              this process's own pid)
#   pool       _dispatch_pending's early stop `w.load <= self.throttle` (it only ends the scan of the
#              queue sooner: _choose finds no worker with room for a task either way); _io_loop `break`
#              after the wake-up bytes (the other ready pipes are still ready at the next wait());
#              close `break` at a worker without a process (workers are launched in order, so one
#              without a process is never followed by one with)
#   queue      serve `>= next_touch` (differ only when the clock reads exactly the deadline)
#   outputs    _start_time `except IndexError` dropped (/proc/<pid>/stat always has 52 fields after the
#              last ')', so the split never comes up short)
#   materialize progress `nbytes >= 10**6` (a bar on a TTY for exactly 1 MB)
# Survivors out of reach of a deterministic test: files mkdir/makedirs races between two writers;
# paths _walk naming an unreadable subdirectory and running _is_alive `except PermissionError`
# (neither happens as root, which CI is); queue _execute's `if job.targets` (only a follower answered
# from the cache between scheduling and lookup, or a backend that returns no copy, reaches it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${MUTATION_DIR:-${TMPDIR:-/tmp}/seamless-mutation}
SAMPLE=${MUTATION_SAMPLE:-40}
TIMEOUT=${MUTATION_TIMEOUT:-120}
MINUTES=${MUTATION_MINUTES:-20}
COSMIC_RAY=cosmic-ray==8.7.0

# module (under seamless_transformer/) -> the tests that guard it
declare -A TESTS=(
    [checksum.py]="tests/test_checksum.py"
    [celltypes.py]="tests/test_celltypes.py tests/execution/test_workspace.py::test_deep_celltype_requires_a_result_directory"
    [identity.py]="tests/test_identity.py tests/api/test_module_pins.py"
    [bashrun/argtyping.py]="tests/bashrun/test_argtyping.py tests/bashrun/test_prepare.py tests/bashrun/test_later_commands.py"
    [bashrun/pinnames.py]="tests/bashrun/test_argtyping.py tests/bashrun/test_prepare.py"
    [bashrun/targets.py]="tests/bashrun/test_targets.py"
    [store/files.py]="tests/store/test_files.py"
    [store/db.py]="tests/store/test_db.py tests/store/test_corrupt_db.py::test_a_database_that_is_not_one_raises_corrupt_database_error_naming_the_recovery tests/store/test_corrupt_db.py::test_a_malformed_database_raises_corrupt_database_error"
    [store/statcache.py]="tests/store/test_statcache.py tests/store/test_paths.py"
    [store/storage.py]="tests/store/test_storage.py"
    [store/paths.py]="tests/store/test_paths.py"
    [store/materialize.py]="tests/store/test_materialize.py tests/store/test_outputs.py"
    [store/outputs.py]="tests/store/test_outputs.py tests/store/test_future_owner.py tests/cli/test_run_outputs.py tests/cli/test_run_streaming.py tests/engine/test_corrupt_results.py"
    [engine/__init__.py]="tests/engine/test_engine.py tests/api/test_transformation.py tests/pool/test_pool_cancel.py::test_cancel_kills_the_worker_and_a_new_one_serves"
    [engine/running.py]="tests/engine/test_running.py"
    [pool/manager.py]="tests/pool"
    [queue/server.py]="tests/queue/test_server.py"
)
ORDER=(checksum.py celltypes.py identity.py bashrun/argtyping.py bashrun/pinnames.py bashrun/targets.py
       store/files.py store/db.py store/statcache.py store/storage.py store/paths.py store/materialize.py
       store/outputs.py engine/__init__.py engine/running.py pool/manager.py queue/server.py)

prepare_copy() {
    mkdir -p "$DIR/src"
    (cd "$ROOT" && git ls-files -co --exclude-standard -z | tar --null -cf - -T -) | tar -xf - -C "$DIR/src"
    if [ ! -x "$DIR/venv/bin/cosmic-ray" ]; then
        python3 -m venv "$DIR/venv"
        "$DIR/venv/bin/pip" install -q "$COSMIC_RAY" -e "$DIR/src[test]"
    fi
}

write_config() {  # module -> $DIR/<name>.toml
    local module=$1 name=$2
    cat > "$DIR/$name.toml" <<EOF
[cosmic-ray]
module-path = "seamless_transformer/$module"
timeout = $TIMEOUT.0
excluded-modules = []
test-command = "python -m pytest -x -q -p no:cacheprovider ${TESTS[$module]}"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.operators-filter]
exclude-operators = [
    "core/NumberReplacer",
    "core/VariableReplacer",
    "core/VariableInserter",
    "core/ReplaceComparisonOperator_(Eq_(Gt|GtE|Lt|LtE|Is|IsNot)|NotEq_(Gt|GtE|Lt|LtE|Is|IsNot)|Is_(Eq|NotEq)|IsNot_(Eq|NotEq)|Lt_(Gt|Eq|NotEq|Is|IsNot)|LtE_(GtE|Eq|NotEq|Is|IsNot|Lt)|Gt_(Lt|Eq|NotEq|Is|IsNot)|GtE_(LtE|Eq|NotEq|Is|IsNot|Gt))$",
    "core/ReplaceBinaryOperator_.*_(Mul|Div|FloorDiv|Mod|Pow|LShift|RShift|BitOr|BitAnd|BitXor|MatMult)$",
]
EOF
}

sample() {  # session -> mark all but SAMPLE of the remaining mutants as skipped
    "$DIR/venv/bin/python" - "$1" "$SAMPLE" <<'EOF'
import random, sqlite3, sys
db, keep = sys.argv[1], int(sys.argv[2])
conn = sqlite3.connect(db)
todo = sorted(r[0] for r in conn.execute(
    "SELECT job_id FROM work_items WHERE job_id NOT IN (SELECT job_id FROM work_results)"))
if keep and len(todo) > keep:
    drop = set(todo) - set(random.Random(17).sample(todo, keep))
    conn.executemany("INSERT INTO work_results (worker_outcome, output, test_outcome, diff, job_id)"
                     " VALUES ('SKIPPED', 'Not in the sample', NULL, NULL, ?)", [(j,) for j in sorted(drop)])
    conn.commit()
EOF
}

summary() {  # module session -> one line; survivors' diffs to a file
    "$DIR/venv/bin/python" - "$1" "$2" "$DIR/$3.survivors.txt" <<'EOF'
import sqlite3, sys
module, db, out = sys.argv[1:]
conn = sqlite3.connect(db)
rows = conn.execute("SELECT r.test_outcome, r.diff FROM work_items w LEFT JOIN work_results r USING (job_id)"
                    " WHERE r.worker_outcome IS NULL OR r.worker_outcome != 'SKIPPED'").fetchall()
killed = sum(1 for outcome, _ in rows if outcome in ("KILLED", "INCOMPETENT"))
survivors = [diff for outcome, diff in rows if outcome == "SURVIVED"]
pending = sum(1 for outcome, _ in rows if outcome is None)
done = killed + len(survivors)
rate = f"{100 * killed / done:.0f} %" if done else "-"
print(f"{module:24} killed {killed:3} / survived {len(survivors):3} ({rate}), pending {pending}")
with open(out, "w") as f:
    f.write("\n".join(survivors))
EOF
}

run_module() {
    local module=$1 name=${1//\//_}
    name=${name%.py}
    local session="$DIR/$name.sqlite"
    [ -n "${MUTATION_FRESH:-}" ] && rm -f "$session"
    write_config "$module" "$name"
    if [ ! -f "$session" ]; then
        (cd "$DIR/src" && "$DIR/venv/bin/cosmic-ray" init "$DIR/$name.toml" "$session" >/dev/null)
        "$DIR/venv/bin/cr-filter-operators" "$session" "$DIR/$name.toml" >/dev/null
        sample "$session"
    elif [ -n "${MUTATION_RETRY:-}" ]; then
        "$DIR/venv/bin/python" -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(
            "DELETE FROM work_results WHERE test_outcome = '"'SURVIVED'"'"); c.commit()' "$session"
    fi
    (cd "$DIR/src" && timeout "$((MINUTES * 60))" nice -n 10 "$DIR/venv/bin/cosmic-ray" exec "$DIR/$name.toml" "$session" \
        >/dev/null 2>&1) || true
    # a wall-time stop can leave a mutant in place: put the file back from the checkout
    cp "$ROOT/seamless_transformer/$module" "$DIR/src/seamless_transformer/$module"
    summary "$module" "$session" "$name"
}

main() {
    export PATH="$DIR/venv/bin:$PATH"
    prepare_copy
    local modules=("$@")
    [ ${#modules[@]} -eq 0 ] && modules=("${ORDER[@]}")
    for module in "${modules[@]}"; do
        if [ -z "${TESTS[$module]:-}" ]; then
            echo "mutation.sh: unknown module '$module' (one of: ${ORDER[*]})" >&2
            exit 2
        fi
        run_module "$module"
    done
}

main "$@"
