#!/bin/bash
# t0200-blobs: HEAD/GET/DELETE of blobs, Range requests, per-repository
# visibility, digest validation, sha512 blobs.
. "$(dirname "$0")/../lib.sh"
echo '{"storage": {"delete": true}}' >"$TMP/config.json"
berthd_start --config "$TMP/config.json"

random_file "$TMP/b" 10000
d=$(push_blob blobs/one "$TMP/b")
expect_ne "$d" "" "monolithic push of a blob"

# HEAD: headers, no body.
http HEAD "/v2/blobs/one/blobs/$d"
expect_status 200 "HEAD blob"
expect_eq "$(header Content-Length)" 10000 "HEAD Content-Length"
expect_eq "$(header Docker-Content-Digest)" "$d" "HEAD Docker-Content-Digest"
expect_eq "$(header Content-Type)" application/octet-stream "HEAD Content-Type"
n=$(curl -sS -I "http://$REG/v2/blobs/one/blobs/$d" -o /dev/null -w '%{size_download}')
expect_eq "$n" 0 "HEAD has no body"

# GET: the bytes.
http GET "/v2/blobs/one/blobs/$d"
expect_status 200 "GET blob"
expect_eq "$(header Content-Length)" 10000 "GET Content-Length"
expect_eq "$(header Docker-Content-Digest)" "$d" "GET Docker-Content-Digest"
expect_eq "$(header Content-Type)" application/octet-stream "GET Content-Type"
expect_eq "$(sha256_of "$BODY_FILE")" "$d" "GET body"

# Ranges.
range() { # range SPEC FIRST LAST: a 206 with exactly bytes FIRST..LAST
    http GET "/v2/blobs/one/blobs/$d" -H "Range: bytes=$1"
    expect_status 206 "Range bytes=$1"
    expect_eq "$(header Content-Range)" "bytes $2-$3/10000" "Content-Range for bytes=$1"
    expect_eq "$(header Content-Length)" "$(($3 - $2 + 1))" "Content-Length for bytes=$1"
    expect_eq "$(sha256sum <"$BODY_FILE")" "$(tail -c +$(($2 + 1)) "$TMP/b" | head -c $(($3 - $2 + 1)) | sha256sum)" \
        "body for bytes=$1"
}
range 0-0 0 0
range 100-199 100 199
range 9000- 9000 9999
range -500 9500 9999
range 9990-20000 9990 9999   # last beyond the end: clipped to the end
range 0-9999 0 9999

http GET "/v2/blobs/one/blobs/$d" -H "Range: bytes=10000-10005"
expect_status 416 "Range starting at the size"
expect_eq "$(header Content-Range)" "bytes */10000" "Content-Range on 416"
http GET "/v2/blobs/one/blobs/$d" -H "Range: bytes=20000-"
expect_status 416 "Range past the end"
http GET "/v2/blobs/one/blobs/$d" -H "Range: bytes=500-100"
expect_match "$STATUS" '^(200|416)$' "Range with last < first: whole blob or 416"
range 9999-18446744073709551615 9999 9999   # a last position that overflows 64 bits
http GET "/v2/blobs/one/blobs/$d" -H "Range: bytes=-0"
expect_status 416 "Range bytes=-0"
http GET "/v2/blobs/one/blobs/$d" -H "Range: bytes=18446744073709551616-"
expect_match "$STATUS" '^(200|416)$' "Range with a first position over 64 bits: whole blob or 416"
for h in "bytes=abc" "items=0-5" "bytes=0-1,5-6" "bytes=--5"; do
    http GET "/v2/blobs/one/blobs/$d" -H "Range: $h"
    expect_status 200 "malformed or multi-part Range '$h' is ignored"
    expect_eq "$(sha256_of "$BODY_FILE")" "$d" "whole body for Range '$h'"
done

# Unknown blobs.
zero=sha256:$(printf '%064d' 0)
http GET "/v2/blobs/one/blobs/$zero"
expect_error 404 BLOB_UNKNOWN
http HEAD "/v2/blobs/one/blobs/$zero"
expect_status 404 "HEAD unknown blob"

# A blob is visible only in repositories that pushed or mounted it.
random_file "$TMP/other" 100
push_blob blobs/two "$TMP/other" >/dev/null
http GET "/v2/blobs/two/blobs/$d"
expect_error 404 BLOB_UNKNOWN
http HEAD "/v2/blobs/two/blobs/$d"
expect_status 404 "HEAD of a blob pushed to another repository"
http GET "/v2/blobs/never/blobs/$d"
expect_status 404 "GET a blob from a repository that does not exist"
http GET "/v2/blobs/one/blobs/$(sha256_of "$TMP/other")"
expect_error 404 BLOB_UNKNOWN
# Pushing the same bytes to the second repository makes it visible there too.
push_blob blobs/two "$TMP/b" >/dev/null
http GET "/v2/blobs/two/blobs/$d"
expect_status 200 "GET after pushing the same blob to a second repository"
expect_eq "$(sha256_of "$BODY_FILE")" "$d" "body in the second repository"
expect_eq "$(find "$ROOT/blobs" -type f -name "${d#sha256:}" | wc -l)" 1 "the blob is stored once"
expect_eq "$(find "$ROOT/blobs/sha256/${d:7:2}" -name "${d#sha256:}" | wc -l)" 1 \
    "stored at <root>/blobs/sha256/<2 hex>/<hex>"

# DELETE: 202, then 404 in that repository only.
http DELETE "/v2/blobs/one/blobs/$d"
expect_status 202 "DELETE blob"
http GET "/v2/blobs/one/blobs/$d"
expect_error 404 BLOB_UNKNOWN
http HEAD "/v2/blobs/one/blobs/$d"
expect_status 404 "HEAD after DELETE"
http DELETE "/v2/blobs/one/blobs/$d"
expect_error 404 BLOB_UNKNOWN
http GET "/v2/blobs/two/blobs/$d"
expect_status 200 "the blob is still served by the other repository"

# Invalid digests: 400 DIGEST_INVALID on GET, HEAD and DELETE.
hex=$(sha256sum "$TMP/b" | cut -c1-64)
for bad in "sha256:${hex^^}" "sha256:${hex:0:63}" "sha256:${hex}0" "sha256:${hex:0:63}g" \
           "md5:d41d8cd98f00b204e9800998ecf8427e" "sha256" "sha256:" ":$hex" "$hex" \
           "sha512:${hex}" "SHA256:$hex" "sha256+b64u:$hex"; do
    http GET "/v2/blobs/one/blobs/$bad"
    expect_error 400 DIGEST_INVALID
    http HEAD "/v2/blobs/one/blobs/$bad"
    expect_status 400 "HEAD blobs/$bad"
    http DELETE "/v2/blobs/one/blobs/$bad"
    expect_error 400 DIGEST_INVALID
done

# sha512 blobs: pushed with a sha512 digest, pulled with it.
random_file "$TMP/b512" 3000
d512=$(sha512_of "$TMP/b512")
http POST "/v2/blobs/one/blobs/uploads/?digest=$d512" --data-binary @"$TMP/b512" \
    -H 'Content-Type: application/octet-stream'
expect_status 201 "monolithic sha512 push"
expect_eq "$(location)" "/v2/blobs/one/blobs/$d512" "Location of the sha512 blob"
http HEAD "/v2/blobs/one/blobs/$d512"
expect_status 200 "HEAD sha512 blob"
expect_eq "$(header Docker-Content-Digest)" "$d512" "Docker-Content-Digest of the sha512 blob"
expect_eq "$(header Content-Length)" 3000 "Content-Length of the sha512 blob"
http GET "/v2/blobs/one/blobs/$d512"
expect_status 200 "GET sha512 blob"
expect_eq "$(sha512_of "$BODY_FILE")" "$d512" "sha512 blob body"
http GET "/v2/blobs/one/blobs/$d512" -H 'Range: bytes=10-19'
expect_status 206 "Range on a sha512 blob"
expect_eq "$(header Content-Range)" "bytes 10-19/3000" "Content-Range on a sha512 blob"
http GET "/v2/blobs/one/blobs/sha512:${d512:7:127}"
expect_error 400 DIGEST_INVALID
http GET "/v2/blobs/one/blobs/sha512:${d512:7}" # same digest, still there after other requests
expect_status 200 "GET sha512 blob again"
# The wrong sha512 is refused and nothing is stored under it.
wrong512=sha512:$(printf '%0128d' 1)
http POST "/v2/blobs/one/blobs/uploads/?digest=$wrong512" --data-binary @"$TMP/b512" \
    -H 'Content-Type: application/octet-stream'
expect_error 400 DIGEST_INVALID
http HEAD "/v2/blobs/one/blobs/$wrong512"
expect_status 404 "HEAD of the wrong sha512 digest"

finish
