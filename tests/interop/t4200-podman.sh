#!/bin/bash
# t4200-podman: podman (4.3, vfs storage in $TMP; push and pull only,
# `podman run` fails on this machine's rlimits) against berthd.
#   - podman pull of a 3-layer OCI image skopeo pushed: by tag and, after
#     podman rmi, by digest; the digest and image id are the pushed ones;
#   - podman push to another repository (--digestfile is what berthd serves,
#     the config is unchanged), podman rmi, pull back: the same image id;
#   - podman push --format v2s2: berthd stores a Docker schema2 manifest,
#     and podman pulls it back;
#   - podman pull --arch arm64 of an OCI index picks the arm64 image.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"
interop_require podman skopeo umoci jq curl
registry_start

PODMAN=(podman --root "$TMP/podman/root" --runroot "$TMP/podman/run" --storage-driver vfs
        --cgroup-manager cgroupfs --events-backend none)
at_exit '"${PODMAN[@]}" rmi -af'
P=(--tls-verify=false)

GREETING="t4200 says hello $RANDOM$RANDOM"
build_image "$TMP/oci" app "$GREETING"
build_multiarch "$TMP/oci" multi
D=$(oci_ref_digest "$TMP/oci" app)
ID=$(jq -r .config.digest "$(oci_blob "$TMP/oci" "$D")")
R=t4200/app
IMG=$REG/$R:v1

# pinspect REF FORMAT: podman image inspect --format FORMAT REF.
pinspect() { timeout 60 "${PODMAN[@]}" image inspect --format "$2" "$1" 2>&1; }
# prmi_all: remove every image from podman's store, and check it did.
prmi_all() {
    timeout 60 "${PODMAN[@]}" rmi -af >/dev/null 2>&1
    check
    [ -z "$(timeout 60 "${PODMAN[@]}" images -q 2>&1)" ] || fail "podman rmi -af left images: $("${PODMAN[@]}" images 2>&1)"
}

step "skopeo copy oci: -> berthd" skopeo copy --dest-tls-verify=false "oci:$TMP/oci:app" "docker://$IMG" || finish

# ---- pull by tag, by digest --------------------------------------------------
if step "podman pull by tag" "${PODMAN[@]}" pull "${P[@]}" "$IMG"; then
    expect_eq "$(tail -1 "$TMP/step.log")" "${ID#sha256:}" "podman pull by tag prints the image id"
    expect_eq "$(pinspect "$IMG" '{{.Digest}}')" "$D" "podman pull by tag: digest"
    expect_eq "$(pinspect "$IMG" '{{.Id}}')" "${ID#sha256:}" "podman pull by tag: image id"
    expect_eq "$(pinspect "$IMG" '{{len .RootFS.Layers}}')" 3 "podman pull by tag: 3 layers"
fi
prmi_all
if step "podman pull by digest" "${PODMAN[@]}" pull "${P[@]}" "$REG/$R@$D"; then
    expect_eq "$(pinspect "$REG/$R@$D" '{{.Id}}')" "${ID#sha256:}" "podman pull by digest: image id"
    expect_match "$(pinspect "$REG/$R@$D" '{{.RepoDigests}}')" "$REG/$R@$D" "podman pull by digest: RepoDigests"
fi

# ---- push, rmi, pull back ----------------------------------------------------
PUSHED=$REG/t4200/pushed:v1
if step "podman tag" "${PODMAN[@]}" tag "${ID#sha256:}" "$PUSHED" &&
   step "podman push" "${PODMAN[@]}" push "${P[@]}" --digestfile "$TMP/pushed.digest" "$PUSHED"; then
    PD=$(cat "$TMP/pushed.digest")
    expect_match "$PD" '^sha256:[0-9a-f]{64}$' "podman push --digestfile"
    expect_eq "$(reg_digest t4200/pushed v1 "$OCI_MANIFEST" "$DOCKER_MANIFEST")" "$PD" "berthd's digest is podman's"
    http GET /v2/t4200/pushed/manifests/v1 -H "Accept: $OCI_MANIFEST" -H "Accept: $DOCKER_MANIFEST"
    expect_eq "$(sha256_of "$BODY_FILE")" "$PD" "berthd serves podman's manifest byte for byte"
    expect_eq "$(jq -r .config.digest "$BODY_FILE")" "$ID" "podman push keeps the config"
    expect_eq "$(jq '.layers | length' "$BODY_FILE")" 3 "podman pushed 3 layers"
    for b in $(jq -r '.config.digest, .layers[].digest' "$BODY_FILE"); do
        http HEAD "/v2/t4200/pushed/blobs/$b"
        expect_status 200 "HEAD of blob $b podman pushed"
    done
    prmi_all
    if step "podman pull of what podman pushed" "${PODMAN[@]}" pull "${P[@]}" "$PUSHED"; then
        expect_eq "$(pinspect "$PUSHED" '{{.Id}}')" "${ID#sha256:}" "pulled back: image id"
        expect_eq "$(pinspect "$PUSHED" '{{.Digest}}')" "$PD" "pulled back: digest"
    fi
    step "skopeo copy of what podman pushed" \
        skopeo copy --src-tls-verify=false "docker://$PUSHED" "oci:$TMP/from-podman:v1" &&
        expect_eq "$(oci_ref_digest "$TMP/from-podman" v1)" "$PD" "skopeo pulls podman's manifest"
fi

# ---- push --format v2s2 ------------------------------------------------------
V2=$REG/t4200/v2s2:v1
if step "podman tag (v2s2)" "${PODMAN[@]}" tag "${ID#sha256:}" "$V2" &&
   step "podman push --format v2s2" "${PODMAN[@]}" push "${P[@]}" --format v2s2 --digestfile "$TMP/v2.digest" "$V2"; then
    VD=$(cat "$TMP/v2.digest")
    http GET /v2/t4200/v2s2/manifests/v1 -H "Accept: $DOCKER_MANIFEST"
    expect_status 200 "GET the v2s2 manifest"
    expect_eq "$(header Content-Type)" "$DOCKER_MANIFEST" "podman push --format v2s2: Content-Type"
    expect_eq "$(jq -r .mediaType "$BODY_FILE")" "$DOCKER_MANIFEST" "podman push --format v2s2: mediaType"
    expect_eq "$(sha256_of "$BODY_FILE")" "$VD" "podman push --format v2s2: berthd's digest is podman's"
    prmi_all
    step "podman pull of the v2s2 image" "${PODMAN[@]}" pull "${P[@]}" "$V2" &&
        expect_eq "$(pinspect "$V2" '{{.Digest}}')" "$VD" "v2s2 pulled back: digest"
fi

# ---- an index: --arch picks the platform -------------------------------------
MULTI=$REG/t4200/multi:v1
MD=$(oci_ref_digest "$TMP/oci" multi)
ARM64=$(oci_ref_digest "$TMP/oci" multi-arm64)
if step "skopeo copy --all of an index" \
    skopeo copy --all --dest-tls-verify=false "oci:$TMP/oci:multi" "docker://$MULTI" &&
   step "podman pull --arch arm64 of an index" "${PODMAN[@]}" pull "${P[@]}" --arch arm64 "$MULTI"; then
    expect_eq "$(pinspect "$MULTI" '{{.Architecture}}')" arm64 "podman pull --arch arm64: architecture"
    expect_eq "$(pinspect "$MULTI" '{{.Id}}')" "$(jq -r '.config.digest | ltrimstr("sha256:")' "$(oci_blob "$TMP/oci" "$ARM64")")" \
        "podman pull --arch arm64: the arm64 image"
    expect_match "$(pinspect "$MULTI" '{{.RepoDigests}}')" "$REG/t4200/multi@$MD" "podman pull of an index: RepoDigests names the index"
fi

finish
