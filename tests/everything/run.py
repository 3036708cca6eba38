#!/usr/bin/env python3
"""Patient/$everything over HTTP, against what the generator wrote.

    tests/everything/run.py --base http://127.0.0.1:PORT/fhir --gen DIR

DIR holds bench/everything-gen.py's output (store.ndjson, manifest.json).
The store is loaded with plain PUTs (16 at a time); then each check compares
what the server returns, over all its pages, with an expected set computed
here: the generator's list of the big patient's record (and of what it
refers to), the plain compartment searches (GET Patient/big/Type, another
code path), and the resources as loaded, tracked through the writes this
script makes. Every page is also checked: no match twice, no more matches
than _count, fullUrls that name their resource, every included resource
referred to by a match of the same page, no 5xx. Exits 1 on any failure.
Python 3 standard library only.
"""
import argparse
import concurrent.futures
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# Types in no patient's compartment (what $everything includes).
OUTSIDE = {"Organization", "Practitioner", "Location", "Medication"}
FAILURES = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILURES.append(what)


class Server:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def request(self, method, path, body=None, ctype="application/fhir+json"):
        url = path if path.startswith("http") else self.base + path
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def put(self, res):
        status, body = self.request("PUT", f"/{res['resourceType']}/{res['id']}", json.dumps(res))
        if status not in (200, 201):
            raise SystemExit(f"PUT {res['resourceType']}/{res['id']}: {status} {body[:300]!r}")

    def delete(self, key):
        status, _ = self.request("DELETE", "/" + key)
        if status != 200:
            raise SystemExit(f"DELETE {key}: {status}")


def refs(res):
    """Type/id of every relative reference in a resource."""
    out = set()

    def walk(v):
        if isinstance(v, dict):
            r = v.get("reference")
            if isinstance(r, str) and re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9.-]+", r):
                out.add(r)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(res)
    return out


class Record:
    """Everything a request returned over all its pages."""

    def __init__(self):
        self.match, self.include, self.pages, self.total = [], set(), 0, None
        self.resources = {}


def everything(srv, path, count, method="GET", body=None, ctype=None, between=None, what=""):
    """Follows the next links of a $everything request and checks each page."""
    rec = Record()
    url = path
    while url:
        if rec.pages == 0 and method == "POST":
            status, raw = srv.request("POST", url, body, ctype)
        else:
            status, raw = srv.request("GET", url)
        if status != 200:
            check(False, f"{what}: page {rec.pages + 1} is {status}: {raw[:300]!r}")
            return rec
        b = json.loads(raw)
        rec.pages += 1
        if rec.pages == 1:
            rec.total = b.get("total")
        if b.get("type") != "searchset":
            check(False, f"{what}: Bundle.type is {b.get('type')}")
        matches, page_refs, includes = [], set(), []
        for e in b.get("entry", []):
            mode, r = e["search"]["mode"], e["resource"]
            if mode == "outcome":
                continue
            key = f"{r['resourceType']}/{r['id']}"
            if not e["fullUrl"].endswith("/" + key):
                check(False, f"{what}: fullUrl {e['fullUrl']} names another resource than {key}")
            rec.resources[key] = r
            if mode == "match":
                matches.append(key)
                page_refs |= refs(r)
            else:
                includes.append(key)
        if count and len(matches) > count:
            check(False, f"{what}: page {rec.pages} has {len(matches)} matches for _count={count}")
        stray = [k for k in includes if k not in page_refs]
        if stray:
            check(False, f"{what}: page {rec.pages} includes {stray[:3]} that no match of the page refers to")
        rec.match += matches
        rec.include |= set(includes)
        nxt = [link["url"] for link in b.get("link", []) if link["relation"] == "next"]
        if between:
            between(rec.pages)
        url = nxt[0] if nxt else None
    dup = {k for k in rec.match if rec.match.count(k) > 1}
    if dup:
        check(False, f"{what}: matches on two pages: {sorted(dup)[:5]}")
    return rec


def same(what, got, want):
    got, want = set(got), set(want)
    extra, missing = sorted(got - want), sorted(want - got)
    check(not extra and not missing,
          f"{what}: {len(got)} resources" + (f"; extra {extra[:5]}" if extra else "")
          + (f"; missing {missing[:5]}" if missing else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--gen", required=True)
    a = ap.parse_args()
    srv = Server(a.base)
    manifest = json.load(open(f"{a.gen}/manifest.json"))
    store = {}
    with open(f"{a.gen}/store.ndjson", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            store[f"{r['resourceType']}/{r['id']}"] = r
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(srv.put, store.values()))
    print(f"loaded {len(store)} resources in {time.time() - t0:.1f} s")

    big = manifest["big"]
    members, referenced = set(big["members"]), set(big["referenced_ids"])
    E = "/Patient/big/$everything"

    # 1. The whole record, page after page, against the generator's lists.
    rec = everything(srv, E + "?_count=50", 50, what="_count=50")
    same("big's record, 50 a page: the matches are its Patient and compartment", rec.match, members)
    same("big's record, 50 a page: the includes are what they refer to outside", rec.include, referenced)
    check(rec.pages == (len(members) + 49) // 50, f"{rec.pages} pages of 50 for {len(members)} matches")

    # 2. The default page size, and one page that holds everything.
    status, raw = srv.request("GET", E)
    b = json.loads(raw)
    n = sum(e["search"]["mode"] == "match" for e in b.get("entry", []))
    check(status == 200 and n == min(100, len(members)) and "total" not in b
          and any(link["relation"] == "next" for link in b["link"]) == (len(members) > 100),
          f"default _count: {n} matches on the first page, a next link, no total")
    rec = everything(srv, E + "?_count=1000", 1000, what="_count=1000")
    check(rec.pages == 1 and rec.total == len(members), f"_count=1000: one page, total {rec.total}")

    # 3. The same set as the plain compartment searches (another code path).
    want = {"Patient/big"}
    for t in big["types"]:
        if t == "Patient":
            continue
        url = f"/Patient/big/{t}?_count=1000"
        while url:
            status, raw = srv.request("GET", url)
            b = json.loads(raw)
            want |= {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in b.get("entry", [])
                     if e["search"]["mode"] == "match"}
            url = next((link["url"] for link in b["link"] if link["relation"] == "next"), None)
    same("the matches equal the compartment searches Patient/big/Type", rec.match, want)

    # 4. _type: the record's Observations and the Practitioners they name.
    rec = everything(srv, E + "?_type=Observation,Practitioner&_count=200", 200, what="_type")
    obs = {k for k in members if k.startswith("Observation/")}
    same("_type=Observation,Practitioner: the matches", rec.match, obs)
    named = set().union(*(refs(store[k]) for k in obs))
    same("_type=Observation,Practitioner: the includes", rec.include,
         {k for k in named if k.startswith("Practitioner/")})

    # 5. POST, as a form and as Parameters, is the same request.
    for how, body, ctype in (
            ("form", "_type=Encounter%2CLocation&_count=30", "application/x-www-form-urlencoded"),
            ("Parameters", json.dumps({"resourceType": "Parameters", "parameter": [
                {"name": "_type", "valueCode": "Encounter"}, {"name": "_type", "valueCode": "Location"},
                {"name": "_count", "valueInteger": 30}]}), "application/fhir+json")):
        got = everything(srv, E, 30, "POST", body, ctype, what=f"POST {how}")
        enc = {k for k in members if k.startswith("Encounter/")}
        same(f"POST ({how}): Encounters", got.match, enc)
        same(f"POST ({how}): their Locations", got.include,
             {k for k in set().union(*(refs(store[e]) for e in enc)) if k.startswith("Location/")})

    # 6. _since: only what changed after the instant.
    time.sleep(0.01)
    now = time.time()
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (int(now * 1000) % 1000)
    time.sleep(0.01)
    changed = sorted(k for k in members if k.startswith("Observation/"))[:3]
    for k in changed:
        store[k]["status"] = "amended"
        srv.put(store[k])
    late = {"resourceType": "Condition", "id": "big-late", "subject": {"reference": "Patient/big"},
            "code": {"text": "late"}}
    srv.put(late)
    store["Condition/big-late"] = late
    members.add("Condition/big-late")
    rec = everything(srv, E + "?_since=" + urllib.parse.quote(since), 0, what="_since")
    same("_since: the resources written after it", rec.match, set(changed) | {"Condition/big-late"})
    check(not rec.include, "_since: nothing referred to changed, so nothing is included")

    # 7. Pages stay right while data change: a resource created after page
    # 1 comes at the end; one deleted before its page never comes.
    order = everything(srv, E + "?_count=100", 100, what="order").match
    gone = order[-5]

    def between(page):
        if page != 1:
            return
        new = {"resourceType": "Observation", "id": "big-new", "status": "final",
               "code": {"text": "new"}, "subject": {"reference": "Patient/big"}}
        srv.put(new)
        store["Observation/big-new"] = new
        srv.delete(gone)
        del store[gone]
    rec = everything(srv, E + "?_count=100", 100, between=between, what="while writing")
    members.add("Observation/big-new")
    members.discard(gone)
    same("pages while writing: each live resource once, the new one, not the deleted one",
         rec.match, members)

    # 8. Every patient's record: all patients, all their resources.
    everyone = {k for k in store if k.split("/")[0] not in OUTSIDE}
    rec = everything(srv, "/Patient/$everything?_count=1000", 1000, what="Patient/$everything")
    same("Patient/$everything: every patient and every compartment resource", rec.match, everyone)
    same("Patient/$everything: what they refer to outside",
         rec.include, {k for k in set().union(*(refs(store[m]) for m in everyone)) if k.split("/")[0] in OUTSIDE})

    # 9. Unknown and deleted patients; a deleted patient's resources leave
    # everyone's record.
    srv.put({"resourceType": "Patient", "id": "gone"})
    srv.put({"resourceType": "Observation", "id": "gone-obs", "status": "final", "code": {"text": "x"},
             "subject": {"reference": "Patient/gone"}})
    srv.delete("Patient/gone")
    status, _ = srv.request("GET", "/Patient/gone/$everything")
    check(status == 410, f"a deleted patient: {status}")
    status, _ = srv.request("GET", "/Patient/never/$everything")
    check(status == 404, f"an unknown patient: {status}")
    rec = everything(srv, "/Patient/$everything?_type=Observation&_count=1000", 1000, what="after delete")
    check("Observation/gone-obs" not in rec.match, "a deleted patient's Observation is in nobody's record")

    print(f"{len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
