#!/usr/bin/env python3
"""POSTs every transaction Bundle of a directory to a FHIR base with N concurrent
clients (keep-alive connections), as fast as the server answers; every answer must be 200
with one 201 entry per request entry. Prints one JSON line: bundles, resources, seconds,
resources_per_s, and the latency percentiles of a Bundle.

    bench/ingest-client.py --base http://127.0.0.1:PORT/fhir --clients 8 DIR
"""
import argparse
import glob
import http.client
import json
import os
import queue
import sys
import threading
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("dir")
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.dir, "*.json")))
    u = urllib.parse.urlsplit(a.base)
    q = queue.Queue()
    for f in files:
        q.put(f)
    lock = threading.Lock()
    lat, counts, errors = [], [0, 0], []

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        while not errors:
            try:
                f = q.get_nowait()
            except queue.Empty:
                return
            body = open(f, "rb").read()
            n = body.count(b'"request"')
            t0 = time.perf_counter()
            conn.request("POST", u.path, body=body, headers={
                "Content-Type": "application/fhir+json", "Prefer": "return=minimal"})
            r = conn.getresponse()
            data = r.read()
            dt = time.perf_counter() - t0
            if r.status != 200:
                errors.append(f"{os.path.basename(f)}: {r.status} {data[:300]!r}")
                return
            created = data.count(b'"201 Created"')
            if created != n:
                errors.append(f"{os.path.basename(f)}: {created} created of {n}")
                return
            with lock:
                lat.append(dt)
                counts[0] += 1
                counts[1] += n

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    if errors:
        print(errors[0], file=sys.stderr)
        sys.exit(1)
    lat.sort()
    pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else 0
    print(json.dumps({"bundles": counts[0], "resources": counts[1], "seconds": round(secs, 1),
                      "resources_per_s": round(counts[1] / secs), "p50_ms": pct(0.5),
                      "p99_ms": pct(0.99)}))


if __name__ == "__main__":
    main()
