#!/usr/bin/env bash
# The short fault-injection run (make fault-test runs them all): a failed
# write, a failed fsync, a full disk with the audit queue full, a failed
# allocation in SQLite and one in lienthong; clean 503/507 answers, reads
# served (or, when they cannot be audited, refused), nothing acknowledged
# lost, the index and integrity_check consistent. Skipped, saying so, on a
# binary built without the hooks (the release build): the sanitizer build of
# make check has them.
set -euo pipefail
: "${LIENTHONG:?set LIENTHONG to the binary under test}"
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
here=$(dirname "$0")
python3 "$here/../reliability/faults.py" "$LIENTHONG" --quick --seed "${FAULT_SEED:-$RANDOM}"
