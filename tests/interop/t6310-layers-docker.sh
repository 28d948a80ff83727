#!/bin/bash
# t6310-layers-docker: what berth makes with uncompressed local layers is
# what docker, skopeo, podman and containerd expect.
#
#   - berth import (layer kept as a plain tar), berth push (sent as gzip,
#     the manifest rewritten, the config the same);
#   - docker pull of it: berth's digest, berth's image ID, docker run prints
#     the rootfs's file; docker history of it;
#   - skopeo inspect: berth's digest, one gzip layer, the config's diff_ids;
#     skopeo copy to an OCI layout verifies every blob;
#   - podman pull (vfs, in $TMP): berth's image ID and digest;
#   - ctr image pull (containerd, the one dockerd starts): berth's digest,
#     every blob in its content store;
#   - berth commit of a container (a file added, one deleted: a whiteout),
#     pushed: docker pull and run see both changes, podman pulls it, skopeo
#     sees only gzip layers;
#   - berth save of the uncompressed image -> docker load -> docker run, with
#     berth's image ID.
# The store ($BERTH_ROOT) and $HOME live in $TMP; dockerd is started when
# none answers and stopped at the end if started here; every docker,
# podman and containerd image made here is removed by the EXIT trap.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"

BERTH=${BERTH:-build/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
interop_require "$BERTH" "$DOCKER" dockerd skopeo podman ctr jq curl
[ "$(id -u)" -eq 0 ] || { echo "$T_NAME: needs root (berth run, commit)" >&2; exit 1; }
docker_up
SOCK=/run/docker/containerd/containerd.sock
for _n in $(seq 1 50); do [ -S "$SOCK" ] && break; sleep 0.2; done

export HOME=$TMP/home BERTH_ROOT=$TMP/store
mkdir -p "$HOME"
at_exit 'timeout 20 "$BERTH" rm -f "t6310-$$"'

PODMAN=(podman --root "$TMP/podman/root" --runroot "$TMP/podman/run" --storage-driver vfs
        --cgroup-manager cgroupfs --events-backend none)
at_exit 'timeout 60 "${PODMAN[@]}" rmi -af'
NS=berth-$T_NAME-$$
CTR=(ctr --address "$SOCK" -n "$NS")
at_exit 'for _i in $("${CTR[@]}" images ls -q); do "${CTR[@]}" images rm --sync "$_i"; done;
         for _c in $("${CTR[@]}" content ls -q); do "${CTR[@]}" content rm "$_c"; done;
         ctr --address "$SOCK" namespaces rm "$NS"'

# bx ARGS...: run berth; $RC, $OUT (stdout), $ERR (stderr).
bx() {
    timeout 120 "$BERTH" "$@" </dev/null >"$TMP/bx.out" 2>"$TMP/bx.err"
    RC=$?
    OUT=$(cat "$TMP/bx.out")
    ERR=$(cat "$TMP/bx.err")
}
ok() {
    check
    [ "$RC" -eq 0 ] || { fail "$1: berth exited $RC: $(tail -3 "$TMP/bx.err" | tr '\n' ' ')"; return 1; }
}

registry_start

# ---- a rootfs, imported and pushed -------------------------------------------------------
mkdir -p "$TMP/rootfs/bin" "$TMP/rootfs/etc"
cp "$BUSYBOX" "$TMP/rootfs/bin/busybox"
for c in sh ls echo cat true; do ln -s busybox "$TMP/rootfs/bin/$c"; done
GREETING="t6310 says hello $RANDOM$RANDOM"
echo "$GREETING" >"$TMP/rootfs/etc/greeting"
tar -C "$TMP/rootfs" --owner=0 --group=0 --numeric-owner -cf "$TMP/rootfs.tar" .

APP=$REG/t6310/app:v1
bx import "$TMP/rootfs.tar" "$APP"
ok "berth import" || finish
bx inspect "$APP"
ID=$(jq -r '.[0].Id' <<<"$OUT")
LAYER=$(jq -r '.[0].Layers[0].digest' <<<"$OUT")
expect_eq "$(jq -r '.[0].Layers[0].mediaType' <<<"$OUT")" application/vnd.oci.image.layer.v1.tar \
    "the imported layer is uncompressed"
bx push -q "$APP"
ok "berth push" || finish
DIGEST=$OUT
http GET /v2/t6310/app/manifests/v1 -H "Accept: $OCI_MANIFEST"
GZ=$(jq -r '.layers[0].digest' "$BODY_FILE")
expect_eq "$(jq -r '.layers[0].mediaType' "$BODY_FILE")" application/vnd.oci.image.layer.v1.tar+gzip \
    "the pushed layer is gzip"

# ---- docker pull, run, history ----------------------------------------------------------------
docker_forget "$APP"
if step "docker pull of what berth pushed" "$DOCKER" pull "$APP"; then
    expect_match "$(cat "$TMP/step.log")" "Digest: $DIGEST" "docker pull: berth's digest"
    expect_eq "$("$DOCKER" image inspect -f '{{.Id}}' "$APP" 2>&1)" "$ID" "docker: berth's image ID"
    expect_eq "$("$DOCKER" image inspect -f '{{json .RootFS.Layers}}' "$APP" 2>&1)" "[\"$LAYER\"]" \
        "docker: the layer's diff_id"
    step "docker run of what berth pushed" "$DOCKER" run --rm --network none "$APP" cat /etc/greeting &&
        expect_eq "$(cat "$TMP/step.log")" "$GREETING" "docker run output"
    step "docker history" "$DOCKER" history --no-trunc --format '{{.ID}} {{.CreatedBy}}' "$APP" &&
        expect_eq "$(cat "$TMP/step.log")" "$ID berth import" "docker history: berth's entry"
    timeout 60 "$DOCKER" rmi -f "$APP" >/dev/null 2>&1
fi

# ---- skopeo -------------------------------------------------------------------------------------
if step "skopeo inspect" skopeo inspect --tls-verify=false "docker://$APP"; then
    expect_eq "$(jq -r .Digest "$TMP/step.log")" "$DIGEST" "skopeo: berth's digest"
    expect_eq "$(jq -c .Layers "$TMP/step.log")" "[\"$GZ\"]" "skopeo: the gzip layer"
    expect_eq "$(jq -r '.Os + "/" + .Architecture' "$TMP/step.log")" linux/amd64 "skopeo: platform"
fi
if step "skopeo inspect --config" skopeo inspect --config --tls-verify=false "docker://$APP"; then
    expect_eq "$(jq -c .rootfs.diff_ids "$TMP/step.log")" "[\"$LAYER\"]" "skopeo: the config's diff_ids"
fi
if step "skopeo copy to an OCI layout" skopeo copy --src-tls-verify=false "docker://$APP" "oci:$TMP/sk:v1"; then
    check; oci_blobs_verified "$TMP/sk" || fail "skopeo copy: a blob does not match its digest"
    expect_eq "$(oci_ref_digest "$TMP/sk" v1)" "$DIGEST" "skopeo copy keeps berth's manifest"
fi

# ---- podman --------------------------------------------------------------------------------------
if step "podman pull of what berth pushed" "${PODMAN[@]}" pull --tls-verify=false "$APP"; then
    expect_eq "$(timeout 60 "${PODMAN[@]}" image inspect --format '{{.Id}}' "$APP" 2>&1)" "${ID#sha256:}" \
        "podman: berth's image ID"
    expect_eq "$(timeout 60 "${PODMAN[@]}" image inspect --format '{{.Digest}}' "$APP" 2>&1)" "$DIGEST" \
        "podman: berth's digest"
fi

# ---- containerd -------------------------------------------------------------------------------------
if [ -S "$SOCK" ] && step "ctr image pull of what berth pushed" "${CTR[@]}" image pull --plain-http "$APP"; then
    expect_eq "$(timeout 60 "${CTR[@]}" images ls 2>/dev/null | awk -v r="$APP" '$1 == r { print $3 }')" "$DIGEST" \
        "ctr: berth's digest"
    have=$(timeout 60 "${CTR[@]}" content ls -q 2>/dev/null)
    for d in "$DIGEST" "$ID" "$GZ"; do
        check; grep -qx "$d" <<<"$have" || fail "ctr: $d is not in containerd's content store"
    done
fi

# ---- a committed image: two uncompressed layers, one with a whiteout ------------------------
# (berth commit of a container that adds a file and deletes one)
STACK=$REG/t6310/stack:v1
bx run --name "t6310-$$" "$APP" sh -c 'echo added >/etc/added; rm /etc/greeting'
ok "berth run of a container to commit"
bx commit -m "t6310 change" "t6310-$$" "$STACK"
ok "berth commit" && bx rm "t6310-$$"
bx inspect "$STACK"
expect_eq "$(jq -r '[.[0].Layers[].mediaType] | unique | join(" ")' <<<"$OUT")" application/vnd.oci.image.layer.v1.tar \
    "a committed image's layers are uncompressed"
STACK_ID=$(jq -r '.[0].Id' <<<"$OUT")
bx push -q "$STACK"
ok "berth push of the committed image"
STACK_DIGEST=$OUT
docker_forget "$STACK"
if step "docker pull of the committed image" "$DOCKER" pull "$STACK"; then
    expect_eq "$("$DOCKER" image inspect -f '{{.Id}}' "$STACK" 2>&1)" "$STACK_ID" "docker: the committed image's ID"
    step "docker run of the committed image" "$DOCKER" run --rm --network none "$STACK" \
        sh -c 'cat /etc/added; ls /etc/greeting 2>&1 || echo deleted' &&
        expect_eq "$(tail -1 "$TMP/step.log")" deleted "docker applies berth's whiteout" &&
        expect_eq "$(head -1 "$TMP/step.log")" added "docker sees the added file"
    step "docker history of the committed image" "$DOCKER" history --format '{{.Comment}}' "$STACK" &&
        expect_eq "$(head -1 "$TMP/step.log")" "t6310 change" "docker history: the commit's comment"
fi
if step "podman pull of the committed image" "${PODMAN[@]}" pull --tls-verify=false "$STACK"; then
    expect_eq "$(timeout 60 "${PODMAN[@]}" image inspect --format '{{.Digest}}' "$STACK" 2>&1)" "$STACK_DIGEST" \
        "podman: the committed image's digest"
fi
if step "skopeo inspect --raw of the committed image" skopeo inspect --raw --tls-verify=false "docker://$STACK"; then
    expect_eq "$(jq -r '[.layers[].mediaType] | unique | join(" ")' "$TMP/step.log")" \
        application/vnd.oci.image.layer.v1.tar+gzip "skopeo: every pushed layer is gzip"
fi

# ---- berth save -> docker load -> docker run ---------------------------------------------------------
SAVED=$REG/t6310/saved:v1
bx tag "$APP" "$SAVED"
bx save -o "$TMP/saved.tar" "$SAVED"
ok "berth save of the uncompressed image"
docker_forget "$SAVED"
if step "docker load of berth save" "$DOCKER" load -i "$TMP/saved.tar"; then
    expect_match "$(cat "$TMP/step.log")" "Loaded image: $SAVED" "docker load output"
    expect_eq "$("$DOCKER" image inspect -f '{{.Id}}' "$SAVED" 2>&1)" "$ID" "docker load: berth's image ID"
    step "docker run of what berth saved" "$DOCKER" run --rm --network none "$SAVED" cat /etc/greeting &&
        expect_eq "$(cat "$TMP/step.log")" "$GREETING" "docker run output (berth save)"
fi

finish
