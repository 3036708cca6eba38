#!/usr/bin/env bash
# The synthetic city (issue 7): `lienthong gen` is deterministic, every
# reference resolves inside its output, bad arguments exit 2, and what it
# writes loads with `lienthong import` with zero failures (NDJSON and
# transaction Bundles) and is found by the real server's search.
#
#   LIENTHONG=build/lienthong bash tests/integration/gen.sh
# shellcheck source=tests/integration/lib.sh.inc
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed"
command -v curl >/dev/null || lt_skip "curl is not installed"
fail() { echo "FAIL $*"; exit 1; }
out="$LT_TMP/city"
TYPES="Organization Location Patient Encounter Condition Observation MedicationRequest Immunization AllergyIntolerance"

# 1. Bad arguments: a clear message and exit 2.
for args in "--patients 0 --seed 1 --out $out" "--patients x --seed 1 --out $out" \
	"--seed 1 --out $out" "--patients 5 --out $out" "--patients 5 --seed 1" \
	"--patients 5 --seed 1 --out $out --format csv" "--patients 5 --seed 1 --out $out --bogus"; do
	rc=0
	# shellcheck disable=SC2086
	"$LIENTHONG" gen $args 2>"$LT_TMP/bad.err" || rc=$?
	[ $rc -eq 2 ] || fail "gen $args exited $rc, want 2"
	grep -q "lienthong: gen: " "$LT_TMP/bad.err" || fail "gen $args: no message: $(cat "$LT_TMP/bad.err")"
done

# An output file that cannot be written: exit 1, the file named.
for case in "Patient.ndjson|" "adt.hl7|--format hl7v2" "defects.jsonl|--defects 0.1"; do
	file=${case%%|*}
	rm -rf "$LT_TMP/blocked" && mkdir -p "$LT_TMP/blocked/$file"
	rc=0
	# shellcheck disable=SC2086
	"$LIENTHONG" gen --patients 3 --seed 1 --out "$LT_TMP/blocked" ${case#*|} 2>"$LT_TMP/bad.err" || rc=$?
	[ $rc -eq 1 ] && grep -q "lienthong: gen: .*/$file: Is a directory" "$LT_TMP/bad.err" ||
		fail "an unwritable $file: exit $rc, $(cat "$LT_TMP/bad.err")"
done

# 2. The same seed gives the same bytes; another seed does not.
"$LIENTHONG" gen --patients 300 --seed 7 --out "$out" 2>"$LT_TMP/gen.err" || fail "gen: $(cat "$LT_TMP/gen.err")"
cat "$LT_TMP/gen.err"
grep -q "gen: 300 patients, .* resources/s" "$LT_TMP/gen.err" || fail "no summary line"
"$LIENTHONG" gen --patients 300 --seed 7 --out "$LT_TMP/again" 2>/dev/null
"$LIENTHONG" gen --patients 300 --seed 8 --out "$LT_TMP/other" 2>/dev/null
for t in $TYPES; do
	[ -s "$out/$t.ndjson" ] || fail "$t.ndjson is missing or empty"
	cmp -s "$out/$t.ndjson" "$LT_TMP/again/$t.ndjson" || fail "$t.ndjson differs with the same seed"
done
cmp -s "$out/Patient.ndjson" "$LT_TMP/other/Patient.ndjson" && fail "another seed gave the same patients"

# 3. Every reference points at a resource of the output; ids are unique.
python3 - "$out" <<'PY' || fail "references do not resolve"
import json, sys, glob
ids, refs = set(), []
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "reference":
                refs.append(v)
            else:
                walk(v)
    elif isinstance(x, list):
        for v in x:
            walk(v)
for f in glob.glob(sys.argv[1] + "/*.ndjson"):
    for line in open(f, encoding="utf-8"):
        r = json.loads(line)
        key = r["resourceType"] + "/" + r["id"]
        assert key not in ids, "duplicate " + key
        ids.add(key)
        walk(r)
missing = [r for r in refs if r not in ids]
print(f"{len(ids)} resources, {len(refs)} references, {len(missing)} unresolved")
sys.exit(1 if missing or not refs else 0)
PY

# 4. Import: zero failures.
"$LIENTHONG" import --data "$LT_DATA" "$out" 2>"$LT_TMP/import.err" || fail "import: $(tail -5 "$LT_TMP/import.err")"
grep -q " 0 failed" "$LT_TMP/import.err" || fail "import summary: $(cat "$LT_TMP/import.err")"
lines() { wc -l <"$out/$1.ndjson" | tr -d ' '; }
count() { curl -sf "$LT_URL/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }

lt_start
for t in $TYPES; do
	got=$(count "$t?_summary=count")
	[ "$got" = "$(lines $t)" ] || fail "$t: $got in the store, $(lines $t) generated"
done
# Accent-insensitive search finds the Nguyễns.
nguyen=$(grep -c '"family":"Nguyễn"' "$out/Patient.ndjson")
[ "$nguyen" -gt 50 ] || fail "only $nguyen Nguyễn among 300 people"
[ "$(count 'Patient?family=Nguyen&_summary=count')" = "$nguyen" ] || fail "Patient?family=Nguyen: $(count 'Patient?family=Nguyen&_summary=count'), want $nguyen"
# References resolve in the store too: every Observation has a subject that
# is a stored Patient (chained search), every Encounter a service provider.
obs=$(lines Observation)
[ "$(count 'Observation?subject:Patient.gender=male,female&_summary=count')" = "$obs" ] ||
	fail "Observations whose subject is a stored Patient: $(count 'Observation?subject:Patient.gender=male,female&_summary=count'), want $obs"
[ "$(count 'Encounter?service-provider.identifier=urn:lienthong:id:vn-cskcb|&_summary=count')" = "$(lines Encounter)" ] ||
	fail "Encounters whose provider is a stored Organization"
# A diabetic's HbA1c is there, by code and identifier.
cccd=$(grep -m1 '"code":"E11"' "$out/Condition.ndjson" | python3 -c 'import json,sys; print(json.load(sys.stdin)["subject"]["reference"])')
[ "$(count "Observation?subject=$cccd&code=http://loinc.org|4548-4&_summary=count")" -ge 1 ] ||
	fail "no HbA1c for the diabetic $cccd"
# Care: metformin (ATC) is found by code; every Immunization's patient is a
# stored Patient; a delivery (O80/O82) is there.
metformin=$(grep -c '"code":"A10BA02"' "$out/MedicationRequest.ndjson")
[ "$metformin" -ge 1 ] || fail "no metformin among 300 patients"
[ "$(count 'MedicationRequest?code=http://www.whocc.no/atc|A10BA02&_summary=count')" = "$metformin" ] ||
	fail "MedicationRequest?code=metformin: $(count 'MedicationRequest?code=http://www.whocc.no/atc|A10BA02&_summary=count'), want $metformin"
[ "$(count 'Immunization?patient:Patient.gender=male,female&_summary=count')" = "$(lines Immunization)" ] ||
	fail "Immunizations whose patient is a stored Patient"
[ "$(count 'Condition?code=http://hl7.org/fhir/sid/icd-10|O80,http://hl7.org/fhir/sid/icd-10|O82&_summary=count')" -ge 1 ] ||
	fail "no delivery among 300 patients"
lt_stop

# 5. --format bundle: one transaction Bundle per patient; the same resources.
"$LIENTHONG" gen --patients 20 --seed 7 --out "$LT_TMP/bundles" --format bundle 2>/dev/null || fail "gen --format bundle"
[ "$(find "$LT_TMP/bundles" -name 'gen-pat-*.json' | wc -l)" = 20 ] || fail "not one Bundle per patient"
"$LIENTHONG" gen --patients 20 --seed 7 --out "$LT_TMP/small" 2>/dev/null
want=$(cat "$LT_TMP/small"/*.ndjson | wc -l)
LT_DATA="$LT_TMP/data-bundles"
"$LIENTHONG" import --data "$LT_DATA" "$LT_TMP/bundles" 2>"$LT_TMP/bimport.err" || fail "import of Bundles: $(tail -5 "$LT_TMP/bimport.err")"
grep -q "$want resources loaded" "$LT_TMP/bimport.err" || fail "Bundles: $(cat "$LT_TMP/bimport.err"), want $want resources"
lt_start
[ "$(count 'Patient?_summary=count')" = 20 ] || fail "Patients from Bundles: $(count 'Patient?_summary=count')"
[ "$(count 'Patient?_id=gen-pat-000020&_summary=count')" = 1 ] || fail "PUT did not keep the ids"
lt_stop
echo "PASS gen"
