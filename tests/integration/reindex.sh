#!/usr/bin/env bash
# lienthong reindex, online: a server keeps answering searches while another
# process rebuilds the index of the same store; an index built for another
# parameter table makes searches carry a warning until the rebuild is done.
set -euo pipefail
. "$(dirname "$0")/lib.sh.inc"
command -v sqlite3 >/dev/null || lt_skip "sqlite3 (the CLI) is not installed"

fail() { echo "FAIL: $*" >&2; exit 1; }
count() { curl -sf "$LT_URL/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }

lt_start --seed "$LT_SOURCE_DIR/demo/seed.ndjson"
# 300 more patients so the rebuild takes more than one batch
for i in $(seq 1 300); do
	printf '{"resourceType":"Patient","name":[{"family":"Nguyễn","given":["Văn %d"]}],"birthDate":"1990-01-01"}\n' "$i"
done | while read -r body; do
	curl -sf -o /dev/null -X POST "$LT_URL/Patient" -H 'Content-Type: application/fhir+json' -d "$body"
done
[ "$(count 'Patient?name=nguyen&_summary=count')" = 301 ] || fail "301 Nguyễn before"
lt_stop

# Pretend the index was made by another build: drop the rows, change the record.
sqlite3 "$LT_DATA/lienthong.db" "DELETE FROM ix_string; DELETE FROM ix_token;
	UPDATE store_meta SET value='r4-older' WHERE key='index_params';"
lt_start
[ "$(count 'Patient?name=nguyen&_summary=count')" = 0 ] || fail "rows were dropped"
curl -sf "$LT_URL/Patient?name=nguyen" | grep -q 'out of date' || fail "no stale-index warning"

# Rebuild while a client keeps searching.
( for i in $(seq 1 200); do curl -sf -o /dev/null "$LT_URL/Patient?birthdate=1990" || exit 1; done ) &
reader=$!
"$LIENTHONG" reindex --data "$LT_DATA" 2>"$LT_TMP/reindex.err" || { cat "$LT_TMP/reindex.err" >&2; fail "reindex exited non-zero"; }
wait "$reader" || fail "a search failed during the rebuild"
grep -q 'reindex: done' "$LT_TMP/reindex.err" || fail "no progress/summary on stderr"
grep -q 'reindex: every type' "$LT_TMP/reindex.err" || fail "another table, yet not every type rebuilt"
[ "$(count 'Patient?name=nguyen&_summary=count')" = 301 ] || fail "301 Nguyễn after the rebuild"
[ "$(count 'Patient?identifier=079180001234&_summary=count')" = 1 ] || fail "tokens after the rebuild"
if curl -sf "$LT_URL/Patient?name=nguyen" | grep -q 'out of date'; then fail "warning after the rebuild"; fi
lt_stop
echo "PASS: reindex online (301 patients, searches answered throughout)"
