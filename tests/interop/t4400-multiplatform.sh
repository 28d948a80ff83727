#!/bin/bash
# t4400-multiplatform: a multi-platform image through berthd with skopeo.
#   - an OCI image index of linux/amd64 and linux/arm64 images (umoci + jq)
#     is pushed with `skopeo copy --all` and pulled back whole with
#     `skopeo copy --all` to another OCI layout, by tag and by digest: the
#     index digest, every child manifest digest and every config and layer
#     identical, and nothing else;
#   - berthd serves the index byte for byte (Content-Type, digest) and each
#     child by digest; skopeo inspect picks linux/amd64 by default and
#     linux/arm64 with --override-arch; a copy without --all takes only
#     this machine's platform;
#   - the same index as a Docker manifest list (--format v2s2), pulled back
#     whole to a dir: byte for byte;
#   - deleting the index leaves its children, which are manifests of their own.
# INTEROP_REGISTRY=peer runs it against Debian's docker-registry instead.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"
interop_require skopeo umoci jq curl
registry_start

build_multiarch "$TMP/oci" multi
MD=$(oci_ref_digest "$TMP/oci" multi)
AMD64=$(oci_ref_digest "$TMP/oci" multi-amd64)
ARM64=$(oci_ref_digest "$TMP/oci" multi-arm64)
mapfile -t PARTS < <(oci_image_digests "$TMP/oci" "$MD")   # index, children, their blobs
EXPECT_BLOBS=$(printf '%s\n' "${PARTS[@]}" | sort -u)
check; [ "$(wc -l <<<"$EXPECT_BLOBS")" -ge 8 ] || fail "the test index has too few blobs: $EXPECT_BLOBS"
R=t4400/multi
TLS=(--tls-verify=false)

# ---- push with --all -----------------------------------------------------------
step "skopeo copy --all oci: -> berthd" \
    skopeo copy --all --dest-tls-verify=false "oci:$TMP/oci:multi" "docker://$REG/$R:v1" || finish
http GET "/v2/$R/manifests/v1" -H "Accept: $OCI_INDEX" -H "Accept: $OCI_MANIFEST"
expect_status 200 "GET the index by tag"
expect_eq "$(header Content-Type)" "$OCI_INDEX" "the index: Content-Type"
expect_eq "$(header Docker-Content-Digest)" "$MD" "the index: Docker-Content-Digest"
check; cmp -s "$BODY_FILE" "$(oci_blob "$TMP/oci" "$MD")" || fail "berthd does not serve the index byte for byte"
for c in "$AMD64" "$ARM64"; do
    http GET "/v2/$R/manifests/$c" -H "Accept: $OCI_MANIFEST"
    expect_status 200 "GET child $c by digest"
    expect_eq "$(sha256_of "$BODY_FILE")" "$c" "child $c: the body"
    expect_eq "$(header Content-Type)" "$OCI_MANIFEST" "child $c: Content-Type"
    for b in $(jq -r '.config.digest, .layers[].digest' "$BODY_FILE"); do
        http HEAD "/v2/$R/blobs/$b"
        expect_status 200 "HEAD blob $b of child $c"
    done
done

# ---- inspect -------------------------------------------------------------------
step "skopeo inspect --raw of the index" skopeo inspect "${TLS[@]}" --raw "docker://$REG/$R:v1" &&
    expect_eq "$(sha256_of "$TMP/step.log")" "$MD" "inspect --raw is the index as pushed"
step "skopeo inspect (this machine's platform)" skopeo inspect "${TLS[@]}" "docker://$REG/$R:v1" &&
    expect_eq "$(jq -r '.Os + "/" + .Architecture' "$TMP/step.log")" linux/amd64 "inspect picks linux/amd64"
step "skopeo inspect --override-arch arm64" skopeo inspect "${TLS[@]}" --override-arch arm64 "docker://$REG/$R:v1" &&
    expect_eq "$(jq -r '.Architecture' "$TMP/step.log")" arm64 "inspect --override-arch arm64"
step "skopeo inspect of the arm64 child by digest" skopeo inspect "${TLS[@]}" "docker://$REG/$R@$ARM64" &&
    expect_eq "$(jq -r '.Digest + " " + .Architecture' "$TMP/step.log")" "$ARM64 arm64" "inspect of the arm64 child"

# ---- pull back whole, by tag and by digest -------------------------------------
# whole LAYOUT TAG WHAT: LAYOUT holds the index under TAG and exactly its blobs.
whole() {
    expect_eq "$(oci_ref_digest "$1" "$2")" "$MD" "$3: the index digest"
    expect_eq "$(oci_blob_list "$1")" "$EXPECT_BLOBS" "$3: the index, both children, every config and layer"
    check; oci_blobs_verified "$1" || fail "$3: a blob does not match its digest"
    check; cmp -s "$(oci_blob "$1" "$MD")" "$(oci_blob "$TMP/oci" "$MD")" || fail "$3: the index differs"
}
step "skopeo copy --all berthd -> oci: by tag" \
    skopeo copy --all --src-tls-verify=false "docker://$REG/$R:v1" "oci:$TMP/back:v1" &&
    whole "$TMP/back" v1 "pulled back whole by tag"
step "skopeo copy --all berthd -> oci: by digest" \
    skopeo copy --all --src-tls-verify=false "docker://$REG/$R@$MD" "oci:$TMP/bydigest:pinned" &&
    whole "$TMP/bydigest" pinned "pulled back whole by digest"
if step "skopeo copy (no --all): this machine's platform only" \
    skopeo copy --src-tls-verify=false "docker://$REG/$R:v1" "oci:$TMP/single:v1"; then
    expect_eq "$(oci_ref_digest "$TMP/single" v1)" "$AMD64" "without --all: the amd64 manifest"
    expect_eq "$(oci_blob_list "$TMP/single")" "$(oci_image_digests "$TMP/oci" "$AMD64" | sort -u)" \
        "without --all: the amd64 image's blobs only"
fi

# ---- a Docker manifest list ----------------------------------------------------
LR=t4400/list
if step "skopeo copy --all --format v2s2 (a Docker manifest list)" \
    skopeo copy --all --format v2s2 --dest-tls-verify=false "oci:$TMP/oci:multi" "docker://$REG/$LR:v1"; then
    http GET "/v2/$LR/manifests/v1" -H "Accept: $DOCKER_LIST" -H "Accept: $DOCKER_MANIFEST"
    expect_status 200 "GET the manifest list"
    expect_eq "$(header Content-Type)" "$DOCKER_LIST" "the manifest list: Content-Type"
    LD=$(sha256_of "$BODY_FILE")
    expect_eq "$(header Docker-Content-Digest)" "$LD" "the manifest list: Docker-Content-Digest"
    expect_eq "$(jq -r '[.manifests[] | .platform.os + "/" + .platform.architecture] | join(" ")' "$BODY_FILE")" \
        "linux/amd64 linux/arm64" "the manifest list: platforms"
    mapfile -t LCHILD < <(jq -r '.manifests[].digest' "$BODY_FILE")
    if step "skopeo copy --all of the manifest list to dir:" \
        skopeo copy --all --src-tls-verify=false "docker://$REG/$LR:v1" "dir:$TMP/list-dir"; then
        expect_eq "$(sha256_of "$TMP/list-dir/manifest.json")" "$LD" "the manifest list pulled back as is"
        for c in "${LCHILD[@]}"; do
            f=$TMP/list-dir/${c#sha256:}.manifest.json
            expect_eq "$(sha256_of "$f" 2>/dev/null)" "$c" "child $c of the list pulled back as is"
            expect_eq "$(jq -r .mediaType "$f" 2>/dev/null)" "$DOCKER_MANIFEST" "child $c is a schema2 manifest"
            for b in $(jq -r '.layers[].digest' "$f" 2>/dev/null); do
                check; [ "$(sha256_of "$TMP/list-dir/${b#sha256:}" 2>/dev/null)" = "$b" ] ||
                    fail "layer $b of the list's child $c was not pulled back"
            done
        done
    fi
fi

# ---- delete the index: the children stay ---------------------------------------
if step "skopeo delete of the index" skopeo delete "${TLS[@]}" "docker://$REG/$R@$MD"; then
    http GET "/v2/$R/manifests/$MD" -H "Accept: $OCI_INDEX"
    expect_error 404 MANIFEST_UNKNOWN
    for c in "$AMD64" "$ARM64"; do
        http GET "/v2/$R/manifests/$c" -H "Accept: $OCI_MANIFEST"
        expect_status 200 "child $c after the index was deleted"
    done
fi

finish
