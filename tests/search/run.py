#!/usr/bin/env python3
"""The hand-written FHIR R4 search suite (issue #3), run against a live server.

    python3 tests/search/run.py --base http://127.0.0.1:PORT/fhir [--load FIXTURE] [CASES]

--load PUTs every line of the fixture (tests/data/search/fixture.ndjson) so that ids are
fixed; every PUT must answer 200 or 201. Then each row of the case table
(tests/data/search/cases.tsv, whose header explains the columns) is sent, every `next` link
is followed, and the result is compared with the expected sets written by hand. The
scripted cases at the end of this file (paging while data change, re-indexing on update and
delete) run after the table, because they change the store.

One line per case, PASS or FAIL with the reason, then "N passed, N failed"; the exit status
is 1 when a case failed, 2 when the fixture could not be loaded. Standard library only.

  --only GLOB      run only the cases whose name matches (fnmatch; scripted cases included)
  --list-failing   print only failing cases (and the summary)
  -v               print each request URL
"""
import argparse
import datetime
import fnmatch
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 30
MAX_PAGES = 200
SUBSETTED = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED")


# ---- HTTP -------------------------------------------------------------------------------

def encode_target(s):
    """Percent-encodes what cannot travel in a request line (non-ASCII, space, controls);
    everything else is sent exactly as written in the case table."""
    out = []
    for ch in s:
        if ord(ch) > 0x7E or ord(ch) <= 0x20:
            out.append(urllib.parse.quote(ch, safe=""))
        else:
            out.append(ch)
    return "".join(out)


def encode_form(s):
    """A form body written as k=v&k=v with raw UTF-8: encode each name and value."""
    parts = []
    for pair in s.split("&"):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        parts.append(encode_target(k) + "=" + encode_target(v))
    return "&".join(parts).encode()


class Response:
    def __init__(self, status, body, headers):
        self.status, self.body, self.headers = status, body, headers
        self._json = None

    def json(self):
        if self._json is None:
            self._json = json.loads(self.body.decode("utf-8"))
        return self._json


def http(method, url, body=None, headers=None, verbose=False):
    h = {"Accept": "application/fhir+json"}
    h.update(headers or {})
    if verbose:
        print(f"    {method} {url}", file=sys.stderr)
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return Response(r.status, r.read(), dict(r.headers))
    except urllib.error.HTTPError as e:
        return Response(e.code, e.read(), dict(e.headers or {}))


# ---- the case table ---------------------------------------------------------------------

class Case:
    def __init__(self, line_no, name, request, status, match, include, checks, why):
        self.line_no, self.name, self.why = line_no, name, why
        self.status = int(status)
        self.method, self.target, self.body, self.headers = parse_request(request)
        self.match = parse_set(match)
        self.include = parse_set(include)
        self.checks = checks.split() if checks.strip() not in ("", "-") else []


def parse_request(text):
    """METHOD TARGET [| body=FORM] [| header=Name: value]..."""
    parts = [p.strip() for p in text.split(" | ")]
    method, _, target = parts[0].partition(" ")
    body, headers = None, {}
    for p in parts[1:]:
        if p.startswith("body="):
            body = p[5:]
        elif p.startswith("header="):
            k, _, v = p[7:].partition(":")
            headers[k.strip()] = v.strip()
        else:
            raise ValueError(f"unknown request option {p!r}")
    return method, target.strip(), body, headers


def parse_set(text):
    """'*' = not checked; '-' = none; else space-separated Type/id (order kept)."""
    text = text.strip()
    if text == "*":
        return None
    if text in ("-", ""):
        return []
    return text.split()


def load_cases(path):
    cases, names = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#") or line.startswith("name\t"):
                continue
            cols = line.split("\t")
            if len(cols) != 7:
                raise SystemExit(f"{path}:{n}: {len(cols)} columns, want 7")
            c = Case(n, *cols)
            if c.name in names:
                raise SystemExit(f"{path}:{n}: duplicate case name {c.name}")
            names.add(c.name)
            cases.append(c)
    return cases


# ---- running one search -----------------------------------------------------------------

class Result:
    """All pages of one search."""
    def __init__(self):
        self.status = None
        self.first = None	# the first page (Bundle or OperationOutcome)
        self.pages = []
        self.matches = []	# Type/id in order, over all pages
        self.includes = []	# per page: list of Type/id
        self.outcomes = []	# OperationOutcome resources with search.mode=outcome
        self.errors = []	# structural problems found on the way
        self.resources = {}	# Type/id -> resource (the last one seen)


def substitute(s, env):
    for k, v in env.items():
        s = s.replace("{" + k + "}", v)
    return s


def run_search(env, method, target, body=None, headers=None, verbose=False, between_pages=None):
    base = env["base"]
    target = substitute(target, env)
    if target.startswith("?") or target == "":
        url = base + encode_target(target)
    else:
        url = base + "/" + encode_target(target)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = encode_form(substitute(body, env))
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
    res = Result()
    r = http(method, url, data, h, verbose)
    res.status = r.status
    try:
        res.first = r.json()
    except (ValueError, UnicodeDecodeError) as e:
        res.errors.append(f"response is not JSON ({e}): {r.body[:200]!r}")
        return res
    if r.status != 200:
        return res
    count = count_param(target, body)
    seen_urls = set()
    page = res.first
    while True:
        res.pages.append(page)
        check_page(page, res, count)
        nxt = link(page, "next")
        if not nxt:
            break
        if len(res.pages) >= MAX_PAGES:
            res.errors.append(f"more than {MAX_PAGES} pages")
            break
        if nxt in seen_urls:
            res.errors.append(f"next link loops: {nxt}")
            break
        seen_urls.add(nxt)
        if between_pages:
            between_pages(len(res.pages))
        nurl = urllib.parse.urljoin(base + "/", nxt)
        r = http("GET", nurl, None, {k: v for k, v in h.items() if k.lower() == "prefer"}, verbose)
        if r.status != 200:
            res.errors.append(f"next page {nxt} answered {r.status}: {r.body[:200]!r}")
            break
        try:
            page = r.json()
        except ValueError:
            res.errors.append(f"next page {nxt} is not JSON")
            break
    dup = sorted({m for m in res.matches if res.matches.count(m) > 1})
    if dup:
        res.errors.append(f"matches repeated across pages: {' '.join(dup)}")
    return res


def count_param(target, body):
    q = target.partition("?")[2]
    if body:
        q = q + "&" + body
    for pair in q.split("&"):
        k, _, v = pair.partition("=")
        if k == "_count" and v.isdigit():
            return int(v)
    return None


def link(bundle, rel):
    for l in bundle.get("link", []) or []:
        if l.get("relation") == rel:
            return l.get("url")
    return None


def check_page(page, res, count):
    """Structure every searchset page must have (R4 search.html, bundle.html)."""
    errs = res.errors
    if page.get("resourceType") != "Bundle":
        errs.append(f"page is a {page.get('resourceType')}, not a Bundle")
        return
    if page.get("type") != "searchset":
        errs.append(f"Bundle.type {page.get('type')!r}, want searchset")
    if not link(page, "self"):
        errs.append("no self link")
    seen = set()
    page_matches, page_includes = 0, []
    for i, e in enumerate(page.get("entry", []) or []):
        r = e.get("resource") or {}
        mode = (e.get("search") or {}).get("mode")
        key = f"{r.get('resourceType')}/{r.get('id')}"
        if mode == "outcome":
            if r.get("resourceType") != "OperationOutcome":
                errs.append(f"entry {i}: mode outcome on a {r.get('resourceType')}")
            # R4 http.html (search): such an OperationOutcome "SHALL NOT include any
            # issues with a fatal or error severity".
            for issue in r.get("issue", []) or []:
                if issue.get("severity") in ("fatal", "error"):
                    errs.append(f"entry {i}: search.mode=outcome with a {issue.get('severity')} issue")
            res.outcomes.append(r)
            continue
        full = e.get("fullUrl", "")
        if not full.endswith("/" + key):
            errs.append(f"entry {i}: fullUrl {full!r} does not end with /{key}")
        if key in seen:
            errs.append(f"entry {i}: {key} appears twice in one page")
        seen.add(key)
        res.resources[key] = r
        if mode == "match":
            res.matches.append(key)
            page_matches += 1
        elif mode == "include":
            page_includes.append(key)
        else:
            errs.append(f"entry {i} ({key}): search.mode {mode!r}")
    res.includes.append(page_includes)
    if count is not None and page_matches > count:
        errs.append(f"a page holds {page_matches} matches, more than _count={count}")


# ---- comparing ------------------------------------------------------------------------

def diff_sets(what, want, got):
    w, g = set(want), set(got)
    if w == g:
        return None
    parts = []
    if w - g:
        parts.append("missing " + " ".join(sorted(w - g)))
    if g - w:
        parts.append("unexpected " + " ".join(sorted(g - w)))
    return f"{what}: " + "; ".join(parts)


def oo_text(oo):
    t = []
    for issue in oo.get("issue", []) or []:
        t.append(issue.get("diagnostics", "") or "")
        t.append(((issue.get("details") or {}).get("text")) or "")
        t.extend(issue.get("expression", []) or [])
    return " ".join(t).lower()


def has_tag(resource, system_code):
    for t in (resource.get("meta") or {}).get("tag", []) or []:
        if (t.get("system"), t.get("code")) == system_code:
            return True
    return False


def evaluate(case, res):
    """The reasons case fails, [] when it passes."""
    why = []
    if res.status != case.status:
        body = json.dumps(res.first, ensure_ascii=False)[:300] if res.first is not None else ""
        why.append(f"status {res.status}, want {case.status} {body}")
        return why
    if res.status >= 400:
        oo = res.first or {}
        if oo.get("resourceType") != "OperationOutcome" or not oo.get("issue"):
            why.append("error body is not an OperationOutcome with an issue")
    why.extend(res.errors)
    if res.status == 200:
        if case.match is not None:
            d = diff_sets("match", case.match, res.matches)
            if d:
                why.append(d)
            elif "ordered" in case.checks and res.matches != case.match:
                why.append(f"order {' '.join(res.matches)}, want {' '.join(case.match)}")
        if case.include is not None:
            got = [k for p in res.includes for k in p]
            d = diff_sets("include", case.include, got)
            if d:
                why.append(d)
    for chk in case.checks:
        r = check_one(chk, res)
        if r:
            why.append(r)
    return why


def check_one(chk, res):
    first = res.first if isinstance(res.first, dict) else {}
    if chk == "ordered":
        return None
    if chk.startswith("total="):
        want = int(chk[6:])
        if first.get("total") != want:
            return f"Bundle.total {first.get('total')!r}, want {want}"
        return None
    if chk == "nototal":
        return None if "total" not in first else f"Bundle.total {first['total']!r} present, want none"
    if chk == "noentries":
        n = sum(1 for p in res.pages for e in p.get("entry", []) or []
                if (e.get("search") or {}).get("mode") != "outcome")
        return None if n == 0 else f"{n} entries, want none"
    if chk == "nonext":
        return None if not link(first, "next") else "a next link, want none"
    if chk.startswith("pages>="):
        want = int(chk[7:])
        return None if len(res.pages) >= want else f"{len(res.pages)} pages, want at least {want}"
    if chk.startswith("outcome~"):
        text = chk[8:].lower()
        if any(text in oo_text(o) for o in res.outcomes):
            return None
        return f"no search.mode=outcome OperationOutcome mentioning {text!r}"
    if chk.startswith("diag~"):
        text = chk[5:].lower()
        return None if text in oo_text(first) else f"OperationOutcome does not mention {text!r}: {oo_text(first)[:200]}"
    if chk.startswith("self~") or chk.startswith("selfomits~"):
        # R4 search.html: the self link carries the parameters actually used.
        kind, _, text = chk.partition("~")
        url = urllib.parse.unquote(link(first, "self") or "")
        query = url.partition("?")[2]
        if kind == "self" and text not in query:
            return f"self link {url!r} does not contain {text!r}"
        if kind == "selfomits" and text in query:
            return f"self link {url!r} contains the ignored {text!r}"
        return None
    if chk == "include-each-page":
        for i, (p, inc) in enumerate(zip(res.pages, res.includes)):
            if not inc and any((e.get("search") or {}).get("mode") == "match" for e in p.get("entry", []) or []):
                return f"page {i + 1} has matches but no included resources"
        return None
    for prefix in ("has:", "lacks:", "subsetted:", "notsubsetted:"):
        if chk.startswith(prefix):
            rest = chk[len(prefix):]
            key, _, elems = rest.partition("=")
            r = res.resources.get(key)
            if r is None:
                return f"{chk}: {key} not in the result"
            if prefix == "subsetted:":
                return None if has_tag(r, SUBSETTED) else f"{key} lacks the SUBSETTED tag"
            if prefix == "notsubsetted:":
                return None if not has_tag(r, SUBSETTED) else f"{key} has the SUBSETTED tag"
            for el in elems.split(","):
                present = el in r
                if prefix == "has:" and not present:
                    return f"{key} lacks element {el}"
                if prefix == "lacks:" and present:
                    return f"{key} has element {el}, want it left out"
            return None
    return f"unknown check {chk!r}"


# ---- scripted cases (they change the store, so they run last) -----------------------------

def put(env, rtype, rid, resource, verbose=False):
    body = json.dumps(resource, ensure_ascii=False).encode()
    return http("PUT", f"{env['base']}/{rtype}/{rid}", body,
                {"Content-Type": "application/fhir+json"}, verbose)


def delete(env, rtype, rid, verbose=False):
    return http("DELETE", f"{env['base']}/{rtype}/{rid}", None, {}, verbose)


ALL_PATIENTS = ["Patient/pat-an", "Patient/pat-binh", "Patient/pat-le", "Patient/pat-hoa", "Patient/pat-cuong",
                "Patient/pat-ascii", "Patient/pat-child", "Patient/pat-nodata"]


def scripted_paging_insert(env, verbose, target, new_id, birth):
    """Follow every next link of `target` while a new matching Patient is created between
    page 1 and page 2 (with an id and a birth date that sort before everything, which
    shifts every OFFSET-based page). Every resource that existed before must come exactly
    once; the new one may or may not come. R4 search.html: "It is at the discretion of the
    search engine as to how to handle ongoing updates", but a page link SHALL NOT repeat or
    lose the resources that did not change (FHIR.md: links that "stay correct while data
    change")."""
    created = []

    def between(n):
        if n == 1:
            r = put(env, "Patient", new_id, {"resourceType": "Patient", "id": new_id, "birthDate": birth,
                                                 "name": [{"family": "Zzpaging"}]}, verbose)
            created.append(r.status)

    res = run_search(env, "GET", target, verbose=verbose, between_pages=between)
    why = list(res.errors)
    if res.status != 200:
        why.append(f"status {res.status}")
    if created != [201]:
        why.append(f"creating Patient/{new_id} between pages answered {created}")
    got = [m for m in res.matches if m != f"Patient/{new_id}"]
    d = diff_sets("match", ALL_PATIENTS, got)
    if d:
        why.append(d)
    if len(res.pages) < 3:
        why.append(f"{len(res.pages)} pages, want at least 3")
    r = delete(env, "Patient", new_id, verbose)
    if r.status not in (200, 204):
        why.append(f"deleting Patient/{new_id} answered {r.status}")
    return why


def scripted_paging_insert_sorted(env, verbose):
    return scripted_paging_insert(env, verbose, "Patient?_count=2&_sort=birthdate", "zz-paging-sorted", "1900-01-01")


def scripted_paging_insert_default(env, verbose):
    return scripted_paging_insert(env, verbose, "Patient?_count=2", "aaa-paging-default", "1900-01-02")


def expect(env, verbose, target, want, what):
    res = run_search(env, "GET", target, verbose=verbose)
    if res.status != 200:
        return [f"{what}: {target} answered {res.status}"]
    why = list(res.errors)
    d = diff_sets(f"{what}: {target}", want, res.matches)
    if d:
        why.append(d)
    return why


def scripted_deleted_not_found(env, verbose):
    """The two Patients created and deleted by the paging cases are no longer found
    (a deleted resource is not a search result)."""
    why = expect(env, verbose, "Patient?_id=zz-paging-sorted,aaa-paging-default", [], "deleted by _id")
    why += expect(env, verbose, "Patient?family=zzpaging", [], "deleted by name")
    why += expect(env, verbose, "Patient?birthdate=lt1901", [], "deleted by birthdate")
    return why


def scripted_update_reindex(env, verbose):
    """An update replaces the old index entries: the old name no longer finds the
    Organization, the new one does; other parameters still work."""
    new = {"resourceType": "Organization", "id": "org-clinic", "active": False,
           "name": "Phòng khám Quốc tế Hòa Hảo"}
    r = put(env, "Organization", "org-clinic", new, verbose)
    if r.status != 200:
        return [f"update answered {r.status}"]
    why = expect(env, verbose, "Organization?name=phong kham da khoa", [], "old name")
    why += expect(env, verbose, "Organization?name=phong kham quoc te", ["Organization/org-clinic"], "new name")
    why += expect(env, verbose, "Organization?active=false", ["Organization/org-clinic"], "unchanged field")
    why += expect(env, verbose, "Patient?organization.name=phong kham quoc te",
                  ["Patient/pat-binh", "Patient/pat-cuong"], "chain through the new name")
    return why


def scripted_delete_unindex(env, verbose):
    """A deleted resource leaves every search: by value, by chain, by _has and as an include."""
    r = delete(env, "Observation", "obs-smoke-binh", verbose)
    if r.status not in (200, 204):
        return [f"delete answered {r.status}"]
    why = expect(env, verbose, "Observation?value-concept=http://snomed.info/sct|266919005", [], "by value")
    why += expect(env, verbose, "Observation?patient=pat-binh",
                  ["Observation/obs-glu-binh", "Observation/obs-bp-binh"], "by patient")
    why += expect(env, verbose, "Patient?_has:Observation:patient:code=http://loinc.org|72166-2", [], "by _has")
    res = run_search(env, "GET", "Patient?_id=pat-binh&_revinclude=Observation:patient", verbose=verbose)
    got = [k for p in res.includes for k in p]
    d = diff_sets("revinclude", ["Observation/obs-glu-binh", "Observation/obs-bp-binh"], got)
    if d:
        why.append(d)
    return why


SCRIPTED = [
    ("paging-insert-sorted", scripted_paging_insert_sorted,
     "a Patient created between page 1 and 2 (sorting first) neither repeats nor loses one"),
    ("paging-insert-default", scripted_paging_insert_default,
     "the same with the server's default order"),
    ("deleted-not-found", scripted_deleted_not_found, "deleted resources are not search results"),
    ("update-reindex", scripted_update_reindex, "an update replaces the old index entries"),
    ("delete-unindex", scripted_delete_unindex, "a delete removes the resource from every search"),
]


# ---- main -------------------------------------------------------------------------------

def load_fixture(env, path, verbose):
    n = 0
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            resp = put(env, r["resourceType"], r["id"], r, verbose)
            if resp.status not in (200, 201):
                print(f"fixture {path}:{line_no} PUT {r['resourceType']}/{r['id']} answered {resp.status}: "
                      f"{resp.body[:400].decode('utf-8', 'replace')}", file=sys.stderr)
                return False
            n += 1
    print(f"fixture: {n} resources loaded")
    return True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="?", default=os.path.join(here, "..", "data", "search", "cases.tsv"))
    ap.add_argument("--base", required=True)
    ap.add_argument("--load", metavar="FIXTURE")
    ap.add_argument("--only", default="*")
    ap.add_argument("--list-failing", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    cases = load_cases(a.cases)
    # {t0}: a second before the fixture is loaded; {t1}: a day later.
    t0 = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(seconds=1)
    env = {"base": a.base.rstrip("/"),
           "t0": t0.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "t1": (t0 + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if a.load and not load_fixture(env, a.load, a.verbose):
        sys.exit(2)

    passed, failed = 0, []
    for c in cases:
        if not fnmatch.fnmatchcase(c.name, a.only):
            continue
        try:
            res = run_search(env, c.method, c.target, c.body, c.headers, a.verbose)
            why = evaluate(c, res)
        except Exception as e:	# a dead server or a timeout is a failure of this case
            why = [f"{type(e).__name__}: {e}"]
        report(c.name, why, a.list_failing)
        if why:
            failed.append(c.name)
        else:
            passed += 1
    for name, fn, _ in SCRIPTED:
        if not fnmatch.fnmatchcase(name, a.only):
            continue
        try:
            why = fn(env, a.verbose)
        except Exception as e:
            why = [f"{type(e).__name__}: {e}"]
        report(name, why, a.list_failing)
        if why:
            failed.append(name)
        else:
            passed += 1
    if failed:
        print("failing: " + " ".join(failed))
    print(f"{passed} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


def report(name, why, only_failing):
    if why:
        print(f"FAIL {name}: " + " | ".join(why))
    elif not only_failing:
        print(f"PASS {name}")


if __name__ == "__main__":
    main()
