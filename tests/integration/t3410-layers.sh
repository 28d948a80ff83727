#!/bin/bash
# t3410-layers: layers the store makes are kept uncompressed, and pushed as
# gzip.
#
#   - berth import writes the layer as a plain tar (OCI media type
#     ...layer.v1.tar), its digest its diff_id, the SHA-256 of its bytes;
#     nothing is left in tmp/ or pins/; history and images -a show it;
#   - berth push sends it as gzip (...tar+gzip) under a manifest of its own:
#     same config (same image ID, same diff_ids), a layer that gunzips to
#     the diff_id; the gzip form is made once (a second push, and a push to
#     another repository, reuse it, byte for byte, so the manifest digest
#     is the same);
#   - berth pull of that into another store: same image ID, runs; an
#     uncompressed layer a registry served as it is is pushed back as it is
#     (all digests kept, nothing compressed);
#   - berth save writes the layer as <diff_id>/layer.tar; berth load of it
#     gives the same image;
#   - history shows the ID of each entry's image when the store has it (an
#     untagged parent loaded beside its child), <missing> once it is gone;
#     images lists the untagged one as <none>:<none>;
#   - rmi keeps the blobs another image still uses (the layer and its gzip
#     form), and removes them with the last one.
# The stores ($BERTH_ROOT) and $HOME live in $TMP. Needs root for berth run.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need "$BERTHD" curl tar gzip sha256sum
at_exit 'for _r in "$TMP"/store*; do BERTH_ROOT=$_r timeout 20 "$BERTH" ps -aq | while read -r _c; do BERTH_ROOT=$_r timeout 20 "$BERTH" rm -f "$_c"; done; done'
blob() { echo "$BERTH_ROOT/blobs/sha256/${1#sha256:}"; }
blobs_verified() {
    local f bad=0
    for f in "$BERTH_ROOT"/blobs/sha256/*; do
        [ -e "$f" ] || continue
        [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "bad blob $f" >&2; bad=1; }
    done
    return $bad
}
count() { find "$1" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# ---- a registry, a rootfs --------------------------------------------------------------
berthd_start

mkdir -p "$TMP/rootfs/bin" "$TMP/rootfs/etc" "$TMP/rootfs/data"
cp "$BUSYBOX" "$TMP/rootfs/bin/busybox"
for c in sh cat ls sha256sum; do ln -s busybox "$TMP/rootfs/bin/$c"; done
GREETING="layers $RANDOM"
echo "$GREETING" >"$TMP/rootfs/etc/greeting"
ln "$TMP/rootfs/etc/greeting" "$TMP/rootfs/etc/hardlink"
head -c 1048576 /dev/urandom >"$TMP/rootfs/data/random"
yes berth | head -c 2097152 >"$TMP/rootfs/data/text"    # compresses well
RANDOM_SUM=$(sha256sum "$TMP/rootfs/data/random" | cut -d' ' -f1)
tar -C "$TMP/rootfs" --owner=0 --group=0 --numeric-owner -cf "$TMP/rootfs.tar" .

APP=$REG/t3410/app:v1

# ---- import: uncompressed --------------------------------------------------------------
bx import "$TMP/rootfs.tar" "$APP"
ok "berth import" || finish
IMPORT_DIGEST=$OUT
bx inspect "$APP"
ok "inspect after import"
ID=$(jq -r '.[0].Id' <<<"$OUT")
LAYER=$(jq -r '.[0].Layers[0].digest' <<<"$OUT")
expect_eq "$(jq -r '.[0].Layers[0].mediaType' <<<"$OUT")" application/vnd.oci.image.layer.v1.tar \
    "an imported layer is kept uncompressed"
expect_eq "$(jq -r '.[0].RootFS.Layers[0]' <<<"$OUT")" "$LAYER" "its digest is its diff_id"
expect_eq "$(jq -r '.[0].Layers[0].size' <<<"$OUT")" "$(stat -c %s "$(blob "$LAYER")")" "its size"
expect_eq "sha256:$(sha256sum "$(blob "$LAYER")" | cut -d' ' -f1)" "$LAYER" "the blob hashes to its name"
expect_eq "$(tar -xOf "$(blob "$LAYER")" etc/greeting)" "$GREETING" "the blob is the tar: etc/greeting"
expect_eq "$(tar -xOf "$(blob "$LAYER")" data/random | sha256sum | cut -d' ' -f1)" "$RANDOM_SUM" \
    "the blob is the tar: data/random"
expect_match "$(tar -tvf "$(blob "$LAYER")" etc/hardlink)" 'link to etc/greeting' "a hard link stays one"
expect_eq "$(count "$BERTH_ROOT/tmp")" 0 "import leaves nothing in tmp/"
expect_eq "$(count "$BERTH_ROOT/pins")" 0 "import leaves no pin once the image is named"
expect_eq "$(count "$BERTH_ROOT/gzip")" 0 "import compresses nothing"

bx history "$APP"
ok "history"
expect_eq "$(sed -n 2p <<<"$OUT" | awk '{print $1}')" "${ID:7:12}" "history: IMAGE of the top entry"
bx history --no-trunc "$APP"
ok "history --no-trunc"
expect_eq "$(sed -n 2p <<<"$OUT" | awk '{print $1}')" "$ID" "history --no-trunc: the full ID"
bx history -q "$APP"
expect_eq "$OUT" "${ID:7:12}" "history -q"
bx images -a
ok "images -a"
expect_eq "$(sed 1d <<<"$OUT" | awk '{print $1 ":" $2 " " $3}')" "$REG/t3410/app:v1 ${ID:7:12}" \
    "images -a: the imported image once"

# ---- push: gzip, once ----------------------------------------------------------------------
bx push "$APP"
ok "berth push" || finish
PUSH_DIGEST=$(grep -oE 'digest: sha256:[0-9a-f]{64}' <<<"$ERR" | cut -d' ' -f2)
expect_match "$PUSH_DIGEST" '^sha256:[0-9a-f]{64}$' "push prints the digest"
expect_ne "$PUSH_DIGEST" "$IMPORT_DIGEST" "the pushed manifest is not the stored one"
http GET /v2/t3410/app/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_status 200 "the pushed manifest"
cp "$BODY_FILE" "$TMP/pushed.json"
expect_eq "$(sha256_of "$TMP/pushed.json")" "$PUSH_DIGEST" "the registry's manifest hashes to the pushed digest"
expect_eq "$(jq -r .mediaType "$TMP/pushed.json")" application/vnd.oci.image.manifest.v1+json "pushed manifest type"
expect_eq "$(jq -r .config.digest "$TMP/pushed.json")" "$ID" "the pushed config is the stored one"
expect_eq "$(jq -r '.layers[0].mediaType' "$TMP/pushed.json")" application/vnd.oci.image.layer.v1.tar+gzip \
    "the pushed layer is gzip"
GZ=$(jq -r '.layers[0].digest' "$TMP/pushed.json")
GZ_SIZE=$(jq -r '.layers[0].size' "$TMP/pushed.json")
curl -fsS -o "$TMP/layer.gz" "http://$REG/v2/t3410/app/blobs/$GZ"
expect_eq "$(sha256_of "$TMP/layer.gz")" "$GZ" "the registry's layer hashes to its descriptor"
expect_eq "$(size_of "$TMP/layer.gz")" "$GZ_SIZE" "and has its size"
expect_eq "sha256:$(gzip -dc "$TMP/layer.gz" | sha256sum | cut -d' ' -f1)" "$LAYER" \
    "the gzip layer decompresses to the diff_id"
check; [ "$GZ_SIZE" -lt "$(stat -c %s "$(blob "$LAYER")")" ] || fail "the gzip layer is not smaller"
curl -fsS -o "$TMP/config.json" "http://$REG/v2/t3410/app/blobs/$ID"
expect_eq "$(jq -c .rootfs.diff_ids "$TMP/config.json")" "[\"$LAYER\"]" "the config's diff_ids stay"
expect_eq "$(cat "$BERTH_ROOT/gzip/${LAYER#sha256:}" 2>/dev/null | cut -d' ' -f1)" "$GZ" \
    "the store remembers the gzip form"
INODE=$(stat -c %i "$(blob "$GZ")")

bx push "$APP"
ok "berth push again"
expect_match "$ERR" 'Layer already exists' "the second push uploads no layer"
expect_match "$ERR" "digest: $PUSH_DIGEST" "the same digest"
expect_eq "$(stat -c %i "$(blob "$GZ")")" "$INODE" "the gzip form is not made again"
bx tag "$APP" "$REG/t3410/other:v1"
bx push "$REG/t3410/other:v1"
ok "berth push to another repository"
expect_match "$ERR" "digest: $PUSH_DIGEST" "another repository: the same manifest, byte for byte"
expect_eq "$(stat -c %i "$(blob "$GZ")")" "$INODE" "another repository: the gzip form is reused"
bx inspect "$APP"
expect_eq "$(jq -r '.[0].RepoDigests[0]' <<<"$OUT")" "$REG/t3410/app@$PUSH_DIGEST" \
    "after a push the name knows its registry digest"
expect_eq "$(jq -r '.[0].Layers[0].digest' <<<"$OUT")" "$LAYER" "the store's image is unchanged"
check; blobs_verified || fail "a blob of the store does not match its name after push"

# ---- pull back by berth, into another store ----------------------------------------------------
BERTH_ROOT=$TMP/store2 bx pull "$APP"
ok "berth pull into another store"
BERTH_ROOT=$TMP/store2 bx inspect "$APP"
expect_eq "$(jq -r '.[0].Id' <<<"$OUT")" "$ID" "pulled: the same image ID"
expect_eq "$(jq -r '.[0].ManifestDigest' <<<"$OUT")" "$PUSH_DIGEST" "pulled: the pushed manifest"
expect_eq "$(jq -r '.[0].Layers[0].digest' <<<"$OUT")" "$GZ" "pulled: the gzip layer"
if [ "$(id -u)" -eq 0 ]; then
    bx run --rm --network none "$APP" cat /etc/greeting
    ok "berth run of the uncompressed layer" && expect_eq "$OUT" "$GREETING" "run (uncompressed layer)"
    BERTH_ROOT=$TMP/store2 bx run --rm --network none "$APP" sha256sum /data/random
    ok "berth run of the pulled gzip layer" &&
        expect_eq "$(awk '{print $1}' <<<"$OUT")" "$RANDOM_SUM" "run (gzip layer)"
fi

# ---- an uncompressed layer a registry serves goes back as it is ----------------------------------
# (pull, then push elsewhere: every digest kept, as skopeo copy keeps them)
mkdir -p "$TMP/raw/etc" && echo raw >"$TMP/raw/etc/raw"
tar -C "$TMP/raw" --owner=0 --group=0 --numeric-owner -cf "$TMP/raw.tar" .
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$(sha256_of "$TMP/raw.tar")" >"$TMP/raw.config"
push_blob t3410/raw "$TMP/raw.tar" >/dev/null && push_blob t3410/raw "$TMP/raw.config" >/dev/null
jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$TMP/raw.config")" \
    --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar "$TMP/raw.tar")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' \
    | tr -d '\n' >"$TMP/raw.json"
RAW_D=$(push_manifest t3410/raw v1 "$TMP/raw.json" application/vnd.oci.image.manifest.v1+json)
BERTH_ROOT=$TMP/store5 bx pull "$REG/t3410/raw:v1"
ok "berth pull of an image with an uncompressed layer"
BERTH_ROOT=$TMP/store5 bx tag "$REG/t3410/raw:v1" "$REG/t3410/raw-copy:v1"
BERTH_ROOT=$TMP/store5 bx push -q "$REG/t3410/raw-copy:v1"
ok "berth push of it to another repository"
expect_eq "$OUT" "$RAW_D" "pushed back as it was served: the same manifest digest"
http HEAD "/v2/t3410/raw-copy/blobs/$(sha256_of "$TMP/raw.tar")"
expect_status 200 "the uncompressed layer itself is in the other repository"
expect_eq "$(ls "$TMP/store5/blobs/sha256" | wc -l)" 3 "nothing was compressed"

# ---- save and load ----------------------------------------------------------------------------------
bx save -o "$TMP/saved.tar" "$APP"
ok "berth save"
mkdir -p "$TMP/saved"
tar -C "$TMP/saved" -xf "$TMP/saved.tar"
LPATH=$(jq -r '.[0].Layers[0]' "$TMP/saved/manifest.json")
expect_eq "$LPATH" "${LAYER#sha256:}/layer.tar" "save: the layer under its diff_id"
expect_eq "sha256:$(sha256sum "$TMP/saved/$LPATH" | cut -d' ' -f1)" "$LAYER" "save: layer.tar is the diff_id's tar"
expect_eq "$(jq -r '.[0].Config' "$TMP/saved/manifest.json")" "${ID#sha256:}.json" "save: the config by ID"
BERTH_ROOT=$TMP/store3 bx load -i "$TMP/saved.tar"
ok "berth load of berth save"
BERTH_ROOT=$TMP/store3 bx inspect "$APP"
expect_eq "$(jq -r '.[0].Id' <<<"$OUT")" "$ID" "load: the same image ID"
expect_eq "$(jq -r '.[0].Layers[0].digest + " " + .[0].Layers[0].mediaType' <<<"$OUT")" \
    "$LAYER application/vnd.oci.image.layer.v1.tar" "load: the layer stays uncompressed"

# ---- history: the IMAGE of each entry an image of the store made -------------------------------
# a docker-archive of two images: the saved one, untagged, and one more
# layer over it (its history extended), tagged
S=$TMP/saved
mkdir -p "$TMP/l2/etc" && echo two >"$TMP/l2/etc/two"
tar -C "$TMP/l2" --owner=0 --group=0 --numeric-owner -cf "$TMP/l2.tar" .
L2=sha256:$(sha256sum "$TMP/l2.tar" | cut -d' ' -f1)
mkdir -p "$S/${L2#sha256:}" && cp "$TMP/l2.tar" "$S/${L2#sha256:}/layer.tar"
jq -c --arg l "$L2" '.rootfs.diff_ids += [$l] | .history += [{created: "2026-01-02T03:04:05Z", created_by: "/bin/sh -c echo two > /etc/two"}]' \
    "$S/${ID#sha256:}.json" | tr -d '\n' >"$TMP/top.json"
TOP_ID=sha256:$(sha256sum "$TMP/top.json" | cut -d' ' -f1)
cp "$TMP/top.json" "$S/${TOP_ID#sha256:}.json"
jq -n --arg a "${ID#sha256:}.json" --arg b "${TOP_ID#sha256:}.json" --arg l1 "$LPATH" \
    --arg l2 "${L2#sha256:}/layer.tar" --arg t "$REG/t3410/stack:v1" \
    '[{Config: $a, RepoTags: null, Layers: [$l1]}, {Config: $b, RepoTags: [$t], Layers: [$l1, $l2]}]' >"$S/manifest.json"
rm -f "$S/repositories"
tar -C "$S" -cf "$TMP/stack.tar" .
export BERTH_ROOT=$TMP/store4
bx load -i "$TMP/stack.tar"
ok "berth load of an image and its untagged parent"
expect_eq "$(sort <<<"$OUT")" "$(printf 'Loaded image ID: %s\nLoaded image: %s\n' "$ID" "$REG/t3410/stack:v1" | sort)" \
    "load names both"
bx history "$REG/t3410/stack:v1"
ok "history of the top image"
expect_eq "$(sed 1d <<<"$OUT" | awk '{print $1}' | paste -sd' ')" "${TOP_ID:7:12} ${ID:7:12}" \
    "history: each entry's image, as the store has them"
expect_match "$(sed -n 2p <<<"$OUT")" '/bin/sh -c echo two > /etc/two +[0-9.]+kB' "history: CREATED BY and SIZE"
bx history --no-trunc -q "$REG/t3410/stack:v1"
expect_eq "$(paste -sd' ' <<<"$OUT")" "$TOP_ID $ID" "history -q --no-trunc: full IDs"
bx images
ok "images with an untagged image"
expect_eq "$(sed 1d <<<"$OUT" | awk '{print $1 ":" $2 " " $3}' | sort | paste -sd' ')" \
    "$(printf '%s\n' "$REG/t3410/stack:v1 ${TOP_ID:7:12}" "<none>:<none> ${ID:7:12}" | sort | paste -sd' ')" \
    "images: the untagged image as <none>:<none>"
bx rmi "${ID:7:12}"
ok "rmi of the untagged image by ID"
bx history "$REG/t3410/stack:v1"
expect_eq "$(sed 1d <<<"$OUT" | awk '{print $1}' | paste -sd' ')" "${TOP_ID:7:12} <missing>" \
    "history: <missing> once that image is gone"
check; [ -e "$(blob "$LAYER")" ] || fail "rmi of the parent removed a layer the top image uses"
bx images -q
expect_eq "$OUT" "${TOP_ID:7:12}" "images -q after rmi of the untagged image"
export BERTH_ROOT=$TMP/store

# ---- rmi keeps what another image uses ------------------------------------------------------------
bx rmi "$REG/t3410/other:v1"
bx import "$TMP/rootfs.tar" "$REG/t3410/twin:v1"
ok "import of the same tarball under another name"
bx inspect "$REG/t3410/twin:v1"
TWIN_ID=$(jq -r '.[0].Id' <<<"$OUT")
expect_eq "$(jq -r '.[0].Layers[0].digest' <<<"$OUT")" "$LAYER" "the same tar: the same layer"
bx rmi "$APP"
ok "rmi of the first"
check; [ -e "$(blob "$LAYER")" ] || fail "rmi removed a layer the other image uses"
check; [ -e "$(blob "$GZ")" ] || fail "rmi removed the gzip form of a layer still used"
check; [ -e "$BERTH_ROOT/gzip/${LAYER#sha256:}" ] || fail "rmi forgot the gzip form of a layer still used"
check; [ ! -e "$(blob "$ID")" ] || fail "rmi left the config of the removed image"
check; [ -e "$(blob "$TWIN_ID")" ] || fail "rmi removed the other image's config"
bx rmi "$REG/t3410/twin:v1"
ok "rmi of the last"
expect_eq "$(count "$BERTH_ROOT/blobs/sha256")" 0 "rmi of the last image removes every blob"
expect_eq "$(count "$BERTH_ROOT/gzip")" 0 "and every gzip record"

if [ -n "${ASAN_OPTIONS:-}" ] && ls "$TMP/san"/* >/dev/null 2>&1; then
    check; fail "sanitizer reports: $(cat "$TMP"/san/* | head -20)"
fi
finish
