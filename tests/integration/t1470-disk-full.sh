#!/bin/bash
# t1470-disk-full: berthd whose data directory is on a small tmpfs that runs
# out of space (the test mounts it under $TMP and unmounts it at exit).
# - A push that does not fit (monolithic POST, chunked PATCH, a last chunk
#   sent with the PUT) answers a spec error (not a hang, not a 201); the
#   blob is not visible (HEAD 404) nor on disk, the space the failed upload
#   took is free again at once, and a later small push succeeds without a
#   restart.
# - With the disk full to the last byte: a manifest PUT and a tag update fail
#   with a 5xx, the tag still names the old manifest; reads (manifests,
#   blobs, tags, catalog) keep working; /readyz answers 503.
# - Once space returns (the filler file is deleted): /readyz 200 again, the
#   tag update, the manifest PUT and pushes all succeed, without a restart.
# - berthd restarted on a full disk starts, serves reads from a metadata
#   database sqlite cannot open for writing (read-only, and /readyz 503),
#   fails writes with a 5xx, and takes writes again once space returns.
. "$(dirname "$0")/../lib.sh"

MNT=$TMP/mnt
small_disk "$MNT" 12m
ROOT=$MNT/root
berthd_start

# fill_all: nothing left, to the last page.
fill_all() {
    disk_fill 65536
    head -c 1048576 /dev/zero >>"$MNT/filler" 2>/dev/null
    check; [ "$(disk_avail)" -eq 0 ] || fail "the tmpfs is not full: $(disk_avail) bytes free"
}
uploads_on_disk() { find "$ROOT/uploads" -type f ! -name '.readyz-*' | wc -l; }
# is_spec_error WHAT: the last answer is a 4xx/5xx with the spec's JSON error.
is_spec_error() {
    expect_match "$STATUS" '^(4[0-9][0-9]|5[0-9][0-9])$' "$1: status ($(head -c 300 "$BODY_FILE"))"
    expect_match "$(error_code)" '^[A-Z_]+$' "$1: a spec error code"
}
# space_back BEFORE WHAT [SLACK]: the free space is back to BEFORE, less
# SLACK at most (default 256 KiB: metadata pages may take some).
space_back() {
    local now
    now=$(disk_avail)
    check; [ "$now" -ge $(($1 - ${3:-262144})) ] ||
        fail "$2: the failed upload still holds space: $1 bytes free before, $now after"
}

# ---- what is there before the disk fills -------------------------------------
M1=$(push_image full/app v1)
expect_match "$M1" '^sha256:' "push full/app:v1"
M2=$(push_image full/app other)
expect_match "$M2" '^sha256:' "push full/app:other"
cp "$TMP/img-full_app-v1.layer" "$TMP/keep.layer"
cp "$TMP/img-full_app-v1.json" "$TMP/m1.json"
cp "$TMP/img-full_app-other.json" "$TMP/m2.json"
# A third manifest over blobs already stored: pushed while the disk is full.
jq -c '.annotations = {"x": "third"}' "$TMP/m1.json" | tr -d '\n' >"$TMP/m3.json"
M3=$(sha256_of "$TMP/m3.json")
LAYER=$(sha256_of "$TMP/keep.layer")

# ---- a monolithic push that does not fit --------------------------------------
disk_fill $((1024 * 1024))
before=$(disk_avail)
random_file "$TMP/big1" $((3 * 1024 * 1024))
D1=$(sha256_of "$TMP/big1")
start=$(date +%s)
HTTP_TIMEOUT=30 http POST "/v2/full/app/blobs/uploads/?digest=$D1" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/big1"
is_spec_error "monolithic push on a full disk"
expect_ne "$STATUS" 000 "monolithic push on a full disk: an answer, not a hang or a reset"
check; [ $(($(date +%s) - start)) -lt 20 ] || fail "monolithic push: the answer took $(($(date +%s) - start)) s"
http HEAD "/v2/full/app/blobs/$D1"
expect_status 404 "HEAD of the blob that did not fit"
expect_eq "$(uploads_on_disk)" 0 "partial uploads on disk after the failed monolithic push"
check; [ -e "$ROOT/blobs/sha256/${D1:7:2}/${D1:7}" ] && fail "the blob that did not fit is in blobs/"
space_back "$before" "monolithic push"
random_file "$TMP/small1" 8192
http POST "/v2/full/app/blobs/uploads/?digest=$(sha256_of "$TMP/small1")" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/small1"
expect_status 201 "a small monolithic push after the failed one"
http HEAD "/v2/full/app/blobs/$(sha256_of "$TMP/small1")"
expect_status 200 "HEAD of the small blob"

# ---- a chunked push whose PATCH does not fit -----------------------------------
before=$(disk_avail)
random_file "$TMP/big2" $((3 * 1024 * 1024))
D2=$(sha256_of "$TMP/big2")
http POST /v2/full/app/blobs/uploads/
expect_status 202 "start a chunked upload"
LOC=$(location)
head -c 65536 "$TMP/big2" >"$TMP/big2.a"
tail -c +65537 "$TMP/big2" >"$TMP/big2.b"
http PATCH "$LOC" -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: 0-65535" --data-binary @"$TMP/big2.a"
expect_status 202 "a first chunk that fits"
LOC2=$(location)
HTTP_TIMEOUT=30 http PATCH "$LOC2" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMP/big2.b"
is_spec_error "PATCH on a full disk"
expect_ne "$STATUS" 202 "PATCH on a full disk is not accepted"
expect_eq "$(uploads_on_disk)" 0 "partial uploads on disk after the failed PATCH"
space_back "$before" "chunked push"
http GET "$LOC2"
expect_error 404 BLOB_UPLOAD_UNKNOWN
http PUT "$LOC2?digest=$D2"
expect_error 404 BLOB_UPLOAD_UNKNOWN
http HEAD "/v2/full/app/blobs/$D2"
expect_status 404 "HEAD of the chunked blob that did not fit"

# a last chunk sent with the PUT
http POST /v2/full/app/blobs/uploads/
LOC=$(location)
HTTP_TIMEOUT=30 http PUT "$LOC?digest=$D2" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMP/big2"
is_spec_error "PUT with a last chunk on a full disk"
http HEAD "/v2/full/app/blobs/$D2"
expect_status 404 "HEAD after the failed PUT with a chunk"
expect_eq "$(uploads_on_disk)" 0 "partial uploads on disk after the failed PUT"
space_back "$before" "PUT with a chunk"

# a small chunked push succeeds now
random_file "$TMP/small2" 8192
D=$(sha256_of "$TMP/small2")
http POST /v2/full/app/blobs/uploads/
LOC=$(location)
http PATCH "$LOC" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/small2"
expect_status 202 "a small PATCH after the failed ones"
http PUT "$(location)?digest=$D"
expect_status 201 "a small chunked push after the failed ones"
http HEAD "/v2/full/app/blobs/$D"
expect_status 200 "HEAD of the small chunked blob"

# ---- the data fits, its metadata record does not ------------------------------
# Room for the blob's pages and not one more: the upload is written and
# published, and then the metadata cannot record it. The blob file must go
# with the failed record, or it holds its space until the collector runs.
random_file "$TMP/exact" $((256 * 1024))
DX=$(sha256_of "$TMP/exact")
disk_fill $((256 * 1024))
before=$(disk_avail)
HTTP_TIMEOUT=30 http POST "/v2/full/app/blobs/uploads/?digest=$DX" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/exact"
expect_match "$STATUS" '^5[0-9][0-9]$' "a push whose metadata does not fit ($(head -c 300 "$BODY_FILE"))"
expect_match "$(error_code)" '^[A-Z_]+$' "a push whose metadata does not fit: a spec error code"
http HEAD "/v2/full/app/blobs/$DX"
expect_status 404 "HEAD of the blob whose metadata did not fit"
check; [ -e "$ROOT/blobs/sha256/${DX:7:2}/${DX:7}" ] && fail "the blob whose metadata did not fit is in blobs/"
expect_eq "$(uploads_on_disk)" 0 "partial uploads on disk after the failed record"
space_back "$before" "a push whose metadata does not fit" 0
# the same for a manifest: its body takes the last page
disk_fill 4096
before=$(disk_avail)
HTTP_TIMEOUT=30 http PUT /v2/full/app/manifests/v3 \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$TMP/m3.json"
expect_match "$STATUS" '^5[0-9][0-9]$' "a manifest whose metadata does not fit ($(head -c 300 "$BODY_FILE"))"
http HEAD "/v2/full/app/manifests/$M3"
expect_status 404 "the manifest whose metadata did not fit"
http HEAD /v2/full/app/manifests/v3
expect_status 404 "the tag whose metadata did not fit"
check; [ -e "$ROOT/blobs/sha256/${M3:7:2}/${M3:7}" ] && fail "the manifest whose metadata did not fit is in blobs/"
space_back "$before" "a manifest whose metadata does not fit" 0
disk_unfill

# ---- the disk full to the last byte -------------------------------------------
fill_all
http GET /readyz
expect_status 503 "/readyz with the disk full"
expect_eq "$(jq -r .storage_writable "$BODY_FILE" 2>/dev/null)" false "/readyz storage_writable"
http GET /healthz
expect_status 200 "/healthz with the disk full"

# reads keep working
http GET /v2/full/app/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_status 200 "GET a manifest by tag with the disk full"
expect_eq "$(header Docker-Content-Digest)" "$M1" "v1 with the disk full"
http GET "/v2/full/app/blobs/$LAYER"
expect_status 200 "GET a blob with the disk full"
check; cmp -s "$BODY_FILE" "$TMP/keep.layer" || fail "the blob served with the disk full differs"
http GET /v2/full/app/tags/list
expect_status 200 "tags list with the disk full"
expect_eq "$(jq -c '.tags | sort' "$BODY_FILE" 2>/dev/null)" '["other","v1"]' "tags with the disk full"
http GET /v2/_catalog
expect_status 200 "catalog with the disk full"

# a new manifest: its body must be stored, and there is no room
HTTP_TIMEOUT=30 http PUT /v2/full/app/manifests/v1 \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$TMP/m3.json"
expect_match "$STATUS" '^5[0-9][0-9]$' "manifest PUT with the disk full ($(head -c 300 "$BODY_FILE"))"
expect_match "$(error_code)" '^[A-Z_]+$' "manifest PUT with the disk full: a spec error code"
http HEAD "/v2/full/app/manifests/$M3"
expect_status 404 "the manifest that did not fit"
# a tag update: the manifest is stored, only the metadata changes
HTTP_TIMEOUT=30 http PUT /v2/full/app/manifests/v1 \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$TMP/m2.json"
expect_match "$STATUS" '^5[0-9][0-9]$' "tag update with the disk full ($(head -c 300 "$BODY_FILE"))"
expect_match "$(error_code)" '^[A-Z_]+$' "tag update with the disk full: a spec error code"
http GET /v2/full/app/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_status 200 "v1 after the failed updates"
expect_eq "$(header Docker-Content-Digest)" "$M1" "v1 still names the old manifest"
check; cmp -s "$BODY_FILE" "$TMP/m1.json" || fail "v1 serves another body"
# a metadata write with no body at all: a cross-repository mount
http POST "/v2/full/mounted/blobs/uploads/?mount=$LAYER&from=full/app"
expect_match "$STATUS" '^5[0-9][0-9]$' "a blob mount with the disk full ($(head -c 300 "$BODY_FILE"))"
http HEAD "/v2/full/mounted/blobs/$LAYER"
expect_status 404 "the blob mount that failed"
# a new upload session needs a metadata row
http POST /v2/full/app/blobs/uploads/
expect_match "$STATUS" '^5[0-9][0-9]$' "a new upload session with the disk full ($(head -c 300 "$BODY_FILE"))"
expect_eq "$(uploads_on_disk)" 0 "upload files left by the refused session"
# still reading after the failed writes
http GET /v2/full/app/manifests/other -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_status 200 "GET other after the failed writes"
expect_eq "$(header Docker-Content-Digest)" "$M2" "other after the failed writes"

# ---- space returns ------------------------------------------------------------
disk_unfill
http GET /readyz
expect_status 200 "/readyz once space is back"
expect_eq "$(jq -r .status "$BODY_FILE" 2>/dev/null)" ready "/readyz status once space is back"
HTTP_TIMEOUT=30 http PUT /v2/full/app/manifests/v1 \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$TMP/m2.json"
expect_status 201 "the tag update once space is back"
http GET /v2/full/app/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_eq "$(header Docker-Content-Digest)" "$M2" "v1 after the update"
http PUT /v2/full/app/manifests/v3 \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$TMP/m3.json"
expect_status 201 "the manifest PUT once space is back"
http POST "/v2/full/mounted/blobs/uploads/?mount=$LAYER&from=full/app"
expect_status 201 "the blob mount once space is back"
http POST "/v2/full/app/blobs/uploads/?digest=$D1" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/big1"
expect_status 201 "the big monolithic push once space is back"
http GET "/v2/full/app/blobs/$D1"
check; cmp -s "$BODY_FILE" "$TMP/big1" || fail "the big blob served differs"
expect_eq "$(uploads_on_disk)" 0 "partial uploads on disk after the recovery"

# ---- a restart on a full disk ----------------------------------------------------
# No connection holds the database then, and sqlite cannot open a WAL
# database for reading on a full disk: berthd serves it read-only.
fill_all
berthd_stop
expect_eq "$?" 0 "berthd stops on a full disk"
fill_all    # what closing the database freed
berthd_start
# and what the start freed (leftovers it cleared): the metadata's
# connections open with the first request that needs one, on a full disk
fill_all
http GET /v2/full/app/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_status 200 "GET a manifest after a restart on a full disk"
expect_eq "$(header Docker-Content-Digest)" "$M2" "v1 after a restart on a full disk"
http GET "/v2/full/app/blobs/$D1"
check; cmp -s "$BODY_FILE" "$TMP/big1" || fail "the big blob after a restart on a full disk"
http GET /v2/full/app/tags/list
expect_eq "$(jq -c '.tags | sort' "$BODY_FILE" 2>/dev/null)" '["other","v1","v3"]' "tags after a restart on a full disk"
http GET /readyz
expect_status 503 "/readyz after a restart on a full disk"
HTTP_TIMEOUT=30 http PUT /v2/full/app/manifests/v1 \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$TMP/m1.json"
expect_match "$STATUS" '^5[0-9][0-9]$' "tag update after a restart on a full disk ($(head -c 300 "$BODY_FILE"))"
http GET /v2/full/app/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_eq "$(header Docker-Content-Digest)" "$M2" "v1 after the failed update"
check; grep -q 'serving it read-only' "$TMP/berthd.log" || fail "no log line says the metadata is read-only"
disk_unfill
http GET /readyz
expect_status 200 "/readyz once space is back after the restart"
HTTP_TIMEOUT=30 http PUT /v2/full/app/manifests/v1 \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$TMP/m1.json"
expect_status 201 "the tag update once space is back after the restart"
sleep 2.1   # every connection has tried a normal open again
for i in 1 2 3 4; do
    http GET /v2/full/app/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json'
    expect_eq "$(header Docker-Content-Digest)" "$M1" "v1 after the update (request $i)"
done
random_file "$TMP/small3" 8192
http POST "/v2/full/app/blobs/uploads/?digest=$(sha256_of "$TMP/small3")" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/small3"
expect_status 201 "a push once space is back after the restart"

finish
