#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time, one after the other, and
# exits non-zero when any of them found a crash (or a broken oracle, a leak,
# an out-of-memory or a timeout).
#
#   fuzz/run.sh [SECONDS]          # per target; default 60
#   LT_FUZZ_TARGETS="fuzz_json fuzz_api" fuzz/run.sh 300
#   LT_FUZZ_ARGS="-jobs=2 -workers=2" fuzz/run.sh 600   # extra libFuzzer flags
#
# Seeds come from fuzz/corpus/<target>/ (read only); what libFuzzer learns
# goes to build-fuzz/corpus/<target>/ and is reused by the next run. Crash
# reproducers are written to build-fuzz/crashes/<target>/, logs to
# build-fuzz/logs/, and one line per target (seconds, CPU seconds, runs,
# result) to build-fuzz/run-summary.tsv. Builds the targets first when
# they are missing (fuzz/build.sh).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${LT_FUZZ_BUILD:-$root/build-fuzz}
seconds=${1:-60}
targets=${LT_FUZZ_TARGETS:-fuzz_json fuzz_validate fuzz_jsonpatch fuzz_api fuzz_hl7v2 fuzz_mllp fuzz_jwt}
case $seconds in '' | *[!0-9]*) echo "usage: fuzz/run.sh [SECONDS]" >&2; exit 2 ;; esac

for t in $targets; do
	if [ ! -x "$out/$t" ]; then
		"$here/build.sh" || exit 2
		break
	fi
done

# Per target: the largest input worth trying.
max_len() {
	case $1 in
	fuzz_validate) echo 16384 ;;
	fuzz_api) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

mkdir -p "$out/logs"
summary="$out/run-summary.tsv"
[ -f "$summary" ] || printf 'date\ttarget\tseconds\tcpu_seconds\truns\tresult\n' >"$summary"
failed=0
for t in $targets; do
	mkdir -p "$out/corpus/$t" "$out/crashes/$t"
	log="$out/logs/$t.log"
	dict=()
	[ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
	echo "== $t: ${seconds}s"
	# -timeout: one input may take 10 s; -rss_limit_mb: 2 GB is an OOM.
	TIMEFORMAT='%R %U %S'
	# shellcheck disable=SC2086
	{ time ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		timeout -k 10 $((seconds + 120)) "$out/$t" "$out/corpus/$t" "$here/corpus/$t" \
		"${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(max_len "$t")" -print_final_stats=1 \
		-artifact_prefix="$out/crashes/$t/" ${LT_FUZZ_ARGS:-} >"$log" 2>&1; } 2>"$out/logs/$t.time"
	rc=$?
	read -r wall user sys <"$out/logs/$t.time" || true
	cpu=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN{printf "%.0f", u+s}')
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc)"
		failed=1
		echo "   $t FAILED; see $log and $out/crashes/$t/" >&2
		grep -a -m3 -E 'ERROR:|fuzz oracle|SUMMARY' "$log" | sed 's/^/   /' >&2
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "${wall%.*}" "$cpu" "${runs:-?}" "$result" \
		>>"$summary"
	echo "   ${wall%.*}s wall, ${cpu}s CPU, ${runs:-?} runs: $result"
done
exit $failed
