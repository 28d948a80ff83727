#!/bin/bash
# t4100-docker: the docker engine (20.10, /usr/bin/docker) against berthd.
#   - a 3-layer busybox image (umoci) goes into docker by `docker load` of a
#     docker-archive made by skopeo; docker push to berthd (schema2, layers
#     compressed by docker); the digest docker prints is the one berthd serves;
#   - the image is removed locally (docker rmi -f of its id), pulled back by
#     tag (same digest, same image id) and run with --network none; removed
#     again, pulled by digest and run by digest;
#   - a second push says "Layer already exists"; a push to another repository
#     of the same registry mounts the layers ("Mounted from");
#   - docker pull of an OCI manifest pushed by skopeo, and of an OCI index
#     (linux/amd64 + linux/arm64: docker picks amd64 and runs it).
# dockerd is started when none answers and stopped at exit if started here;
# every docker image made here is removed at exit.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"
interop_require "$DOCKER" dockerd skopeo umoci jq curl
docker_up
registry_start

GREETING="t4100 says hello $RANDOM$RANDOM"
build_image "$TMP/oci" app "$GREETING"
build_multiarch "$TMP/oci" multi
R=t4100/app
IMG=$REG/$R:v1

# image_id REF: docker's image id for REF (empty if it has none).
image_id() { timeout 60 "$DOCKER" image inspect -f '{{.Id}}' "$1" 2>/dev/null; }
# gone ID: docker no longer has the image ID.
gone() {
    timeout 60 "$DOCKER" rmi -f "$1" >/dev/null 2>&1
    check
    image_id "$1" >/dev/null && fail "docker rmi -f $1 left the image in docker"
}
# runs REF EXPECTED WHAT FILE: `docker run --network none REF cat FILE` prints EXPECTED.
runs() {
    step "$3: docker run" "$DOCKER" run --rm --network none "$1" cat "$4" &&
        expect_eq "$(cat "$TMP/step.log")" "$2" "$3: docker run output"
}

# ---- into docker by docker load ----------------------------------------------
step "skopeo copy oci: -> docker-archive:" \
    skopeo copy "oci:$TMP/oci:app" "docker-archive:$TMP/app.tar:$IMG" || finish
docker_forget "$IMG"
step "docker load" "$DOCKER" load -i "$TMP/app.tar" || finish
ID=$(image_id "$IMG")
docker_forget "$ID"
expect_match "$ID" '^sha256:[0-9a-f]{64}$' "docker load gives an image id"
check; [ "$ID" = "$(jq -r .config.digest "$(oci_blob "$TMP/oci" "$(oci_ref_digest "$TMP/oci" app)")")" ] ||
    fail "docker's image id $ID is not the umoci config digest"

# ---- docker push -------------------------------------------------------------
if ! step "docker push" "$DOCKER" push "$IMG"; then
    finish
fi
PUSH_LOG=$(cat "$TMP/step.log")
PD=$(grep -oE 'digest: sha256:[0-9a-f]{64}' <<<"$PUSH_LOG" | cut -d' ' -f2)
expect_match "$PD" '^sha256:[0-9a-f]{64}$' "docker push prints a digest"
expect_eq "$(grep -c ': Pushed$' <<<"$PUSH_LOG")" 3 "docker push uploads 3 layers"
expect_eq "$(reg_digest $R v1 "$DOCKER_MANIFEST")" "$PD" "berthd's digest for $R:v1 is docker's"
http GET "/v2/$R/manifests/v1" -H "Accept: $DOCKER_MANIFEST"
expect_eq "$(header Content-Type)" "$DOCKER_MANIFEST" "docker pushed a schema2 manifest"
expect_eq "$(sha256_of "$BODY_FILE")" "$PD" "berthd serves docker's manifest byte for byte"
expect_eq "$(jq -r .config.digest "$BODY_FILE")" "$ID" "the pushed config is the image id"
expect_eq "$(jq '.layers | length' "$BODY_FILE")" 3 "the pushed manifest has 3 layers"
step "skopeo inspect of docker's push" skopeo inspect --tls-verify=false "docker://$IMG" &&
    expect_eq "$(jq -r .Digest "$TMP/step.log")" "$PD" "skopeo sees docker's digest"

step "docker push again" "$DOCKER" push "$IMG" &&
    expect_eq "$(grep -c 'Layer already exists' "$TMP/step.log")" 3 "a second push finds the 3 layers"

# ---- rmi, pull by tag, run ---------------------------------------------------
gone "$ID"
if step "docker pull by tag" "$DOCKER" pull "$IMG"; then
    expect_match "$(cat "$TMP/step.log")" "Digest: $PD" "docker pull by tag: digest"
    expect_eq "$(grep -c 'Pull complete' "$TMP/step.log")" 3 "docker pull downloads 3 layers"
    expect_eq "$(image_id "$IMG")" "$ID" "docker pull by tag: the same image id"
    runs "$IMG" "$GREETING" "pulled by tag" /etc/greeting
fi

# ---- rmi, pull by digest, run by digest --------------------------------------
gone "$ID"
BYDIGEST=$REG/$R@$PD
if step "docker pull by digest" "$DOCKER" pull "$BYDIGEST"; then
    expect_eq "$(image_id "$BYDIGEST")" "$ID" "docker pull by digest: the same image id"
    expect_match "$("$DOCKER" image inspect -f '{{join .RepoDigests " "}}' "$ID" 2>&1)" "$REG/$R@$PD" \
        "docker pull by digest: RepoDigests"
    runs "$BYDIGEST" "$GREETING" "pulled by digest" /etc/greeting
fi

# ---- push to another repository: cross-repository mount ----------------------
MNT=$REG/t4100/mounted:v1
docker_forget "$MNT"
step "docker pull by tag (for the mount)" "$DOCKER" pull "$IMG"
if step "docker tag" "$DOCKER" tag "$ID" "$MNT" && step "docker push to another repository" "$DOCKER" push "$MNT"; then
    expect_eq "$(grep -c "Mounted from $R" "$TMP/step.log")" 3 "docker mounts the 3 layers from $R"
    expect_eq "$(reg_digest t4100/mounted v1 "$DOCKER_MANIFEST")" "$PD" "the mounted image has docker's digest"
fi

# ---- docker pull of what skopeo pushed (OCI manifest) ------------------------
gone "$ID"
OCIIMG=$REG/t4100/oci:v1
docker_forget "$OCIIMG"
OD=$(oci_ref_digest "$TMP/oci" app)
if step "skopeo copy oci: -> berthd" skopeo copy --dest-tls-verify=false "oci:$TMP/oci:app" "docker://$OCIIMG" &&
   step "docker pull of an OCI manifest" "$DOCKER" pull "$OCIIMG"; then
    expect_match "$(cat "$TMP/step.log")" "Digest: $OD" "docker pull of an OCI manifest: digest"
    expect_eq "$(image_id "$OCIIMG")" "$ID" "docker pull of an OCI manifest: the same image id"
    runs "$OCIIMG" "$GREETING" "pulled as OCI" /etc/greeting
fi

# ---- docker pull of an OCI index ---------------------------------------------
MULTI=$REG/t4100/multi:v1
docker_forget "$MULTI"
MD=$(oci_ref_digest "$TMP/oci" multi)
AMD64=$(oci_ref_digest "$TMP/oci" multi-amd64)
if step "skopeo copy --all of an index" \
    skopeo copy --all --dest-tls-verify=false "oci:$TMP/oci:multi" "docker://$MULTI" &&
   step "docker pull of an OCI index" "$DOCKER" pull "$MULTI"; then
    expect_match "$(cat "$TMP/step.log")" "Digest: $MD" "docker pull of an index: the index digest"
    expect_eq "$(image_id "$MULTI")" "$(jq -r .config.digest "$(oci_blob "$TMP/oci" "$AMD64")")" \
        "docker pull of an index: the linux/amd64 image"
    runs "$MULTI" amd64 "pulled from an index" /etc/arch
    docker_forget "$(image_id "$MULTI")"
fi

finish
