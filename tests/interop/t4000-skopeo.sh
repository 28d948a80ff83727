#!/bin/bash
# t4000-skopeo: skopeo against berthd.
#   - a 3-layer image in an OCI layout is copied to berthd and back to another
#     OCI layout: the manifest digest and every config/layer digest identical,
#     on berthd (HEAD manifest and blobs) and in the layout pulled back;
#   - skopeo inspect (parsed, --raw, --config --raw), list-tags, by tag and
#     by digest; a copy by digest;
#   - --format v2s2 (Docker schema2 manifest, same layers), registry-to-
#     registry copy between repositories;
#   - skopeo delete by digest and by tag: tags and manifest gone, other
#     repositories untouched, a second delete refused, a push again works.
# INTEROP_REGISTRY=peer runs it against Debian's docker-registry instead.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"
interop_require skopeo umoci jq curl
registry_start

TLS=(--tls-verify=false)
GREETING="t4000 says hello $RANDOM$RANDOM"
build_image "$TMP/oci" app "$GREETING"
D=$(oci_ref_digest "$TMP/oci" app)
mapfile -t PARTS < <(oci_image_digests "$TMP/oci" "$D")   # manifest, config, layers
CONFIG=${PARTS[1]}
LAYERS=("${PARTS[@]:2}")
check; [ ${#LAYERS[@]} -ge 3 ] || fail "the test image has ${#LAYERS[@]} layers, wanted 3"
EXPECT_BLOBS=$(printf '%s\n' "${PARTS[@]}" | sort)
R=t4000/app

# ---- push: oci layout -> berthd ---------------------------------------------
step "skopeo copy oci: -> docker:// (3 layers)" \
    skopeo copy --dest-tls-verify=false "oci:$TMP/oci:app" "docker://$REG/$R:v1"
expect_eq "$(reg_digest $R v1 "$OCI_MANIFEST")" "$D" "berthd's digest for $R:v1 is the layout's"
http GET "/v2/$R/manifests/v1" -H "Accept: $OCI_MANIFEST"
expect_status 200 "GET the pushed manifest"
expect_eq "$(sha256_of "$BODY_FILE")" "$D" "berthd serves the manifest byte for byte"
expect_eq "$(header Content-Type)" "$OCI_MANIFEST" "Content-Type of the manifest"
for b in "$CONFIG" "${LAYERS[@]}"; do
    http HEAD "/v2/$R/blobs/$b"
    expect_status 200 "HEAD blob $b"
    expect_eq "$(header Docker-Content-Digest)" "$b" "Docker-Content-Digest of blob $b"
    expect_eq "$(header Content-Length)" "$(size_of "$(oci_blob "$TMP/oci" "$b")")" "Content-Length of blob $b"
done

# ---- inspect and list-tags ---------------------------------------------------
if step "skopeo inspect by tag" skopeo inspect "${TLS[@]}" "docker://$REG/$R:v1"; then
    I=$TMP/step.log
    expect_eq "$(jq -r .Digest "$I")" "$D" "inspect: Digest"
    expect_eq "$(jq -r .Name "$I")" "$REG/$R" "inspect: Name"
    expect_eq "$(jq -c .Layers "$I")" "$(printf '%s\n' "${LAYERS[@]}" | jq -Rsc 'split("\n")[:-1]')" "inspect: Layers"
    expect_eq "$(jq -r '.Os + "/" + .Architecture' "$I")" linux/amd64 "inspect: platform"
    expect_eq "$(jq -c .Env "$I")" '["PATH=/bin"]' "inspect: Env"
    expect_eq "$(jq -c .RepoTags "$I")" '["v1"]' "inspect: RepoTags"
fi
step "skopeo inspect --raw" skopeo inspect "${TLS[@]}" --raw "docker://$REG/$R:v1" &&
    expect_eq "$(sha256_of "$TMP/step.log")" "$D" "inspect --raw is the manifest as pushed"
step "skopeo inspect --config --raw" skopeo inspect "${TLS[@]}" --config --raw "docker://$REG/$R:v1" &&
    expect_eq "$(sha256_of "$TMP/step.log")" "$CONFIG" "inspect --config --raw is the config blob"
step "skopeo inspect by digest" skopeo inspect "${TLS[@]}" "docker://$REG/$R@$D" &&
    expect_eq "$(jq -r .Digest "$TMP/step.log")" "$D" "inspect by digest: Digest"

step "skopeo copy to a second tag" skopeo copy --dest-tls-verify=false "oci:$TMP/oci:app" "docker://$REG/$R:v2"
step "skopeo list-tags" skopeo list-tags "${TLS[@]}" "docker://$REG/$R" &&
    expect_eq "$(jq -c '.Tags | sort' "$TMP/step.log")" '["v1","v2"]' "list-tags"

# ---- pull: berthd -> oci layout, by tag and by digest ------------------------
# pulled_back LAYOUT TAG WHAT: LAYOUT holds exactly the pushed image.
pulled_back() {
    expect_eq "$(oci_ref_digest "$1" "$2")" "$D" "$3: manifest digest"
    expect_eq "$(oci_blob_list "$1")" "$EXPECT_BLOBS" "$3: the blobs (manifest, config, every layer)"
    check; oci_blobs_verified "$1" || fail "$3: a blob does not match its digest"
    check; cmp -s "$(oci_blob "$1" "$D")" "$(oci_blob "$TMP/oci" "$D")" || fail "$3: the manifest differs"
}
step "skopeo copy docker:// -> oci: by tag" \
    skopeo copy --src-tls-verify=false "docker://$REG/$R:v1" "oci:$TMP/back:v1" &&
    pulled_back "$TMP/back" v1 "pulled back by tag"
step "skopeo copy docker:// -> oci: by digest" \
    skopeo copy --src-tls-verify=false "docker://$REG/$R@$D" "oci:$TMP/bydigest:pinned" &&
    pulled_back "$TMP/bydigest" pinned "pulled back by digest"

# ---- Docker schema2 ----------------------------------------------------------
DR=t4000/docker
if step "skopeo copy --format v2s2" \
    skopeo copy --dest-tls-verify=false --format v2s2 "oci:$TMP/oci:app" "docker://$REG/$DR:v1"; then
    http GET "/v2/$DR/manifests/v1" -H "Accept: $DOCKER_MANIFEST"
    expect_status 200 "GET the schema2 manifest"
    expect_eq "$(header Content-Type)" "$DOCKER_MANIFEST" "schema2: Content-Type"
    expect_eq "$(jq -r .mediaType "$BODY_FILE")" "$DOCKER_MANIFEST" "schema2: mediaType"
    DD=$(sha256_of "$BODY_FILE")
    expect_eq "$(header Docker-Content-Digest)" "$DD" "schema2: Docker-Content-Digest"
    expect_eq "$(jq -r '.layers[].digest' "$BODY_FILE")" "$(printf '%s\n' "${LAYERS[@]}")" "schema2: the same layers"
    step "skopeo copy of the schema2 image to dir:" \
        skopeo copy --src-tls-verify=false "docker://$REG/$DR:v1" "dir:$TMP/dir-v2s2" &&
        expect_eq "$(sha256_of "$TMP/dir-v2s2/manifest.json")" "$DD" "schema2 pulled back as is"
fi

# ---- registry to registry, another repository --------------------------------
CR=t4000/copy
step "skopeo copy docker:// -> docker:// (another repository)" \
    skopeo copy --src-tls-verify=false --dest-tls-verify=false "docker://$REG/$R:v1" "docker://$REG/$CR:v1"
expect_eq "$(reg_digest $CR v1 "$OCI_MANIFEST")" "$D" "the copy keeps the manifest digest"

# ---- delete ------------------------------------------------------------------
step "skopeo delete by digest" skopeo delete "${TLS[@]}" "docker://$REG/$R@$D"
step_fails "skopeo inspect by tag after delete" skopeo inspect "${TLS[@]}" "docker://$REG/$R:v1"
step_fails "skopeo inspect of the other tag after delete" skopeo inspect "${TLS[@]}" "docker://$REG/$R:v2"
step_fails "skopeo inspect by digest after delete" skopeo inspect "${TLS[@]}" "docker://$REG/$R@$D"
http GET "/v2/$R/manifests/$D" -H "Accept: $OCI_MANIFEST"
expect_error 404 MANIFEST_UNKNOWN
check
if skopeo list-tags "${TLS[@]}" "docker://$REG/$R" >"$TMP/tags.json" 2>&1; then
    [ "$(jq -c '.Tags // [] | map(select(. == "v1" or . == "v2"))' "$TMP/tags.json")" = '[]' ] ||
        fail "list-tags after delete still lists: $(jq -c .Tags "$TMP/tags.json")"
fi
step_fails "a second skopeo delete of the same digest" skopeo delete "${TLS[@]}" "docker://$REG/$R@$D"
step "another repository keeps the image" \
    skopeo copy --src-tls-verify=false "docker://$REG/$CR:v1" "oci:$TMP/survivor:v1" &&
    pulled_back "$TMP/survivor" v1 "pulled from the other repository after delete"
step "skopeo delete by tag" skopeo delete "${TLS[@]}" "docker://$REG/$DR:v1"
step_fails "skopeo inspect of the schema2 image after delete" skopeo inspect "${TLS[@]}" "docker://$REG/$DR:v1"
step "push again after delete" skopeo copy --dest-tls-verify=false "oci:$TMP/oci:app" "docker://$REG/$R:v3" &&
    expect_eq "$(reg_digest $R v3 "$OCI_MANIFEST")" "$D" "the image pushed again"
step "pull again after delete" skopeo copy --src-tls-verify=false "docker://$REG/$R:v3" "oci:$TMP/again:v3" &&
    pulled_back "$TMP/again" v3 "pulled after a push again"

finish
