#!/usr/bin/env bash
# A real FHIR client (fhir-kit-client, npm) drives the server through create,
# read, update, history, vread, If-Match, patch and delete; decimal text and
# Vietnamese diacritics are checked on the raw HTTP bodies.
# Needs node and tests/client/node_modules (`npm ci --prefix tests/client`).
. "$(dirname "$0")/lib.sh.inc"
: "${LT_SOURCE_DIR:?set LT_SOURCE_DIR to the repository root}"
client="$LT_SOURCE_DIR/tests/client"

command -v node >/dev/null || lt_skip "node is not installed"
[ -d "$client/node_modules/fhir-kit-client" ] ||
	lt_skip "tests/client/node_modules is missing: run 'npm ci --prefix tests/client' first"

lt_start
node --test --test-reporter=spec "$client/fhir-kit-client.test.mjs" || {
	rc=$?
	echo "--- server log (last 50 lines) ---" >&2
	tail -n 50 "$LT_TMP/server.log" >&2
	exit "$rc"
}
# A clean stop: under the sanitizers a leak or an error makes the exit status non-zero.
lt_stop || { tail -n 50 "$LT_TMP/server.log" >&2; exit 1; }
