#!/bin/bash
# t7100-mirror: `berth mirror` copies repositories registry to registry
# (issue 7), keeping digests, and copies nothing the second time.
#
#   - the source is a berthd holding 3 repositories (umoci images pushed by
#     skopeo): lib/alpha (4 tags, two of them the same image), lib/beta
#     (3 tags) and lib/multi (an OCI index of linux/amd64 + linux/arm64, and
#     its amd64 child under a tag of its own);
#   - berthd -> berthd with `berth mirror SRC DST`: every tag, the same
#     digests (skopeo inspect --raw | sha256sum), every blob there; a second
#     run prints "TAG: up to date (DIGEST)" for each and uploads nothing;
#     `--tags GLOB` copies only the matching tags; `--all-platforms` keeps
#     the index digest and both children; without it the host's platform
#     is copied under the tag, and a second run is up to date too; a mirror
#     within one registry works (blobs mounted);
#   - berthd -> docker-registry (CNCF distribution) with
#     `berth mirror --config FILE` listing the 3 repositories (one with a
#     tags glob, one with all_platforms): the same digests, and a second run
#     copies nothing;
#   - errors: a config entry without a destination, an unknown source
#     repository: a message and a non-zero exit.
# The berth store ($BERTH_ROOT) and $HOME live in $TMP; every registry is
# on 127.0.0.1 and stopped by the EXIT trap.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"
BERTH=${BERTH:-build/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
interop_require "$BERTH" skopeo umoci docker-registry jq curl
STEP_TIMEOUT=90
export HOME=$TMP/home BERTH_ROOT=$TMP/store
mkdir -p "$HOME"

# ---- registries: A (source, berthd), B (berthd), C (docker-registry) -------------
ROOT=$TMP/a
berthd_start
A=$REG

declare -A XPID=()
# xberthd NAME: another berthd on a free port; sets XREG.
xberthd() {
    local name=$1 port n try
    for try in 1 2 3; do
        port=$(free_port)
        mkdir -p "$TMP/$name-root"
        "$BERTHD" serve --listen "127.0.0.1:$port" --root "$TMP/$name-root" >>"$TMP/$name.log" 2>&1 &
        XPID[$name]=$!
        at_exit "kill ${XPID[$name]}; wait ${XPID[$name]}"
        for n in $(seq 1 100); do
            if curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$port/v2/" 2>/dev/null; then
                XREG=127.0.0.1:$port
                return 0
            fi
            kill -0 "${XPID[$name]}" 2>/dev/null || break
            sleep 0.05
        done
        kill "${XPID[$name]}" 2>/dev/null
    done
    echo "$T_NAME: berthd ($name) did not start: $(tail -3 "$TMP/$name.log")" >&2
    exit 1
}
xberthd b
B=$XREG

CPORT=$(free_port)
C=127.0.0.1:$CPORT
cat >"$TMP/peer.yml" <<EOF
version: 0.1
log: {level: info, formatter: text}
storage: {filesystem: {rootdirectory: $TMP/peer-data}, delete: {enabled: true}}
http: {addr: $C}
EOF
docker-registry serve "$TMP/peer.yml" >>"$TMP/peer.log" 2>&1 &
PEER_PID=$!
at_exit "kill $PEER_PID; wait $PEER_PID"
for n in $(seq 1 100); do
    curl -fsS -o /dev/null -m 2 "http://$C/v2/" 2>/dev/null && break
    sleep 0.05
done
curl -fsS -o /dev/null -m 2 "http://$C/v2/" || { echo "$T_NAME: docker-registry did not start" >&2; tail -5 "$TMP/peer.log" >&2; exit 1; }

# ---- the source content -------------------------------------------------------------
build_image "$TMP/oci" i1 "t7100 one $RANDOM"
build_image "$TMP/oci" i2 "t7100 two $RANDOM"
build_image "$TMP/oci" i3 "t7100 three $RANDOM"
build_multiarch "$TMP/oci" ma
D1=$(oci_ref_digest "$TMP/oci" i1)
D2=$(oci_ref_digest "$TMP/oci" i2)
D3=$(oci_ref_digest "$TMP/oci" i3)
MA=$(oci_ref_digest "$TMP/oci" ma)
MA_AMD=$(oci_ref_digest "$TMP/oci" ma-amd64)
MA_ARM=$(oci_ref_digest "$TMP/oci" ma-arm64)
seed() {   # IMAGE REPO:TAG [--all]
    step "skopeo copy oci:$1 -> source $2" skopeo copy ${3:-} --dest-tls-verify=false \
        "oci:$TMP/oci:$1" "docker://$A/$2" || finish
}
seed i1 lib/alpha:v1
seed i2 lib/alpha:v2
seed i2 lib/alpha:latest
seed i3 lib/alpha:dev
seed i3 lib/beta:1.0
seed i1 lib/beta:1.1
seed i2 lib/beta:1.1.1
seed ma lib/multi:v1 --all
seed ma-amd64 lib/multi:v1-amd64
declare -A WANT=(
    [lib/alpha:v1]=$D1 [lib/alpha:v2]=$D2 [lib/alpha:latest]=$D2 [lib/alpha:dev]=$D3
    [lib/beta:1.0]=$D3 [lib/beta:1.1]=$D1 [lib/beta:1.1.1]=$D2
    [lib/multi:v1]=$MA [lib/multi:v1-amd64]=$MA_AMD
)

# ---- helpers ----------------------------------------------------------------------------
# mirror ARGS...: run berth mirror; $RC, $STDOUT, $ERR (stderr) and $OUT
# (both: the report's content is checked there, the stream it goes to once
# per form of the command, by on_stdout).
mirror() {
    timeout 120 "$BERTH" mirror "$@" >"$TMP/m.out" 2>"$TMP/m.err"
    RC=$?
    STDOUT=$(cat "$TMP/m.out")
    ERR=$(cat "$TMP/m.err")
    OUT=$(cat "$TMP/m.out" "$TMP/m.err")
}
# on_stdout WHAT LINE: the report line is on standard output.
on_stdout() {
    check
    grep -qxF -- "$2" <<<"$STDOUT" ||
        fail "$1: '$2' is not on standard output (stdout: '$(tr '\n' '|' <<<"$STDOUT")', stderr: '$(tr '\n' '|' <<<"$ERR")')"
}
mirror_ok() {
    check
    [ "$RC" -eq 0 ] || { fail "$1: berth mirror exited $RC: $ERR"; return 1; }
}
# raw_digest REG REPO REF: sha256 of the manifest bytes the registry serves.
raw_digest() {
    local sep=:
    case $3 in sha256:*) sep=@ ;; esac
    local out
    out=$(timeout 60 skopeo inspect --raw --tls-verify=false "docker://$1/$2$sep$3" 2>/dev/null | sha256sum | cut -d' ' -f1)
    [ "$out" = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ] && out=   # nothing
    echo "sha256:$out"
}
# tags_of REG REPO: the repository's tags, sorted, space-separated.
tags_of() {
    timeout 60 skopeo list-tags --tls-verify=false "docker://$1/$2" 2>/dev/null | jq -r '.Tags[]' | sort | tr '\n' ' ' | sed 's/ $//'
}
# same_tags WHAT DST_REG DST_REPO SRC_REPO TAG...: each tag's digest on the
# destination is the source's.
same_tags() {
    local what=$1 reg=$2 dst=$3 src=$4 t
    shift 4
    for t in "$@"; do
        expect_eq "$(raw_digest "$reg" "$dst" "$t")" "${WANT[$src:$t]}" "$what: digest of $dst:$t"
    done
}
# blobs_there WHAT REG REPO DIGEST...: each image's config and layers answer HEAD.
blobs_there() {
    local what=$1 reg=$2 repo=$3 d b
    shift 3
    for d in "$@"; do
        for b in $(jq -r '.config.digest, .layers[].digest' "$(oci_blob "$TMP/oci" "$d")"); do
            check
            [ "$(curl -s -o /dev/null -m 10 -I -w '%{http_code}' "http://$reg/v2/$repo/blobs/$b")" = 200 ] ||
                fail "$what: blob $b of $d is missing from $reg/$repo"
        done
    done
}
# lines_for TAG...: the expected "TAG: STATE DIGEST" lines, in the source's tag order.
expect_lines() {   # WHAT STATE SRC_REPO TAG...
    local what=$1 state=$2 src=$3 t line
    shift 3
    for t in "$@"; do
        if [ "$state" = copied ]; then line="$t: copied ${WANT[$src:$t]}"; else line="$t: up to date (${WANT[$src:$t]})"; fi
        check
        grep -qxF -- "$line" <<<"$OUT" || fail "$what: no line '$line' in: $(tr '\n' '|' <<<"$OUT")"
    done
}
# summary WHAT LINE: the report has this summary line.
summary() {
    check
    grep -qxF -- "$2" <<<"$OUT" || fail "$1: no summary line '$2' in: $(tr '\n' '|' <<<"$OUT")"
}
# writes_since LOG LINE0: the PUT/POST/PATCH requests a berthd logged since LINE0.
writes_since() { tail -n +"$(($2 + 1))" "$1" | grep -cE ' (PUT|POST|PATCH) /v2/'; }

ALPHA_TAGS=(dev latest v1 v2)
BETA_TAGS=(1.0 1.1 1.1.1)

# ---- berthd -> berthd -------------------------------------------------------------------
mirror "$A/lib/alpha" "$B/lib/alpha"
if mirror_ok "alpha A -> B"; then
    expect_lines "alpha A -> B" copied lib/alpha "${ALPHA_TAGS[@]}"
    summary "alpha A -> B" "$A/lib/alpha -> $B/lib/alpha: 4 copied, 0 up to date"
    on_stdout "berth mirror SRC DST" "$A/lib/alpha -> $B/lib/alpha: 4 copied, 0 up to date"
fi
expect_eq "$(tags_of "$B" lib/alpha)" "${ALPHA_TAGS[*]}" "tags of B/lib/alpha"
same_tags "alpha A -> B" "$B" lib/alpha lib/alpha "${ALPHA_TAGS[@]}"
blobs_there "alpha A -> B" "$B" lib/alpha "$D1" "$D2" "$D3"
L0=$(wc -l <"$TMP/b.log")
mirror "$A/lib/alpha" "$B/lib/alpha"
if mirror_ok "alpha A -> B, again"; then
    expect_lines "alpha A -> B, again" current lib/alpha "${ALPHA_TAGS[@]}"
    check; grep -q ': copied ' <<<"$OUT" && fail "alpha A -> B, again: copied something: $(grep ': copied ' <<<"$OUT" | tr '\n' '|')"
    summary "alpha A -> B, again" "$A/lib/alpha -> $B/lib/alpha: 0 copied, 4 up to date"
fi
expect_eq "$(writes_since "$TMP/b.log" "$L0")" 0 "alpha A -> B, again: uploads to B"

# --tags GLOB
mirror "$A/lib/beta" "$B/lib/beta" --tags '1.1*'
if mirror_ok "beta A -> B --tags '1.1*'"; then
    expect_lines "beta --tags" copied lib/beta 1.1 1.1.1
    summary "beta --tags" "$A/lib/beta -> $B/lib/beta: 2 copied, 0 up to date"
fi
expect_eq "$(tags_of "$B" lib/beta)" "1.1 1.1.1" "tags of B/lib/beta after --tags '1.1*'"
same_tags "beta --tags" "$B" lib/beta lib/beta 1.1 1.1.1
mirror "$A/lib/beta" "$B/lib/beta"
if mirror_ok "beta A -> B, every tag"; then
    expect_lines "beta, every tag" copied lib/beta 1.0
    expect_lines "beta, every tag" current lib/beta 1.1 1.1.1
fi
same_tags "beta, every tag" "$B" lib/beta lib/beta "${BETA_TAGS[@]}"

# an index, --all-platforms: the index digest and both children
mirror "$A/lib/multi" "$B/lib/multi" --all-platforms
if mirror_ok "multi A -> B --all-platforms"; then
    expect_lines "multi --all-platforms" copied lib/multi v1 v1-amd64
fi
same_tags "multi --all-platforms" "$B" lib/multi lib/multi v1 v1-amd64
expect_eq "$(raw_digest "$B" lib/multi "$MA_AMD")" "$MA_AMD" "multi --all-platforms: the amd64 child by digest"
expect_eq "$(raw_digest "$B" lib/multi "$MA_ARM")" "$MA_ARM" "multi --all-platforms: the arm64 child by digest"
blobs_there "multi --all-platforms" "$B" lib/multi "$MA_AMD" "$MA_ARM"
step "skopeo copy --all of the mirrored index" skopeo copy --all --src-tls-verify=false \
    "docker://$B/lib/multi:v1" "oci:$TMP/multi-back:v1" &&
    expect_eq "$(oci_ref_digest "$TMP/multi-back" v1)" "$MA" "the mirrored index, copied back whole"
L0=$(wc -l <"$TMP/b.log")
mirror "$A/lib/multi" "$B/lib/multi" --all-platforms
mirror_ok "multi --all-platforms, again" && expect_lines "multi --all-platforms, again" current lib/multi v1 v1-amd64
expect_eq "$(writes_since "$TMP/b.log" "$L0")" 0 "multi --all-platforms, again: uploads to B"

# an index without --all-platforms: this machine's platform under the tag
mirror "$A/lib/multi:v1" "$B/lib/multi-host"
check
if [ "$RC" -ne 0 ]; then
    fail "multi A -> B (host platform): berth mirror exited $RC: $ERR"
else
    # the digest reported is the one the destination's tag now has
    expect_eq "$(grep -oE '^v1: copied sha256:[0-9a-f]{64}' <<<"$OUT")" "v1: copied $MA_AMD" "multi (host platform): the report line"
fi
expect_eq "$(raw_digest "$B" lib/multi-host v1)" "$MA_AMD" "multi (host platform): B/lib/multi-host:v1 is the amd64 child"
blobs_there "multi (host platform)" "$B" lib/multi-host "$MA_AMD"
L0=$(wc -l <"$TMP/b.log")
mirror "$A/lib/multi:v1" "$B/lib/multi-host"
if mirror_ok "multi (host platform), again"; then
    check; grep -qE '^v1: up to date ' <<<"$OUT" ||
        fail "multi (host platform), again: expected 'v1: up to date (...)', got: $(tr '\n' '|' <<<"$OUT")"
fi
expect_eq "$(writes_since "$TMP/b.log" "$L0")" 0 "multi (host platform), again: uploads to B"

# within one registry (the blobs can be mounted)
mirror "$A/lib/alpha" "$A/copy/alpha" --tags 'v*'
mirror_ok "alpha A -> A/copy/alpha" && expect_lines "alpha within A" copied lib/alpha v1 v2
same_tags "alpha within A" "$A" copy/alpha lib/alpha v1 v2
blobs_there "alpha within A" "$A" copy/alpha "$D1" "$D2"

# ---- berthd -> docker-registry, --config FILE ------------------------------------------
jq -n --arg a "$A" --arg c "$C" '{mirrors: [
    {source: ($a + "/lib/alpha"), destination: ($c + "/mirror/alpha")},
    {source: ($a + "/lib/beta"), destination: ($c + "/mirror/beta"), tags: "1.0"},
    {source: ($a + "/lib/multi"), destination: ($c + "/mirror/multi"), all_platforms: true}]}' >"$TMP/mirrors.json"
mirror --config "$TMP/mirrors.json"
if mirror_ok "--config: A -> docker-registry"; then
    expect_lines "--config" copied lib/alpha "${ALPHA_TAGS[@]}"
    expect_lines "--config" copied lib/beta 1.0
    expect_lines "--config" copied lib/multi v1 v1-amd64
    check; grep -qxF "$A/lib/alpha -> $C/mirror/alpha: 4 copied, 0 up to date" <<<"$OUT" &&
        grep -qxF "$A/lib/beta -> $C/mirror/beta: 1 copied, 0 up to date" <<<"$OUT" &&
        grep -qxF "$A/lib/multi -> $C/mirror/multi: 2 copied, 0 up to date" <<<"$OUT" ||
        fail "--config: summary lines: $(grep ' -> ' <<<"$OUT" | tr '\n' '|')"
    on_stdout "berth mirror --config" "$A/lib/beta -> $C/mirror/beta: 1 copied, 0 up to date"
fi
expect_eq "$(tags_of "$C" mirror/alpha)" "${ALPHA_TAGS[*]}" "tags of docker-registry's mirror/alpha"
expect_eq "$(tags_of "$C" mirror/beta)" "1.0" "tags of docker-registry's mirror/beta (tags: 1.0)"
expect_eq "$(tags_of "$C" mirror/multi)" "v1 v1-amd64" "tags of docker-registry's mirror/multi"
same_tags "--config" "$C" mirror/alpha lib/alpha "${ALPHA_TAGS[@]}"
same_tags "--config" "$C" mirror/beta lib/beta 1.0
same_tags "--config" "$C" mirror/multi lib/multi v1 v1-amd64
expect_eq "$(raw_digest "$C" mirror/multi "$MA_ARM")" "$MA_ARM" "--config: the arm64 child on docker-registry"
blobs_there "--config" "$C" mirror/alpha "$D1" "$D2" "$D3"
blobs_there "--config" "$C" mirror/multi "$MA_AMD" "$MA_ARM"
step "skopeo copy from docker-registry's mirror/alpha:v1" skopeo copy --src-tls-verify=false \
    "docker://$C/mirror/alpha:v1" "oci:$TMP/alpha-back:v1" &&
    expect_eq "$(oci_ref_digest "$TMP/alpha-back" v1)" "$D1" "mirror/alpha:v1 copied back from docker-registry"
P0=$(wc -l <"$TMP/peer.log")
mirror --config "$TMP/mirrors.json"
if mirror_ok "--config, again"; then
    expect_lines "--config, again" current lib/alpha "${ALPHA_TAGS[@]}"
    expect_lines "--config, again" current lib/beta 1.0
    expect_lines "--config, again" current lib/multi v1 v1-amd64
    check; grep -q ': copied ' <<<"$OUT" && fail "--config, again: copied something: $(grep ': copied ' <<<"$OUT" | tr '\n' '|')"
    check; [ "$(grep -c ': 0 copied, ' <<<"$OUT")" -eq 3 ] || fail "--config, again: summaries: $(grep ' -> ' <<<"$OUT" | tr '\n' '|')"
fi
check; tail -n +"$((P0 + 1))" "$TMP/peer.log" | grep -qE '"(PUT|POST|PATCH) /v2/' &&
    fail "--config, again: uploads reached docker-registry: $(tail -n +"$((P0 + 1))" "$TMP/peer.log" | grep -E '"(PUT|POST|PATCH) /v2/' | head -3)"

# ---- errors --------------------------------------------------------------------------------
jq -n --arg a "$A" '{mirrors: [{source: ($a + "/lib/alpha")}]}' >"$TMP/bad.json"
mirror --config "$TMP/bad.json"
check; [ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] || fail "--config with an entry without destination exited $RC"
expect_match "$ERR" 'destination' "--config with an entry without destination: message"
mirror "$A/lib/nothere" "$B/lib/nothere"
check; [ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] || fail "mirror of an unknown repository exited $RC"
expect_match "$ERR" '^berth mirror: ' "mirror of an unknown repository: message"
expect_eq "$(tags_of "$B" lib/nothere)" "" "mirror of an unknown repository: nothing on B"

# ---- B still runs and stops cleanly --------------------------------------------------------
check
if kill -0 "${XPID[b]}" 2>/dev/null; then
    kill -TERM "${XPID[b]}"; wait "${XPID[b]}"; rc=$?
    [ "$rc" -eq 0 ] || fail "berthd (b) exited $rc on SIGTERM"
else
    fail "berthd (b) is no longer running (crashed?)"
fi
check; grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/b.log" && fail "sanitizer report in berthd (b)'s log"
finish
