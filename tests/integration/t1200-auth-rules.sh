#!/bin/bash
# t1200-auth-rules: per-repository access rules, with Basic credentials and
# then with tokens from the built-in token service. A user allowed to pull
# proj/a and push proj/b can do exactly that (push-only users may HEAD
# blobs, to skip uploading what is there); groups; "*" (any authenticated
# user); "anonymous" (everyone); 401 when not authenticated, 403 DENIED when
# authenticated but not allowed; _catalog lists only what the caller may
# pull; a cross-repository mount without pull on `from` falls back to an
# upload; bad rules stop berthd at start-up.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-auth.sh"

HT=$TMP/htpasswd
for u in admin carol dave eve; do add_user "$HT" "$u" "pw-$u-1" || { echo "htpasswd failed" >&2; exit 1; }; done
RULES='"groups": {"readers": ["dave"], "nobody": []},
  "access": [
    {"account": "admin", "repository": "*", "actions": ["*"]},
    {"account": "carol", "repository": "proj/a", "actions": ["pull"]},
    {"account": "carol", "repository": "proj/b", "actions": ["push"]},
    {"group": "readers", "repository": "team/*", "actions": ["pull"]},
    {"group": "nobody", "repository": "*", "actions": ["*"]},
    {"account": "*", "repository": "*", "actions": ["catalog"]},
    {"account": "anonymous", "repository": "public/*", "actions": ["pull"]}
  ]'
SERVICE=berth-rules
cat >"$TMP/basic.json" <<EOF
{"auth": {"realm": "rules", "htpasswd": "$HT", $RULES, "ratelimit": {"attempts": 1000}}}
EOF
auth_up --config "$TMP/basic.json"
as() { AUTH=(-u "$1:pw-$1-1"); }

# admin fills the registry.
as admin
for r in proj/a proj/b team/x public/p private/z; do
    check; [ -n "$(apush_image "$r" v1)" ] || fail "admin pushes $r"
done
MA=$(sha256_of "$TMP/aimg-proj_a-v1.json")
MB=$(sha256_of "$TMP/aimg-proj_b-v1.json")
LA=$(sha256_of "$TMP/aimg-proj_a-v1.layer")
LB=$(sha256_of "$TMP/aimg-proj_b-v1.layer")
LZ=$(sha256_of "$TMP/aimg-private_z-v1.layer")
ahttp GET /v2/_catalog
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["private/z","proj/a","proj/b","public/p","team/x"]' "admin's catalog"

# What carol (pull proj/a, push proj/b) may do. $1: "basic" or "token".
carol_checks() {
    local mode=$1 deny=403 code=DENIED
    # proj/a: pull only
    ahttp GET /v2/proj/a/manifests/v1 -H "Accept: $OCI_M"
    expect_status 200 "$mode: carol pulls proj/a"
    ahttp HEAD "/v2/proj/a/manifests/$MA"
    expect_status 200 "$mode: carol HEADs a proj/a manifest"
    ahttp GET "/v2/proj/a/blobs/$LA"
    expect_status 200 "$mode: carol pulls a proj/a blob"
    ahttp GET /v2/proj/a/tags/list
    expect_status 200 "$mode: carol lists proj/a tags"
    ahttp POST /v2/proj/a/blobs/uploads/
    expect_error $deny $code
    ahttp PUT /v2/proj/a/manifests/v2 -H "Content-Type: $OCI_M" --data-binary @"$TMP/aimg-proj_a-v1.json"
    expect_error $deny $code
    ahttp DELETE "/v2/proj/a/manifests/$MA"
    expect_error $deny $code
    ahttp DELETE "/v2/proj/a/blobs/$LA"
    expect_error $deny $code
    # proj/b: push only
    random_file "$TMP/carol-$mode.layer" 300
    local d
    d=$(apush_blob proj/b "$TMP/carol-$mode.layer")
    expect_eq "$d" "$(sha256_of "$TMP/carol-$mode.layer")" "$mode: carol pushes a blob to proj/b (monolithic)"
    # chunked: POST, PATCH, upload status, PUT
    random_file "$TMP/carol-$mode.chunk" 200
    ahttp POST /v2/proj/b/blobs/uploads/
    expect_status 202 "$mode: carol starts an upload in proj/b"
    local loc
    loc=$(location)
    ahttp PATCH "$loc" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/carol-$mode.chunk"
    expect_status 202 "$mode: carol PATCHes her upload"
    loc=$(location)
    ahttp GET "$loc"
    expect_status 204 "$mode: carol reads her upload's status"
    case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
    ahttp PUT "${loc}digest=$(sha256_of "$TMP/carol-$mode.chunk")"
    expect_status 201 "$mode: carol completes her upload"
    jq -c --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar "$TMP/carol-$mode.layer")" \
        '.layers = [$l]' "$TMP/aimg-proj_b-v1.json" | tr -d '\n' >"$TMP/carol-$mode.json"
    ahttp PUT "/v2/proj/b/manifests/carol-$mode" -H "Content-Type: $OCI_M" --data-binary @"$TMP/carol-$mode.json"
    expect_status 201 "$mode: carol PUTs a manifest in proj/b"
    ahttp GET /v2/proj/b/manifests/v1
    expect_error $deny $code
    ahttp GET "/v2/proj/b/manifests/carol-$mode"
    expect_error $deny $code
    ahttp HEAD /v2/proj/b/manifests/v1
    expect_status $deny "$mode: carol HEADs a proj/b manifest"
    ahttp GET "/v2/proj/b/blobs/$LB"
    expect_error $deny $code
    ahttp HEAD "/v2/proj/b/blobs/$LB"
    expect_status 200 "$mode: push-only carol may HEAD a proj/b blob"
    expect_eq "$(header Docker-Content-Digest)" "$LB" "$mode: HEAD blob digest"
    ahttp HEAD "/v2/proj/b/blobs/sha256:$(printf '%064d' 7)"
    expect_status 404 "$mode: HEAD of a missing proj/b blob"
    ahttp GET /v2/proj/b/tags/list
    expect_error $deny $code
    ahttp GET "/v2/proj/b/referrers/$MB"
    expect_error $deny $code
    ahttp DELETE "/v2/proj/b/manifests/$MB"
    expect_error $deny $code
    ahttp DELETE "/v2/proj/b/blobs/$LB"
    expect_error $deny $code
    # elsewhere: nothing
    ahttp GET /v2/team/x/manifests/v1
    expect_error $deny $code
    ahttp HEAD "/v2/private/z/blobs/$LZ"
    expect_status $deny "$mode: carol HEADs a private/z blob"
    ahttp POST /v2/private/z/blobs/uploads/
    expect_error $deny $code
    # cross-repository mount: needs pull on `from`
    ahttp POST "/v2/proj/b/blobs/uploads/?mount=$LZ&from=private/z"
    expect_status 202 "$mode: mount from private/z (no pull) falls back to an upload"
    check; [ -n "$(location)" ] || fail "$mode: the fallback upload has a Location"
    [ -z "$(location)" ] || { ahttp DELETE "$(location)"; }
    ahttp HEAD "/v2/proj/b/blobs/$LZ"
    expect_status 404 "$mode: the private/z blob was not mounted into proj/b"
    ahttp POST "/v2/proj/b/blobs/uploads/?mount=$LA&from=proj/a"
    expect_status 201 "$mode: mount from proj/a (pull allowed) is done"
    expect_eq "$(header Docker-Content-Digest)" "$LA" "$mode: mounted digest"
    ahttp HEAD "/v2/proj/b/blobs/$LA"
    expect_status 200 "$mode: the proj/a blob is now in proj/b"
    ahttp POST "/v2/proj/a/blobs/uploads/?mount=$LB&from=proj/b"
    expect_error $deny $code
}

# ---- Basic credentials -----------------------------------------------------
as carol
carol_checks basic
ahttp GET /v2/_catalog
expect_status 200 "carol's catalog"
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["proj/a","public/p"]' "carol's catalog: what she may pull"
# Pages hold n repositories the caller may see (not n rows before filtering).
ahttp GET "/v2/_catalog?n=1"
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["proj/a"]' "carol's catalog with n=1: first page"
expect_match "$(header Link)" '^</v2/_catalog\?n=1&last=proj/a>; rel="next"$' "carol's catalog with n=1: Link to the next page"
ahttp GET "/v2/_catalog?n=1&last=proj/a"
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["public/p"]' "carol's catalog with n=1: second page"

# dave (group readers: pull team/*)
as dave
ahttp GET /v2/team/x/manifests/v1
expect_status 200 "dave (group readers) pulls team/x"
ahttp POST /v2/team/x/blobs/uploads/
expect_error 403 DENIED
ahttp GET /v2/proj/a/manifests/v1
expect_error 403 DENIED
ahttp GET /v2/_catalog
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["public/p","team/x"]' "dave's catalog"

# eve (only the "*" catalog rule and what anonymous may do)
as eve
ahttp GET /v2/
expect_status 200 "eve authenticates"
ahttp GET /v2/public/p/manifests/v1
expect_status 200 "eve pulls public/p (anonymous rule)"
ahttp GET /v2/team/x/manifests/v1
expect_error 403 DENIED
ahttp GET /v2/_catalog
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["public/p"]' "eve's catalog"
ahttp POST /v2/public/p/blobs/uploads/
expect_error 403 DENIED

# anonymous
AUTH=()
ahttp GET /v2/
expect_error 401 UNAUTHORIZED
ahttp GET /v2/public/p/manifests/v1 -H "Accept: $OCI_M"
expect_status 200 "anonymous pulls public/p"
ahttp GET "/v2/public/p/blobs/$(sha256_of "$TMP/aimg-public_p-v1.layer")"
expect_status 200 "anonymous pulls a public/p blob"
ahttp GET /v2/public/p/tags/list
expect_status 200 "anonymous lists public/p tags"
ahttp POST /v2/public/p/blobs/uploads/
expect_error 401 UNAUTHORIZED
expect_eq "$(header WWW-Authenticate)" 'Basic realm="rules"' "anonymous push: challenge"
ahttp DELETE "/v2/public/p/manifests/v1"
expect_error 401 UNAUTHORIZED
for p in /v2/proj/a/manifests/v1 "/v2/proj/a/blobs/$LA" /v2/team/x/tags/list /v2/_catalog; do
    ahttp GET "$p"
    expect_error 401 UNAUTHORIZED
done
AUTH=(-u carol:wrong)
ahttp GET /v2/public/p/manifests/v1
expect_error 401 UNAUTHORIZED

# admin may delete; carol's pushes are there.
as admin
ahttp GET /v2/proj/b/manifests/carol-basic -H "Accept: $OCI_M"
expect_status 200 "carol's manifest in proj/b, read by admin"
ahttp GET "/v2/proj/b/blobs/$(sha256_of "$TMP/carol-basic.chunk")"
expect_status 200 "carol's chunked blob in proj/b, read by admin"
ahttp DELETE "/v2/proj/a/manifests/$MA"
expect_status 202 "admin deletes a proj/a manifest"
as admin
apush_manifest proj/a v1 "$TMP/aimg-proj_a-v1.json" >/dev/null
auth_down

# ---- the same rules through tokens -----------------------------------------
auth_port
cat >"$TMP/token.json" <<EOF
{"auth": {"htpasswd": "$HT", $RULES, "ratelimit": {"attempts": 1000},
  "token": {"realm": "http://$REG/auth/token", "service": "$SERVICE", "path": "/auth/token",
            "key": "$TMP/signing.pem"}}}
EOF
auth_up --config "$TMP/token.json"
TP=/auth/token
tok() { # tok USER SCOPE...: a token for USER
    AUTH=(-H "Authorization: Bearer $(SERVICE=$SERVICE token_get "$1:pw-$1-1" "${@:2}")")
}
tok carol repository:proj/a:pull,push,delete repository:proj/b:pull,push,delete
check; [ "${AUTH[1]}" != "Authorization: Bearer " ] || fail "carol got no token"
C=$(jwt_claims "${AUTH[1]#Authorization: Bearer }")
expect_eq "$(jq -c .access <<<"$C")" \
    '[{"type":"repository","name":"proj/a","actions":["pull"]},{"type":"repository","name":"proj/b","actions":["push"]}]' \
    "carol's token: pull proj/a, push proj/b"
# A token asking for everything everywhere gets carol's rules and no more.
carol_checks_token() {
    tok carol repository:proj/a:pull,push,delete repository:proj/b:pull,push,delete \
        repository:team/x:pull repository:private/z:pull
    carol_checks token
}
carol_checks_token
tok carol registry:catalog:*
ahttp GET /v2/_catalog
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["proj/a","public/p"]' "token: carol's catalog"
tok dave registry:catalog:* repository:team/x:pull,push
expect_eq "$(jwt_claims "${AUTH[1]#Authorization: Bearer }" | jq -c .access)" \
    '[{"type":"registry","name":"catalog","actions":["*"]},{"type":"repository","name":"team/x","actions":["pull"]}]' \
    "dave's token"
ahttp GET /v2/_catalog
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["public/p","team/x"]' "token: dave's catalog"
ahttp GET /v2/team/x/manifests/v1
expect_status 200 "token: dave pulls team/x"
ahttp POST /v2/team/x/blobs/uploads/
expect_error 403 DENIED
tok admin repository:proj/a:pull repository:proj/b:push
ahttp POST "/v2/proj/b/blobs/uploads/?mount=$LZ&from=private/z"
expect_status 202 "token: admin without a pull scope on private/z: mount falls back"
[ -z "$(location)" ] || ahttp DELETE "$(location)"
tok admin repository:proj/b:pull,push repository:private/z:pull
ahttp POST "/v2/proj/b/blobs/uploads/?mount=$LZ&from=private/z"
expect_status 201 "token: admin with pull on private/z mounts"
AUTH=()
ahttp GET /v2/public/p/manifests/v1
expect_status 200 "token mode: anonymous pull of public/p"
ahttp GET /v2/proj/a/manifests/v1
expect_error 401 UNAUTHORIZED
expect_eq "$(header WWW-Authenticate)" "Bearer realm=\"http://$REG/auth/token\",service=\"$SERVICE\",scope=\"repository:proj/a:pull\"" "token-mode challenge"
auth_down

# ---- rules berthd refuses ----------------------------------------------------
bad_rules() { # bad_rules WHAT JSON-FRAGMENT PATTERN
    printf '{"auth": {"htpasswd": "%s", %s}}\n' "$HT" "$2" >"$TMP/bad.json"
    auth_refuses "$1" --config "$TMP/bad.json"
    expect_match "$REFUSAL" "$3" "$1: the message"
}
bad_rules "an unknown action" '"access": [{"account": "a", "repository": "*", "actions": ["pull", "write"]}]' 'access\[0\]'
bad_rules "no repository" '"access": [{"account": "a", "actions": ["pull"]}]' 'access\[0\]'
bad_rules "both account and group" '"access": [{"account": "a", "repository": "*", "actions": ["pull"]}, {"account": "a", "group": "g", "repository": "*", "actions": ["pull"]}]' 'access\[1\]'
bad_rules "neither account nor group" '"access": [{"repository": "*", "actions": ["pull"]}]' 'access\[0\]'
bad_rules "actions not a list" '"access": [{"account": "a", "repository": "*", "actions": "pull"}]' 'access\[0\]'
bad_rules "access not a list" '"access": {"account": "a"}' 'auth.access'
bad_rules "groups not an object" '"groups": ["a"]' 'auth.groups'
finish
