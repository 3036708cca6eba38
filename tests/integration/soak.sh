#!/usr/bin/env bash
# The short soak (make soak runs the long one: 15 minutes of warm-up, 30
# judged): two minutes of mixed load — creates, reads, conditional updates,
# searches with _include, transactions over HTTP, ORU^R01 over MLLP — from
# four clients; no request may fail, open files (besides the store
# connections' database files) may not grow, and the server must stop cleanly on
# SIGTERM (under ASan: without a leak). RSS is sampled and printed; two
# minutes are too short to judge its growth (tests/reliability/soak.py).
set -euo pipefail
: "${LIENTHONG:?set LIENTHONG to the binary under test}"
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
here=$(dirname "$0")
python3 "$here/../reliability/soak.py" "$LIENTHONG" --minutes "${SOAK_MINUTES:-2}" --clients 4 \
	--interval 10 --warmup 30
