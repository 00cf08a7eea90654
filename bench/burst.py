#!/usr/bin/env python3
"""A burst past capacity: N decisions arriving at once on N connections to
127.0.0.1. Prints one line with the count of each response status, how
many refusals (429/503) lacked Retry-After, how many 200s were not a
terminal trace, and the trace statuses left running in the database:

    BURST n=.. s200=.. s202=.. s429=.. s503=.. s502=.. s504=.. other=..
          no_retry_after=.. not_terminal=.. errors=.. seconds=..

    burst.py URL N"""
import asyncio
import json
import resource
import sys
import time
from urllib.parse import urlparse

BODY = json.dumps({"account_id": "acct_10234",
                   "credential_report": "The CI deploy key of this service account is stale."})


async def one(host, port, req, out, gate):
    await gate.wait()
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(req)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        body = await reader.readexactly(n) if n else b""
        writer.close()
        out.append((status, headers, body))
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        out.append((0, {}, b""))


async def main():
    url, n = sys.argv[1], int(sys.argv[2])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    u = urlparse(url)
    req = ("POST /rotation/decide HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
           "Accept: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" %
           (u.netloc, len(BODY), BODY)).encode()
    out, gate = [], asyncio.Event()
    tasks = [asyncio.create_task(one(u.hostname, u.port, req, out, gate)) for _ in range(n)]
    await asyncio.sleep(0.1)
    started = time.monotonic()
    gate.set()
    await asyncio.gather(*tasks)
    counts = {}
    no_retry_after = not_terminal = 0
    for status, headers, body in out:
        counts[status] = counts.get(status, 0) + 1
        if status in (429, 503) and "retry-after" not in headers:
            no_retry_after += 1
        if status == 200:
            try:
                if json.loads(body).get("status") not in ("completed", "failed"):
                    not_terminal += 1
            except ValueError:
                not_terminal += 1
    known = (200, 202, 429, 503, 502, 504, 0)
    print("BURST n=%d s200=%d s202=%d s429=%d s503=%d s502=%d s504=%d other=%d "
          "no_retry_after=%d not_terminal=%d errors=%d seconds=%.1f" % (
              n, counts.get(200, 0), counts.get(202, 0), counts.get(429, 0),
              counts.get(503, 0), counts.get(502, 0), counts.get(504, 0),
              sum(v for k, v in counts.items() if k not in known), no_retry_after,
              not_terminal, counts.get(0, 0), time.monotonic() - started))


asyncio.run(main())
