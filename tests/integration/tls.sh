#!/usr/bin/env bash
# Native HTTPS (decision 0017). With a throwaway self-signed EC P-256 and RSA
# certificate: TLS 1.2 and 1.3 serve the API; TLS 1.0 and 1.1 are refused by
# the server (the same client, at OpenSSL security level 0, completes them
# with `openssl s_server`), and so are a CBC-SHA1 suite and RSA key exchange
# in TLS 1.2; plain HTTP to the TLS port gets nothing. Every response has the
# secure headers (HSTS only over TLS). Startup refuses, with exit code 2 and a
# message: plain HTTP on a non-loopback address without allow_plain_http, a
# certificate without its key, a key that is not the certificate's, a missing
# file.
. "$(dirname "$0")/lib.sh.inc"
command -v curl >/dev/null || lt_skip "curl is not installed"
command -v openssl >/dev/null || lt_skip "openssl is not installed"
fail() { echo "FAIL: $*" >&2; exit 1; }
T=$LT_TMP
checks=0
ok() { checks=$((checks + 1)); }

mkcert() {	# NAME openssl-req-key-options...: $T/NAME.crt and $T/NAME.key for 127.0.0.1/localhost
	local name=$1
	shift
	openssl req -x509 "$@" -nodes -keyout "$T/$name.key" -out "$T/$name.crt" -days 2 \
		-subj /CN=localhost -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' 2>"$T/openssl.log" ||
		{ cat "$T/openssl.log" >&2; fail "openssl could not make the $name test certificate"; }
}
mkcert ec -newkey ec -pkeyopt ec_paramgen_curve:P-256
mkcert rsa -newkey rsa:2048

# The headers every response must carry; Strict-Transport-Security only with TLS ($2 = 1).
check_headers() {
	local file=$1 tls=$2 what=$3 want
	tr -d '\r' <"$file" >"$file.lf"
	for want in 'X-Content-Type-Options: nosniff' 'Cache-Control: no-store' 'X-Frame-Options: DENY' \
		'Referrer-Policy: no-referrer' "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'"; do
		grep -qixF "$want" "$file.lf" || fail "$what: no '$want' in: $(cat "$file.lf")"
	done
	if [ "$tls" = 1 ]; then
		grep -qixF 'Strict-Transport-Security: max-age=31536000' "$file.lf" || fail "$what: no HSTS over TLS"
	else
		! grep -qi '^Strict-Transport-Security' "$file.lf" || fail "$what: HSTS over plain HTTP"
	fi
	ok
}

# handshake PORT openssl-s_client-options...: 0 when a TLS handshake completes
# (s_client prints "Cipher is (NONE)" when it does not); the transcript is in $T/hs.
handshake() {
	local port=$1
	shift
	timeout 20 openssl s_client -connect "127.0.0.1:$port" -servername localhost "$@" \
		</dev/null >"$T/hs" 2>&1 || true
	grep -q '^New, TLSv' "$T/hs" && ! grep -q 'Cipher is (NONE)' "$T/hs"
}

# The client options of an old-version check, against OpenSSL's own server
# accepting that version: proves the client below would complete it, so a
# failure against lienthong is lienthong's refusal, not the client's.
control_handshake() {
	local version=$1 fifo="$T/control.fifo" line= port pid
	rm -f "$fifo"
	mkfifo "$fifo"
	openssl s_server -www -naccept 1 -accept 127.0.0.1:0 -cert "$T/ec.crt" -key "$T/ec.key" \
		"-$version" -cipher 'DEFAULT@SECLEVEL=0' </dev/null >"$fifo" 2>&1 &
	pid=$!
	exec 8<"$fifo"
	while IFS= read -r -t 20 line <&8; do
		case "$line" in ACCEPT*) break ;; esac
	done
	cat <&8 >/dev/null &
	exec 8<&-
	port=${line##*:}
	[ -n "$port" ] || fail "openssl s_server did not start for the $version control"
	handshake "$port" "-$version" -cipher 'DEFAULT@SECLEVEL=0' ||
		fail "control: the client cannot do $version even with OpenSSL's server: $(tail -n 20 "$T/hs")"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	ok
}

# serve_refused WHAT EXPECTED-MESSAGE serve-options...: exit code 2, the message, no listening line.
serve_refused() {
	local what=$1 message=$2 rc=0
	shift 2
	timeout 30 "$LIENTHONG" serve --data "$T/refused" "$@" >"$T/refused.out" 2>"$T/refused.err" || rc=$?
	[ "$rc" -eq 2 ] || fail "$what: exit code $rc, not 2 (stderr: $(cat "$T/refused.err"))"
	grep -qF -- "$message" "$T/refused.err" || fail "$what: no '$message' in: $(cat "$T/refused.err")"
	! grep -q listening "$T/refused.out" || fail "$what: it listened anyway"
	ok
}

# 1. Plain HTTP on loopback works as before and carries the secure headers.
lt_start
case "$LT_URL" in http://127.0.0.1:*) ok ;; *) fail "plain LT_URL is $LT_URL" ;; esac
code=$(curl -s -o /dev/null -D "$T/h" -w '%{http_code}' "$LT_URL/metadata")
[ "$code" = 200 ] || fail "plain GET /metadata gave $code"
check_headers "$T/h" 0 "plain 200"
code=$(curl -s -o /dev/null -D "$T/h" -w '%{http_code}' "$LT_URL/Patient/nobody")
[ "$code" = 404 ] || fail "plain GET of an unknown Patient gave $code"
check_headers "$T/h" 0 "plain 404"
lt_stop

# 2. HTTPS with the EC certificate.
lt_start --tls-cert "$T/ec.crt" --tls-key "$T/ec.key"
case "$LT_URL" in https://127.0.0.1:*) ok ;; *) fail "LT_URL with TLS is $LT_URL" ;; esac
port=${LT_HOST_PORT##*:}
for v in 1.2 1.3; do
	if [ $v = 1.2 ]; then opts=(--tlsv1.2 --tls-max 1.2); else opts=(--tlsv1.3); fi
	code=$(curl -sv --cacert "$T/ec.crt" "${opts[@]}" -o /dev/null -D "$T/h" -w '%{http_code}' \
		"$LT_URL/metadata" 2>"$T/curl.log") || fail "TLS $v: curl failed: $(grep -i ssl "$T/curl.log")"
	[ "$code" = 200 ] || fail "TLS $v: GET /metadata gave $code"
	grep -q "SSL connection using TLSv$v" "$T/curl.log" ||
		fail "TLS $v: not negotiated: $(grep 'SSL connection' "$T/curl.log")"
	check_headers "$T/h" 1 "TLS $v 200"
done
# A write goes through the worker hand-off (a suspended connection) under TLS too.
code=$(curl -s --cacert "$T/ec.crt" -o /dev/null -D "$T/h" -w '%{http_code}' -X POST \
	-H 'Content-Type: application/fhir+json' -d '{"resourceType":"Patient","gender":"female"}' "$LT_URL/Patient")
[ "$code" = 201 ] || fail "TLS POST gave $code"
check_headers "$T/h" 1 "TLS 201"
# Old versions: the client is allowed everything (security level 0), the server refuses.
for v in tls1 tls1_1; do
	control_handshake "$v"
	! handshake "$port" "-$v" -cipher 'DEFAULT@SECLEVEL=0' ||
		fail "lienthong completed a $v handshake: $(grep -E 'Protocol|Cipher' "$T/hs")"
	grep -qE 'written [1-9][0-9]* bytes' "$T/hs" || fail "$v: the client sent no ClientHello: $(cat "$T/hs")"
	ok
done
handshake "$port" -tls1_2 -cipher 'DEFAULT@SECLEVEL=0' ||
	fail "the same client options with -tls1_2 failed: $(tail -n 20 "$T/hs")"
grep -q 'Protocol  : TLSv1.2' "$T/hs" || fail "-tls1_2 did not negotiate TLS 1.2"
ok
# No CBC with SHA-1 in TLS 1.2, even when it is all the client offers.
! handshake "$port" -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0' ||
	fail "a CBC-SHA1 suite was accepted: $(grep 'Cipher is' "$T/hs")"
ok
# Plain HTTP to the TLS port gets no HTTP answer.
code=000
code=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "http://$LT_HOST_PORT/fhir/metadata") && true
[ "$code" = 000 ] || fail "plain HTTP to the TLS port answered $code"
ok
lt_stop

# 3. HTTPS with the RSA certificate: ECDHE-RSA, and no RSA key exchange.
lt_start --tls-cert "$T/rsa.crt" --tls-key "$T/rsa.key"
port=${LT_HOST_PORT##*:}
code=$(curl -s --cacert "$T/rsa.crt" --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' "$LT_URL/metadata")
[ "$code" = 200 ] || fail "RSA certificate, TLS 1.2: GET /metadata gave $code"
handshake "$port" -tls1_2 -cipher 'ECDHE-RSA-AES128-GCM-SHA256' || fail "ECDHE-RSA refused: $(tail -n 20 "$T/hs")"
ok
! handshake "$port" -tls1_2 -cipher 'AES128-GCM-SHA256' ||
	fail "RSA key exchange (no forward secrecy) was accepted"
ok
lt_stop

# 4. Where plain HTTP may listen, and what HTTPS needs.
serve_refused "plain HTTP on 0.0.0.0" "configure tls_cert and tls_key for HTTPS, or set allow_plain_http" \
	--listen 0.0.0.0:0
serve_refused "plain HTTP on [::]" "not a loopback address" --listen '[::]:0'
serve_refused "allow_plain_http=false" "not a loopback address" --listen 0.0.0.0:0 --allow-plain-http=false
serve_refused "a certificate without its key" "HTTPS needs both tls_cert and tls_key (only tls_cert is set)" \
	--listen 127.0.0.1:0 --tls-cert "$T/ec.crt"
serve_refused "a key without its certificate" "only tls_key is set" --listen 127.0.0.1:0 --tls-key "$T/ec.key"
serve_refused "the RSA key with the EC certificate" "is not the key of the certificate" \
	--listen 127.0.0.1:0 --tls-cert "$T/ec.crt" --tls-key "$T/rsa.key"
serve_refused "a missing certificate file" "cannot read tls_cert $T/nothing.crt" \
	--listen 127.0.0.1:0 --tls-cert "$T/nothing.crt" --tls-key "$T/ec.key"
serve_refused "a certificate file that is a key" "holds no PEM certificate" \
	--listen 127.0.0.1:0 --tls-cert "$T/ec.key" --tls-key "$T/ec.key"

LT_AUTH=on lt_start --listen 0.0.0.0:0 --allow-plain-http
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${LT_HOST_PORT##*:}/fhir/metadata")
[ "$code" = 200 ] || fail "0.0.0.0 with --allow-plain-http: GET /metadata gave $code"
ok
lt_stop
LT_AUTH=on LIENTHONG_ALLOW_PLAIN_HTTP=true lt_start --listen 0.0.0.0:0
ok
lt_stop
LT_AUTH=on lt_start --listen 0.0.0.0:0 --tls-cert "$T/ec.crt" --tls-key "$T/ec.key"
code=$(curl -s --cacert "$T/ec.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:${LT_HOST_PORT##*:}/fhir/metadata")
[ "$code" = 200 ] || fail "HTTPS on 0.0.0.0: GET /metadata gave $code"
ok
lt_stop

echo "tls: $checks checks passed"
