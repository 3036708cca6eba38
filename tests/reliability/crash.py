#!/usr/bin/env python3
"""Crash test: kill the server with SIGKILL at random moments during mixed
writes, restart it, and check that nothing acknowledged was lost and nothing
unacknowledged is half there.

Each client thread owns its own resources and drives them through
create-on-update (PUT), updates, JSON Patch and deletes, one request at a time,
so that at most one write per resource is in flight when the kill lands.
After every restart, for every resource:
  - the current version is the last acknowledged one, or that plus the one
    write that was in flight (committed but not answered: allowed);
  - its content is exactly what was sent for that version (a deletion reads
    410);
  - every acknowledged earlier version reads back (vread) as it was sent.
And the database passes `PRAGMA integrity_check`.

usage: crash.py LIENTHONG_BINARY [--rounds N] [--clients N] [--seed S] [--data DIR]
Prints one line per round and a summary; exits 1 if anything was lost or corrupted.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

TYPES = ["Patient", "Observation"]


def body_for(rtype, rid, marker):
    if rtype == "Patient":
        return {"resourceType": "Patient", "id": rid, "active": True,
                "name": [{"family": "Nguyễn", "given": ["Văn", "M%d" % marker]}]}
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": {"text": "glucose %d" % marker},
            "valueQuantity": {"value": float("%d.5" % marker), "unit": "mmol/L"}}


class Server:
    def __init__(self, binary, data, extra=()):
        self.binary, self.data, self.proc, self.port = binary, data, None, None
        self.extra = list(extra)

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--data", self.data, "--listen", "127.0.0.1:0", "--auth", "off"]
            + self.extra,
            stdout=subprocess.PIPE, stderr=open(os.path.join(os.path.dirname(self.data), "server.log"), "ab"))
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening http="):
            raise RuntimeError("server did not start: %r" % line)
        self.port = int(line.split("http=")[1].split()[0].rsplit(":", 1)[1])

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


class Resource:
    """What the client knows of one resource: acknowledged versions and the
    write in flight, if any."""

    def __init__(self, rtype, rid):
        self.type, self.id = rtype, rid
        self.acked = {}          # version -> body dict, or None for a deletion
        self.last = 0            # last acknowledged version (0: none)
        self.in_flight = None    # (version, body or None) sent but not answered
        self.checked = 0         # versions up to this one were read back in an earlier round


def request(port, method, path, body=None, ctype="application/fhir+json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": ctype} if data else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def next_write(r, rng):
    """The next write to r (PUT, PATCH or DELETE), recorded as in flight:
    (method, path, body, content type)."""
    marker = rng.randrange(1_000_000)
    deleted = r.last and r.acked[r.last] is None
    op = "put" if (r.last == 0 or deleted) else rng.choice(["put", "put", "patch", "delete"])
    version = r.last + 1
    path = "/fhir/%s/%s" % (r.type, r.id)
    if op == "delete":
        r.in_flight = (version, None)
        return "DELETE", path, None, "application/fhir+json"
    if op == "patch":
        new = dict(r.acked[r.last])
        new["active" if r.type == "Patient" else "status"] = (
            bool(marker % 2) if r.type == "Patient" else "amended")
        r.in_flight = (version, new)
        field = "/active" if r.type == "Patient" else "/status"
        return ("PATCH", path, [{"op": "replace", "path": field, "value": new[field[1:]]}],
                "application/json-patch+json")
    b = body_for(r.type, r.id, marker)
    r.in_flight = (version, b)
    return "PUT", path, b, "application/fhir+json"


def client(port, resources, rng, stop, stats):
    while not stop.is_set():
        r = rng.choice(resources)
        version = r.last + 1
        try:
            status, _ = request(port, *next_write(r, rng))
        except (OSError, http.client.HTTPException):
            return  # the server is gone: this write stays "in flight"
        if status in (200, 201):
            r.acked[version] = r.in_flight[1]
            r.last = version
            r.in_flight = None
            stats["acked"] += 1
        else:
            stats["errors"] += 1
            r.in_flight = None  # refused: nothing was written
            return


def same(stored, sent):
    """stored: the JSON read back (with id and meta); sent: what the client sent."""
    s = dict(stored)
    s.pop("meta", None)
    return s == sent


def verify(port, resources, everything=False):
    lost = corrupted = 0
    problems = []
    for r in resources:
        if r.last == 0 and r.in_flight is None:
            continue
        status, raw = request(port, "GET", "/fhir/%s/%s" % (r.type, r.id))
        if status == 404:
            current, content = 0, None
        elif status == 410:
            # the version of a deletion is in the history
            for _ in range(5):  # a busy, sanitized server may answer 503 right after start
                hstatus, hraw = request(port, "GET", "/fhir/%s/%s/_history?_count=1" % (r.type, r.id))
                if hstatus != 503:
                    break
                time.sleep(0.5)
            entries = json.loads(hraw).get("entry", []) if hstatus == 200 else []
            if not entries:
                corrupted += 1
                problems.append("%s/%s: read gave 410 but its history gave %d with %d entries: %s"
                                % (r.type, r.id, hstatus, len(entries), hraw[:300]))
                continue
            current = int(entries[0]["response"]["etag"].split('"')[1])
            content = None
        elif status == 200:
            doc = json.loads(raw)
            current, content = int(doc["meta"]["versionId"]), doc
        else:
            corrupted += 1
            problems.append("%s/%s: read gave %d" % (r.type, r.id, status))
            continue
        if current == r.last:
            expect = r.acked.get(r.last) if r.last else None
        elif r.in_flight and current == r.in_flight[0]:
            expect = r.in_flight[1]          # committed, never answered: allowed
            r.acked[current] = expect        # from now on it is part of the history
            r.last = current
        elif current < r.last:
            lost += 1
            problems.append("%s/%s: acknowledged version %d, found %d" % (r.type, r.id, r.last, current))
            continue
        else:
            corrupted += 1
            problems.append("%s/%s: version %d appeared from nowhere" % (r.type, r.id, current))
            continue
        if (expect is None) != (content is None) or (expect is not None and not same(content, expect)):
            corrupted += 1
            problems.append("%s/%s v%d: content differs from what was sent" % (r.type, r.id, current))
        r.in_flight = None
        for v, sent in r.acked.items():   # every acknowledged version is still readable as sent
            if v <= r.checked and not everything:
                continue
            st, vraw = request(port, "GET", "/fhir/%s/%s/_history/%d" % (r.type, r.id, v))
            ok = (st == 410 and sent is None) or (st == 200 and sent is not None and same(json.loads(vraw), sent))
            if not ok:
                lost += 1
                problems.append("%s/%s: version %d reads %d" % (r.type, r.id, v, st))
        r.checked = r.last
    return lost, corrupted, problems


def integrity(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--resources", type=int, default=200)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--max-run", type=float, default=1.5, help="most seconds of load before the kill")
    ap.add_argument("--self-check", action="store_true",
                    help="after the first kill, delete one acknowledged version from the database "
                         "and require the checker to report it lost (proves the checker can fail)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="lt-crash-")
    data = os.path.join(tmp, "data")
    server = Server(args.binary, data)
    resources = [Resource(TYPES[i % 2], "crash-%d" % i) for i in range(args.resources)]
    per = [resources[i::args.clients] for i in range(args.clients)]
    totals = {"acked": 0, "errors": 0, "lost": 0, "corrupted": 0, "integrity_bad": 0}
    print("crash test: seed %d, %d rounds, %d clients, %d resources" %
          (args.seed, args.rounds, args.clients, args.resources), flush=True)
    try:
        for rnd in range(1, args.rounds + 1):
            server.start()
            if rnd > 1:
                lost, corrupted, problems = verify(server.port, resources)
                totals["lost"] += lost
                totals["corrupted"] += corrupted
                for p in problems[:10]:
                    print("  " + p, flush=True)
            stats = {"acked": 0, "errors": 0}
            stop = threading.Event()
            threads = [threading.Thread(target=client, args=(server.port, per[i],
                                                             random.Random(rng.random()), stop, stats))
                       for i in range(args.clients)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.05, args.max_run))
            if args.self_check and rnd == 1:
                # the self-check needs an acknowledged write to remove (a slow,
                # sanitized server under a busy machine may not have one yet)
                deadline = time.monotonic() + 60
                while stats["acked"] < 20 and time.monotonic() < deadline:
                    time.sleep(0.05)
            server.kill()
            stop.set()
            for t in threads:
                t.join()
            if args.self_check and rnd == 1:
                victim = next(r for r in resources if r.last)
                con = sqlite3.connect(os.path.join(data, "lienthong.db"))
                con.execute("DELETE FROM resource_version WHERE type=? AND id=? AND version=?",
                            (victim.type, victim.id, victim.last))
                con.commit()
                con.close()
                print("self-check: removed %s/%s version %d behind the server's back" %
                      (victim.type, victim.id, victim.last), flush=True)
            check = integrity(os.path.join(data, "lienthong.db"))
            if check != "ok":
                totals["integrity_bad"] += 1
            totals["acked"] += stats["acked"]
            totals["errors"] += stats["errors"]
            print("round %d: %d writes acknowledged, killed, integrity %s" % (rnd, stats["acked"], check),
                  flush=True)
        server.start()
        lost, corrupted, problems = verify(server.port, resources, everything=True)
        totals["lost"] += lost
        totals["corrupted"] += corrupted
        for p in problems[:10]:
            print("  " + p)
        rc = server.stop()
        if rc != 0:
            print("server exited %d on SIGTERM" % rc)
            totals["corrupted"] += 1
    finally:
        if server.proc and server.proc.poll() is None:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("crash test: %d rounds, %d writes acknowledged, %d lost, %d corrupted, "
          "%d failed integrity checks, %d refused writes" %
          (args.rounds, totals["acked"], totals["lost"], totals["corrupted"],
           totals["integrity_bad"], totals["errors"]))
    bad = totals["lost"] or totals["corrupted"] or totals["integrity_bad"] or totals["errors"]
    if args.self_check:
        bad = not totals["lost"]
        print("self-check: the checker %s the removed version" % ("missed" if bad else "caught"))
    print("%d passed, %d failed" % ((0, 1) if bad else (1, 0)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
