#!/bin/bash
# t3090-pull-disk-full: berth pull into a store ($BERTH_ROOT) on a small
# tmpfs that runs out of space (mounted by the test under $TMP, unmounted
# at exit). The pull fails with one clear line that says the disk is full,
# leaves nothing half-written in the store (no download left in tmp/, no
# blob that is not whole, no half image named), `berth images` still lists
# what was there, and once space returns (the filler file is deleted) the
# same pull succeeds (`berth inspect` and `berth images` show it). A
# store first made on a full disk works (a whole oci-layout) once there is
# room.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-runtime.sh"

MNT=$TMP/mnt
small_disk "$MNT" 16m
export BERTH_ROOT=$MNT/store
berthd_start


# image REPO TAG BYTES: push an image with one uncompressed layer holding
# BYTES of random data (a real tar, its diff_id right).
image() {
    local d=$TMP/img-$2
    mkdir -p "$d/root"
    head -c "$3" /dev/urandom >"$d/root/data-$2"
    tar -C "$d/root" -cf "$d/layer.tar" .
    local diff
    diff=$(sha256_of "$d/layer.tar")
    jq -cn --arg diff "$diff" \
        '{architecture: "amd64", os: "linux", config: {Cmd: ["/bin/sh"]},
          rootfs: {type: "layers", diff_ids: [$diff]}}' | tr -d '\n' >"$d/config.json"
    push_blob "$1" "$d/config.json" >/dev/null && push_blob "$1" "$d/layer.tar" >/dev/null || return 1
    jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$d/config.json")" \
        --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar "$d/layer.tar")" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' \
        | tr -d '\n' >"$d/manifest.json"
    push_manifest "$1" "$2" "$d/manifest.json" application/vnd.oci.image.manifest.v1+json >/dev/null
}
image pf/small 1 4096 || { fail "push of the small image"; finish; }
image pf/big 1 $((6 * 1024 * 1024)) || { fail "push of the big image"; finish; }
BIGLAYER=$(sha256_of "$TMP/img-1/layer.tar")

# files in the store's blobs/ whose content is not their name
bad_blobs() {
    local f n=0
    for f in "$BERTH_ROOT"/blobs/sha256/*; do
        [ -f "$f" ] || continue
        [ "sha256:$(basename "$f")" = "$(sha256_of "$f")" ] || n=$((n + 1))
    done
    echo "$n"
}
downloads() { find "$BERTH_ROOT/tmp" -type f 2>/dev/null | wc -l; }

bx pull -q "$REG/pf/small:1"
ok "pull of the small image"
bx images
ok "images after the first pull"
expect_match "$OUT" "$REG/pf/small +1 " "the small image is listed"

# ---- the pull that does not fit ------------------------------------------------
disk_fill $((2 * 1024 * 1024))
before=$(disk_avail)
bx pull -q "$REG/pf/big:1"
rc_fails "pull with the store's disk full"
one_line "pull with the store's disk full" '^berth pull: .*([Nn]o space left|disk is full)'
expect_eq "$(downloads)" 0 "downloads left in the store's tmp/"
expect_eq "$(bad_blobs)" 0 "blobs in the store that are not whole"
check; [ -e "$BERTH_ROOT/blobs/sha256/${BIGLAYER#sha256:}" ] && fail "the big layer is in the store"
now=$(disk_avail)
check; [ "$now" -ge $((before - 262144)) ] || fail "the failed pull still holds space: $before bytes free before, $now after"
bx images
ok "images with the disk full"
expect_match "$OUT" "$REG/pf/small +1 " "the small image is still listed"
check; grep -q "pf/big" <<<"$OUT" && fail "a half-pulled image is listed: $OUT"
bx inspect "$REG/pf/big:1"
rc_fails "inspect of the image that did not fit"
bx inspect "$REG/pf/small:1"
ok "inspect of the small image with the disk full"

# without -q: the progress may be shown, but the error is one line, last
bx pull "$REG/pf/big:1"
rc_fails "pull without -q with the disk full"
check; [ "$(grep -c '^berth pull:' <<<"$ERR")" -eq 1 ] && [[ $(tail -n 1 <<<"$ERR") == "berth pull:"* ]] ||
    fail "pull without -q: one 'berth pull:' line last on stderr, got: $ERR"
check; grep -q '^retrying' <<<"$ERR" && fail "a full disk is retried: $ERR"
expect_eq "$(downloads)" 0 "downloads left after the second failed pull"

# ---- space returns ---------------------------------------------------------------
disk_unfill
bx pull -q "$REG/pf/big:1"
ok "pull once space is back"
bx images
expect_match "$OUT" "$REG/pf/big +1 " "the big image is listed"
expect_match "$OUT" "$REG/pf/small +1 " "the small image is still listed"
expect_eq "$(bad_blobs)" 0 "blobs in the store that are not whole, at the end"
bx inspect "$REG/pf/big:1"
ok "inspect of the big image"

# ---- a store made on a full disk ---------------------------------------------------
export BERTH_ROOT=$MNT/store2
disk_fill 0
bx pull -q "$REG/pf/small:1"
rc_fails "pull into a new store on a full disk"
one_line "pull into a new store on a full disk" '^berth pull: .*([Nn]o space left|disk is full)'
bx images
ok "images of the new store on a full disk"
expect_eq "$(sed 1d <<<"$OUT")" "" "images of the new store on a full disk: none"
disk_unfill
bx pull -q "$REG/pf/small:1"
ok "pull into the new store once space is back"
expect_eq "$(jq -r .imageLayoutVersion "$BERTH_ROOT/oci-layout" 2>/dev/null)" 1.0.0 "the new store's oci-layout"
bx images
expect_match "$OUT" "$REG/pf/small +1 " "the small image in the new store"

finish
