#!/usr/bin/env python3
"""Runs the same searches against two servers and shows where the answers differ.

    bench/search-diff.py BASE_A BASE_B GEN_DIR

BASE_A and BASE_B are http://HOST:PORT of two servers on the same store (for
example build/lienthong and a build with a proposed SQL change, one after the
other on the bench store of bench/search.sh). GEN_DIR is the generator's
output (for a CCCD number). Each search is followed through up to 4 `next`
pages; what is compared is, per page, Bundle.total, whether there is a next
page, and each entry's search mode and Type/id in order. Exit status 0 when
both servers answer alike, 1 otherwise. Python 3 standard library only.
"""
import difflib
import json
import os
import sys
import urllib.parse
import urllib.request

CCCD = "http://fhir.lienthong.vn/sid/cccd"


def searches(cccd):
    return [
        "Observation?code=http://loinc.org|2345-7&_count=50",
        "Observation?code=http://loinc.org|2345-7,http://loinc.org|4548-4&_count=50",
        "Observation?code=2345-7&_count=50",
        "Observation?code=http://loinc.org|2345-7&status=final&_count=50",
        "Observation?code=http://loinc.org|85354-9&date=2023-04-05&_count=50",
        "Observation?subject=Patient/pt-000123&_count=7",
        "Observation?subject=Patient/pt-000123&code=http://loinc.org|8867-4",
        "Observation?subject=pt-000123&_count=7",
        "Observation?patient=Patient/pt-000123,Patient/pt-000124&_count=100",
        "Observation?date=2023-04-05&_count=100",
        "Observation?date=ge2023-04-05&date=lt2023-04-12&_count=100",
        "Observation?date=ne2023-04-05&subject=Patient/pt-000123",
        "Observation?subject.identifier=%s|%s" % (CCCD, cccd),
        "Patient?identifier=%s|%s&_revinclude=Observation:subject" % (CCCD, cccd),
        "Observation?code=http://loinc.org|2345-7&_include=Observation:subject&_count=10",
        "Observation?code=http://loinc.org|2345-7&_summary=count",
        "Observation?code=http://loinc.org|2345-7,http://loinc.org|4548-4&_summary=count",
        "Observation?code:not=http://loinc.org|2345-7&subject=Patient/pt-000123",
        "Observation?date=2023-04-05&_summary=count",
        "Observation?date=2023-04&_summary=count",
        "Observation?date=ge2023-04-01&date=lt2023-05-01&_summary=count",
        "Patient?name=Nguyễn&_summary=count",
        "Patient?name=nguyen&_count=5",
        "Observation?value-quantity=gt15|http://unitsofmeasure.org|mmol/L&_summary=count",
        "Observation?code=http://loinc.org|2345-7&_sort=-date&_count=5",
        "Observation?_id=ob-0000001,ob-0000002",
        "Organization?_count=30",
    ]


def answers(base, cccd):
    out = []
    for s in searches(cccd):
        url = base.rstrip("/") + "/fhir/" + urllib.parse.quote(s, safe="/?&=:,|")
        for page in range(4):
            with urllib.request.urlopen(url) as r:
                b = json.load(r)
            nxt = next((l["url"] for l in b.get("link", []) if l["relation"] == "next"), None)
            out.append("%s [page %d] total=%s next=%s" % (s, page, b.get("total"), nxt is not None))
            out += ["    %s %s" % (e["search"]["mode"], e.get("fullUrl", "").rsplit("/fhir/", 1)[-1])
                    for e in b.get("entry", [])]
            if not nxt:
                break
            url = nxt
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    with open(os.path.join(sys.argv[3], "cccd.txt")) as f:
        cccd = f.readline().strip()
    a, b = answers(sys.argv[1], cccd), answers(sys.argv[2], cccd)
    diff = list(difflib.unified_diff(a, b, sys.argv[1], sys.argv[2], lineterm="", n=1))
    if diff:
        print("\n".join(diff))
        return 1
    print("search-diff: %d searches, %d lines, same answers" % (len(searches(cccd)), len(a)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
