#!/usr/bin/env bash
# make bench-everything: Patient/$everything (issue #4) on a generated store.
# A patient whose record holds 1,000 resources (the Patient and 999 in its
# compartment: Observations, MedicationRequests, Encounters, Conditions, ...)
# among 1,000 other patients with 100 each and the Practitioners,
# Organizations, Locations and Medications they refer to (bench/everything-gen.py).
# The store is built once through the HTTP API (PUT of each resource, about
# two minutes) and kept under bench/out/everything-store-*/. Then:
#   - the query plans of the SQL the server runs for each request, and its
#     time in SQLite alone (bench/everything-plans.py writes the statements
#     as sqlite_query.c does, and checks them against the server's debug log);
#   - latency with one client (wrk -c1) and throughput with several, of the
#     first page with the default _count (100), the whole record in one page
#     (_count=1000), the first page across every patient, _type and _since;
#   - the whole record at the default _count, following the next links
#     (bench/everything-walk.py, one keep-alive connection);
# and appends the figures to bench/RESULTS.md. Loopback only; stops by itself
# and ends the processes it started.
#
#   bench/everything.sh [BINARY]     # default: $LIENTHONG, else build/lienthong
#
# Knobs (environment): BENCH_EV_PATIENTS (1000 other patients), BENCH_EV_PER_PATIENT
# (100), BENCH_EV_BIG (999: the big record is this + its Patient), BENCH_EV_SEED
# (2026), BENCH_EV_SECONDS (10: each run), BENCH_EV_CLIENTS (8: the throughput
# runs), BENCH_NO_RESULTS=1 (do not append to bench/RESULTS.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench="$root/bench"
bin=${1:-${LIENTHONG:-$root/build/lienthong}}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
patients=${BENCH_EV_PATIENTS:-1000}
per_patient=${BENCH_EV_PER_PATIENT:-100}
big=${BENCH_EV_BIG:-999}
seed=${BENCH_EV_SEED:-2026}
seconds=${BENCH_EV_SECONDS:-10}
clients=${BENCH_EV_CLIENTS:-8}

die() { echo "bench-everything: $*" >&2; exit 1; }
say() { echo "bench-everything: $*" >&2; }

[ -x "$bin" ] || die "no binary at $bin (build it: make build)"
for tool in wrk curl awk python3; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps-bench)"
done

field() { sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" <<<" $1"; }
fmt_int() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }
ms() { awk -v us="$1" 'BEGIN { printf (us < 10000 ? "%.2f" : "%.1f"), us / 1000 }'; }
rate() { awk -v n="$1" -v us="$2" 'BEGIN { r = n * 1e6 / us; printf (r < 10 ? "%.1f" : "%d"), r }'; }
sha() { sha256sum "$@" | sha256sum | cut -c1-12; }
# user + system CPU time of a process, in µs
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000000 / hz }' "/proc/$1/stat"; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$bench/out/everything-$stamp"
log="$out/bench.log"
mkdir -p "$out"
say "output in ${out#"$root"/}"

server_pid=
drain_pid=
job_pid=
cleanup() {
	local pid
	for pid in "$job_pid" "$server_pid" "$drain_pid"; do
		if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server DATA [ARGS...]: port 0, waits for the "listening" line (never
# sleeps); sets server_pid and base. The server's stderr goes to $out/server.log.
start_server() {
	local data=$1 fifo="$out/server.fifo" line
	shift
	rm -f "$fifo"
	mkfifo "$fifo"
	"$bin" serve --data "$data" --listen 127.0.0.1:0 --auth off "$@" >"$fifo" 2>>"$out/server.log" &
	server_pid=$!
	exec 9<"$fifo"
	IFS= read -r -t 60 line <&9 || { tail "$out/server.log" >&2; die "server printed no listening line within 60 s"; }
	cat <&9 >>"$out/server.log" &
	drain_pid=$!
	exec 9<&-
	rm -f "$fifo"
	case "$line" in "listening http="*) ;; *) die "unexpected first line: $line" ;; esac
	line=${line#listening http=}
	base="http://127.0.0.1:${line##*:}"
}

stop_server() {
	local rc=0
	kill -TERM "$server_pid"
	wait "$server_pid" || rc=$?
	server_pid=
	wait "$drain_pid" 2>/dev/null || true
	drain_pid=
	[ "$rc" -eq 0 ] || die "server exited with status $rc on SIGTERM"
}

# run LABEL COMMAND...: keeps the output in the log, echoes its RESULT line.
run() {
	local label=$1 result
	shift
	echo "\$ $*" >>"$log"
	"$@" >"$out/run.out" 2>&1 &
	job_pid=$!
	wait "$job_pid" || { cat "$out/run.out" >&2; die "$label failed"; }
	job_pid=
	cat "$out/run.out" >>"$log"
	result=$(grep '^RESULT ' "$out/run.out") || die "$label printed no RESULT line"
	if grep -q '^LAST_FAILURE ' "$out/run.out"; then die "$label: $(grep '^LAST_FAILURE ' "$out/run.out")"; fi
	echo "$result"
}

# ---------------------------------------------------------------- 1. the store (cached)

args="--seed $seed --patients $patients --per-patient $per_patient --big $big"
gen_key=$(sha "$bench/everything-gen.py")
data_key=$(sha "$bench/everything-gen.py" "$bench/load.lua" "$root"/src/fhir/index.c \
	"$root"/src/fhir/index_rows.c "$root"/src/fhir/search_params.c "$root"/src/fhir/fhirpath.c \
	"$root"/src/store/sqlite.c)
cache="$bench/out/everything-store-s$seed-p$patients-n$per_patient-b$big"
gen="$cache/gen-$gen_key"
data="$cache/data-$data_key"
mkdir -p "$cache"
if [ ! -s "$gen/manifest.json" ]; then
	rm -rf "$cache"/gen-*
	say "generating: bench/everything-gen.py $args"
	# shellcheck disable=SC2086 # args is a list of options
	nice python3 "$bench/everything-gen.py" $args "$gen"
fi
resources=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resources"])' "$gen/manifest.json")
record=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["big"]["compartment"])' "$gen/manifest.json")
if [ ! -s "$data/loaded.txt" ]; then
	rm -rf "$cache"/data-*
	say "loading $(fmt_int "$resources") resources: wrk -t1 -c64 PUT each line"
	start_server "$data.loading" --workers 64
	r=$(run load wrk -t1 -c64 -d3600s --timeout 60s -s "$bench/load.lua" "$base" -- "$gen/store.ndjson")
	[ "$(field "$r" failed)" -eq 0 ] || die "loading: $(field "$r" failed) PUTs were not 201 (see $log)"
	[ "$(field "$r" created)" -eq "$resources" ] || die "loading: $(field "$r" created) of $resources created"
	stop_server
	{
		echo "rate=$(rate "$resources" "$(field "$r" duration_us)")"
		echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo none)"
	} >"$data.loading/loaded.txt"
	mv "$data.loading" "$data"
fi
load_rate=$(sed -n 's/^rate=//p' "$data/loaded.txt")
load_when=$(sed -n 's/^date=//p' "$data/loaded.txt")
db_bytes=$(du -sb "$data" | awk '{ print $1 }')

# ---------------------------------------------------------------- 2. the requests

E="/fhir/Patient/big/\$everything"
names=(first-page whole-record every-patient type since)
paths=("$E" "$E?_count=1000" "/fhir/Patient/\$everything" "$E?_type=Observation,Practitioner&_count=1000"
	"$E?_since=2099-01-01T00:00:00Z")
what=("the first page, default _count (100)" "the whole record in one page"
	"the first page across every patient (100)" "the record's Observations and their Practitioners"
	"_since: nothing changed (the cost of an empty answer)")

# ---------------------------------------------------------------- 3. query plans

say "query plans of the server's SQL (bench/everything-plans.py, checked against the debug log)"
start_server "$data" --log-level debug
for i in "${!names[@]}"; do
	echo "== ${names[$i]} ${paths[$i]}" >>"$out/server.log"
	curl -sf -o /dev/null "$base${paths[$i]}" || die "${names[$i]}: the request failed"
done
stop_server
python3 "$bench/everything-plans.py" "$data/lienthong.db" "$root/src/fhir/search_params.c" \
	"$out/server.log" "$base/fhir" >"$out/plans.md" || die "everything-plans.py: see above"

# ---------------------------------------------------------------- 4. latency and throughput

start_server "$data"
say "lienthong pid $server_pid on $base; store of $(fmt_int "$resources") resources, record of $(fmt_int "$record")"
rows=()
for i in "${!names[@]}"; do
	printf '# %s\n# %s\n%s\n' "${what[$i]}" "${paths[$i]}" "${paths[$i]}" >"$out/${names[$i]}.txt"
	run warm-up wrk -t1 -c1 -d2s --timeout 30s -s "$bench/search.lua" "$base" -- "$out/${names[$i]}.txt" >/dev/null
	c0=$(cpu_us "$server_pid")
	r1=$(run "${names[$i]}" wrk -t1 -c1 -d"${seconds}s" --timeout 30s -s "$bench/search.lua" "$base" -- "$out/${names[$i]}.txt")
	cpu=$(awk -v a="$c0" -v b="$(cpu_us "$server_pid")" -v n="$(field "$r1" requests)" 'BEGIN { printf "%d", (b - a) / n }')
	rn=$(run "${names[$i]} x$clients" wrk -t1 -c"$clients" -d"${seconds}s" --timeout 30s -s "$bench/search.lua" "$base" -- "$out/${names[$i]}.txt")
	for r in "$r1" "$rn"; do
		bad=$(($(field "$r" status_errors) + $(field "$r" connect_errors) + $(field "$r" read_errors) + $(field "$r" timeouts)))
		[ "$bad" -eq 0 ] || die "${names[$i]}: $bad failed requests ($r)"
	done
	per=$(awk -v r="$(field "$r1" requests)" -v m="$(field "$r1" matches)" -v i="$(field "$r1" includes)" \
		'BEGIN { printf "%d + %d", m / r, i / r }')
	kib=$(awk -v b="$(field "$r1" bytes)" -v r="$(field "$r1" requests)" 'BEGIN { printf "%d", b / r / 1024 }')
	say "${names[$i]}: p50 $(ms "$(field "$r1" p50_us)") ms, p99 $(ms "$(field "$r1" p99_us)") ms, server CPU $(ms "$cpu") ms a request; $clients clients: $(rate "$(field "$rn" requests)" "$(field "$rn" duration_us)") req/s"
	# shellcheck disable=SC2016 # the backquotes are Markdown
	rows+=("$(printf '| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s |' "${names[$i]}" "${paths[$i]}" \
		"$(ms "$(field "$r1" p50_us)")" "$(ms "$(field "$r1" p99_us)")" "$(ms "$cpu")" \
		"$(fmt_int "$(rate "$(field "$r1" requests)" "$(field "$r1" duration_us)")")" \
		"$(fmt_int "$(rate "$(field "$rn" requests)" "$(field "$rn" duration_us)")")" \
		"$(ms "$(field "$rn" p99_us)")" "$per" "$(fmt_int "$kib")")")
done
walk_rows=()
for count in 100 1000; do
	w=$(run "walk $count" python3 "$bench/everything-walk.py" "$base" "$E?_count=$count" --seconds "$seconds")
	say "whole record at _count=$count: $(field "$w" pages) pages, p50 $(ms "$(field "$w" p50_us)") ms"
	walk_rows+=("$(printf '| %s | %s | %s + %s | %s | %s | %s | %s |' "$count" "$(field "$w" pages)" \
		"$(fmt_int "$(field "$w" matches)")" "$(field "$w" includes)" "$(ms "$(field "$w" p50_us)")" \
		"$(ms "$(field "$w" p99_us)")" "$(ms "$(field "$w" page_p50_us)")" "$(field "$w" walks)")")
done
stop_server

# ---------------------------------------------------------------- 5. report

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
if [ "$commit" != "no commit" ] && [ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ]; then commit="$commit + uncommitted src/ changes"; fi
section=$(
	cat <<EOF

## Patient/\$everything, $(date -u '+%Y-%m-%d %H:%M UTC') — $commit

Machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)'). Loopback; wrk on the same cores as the server. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: figures from a busy machine are higher than the code's own).

Store: $(fmt_int "$resources") resources (\`bench/everything-gen.py $args\`), $(awk -v b="$db_bytes" 'BEGIN { printf "%.0f MiB", b / 1048576 }') on disk, loaded $load_when through PUT at $(fmt_int "$load_rate") resources/s. Patient/big's record: $(fmt_int "$record") resources (the Patient and $(fmt_int "$((record - 1))") in its compartment, written in a random order among the others' resources), referring to $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["big"]["referenced"])' "$gen/manifest.json") Practitioners, Organizations, Locations and Medications.

One client: wrk -c1, ${seconds} s, after a 2 s warm-up; $clients clients: wrk -c$clients, ${seconds} s. "CPU ms": the server's user + system CPU time per request during the one-client run (less sensitive than latency to other work on the machine). "entries": matches + included resources per answer.

| request | path | p50 ms | p99 ms | CPU ms | req/s, 1 client | req/s, $clients clients | p99 ms, $clients clients | entries | KiB |
|---|---|---:|---:|---:|---:|---:|---:|---|---:|
$(printf '%s\n' "${rows[@]}")

The whole record page by page, following the next links on one keep-alive connection (bench/everything-walk.py, ${seconds} s; Python's own time is included: compare "page p50" with wrk's):

| _count | pages | entries | record p50 ms | record p99 ms | page p50 ms | records |
|---:|---:|---|---:|---:|---:|---:|
$(printf '%s\n' "${walk_rows[@]}")

Query plans of the SQL the server runs for each first page (bench/everything-plans.py: written as src/store/sqlite_query.c writes it, checked against the server's debug log, EXPLAIN QUERY PLAN with the same values; the time is SQLite alone, best of 5, from Python):
$(cat "$out/plans.md")

Commands: \`make bench-everything\` = \`bench/everything.sh\`; logs in \`bench/out/everything-$stamp/\`:

\`\`\`
python3 bench/everything-gen.py $args DIR
wrk -t1 -c64 -d3600s --timeout 60s -s bench/load.lua URL -- DIR/store.ndjson      (server with --workers 64)
wrk -t1 -c1 -d${seconds}s -s bench/search.lua URL -- PATH.txt      (and -c$clients)
python3 bench/everything-walk.py URL '/fhir/Patient/big/\$everything?_count=100' --seconds $seconds
\`\`\`
EOF
)
echo "$section"
if [ -z "${BENCH_NO_RESULTS:-}" ]; then
	echo "$section" >>"$bench/RESULTS.md"
	say "appended to bench/RESULTS.md"
fi
echo "$section" >"$out/summary.md"
