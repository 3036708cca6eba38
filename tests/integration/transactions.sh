#!/usr/bin/env bash
# Concurrent transactions (issue #4) against the real binary: 20 clients send
# overlapping transactions for TX_SECONDS (default 30), see
# tests/transactions/run.py: no deadlock, no lost update, conditional creates
# never race into duplicates, the store equals a serial replay. The server
# must then still stop cleanly (ASan builds: no leak).
#
#   LIENTHONG=build/lienthong bash tests/integration/transactions.sh
# shellcheck source=tests/integration/lib.sh.inc
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed"
here="$(cd "$(dirname "$0")/.." && pwd)"

lt_start
rc=0
python3 "$here/transactions/run.py" --base "$LT_URL" concurrency --clients 20 \
	--seconds "${TX_SECONDS:-30}" || rc=$?
lt_stop || rc=1
exit $rc
