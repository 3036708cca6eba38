#!/usr/bin/env bash
# HL7 v2 over MLLP end to end: a real client (@medplum/hl7, tests/client/
# hl7-mllp.test.mjs) gets the right ACKs and finds the resources over FHIR;
# `lienthong hl7 send` prints ACKs; `lienthong hl7 messages` finds the log
# entries by control id and patient; `lienthong hl7 replay` processes them
# again without duplicates. Then every message of ../shared/data/hl7v2 is
# sent and answered (skipped, visibly, without ../shared).
# Needs node and tests/client's npm packages.
. "$(dirname "$0")/lib.sh.inc"
: "${LT_SOURCE_DIR:?set LT_SOURCE_DIR to the repository root}"
client="$LT_SOURCE_DIR/tests/client"
command -v node >/dev/null || lt_skip "node is not installed"
[ -d "$client/node_modules/@medplum/hl7" ] || lt_skip "npm packages of tests/client are not installed (npm ci there)"

fail() { echo "FAIL: $*" >&2; tail -n 40 "$LT_TMP/server.log" >&2; exit 1; }

lt_start --mllp 127.0.0.1:0
[ -n "$LT_MLLP" ] || fail "no mllp= in the listening line"
node --test --test-reporter=spec "$client/hl7-mllp.test.mjs" || fail "the MLLP client tests"

# The operator's tools.
printf 'MSH|^~\\&|HIS|BVND|LT|SYT|20261122090000||ADT^A04^ADT_A01|CLI-1|P|2.5\rEVN|A04\rPID|1||079301009999^^^BCA^NI||Tran^Thi Binh||19900215|F\rPV1|1|O\r' >"$LT_TMP/a04.hl7"
out=$("$LIENTHONG" hl7 send "$LT_TMP/a04.hl7" --to "$LT_MLLP") || fail "hl7 send: $out"
grep -q '^MSA|AA|CLI-1' <<<"$out" || fail "hl7 send printed no AA for CLI-1: $out"
log=$("$LIENTHONG" hl7 messages --data "$LT_DATA" --control-id CLI-1) || fail "hl7 messages"
grep -q 'CLI-1' <<<"$log" && grep -q 'Patient/' <<<"$log" || fail "the log has no CLI-1 with its patient: $log"
patient=$(grep CLI-1 <<<"$log" | grep -o 'Patient/[A-Za-z0-9.-]*' | head -1)
"$LIENTHONG" hl7 messages --data "$LT_DATA" --patient "$patient" | grep -q CLI-1 ||
	fail "hl7 messages --patient $patient does not find CLI-1"
n_before=$(curl -sf "$LT_URL/Patient?identifier=079301009999&_summary=count" | grep -o '"total":[0-9]*')
"$LIENTHONG" hl7 replay --data "$LT_DATA" --control-id CLI-1 | grep -q 'AA -> AA' || fail "replay of CLI-1"
n_after=$(curl -sf "$LT_URL/Patient?identifier=079301009999&_summary=count" | grep -o '"total":[0-9]*')
[ "$n_before" = '"total":1' ] && [ "$n_after" = '"total":1' ] || fail "patients before/after replay: $n_before / $n_after"

# Every message of the shared collection gets an answer.
shared="${LT_SHARED_DIR:-$LT_SOURCE_DIR/../shared}/data/hl7v2"
if [ -d "$shared" ]; then
	sent=0
	for f in "$shared"/*.hl7 "$shared"/*.txt; do
		[ -f "$f" ] || continue
		out=$("$LIENTHONG" hl7 send "$f" --to "$LT_MLLP" 2>&1) || true
		grep -q '^lienthong: hl7 send' <<<"$out" && fail "$f: $out"
		sent=$((sent + $(grep -c '^MSA|' <<<"$out" || true)))
	done
	echo "shared hl7v2 messages answered: $sent"
	[ "$sent" -gt 0 ] || fail "no shared message was answered"
else
	echo "SKIP (part): ../shared/data/hl7v2 is absent; the shared messages were not sent"
fi
lt_stop || fail "unclean stop"

# Each message is in the audit trail: who sent it, which message, which
# patient (the MLLP one and its replay by the CLI).
audit=$("$LIENTHONG" audit list --data "$LT_DATA" --limit 100000)
n=$(grep 'hl7/HIS^BVND' <<<"$audit" | grep 'message/CLI-1' | grep -c "$patient" || true)
[ "$n" = 2 ] || fail "CLI-1 and its replay should be 2 audit records with $patient, found $n: $(grep CLI-1 <<<"$audit")"
"$LIENTHONG" audit verify --data "$LT_DATA" >/dev/null || fail "audit verify"
echo "hl7_mllp: ok"
