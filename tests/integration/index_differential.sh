#!/usr/bin/env bash
# The differential check of issue #3: the index values of the C extractor
# (tests/tools/index_dump) against npm fhirpath evaluating the spec's own
# expressions (tests/differential/index-diff.mjs), over every resource of the
# Synthea bundles (../shared/data/synthea) and of the official R4 examples,
# plus hand-made edge cases (tests/data/index-differential/).
# Fails on any disagreement not listed, with its reason, in
# tests/data/index-differential-known.tsv, and on a listed one that no longer
# occurs. Needs node, tests/client/node_modules (`npm ci --prefix
# tests/client`) and ../shared.
. "$(dirname "$0")/lib.sh.inc"
: "${LT_SOURCE_DIR:?set LT_SOURCE_DIR to the repository root}"
: "${LT_TOOLS_DIR:?set LT_TOOLS_DIR to the build directory holding index_dump}"
client="$LT_SOURCE_DIR/tests/client"
synthea="${LT_SHARED_DIR:-}/data/synthea"

command -v node >/dev/null || lt_skip "node is not installed"
[ -d "$client/node_modules/fhirpath" ] && [ -d "$client/node_modules/hl7.fhir.r4.examples" ] ||
	lt_skip "tests/client/node_modules is missing: run 'npm ci --prefix tests/client' first"
[ -n "${LT_SHARED_DIR:-}" ] && [ -d "$synthea" ] ||
	lt_skip "the Synthea bundles are missing: set LT_SHARED_DIR to ../shared (needs data/synthea)"
[ -x "$LT_TOOLS_DIR/index_dump" ] || { echo "no $LT_TOOLS_DIR/index_dump: build first" >&2; exit 1; }

node "$LT_SOURCE_DIR/tests/differential/index-diff.mjs" \
	--index-dump "$LT_TOOLS_DIR/index_dump" \
	--examples "$client/node_modules/hl7.fhir.r4.examples" \
	--synthea "$synthea" \
	--extra "$LT_SOURCE_DIR/tests/data/index-differential" \
	--known "$LT_SOURCE_DIR/tests/data/index-differential-known.tsv"
