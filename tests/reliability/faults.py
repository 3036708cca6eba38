#!/usr/bin/env python3
"""Fault injection: the store's writes, fsyncs and memory fail on purpose
(src/store/sqlite_fault.c, a build with LT_FAULT_INJECTION), and every such
failure must give the client a clean error, leave the store consistent, and
leave the server serving reads.

For each scenario (KIND:N, see sqlite_fault.c):
  - a fresh store; 40 resources written before the fault is armed;
  - the fault armed; 4 clients write (PUT create/update, PATCH, DELETE) on
    their own resources for a few seconds while a reader reads the first 40;
    every answer must be 200/201, or 503/507 with an OperationOutcome; never
    a 500, a broken connection or a hang; reads answer 200 (or a clean 503/507
    where the fault hit them) and after the fault they answer 200 again;
  - for a full disk: space is freed (the arm file removed) and writes must
    succeed again without a restart;
  - the server stops cleanly (exit 0: under the sanitizers, no leak or error);
  - restarted without faults: every acknowledged version is there as sent, a
    refused write is either absent or entirely there (crash.py's rules), its
    index rows follow (a search finds the current content and not a refused
    one's), and PRAGMA integrity_check is ok.

usage: faults.py LIENTHONG_BINARY [--quick] [--seed S]
Prints one line per scenario and a summary; exits 1 on any unclean error,
loss, corruption or failed read.
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash import Resource, Server, body_for, integrity, next_write, request, verify  # noqa: E402

# KIND:N for sqlite_fault.c; "/q16": the server keeps at most 16 audit
# records in memory, so that a full disk soon leaves reads unaudited, and
# they must be refused (507) rather than served.
SCENARIOS = ["write:1", "write:7", "write:40", "write:150", "sync:1", "sync:3", "sync:12",
             "full:1", "full:25", "full:25/q16", "alloc:1", "alloc:40", "alloc:400", "alloc:4000",
             "malloc:1", "malloc:10", "malloc:100", "malloc:1000", "malloc:10000", "malloc:15000"]
QUICK = ["write:7", "sync:3", "full:25/q16", "alloc:400", "malloc:100"]


class NotCompiledIn(Exception):
    """The binary has no LT_FAULT hooks (a release build)."""


def outcome(raw):
    try:
        return json.loads(raw).get("resourceType") == "OperationOutcome"
    except ValueError:
        return False


def writer(port, mine, rng, stop, stats):
    """crash.py's client, going on after a refusal: the resource whose write
    was refused is frozen (that write may or may not be there)."""
    live = list(mine)
    while not stop.is_set() and live:
        r = rng.choice(live)
        version = r.last + 1
        args = next_write(r, rng)
        try:
            status, raw = request(port, *args)
        except Exception as exc:  # a broken connection or a hang (10 s)
            stats["unclean"].append("%s %s: %s" % (args[0], args[1], exc))
            live.remove(r)
            continue
        if status in (200, 201):
            r.acked[version] = r.in_flight[1]
            r.last = version
            r.in_flight = None
            stats["acked"] += 1
        elif status in (503, 507) and outcome(raw):
            stats["refused"][status] = stats["refused"].get(status, 0) + 1
            live.remove(r)   # frozen: its refused write stays "in flight"
        else:
            stats["unclean"].append("%s %s: %d %s" % (args[0], args[1], status, raw[:200]))
            live.remove(r)


def reader(port, ids, stop, stats):
    """Reads answer 200, or a clean 503/507 when the fault hit them (or
    their audit record could not be written: a read that cannot be audited
    is not served); anything else fails."""
    while not stop.is_set():
        for rtype, rid in ids:
            try:
                status, raw = request(port, "GET", "/fhir/%s/%s" % (rtype, rid))
            except Exception as exc:
                stats["reads_failed"].append("%s/%s: %s" % (rtype, rid, exc))
                return
            stats["reads"] += 1
            if status in (503, 507) and outcome(raw):
                stats["reads_refused"] += 1
            elif status != 200:
                stats["reads_failed"].append("%s/%s: %d" % (rtype, rid, status))
            if stop.is_set():
                return


def index_agrees(port, resources):
    """The index follows the stored content: the current version's values
    are found, a refused write's are not."""
    bad = []
    for r in resources:
        status, raw = request(port, "GET", "/fhir/%s/%s" % (r.type, r.id))
        if status != 200:
            continue
        doc = json.loads(raw)
        if r.type == "Patient":
            q = "/fhir/Patient?_id=%s&given=%s&_summary=count" % (r.id, doc["name"][0]["given"][1])
        else:
            q = "/fhir/Observation?_id=%s&value-quantity=%s&_summary=count" % (
                r.id, doc["valueQuantity"]["value"])
        st, body = request(port, "GET", q)
        if st != 200 or json.loads(body)["total"] != 1:
            bad.append("%s/%s: its current values are not in the index" % (r.type, r.id))
    return bad


def scenario(binary, spec, rng, work):
    data = os.path.join(work, "data")
    arm = os.path.join(work, "arm")
    fault, _, queue = spec.partition("/q")
    os.environ["LT_FAULT"], os.environ["LT_FAULT_ARM"] = fault, arm
    srv = Server(binary, data, ["--audit-queue", queue] if queue else [])
    try:
        srv.start()
    finally:
        del os.environ["LT_FAULT"], os.environ["LT_FAULT_ARM"]
    if "fault injection:" not in open(os.path.join(work, "server.log"), errors="replace").read():
        srv.stop()
        raise NotCompiledIn()
    resources = [Resource(t, "f%d" % i) for i, t in enumerate(["Patient", "Observation"] * 60)]
    stats = {"acked": 0, "refused": {}, "unclean": [], "reads": 0, "reads_failed": [],
             "reads_refused": 0}
    stop = threading.Event()
    # Before the fault: 40 resources the reader will read throughout.
    for r in resources[:40]:
        b = body_for(r.type, r.id, rng.randrange(1_000_000))
        status, raw = request(srv.port, "PUT", "/fhir/%s/%s" % (r.type, r.id), b)
        if status != 201:
            raise RuntimeError("%s: a write before the fault was armed got %d" % (spec, status))
        r.acked[1], r.last = b, 1
    open(arm, "w").close()
    threads = [threading.Thread(target=writer, args=(srv.port, resources[40 + 20 * k:60 + 20 * k],
                                                     random.Random(rng.random()), stop, stats))
               for k in range(4)]
    threads.append(threading.Thread(target=reader, args=(
        srv.port, [(r.type, r.id) for r in resources[:40]], stop, stats)))
    for t in threads:
        t.start()
    time.sleep(6 if queue else 3)
    stop.set()
    for t in threads:
        t.join()
    recovered = None
    if spec.startswith("full:"):  # space freed: writes and reads work again, no restart
        os.unlink(arm)
        time.sleep(0.5)  # the queued audit records are written
        r = resources[0]
        b = body_for(r.type, r.id, 7)
        status, _ = request(srv.port, "PUT", "/fhir/%s/%s" % (r.type, r.id), b)
        recovered = status == 200 and request(srv.port, "GET", "/fhir/%s/%s" % (r.type, r.id))[0] == 200
        if status == 200:
            r.acked[r.last + 1], r.last = b, r.last + 1
        if queue and not stats["reads_refused"]:
            stats["reads_failed"].append("no read was refused with the audit queue full")
    # The fault passed (or space was freed): reads are served.
    st, _ = request(srv.port, "GET", "/fhir/%s/%s" % (resources[1].type, resources[1].id))
    if st != 200:
        stats["reads_failed"].append("a read after the fault: %d" % st)
    rc = srv.stop()
    srv = Server(binary, data)
    srv.start()
    lost, corrupted, problems = verify(srv.port, resources, everything=True)
    problems += index_agrees(srv.port, resources)
    check = integrity(os.path.join(data, "lienthong.db"))
    srv.stop()
    return {
        "spec": spec, "acked": stats["acked"], "refused": stats["refused"],
        "reads_refused": stats["reads_refused"],
        "unclean": stats["unclean"], "reads": stats["reads"], "reads_failed": stats["reads_failed"],
        "recovered": recovered, "exit": rc, "lost": lost, "corrupted": corrupted,
        "problems": problems, "integrity": check,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--quick", action="store_true", help="four scenarios (CI)")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("only", nargs="*", help="scenarios to run (default: all)")
    args = ap.parse_intermixed_args()
    rng = random.Random(args.seed)
    failed = 0
    totals = {"scenarios": 0, "refused": 0, "acked": 0, "unclean": 0, "inconsistent": 0}
    print("seed %d" % args.seed)
    for spec in args.only or (QUICK if args.quick else SCENARIOS):
        work = tempfile.mkdtemp(prefix="lt-fault-")
        try:
            r = scenario(args.binary, spec, rng, work)
        except NotCompiledIn:
            print("SKIP: %s has no fault injection (build with -DLT_FAULT_INJECTION=ON, as the"
                  " sanitizer build of make check is)" % args.binary)
            shutil.rmtree(work, ignore_errors=True)
            return 77
        finally:
            log = os.path.join(work, "server.log")
            injected = open(log, errors="replace").read().count("fault injected") if os.path.exists(log) else 0
        bad = (r["unclean"] or r["reads_failed"] or r["exit"] != 0 or r["lost"] or r["corrupted"]
               or r["problems"] or r["integrity"] != "ok" or r["recovered"] is False)
        print("%-11s injected %-3s acked %-5d refused %-12s reads %-5d (%d refused) unclean %d, reads failed %d,"
              " exit %s, lost %d, corrupted %d, index %s, integrity %s%s%s" % (
                  spec, injected if injected < 16 else "16+", r["acked"],
                  json.dumps(r["refused"]), r["reads"], r["reads_refused"], len(r["unclean"]),
                  len(r["reads_failed"]),
                  r["exit"], r["lost"], r["corrupted"],
                  "ok" if not r["problems"] else "%d problems" % len(r["problems"]), r["integrity"],
                  "" if r["recovered"] is None else ", writes after space freed: %s" %
                  ("ok" if r["recovered"] else "FAILED"),
                  "  FAIL" if bad else ""))
        for p in (r["unclean"] + r["reads_failed"] + r["problems"])[:5]:
            print("    " + p)
        if bad:
            failed += 1
            print("    server log kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        totals["scenarios"] += 1
        totals["refused"] += sum(r["refused"].values())
        totals["acked"] += r["acked"]
        totals["unclean"] += len(r["unclean"])
        totals["inconsistent"] += r["lost"] + r["corrupted"] + len(r["problems"]) + (r["integrity"] != "ok")
    print("summary: %d scenarios, %d writes acknowledged, %d refused cleanly (503/507), %d unclean,"
          " %d inconsistencies; %d scenario(s) failed" % (
              totals["scenarios"], totals["acked"], totals["refused"], totals["unclean"],
              totals["inconsistent"], failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
