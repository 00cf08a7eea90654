"""A flood of decisions from one asyncio loop on 127.0.0.1: n requests
arriving at once, each on its own connection, optionally sustained for a
number of seconds (each connection sends its next request as soon as it
has an answer). Used by tests/integration/test_flood.py and bench/burst.py.

flood(host, port, n, seconds=0) -> list of (status, headers, body); status
0 means the connection failed or was reset."""
import asyncio
import json
import resource
import time

BODY = json.dumps({"account_id": "acct_10234",
                   "credential_report": "The CI deploy key of this service account is stale."})


def _raise_nofile():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _connect(host, port):
    try:
        return await asyncio.open_connection(host, port)
    except OSError:
        return None


async def _one(host, port, req, timeout, conn=None):
    """One request; conn is a connection opened beforehand, or None."""
    if conn is None and (conn := await _connect(host, port)) is None:
        return (0, {}, b"")
    reader, writer = conn
    try:
        writer.write(req)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        body = await reader.readexactly(n) if n else b""
        return (status, headers, body)
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError,
            IndexError):
        return (0, {}, b"")
    finally:
        writer.close()


async def _flood(host, port, n, seconds, timeout):
    req = ("POST /rotation/decide HTTP/1.1\r\nHost: %s:%d\r\n"
           "Content-Type: application/json\r\nAccept: application/json\r\n"
           "Connection: close\r\nContent-Length: %d\r\n\r\n%s" %
           (host, port, len(BODY), BODY)).encode()
    out, gate = [], asyncio.Event()
    end, ready = [0.0], [0]

    async def client():
        # Connected before the gate opens, so that the first requests of
        # all clients arrive together rather than at the pace of connect().
        conn = await _connect(host, port)
        ready[0] += 1
        await gate.wait()
        while True:
            out.append(await _one(host, port, req, timeout, conn))
            conn = None
            if time.monotonic() >= end[0]:
                return
    tasks = [asyncio.create_task(client()) for _ in range(n)]
    while ready[0] < n:
        await asyncio.sleep(0.05)
    end[0] = time.monotonic() + seconds
    gate.set()
    await asyncio.gather(*tasks)
    return out


def flood(host, port, n, seconds=0, timeout=120):
    _raise_nofile()
    return asyncio.run(_flood(host, port, n, seconds, timeout))


def summary(out):
    """Counts by status, refusals without Retry-After, 200s that are not a
    terminal trace, and the error codes of the refusals."""
    counts, codes = {}, {}
    no_retry_after = not_terminal = 0
    for status, headers, body in out:
        counts[status] = counts.get(status, 0) + 1
        if status in (429, 503):
            if "retry-after" not in headers:
                no_retry_after += 1
            try:
                code = json.loads(body).get("error_code", "?")
            except ValueError:
                code = "not JSON"
            codes[code] = codes.get(code, 0) + 1
        if status == 200:
            try:
                if json.loads(body).get("status") not in ("completed", "failed"):
                    not_terminal += 1
            except ValueError:
                not_terminal += 1
    return {"counts": counts, "codes": codes, "no_retry_after": no_retry_after,
            "not_terminal": not_terminal}


if __name__ == "__main__":
    import sys
    res = flood(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                float(sys.argv[4]) if len(sys.argv) > 4 else 0)
    print(json.dumps(summary(res)))
