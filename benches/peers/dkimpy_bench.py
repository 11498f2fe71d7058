#!/usr/bin/env python3
"""dkimpy_bench.py -- DKIM verify/sign throughput of dkimpy over .eml files, for
comparison with monban on the same corpus (see README.md beside this file).

Needs: dkimpy (``import dkim``); PyNaCl for ed25519-sha256.

    python3 dkimpy_bench.py verify ZONE PASSES FILE...
    python3 dkimpy_bench.py sign KEYPEM SELECTOR DOMAIN PASSES FILE...

No DNS is used: the TXT records of the zone file are read into a dict, and
``dkim.verify(message, dnsfunc=...)`` is given a function that answers from it.

All files are read into memory first; only the library work is timed, as process
CPU time (time.process_time(): user + system), over PASSES passes. One line goes to
stdout:

    peer=dkimpy op=verify alg=rsa messages=N ok=N cpu_s=... msgs_per_cpu_s=...

verify: ok means ``dkim.verify`` returned True. Exit status 1 if any message is not
ok (the first failure, with dkimpy's reason, goes to stderr).

sign: ``dkim.DKIM(message).sign(...)`` -- what ``dkim.sign`` does, kept as the
object so that its parsed header fields give the h= list: relaxed/relaxed, the
algorithm from the key's type, and the header list monban signs by default (every
present instance of SIGNED, in SIGNED's order, then OVERSIGNED once more). dkimpy
also writes i= and q=, and always t= from the system clock. dkimpy takes an RSA key
as PEM (PKCS#1 or PKCS#8) and parses it on every call; an Ed25519 key must be the
base64 of the 32-byte seed, so a PKCS#8 PEM is converted once, before timing.
After the timed passes, every signature of the first pass is put on its message and
verified by dkimpy with the public key derived from KEYPEM (untimed); the line
carries selfcheck=OK/N and the exit status is 1 unless all pass.
BENCH_SHOW_SIG=1 prints the first signature to stderr.

If PyNaCl is missing, Ed25519 runs print unsupported=ed25519-sha256 and exit 3.
"""

import base64
import logging
import os
import re
import sys
import time

import dkim
import dkim.crypto

try:
    import nacl.signing  # noqa: F401  (dkimpy's Ed25519 backend)

    HAVE_NACL = True
except ImportError:
    HAVE_NACL = False

# monban's default h= fields (crates/monban/src/dkim/sign.rs DEFAULT_SIGNED) ...
SIGNED = [
    b"from", b"sender", b"reply-to", b"subject", b"date", b"message-id", b"to", b"cc",
    b"mime-version", b"content-type", b"content-transfer-encoding", b"content-id",
    b"content-description", b"content-disposition", b"in-reply-to", b"references",
    b"list-id", b"list-help", b"list-unsubscribe", b"list-unsubscribe-post",
    b"list-subscribe", b"list-post", b"list-owner", b"list-archive",
]
# ... and the ones listed once more than they occur (DEFAULT_OVERSIGNED).
OVERSIGNED = [
    b"from", b"to", b"cc", b"subject", b"date", b"reply-to", b"content-type",
    b"content-transfer-encoding", b"content-disposition", b"mime-version",
]
SIGNED_INDEX = {name: i for i, name in enumerate(SIGNED)}

PEER = "peer=dkimpy"


def usage():
    sys.stderr.write(
        "usage: dkimpy_bench.py verify ZONE PASSES FILE...\n"
        "       dkimpy_bench.py sign KEYPEM SELECTOR DOMAIN PASSES FILE...\n"
    )
    sys.exit(2)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def passes_arg(s):
    if not s.isdigit() or int(s) < 1:
        sys.exit(f"dkimpy_bench: PASSES must be a positive integer, not {s}")
    return int(s)


def line(**fields):
    print(" ".join([PEER] + [f"{k}={v}" for k, v in fields.items()]), flush=True)


# ---- zone file -------------------------------------------------------------------

_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|([^\s"();]+)|(\()|(\))|(;[^\n]*)|(\n)')


def _unescape(s):
    # \DDD (decimal octet) and \X (the character X) inside a character-string
    return re.sub(
        rb"\\(\d{3}|.)",
        lambda m: bytes([int(m.group(1))]) if m.group(1).isdigit() else m.group(1),
        s,
    )


def load_zone(path):
    """{name (lower case, no trailing dot): TXT value (strings joined)} of a BIND zone
    file: parentheses continue a record over lines, ';' starts a comment, $ORIGIN is
    honoured for relative names, other directives are skipped."""
    data = read(path)
    records = {}
    origin = b""
    owner = b""
    depth = 0
    toks = []  # (text, quoted) of the current logical line
    line_start = True
    leading_blank = False

    def finish():
        nonlocal origin, owner
        if not toks:
            return
        t = 0
        first, quoted = toks[0]
        if first.startswith(b"$") and not quoted:
            if first.upper() == b"$ORIGIN" and len(toks) > 1:
                origin = toks[1][0]
            return
        if not leading_blank:
            if first == b"@":
                owner = origin
            elif first.endswith(b".") or not origin:
                owner = first
            else:
                owner = first + b"." + origin
            t = 1
        while t < len(toks) and not toks[t][1] and toks[t][0].upper() != b"TXT" and (
            toks[t][0][:1].isdigit() or toks[t][0].upper() in (b"IN", b"CH", b"HS")
        ):
            t += 1
        if t < len(toks) and toks[t][0].upper() == b"TXT":
            name = owner.lower().rstrip(b".").decode("ascii")
            records[name] = b"".join(text for text, _ in toks[t + 1 :])

    pos = 0
    while pos < len(data):
        if line_start:
            leading_blank = data[pos : pos + 1] in (b" ", b"\t")
            line_start = False
        m = _TOKEN.search(data, pos)
        if m is None:
            break
        pos = m.end()
        if m.group(1) is not None:
            toks.append((_unescape(m.group(1)), True))
        elif m.group(2) is not None:
            toks.append((m.group(2), False))
        elif m.group(3):
            depth += 1
        elif m.group(4):
            depth -= 1
        elif m.group(6) and depth == 0:
            finish()
            toks = []
            line_start = True
    finish()
    if not records:
        sys.exit(f"dkimpy_bench: {path}: no TXT records")
    return records


def make_dnsfunc(records):
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        return records.get(name.lower().rstrip("."))

    return dnsfunc


# ---- verify ----------------------------------------------------------------------


def msg_alg(msg):
    head = msg.split(b"\r\n\r\n", 1)[0]
    if b"ed25519-sha256" in head:
        return "ed25519"
    if b"rsa-sha" in head:
        return "rsa"
    return "none"


def why_not(msg, dnsfunc):
    """dkimpy's own account of a failure (untimed, for stderr)."""
    log = logging.getLogger("dkimpy_bench")
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep()
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        d = dkim.DKIM(msg, logger=log)
        d.verify(dnsfunc=dnsfunc)
    except Exception as e:  # noqa: BLE001 - only to describe the failure
        records.append(f"{type(e).__name__}: {e}")
    finally:
        log.removeHandler(handler)
    interesting = [r for r in records if not r.startswith("sig:")]
    return "; ".join(interesting[-3:]) or "verify returned False"


def run_verify(zone, passes, files):
    msgs = [read(f) for f in files]
    algs = {msg_alg(m) for m in msgs}
    alg = algs.pop() if len(algs) == 1 else ("mixed" if algs else "none")
    if alg in ("ed25519", "mixed") and not HAVE_NACL:
        line(op="verify", alg=alg, messages=0, ok=0, cpu_s="0.000", msgs_per_cpu_s=0,
             unsupported="ed25519-sha256")
        sys.stderr.write("dkimpy_bench: PyNaCl is not installed: no ed25519-sha256\n")
        return 3
    dnsfunc = make_dnsfunc(load_zone(zone))
    verify = dkim.verify
    ok = 0
    bad = None
    t0 = time.process_time()
    for _ in range(passes):
        for i, m in enumerate(msgs):
            if verify(m, dnsfunc=dnsfunc):
                ok += 1
            elif bad is None:
                bad = i
    cpu = time.process_time() - t0
    total = len(msgs) * passes
    line(op="verify", alg=alg, messages=total, ok=ok, cpu_s=f"{cpu:.3f}",
         msgs_per_cpu_s=f"{total / cpu if cpu > 0 else 0:.0f}")
    if ok < total:
        sys.stderr.write(
            f"dkimpy_bench: first failure: {files[bad]}: {why_not(msgs[bad], dnsfunc)}\n"
        )
        return 1
    return 0


# ---- sign ------------------------------------------------------------------------

_ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


def pem_der(pem):
    body = re.search(rb"-----BEGIN ([A-Z ]+)-----(.*?)-----END", pem, re.S)
    if body is None:
        sys.exit("dkimpy_bench: the key is not PEM")
    return body.group(1), base64.b64decode(b"".join(body.group(2).split()))


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der(tag, content):
    return bytes([tag]) + _der_len(len(content)) + content


def _der_int(v):
    return _der(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


def inspect_key(pem):
    """(alg, key as dkimpy takes it, public key record) for a private key PEM."""
    label, der = pem_der(pem)
    if label == b"PRIVATE KEY" and der.startswith(_ED25519_PKCS8_PREFIX) and len(der) == 48:
        seed = der[16:]
        if not HAVE_NACL:
            return "ed25519", None, None
        public = nacl.signing.SigningKey(seed).verify_key.encode()
        record = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public)
        return "ed25519", base64.b64encode(seed), record
    # RSA: dkimpy reads PKCS#1 and PKCS#8 PEM itself.
    pk = dkim.crypto.parse_pem_private_key(pem)
    rsa_public = _der(0x30, _der_int(pk["modulus"]) + _der_int(pk["publicExponent"]))
    algid = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    spki = _der(0x30, algid + _der(0x03, b"\x00" + rsa_public))
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(spki)
    return "rsa", pem, record


def header_list(fields):
    """monban's default h= for parsed header fields: present instances of SIGNED in
    SIGNED's order, then OVERSIGNED."""
    counts = [0] * len(SIGNED)
    for name, _ in fields:
        i = SIGNED_INDEX.get(name.lower())
        if i is not None:
            counts[i] += 1
    out = []
    for name, count in zip(SIGNED, counts):
        out.extend([name] * count)
    out.extend(OVERSIGNED)
    return out


def run_sign(keypem, selector, domain, passes, files):
    msgs = [read(f) for f in files]
    alg, key, record = inspect_key(read(keypem))
    if key is None:
        line(op="sign", alg=alg, messages=0, ok=0, cpu_s="0.000", msgs_per_cpu_s=0,
             unsupported="ed25519-sha256")
        sys.stderr.write("dkimpy_bench: PyNaCl is not installed: no ed25519-sha256\n")
        return 3
    algorithm = b"ed25519-sha256" if alg == "ed25519" else b"rsa-sha256"
    sel = selector.encode()
    dom = domain.encode()
    canon = (b"relaxed", b"relaxed")
    DKIM = dkim.DKIM
    sigs = [None] * len(msgs)
    ok = 0
    bad = None
    why = ""
    t0 = time.process_time()
    for p in range(passes):
        for i, m in enumerate(msgs):
            try:
                d = DKIM(m, signature_algorithm=algorithm)
                sig = d.sign(sel, dom, key, canonicalize=canon,
                             include_headers=header_list(d.headers))
            except Exception as e:  # noqa: BLE001 - counted and reported
                if bad is None:
                    bad, why = i, f"{type(e).__name__}: {e}"
                continue
            ok += 1
            if p == 0:
                sigs[i] = sig
    cpu = time.process_time() - t0
    if os.environ.get("BENCH_SHOW_SIG") and sigs and sigs[0] is not None:
        sys.stderr.write(sigs[0].decode("ascii", "replace"))

    # Self-check, untimed.
    records = {f"{selector}._domainkey.{domain}".lower(): record}
    dnsfunc = make_dnsfunc(records)
    good = 0
    for i, sig in enumerate(sigs):
        if sig is None:
            continue
        signed = sig + msgs[i]
        if dkim.verify(signed, dnsfunc=dnsfunc):
            good += 1
        elif bad is None:
            bad, why = i, "self-check: " + why_not(signed, dnsfunc)
    total = len(msgs) * passes
    line(op="sign", alg=alg, messages=total, ok=ok, selfcheck=f"{good}/{len(msgs)}",
         cpu_s=f"{cpu:.3f}", msgs_per_cpu_s=f"{total / cpu if cpu > 0 else 0:.0f}")
    if ok < total or good < len(msgs):
        sys.stderr.write(f"dkimpy_bench: first failure: {files[bad]}: {why}\n")
        return 1
    return 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "verify":
        return run_verify(argv[1], passes_arg(argv[2]), argv[3:])
    if len(argv) >= 6 and argv[0] == "sign":
        return run_sign(argv[1], argv[2], argv[3], passes_arg(argv[4]), argv[5:])
    usage()
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
