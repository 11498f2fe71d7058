#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer, the nightly toolchain), outside CI:
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
# runs each target for SECONDS (default 600), two at a time (one per core), with a
# 256 MiB memory limit and a 1 s limit per input. Crashes land in
# fuzz/artifacts/<target>/: copy each into fuzz/regressions/<target>/ once fixed, where
# `cargo test` (stable) replays it. Seeds: fuzz/seeds/<target>/ (copied into the
# working corpus fuzz/corpus/, which is not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    # Every target (fuzz/fuzz_targets/*.rs), the four that face the internet first.
    targets=(header_analyze from_address dkim_canon milter_session)
    for f in fuzz/fuzz_targets/*.rs; do
        t="$(basename "$f" .rs)"
        case " ${targets[*]} " in *" $t "*) ;; *) targets+=("$t") ;; esac
    done
fi
export PATH="$PWD/target/tools/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --root target/tools
fi
(cd fuzz && cargo +nightly fuzz build -O)
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    cp -n fuzz/seeds/"$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
done
# ASan keeps freed memory in a quarantine (256 MiB by default), which the memory limit
# would count: a smaller one lets the limit measure the target.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=32}"
run() {
    local t="$1"
    mkdir -p "fuzz/corpus/$t"
    (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" -O -- \
        -max_total_time="$seconds" -rss_limit_mb=256 -timeout=1 -print_final_stats=1) \
        > "target/fuzz-$t.log" 2>&1 || echo "$t: FOUND SOMETHING, see target/fuzz-$t.log"
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|cov:" "target/fuzz-$t.log" | tail -n 3
}
i=0
for t in "${targets[@]}"; do
    run "$t" &
    i=$((i + 1))
    if [ $((i % 2)) -eq 0 ]; then
        wait
    fi
done
wait
