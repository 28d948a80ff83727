# tests/interop/lib-interop.sh - helpers for the real-client interop scripts
# (t4000-t4400), sourced after tests/lib.sh.
#
#   interop_require TOOL...         # exit 1 with a clear message if one is missing
#   registry_start                  # berthd_start, or with INTEROP_REGISTRY=peer
#                                   # Debian's docker-registry (distribution 2.8)
#                                   # on a free 127.0.0.1 port: $REG, $PORT
#   step WHAT CMD...                # CMD must succeed; output in $TMP/step.log
#   step_fails WHAT CMD...          # CMD must fail
#   docker_up                       # dockerd when `docker info` fails; stopped at exit
#   docker_forget IMAGE...          # docker rmi -f IMAGE... at exit
#   build_image LAYOUT TAG TEXT     # 3-layer busybox image, /etc/greeting = TEXT
#   build_multiarch LAYOUT TAG      # an OCI index: linux/amd64 (busybox) + linux/arm64
#   oci_ref_digest LAYOUT TAG       # the digest LAYOUT's index.json names for TAG
#   oci_blob LAYOUT DIGEST          # the path of a blob in LAYOUT
#   oci_blob_list LAYOUT            # every blob in LAYOUT (sorted, "sha256:<hex>")
#   oci_blobs_verified LAYOUT       # every blob in LAYOUT hashes to its name
#   oci_image_digests LAYOUT DIGEST # DIGEST and all it references (children, config, layers)
#   reg_digest REPO REF ACCEPT...   # HEAD a manifest on $REG: Docker-Content-Digest
#
# (debian_fixture, a real debian:bookworm base image imported into the berth
# store from a debootstrap tarball cached in build/fixtures, is in lib.sh.)
#
# A failed step reports the exact command, its last lines of output and the
# registry's error answers logged meanwhile.
#
# Everything here cleans up after itself through lib.sh's at_exit; scratch
# lives in $TMP. Every address used is 127.0.0.1.
DOCKER=/usr/bin/docker     # the engine's CLI (/usr/local/bin/docker may be a bare client)
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
OCI_INDEX=application/vnd.oci.image.index.v1+json
DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
STEP_TIMEOUT=${STEP_TIMEOUT:-180}

BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=$(command -v busybox || echo /bin/busybox)

# docker's and podman's client state stays in $TMP, not in root's home
# (podman reads $DOCKER_CONFIG/config.json too, and wants it to exist).
export DOCKER_CONFIG=$TMP/docker-config
mkdir -p "$DOCKER_CONFIG" && echo '{}' >"$DOCKER_CONFIG/config.json"

interop_require() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            { echo "$T_NAME: $t is missing (make test-deps)" >&2; exit 1; }
    done
    file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
        { echo "$T_NAME: a static busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
}

# registry_start: the registry under test. INTEROP_REGISTRY=peer runs the
# same script against the reference implementation, to tell a wrong test
# from a wrong server.
registry_start() {
    if [ "${INTEROP_REGISTRY:-berthd}" != peer ]; then
        berthd_start "$@"
        return
    fi
    command -v docker-registry >/dev/null || { echo "$T_NAME: docker-registry is missing" >&2; exit 1; }
    PORT=$(free_port)
    REG=127.0.0.1:$PORT
    cat >"$TMP/peer.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $TMP/peer-data}, delete: {enabled: true}}
http: {addr: $REG}
EOF
    docker-registry serve "$TMP/peer.yml" >>"$TMP/peer.log" 2>&1 &
    PEER_PID=$!
    at_exit "kill $PEER_PID; wait $PEER_PID"
    local n
    for n in $(seq 1 100); do
        curl -fsS -o /dev/null "http://$REG/v2/" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$T_NAME: docker-registry did not start:" >&2
    cat "$TMP/peer.log" >&2
    exit 1
}

# step WHAT CMD...: CMD must succeed within $STEP_TIMEOUT s. Its output is in
# $TMP/step.log; a failure names the exact command and its last lines.
step() {
    local what=$1 log0
    shift
    check
    log0=$(_reg_log_lines)
    if ! timeout "$STEP_TIMEOUT" "$@" >"$TMP/step.log" 2>&1; then
        fail "$what: \`$*\` failed: $(tail -5 "$TMP/step.log" | tr '\n' ' ')$(_reg_log_errors "$log0")"
        return 1
    fi
}
# _reg_log_lines: how long the registry's log is now.
_reg_log_lines() { cat "$TMP/berthd.log" "$TMP/peer.log" 2>/dev/null | wc -l; }
# _reg_log_errors FROM: the registry's error answers and complaints logged
# since line FROM (a blob HEAD answering 404 is a client's question, not an
# error), for the report of a failed step.
_reg_log_errors() {
    local lines
    lines=$(cat "$TMP/berthd.log" "$TMP/peer.log" 2>/dev/null | tail -n +"$(($1 + 1))" |
        grep -vE ' HEAD [^ ]+/blobs/[^ ]+ 404 ' |
        grep -E ' [45][0-9][0-9] [0-9]+ [0-9.]+s$|[Ee]rror|[Ww]arn|level=(error|warn)' | tail -8)
    [ -n "$lines" ] && printf '\n    registry log:\n%s' "$(sed 's/^/      /' <<<"$lines")"
}
# step_fails WHAT CMD...: CMD must fail (and not by timing out).
step_fails() {
    local what=$1 rc
    shift
    check
    timeout "$STEP_TIMEOUT" "$@" >"$TMP/step.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        fail "$what: \`$*\` succeeded"
        return 1
    elif [ "$rc" -eq 124 ]; then
        fail "$what: \`$*\` timed out"
        return 1
    fi
}

# ---- docker ------------------------------------------------------------------
# docker_up: use the dockerd that answers, or start one (vfs, no iptables, no
# bridge, as ../shared/TESTING.md says) and stop it at exit.
docker_up() {
    timeout 10 "$DOCKER" info >/dev/null 2>&1 && return 0
    dockerd --storage-driver vfs --iptables=false --bridge=none >"$TMP/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    at_exit "kill -TERM $DOCKERD_PID; for _w in \$(seq 1 150); do kill -0 $DOCKERD_PID 2>/dev/null || break; sleep 0.1; done; kill -KILL $DOCKERD_PID; wait $DOCKERD_PID"
    local n
    for n in $(seq 1 120); do
        timeout 5 "$DOCKER" info >/dev/null 2>&1 && return 0
        # another dockerd may have won the race for the socket: use that one
        kill -0 "$DOCKERD_PID" 2>/dev/null || DOCKERD_PID=
        sleep 0.5
    done
    echo "$T_NAME: dockerd did not start:" >&2
    tail -20 "$TMP/dockerd.log" >&2
    exit 1
}
DOCKER_IMAGES=()
# docker_forget IMAGE...: remove these docker images (names or ids) at exit.
docker_forget() {
    [ ${#DOCKER_IMAGES[@]} -eq 0 ] &&
        at_exit 'for _img in "${DOCKER_IMAGES[@]}"; do timeout 60 $DOCKER rmi -f "$_img"; done'
    DOCKER_IMAGES+=("$@")
}

# ---- test images (umoci + busybox-static, no network) ------------------------
# _umoci_layer LAYOUT TAG BUNDLE CMD: unpack TAG, run CMD in the bundle dir
# (the rootfs is ./rootfs), repack: one new layer.
_umoci_layer() {
    local layout=$1 tag=$2 bundle=$3
    shift 3
    rm -rf "$bundle"
    umoci unpack --image "$layout:$tag" "$bundle" &&
        (cd "$bundle" && eval "$*") &&
        umoci repack --image "$layout:$tag" "$bundle" &&
        rm -rf "$bundle"
}

# build_image LAYOUT TAG TEXT: an OCI image in LAYOUT (created if needed)
# with three layers (busybox and its links; /etc/greeting = TEXT; 64 KiB of
# random data in /var/random), cmd /bin/sh, PATH=/bin, linux/amd64. Unreached
# blobs are collected, so every blob in LAYOUT belongs to a tagged image.
build_image() {
    local layout=$1 tag=$2 text=$3 b=$TMP/bundle.$$
    (
        set -e
        [ -e "$layout/index.json" ] || umoci init --layout "$layout"
        umoci new --image "$layout:$tag"
        _umoci_layer "$layout" "$tag" "$b" \
            'mkdir -p rootfs/bin && cp "$BUSYBOX" rootfs/bin/busybox &&
             for c in sh ls echo cat true env sleep; do ln -s busybox rootfs/bin/$c; done'
        _umoci_layer "$layout" "$tag" "$b" 'mkdir -p rootfs/etc && printf "%s\n" "$text" >rootfs/etc/greeting'
        _umoci_layer "$layout" "$tag" "$b" 'mkdir -p rootfs/var && head -c 65536 /dev/urandom >rootfs/var/random'
        umoci config --image "$layout:$tag" --os linux --architecture amd64 \
            --config.cmd /bin/sh --config.env PATH=/bin
        umoci gc --layout "$layout"
    ) >>"$TMP/umoci.log" 2>&1 || {
        echo "$T_NAME: could not build the test image $layout:$tag:" >&2
        tail -20 "$TMP/umoci.log" >&2
        exit 1
    }
}

# build_multiarch LAYOUT TAG: in LAYOUT, the images TAG-amd64 (busybox,
# /etc/arch = amd64; runnable here) and TAG-arm64 (/etc/arch = arm64), and
# TAG: an OCI image index of the two with their platforms.
build_multiarch() {
    local layout=$1 tag=$2 b=$TMP/bundle.$$ a
    (
        set -e
        [ -e "$layout/index.json" ] || umoci init --layout "$layout"
        for a in amd64 arm64; do
            umoci new --image "$layout:$tag-$a"
            if [ "$a" = amd64 ]; then
                _umoci_layer "$layout" "$tag-$a" "$b" \
                    'mkdir -p rootfs/bin && cp "$BUSYBOX" rootfs/bin/busybox &&
                     for c in sh cat echo; do ln -s busybox rootfs/bin/$c; done'
            fi
            _umoci_layer "$layout" "$tag-$a" "$b" \
                'mkdir -p rootfs/etc && echo $a >rootfs/etc/arch && head -c 4096 /dev/urandom >rootfs/etc/noise'
            umoci config --image "$layout:$tag-$a" --os linux --architecture "$a" \
                --config.cmd /bin/sh --config.env PATH=/bin
        done
        umoci gc --layout "$layout"
        desc() {
            jq -c --arg t "$tag-$1" --arg a "$1" '.manifests[]
                | select(.annotations["org.opencontainers.image.ref.name"] == $t)
                | {mediaType, digest, size, platform: {architecture: $a, os: "linux"}}' "$layout/index.json"
        }
        jq -cn --arg mt "$OCI_INDEX" --argjson a "$(desc amd64)" --argjson b "$(desc arm64)" \
            '{schemaVersion: 2, mediaType: $mt, manifests: [$a, $b]}' | tr -d '\n' >"$TMP/index.blob"
        local d
        d=$(sha256sum "$TMP/index.blob" | cut -d' ' -f1)
        cp "$TMP/index.blob" "$layout/blobs/sha256/$d"
        jq --arg d "sha256:$d" --argjson s "$(stat -c %s "$TMP/index.blob")" --arg t "$tag" --arg mt "$OCI_INDEX" \
            '.manifests += [{mediaType: $mt, digest: $d, size: $s,
                             annotations: {"org.opencontainers.image.ref.name": $t}}]' \
            "$layout/index.json" >"$TMP/index.new"
        mv "$TMP/index.new" "$layout/index.json"
    ) >>"$TMP/umoci.log" 2>&1 || {
        echo "$T_NAME: could not build the multi-platform image $layout:$tag:" >&2
        tail -20 "$TMP/umoci.log" >&2
        exit 1
    }
}

# oci_ref_digest LAYOUT TAG: the digest index.json gives TAG ("" if none).
oci_ref_digest() {
    jq -r --arg t "$2" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)
        | .digest][0] // ""' "$1/index.json" 2>/dev/null
}
oci_blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }
# oci_blob_list LAYOUT: "sha256:<hex>" for every blob file, sorted.
oci_blob_list() {
    (cd "$1/blobs" 2>/dev/null && find . -type f | sed 's|^\./||; s|/|:|' | sort)
}
# oci_blobs_verified LAYOUT: every blob in LAYOUT hashes to its name.
oci_blobs_verified() {
    local f bad=0
    for f in "$1"/blobs/sha256/*; do
        [ -e "$f" ] || continue
        [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "bad blob $f" >&2; bad=1; }
    done
    return $bad
}
# oci_image_digests LAYOUT DIGEST: DIGEST, then its config and layers
# (an image manifest), or DIGEST and every child's the same (an index).
oci_image_digests() {
    local f
    f=$(oci_blob "$1" "$2")
    echo "$2"
    if jq -e '.manifests' "$f" >/dev/null 2>&1; then
        local c
        for c in $(jq -r '.manifests[].digest' "$f"); do oci_image_digests "$1" "$c"; done
    else
        jq -r '.config.digest, .layers[].digest' "$f"
    fi
}

# reg_digest REPO REF ACCEPT...: the Docker-Content-Digest of a manifest HEAD
# on $REG with these Accept types (empty when not 200).
reg_digest() {
    local repo=$1 ref=$2 a
    shift 2
    local hdrs=()
    for a in "$@"; do hdrs+=(-H "Accept: $a"); done
    http HEAD "/v2/$repo/manifests/$ref" "${hdrs[@]}"
    [ "$STATUS" = 200 ] && header Docker-Content-Digest
}
