#!/bin/bash
# t0800-restart: SIGTERM is a clean exit (0) that lets in-flight requests
# finish; data and upload sessions survive a restart on the same root, and
# an upload interrupted by a restart completes with the right digest.
. "$(dirname "$0")/../lib.sh"
berthd_start
OCTET=(-H 'Content-Type: application/octet-stream')

random_file "$TMP/b" $((3 * 1024 * 1024 + 5))
d=$(sha256_of "$TMP/b")
head -c 1048576 "$TMP/b" >"$TMP/c1"
tail -c +1048577 "$TMP/b" | head -c 1048576 >"$TMP/c2"
tail -c +2097153 "$TMP/b" >"$TMP/c3"

# Before: an image, and a chunked upload with two chunks in (one of each kind).
m=$(push_image rs/app v1)
expect_ne "$m" "" "push an image"
http POST /v2/rs/app/blobs/uploads/
loc=$(location)
http PATCH "$loc" --data-binary @"$TMP/c1" -H 'Content-Range: 0-1048575' "${OCTET[@]}"
expect_status 202 "first chunk"
loc=$(location)
http PATCH "$loc" --data-binary @"$TMP/c2" "${OCTET[@]}"
expect_status 202 "second chunk (streamed)"
expect_eq "$(header Range)" "0-2097151" "Range before the restart"
loc=$(location)

berthd_stop
expect_eq "$?" 0 "berthd exits 0 on SIGTERM"
expect_eq "$(find "$ROOT/blobs" -name "${d#sha256:}" | wc -l)" 0 "no blob published for an unfinished upload"

berthd_start
http GET "$loc"
expect_status 204 "the upload session survives the restart"
expect_eq "$(header Range)" "0-2097151" "Range after the restart"
http PATCH "$loc" --data-binary @"$TMP/c3" -H 'Content-Range: 0-4' "${OCTET[@]}"
expect_status 416 "an out-of-order chunk after the restart"
sep='?'; [[ $loc == *\?* ]] && sep='&'
http PUT "$loc${sep}digest=$d" --data-binary @"$TMP/c3" -H "Content-Range: 2097152-$((3 * 1048576 + 4))" "${OCTET[@]}"
expect_status 201 "the upload completes after the restart"
expect_eq "$(header Docker-Content-Digest)" "$d" "digest of the resumed upload"
http GET "/v2/rs/app/blobs/$d"
expect_status 200 "GET the resumed blob"
expect_eq "$(sha256_of "$BODY_FILE")" "$d" "content of the resumed blob"

# The data pushed before the restart is all there.
http GET /v2/rs/app/manifests/v1
expect_status 200 "manifest by tag after the restart"
check; cmp -s "$BODY_FILE" "$TMP/img-rs_app-v1.json" || fail "manifest body changed across the restart"
expect_eq "$(header Docker-Content-Digest)" "$m" "manifest digest after the restart"
http GET /v2/rs/app/blobs/"$(sha256_of "$TMP/img-rs_app-v1.layer")"
expect_status 200 "layer after the restart"
http GET /v2/rs/app/tags/list
expect_eq "$(jq -c .tags "$BODY_FILE")" '["v1"]' "tags after the restart"
http GET /v2/_catalog
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["rs/app"]' "catalog after the restart"

# A second interrupted upload, resumed with a streamed PATCH and a PUT with no body.
http POST /v2/rs/app/blobs/uploads/
loc=$(location)
http PATCH "$loc" --data-binary @"$TMP/c1" "${OCTET[@]}"
loc=$(location)
berthd_stop
expect_eq "$?" 0 "berthd exits 0 on SIGTERM (second time)"
berthd_start
cat "$TMP/c2" "$TMP/c3" >"$TMP/c23"
http PATCH "$loc" --data-binary @"$TMP/c23" "${OCTET[@]}"
expect_status 202 "streamed PATCH after the restart"
expect_eq "$(header Range)" "0-$((3 * 1048576 + 4))" "Range after the resumed streamed PATCH"
loc=$(location)
sep='?'; [[ $loc == *\?* ]] && sep='&'
http PUT "$loc${sep}digest=$d"
expect_status 201 "PUT with no body completes the resumed upload"

# SIGTERM during an upload in flight: the request finishes, and no half-written blob becomes visible.
random_file "$TMP/slow" $((1024 * 1024))
ds=$(sha256_of "$TMP/slow")
curl -sS -o /dev/null -w '%{http_code}' --limit-rate 400K -X POST "${OCTET[@]}" --data-binary @"$TMP/slow" \
    "http://$REG/v2/rs/slow/blobs/uploads/?digest=$ds" >"$TMP/slow.status" 2>/dev/null &
cpid=$!
sleep 1
pid=$BERTHD_PID
berthd_stop
rc=$?
wait $cpid
expect_eq "$rc" 0 "berthd exits 0 on SIGTERM with an upload in flight"
expect_eq "$(cat "$TMP/slow.status")" 201 "the in-flight upload finished"
berthd_start
http HEAD "/v2/rs/slow/blobs/$ds"
if [ "$STATUS" = 200 ]; then
    http GET "/v2/rs/slow/blobs/$ds"
    expect_eq "$(sha256_of "$BODY_FILE")" "$ds" "the blob uploaded during shutdown is whole"
else
    expect_eq "$(find "$ROOT/blobs" -name "${ds#sha256:}" | wc -l)" 0 "no half-written blob"
fi

# SIGKILL in the middle of a chunk: after the restart the session reports
# what it holds, the client sends the rest from there, the digest is right.
http POST /v2/rs/crash/blobs/uploads/
loc=$(location)
http PATCH "$loc" --data-binary @"$TMP/c1" "${OCTET[@]}"
loc=$(location)
curl -sS -o /dev/null --limit-rate 300K -X PATCH "${OCTET[@]}" --data-binary @"$TMP/c2" \
    -H 'Content-Range: 1048576-2097151' "http://$REG$loc" 2>/dev/null &
cpid=$!
sleep 1
kill -KILL "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null; BERTHD_PID=
wait $cpid
check
v=$(sqlite3 "$ROOT/metadata.db" 'PRAGMA integrity_check;' 2>&1)
[ "$v" = ok ] || fail "metadata.db integrity after SIGKILL: $v"
berthd_start
http GET "$loc"
expect_status 204 "the upload session survives SIGKILL"
range=$(header Range)
expect_match "$range" '^0-[0-9]+$' "Range after SIGKILL"
end=${range#0-}
check; [ "$end" -ge 1048575 ] && [ "$end" -le 2097151 ] || fail "Range after SIGKILL: $range, want between 0-1048575 and 0-2097151"
tail -c +$((end + 2)) "$TMP/b" >"$TMP/rest"
sep='?'; [[ $loc == *\?* ]] && sep='&'
http PUT "$loc${sep}digest=$d" --data-binary @"$TMP/rest" -H "Content-Range: $((end + 1))-$((3 * 1048576 + 4))" "${OCTET[@]}"
expect_status 201 "the upload interrupted by SIGKILL completes from its Range"
http GET "/v2/rs/crash/blobs/$d"
expect_eq "$(sha256_of "$BODY_FILE")" "$d" "content of the blob resumed after SIGKILL"

# SIGINT is a clean exit too.
pid=$BERTHD_PID
kill -INT "$pid"
for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
wait "$pid"
expect_eq "$?" 0 "berthd exits 0 on SIGINT"
BERTHD_PID=

finish
