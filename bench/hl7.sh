#!/usr/bin/env bash
# HL7 v2 benchmark (issue #5): ORU^R01 messages (one report, ten
# observations each) sent over MLLP by HL7_CONNS (8) concurrent connections,
# one client process each (tests/hl7/stream.py), each waiting for its ACK
# before the next message, for HL7_SECONDS (30). Every AA is durable: the
# server commits the message's resources and its log entry before it answers.
# Prints acknowledged messages/s and ACK latency p50/p99 over all
# connections, and appends them to bench/RESULTS.md (unless
# BENCH_NO_RESULTS=1). Goal of issue #5: >= 3,000 messages/s, p99 < 20 ms.
#
#   bench/hl7.sh build/lienthong
set -euo pipefail
bin=$(realpath "${1:-build/lienthong}")
here=$(cd "$(dirname "$0")" && pwd)
conns=${HL7_CONNS:-8}
secs=${HL7_SECONDS:-30}
run="$here/out/hl7-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$bin" serve --data "$run/data" --listen 127.0.0.1:0 --auth off --mllp 127.0.0.1:0 --log-level warn \
	>"$run/serve.out" 2>"$run/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening' "$run/serve.out" 2>/dev/null && break; sleep 0.1; done
mllp=$(sed -n 's/.* mllp=\([^ ]*\).*/\1/p' "$run/serve.out")
cpu0=$(awk '{print $14 + $15}' /proc/$pid/stat)
pids=()
for c in $(seq "$conns"); do
	python3 "$here/../tests/hl7/stream.py" send --to "$mllp" --seconds "$secs" \
		--out "$run/acked-$c.txt" --conns 1 --prefix "B$c" >"$run/client-$c.json" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
cpu1=$(awk '{print $14 + $15}' /proc/$pid/stat)
rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
kill -TERM $pid; wait $pid || true
trap - EXIT
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
summary=$(python3 - "$run" "$conns" "$secs" "$cpu0" "$cpu1" <<'PY'
import glob, json, os, sys
run, conns, secs, cpu0, cpu1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
acked = sum(sum(1 for _ in open(f)) for f in glob.glob(run + "/acked-*.txt"))
lat = []
for f in glob.glob(run + "/client-*.json"):
    txt = open(f).read().strip().splitlines()
    d = json.loads(txt[-1]) if txt and txt[-1].startswith("{") else None
    if d: lat.append(d)
p50 = max((d["p50_ms"] for d in lat), default=0)
p99 = max((d["p99_ms"] for d in lat), default=0)
hz = os.sysconf("SC_CLK_TCK")
print(json.dumps({"acked": acked, "messages_per_s": round(acked / secs), "p50_ms_worst_conn": p50,
                  "p99_ms_worst_conn": p99, "server_cpu_ms_per_message": round((cpu1 - cpu0) * 1000 / hz / max(acked, 1), 3)}))
PY
)
echo "hl7: $summary"
if [ "${BENCH_NO_RESULTS:-0}" != 1 ]; then
	cat >>"$here/RESULTS.md" <<MD

## $(date -u '+%Y-%m-%d %H:%M') UTC — HL7 v2 over MLLP, $(git -C "$here/.." rev-parse --short HEAD)$(git -C "$here/.." diff --quiet -- src || echo " + uncommitted src/ changes")

Machine: $(nproc) cores; load average before: $load_before; after: $load_after. $conns connections,
one \`tests/hl7/stream.py\` process each, ORU^R01 with ten NM observations, next message after
the ACK, $secs s. Server peak RSS: $((rss / 1024)) MiB.

\`$summary\`

Command: \`make bench-hl7\` = \`bench/hl7.sh build/lienthong\` (logs in \`bench/out/$(basename "$run")/\`).
MD
fi
