#!/bin/bash
# t0100-base: the version check (GET /v2/), /healthz, unknown paths, and the
# Docker-Distribution-API-Version header on every kind of response.
. "$(dirname "$0")/../lib.sh"
berthd_start

http GET /v2/
expect_status 200 "GET /v2/"
expect_eq "$(jq -c . "$BODY_FILE" 2>/dev/null)" "{}" "GET /v2/ body"
expect_match "$(header Content-Type)" '^application/json' "GET /v2/ Content-Type"
expect_eq "$(header Docker-Distribution-API-Version)" registry/2.0 "GET /v2/ API version header"

http HEAD /v2/
expect_status 200 "HEAD /v2/"
expect_eq "$(header Docker-Distribution-API-Version)" registry/2.0 "HEAD /v2/ API version header"

http GET /healthz
expect_status 200 "GET /healthz"

# Unknown paths: 404, still with the header and the spec's error body.
for p in /nope /v2/nope /v2/repo/nope /v2/repo/blobs /v2/repo/tags/other \
         /v3/ /v2/_catalog/x; do
    http GET "$p"
    expect_status 404 "GET $p"
    expect_eq "$(header Docker-Distribution-API-Version)" registry/2.0 "API version header on GET $p"
    expect_ne "$(error_code)" "" "error body {\"errors\":[{\"code\":..}]} on GET $p"
done

# A known path with a method it does not have: 404 or 405, never 2xx.
http DELETE /v2/
expect_match "$STATUS" '^40[45]$' "DELETE /v2/ status"
expect_eq "$(header Docker-Distribution-API-Version)" registry/2.0 "API version header on DELETE /v2/"
http POST /v2/repo/tags/list
expect_match "$STATUS" '^40[45]$' "POST tags/list status"

# The header on each kind of response: 200, 201, 202, 204, 206, 400, 404, 416.
printf 'hello, berth' >"$TMP/blob"
d=$(sha256_of "$TMP/blob")
declare -a reqs=(
    "POST /v2/base/blobs/uploads/ 202"
    "POST /v2/base/blobs/uploads/?digest=$d 201 --data-binary @$TMP/blob -H Content-Type:application/octet-stream"
    "GET /v2/base/blobs/$d 200"
    "HEAD /v2/base/blobs/$d 200"
    "GET /v2/base/blobs/$d 206 -H Range:bytes=0-3"
    "GET /v2/base/blobs/$d 416 -H Range:bytes=100-200"
    "GET /v2/base/blobs/sha256:1234 400"
    "GET /v2/base/blobs/sha256:$(printf '%064d' 0) 404"
    "GET /v2/BAD/tags/list 400"
    "GET /v2/nonexistent/tags/list 404"
    "GET /v2/base/manifests/latest 404"
)
for r in "${reqs[@]}"; do
    set -- $r
    m=$1 p=$2 want=$3; shift 3
    http "$m" "$p" "$@"
    expect_status "$want" "$m $p"
    expect_eq "$(header Docker-Distribution-API-Version)" registry/2.0 "API version header on $m $p ($STATUS)"
    # (a 416 on a blob GET is plain HTTP: the spec has no error code for it)
    if [ "$m" != HEAD ] && [ "$want" -ge 400 ] && [ "$want" != 416 ]; then
        expect_match "$(header Content-Type)" '^application/json' "Content-Type of error on $m $p"
        expect_ne "$(error_code)" "" "error code in body of $m $p"
        expect_eq "$(jq -r '.errors[0].message | type' "$BODY_FILE" 2>/dev/null)" string \
            "errors[0].message of $m $p"
    fi
done

# 204: upload status and cancel.
http POST /v2/base/blobs/uploads/
loc=$(location)
http GET "$loc"
expect_status 204 "GET upload status"
expect_eq "$(header Docker-Distribution-API-Version)" registry/2.0 "API version header on 204"

# A request on a connection reused after an error still works (keep-alive).
out=$(curl -sS -o /dev/null -w '%{http_code} ' "http://$REG/v2/base/blobs/sha256:00" \
      -o /dev/null "http://$REG/v2/" 2>/dev/null)
expect_eq "$out" "400 200 " "error then success on one connection"

finish
