#!/usr/bin/env bash
# Builds the Debian package of monban with cargo-deb (installed into target/tools when
# missing): the binary, systemd units, /etc/monban/monban.toml (a conffile), manual
# pages and shell completions generated from the binary itself.
#
#   bash scripts/package.sh            # release build (what to ship)
#   bash scripts/package.sh --dev      # the debug build the tests made (CI: quick)
#
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [ "${1:-}" = "--dev" ]; then
    profile=dev
fi
if [ ! -x target/tools/bin/cargo-deb ]; then
    echo "==> installing cargo-deb into target/tools" >&2
    cargo install cargo-deb --locked --root target/tools >&2
fi
if [ "$profile" = release ]; then
    cargo build --release --locked -p monban-cli >&2
    bin=target/release/monban
else
    # The debug binary the tests just built (building the package alone would unify
    # features differently and rebuild the workspace).
    bin=target/debug/monban
    if [ ! -x "$bin" ]; then
        cargo build --locked -p monban-cli >&2
    fi
fi
rm -rf target/package
mkdir -p target/package/man target/package/completions
"$bin" man --out target/package/man >&2
"$bin" completions bash > target/package/completions/monban.bash
"$bin" completions zsh > target/package/completions/_monban
"$bin" completions fish > target/package/completions/monban.fish
gzip -9n target/package/man/*.1
target/tools/bin/cargo-deb -p monban-cli --no-build --profile "$profile" \
    --output target/package/ >&2
ls target/package/*.deb | tail -n 1
