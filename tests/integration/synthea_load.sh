#!/usr/bin/env bash
# Every Synthea bundle of ../shared/data/synthea loads as a transaction
# (issue #4; hospital and practitioner bundles first), with zero errors; the
# resource counts per type match the bundles and every reference in the store
# resolves (tests/transactions/run.py synthea). Skipped, visibly, when
# ../shared is not beside the repository.
#
#   LIENTHONG=build/lienthong bash tests/integration/synthea_load.sh
# shellcheck source=tests/integration/lib.sh.inc
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed"
here="$(cd "$(dirname "$0")/.." && pwd)"
synthea="$(cd "$here/.." && pwd)/../shared/data/synthea"
[ -d "$synthea" ] || lt_skip "$synthea is absent (../shared must sit beside the repository)"

lt_start
rc=0
python3 "$here/transactions/run.py" --base "$LT_URL" synthea "$synthea" || rc=$?
lt_stop || rc=1
exit $rc
