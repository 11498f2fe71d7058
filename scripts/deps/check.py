#!/usr/bin/env python3
"""Dependency advisories and yanked releases, without the network to GitHub.

    python3 scripts/deps/check.py [--no-yanked] [LOCKFILE...]
    python3 scripts/deps/check.py --refresh-from ADVISORY_DB_CLONE

Checks every crates.io package of the lock files (default: Cargo.lock and
fuzz/Cargo.lock) against scripts/deps/advisories.tsv, the facts of the RustSec advisories
(https://github.com/rustsec/advisory-db) that concern them, and asks the crates.io
index whether a locked release was yanked. A vulnerability or unsound advisory that
applies to a locked version fails the check (exit 1); an unmaintained or other
informational one is printed as a warning. `--refresh-from` rewrites the table from a
clone of the advisory database, for the crates in the lock files.

CI reaches the package registries but not GitHub, hence the committed table; its age is
printed, and a table older than 90 days is a warning.
"""

import datetime
import json
import os
import re
import sys
import time
import tomllib
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TABLE = os.path.join(ROOT, "scripts", "deps", "advisories.tsv")
COLUMNS = ["id", "crate", "date", "kind", "withdrawn", "patched", "unaffected"]
FAILING_KINDS = {"vulnerability", "unsound"}


# --- semver (the requirement forms RustSec advisories use) ----------------------------

def parse_version(text):
    """(major, minor, patch, pre) with pre a tuple ((0, n) numeric | (1, s) text); a
    release sorts after its pre-releases (pre = None sorts last)."""
    text = text.strip().split("+", 1)[0]
    core, _, pre = text.partition("-")
    parts = core.split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a version: {text!r}")
    nums = [int(p) for p in parts] + [0] * (3 - len(parts))
    pre_key = None
    if pre:
        pre_key = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return (nums[0], nums[1], nums[2], pre_key), len(parts)


def cmp_key(v):
    major, minor, patch, pre = v
    # A release (pre None) is greater than any of its pre-releases.
    return (major, minor, patch, (1,) if pre is None else (0, pre))


def comparator_matches(op, want, nparts, have):
    h = cmp_key(have)
    w = cmp_key(want)
    if op == ">=":
        return h >= w
    if op == ">":
        return h > w
    if op == "<=":
        return h <= w
    if op == "<":
        return h < w
    if op == "=":
        if nparts == 3:
            return h == w
        # "=1.2" means any 1.2.x.
        return have[:nparts] == want[:nparts] and have[3] is None
    if op == "~":
        upper = (want[0], want[1] + 1, 0, None) if nparts >= 2 else (want[0] + 1, 0, 0, None)
        return w <= h < cmp_key(upper)
    if op == "^":
        major, minor, patch, _ = want
        if major > 0 or nparts == 1:
            upper = (major + 1, 0, 0, None)
        elif minor > 0 or nparts == 2:
            upper = (0, minor + 1, 0, None)
        else:
            upper = (0, 0, patch + 1, None)
        # A pre-release only matches a requirement that names a pre-release of the
        # same major.minor.patch (cargo's rule).
        if have[3] is not None and not (want[3] is not None and have[:3] == want[:3]):
            return False
        return w <= h < cmp_key(upper)
    raise ValueError(f"unknown operator {op!r}")


COMPARATOR = re.compile(r"^\s*(>=|<=|>|<|=|\^|~)?\s*([0-9][0-9A-Za-z.+-]*)\s*$")


def requirement_matches(req, have):
    """A requirement (comparators joined by commas, all must hold)."""
    for part in req.split(","):
        part = part.strip()
        if not part or part == "*":
            continue
        m = COMPARATOR.match(part)
        if not m:
            raise ValueError(f"cannot read the requirement {req!r}")
        op = m.group(1) or "^"
        want, nparts = parse_version(m.group(2))
        if not comparator_matches(op, want, nparts, have):
            return False
    return True


def affected(row, version):
    have, _ = parse_version(version)
    for column in ("patched", "unaffected"):
        for req in row[column]:
            if requirement_matches(req, have):
                return False
    return True


# --- inputs ---------------------------------------------------------------------------

def read_table(path=TABLE):
    rows, read_on = [], None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("#"):
                m = re.search(r"on (\d{4}-\d{2}-\d{2})", line)
                if m and read_on is None:
                    read_on = m.group(1)
                continue
            if not line.strip():
                continue
            cells = line.split("\t")
            if len(cells) != len(COLUMNS):
                sys.exit(f"{path}:{n}: {len(cells)} columns, {len(COLUMNS)} expected")
            row = dict(zip(COLUMNS, cells))
            for column in ("patched", "unaffected"):
                v = row[column]
                row[column] = [] if v == "-" else [r.strip() for r in v.split("|")]
            rows.append(row)
    return rows, read_on


def locked_packages(lockfiles):
    """{(name, version)} of crates.io packages."""
    found = set()
    for path in lockfiles:
        with open(path, "rb") as f:
            lock = tomllib.load(f)
        for p in lock.get("package", []):
            source = p.get("source", "")
            if source.startswith("registry+") or source.startswith("sparse+"):
                found.add((p["name"], p["version"]))
    return found


# --- the index (yanked releases) ------------------------------------------------------

def index_path(name):
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def yanked_versions(name):
    url = f"https://index.crates.io/{index_path(name)}"
    last = None
    for attempt in range(4):
        try:
            with urllib.request.urlopen(url, timeout=20) as r:
                body = r.read().decode("utf-8")
            return {json.loads(l)["vers"] for l in body.splitlines()
                    if l.strip() and json.loads(l).get("yanked")}
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            last = e
            time.sleep(1 + 2 * attempt)
    raise RuntimeError(f"the crates.io index did not answer for {name} ({url}): {last}")


# --- refresh from a clone of the advisory database ------------------------------------

def front_matter(text):
    m = re.search(r"```toml\s*\n(.*?)\n```", text, re.S)
    return tomllib.loads(m.group(1)) if m else tomllib.loads(text)


def refresh(db, lockfiles):
    names = {n for n, _ in locked_packages(lockfiles)}
    rows = []
    for name in sorted(names):
        folder = os.path.join(db, "crates", name)
        if not os.path.isdir(folder):
            continue
        for f in sorted(os.listdir(folder)):
            if not f.startswith("RUSTSEC-") or f.startswith("RUSTSEC-0000-"):
                continue
            with open(os.path.join(folder, f), encoding="utf-8") as fh:
                meta = front_matter(fh.read())
            adv, versions = meta.get("advisory", {}), meta.get("versions", {})
            rows.append([
                adv["id"], adv["package"], str(adv.get("date", "-")),
                adv.get("informational") or "vulnerability",
                str(adv.get("withdrawn") or "-"),
                " | ".join(versions.get("patched", [])) or "-",
                " | ".join(versions.get("unaffected", [])) or "-",
            ])
    today = datetime.date.today().isoformat()
    with open(TABLE, "w", encoding="utf-8") as out:
        out.write(f"# RustSec advisory facts for the crates in the lock files, read from a clone of "
                  f"rustsec/advisory-db on {today} by scripts/deps/check.py --refresh-from.\n")
        out.write("# kind: 'vulnerability' without 'informational', else its value; withdrawn: "
                  "date or '-'; patched/unaffected: requirements joined with ' | ', or '-'.\n")
        out.write("# columns: " + "\t".join(COLUMNS) + "\n")
        for r in sorted(rows, key=lambda r: (r[1], r[0])):
            out.write("\t".join(r) + "\n")
    print(f"{TABLE}: {len(rows)} advisories for {len(names)} crates")


# --- main -----------------------------------------------------------------------------

def self_test():
    """The matcher on the requirement spellings RustSec uses, and a lock file with a
    vulnerable release, which must fail: a check that cannot fail checks nothing."""
    v = lambda t: parse_version(t)[0]
    assert requirement_matches(">= 0.14.10", v("0.14.10"))
    assert not requirement_matches(">= 0.14.10", v("0.14.9"))
    assert requirement_matches("< 0.10.0, >= 0.9.18", v("0.9.20"))
    assert not requirement_matches("< 0.10.0, >= 0.9.18", v("0.10.1"))
    assert requirement_matches("0.13.10", v("0.13.12")), "bare means caret"
    assert not requirement_matches("0.13.10", v("0.14.0"))
    assert requirement_matches("^ 0.24.3", v("0.24.9"))
    assert requirement_matches(">=0.3.20", v("0.3.20"))
    assert not requirement_matches(">= 1.0.0", v("1.0.0-rc.1")), "a pre-release is older"
    assert requirement_matches("~1.2", v("1.2.7")) and not requirement_matches("~1.2", v("1.3.0"))
    assert requirement_matches("=0.9", v("0.9.4")) and not requirement_matches("=0.9.3", v("0.9.4"))
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".lock", delete=False) as f:
        f.write('version = 4\n\n[[package]]\nname = "hyper"\nversion = "0.14.9"\n'
                'source = "registry+https://github.com/rust-lang/crates.io-index"\n')
    import contextlib
    import io
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(["--no-yanked", f.name])
        assert code == 1 and "RUSTSEC-2021-0078" in out.getvalue(), out.getvalue()
    finally:
        os.unlink(f.name)
    print("deps: self-test passed (a vulnerable hyper 0.14.9 fails the check)")


def main(argv):
    args = list(argv)
    if args == ["--self-test"]:
        self_test()
        return 0
    if args[:1] == ["--refresh-from"]:
        if len(args) < 2:
            sys.exit("--refresh-from needs the folder of an advisory-db clone")
        refresh(args[1], args[2:] or default_lockfiles())
        return 0
    check_yanked = True
    if "--no-yanked" in args:
        args.remove("--no-yanked")
        check_yanked = False
    lockfiles = args or default_lockfiles()
    rows, read_on = read_table()
    packages = locked_packages(lockfiles)
    by_crate = {}
    for r in rows:
        by_crate.setdefault(r["crate"], []).append(r)
    failures, warnings = [], []
    for name, version in sorted(packages):
        for r in by_crate.get(name, []):
            if r["withdrawn"] != "-" or not affected(r, version):
                continue
            line = (f"{name} {version}: {r['id']} ({r['kind']}), "
                    f"https://rustsec.org/advisories/{r['id']}")
            (failures if r["kind"] in FAILING_KINDS else warnings).append(line)
    if check_yanked:
        for name in sorted({n for n, _ in packages}):
            yanked = yanked_versions(name)
            for n, v in sorted(packages):
                if n == name and v in yanked:
                    failures.append(f"{name} {v}: yanked from crates.io")
    age = ""
    if read_on:
        days = (datetime.date.today() - datetime.date.fromisoformat(read_on)).days
        age = f", table read on {read_on} ({days} days ago)"
        if days > 90:
            warnings.append(f"{TABLE} is {days} days old: refresh it (--refresh-from)")
    for w in warnings:
        print(f"warning: {w}")
    for f in failures:
        print(f"error: {f}")
    print(f"deps: {len(packages)} locked crates.io packages, {len(rows)} advisories known"
          f"{age}, yanked releases {'checked' if check_yanked else 'not checked'}: "
          f"{len(failures)} failing, {len(warnings)} warnings")
    return 1 if failures else 0


def default_lockfiles():
    return [p for p in (os.path.join(ROOT, "Cargo.lock"), os.path.join(ROOT, "fuzz", "Cargo.lock"))
            if os.path.exists(p)]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
