#!/usr/bin/env bash
# Apps (decision 0019): the authorization code grant with PKCE, the login
# page, refresh tokens and revocation, over real HTTP with curl against the
# server as it runs by default (authentication and audit on). The browser's
# part is played by curl: it reads the page, posts the form and reads the
# redirect's Location instead of following it.
. "$(dirname "$0")/lib.sh.inc"
command -v python3 >/dev/null || lt_skip "python3 is not installed (TOTP codes)"
command -v openssl >/dev/null || lt_skip "openssl is not installed (PKCE challenges)"

lt() { "$LIENTHONG" "$@" --data "$LT_DATA"; }
fail() {
	echo "oauth: $*" >&2
	echo "--- last response ---" >&2
	cat "$LT_TMP/hdr" "$LT_TMP/body" >&2 2>/dev/null || true
	echo "--- server log (last 30 lines) ---" >&2
	tail -n 30 "$LT_TMP/server.log" >&2
	exit 1
}
expect() { [ "$3" = "$2" ] || fail "$1: expected '$2', got '$3'"; }
has() { grep -qF -- "$2" "$LT_TMP/$1" || fail "the $1 lacks '$2'"; }
lacks() { ! grep -qF -- "$2" "$LT_TMP/$1" || fail "the $1 holds '$2'"; }
header() { tr -d '\r' <"$LT_TMP/hdr" | sed -n "s/^$1: //Ip" | head -n 1; }
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$LT_TMP/body"; }
# A query parameter of the redirect's Location.
loc_param() { header location | tr '?&' '\n\n' | sed -n "s/^$1=//p"; }

# RFC 7636: a fresh verifier and its S256 challenge.
pkce() {
	VERIFIER=$(head -c 32 /dev/urandom | basenc --base64url | tr -d '=')
	CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -binary -sha256 | basenc --base64url | tr -d '=')
}
totp() {
	python3 - "$1" <<'EOF'
import base64, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1])
mac = hmac.new(key, struct.pack('>Q', int(time.time()) // 30), 'sha1').digest()
o = mac[-1] & 15
print('%06d' % ((struct.unpack('>I', mac[o:o + 4])[0] & 0x7fffffff) % 1000000))
EOF
}

# The app's request, as query or form fields: authz CLIENT REDIRECT SCOPE STATE [name=value...]
# (RESPONSE_TYPE, METHOD and AUD, when set, replace what a good app sends)
authz() {
	local client=$1 redirect=$2 scope=$3 state=$4
	shift 4
	A=(--data-urlencode "response_type=${RESPONSE_TYPE:-code}" --data-urlencode "client_id=$client"
	   --data-urlencode "redirect_uri=$redirect" --data-urlencode "scope=$scope"
	   --data-urlencode "state=$state" --data-urlencode "code_challenge=$CHALLENGE"
	   --data-urlencode "code_challenge_method=${METHOD:-S256}" --data-urlencode "aud=${AUD:-$LT_URL}")
	for kv in "$@"; do A+=(--data-urlencode "$kv"); done
}
# GET the page, or POST the form: status in STATUS, headers and body in files.
get_page() { STATUS=$(curl -s -G "${A[@]}" -D "$LT_TMP/hdr" -o "$LT_TMP/body" -w '%{http_code}' "$ROOT/auth/authorize"); }
post_form() { STATUS=$(curl -s "${A[@]}" "$@" -D "$LT_TMP/hdr" -o "$LT_TMP/body" -w '%{http_code}' "$ROOT/auth/authorize"); }
# A whole login through CLIENT: sets CODE (empty when refused), STATE, VERIFIER.
login() {
	local client=$1 redirect=$2 scope=$3 user=$4 password=$5
	shift 5
	pkce
	STATE="st-$RANDOM$RANDOM"
	authz "$client" "$redirect" "$scope" "$STATE"
	post_form --data-urlencode "username=$user" --data-urlencode "password=$password" "$@"
	CODE=$(loc_param code)
	[ -z "$CODE" ] || expect "state sent back" "$STATE" "$(loc_param state)"
}
token() { STATUS=$(curl -s -D "$LT_TMP/hdr" -o "$LT_TMP/body" -w '%{http_code}' "$ROOT/auth/token" "$@"); }
exchange() { # CLIENT REDIRECT [curl options...]: CODE and VERIFIER for tokens
	local client=$1 redirect=$2
	shift 2
	token -d grant_type=authorization_code --data-urlencode "client_id=$client" \
		--data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$redirect" \
		--data-urlencode "code_verifier=$VERIFIER" "$@"
	AT=$(field access_token)
	RT=$(field refresh_token)
}
refresh() { # CLIENT REFRESH [curl options...]
	local client=$1 rt=$2
	shift 2
	token -d grant_type=refresh_token --data-urlencode "client_id=$client" \
		--data-urlencode "refresh_token=$rt" "$@"
	AT=$(field access_token)
	RT=$(field refresh_token)
}
revoke() { STATUS=$(curl -s -o "$LT_TMP/body" -w '%{http_code}' "$ROOT/auth/revoke" --data-urlencode "token=$1" -d client_id=pkce-app); }
fhir() { curl -s -o "$LT_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $1" "$LT_URL/$2"; }

# ---- accounts and apps ----------------------------------------------------------
lt tenant add --code 79001 --name "Bệnh viện A" >/dev/null
PW_LAN="Clinician password 42"
PW_P1="Mật khẩu dài 2026 ok"
PW_ADMIN="Admin password 2026 x"
PW_KHOA="Phòng xét nghiệm 2026 z"
echo "$PW_LAN" | lt user add bs-lan --tenant 79001 --role clinician --scope "user/*.rs" --password-stdin >/dev/null
echo "$PW_P1" | lt user add bn-p1 --tenant 79001 --role patient --patient Patient/p1 --password-stdin >/dev/null
echo "$PW_KHOA" | lt user add khoa --tenant 79001 --role staff --password-stdin >/dev/null
TOTP_SECRET=$(echo "$PW_ADMIN" | lt user add qt-an --tenant 79001 --role admin --password-stdin |
	sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
[ -n "$TOTP_SECRET" ] || fail "the administrator got no TOTP secret"
APP_CB="http://127.0.0.1:9/cb"
CONF_CB="https://app.example.vn/callback"
lt client add pkce-app --tenant 79001 --public --redirect-uri "$APP_CB" >"$LT_TMP/out"
grep -q "client_secret" "$LT_TMP/out" && fail "a public app got a secret"
CONF_SECRET=$(lt client add conf-app --tenant 79001 --redirect-uri "$CONF_CB" \
	--redirect-uri "http://localhost:3000/cb" | sed -n 's/^client_secret: //p')
LIS_SECRET=$(lt client add lis-a --tenant 79001 --scope "system/*.cruds" | sed -n 's/^client_secret: //p')
# What may not be registered is refused.
for bad in "http://app.example.vn/cb" "https://app.example.vn/cb#x" "https://u:p@app.example.vn/cb"; do
	if lt client add bad-app --tenant 79001 --redirect-uri "$bad" >/dev/null 2>&1; then
		fail "redirect URI $bad was registered"
	fi
done
if lt client add bad-app --tenant 79001 --public >/dev/null 2>&1; then fail "a public app without redirect URI"; fi
lt client list | grep "pkce-app" | grep -q "redirect_uris=$APP_CB PUBLIC" || fail "client list: $(lt client list)"

# No login rate limit: this test makes dozens of requests to /auth/ from one address,
# more than 10/s on a fast machine (security.sh tests the limit itself).
LT_AUTH=on lt_start --login-rate-limit 0
ROOT=${LT_URL%/fhir}

# Data: two patients and an observation of each, by a system client.
token -u "lis-a:$LIS_SECRET" -d grant_type=client_credentials
LIS=$(field access_token)
for r in '{"resourceType":"Patient","id":"p1","name":[{"family":"Nguyễn"}]}' \
	 '{"resourceType":"Patient","id":"p2","name":[{"family":"Trần"}]}' \
	 '{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Hb"},"subject":{"reference":"Patient/p1"}}' \
	 '{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"Hb"},"subject":{"reference":"Patient/p2"}}'; do
	id=$(printf %s "$r" | sed 's/.*"id":"\([^"]*\)".*/\1/')
	type=$(printf %s "$r" | sed 's/.*"resourceType":"\([^"]*\)".*/\1/')
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $LIS" \
		-H 'Content-Type: application/fhir+json' --data-binary "$r" "$LT_URL/$type/$id")
	expect "PUT $type/$id" 201 "$code"
done

# ---- the page ---------------------------------------------------------------------
pkce
HOSTILE='"><script>alert(1)</script><b x='"'"'y'
authz pkce-app "$APP_CB" "user/*.rs offline_access" "$HOSTILE"
get_page
expect "GET authorize" 200 "$STATUS"
has body 'name="password"'
has body 'name="totp"'
has body 'Tên đăng nhập / User name'
has body 'name="code_challenge" value="'"$CHALLENGE"'"'
has body '&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;b x=&#39;y'
lacks body '<script>'
expect "CSP" "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:9; frame-ancestors 'none'; base-uri 'none'" \
	"$(header content-security-policy)"
expect "X-Frame-Options" DENY "$(header x-frame-options)"
expect "Cache-Control" no-store "$(header cache-control)"
header content-type | grep -q '^text/html' || fail "the page is not text/html"

# An app may post its request instead (SMART's authorize-post): the same page.
post_form
expect "POST authorize without a login" 200 "$STATUS"
has body 'name="password"'
[ -z "$(header location)" ] || fail "a posted request was redirected"

# ---- before the redirect URI is trusted: a page of ours, never a redirect -------
authz pkce-app "https://evil.example/cb" "user/*.rs" s1
get_page
expect "unregistered redirect_uri" 400 "$STATUS"
[ -z "$(header location)" ] || fail "redirected to an unregistered URI"
has body "not one registered"
authz nobody "$APP_CB" "user/*.rs" s1
get_page
expect "unknown client" 400 "$STATUS"
[ -z "$(header location)" ] || fail "redirected for an unknown client"
authz lis-a "$APP_CB" "system/*.rs" s1
get_page
expect "a client that is not an app" 400 "$STATUS"
# the form's hidden redirect_uri changed, with the right password: still nothing sent
authz pkce-app "$APP_CB/../evil" "user/*.rs" s1
post_form --data-urlencode username=bs-lan --data-urlencode "password=$PW_LAN"
expect "POST with another redirect_uri" 400 "$STATUS"
[ -z "$(header location)" ] || fail "a tampered form was redirected"

# ---- after it: errors go back to the app, with state ------------------------------
METHOD=plain authz pkce-app "$APP_CB" "user/*.rs" s-err
get_page
expect "plain PKCE" 302 "$STATUS"
expect "plain PKCE error" invalid_request "$(loc_param error)"
expect "plain PKCE state" s-err "$(loc_param state)"
RESPONSE_TYPE=token authz pkce-app "$APP_CB" "user/*.rs" s-err
get_page
expect "response_type=token" unsupported_response_type "$(loc_param error)"
AUD=https://other.example/fhir authz pkce-app "$APP_CB" "user/*.rs" s-err
get_page
expect "wrong aud" invalid_request "$(loc_param error)"

# ---- logging in ------------------------------------------------------------------
WRONG="Sai mat khau 123"
login pkce-app "$APP_CB" "user/*.rs" bs-lan "$WRONG"
expect "wrong password" 403 "$STATUS"
[ -z "$CODE" ] && [ -z "$(header location)" ] || fail "a wrong password got a code"
has body 'The user name, password or one-time code is wrong'
has body 'value="bs-lan"'
login pkce-app "$APP_CB" "user/*.rs" no-such-user "$PW_LAN"
expect "unknown user" 403 "$STATUS"
has body 'The user name, password or one-time code is wrong'

# A: the wrong verifier fails, and spends the code
login pkce-app "$APP_CB" "user/*.rs offline_access" bs-lan "$PW_LAN"
expect "good login" 303 "$STATUS"
[ -n "$CODE" ] || fail "no code"
GOOD_VERIFIER=$VERIFIER
VERIFIER=$(head -c 32 /dev/urandom | basenc --base64url | tr -d '=')
exchange pkce-app "$APP_CB"
expect "wrong verifier" 400 "$STATUS"
expect "wrong verifier error" invalid_grant "$(field error)"
VERIFIER=$GOOD_VERIFIER
exchange pkce-app "$APP_CB"
expect "a code after a failed exchange" invalid_grant "$(field error)"
# B: another redirect_uri than the request's
login pkce-app "$APP_CB" "user/*.rs" bs-lan "$PW_LAN"
exchange pkce-app "http://127.0.0.1:9/other"
expect "wrong redirect_uri" invalid_grant "$(field error)"
# C: a good exchange, then the code again: refused, and what it gave is revoked
login pkce-app "$APP_CB" "user/*.rs offline_access" bs-lan "$PW_LAN"
exchange pkce-app "$APP_CB"
expect "exchange" 200 "$STATUS"
has body '"scope":"user/*.rs offline_access"'
has body '"token_type":"Bearer"'
[ -n "$AT" ] && [ -n "$RT" ] || fail "no access or refresh token"
AT_C=$AT
RT_C=$RT
expect "read with the app's token" 200 "$(fhir "$AT_C" Patient/p2)"
exchange pkce-app "$APP_CB"
expect "reused code" 400 "$STATUS"
expect "reused code error" invalid_grant "$(field error)"
expect "the reused code's access token" 401 "$(fhir "$AT_C" Patient/p2)"
refresh pkce-app "$RT_C"
expect "the reused code's refresh token" invalid_grant "$(field error)"
# without offline_access: no refresh token
login pkce-app "$APP_CB" "user/*.rs" bs-lan "$PW_LAN"
exchange pkce-app "$APP_CB"
expect "exchange without offline_access" 200 "$STATUS"
[ -z "$RT" ] || fail "a refresh token without offline_access or online_access"
lacks body '"patient"'

# ---- a patient's own account: their context, their compartment ---------------------
login pkce-app "$APP_CB" "launch/patient patient/*.rs offline_access" bn-p1 "$PW_P1"
exchange pkce-app "$APP_CB"
expect "patient exchange" 200 "$STATUS"
has body '"patient":"p1"'
has body '"scope":"patient/*.rs offline_access launch/patient"'
AT_P=$AT
expect "patient reads self" 200 "$(fhir "$AT_P" Patient/p1)"
expect "patient reads another" 403 "$(fhir "$AT_P" Patient/p2)"
expect "patient searches" 200 "$(fhir "$AT_P" Observation)"
has body '"id":"o1"'
lacks body '"id":"o2"'

# ---- refresh: rotation, reuse revokes the family ----------------------------------
login pkce-app "$APP_CB" "user/*.rs offline_access" bs-lan "$PW_LAN"
exchange pkce-app "$APP_CB"
RT1=$RT
refresh pkce-app "$RT1"
expect "refresh" 200 "$STATUS"
RT2=$RT
AT2=$AT
[ -n "$RT2" ] && [ "$RT2" != "$RT1" ] || fail "the refresh token did not rotate"
expect "read after refresh" 200 "$(fhir "$AT2" Observation)"
refresh pkce-app "$RT2" --data-urlencode "scope=user/*.cruds"
expect "a wider scope" invalid_scope "$(field error)"
refresh pkce-app "$RT2" --data-urlencode "scope=user/Patient.rs offline_access"
expect "a narrower scope" 200 "$STATUS"
has body '"scope":"user/Patient.rs offline_access"'
RT3=$RT
AT3=$AT
refresh pkce-app "$RT1"
expect "the old refresh token" invalid_grant "$(field error)"
refresh pkce-app "$RT3"
expect "the family after a reuse" invalid_grant "$(field error)"
expect "the family's access token" 401 "$(fhir "$AT3" Patient/p1)"
refresh conf-app "$RT3" -u "conf-app:$CONF_SECRET"
expect "another client's refresh token" invalid_grant "$(field error)"
has body "another client"

# a disabled account or app cannot refresh
login pkce-app "$APP_CB" "user/*.rs online_access" bs-lan "$PW_LAN"
exchange pkce-app "$APP_CB"
[ -n "$RT" ] || fail "no refresh token for online_access"
RT_D=$RT
lt user disable bs-lan >/dev/null
refresh pkce-app "$RT_D"
expect "refresh of a disabled user" invalid_grant "$(field error)"
lt user enable bs-lan >/dev/null
lt client disable pkce-app >/dev/null
refresh pkce-app "$RT_D"
expect "refresh by a disabled app" 401 "$STATUS"
lt client enable pkce-app >/dev/null
refresh pkce-app "$RT_D"
expect "refresh once enabled again" 200 "$STATUS"
RT_D=$RT

# ---- a confidential app authenticates at the token endpoint --------------------------
login conf-app "$CONF_CB" "user/*.rs" bs-lan "$PW_LAN"
exchange conf-app "$CONF_CB"
expect "confidential app without its secret" 401 "$STATUS"
expect "its error" invalid_client "$(field error)"
login conf-app "$CONF_CB" "user/*.rs" bs-lan "$PW_LAN"
exchange conf-app "$CONF_CB" -u "conf-app:$CONF_SECRET"
expect "confidential app with its secret" 200 "$STATUS"
exchange conf-app "$CONF_CB" -u "conf-app:$CONF_SECRET"
expect "its code again" invalid_grant "$(field error)"

# A public app has no secret: offering one is refused, and never locks it
# (anyone may send its client_id).
for i in 1 2 3 4 5 6; do
	token -d grant_type=client_credentials -d client_id=pkce-app -d client_secret=guess
	expect "public app with a secret ($i)" 401 "$STATUS"
done
token -u pkce-app:guess -d grant_type=client_credentials
expect "public app by Basic" 401 "$STATUS"
token -d grant_type=client_credentials -d client_id=pkce-app
expect "public app without a secret" 401 "$STATUS"
lt client list | grep "^pkce-app " | grep -q LOCKED && fail "guessed secrets locked a public app"

# ---- revocation (RFC 7009) ----------------------------------------------------------
login pkce-app "$APP_CB" "user/*.rs offline_access" bs-lan "$PW_LAN"
exchange pkce-app "$APP_CB"
AT_R=$AT
RT_R=$RT
expect "before revocation" 200 "$(fhir "$AT_R" Patient/p1)"
expect "before revocation (cached)" 200 "$(fhir "$AT_R" Patient/p1)"
revoke "$AT_R"
expect "revoke an access token" 200 "$STATUS"
expect "a revoked access token" 401 "$(fhir "$AT_R" Patient/p1)"
revoke "$RT_R"
expect "revoke a refresh token" 200 "$STATUS"
refresh pkce-app "$RT_R"
expect "a revoked refresh token" invalid_grant "$(field error)"
revoke "no-such-token"
expect "revoke an unknown token" 200 "$STATUS"
STATUS=$(curl -s -o "$LT_TMP/body" -w '%{http_code}' "$ROOT/auth/revoke" --data-urlencode "token=$AT_P")
expect "revoke without a client" 401 "$STATUS"

# ---- TOTP: required for an administrator, each code once -----------------------------
login pkce-app "$APP_CB" "user/*.rs" qt-an "$PW_ADMIN"
expect "administrator without a code" 403 "$STATUS"
[ -z "$CODE" ] || fail "an administrator logged in without TOTP"
OTP=$(totp "$TOTP_SECRET")
login pkce-app "$APP_CB" "user/*.rs" qt-an "$PW_ADMIN" --data-urlencode "totp=$OTP"
expect "administrator with a code" 303 "$STATUS"
[ -n "$CODE" ] || fail "no code for the administrator"
login pkce-app "$APP_CB" "user/*.rs" qt-an "$PW_ADMIN" --data-urlencode "totp=$OTP"
expect "the same TOTP code again" 403 "$STATUS"

# ---- lockout -----------------------------------------------------------------------------
for i in 1 2 3 4 5; do
	login pkce-app "$APP_CB" "user/*.rs" khoa "$WRONG $i"
	expect "failure $i" 403 "$STATUS"
done
login pkce-app "$APP_CB" "user/*.rs" khoa "$PW_KHOA"
expect "the right password of a locked account" 403 "$STATUS"
[ -z "$CODE" ] || fail "a locked account got a code"
lt user list | grep "^khoa " | grep -q LOCKED || fail "khoa is not locked: $(lt user list)"

# ---- a restart: codes are lost, refresh tokens and revocations are not --------------------
login pkce-app "$APP_CB" "user/*.rs" bs-lan "$PW_LAN"
PENDING=$CODE
PENDING_VERIFIER=$VERIFIER
lt_stop || fail "the server did not stop cleanly"
LT_AUTH=on lt_start --code-ttl 1 --login-rate-limit 0
ROOT=${LT_URL%/fhir}
expect "a revoked token after a restart" 401 "$(fhir "$AT_R" Patient/p1)"
refresh pkce-app "$RT_D"
expect "a refresh token after a restart" 200 "$STATUS"
CODE=$PENDING
VERIFIER=$PENDING_VERIFIER
exchange pkce-app "$APP_CB"
expect "a code from before the restart" invalid_grant "$(field error)"
# An expired code (code_ttl is 1 s now): the wait is the test.
login pkce-app "$APP_CB" "user/*.rs" bs-lan "$PW_LAN"
sleep 2
exchange pkce-app "$APP_CB"
expect "an expired code" invalid_grant "$(field error)"
has body 'expired'
lt_stop || fail "the server did not stop cleanly"

# ---- the audit trail: the logins are there, no secret is ----------------------------------
lt audit list --limit 100000 >"$LT_TMP/audit.txt"
grep "user/bs-lan" "$LT_TMP/audit.txt" | grep "E/login" | grep -q " 303 " ||
	fail "no successful login of bs-lan in the audit trail"
grep "user/bs-lan" "$LT_TMP/audit.txt" | grep "E/login" | grep -q " 403 .*wrong password" ||
	fail "no failed login of bs-lan in the audit trail"
grep "user/khoa" "$LT_TMP/audit.txt" | grep -q "E/login" || fail "no login of khoa in the audit trail"
grep "E/refresh" "$LT_TMP/audit.txt" | grep -q "client/pkce-app" || fail "no refresh in the audit trail"
grep -q "E/revoke" "$LT_TMP/audit.txt" || fail "no revocation in the audit trail"
for secret in "$PW_LAN" "$PW_P1" "$PW_ADMIN" "$PW_KHOA" "$WRONG" "$CONF_SECRET" "$LIS_SECRET" \
	"$RT1" "$RT2" "$RT_D" "$AT_R" "$GOOD_VERIFIER" "$PENDING" "$TOTP_SECRET" "eyJ"; do
	grep -qF -- "$secret" "$LT_TMP/audit.txt" && fail "the audit trail holds a secret: $secret"
	grep -qF -- "$secret" "$LT_TMP/server.log" && fail "the server log holds a secret: $secret"
done
lt audit verify >/dev/null
echo "oauth: ok"
