#!/bin/bash
# t1600-gc-dryrun-retention: `berthd gc --dry-run` changes nothing (every
# file under the root with its size, mtime and checksum, and every sqlite
# row, compared before and after) while listing what it would remove, and
# a real run then removes exactly that; retention keeps exactly what its
# policy says: keep_last N keeps the N most recently set unprotected tags,
# max_age removes tags set longer ago, protected patterns (v*, latest) are
# never removed, and a rule applies only to the repositories its glob matches.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-gc.sh"
berthd_start
W=$TMP/w
mkdir -p "$W"

tags_of() { curl -fsS -m 30 "http://$REG/v2/$1/tags/list" | jq -c '.tags // [] | sort'; }
# tag REPO TAG: push a new image under TAG; prints its digest
tag_new() { push_image "$1" "$2"; }
# removals FILE: "KIND NAME" for every thing a gc output removed or would remove
removals() {
    awk '$1 == "removed" && $2 != "" && $2 !~ /:$/ { print $2, $3 }
         $1 == "would" && $2 == "remove" && $3 !~ /:$/ { print $3, $4 }' "$1" | sort
}
summary_counts() { grep -E '^(removed|would remove): ' "$1" | sed -E 's/^[a-z ]+: //; s/ in [0-9.]+s$//'; }
# expect_dry_run_changes_nothing LABEL ARGS...: snapshots, dry run, snapshots.
expect_dry_run_changes_nothing() {
    local label=$1
    shift
    tree_snapshot "$W/tree.before"
    db_dump "$W/db.before"
    gc_ok --dry-run "$@"
    DRY_OUT=$GC_OUT
    tree_snapshot "$W/tree.after"
    db_dump "$W/db.after"
    check; cmp -s "$W/tree.before" "$W/tree.after" ||
        fail "$label: the dry run changed the file tree: $(diff "$W/tree.before" "$W/tree.after" | head -20)"
    check; cmp -s "$W/db.before" "$W/db.after" ||
        fail "$label: the dry run changed the metadata: $(diff "$W/db.before" "$W/db.after" | head -20)"
    expect_eq "$(grep -c '^removed' "$DRY_OUT")" 0 "$label: a dry run says 'would remove', never 'removed'"
    expect_match "$(tail -1 "$DRY_OUT")" '^would remove: [0-9]+ blobs' "$label: dry-run summary line"
    expect_ne "$(wc -l <"$W/tree.before")" 0 "$label: the tree listing is not empty"
}

# ---- tags set at known, distinct seconds ---------------------------------------------
# T0: protected and old tags, other/app (no rule), an unreferenced blob and an upload.
for t in latest v1.0 v2.0; do tag_new keep/app $t >/dev/null; done
for t in latest v1.0 old1 old2; do tag_new age/app $t >/dev/null; done
for t in o1 o2 o3 o4; do tag_new other/app $t >/dev/null; done
tag_new other/solo only >/dev/null
mk_layer "$W/junk" 1234
JUNK=$(sha256_of "$W/junk")
push_files other/app "$W/junk"
random_file "$W/part" 64
http POST /v2/other/app/blobs/uploads/
UA=$(header Docker-Upload-UUID)
http PATCH "$(location)" --data-binary @"$W/part" -H 'Content-Type: application/octet-stream'
expect_status 202 "PATCH of an upload to abandon"
# Then one keep/app and one keep/lib tag per second.
for i in 1 2 3 4; do
    sleep 1.05
    tag_new keep/app a$i >/dev/null
    tag_new keep/lib b$i >/dev/null
done
# a1 set again (the same manifest): now the most recently set.
sleep 1.05
A1=$(push_manifest keep/app a1 "$TMP/img-keep_app-a1.json" $OCI_M)
expect_match "$A1" '^sha256:' "set a1 again"
NEW1=$(tag_new age/app new1)
expect_match "$NEW1" '^sha256:' "push age/app:new1"
check; [ "$(sql "SELECT COUNT(DISTINCT updated) FROM tags WHERE repo = 'keep/app' AND name LIKE 'a%'")" = 4 ] ||
    fail "the a1..a4 tags were not set in four distinct seconds: $(sql "SELECT name, updated FROM tags WHERE repo = 'keep/app'")"

# age/app's T0 tags were set an hour ago, new1 just now: max_age (10m) lies
# far from both, however long the machine takes between here and the runs
sql "UPDATE tags SET updated = updated - 3600 WHERE repo = 'age/app' AND name <> 'new1'"

cat >"$W/ret.json" <<'EOF'
{"gc": {"grace": "2s", "upload_ttl": "1s", "retention": [
  {"repository": "keep/*", "keep_last": 2, "protect": ["v*", "latest"]},
  {"repository": "age/*", "max_age": "10m", "protect": ["latest"]}
]}}
EOF

# ---- A. retention (delete_untagged off): dry run, then the real run --------------------
expect_dry_run_changes_nothing "retention" --config "$W/ret.json"
want_tags="tag age/app:old1
tag age/app:old2
tag age/app:v1.0
tag keep/app:a2
tag keep/app:a3
tag keep/lib:b1
tag keep/lib:b2"
expect_eq "$(removals "$DRY_OUT" | grep '^tag ')" "$want_tags" "tags the dry run says retention would remove"
expect_eq "$(removals "$DRY_OUT" | grep '^blob ')" "blob $JUNK" "blobs the dry run would remove"
expect_eq "$(removals "$DRY_OUT" | grep '^upload ')" "upload $UA" "uploads the dry run would remove"
expect_eq "$(tags_of keep/app)" '["a1","a2","a3","a4","latest","v1.0","v2.0"]' "the dry run removed no tag"
expect_eq "$(on_disk "$JUNK")" yes "the dry run removed no blob"
http GET "/v2/other/app/blobs/uploads/$UA"
expect_status 204 "the dry run removed no upload"

gc_ok --config "$W/ret.json"
expect_eq "$(removals "$GC_OUT")" "$(removals "$DRY_OUT")" "the real run removes exactly what the dry run listed"
expect_eq "$(summary_counts "$GC_OUT")" "$(summary_counts "$DRY_OUT")" "the real run's summary matches the dry run's"
expect_eq "$(tags_of keep/app)" '["a1","a4","latest","v1.0","v2.0"]' "keep_last 2: the two most recently set unprotected tags, and the protected ones"
expect_eq "$(tags_of keep/lib)" '["b3","b4"]' "keep_last 2 counts per repository"
expect_eq "$(tags_of age/app)" '["latest","new1"]' "max_age: old tags removed, protected and recent ones kept"
expect_eq "$(tags_of other/app)" '["o1","o2","o3","o4"]' "a repository no rule matches keeps every tag"
expect_eq "$(tags_of other/solo)" '["only"]' "a repository no rule matches keeps its tag"
expect_eq "$(on_disk "$JUNK")" no "the unreferenced blob is gone"
http GET "/v2/other/app/blobs/uploads/$UA"
expect_error 404 BLOB_UPLOAD_UNKNOWN
for t in a2 a3; do
    http GET "/v2/keep/app/manifests/$(sha256_of "$TMP/img-keep_app-$t.json")"
    expect_status 200 "without delete_untagged, the manifest of a tag retention removed stays ($t)"
done
all_tags >"$W/tags"
while read -r r t; do expect_pulls "$r" "$t" "after retention:"; done <"$W/tags"

# ---- B. untagged manifests and an emptied repository: dry run, then the real run ---------
http DELETE /v2/other/app/manifests/o4;   expect_status 202 "DELETE tag other/app:o4"
http DELETE /v2/other/solo/manifests/only; expect_status 202 "DELETE tag other/solo:only"
echo '{"gc": {"delete_untagged": true}}' >"$W/untagged.json"
sleep 1.1
expect_dry_run_changes_nothing "untagged" --config "$W/untagged.json" --grace 0s
want_manifests=$(for f in keep_app-a2 keep_app-a3 keep_lib-b1 keep_lib-b2 age_app-old1 age_app-old2 age_app-v1.0 other_app-o4 other_solo-only; do
    r=${f%%-*}; echo "manifest ${r/_//}@$(sha256_of "$TMP/img-$f.json")"; done | sort)
expect_eq "$(removals "$DRY_OUT" | grep '^manifest ')" "$want_manifests" "manifests the dry run says would go"
gc_ok --config "$W/untagged.json" --grace 0s
expect_eq "$(removals "$GC_OUT" | grep '^manifest ')" "$want_manifests" "manifests the real run removes"
check; over=$(comm -23 <(removals "$DRY_OUT") <(removals "$GC_OUT"))
[ -z "$over" ] || fail "the dry run listed what the real run did not remove: $over"
check; under=$(comm -13 <(removals "$DRY_OUT") <(removals "$GC_OUT"))
[ -z "$under" ] || fail "the dry run did not list $(wc -l <<<"$under") of the $(removals "$GC_OUT" | wc -l) things the real run removed (e.g. $(head -3 <<<"$under" | tr '\n' ';'))"
expect_eq "$(summary_counts "$GC_OUT")" "$(summary_counts "$DRY_OUT")" "the real run's summary (untagged) matches the dry run's"
expect_eq "$(curl -fsS "http://$REG/v2/_catalog" | jq -c .repositories)" '["age/app","keep/app","keep/lib","other/app"]' \
    "the emptied repository left the catalog"
all_tags >"$W/tags"
while read -r r t; do expect_pulls "$r" "$t" "after collecting untagged manifests:"; done <"$W/tags"
expect_eq "$(disk_blobs | tr '\n' ' ')" "$(reachable_blobs | tr '\n' ' ')" "blobs on disk = blobs reachable from the tags"
consistency_check "after retention"
finish
