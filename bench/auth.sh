#!/usr/bin/env bash
# make bench-auth: read by id with a bearer token and the audit trail on,
# against the same build with both off, on the same data, in one run
# (issue 6: goal >= 0.85). Rounds alternate off/on so that drift on the
# machine falls on both. Loopback only; about 1-2 minutes.
#
#   bench/auth.sh [BINARY]        # default: $LIENTHONG, else build/lienthong
#
# Knobs: BENCH_RESOURCES (1000 patients), BENCH_READ_SECONDS (10 a round),
# BENCH_READ_ROUNDS (3), BENCH_NO_RESULTS=1 (do not append to bench/RESULTS.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${LIENTHONG:-$root/build/lienthong}}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
n=${BENCH_RESOURCES:-1000}
seconds=${BENCH_READ_SECONDS:-10}
rounds=${BENCH_READ_ROUNDS:-3}
die() { echo "bench: $*" >&2; exit 1; }
for tool in wrk curl python3; do command -v "$tool" >/dev/null || die "$tool is not installed"; done

out=$(mktemp -d "${TMPDIR:-/tmp}/lt-bench-auth.XXXXXX")
data="$out/data"
pid=
cleanup() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$out"; }
trap cleanup EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

"$bin" tenant add --code 79001 --name bench --data "$data" >/dev/null
"$bin" client add bench --tenant 79001 --scope 'system/*.rs' --data "$data" >/dev/null

start() {	# start [serve options]: sets pid and url
	local line
	"$bin" serve --data "$data" --listen 127.0.0.1:0 --log-level warn "$@" >"$out/serve.out" 2>>"$out/serve.log" &
	pid=$!
	for _ in $(seq 100); do grep -q '^listening' "$out/serve.out" 2>/dev/null && break; sleep 0.1; done
	line=$(head -n 1 "$out/serve.out")
	url="http://${line#listening http=}"
	url=${url%% *}
}
stop() { kill -TERM "$pid"; wait "$pid" || die "server exited $?"; pid=; }

# The data: n patients in transactions of 10,000 (written with auth off).
start --auth off --audit off
python3 - "$n" "$out" <<'PY'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
for k, lo in enumerate(range(0, n, 10000)):
    with open(f"{out}/bundle-{k}.json", "w") as f:
        json.dump({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "PUT", "url": f"Patient/b{i}"},
             "resource": {"resourceType": "Patient", "id": f"b{i}", "active": True,
                          "name": [{"family": "Nguyễn", "given": ["Văn", f"B{i}"]}],
                          "gender": "male", "birthDate": "1980-01-01"}}
            for i in range(lo, min(n, lo + 10000))]}, f)
PY
for b in "$out"/bundle-*.json; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/fhir+json' \
		--data-binary @"$b" "$url/fhir")
	[ "$code" = 200 ] || die "loading the data gave $code"
done
seq 0 $((n - 1)) | sed 's/^/b/' >"$out/ids.txt"
stop
token=$("$bin" token --client bench --data "$data" 2>/dev/null)

# The server's CPU time so far, in clock ticks: "HTTP" (the libmicrohttpd
# threads) and "other" (the writer, which appends the audit trail).
cpu_ticks() {
	local t http=0 other=0 v
	for t in /proc/"$pid"/task/*; do
		v=$(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null) || continue
		case "$(cat "$t/comm" 2>/dev/null)" in MHD*) http=$((http + v)) ;; *) other=$((other + v)) ;; esac
	done
	echo "$http $other"
}

round() {	# round LABEL [serve options]: prints requests/s, p99 µs, CPU µs a request (HTTP, other)
	local r c0 c1
	start "${@:2}"
	BENCH_TOKEN=$tok wrk -t1 -c64 -d2s -s "$root/bench/read.lua" "$url" -- "$out/ids.txt" >/dev/null
	c0=$(cpu_ticks)
	r=$(BENCH_TOKEN=$tok wrk -t1 -c64 -d"${seconds}s" -s "$root/bench/read.lua" "$url" -- "$out/ids.txt" |
		sed -n 's/^RESULT //p')
	c1=$(cpu_ticks)
	stop
	case "$r" in *" status_errors=0 "*) ;; *) die "$1: errors: $r" ;; esac
	awk -v r=" $r" -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		match(r, / requests=[0-9]+/); q = substr(r, RSTART + 10, RLENGTH - 10);
		match(r, / duration_us=[0-9]+/); d = substr(r, RSTART + 13, RLENGTH - 13);
		match(r, / p99_us=[0-9]+/); p = substr(r, RSTART + 8, RLENGTH - 8);
		split(c0, a, " "); split(c1, b, " ");
		printf "%.0f %d %.1f %.1f\n", q / (d / 1e6), p, (b[1] - a[1]) * 1e6 / hz / q, (b[2] - a[2]) * 1e6 / hz / q }'
}
off_sum=0; on_sum=0; lines=
for i in $(seq "$rounds"); do
	tok= ; read -r off off_p99 off_http off_other < <(round off --auth off --audit off)
	tok=$token; read -r on on_p99 on_http on_other < <(round on --rate-limit 1000000)
	off_sum=$((off_sum + off)); on_sum=$((on_sum + on))
	lines+="| $i | $off | $off_p99 | $off_http + $off_other | $on | $on_p99 | $on_http + $on_other |"$'\n'
	echo "bench: round $i: off $off/s (p99 ${off_p99} us, CPU ${off_http}+${off_other} us/req)," \
		"token+audit $on/s (p99 ${on_p99} us, CPU ${on_http}+${on_other} us/req)" >&2
done
ratio=$(awk -v a="$on_sum" -v b="$off_sum" 'BEGIN { printf "%.2f", a / b }')
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
records=$("$bin" audit verify --data "$data")
echo "bench: token+audit / off = $ratio (goal >= 0.85); $records" >&2
[ -n "${BENCH_NO_RESULTS:-}" ] && exit 0
{
	echo
	echo "### Read by id: bearer token + audit trail vs both off ($(date -u +%Y-%m-%d), bench/auth.sh)"
	echo
	echo "\`make bench-auth\` (\`bench/auth.sh\`): $n patients, \`wrk -t1 -c64 -d${seconds}s -s bench/read.lua\`,"
	echo "rounds alternating \`serve --auth off --audit off\` and \`serve --rate-limit 1000000\` (defaults: token"
	echo "required, every read audited; the one bench client's rate limit raised, still checked) with"
	echo "\`BENCH_TOKEN\` set. Load average before: $load_before; after: $load_after."
	echo "After the run: $records."
	echo
	echo "CPU µs/req: the server's CPU time per request, HTTP threads + the others (the writer, which"
	echo "appends the audit trail), from /proc; less sensitive than req/s to other load on the machine."
	echo
	echo "| round | off req/s | off p99 µs | off CPU µs/req | token+audit req/s | token+audit p99 µs | token+audit CPU µs/req |"
	echo "|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s' "$lines"
	echo
	echo "**Ratio token+audit / off: $ratio** (goal ≥ 0.85)."
} >>"$root/bench/RESULTS.md"
