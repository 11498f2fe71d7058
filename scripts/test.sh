#!/usr/bin/env bash
# Runs every test of monban: format check, clippy with warnings as errors, and the whole
# workspace test suite (unit tests, the external conformance suites, the CLI tests and
# the real-DNS tests). Installs what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# The conformance suites live beside the checkout (../shared/suites).
if [ ! -d ../shared/suites ]; then
    echo "error: ../shared/suites is missing; clone monban beside shared/" >&2
    exit 1
fi

# The Rust toolchain with rustfmt and clippy.
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not installed (https://rustup.rs)" >&2
    exit 1
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        say "installing $component"
        rustup component add "$component"
    fi
done

# The DKIM interop test (crates/monban-cli/tests/dkim_interop.rs) runs dkimpy, a second
# DKIM implementation, through tests/interop/dkimpy_tool.py.
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: python3 is not installed; the DKIM interop test needs it (with dkimpy and pynacl)" >&2
    exit 1
fi
# The ARC interop test (crates/monban-cli/tests/arc_interop.rs) uses dkimpy's ARC, which
# needs authres.
if ! python3 -c 'import dkim, nacl, authres' 2>/dev/null; then
    say "installing dkimpy, pynacl and authres (PyPI)"
    # A Debian-managed python3 refuses plain pip installs; fall back to the user site.
    python3 -m pip install --quiet dkimpy pynacl authres \
        || python3 -m pip install --quiet --user --break-system-packages dkimpy pynacl authres
fi

# The Postfix end-to-end test (crates/monban-cli/tests/postfix_e2e.rs) runs its own
# Postfix instance (as root, on 127.0.0.1 ports of its own) and sends mail with swaks.
missing=()
if ! command -v postfix >/dev/null 2>&1 && [ ! -x /usr/sbin/postfix ]; then
    missing+=(postfix)
fi
if ! command -v swaks >/dev/null 2>&1; then
    missing+=(swaks)
fi
# The store tests (crates/monban-store/tests/store_suite.rs) start their own PostgreSQL
# server (initdb + pg_ctl in a temporary directory, on a loopback port).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
# The report tests validate every generated report against the RFC 9990 XSD (xmllint)
# and python3-venv makes the local folder parsedmarc goes into (below).
if ! command -v xmllint >/dev/null 2>&1; then
    missing+=(libxml2-utils)
fi
if ! python3 -m venv --help >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
# The IMAP import tests (crates/monban-cli/tests/report_imap.rs) start their own Dovecot
# on loopback ports, with a certificate the openssl tool makes.
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    missing+=(dovecot-imapd)
fi
# The DomainKeys interop test (crates/monban-cli/tests/domainkeys_interop.rs) signs and
# verifies with Perl's Mail::DKIM.
if ! perl -MMail::DKIM::Verifier -MNet::DNS -e 1 >/dev/null 2>&1; then
    missing+=(libmail-dkim-perl)
fi
# The package test installs monban's Debian package, whose postinst uses adduser.
if ! command -v adduser >/dev/null 2>&1; then
    missing+=(adduser)
fi
if ! command -v openssl >/dev/null 2>&1; then
    missing+=(openssl)
fi
# The browser tests (crates/monban-cli/tests/web_browser.rs) drive Debian's Chromium
# with playwright-core from Node.js; a Japanese font lets the screenshots show Japanese.
if [ ! -x /usr/bin/chromium ]; then
    missing+=(chromium)
fi
if ! fc-list 2>/dev/null | grep -qi -e 'IPAGothic' -e 'Noto Sans CJK'; then
    missing+=(fonts-ipafont-gothic)
fi
if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: ${missing[*]} not installed; the Postfix, store, report and IMAP tests need them" >&2
        exit 1
    fi
    say "installing ${missing[*]} (apt)"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    # Debian asks how to set up the system's own Postfix, which the test never uses:
    # "Local only" keeps it on the loopback interface.
    if command -v debconf-set-selections >/dev/null 2>&1; then
        echo "postfix postfix/main_mailer_type select Local only" \
            | $sudo debconf-set-selections
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# parsedmarc (PyPI), a second reader of aggregate reports, in a folder of its own:
# target/pytools (tests/interop/parsedmarc_tool.py runs with its python).
export MONBAN_PYTOOLS="${MONBAN_PYTOOLS:-$PWD/target/pytools}"
if ! "$MONBAN_PYTOOLS/bin/python" -c 'import parsedmarc' 2>/dev/null; then
    say "installing parsedmarc (PyPI) into $MONBAN_PYTOOLS"
    python3 -m venv "$MONBAN_PYTOOLS"
    "$MONBAN_PYTOOLS/bin/python" -m pip install --quiet parsedmarc
fi
# schemathesis (PyPI) fuzzes the web API against its OpenAPI document
# (crates/monban-cli/tests/web_fuzz.rs).
if [ ! -x "$MONBAN_PYTOOLS/bin/schemathesis" ]; then
    say "installing schemathesis (PyPI) into $MONBAN_PYTOOLS"
    "$MONBAN_PYTOOLS/bin/python" -m pip install --quiet schemathesis
fi

# playwright-core and axe-core (npm), at the versions tests/browser/package-lock.json
# pins, into tests/browser/node_modules. No browser download: Debian's Chromium is used.
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
    say "installing playwright-core and axe-core (npm) into tests/browser"
    (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --quiet)
fi

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A one-shot build gains nothing from incremental state (it was 2.8 GB of a fresh
# clone's 9 GB target); set CARGO_INCREMENTAL=1 to keep it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "dependencies: licences, sources, duplicates (cargo deny), advisories, yanked releases"
bash scripts/deps-check.sh

say "cargo test"
cargo test --workspace --locked

# The Debian package (issue 17): built from the debug binary the tests used, installed
# with dpkg on this machine, then the installed binary and its configuration checked
# as the milter's user.
say "Debian package: build, dpkg -i, monban --version, --check-config"
deb="$(bash scripts/package.sh --dev | tail -n 1)"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
$sudo dpkg -i "$deb"
/usr/bin/monban --version
$sudo su -s /bin/sh monban -c "/usr/bin/monban milter --check-config --config /etc/monban/monban.toml"
test -f /usr/share/man/man1/monban-verify.1.gz
test -f /usr/share/bash-completion/completions/monban

# The performance regression guard (issue 16): monban against mail-auth in process, on
# the same messages and policies, in one run of a few seconds (after a release build of
# bench/compare, its own workspace): fails when monban is the slower of the two at DKIM
# verify, DKIM sign or SPF check_host(). Ratios, not times, so a slower machine passes.
say "performance guard: QUICK=1 benches/compare.sh (monban against mail-auth)"
QUICK=1 bash benches/compare.sh

say "all tests passed"
