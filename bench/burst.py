#!/usr/bin/env python3
"""A burst past capacity: N decisions arriving at once on N connections to
127.0.0.1 (tests/lib/flood.py, the same client as the flood tests). Prints
one line with the count of each response status, how many refusals
(429/503) lacked Retry-After, how many 200s were not a terminal trace, and
how many connections failed or were reset:

    BURST n=.. s200=.. s202=.. s429=.. s503=.. s502=.. s504=.. other=..
          no_retry_after=.. not_terminal=.. errors=.. seconds=..

    burst.py URL N"""
import os
import sys
import time
from urllib.parse import urlparse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from flood import flood, summary  # noqa: E402


def main():
    url, n = urlparse(sys.argv[1]), int(sys.argv[2])
    started = time.monotonic()
    s = summary(flood(url.hostname, url.port, n))
    counts = s["counts"]
    known = (200, 202, 429, 503, 502, 504, 0)
    print("BURST n=%d s200=%d s202=%d s429=%d s503=%d s502=%d s504=%d other=%d "
          "no_retry_after=%d not_terminal=%d errors=%d seconds=%.1f" % (
              n, counts.get(200, 0), counts.get(202, 0), counts.get(429, 0),
              counts.get(503, 0), counts.get(502, 0), counts.get(504, 0),
              sum(v for k, v in counts.items() if k not in known), s["no_retry_after"],
              s["not_terminal"], counts.get(0, 0), time.monotonic() - started))


main()
