#!/bin/bash
# t1400-security-server: attacks on berthd, each of which worked once.
#  - The Bearer challenge for the longest allowed realm and service and a
#    255-character repository name, asked for without credentials, is a
#    whole, valid WWW-Authenticate header, and berthd lives on (it used to
#    write past its buffer and die); a realm or service past the limits, or
#    with a quote, is refused at start.
#  - /admin/storage lists to a caller with `catalog` only the repositories
#    _catalog lists to it, with a Bearer token and with the rules alike.
#  - Logs: a path with %0a writes one line, not two; a Basic user name and a
#    path that are not UTF-8 give a JSON line with the address and the
#    escaped bytes, not "{}".
#  - A layer whose media type merely contains ".foreign." must be present
#    (MANIFEST_BLOB_UNKNOWN); the real non-distributable types need not be.
#  - Two Content-Length headers that disagree, or one beside
#    Transfer-Encoding, get 400 and store nothing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-auth.sh"
. "$(dirname "$0")/lib-ops.sh"

HT=$TMP/htpasswd
PW_ADMIN='admin-S3c-pw'
PW_ALICE='alice-S3c-pw'
add_user "$HT" admin "$PW_ADMIN" && add_user "$HT" alice "$PW_ALICE" ||
    { echo "berthd htpasswd failed" >&2; exit 1; }

# A 255-character repository name: four components of 63 letters.
c63=$(printf 'n%.0s' $(seq 1 63))
LONG_NAME=$c63/$c63/$c63/$c63
check; [ "${#LONG_NAME}" -eq 255 ] || fail "test name is ${#LONG_NAME} characters, not 255"

# ---- the challenge at its longest, in token mode, logging JSON ----------------
auth_port
# 1024 characters of realm, 256 of service: the limits
REALM="http://$REG/auth/token?pad="
REALM=$REALM$(head -c $((1024 - ${#REALM})) </dev/zero | tr '\0' r)
SERVICE=$(head -c 256 </dev/zero | tr '\0' s)
check; [ "${#REALM}" -eq 1024 ] && [ "${#SERVICE}" -eq 256 ] || fail "realm/service lengths"
token_config() { # REALM SERVICE: the configuration on stdout
    jq -n --arg ht "$HT" --arg realm "$1" --arg svc "$2" --arg key "$TMP/signing.pem" '{
      log: {format: "json"},
      auth: {htpasswd: $ht,
             token: {realm: $realm, service: $svc, path: "/auth/token", key: $key},
             access: [
               {account: "admin", repository: "*", actions: ["pull", "push", "delete", "catalog"]},
               {account: "alice", repository: "a/*", actions: ["pull", "push"]},
               {account: "alice", repository: "*", actions: ["catalog"]}],
             ratelimit: {attempts: 1000, window: 60}}}'
}
token_config "$REALM" "$SERVICE" >"$TMP/token.json"
auth_up --config "$TMP/token.json"

for req in "GET /v2/$LONG_NAME/manifests/latest pull" "HEAD /v2/$LONG_NAME/blobs/sha256:$(printf '%064d' 0) pull" \
           "POST /v2/$LONG_NAME/blobs/uploads/ push" "DELETE /v2/$LONG_NAME/manifests/sha256:$(printf '%064d' 0) delete"; do
    set -- $req
    ahttp "$1" "$2"
    expect_status 401 "$1 on a 255-character name, no credentials"
    expect_eq "$(header WWW-Authenticate)" \
        "Bearer realm=\"$REALM\",service=\"$SERVICE\",scope=\"repository:$LONG_NAME:$3\"" \
        "the whole challenge of $1 on a 255-character name"
    check; kill -0 "$BERTHD_PID" 2>/dev/null || { fail "berthd died on $1 of a 255-character name"; break; }
done
# a bogus token on top: the same challenge, with insufficient scope never cut off
AUTH=(-H "Authorization: Bearer not.a.token")
ahttp GET "/v2/$LONG_NAME/manifests/latest"
expect_status 401 "a bogus token on a 255-character name"
expect_match "$(header WWW-Authenticate)" "scope=\"repository:$LONG_NAME:pull\"\$" "challenge with a bogus token"
# a real token for another repository, from an account the rules allow:
# insufficient_scope, the whole header
tok=$(token_get "admin:$PW_ADMIN" "repository:a/x:pull")
check; [ -n "$tok" ] || fail "admin got no token"
AUTH=(-H "Authorization: Bearer $tok")
ahttp PUT "/v2/$LONG_NAME/manifests/latest" -H "Content-Type: $OCI_M" --data-binary '{}'
expect_eq "$(header WWW-Authenticate)" \
    "Bearer realm=\"$REALM\",service=\"$SERVICE\",scope=\"repository:$LONG_NAME:push\",error=\"insufficient_scope\"" \
    "insufficient_scope challenge on a 255-character name"
AUTH=()
ahttp GET /v2/
expect_status 401 "berthd still answers"

# past the limits, or with a quote: refused when the configuration loads
token_config "${REALM}r" "$SERVICE" >"$TMP/bad1.json"
auth_refuses "a 1025-character realm" --config "$TMP/bad1.json"
expect_match "$REFUSAL" "realm" "the refusal names the realm"
token_config "$REALM" "${SERVICE}s" >"$TMP/bad2.json"
auth_refuses "a 257-character service" --config "$TMP/bad2.json"
expect_match "$REFUSAL" "service" "the refusal names the service"
token_config 'http://x/",scope="registry:catalog:*' berth >"$TMP/bad3.json"
auth_refuses "a quote in the realm" --config "$TMP/bad3.json"

# ---- /admin/storage shows what _catalog shows ---------------------------------
ADMIN_TOK=$(token_get "admin:$PW_ADMIN" "repository:a/one:pull,push" "repository:a/two:pull,push" \
    "repository:b/secret:pull,push" "registry:catalog:*")
AUTH=(-H "Authorization: Bearer $ADMIN_TOK")
for r in a/one a/two b/secret; do
    check; apush_image "$r" v1 >/dev/null || fail "push $r as admin"
done
ahttp GET /admin/storage
expect_status 200 "admin: /admin/storage"
expect_eq "$(jq -r '[.repositories[].name] | sort | join(" ")' "$BODY_FILE")" "a/one a/two b/secret" \
    "admin sees every repository"
all_total=$(jq -r .total_bytes "$BODY_FILE")

ALICE_TOK=$(token_get "alice:$PW_ALICE" "registry:catalog:*")
AUTH=(-H "Authorization: Bearer $ALICE_TOK")
ahttp GET /v2/_catalog
expect_status 200 "alice: _catalog"
expect_eq "$(jq -r '.repositories | sort | join(" ")' "$BODY_FILE")" "a/one a/two" "alice's _catalog"
ahttp GET /admin/storage
expect_status 200 "alice (catalog): /admin/storage"
expect_eq "$(jq -r '[.repositories[].name] | sort | join(" ")' "$BODY_FILE")" "a/one a/two" \
    "alice sees in /admin/storage only what _catalog shows her"
check; grep -q 'b/secret' "$BODY_FILE" && fail "b/secret named to alice"
expect_eq "$(jq -r '.total_bytes' "$BODY_FILE")" "$(jq -r '[.repositories[].own_bytes] | add' "$BODY_FILE")" \
    "alice's total is her repositories' own bytes"
check; [ "$(jq -r .total_bytes "$BODY_FILE")" -lt "$all_total" ] || fail "alice's total is the registry's"
# without catalog in the token: a challenge, as before
ALICE_TOK2=$(token_get "alice:$PW_ALICE" "repository:a/one:pull")
AUTH=(-H "Authorization: Bearer $ALICE_TOK2")
ahttp GET /admin/storage
expect_status 401 "alice without catalog scope: /admin/storage"
AUTH=()

# ---- a failed login with a user name that is not UTF-8, in the JSON log -------
bad_user=$(printf 'ev\xffil\xc3')
ahttp GET /auth/token -G --data-urlencode "service=$SERVICE" -u "$bad_user:wrong"
expect_status 401 "token service, a user name that is not UTF-8"
ahttp GET "/v2/a/x%ff%fe/tags/list"
sleep 0.3
check
while IFS= read -r line; do
    jq -e 'type == "object" and length > 0' <<<"$line" >/dev/null 2>&1 ||
        { fail "a log line that is not a JSON object: $line"; break; }
done <"$TMP/berthd.log"
expect_eq "$(grep -c '^{}$' "$TMP/berthd.log")" 0 "empty JSON log lines"
login_line=$(jq -c 'select(.msg? // "" | test("failed login"))' "$TMP/berthd.log" 2>/dev/null | tail -1)
expect_match "$(jq -r .msg <<<"$login_line")" '^auth: failed login for ev\\xffil\\xc3 from 127\.0\.0\.1$' \
    "the failed login's account (escaped) and address"
expect_eq "$(jq -r 'select(.path? // "" | test("tags/list")) | .path' "$TMP/berthd.log" | tail -1)" \
    '/v2/a/x\xff\xfe/tags/list' "a path that is not UTF-8 in the JSON access line"
check; grep -q "$(printf '\xff')" "$TMP/berthd.log" && fail "a raw 0xff byte in the JSON log"
auth_down

# ---- text log: %0a in a path stays on its line -----------------------------------
ROOT=$TMP/root2
berthd_start
log0=$(wc -l <"$TMP/berthd.log")
http GET "/v2/a%0aFAKE%20info%20%200000000000000000%20GET%20/v2/admin%20200%200%200.1s/manifests/x"
rid=$(header X-Request-Id)
http GET "/v2/b%0d%1b%5b31m/tags/list"
rid2=$(header X-Request-Id)
http GET /v2/
sleep 0.3
new=$(tail -n +$((log0 + 1)) "$TMP/berthd.log")
expect_eq "$(grep -c '' <<<"$new")" 3 "log lines for three requests"
expect_eq "$(grep -c 'FAKE' <<<"$new")" 1 "lines with the forged text"
expect_eq "$(grep -F -- "$rid" <<<"$new" | grep -c FAKE)" 1 "the forged text is on the request's own line"
check; grep -q '^FAKE' <<<"$new" && fail "a forged line in the text log: $(grep '^FAKE' <<<"$new")"
expect_match "$(grep -F -- "$rid" <<<"$new")" ' GET /v2/a\\x0aFAKE\\x20info' "the newline and spaces shown escaped"
expect_match "$(grep -F -- "$rid2" <<<"$new")" ' GET /v2/b\\x0d\\x1b\[31m/tags/list ' "CR and ESC shown escaped"
check; grep -q "$(printf '\x1b')" "$TMP/berthd.log" && fail "a raw ESC in the text log"

# ---- layers that only look non-distributable -------------------------------------
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$TMP/cfg"
cfg_d=$(push_blob sec/app "$TMP/cfg")
missing="sha256:$(printf 'missing layer %s' "$RANDOM" | sha256sum | cut -d' ' -f1)"
manifest_with() { # MEDIATYPE
    jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$TMP/cfg")" \
        --arg mt "$1" --arg d "$missing" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c,
          layers: [{mediaType: $mt, digest: $d, size: 1234}]}' >"$TMP/m.json"
}
for mt in application/x.foreign.evil application/vnd.docker.image.rootfs.foreign.diff.tar.gzip.evil \
          x.nondistributable.y application/vnd.oci.image.layer.nondistributable.v1.tar+evil; do
    manifest_with "$mt"
    http PUT /v2/sec/app/manifests/evil -H "Content-Type: $OCI_M" --data-binary @"$TMP/m.json"
    expect_error 400 MANIFEST_BLOB_UNKNOWN
done
http GET /v2/sec/app/manifests/evil
expect_status 404 "no manifest stored under the look-alike types"
for mt in application/vnd.docker.image.rootfs.foreign.diff.tar.gzip \
          application/vnd.oci.image.layer.nondistributable.v1.tar \
          application/vnd.oci.image.layer.nondistributable.v1.tar+gzip \
          application/vnd.oci.image.layer.nondistributable.v1.tar+zstd; do
    manifest_with "$mt"
    http PUT /v2/sec/app/manifests/foreign -H "Content-Type: $OCI_M" --data-binary @"$TMP/m.json"
    expect_status 201 "a missing layer of type $mt"
done

# ---- ambiguous request framing ---------------------------------------------------
# raw METHOD PATH HEADERS BODY: one request on its own connection; prints the
# status code (or "none")
raw() {
    "$PY" - "$PORT" "$@" <<'PY'
import socket, sys
port, method, path, headers, body = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
req = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n%s" % (
    method, path, "".join(h + "\r\n" for h in headers.split("|") if h), body)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(req.encode())
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except socket.timeout:
    pass
s.close()
line = out.split(b"\r\n", 1)[0].split()
print(line[1].decode() if len(line) > 1 else "none")
PY
}
body=hello
d=$(printf %s "$body" | sha256sum | cut -d' ' -f1)
up="/v2/sec/cl/blobs/uploads/?digest=sha256:$d"
expect_eq "$(raw POST "$up" 'Content-Length: 5|Content-Length: 0' "$body")" 400 "two Content-Length, 5 and 0"
expect_eq "$(raw POST "$up" 'Content-Length: 0|Content-Length: 5' "$body")" 400 "two Content-Length, 0 and 5"
expect_eq "$(raw POST "$up" 'Content-Length: 5|Transfer-Encoding: chunked' "$body")" 400 \
    "Content-Length beside Transfer-Encoding"
http HEAD "/v2/sec/cl/blobs/sha256:$d"
expect_status 404 "nothing stored by the ambiguous requests"
expect_eq "$(raw POST "$up" 'Content-Length: 5|Content-Length: 5' "$body")" 201 "the same Content-Length twice"
expect_eq "$(raw GET /v2/ '' '')" 200 "berthd still answers"
finish
