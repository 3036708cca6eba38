#!/usr/bin/env bash
# Nothing acknowledged is lost: a client streams ORU^R01 messages on four
# MLLP connections and the server is killed with SIGKILL in the middle.
# After a restart every message that got AA is in the store exactly once
# (its DiagnosticReport and ten Observations), and sending them all again
# gets AA for each and creates nothing (the message log survived too).
. "$(dirname "$0")/lib.sh.inc"
: "${LT_SOURCE_DIR:?set LT_SOURCE_DIR to the repository root}"
stream="$LT_SOURCE_DIR/tests/hl7/stream.py"

fail() { echo "FAIL: $*" >&2; tail -n 40 "$LT_TMP/server.log" >&2; exit 1; }

lt_start --mllp 127.0.0.1:0
acked="$LT_TMP/acked.txt"
: >"$acked"
python3 "$stream" send --to "$LT_MLLP" --out "$acked" --conns 4 >"$LT_TMP/stream.out" 2>&1 &
sp=$!
for _ in $(seq 300); do [ "$(wc -l <"$acked")" -ge 200 ] && break; sleep 0.1; done
kill -KILL "$LT_PID"
wait "$LT_PID" 2>/dev/null || true
LT_PID=
wait "$sp" || true
n=$(wc -l <"$acked")
echo "acknowledged before the kill: $n"
[ "$n" -gt 0 ] || fail "nothing was acknowledged before the kill: $(cat "$LT_TMP/stream.out")"
lt_start --mllp 127.0.0.1:0
python3 "$stream" verify --base "$LT_URL" "$acked" || fail "acknowledged messages missing or doubled"
n_obs=$(curl -sf "$LT_URL/Observation?_summary=count" | grep -o '"total":[0-9]*')
python3 "$stream" resend --to "$LT_MLLP" "$acked" || fail "resending acknowledged messages"
[ "$(curl -sf "$LT_URL/Observation?_summary=count" | grep -o '"total":[0-9]*')" = "$n_obs" ] ||
	fail "resending created observations"
python3 "$stream" verify --base "$LT_URL" "$acked" || fail "after resending"
lt_stop || fail "unclean stop"
echo "hl7_crash: ok"
