#!/bin/bash
# t6000-berth-cli: the berth command against berthd and against real clients.
#
#   - a rootfs tarball made here (busybox-static + a file) is imported,
#     pushed, removed and pulled back: same manifest, config and layers;
#   - images / tag / rmi / inspect / history print what docker would;
#   - berth save -> docker load -> docker run; docker push of that image ->
#     berth pull; berth push -> docker pull -> docker run; docker save ->
#     berth load -> berth push -> skopeo inspect;
#   - a two-platform index (umoci images, pushed with skopeo copy --all):
#     the host's platform by default, --platform picks the other one, an
#     unknown platform is a clear error;
#   - catalog and tags over several pages (limits.page_max 2);
#   - errors (unreachable registry, unknown tag, bad reference, rmi of an
#     unknown image): one line on stderr, non-zero exit, store untouched.
# The store ($BERTH_ROOT) and $HOME live in $TMP; dockerd is started when
# none answers and stopped at the end if started here; every docker image
# made here is removed by the EXIT trap.
. "$(dirname "$0")/../lib.sh"

BERTH=${BERTH:-build/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
DOCKER=/usr/bin/docker
for tool in "$BERTH" "$DOCKER" dockerd skopeo umoci jq curl; do
    command -v "$tool" >/dev/null || { echo "$T_NAME: $tool is missing (make all test-deps)" >&2; exit 1; }
done
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=$(command -v busybox)
[ -x "$BUSYBOX" ] || { echo "$T_NAME: busybox-static is missing" >&2; exit 1; }

# ---- dockerd (before HOME moves) ---------------------------------------------
if ! timeout 10 "$DOCKER" info >/dev/null 2>&1; then
    dockerd --storage-driver vfs --iptables=false --bridge=none >"$TMP/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    # (cleanup code is eval'd inside lib.sh's loop over `i`: other names here)
    at_exit "kill -TERM $DOCKERD_PID; for _w in \$(seq 1 150); do kill -0 $DOCKERD_PID 2>/dev/null || break; sleep 0.1; done; kill -KILL $DOCKERD_PID; wait $DOCKERD_PID"
    for _try in $(seq 1 120); do
        timeout 5 "$DOCKER" info >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || DOCKERD_PID=
        sleep 0.5
    done
    timeout 10 "$DOCKER" info >/dev/null 2>&1 || { echo "$T_NAME: dockerd did not start:" >&2; tail -20 "$TMP/dockerd.log" >&2; exit 1; }
fi

export HOME=$TMP/home DOCKER_CONFIG=$TMP/docker-config BERTH_ROOT=$TMP/store
mkdir -p "$HOME" "$DOCKER_CONFIG"
DOCKER_IMAGES=()
at_exit 'for _img in "${DOCKER_IMAGES[@]}"; do timeout 60 $DOCKER rmi -f "$_img"; done'

# ---- helpers -------------------------------------------------------------------
# bx ARGS...: run berth; $RC, $OUT (stdout), $ERR (stderr).
bx() {
    timeout 120 "$BERTH" "$@" >"$TMP/bx.out" 2>"$TMP/bx.err"
    RC=$?
    OUT=$(cat "$TMP/bx.out")
    ERR=$(cat "$TMP/bx.err")
}
# ok WHAT: the last bx succeeded.
ok() {
    check
    [ "$RC" -eq 0 ] || { fail "$1: berth exited $RC: $(tail -3 "$TMP/bx.err" | tr '\n' ' ')"; return 1; }
}
# step WHAT CMD...: a non-berth command that must succeed (output in $TMP/step.log).
step() {
    local what=$1
    shift
    check
    if ! timeout 120 "$@" >"$TMP/step.log" 2>&1; then
        fail "$what: $(tail -5 "$TMP/step.log" | tr '\n' ' ')"
        return 1
    fi
}
# snapshot: index.json, every blob and every temp file of the store.
snapshot() {
    (cd "$BERTH_ROOT" 2>/dev/null && { sha256sum index.json 2>/dev/null; find blobs tmp -type f -printf '%p %s\n' 2>/dev/null | sort; })
}
# blobs_verified: every blob in the store hashes to its name.
blobs_verified() {
    local f bad=0
    for f in "$BERTH_ROOT"/blobs/sha256/*; do
        [ -e "$f" ] || continue
        [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "bad blob $f" >&2; bad=1; }
    done
    return $bad
}
# refuses WHAT REGEX ARGS...: berth ARGS fails, with exactly one line on
# stderr matching REGEX, and leaves the store exactly as it was.
refuses() {
    local what=$1 re=$2 before after
    shift 2
    before=$(snapshot)
    bx "$@"
    after=$(snapshot)
    check
    [ "$RC" -ne 0 ] || { fail "$what: berth exited 0 (stdout: $OUT)"; return; }
    check
    [ "$RC" -lt 124 ] || fail "$what: berth exited $RC (timeout or signal)"
    check
    [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ] || fail "$what: expected one line on stderr, got: $ERR"
    expect_match "$ERR" "$re" "$what: message"
    expect_eq "$after" "$before" "$what: the store changed;"
    check
    [ -z "$(ls -A "$BERTH_ROOT/tmp" 2>/dev/null)" ] || fail "$what: left files in tmp/: $(ls "$BERTH_ROOT/tmp")"
}
# column LINE HEADER COLUMNS NAME: the text of LINE under NAME, COLUMNS being
# HEADER's column names in order ("A|B|C"), each column running from where
# its name starts in HEADER to where the next one's starts; trailing blanks
# cut. A table whose columns are aligned gives each value whole.
column() {
    awk -v line="$1" -v head="$2" -v cols="$3" -v name="$4" 'BEGIN {
        n = split(cols, c, "|"); from = 1
        for (i = 1; i <= n; i++) {
            p = index(substr(head, from), c[i]); start[i] = p ? from + p - 1 : 0
            from = start[i] + length(c[i])
        }
        for (i = 1; i <= n; i++) if (c[i] == name) break
        stop = i < n ? start[i + 1] : length(line) + 1
        v = substr(line, start[i], stop - start[i]); sub(/ +$/, "", v); print v
    }'
}
# human_size BYTES: as docker prints sizes (powers of 1000, three significant digits)
human_size() { awk -v n="$1" 'BEGIN { split("B kB MB GB TB", u, " "); i = 1; while (n >= 1000 && i < 5) { n /= 1000; i++ } printf "%.3g%s", n, u[i] }'; }

# ---- a registry, a rootfs ---------------------------------------------------------
printf '{"limits": {"page_max": 2}}\n' >"$TMP/berthd.json"
berthd_start --config "$TMP/berthd.json"

mkdir -p "$TMP/rootfs/bin" "$TMP/rootfs/etc"
cp "$BUSYBOX" "$TMP/rootfs/bin/busybox"
for c in sh ls echo cat true; do ln -s busybox "$TMP/rootfs/bin/$c"; done
GREETING="hello from berth $RANDOM"
echo "$GREETING" >"$TMP/rootfs/etc/greeting"
tar -C "$TMP/rootfs" --owner=0 --group=0 --numeric-owner -cf "$TMP/rootfs.tar" .

APP=$REG/t6000/app:v1

# ---- import, push, rmi, pull back ------------------------------------------------------
bx import "$TMP/rootfs.tar" "$APP"
ok "berth import" || { finish; }
IMPORT_ID=$OUT
expect_match "$IMPORT_ID" '^sha256:[0-9a-f]{64}$' "import prints the image's ID"
bx inspect "$APP"
ok "berth inspect after import"
CONFIG_DIGEST=$(jq -r '.[0].Id' <<<"$OUT")
LAYERS=$(jq -c '[.[0].Layers[].digest]' <<<"$OUT")
expect_eq "$CONFIG_DIGEST" "$IMPORT_ID" "inspect Id: the ID import printed, as docker import"
IMPORT_DIGEST=$(jq -r '.[0].ManifestDigest' <<<"$OUT")
expect_match "$IMPORT_DIGEST" '^sha256:[0-9a-f]{64}$' "inspect ManifestDigest after import"
expect_eq "$(jq 'length' <<<"$LAYERS")" 1 "an imported rootfs is one layer"
check; blobs_verified || fail "a blob in the store does not match its digest after import"

bx push "$APP"
ok "berth push"
# the store keeps the layer uncompressed; the push sends it as gzip, under
# a manifest of its own (same config, so the same image ID)
PUSH_DIGEST=$(grep -oE 'digest: sha256:[0-9a-f]{64}' <<<"$ERR" | cut -d' ' -f2)
expect_match "$PUSH_DIGEST" '^sha256:[0-9a-f]{64}$' "push shows the manifest digest"
expect_ne "$PUSH_DIGEST" "$IMPORT_DIGEST" "the pushed manifest names the gzip layer"
bx push -q "$APP"
ok "berth push -q (again)"
expect_eq "$OUT" "$PUSH_DIGEST" "push -q prints the digest, the same again"
http GET "/v2/t6000/app/manifests/v1" -H 'Accept: application/vnd.oci.image.manifest.v1+json'
expect_status 200 "the pushed manifest is in berthd"
expect_eq "$(sha256_of "$BODY_FILE")" "$PUSH_DIGEST" "berthd's manifest bytes hash to the pushed digest"
expect_eq "$(jq -r '.config.digest' "$BODY_FILE")" "$CONFIG_DIGEST" "the pushed manifest has the stored config"
expect_eq "$(jq -r '.layers[0].mediaType' "$BODY_FILE")" application/vnd.oci.image.layer.v1.tar+gzip \
    "the pushed layer is gzip"
LAYERS=$(jq -c '[.layers[].digest]' "$BODY_FILE")

bx rmi "$APP"
ok "berth rmi"
expect_eq "$OUT" "Untagged: $APP
Deleted: $CONFIG_DIGEST" "rmi output (docker's: the name, then the image)"
bx images -q
expect_eq "$OUT" "" "images -q after rmi of the only image"
expect_eq "$(find "$BERTH_ROOT/blobs" -type f | wc -l)" 0 "rmi deletes the blobs no image uses"

bx pull "$APP"
ok "berth pull"
expect_eq "$(sed -n 1p <<<"$OUT")" "Digest: $PUSH_DIGEST" "pull prints the digest first"
expect_eq "$(tail -n 1 <<<"$OUT")" "$APP" "pull prints the full reference last"
bx inspect "$APP"
ok "berth inspect after pull"
expect_eq "$(jq -r '.[0].Id' <<<"$OUT")" "$CONFIG_DIGEST" "config digest after the round trip"
expect_eq "$(jq -c '[.[0].Layers[].digest]' <<<"$OUT")" "$LAYERS" "layer digests after the round trip"
expect_eq "$(jq -r '.[0].ManifestDigest' <<<"$OUT")" "$PUSH_DIGEST" "manifest digest after the round trip"
expect_eq "$(jq -c '.[0].RepoTags' <<<"$OUT")" "[\"$APP\"]" "inspect RepoTags"
expect_eq "$(jq -c '.[0].RepoDigests' <<<"$OUT")" "[\"$REG/t6000/app@$PUSH_DIGEST\"]" "inspect RepoDigests"
expect_eq "$(jq -r '.[0].Os + "/" + .[0].Architecture' <<<"$OUT")" linux/amd64 "inspect Os/Architecture"
check; blobs_verified || fail "a blob in the store does not match its digest after pull"
bx pull -q "$APP"
ok "berth pull -q of an image already there"
expect_eq "$OUT" "$APP" "pull -q prints only the reference"

# ---- images, tag, rmi, inspect, history -------------------------------------------------
bx images
ok "berth images"
HEAD=$(sed -n 1p <<<"$OUT")
ICOLS="REPOSITORY|TAG|IMAGE ID|CREATED|SIZE"
expect_match "$HEAD" '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE *$' "images header"
ROW=$(grep -F "$REG/t6000/app " <<<"$OUT")
expect_eq "$(grep -cF "$REG/t6000/app " <<<"$OUT")" 1 "images lists the image once"
LAYER_SIZE=$(stat -c %s "$BERTH_ROOT/blobs/sha256/$(jq -r '.[0]' <<<"$LAYERS" | cut -d: -f2)")
expect_eq "$(awk '{ print $1 "|" $2 "|" $3 "|" $NF }' <<<"$ROW")" \
    "$REG/t6000/app|v1|${CONFIG_DIGEST:7:12}|$(human_size "$LAYER_SIZE")" "images row (fields)"
expect_eq "$(column "$ROW" "$HEAD" "$ICOLS" TAG)" v1 "images: the TAG column is aligned"
expect_eq "$(column "$ROW" "$HEAD" "$ICOLS" "IMAGE ID")" "${CONFIG_DIGEST:7:12}" "images: the IMAGE ID column is aligned"
expect_match "$(column "$ROW" "$HEAD" "$ICOLS" CREATED)" '(ago|seconds?|minutes?)$' "images: the CREATED column is aligned"
expect_eq "$(column "$ROW" "$HEAD" "$ICOLS" SIZE)" "$(human_size "$LAYER_SIZE")" "images: the SIZE column is aligned"
bx images -q
expect_eq "$OUT" "${CONFIG_DIGEST:7:12}" "images -q"

bx tag "$APP" "$REG/t6000/other:v2"
ok "berth tag"
bx images
expect_eq "$(grep -F "$REG/t6000/other " <<<"$OUT" | awk '{ print $2 "|" $3 }')" "v2|${CONFIG_DIGEST:7:12}" \
    "images shows the new tag with the same IMAGE ID"
bx inspect "${CONFIG_DIGEST:7:12}"
ok "berth inspect by short id"
expect_eq "$(jq -c '.[0].RepoTags | sort' <<<"$OUT")" "$(jq -cn --arg a "$APP" --arg b "$REG/t6000/other:v2" '[$a, $b] | sort')" \
    "inspect RepoTags lists both names"
refuses "rmi by id of an image with two names, without -f" 'berth rmi: .*(conflict|force)' rmi "${CONFIG_DIGEST:7:12}"
bx rmi "$REG/t6000/other:v2"
ok "berth rmi of one of two names"
bx inspect "$APP"
ok "the other name survives rmi"
check; blobs_verified && [ -e "$BERTH_ROOT/blobs/sha256/${CONFIG_DIGEST#sha256:}" ] ||
    fail "rmi of one name removed blobs the other name still uses"
bx tag "$APP" "$REG/t6000/other:v2"
bx rmi -f "${CONFIG_DIGEST:7:12}"
ok "berth rmi -f by id"
bx images -q
expect_eq "$OUT" "" "rmi -f by id removes every name"
bx pull -q "$APP"
ok "berth pull after rmi -f"

bx history "$APP"
ok "berth history"
HHEAD=$(sed -n 1p <<<"$OUT")
HCOLS="IMAGE|CREATED|CREATED BY|SIZE|COMMENT"
ICOLS="REPOSITORY|TAG|IMAGE ID|CREATED|SIZE"
expect_match "$HHEAD" '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT *$' "history header"
CFG=$(cat "$BERTH_ROOT/blobs/sha256/${CONFIG_DIGEST#sha256:}")
expect_eq "$(($(wc -l <<<"$OUT") - 1))" "$(jq '.history | length' <<<"$CFG")" "history: one row per history entry"
HROW=$(sed -n 2p <<<"$OUT")
expect_eq "$(column "$HROW" "$HHEAD" "$HCOLS" SIZE)" "$(human_size "$LAYER_SIZE")" "history: SIZE of the layer (aligned)"
expect_eq "$(column "$HROW" "$HHEAD" "$HCOLS" "CREATED BY")" "$(jq -r '.history[-1].created_by // "" | .[0:44]' <<<"$CFG")" \
    "history: CREATED BY (aligned)"

# ---- berth save -> docker load -> docker run ----------------------------------------------
SAVED=$REG/t6000/saved:v1
DOCKER_IMAGES+=("$SAVED")
bx tag "$APP" "$SAVED"
bx save -o "$TMP/saved.tar" "$SAVED"
ok "berth save"
if step "docker load of berth save" "$DOCKER" load -i "$TMP/saved.tar"; then
    expect_match "$(cat "$TMP/step.log")" "Loaded image: $SAVED" "docker load output"
    step "docker run of what berth saved" "$DOCKER" run --rm --network none "$SAVED" cat /etc/greeting &&
        expect_eq "$(cat "$TMP/step.log")" "$GREETING" "docker run output (berth save)"
    expect_eq "$("$DOCKER" image inspect -f '{{.Id}}' "$SAVED" 2>&1)" "$CONFIG_DIGEST" "docker's image id is berth's"
fi

# ---- docker push -> berth pull ------------------------------------------------------------
DPUSH=$REG/t6000/dpush:v1
DOCKER_IMAGES+=("$DPUSH")
if step "docker tag" "$DOCKER" tag "$SAVED" "$DPUSH" && step "docker push" "$DOCKER" push "$DPUSH"; then
    DDIGEST=$(grep -oE 'digest: sha256:[0-9a-f]{64}' "$TMP/step.log" | cut -d' ' -f2)
    bx pull "$DPUSH"
    if ok "berth pull of what docker pushed"; then
        expect_eq "$(sed -n 1p <<<"$OUT")" "Digest: $DDIGEST" "berth pull: docker's manifest digest"
        bx inspect "$DPUSH"
        expect_eq "$(jq -r '.[0].Id' <<<"$OUT")" "$CONFIG_DIGEST" "the image docker pushed has berth's config"
        expect_eq "$(jq -r '.[0].ManifestDigest' <<<"$OUT")" "$DDIGEST" "berth keeps docker's manifest as is"
        check; blobs_verified || fail "a blob pulled from docker's push does not match its digest"
        bx history "$DPUSH"
        ok "berth history of a docker image"
    fi
fi

# ---- berth push -> docker pull -> docker run ----------------------------------------------
timeout 60 "$DOCKER" rmi -f "$SAVED" "$DPUSH" >/dev/null 2>&1
DOCKER_IMAGES+=("$APP")
if step "docker pull of what berth pushed" "$DOCKER" pull "$APP"; then
    expect_match "$(cat "$TMP/step.log")" "Digest: $PUSH_DIGEST" "docker pull: berth's digest"
    step "docker run of what berth pushed" "$DOCKER" run --rm --network none "$APP" cat /etc/greeting &&
        expect_eq "$(cat "$TMP/step.log")" "$GREETING" "docker run output (berth push)"
fi

# ---- docker save -> berth load -> berth push -> skopeo inspect ----------------------------
DSAVE=$REG/t6000/dsave:v1
DOCKER_IMAGES+=("$DSAVE")
if step "docker tag for save" "$DOCKER" tag "$APP" "$DSAVE" &&
   step "docker save" "$DOCKER" save -o "$TMP/dsave.tar" "$DSAVE"; then
    bx load -i "$TMP/dsave.tar"
    if ok "berth load of docker save"; then
        expect_eq "$OUT" "Loaded image: $DSAVE" "berth load output"
        bx inspect "$DSAVE"
        expect_eq "$(jq -r '.[0].Id' <<<"$OUT")" "$CONFIG_DIGEST" "berth load keeps docker's config"
        check; blobs_verified || fail "a blob loaded from docker save does not match its digest"
        bx push -q "$DSAVE"
        if ok "berth push of a loaded image"; then
            PDIGEST=$OUT
            if step "skopeo inspect of berth's push" skopeo inspect --tls-verify=false "docker://$DSAVE"; then
                expect_eq "$(jq -r .Digest "$TMP/step.log")" "$PDIGEST" "skopeo sees berth's digest"
                expect_eq "$(jq -r '.Os + "/" + .Architecture' "$TMP/step.log")" linux/amd64 "skopeo: platform"
                expect_eq "$(jq -r '.Layers | length' "$TMP/step.log")" 1 "skopeo: one layer"
                expect_match "$(jq -r '.Env[]' "$TMP/step.log")" '^PATH=' "skopeo: the config's Env"
            fi
            step "skopeo copy of berth's push" skopeo copy --src-tls-verify=false "docker://$DSAVE" "oci:$TMP/skopeo-dsave:v1"
        fi
    fi
fi

# ---- a two-platform index ------------------------------------------------------------------
(
    set -e
    cd "$TMP"
    umoci init --layout oci
    for a in amd64 arm64; do
        umoci new --image "oci:$a"
        umoci unpack --image "oci:$a" "bundle-$a"
        mkdir -p "bundle-$a/rootfs/etc"
        echo "$a" >"bundle-$a/rootfs/etc/arch"
        umoci repack --image "oci:$a" "bundle-$a"
        umoci config --image "oci:$a" --os linux --architecture "$a" --config.cmd /bin/sh
    done
    desc() {
        jq -c --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)
            | {mediaType, digest, size, platform: {architecture: $t, os: "linux"}}' oci/index.json
    }
    jq -cn --argjson a "$(desc amd64)" --argjson b "$(desc arm64)" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [$a, $b]}' \
        | tr -d '\n' >index.blob
    d=$(sha256sum index.blob | cut -d' ' -f1)
    cp index.blob "oci/blobs/sha256/$d"
    jq --arg d "sha256:$d" --argjson s "$(stat -c %s index.blob)" \
        '.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
          annotations: {"org.opencontainers.image.ref.name": "multi"}}]' oci/index.json >index.new
    mv index.new oci/index.json
) >"$TMP/umoci.log" 2>&1 || { fail "could not build the two-platform image: $(tail -3 "$TMP/umoci.log" | tr '\n' ' ')"; }
MULTI=$REG/t6000/multi:v1
if step "skopeo copy --all of a two-platform index" \
    skopeo copy --all --dest-tls-verify=false "oci:$TMP/oci:multi" "docker://$MULTI"; then
    http GET /v2/t6000/multi/manifests/v1 -H 'Accept: application/vnd.oci.image.index.v1+json'
    INDEX_DIGEST=$(sha256_of "$BODY_FILE")
    AMD64=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$BODY_FILE")
    ARM64=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$BODY_FILE")
    expect_match "$AMD64$ARM64" '^sha256:[0-9a-f]{64}sha256:[0-9a-f]{64}$' "berthd serves the index"

    bx pull "$MULTI"
    if ok "berth pull of an index"; then
        expect_eq "$(sed -n 1p <<<"$OUT")" "Digest: $INDEX_DIGEST" "pull of an index prints the index digest"
        bx inspect "$MULTI"
        expect_eq "$(jq -r '.[0].Architecture' <<<"$OUT")" amd64 "the index pulls linux/amd64 here"
        expect_eq "$(jq -r '.[0].ManifestDigest' <<<"$OUT")" "$AMD64" "the amd64 manifest is stored"
        expect_eq "$(jq -c '.[0].RepoDigests' <<<"$OUT")" "[\"$REG/t6000/multi@$INDEX_DIGEST\"]" "RepoDigests names the index"
    fi
    bx pull --platform linux/arm64 "$MULTI"
    if ok "berth pull --platform linux/arm64"; then
        expect_eq "$(sed -n 1p <<<"$OUT")" "Digest: $INDEX_DIGEST" "pull --platform prints the index digest"
        bx inspect "$MULTI"
        expect_eq "$(jq -r '.[0].Architecture' <<<"$OUT")" arm64 "--platform linux/arm64 picks the arm64 image"
        expect_eq "$(jq -r '.[0].ManifestDigest' <<<"$OUT")" "$ARM64" "the arm64 manifest is stored"
        check; blobs_verified || fail "a blob of the arm64 image does not match its digest"
    fi
    refuses "pull of an unknown platform" 'berth pull: .*linux/s390x' pull -q --platform linux/s390x "$MULTI"
fi

# ---- catalog and tags over several pages -----------------------------------------------------
for t in t1 t2 t3 t4 t5; do
    bx tag "$APP" "$REG/t6000/app:$t" && bx push -q "$REG/t6000/app:$t"
    ok "berth push of tag $t" || break
done
http GET "/v2/t6000/app/tags/list"
check; [ -n "$(header Link)" ] || fail "berthd did not page tags/list (page_max 2): no Link header"
bx tags "$REG/t6000/app"
ok "berth tags"
expect_eq "$(sort <<<"$OUT" | tr '\n' ' ')" "t1 t2 t3 t4 t5 v1 " "berth tags lists every page"
expect_eq "$(sort -u <<<"$OUT" | wc -l)" "$(wc -l <<<"$OUT")" "berth tags lists each tag once"
if step "skopeo list-tags" skopeo list-tags --tls-verify=false "docker://$REG/t6000/app"; then
    expect_eq "$(sort <<<"$OUT" | tr '\n' ' ')" "$(jq -r '.Tags[]' "$TMP/step.log" | sort | tr '\n' ' ')" "berth tags = skopeo list-tags"
fi
http GET "/v2/_catalog"
check; [ -n "$(header Link)" ] || fail "berthd did not page _catalog (page_max 2): no Link header"
bx catalog "$REG"
ok "berth catalog"
expect_eq "$(sort <<<"$OUT" | tr '\n' ' ')" "t6000/app t6000/dpush t6000/dsave t6000/multi " "berth catalog lists every page"
bx tags "$REG/t6000/nosuch"
check; [ "$RC" -ne 0 ] || fail "tags of an unknown repository exited 0"

# ---- errors: one line, non-zero, nothing half-written ----------------------------------------
DEAD=127.0.0.1:$(free_port)
refuses "pull from an unreachable registry" "berth pull: .*$DEAD" pull -q "$DEAD/t6000/app:v1"
refuses "pull of an unknown tag" 'berth pull: .*(not found|unknown)' pull -q "$REG/t6000/app:nosuch"
refuses "pull of an unknown repository" 'berth pull: .*(not found|unknown)' pull -q "$REG/t6000/nosuch:v1"
refuses "pull of a bad reference (upper case)" 'berth pull: .*(invalid|lowercase)' pull -q "$REG/T6000/App:v1"
refuses "pull of a bad reference (tag)" 'berth pull: .*invalid' pull -q "$REG/t6000/app:-bad"
refuses "pull of a bad reference (digest)" 'berth pull: .*invalid' pull -q "$REG/t6000/app@sha256:1234"
refuses "rmi of an unknown image" 'berth rmi: .*[Nn]o such image' rmi "$REG/t6000/nosuch:v1"
refuses "rmi of an unknown id" 'berth rmi: .*[Nn]o such image' rmi 0123456789ab
refuses "push of an image that is not in the store" 'berth push: ' push -q "$REG/t6000/nosuch:v1"
bx tag "$APP" "$DEAD/t6000/app:v1"
refuses "push to an unreachable registry" "berth push: .*$DEAD" push -q "$DEAD/t6000/app:v1"
# without -q the progress goes to stderr, but the error is still one line
bx pull "$REG/t6000/app:nosuch"
check; [ "$RC" -ne 0 ] && [ "$(grep -c '^berth pull:' <<<"$ERR")" -eq 1 ] && [[ $(tail -n 1 <<<"$ERR") == "berth pull:"* ]] ||
    fail "pull of an unknown tag without -q: expected one 'berth pull:' line last on stderr, got: $ERR"
bx inspect "$REG/t6000/app:nosuch"
check; [ "$RC" -ne 0 ] || fail "inspect of an unknown image exited 0"
check; jq -e . "$BERTH_ROOT/index.json" >/dev/null || fail "index.json is not valid JSON at the end"

finish
