#!/usr/bin/env bash
# Out of file descriptors while readers are wanted: a request that finds no
# idle reader connection and cannot open one waits for one instead of failing
# (store.c pool_get), the pool stops growing, SQLite's reason (errno 24) is
# logged, and every request is served. The limit is set from the server's own
# count: what it holds after a first request, plus room for a few more files.
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed"

fail() { echo "FAIL: $*" >&2; tail -n 30 "$LT_TMP/server.log" >&2; exit 1; }

lt_start
curl -sf -X PUT -H 'Content-Type: application/fhir+json' "$LT_URL/Patient/ff1" \
	--data-binary '{"resourceType":"Patient","id":"ff1","name":[{"family":"Lê"}]}' >/dev/null
curl -sf "$LT_URL/Patient?family=L" >/dev/null
held=$(ls "/proc/$LT_PID/fd" | wc -l)
lt_stop

# Room for the 16 client sockets and one file more: the clients connect
# first (a barrier), so the pool's second or third reader is what finds no
# file, not accept(). A limit without the sockets made the test depend on
# how fast the server accepted: it could serve the clients one at a time on
# one reader and never run out (CI, 2026-11-23).
(
	ulimit -n $((held + 16 + 1))
	lt_start
	echo "server holds $held files after one search; limit $((held + 16 + 1))"
	# 16 clients at once, each a search, a conditional create (a search on a
	# reader from one of the worker threads that carry writes) and a page of
	# 200 patients (long enough that readers overlap even on one core)
	python3 - "$LT_HOST_PORT" >"$LT_TMP/codes.txt" <<'PY' || true
import http.client, sys, threading
host, port = sys.argv[1].rsplit(":", 1)
codes, lock = [], threading.Lock()
conns = [http.client.HTTPConnection(host, int(port), timeout=30) for c in range(16)]
for conn in conns:
    conn.connect()
go = threading.Barrier(16)
def run(c):
    conn = conns[c]
    go.wait()
    for i in range(25):
        body = '{"resourceType":"Patient","identifier":[{"system":"urn:lt:ff","value":"%d-%d"}]}' % (c, i)
        try:
            conn.request("GET", "/fhir/Patient?identifier=urn:lt:ff%%7C%d-%d" % (c, i))
            r = conn.getresponse(); r.read(); st = [r.status]
            conn.request("POST", "/fhir/Patient", body=body, headers={
                "Content-Type": "application/fhir+json", "If-None-Exist": "identifier=urn:lt:ff|%d-%d" % (c, i)})
            r = conn.getresponse(); r.read(); st.append(r.status)
            conn.request("GET", "/fhir/Patient?_count=200")
            r = conn.getresponse(); r.read(); st.append(r.status)
        except Exception as e:
            st = [type(e).__name__]
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
        with lock:
            codes.extend(st)
th = [threading.Thread(target=run, args=(c,)) for c in range(16)]
[t.start() for t in th]; [t.join() for t in th]
print("\n".join(map(str, codes)))
PY
	lt_stop || exit 1
) || fail "the server did not stop cleanly"
codes=$(sort "$LT_TMP/codes.txt" | uniq -c | tr -s ' ' | tr '\n' ';')
echo "answers: $codes"
[ "$(grep -c '^200$' "$LT_TMP/codes.txt")" = 800 ] && [ "$(grep -c '^201$' "$LT_TMP/codes.txt")" = 400 ] ||
	fail "not every search and conditional create was served: $codes"
grep -q 'cannot open another reader connection' "$LT_TMP/server.log" ||
	fail "the pool never ran out of files (the test proves nothing at this limit)"
grep -q 'sqlite: (14) .*(24)' "$LT_TMP/server.log" || fail "SQLite's reason (errno 24) was not logged"
echo "few_files: ok"
