#!/usr/bin/env python3
"""A milter that judges nothing, for benches/milter-load.sh: the floor of Postfix's side.

It speaks the milter protocol (version 6) as monban's milter does with Postfix: it asks
for the same actions and negotiates away the same steps and replies (DATA and unknown
commands not sent; no reply to CONNECT, HELO, each header field and each body chunk),
answers MAIL, RCPT and end-of-headers with "continue", and at the end of each message
inserts one Authentication-Results field on top, as monban does, and accepts. What Postfix
spends with it over Postfix alone is what any milter doing that costs Postfix: the
part of monban's "added CPU" that monban cannot remove.

    null-milter.py PORT        (listens on 127.0.0.1:PORT until killed)
    null-milter.py /PATH       (listens on a UNIX socket at PATH until killed)
    null-milter.py WHERE FILE  (the field inserted is a DKIM-Signature whose value is in
                               FILE, as a signing milter inserts one: the floor of a
                               signing run)
"""

import os
import socket
import socketserver
import struct
import sys

# Actions (SMFIF_*) and protocol steps (SMFIP_*) as in monban-milter/src/protocol.rs.
ADD_HEADERS, CHANGE_HEADERS, QUARANTINE = 0x01, 0x10, 0x20
NO_UNKNOWN, NO_DATA = 0x100, 0x200
NR_CONNECT, NR_HELO, NR_HEADER, NR_BODY = 0x1000, 0x2000, 0x80, 0x80000
HEADER_LEADING_SPACE = 0x100000
NO_STEP = NO_DATA | NO_UNKNOWN
NO_REPLY = NR_CONNECT | NR_HELO | NR_HEADER | NR_BODY
# The steps whose reply is negotiated away, by command.
UNANSWERED = {b"C": NR_CONNECT, b"H": NR_HELO, b"L": NR_HEADER, b"B": NR_BODY}
MAX_PACKET = 1 << 20

# The field monban adds to the load script's signed message (its folded form, as sent).
AR_VALUE = b"\r\n\t".join(
    [
        b" mx.test;",
        b"iprev=pass (localhost) policy.iprev=127.0.0.1;",
        b"spf=softfail (matched ~all in the record of example.com) smtp.mailfrom=alice@example.com;",
        b"sender-id=softfail (matched ~all in the record of example.com) header.from=alice@example.com;",
        b"dkim=pass header.d=example.com header.i=@example.com header.s=s2026 header.a=rsa-sha256 header.b=f44ahv2+;",
        b"dmarc=pass (p=reject dis=none) header.from=example.com;",
        b"arc=none smtp.remote-ip=127.0.0.1",
    ]
)


# The field inserted at the end of each message: Authentication-Results, or the
# DKIM-Signature given on the command line.
FIELD = (b"Authentication-Results", AR_VALUE)


def packet(code, data=b""):
    return struct.pack(">I", len(data) + 1) + code + data


class Session(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def handle(self):
        if self.request.family != socket.AF_UNIX:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        no_reply = 0
        while True:
            head = self.recv_exact(4)
            if head is None:
                return
            (length,) = struct.unpack(">I", head)
            if not 0 < length <= MAX_PACKET:
                return
            body = self.recv_exact(length)
            if body is None:
                return
            code, data = body[:1], body[1:]
            if code == b"O":
                _version, actions, steps = struct.unpack(">III", data[:12])
                no_reply = NO_REPLY & steps
                wanted = (ADD_HEADERS | CHANGE_HEADERS | QUARANTINE) & actions
                offer = HEADER_LEADING_SPACE | (steps & (NO_STEP | NO_REPLY))
                self.request.sendall(packet(b"O", struct.pack(">III", 6, wanted, offer)))
            elif code in (b"D", b"A", b"K"):
                continue  # macros, aborts and "quit, new connection" get no reply
            elif code == b"Q":
                return
            elif code == b"E":
                # As monban: the field inserted on top (index 0), then accept.
                field = struct.pack(">I", 0) + FIELD[0] + b"\0" + FIELD[1] + b"\0"
                self.request.sendall(packet(b"i", field) + packet(b"a"))
            elif code in UNANSWERED and no_reply & UNANSWERED[code]:
                continue
            else:
                self.request.sendall(packet(b"c"))


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    # socketserver's default backlog is 5: a UNIX socket refuses connections beyond it
    # (EAGAIN) where TCP's would wait; 20 SMTP sessions connect at once.
    request_queue_size = 128


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    where = sys.argv[1]
    if len(sys.argv) > 2:
        with open(sys.argv[2], "rb") as f:
            lines = f.read().splitlines()
        FIELD = (b"DKIM-Signature", b"\r\n".join(lines))
    if where.startswith("/"):
        # Created connectable by Postfix's smtpd (another user): with this umask, not
        # changed after it is listening (a connection in between would be refused).
        os.umask(0o111)
        server = UnixServer(where, Session)
    else:
        server = Server(("127.0.0.1", int(where)), Session)
    with server:
        server.serve_forever()
