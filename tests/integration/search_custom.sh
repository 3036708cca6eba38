#!/usr/bin/env bash
# Custom search parameters (decision 0027): SearchParameter resources of the
# host's tenant define parameters every search, include, sort and chain can
# use; resources written before the definition are found once `lienthong
# reindex` has run (online, the server answering meanwhile); refusals are
# 422 with the reason and store nothing; the definitions survive a restart.
set -euo pipefail
. "$(dirname "$0")/lib.sh.inc"

fail() { echo "FAIL: $*" >&2; exit 1; }
post() { curl -s -o "$LT_TMP/body" -w '%{http_code}' -X POST "$LT_URL/$1" -H 'Content-Type: application/fhir+json' -d "$2"; }
ids() { curl -sf "$LT_URL/$1" | python3 -c '
import json, sys
b = json.load(sys.stdin)
print(" ".join(sorted(e["resource"]["resourceType"] + "/" + e["resource"]["id"]
	for e in b.get("entry", []) if e.get("search", {}).get("mode") != "outcome")))'; }
warned() { curl -sf "$LT_URL/$1" | grep -q 'out of date'; }
expect() {	# query, expected ids (sorted, space-separated)
	local got
	got=$(ids "$1")
	[ "$got" = "$2" ] || fail "$1: expected [$2], got [$got]"
}

ETH=https://lienthong.vn/fhir/StructureDefinition/ethnicity
FAC=https://lienthong.vn/fhir/StructureDefinition/registered-facility
patient() {	# id, ethnicity code, registered date, facility
	printf '{"resourceType":"Patient","id":"%s","name":[{"family":"Thạch","given":["Sô Phol"]}],
	"extension":[{"url":"%s","valueCoding":{"system":"urn:lienthong:cs:vn-ethnicity","code":"%s"}},
	{"url":"%s","valueReference":{"reference":"Organization/%s"},
	 "extension":[{"url":"since","valueDate":"%s"}]}]}' "$1" "$ETH" "$2" "$FAC" "$4" "$3"
}
put() { curl -sf -o /dev/null -X PUT "$LT_URL/$1" -H 'Content-Type: application/fhir+json' -d "$2" || fail "PUT $1"; }

lt_start --seed "$LT_SOURCE_DIR/demo/seed.ndjson"
# Written before any definition: found only after the reindex.
put Patient/p-kinh "$(patient p-kinh 01 2020-03-01 79010)"
put Patient/p-khmer "$(patient p-khmer 05 2023-07-15 79999)"

# ---- definitions -----------------------------------------------------------
code=$(post SearchParameter '{"resourceType":"SearchParameter","id":"x","url":"https://lienthong.vn/fhir/SearchParameter/patient-ethnicity",
	"name":"ethnicity","status":"active","description":"Dân tộc (QĐ 121-TCTK/PPCĐ)","code":"ethnicity",
	"base":["Patient"],"type":"token",
	"expression":"Patient.extension.where(url = '"'$ETH'"').value"}')
[ "$code" = 201 ] || { cat "$LT_TMP/body" >&2; fail "ethnicity: $code"; }
code=$(post SearchParameter '{"resourceType":"SearchParameter","url":"https://lienthong.vn/fhir/SearchParameter/patient-registered-facility",
	"name":"registeredFacility","status":"active","description":"Nơi đăng ký KCB ban đầu","code":"registered-facility",
	"base":["Patient"],"type":"reference","target":["Organization"],
	"expression":"Patient.extension.where(url = '"'$FAC'"').value"}')
[ "$code" = 201 ] || { cat "$LT_TMP/body" >&2; fail "registered-facility: $code"; }
code=$(post SearchParameter '{"resourceType":"SearchParameter","url":"https://lienthong.vn/fhir/SearchParameter/registered-since",
	"name":"registeredSince","status":"active","description":"since","code":"registered-since",
	"base":["Patient","Practitioner"],"type":"date",
	"expression":"Patient.extension.where(url = '"'$FAC'"').extension.where(url = '"'since'"').value | Practitioner.extension.where(url = '"'$FAC'"').extension.where(url = '"'since'"').value"}')
[ "$code" = 201 ] || { cat "$LT_TMP/body" >&2; fail "registered-since: $code"; }

# Refused, with the reason, and nothing stored.
before=$(curl -sf "$LT_URL/SearchParameter?_summary=count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
refuse() {	# what, body, words of the reason
	local code
	code=$(post SearchParameter "$2")
	[ "$code" = 422 ] || fail "$1: expected 422, got $code"
	grep -q "$3" "$LT_TMP/body" || { cat "$LT_TMP/body" >&2; fail "$1: no '$3' in the outcome"; }
}
sp() { printf '{"resourceType":"SearchParameter","url":"urn:x:%s","name":"x","status":"active","description":"x","code":"%s","base":["%s"],"type":"%s","expression":"%s"}' "$1" "$1" "$2" "$3" "$4"; }
refuse "built-in code" "$(sp birthdate Patient date Patient.birthDate)" "already has a search parameter"
refuse "taken code" "$(sp ethnicity Patient token Patient.gender)" "already defines Patient 'ethnicity'"
refuse "FHIRPath outside the subset" "$(sp x1 Patient string 'Patient.name.aggregate($this)')" "outside the supported subset"
refuse "not a resource type" "$(sp x2 Resource token id)" "is not a resource type"
refuse "composite" "$(sp x3 Observation composite Observation)" "cannot use a custom composite"
refuse "bad code" "$(sp 'a.b' Patient token Patient.gender)" "must start with a letter"
after=$(curl -sf "$LT_URL/SearchParameter?_summary=count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[ "$before" = "$after" ] || fail "a refused SearchParameter was stored ($before, then $after)"
# Not active, or only the official definition restated: stored, no effect.
[ "$(post SearchParameter "$(sp birthdate Patient date Patient.birthDate | sed 's/"active"/"draft"/')")" = 201 ] || fail "a draft is refused"
[ "$(post SearchParameter '{"resourceType":"SearchParameter","url":"http://hl7.org/fhir/SearchParameter/individual-family","name":"family","status":"active","description":"x","code":"family","base":["Patient","Practitioner"],"type":"string","expression":"Patient.name.family | Practitioner.name.family"}')" = 201 ] ||
	fail "the official definition restated is refused"

# ---- before the reindex: new writes are indexed, older ones are not -------
put Patient/p-hoa "$(patient p-hoa 04 2024-01-10 79010)"
expect "Patient?ethnicity=urn:lienthong:cs:vn-ethnicity|04" "Patient/p-hoa"
expect "Patient?ethnicity=01" ""
warned "Patient?ethnicity=01" || fail "no out-of-date warning before the reindex"
curl -sf "$LT_URL/metadata" | python3 -c '
import json, sys
d = json.load(sys.stdin)
pat = [r for r in d["rest"][0]["resource"] if r["type"] == "Patient"][0]
got = {p["name"]: p["definition"] for p in pat["searchParam"]}
assert got.get("ethnicity") == "https://lienthong.vn/fhir/SearchParameter/patient-ethnicity", got.get("ethnicity")
assert "registered-since" in got and "Patient:registered-facility" in pat["searchInclude"]
org = [r for r in d["rest"][0]["resource"] if r["type"] == "Organization"][0]
assert "Patient:registered-facility" in org["searchRevInclude"]
prac = [r for r in d["rest"][0]["resource"] if r["type"] == "Practitioner"][0]
assert "registered-since" in [p["name"] for p in prac["searchParam"]]
' || fail "the CapabilityStatement does not list the custom parameters"

# ---- reindex, online -------------------------------------------------------
( for i in $(seq 1 100); do curl -sf -o /dev/null "$LT_URL/Patient?ethnicity=01" || exit 1; done ) &
reader=$!
"$LIENTHONG" reindex --data "$LT_DATA" 2>"$LT_TMP/reindex.err" || { cat "$LT_TMP/reindex.err" >&2; fail "reindex"; }
wait "$reader" || fail "a search failed during the rebuild"
# Only the types whose parameters changed are rebuilt.
grep -q 'reindex: Patient, Practitioner$' "$LT_TMP/reindex.err" || { cat "$LT_TMP/reindex.err" >&2; fail "reindex rebuilt other types"; }
! warned "Patient?ethnicity=01" || fail "still out of date after the reindex"

# ---- every use of a parameter ---------------------------------------------
expect "Patient?ethnicity=01" "Patient/p-kinh"
expect "Patient?ethnicity=01,05" "Patient/p-khmer Patient/p-kinh"
expect "Patient?ethnicity:not=01&name=Thạch" "Patient/p-hoa Patient/p-khmer"
expect "Patient?ethnicity:missing=false&name=thach" "Patient/p-hoa Patient/p-khmer Patient/p-kinh"
expect "Patient?ethnicity:missing=true&_id=demo-nguyen-thi-hong" "Patient/demo-nguyen-thi-hong"
expect "Patient?registered-facility=Organization/79010" "Patient/p-hoa Patient/p-kinh"
expect "Patient?registered-facility=79999" "Patient/p-khmer"
expect "Patient?registered-facility.name=phong%20kham" "Patient/p-khmer"
expect "Patient?registered-since=ge2023-01-01" "Patient/p-hoa Patient/p-khmer"
expect "Patient?registered-since=lt2023" "Patient/p-kinh"
expect "Patient?registered-since=2023-07" "Patient/p-khmer"
expect "Patient?_id=p-khmer&_include=Patient:registered-facility" "Organization/79999 Patient/p-khmer"
expect "Patient?_id=p-khmer&_include=Patient:*" "Organization/79999 Patient/p-khmer"
expect "Organization?_id=79999&_revinclude=Patient:registered-facility" "Organization/79999 Patient/p-khmer"
expect "Organization?_has:Patient:registered-facility:ethnicity=05" "Organization/79999"
order=$(curl -sf "$LT_URL/Patient?name=thach&_sort=-registered-since" | python3 -c '
import json, sys
print(" ".join(e["resource"]["id"] for e in json.load(sys.stdin)["entry"]))')
[ "$order" = "p-hoa p-khmer p-kinh" ] || fail "_sort=-registered-since: $order"

# ---- kept across a restart; a change is noticed -----------------------------
lt_stop
lt_start
expect "Patient?ethnicity=05" "Patient/p-khmer"
! warned "Patient?ethnicity=05" || fail "out of date after a restart"
# Narrowing a definition changes the index's fingerprint.
id=$(curl -sf "$LT_URL/SearchParameter?url=https://lienthong.vn/fhir/SearchParameter/patient-ethnicity" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])')
curl -sf "$LT_URL/SearchParameter/$id" | sed 's/"status":"active"/"status":"retired"/' >"$LT_TMP/sp.json"
curl -sf -o /dev/null -X PUT "$LT_URL/SearchParameter/$id" -H 'Content-Type: application/fhir+json' \
	--data-binary @"$LT_TMP/sp.json" || fail "retiring the definition"
code=$(curl -s -o "$LT_TMP/body" -w '%{http_code}' -H 'Prefer: handling=strict' "$LT_URL/Patient?ethnicity=05")
[ "$code" = 400 ] || fail "a retired parameter still answers ($code)"
warned "Patient?name=thach" || fail "no out-of-date warning after a definition changed"
lt_stop
echo "PASS: custom search parameters (token, reference with chain/include/revinclude/_has, date on two types; reindex online; 6 refusals)"
