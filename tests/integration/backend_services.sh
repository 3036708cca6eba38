#!/usr/bin/env bash
# SMART Backend Services (decision 0020): a system client registers its
# public keys with `lienthong client jwks` and gets tokens with a JWT
# assertion signed by its private key (private_key_jwt, RFC 7523), no
# secret. The keys and assertions are made with the openssl CLI
# (jose.sh.inc), as a client would, never with src/auth. The server runs as
# it runs by default (authentication and audit on).
#
# ES384 and RS384 assertions get a token that reads /fhir/Patient; each of
# these is 401 invalid_client, and the client is not locked out by one of
# them (a good assertion follows each): wrong aud, expired, exp more than
# 5 minutes ahead, a replayed jti, an unknown kid, another key's
# signature, alg none, HS256 keyed with the public key, iss other than
# sub, client_id other than iss, a client without keys. Then five refusals
# in a row lock the client; a disabled client is refused; the audit trail
# names every refusal's reason and holds no assertion.
. "$(dirname "$0")/lib.sh.inc"
. "$(dirname "$0")/jose.sh.inc"

for tool in openssl curl basenc; do
	command -v "$tool" >/dev/null || lt_skip "$tool is not installed"
done

lt() { "$LIENTHONG" "$@" --data "$LT_DATA"; }
fail() { echo "backend_services: $*" >&2; tail -n 30 "$LT_TMP/server.log" >&2; exit 1; }
k="$LT_TMP/keys"
mkdir -p "$k"

lt tenant add --code 79001 --name "Bệnh viện A" >/dev/null
secret=$(lt client add lab-1 --tenant 79001 --scope "system/Patient.rs" | sed -n 's/^client_secret: //p')
lt client add lab-lock --tenant 79001 --scope "system/Patient.rs" >/dev/null
lt client add no-keys --tenant 79001 --scope "system/Patient.rs" >/dev/null

# Keys: lab-1 publishes an ES384 and an RS384 (2048-bit) key; "other" is
# nobody's.
jose_key ES384 "$k/es.pem"
jose_key RS384 "$k/rs.pem"
jose_key ES384 "$k/other.pem"
openssl pkey -in "$k/rs.pem" -pubout -out "$k/rs.pub.pem"
printf '{"keys":[%s,%s]}' "$(jose_jwk "$k/es.pem" es-1)" "$(jose_jwk "$k/rs.pem" rs-1)" >"$k/jwks.json"

# What `client jwks` refuses: private parts, a 1024-bit RSA key, no key it can use.
sed 's/"use":"sig"/"use":"sig","d":"AAAA"/' "$k/jwks.json" >"$k/private.json"
JOSE_RSA_BITS=1024 jose_key RS384 "$k/small.pem"
printf '{"keys":[%s]}' "$(jose_jwk "$k/small.pem" small-1)" >"$k/small.json"
printf '{"keys":[%s]}' "$(jose_jwk "$k/es.pem" es-1 RS256)" >"$k/none.json"	# an alg its key is not for
for bad in private small none; do
	if lt client jwks lab-1 "$k/$bad.json" 2>"$LT_TMP/err.txt"; then fail "client jwks accepted $bad.json"; fi
done
grep -q "private key material" <(lt client jwks lab-1 "$k/private.json" 2>&1) || fail "no word of the private part"
lt client jwks lab-1 "$k/jwks.json" | grep -q "2 key(s) registered" || fail "client jwks did not register 2 keys"
lt client jwks lab-lock "$k/jwks.json" >/dev/null

# Limits of /auth/ are security.sh's test: this one makes a burst of token requests.
LT_AUTH=on lt_start --login-rate-limit 0
base="http://$LT_HOST_PORT"
# The audience is what the discovery document says the token endpoint is.
aud=$(curl -s "$base/.well-known/smart-configuration" | sed -n 's/.*"token_endpoint":"\([^"]*\)".*/\1/p')
[ "$aud" = "$base/auth/token" ] || fail "token_endpoint is $aud"

n=0
claims() {	# iss sub aud exp [jti]
	n=$((n + 1))
	printf '{"iss":"%s","sub":"%s","aud":"%s","exp":%s,"iat":%s,"jti":"%s"}' \
		"$1" "$2" "$3" "$4" "$(date +%s)" "${5:-jti-$n-$RANDOM$RANDOM}"
}
header() { printf '{"alg":"%s","typ":"JWT","kid":"%s"}' "$1" "$2"; }
in5() { echo $(($(date +%s) + 240)); }

# POST /auth/token with an assertion (and more curl arguments); prints the status.
token_request() {
	curl -s -o "$LT_TMP/resp.json" -w '%{http_code}' "$base/auth/token" \
		--data-urlencode grant_type=client_credentials --data-urlencode scope=system/Patient.rs \
		--data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
		--data-urlencode "client_assertion=$1" "${@:2}"
}
refused() {	# what assertion [curl arguments]
	local code
	code=$(token_request "${@:2}")
	[ "$code" = 401 ] || fail "$1: $code $(cat "$LT_TMP/resp.json")"
	grep -q '"error":"invalid_client"' "$LT_TMP/resp.json" || fail "$1: $(cat "$LT_TMP/resp.json")"
	grep -q 'eyJ' "$LT_TMP/resp.json" && fail "$1: the response quotes the assertion"
	refusals=$((refusals + 1))
}
# A good assertion of lab-1: a token, which reads Patient (and the failures so far are forgiven).
accepted() {	# alg key kid
	local code token
	code=$(token_request "$(jose_sign "$1" "$2" "$(header "$1" "$3")" "$(claims lab-1 lab-1 "$aud" "$(in5)")")")
	[ "$code" = 200 ] || fail "a good $1 assertion: $code $(cat "$LT_TMP/resp.json")"
	token=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$LT_TMP/resp.json")
	grep -q '"scope":"system/Patient.rs"' "$LT_TMP/resp.json" || fail "scope: $(cat "$LT_TMP/resp.json")"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/fhir/Patient")
	[ "$code" = 200 ] || fail "GET /fhir/Patient with the $1 client's token: $code"
}

accepted ES384 "$k/es.pem" es-1
accepted RS384 "$k/rs.pem" rs-1
# The secret lab-1 was given is gone.
code=$(curl -s -o /dev/null -w '%{http_code}' -u "lab-1:$secret" -d grant_type=client_credentials "$base/auth/token")
[ "$code" = 401 ] || fail "lab-1's old secret still works ($code)"

refusals=0
es() { jose_sign ES384 "$k/es.pem" "$(header ES384 es-1)" "$1"; }
refused "wrong aud" "$(es "$(claims lab-1 lab-1 "https://other.example.vn/auth/token" "$(in5)")")"
accepted ES384 "$k/es.pem" es-1
refused "expired" "$(es "$(claims lab-1 lab-1 "$aud" $(($(date +%s) - 120)))")"
accepted RS384 "$k/rs.pem" rs-1
refused "exp more than 5 min ahead" "$(es "$(claims lab-1 lab-1 "$aud" $(($(date +%s) + 900)))")"
accepted ES384 "$k/es.pem" es-1
once=$(es "$(claims lab-1 lab-1 "$aud" "$(in5)" replay-me)")
[ "$(token_request "$once")" = 200 ] || fail "the first use of an assertion: $(cat "$LT_TMP/resp.json")"
refused "replayed jti" "$once"
refused "same jti, new assertion" "$(es "$(claims lab-1 lab-1 "$aud" "$(in5)" replay-me)")"
accepted ES384 "$k/es.pem" es-1
refused "unknown kid" "$(jose_sign ES384 "$k/es.pem" "$(header ES384 nope)" "$(claims lab-1 lab-1 "$aud" "$(in5)")")"
accepted RS384 "$k/rs.pem" rs-1
refused "another key's signature" \
	"$(jose_sign ES384 "$k/other.pem" "$(header ES384 es-1)" "$(claims lab-1 lab-1 "$aud" "$(in5)")")"
refused "RS384 header on the ES384 key" \
	"$(jose_sign RS384 "$k/rs.pem" "$(header RS384 es-1)" "$(claims lab-1 lab-1 "$aud" "$(in5)")")"
accepted ES384 "$k/es.pem" es-1
refused "alg none" "$(printf '%s' "$(header none es-1)" | jose_b64url).$(claims lab-1 lab-1 "$aud" "$(in5)" | jose_b64url)."
# HS256 with the RSA public key (PEM, then its JWK) as the HMAC secret
for secret_text in "$(cat "$k/rs.pub.pem")" "$(jose_jwk "$k/rs.pem" rs-1)"; do
	input="$(header HS256 rs-1 | jose_b64url).$(claims lab-1 lab-1 "$aud" "$(in5)" | jose_b64url)"
	mac=$(printf '%s' "$input" | openssl dgst -sha256 -hmac "$secret_text" -binary | jose_b64url)
	refused "HS256 keyed with the public key" "$input.$mac"
done
accepted RS384 "$k/rs.pem" rs-1
refused "iss is not sub" "$(es "$(claims lab-1 lab-lock "$aud" "$(in5)")")"
refused "client_id is not iss" "$(es "$(claims lab-1 lab-1 "$aud" "$(in5)")")" --data-urlencode client_id=lab-lock
accepted ES384 "$k/es.pem" es-1
refused "a client without keys" "$(es "$(claims no-keys no-keys "$aud" "$(in5)")")"
refused "an unknown client" "$(es "$(claims nobody nobody "$aud" "$(in5)")")"
refused "not a JWT" "not-a-jwt"
# An assertion and a secret together, or a half-given assertion: 400 and 401.
code=$(token_request "$(es "$(claims lab-1 lab-1 "$aud" "$(in5)")")" -u "lab-1:$secret")
[ "$code" = 400 ] || fail "an assertion with Basic credentials: $code"
code=$(curl -s -o "$LT_TMP/resp.json" -w '%{http_code}' "$base/auth/token" -d grant_type=client_credentials \
	--data-urlencode "client_assertion=$(es "$(claims lab-1 lab-1 "$aud" "$(in5)")")")
[ "$code" = 401 ] || fail "an assertion without its type: $code"

# Five refusals in a row lock the client: then a good assertion is refused too.
for i in 1 2 3 4 5; do
	refused "lab-lock, expired ($i)" \
		"$(es "$(claims lab-lock lab-lock "$aud" $(($(date +%s) - 120)))")"
done
code=$(token_request "$(es "$(claims lab-lock lab-lock "$aud" "$(in5)")")")
[ "$code" = 401 ] && grep -q locked "$LT_TMP/resp.json" || fail "a locked client: $code $(cat "$LT_TMP/resp.json")"
# A disabled client is refused; lab-1 is fine after all of the above.
lt client disable lab-1 >/dev/null
code=$(token_request "$(es "$(claims lab-1 lab-1 "$aud" "$(in5)")")")
[ "$code" = 401 ] && grep -q disabled "$LT_TMP/resp.json" || fail "a disabled client: $code $(cat "$LT_TMP/resp.json")"
lt client enable lab-1 >/dev/null
accepted RS384 "$k/rs.pem" rs-1
lt_stop

# The audit trail: every refusal, with its reason, and no assertion.
lt audit list --limit 100000 >"$LT_TMP/audit.txt"
grep -q "eyJ" "$LT_TMP/audit.txt" && fail "an assertion reached the audit trail"
grep -q "eyJ" "$LT_TMP/server.log" && fail "an assertion reached the server log"
count() { grep -c -- "$1" "$LT_TMP/audit.txt" || true; }
for reason in "aud is not this server's token endpoint:1" "expired (exp):6" \
	"exp is more than 5 minutes ahead:1" "jti used before (a replay):2" \
	"signature, key or header refused:6" "sub is not iss:1" "client_id is not the assertion's iss:1" \
	"the client has registered no keys:1" "assertion: unknown client:1" "not a JWT:1" "locked:1" "disabled:1"; do
	got=$(count "${reason%:*}")
	[ "$got" = "${reason##*:}" ] || fail "audit records with '${reason%:*}': $got, not ${reason##*:}"
done
[ "$(grep -c ' 401 ' "$LT_TMP/audit.txt")" -ge "$refusals" ] || fail "fewer 401 records than refusals"
lt audit verify >/dev/null
echo "backend_services: ok ($refusals refusals)"
