#!/usr/bin/env bash
# Bulk load (issue #4): `lienthong import` of NDJSON (plain and gzip) and
# Bundle files, a bad line reported as FILE:LINE without stopping the rest,
# --all-or-nothing loading nothing when a line is bad; then POST /fhir/$import
# over HTTP. Counts are checked through the real server's search.
#
#   LIENTHONG=build/lienthong bash tests/integration/import.sh
# shellcheck source=tests/integration/lib.sh.inc
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed"
command -v curl >/dev/null || lt_skip "curl is not installed"
in="$LT_TMP/in"
mkdir -p "$in/dir"
python3 - "$in" <<'PY'
import gzip, json, sys
d = sys.argv[1]
with open(f"{d}/dir/patients.ndjson", "w") as f:
    for i in range(500):
        f.write(json.dumps({"resourceType": "Patient", "id": f"imp{i}", "gender": "female",
                            "identifier": [{"system": "urn:imp", "value": str(i)}]}) + "\n")
    f.write("\n")                                                    # blank: skipped
    f.write('{"resourceType":"Patient","gender":"nonsense"}\n')       # line 502: invalid
with gzip.open(f"{d}/dir/obs.ndjson.gz", "wt") as f:
    for i in range(700):
        f.write(json.dumps({"resourceType": "Observation", "status": "final",
                            "code": {"text": "imp"}, "subject": {"reference": f"Patient/imp{i % 500}"}}) + "\n")
    f.write("{not json\n")                                           # line 701
with open(f"{d}/dir/tx.json", "w") as f:
    json.dump({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:11111111-2222-4333-8444-555555555555",
         "resource": {"resourceType": "Patient", "identifier": [{"system": "urn:imp", "value": "tx"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "imp"},
                      "subject": {"reference": "urn:uuid:11111111-2222-4333-8444-555555555555"}},
         "request": {"method": "POST", "url": "Observation"}}]}, f)
with open(f"{d}/good.ndjson", "w") as f:
    for i in range(50):
        f.write(json.dumps({"resourceType": "Patient", "id": f"good{i}"}) + "\n")
PY
fail() { echo "FAIL $*"; exit 1; }

# 1. A directory: two bad lines reported with file and line, the rest loaded, exit 1.
rc=0
"$LIENTHONG" import --data "$LT_DATA" "$in/dir" 2>"$LT_TMP/import.err" || rc=$?
cat "$LT_TMP/import.err"
[ $rc -eq 1 ] || fail "import with bad lines exited $rc, want 1"
grep -q "patients.ndjson:502: " "$LT_TMP/import.err" || fail "the bad Patient line is not reported as FILE:502"
grep -q "obs.ndjson.gz:701: " "$LT_TMP/import.err" || fail "the bad gzip line is not reported as FILE:701"
grep -q "1202 resources loaded.* 2 failed" "$LT_TMP/import.err" || fail "wrong summary"
# The run is in the audit trail: one record, who ran it and what it did.
"$LIENTHONG" audit list --data "$LT_DATA" | grep "cli/" | grep -q "1202 resources loaded, 2 failed" ||
	fail "the import run is not in the audit trail: $("$LIENTHONG" audit list --data "$LT_DATA")"

# 2. --all-or-nothing with a bad line: nothing at all is written.
rc=0
"$LIENTHONG" import --data "$LT_TMP/aon" --all-or-nothing "$in/good.ndjson" "$in/dir/patients.ndjson" \
	2>"$LT_TMP/aon.err" || rc=$?
[ $rc -eq 1 ] || fail "--all-or-nothing with a bad line exited $rc, want 1"
grep -q "nothing was loaded" "$LT_TMP/aon.err" || fail "--all-or-nothing did not say nothing was loaded"
"$LIENTHONG" import --data "$LT_TMP/aon" --all-or-nothing "$in/good.ndjson" 2>"$LT_TMP/aon2.err" ||
	fail "--all-or-nothing of good lines failed: $(cat "$LT_TMP/aon2.err")"

count() { curl -sf "$LT_URL/$1&_summary=count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
lt_start
[ "$(count 'Patient?identifier=urn:imp|')" = 501 ] || fail "Patients: $(count 'Patient?identifier=urn:imp|'), want 500 + 1 from the Bundle"
[ "$(count 'Observation?code:text=imp')" = 701 ] || fail "Observations: $(count 'Observation?code:text=imp'), want 700 + 1"
[ "$(count 'Patient?_id=imp7')" = 1 ] || fail "ids of NDJSON lines are not kept"
[ "$(count 'Observation?subject.identifier=urn:imp|tx')" = 1 ] || fail "the Bundle's urn:uuid reference was not rewritten"

# 3. POST $import: the same rules over HTTP.
out=$(curl -s -X POST -H 'Content-Type: application/fhir+ndjson' --data-binary @"$in/dir/patients.ndjson" "$LT_URL/\$import")
echo "$out" | grep -q 'loaded 500 of 501 resources; 1 failed' || fail "\$import: $out"
echo "$out" | grep -q '"line 502: ' || fail "\$import does not name the bad line: $out"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: text/plain' --data-binary x "$LT_URL/\$import")" = 415 ] ||
	fail "\$import of text/plain is not 415"
lt_stop

# 4. The store of step 2 holds the good file only: nothing of the refused load.
LT_DATA="$LT_TMP/aon"
lt_start
[ "$(count 'Patient?_id=good1,good49')" = 2 ] || fail "--all-or-nothing lost good lines"
[ "$(count 'Patient?identifier=urn:imp|')" = 0 ] || fail "--all-or-nothing wrote part of a refused load"
lt_stop
echo "import: all checks passed"
