#!/usr/bin/env bash
# Dependency hygiene (run by scripts/test.sh, the README's test command):
#   bash scripts/deps-check.sh
# - cargo-deny (installed into target/tools when missing) checks the workspace and the
#   fuzz crate: licences (no GPL-only dependency: monban is MIT OR Apache-2.0),
#   sources (crates.io only), and reports crates present in several versions;
# - scripts/deps/check.py checks the locked versions against the RustSec advisories
#   (the facts of those that concern our dependencies, kept in scripts/deps/advisories.tsv
#   because CI cannot reach the advisory database's git host) and asks the crates.io
#   index whether a locked release was yanked.
# Where GitHub is reachable, `cargo deny check advisories` does the advisory part
# against the live database, and `python3 scripts/deps/check.py --refresh-from CLONE`
# rewrites the table.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/target/tools/bin:$PATH"
if ! command -v cargo-deny >/dev/null 2>&1; then
    echo "installing cargo-deny (crates.io) into target/tools"
    cargo install cargo-deny --locked --quiet --root target/tools
fi
for manifest in Cargo.toml fuzz/Cargo.toml; do
    echo "cargo deny: licences, bans, sources of $manifest"
    cargo deny --all-features --manifest-path "$manifest" --log-level warn \
        check --hide-inclusion-graph licenses bans sources
done
python3 scripts/deps/check.py --self-test
python3 scripts/deps/check.py
