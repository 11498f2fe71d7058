#!/usr/bin/env bash
# `monban verify` as users run it (the CLI over files), against the crypto + hash bound
# and the in-process verifiers (monban's and mail-auth's), on the same messages, in one
# run, as ratios (issue 16):
#
#   bash benches/verify-cli.sh            # 5 rounds, each message 5 times per CLI run
#   ROUNDS=3 PASSES=2 bash benches/verify-cli.sh
#
# The corpus is the DKIM benchmark's (999 messages, 74.5 MB, written once to CORPUS by
# `write_dkim_corpus`): every message signed once, RSA-2048 and Ed25519. Per round and
# key type:
#   - in process, pinned to CPU (taskset): the bound, monban's DKIM verifier alone,
#     monban's whole pipeline, mail-auth (bench/compare/examples/verify_files.rs, one
#     pass each, interleaved);
#   - `monban verify --zone keys.zone --json --jobs 1` over every file PASSES times,
#     pinned to CPU: messages per second of process CPU time (user + system: reading
#     the files, verifying, writing the JSON), which is what a pinned core can do;
#   - the same with --jobs set to the CPUs of the machine, not pinned: wall-clock
#     speed-up over --jobs 1 (ideally the number of CPUs).
# Ratios are the medians of the per-round ratios, so the drift of a shared machine
# cancels; the figures are medians too.
#
# Environment: ROUNDS (5), PASSES (5), CPU (1), CORPUS (target/dkim-corpus), KINDS
# ("rsa ed25519"), RESULTS=FILE (also write the table there, Markdown).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-5}
PASSES=${PASSES:-5}
CPU=${CPU:-1}
CORPUS=${CORPUS:-$ROOT/target/dkim-corpus}
KINDS=${KINDS:-rsa ed25519}
NCPU=$(nproc)
say() { printf '%s\n' "$*" >&2; }

for c in taskset python3; do
    command -v "$c" >/dev/null || { say "verify-cli: $c not found"; exit 1; }
done
say "building (release): monban, the corpus writer, bench/compare's verify_files"
cargo build -q --release -p monban-cli
cargo build -q --release -p monban --example write_dkim_corpus
(cd bench/compare && cargo build -q --release --ignore-rust-version --example verify_files)
MONBAN=$ROOT/target/release/monban
INPROC=$ROOT/bench/compare/target/release/examples/verify_files
if [ ! -f "$CORPUS/keys.zone" ]; then
    say "writing the corpus to $CORPUS"
    "$ROOT/target/release/examples/write_dkim_corpus" "$CORPUS"
fi

# CPU seconds (user + system) of one command, its output discarded; fails with it.
cpu_seconds() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
if r.returncode != 0:
    sys.stderr.write(r.stderr.decode(errors="replace"))
    sys.exit(r.returncode)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{u.ru_utime + u.ru_stime:.4f}")
PY
}
wall_seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    python3 -c "print(f'{$t1 - $t0:.4f}')"
}

TSV=$(mktemp)
trap 'rm -f "$TSV"' EXIT
for kind in $KINDS; do
    mapfile -t files < <(ls "$CORPUS/$kind"/0*.eml)
    n=${#files[@]}
    many=()
    for _ in $(seq "$PASSES"); do many+=("${files[@]}"); done
    total=$((n * PASSES))
    cli=("$MONBAN" verify --zone "$CORPUS/keys.zone" --json)
    say "== $kind: $n messages; the CLI runs over $total"
    for r in $(seq "$ROUNDS"); do
        while IFS=$'\t' read -r name rate; do
            printf '%s\t%s\t%s\t%s\n' "$kind" "$r" "$name" "$rate" >>"$TSV"
        done < <(taskset -c "$CPU" "$INPROC" 1 "$CORPUS/keys.zone" "${files[@]}")
        s=$(cpu_seconds taskset -c "$CPU" "${cli[@]}" --jobs 1 "${many[@]}")
        printf '%s\t%s\tmonban-cli\t%s\n' "$kind" "$r" "$(python3 -c "print(f'{$total / $s:.0f}')")" >>"$TSV"
        w1=$(wall_seconds "${cli[@]}" --jobs 1 "${many[@]}")
        wn=$(wall_seconds "${cli[@]}" --jobs "$NCPU" "${many[@]}")
        printf '%s\t%s\tjobs-speedup\t%s\n' "$kind" "$r" "$(python3 -c "print(f'{$w1 / $wn:.3f}')")" >>"$TSV"
        say "   round $r done"
    done
done

python3 - "$TSV" "$NCPU" "${RESULTS:-}" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(lambda: collections.defaultdict(dict))
for line in open(sys.argv[1]):
    kind, r, name, v = line.rstrip("\n").split("\t")
    rows[kind][int(r)][name] = float(v)
ncpu = sys.argv[2]
out = []
out.append("| key | contender | messages/s | of the bound | × mail-auth |")
out.append("|---|---|---:|---:|---:|")
for kind, rounds in rows.items():
    names = ["bound", "monban-dkim", "monban-pipeline", "monban-cli", "mail-auth"]
    for name in names:
        rate = statistics.median(rounds[r][name] for r in rounds)
        of_bound = statistics.median(rounds[r][name] / rounds[r]["bound"] for r in rounds)
        vs = statistics.median(rounds[r][name] / rounds[r]["mail-auth"] for r in rounds)
        out.append(f"| {kind} | {name} | {rate:,.0f} | {of_bound:.1%} | {vs:.2f}× |")
    sp = statistics.median(rounds[r]["jobs-speedup"] for r in rounds)
    out.append(f"| {kind} | monban-cli --jobs {ncpu} (wall, speed-up over --jobs 1) | | | {sp:.2f}× |")
text = "\n".join(out)
print(text)
if sys.argv[3]:
    open(sys.argv[3], "w").write(text + "\n")
PY
