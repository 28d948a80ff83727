#!/bin/bash
# t0500-tags-catalog: tags/list and _catalog with n/last pagination, the
# Link header, clamping of n to limits.page_max.
. "$(dirname "$0")/../lib.sh"
echo '{"limits": {"page_max": 5}, "storage": {"delete": true}}' >"$TMP/config.json"
berthd_start --config "$TMP/config.json"
OCI_M=application/vnd.oci.image.manifest.v1+json

# next_link: the target of the Link rel="next" header of the last call, or "".
next_link() {
    local l; l=$(header Link)
    [ -n "$l" ] || return 0
    [[ $l =~ ^\<([^>]+)\>\;\ *rel=\"?next\"?$ ]] || { echo "MALFORMED:$l"; return 0; }
    echo "${BASH_REMATCH[1]}" | sed -E 's|^https?://[^/]*||'
}
# query_param URL NAME: a query parameter's value, percent-decoded.
query_param() {
    local v; v=$(sed -nE "s/.*[?&]$2=([^&]*).*/\\1/p" <<<"$1")
    printf '%b' "${v//%/\\x}"
}
# walk START KEY: follow Link headers from START; prints all KEY entries, one a line.
walk() {
    local url=$1 key=$2 i
    for i in $(seq 1 50); do
        http GET "$url"
        [ "$STATUS" = 200 ] || { echo "STATUS:$STATUS"; return; }
        jq -r ".${key}[]" "$BODY_FILE"
        url=$(next_link)
        [ -n "$url" ] || return 0
    done
}

# 12 tags on one repository (the same manifest), pushed out of order.
d=$(push_image tl/repo seed)
TAGS=(alpha beta delta epsilon eta gamma iota kappa lambda mu nu theta)
for t in theta mu alpha kappa eta beta nu iota gamma epsilon lambda delta; do
    push_manifest tl/repo $t "$TMP/img-tl_repo-seed.json" $OCI_M >/dev/null
done
http DELETE /v2/tl/repo/manifests/seed
ALL=$(printf '%s\n' "${TAGS[@]}")

http GET "/v2/tl/repo/tags/list?n=100"
expect_status 200 "tags/list"
expect_match "$(header Content-Type)" '^application/json' "tags/list Content-Type"
expect_eq "$(jq -r .name "$BODY_FILE")" tl/repo "tags/list name"
expect_eq "$(jq -r '.tags | length' "$BODY_FILE")" 5 "n above page_max is clamped to page_max"
expect_eq "$(jq -r '.tags | join(",")' "$BODY_FILE")" "alpha,beta,delta,epsilon,eta" "first page, in lexical order"
link=$(next_link)
expect_eq "${link%%\?*}" /v2/tl/repo/tags/list "Link path"
expect_eq "$(query_param "$link" last)" eta "Link last="
expect_eq "$(query_param "$link" n)" 5 "Link n="

http GET "/v2/tl/repo/tags/list?n=3"
expect_status 200 "tags/list?n=3"
expect_eq "$(jq -r '.tags | join(",")' "$BODY_FILE")" "alpha,beta,delta" "tags/list?n=3"
link=$(next_link)
expect_eq "${link%%\?*}" /v2/tl/repo/tags/list "Link path for n=3"
expect_eq "$(query_param "$link" last)" delta "Link last= for n=3"
expect_eq "$(query_param "$link" n)" 3 "Link n= for n=3"
http GET "/v2/tl/repo/tags/list?n=3&last=delta"
expect_eq "$(jq -r '.tags | join(",")' "$BODY_FILE")" "epsilon,eta,gamma" "tags/list?n=3&last=delta"
http GET "/v2/tl/repo/tags/list?n=4&last=kappa"
expect_eq "$(jq -r '.tags | join(",")' "$BODY_FILE")" "lambda,mu,nu,theta" "tags/list?n=4&last=kappa"
http GET "/v2/tl/repo/tags/list?n=4&last=nu"
expect_eq "$(jq -r '.tags | join(",")' "$BODY_FILE")" "theta" "last page"
expect_eq "$(header Link)" "" "no Link on the last page"
http GET "/v2/tl/repo/tags/list?n=3&last=gz"
expect_eq "$(jq -r '.tags | join(",")' "$BODY_FILE")" "iota,kappa,lambda" "last= a value that is not a tag"
http GET "/v2/tl/repo/tags/list?last=lambda"
expect_eq "$(jq -r '.tags | join(",")' "$BODY_FILE")" "mu,nu,theta" "last= without n"
http GET "/v2/tl/repo/tags/list?n=5&last=theta"
expect_status 200 "last= the last tag"
expect_eq "$(jq -c .tags "$BODY_FILE")" "[]" "nothing after the last tag"

http GET "/v2/tl/repo/tags/list?n=0"
expect_status 200 "tags/list?n=0"
expect_eq "$(jq -c .tags "$BODY_FILE")" "[]" "n=0 gives an empty list"
expect_eq "$(header Link)" "" "n=0 has no Link"

# Following Link headers yields every tag once, in order, whatever the start.
expect_eq "$(walk /v2/tl/repo/tags/list tags)" "$ALL" "all tags by following Link (no n)"
expect_eq "$(walk '/v2/tl/repo/tags/list?n=1000000' tags)" "$ALL" "all tags by following Link (n=1000000)"
expect_eq "$(walk '/v2/tl/repo/tags/list?n=2' tags)" "$ALL" "all tags by following Link (n=2)"
http GET "/v2/tl/repo/tags/list?n=99999999999999999999"
expect_match "$STATUS" '^(200|400)$' "a huge n is clamped or refused, never a crash"

# Unknown repository.
http GET /v2/tl/nosuch/tags/list
expect_error 404 NAME_UNKNOWN
http GET "/v2/tl/nosuch/tags/list?n=0"
expect_error 404 NAME_UNKNOWN

# A repository whose last tag was deleted still answers (empty list).
push_image tl/empty only >/dev/null
http DELETE /v2/tl/empty/manifests/only
http GET /v2/tl/empty/tags/list
expect_status 200 "tags/list of a repository with no tags left"
expect_eq "$(jq -c '.tags // []' "$BODY_FILE")" "[]" "no tags left"

# _catalog: tl/empty, tl/repo plus six more repositories.
for r in cat/a cat/b cat/c cat/d cat/e z9; do push_image $r v1 >/dev/null; done
REPOS=$(printf '%s\n' cat/a cat/b cat/c cat/d cat/e tl/empty tl/repo z9)
http GET /v2/_catalog
expect_status 200 "_catalog"
expect_match "$(header Content-Type)" '^application/json' "_catalog Content-Type"
expect_eq "$(jq -r '.repositories | length' "$BODY_FILE")" 5 "_catalog page clamped to page_max"
expect_eq "$(jq -r '.repositories | join(",")' "$BODY_FILE")" "cat/a,cat/b,cat/c,cat/d,cat/e" "_catalog first page"
link=$(next_link)
expect_eq "${link%%\?*}" /v2/_catalog "_catalog Link path"
expect_eq "$(query_param "$link" last)" cat/e "_catalog Link last="
http GET "/v2/_catalog?n=2"
expect_eq "$(jq -r '.repositories | join(",")' "$BODY_FILE")" "cat/a,cat/b" "_catalog?n=2"
link=$(next_link)
expect_eq "$(query_param "$link" n)" 2 "_catalog Link n="
http GET "/v2/_catalog?n=2&last=cat/d"
expect_eq "$(jq -r '.repositories | join(",")' "$BODY_FILE")" "cat/e,tl/empty" "_catalog?n=2&last=cat/d"
http GET "/v2/_catalog?n=3&last=tl/empty"
expect_eq "$(jq -r '.repositories | join(",")' "$BODY_FILE")" "tl/repo,z9" "_catalog last page"
expect_eq "$(header Link)" "" "no Link on the last _catalog page"
http GET "/v2/_catalog?n=0"
expect_status 200 "_catalog?n=0"
expect_eq "$(jq -c .repositories "$BODY_FILE")" "[]" "_catalog?n=0 is empty"
expect_eq "$(header Link)" "" "_catalog?n=0 has no Link"
http GET "/v2/_catalog?n=500"
expect_eq "$(jq -r '.repositories | length' "$BODY_FILE")" 5 "_catalog n above page_max clamped"
expect_eq "$(walk /v2/_catalog repositories)" "$REPOS" "all repositories by following Link"
expect_eq "$(walk '/v2/_catalog?n=3' repositories)" "$REPOS" "all repositories by following Link (n=3)"

finish
