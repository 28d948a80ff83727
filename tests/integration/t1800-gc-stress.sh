#!/bin/bash
# t1800-gc-stress: 4 writers (bash + curl) push random images (a shared base
# layer plus 1-3 unique layers of 2-100 KB, by monolithic upload, chunked
# upload or cross-repository mount) and delete tags and manifests, for
# GC_STRESS_SECONDS (default 60), while `berthd gc --grace 2s
# --delete-untagged` runs every second against the root berthd serves.
# A manifest PUT may lose the race (400 MANIFEST_BLOB_UNKNOWN: the writer
# pushes its blobs again and retries); any other error fails the test, and
# every image a writer pushed must pull back completely right away.
# Afterwards every remaining tag pulls and verifies with `skopeo copy` to an
# oci: layout, and after one more collection no blob unreachable from the
# tags is left on disk (nor any row, trash or upload file).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-gc.sh"
DURATION=${GC_STRESS_SECONDS:-60}
# what the run must have done, on any machine: the loops go on past
# DURATION until they have (bounded), so a slow machine only takes longer
MIN_IMAGES=5 MIN_GC_RUNS=20
GRACE=2
berthd_start
S=$TMP/s
mkdir -p "$S"
mk_layer "$S/base" 50000
BASE=$(sha256_of "$S/base")
push_files stress/shared "$S/base"
OCTET=(-H 'Content-Type: application/octet-stream')

# ---- a writer -------------------------------------------------------------------------
# Its errors go to $S/errors, its counters to $S/w<N>.count, its live tags to $S/w<N>.live.
writer() {
    local w=$1 end=$2 dir=$S/w$1 n=0 i
    local pushed=0 blobs=0 bytes=0 races=0 tagdel=0 digdel=0 mounts=0 chunked=0 pauses=0
    local live=()   # "repo tag digest"
    mkdir -p "$dir"
    err() { echo "writer $w: $*" >>"$S/errors"; }
    # req METHOD URL [curl args]: sets ST and the body in $dir/resp
    req() {
        local m=$1 u=$2
        shift 2
        ST=$(curl -sS -m 30 -o "$dir/resp" -D "$dir/hdr" -w '%{http_code}' -X "$m" "$@" "http://$REG$u" 2>"$dir/curl.err") || ST="000 $(cat "$dir/curl.err")"
    }
    hdr() { grep -i "^$1:" "$dir/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
    # put_blob REPO FILE: monolithic, chunked or (the base layer) mounted
    put_blob() {
        local repo=$1 f=$2 d loc sep
        d=$(sha256_of "$f")
        if [ "$d" = "$BASE" ] && [ "$repo" != stress/shared ] && [ $((RANDOM % 2)) = 0 ]; then
            req POST "/v2/$repo/blobs/uploads/?mount=$d&from=stress/shared"
            if [ "$ST" = 201 ]; then mounts=$((mounts + 1)); return 0; fi
            [ "$ST" = 202 ] || { err "mount $d into $repo: $ST $(head -c 300 "$dir/resp")"; return 1; }
            loc=$(hdr Location); loc=${loc#http://$REG}
            sep='?'; [[ $loc == *\?* ]] && sep='&'
            req PUT "$loc${sep}digest=$d" --data-binary @"$f" "${OCTET[@]}"
        elif [ $((RANDOM % 4)) = 0 ]; then
            chunked=$((chunked + 1))
            req POST "/v2/$repo/blobs/uploads/"
            [ "$ST" = 202 ] || { err "POST upload to $repo: $ST $(head -c 300 "$dir/resp")"; return 1; }
            loc=$(hdr Location); loc=${loc#http://$REG}
            local half=$(($(size_of "$f") / 2))
            head -c $half "$f" >"$dir/part1"
            tail -c +$((half + 1)) "$f" >"$dir/part2"
            req PATCH "$loc" --data-binary @"$dir/part1" "${OCTET[@]}"
            [ "$ST" = 202 ] || { err "PATCH upload in $repo: $ST $(head -c 300 "$dir/resp")"; return 1; }
            loc=$(hdr Location); loc=${loc#http://$REG}
            sep='?'; [[ $loc == *\?* ]] && sep='&'
            req PUT "$loc${sep}digest=$d" --data-binary @"$dir/part2" "${OCTET[@]}"
        else
            req POST "/v2/$repo/blobs/uploads/?digest=$d" --data-binary @"$f" "${OCTET[@]}"
        fi
        [ "$ST" = 201 ] || { err "push blob $d to $repo: $ST $(head -c 300 "$dir/resp")"; return 1; }
        blobs=$((blobs + 1))
        bytes=$((bytes + $(size_of "$f")))
    }
    # the time, and at least MIN_IMAGES each however slow the machine (bounded)
    while { [ $SECONDS -lt "$end" ] || [ $pushed -lt $MIN_IMAGES ]; } && [ $SECONDS -lt $((end + 90)) ]; do
        n=$((n + 1))
        local repo=stress/w$w tag=w$w-$n files=() layers=() nl d why attempt ok
        [ $((RANDOM % 3)) = 0 ] && repo=stress/shared
        mk_config "$dir/c$n"
        nl=$((1 + RANDOM % 3))
        layers=("$S/base")
        for ((i = 1; i <= nl; i++)); do
            mk_layer "$dir/l$n-$i" $((2048 + (RANDOM * 32768 + RANDOM) % 98000))
            layers+=("$dir/l$n-$i")
        done
        files=("$dir/c$n" "${layers[@]}")
        mk_manifest "$dir/m$n" "$dir/c$n" "${layers[@]}"
        d=$(sha256_of "$dir/m$n")
        ok=0
        for attempt in 1 2 3 4 5 6; do
            local t0=$EPOCHREALTIME paused=0
            for f in "${files[@]}"; do put_blob "$repo" "$f" || break 2; done
            # now and then, wait past the grace period: the collector may
            # unlink the blobs before the manifest arrives
            if [ $attempt = 1 ] && [ $((RANDOM % 8)) = 0 ]; then pauses=$((pauses + 1)); paused=1; sleep 3.6; fi
            req PUT "/v2/$repo/manifests/$tag" --data-binary @"$dir/m$n" -H "Content-Type: $OCI_M"
            if [ "$ST" = 201 ]; then ok=1; break; fi
            if [ "$ST" = 400 ] && [ "$(jq -r '.errors[0].code' "$dir/resp" 2>/dev/null)" = MANIFEST_BLOB_UNKNOWN ]; then
                races=$((races + 1))
                # one-second times: a link made less than GRACE seconds ago is never old enough
                if [ $paused = 0 ] && awk -v a="$t0" -v b="$EPOCHREALTIME" -v g=$GRACE 'BEGIN { exit !(b - a < g) }'; then
                    err "PUT $repo:$tag: MANIFEST_BLOB_UNKNOWN although its blobs were pushed less than ${GRACE}s before ($(head -c 300 "$dir/resp"))"
                fi
                continue
            fi
            err "PUT manifest $repo:$tag: $ST $(head -c 300 "$dir/resp")"
            break
        done
        if [ $ok = 1 ]; then
            pushed=$((pushed + 1))
            live+=("$repo $tag $d")
            [ "$(hdr Docker-Content-Digest)" = "$d" ] || err "PUT $repo:$tag: Docker-Content-Digest '$(hdr Docker-Content-Digest)', want $d"
            why=$(pull_check "$repo" "$tag") || err "image just pushed does not pull: $why"
        elif [ $attempt = 6 ]; then
            err "PUT manifest $repo:$tag: still MANIFEST_BLOB_UNKNOWN after 6 attempts"
        fi
        rm -f "$dir/l$n-"* "$dir/c$n"
        # delete something: always past 6 live tags, else one time in three
        if [ ${#live[@]} -gt 0 ] && { [ ${#live[@]} -gt 6 ] || [ $((RANDOM % 3)) = 0 ]; }; then
            i=$((RANDOM % ${#live[@]}))
            local r t dg
            read -r r t dg <<<"${live[i]}"
            if [ $((RANDOM % 4)) = 0 ]; then
                req DELETE "/v2/$r/manifests/$dg"
                digdel=$((digdel + 1))
            else
                req DELETE "/v2/$r/manifests/$t"
                tagdel=$((tagdel + 1))
            fi
            [ "$ST" = 202 ] || err "DELETE $r $t $dg: $ST $(head -c 300 "$dir/resp")"
            live=("${live[@]:0:i}" "${live[@]:i+1}")
        fi
    done
    printf '%s\n' "${live[@]}" | sed '/^$/d' >"$S/w$w.live"
    echo "$pushed $blobs $bytes $races $tagdel $digdel $mounts $chunked $pauses" >"$S/w$w.count"
}

# ---- the collector, every second --------------------------------------------------------
gc_loop() {
    local end=$1 i=0
    while { [ $SECONDS -lt "$end" ] || [ $i -lt $MIN_GC_RUNS ]; } && [ $SECONDS -lt $((end + 90)) ]; do
        i=$((i + 1))
        timeout 60 "$BERTHD" gc --root "$ROOT" --grace ${GRACE}s --delete-untagged >"$S/gc.$i.out" 2>&1
        echo $? >"$S/gc.$i.rc"
        sleep 1
    done
}

echo "  $DURATION s: 4 writers, berthd gc --grace ${GRACE}s --delete-untagged every second"
: >"$S/errors"
END=$((SECONDS + DURATION))
PIDS=()
for w in 1 2 3 4; do
    writer $w $END &
    PIDS+=($!)
    at_exit "kill ${PIDS[-1]}"
done
gc_loop $END &
GCPID=$!
at_exit "kill $GCPID"
# Wait, bounded: a writer finishes the image it is on (at most a few curl timeouts).
for pid in "${PIDS[@]}" $GCPID; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $((END + 120)) ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        fail "a writer or the collection loop ($pid) did not stop within 120 s of the end"
        kill "$pid"
    fi
    wait "$pid" 2>/dev/null
done

# ---- what happened ----------------------------------------------------------------------
read -r pushed blobs bytes races tagdel digdel mounts chunked pauses < <(cat "$S"/w?.count 2>/dev/null |
    awk '{ for (i = 1; i <= 9; i++) s[i] += $i } END { print s[1]+0, s[2]+0, s[3]+0, s[4]+0, s[5]+0, s[6]+0, s[7]+0, s[8]+0, s[9]+0 }')
expect_eq "$(ls "$S"/w?.count 2>/dev/null | wc -l)" 4 "writers that finished and reported"
gc_runs=$(ls "$S"/gc.*.rc 2>/dev/null | wc -l)
gc_failed=$(grep -lv '^0$' "$S"/gc.*.rc 2>/dev/null | wc -l)
gc_blobs=$(cat "$S"/gc.*.out 2>/dev/null | grep -c '^removed blob ')
gc_manifests=$(cat "$S"/gc.*.out 2>/dev/null | grep -c '^removed manifest ')
gc_bytes=$(cat "$S"/gc.*.out 2>/dev/null | sed -nE 's/^removed: [0-9]+ blobs \(([0-9]+) bytes freed\).*/\1/p' | awk '{ t += $1 } END { print t + 0 }')
echo "  pushed: $pushed images, $blobs blob uploads ($bytes bytes; $chunked chunked, $mounts mounts), $pauses pauses past the grace period"
echo "  races lost by writers (400 MANIFEST_BLOB_UNKNOWN, then retried): $races"
echo "  deleted: $tagdel tags, $digdel manifests by digest"
echo "  collected by $gc_runs runs: $gc_blobs blobs ($gc_bytes bytes), $gc_manifests manifests"
expect_eq "$(head -20 "$S/errors")" "" "writer errors"
expect_eq "$gc_failed" 0 "collections that failed"
[ "$gc_failed" -eq 0 ] || for f in $(grep -lv '^0$' "$S"/gc.*.rc | head -3); do sed 's/^/    /' "${f%.rc}.out" | tail -3 >&2; done
check; [ "$pushed" -ge $((4 * MIN_IMAGES)) ] || fail "only $pushed images pushed"
check; [ "$gc_runs" -ge $MIN_GC_RUNS ] || fail "only $gc_runs collections ran"
check; [ "$gc_blobs" -gt 0 ] || fail "the collections removed no blob"

# ---- every remaining tag pulls (skopeo, then by hand) --------------------------------------
all_tags | sort >"$S/tags"
cat "$S"/w?.live 2>/dev/null | awk '{ print $1, $2 }' | sort >"$S/tags.want"
expect_eq "$(cat "$S/tags")" "$(cat "$S/tags.want")" "the tags left are exactly those the writers did not delete"
mkdir -p "$TMP/out"
ntags=0
while read -r r t; do
    ntags=$((ntags + 1))
    check
    if ! timeout 60 skopeo copy -q --src-tls-verify=false "docker://$REG/$r:$t" "oci:$TMP/out/${r//\//_}:$t" \
        >"$S/skopeo.out" 2>&1; then
        fail "skopeo copy $r:$t: $(tail -3 "$S/skopeo.out")"
    fi
    expect_pulls "$r" "$t" "remaining tag:"
done <"$S/tags"
echo "  $ntags tags left, each pulled by skopeo and verified"

# ---- after one more collection, nothing unreachable is left --------------------------------
sleep $((GRACE + 1)).1
gc_ok --grace ${GRACE}s --delete-untagged
echo "  final collection: $(tail -1 "$GC_OUT")"
reachable_blobs >"$S/reachable"
disk_blobs >"$S/disk"
extra=$(comm -13 "$S/reachable" "$S/disk")
missing=$(comm -23 "$S/reachable" "$S/disk")
expect_eq "$(grep -c . <<<"$extra")" 0 \
    "unreachable blob files older than the grace period left on disk (e.g. $(head -3 <<<"$extra" | tr '\n' ' '))"
expect_eq "$missing" "" "blobs reachable from a tag missing on disk"
expect_eq "$(db_blobs | tr '\n' ' ')" "$(tr '\n' ' ' <"$S/reachable")" "blob rows = reachable blobs"
expect_eq "$(sql "SELECT COUNT(*) FROM manifests m WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo = m.repo AND t.digest = m.digest)")" 0 \
    "untagged manifests left"
expect_eq "$(trash_count)" 0 "files left in trash/"
expect_eq "$(find "$ROOT/uploads" -type f | wc -l)" 0 "files left in uploads/"
expect_eq "$(sql 'SELECT COUNT(*) FROM uploads')" 0 "upload sessions left"
consistency_check "after the stress"
finish
