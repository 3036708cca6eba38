#!/usr/bin/env python3
"""Times whole $everything records: each walk follows the next links to the
last page, on one keep-alive connection, and is timed from the first request
to the last byte of the last page.

    bench/everything-walk.py http://127.0.0.1:PORT /fhir/Patient/big/$everything?_count=100 [--seconds 10]

Prints one line "RESULT walks=N pages=P matches=M includes=I p50_us=.. p90_us=..
p99_us=.. max_us=.. page_p50_us=.. page_p99_us=..": walks in --seconds (after
a warm-up walk), pages and entries per walk, latency of a whole walk, and of
one page. Any answer other than 200 stops it with an error. Python's own time
(HTTP client, finding the next link) is in the figures: compare page_p50_us
with wrk's p50 for one page to see how much. Python 3 standard library only.
"""
import argparse
import http.client
import re
import sys
import time
import urllib.parse

NEXT = re.compile(rb'\{"relation":"next","url":"([^"]+)"\}')


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("path")
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    headers = {"Accept": "application/fhir+json"}

    def walk():
        pages, matches, includes, page_us = 0, 0, 0, []
        path = a.path
        t0 = time.perf_counter()
        while path:
            p0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            page_us.append((time.perf_counter() - p0) * 1e6)
            if r.status != 200:
                sys.exit(f"everything-walk: {path}: {r.status} {body[:300]!r}")
            pages += 1
            matches += body.count(b'"mode":"match"')
            includes += body.count(b'"mode":"include"')
            m = NEXT.search(body, 0, 4096)	# the links come before the entries
            path = None
            if m:
                nxt = urllib.parse.urlsplit(m.group(1).decode())
                path = nxt.path + "?" + nxt.query
        return (time.perf_counter() - t0) * 1e6, pages, matches, includes, page_us

    walk()	# warm-up
    walks, page_us = [], []
    end = time.perf_counter() + a.seconds
    while time.perf_counter() < end:
        us, pages, matches, includes, pus = walk()
        walks.append(us)
        page_us += pus
    print("RESULT walks=%d pages=%d matches=%d includes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d "
          "page_p50_us=%d page_p99_us=%d" % (len(walks), pages, matches, includes, pct(walks, 50),
                                            pct(walks, 90), pct(walks, 99), max(walks),
                                            pct(page_us, 50), pct(page_us, 99)))


if __name__ == "__main__":
    main()
