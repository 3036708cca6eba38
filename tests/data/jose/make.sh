#!/usr/bin/env bash
# Regenerates the JOSE vectors of tests/unit/test_auth.c with the openssl CLI
# (tests/integration/jose.sh.inc), not with src/auth: ES384 and RS384 tokens
# as a SMART Backend Services client makes them, their public keys as JWKS
# and PEM, RFC 7638 thumbprints computed here, and a 1024-bit RSA key that
# must be refused. The private keys are thrown away. Run from anywhere:
#   tests/data/jose/make.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../integration/jose.sh.inc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Claims valid at 1800000000 (test_auth.c's NOW) for five minutes.
claims='{"iss":"lab-1","sub":"lab-1","aud":"https://hie.example.vn/auth/token","exp":1800000300,"iat":1800000000,"jti":"vector-1"}'

# RFC 7638 §3: SHA-256 of the required members, sorted, no whitespace.
thumbprint() { printf '%s' "$1" | openssl dgst -sha256 -binary | jose_b64url; }

jose_key ES384 "$tmp/es384.pem"
jose_key RS384 "$tmp/rs384.pem"
JOSE_RSA_BITS=1024 jose_key RS384 "$tmp/rsa1024.pem"
for k in es384 rs384; do
	openssl pkey -in "$tmp/$k.pem" -pubout -out "$here/$k.pub.pem"
done
es=$(jose_jwk "$tmp/es384.pem" es384-1)
rs=$(jose_jwk "$tmp/rs384.pem" rs384-1)
printf '{"keys":[%s]}\n' "$es" >"$here/es384.jwks.json"
printf '{"keys":[%s]}\n' "$rs" >"$here/rs384.jwks.json"
printf '{"keys":[%s]}\n' "$(jose_jwk "$tmp/rsa1024.pem" rsa1024-1)" >"$here/rsa1024.jwks.json"
jose_sign ES384 "$tmp/es384.pem" '{"alg":"ES384","typ":"JWT","kid":"es384-1"}' "$claims" >"$here/es384.jwt"
jose_sign RS384 "$tmp/rs384.pem" '{"alg":"RS384","typ":"JWT","kid":"rs384-1"}' "$claims" >"$here/rs384.jwt"
# The thumbprints, from the JWK members.
members() { python3 -c 'import json, sys; j = json.loads(sys.argv[1])
print(json.dumps({m: j[m] for m in sys.argv[2:]}, separators=(",", ":")), end="")' "$@"; }
thumbprint "$(members "$es" crv kty x y)" >"$here/es384.thumbprint"
thumbprint "$(members "$rs" e kty n)" >"$here/rs384.thumbprint"
echo "vectors written to $here"
