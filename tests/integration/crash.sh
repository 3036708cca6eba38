#!/usr/bin/env bash
# The short crash test (make crash-test runs the long one): SIGKILL at random
# moments during mixed writes, restart, nothing acknowledged lost, nothing
# half-written, integrity_check clean. Then the checker's own self-check: a
# version removed behind the server's back must be reported.
set -euo pipefail
: "${LIENTHONG:?set LIENTHONG to the binary under test}"
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
here=$(dirname "$0")
python3 "$here/../reliability/crash.py" "$LIENTHONG" --rounds "${CRASH_ROUNDS:-10}" --seed "${CRASH_SEED:-$RANDOM}"
python3 "$here/../reliability/crash.py" "$LIENTHONG" --rounds 2 --seed 7 --self-check
