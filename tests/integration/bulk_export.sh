#!/usr/bin/env bash
# Bulk Data $export end to end with a real client that follows the IG's flow
# (tests/client/bulk-export.mjs: kick-off, polling with Retry-After,
# download of every file as a stream, each line checked, DELETE): system,
# Patient and Group level, _type, _since, client mistakes, cancel. Then a
# job accepted just before a SIGTERM finishes after the restart.
# Needs node (no npm packages).
. "$(dirname "$0")/lib.sh.inc"
: "${LT_SOURCE_DIR:?set LT_SOURCE_DIR to the repository root}"
client="$LT_SOURCE_DIR/tests/client"
command -v node >/dev/null || lt_skip "node is not installed"

fail() { echo "FAIL: $*" >&2; tail -n 40 "$LT_TMP/server.log" >&2; exit 1; }

lt_start --export-file-resources 1000
BULK_FILE_RESOURCES=1000 node --test --test-reporter=spec "$client/bulk-export.test.mjs" ||
	fail "the bulk export client tests"

# Restart: the job is on disk before its 202; a worker starts it a second
# after its transactionTime, so a SIGTERM at once leaves it queued.
hdr=$(curl -s -o /dev/null -D - -H 'Prefer: respond-async' "$LT_URL/\$export?_type=Patient,Observation")
status_url=$(tr -d '\r' <<<"$hdr" | sed -n 's/^[Cc]ontent-[Ll]ocation: //p')
[ -n "$status_url" ] || fail "no Content-Location: $hdr"
job=${status_url##*/}
lt_stop
[ -f "$LT_DATA/export/$job/state.json" ] || fail "job $job has no state on disk"
lt_start --export-file-resources 1000
out=$(node "$client/bulk-export.mjs" --poll "$LT_URL/\$export-status/$job") || fail "the job after a restart"
echo "after restart: $out"
if ! grep -q '"Patient":60' <<<"$out" || ! grep -q '"Observation":2400' <<<"$out"; then
	fail "counts after restart: $out"
fi
grep -q "job $job resumes\|job $job starts" "$LT_TMP/server.log" || fail "the job did not run after the restart"
[ ! -d "$LT_DATA/export/$job" ] || fail "DELETE left the job's directory"
lt_stop || fail "unclean stop"
echo "bulk_export: ok"
