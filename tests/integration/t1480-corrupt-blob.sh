#!/bin/bash
# t1480-corrupt-blob: a blob whose bytes changed on disk is never served as
# the blob. The first GET after a start hashes it and answers 404
# BLOB_UNKNOWN (the file goes to <root>/quarantine); `berthd fsck` finds and
# quarantines bad blobs (--dry-run only reports); a push of the same content
# heals it. Also a truncated file, a missing one and stray files.
. "$(dirname "$0")/../lib.sh"
berthd_start

blob_file() { local d=${1#sha256:}; echo "$ROOT/blobs/sha256/${d:0:2}/$d"; }
# flip_byte FILE OFFSET: change one byte in place, keeping the length
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
fsck() {
    FSCK_OUT=$(timeout 60 "$BERTHD" fsck --root "$ROOT" "$@" 2>&1); FSCK_RC=$?
    if [[ $FSCK_OUT =~ Sanitizer|runtime\ error: ]]; then fail "sanitizer report from fsck: $FSCK_OUT"; fi
}
quarantined() { find "$ROOT/quarantine" -type f 2>/dev/null | wc -l; }
get_blob() { http GET "/v2/$1/blobs/$2" --max-time 10 "${@:3}"; }

random_file "$TMP/a" $((1024 * 1024 + 7))
random_file "$TMP/c" 300000
random_file "$TMP/d" 4096
random_file "$TMP/e" 65536
random_file "$TMP/f" 1000
a=$(push_blob cb/app "$TMP/a"); c=$(push_blob cb/app "$TMP/c"); d=$(push_blob cb/app "$TMP/d")
e=$(push_blob cb/app "$TMP/e"); f=$(push_blob cb/other "$TMP/f")
m=$(push_image cb/img v1)
expect_ne "$m" "" "push an image"

fsck
expect_eq "$FSCK_RC" 0 "fsck on a clean store exits 0"
expect_match "$FSCK_OUT" "checked .* 0 corrupt" "fsck on a clean store reports no corrupt blob"
get_blob cb/app "$a"
expect_status 200 "GET a good blob"
check; cmp -s "$BODY_FILE" "$TMP/a" || fail "a good blob is served as pushed"

# One byte flipped on disk, then a restart: the first GET must not serve it.
flip_byte "$(blob_file "$a")" 4242
expect_eq "$(size_of "$(blob_file "$a")")" "$(size_of "$TMP/a")" "the flipped file keeps its length"
berthd_stop
berthd_start
get_blob cb/app "$a"
expect_error 404 BLOB_UNKNOWN
expect_ne "$STATUS" 200 "a corrupt blob is not served with a 200"
expect_eq "$(grep -c "blob $a: .*does not match its digest" "$TMP/berthd.log")" 1 "the log says which blob is corrupt"
expect_eq "$(test -e "$(blob_file "$a")" && echo there || echo gone)" gone "the corrupt file left the blob store"
expect_eq "$(quarantined)" 1 "the corrupt file is in the quarantine"
check; cmp -s "$(find "$ROOT/quarantine" -type f)" "$TMP/a" && fail "the quarantine keeps the corrupt bytes"
http HEAD "/v2/cb/app/blobs/$a"
expect_status 404 "HEAD of a quarantined blob"
get_blob cb/app "$a" -H 'Range: bytes=0-9'
expect_error 404 BLOB_UNKNOWN
# a push of the same content heals it, and it is served again
expect_eq "$(push_blob cb/app "$TMP/a")" "$a" "the same content pushed again"
get_blob cb/app "$a"
expect_status 200 "GET the healed blob"
check; cmp -s "$BODY_FILE" "$TMP/a" || fail "the healed blob has the pushed bytes"
http HEAD "/v2/cb/app/blobs/$a"
expect_status 200 "HEAD the healed blob"

# A Range GET is the first read after start: it is verified too. And a
# sha512 blob is checked with its own algorithm.
flip_byte "$(blob_file "$e")" 0
random_file "$TMP/s5" 5000
s5=sha512:$(sha512sum "$TMP/s5" | cut -d' ' -f1)
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMP/s5" "http://$REG/v2/cb/app/blobs/uploads/?digest=$s5"
expect_eq "$?" 0 "push a sha512 blob"
s5file=$ROOT/blobs/sha512/${s5:7:2}/${s5#sha512:}
get_blob cb/app "$s5"
expect_status 200 "GET a good sha512 blob"
flip_byte "$s5file" 4999
berthd_stop
berthd_start
get_blob cb/app "$e" -H 'Range: bytes=100-199'
expect_error 404 BLOB_UNKNOWN
expect_ne "$STATUS" 206 "a corrupt blob is not served as a range"
get_blob cb/app "$s5"
expect_error 404 BLOB_UNKNOWN
expect_eq "$(ls "$ROOT/quarantine" | grep -c "^sha512-${s5#sha512:}\.")" 1 "the sha512 blob is quarantined by its name"

# A truncated file, even of a blob already verified: 404, never a short body.
get_blob cb/app "$c"
expect_status 200 "GET before truncation"
truncate -s 1000 "$(blob_file "$c")"
get_blob cb/app "$c"
expect_error 404 BLOB_UNKNOWN
expect_eq "$(push_blob cb/app "$TMP/c")" "$c" "a truncated blob pushed again"
get_blob cb/app "$c"
check; [ "$STATUS" = 200 ] && cmp -s "$BODY_FILE" "$TMP/c" || fail "the truncated blob is healed (status $STATUS)"

# A missing file: 404 for GET and HEAD, fsck does not trip on it, a push heals it.
rm -f "$(blob_file "$d")"
get_blob cb/app "$d"
expect_error 404 BLOB_UNKNOWN
http HEAD "/v2/cb/app/blobs/$d"
expect_status 404 "HEAD of a blob whose file is missing"
fsck
expect_eq "$FSCK_RC" 0 "fsck with a missing blob file exits 0 (nothing stored is corrupt)"
expect_eq "$(push_blob cb/app "$TMP/d")" "$d" "a missing blob pushed again"
get_blob cb/app "$d"
check; [ "$STATUS" = 200 ] && cmp -s "$BODY_FILE" "$TMP/d" || fail "the missing blob is healed (status $STATUS)"

# fsck, online: two corrupt blobs, one of them already served (and so
# marked good) by this berthd.
get_blob cb/other "$f"
expect_status 200 "GET before the flip"
before=$(quarantined)
flip_byte "$(blob_file "$f")" 999
truncate -s 10 "$(blob_file "$a")"
fsck --dry-run
expect_eq "$FSCK_RC" 1 "fsck --dry-run exits 1 when blobs are corrupt"
expect_match "$FSCK_OUT" "corrupt $f .*would quarantine" "fsck --dry-run reports the flipped blob"
expect_match "$FSCK_OUT" "corrupt $a .*would quarantine" "fsck --dry-run reports the truncated blob"
expect_eq "$(quarantined)" "$before" "fsck --dry-run moves nothing"
expect_eq "$(test -e "$(blob_file "$f")" && echo there)" there "fsck --dry-run leaves the blob file"
fsck
expect_eq "$FSCK_RC" 1 "fsck exits 1 when blobs were corrupt"
expect_match "$FSCK_OUT" "corrupt $f .*quarantined" "fsck reports the flipped blob"
expect_match "$FSCK_OUT" "2 corrupt" "fsck counts two corrupt blobs"
expect_eq "$(quarantined)" $((before + 2)) "fsck moved both to the quarantine"
expect_eq "$(test -e "$(blob_file "$f")" || echo gone)" gone "the corrupt file left the blob store"
get_blob cb/other "$f"
expect_error 404 BLOB_UNKNOWN
http HEAD "/v2/cb/other/blobs/$f"
expect_status 404 "HEAD of a blob fsck quarantined under a running berthd"
fsck
expect_eq "$FSCK_RC" 0 "fsck after quarantining exits 0"
expect_eq "$(push_blob cb/other "$TMP/f")" "$f" "push again after fsck"
expect_eq "$(push_blob cb/app "$TMP/a")" "$a" "push again after fsck (truncated one)"
get_blob cb/other "$f"
check; [ "$STATUS" = 200 ] && cmp -s "$BODY_FILE" "$TMP/f" || fail "the blob fsck quarantined is healed (status $STATUS)"
http GET /v2/cb/img/manifests/v1
expect_status 200 "the image's manifest is untouched"

# Stray files: ones that are not named like a blob are left alone; one named
# like a blob whose bytes are not that blob is corrupt.
mkdir -p "$ROOT/blobs/sha256/ab"
echo junk >"$ROOT/blobs/sha256/ab/not-a-digest"
echo junk >"$ROOT/blobs/sha256/stray.txt"
fsck
expect_eq "$FSCK_RC" 0 "fsck ignores files not named like blobs"
expect_eq "$(cat "$ROOT/blobs/sha256/ab/not-a-digest" "$ROOT/blobs/sha256/stray.txt" | tr '\n' ' ')" "junk junk " "fsck leaves stray files alone"
fake=abababababababababababababababababababababababababababababababab
echo junk >"$ROOT/blobs/sha256/ab/$fake"
fsck
expect_eq "$FSCK_RC" 1 "a file named like a blob with other bytes is corrupt"
expect_match "$FSCK_OUT" "corrupt sha256:$fake" "fsck names it"
fsck
expect_eq "$FSCK_RC" 0 "clean again"

# Bad invocations.
fsck --no-such-flag
expect_eq "$FSCK_RC" 2 "fsck with an unknown flag exits 2"
FSCK_OUT=$(timeout 20 "$BERTHD" fsck --root "$TMP/no/such/root" 2>&1); FSCK_RC=$?
expect_eq "$FSCK_RC" 2 "fsck of a root that does not exist exits 2"
expect_match "$FSCK_OUT" "no such data directory" "and says why"
check; [ -e "$TMP/no" ] && fail "fsck created a missing root"
FSCK_OUT=$(timeout 20 "$BERTHD" fsck --root "$ROOT" extra 2>&1); FSCK_RC=$?
expect_eq "$FSCK_RC" 2 "fsck with a stray argument exits 2"

finish
