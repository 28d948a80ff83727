#!/bin/bash
# t1300-auth-tls: HTTPS with --tls-cert/--tls-key and with the "tls" config
# object: a test CA and a server certificate for 127.0.0.1 (IP SAN) made
# with the openssl CLI; curl --cacert works, no CA fails verification, plain
# HTTP to the TLS port gets no HTTP answer; Basic and token auth over TLS;
# incomplete or unreadable TLS settings stop berthd.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-auth.sh"

PKI=$TMP/pki
make_ca "$PKI" && make_cert "$PKI" server IP:127.0.0.1 && make_cert "$PKI" wrongname DNS:example.invalid \
    || { echo "openssl could not make the test PKI" >&2; exit 1; }
openssl verify -CAfile "$PKI/ca.crt" "$PKI/server.crt" >/dev/null 2>&1 \
    || { echo "the test server certificate does not verify" >&2; exit 1; }
HT=$TMP/htpasswd
add_user "$HT" alice alice-tls-pw || exit 1

# ---- flags + Basic ---------------------------------------------------------
auth_up_tls "$PKI/ca.crt" --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key" --htpasswd "$HT"
http_base=http://$REG
ahttp GET /v2/
expect_error 401 UNAUTHORIZED
expect_eq "$(header WWW-Authenticate)" 'Basic realm="berth"' "Basic challenge over HTTPS"
expect_eq "$(header Docker-Distribution-API-Version)" registry/2.0 "API version header over HTTPS"
AUTH=(-u alice:alice-tls-pw)
ahttp GET /v2/
expect_status 200 "GET /v2/ over HTTPS with credentials"
m=$(apush_image tls/app v1)
check; [ -n "$m" ] || fail "push over HTTPS"
ahttp GET /v2/tls/app/manifests/v1 -H "Accept: $OCI_M"
expect_status 200 "pull over HTTPS"
expect_eq "$(sha256_of "$BODY_FILE")" "$m" "manifest over HTTPS"
layer=$(sha256_of "$TMP/aimg-tls_app-v1.layer")
ahttp GET "/v2/tls/app/blobs/$layer"
expect_eq "$(sha256_of "$BODY_FILE")" "$layer" "blob over HTTPS (sendfile path)"
random_file "$TMP/big" 3000000
d=$(apush_blob tls/app "$TMP/big")
expect_eq "$d" "$(sha256_of "$TMP/big")" "a 3 MB blob pushed over HTTPS"
ahttp GET "/v2/tls/app/blobs/$d"
expect_eq "$(sha256_of "$BODY_FILE")" "$d" "a 3 MB blob pulled over HTTPS"
ahttp GET "/v2/tls/app/blobs/$d" -H 'Range: bytes=1000-1999'
expect_status 206 "a range over HTTPS"
expect_eq "$(size_of "$BODY_FILE")" 1000 "range length over HTTPS"

# Verification: the certificate names 127.0.0.1 and chains to the test CA.
check
curl -sS -o /dev/null -m 5 "https://$REG/v2/" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 60 ] || fail "curl without the test CA: expected exit 60 (certificate problem), got $rc: $(cat "$TMP/err")"
check
curl -sS -o /dev/null -m 5 --cacert "$PKI/ca.crt" "https://localhost:$PORT/v2/" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 60 ] || fail "https://localhost (not in the SAN): expected exit 60, got $rc"
check
out=$(openssl s_client -connect "$REG" -CAfile "$PKI/ca.crt" -verify_return_error </dev/null 2>&1)
grep -q 'Verify return code: 0 (ok)' <<<"$out" || fail "openssl s_client does not verify the server: $(grep -i verify <<<"$out" | head -3)"
# Plain HTTP to the TLS port: no HTTP answer, and berthd keeps serving.
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$http_base/v2/")
expect_eq "$code" 000 "plain HTTP to the TLS port gets no HTTP status"
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -u alice:alice-tls-pw "$http_base/v2/")
expect_eq "$code" 000 "plain HTTP with credentials to the TLS port"
ahttp GET /v2/
expect_status 200 "HTTPS still served after plain-HTTP attempts"
auth_down

# ---- the "tls" config object + token auth over HTTPS -----------------------
auth_port
cat >"$TMP/tls.json" <<EOF
{"tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key"},
 "auth": {"htpasswd": "$HT",
   "token": {"realm": "https://$REG/auth/token", "service": "tls-svc", "path": "/auth/token",
             "key": "$TMP/signing.pem"}}}
EOF
auth_up_tls "$PKI/ca.crt" --config "$TMP/tls.json"
AUTH=()
ahttp GET /v2/tls/app/manifests/v1
expect_error 401 UNAUTHORIZED
expect_eq "$(header WWW-Authenticate)" \
    "Bearer realm=\"https://$REG/auth/token\",service=\"tls-svc\",scope=\"repository:tls/app:pull\"" "Bearer challenge over HTTPS"
T=$(SERVICE=tls-svc token_get alice:alice-tls-pw repository:tls/app:pull)
check; [ -n "$T" ] || fail "no token from the token service over HTTPS"
AUTH=(-H "Authorization: Bearer $T")
ahttp GET /v2/tls/app/manifests/v1 -H "Accept: $OCI_M"
expect_status 200 "pull with a token over HTTPS (config tls object)"
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$REG/auth/token")
expect_eq "$code" 000 "plain HTTP to the token service on the TLS port"
auth_down

# ---- a certificate for another name ------------------------------------------
auth_up_tls "$PKI/ca.crt" --tls-cert "$PKI/wrongname.crt" --tls-key "$PKI/wrongname.key" --htpasswd "$HT"
check
curl -sS -o /dev/null -m 5 --cacert "$PKI/ca.crt" "https://$REG/v2/" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 60 ] || fail "a certificate without 127.0.0.1: expected curl exit 60, got $rc"
auth_down

# ---- refusals --------------------------------------------------------------
auth_refuses "--tls-cert without --tls-key" --tls-cert "$PKI/server.crt" --htpasswd "$HT"
expect_match "$REFUSAL" "TLS" "the message names TLS"
auth_refuses "--tls-key without --tls-cert" --tls-key "$PKI/server.key"
auth_refuses "a missing certificate file" --tls-cert "$TMP/nope.crt" --tls-key "$PKI/server.key"
expect_match "$REFUSAL" "nope.crt" "the missing file is named"
auth_refuses "a key that is not a key" --tls-cert "$PKI/server.crt" --tls-key "$PKI/ca.crt"
auth_refuses "a key that does not match the certificate" --tls-cert "$PKI/server.crt" --tls-key "$PKI/wrongname.key"
printf '{"tls": {"cert": "%s"}}\n' "$PKI/server.crt" >"$TMP/half.json"
auth_refuses "a tls object without a key" --config "$TMP/half.json"
log_has_no alice-tls-pw "the password"
log_has_no "$T" "the token"
finish
