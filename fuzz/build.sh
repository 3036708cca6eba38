#!/usr/bin/env bash
# Builds the libFuzzer targets into build-fuzz/ (or $LT_FUZZ_BUILD) with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer, straight from the sources:
# the library modules a target needs (base, auth, fhir, store, api, hl7v2 — not http, not
# cmd) are compiled once with coverage instrumentation and linked into each
# target. json-c and SQLite are the system libraries (not instrumented).
#
#   fuzz/build.sh            # all targets
#   fuzz/build.sh fuzz_json  # one target
#   CC=clang-14 fuzz/build.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${LT_FUZZ_BUILD:-$root/build-fuzz}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_json fuzz_validate fuzz_jsonpatch fuzz_api fuzz_hl7v2 fuzz_mllp fuzz_jwt)

CC=${CC:-clang}
if ! "$CC" --version 2>/dev/null | grep -q clang; then
	for c in clang clang-14 clang-15 clang-16; do
		command -v "$c" >/dev/null && "$c" --version | grep -q clang && { CC=$c; break; }
	done
fi
"$CC" --version 2>/dev/null | grep -q clang || { echo "build.sh: clang is needed for libFuzzer" >&2; exit 2; }
for pkg in json-c sqlite3 libcrypto libsodium; do
	pkg-config --exists "$pkg" || { echo "build.sh: pkg-config cannot find $pkg" >&2; exit 2; }
done

version=$(sed -n 's/^project(lienthong VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
sanitize=("-fsanitize=address,undefined" -fno-sanitize-recover=all -fno-omit-frame-pointer)
# shellcheck disable=SC2207
cflags=(-std=c17 -D_GNU_SOURCE "-DLT_VERSION=\"${version:-0}\"" -g -O1 "${sanitize[@]}"
	-Wall -Wextra -Wno-unused-parameter -I"$root/src" -I"$here"
	$(pkg-config --cflags json-c sqlite3 libcrypto libsodium))
# shellcheck disable=SC2207
libs=($(pkg-config --libs json-c sqlite3 libcrypto libsodium) -lpthread -lm)

mkdir -p "$out/obj" "$out/crashes"
objs=()
jobs=()
for src in "$root"/src/base/*.c "$root"/src/auth/*.c "$root"/src/fhir/*.c "$root"/src/store/*.c "$root"/src/api/*.c \
	   "$root"/src/hl7v2/*.c "$root"/src/mllp/*.c; do
	rel=${src#"$root"/src/}
	obj="$out/obj/${rel//\//_}"
	obj=${obj%.c}.o
	objs+=("$obj")
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$0" -nt "$obj" ] ||
	   [ -n "$(find "$root/src" -name '*.h' -newer "$obj" -print -quit)" ]; then
		jobs+=("$src:$obj")
	fi
done
if [ ${#jobs[@]} -gt 0 ]; then
	# shellcheck disable=SC2016
	printf '%s\n' "${jobs[@]}" | xargs -P "${JOBS:-2}" -I{} sh -c '
		src=${1%%:*}; obj=${1#*:}; shift
		echo "  CC $src"
		exec "$@" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"' _ {} "$CC" "${cflags[@]}"
fi
for t in "${targets[@]}"; do
	[ -f "$here/$t.c" ] || { echo "build.sh: no target $t" >&2; exit 2; }
	echo "  LD $out/$t"
	"$CC" "${cflags[@]}" -fsanitize=fuzzer "$here/$t.c" "${objs[@]}" "${libs[@]}" -o "$out/$t"
done
echo "built: ${targets[*]} in $out"
