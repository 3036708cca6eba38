#!/usr/bin/env bash
# The demo as `make run` starts it: a seed directory (demo/seed.ndjson and a
# generated city) is loaded into the empty store on first start, in the
# bulk-load mode, and only then; the client `demo` gets a token, and the
# README's queries against the city answer.
set -euo pipefail
. "$(dirname "$0")/lib.sh.inc"
command -v curl >/dev/null || lt_skip "curl is not installed"

fail() { echo "FAIL: $*" >&2; exit 1; }
seed="$LT_TMP/seed"
mkdir -p "$seed"
cp "$LT_SOURCE_DIR/demo/seed.ndjson" "$seed/"
"$LIENTHONG" gen --patients 60 --seed 79 --out "$seed/city" >/dev/null 2>&1 || fail "gen"
demo_patients=$(grep -c '"resourceType":"Patient"' "$LT_SOURCE_DIR/demo/seed.ndjson")

LT_AUTH=on lt_start --seed "$seed"
token=$("$LIENTHONG" token --data "$LT_DATA" --client demo 2>/dev/null) || fail "no token for the demo client"
get() { curl -sf -H "Authorization: Bearer $token" "$LT_URL/$1"; }
total() { get "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
[ "$(total 'Patient?_summary=count')" = $((60 + demo_patients)) ] || fail "patients: $(total 'Patient?_summary=count')"
[ "$(total 'Organization?identifier=urn:lienthong:id:vn-cskcb|79001&_summary=count')" = 1 ] || fail "facility 79001"
get 'Patient/demo-nguyen-thi-hong' >/dev/null || fail "the hand-written demo patient"
for q in 'Condition?code=http://hl7.org/fhir/sid/icd-10|E11&_summary=count' \
	'Observation?code=http://loinc.org|4548-4&value-quantity=gt7&_include=Observation:subject&_count=3' \
	'Encounter?class=IMP&date=ge2025-01-01&_summary=count' \
	'Encounter?service-provider.identifier=urn:lienthong:id:vn-cskcb|79001&_summary=count' \
	'Patient?address:contains=hoa%20hung&_count=3' 'Patient/gen-pat-000001/$everything'; do
	get "$q" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["type"] == "searchset", b' ||
		fail "README query $q"
done
lt_stop

# A second start does not load it again.
LT_AUTH=on lt_start --seed "$seed"
token=$("$LIENTHONG" token --data "$LT_DATA" --client demo 2>/dev/null)
[ "$(total 'Patient?_summary=count')" = $((60 + demo_patients)) ] || fail "seeded twice"
lt_stop
echo "demo: seed directory loaded once, $((60 + demo_patients)) patients, README queries answer"
