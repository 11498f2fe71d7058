#!/usr/bin/env python3
"""The SMTP client of benches/soak.sh: many messages of several kinds over many
concurrent sessions, each message's outcome written down.

    soak_client.py HOST:PORT MESSAGES SESSIONS TEMPLATE_DIR OUT.jsonl

TEMPLATE_DIR holds one file per kind (valid.eml, huge.eml, spoofed.eml,
malformed.eml); the kinds are mixed by weight (see MIX). Each message gets an
`X-Soak-Id` field at the top (outside what its signature covers). One session in
SLOW_EVERY sends its message slowly (small pieces with pauses: a slow client).
Each line of OUT.jsonl: {"id", "kind", "code" (the reply to the end of data, or 0
when the connection failed), "seconds" (from the end of data to that reply), "tries"}.
A message answered 4xx is tried again later (as a sending MTA would), up to 5 times.
"""

import asyncio
import json
import os
import random
import sys
import time

MIX = [("valid", 85), ("spoofed", 8), ("malformed", 5), ("huge", 2)]
SLOW_EVERY = 50
MESSAGES_PER_SESSION = 5


def load_templates(folder):
    out = {}
    for kind, _ in MIX:
        with open(os.path.join(folder, kind + ".eml"), "rb") as f:
            data = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        # Dot-stuffing (RFC 5321 §4.5.2), once per template.
        lines = data.split(b"\r\n")
        data = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        out[kind] = data
    return out


async def reply(reader):
    """The code of a (possibly multi-line) reply."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def send_one(reader, writer, mid, kind, data, slow):
    writer.write(b"MAIL FROM:<alice@example.com>\r\n")
    await writer.drain()
    if await reply(reader) != 250:
        return 0, 0.0
    writer.write(b"RCPT TO:<bob@example.net>\r\n")
    await writer.drain()
    code = await reply(reader)
    if code != 250:
        return code, 0.0
    writer.write(b"DATA\r\n")
    await writer.drain()
    if await reply(reader) != 354:
        return 0, 0.0
    body = b"X-Soak-Id: " + mid.encode() + b"\r\n" + data
    if slow:
        for i in range(0, len(body), 512):
            writer.write(body[i:i + 512])
            await writer.drain()
            await asyncio.sleep(0.05)
    else:
        writer.write(body)
    writer.write(b".\r\n")
    await writer.drain()
    t = time.monotonic()
    code = await reply(reader)
    return code, time.monotonic() - t


async def session(host, port, batch, templates, out, slow, retry):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
    except (OSError, asyncio.TimeoutError):
        for mid, kind, tries in batch:
            retry.append((mid, kind, tries))
        return
    try:
        if await reply(reader) != 220:
            raise ConnectionError("no greeting")
        writer.write(b"EHLO soak.example.net\r\n")
        await writer.drain()
        await reply(reader)
        for n, (mid, kind, tries) in enumerate(batch):
            try:
                code, secs = await asyncio.wait_for(
                    send_one(reader, writer, mid, kind, templates[kind], slow), 600)
            except (OSError, ConnectionError, asyncio.TimeoutError):
                for later in batch[n:]:
                    retry.append(later)
                return
            if 400 <= code < 500 or code == 0:
                retry.append((mid, kind, tries))
            else:
                out.write(json.dumps({"id": mid, "kind": kind, "code": code,
                                      "seconds": round(secs, 6), "tries": tries + 1}) + "\n")
            writer.write(b"RSET\r\n")
            await writer.drain()
            await reply(reader)
        writer.write(b"QUIT\r\n")
        await writer.drain()
    except (OSError, ConnectionError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()


async def main():
    host, port = sys.argv[1].rsplit(":", 1)
    port = int(port)
    total, sessions = int(sys.argv[2]), int(sys.argv[3])
    templates = load_templates(sys.argv[4])
    rng = random.Random(18)
    kinds = [k for k, w in MIX for _ in range(w)]
    todo = [(f"soak-{i:07d}", rng.choice(kinds), 0) for i in range(total)]
    started = time.monotonic()
    with open(sys.argv[5], "w") as out:
        for attempt in range(5):
            retry = []
            batches = [todo[i:i + MESSAGES_PER_SESSION]
                       for i in range(0, len(todo), MESSAGES_PER_SESSION)]
            sem = asyncio.Semaphore(sessions)
            done = 0

            async def run(i, batch):
                nonlocal done
                async with sem:
                    await session(host, port, batch, templates, out,
                                  i % SLOW_EVERY == 0, retry)
                done += len(batch)
                if done % 10000 < MESSAGES_PER_SESSION:
                    print(f"soak: {done}/{len(todo)} sent (try {attempt + 1}), "
                          f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

            await asyncio.gather(*(run(i, b) for i, b in enumerate(batches)))
            if not retry:
                break
            print(f"soak: {len(retry)} to try again (4xx or a broken connection)",
                  file=sys.stderr, flush=True)
            await asyncio.sleep(5)
            todo = [(m, k, t + 1) for m, k, t in retry]
        for mid, kind, tries in (retry if retry else []):
            out.write(json.dumps({"id": mid, "kind": kind, "code": 0, "seconds": 0,
                                  "tries": tries + 1}) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
