#!/usr/bin/env bash
# Every official R4 example (npm hl7.fhir.r4.examples@4.0.1) is POSTed, read
# back and compared with the original (apart from id and meta, number text
# exact); rejections must match tests/data/r4-examples-rejected.txt.
# Needs node and tests/client/node_modules (`npm ci --prefix tests/client`).
. "$(dirname "$0")/lib.sh.inc"
: "${LT_SOURCE_DIR:?set LT_SOURCE_DIR to the repository root}"
client="$LT_SOURCE_DIR/tests/client"

command -v node >/dev/null || lt_skip "node is not installed"
[ -d "$client/node_modules/hl7.fhir.r4.examples" ] ||
	lt_skip "tests/client/node_modules is missing: run 'npm ci --prefix tests/client' first"

# Two of the examples (Bundle-resources.json, 35 MB; Bundle-dataelements.json,
# 21 MB) are larger than the default body limit; this test is about content.
lt_start --max-body-bytes 41943040
node "$client/r4-examples.mjs" "$LT_URL" || {
	rc=$?
	echo "--- server log (last 50 lines) ---" >&2
	tail -n 50 "$LT_TMP/server.log" >&2
	exit "$rc"
}
# A clean stop: under the sanitizers a leak or an error makes the exit status non-zero.
lt_stop || { tail -n 50 "$LT_TMP/server.log" >&2; exit 1; }
