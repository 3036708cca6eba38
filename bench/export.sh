#!/usr/bin/env bash
# make bench-export: Bulk Data $export on the generated store of 1,000,000
# resources that make bench-search builds (bench/gen-store.py, loaded through
# the HTTP API; built here the same way when no complete one is cached).
# For each export: the job's run time from the server's log (its "starts" and
# "done" lines, so the 1 s settle and the polling are left out), resources/s,
# the server's RSS sampled every 100 ms (anonymous and file-backed apart: the
# file-backed part is SQLite's memory-mapped database), its CPU time, the
# time to download every file with curl, and every file's line count against
# the manifest. Appends a section to bench/RESULTS.md. Loopback only; stops by
# itself and ends the processes it started.
#
#   bench/export.sh [BINARY]         # default: $LIENTHONG, else build/lienthong
#
# Knobs: BENCH_SEARCH_RESOURCES (1000000), BENCH_SEARCH_SEED (2026),
# BENCH_EXPORT_ONLY (space-separated names), BENCH_NO_RESULTS=1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench="$root/bench"
bin=${1:-${LIENTHONG:-$root/build/lienthong}}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
resources=${BENCH_SEARCH_RESOURCES:-1000000}
seed=${BENCH_SEARCH_SEED:-2026}

die() { echo "bench-export: $*" >&2; exit 1; }
say() { echo "bench-export: $*" >&2; }

[ -x "$bin" ] || die "no binary at $bin (build it: make build)"
for tool in curl awk python3; do
	command -v "$tool" >/dev/null || die "$tool is not installed (make deps-bench)"
done

fmt_int() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }

# ---------------------------------------------------------------- the store

cache="$bench/out/store-s$seed-n$resources"
find_store() {	# a complete store (loaded.txt is written last)
	local d
	for d in "$cache"/data-*; do
		case "$d" in *.loading) continue ;; esac
		if [ -s "$d/loaded.txt" ]; then echo "$d"; return 0; fi
	done
	return 1
}
data=$(find_store || true)
if [ -z "$data" ]; then
	say "no complete store in ${cache#"$root"/}: building it with bench/search.sh (about 15 minutes)"
	BENCH_SEARCH_STORE_ONLY=1 BENCH_NO_RESULTS=1 "$bench/search.sh" "$bin"
	data=$(find_store) || die "bench/search.sh built no store"
fi
say "store: ${data#"$root"/} ($(sed -n 's/^date=//p' "$data/loaded.txt"))"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$bench/out/export-$stamp"
mkdir -p "$out"
say "output in ${out#"$root"/}"

# The integration tests' harness starts and stops the server (port 0, waits
# for the listening line; log in $LT_TMP/server.log).
export LIENTHONG="$bin"
# shellcheck source=tests/integration/lib.sh.inc
. "$root/tests/integration/lib.sh.inc"
export LT_DATA=$data	# lt_start serves this store
sampler_pid=
cleanup() {
	if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; fi
	cp "$LT_TMP/server.log" "$out/server.log" 2>/dev/null || true
	lt_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kib() { awk -v k="$1" '/^'"$1"':/ { print $2 }' "/proc/$server_pid/status"; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$server_pid/stat"; }
# ms since the epoch of a server log line's timestamp
log_ms() { python3 -c 'import sys,datetime; t=datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc); print(int(t.timestamp()*1000))' "$1"; }

# ---------------------------------------------------------------- exports

lt_start --export-file-resources 100000
server_pid=$LT_PID
base=$LT_URL
log="$LT_TMP/server.log"
say "lienthong pid $server_pid on $base"
rss0=$(kib VmRSS)
anon0=$(kib RssAnon)
# _since: two minutes before the load ended (loaded.txt's date), so that
# the scan reads the whole table and writes its last part only.
since=$(python3 -c 'import sys,datetime; t=datetime.datetime.strptime(sys.argv[1], "%Y-%m-%d %H:%M UTC")
print((t - datetime.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$(sed -n 's/^date=//p' "$data/loaded.txt")")

# name | kick-off path and query
scenarios=(
	"system|\$export"
	"observation|\$export?_type=Observation"
	"patient-type|\$export?_type=Patient"
	"patient-level|Patient/\$export"
	"since|\$export?_since=$since"
)
rows=()
for s in "${scenarios[@]}"; do
	name=${s%%|*}
	path=${s#*|}
	if [ -n "${BENCH_EXPORT_ONLY:-}" ] && ! grep -qw "$name" <<<"$BENCH_EXPORT_ONLY"; then continue; fi
	say "$name: GET /fhir/$path"
	# RSS every 100 ms while the job runs: the peak of each kind.
	( while :; do
		awk '/^(VmRSS|RssAnon|RssFile):/ { printf "%s %s ", $1, $2 } END { print "" }' "/proc/$server_pid/status"
		sleep 0.1
	done ) >"$out/rss-$name.txt" &
	sampler_pid=$!
	cpu0=$(cpu_ms)
	t0=$(now_us)
	hdr=$(curl -s -o /dev/null -D - -H 'Prefer: respond-async' -H 'Accept: application/fhir+json' "$base/$path")
	status_url=$(tr -d '\r' <<<"$hdr" | sed -n 's/^[Cc]ontent-[Ll]ocation: //p')
	[ -n "$status_url" ] || die "$name: no Content-Location ($hdr)"
	job=${status_url##*/}
	code=202
	while [ "$code" = 202 ]; do
		code=$(curl -s -o "$out/manifest-$name.json" -w '%{http_code}' "$status_url")
		if [ "$code" = 202 ]; then sleep 0.2; fi
	done
	t1=$(now_us)
	cpu1=$(cpu_ms)
	kill "$sampler_pid"; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=
	[ "$code" = 200 ] || die "$name: status $code: $(cat "$out/manifest-$name.json")"
	started=$(grep "job $job \(starts\|resumes\)" "$log" | tail -1 | cut -d' ' -f1)
	done_line=$(grep "job $job done" "$log" | tail -1)
	run_ms=$(($(log_ms "${done_line%% *}") - $(log_ms "$started")))
	# Download every file (curl, one at a time) and count its lines.
	n_files=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["output"]))' "$out/manifest-$name.json")
	d0=$(now_us)
	bytes=0
	lines=0
	while read -r url count; do
		curl -s -f -o "$out/file.ndjson" -H 'Accept: application/fhir+ndjson' "$url" || die "$name: GET $url failed"
		n=$(wc -l <"$out/file.ndjson")
		[ "$n" -eq "$count" ] || die "$name: $url has $n lines, the manifest says $count"
		lines=$((lines + n))
		bytes=$((bytes + $(stat -c %s "$out/file.ndjson")))
	done < <(python3 -c 'import json,sys; [print(o["url"], o["count"]) for o in json.load(open(sys.argv[1]))["output"]]' "$out/manifest-$name.json")
	d1=$(now_us)
	rm -f "$out/file.ndjson"
	curl -s -o /dev/null -X DELETE "$status_url"
	peak=$(awk '{ for (i = 1; i < NF; i += 2) if ($(i + 1) > m[$i]) m[$i] = $(i + 1) } END { printf "%d %d %d", m["VmRSS:"], m["RssAnon:"], m["RssFile:"] }' "$out/rss-$name.txt")
	read -r peak_rss peak_anon peak_file <<<"$peak"
	rate=$(awk -v n="$lines" -v ms="$run_ms" 'BEGIN { printf "%d", (ms > 0 ? n * 1000 / ms : 0) }')
	dl_rate=$(awk -v b="$bytes" -v us="$((d1 - d0))" 'BEGIN { printf "%.0f", b / us }')
	say "  $(fmt_int "$lines") resources in $n_files files; job $run_ms ms: $(fmt_int "$rate") resources/s; kick-off to manifest $(((t1 - t0) / 1000)) ms; CPU $((cpu1 - cpu0)) ms; peak RSS $((peak_rss / 1024)) MiB (anon $((peak_anon / 1024)), file $((peak_file / 1024))); download $(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }') MiB at $dl_rate MB/s"
	# shellcheck disable=SC2016 # the backquotes are Markdown
	rows+=("$(printf '| %s | `%s` | %s | %s | %s | **%s** | %s | %s | %s / %s | %s MiB at %s MB/s |' "$name" "$path" \
		"$(fmt_int "$lines")" "$n_files" "$(fmt_int "$run_ms")" "$(fmt_int "$rate")" "$(fmt_int $(((t1 - t0) / 1000)))" \
		"$(fmt_int $((cpu1 - cpu0)))" "$((peak_anon / 1024))" "$((peak_file / 1024))" \
		"$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')" "$dl_rate")")
done
rss1=$(kib VmRSS)
anon1=$(kib RssAnon)
hwm=$(kib VmHWM)
lt_stop || die "the server did not stop cleanly"

# ---------------------------------------------------------------- report

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
if [ "$commit" != "no commit" ] && [ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ]; then commit="$commit + uncommitted src/ changes"; fi
section=$(
	cat <<EOF

## Bulk export, $(date -u '+%Y-%m-%d %H:%M UTC') — $commit

Machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Store: $(fmt_int "$resources") resources (\`bench/gen-store.py --seed $seed\`), $(du -sb "$data" | awk '{ printf "%.2f GiB", $1 / 1073741824 }') on disk, warm in the page cache. One export thread; output files of 100,000 resources.

"job": from the job's \`starts\` to its \`done\` log line (the scan, the writing and the fsyncs; not the 1 s settle after transactionTime nor the polling); "resources/s" is lines ÷ job time. "kick-off → manifest" is what a client waits, polling every 200 ms. "CPU": the server's user + system time over that span. "RSS": the peak of the server's resident memory sampled every 100 ms during the job, anonymous (heap, stacks: what the export allocates) / file-backed (SQLite's memory-mapped database pages, shared with the page cache). Server RSS before the runs: $((rss0 / 1024)) MiB (anon $((anon0 / 1024))); after: $((rss1 / 1024)) MiB (anon $((anon1 / 1024))); VmHWM $((hwm / 1024)) MiB. "download": every file fetched once with curl, one at a time, and its lines counted against the manifest (all equal).

| export | kick-off | resources | files | job ms | resources/s | kick-off → manifest ms | CPU ms | peak RSS anon / file MiB | download |
|---|---|---:|---:|---:|---:|---:|---:|---|---|
$(printf '%s\n' "${rows[@]}")

Commands: \`make bench-export\` = \`bench/export.sh build/lienthong\`; the store comes from \`BENCH_SEARCH_STORE_ONLY=1 bench/search.sh\`; logs, manifests and RSS samples in \`bench/out/export-$stamp/\`.
EOF
)
echo "$section"
if [ -z "${BENCH_NO_RESULTS:-}" ]; then
	echo "$section" >>"$bench/RESULTS.md"
	say "appended to bench/RESULTS.md"
fi
echo "$section" >"$out/summary.md"
