#!/usr/bin/env bash
# Imperfection on purpose (issue 7): `lienthong gen --defects 0.05` writes
# defective resources and a sidecar DIR/defects.jsonl that tells the
# truth about them; the defects are data-quality defects, so everything
# loads with `lienthong import` with zero failures and the store holds as
# many resources as were generated; --defects 0 changes no byte; a bad
# rate exits 2.
#
#   LIENTHONG=build/lienthong bash tests/integration/gen_defects.sh
# shellcheck source=tests/integration/lib.sh.inc
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed"
command -v curl >/dev/null || lt_skip "curl is not installed"
fail() { echo "FAIL $*"; exit 1; }
out="$LT_TMP/city"
types="Organization Location Patient Encounter Condition Observation MedicationRequest Immunization AllergyIntolerance"

# 1. A bad rate: a clear message and exit 2.
for rate in -0.1 1.5 x 0.05x ""; do
	rc=0
	"$LIENTHONG" gen --patients 5 --seed 1 --out "$out" --defects "$rate" 2>"$LT_TMP/bad.err" || rc=$?
	[ $rc -eq 2 ] || fail "--defects '$rate' exited $rc, want 2"
	grep -q "lienthong: gen: " "$LT_TMP/bad.err" || fail "--defects '$rate': no message"
done
rc=0
"$LIENTHONG" gen --patients 5 --seed 1 --out "$out" --format hl7v2 --defects 0.1 2>"$LT_TMP/bad.err" || rc=$?
[ $rc -eq 2 ] && grep -q "ndjson or bundle" "$LT_TMP/bad.err" || fail "--defects with hl7v2: exit $rc"

# 2. --defects 0 gives the same bytes as no option (and an empty sidecar).
"$LIENTHONG" gen --patients 200 --seed 3 --out "$LT_TMP/plain" 2>/dev/null || fail "gen"
"$LIENTHONG" gen --patients 200 --seed 3 --out "$LT_TMP/zero" --defects 0 2>/dev/null || fail "gen --defects 0"
for t in $types; do
	cmp -s "$LT_TMP/plain/$t.ndjson" "$LT_TMP/zero/$t.ndjson" || fail "$t.ndjson differs with --defects 0"
done
[ -f "$LT_TMP/zero/defects.jsonl" ] && [ ! -s "$LT_TMP/zero/defects.jsonl" ] || fail "--defects 0: the sidecar is not empty"
[ -f "$LT_TMP/plain/defects.jsonl" ] && fail "a sidecar without --defects"

# 3. --defects 0.05: deterministic; the sidecar names resources that show
# their defect; every reference resolves; the rate is about right.
"$LIENTHONG" gen --patients 400 --seed 7 --out "$out" --defects 0.05 2>"$LT_TMP/gen.err" || fail "gen: $(cat "$LT_TMP/gen.err")"
cat "$LT_TMP/gen.err"
grep -q "gen: [0-9]* defects at rate 0.05 (" "$LT_TMP/gen.err" || fail "no defects summary"
"$LIENTHONG" gen --patients 400 --seed 7 --out "$LT_TMP/again" --defects 0.05 2>/dev/null
for f in $types; do
	cmp -s "$out/$f.ndjson" "$LT_TMP/again/$f.ndjson" || fail "$f.ndjson differs with the same seed"
done
cmp -s "$out/defects.jsonl" "$LT_TMP/again/defects.jsonl" || fail "defects.jsonl differs with the same seed"
cmp -s "$out/Observation.ndjson" "$LT_TMP/plain/Observation.ndjson" && fail "no Observation changed"
python3 - "$out" <<'PY' || fail "the sidecar does not match the output"
import json, sys, collections
d = sys.argv[1]
res, refs = {}, []
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "reference": refs.append(v)
            else: walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
for t in "Organization Location Patient Encounter Condition Observation".split():
    for line in open(f"{d}/{t}.ndjson", encoding="utf-8"):
        r = json.loads(line)
        key = r["resourceType"] + "/" + r["id"]
        assert key not in res, "duplicate id " + key
        res[key] = r
        walk(r)
missing = [r for r in refs if r not in res]
assert not missing, f"unresolved: {missing[:5]}"
def at(r, path):
    for seg in path.split("."):
        i = None
        if "[" in seg:
            seg, i = seg[:-1].split("[")
        r = r.get(seg) if isinstance(r, dict) else None
        if i is not None and r is not None:
            r = r[int(i)] if int(i) < len(r) else None
    return r
kinds = collections.Counter()
for line in open(f"{d}/defects.jsonl", encoding="utf-8"):
    l = json.loads(line)
    kinds[l["kind"]] += 1
    r = res.get(l["resourceType"] + "/" + l["id"])
    assert r is not None, "no resource for " + line
    if l["kind"] == "cccd-missing":
        assert all(i.get("value") != l["original"] for i in r.get("identifier", [])), line
    elif l["path"] == "component.valueQuantity.value":
        assert [c["valueQuantity"]["value"] for c in r["component"][:2]] == l["value"], line
    else:
        assert at(r, l["path"]) == l["value"], line
    if l["kind"] == "duplicate":
        o = res["Patient/" + l["duplicateOf"]]
        assert o["birthDate"] == r["birthDate"] and o["id"] != r["id"], line
print(f"{len(res)} resources, {len(refs)} references resolve, sidecar: {dict(kinds)}")
assert len(kinds) >= 8, "too few kinds"
PY

# 4. Import of the directory: zero failures (the sidecar, .jsonl, is not read), and the store
# holds what was generated.
"$LIENTHONG" import --data "$LT_DATA" "$out" 2>"$LT_TMP/import.err" || fail "import: $(tail -5 "$LT_TMP/import.err")"
grep -q " 0 failed" "$LT_TMP/import.err" || fail "import summary: $(cat "$LT_TMP/import.err")"
lines() { wc -l <"$out/$1.ndjson" | tr -d ' '; }
count() { curl -sf "$LT_URL/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
lt_start
for t in $types; do
	got=$(count "$t?_summary=count")
	[ "$got" = "$(lines "$t")" ] || fail "$t: $got in the store, $(lines "$t") generated"
done
# The duplicates are there, and a local code is searchable by its system.
dup=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["kind"] == "duplicate": print(d["id"]); break' "$out/defects.jsonl")
[ -n "$dup" ] || fail "no duplicate among 400 patients at 0.05"
[ "$(count "Patient?_id=$dup&_summary=count")" = 1 ] || fail "the duplicate $dup is not in the store"
local_obs=$(grep -c '"system":"urn:lienthong:local:' "$out/Observation.ndjson")
[ "$local_obs" -gt 0 ] || fail "no local codes"
lt_stop

# 5. --format bundle with defects loads too.
"$LIENTHONG" gen --patients 30 --seed 7 --out "$LT_TMP/bundles" --format bundle --defects 0.2 2>/dev/null || fail "gen --format bundle --defects"
LT_DATA="$LT_TMP/data-bundles"
"$LIENTHONG" import --data "$LT_DATA" "$LT_TMP/bundles"/*.json 2>"$LT_TMP/bimport.err" || fail "import of Bundles: $(tail -5 "$LT_TMP/bimport.err")"
grep -q " 0 failed" "$LT_TMP/bimport.err" || fail "Bundles: $(cat "$LT_TMP/bimport.err")"
echo "PASS gen_defects"
