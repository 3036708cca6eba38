#!/usr/bin/env python3
"""The SQL the server runs for Patient/$everything, its query plans and its
time in SQLite alone (no HTTP, no JSON), for bench/everything.sh.

    bench/everything-plans.py DB src/fhir/search_params.c SERVER_LOG BASE

SERVER_LOG is the log of a server run at --log-level debug (BASE, its base
URL: http://127.0.0.1:PORT/fhir), in which
bench/everything.sh wrote a line "== NAME PATH" before each request. For each
request this script writes the page statement and the include statement of
its first page the way src/store/sqlite_query.c builds them (compartment_cond,
include_sql: the same text, the same ?N numbering) with the same values, and
checks that each starts with what the server logged (the log cuts lines at
1 KiB, so only the start can be compared: a mismatch is printed and makes the
exit status 1). When sqlite_query.c changes, this file must change with it.
Then it prints, in Markdown, EXPLAIN QUERY PLAN of each statement and the
best of 5 runs after a warm-up one, on a connection with the pragmas of the
server's readers (mmap, cache). A plan line that scans a table is marked
`<-- SCAN`: the walk of every patient's records in rid order (it stops after
a page) and anything else, which is a defect and makes the exit status 1.
`SCAN d` is the small set of a page's distinct targets.
Python 3 standard library only; the database is opened read-only.
"""
import calendar
import re
import sqlite3
import sys
import time

TENANT = 1
FLAGGED = []
HIT = ("r.rid, r.type, r.id, v.version, v.last_updated, v.deleted, v.json, v.seq,"
       " v.interaction")


def read_tables(path):
    """Parameter keys (row * 4) with their types, the resource types in table
    order, and the Patient compartment's reference parameters in row order."""
    text = open(path, encoding="utf-8").read()
    rows = {}
    for m in re.finditer(r'/\* (\d+) \*/ \{ "(\w+)", "([\w\-.:]+)",.*?FHIR_SEARCH_(\w+),', text, re.S):
        rows[(m.group(2), m.group(3))] = (int(m.group(1)), m.group(4))
    types = sorted({t for t, _ in rows})
    comp = text[text.index("fhir_compartment_rows["):]
    comp = comp[:comp.index("};")]
    params, in_comp = [], set()
    for c, t, p in re.findall(r'\{ "(\w+)", "(\w+)", "([\w-]+)" \}', comp):
        if c != "Patient":
            continue
        in_comp.add(t)
        row = rows.get((t, p))
        if row and row[1] == "REFERENCE":
            params.append(row[0] * 4)
    return types, params, in_comp


class Sql:
    """Text and values, numbered as sqlite_query.c numbers them."""

    def __init__(self):
        self.text, self.values = "", []

    def add(self, s):
        self.text += s

    def bind(self, v, anon=False):
        self.values.append(v)
        self.text += "?" if anon else "?%d" % len(self.values)

    def binds(self, vs, sep=", ", anon=False):
        for i, v in enumerate(vs):
            self.add(sep if i else "")
            self.bind(v, anon)


def last_updated(q, lo, hi):
    """_lastUpdated=ge: gt or eq (range_cond)."""
    q.add("((r.last_updated>")
    q.bind(hi)
    q.add(" OR (r.last_updated>=")
    q.bind(lo)
    q.add(" AND r.last_updated<=")
    q.bind(hi)
    q.add(" AND r.last_updated<=")
    q.bind(hi)
    q.add(")))")


def page_sql(params, pid, base, count, types=None, since=None):
    q = Sql()
    q.add("SELECT " + HIT + ", r.rid FROM resource r JOIN resource_version v ON v.seq=r.seq WHERE +r.tenant=")
    q.bind(TENANT)
    q.add(" AND r.deleted=0")
    if since:
        q.add(" AND ")
        last_updated(q, *since)
    if types:
        q.add(" AND r.type IN (")
        q.binds(types)
        q.add(")")
    q.add(" AND ")
    if pid:
        q.add("r.rid IN (SELECT rid FROM ix_reference WHERE tenant=")
        q.bind(TENANT)
        q.add(" AND param IN (")
        q.binds(params)
        q.add(") AND id=")
        q.bind(pid)
        q.add(" AND type=")
        q.bind("Patient")
        q.add(" AND +url IN ('', ")
        q.bind(base + "/Patient/" + pid)
        q.add(") UNION ALL SELECT rid FROM resource WHERE tenant=")
        q.bind(TENANT)
        q.add(" AND type=")
        q.bind("Patient")
        q.add(" AND id=")
        q.bind(pid)
        q.add(")")
    else:
        q.add("(r.type=")
        q.bind("Patient")
        q.add(" OR EXISTS (SELECT 1 FROM ix_reference c1 JOIN resource o1 ON o1.tenant=c1.tenant"
              " AND o1.type=c1.type AND o1.id=c1.id AND o1.deleted=0 WHERE c1.rid=r.rid"
              " AND +c1.param IN (")
        q.binds(params)
        q.add(") AND c1.type=")
        q.bind("Patient")
        q.add(" AND c1.tenant=")
        q.bind(TENANT)
        q.add(" AND c1.url IN ('', ")
        q.bind(base + "/Patient/")
        q.add("||c1.id)))")
    q.add(" ORDER BY r.rid LIMIT ")
    q.bind(count + 1)
    return q


def include_sql(rids, outside, since=None):
    q = Sql()
    q.add("SELECT " + HIT + " FROM resource r JOIN resource_version v ON v.seq=r.seq"
          " WHERE r.rid IN (SELECT t.rid FROM (SELECT DISTINCT x.type, x.id FROM ix_reference x"
          " WHERE +x.url='' AND +x.tenant=")
    q.bind(TENANT)
    q.add(" AND x.type IN (")
    q.binds(outside)
    q.add(") AND x.rid IN (")
    q.binds(rids, ",", anon=True)
    q.add(")) d CROSS JOIN resource t ON t.tenant=")
    q.bind(TENANT)
    q.add(" AND t.type=d.type AND t.id=d.id) AND +r.tenant=")
    q.bind(TENANT)
    q.add(" AND r.deleted=0")
    if since:
        q.add(" AND ")
        last_updated(q, *since)
    q.add(" AND r.type IN (")
    q.binds(outside)
    q.add(")")
    return q


def plan(db, q):
    lines, depth = [], {0: 0}
    for node, parent, _, text in db.execute("EXPLAIN QUERY PLAN " + q.text, q.values):
        depth[node] = depth.get(parent, 0) + 1
        mark = ""
        if text == "SCAN r":
            mark = "   <-- SCAN in rid order, stopped by LIMIT after a page"
        elif text.startswith("SCAN") and text != "SCAN d" and "CONSTANT" not in text:
            mark = "   <-- SCAN"
            print("FLAGGED a scan: %s" % text, file=sys.stderr)
            FLAGGED.append(text)
        lines.append("  " * depth[node] + text + mark)
    best, rows = None, db.execute(q.text, q.values).fetchall()	# warm-up
    for _ in range(5):
        t0 = time.perf_counter()
        rows = db.execute(q.text, q.values).fetchall()
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    return lines, rows, best * 1000


def main():
    db_path, table_path, log_path, base = sys.argv[1:5]
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    for pragma in ("query_only=1", "mmap_size=1073741824", "cache_size=-16384"):  # as the server's readers
        db.execute("PRAGMA " + pragma)
    types, params, in_comp = read_tables(table_path)
    outside = [t for t in types if t not in in_comp and t != "Patient"]
    logged, name, path = {}, None, None
    for line in open(log_path, encoding="utf-8", errors="replace"):
        if line.startswith("== "):
            _, name, path = line.split(None, 2)
            logged[name] = (path.strip(), [])
            continue
        m = re.search(r"debug search sql: (.*)$", line.rstrip("\n"))
        if m and name:
            logged[name][1].append(m.group(1))
    status = 0
    for name, (path, sqls) in logged.items():
        count = int(re.search(r"_count=(\d+)", path).group(1)) if "_count=" in path else 100
        pid = "big" if "/Patient/big/" in path else None
        types_ = re.search(r"_type=([\w,]+)", path)
        types_ = types_.group(1).split(",") if types_ else None
        since = None
        m = re.search(r"_since=(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z", path)
        if m:  # an instant to the second: [lo, lo + 999] ms
            lo = calendar.timegm(tuple(int(x) for x in m.groups())) * 1000
            since = (lo, lo + 999)
        page_types = [t for t in types if t in types_] if types_ else None
        page = page_sql(params, pid, base, count, page_types, since)
        print("\n**%s** `%s`\n```" % (name, path))
        lines, rows, ms = plan(db, page)
        print("page (%d rows, %.2f ms in SQLite):" % (min(len(rows), count), ms))
        print("\n".join(lines))
        inc_types = [t for t in outside if not types_ or t in types_]
        statements = [("page", page)]
        if rows and inc_types:
            inc = include_sql([r[0] for r in rows[:count]], inc_types, since)
            lines, irows, ms = plan(db, inc)
            print("include (%d rows, %.2f ms in SQLite):" % (len(irows), ms))
            print("\n".join(lines))
            statements.append(("include", inc))
        print("```")
        for (what, q), got in zip(statements, sqls):
            if not q.text.startswith(got[:len(q.text)]) or not got.startswith(q.text[:len(got)]):
                at = next(i for i, (a, b) in enumerate(zip(q.text, got)) if a != b)
                print("MISMATCH %s %s: the server logged ...%s..., this script wrote ...%s..." %
                      (name, what, got[max(0, at - 40):at + 40], q.text[max(0, at - 40):at + 40]),
                      file=sys.stderr)
                status = 1
        if len(sqls) != len(statements):
            print("MISMATCH %s: the server ran %d statements, this script wrote %d" %
                  (name, len(sqls), len(statements)), file=sys.stderr)
            status = 1
    return 1 if FLAGGED else status


if __name__ == "__main__":
    sys.exit(main())
