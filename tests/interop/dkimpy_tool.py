#!/usr/bin/env python3
"""Signs and verifies DKIM with dkimpy, the second implementation monban is tested against.

    dkimpy_tool.py sign --selector S --domain D --key PEMFILE [--canon relaxed/simple] < msg
    dkimpy_tool.py sign --selector S --domain D --ed25519 SEEDorPEM [--canon ...] < msg
    dkimpy_tool.py verify --dns JSONFILE < msg

    dkimpy_tool.py sign ... --out DIR FILE...
    dkimpy_tool.py verify --dns JSONFILE FILE...

sign writes the message with dkimpy's DKIM-Signature prepended, folded with the line
ending the message uses (CRLF unless its first line ends in a bare LF).

--key takes a PEM private key, RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8, as
`monban keygen` writes it); the algorithm follows from the key. --ed25519 takes an
Ed25519 key instead, either the base64 32-byte seed that dkimpy itself uses or a PKCS#8
PEM file.

verify checks every DKIM-Signature of the message, serving TXT lookups from the JSON map
{"sel._domainkey.dom": "v=DKIM1; ..."}, and prints a JSON list with one boolean per
signature (top first). A signature that dkimpy rejects with an exception counts as false;
the reasons go to standard error.

With FILE arguments (one Python start for many messages, as the interop test does), sign
writes each signed message to DIR/<file name>, and verify prints one JSON object a line,
{"file": FILE, "valid": [true, ...], "errors": [null or reason, ...]}, in the order given.

ARC (RFC 8617), dkimpy's implementation:

    dkimpy_tool.py arc-verify --dns JSONFILE < msg
    dkimpy_tool.py arc-seal --selector S --domain D --key PEMFILE --srv-id ID --dns JSONFILE
                            [--append-body TEXT] < msg

arc-verify prints {"cv": "pass"|"fail"|"none", "reason": "..."}. arc-seal validates the
chain with dkimpy first (its cv), records that as "Authentication-Results: ID; arc=<cv>"
on top of the message (dkimpy seals what that field says), and prints the message with
dkimpy's new ARC set above it (RSA only: dkimpy seals with rsa-sha256).

Needs `pip install dkimpy pynacl authres`.
"""

import argparse
import base64
import json
import os
import re
import sys

try:
    import dkim
except ImportError:
    sys.exit("dkimpy_tool.py: the dkim module is missing: python3 -m pip install dkimpy pynacl")

ED25519_OID = bytes.fromhex("06032b6570")  # 1.3.101.112
RSA_OID = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1


def der_element(data, pos):
    """Returns (tag, content start, content end) of the DER element at pos."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated DER element")
    return tag, pos, pos + length


def pem_der(pem):
    """The DER bytes of the first PEM block."""
    m = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", pem, re.DOTALL)
    if m is None:
        raise ValueError("no PEM block found")
    return m.group(1).decode("ascii"), base64.b64decode(b"".join(m.group(2).split()))


def ed25519_seed_from_pkcs8(der):
    """The 32-byte seed of a PKCS#8 (RFC 8410) Ed25519 private key.

    OneAsymmetricKey ::= SEQUENCE { version INTEGER, algorithm AlgorithmIdentifier,
    privateKey OCTET STRING (containing CurvePrivateKey ::= OCTET STRING), ... }
    """
    tag, start, end = der_element(der, 0)
    if tag != 0x30:
        raise ValueError("PKCS#8: not a SEQUENCE")
    tag, _, pos = der_element(der, start)  # version
    if tag != 0x02:
        raise ValueError("PKCS#8: no version")
    tag, alg_start, alg_end = der_element(der, pos)  # AlgorithmIdentifier
    if tag != 0x30 or der[alg_start:alg_end] != ED25519_OID:
        raise ValueError("PKCS#8: not an Ed25519 key")
    tag, outer_start, outer_end = der_element(der, alg_end)  # privateKey
    if tag != 0x04:
        raise ValueError("PKCS#8: no privateKey OCTET STRING")
    tag, seed_start, seed_end = der_element(der, outer_start)  # CurvePrivateKey
    if tag != 0x04 or seed_end - seed_start != 32 or seed_end != outer_end:
        raise ValueError("PKCS#8: the Ed25519 private key is not a 32-byte OCTET STRING")
    return der[seed_start:seed_end]


def load_key(args):
    """(signature algorithm, key in the form dkimpy's sign wants)."""
    if args.ed25519 is not None:
        value = args.ed25519
        if re.fullmatch(r"[A-Za-z0-9+/]{43}=", value):
            return b"ed25519-sha256", value.encode("ascii")
        with open(value, "rb") as f:
            label, der = pem_der(f.read())
        return b"ed25519-sha256", base64.b64encode(ed25519_seed_from_pkcs8(der))
    with open(args.key, "rb") as f:
        pem = f.read()
    label, der = pem_der(pem)
    if label == "PRIVATE KEY" and ED25519_OID in der[:16]:
        return b"ed25519-sha256", base64.b64encode(ed25519_seed_from_pkcs8(der))
    if label in ("RSA PRIVATE KEY", "PRIVATE KEY"):
        # dkimpy finds the base64 between "--\n" and "\n--": give it LF line endings.
        return b"rsa-sha256", pem.replace(b"\r\n", b"\n")
    raise ValueError("%s: unsupported key (%s)" % (args.key, label))


def sign_message(args, algorithm, key, message):
    first = message.find(b"\n")
    linesep = b"\n" if first >= 0 and (first == 0 or message[first - 1:first] != b"\r") else b"\r\n"
    canon = tuple(part.encode("ascii") for part in args.canon.split("/"))
    if len(canon) == 1:
        canon = (canon[0], b"simple")
    d = dkim.DKIM(message, signature_algorithm=algorithm, linesep=linesep)
    header = d.sign(args.selector.encode("ascii"), args.domain.encode("ascii"), key, canonicalize=canon)
    return header + message


def sign(args):
    algorithm, key = load_key(args)
    if not args.files:
        sys.stdout.buffer.write(sign_message(args, algorithm, key, sys.stdin.buffer.read()))
        return
    if args.out is None:
        raise ValueError("sign: FILE arguments need --out DIR")
    for path in args.files:
        with open(path, "rb") as f:
            signed = sign_message(args, algorithm, key, f.read())
        with open(os.path.join(args.out, os.path.basename(path)), "wb") as f:
            f.write(signed)


def dns_from(path):
    """A dnsfunc serving TXT records from the JSON map."""
    with open(path, encoding="utf-8") as f:
        records = {k.rstrip(".").lower(): v for k, v in json.load(f).items()}

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        txt = records.get(name.rstrip(".").lower())
        return None if txt is None else txt.encode("utf-8")

    return dnsfunc


def arc_verify(args):
    dnsfunc = dns_from(args.dns)
    cv, _, reason = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)
    # dkimpy gives None for a chain a seal ended with cv=fail: a failed chain.
    cv = b"fail" if cv is None else cv
    print(json.dumps({"cv": cv.decode("ascii").lower(), "reason": reason}))


def arc_seal(args):
    dnsfunc = dns_from(args.dns)
    message = sys.stdin.buffer.read()
    first = message.find(b"\n")
    linesep = b"\n" if first >= 0 and (first == 0 or message[first - 1:first] != b"\r") else b"\r\n"
    cv, _, reason = dkim.arc_verify(message, dnsfunc=dnsfunc)
    if cv is None:  # dkimpy: a seal said cv=fail, the chain has ended
        cv = b"fail"
    if reason:
        print("arc-seal: chain: %s" % reason, file=sys.stderr)
    if args.append_body:
        # A list's footer, added after validating and before sealing.
        message += args.append_body.encode("utf-8").replace(b"\n", linesep)
    srv_id = args.srv_id.encode("ascii")
    stamped = b"Authentication-Results: " + srv_id + b"; arc=" + cv.lower() + linesep + message
    with open(args.key, "rb") as f:
        pem = f.read().replace(b"\r\n", b"\n")
    new_set = dkim.arc_sign(stamped, args.selector.encode("ascii"), args.domain.encode("ascii"),
                            pem, srv_id, linesep=linesep)
    if not new_set:
        raise ValueError("dkimpy added no ARC set")
    sys.stdout.buffer.write(b"".join(new_set) + stamped)


def verify(args):
    dnsfunc = dns_from(args.dns)

    def check(message):
        """(one boolean per signature, one reason or None per signature)"""
        count = sum(1 for name, _ in dkim.DKIM(message).headers if name.lower() == b"dkim-signature")
        valid, errors = [], []
        for idx in range(count):
            try:
                ok = bool(dkim.DKIM(message).verify(idx=idx, dnsfunc=dnsfunc))
                error = None if ok else "the signature does not verify"
            except dkim.DKIMException as e:
                ok, error = False, "%s: %s" % (type(e).__name__, e)
            valid.append(ok)
            errors.append(error)
        return valid, errors

    if not args.files:
        valid, errors = check(sys.stdin.buffer.read())
        for idx, error in enumerate(errors):
            if error is not None:
                print("signature %d: %s" % (idx, error), file=sys.stderr)
        print(json.dumps(valid))
        return
    for path in args.files:
        with open(path, "rb") as f:
            valid, errors = check(f.read())
        print(json.dumps({"file": path, "valid": valid, "errors": errors}))


def main():
    parser = argparse.ArgumentParser(description="DKIM with dkimpy, for interop tests.")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sign", help="sign the message on stdin")
    s.add_argument("--selector", required=True)
    s.add_argument("--domain", required=True)
    keys = s.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key", help="PEM private key (RSA, or Ed25519 PKCS#8)")
    keys.add_argument("--ed25519", metavar="SEEDorPEM", help="Ed25519 key: base64 seed or PKCS#8 PEM file")
    s.add_argument("--canon", default="relaxed/simple", help="header/body canonicalization")
    s.add_argument("--out", metavar="DIR", help="with FILE arguments: where the signed messages go")
    s.add_argument("files", nargs="*", metavar="FILE", help="messages to sign (default: stdin)")
    v = sub.add_parser("verify", help="verify every DKIM-Signature of the message on stdin")
    v.add_argument("--dns", required=True, metavar="JSONFILE", help='{"sel._domainkey.dom": "v=DKIM1; ..."}')
    v.add_argument("files", nargs="*", metavar="FILE", help="messages to verify (default: stdin)")
    av = sub.add_parser("arc-verify", help="validate the ARC chain of the message on stdin")
    av.add_argument("--dns", required=True, metavar="JSONFILE")
    a = sub.add_parser("arc-seal", help="add an ARC set to the message on stdin")
    a.add_argument("--selector", required=True)
    a.add_argument("--domain", required=True)
    a.add_argument("--key", required=True, help="PEM RSA private key")
    a.add_argument("--srv-id", required=True, help="the authserv-id of the sealer")
    a.add_argument("--dns", required=True, metavar="JSONFILE")
    a.add_argument("--append-body", metavar="TEXT", help="append TEXT (\\n line ends) to the body after validating, before sealing, as a list does")
    args = parser.parse_args()
    try:
        if args.command == "sign":
            sign(args)
        elif args.command == "arc-verify":
            arc_verify(args)
        elif args.command == "arc-seal":
            arc_seal(args)
        else:
            verify(args)
    except (ValueError, OSError, dkim.DKIMException) as e:
        sys.exit("dkimpy_tool.py: %s" % e)


if __name__ == "__main__":
    main()
