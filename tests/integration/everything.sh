#!/usr/bin/env bash
# Patient/$everything (issue #4) against the real binary: generates a small
# store with bench/everything-gen.py (a patient with 300 resources among 30
# others with 40 each), loads it with PUT, and checks every answer of
# tests/everything/run.py against the generator's lists, the compartment
# searches and the writes it makes between pages. The server must then still
# stop cleanly (ASan builds: no leak).
#
#   LIENTHONG=build/lienthong bash tests/integration/everything.sh
# shellcheck source=tests/integration/lib.sh.inc
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed"
here="$(cd "$(dirname "$0")/.." && pwd)"

python3 "$here/../bench/everything-gen.py" --seed 7 --patients 30 --per-patient 40 --big 300 "$LT_TMP/gen"
lt_start
rc=0
python3 "$here/everything/run.py" --base "$LT_URL" --gen "$LT_TMP/gen" || rc=$?
lt_stop || rc=1
exit $rc
