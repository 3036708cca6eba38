#!/usr/bin/env bash
# Installs the Debian 12 packages lienthong needs to build, test and benchmark,
# and only those that are missing (so it is quick and idempotent). Run as root,
# or as a user with sudo. npm packages for the test clients are pinned in
# tests/client/package-lock.json and installed by `make check`.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libjson-c-dev libmicrohttpd-dev libsqlite3-dev libssl-dev zlib1g-dev libsodium-dev)
test_pkgs=(libcmocka-dev curl nodejs npm python3 sqlite3 openssl)
bench_pkgs=(wrk nginx-light)
lint_pkgs=(cppcheck)
fuzz_pkgs=(clang libclang-rt-14-dev)

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
bench) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
lint) want=("${lint_pkgs[@]}") ;;
fuzz) want=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
*) echo "usage: $0 [build|test|bench|lint|fuzz]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	# node and npm may come from elsewhere than Debian (e.g. NodeSource): accept any on PATH.
	case "$p" in
	nodejs) command -v node >/dev/null && continue ;;
	npm) command -v npm >/dev/null && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
