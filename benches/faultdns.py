#!/usr/bin/env python3
"""A DNS proxy that injects faults, for benches/faults.sh.

    faultdns.py LISTEN_PORT UPSTREAM_PORT MODE_FILE [DELAY_SECONDS]

Listens on 127.0.0.1:LISTEN_PORT (UDP and TCP) and forwards each query to a real DNS
server on 127.0.0.1:UPSTREAM_PORT (nsd). Before each query it reads MODE_FILE, one word:

    ok        forward as is
    slow      forward, but answer only after DELAY_SECONDS (past the resolver's timeout)
    servfail  answer SERVFAIL at once (RFC 1035 §4.1.1 RCODE 2)
    truncate  over UDP answer an empty reply with TC set, so the resolver asks again
              over TCP (RFC 7766 §5), where the real answer is forwarded
    drop      never answer (UDP); close the connection (TCP)

Only the standard library; every failure of one query is that query's alone.
"""

import asyncio
import os
import struct
import sys

LISTEN, UPSTREAM, MODE_FILE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
DELAY = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0
_mode = ("ok", None)


def mode():
    """The word in MODE_FILE (read again only when the file changed)."""
    global _mode
    try:
        stamp = os.stat(MODE_FILE).st_mtime_ns
    except OSError:
        return "ok"
    if stamp != _mode[1]:
        try:
            with open(MODE_FILE) as f:
                _mode = (f.read().strip() or "ok", stamp)
        except OSError:
            return "ok"
    return _mode[0]


def question_end(query):
    """The offset just past the question section (one question), or None."""
    i = 12
    while i < len(query):
        n = query[i]
        if n == 0:
            return i + 5 if i + 5 <= len(query) else None
        if n & 0xC0:
            return None
        i += 1 + n
    return None


def reply(query, rcode, truncated=False):
    """A reply with no records: the query's id and question, QR, RD copied, RA."""
    end = question_end(query)
    if len(query) < 12 or end is None:
        return None
    qid, flags = struct.unpack("!HH", query[:4])
    out = 0x8000 | (flags & 0x7900) | 0x0080 | rcode  # QR, opcode+RD, RA
    if truncated:
        out |= 0x0200
    return struct.pack("!HHHHHH", qid, out, 1, 0, 0, 0) + query[12:end]


async def ask_upstream_udp(query):
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if not done.done():
                done.set_result(data)

        def error_received(self, exc):
            if not done.done():
                done.set_exception(exc)

    transport, _ = await loop.create_datagram_endpoint(
        Client, remote_addr=("127.0.0.1", UPSTREAM))
    try:
        transport.sendto(query)
        return await asyncio.wait_for(done, 5)
    finally:
        transport.close()


async def ask_upstream_tcp(query):
    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", UPSTREAM), 5)
    try:
        w.write(struct.pack("!H", len(query)) + query)
        await w.drain()
        n = struct.unpack("!H", await asyncio.wait_for(r.readexactly(2), 5))[0]
        return await asyncio.wait_for(r.readexactly(n), 5)
    finally:
        w.close()


class Udp(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        asyncio.get_running_loop().create_task(self.answer(data, addr))

    async def answer(self, query, addr):
        m = mode()
        try:
            if m == "drop":
                return
            if m == "servfail":
                out = reply(query, 2)
            elif m == "truncate":
                out = reply(query, 0, truncated=True)
            else:
                if m == "slow":
                    await asyncio.sleep(DELAY)
                out = await ask_upstream_udp(query)
            if out:
                self.transport.sendto(out, addr)
        except (OSError, asyncio.TimeoutError, struct.error):
            pass


def count_tcp():
    """Counts queries over TCP (MODE_FILE.tcp, a byte each), so a run can show that
    truncated answers were asked again over TCP."""
    try:
        with open(MODE_FILE + ".tcp", "ab") as f:
            f.write(b".")
    except OSError:
        pass


async def tcp_client(r, w):
    try:
        while True:
            n = struct.unpack("!H", await r.readexactly(2))[0]
            query = await r.readexactly(n)
            count_tcp()
            m = mode()
            if m == "drop":
                return
            if m == "servfail":
                out = reply(query, 2)
            else:
                if m == "slow":
                    await asyncio.sleep(DELAY)
                out = await ask_upstream_tcp(query)
            if not out:
                return
            w.write(struct.pack("!H", len(out)) + out)
            await w.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, struct.error):
        pass
    finally:
        w.close()


async def main():
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", LISTEN))
    server = await asyncio.start_server(tcp_client, "127.0.0.1", LISTEN)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
