#!/bin/bash
# t1500-gc-basic: what `berthd gc` collects and what it must keep, run
# against the root a live berthd serves: tagged images keep everything;
# untagged manifests go only with --delete-untagged (and then their config
# and unique layers, never a shared layer); an index keeps its children and
# they go with it; a referrer stays while its subject does and goes with it;
# unreferenced blobs stay inside the grace period (also when just mounted)
# and go after it; abandoned uploads go after upload_ttl; empty repositories
# leave the catalog; bytes freed are reported; what is left pulls
# completely; `berthd du` and /admin/storage count own and shared bytes;
# storage.delete false makes the three DELETEs 405 UNSUPPORTED; and the
# collection berthd schedules (gc.interval) removes garbage by itself.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-gc.sh"
berthd_start
W=$TMP/w
mkdir -p "$W"

# expect_removed KIND "NAME..." LABEL: the last gc removed exactly these.
expect_removed() {
    expect_eq "$(gc_lines "$1" | tr '\n' ' ')" "$(printf '%s\n' $2 | sed '/^$/d' | sort | tr '\n' ' ')" "$3"
}
digests() { local f; for f in "$@"; do sha256_of "$f"; done; }
catalog() { curl -fsS -m 30 "http://$REG/v2/_catalog" | jq -c .repositories; }

# ---- the registry ------------------------------------------------------------
# gc/app v1 and v2 and gc/other v1 share the layer `base`.
mk_layer "$W/base" 20000
for n in 1 2 3 4 5 6 7 9; do mk_config "$W/c$n"; mk_layer "$W/u$n" $((3000 + n)); done
push_files gc/app "$W/base" "$W/c1" "$W/u1" "$W/c2" "$W/u2"
push_files gc/other "$W/base" "$W/c3" "$W/u3"
mk_manifest "$W/m1" "$W/c1" "$W/base" "$W/u1"
mk_manifest "$W/m2" "$W/c2" "$W/base" "$W/u2"
mk_manifest "$W/m3" "$W/c3" "$W/base" "$W/u3"
M1=$(push_manifest gc/app v1 "$W/m1" $OCI_M)
M2=$(push_manifest gc/app v2 "$W/m2" $OCI_M)
M3=$(push_manifest gc/other v1 "$W/m3" $OCI_M)
# gc/keep: its tag will be deleted; the manifest stays without --delete-untagged.
push_files gc/keep "$W/c4" "$W/u4"
mk_manifest "$W/m4" "$W/c4" "$W/u4"
M4=$(push_manifest gc/keep t "$W/m4" $OCI_M)
# gc/idx: an index (tagged) over two untagged children.
push_files gc/idx "$W/c5" "$W/u5" "$W/c6" "$W/u6"
mk_manifest "$W/m5" "$W/c5" "$W/u5"
mk_manifest "$W/m6" "$W/c6" "$W/u6"
M5=$(push_manifest gc/idx "$(sha256_of "$W/m5")" "$W/m5" $OCI_M)
M6=$(push_manifest gc/idx "$(sha256_of "$W/m6")" "$W/m6" $OCI_M)
mk_index "$W/ix" "$W/m5" "$W/m6"
IX=$(push_manifest gc/idx multi "$W/ix" $OCI_I)
# gc/ref: a subject (tagged) and an untagged referrer with blobs of its own.
push_files gc/ref "$W/c7" "$W/u7"
mk_manifest "$W/m7" "$W/c7" "$W/u7"
M7=$(push_manifest gc/ref s1 "$W/m7" $OCI_M)
printf '{"sig":"%s"}' "$RANDOM$RANDOM" >"$W/c8"
mk_layer "$W/u8" 3008
push_files gc/ref "$W/c8" "$W/u8"
mk_manifest "$W/m8" "$W/c8" "$W/u8" -- "$M7" "$(size_of "$W/m7")" application/vnd.example.sig
M8=$(push_manifest gc/ref "$(sha256_of "$W/m8")" "$W/m8" $OCI_M)
# gc/gone: its only image will be deleted by digest.
push_files gc/gone "$W/c9" "$W/u9"
mk_manifest "$W/m9" "$W/c9" "$W/u9"
M9=$(push_manifest gc/gone t "$W/m9" $OCI_M)
for v in M1 M2 M3 M4 M5 M6 IX M7 M8 M9; do expect_match "${!v}" '^sha256:' "push of $v"; done

# Storage accounting of what was pushed: own = used by that repository only.
cat >"$W/usage1" <<EOF
gc/app $W/base $W/c1 $W/u1 $W/c2 $W/u2 $W/m1 $W/m2
gc/other $W/base $W/c3 $W/u3 $W/m3
gc/keep $W/c4 $W/u4 $W/m4
gc/idx $W/c5 $W/u5 $W/c6 $W/u6 $W/m5 $W/m6 $W/ix
gc/ref $W/c7 $W/u7 $W/m7 $W/c8 $W/u8 $W/m8
gc/gone $W/c9 $W/u9 $W/m9
EOF
expected=$(usage_expected "$W/usage1")
expect_eq "$(du_actual)" "$expected" "berthd du after the pushes"
expect_eq "$(admin_actual)" "$expected" "GET /admin/storage after the pushes"
expect_match "$(grep -E "^gc/app +[0-9]+ +[0-9]+$" <("$BERTHD" du --root "$ROOT"))" . "berthd du prints REPOSITORY OWN SHARED rows"

# ---- 1. nothing is garbage: everything is tagged or used -------------------------
sleep 1.1   # one-second times: --grace 0s collects only earlier seconds
gc_ok --grace 0s --delete-untagged
expect_eq "$(grep -c '^removed [a-z]* ' "$GC_OUT")" 0 "a registry with no garbage: nothing removed"
expect_match "$(tail -1 "$GC_OUT")" '^removed: 0 blobs \(0 bytes freed\), 0 manifests, 0 tags, 0 links, 0 uploads, 0 repositories' "summary with nothing removed"
for t in "gc/app v1" "gc/app v2" "gc/other v1" "gc/keep t" "gc/idx multi" "gc/ref s1" "gc/gone t"; do
    expect_pulls $t "tagged image after a collection:"
done
expect_pulls gc/ref "$M8" "referrer whose subject is there:"
http GET "/v2/gc/ref/referrers/$M7"
expect_eq "$(jq -r '[.manifests[].digest] | join(" ")' "$BODY_FILE")" "$M8" "the referrer is still listed"

# ---- 2. deletions; a collection without --delete-untagged --------------------------
http DELETE /v2/gc/app/manifests/v1;     expect_status 202 "DELETE tag gc/app:v1"
http DELETE /v2/gc/keep/manifests/t;     expect_status 202 "DELETE tag gc/keep:t"
http DELETE /v2/gc/idx/manifests/multi;  expect_status 202 "DELETE tag gc/idx:multi"
http DELETE "/v2/gc/ref/manifests/$M7";  expect_status 202 "DELETE subject gc/ref@digest"
http DELETE "/v2/gc/gone/manifests/$M9"; expect_status 202 "DELETE gc/gone@digest"
http GET /v2/gc/app/tags/list
expect_eq "$(jq -c .tags "$BODY_FILE")" '["v2"]' "a tag DELETE removes the tag only"
http GET "/v2/gc/app/manifests/$M1"
expect_status 200 "the manifest of a deleted tag is still there by digest"
http GET /v2/gc/ref/tags/list
expect_eq "$(jq -c '.tags // []' "$BODY_FILE")" '[]' "a DELETE by digest removes the manifest's tags"

gc_ok --grace 0s
expect_removed manifest "gc/ref@$M8" "without --delete-untagged: only the orphaned referrer is removed"
expect_removed blob "$(digests "$W/m7" "$W/c7" "$W/u7" "$W/m8" "$W/c8" "$W/u8" "$W/m9" "$W/c9" "$W/u9")" \
    "blobs of the deleted subject, its referrer and the deleted image"
expect_eq "$(gc_summary bytes)" "$(size_sum "$W/m7" "$W/c7" "$W/u7" "$W/m8" "$W/c8" "$W/u8" "$W/m9" "$W/c9" "$W/u9")" "bytes freed"
expect_eq "$(gc_summary blobs)" 9 "blobs in the summary"
expect_eq "$(gc_summary manifests)" 1 "manifests in the summary"
expect_removed repository "gc/gone gc/ref" "repositories left empty"
expect_eq "$(gc_lines tag)" "" "no tags removed without retention"
check; gc_said blob "$(sha256_of "$W/u9")" && grep -q "^removed blob $(sha256_of "$W/u9") (3009 bytes)$" "$GC_OUT" ||
    fail "a removed blob line shows its size: want 'removed blob $(sha256_of "$W/u9") (3009 bytes)'"
expect_eq "$(catalog)" '["gc/app","gc/idx","gc/keep","gc/other"]' "catalog without the emptied repositories"
for d in "$W/m8" "$W/u8" "$W/u9" "$W/c7"; do expect_eq "$(on_disk "$(sha256_of "$d")")" no "file of a collected blob ($(basename "$d"))"; done
expect_pulls gc/app "$M1" "untagged manifest kept without --delete-untagged:"
expect_pulls gc/keep "$M4" "untagged manifest kept without --delete-untagged:"
expect_pulls gc/idx "$IX" "untagged index kept without --delete-untagged:"
http GET "/v2/gc/ref/manifests/$M8"
expect_error 404 MANIFEST_UNKNOWN
http GET "/v2/gc/ref/blobs/$(sha256_of "$W/u8")"
expect_error 404 BLOB_UNKNOWN

# ---- 3. with --delete-untagged ------------------------------------------------------
gc_ok --grace 0s --delete-untagged
expect_removed manifest "gc/app@$M1 gc/keep@$M4 gc/idx@$IX gc/idx@$M5 gc/idx@$M6" \
    "untagged manifests, and the index's children with it"
freed=("$W/m1" "$W/c1" "$W/u1" "$W/m4" "$W/c4" "$W/u4" "$W/ix" "$W/m5" "$W/m6" "$W/c5" "$W/u5" "$W/c6" "$W/u6")
expect_removed blob "$(digests "${freed[@]}")" "config and unique layers of the untagged manifests (never the shared layer)"
expect_eq "$(gc_summary bytes)" "$(size_sum "${freed[@]}")" "bytes freed"
expect_removed repository "gc/idx gc/keep" "repositories left empty"
expect_eq "$(on_disk "$(sha256_of "$W/base")")" yes "the shared layer is still on disk"
expect_eq "$(catalog)" '["gc/app","gc/other"]' "catalog"
http GET "/v2/gc/app/manifests/$M1"
expect_error 404 MANIFEST_UNKNOWN
http GET "/v2/gc/idx/manifests/$M5"
expect_error 404 MANIFEST_UNKNOWN
http GET /v2/gc/idx/tags/list
expect_error 404 NAME_UNKNOWN

# ---- 4. grace period, mounts, abandoned uploads ---------------------------------------
mk_layer "$W/loose" 3000
LOOSE=$(sha256_of "$W/loose")
push_files gc/loose "$W/loose"
random_file "$W/part" 100
http POST /v2/gc/up/blobs/uploads/
UA=$(header Docker-Upload-UUID)
http PATCH "$(location)" --data-binary @"$W/part" -H 'Content-Type: application/octet-stream'
expect_status 202 "PATCH of upload A"
echo '{"gc": {"upload_ttl": "2s"}}' >"$W/ttl.json"
gc_ok --config "$W/ttl.json" --grace 2s
check; gc_said blob "$LOOSE" && fail "an unreferenced blob pushed just now was collected inside the grace period"
expect_eq "$(on_disk "$LOOSE")" yes "an unreferenced blob inside the grace period stays on disk"
http HEAD "/v2/gc/loose/blobs/$LOOSE"
expect_status 200 "an unreferenced blob inside the grace period is still served"
check; gc_said upload "$UA" && fail "an upload younger than upload_ttl was removed"
sleep 3.1
# Mounted into another repository now: the fresh link protects it again.
http POST "/v2/gc/loose2/blobs/uploads/?mount=$LOOSE&from=gc/loose"
expect_status 201 "mount the unreferenced blob into gc/loose2"
http POST /v2/gc/up/blobs/uploads/
UB=$(header Docker-Upload-UUID)
LB=$(location)
http PATCH "$LB" --data-binary @"$W/part" -H 'Content-Type: application/octet-stream'
expect_status 202 "PATCH of upload B"
LB=$(location)
gc_ok --config "$W/ttl.json" --grace 2s
check; gc_said blob "$LOOSE" && fail "a blob mounted just now was collected inside the grace period"
expect_eq "$(on_disk "$LOOSE")" yes "a blob mounted inside the grace period stays on disk"
http HEAD "/v2/gc/loose2/blobs/$LOOSE"
expect_status 200 "the mounted blob is served by gc/loose2"
http HEAD "/v2/gc/loose/blobs/$LOOSE"
expect_status 404 "the old, unused link of gc/loose is dropped"
expect_eq "$(gc_summary links)" 1 "links dropped"
expect_removed upload "$UA" "the upload idle longer than upload_ttl is removed, the young one stays"
http GET "/v2/gc/up/blobs/uploads/$UA"
expect_error 404 BLOB_UPLOAD_UNKNOWN
check; [ ! -e "$ROOT/uploads/$UA" ] || fail "the abandoned upload's file is still in uploads/"
expect_eq "$(sql "SELECT COUNT(*) FROM uploads WHERE id = '$UA'")" 0 "the abandoned upload's row is gone"
check; gc_said upload "$UB" && fail "the young upload $UB was removed"
http GET "$LB"
expect_status 204 "the young upload is still there"
expect_match "$(catalog)" '"gc/loose2"' "gc/loose2 is in the catalog"
check; grep -q '"gc/loose"' <<<"$(catalog)" && fail "gc/loose (no links left) is still in the catalog"
sleep 3.1
gc_ok --grace 2s
expect_removed blob "$LOOSE" "the unreferenced blob, once older than the grace period"
expect_eq "$(gc_summary bytes)" 3000 "bytes freed"
expect_eq "$(on_disk "$LOOSE")" no "its file is gone"
expect_eq "$(gc_lines upload)" "" "with the default upload_ttl (24h) no upload is removed"
http GET "$LB"
expect_status 204 "the young upload is still there"
sep='?'; [[ $LB == *\?* ]] && sep='&'
http PUT "$LB${sep}digest=$(sha256_of "$W/part")"
expect_status 201 "the young upload completes"
expect_eq "$(catalog)" '["gc/app","gc/other","gc/up"]' "catalog"

# ---- 5. what is left pulls completely; accounting matches ---------------------------
expect_eq "$(all_tags | tr '\n' ',')" "gc/app v2,gc/other v1," "tags left"
all_tags >"$W/tags"
while read -r r t; do expect_pulls "$r" "$t" "remaining tag:"; done <"$W/tags"
cat >"$W/usage2" <<EOF
gc/app $W/base $W/c2 $W/u2 $W/m2
gc/other $W/base $W/c3 $W/u3 $W/m3
gc/up $W/part
EOF
expected=$(usage_expected "$W/usage2")
expect_eq "$(du_actual)" "$expected" "berthd du after the collections"
expect_eq "$(admin_actual)" "$expected" "GET /admin/storage after the collections"
expect_eq "$(find "$ROOT/blobs" -type f -printf '%s\n' | awk '{ t += $1 } END { print "total", t + 0 }')" \
    "$(grep '^total' <<<"$expected")" "bytes of the blob files on disk"
expect_eq "$(disk_blobs | tr '\n' ' ')" "$(db_blobs | tr '\n' ' ')" "blob files on disk = blob rows"
expect_eq "$(trash_count)" 0 "nothing left in trash/"
consistency_check "after the collections"

berthd_stop
expect_eq "$?" 0 "berthd exits 0 on SIGTERM"

# ---- 6. storage.delete false -------------------------------------------------------
echo '{"storage": {"delete": false}}' >"$W/nodelete.json"
berthd_start --config "$W/nodelete.json"
http DELETE "/v2/gc/app/manifests/$M2"
expect_error 405 UNSUPPORTED
http DELETE /v2/gc/app/manifests/v2
expect_error 405 UNSUPPORTED
http DELETE "/v2/gc/app/blobs/$(sha256_of "$W/base")"
expect_error 405 UNSUPPORTED
expect_pulls gc/app v2 "with deletion disabled:"
berthd_stop
expect_eq "$?" 0 "berthd exits 0 on SIGTERM"

# ---- 7. the collection berthd schedules ------------------------------------------
ROOT=$TMP/root2
# (a grace long enough that a push on a loaded machine finishes inside it:
# blobs not yet referenced when it runs out are fair game)
echo '{"gc": {"interval": "1s", "grace": "6s", "delete_untagged": true}}' >"$W/sched.json"
berthd_start --config "$W/sched.json"
KEEP=$(push_image s/app keep)
DROP=$(push_image s/app drop)
DROP_LAYER=$(sha256_of "$TMP/img-s_app-drop.layer")
mk_layer "$W/sloose" 2000
SLOOSE=$(sha256_of "$W/sloose")
push_files s/loose "$W/sloose"
http DELETE /v2/s/app/manifests/drop
expect_status 202 "DELETE tag s/app:drop"
for i in $(seq 1 200); do
    [ "$(on_disk "$SLOOSE")" = no ] && [ "$(on_disk "$DROP")" = no ] && [ "$(on_disk "$DROP_LAYER")" = no ] && break
    sleep 0.2
done
expect_eq "$(on_disk "$SLOOSE")" no "the scheduled collection removes an unreferenced blob"
expect_eq "$(on_disk "$DROP_LAYER")" no "the scheduled collection removes an untagged image's layer"
http GET "/v2/s/app/manifests/$DROP"
expect_error 404 MANIFEST_UNKNOWN
expect_eq "$(catalog)" '["s/app"]' "the scheduled collection removes the emptied repository"
expect_pulls s/app keep "tagged image with scheduled collections:"
expect_pulls s/app "$KEEP" "tagged image with scheduled collections:"
check; grep -q 'gc: removed [1-9]' "$TMP/berthd.log" || fail "no 'gc: removed N blobs ...' line in the berthd log"
# `berthd gc` while berthd's own collection may hold the root: either it runs
# or it says another collection is running; it never corrupts anything.
gc_cmd --grace 2s
check; [ "$GC_RC" -eq 0 ] || grep -q 'another collection is running' "$GC_OUT" ||
    fail "berthd gc next to the schedule: exit $GC_RC: $(cat "$GC_OUT")"
consistency_check "with scheduled collections"
finish
