#!/usr/bin/env bash
# Security by default (issue 6): tenants, accounts and tokens made with the
# CLI, then the server as it runs by default (authentication and audit on)
# is driven by tests/client/security.test.mjs over real HTTP: the negative
# matrix (no token, expired, wrong signature, alg none, wrong audience,
# wrong scope, wrong tenant through every query path, a patient's token
# reaching another patient, disabled and locked accounts), the positive
# paths with fhir-kit-client and a bearer token, and then the audit trail:
# every refusal is in it, and `lienthong audit verify` passes.
# Needs node and tests/client/node_modules (`npm ci --prefix tests/client`).
. "$(dirname "$0")/lib.sh.inc"
: "${LT_SOURCE_DIR:?set LT_SOURCE_DIR to the repository root}"
client="$LT_SOURCE_DIR/tests/client"

command -v node >/dev/null || lt_skip "node is not installed"
[ -d "$client/node_modules/fhir-kit-client" ] ||
	lt_skip "tests/client/node_modules is missing: run 'npm ci --prefix tests/client' first"

lt() { "$LIENTHONG" "$@" --data "$LT_DATA"; }
secret_of() { sed -n 's/^client_secret: //p'; }

# Bad input to the CLI: a clear message and a non-zero exit, nothing made.
if lt tenant add --code "7 9" --name X 2>/dev/null; then echo "bad tenant code accepted" >&2; exit 1; fi
lt tenant add --code 79001 --name "Bệnh viện A" >/dev/null
lt tenant add --code 79002 --name "Phòng khám B" >/dev/null
if lt tenant add --code 79001 --name again 2>/dev/null; then echo "duplicate tenant accepted" >&2; exit 1; fi
if echo "short1" | lt user add weak --tenant 79001 --role clinician --password-stdin 2>/dev/null; then
	echo "a weak password was accepted" >&2; exit 1
fi

LT_SECRET_A=$(lt client add lis-a --tenant 79001 --scope "system/*.cruds" | secret_of)
LT_SECRET_READER=$(lt client add reader-a --tenant 79001 --scope "system/Patient.rs" | secret_of)
LT_SECRET_B=$(lt client add lis-b --tenant 79002 --scope "system/*.cruds" | secret_of)
LT_SECRET_LOCK=$(lt client add lock-me --tenant 79001 --scope "system/*.rs" | secret_of)
LT_SECRET_WH=$(lt client add warehouse --role warehouse --scope "system/*.rs" | secret_of)
echo "Mật khẩu dài 2026 ok" | lt user add bn-p1 --tenant 79001 --role patient --patient Patient/p1 \
	--password-stdin >/dev/null
echo "Clinician password 42" | lt user add bs-lan --tenant 79001 --role clinician \
	--scope "user/Observation.rs" --password-stdin >/dev/null
export LT_SECRET_A LT_SECRET_READER LT_SECRET_B LT_SECRET_LOCK LT_SECRET_WH

LT_AUTH=on lt_start
LT_TOKEN_PATIENT=$(lt token --user bn-p1 2>/dev/null)
LT_TOKEN_CLINICIAN=$(lt token --user bs-lan 2>/dev/null)
LT_KEY_FILE=$(ls "$LT_DATA"/keys/signing/*.pem | tail -n 1)
export LT_TOKEN_PATIENT LT_TOKEN_CLINICIAN LT_KEY_FILE LT_DATA LIENTHONG

node --test --test-reporter=spec "$client/security.test.mjs" || {
	rc=$?
	echo "--- server log (last 50 lines) ---" >&2
	tail -n 50 "$LT_TMP/server.log" >&2
	exit "$rc"
}

# A key rotated while the server runs: within a second the server signs with
# it, publishes it, and accepts the tokens it signed; tokens of the old key
# stay good.
old_token=$(lt token --client lis-a 2>/dev/null)
new_kid=$(lt key rotate | sed -n 's/^new signing key \([^;]*\);.*/\1/p')
[ -n "$new_kid" ] || { echo "key rotate printed no kid" >&2; exit 1; }
sleep 1.2
root=${LT_URL%/fhir}
curl -s "$root/.well-known/jwks.json" | grep -q "\"$new_kid\"" ||
	{ echo "the rotated key is not published" >&2; exit 1; }
new_token=$(curl -s -u "lis-a:$LT_SECRET_A" -d grant_type=client_credentials "$root/auth/token" |
	sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
header=${new_token%%.*}
while [ $((${#header} % 4)) -ne 0 ]; do header="$header="; done
header=$(printf '%s' "$header" | tr '_-' '/+' | base64 -d)
grep -q "\"$new_kid\"" <<<"$header" || { echo "the server does not sign with the new key: $header" >&2; exit 1; }
for t in "$old_token" "$new_token" "$(lt token --client lis-a 2>/dev/null)"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" "$LT_URL/Patient?_count=1")
	[ "$code" = 200 ] || { echo "a token before or after the rotation got $code" >&2; exit 1; }
done

# Custom search parameters apply to every facility: only the first tenant's
# (the host's) define them; another facility's active one is refused (422).
lt client add sp-b --tenant 79002 --scope "system/*.cruds" >/dev/null	# lis-b is disabled by now
sp='{"resourceType":"SearchParameter","url":"urn:x:sp-tenant","name":"x","status":"active","description":"x","code":"insurer","base":["Coverage"],"type":"string","expression":"Coverage.payor.display"}'
tok_b=$(lt token --client sp-b 2>/dev/null)
cov='{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/b1"},"payor":[{"display":"BHXH Thành phố Hồ Chí Minh"}]}'
curl -sf -o /dev/null -X POST -H "Authorization: Bearer $tok_b" -H 'Content-Type: application/fhir+json' -d "$cov" "$LT_URL/Coverage" ||
	{ echo "tenant 79002 cannot write a Coverage" >&2; exit 1; }
for who in "sp-b 422" "lis-a 201"; do
	code=$(curl -s -o "$LT_TMP/sp.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $(lt token --client "${who% *}" 2>/dev/null)" \
		-H 'Content-Type: application/fhir+json' -d "$sp" "$LT_URL/SearchParameter")
	[ "$code" = "${who#* }" ] || { echo "SearchParameter by ${who% *}: $code" >&2; cat "$LT_TMP/sp.json" >&2; exit 1; }
done
# The Coverage written before the definition: found in its own tenant once
# the reindex (of every tenant) has run.
lt reindex 2>/dev/null || { echo "reindex failed" >&2; exit 1; }
total=$(curl -s -H "Authorization: Bearer $tok_b" -H 'Prefer: handling=strict' "$LT_URL/Coverage?insurer=BHXH&_summary=count" |
	sed -n 's/.*"total":\([0-9]*\).*/\1/p')
[ "$total" = 1 ] || { echo "another facility's Coverage by the host's custom parameter: [$total], not 1" >&2; exit 1; }
lt_stop || { tail -n 50 "$LT_TMP/server.log" >&2; exit 1; }

# Every refusal is in the audit trail (the server flushed it on stop), and
# no record carries a token or a secret.
lt audit list --limit 100000 >"$LT_TMP/audit.txt"
for outcome in 401 403; do
	n=$(grep -c " $outcome " "$LT_TMP/audit.txt" || true)
	[ "$n" -gt 0 ] || { echo "no audit record with outcome $outcome" >&2; exit 1; }
done
# The break-the-glass read is flagged for review, with who and which patient.
lt audit list --break-glass --limit 100 >"$LT_TMP/btg.txt"
grep "user/bs-lan" "$LT_TMP/btg.txt" | grep "Patient/p2" | grep -q "ETREAT" ||
	{ echo "the break-the-glass read is not flagged in the audit trail:" >&2; cat "$LT_TMP/btg.txt" >&2; exit 1; }
[ "$(wc -l <"$LT_TMP/btg.txt")" -le 3 ] || { echo "more flagged than the one emergency read:" >&2; cat "$LT_TMP/btg.txt" >&2; exit 1; }
grep -q "eyJ" "$LT_TMP/audit.txt" && { echo "a token reached the audit trail" >&2; exit 1; }
grep -q "$LT_SECRET_A" "$LT_TMP/audit.txt" && { echo "a secret reached the audit trail" >&2; exit 1; }
grep -q "eyJ\|$LT_SECRET_A" "$LT_TMP/server.log" && { echo "a secret reached the log" >&2; exit 1; }
lt audit verify

# Rate limits: an account past its rate, and an address past its login rate,
# get 429 with Retry-After; the refusals are audited.
LT_AUTH=on lt_start --rate-limit 1 --login-rate-limit 1
root=${LT_URL%/fhir}
login() {
	curl -s -o "$LT_TMP/login.json" -D "$LT_TMP/login.h" -w '%{http_code}' -u "reader-a:$LT_SECRET_READER" \
		-d grant_type=client_credentials "$root/auth/token"
}
[ "$(login)" = 200 ] || { echo "the first login was refused" >&2; cat "$LT_TMP/login.json" >&2; exit 1; }
token=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$LT_TMP/login.json")
login >/dev/null
code=$(login)
[ "$code" = 429 ] || { echo "the third login in a second got $code, not 429" >&2; exit 1; }
grep -qi '^retry-after: [1-9]' "$LT_TMP/login.h" || { echo "429 without Retry-After" >&2; exit 1; }
codes=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	codes="$codes $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$LT_URL/Patient")"
done
# A burst of twice the rate, then refused (at 1/s, ten requests take less
# than the seconds that would refill the bucket, even on a loaded machine).
case "$codes" in
" 200 200 "*429*) ;;
*) echo "reads past the rate limit: $codes" >&2; exit 1 ;;
esac
lt_stop
[ "$(lt audit list --limit 100000 | grep -c 'rate limit')" -ge 2 ] ||
	{ echo "rate-limit refusals are not in the audit trail" >&2; exit 1; }
echo "security: ok"
