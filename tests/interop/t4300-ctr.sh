#!/bin/bash
# t4300-ctr: containerd (1.6, the one dockerd starts; `ctr --plain-http`)
# against berthd, in a namespace of its own that is removed at exit.
#   - ctr image pull of a 3-layer OCI image skopeo pushed, by tag and (after
#     image rm --sync, content gone) by digest: the manifest digest, config
#     and every layer in containerd's content store; ctr run of it prints
#     the file the test put in the image;
#   - ctr image pull of a Docker schema2 manifest (skopeo --format v2s2);
#   - ctr image pull --all-platforms of an OCI index (linux/amd64 +
#     linux/arm64): the index digest, both children and all their blobs;
#     ctr run picks linux/amd64.
# dockerd is started when none answers and stopped at exit if started here.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"
interop_require ctr "$DOCKER" dockerd skopeo umoci jq curl
docker_up
SOCK=/run/docker/containerd/containerd.sock
for _n in $(seq 1 50); do [ -S "$SOCK" ] && break; sleep 0.2; done
[ -S "$SOCK" ] || { echo "$T_NAME: dockerd runs but $SOCK is missing" >&2; exit 1; }
registry_start

NS=berth-$T_NAME-$$
CTR=(ctr --address "$SOCK" -n "$NS")
# Everything in the namespace goes, then the namespace itself.
at_exit 'for _c in $("${CTR[@]}" containers ls -q); do "${CTR[@]}" tasks kill -s KILL "$_c"; "${CTR[@]}" tasks rm -f "$_c"; "${CTR[@]}" containers rm "$_c"; done;
         for _i in $("${CTR[@]}" images ls -q); do "${CTR[@]}" images rm --sync "$_i"; done;
         for _c in $("${CTR[@]}" content ls -q); do "${CTR[@]}" content rm "$_c"; done;
         ctr --address "$SOCK" namespaces rm "$NS"'

GREETING="t4300 says hello $RANDOM$RANDOM"
build_image "$TMP/oci" app "$GREETING"
build_multiarch "$TMP/oci" multi
D=$(oci_ref_digest "$TMP/oci" app)
mapfile -t PARTS < <(oci_image_digests "$TMP/oci" "$D")
R=t4300/app

# ctr_image REF FIELD: a column of `ctr images ls` for REF (TYPE, DIGEST,
# PLATFORMS; SIZE has a blank in it, "1.1 MiB", so PLATFORMS counts from the end).
ctr_image() {
    timeout 60 "${CTR[@]}" images ls 2>/dev/null | awk -v r="$1" -v f="$2" '
        $1 == r { print f == "TYPE" ? $2 : f == "DIGEST" ? $3 : f == "PLATFORMS" ? $(NF - 1) : "?" }'
}
# has_content WHAT DIGEST...: each DIGEST is in containerd's content store.
has_content() {
    local what=$1 d have
    shift
    have=$(timeout 60 "${CTR[@]}" content ls -q 2>/dev/null)
    for d in "$@"; do
        check
        grep -qx "$d" <<<"$have" || fail "$what: $d is not in containerd's content store"
    done
}
# ctr_runs REF FILE EXPECTED WHAT: `ctr run REF cat FILE` prints EXPECTED.
CID=0
ctr_runs() {
    CID=$((CID + 1))
    step "$4: ctr run" "${CTR[@]}" run --rm "$1" "t4300-$$-$CID" cat "$2" &&
        expect_eq "$(tr -d '\r' <"$TMP/step.log")" "$3" "$4: ctr run output"
}
# ctr_rm REF: image rm --sync, and the content store is empty after it.
ctr_rm() {
    timeout 60 "${CTR[@]}" images rm --sync "$1" >/dev/null 2>&1
    local c
    for c in $(timeout 60 "${CTR[@]}" content ls -q 2>/dev/null); do
        timeout 60 "${CTR[@]}" content rm "$c" >/dev/null 2>&1
    done
    check
    [ -z "$(timeout 60 "${CTR[@]}" content ls -q 2>&1)" ] || fail "content left in $NS after removing $1"
}

step "skopeo copy oci: -> berthd" skopeo copy --dest-tls-verify=false "oci:$TMP/oci:app" "docker://$REG/$R:v1" || finish

# ---- by tag --------------------------------------------------------------------
if step "ctr image pull by tag" "${CTR[@]}" image pull --plain-http "$REG/$R:v1"; then
    expect_match "$(cat "$TMP/step.log")" "manifest-$D" "ctr pull by tag fetched the manifest"
    expect_eq "$(ctr_image "$REG/$R:v1" DIGEST)" "$D" "ctr images ls: digest"
    expect_eq "$(ctr_image "$REG/$R:v1" TYPE)" "$OCI_MANIFEST" "ctr images ls: type"
    expect_eq "$(ctr_image "$REG/$R:v1" PLATFORMS)" linux/amd64 "ctr images ls: platform"
    has_content "pull by tag" "${PARTS[@]}"
    step "ctr image check" "${CTR[@]}" image check &&
        expect_match "$(grep -F "$REG/$R:v1" "$TMP/step.log")" 'complete' "ctr image check: complete"
    ctr_runs "$REG/$R:v1" /etc/greeting "$GREETING" "pulled by tag"
fi
ctr_rm "$REG/$R:v1"

# ---- by digest -----------------------------------------------------------------
if step "ctr image pull by digest" "${CTR[@]}" image pull --plain-http "$REG/$R@$D"; then
    expect_eq "$(ctr_image "$REG/$R@$D" DIGEST)" "$D" "ctr pull by digest: digest"
    has_content "pull by digest" "${PARTS[@]}"
    ctr_runs "$REG/$R@$D" /etc/greeting "$GREETING" "pulled by digest"
fi
ctr_rm "$REG/$R@$D"

# ---- Docker schema2 ------------------------------------------------------------
DR=t4300/docker
if step "skopeo copy --format v2s2" \
    skopeo copy --dest-tls-verify=false --format v2s2 "oci:$TMP/oci:app" "docker://$REG/$DR:v1" &&
   step "ctr image pull of a schema2 manifest" "${CTR[@]}" image pull --plain-http "$REG/$DR:v1"; then
    expect_eq "$(ctr_image "$REG/$DR:v1" TYPE)" "$DOCKER_MANIFEST" "ctr pull of schema2: type"
    expect_eq "$(ctr_image "$REG/$DR:v1" DIGEST)" "$(reg_digest $DR v1 "$DOCKER_MANIFEST")" "ctr pull of schema2: digest"
    has_content "pull of schema2" "${PARTS[@]:2}"
    ctr_runs "$REG/$DR:v1" /etc/greeting "$GREETING" "pulled as schema2"
fi
ctr_rm "$REG/$DR:v1"

# ---- an index, every platform --------------------------------------------------
MR=t4300/multi
MD=$(oci_ref_digest "$TMP/oci" multi)
mapfile -t MPARTS < <(oci_image_digests "$TMP/oci" "$MD")  # index, children, their blobs
if step "skopeo copy --all of an index" \
    skopeo copy --all --dest-tls-verify=false "oci:$TMP/oci:multi" "docker://$REG/$MR:v1" &&
   step "ctr image pull --all-platforms" "${CTR[@]}" image pull --plain-http --all-platforms "$REG/$MR:v1"; then
    expect_eq "$(ctr_image "$REG/$MR:v1" DIGEST)" "$MD" "ctr pull of an index: the index digest"
    expect_eq "$(ctr_image "$REG/$MR:v1" TYPE)" "$OCI_INDEX" "ctr pull of an index: type"
    expect_eq "$(ctr_image "$REG/$MR:v1" PLATFORMS)" linux/amd64,linux/arm64 "ctr pull of an index: platforms"
    has_content "pull --all-platforms" "${MPARTS[@]}"
    ctr_runs "$REG/$MR:v1" /etc/arch amd64 "pulled from an index"
fi
ctr_rm "$REG/$MR:v1"

finish
