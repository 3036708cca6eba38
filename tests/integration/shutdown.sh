#!/usr/bin/env bash
# SIGTERM while 16 clients are writing: the server exits 0, and every write it
# acknowledged (201) is present after a restart. Writes refused during the
# shutdown get 503 or no answer, never a 201 that is then lost.
. "$(dirname "$0")/lib.sh.inc"
command -v curl >/dev/null || lt_skip "curl is not installed"
fail() { echo "FAIL: $*" >&2; exit 1; }

lt_start
seq 1 20000 | xargs -P 16 -I{} curl -s -o /dev/null --max-time 10 \
	-w '%{http_code} %header{location}\n' -X POST -H 'Content-Type: application/fhir+json' \
	"$LT_URL/Observation" \
	-d '{"resourceType":"Observation","status":"final","code":{"text":"load {}"},"valueQuantity":{"value":1.50}}' \
	>"$LT_TMP/results" 2>/dev/null &
load=$!
# Stop once a few hundred writes are through, in the middle of the stream.
for _ in $(seq 600); do
	[ "$(grep -c '^201 ' "$LT_TMP/results" 2>/dev/null || true)" -ge 300 ] && break
	sleep 0.1
done
kill -TERM "$LT_PID"
rc=0; wait "$LT_PID" || rc=$?
LT_PID=
[ $rc -eq 0 ] || { tail -n 40 "$LT_TMP/server.log" >&2; fail "server exited with $rc on SIGTERM under load"; }
kill "$load" 2>/dev/null || true	# the rest of the stream would only meet a closed port
wait "$load" 2>/dev/null || true

acked=$(grep -c '^201 ' "$LT_TMP/results" || true)
bad=$(grep -vcE '^(201|503|000) ' "$LT_TMP/results" || true)
[ "$acked" -ge 300 ] || fail "only $acked writes acknowledged before the stop"
[ "$bad" -eq 0 ] || fail "unexpected statuses: $(cut -c1-3 "$LT_TMP/results" | sort | uniq -c)"

lt_start
curl -s -o "$LT_TMP/history" "$LT_URL/Observation/_history?_count=1000"
cursor=
: >"$LT_TMP/stored"
while :; do	# page through all of it
	python3 - "$LT_TMP/history" "$LT_TMP/stored" "$LT_TMP/next" <<'PY'
import json, sys
b = json.load(open(sys.argv[1], encoding="utf-8"))
with open(sys.argv[2], "a") as out:
    for e in b.get("entry", []):
        out.write("Observation/" + e["resource"]["id"] + "\n")
nxt = [l["url"] for l in b["link"] if l["relation"] == "next"]
open(sys.argv[3], "w").write(nxt[0] if nxt else "")
PY
	[ -s "$LT_TMP/next" ] || break
	curl -s -o "$LT_TMP/history" "$(cat "$LT_TMP/next")"
done
grep '^201 ' "$LT_TMP/results" | sed 's|.*/fhir/||; s|/_history/.*||' | sort >"$LT_TMP/acked"
sort -o "$LT_TMP/stored" "$LT_TMP/stored"
missing=$(comm -23 "$LT_TMP/acked" "$LT_TMP/stored" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing acknowledged writes lost across SIGTERM"
lt_stop
echo "shutdown: $acked acknowledged writes before SIGTERM, all present after restart ($(wc -l <"$LT_TMP/stored") stored)"
