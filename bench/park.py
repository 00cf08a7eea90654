#!/usr/bin/env python3
"""Parks N decisions on a slow model and measures keyrota's memory per
parked decision: the workers' total RSS with N decisions in flight minus
their RSS idle, divided by N.

    park.py URL N KEYROTA_PID_FILE DATABASE_URL

Sends N POST /rotation/decide requests on N connections without reading
the answers, waits until N traces are running, samples the workers' RSS,
then closes the connections. Prints one line:
    PARKED n=N idle_kb=.. parked_kb=.. per_decision_bytes=..
Run it against a model (or fixture delay) slower than the wait."""
import json
import resource
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse


def workers_rss_kb(pid_file):
    with open(pid_file) as f:
        sup = f.read().strip()
    pids = subprocess.run(["pgrep", "-P", sup], capture_output=True, text=True).stdout.split()
    total = 0
    for p in pids:
        with open("/proc/%s/status" % p) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def running(dburl):
    out = subprocess.run(["psql", dburl, "-Atc",
                          "SELECT count(*) FROM traces WHERE status = 'running'"],
                         capture_output=True, text=True).stdout.strip()
    return int(out or 0)


def main():
    url, n, pid_file, dburl = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    u = urlparse(url)
    body = json.dumps({"account_id": "acct_10234",
                       "credential_report": "The CI deploy key of this service account is stale."})
    req = ("POST /rotation/decide HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
           "Accept: application/json\r\nContent-Length: %d\r\n\r\n%s" %
           (u.netloc, len(body), body)).encode()
    base = running(dburl)
    time.sleep(0.5)
    idle = workers_rss_kb(pid_file)
    socks = []
    for _ in range(n):
        s = socket.create_connection((u.hostname, u.port), timeout=30)
        s.sendall(req)
        socks.append(s)
    deadline = time.monotonic() + 60
    while running(dburl) - base < n and time.monotonic() < deadline:
        time.sleep(0.2)
    parked = running(dburl) - base
    time.sleep(0.5)
    busy = workers_rss_kb(pid_file)
    for s in socks:
        s.close()
    per = (busy - idle) * 1024 // max(parked, 1)
    print("PARKED n=%d idle_kb=%d parked_kb=%d per_decision_bytes=%d" % (parked, idle, busy, per))


if __name__ == "__main__":
    main()
