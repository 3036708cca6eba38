#!/usr/bin/env python3
"""Synthea-shaped FHIR R4 data at any scale, from the 21 patient bundles in
../shared/data/synthea (issue #4: the ingest benchmarks).

Each output patient is a copy of one source bundle (taken in turn, in file
name order) in which every UUID is replaced by a fresh one derived from the
seed and the copy number (uuid5), so that fullUrls, ids, references and the
identifiers that carry the Synthea person id stay consistent within the copy
and differ between copies. The Patient also gets a new name (drawn from
Vietnamese and Synthea-like name pools) and new SSN, driver's licence and
passport numbers. Nothing else changes: the clinical content, sizes and
index-row counts are Synthea's.

Outputs, under OUT:
  bundles/pNNNNNNN.json   one transaction Bundle per patient, as Synthea
                          writes them (POST Type, urn:uuid references)
  ndjson/Type.ndjson      the same resources one a line, for import: ids
                          are plain ids and urn:uuid references are
                          rewritten to Type/id
  manifest.json           counts per type, the seed and the arguments

Same seed and arguments, same bytes. Standard library only.

  bench/gen-synthea.py --out bench/out/synthea-1m --resources 1000000 --seed 4
  bench/gen-synthea.py --out DIR --patients 100 --format ndjson
"""
import argparse
import glob
import json
import os
import random
import re
import sys
import uuid

UUID_RE = re.compile(r'(urn:uuid:)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})')

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
          "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Smith", "Johnson", "Garcia", "Müller",
          "Kowalski", "O'Brien", "Erdman", "Welch", "Salazar", "Douglas"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Hương",
         "Khánh", "Lan", "Linh", "Long", "Mai", "Minh", "Nam", "Ngọc", "Phúc", "Quân", "Sơn",
         "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Louis", "Andrea", "Beatriz", "Fletcher", "Lupe"]
MIDDLE = {"female": ["Thị", "Ngọc", "Thanh", "Kim"], "male": ["Văn", "Đức", "Minh", "Hữu"]}


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class Template:
    """One source bundle, split once into literal text and UUID slots."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            bundle = json.load(f)
        self.name = os.path.basename(path)
        self.types = {}            # source uuid -> resourceType of its entry
        self.entries = []          # (resourceType, source uuid, parts) per entry
        self.patient = None        # index of the Patient entry and its resource
        for e in bundle["entry"]:
            res = e["resource"]
            src = e["fullUrl"][len("urn:uuid:"):]
            self.types[src] = res["resourceType"]
        for i, e in enumerate(bundle["entry"]):
            res = e["resource"]
            src = e["fullUrl"][len("urn:uuid:"):]
            if res["resourceType"] == "Patient" and self.patient is None:
                self.patient = (i, res)
                self.entries.append((res["resourceType"], src, None))
            else:
                self.entries.append((res["resourceType"], src, self.split(compact(res))))

    @staticmethod
    def split(text):
        """[literal, (urn, uuid), literal, ...]"""
        parts, pos = [], 0
        for m in UUID_RE.finditer(text):
            parts.append(text[pos:m.start()])
            parts.append((m.group(1) is not None, m.group(2)))
            pos = m.end()
        parts.append(text[pos:])
        return parts


def fill(parts, fresh, types, ndjson):
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
            continue
        urn, src = p
        new = fresh(src)
        if urn and ndjson and src in types:
            out.append(types[src] + "/" + new)
        elif urn:
            out.append("urn:uuid:" + new)
        else:
            out.append(new)
    return "".join(out)


def new_patient(res, rng):
    """The Patient of a copy: new name and national numbers."""
    p = json.loads(json.dumps(res))
    family, given = rng.choice(FAMILY), [rng.choice(GIVEN)]
    if rng.random() < 0.6:
        given.insert(0, rng.choice(MIDDLE.get(p.get("gender"), MIDDLE["female"])))
    for n in p.get("name", []):
        n["family"] = family
        n["given"] = given
    for ident in p.get("identifier", []):
        codes = [c.get("code") for c in ident.get("type", {}).get("coding", [])]
        if "SS" in codes:
            ident["value"] = "999-%02d-%04d" % (rng.randrange(100), rng.randrange(10000))
        elif "DL" in codes:
            ident["value"] = "S999%05d" % rng.randrange(100000)
        elif "PPN" in codes:
            ident["value"] = "X%08dX" % rng.randrange(100000000)
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "..", "..", "shared", "data", "synthea"),
                    help="folder of the Synthea bundles (default ../shared/data/synthea)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=4)
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--resources", type=int, help="at least this many resources (whole patients)")
    size.add_argument("--patients", type=int, help="this many patients")
    ap.add_argument("--format", choices=["both", "bundles", "ndjson"], default="both")
    args = ap.parse_args()

    paths = sorted(p for p in glob.glob(os.path.join(args.source, "*.json"))
                   if not os.path.basename(p).startswith(("hospitalInformation", "practitionerInformation")))
    if not paths:
        sys.exit("gen-synthea: no Synthea bundles in %s (it needs ../shared)" % args.source)
    templates = [Template(p) for p in paths]
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "lienthong:gen-synthea:%d" % args.seed)

    want_bundles = args.format in ("both", "bundles")
    want_ndjson = args.format in ("both", "ndjson")
    os.makedirs(args.out, exist_ok=True)
    if want_bundles:
        os.makedirs(os.path.join(args.out, "bundles"), exist_ok=True)
    if want_ndjson:
        os.makedirs(os.path.join(args.out, "ndjson"), exist_ok=True)
    ndjson_files = {}
    counts = {}
    total = copy = 0
    while (args.patients is not None and copy < args.patients) or \
          (args.resources is not None and total < args.resources):
        t = templates[copy % len(templates)]
        rng = random.Random("%d:%d" % (args.seed, copy))
        cache = {}

        def fresh(src, copy=copy, cache=cache):
            u = cache.get(src)
            if u is None:
                u = cache[src] = str(uuid.uuid5(namespace, "%d:%s" % (copy, src)))
            return u

        patient_parts = Template.split(compact(new_patient(t.patient[1], rng))) if t.patient else None
        bundle_entries = []
        for rtype, src, parts in t.entries:
            if parts is None:
                parts = patient_parts
            if want_bundles:
                bundle_entries.append('{"fullUrl":"urn:uuid:%s","resource":%s,'
                                      '"request":{"method":"POST","url":"%s"}}'
                                      % (fresh(src), fill(parts, fresh, t.types, False), rtype))
            if want_ndjson:
                f = ndjson_files.get(rtype)
                if f is None:
                    f = ndjson_files[rtype] = open(os.path.join(args.out, "ndjson", rtype + ".ndjson"),
                                                   "w", encoding="utf-8")
                f.write(fill(parts, fresh, t.types, True))
                f.write("\n")
            counts[rtype] = counts.get(rtype, 0) + 1
        if want_bundles:
            with open(os.path.join(args.out, "bundles", "p%07d.json" % copy), "w", encoding="utf-8") as f:
                f.write('{"resourceType":"Bundle","type":"transaction","entry":[')
                f.write(",".join(bundle_entries))
                f.write("]}\n")
        total += len(t.entries)
        copy += 1
        if copy % 500 == 0:
            print("gen-synthea: %d patients, %d resources" % (copy, total), file=sys.stderr)
    for f in ndjson_files.values():
        f.close()
    manifest = {"seed": args.seed, "patients": copy, "resources": total,
                "format": args.format, "source_bundles": [t.name for t in templates],
                "counts": dict(sorted(counts.items()))}
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("gen-synthea: %d patients, %d resources in %s" % (copy, total, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
