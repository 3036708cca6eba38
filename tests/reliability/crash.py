#!/usr/bin/env python3
"""Crash test: kill the server with SIGKILL at random moments during mixed
writes, restart it, and check that nothing acknowledged was lost and nothing
unacknowledged is half there.

Each client thread owns its own resources and, one request at a time (so that
at most one write per resource is in flight when the kill lands), sends:
  - single writes: create-on-update (PUT), updates, JSON Patch and deletes;
  - transaction Bundles: a PUT or DELETE of each of two resources the client
    owns, and a Patient and an Observation created by POST (the Patient
    conditionally, ifNoneExist on its identifier; the Observation's subject a
    urn:uuid reference to it), all four marked with one new identifier;
  - ORU^R01 messages over MLLP (one report, ten observations), unless --no-mllp.
After every restart, for every resource:
  - the current version is the last acknowledged one, or that plus the one
    write that was in flight (committed but not answered: allowed);
  - its content is exactly what was sent for that version (a deletion reads
    410);
  - every acknowledged earlier version reads back (vread) as it was sent.
For every transaction: acknowledged, its two created resources are found by a
search on their identifier (so the index has them), once, the Observation's
subject pointing at the Patient; in flight, either all of it is there (both
owned resources at the new version, both created resources) or none of it.
For every ORU^R01: acknowledged with AA, its DiagnosticReport is found by its
filler order number, once, with its ten Observations; in flight, all or
nothing. And the database passes `PRAGMA integrity_check`.

usage: crash.py LIENTHONG_BINARY [--rounds N] [--clients N] [--seed S] [--no-mllp]
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
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hl7"))
import stream  # noqa: E402  (tests/hl7/stream.py: the ORU^R01 messages and an MLLP client)

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
        self.mllp = None         # "HOST:PORT" when started with --mllp

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--data", self.data, "--listen", "127.0.0.1:0", "--auth", "off"]
            + self.extra,
            stdout=subprocess.PIPE, stderr=open(os.path.join(os.path.dirname(self.data), "server.log"), "ab"))
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening http="):
            raise RuntimeError("server did not start: %r" % line)
        self.port = int(line.split("http=")[1].split()[0].rsplit(":", 1)[1])
        if " mllp=" in line:
            self.mllp = line.split(" mllp=")[1].split()[0]

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
        self.took_flight = None  # last verify: was the write in flight found committed?


class Client:
    """One client thread's own things: resources for single writes, two for
    its transactions, and the markers of its transactions and ORU messages."""

    def __init__(self, n, resources):
        self.n = n
        self.resources = resources
        self.tx = [Resource("Patient", "crashtx-%d-a" % n), Resource("Observation", "crashtx-%d-b" % n)]
        self.seq = 0
        self.markers = []        # [marker, "acked" | "flight" | "absent", checked?] of transactions
        self.orus = []           # [control id, "acked" | "flight" | "absent", checked?]
        self.mllp = None         # stream.Conn, opened on first use


def request(port, method, path, body=None, ctype="application/fhir+json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": ctype} if data else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def next_write(r, rng, patch=True):
    """The next write to r (PUT, PATCH or DELETE), recorded as in flight:
    (method, path, body, content type)."""
    marker = rng.randrange(1_000_000)
    deleted = r.last and r.acked[r.last] is None
    op = "put" if (r.last == 0 or deleted) else rng.choice(["put", "put", "patch" if patch else "put", "delete"])
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


MARK = "urn:lt:crash"


def transaction(c, rng):
    """A transaction Bundle for client c, its writes recorded as in flight."""
    c.seq += 1
    marker = "tx-%d-%d" % (c.n, c.seq)
    ident = [{"system": MARK, "value": marker}]
    entries = []
    for r in c.tx:
        method, path, body, _ = next_write(r, rng, patch=False)
        e = {"request": {"method": method, "url": path[len("/fhir/"):]}}
        if body is not None:
            e["resource"] = body
        entries.append(e)
    pid = "urn:uuid:%s" % uuid.UUID(int=rng.getrandbits(128))
    entries.append({"fullUrl": pid,
                    "resource": {"resourceType": "Patient", "identifier": ident,
                                 "name": [{"family": "Trần", "given": [marker]}]},
                    "request": {"method": "POST", "url": "Patient",
                                "ifNoneExist": "identifier=%s|%s" % (MARK, marker)}})
    entries.append({"resource": {"resourceType": "Observation", "identifier": ident, "status": "final",
                                 "code": {"text": "crash"}, "subject": {"reference": pid}},
                    "request": {"method": "POST", "url": "Observation"}})
    c.markers.append([marker, "flight", False])
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def client(port, c, rng, stop, stats, mllp):
    while not stop.is_set():
        kind = rng.random()
        if kind < 0.1 and mllp:
            c.seq += 1
            cid = "CRASH-%d-%d" % (c.n, c.seq)
            c.orus.append([cid, "flight", False])
            try:
                if c.mllp is None:
                    c.mllp = stream.Conn(mllp)
                    c.mllp.s.settimeout(10)
                code = stream.msa(c.mllp.call(stream.oru(cid, c.n * 1000 + c.seq % 50)))
            except (OSError, ConnectionError):
                c.mllp = None
                return  # the server is gone: the message stays "in flight"
            if code != "AA":
                stats["errors"] += 1
                c.orus[-1][1] = "absent"
                return
            c.orus[-1][1] = "acked"
            stats["acked"] += 1
            stats["oru"] += 1
            continue
        if kind < 0.3:
            writes = c.tx
            req = ("POST", "/fhir", transaction(c, rng), "application/fhir+json")
        else:
            writes = [rng.choice(c.resources)]
            req = next_write(writes[0], rng)
        try:
            status, _ = request(port, *req)
        except (OSError, http.client.HTTPException):
            return  # the server is gone: this write stays "in flight"
        if status in (200, 201):
            for r in writes:
                r.last += 1
                r.acked[r.last] = r.in_flight[1]
                r.in_flight = None
            if writes is c.tx:
                c.markers[-1][1] = "acked"
                stats["tx"] += 1
            stats["acked"] += 1
        else:
            stats["errors"] += 1
            for r in writes:
                r.in_flight = None  # refused: nothing was written
            if writes is c.tx:
                c.markers[-1][1] = "absent"
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
        r.took_flight = None if r.in_flight is None else False
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
            r.took_flight = True
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


def search(port, path):
    """The resources of a search's first page, or None when it failed."""
    status, raw = request(port, "GET", path)
    if status != 200:
        return None
    return [e["resource"] for e in json.loads(raw).get("entry", [])]


def verify_client(port, c, everything=False):
    """The transactions and ORU messages of client c: acknowledged ones whole
    and once, the one in flight all there or not at all. Run after verify()
    has looked at c.tx (it says whether their writes in flight committed)."""
    lost = corrupted = 0
    problems = []
    for m in c.markers:
        marker, state, checked = m
        if state == "absent" or (checked and not everything):
            continue
        q = urllib.parse.quote("%s|%s" % (MARK, marker))
        found = search(port, "/fhir/Observation?identifier=%s&_include=Observation:subject" % q)
        pats = search(port, "/fhir/Patient?identifier=%s" % q)
        if found is None or pats is None:
            corrupted += 1
            problems.append("transaction %s: a search by its identifier failed" % marker)
            continue
        obs = [r for r in found if r["resourceType"] == "Observation"]
        inc = [r for r in found if r["resourceType"] == "Patient"]
        whole = (len(obs) == 1 and len(pats) == 1 and [p["id"] for p in inc] == [pats[0]["id"]]
                 and obs[0].get("subject", {}).get("reference") == "Patient/" + pats[0]["id"])
        none = not obs and not pats
        owned = [r.took_flight for r in c.tx]
        if state == "flight" and whole and all(owned):
            m[1] = "acked"             # committed, never answered
        elif state == "flight" and none and not any(owned):
            m[1] = "absent"
        elif state == "flight":
            corrupted += 1
            problems.append("transaction %s half there: %d Observations, %d Patients, owned writes %s"
                            % (marker, len(obs), len(pats), owned))
            m[1] = "absent"
        elif not whole:
            if none:
                lost += 1
            else:
                corrupted += 1
            problems.append("acknowledged transaction %s: %d Observations, %d Patients, %d included"
                            % (marker, len(obs), len(pats), len(inc)))
        m[2] = True
    for m in c.orus:
        cid, state, checked = m
        if state == "absent" or (checked and not everything):
            continue
        found = search(port, "/fhir/DiagnosticReport?identifier=FIL-%s&_include=DiagnosticReport:result" % cid)
        if found is None:
            corrupted += 1
            problems.append("message %s: the search for its report failed" % cid)
            continue
        reports = [r for r in found if r["resourceType"] == "DiagnosticReport"]
        obs = [r for r in found if r["resourceType"] == "Observation"]
        whole, none = len(reports) == 1 and len(obs) == 10, not reports
        if state == "flight":
            if not (whole or none):
                corrupted += 1
                problems.append("message %s in flight half there: %d reports, %d results"
                                % (cid, len(reports), len(obs)))
            m[1] = "acked" if whole else "absent"
        elif not whole:
            if none:
                lost += 1
            else:
                corrupted += 1
            problems.append("acknowledged message %s: %d reports, %d results" % (cid, len(reports), len(obs)))
        m[2] = True
    return lost, corrupted, problems


def integrity(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def self_check_damage(db, resources, clients):
    """Removes acknowledged things behind the server's back; returns the
    names the checker's reports must mention."""
    victims = []
    con = sqlite3.connect(db)
    r = next((r for r in resources if r.last), None)
    if r:
        con.execute("DELETE FROM resource_version WHERE type=? AND id=? AND version=?", (r.type, r.id, r.last))
        victims.append("%s/%s" % (r.type, r.id))
    marker = next((m[0] for c in clients for m in c.markers if m[1] == "acked"), None)
    if marker:
        con.execute("DELETE FROM ix_token WHERE code=? AND rid IN (SELECT rid FROM resource WHERE type='Observation')",
                    (marker,))
        victims.append("transaction " + marker)
    cid = next((m[0] for c in clients for m in c.orus if m[1] == "acked"), None)
    if cid:
        con.execute("DELETE FROM ix_token WHERE code=? AND rid IN (SELECT rid FROM resource WHERE type='DiagnosticReport')",
                    ("FIL-" + cid,))
        victims.append("message " + cid)
    con.commit()
    con.close()
    print("self-check: removed behind the server's back: %s" % ", ".join(victims), flush=True)
    return victims


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--resources", type=int, default=200)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--max-run", type=float, default=1.5, help="most seconds of load before the kill")
    ap.add_argument("--no-mllp", action="store_true", help="no ORU^R01 messages over MLLP")
    ap.add_argument("--self-check", action="store_true",
                    help="after the first kill, delete behind the server's back one acknowledged "
                         "version, the index row of one acknowledged transaction's Observation and "
                         "(with MLLP) of one acknowledged message's report, and require the checker "
                         "to report each (proves the checker can fail)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="lt-crash-")
    data = os.path.join(tmp, "data")
    server = Server(args.binary, data, () if args.no_mllp else ("--mllp", "127.0.0.1:0"))
    resources = [Resource(TYPES[i % 2], "crash-%d" % i) for i in range(args.resources)]
    clients = [Client(i, resources[i::args.clients]) for i in range(args.clients)]
    everyone = resources + [r for c in clients for r in c.tx]
    totals = {"acked": 0, "tx": 0, "oru": 0, "errors": 0, "lost": 0, "corrupted": 0, "integrity_bad": 0}

    seen = []                    # every problem reported

    def verify_all(everything=False):
        lost, corrupted, problems = verify(server.port, everyone, everything)
        for c in clients:
            lo, co, pr = verify_client(server.port, c, everything)
            lost, corrupted, problems = lost + lo, corrupted + co, problems + pr
        totals["lost"] += lost
        totals["corrupted"] += corrupted
        for p in problems[:10]:
            print("  " + p, flush=True)
        seen.extend(problems)

    print("crash test: seed %d, %d rounds, %d clients, %d resources" %
          (args.seed, args.rounds, args.clients, args.resources), flush=True)
    try:
        for rnd in range(1, args.rounds + 1):
            server.start()
            if rnd > 1:
                verify_all()
            stats = {"acked": 0, "tx": 0, "oru": 0, "errors": 0}
            stop = threading.Event()
            threads = [threading.Thread(target=client, args=(server.port, c, random.Random(rng.random()),
                                                             stop, stats, server.mllp))
                       for c in clients]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.05, args.max_run))
            if args.self_check and rnd == 1:
                # the self-check needs acknowledged writes to remove (a slow,
                # sanitized server under a busy machine may not have them yet)
                deadline = time.monotonic() + 60
                while (stats["acked"] < 20 or stats["tx"] < 1 or (server.mllp and stats["oru"] < 1)) \
                        and time.monotonic() < deadline:
                    time.sleep(0.05)
            server.kill()
            stop.set()
            for t in threads:
                t.join()
            if args.self_check and rnd == 1:
                victims = self_check_damage(os.path.join(data, "lienthong.db"), resources, clients)
            check = integrity(os.path.join(data, "lienthong.db"))
            if check != "ok":
                totals["integrity_bad"] += 1
            for k in ("acked", "tx", "oru", "errors"):
                totals[k] += stats[k]
            print("round %d: %d writes acknowledged, killed, integrity %s" % (rnd, stats["acked"], check),
                  flush=True)
        server.start()
        verify_all(everything=True)
        rc = server.stop()
        if rc != 0:
            print("server exited %d on SIGTERM" % rc)
            totals["corrupted"] += 1
    finally:
        if server.proc and server.proc.poll() is None:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    ntx, noru = totals["tx"], totals["oru"]
    print("crash test: %d rounds, %d writes acknowledged (%d single, %d transactions, %d ORU^R01), "
          "%d lost, %d corrupted, %d failed integrity checks, %d refused writes" %
          (args.rounds, totals["acked"], totals["acked"] - ntx - noru, ntx, noru, totals["lost"],
           totals["corrupted"], totals["integrity_bad"], totals["errors"]))
    bad = totals["lost"] or totals["corrupted"] or totals["integrity_bad"] or totals["errors"]
    if args.self_check:
        missed = [v for v in victims if not any(v in p for p in seen)]
        bad = not victims or bool(missed)
        print("self-check: the checker %s" % ("missed " + ", ".join(missed or ["(nothing removed)"])
                                             if bad else "caught all %d removals" % len(victims)))
    print("%d passed, %d failed" % ((0, 1) if bad else (1, 0)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
