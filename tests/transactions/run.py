#!/usr/bin/env python3
"""Transactions (issue #4) against a live server. Standard library only.

    run.py --base http://127.0.0.1:PORT/fhir synthea DIR
        Loads every Synthea bundle in DIR as a transaction (hospital and practitioner
        bundles first); each must answer 200. Then checks that the number of resources
        of each type in the store equals the number in the bundles, and that every
        reference of every stored resource resolves to a stored resource.

    run.py --base ... concurrency [--clients 20] [--seconds 30]
        Clients send overlapping transactions for the given time: each reads 2-4 of a
        few shared Patients, PUTs them back with a counter + 1 under ifMatch, creates
        an Observation, and conditionally creates one of a few "shared" Patients
        (ifNoneExist). Afterwards the store must equal a serial replay of the
        transactions that were acknowledged: every counter equals the number of
        acknowledged increments of its Patient and its version is 1 + that number;
        every Observation acknowledged exists; each ifNoneExist identifier exists
        exactly once. Any 5xx, a hang, or a mismatch fails.

Exit status 1 on a failure.
"""
import argparse
import collections
import glob
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

TIMEOUT = 120


class Client:
    """One keep-alive connection."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.prefix = u.hostname, u.port, u.path
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        h = {"Accept": "application/fhir+json"}
        if body is not None:
            h["Content-Type"] = "application/fhir+json"
            if not isinstance(body, (bytes, bytearray)):
                body = json.dumps(body).encode()
        h.update(headers or {})
        if path.startswith("http"):
            u = urllib.parse.urlsplit(path)
            path = u.path + ("?" + u.query if u.query else "")
        else:
            path = self.prefix + path
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, (json.loads(data) if data else None)
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def fail(msg):
    print("FAIL", msg)
    sys.exit(1)


# ---- Synthea ------------------------------------------------------------------------

def all_resources(cl, rtype):
    """Every current resource of a type, following next links."""
    path = f"/{rtype}?_count=1000"
    while path:
        st, b = cl.request("GET", path)
        if st != 200:
            fail(f"GET {path}: {st} {json.dumps(b)[:300]}")
        for e in b.get("entry", []):
            if e.get("search", {}).get("mode", "match") == "match":
                yield e["resource"]
        path = next((l["url"] for l in b.get("link", []) if l["relation"] == "next"), None)


def references(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "reference" and isinstance(v, str):
                yield v
            else:
                yield from references(v)
    elif isinstance(o, list):
        for v in o:
            yield from references(v)


def synthea(cl, d):
    files = sorted(glob.glob(os.path.join(d, "*.json")))
    first = [f for f in files if os.path.basename(f).startswith(("hospitalInformation", "practitionerInformation"))]
    files = first + [f for f in files if f not in first]
    if not files:
        fail(f"no bundles in {d}")
    want = collections.Counter()
    t0 = time.time()
    n = 0
    for f in files:
        raw = open(f, "rb").read()
        b = json.loads(raw)
        for e in b.get("entry", []):
            want[e["resource"]["resourceType"]] += 1
        st, r = cl.request("POST", "/", raw, {"Prefer": "return=minimal"})
        if st != 200:
            fail(f"{os.path.basename(f)}: {st} {json.dumps(r)[:500]}")
        if len(r.get("entry", [])) != len(b.get("entry", [])):
            fail(f"{os.path.basename(f)}: {len(r.get('entry', []))} response entries for {len(b['entry'])}")
        bad = [e["response"]["status"] for e in r["entry"] if not e["response"]["status"].startswith("201")]
        if bad:
            fail(f"{os.path.basename(f)}: entries not created: {bad[:5]}")
        n += len(b["entry"])
    secs = time.time() - t0
    print(f"loaded {len(files)} bundles, {n} resources in {secs:.1f} s ({n / secs:.0f} resources/s, one client)")
    ids = set()
    refs = []
    for rtype, count in sorted(want.items()):
        got = 0
        for res in all_resources(cl, rtype):
            got += 1
            ids.add(f"{rtype}/{res['id']}")
            refs.extend((f"{rtype}/{res['id']}", r) for r in references(res))
        if got != count:
            fail(f"{rtype}: {got} stored, {count} in the bundles")
        print(f"ok {rtype}: {got}")
    dangling = [(src, r) for src, r in refs if not r.startswith("#") and r not in ids]
    if dangling:
        fail(f"{len(dangling)} references do not resolve, e.g. {dangling[:3]}")
    print(f"ok {len(refs)} references, all resolve")


# ---- concurrency --------------------------------------------------------------------

N_SHARED = 8		# Patients every client updates
N_COND = 5		# identifiers conditionally created


def concurrency(base, clients, seconds):
    setup = Client(base)
    for i in range(N_SHARED):
        st, b = setup.request("PUT", f"/Patient/cc{i}", {"resourceType": "Patient", "id": f"cc{i}",
                                                          "multipleBirthInteger": 0})
        if st not in (200, 201):
            fail(f"setup: {st} {b}")
    st, b = setup.request("GET", "/Observation?_summary=count")
    obs_before = b["total"]
    lock = threading.Lock()
    acked = collections.Counter()		# Patient -> acknowledged increments
    observations = []			# ids of acknowledged Observations
    stats = collections.Counter()
    errors = []
    stop = time.time() + seconds

    def worker(k):
        cl = Client(base)
        rnd = random.Random(k)
        seq = 0
        while time.time() < stop and not errors:
            pick = rnd.sample(range(N_SHARED), rnd.randint(2, 4))
            entries = []
            for i in pick:
                st, p = cl.request("GET", f"/Patient/cc{i}")
                if st != 200:
                    errors.append(f"GET cc{i}: {st}")
                    return
                p["multipleBirthInteger"] += 1
                entries.append({"resource": p, "request": {
                    "method": "PUT", "url": f"Patient/cc{i}", "ifMatch": f'W/"{p["meta"]["versionId"]}"'}})
            seq += 1
            tag = f"c{k}-{seq}"
            cond = rnd.randrange(N_COND)
            entries.append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-%012d" % cond,
                            "resource": {"resourceType": "Patient", "identifier": [
                                {"system": "urn:test:cond", "value": str(cond)}]},
                            "request": {"method": "POST", "url": "Patient",
                                        "ifNoneExist": f"identifier=urn:test:cond|{cond}"}})
            entries.append({"resource": {"resourceType": "Observation", "status": "final",
                                         "code": {"text": tag},
                                         "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-%012d" % cond}},
                            "request": {"method": "POST", "url": "Observation"}})
            rnd.shuffle(entries)
            st, r = cl.request("POST", "/", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
            with lock:
                stats[st] += 1
                if st == 200:
                    for i in pick:
                        acked[f"cc{i}"] += 1
                    for e in r["entry"]:
                        loc = e["response"].get("location", "")
                        if loc.startswith("Observation/"):
                            observations.append(loc.split("/")[1])
                elif st not in (409, 412):
                    errors.append(f"transaction: {st} {json.dumps(r)[:300]}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + TIMEOUT)
        if t.is_alive():
            fail("a client is still waiting: deadlock or hang")
    if errors:
        fail(errors[0])
    print(f"{sum(stats.values())} transactions in {seconds} s by {clients} clients: "
          + ", ".join(f"{s}: {n}" for s, n in sorted(stats.items())))
    if not stats[200]:
        fail("no transaction succeeded")
    for i in range(N_SHARED):
        st, p = setup.request("GET", f"/Patient/cc{i}")
        want = acked[f"cc{i}"]
        if p["multipleBirthInteger"] != want or int(p["meta"]["versionId"]) != want + 1:
            fail(f"Patient/cc{i}: counter {p['multipleBirthInteger']}, version {p['meta']['versionId']}; "
                 f"{want} increments acknowledged (lost update)")
    print(f"ok the {N_SHARED} shared Patients equal a serial replay ({sum(acked.values())} increments)")
    for i in range(N_COND):
        st, b = setup.request("GET", f"/Patient?identifier=urn:test:cond|{i}&_summary=count")
        if b["total"] != 1:
            fail(f"identifier {i}: {b['total']} Patients (conditional create raced)")
    print(f"ok each of the {N_COND} conditionally created Patients exists once")
    st, b = setup.request("GET", "/Observation?_summary=count")
    if b["total"] - obs_before != len(observations):
        fail(f"{b['total'] - obs_before} Observations stored, {len(observations)} acknowledged")
    for oid in observations[:: max(1, len(observations) // 200)]:
        st, _ = setup.request("GET", f"/Observation/{oid}")
        if st != 200:
            fail(f"acknowledged Observation/{oid}: {st}")
    print(f"ok {len(observations)} acknowledged Observations, all stored, no others")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("synthea")
    s.add_argument("dir")
    c = sub.add_parser("concurrency")
    c.add_argument("--clients", type=int, default=20)
    c.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    if a.cmd == "synthea":
        synthea(Client(a.base), a.dir)
    else:
        concurrency(a.base, a.clients, a.seconds)


if __name__ == "__main__":
    main()
