#!/usr/bin/env bash
# make bench: durable creates, reads by id side by side with nginx, start-up
# time and memory of build/lienthong. Loopback only; bounded in time (about
# 3-5 minutes); stops by itself and ends the processes it started.
# See bench/README.md for what each figure means.
#
#   bench/run.sh [BINARY]            # default: $LIENTHONG, else build/lienthong
#
# Knobs (environment): BENCH_RESOURCES (100000), BENCH_CREATE_SECONDS (first
# create run, 25), BENCH_CREATE_MAX_SECONDS (120: give up growing the store
# after that), BENCH_READ_SECONDS (20), BENCH_WARMUP_SECONDS (3),
# BENCH_READ_ROUNDS (2), BENCH_KEEP=1 (keep the data dir and the nginx root), BENCH_NO_RESULTS=1 (do
# not append to bench/RESULTS.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench="$root/bench"
bin=${1:-${LIENTHONG:-$root/build/lienthong}}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
want=${BENCH_RESOURCES:-100000}
create_seconds=${BENCH_CREATE_SECONDS:-25}
create_max_seconds=${BENCH_CREATE_MAX_SECONDS:-120}
read_seconds=${BENCH_READ_SECONDS:-20}
warmup_seconds=${BENCH_WARMUP_SECONDS:-3}

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

[ -x "$bin" ] || die "no binary at $bin (build it: cmake --build build)"
for tool in wrk nginx curl awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install $tool)"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 0.5) }' &&
	echo "bench: WARNING: load average is $load_before before the run; figures will be noisy (other work on the machine?)" >&2
out="$bench/out/$stamp"
mkdir -p "$out"
data="$out/data"
www="$out/www"
log="$out/bench.log"
say "output in ${out#"$root"/}"

server_pid=
drain_pid=
nginx_pid=
cleanup() {
	local pid
	for pid in "$server_pid" "$nginx_pid" "$drain_pid"; do
		if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	done
	if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$data" "$www" "$out/curl.conf" "$out/curl.status" "$out"/ids-*.txt; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# kB from /proc/PID/status
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# "VmRSS MiB (anon A + file F)" from /proc/PID/status
rss_detail() {
	awk '$1 == "VmRSS:" { r = $2 } $1 == "RssAnon:" { a = $2 } $1 == "RssFile:" { f = $2 } $1 == "RssShmem:" { f += $2 }
		END { printf "%.1f MiB (anon %.1f, file %.1f)", r / 1024, a / 1024, f / 1024 }' "/proc/$1/status"
}
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
# CPU time (user + system) of PID in microseconds
cpu_us() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000000 / hz }' "/proc/$1/stat"
}
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
# value of key=... in a RESULT line
field() { sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" <<<" $1"; }
fmt_int() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }

# Starts the server on port 0, waits for its one "listening" line, and sets
# server_pid, port, startup_ms. Never sleeps: the line is the signal.
start_server() {
	local fifo="$out/server.fifo" line t0 t1
	rm -f "$fifo"
	mkfifo "$fifo"
	t0=$(now_us)
	"$bin" serve --data "$data" --listen 127.0.0.1:0 --auth off >"$fifo" 2>>"$out/server.log" &
	server_pid=$!
	exec 9<"$fifo"
	IFS= read -r -t 30 line <&9 || { cat "$out/server.log" >&2; die "server printed no listening line within 30 s"; }
	t1=$(now_us)
	cat <&9 >>"$out/server.log" &
	drain_pid=$!
	exec 9<&-
	rm -f "$fifo"
	case "$line" in
	"listening http="*) ;;
	*) die "unexpected first line: $line" ;;
	esac
	port=${line#listening http=}
	port=${port%% *}
	port=${port##*:}
	startup_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
}

# SIGTERM, wait, and time it.
stop_server() {
	local t0 t1 rc=0
	t0=$(now_us)
	kill -TERM "$server_pid"
	wait "$server_pid" || rc=$?
	t1=$(now_us)
	server_pid=
	wait "$drain_pid" 2>/dev/null || true
	drain_pid=
	[ "$rc" -eq 0 ] || die "server exited with status $rc on SIGTERM"
	shutdown_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
}

# Runs wrk, keeps its output in the log, echoes the RESULT line.
run_wrk() {
	local label=$1 result
	shift
	echo "\$ wrk $*" >>"$log"
	wrk "$@" >"$out/wrk.out" 2>&1 || { cat "$out/wrk.out" >&2; die "wrk failed ($label)"; }
	cat "$out/wrk.out" >>"$log"
	result=$(grep '^RESULT ' "$out/wrk.out") || die "wrk printed no RESULT line ($label)"
	if grep -q '^LAST_FAILURE ' "$out/wrk.out"; then say "$label: $(grep '^LAST_FAILURE ' "$out/wrk.out")"; fi
	echo "$result"
}

commands=()
note_command() { commands+=("$*"); }

# ---------------------------------------------------------------- 1. start, empty store

start_server
startup_empty_ms=$startup_ms
rss_start_kb=$(proc_kb "$server_pid" VmRSS)
rss_start_detail=$(rss_detail "$server_pid")
base="http://127.0.0.1:$port"
say "lienthong pid $server_pid on $base: listening after $startup_empty_ms ms, RSS $(mib "$rss_start_kb") MiB"
note_command "${bin#"$root"/} serve --data DATA --listen 127.0.0.1:0"

# ---------------------------------------------------------------- 2. creates

rm -f "$out"/ids-*.txt
created=0
create_runs=0
create_requests=0
create_duration_us=0
create_failed=0
create_other_errors=0
create_results=()
t_begin=$(date +%s)
seconds=$create_seconds
while [ "$created" -lt "$want" ]; do
	create_runs=$((create_runs + 1))
	say "create run $create_runs: wrk -t2 -c32 -d${seconds}s POST /fhir/Patient"
	note_command "wrk -t2 -c32 -d${seconds}s --timeout 10s -s bench/create.lua http://127.0.0.1:PORT -- OUTDIR"
	r=$(run_wrk create -t2 -c32 -d"${seconds}s" --timeout 10s -s "$bench/create.lua" "$base" -- "$out")
	create_results+=("$r")
	create_requests=$((create_requests + $(field "$r" requests)))
	create_duration_us=$((create_duration_us + $(field "$r" duration_us)))
	create_failed=$((create_failed + $(field "$r" failed) + $(field "$r" no_location)))
	create_other_errors=$((create_other_errors + $(field "$r" connect_errors) + $(field "$r" read_errors) + $(field "$r" write_errors) + $(field "$r" timeouts)))
	created=$(cat "$out"/ids-*.txt | wc -l)
	rate=$(awk -v n="$(field "$r" created)" -v us="$(field "$r" duration_us)" 'BEGIN { printf "%d", n * 1000000 / us }')
	say "  $(fmt_int "$created") ids so far; this run $(fmt_int "$rate") creates/s, p99 $(field "$r" p99_us) us"
	[ "$created" -lt "$want" ] || break
	left=$((create_max_seconds - ($(date +%s) - t_begin)))
	if [ "$left" -le 0 ] || [ "$rate" -le 0 ]; then
		say "WARNING: only $created of $want resources after ${create_max_seconds}s; going on with those"
		break
	fi
	seconds=$(((want - created) * 11 / 10 / rate + 2))
	[ "$seconds" -le "$left" ] || seconds=$left
done
[ "$created" -gt 0 ] || die "no resource was created"
rss_after_create_detail=$(rss_detail "$server_pid")
sort "$out"/ids-*.txt >"$out/ids.txt"
unique=$(sort -u "$out/ids.txt" | wc -l)
[ "$unique" -eq "$created" ] || die "the server handed out $((created - unique)) duplicate ids (Location headers)"
creates_per_s=$(awk -v n="$created" -v us="$create_duration_us" 'BEGIN { printf "%d", n * 1000000 / us }')
r=${create_results[0]}
create_p50=$(field "$r" p50_us)
create_p99=$(field "$r" p99_us)

# ---------------------------------------------------------------- 3. the same bytes as files for nginx

say "fetching $(fmt_int "$created") resources once into ${www#"$root"/} (curl, 4 in parallel)"
mkdir -p "$www/fhir/Patient" "$out/nginx/temp"
awk -v base="$base" -v dir="$www/fhir/Patient" \
	'{ printf "url = \"%s/fhir/Patient/%s\"\noutput = \"%s/%s\"\n", base, $1, dir, $1 }' \
	"$out/ids.txt" >"$out/curl.conf"
note_command "curl --parallel --parallel-max 4 -K curl.conf   (one GET per id, bodies written to www/fhir/Patient/ID for nginx)"
t0=$(now_us)
curl -s --no-progress-meter --parallel --parallel-max 4 -H 'Accept: application/fhir+json' \
	-w '%{http_code}\n' -K "$out/curl.conf" >"$out/curl.status" 2>"$out/curl.err" || true
t1=$(now_us)
fetched=$(grep -c '^200$' "$out/curl.status" || true)
[ "$fetched" -eq "$created" ] || die "reading back: $((created - fetched)) of $created reads were not 200 ($(sort "$out/curl.status" | uniq -c | tr '\n' ' '))"
www_bytes=$(du -sb "$www/fhir/Patient" | awk '{ print $1 }')
avg_bytes=$((www_bytes / created))
say "  all 200 in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000000 }') s; $avg_bytes bytes per resource on average"

# ---------------------------------------------------------------- 4. nginx

nginx_port=
for attempt in 1 2 3 4 5; do
	try_port=$((20000 + RANDOM % 40000))
	user_line=
	[ "$(id -u)" -ne 0 ] || user_line="user root;"
	sed -e "s|@USER_LINE@|$user_line|" -e "s|@DIR@|$out/nginx|g" -e "s|@PORT@|$try_port|" -e "s|@ROOT@|$www|" \
		"$bench/nginx.conf.in" >"$out/nginx/nginx.conf"
	nginx -p "$out/nginx" -e "$out/nginx/nginx-error.log" -c "$out/nginx/nginx.conf" &
	nginx_pid=$!
	for _ in $(seq 50); do
		if curl -sf -o /dev/null "http://127.0.0.1:$try_port/fhir/Patient/$(head -1 "$out/ids.txt")"; then
			nginx_port=$try_port
			break
		fi
		kill -0 "$nginx_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -z "$nginx_port" ] || break
	kill "$nginx_pid" 2>/dev/null || true
	wait "$nginx_pid" 2>/dev/null || true
	nginx_pid=
done
[ -n "$nginx_port" ] || { cat "$out/nginx/nginx-error.log" >&2; die "nginx did not start"; }
nginx_base="http://127.0.0.1:$nginx_port"
nginx_worker=$(pgrep -P "$nginx_pid" | head -1)
[ -n "$nginx_worker" ] || die "cannot find the nginx worker process"
say "nginx pid $nginx_pid (worker $nginx_worker) on $nginx_base"

# Same bytes: a few ids, both servers, compared.
for id in $(awk 'NR % 9973 == 1' "$out/ids.txt"); do
	cmp -s <(curl -s "$base/fhir/Patient/$id") <(curl -s "$nginx_base/fhir/Patient/$id") ||
		die "lienthong and nginx serve different bytes for Patient/$id"
done

# ---------------------------------------------------------------- 5. reads, side by side

# Interleaved rounds (lienthong, nginx, lienthong, nginx, ...) so that drift in
# the machine's load falls on both alike.
declare -A reqs=() durs=() cpus=() p50sum=() p99max=()
read_round() { # label url pid seconds
	local label=$1 url=$2 pid=$3 seconds=$4 r c0 c1 bad rate
	c0=$(cpu_us "$pid")
	r=$(run_wrk "$label" -t1 -c64 -d"${seconds}s" -s "$bench/read.lua" "$url" -- "$out/ids.txt")
	c1=$(cpu_us "$pid")
	bad=$(($(field "$r" status_errors) + $(field "$r" connect_errors) + $(field "$r" read_errors) + $(field "$r" write_errors) + $(field "$r" timeouts)))
	[ "$bad" -eq 0 ] || die "$label: $bad failed reads ($r)"
	reqs[$label]=$((${reqs[$label]:-0} + $(field "$r" requests)))
	durs[$label]=$((${durs[$label]:-0} + $(field "$r" duration_us)))
	cpus[$label]=$((${cpus[$label]:-0} + c1 - c0))
	p50sum[$label]=$((${p50sum[$label]:-0} + $(field "$r" p50_us)))
	[ "$(field "$r" p99_us)" -le "${p99max[$label]:-0}" ] || p99max[$label]=$(field "$r" p99_us)
	rate=$(awk -v n="$(field "$r" requests)" -v us="$(field "$r" duration_us)" 'BEGIN { printf "%d", n * 1000000 / us }')
	say "  $label: $(fmt_int "$rate") req/s, p50 $(field "$r" p50_us) us, p99 $(field "$r" p99_us) us"
}
rounds=${BENCH_READ_ROUNDS:-2}
round_seconds=$(((read_seconds + rounds - 1) / rounds))
say "read by id: warm-up ${warmup_seconds}s each, then $rounds x (lienthong, nginx) of wrk -t1 -c64 -d${round_seconds}s"
run_wrk "lienthong warm-up" -t1 -c64 -d"${warmup_seconds}s" -s "$bench/read.lua" "$base" -- "$out/ids.txt" >/dev/null
run_wrk "nginx warm-up" -t1 -c64 -d"${warmup_seconds}s" -s "$bench/read.lua" "$nginx_base" -- "$out/ids.txt" >/dev/null
for _ in $(seq "$rounds"); do
	read_round lienthong "$base" "$server_pid" "$round_seconds"
	read_round nginx "$nginx_base" "$nginx_worker" "$round_seconds"
done
note_command "wrk -t1 -c64 -d${warmup_seconds}s -s bench/read.lua URL -- ids.txt   (warm-up, once per server, discarded)"
note_command "wrk -t1 -c64 -d${round_seconds}s -s bench/read.lua URL -- ids.txt   ($rounds rounds, alternating lienthong and nginx)"
for label in lienthong nginx; do
	rps=$(awk -v n="${reqs[$label]}" -v us="${durs[$label]}" 'BEGIN { printf "%d", n * 1000000 / us }')
	cpu=$(awk -v c="${cpus[$label]}" -v n="${reqs[$label]}" 'BEGIN { printf "%.1f", c / n }')
	p50=$((p50sum[$label] / rounds))
	p99=${p99max[$label]}
	if [ "$label" = lienthong ]; then lt_rps=$rps lt_p50=$p50 lt_p99=$p99 lt_cpu=$cpu; else ng_rps=$rps ng_p50=$p50 ng_p99=$p99 ng_cpu=$cpu; fi
done
say "  overall: lienthong $(fmt_int "$lt_rps") req/s ($lt_cpu us CPU per read), nginx $(fmt_int "$ng_rps") req/s ($ng_cpu us)"
nginx_rss_kb=$(proc_kb "$nginx_worker" VmHWM)
kill "$nginx_pid"
wait "$nginx_pid" 2>/dev/null || true
nginx_pid=
ratio=$(awk -v a="$lt_rps" -v b="$ng_rps" 'BEGIN { printf "%.2f", a / b }')

# ---------------------------------------------------------------- 6. idle after load, restart on the full store

rss_idle_loaded_detail=$(rss_detail "$server_pid")
rss_peak_kb=$(proc_kb "$server_pid" VmHWM)
stop_server
data_bytes=$({ du -sb "$data" 2>/dev/null || true; } | awk '{ print $1 }')
data_bytes=${data_bytes:-0}
start_server
startup_full_ms=$startup_ms
rss_start_full_detail=$(rss_detail "$server_pid")
stop_server

# ---------------------------------------------------------------- 7. report

pass() { awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 >= t + 0) ? "yes" : "**no**" }'; }
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
if [ "$commit" != "no commit" ] && [ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ]; then commit="$commit + uncommitted src/ changes"; fi
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

table=$(
	cat <<EOF
| measurement | lienthong | nginx (same bytes) | target | met |
|---|---:|---:|---:|:-:|
| durable creates/s, \`POST /fhir/Patient\`, 32 clients | $(fmt_int "$creates_per_s") | | ≥ 5,000 | $(pass "$creates_per_s" 5000) |
| create latency p50 / p99 (first run) | $((create_p50 / 1000)).$(((create_p50 % 1000) / 100)) / $((create_p99 / 1000)).$(((create_p99 % 1000) / 100)) ms | | | |
| resources created (ids from \`Location\`) | $(fmt_int "$created") in $create_runs run(s), $create_failed failed | | ≥ $(fmt_int "$want") | $(pass "$created" "$want") |
| read by id, req/s, 64 clients, $(fmt_int "$created") random ids | $(fmt_int "$lt_rps") | $(fmt_int "$ng_rps") | | |
| read ratio lienthong ÷ nginx | **$ratio** | 1 | ≥ 0.8 | $(pass "$ratio" 0.8) |
| read latency p50 (mean of rounds) / p99 (worst round) | $lt_p50 / $lt_p99 µs | $ng_p50 / $ng_p99 µs | | |
| CPU per read (server process; nginx worker) | $lt_cpu µs | $ng_cpu µs | | |
| start → \`listening\` line, empty store | $startup_empty_ms ms | | | |
| start → \`listening\` line, $(fmt_int "$created") resources | $startup_full_ms ms | | | |
| shutdown on SIGTERM, $(fmt_int "$created") resources | $shutdown_ms ms | | | |
| RSS idle after start, empty store | $rss_start_detail | | | |
| RSS idle after start, $(fmt_int "$created") resources | $rss_start_full_detail | | | |
| RSS after the creates | $rss_after_create_detail | | | |
| RSS idle after all the load | $rss_idle_loaded_detail | | | |
| RSS peak under load (VmHWM) | $(mib "$rss_peak_kb") MiB | $(mib "$nginx_rss_kb") MiB (worker) | | |
| data directory | $(mib $((data_bytes / 1024))) MiB, $((data_bytes / created)) bytes/resource | | | |
| resource size as served | $avg_bytes bytes average | | | |
EOF
)

section=$(
	cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M UTC') — $commit

Machine: $(nproc) cores ($cpu_model), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr); wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), $(nginx -v 2>&1 | sed 's/.*: //'). Loopback; wrk on the same cores as the server. Load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg).

$table

Commands (\`make bench\` = \`bench/run.sh\`; output and logs in \`bench/out/$stamp/\`):

\`\`\`
$(printf '%s\n' "${commands[@]}")
nginx -p OUT/nginx -c OUT/nginx/nginx.conf   (from bench/nginx.conf.in: 1 worker, sendfile on, access_log off)
\`\`\`
EOF
)

echo
echo "$table"
echo
if [ -z "${BENCH_NO_RESULTS:-}" ]; then
	[ -f "$bench/RESULTS.md" ] || printf '# Benchmark results\n\nAppended by `make bench` (bench/run.sh); newest last. See bench/README.md for what each row means.\n' >"$bench/RESULTS.md"
	echo "$section" >>"$bench/RESULTS.md"
	say "appended to bench/RESULTS.md"
fi
echo "$section" >"$out/summary.md"
