#!/usr/bin/env python3
"""The searches of `make bench-search`, and the SQL the server builds for them.

    bench/search-queries.py paths GEN_DIR OUT_DIR [--only NAME ...]
    bench/search-queries.py plans DB GEN_DIR src/fhir/search_params.c [--sql FILE]

`paths` writes OUT_DIR/NN-NAME.txt for bench/search.lua: two comment lines
(what the search is; an example, unencoded) then the URL paths that wrk picks
from at random, built from the values bench/gen-store.py wrote (GEN_DIR).

`plans` prints, in Markdown, for each search: the query plan SQLite chooses
(EXPLAIN QUERY PLAN) for each statement the server runs, and how long SQLite
alone takes to run it (no HTTP, no JSON) over up to --samples values. The SQL
is written here by hand exactly as src/store/sqlite_query.c builds it: the
same text, the same ?N numbering, values bound with the same types. When
sqlite_query.c changes, this file must change with it. Python's sqlite3
module links the system libsqlite3, the library the server uses (a warning
is printed if its version differs from the sqlite3 CLI's). The database is
opened read-only with the pragmas of the server's readers.

A plan line that reads more than the matches gets a `<--` and a reason:
  - a SCAN;
  - every resource of the type (resource_updated on tenant and type only);
  - every index row of the parameter;
  - a one-sided date range;
  - a sort of all matches.
The server's own statements with such lines are listed at the end, and the
last line is "FLAGGED n" for bench/search.sh. --sql FILE writes every
statement with `.parameter set` lines, to replay in the sqlite3 CLI.

PROPOSED statements are alternatives to the server's SQL (P0... in
bench/RESULTS.md). They are planned and timed next to the ones they would
replace.
"""
import argparse
import calendar
import datetime
import os
import random
import re
import sqlite3
import statistics
import sys
import time
import urllib.parse

TENANT = 1  # STORE_DEFAULT_TENANT
LOINC = "http://loinc.org"
CCCD = "http://fhir.lienthong.vn/sid/cccd"
PATHS_PER_SEARCH = 2000
HIT = ("r.rid, r.type, r.id, v.version, v.last_updated, v.deleted, v.json, v.seq,"
       " v.interaction")
SUB_VALUE = 0


# ---- values ------------------------------------------------------------------

def read_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


class Values:
    def __init__(self, gen):
        self.codes = read_lines(os.path.join(gen, "codes.txt"))
        self.cccd = read_lines(os.path.join(gen, "cccd.txt"))
        self.patients = read_lines(os.path.join(gen, "patients.txt"))
        first = datetime.date(2021, 1, 1)
        self.days = [first + datetime.timedelta(days=i)
                     for i in range((datetime.date(2025, 12, 31) - first).days + 1)]
        self.weeks = self.days[:-7]
        self.months = [datetime.date(y, m, 1) for y in range(2021, 2026) for m in range(1, 13)]


def day_ms(d):
    """[lo, hi] in ms of a date without a zone (read as UTC), as time_parse_fhir does."""
    lo = calendar.timegm(d.timetuple()) * 1000
    return lo, lo + 86400000 - 1


def next_month(d):
    return datetime.date(d.year + d.month // 12, d.month % 12 + 1, 1)


def q(v):
    return urllib.parse.quote(v, safe="/-._")


# ---- the searches ------------------------------------------------------------
#
# Each search: name, what it is, the values it rotates through, its URL for a
# value, and the statements the server runs for it: (label, SQL, binds) where
# binds(value, ctx) gives the bound values in ?N order. ctx carries the
# parameter keys and, for includes, the rids of the page.

class Keys:
    """Parameter keys as the server computes them: row index * 4 + sub
    (fhir_search_param_key), from the generated table."""

    def __init__(self, params_c):
        src = open(params_c, encoding="utf-8").read()
        self.rows = {}
        for m in re.finditer(r'/\* (\d+) \*/ \{ "([A-Za-z]+)", "([^"]+)",', src):
            self.rows[(m.group(2), m.group(3))] = int(m.group(1))
        m = re.search(r'static const char \*const targets\[\d+\] = \{(.*?)\};', src, re.S)
        self.pool = re.findall(r'"([^"]*)"', m.group(1))
        self.targets_of = {}
        rows = re.split(r'\n\t/\* \d+ \*/ ', src)
        for row in rows[1:]:
            m = re.match(r'\{ "([A-Za-z]+)", "([^"]+)",.*?\n\t  (?:targets \+ (\d+), (\d+)|NULL, 0),', row, re.S)
            if m and m.group(3):
                at = int(m.group(3))
                self.targets_of[(m.group(1), m.group(2))] = self.pool[at:at + int(m.group(4))]

    def __call__(self, rtype, code, sub=SUB_VALUE):
        return self.rows[(rtype, code)] * 4 + sub


def token_clause(alias, n):
    """A token clause system|code on `alias`, its binds starting at ?n."""
    return ("(%s.rid IN (SELECT rid FROM ix_token WHERE tenant=?%d AND param=?%d AND"
            " ((1 AND code=?%d AND system=?%d))))" % (alias, n, n + 1, n + 2, n + 3))


def page_sql(where, limit_at):
    return ("SELECT " + HIT + " FROM resource r JOIN resource_version v ON v.seq=r.seq WHERE "
            + where + " ORDER BY r.rid LIMIT ?%d" % limit_at)


def count_sql(where):
    return "SELECT count(*) FROM resource r WHERE " + where


RES = "r.tenant=?1 AND r.type=?2 AND r.deleted=0"

# where: Observation?code=system|code
W_CODE = RES + " AND " + token_clause("r", 3)
# where: Observation?code=code (no system)
W_CODE_ONLY = (RES + " AND (r.rid IN (SELECT rid FROM ix_token WHERE tenant=?3 AND param=?4 AND"
               " ((1 AND code=?5))))")
# where: Observation?subject=Patient/id
W_REF = (RES + " AND (r.rid IN (SELECT rid FROM ix_reference WHERE tenant=?3 AND param=?4 AND"
         " ((1 AND type=?5 AND id=?6))))")
# where: Observation?date=D (eq: the day covers the value)
W_DAY = (RES + " AND (r.rid IN (SELECT rid FROM ix_date WHERE tenant=?3 AND param=?4 AND"
         " ((lo>=?5 AND hi<=?6))))")
# where: Observation?date=geD1&date=ltD2
W_RANGE = (RES + " AND (r.rid IN (SELECT rid FROM ix_date WHERE tenant=?3 AND param=?4 AND"
           " ((hi>?5 OR (lo>=?6 AND hi<=?7)))))"
           " AND (r.rid IN (SELECT rid FROM ix_date WHERE tenant=?8 AND param=?9 AND (lo<?10)))")


def w_chain(targets):
    """Observation?subject.identifier=system|value: one sub-query per target
    type of subject that has an identifier parameter (t1, t2, ...)."""
    parts, n = [], 5
    for i, _ in enumerate(targets):
        alias = "t%d" % (i + 1)
        parts.append("(1 AND type=?%d AND id IN (SELECT %s.id FROM resource %s WHERE %s.tenant=?%d"
                     " AND %s.type=?%d AND %s.deleted=0 AND %s))"
                     % (n, alias, alias, alias, n + 1, alias, n + 2, alias,
                        token_clause(alias, n + 3)))
        n += 7
    return (RES + " AND (r.rid IN (SELECT rid FROM ix_reference WHERE tenant=?3 AND param=?4 AND ("
            + " OR ".join(parts) + ")))"), n


def include_sql(n):
    return ("SELECT DISTINCT " + HIT + " FROM ix_reference x"
            " JOIN resource r ON r.tenant=x.tenant AND r.type=x.type AND r.id=x.id"
            " JOIN resource_version v ON v.seq=r.seq WHERE r.deleted=0 AND x.param=?1"
            " AND x.rid IN (" + ",".join("?%d" % (i + 2) for i in range(n)) + ")")


def revinclude_sql(n):
    return ("SELECT DISTINCT " + HIT + " FROM ix_reference x"
            " JOIN resource r ON r.rid=x.rid JOIN resource_version v ON v.seq=r.seq"
            " JOIN resource p ON p.tenant=x.tenant AND p.type=x.type AND p.id=x.id"
            " WHERE x.tenant=?1 AND x.param=?2"
            " AND p.rid IN (" + ",".join("?%d" % (i + 3) for i in range(n)) + ")")


# ---- proposed alternatives (not what the server runs today) --------------------
#
# See "Proposed SQL changes" in bench/RESULTS.md for the reasoning.
#
# P0: when the query has a positive clause on an index table, the resource
# row is found by rid only: unary + on r.tenant and r.type keeps SQLite from
# walking every resource of the type through resource_updated.
def p0(where, alias="r"):
    return where.replace("%s.tenant=" % alias, "+%s.tenant=" % alias, 1).replace(
        "AND %s.type=" % alias, "AND +%s.type=" % alias, 1)


# P1: a clause with one equality value drives the query from its index:
# rows come in rid order (the index ends with rid), so LIMIT stops after
# count + 1 rows and no set of all matches is built.
def p1_page(table, cond, rest=""):
    return ("SELECT " + HIT + " FROM " + table + " t CROSS JOIN resource r ON r.rid=t.rid"
            " JOIN resource_version v ON v.seq=r.seq WHERE t.tenant=?3 AND t.param=?4 AND " + cond
            + " AND r.tenant=?1 AND r.type=?2 AND r.deleted=0" + rest + " ORDER BY t.rid LIMIT ?7")


P1_CODE_PAGE = p1_page("ix_token", "t.code=?5 AND t.system=?6")
P1_REF_PAGE = p1_page("ix_reference", "t.id=?6 AND t.type=?5")
# P2: a count with a single clause counts index rows: the parameter key
# implies the type, and index rows exist only for live current versions.
P2_CODE_COUNT = ("SELECT count(DISTINCT rid) FROM ix_token"
                 " WHERE tenant=?3 AND param=?4 AND code=?5 AND system=?6")
P2_DATE_COUNT = ("SELECT count(DISTINCT rid) FROM ix_date WHERE tenant=?3 AND param=?4"
                 " AND lo>=?12 AND lo<?10 AND hi>=?11 AND (hi>?5 OR (lo>=?6 AND hi<=?7))")
# P4a: eq on a date: lo <= hi always, so lo <= the query's high end too; the
# redundant bound makes the index range two-sided.
W_DAY_P4A = (RES + " AND (r.rid IN (SELECT rid FROM ix_date WHERE tenant=?3 AND param=?4 AND"
             " ((lo>=?5 AND hi<=?6 AND lo<=?7))))")
# P4c: ge/gt and le/lt on the same date parameter: one sub-query on the same
# index row, with the sargable bounds hi >= start and lo < end.
W_RANGE_P4C = (RES + " AND (r.rid IN (SELECT rid FROM ix_date WHERE tenant=?3 AND param=?4"
               " AND hi>=?11 AND (hi>?5 OR (lo>=?6 AND hi<=?7)) AND lo<?10))")
# P4d: P4c plus a lower bound on lo from the parameter's largest finite span
# (max(hi - lo), to be kept by the store as rows are written; 999 ms here,
# every Observation.effective is a dateTime to the second).
W_RANGE_P4D = (RES + " AND (r.rid IN (SELECT rid FROM ix_date WHERE tenant=?3 AND param=?4"
               " AND lo>=?12 AND lo<?10 AND hi>=?11 AND (hi>?5 OR (lo>=?6 AND hi<=?7))))")


def w_chain_p3(targets):
    """P3: the OR'ed values of one clause as a UNION ALL of one sargable
    SELECT per value (here: per target type of the chain), with P0 inside."""
    parts, n = [], 5
    for i, _ in enumerate(targets):
        alias = "t%d" % (i + 1)
        parts.append("SELECT rid FROM ix_reference WHERE tenant=?3 AND param=?4 AND (1 AND type=?%d"
                     " AND id IN (SELECT %s.id FROM resource %s WHERE +%s.tenant=?%d AND +%s.type=?%d"
                     " AND %s.deleted=0 AND %s))"
                     % (n, alias, alias, alias, n + 1, alias, n + 2, alias, token_clause(alias, n + 3)))
        n += 7
    return p0(RES) + " AND (r.rid IN (" + " UNION ALL ".join(parts) + "))", n


def searches(keys, v):
    obs_code = keys("Observation", "code")
    obs_date = keys("Observation", "date")
    obs_subject = keys("Observation", "subject")
    pat_ident = keys("Patient", "identifier")
    targets = [t for t in keys.targets_of[("Observation", "subject")] if (t, "identifier") in keys.rows]
    w_ch, n_ch = w_chain(targets)

    def chain_binds(val, ctx):
        b = [TENANT, "Observation", TENANT, obs_subject]
        for t in targets:
            b += [t, TENANT, t, TENANT, keys(t, "identifier"), val, CCCD]
        return b + [21]

    def rng_binds(d1, d2):
        lo1, hi1 = day_ms(d1)
        lo2, _ = day_ms(d2)
        return [TENANT, "Observation", TENANT, obs_date, hi1, lo1, hi1, TENANT, obs_date, lo2]

    w_ch_p3, n_ch3 = w_chain_p3(targets)
    p0_chain = p0(w_ch)
    for i in range(len(targets)):
        p0_chain = p0(p0_chain, "t%d" % (i + 1))

    def code_b(c, ctx):
        return [TENANT, "Observation", TENANT, obs_code, c, LOINC, 21]

    def code_only_b(c, ctx):
        return [TENANT, "Observation", TENANT, obs_code, c, 21]

    def ref_b(p, ctx):
        return [TENANT, "Observation", TENANT, obs_subject, "Patient", p, 21]

    def day_b(d, ctx):
        return [TENANT, "Observation", TENANT, obs_date, *day_ms(d), 21]

    def week_b(d, ctx):
        return rng_binds(d, d + datetime.timedelta(days=7)) + [21]

    def month_b(d, ctx):
        return rng_binds(d, next_month(d))

    def ident_b(x, ctx):
        return [TENANT, "Patient", TENANT, pat_ident, x, CCCD, 21]

    inc = ("include", lambda ctx: include_sql(len(ctx["rids"])),
           lambda val, ctx: [obs_subject] + ctx["rids"])
    rev = ("revinclude", lambda ctx: revinclude_sql(len(ctx["rids"])),
           lambda val, ctx: [TENANT, obs_subject] + ctx["rids"])
    return [
        dict(name="token-code", desc="token, Observation by LOINC code (system|code), first page",
             values=v.codes, example="/fhir/Observation?code=http://loinc.org|2345-7&_count=20",
             path=lambda c: "/fhir/Observation?code=%s&_count=20" % q(LOINC + "|" + c),
             stmts=[("page", page_sql(W_CODE, 7), code_b)],
             proposed=[("page P0", page_sql(p0(W_CODE), 7), code_b),
                       ("page P1", P1_CODE_PAGE, code_b)]),
        dict(name="token-code-only", desc="token, Observation by code without system, first page",
             values=v.codes, example="/fhir/Observation?code=2345-7&_count=20",
             path=lambda c: "/fhir/Observation?code=%s&_count=20" % q(c),
             stmts=[("page", page_sql(W_CODE_ONLY, 6), code_only_b)],
             proposed=[("page P0", page_sql(p0(W_CODE_ONLY), 6), code_only_b)]),
        dict(name="token-identifier", desc="token, Patient by CCCD identifier (1 match)",
             values=v.cccd, example="/fhir/Patient?identifier=http://fhir.lienthong.vn/sid/cccd|079190012345",
             path=lambda x: "/fhir/Patient?identifier=%s&_count=20" % q(CCCD + "|" + x),
             stmts=[("page", page_sql(RES + " AND " + token_clause("r", 3), 7), ident_b)],
             proposed=[("page P0", page_sql(p0(RES + " AND " + token_clause("r", 3)), 7), ident_b),
                       ("page P1", P1_CODE_PAGE, ident_b)]),
        dict(name="reference", desc="reference, Observation by subject (a patient's observations)",
             values=v.patients, example="/fhir/Observation?subject=Patient/pt-000123&_count=20",
             path=lambda p: "/fhir/Observation?subject=Patient/%s&_count=20" % q(p),
             stmts=[("page", page_sql(W_REF, 7), ref_b)],
             proposed=[("page P0", page_sql(p0(W_REF), 7), ref_b),
                       ("page P1", P1_REF_PAGE, ref_b)]),
        dict(name="date-day", desc="date, Observation on one day (eq), first page",
             values=v.days, example="/fhir/Observation?date=2023-04-05&_count=20",
             path=lambda d: "/fhir/Observation?date=%s&_count=20" % d.isoformat(),
             stmts=[("page", page_sql(W_DAY, 7), day_b)],
             proposed=[("page P0", page_sql(p0(W_DAY), 7), day_b),
                       ("page P0+P4a", page_sql(p0(W_DAY_P4A), 8),
                        lambda d, ctx: day_b(d, ctx)[:-1] + [day_ms(d)[1], 21])]),
        dict(name="date-range", desc="date range, Observation in one week (ge & lt), first page",
             values=v.weeks, example="/fhir/Observation?date=ge2023-04-05&date=lt2023-04-12&_count=20",
             path=lambda d: "/fhir/Observation?date=ge%s&date=lt%s&_count=20" % (
                 d.isoformat(), (d + datetime.timedelta(days=7)).isoformat()),
             stmts=[("page", page_sql(W_RANGE, 11), week_b)],
             proposed=[("page P0", page_sql(p0(W_RANGE), 11), week_b),
                       ("page P0+P4c", page_sql(p0(W_RANGE_P4C), 12),
                        lambda d, ctx: week_b(d, ctx)[:-1] + [day_ms(d)[0], 21]),
                       ("page P0+P4d", page_sql(p0(W_RANGE_P4D), 13),
                        lambda d, ctx: week_b(d, ctx)[:-1] + [day_ms(d)[0], day_ms(d)[0] - 999, 21])]),
        dict(name="chain", desc="chained, Observation by the subject's CCCD identifier",
             values=v.cccd,
             example="/fhir/Observation?subject.identifier=http://fhir.lienthong.vn/sid/cccd|079190012345&_count=20",
             path=lambda x: "/fhir/Observation?subject.identifier=%s&_count=20" % q(CCCD + "|" + x),
             stmts=[("page", page_sql(w_ch, n_ch), chain_binds)],
             proposed=[("page P0", page_sql(p0_chain, n_ch), chain_binds),
                       ("page P0+P3", page_sql(w_ch_p3, n_ch3), chain_binds)]),
        dict(name="include", desc="token + _include=Observation:subject (20 matches + their patients)",
             values=v.codes,
             example="/fhir/Observation?code=http://loinc.org|2345-7&_include=Observation:subject&_count=20",
             path=lambda c: "/fhir/Observation?code=%s&_include=Observation:subject&_count=20" % q(LOINC + "|" + c),
             stmts=[("page", page_sql(W_CODE, 7), code_b), inc],
             proposed=[("page P1", P1_CODE_PAGE, code_b)]),
        dict(name="revinclude", desc="Patient by identifier + _revinclude=Observation:subject",
             values=v.cccd,
             example="/fhir/Patient?identifier=http://fhir.lienthong.vn/sid/cccd|079190012345&_revinclude=Observation:subject",
             path=lambda x: "/fhir/Patient?identifier=%s&_revinclude=Observation:subject&_count=20" % q(CCCD + "|" + x),
             stmts=[("page", page_sql(RES + " AND " + token_clause("r", 3), 7), ident_b), rev],
             proposed=[("page P1", P1_CODE_PAGE, ident_b)]),
        dict(name="count-code", desc="_summary=count, Observation by LOINC code",
             values=v.codes, example="/fhir/Observation?code=http://loinc.org|2345-7&_summary=count",
             path=lambda c: "/fhir/Observation?code=%s&_summary=count" % q(LOINC + "|" + c),
             stmts=[("count", count_sql(W_CODE), lambda c, ctx: code_b(c, ctx)[:-1])],
             proposed=[("count P0", count_sql(p0(W_CODE)), lambda c, ctx: code_b(c, ctx)[:-1]),
                       ("count P2", P2_CODE_COUNT, lambda c, ctx: code_b(c, ctx)[:-1])]),
        dict(name="count-month", desc="_summary=count, Observation in one month (ge & lt)",
             values=v.months, example="/fhir/Observation?date=ge2023-04-01&date=lt2023-05-01&_summary=count",
             path=lambda d: "/fhir/Observation?date=ge%s&date=lt%s&_summary=count" % (
                 d.isoformat(), next_month(d).isoformat()),
             stmts=[("count", count_sql(W_RANGE), month_b)],
             proposed=[("count P0+P4c", count_sql(p0(W_RANGE_P4C)),
                        lambda d, ctx: month_b(d, ctx) + [day_ms(d)[0]]),
                       ("count P0+P4d", count_sql(p0(W_RANGE_P4D)),
                        lambda d, ctx: month_b(d, ctx) + [day_ms(d)[0], day_ms(d)[0] - 999]),
                       ("count P2+P4d", P2_DATE_COUNT,
                        lambda d, ctx: month_b(d, ctx) + [day_ms(d)[0], day_ms(d)[0] - 999])]),
        dict(name="count-all", desc="_summary=count, all Observations",
             values=[None], example="/fhir/Observation?_summary=count",
             path=lambda _: "/fhir/Observation?_summary=count",
             whole_type=True,  # reading every resource of the type is the point
             stmts=[("count", count_sql(RES), lambda _, ctx: [TENANT, "Observation"])]),
    ]


# ---- paths ---------------------------------------------------------------------

def cmd_paths(a):
    v = Values(a.gen)
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(20260103)
    for i, s in enumerate(searches_for_paths(v)):
        if a.only and s["name"] not in a.only:
            continue
        vals = s["values"]
        pick = vals if len(vals) <= PATHS_PER_SEARCH else rng.sample(vals, PATHS_PER_SEARCH)
        with open(os.path.join(a.out, "%02d-%s.txt" % (i + 1, s["name"])), "w") as f:
            f.write("# %s; %s\n# %s\n" % (s["desc"], "%d values" % len(pick) if len(pick) > 1 else "1 value",
                                           s["example"]))
            for val in pick:
                f.write(s["path"](val) + "\n")


def searches_for_paths(v):
    class NoKeys:
        rows = {}
        targets_of = {("Observation", "subject"): []}

        def __call__(self, *a):
            return 0
    return searches(NoKeys(), v)


# ---- plans -----------------------------------------------------------------------

def plan_lines(db, sql, binds):
    rows = db.execute("EXPLAIN QUERY PLAN " + sql, binds).fetchall()
    depth, out = {0: -1}, []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        out.append(("  " * depth[node], detail))
    return out


def flag(detail):
    """What a plan line reads, when it reads too much; None when it is fine."""
    if detail.startswith("SCAN ") and detail != "SCAN CONSTANT ROW":
        return "full scan"
    m = re.match(r"SEARCH (\w+) USING (?:COVERING )?INDEX (\w+) \((.*)\)$", detail)
    if m:
        index, cons = m.group(2), m.group(3)
        if index.startswith("resource_") and cons in ("tenant=?", "tenant=? AND type=?"):
            return "every resource of the type"
        if index.startswith("ix_") and cons == "tenant=? AND param=?":
            return "every index row of the parameter"
        if index.startswith("ix_date") and re.fullmatch(r"tenant=\? AND param=\? AND (lo|hi)[<>]\?", cons):
            return "a one-sided date range: on average half the parameter's rows"
    if "TEMP B-TREE FOR ORDER BY" in detail:
        return "sorts all matches"
    return None


def run(db, sql, binds):
    t0 = time.perf_counter()
    rows = db.execute(sql, binds).fetchall()
    return time.perf_counter() - t0, rows


def sql_for_cli(sql, binds):
    out = [".parameter init", ".parameter clear"]
    for i, b in enumerate(binds):
        out.append(".parameter set ?%d %s" % (i + 1, b if isinstance(b, int) else
                                              "'" + str(b).replace("'", "''") + "'"))
    out += [".timer on", sql + ";", ".timer off"]
    return "\n".join(out)


def cmd_plans(a):
    cli_version = os.popen("sqlite3 --version").read().split()[:1]
    if [sqlite3.sqlite_version] != cli_version:
        print("search-queries: python's SQLite is %s, the system's %s" % (sqlite3.sqlite_version, cli_version),
              file=sys.stderr)
    db = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True)
    for pragma in ("query_only=1", "mmap_size=1073741824", "cache_size=-16384"):  # as the server's readers
        db.execute("PRAGMA " + pragma)
    keys = Keys(a.params_c)
    v = Values(a.gen)
    rng = random.Random(20260104)
    cli, flagged = [], []
    for s in searches(keys, v):
        if a.only and s["name"] not in a.only:
            continue
        vals = s["values"] if len(s["values"]) <= a.samples else rng.sample(s["values"], a.samples)
        print("**%s** — `GET %s`\n" % (s["name"], s["example"]))
        print("```")
        for proposed, stmts in ((False, s["stmts"]), (True, s.get("proposed", []))):
            for label, sql, binds in stmts:
                times, results, started = [], [], time.perf_counter()
                for val in vals:
                    ctx = {"rids": []}
                    # includes run over the rids of the page, as the server does
                    if label in ("include", "revinclude"):
                        _, page = run(db, s["stmts"][0][1], s["stmts"][0][2](val, ctx))
                        ctx["rids"] = [r[0] for r in page[:20]] or [0]
                    text = sql(ctx) if callable(sql) else sql
                    b = binds(val, ctx)
                    first, rows = run(db, text, b)  # warms the cache
                    best = min([run(db, text, b)[0] for _ in range(a.repeat if first < 0.1 else 1)])
                    times.append(best)
                    results.append(rows[0][0] if label.startswith("count") else len(rows))
                    if len(times) >= 3 and time.perf_counter() - started > a.budget:
                        break
                med, worst = statistics.median(times) * 1000, max(times) * 1000
                extra = ""
                if label.startswith("count"):
                    extra = "; %s counted/s" % format(int(statistics.mean(results) / statistics.mean(times)), ",")
                print("%s%s: %.2f ms median, %.2f ms max (%d value%s); %s %s%s"
                      % ("PROPOSED " if proposed else "", label, med, worst, len(times),
                         "s" if len(times) > 1 else "", "count" if label.startswith("count") else "rows",
                         format(round(statistics.mean(results)), ","), extra))
                for indent, detail in plan_lines(db, text, b):
                    why = flag(detail)
                    print("    %s%s%s" % (indent, detail, "   <-- " + why if why else ""))
                    if why == "every resource of the type" and s.get("whole_type"):
                        why = None
                    if why and not proposed:
                        flagged.append("%s %s: `%s` (%s)" % (s["name"], label, detail, why))
                cli.append("-- %s %s%s\n%s" % (s["name"], "PROPOSED " if proposed else "", label,
                                                sql_for_cli(text, b)))
        print("```\n")
    print("Plan lines of the server's SQL that read more than their matches (%d):\n" % len(flagged))
    for f in flagged:
        print("- " + f)
    print("\nFLAGGED %d" % len(flagged))
    if a.sql:
        with open(a.sql, "w") as f:
            f.write("-- bench/search-queries.py plans: every statement, replayable:\n"
                    "--   sqlite3 -readonly DB < THIS_FILE\n\n" + "\n\n".join(cli) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("paths")
    p.add_argument("gen")
    p.add_argument("out")
    p.add_argument("--only", nargs="*")
    p = sub.add_parser("plans")
    p.add_argument("db")
    p.add_argument("gen")
    p.add_argument("params_c")
    p.add_argument("--sql")
    p.add_argument("--only", nargs="*")
    p.add_argument("--samples", type=int, default=20, help="values per statement, at most")
    p.add_argument("--budget", type=float, default=3.0, help="seconds per statement, about")
    p.add_argument("--repeat", type=int, default=3, help="runs per value (best kept) when fast")
    a = ap.parse_args()
    if a.cmd == "paths":
        cmd_paths(a)
    else:
        cmd_plans(a)


if __name__ == "__main__":
    main()
