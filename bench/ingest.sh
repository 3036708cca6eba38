#!/usr/bin/env bash
# Ingest benchmark (issue #4): Synthea-shaped data (bench/gen-synthea.py, from
# ../shared/data/synthea), INGEST_RESOURCES of it (default 1,000,000), loaded
#   1. as transaction Bundles over HTTP by 8 concurrent clients
#      (bench/ingest-client.py) into a fresh store, and
#   2. by `lienthong import` of the NDJSON files into another fresh store.
# Prints the figures and appends them, with the commands, to bench/RESULTS.md
# (unless BENCH_NO_RESULTS=1). The generated data stay in bench/out/synthea-N/.
#
#   bench/ingest.sh build/lienthong
set -euo pipefail
bin=$(realpath "${1:-build/lienthong}")
here=$(cd "$(dirname "$0")" && pwd)
n=${INGEST_RESOURCES:-1000000}
clients=${INGEST_CLIENTS:-8}
data="$here/out/synthea-$n"
run="$here/out/ingest-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run"
[ -d "$here/../../shared/data/synthea" ] || { echo "bench/ingest.sh needs ../shared/data/synthea" >&2; exit 2; }
if [ ! -f "$data/manifest.json" ]; then
	echo "generating $n Synthea-shaped resources into $data (once)"
	python3 "$here/gen-synthea.py" --out "$data" --resources "$n" --seed 4
fi
total=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(sum(m["counts"].values()))' "$data/manifest.json")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. Transactions over HTTP.
"$bin" serve --data "$run/tx-data" --listen 127.0.0.1:0 --auth off >"$run/serve.out" 2>"$run/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening' "$run/serve.out" 2>/dev/null && break; sleep 0.1; done
hp=$(sed -n 's/^listening http=\([^ ]*\).*/\1/p' "$run/serve.out")
tx_cmd="bench/ingest-client.py --base http://$hp/fhir --clients $clients $data/bundles"
tx=$(python3 "$here/ingest-client.py" --base "http://$hp/fhir" --clients "$clients" "$data/bundles")
rss_tx=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
kill -TERM $pid; wait $pid || true
trap - EXIT
echo "transactions: $tx"

# 2. lienthong import of the NDJSON.
t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$run/import.rss" "$bin" import --data "$run/import-data" "$data/ndjson" 2>"$run/import.log" || {
	tail -5 "$run/import.log" >&2; exit 1; }
t1=$(date +%s.%N)
imp_rate=$(python3 -c "print(round($total / ($t1 - $t0)))")
summary=$(tail -1 "$run/import.log")
echo "import: $summary"
du_tx=$(du -sm "$run/tx-data" | cut -f1)
du_imp=$(du -sm "$run/import-data" | cut -f1)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
tx_rate=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['resources_per_s'])" "$tx")
tx_p=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d['p50_ms'], '/', d['p99_ms'], 'ms per Bundle')" "$tx")

report=$(cat <<MD

## $(date -u '+%Y-%m-%d %H:%M') UTC — ingest, $(git -C "$here/.." rev-parse --short HEAD)$(git -C "$here/.." diff --quiet -- src || echo " + uncommitted src/ changes")

Machine: $(nproc) cores; load average before: $load_before; after: $load_after. Data:
\`bench/gen-synthea.py --resources $n --seed 4\` → $total resources in $(ls "$data/bundles" | wc -l) patient
transaction Bundles (and the same as NDJSON per type).

| measurement | lienthong | target | met |
|---|---:|---:|:-:|
| transactions, $clients clients, \`POST /fhir\` (fresh store) | $tx_rate resources/s | ≥ 10,000 | $([ "$tx_rate" -ge 10000 ] && echo yes || echo no) |
| latency of one patient Bundle (p50 / p99) | $tx_p | | |
| peak RSS of the server during the transactions | $((rss_tx / 1024)) MiB | | |
| \`lienthong import\` of the NDJSON (fresh store) | $imp_rate resources/s | ≥ 30,000 | $([ "$imp_rate" -ge 30000 ] && echo yes || echo no) |
| peak RSS of \`lienthong import\` | $(( $(cat "$run/import.rss") / 1024 )) MiB | | |
| store size after (transactions / import) | $du_tx / $du_imp MiB | | |

Commands (\`make bench-ingest\` = \`bench/ingest.sh\`; logs in \`$(realpath --relative-to="$here/.." "$run")/\`):

\`\`\`
lienthong serve --data DATA --listen 127.0.0.1:0
$tx_cmd
lienthong import --data DATA2 $data/ndjson     # $summary
\`\`\`
MD
)
echo "$report"
[ "${BENCH_NO_RESULTS:-}" = 1 ] || echo "$report" >>"$here/RESULTS.md"
rm -rf "$run/tx-data" "$run/import-data"
