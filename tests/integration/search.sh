#!/usr/bin/env bash
# FHIR R4 search (issue #3) against the real binary: loads the fixture
# tests/data/search/fixture.ndjson with PUT (fixed ids), runs every case of
# tests/data/search/cases.tsv through tests/search/run.py (expected result sets
# written by hand from the fixture and R4 search.html), then the scripted cases
# that change the store (paging while resources are created, update, delete).
# The server must then still stop cleanly (ASan builds: no leak).
#
#   LIENTHONG=build/lienthong bash tests/integration/search.sh
#   SEARCH_ONLY='date-*' …     run only the cases whose name matches (shell glob)
# shellcheck source=tests/integration/lib.sh.inc
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed"
here="$(cd "$(dirname "$0")/.." && pwd)"

lt_start
rc=0
python3 "$here/search/run.py" --base "$LT_URL" --load "$here/data/search/fixture.ndjson" \
	--only "${SEARCH_ONLY:-*}" "$here/data/search/cases.tsv" || rc=$?
lt_stop || rc=1
exit $rc
