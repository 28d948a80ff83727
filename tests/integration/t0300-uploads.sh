#!/bin/bash
# t0300-uploads: blob upload sessions: monolithic, POST+PUT, streamed and
# chunked PATCH, status, cancel, digest checks, bad ids, cross-repo mounts.
. "$(dirname "$0")/../lib.sh"
berthd_start

OCTET=(-H 'Content-Type: application/octet-stream')
ID_RE='[0-9a-f]{32}'

# start_upload REPO: POST; sets LOC (a path) and ID.
start_upload() {
    http POST "/v2/$1/blobs/uploads/" -H 'Content-Length: 0'
    LOC=$(location)
    ID=${LOC##*/}; ID=${ID%%\?*}
}
# blob_is REPO DIGEST FILE: the repository serves FILE under DIGEST.
blob_is() {
    http GET "/v2/$1/blobs/$2"
    expect_status 200 "GET $1 blob $2"
    expect_eq "$(sha256_of "$BODY_FILE")" "$(sha256_of "$3")" "content of $1 blob"
}
q() { # q URL: the separator to append a query parameter to URL
    case $1 in *\?*) echo "&" ;; *) echo "?" ;; esac
}

random_file "$TMP/b" 2500
d=$(sha256_of "$TMP/b")
head -c 1000 "$TMP/b" >"$TMP/c1"
tail -c +1001 "$TMP/b" | head -c 1000 >"$TMP/c2"
tail -c +2001 "$TMP/b" >"$TMP/c3"

# POST: a new session.
start_upload up/a
expect_status 202 "POST uploads/"
expect_match "$LOC" "^/v2/up/a/blobs/uploads/$ID_RE\$" "upload Location"
expect_eq "$(header Docker-Upload-UUID)" "$ID" "Docker-Upload-UUID"
expect_eq "$(header Range)" "0-0" "Range of a fresh upload"
expect_eq "$(header Content-Length)" 0 "Content-Length of the POST response"
expect_eq "$(find "$ROOT/uploads" -maxdepth 1 -name "$ID" | wc -l)" 1 "the session lives in <root>/uploads/<id>"
first=$ID
start_upload up/a
expect_ne "$ID" "$first" "each POST makes a new upload id"

# Monolithic POST ?digest=.
http POST "/v2/up/a/blobs/uploads/?digest=$d" --data-binary @"$TMP/b" "${OCTET[@]}"
expect_status 201 "monolithic POST"
expect_eq "$(location)" "/v2/up/a/blobs/$d" "Location of the monolithic POST"
expect_eq "$(header Docker-Content-Digest)" "$d" "Docker-Content-Digest of the monolithic POST"
blob_is up/a "$d" "$TMP/b"
http POST "/v2/up/a/blobs/uploads/?digest=sha256:$(printf '%064d' 7)" --data-binary @"$TMP/b" "${OCTET[@]}"
expect_error 400 DIGEST_INVALID
http POST "/v2/up/a/blobs/uploads/?digest=sha256:xyz" --data-binary @"$TMP/b" "${OCTET[@]}"
expect_error 400 DIGEST_INVALID

# POST then PUT with the whole body.
start_upload up/b
http PUT "$LOC$(q "$LOC")digest=$d" --data-binary @"$TMP/b" "${OCTET[@]}"
expect_status 201 "PUT with the whole blob"
expect_eq "$(location)" "/v2/up/b/blobs/$d" "Location of the PUT"
expect_eq "$(header Docker-Content-Digest)" "$d" "Docker-Content-Digest of the PUT"
blob_is up/b "$d" "$TMP/b"
http GET "$LOC"
expect_error 404 BLOB_UPLOAD_UNKNOWN
expect_eq "$(find "$ROOT/uploads" -maxdepth 1 -name "$ID" | wc -l)" 0 "a finished upload leaves nothing in <root>/uploads"

# Streamed PATCH (no Content-Range), twice, then PUT with no body.
start_upload up/c
http PATCH "$LOC" --data-binary @"$TMP/c1" "${OCTET[@]}"
expect_status 202 "streamed PATCH"
expect_eq "$(header Range)" "0-999" "Range after a streamed PATCH"
expect_match "$(location)" "^/v2/up/c/blobs/uploads/$ID" "Location after a streamed PATCH"
expect_eq "$(header Docker-Upload-UUID)" "$ID" "Docker-Upload-UUID after PATCH"
LOC=$(location)
cat "$TMP/c2" "$TMP/c3" >"$TMP/c23"
http PATCH "$LOC" --data-binary @"$TMP/c23" "${OCTET[@]}"
expect_status 202 "second streamed PATCH"
expect_eq "$(header Range)" "0-2499" "Range after the second streamed PATCH"
LOC=$(location)
http PUT "$LOC$(q "$LOC")digest=$d"
expect_status 201 "PUT with no body"
expect_eq "$(header Docker-Content-Digest)" "$d" "Docker-Content-Digest after streamed upload"
blob_is up/c "$d" "$TMP/b"

# Chunked PATCH with Content-Range; out-of-order chunks; status; last chunk in PUT.
start_upload up/d
http PATCH "$LOC" --data-binary @"$TMP/c2" -H 'Content-Range: 1000-1999' "${OCTET[@]}"
expect_status 416 "first chunk not starting at 0"
http PATCH "$LOC" --data-binary @"$TMP/c1" -H 'Content-Range: 0-999' "${OCTET[@]}"
expect_status 202 "chunk 0-999"
expect_eq "$(header Range)" "0-999" "Range after chunk 0-999"
LOC=$(location)
http PATCH "$LOC" --data-binary @"$TMP/c3" -H 'Content-Range: 2000-2499' "${OCTET[@]}"
expect_status 416 "out-of-order chunk 2000-2499"
http PATCH "$LOC" --data-binary @"$TMP/c1" -H 'Content-Range: 0-999' "${OCTET[@]}"
expect_status 416 "chunk 0-999 sent again"
http GET "$LOC"
expect_status 204 "upload status"
expect_eq "$(header Range)" "0-999" "status Range unchanged by refused chunks"
expect_match "$(location)" "^/v2/up/d/blobs/uploads/$ID" "status Location"
expect_eq "$(header Docker-Upload-UUID)" "$ID" "status Docker-Upload-UUID"
http PATCH "$LOC" --data-binary @"$TMP/c2" -H 'Content-Range: 1000-1999' "${OCTET[@]}"
expect_status 202 "chunk 1000-1999"
expect_eq "$(header Range)" "0-1999" "Range after chunk 1000-1999"
LOC=$(location)
http GET "$LOC"
expect_status 204 "upload status after two chunks"
expect_eq "$(header Range)" "0-1999" "status Range after two chunks"
http PATCH "$LOC" --data-binary @"$TMP/c3" -H 'Content-Range: bogus' "${OCTET[@]}"
expect_match "$STATUS" '^(400|416)$' "malformed Content-Range refused"
http PUT "$LOC$(q "$LOC")digest=$d" --data-binary @"$TMP/c3" -H 'Content-Range: 2001-2500' "${OCTET[@]}"
expect_status 416 "PUT with an out-of-order last chunk"
http PUT "$LOC$(q "$LOC")digest=$d" --data-binary @"$TMP/c3" -H 'Content-Range: 2000-2499' "${OCTET[@]}"
expect_status 201 "PUT with the last chunk"
expect_eq "$(location)" "/v2/up/d/blobs/$d" "Location after the chunked upload"
blob_is up/d "$d" "$TMP/b"

# A Content-Range that disagrees with the body length is refused, nothing is appended.
start_upload up/span
http PATCH "$LOC" --data-binary @"$TMP/c1" -H 'Content-Range: 0-499' "${OCTET[@]}"
expect_match "$STATUS" '^(400|416)$' "Content-Range 0-499 with a 1000-byte body"
http PATCH "$LOC" --data-binary @"$TMP/c1" -H 'Content-Range: 0-1999' "${OCTET[@]}"
expect_match "$STATUS" '^(400|416)$' "Content-Range 0-1999 with a 1000-byte body"
http GET "$LOC"
expect_eq "$(header Range)" "0-0" "nothing appended by refused chunks"

# A larger chunked upload (1 MiB chunks, curl sends Expect: 100-continue).
random_file "$TMP/big" $((3 * 1024 * 1024 + 17))
dbig=$(sha256_of "$TMP/big")
start_upload up/big
off=0
for i in 0 1 2; do
    dd if="$TMP/big" of="$TMP/chunk" bs=1M skip=$i count=1 status=none
    http PATCH "$LOC" --data-binary @"$TMP/chunk" -H "Content-Range: $off-$((off + 1048575))" "${OCTET[@]}"
    expect_status 202 "1 MiB chunk $i"
    off=$((off + 1048576))
    LOC=$(location)
done
expect_eq "$(header Range)" "0-$((off - 1))" "Range after 3 MiB"
tail -c 17 "$TMP/big" >"$TMP/chunk"
http PUT "$LOC$(q "$LOC")digest=$dbig" --data-binary @"$TMP/chunk" "${OCTET[@]}"
expect_status 201 "PUT with a 17-byte last chunk (no Content-Range)"
blob_is up/big "$dbig" "$TMP/big"

# DELETE cancels.
start_upload up/e
http PATCH "$LOC" --data-binary @"$TMP/c1" "${OCTET[@]}"
LOC=$(location)
http DELETE "$LOC"
expect_status 204 "DELETE upload"
expect_eq "$(find "$ROOT/uploads" -maxdepth 1 -name "$ID" | wc -l)" 0 "a cancelled upload leaves nothing in <root>/uploads"
http GET "$LOC"
expect_error 404 BLOB_UPLOAD_UNKNOWN
http PATCH "$LOC" --data-binary @"$TMP/c2" "${OCTET[@]}"
expect_error 404 BLOB_UPLOAD_UNKNOWN
http PUT "$LOC$(q "$LOC")digest=$d" --data-binary @"$TMP/c2" "${OCTET[@]}"
expect_error 404 BLOB_UPLOAD_UNKNOWN
http DELETE "$LOC"
expect_error 404 BLOB_UPLOAD_UNKNOWN

# Wrong digest on PUT: 400 DIGEST_INVALID, nothing stored.
random_file "$TMP/w" 1234
dw=$(sha256_of "$TMP/w")
start_upload up/f
http PUT "$LOC$(q "$LOC")digest=$d" --data-binary @"$TMP/w" "${OCTET[@]}"
expect_error 400 DIGEST_INVALID
http HEAD "/v2/up/f/blobs/$dw"
expect_status 404 "the uploaded bytes are not stored under their real digest"
http HEAD "/v2/up/f/blobs/$d"
expect_status 404 "nor under the claimed digest"
expect_eq "$(find "$ROOT/blobs" -name "${dw#sha256:}" | wc -l)" 0 "no blob file for refused content"
start_upload up/f
http PUT "$LOC" --data-binary @"$TMP/w" "${OCTET[@]}"
expect_error 400 DIGEST_INVALID
start_upload up/f
http PUT "$LOC$(q "$LOC")digest=md5:d41d8cd98f00b204e9800998ecf8427e" --data-binary @"$TMP/w" "${OCTET[@]}"
expect_error 400 DIGEST_INVALID
expect_eq "$(find "$ROOT/blobs" -name "${dw#sha256:}" | wc -l)" 0 "still no blob file for refused content"

# Unknown and malformed upload ids.
unknown=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
for m in GET PATCH PUT DELETE; do
    http "$m" "/v2/up/a/blobs/uploads/$unknown?digest=$d"
    expect_error 404 BLOB_UPLOAD_UNKNOWN
done
for bad in xyz "${unknown^^}" "${unknown:0:31}" "${unknown}0" .. %2e%2e "${unknown:0:31}g"; do
    http GET "/v2/up/a/blobs/uploads/$bad"
    expect_error 404 BLOB_UPLOAD_UNKNOWN
    http PATCH "/v2/up/a/blobs/uploads/$bad" --data-binary @"$TMP/c1" "${OCTET[@]}"
    expect_error 404 BLOB_UPLOAD_UNKNOWN
done

# An upload id belongs to the repository that started it.
start_upload up/g
http PATCH "$LOC" --data-binary @"$TMP/c1" "${OCTET[@]}"
gloc=$(location)
for m in GET PATCH PUT DELETE; do
    data=(); case $m in PATCH | PUT) data=(--data-binary @"$TMP/c2" "${OCTET[@]}") ;; esac
    http "$m" "/v2/up/other/blobs/uploads/$ID?digest=$d" "${data[@]}"
    expect_error 404 BLOB_UPLOAD_UNKNOWN
done
http GET "$gloc"
expect_status 204 "the upload still exists in its own repository"
expect_eq "$(header Range)" "0-999" "and is unchanged by requests through another repository"
http PUT "$gloc$(q "$gloc")digest=$(sha256_of "$TMP/c1")"
expect_status 201 "and completes"

# Cross-repository mount.
http POST "/v2/up/mnt/blobs/uploads/?mount=$d&from=up/a"
expect_status 201 "mount from a repository that has the blob"
expect_eq "$(location)" "/v2/up/mnt/blobs/$d" "Location of the mounted blob"
expect_eq "$(header Docker-Content-Digest)" "$d" "Docker-Content-Digest of the mount"
blob_is up/mnt "$d" "$TMP/b"
# The blob exists in the registry but not in `from`: an ordinary upload, no leak.
http POST "/v2/up/mnt2/blobs/uploads/?mount=$d&from=up/f"
expect_status 202 "mount from a repository that lacks the blob"
mloc=$(location)
expect_match "$mloc" "^/v2/up/mnt2/blobs/uploads/$ID_RE" "it starts an upload session"
http HEAD "/v2/up/mnt2/blobs/$d"
expect_status 404 "nothing was mounted"
http PUT "$mloc$(q "$mloc")digest=$d" --data-binary @"$TMP/b" "${OCTET[@]}"
expect_status 201 "the session it started completes"
http POST "/v2/up/mnt3/blobs/uploads/?mount=sha256:$(printf '%064d' 3)&from=up/a"
expect_status 202 "mount of an unknown digest"
http POST "/v2/up/mnt4/blobs/uploads/?mount=$d&from=up/never"
expect_status 202 "mount from a repository that does not exist"
http HEAD "/v2/up/mnt4/blobs/$d"
expect_status 404 "nothing was mounted from a missing repository"

# Pushing a blob that is already stored: 201 again, same content.
http POST "/v2/up/a/blobs/uploads/?digest=$d" --data-binary @"$TMP/b" "${OCTET[@]}"
expect_status 201 "monolithic push of a blob already stored"
start_upload up/a
http PUT "$LOC$(q "$LOC")digest=$d" --data-binary @"$TMP/b" "${OCTET[@]}"
expect_status 201 "POST+PUT of a blob already stored"
blob_is up/a "$d" "$TMP/b"

# Parallel pushes: the same blob to 8 repositories, 8 different blobs to one.
pids=()
for i in 1 2 3 4 5 6 7 8; do
    random_file "$TMP/p$i" 200000
    curl -sS -o /dev/null -w '%{http_code}\n' -X POST "${OCTET[@]}" --data-binary @"$TMP/big" \
        "http://$REG/v2/up/par$i/blobs/uploads/?digest=$dbig" >"$TMP/par$i.same" &
    pids+=($!)
    curl -sS -o /dev/null -w '%{http_code}\n' -X POST "${OCTET[@]}" --data-binary @"$TMP/p$i" \
        "http://$REG/v2/up/par/blobs/uploads/?digest=$(sha256_of "$TMP/p$i")" >"$TMP/par$i.diff" &
    pids+=($!)
done
wait "${pids[@]}"
expect_eq "$(cat "$TMP"/par*.same | sort | uniq -c | tr -s ' ')" " 8 201" "8 parallel pushes of the same blob"
expect_eq "$(cat "$TMP"/par*.diff | sort | uniq -c | tr -s ' ')" " 8 201" "8 parallel pushes of different blobs"
for i in 1 8; do
    blob_is up/par$i "$dbig" "$TMP/big"
    blob_is up/par "$(sha256_of "$TMP/p$i")" "$TMP/p$i"
done
expect_eq "$(find "$ROOT/blobs" -name "${dbig#sha256:}" | wc -l)" 1 "the blob pushed in parallel is stored once"

# A zero-length blob.
: >"$TMP/empty"
de=$(sha256_of "$TMP/empty")
expect_eq "$de" sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "empty digest"
http POST "/v2/up/z/blobs/uploads/?digest=$de" --data-binary @"$TMP/empty" "${OCTET[@]}"
expect_status 201 "monolithic push of an empty blob"
http HEAD "/v2/up/z/blobs/$de"
expect_status 200 "HEAD empty blob"
expect_eq "$(header Content-Length)" 0 "Content-Length of the empty blob"
expect_eq "$(header Docker-Content-Digest)" "$de" "Docker-Content-Digest of the empty blob"
http GET "/v2/up/z/blobs/$de"
expect_status 200 "GET empty blob"
expect_eq "$(size_of "$BODY_FILE")" 0 "empty body"
start_upload up/z2
http PUT "$LOC$(q "$LOC")digest=$de"
expect_status 201 "POST then PUT of an empty blob"
http HEAD "/v2/up/z2/blobs/$de"
expect_status 200 "HEAD empty blob in the second repository"

finish
