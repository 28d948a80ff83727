#!/bin/bash
# t0700-names: repository names with several components work; invalid names
# are refused with 400 NAME_INVALID on every kind of route, and nothing is
# ever written outside the root.
. "$(dirname "$0")/../lib.sh"
mkdir -p "$TMP/box"
ROOT=$TMP/box/root
berthd_start
touch "$TMP/marker"
OCI_M=application/vnd.oci.image.manifest.v1+json

random_file "$TMP/b" 300
d=$(sha256_of "$TMP/b")
long255=$(printf 'a%.0s' $(seq 255))
long_multi=$(printf 'abcdefghi/%.0s' $(seq 25))abcd   # 254 characters, 26 components

# Valid names, all route kinds.
for n in a/b/c a/b/c/d/e/f/g x0 a/blobs blobs/uploads/x x/manifests tags/list r/referrers v2 a.b a_b a__b a-b a---b 9/8/7 lib.example-x_y/sub "$long255" "$long_multi"; do
    http POST "/v2/$n/blobs/uploads/?digest=$d" --data-binary @"$TMP/b" -H 'Content-Type: application/octet-stream'
    expect_status 201 "monolithic upload to valid name ${n:0:40}"
    http GET "/v2/$n/blobs/$d"
    expect_status 200 "GET blob in ${n:0:40}"
    mf=$(push_image "$n" v1)
    expect_ne "$mf" "" "push an image to ${n:0:40}"
    http GET "/v2/$n/manifests/v1"
    expect_status 200 "GET manifest in ${n:0:40}"
    http GET "/v2/$n/tags/list"
    expect_status 200 "tags/list of ${n:0:40}"
    expect_eq "$(jq -r .name "$BODY_FILE")" "$n" "tags/list name of ${n:0:40}"
    http GET "/v2/$n/referrers/$mf"
    expect_status 200 "referrers in ${n:0:40}"
done
expect_eq "${#long_multi}" 254 "test name length"
http GET "/v2/_catalog?n=1000"
expect_eq "$(jq -r '.repositories | index("a/b/c/d/e/f/g") != null' "$BODY_FILE")" true "a/b/c/d/e/f/g in the catalog"
http GET "/v2/a/b/c/blobs/$d"
expect_status 200 "a/b/c is its own repository"
http GET "/v2/a/b/blobs/$d"
expect_status 404 "a/b is not a/b/c"

# Invalid names: 400 NAME_INVALID on every route kind.
id=0123456789abcdef0123456789abcdef
routes() { # routes NAME: METHOD PATH lines for every kind of route
    cat <<EOF
GET /v2/$1/blobs/$d
HEAD /v2/$1/blobs/$d
DELETE /v2/$1/blobs/$d
POST /v2/$1/blobs/uploads/
POST /v2/$1/blobs/uploads/?digest=$d
POST /v2/$1/blobs/uploads/?mount=$d&from=a/b/c
GET /v2/$1/blobs/uploads/$id
PATCH /v2/$1/blobs/uploads/$id
PUT /v2/$1/blobs/uploads/$id?digest=$d
DELETE /v2/$1/blobs/uploads/$id
GET /v2/$1/manifests/v1
HEAD /v2/$1/manifests/v1
PUT /v2/$1/manifests/v1
DELETE /v2/$1/manifests/v1
GET /v2/$1/tags/list
GET /v2/$1/referrers/$d
EOF
}
for n in .. ../.. a/.. ../a a/../b . a/./b %2e%2e a/%2e%2e/b A Abc a/B "a%2fb" \
         a//b /a a/ -a a- _a a_ .a a. a___b a._b a-.b "a%20b" "$long255"a "$long_multi/abc" \
         "a/../../../../../../../tmp/escape$$" "..%2f..%2f..%2ftmp%2fescape$$"; do
    [ "$n" = a%2fb ] && continue   # decoded to a/b: a valid name; tested below
    while read -r m p; do
        body=()
        case $m in PUT | PATCH | POST) body=(--data-binary @"$TMP/b" -H 'Content-Type: application/octet-stream') ;; esac
        [ "$p" = "/v2/$n/manifests/v1" ] && [ "$m" = PUT ] &&
            body=(--data-binary @"$TMP/img-a_b_c-v1.json" -H "Content-Type: $OCI_M")
        http "$m" "$p" "${body[@]}"
        if [ "$m" = HEAD ]; then
            expect_status 400 "$m ${p:0:80}"
        else
            expect_eq "$STATUS $(error_code)" "400 NAME_INVALID" "$m ${p:0:80}"
        fi
    done < <(routes "$n")
done

# Encoded slashes are just slashes.
http GET "/v2/a%2Fb%2Fc/blobs/$d"
expect_status 200 "a%2Fb%2Fc is a/b/c"

# Nothing was written outside the root.
expect_eq "$(find "$TMP/box" -newer "$TMP/marker" ! -path "$ROOT" ! -path "$ROOT/*" | head -5)" "" \
    "files created beside the root"
expect_eq "$(find /tmp "$TMP" -maxdepth 4 -name "*escape$$*" 2>/dev/null | head -5)" "" \
    "files named after a traversal attempt"
expect_eq "$(find "$ROOT" -name '*..*' -o -name '*escape*' | head -5)" "" "suspicious names inside the root"

finish
