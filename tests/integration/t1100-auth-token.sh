#!/bin/bash
# t1100-auth-token: Docker token authentication. The Bearer challenge (realm,
# service, scope); the built-in token service (GET with Basic or anonymous,
# POST password and refresh_token grants) and its answer; the JWT it signs
# (ES256, libtrust kid, iss/sub/aud/exp/nbf/iat/jti/access); scopes granted =
# asked ∩ rules; a token for one repository grants nothing on another;
# expired, not-yet-valid, wrong-audience, wrong-issuer, wrong-key, tampered,
# alg none and HS256-with-the-public-key tokens refused; an external
# issuer's RS256, ES256 and EdDSA tokens and x5c chains to a configured CA
# accepted; rate limiting of the token service; no secret in the log.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-auth.sh"

PW_A='alice-T0ken-pw'
PW_B='bob-T0ken-pw'
HT=$TMP/htpasswd
add_user "$HT" alice "$PW_A" && add_user "$HT" bob "$PW_B" || { echo "berthd htpasswd failed" >&2; exit 1; }

# ---- keys ------------------------------------------------------------------
K=$TMP/keys
mkdir -p "$K"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/ec.key" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$K/ed.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/other.key" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$K/p384.key" 2>/dev/null
for k in rsa ec ed p384; do openssl pkey -in "$K/$k.key" -pubout -out "$K/$k.pub" 2>/dev/null; done
make_ca "$K/pki"
make_cert "$K/pki" signer
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=self \
    -keyout "$K/self.key" -out "$K/self.crt" 2>/dev/null
for f in rsa.pub ec.pub ed.pub p384.pub pki/ca.crt pki/signer.crt pki/signer.key self.crt other.key; do
    [ -s "$K/$f" ] || { echo "could not make test key $f" >&2; exit 1; }
done

auth_port
SERVICE=berth-test
ISS=berth-issuer
REALM=http://$REG/auth/token
cat >"$TMP/token.json" <<EOF
{"auth": {
  "htpasswd": "$HT",
  "token": {"realm": "$REALM", "service": "$SERVICE", "issuer": "$ISS", "path": "/auth/token",
            "key": "$K/signing.pem", "expiration": 300, "leeway": 5,
            "trusted": ["$K/rsa.pub", "$K/ec.pub", "$K/ed.pub", "$K/p384.pub", "$K/pki/ca.crt"]},
  "access": [
    {"account": "alice", "repository": "team/*", "actions": ["pull", "push"]},
    {"account": "alice", "repository": "shared/a", "actions": ["pull"]},
    {"account": "alice", "repository": "public/*", "actions": ["pull", "push"]},
    {"account": "alice", "repository": "*", "actions": ["catalog"]},
    {"account": "bob", "repository": "team/*", "actions": ["pull"]},
    {"account": "anonymous", "repository": "public/*", "actions": ["pull"]}
  ],
  "ratelimit": {"attempts": 1000, "window": 60}}}
EOF
auth_up --config "$TMP/token.json"
check; [ -s "$K/signing.pem" ] || fail "the signing key file was not created"
expect_eq "$(stat -c %a "$K/signing.pem")" 600 "signing key file mode"
expect_match "$(openssl pkey -in "$K/signing.pem" -noout -text 2>/dev/null | grep -E 'NIST CURVE|ASN1 OID' | head -1)" \
    'P-256|prime256v1' "the signing key is P-256"
KID=$("$PY" "$MINT" --kid "$K/signing.pem")

bearer() { AUTH=(-H "Authorization: Bearer $1"); }
challenge_is() { expect_eq "$(header WWW-Authenticate)" "$1" "${2:-challenge}"; }
B="Bearer realm=\"$REALM\",service=\"$SERVICE\""

# ---- challenges ------------------------------------------------------------
http GET /v2/
expect_error 401 UNAUTHORIZED
challenge_is "$B" "challenge on /v2/"
http GET /v2/team/app/manifests/v1
expect_error 401 UNAUTHORIZED
challenge_is "$B,scope=\"repository:team/app:pull\"" "challenge for a pull"
http HEAD /v2/team/app/manifests/v1
expect_status 401 "HEAD manifest without a token"
challenge_is "$B,scope=\"repository:team/app:pull\"" "challenge for a HEAD"
http PUT /v2/team/app/manifests/v1 -H "Content-Type: $OCI_M" --data-binary '{}'
expect_error 401 UNAUTHORIZED
challenge_is "$B,scope=\"repository:team/app:push\"" "challenge for a manifest PUT"
http POST /v2/team/app/blobs/uploads/
expect_error 401 UNAUTHORIZED
challenge_is "$B,scope=\"repository:team/app:push\"" "challenge for an upload"
http DELETE "/v2/team/app/manifests/sha256:$(printf '%064d' 0)"
expect_error 401 UNAUTHORIZED
challenge_is "$B,scope=\"repository:team/app:delete\"" "challenge for a delete"
http GET /v2/_catalog
expect_error 401 UNAUTHORIZED
challenge_is "$B,scope=\"registry:catalog:*\"" "challenge for the catalog"
AUTH=(-u "alice:$PW_A")
ahttp GET /v2/
expect_error 401 UNAUTHORIZED
challenge_is "$B" "Basic credentials are not accepted in token mode"

# ---- the token service: GET ------------------------------------------------
AUTH=(-u "alice:$PW_A")
ahttp GET "/auth/token?service=$SERVICE&scope=repository:team/app:pull,push"
expect_status 200 "token GET with Basic credentials"
expect_eq "$(header Cache-Control)" no-store "token answers are not cached"
expect_match "$(header Content-Type)" '^application/json' "token answer content type"
T=$(jq -r .token "$BODY_FILE")
expect_eq "$(jq -r .access_token "$BODY_FILE")" "$T" "access_token equals token"
expect_eq "$(jq -r .expires_in "$BODY_FILE")" 300 "expires_in"
expect_eq "$(jq -r 'has("refresh_token")' "$BODY_FILE")" false "no refresh_token unless asked"
issued=$(jq -r .issued_at "$BODY_FILE")
expect_match "$issued" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$' "issued_at is RFC 3339 UTC"
it=$(date -u -d "$issued" +%s 2>/dev/null || echo 0)
check; [ $(( $(date +%s) - it )) -le 10 ] && [ $(( it - $(date +%s) )) -le 2 ] || fail "issued_at '$issued' is not now"

H=$(jwt_header "$T")
C=$(jwt_claims "$T")
expect_eq "$(jq -r .alg <<<"$H")" ES256 "JWT alg"
expect_eq "$(jq -r .typ <<<"$H")" JWT "JWT typ"
expect_eq "$(jq -r .kid <<<"$H")" "$KID" "JWT kid is the libtrust id of the signing key"
expect_match "$(jq -r .kid <<<"$H")" '^[A-Z2-7]{4}(:[A-Z2-7]{4}){11}$' "kid format"
expect_eq "$(jq -r .iss <<<"$C")" "$ISS" "iss"
expect_eq "$(jq -r .sub <<<"$C")" alice "sub"
expect_eq "$(jq -r .aud <<<"$C")" "$SERVICE" "aud"
iat=$(jq -r .iat <<<"$C")
expect_eq "$(jq -r '.exp - .iat' <<<"$C")" 300 "exp = iat + expiration"
expect_eq "$(jq -r '.nbf <= .iat' <<<"$C")" true "nbf <= iat"
expect_eq "$iat" "$it" "iat is issued_at"
expect_match "$(jq -r .jti <<<"$C")" '^.{16,}$' "jti"
expect_eq "$(jq -c .access <<<"$C")" '[{"type":"repository","name":"team/app","actions":["pull","push"]}]' "access claim"
"$PY" "$MINT" --verify "$K/signing.pem" "$T"
expect_eq "$?" 0 "the token's ES256 signature verifies with the signing key"
"$PY" "$MINT" --verify "$K/other.key" "$T"
expect_eq "$?" 1 "(control) the signature does not verify with another key"
T2=$(token_get "alice:$PW_A" repository:team/app:pull,push)
expect_ne "$(jwt_claims "$T2" | jq -r .jti)" "$(jq -r .jti <<<"$C")" "every token has its own jti"

# Using it: push and pull on team/app.
bearer "$T"
ahttp GET /v2/
expect_status 200 "GET /v2/ with a token"
m=$(apush_image team/app v1)
check; [ -n "$m" ] || fail "push to team/app with a pull,push token"
ahttp GET /v2/team/app/manifests/v1 -H "Accept: $OCI_M"
expect_status 200 "pull team/app with the token"
expect_eq "$(sha256_of "$BODY_FILE")" "$m" "manifest digest"
ahttp GET "/v2/team/app/manifests/$m"
expect_status 200 "pull by digest"
ahttp DELETE "/v2/team/app/manifests/$m"
expect_error 403 DENIED
# A token for team/app grants nothing on team/other (alice may, with another token).
ahttp GET /v2/team/other/manifests/v1
expect_error 401 UNAUTHORIZED
challenge_is "$B,scope=\"repository:team/other:pull\",error=\"insufficient_scope\"" "token for A used on B"
ahttp POST /v2/team/other/blobs/uploads/
expect_error 401 UNAUTHORIZED
ahttp GET /v2/shared/a/tags/list
expect_error 401 UNAUTHORIZED
ahttp GET /v2/_catalog
expect_error 401 UNAUTHORIZED
challenge_is "$B,scope=\"registry:catalog:*\",error=\"insufficient_scope\"" "catalog needs its scope"
# Pull-only token: no push.
bearer "$(token_get "alice:$PW_A" repository:team/app:pull)"
ahttp GET /v2/team/app/manifests/v1
expect_status 200 "pull with a pull-only token"
ahttp POST /v2/team/app/blobs/uploads/
expect_error 401 UNAUTHORIZED
challenge_is "$B,scope=\"repository:team/app:push\",error=\"insufficient_scope\"" "push with a pull-only token"

# ---- scopes granted = asked ∩ rules ----------------------------------------
grant() { # grant CREDS SCOPE...: the access claim of the token the service gives
    local t
    t=$(token_get "$@")
    [ -n "$t" ] && jwt_claims "$t" | jq -c .access
}
expect_eq "$(grant "alice:$PW_A" repository:shared/a:pull,push,delete)" \
    '[{"type":"repository","name":"shared/a","actions":["pull"]}]' "asking too much yields less"
expect_eq "$(grant "alice:$PW_A" repository:private/x:pull)" '[]' "asking for nothing allowed: an empty grant"
expect_eq "$(grant "alice:$PW_A" repository:team/app:push repository:shared/a:pull)" \
    '[{"type":"repository","name":"team/app","actions":["push"]},{"type":"repository","name":"shared/a","actions":["pull"]}]' \
    "two scope parameters"
expect_eq "$(grant "alice:$PW_A" 'repository:team/app:pull repository:shared/a:pull')" \
    '[{"type":"repository","name":"team/app","actions":["pull"]},{"type":"repository","name":"shared/a","actions":["pull"]}]' \
    "two scopes in one parameter"
expect_eq "$(grant "alice:$PW_A" 'repository:team/app:*')" \
    '[{"type":"repository","name":"team/app","actions":["pull","push"]}]' "'*' asks for everything the rules give"
expect_eq "$(grant "alice:$PW_A" registry:catalog:*)" \
    '[{"type":"registry","name":"catalog","actions":["*"]}]' "catalog scope"
expect_eq "$(grant "bob:$PW_B" registry:catalog:*)" '[]' "bob gets no catalog scope"
expect_eq "$(grant "bob:$PW_B" repository:team/app:pull,push)" \
    '[{"type":"repository","name":"team/app","actions":["pull"]}]' "bob: pull only"
expect_eq "$(grant "alice:$PW_A")" '[]' "no scope: an empty grant"
expect_eq "$(grant "alice:$PW_A" 'repository:Bad..Name:pull' repository:team/app:bogus)" '[]' "bad names and actions grant nothing"
AUTH=(-u "alice:$PW_A")
ahttp GET "/auth/token?service=$SERVICE&scope=repository:team/app:pull"
expect_status 200 "token GET"
# Bob's token on team/app: pull yes, push no (403: the rules never let him).
bearer "$(token_get "bob:$PW_B" repository:team/app:pull,push)"
ahttp GET /v2/team/app/manifests/v1
expect_status 200 "bob pulls team/app"
ahttp POST /v2/team/app/blobs/uploads/
expect_error 403 DENIED
ahttp PUT /v2/team/app/manifests/v2 -H "Content-Type: $OCI_M" --data-binary @"$TMP/aimg-team_app-v1.json"
expect_error 403 DENIED
# The catalog with a catalog token lists what alice may pull.
AUTH=(-H "Authorization: Bearer $(token_get "alice:$PW_A" repository:public/img:push,pull)")
mp=$(apush_image public/img v1)
check; [ -n "$mp" ] || fail "alice pushes public/img"
bearer "$(token_get "alice:$PW_A" registry:catalog:*)"
ahttp GET /v2/_catalog
expect_status 200 "catalog with a catalog token"
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["public/img","team/app"]' "catalog lists alice's repositories"

# ---- anonymous -------------------------------------------------------------
AUTH=()
ahttp GET "/auth/token?service=$SERVICE&scope=repository:public/img:pull,push&scope=repository:team/app:pull"
expect_status 200 "anonymous token"
TA=$(jq -r .token "$BODY_FILE")
expect_eq "$(jwt_claims "$TA" | jq -r .sub)" "" "anonymous token: empty sub"
expect_eq "$(jwt_claims "$TA" | jq -c .access)" '[{"type":"repository","name":"public/img","actions":["pull"]}]' \
    "anonymous token: pull on public only"
bearer "$TA"
ahttp GET /v2/public/img/manifests/v1
expect_status 200 "anonymous pull of public/img with its token"
ahttp GET /v2/team/app/manifests/v1
expect_error 401 UNAUTHORIZED
ahttp POST /v2/public/img/blobs/uploads/
expect_error 401 UNAUTHORIZED
AUTH=()
http GET /v2/team/app/manifests/v1
expect_error 401 UNAUTHORIZED
http GET /v2/public/img/manifests/v1
expect_status 200 "anonymous pull of public/img without a token (the rules allow it)"
http POST /v2/public/img/blobs/uploads/
expect_error 401 UNAUTHORIZED

# ---- POST grants -----------------------------------------------------------
post_token() { ahttp POST /auth/token -H 'Content-Type: application/x-www-form-urlencoded' "$@"; }
AUTH=()
post_token --data-urlencode grant_type=password --data-urlencode username=alice \
    --data-urlencode "password=$PW_A" --data-urlencode "service=$SERVICE" \
    --data-urlencode client_id=berth-tests --data-urlencode access_type=offline \
    --data-urlencode scope=repository:team/app:pull
expect_status 200 "POST password grant"
PT=$(jq -r .access_token "$BODY_FILE")
R=$(jq -r '.refresh_token // empty' "$BODY_FILE")
check; [ -n "$R" ] || fail "access_type=offline gives a refresh_token"
expect_eq "$(jq -r .token "$BODY_FILE")" "$PT" "token equals access_token"
expect_eq "$(jq -r .expires_in "$BODY_FILE")" 300 "expires_in (POST)"
expect_match "$(jq -r .issued_at "$BODY_FILE")" '^[0-9-]{10}T[0-9:]{8}' "issued_at (POST)"
expect_eq "$(jwt_claims "$PT" | jq -r .sub)" alice "POST token sub"
expect_eq "$(jwt_claims "$PT" | jq -c .access)" '[{"type":"repository","name":"team/app","actions":["pull"]}]' "POST token access"
bearer "$PT"
ahttp GET /v2/team/app/manifests/v1
expect_status 200 "pull with the POST token"
# A refresh token is not an access token.
bearer "$R"
ahttp GET /v2/
expect_error 401 UNAUTHORIZED
ahttp GET /v2/team/app/manifests/v1
expect_error 401 UNAUTHORIZED
AUTH=()
post_token --data-urlencode grant_type=password --data-urlencode username=alice \
    --data-urlencode "password=$PW_A" --data-urlencode "service=$SERVICE"
expect_status 200 "POST password grant without access_type"
expect_eq "$(jq -r 'has("refresh_token")' "$BODY_FILE")" false "no refresh_token without access_type=offline"
post_token --data-urlencode grant_type=password --data-urlencode username=alice \
    --data-urlencode "password=wrong" --data-urlencode "service=$SERVICE"
expect_error 401 UNAUTHORIZED
post_token --data-urlencode grant_type=password --data-urlencode username=alice --data-urlencode "service=$SERVICE"
expect_error 401 UNAUTHORIZED
# refresh_token grant.
post_token --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$R" \
    --data-urlencode "service=$SERVICE" --data-urlencode client_id=berth-tests \
    --data-urlencode 'scope=repository:team/app:pull,push'
expect_status 200 "POST refresh_token grant"
RT=$(jq -r .access_token "$BODY_FILE")
check; [ -n "$(jq -r '.refresh_token // empty' "$BODY_FILE")" ] || fail "a refresh grant answers a refresh_token"
expect_eq "$(jwt_claims "$RT" | jq -r .sub)" alice "refreshed token sub"
expect_eq "$(jwt_claims "$RT" | jq -c .access)" '[{"type":"repository","name":"team/app","actions":["pull","push"]}]' \
    "refreshed token access"
bearer "$RT"
ahttp POST /v2/team/app/blobs/uploads/
expect_status 202 "upload with the refreshed token"
AUTH=()
for bad in "$PT" "$T" "garbage" "$R.x" ""; do
    post_token --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$bad" \
        --data-urlencode "service=$SERVICE"
    expect_error 401 UNAUTHORIZED
done
post_token --data-urlencode grant_type=client_credentials --data-urlencode "service=$SERVICE"
expect_status 400 "an unknown grant_type"
post_token --data-urlencode grant_type=password --data-urlencode username=alice \
    --data-urlencode "password=$PW_A" --data-urlencode "service=other-service"
expect_status 400 "a token for another service"
ahttp GET "/auth/token?service=other-service" -u "alice:$PW_A"
expect_status 400 "GET for another service"
ahttp GET "/auth/token?service=$SERVICE&offline_token=true&client_id=docker" -u "alice:$PW_A"
expect_status 200 "GET with offline_token=true"
GR=$(jq -r '.refresh_token // empty' "$BODY_FILE")
check; [ -n "$GR" ] || fail "offline_token=true gives a refresh_token"
ahttp GET "/auth/token?service=$SERVICE" -u "alice:wrong"
expect_error 401 UNAUTHORIZED
expect_match "$(header WWW-Authenticate)" '^Basic realm=' "the token service challenges for Basic"
ahttp PUT /auth/token -d x
expect_status 405 "PUT on the token service"

# ---- tokens berthd must refuse ---------------------------------------------
claims() { # claims [JQ-UPDATE]: valid claims for pull on team/app, then updated
    jq -cn --arg iss "$ISS" --arg aud "$SERVICE" --argjson now "$(date +%s)" --arg jti "$RANDOM$RANDOM$RANDOM" \
        '{iss: $iss, sub: "ext-bot", aud: $aud, exp: ($now + 300), nbf: $now, iat: $now, jti: $jti,
          access: [{type: "repository", name: "team/app", actions: ["pull"]}]} | '"${1:-.}"
}
try() { # try TOKEN STATUS WHAT: pull team/app with TOKEN
    check; [ -n "$1" ] || { fail "$3: no token was made"; return; }
    bearer "$1"
    ahttp GET /v2/team/app/manifests/v1 -H "Accept: $OCI_M"
    expect_eq "$STATUS" "$2" "$3"
    [ "$2" != 401 ] || expect_eq "$(error_code)" UNAUTHORIZED "$3: error code"
    [ "$2" != 403 ] || expect_eq "$(error_code)" DENIED "$3: error code"
}
try "$(mint "$K/signing.pem" ES256 "$(claims)")" 200 "(control) a token minted with the signing key"
try "$(mint "$K/signing.pem" ES256 "$(claims '.exp = $now - 3600 | .nbf = $now - 3900 | .iat = $now - 3900')")" 401 "expired token"
try "$(mint "$K/signing.pem" ES256 "$(claims '.exp = $now - 60')")" 401 "token expired a minute ago (leeway 5 s)"
try "$(mint "$K/signing.pem" ES256 "$(claims '.exp = $now - 1')")" 200 "token expired within the leeway"
try "$(mint "$K/signing.pem" ES256 "$(claims '.nbf = $now + 3600 | .exp = $now + 7200')")" 401 "not-yet-valid token"
try "$(mint "$K/signing.pem" ES256 "$(claims '.nbf = $now + 2')")" 200 "nbf within the leeway"
try "$(mint "$K/signing.pem" ES256 "$(claims '.aud = "other-service"')")" 401 "wrong audience"
try "$(mint "$K/signing.pem" ES256 "$(claims '.aud = ["x", $aud]')")" 200 "audience in a list"
try "$(mint "$K/signing.pem" ES256 "$(claims '.aud = ["x", "y"]')")" 401 "audience list without the service"
try "$(mint "$K/signing.pem" ES256 "$(claims 'del(.aud)')")" 401 "no audience"
try "$(mint "$K/signing.pem" ES256 "$(claims '.iss = "evil-issuer"')")" 401 "wrong issuer"
try "$(mint "$K/signing.pem" ES256 "$(claims 'del(.iss)')")" 401 "no issuer"
try "$(mint "$K/signing.pem" ES256 "$(claims 'del(.exp)')")" 401 "no exp"
try "$(mint "$K/signing.pem" ES256 "$(claims '.exp = ($now + 300 | tostring)')")" 401 "exp as a string"
try "$(mint "$K/signing.pem" ES256 "$(claims '.refresh = true')")" 401 "a refresh token used as a bearer"
try "$(mint "$K/other.key" ES256 "$(claims)")" 401 "wrong key (not trusted)"
try "$(mint "$K/other.key" ES256 "$(claims)" "{\"kid\": \"$KID\"}")" 401 "wrong key naming the trusted kid"
try "$(mint "$K/p384.key" ES256 "$(claims)")" 401 "ES256 with a (trusted) P-384 key"
# Tampered payload: a valid token for team/app pull, with push and another sub spliced in.
V=$(mint "$K/signing.pem" ES256 "$(claims)")
evil=$(claims '.access[0].actions = ["pull","push"] | .sub = "alice"' | "$PY" -c \
    'import sys,base64; print(base64.urlsafe_b64encode(sys.stdin.read().strip().encode()).decode().rstrip("="))')
tampered="${V%%.*}.$evil.${V##*.}"
bearer "$tampered"
ahttp POST /v2/team/app/blobs/uploads/
expect_error 401 UNAUTHORIZED
try "$tampered" 401 "tampered payload"
sig=${V##*.}
flip=${sig:0:10}$( [ "${sig:10:1}" = A ] && echo B || echo A )${sig:11}
try "${V%.*}.$flip" 401 "tampered signature"
try "${V%.*}." 401 "empty signature"
try "${V%.*}" 401 "two parts only"
try "$V.$sig" 401 "four parts"
try "$(mint - none "$(claims)")" 401 "alg none"
try "$(mint - none "$(claims)" '{"alg": "None"}')" 401 "alg None"
try "$(mint "$K/signing.pem" ES256 "$(claims)" '{"alg": "none"}' | sed 's/\.[^.]*$/./')" 401 "alg none with the signature cut off"
try "$(mint "$K/signing.pem" ES256 "$(claims)" '{"alg": null}')" 401 "no alg"
try "$(mint "$K/ec.pub" HS256 "$(claims)")" 401 "HS256 with the trusted EC public key PEM as secret"
try "$(mint "$K/rsa.pub" HS256 "$(claims)")" 401 "HS256 with the trusted RSA public key PEM as secret"
try "$(mint "$K/rsa.key" RS256 "$(claims)" '{"alg": "ES256"}')" 401 "an RS256 signature labelled ES256"
try "$(mint "$K/ec.key" ES256 "$(claims)" '{"alg": "RS256"}')" 401 "an ES256 signature labelled RS256"
try "$(mint "$K/ed.key" EdDSA "$(claims)" '{"alg": "ES256"}')" 401 "an EdDSA signature labelled ES256"
try "$(mint "$K/rsa.key" RS256 "$(claims)" '{"alg": "PS256"}')" 401 "PS256 is not accepted"
# A key carried in the token (jwk) is never trusted by itself.
jwk=$("$PY" -c '
import sys, json, base64
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None).public_key().public_numbers()
b = lambda n: base64.urlsafe_b64encode(n.to_bytes(32, "big")).decode().rstrip("=")
print(json.dumps({"jwk": {"kty": "EC", "crv": "P-256", "x": b(k.x), "y": b(k.y)}}))' "$K/other.key")
try "$(mint "$K/other.key" ES256 "$(claims)" "$jwk")" 401 "a token signed by the jwk it carries"

# ---- an external issuer's keys ---------------------------------------------
try "$(mint "$K/rsa.key" RS256 "$(claims)")" 200 "external RS256 token"
try "$(mint "$K/ec.key" ES256 "$(claims)")" 200 "external ES256 token"
try "$(mint "$K/ed.key" EdDSA "$(claims)")" 200 "external EdDSA (Ed25519) token"
try "$(mint "$K/rsa.key" RS256 "$(claims)" '{"kid": null}')" 200 "external token without a kid"
try "$(mint "$K/ed.key" EdDSA "$(claims)" "{\"kid\": \"$KID\"}")" 200 "external token naming another key's kid"
try "$(mint "$K/rsa.key" RS256 "$(claims '.access[0].name = "team/other"')")" 403 "external token for another repository (ext-bot has no rule: denied)"
bearer "$(mint "$K/ed.key" EdDSA "$(claims '.access[0].actions = ["pull","push"] | .sub = "ext-bot"')")"
ahttp POST /v2/team/app/blobs/uploads/
expect_status 202 "an external token's push scope is honoured"
# x5c: a chain ending at the configured CA certificate.
X5C=$("$PY" "$MINT" --x5c "$K/pki/signer.crt")
try "$(mint "$K/pki/signer.key" ES256 "$(claims)" "{\"x5c\": $X5C, \"kid\": null}")" 200 "x5c leaf signed by the configured CA"
X5C2=$("$PY" "$MINT" --x5c "$K/pki/signer.crt" "$K/pki/ca.crt")
try "$(mint "$K/pki/signer.key" ES256 "$(claims)" "{\"x5c\": $X5C2, \"kid\": null}")" 200 "x5c chain leaf + CA"
try "$(mint "$K/pki/signer.key" ES256 "$(claims)")" 401 "the leaf key without its x5c"
XS=$("$PY" "$MINT" --x5c "$K/self.crt")
try "$(mint "$K/self.key" ES256 "$(claims)" "{\"x5c\": $XS, \"kid\": null}")" 401 "x5c with a self-signed certificate not configured"
XSC=$("$PY" "$MINT" --x5c "$K/self.crt" "$K/pki/ca.crt")
try "$(mint "$K/self.key" ES256 "$(claims)" "{\"x5c\": $XSC, \"kid\": null}")" 401 "x5c with the CA appended to an unrelated certificate"
try "$(mint "$K/other.key" ES256 "$(claims)" "{\"x5c\": $X5C, \"kid\": null}")" 401 "x5c of the CA's leaf, signed with another key"
auth_down

# ---- configuration refusals ------------------------------------------------
tcfg() { # tcfg TOKEN-OBJECT: an auth config in $TMP/t.json
    printf '{"auth": {"htpasswd": "%s", "token": %s}}\n' "$HT" "$1" >"$TMP/t.json"
}
tcfg '{"service": "s", "key": "'"$K"'/k2.pem"}'
auth_refuses "token without realm" --config "$TMP/t.json"
expect_match "$REFUSAL" "realm" "the message names the realm"
tcfg '{"realm": "http://x/t", "path": "/auth/token", "trusted": ["'"$K"'/rsa.pub"]}'
auth_refuses "a token service without a signing key" --config "$TMP/t.json"
tcfg '{"realm": "http://x/t", "key": "'"$K"'/rsa.key"}'
auth_refuses "an RSA signing key" --config "$TMP/t.json"
tcfg '{"realm": "http://x/t", "trusted": ["'"$K"'/nonexistent.pem"]}'
auth_refuses "a missing trusted key" --config "$TMP/t.json"
echo "not a key" >"$TMP/junk.pem"
tcfg '{"realm": "http://x/t", "trusted": ["'"$TMP"'/junk.pem"]}'
auth_refuses "a trusted file without a key" --config "$TMP/t.json"
tcfg '{"realm": "http://x/t", "trusted": ["'"$K"'/rsa.pub"], "secret": "x"}'
auth_refuses "an unknown token key" --config "$TMP/t.json"

# ---- rate limiting of the token service ------------------------------------
auth_port
cat >"$TMP/rl.json" <<EOF
{"auth": {"htpasswd": "$HT",
  "token": {"realm": "http://$REG/auth/token", "service": "$SERVICE", "issuer": "$ISS",
            "path": "/auth/token", "key": "$K/signing.pem"},
  "ratelimit": {"attempts": 2, "window": 3}}}
EOF
auth_up --config "$TMP/rl.json"
AUTH=()
for i in 1 2; do
    ahttp GET "/auth/token?service=$SERVICE" -u "bob:bad$i"
    expect_error 401 UNAUTHORIZED
done
ahttp GET "/auth/token?service=$SERVICE" -u "bob:$PW_B"
expect_error 429 TOOMANYREQUESTS
expect_match "$(header Retry-After)" '^[1-3]$' "Retry-After from the token service"
post_token --data-urlencode grant_type=password --data-urlencode username=bob \
    --data-urlencode "password=$PW_B" --data-urlencode "service=$SERVICE"
expect_error 429 TOOMANYREQUESTS
sleep 3.2
ahttp GET "/auth/token?service=$SERVICE" -u "bob:$PW_B"
expect_status 200 "the token service answers again after the window"
auth_down

# ---- no secret in the log --------------------------------------------------
for s in "$PW_A" "$PW_B" "$T" "$PT" "$R" "$RT" "$GR" "$TA" "${T##*.}" "${R##*.}" \
         "$(printf 'alice:%s' "$PW_A" | base64 -w0)"; do
    log_has_no "$s" "a password, token or credential"
done
finish
