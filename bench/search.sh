#!/usr/bin/env bash
# make bench-search: FHIR search on a generated store of 1,000,000 resources
# (issue #3). Builds the store once (bench/gen-store.py, then every resource
# PUT through the HTTP API) and keeps it under bench/out/store-*/; then
# measures each search of bench/search-queries.py with wrk (latency with one
# client, throughput with several), records the SQLite query plans of the SQL
# the server builds for them, and appends the figures to bench/RESULTS.md.
# Loopback only; stops by itself and ends the processes it started.
# See bench/README.md ("Search") for what each figure means.
#
#   bench/search.sh [BINARY]         # default: $LIENTHONG, else build/lienthong
#
# Knobs (environment): BENCH_SEARCH_RESOURCES (1000000), BENCH_SEARCH_SEED
# (2026), BENCH_SEARCH_SECONDS (8: each latency and each throughput run),
# BENCH_SEARCH_CLIENTS (8: connections of the throughput runs),
# BENCH_SEARCH_LOAD_CLIENTS (512: connections while loading),
# BENCH_SEARCH_ONLY (space-separated scenario names), BENCH_SEARCH_STORE_ONLY=1
# (build the cached store and stop), BENCH_NO_RESULTS=1 (do not append to
# bench/RESULTS.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench="$root/bench"
bin=${1:-${LIENTHONG:-$root/build/lienthong}}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
resources=${BENCH_SEARCH_RESOURCES:-1000000}
seed=${BENCH_SEARCH_SEED:-2026}
seconds=${BENCH_SEARCH_SECONDS:-8}
clients=${BENCH_SEARCH_CLIENTS:-8}
load_clients=${BENCH_SEARCH_LOAD_CLIENTS:-512}
queries="$bench/search-queries.py"

die() { echo "bench-search: $*" >&2; exit 1; }
say() { echo "bench-search: $*" >&2; }

[ -x "$bin" ] || die "no binary at $bin (build it: make build)"
for tool in wrk curl awk python3; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps-bench)"
done

# ---------------------------------------------------------------- helpers

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
field() { sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" <<<" $1"; }
fmt_int() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }
ms() { awk -v us="$1" 'BEGIN { printf (us < 10000 ? "%.2f" : "%.1f"), us / 1000 }'; }
sha() { sha256sum "$@" | sha256sum | cut -c1-12; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$bench/out/search-$stamp"
log="$out/bench.log"
mkdir -p "$out"
say "output in ${out#"$root"/}"

server_pid=
drain_pid=
wrk_pid=
cleanup() {
	local pid
	for pid in "$wrk_pid" "$server_pid" "$drain_pid"; do
		if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server DATA [ARGS...]: port 0, waits for the "listening" line (never
# sleeps); sets server_pid and base.
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

# run_wrk LABEL ARGS...: keeps wrk's output in the log, echoes its RESULT line.
run_wrk() {
	local label=$1 result
	shift
	echo "\$ wrk $*" >>"$log"
	wrk "$@" >"$out/wrk.out" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid" || { cat "$out/wrk.out" >&2; die "wrk failed ($label)"; }
	wrk_pid=
	cat "$out/wrk.out" >>"$log"
	result=$(grep '^RESULT ' "$out/wrk.out") || die "wrk printed no RESULT line ($label)"
	if grep -q '^LAST_FAILURE ' "$out/wrk.out"; then say "$label: $(grep '^LAST_FAILURE ' "$out/wrk.out")"; fi
	echo "$result"
}

cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000000 / hz }' "/proc/$1/stat"; }
# When wrk stops, the server may still be running the searches it had
# accepted (a slow one takes seconds): wait until its CPU time stops
# growing, so that they do not fall on the next measurement.
wait_idle() {
	local a b
	for _ in $(seq 300); do
		a=$(cpu_us "$server_pid")
		sleep 0.2
		b=$(cpu_us "$server_pid")
		awk -v a="$a" -v b="$b" 'BEGIN { exit !(b - a < 20000) }' && return 0
	done
	say "WARNING: the server is still busy after 60 s"
}

total_of() { # total_of URL -> the Bundle's total
	curl -sf "$1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'
}

# ---------------------------------------------------------------- 1. the store (cached)

# The NDJSON depends on the generator and its arguments; the loaded database
# also on the code that decides what is stored and indexed. Either changing
# means building again; anything else (the query side) reuses the store.
gen_key=$(sha "$bench/gen-store.py")
data_key=$(sha "$bench/gen-store.py" "$bench/load.lua" "$root"/src/fhir/index.c \
	"$root"/src/fhir/index_rows.c "$root"/src/fhir/search_params.c "$root"/src/fhir/fhirpath.c \
	"$root"/src/store/sqlite.c)
cache="$bench/out/store-s$seed-n$resources"
gen="$cache/gen-$gen_key"
data="$cache/data-$data_key"
mkdir -p "$cache"

if [ ! -s "$gen/manifest.json" ]; then
	rm -rf "$cache"/gen-*
	say "generating $(fmt_int "$resources") resources (seed $seed) into ${gen#"$root"/}"
	t0=$(now_us)
	nice python3 "$bench/gen-store.py" --seed "$seed" --resources "$resources" "$gen"
	say "  generated in $(awk -v a="$t0" -v b="$(now_us)" 'BEGIN { printf "%.0f", (b - a) / 1e6 }') s"
fi
expect() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"][sys.argv[2]])' "$gen/manifest.json" "$1"; }

if [ ! -s "$data/loaded.txt" ]; then
	rm -rf "$cache"/data-*	# stale stores: each is over a gigabyte
	loading="$data.loading"
	say "loading $(fmt_int "$resources") resources: wrk -t1 -c$load_clients PUT each line (server --workers $load_clients)"
	start_server "$loading" --workers "$load_clients"
	t0=$(now_us)
	r=$(run_wrk load -t1 -c"$load_clients" -d7200s --timeout 60s -s "$bench/load.lua" "$base" -- "$gen/store.ndjson")
	t1=$(now_us)
	[ "$(field "$r" failed)" -eq 0 ] || die "loading: $(field "$r" failed) PUTs were not 201 (see $log)"
	[ "$(field "$r" created)" -eq "$resources" ] || die "loading: $(field "$r" created) of $resources created"
	bad=$(($(field "$r" connect_errors) + $(field "$r" read_errors) + $(field "$r" write_errors) + $(field "$r" timeouts)))
	[ "$bad" -eq 0 ] || die "loading: $bad socket errors or timeouts ($r)"
	for type in Organization Patient Observation; do
		n=$(total_of "$base/fhir/$type?_summary=count")
		[ "$n" = "$(expect "$type")" ] || die "loading: the server counts $n ${type}s, the generator wrote $(expect "$type")"
	done
	stop_server
	load_us=$((t1 - t0))
	{
		echo "resources=$resources seed=$seed load_us=$load_us clients=$load_clients"
		echo "rate=$(awk -v n="$resources" -v us="$load_us" 'BEGIN { printf "%d", n * 1e6 / us }')"
		echo "p50_us=$(field "$r" p50_us) p99_us=$(field "$r" p99_us)"
		echo "bytes=$(du -sb "$loading" | awk '{ print $1 }')"
		echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo none)"
		echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$loading/loaded.txt"
	mv "$loading" "$data"
	say "  loaded in $(awk -v us="$load_us" 'BEGIN { printf "%.0f", us / 1e6 }') s: $(fmt_int "$(sed -n 's/^rate=//p' "$data/loaded.txt")") resources/s"
	loaded_now=1
else
	loaded_now=0
	say "reusing the store in ${data#"$root"/} ($(sed -n 's/^date=//p' "$data/loaded.txt"))"
fi
load_rate=$(sed -n 's/^rate=//p' "$data/loaded.txt")
load_s=$(sed -n 's/.*load_us=\([0-9]*\).*/\1/p' "$data/loaded.txt")
load_s=$(awk -v us="$load_s" 'BEGIN { printf "%.0f", us / 1e6 }')
load_lat=$(sed -n 's/^p50_us=\([0-9]*\) p99_us=\([0-9]*\)/\1 \2/p' "$data/loaded.txt")
load_when=$(sed -n 's/^date=//p' "$data/loaded.txt")
load_commit=$(sed -n 's/^commit=//p' "$data/loaded.txt")
db_bytes=$(du -sb "$data" | awk '{ print $1 }')
[ -z "${BENCH_SEARCH_STORE_ONLY:-}" ] || { say "store ready in ${data#"$root"/}"; exit 0; }

# ---------------------------------------------------------------- 2. query plans

sqlite_version=$(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)')
say "query plans and SQLite timings of the SQL the server builds (SQLite $sqlite_version, read-only)"
nice python3 "$queries" plans "$data/lienthong.db" "$gen" "$root/src/fhir/search_params.c" --sql "$out/plans.sql" \
	${BENCH_SEARCH_ONLY:+--only $BENCH_SEARCH_ONLY} >"$out/plans.md" ||
	die "search-queries.py plans failed"
flagged=$(sed -n 's/^FLAGGED //p' "$out/plans.md")

# ---------------------------------------------------------------- 3. searches

python3 "$queries" paths "$gen" "$out/paths" ${BENCH_SEARCH_ONLY:+--only $BENCH_SEARCH_ONLY}
start_server "$data"
say "lienthong pid $server_pid on $base, store of $(fmt_int "$resources") resources"
rows=()
for f in "$out"/paths/*.txt; do
	name=$(basename "$f" .txt)
	desc=$(sed -n '1s/^# //p' "$f")
	say "$name: $desc"
	run_wrk "$name warm-up" -t1 -c"$clients" -d2s --timeout 30s -s "$bench/search.lua" "$base" -- "$f" >/dev/null
	wait_idle
	r1=$(run_wrk "$name" -t1 -c1 -d"${seconds}s" --timeout 30s -s "$bench/search.lua" "$base" -- "$f")
	wait_idle
	rn=$(run_wrk "$name x$clients" -t1 -c"$clients" -d"${seconds}s" --timeout 30s -s "$bench/search.lua" "$base" -- "$f")
	wait_idle
	for r in "$r1" "$rn"; do
		bad=$(($(field "$r" status_errors) + $(field "$r" connect_errors) + $(field "$r" read_errors) + $(field "$r" write_errors) + $(field "$r" timeouts)))
		[ "$bad" -eq 0 ] || die "$name: $bad failed requests ($r)"
	done
	rate1=$(awk -v n="$(field "$r1" requests)" -v us="$(field "$r1" duration_us)" 'BEGIN { r = n * 1e6 / us; printf (r < 10 ? "%.1f" : "%d"), r }')
	raten=$(awk -v n="$(field "$rn" requests)" -v us="$(field "$rn" duration_us)" 'BEGIN { r = n * 1e6 / us; printf (r < 10 ? "%.1f" : "%d"), r }')
	# per response (one-client run): match + include entries; for _summary=count,
	# Bundle.total and the resources counted per second by one client
	# (mean total / mean latency).
	per=$(awk -v r="$(field "$r1" requests)" -v m="$(field "$r1" matches)" -v i="$(field "$r1" includes)" \
		'BEGIN { printf "%.1f + %.1f", m / r, i / r }')
	counted=
	case "$name" in
	*count-*)
		[ "$(field "$r1" totals)" -gt 0 ] || die "$name: no Bundle.total in the answers"
		counted=$(awk -v t="$(field "$r1" total_sum)" -v n="$(field "$r1" totals)" -v lat="$(field "$r1" mean_us)" \
			'BEGIN { printf "%d", (t / n) / (lat / 1e6) }')
		per="total $(fmt_int "$(awk -v t="$(field "$r1" total_sum)" -v n="$(field "$r1" totals)" 'BEGIN { printf "%d", t / n }')")"
		;;
	esac
	n_urls=$(grep -vc '^#' "$f")
	say "  1 client: p50 $(ms "$(field "$r1" p50_us)") ms, p99 $(ms "$(field "$r1" p99_us)") ms, $rate1 req/s; $clients clients: $raten req/s, p99 $(ms "$(field "$rn" p99_us)") ms${counted:+; $(fmt_int "$counted") resources counted/s}"
	# shellcheck disable=SC2016 # the backquotes are Markdown
	rows+=("$(printf '| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s |' "${name#[0-9][0-9]-}" \
		"$(sed -n '2s/^# //p' "$f" | sed 's/|/\\|/g')" "$(fmt_int "$n_urls")" \
		"$(ms "$(field "$r1" p50_us)")" "$(ms "$(field "$r1" p99_us)")" "$(fmt_int "$rate1")" \
		"$(fmt_int "$raten")" "$(ms "$(field "$rn" p99_us)")" "$per" "${counted:+$(fmt_int "$counted")}")")
done
stop_server

# ---------------------------------------------------------------- 4. report

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
if [ "$commit" != "no commit" ] && [ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ]; then commit="$commit + uncommitted src/ changes"; fi
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
section=$(
	cat <<EOF

## Search, $(date -u '+%Y-%m-%d %H:%M UTC') — $commit

Machine: $(nproc) cores ($cpu_model), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), SQLite $sqlite_version. Loopback; wrk on the same cores as the server. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg).

Store: $(fmt_int "$resources") resources (\`bench/gen-store.py --seed $seed\`: $(fmt_int "$(expect Observation)") Observations, $(fmt_int "$(expect Patient)") Patients, $(expect Organization) Organizations), $(awk -v b="$db_bytes" 'BEGIN { printf "%.2f GiB", b / 1073741824 }') on disk. Loaded $load_when (commit $load_commit$([ "$loaded_now" = 1 ] && echo ", this run")): every resource PUT over HTTP, $load_clients connections, **$(fmt_int "$load_rate") resources/s** ($load_s s; PUT latency p50 / p99 $(ms "${load_lat% *}") / $(ms "${load_lat#* }") ms).

Latency with 1 client (wrk -c1, ${seconds} s); throughput with $clients clients (wrk -c$clients, ${seconds} s). Each request picks one of the search's URLs at random (bench/search-queries.py paths; "URLs" says how many there are). "per response": match + include entries, or Bundle.total for \`_summary=count\` (1-client run). "counted/s": mean total ÷ mean latency, one client.

| search | example | URLs | p50 ms | p99 ms | req/s, 1 client | req/s, $clients clients | p99 ms, $clients clients | per response | counted/s |
|---|---|---:|---:|---:|---:|---:|---:|---|---:|
$(printf '%s\n' "${rows[@]}")

Query plans: EXPLAIN QUERY PLAN on the same database (read-only; Python's sqlite3 module, which links the system libsqlite3 the server uses), of SQL written by hand exactly as src/store/sqlite_query.c builds it. Times are SQLite alone (no HTTP, no JSON), the best of 3 runs per value when fast. \`<--\` marks a plan line that reads more than the matches; $flagged such lines in the server's SQL. PROPOSED statements are alternatives, not what the server runs (see "Search: proposed SQL changes" in bench/RESULTS.md); every statement is in \`plans.sql\` in the output directory, replayable with \`sqlite3 -readonly DB < plans.sql\`.

$(sed '/^FLAGGED /d' "$out/plans.md")

Commands: \`make bench-search\` = \`bench/search.sh\`; output and logs in \`bench/out/search-$stamp/\`:

\`\`\`
python3 bench/gen-store.py --seed $seed --resources $resources DIR
wrk -t1 -c$load_clients -d7200s --timeout 60s -s bench/load.lua URL -- DIR/store.ndjson   (server with --workers $load_clients)
wrk -t1 -c1 -d${seconds}s -s bench/search.lua URL -- PATHS.txt      (after a 2 s warm-up with -c$clients)
wrk -t1 -c$clients -d${seconds}s -s bench/search.lua URL -- PATHS.txt
python3 bench/search-queries.py plans DB GENDIR src/fhir/search_params.c
\`\`\`
EOF
)
echo "$section"
if [ -z "${BENCH_NO_RESULTS:-}" ]; then
	echo "$section" >>"$bench/RESULTS.md"
	say "appended to bench/RESULTS.md"
fi
echo "$section" >"$out/summary.md"
