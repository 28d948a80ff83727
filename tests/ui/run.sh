#!/bin/bash
# tests/ui/run.sh - berthd's web UI (/ui/) driven in a real browser: Debian's
# headless Chromium under playwright-core (tests/ui/ui.test.mjs).
#
# Installs what is missing (the chromium Debian package; playwright-core at
# the version package-lock.json pins, into tests/ui/node_modules), seeds a
# registry with curl (tests/lib.sh helpers: two images, a multi-platform
# index, an SBOM referring to one image), then serves it twice with auth on:
#
#   basic  --htpasswd: the login form, a refused then an accepted password,
#          repositories, search, tags with sizes and ages, copy pull command,
#          a manifest with layers, config and referrers, an index's
#          platforms, deleting a tag (gone from the page and from the API);
#   token  the built-in token service: an anonymous token is not enough, a
#          read-only account is refused a delete (403 shown), sign out,
#          and an account that may delete gets a delete-scoped token.
#
# Screenshots go to build/test-artifacts/: ui.png (a manifest), ui-login.png,
# ui-search.png, ui-tags.png, ui-token.png, and ui-failure-MODE.png when a
# step fails. Bounded: each browser run is killed after 180 s. BERTHD names
# the binary (default build/berthd).
. "$(dirname "$0")/../lib.sh"
T_NAME=ui
UI_DIR=$TOP/tests/ui
ARTIFACTS=${ARTIFACTS:-$TOP/build/test-artifacts}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$ARTIFACTS"
touch "$TMP/berthd.log"

# ---- what the test needs ------------------------------------------------------
apt_install() {
    echo "ui: installing $* (apt)" >&2
    { apt-get update -qq && apt-get install -y -qq "$@"; } >"$TMP/apt.log" 2>&1 ||
        { cat "$TMP/apt.log" >&2; echo "ui: could not install $*" >&2; exit 1; }
}
[ -x "$CHROMIUM" ] || apt_install chromium
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
for tool in curl jq; do command -v $tool >/dev/null || apt_install $tool; done
want=$(jq -r '.packages["node_modules/playwright-core"].version' "$UI_DIR/package-lock.json")
have=$(jq -r .version "$UI_DIR/node_modules/playwright-core/package.json" 2>/dev/null)
if [ "$have" != "$want" ]; then
    echo "ui: installing playwright-core $want (npm ci)" >&2
    (cd "$UI_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund --loglevel=error) ||
        { echo "ui: npm ci failed" >&2; exit 1; }
fi

# ---- a registry to look at ---------------------------------------------------------
OCI_M=application/vnd.oci.image.manifest.v1+json
OCI_I=application/vnd.oci.image.index.v1+json

# image_with REPO TAG ARCH LAYER_BYTES...: an image whose config has a
# creation time three days ago, a command, env and labels, pushed as TAG
# (- : by digest only); prints its digest.
image_with() {
    local repo=$1 tag=$2 arch=$3 f=$TMP/seed-${1//\//_}-$2-$3 layers=() n i=0
    shift 3
    jq -cn --arg arch "$arch" --arg created "$(date -u -d '3 days ago' +%Y-%m-%dT%H:%M:%SZ)" \
        '{architecture: $arch, os: "linux", created: $created,
          config: {Cmd: ["/bin/sh"], Env: ["PATH=/usr/bin:/bin"], WorkingDir: "/srv",
                   Labels: {"org.opencontainers.image.source": "https://example.com/demo"}},
          rootfs: {type: "layers", diff_ids: []}, history: [{created_by: "seed"}]}' >"$f.config"
    push_blob "$repo" "$f.config" >/dev/null || return 1
    for n in "$@"; do
        random_file "$f.layer$i" "$n"
        push_blob "$repo" "$f.layer$i" >/dev/null || return 1
        layers+=("$(descriptor application/vnd.oci.image.layer.v1.tar+gzip "$f.layer$i")")
        i=$((i + 1))
    done
    jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$f.config")" \
        --argjson l "$(printf '%s\n' "${layers[@]}" | jq -cs .)" \
        '{schemaVersion: 2, mediaType: "'$OCI_M'", config: $c, layers: $l,
          annotations: {"org.opencontainers.image.title": "demo image"}}' | tr -d '\n' >"$f.json"
    [ "$tag" != - ] || tag=$(sha256_of "$f.json")
    push_manifest "$repo" "$tag" "$f.json" "$OCI_M"
}

seed() {
    local alpha sbom amd arm
    alpha=$(image_with demo/alpha 1.0 amd64 1500 3000) &&
        push_manifest demo/alpha latest "$TMP/seed-demo_alpha-1.0-amd64.json" "$OCI_M" >/dev/null &&
        push_image demo/beta v2 >/dev/null || return 1
    # An SBOM for alpha:1.0, found through the referrers API.
    printf '{}' >"$TMP/empty.json"
    printf '{"spdxVersion":"SPDX-2.3","name":"demo"}' >"$TMP/sbom.json"
    push_blob demo/alpha "$TMP/empty.json" >/dev/null && push_blob demo/alpha "$TMP/sbom.json" >/dev/null || return 1
    jq -cn --argjson c "$(descriptor application/vnd.oci.empty.v1+json "$TMP/empty.json")" \
        --argjson l "$(descriptor application/spdx+json "$TMP/sbom.json")" \
        --arg subject "$alpha" --argjson size "$(size_of "$TMP/seed-demo_alpha-1.0-amd64.json")" \
        '{schemaVersion: 2, mediaType: "'$OCI_M'", artifactType: "application/spdx+json", config: $c,
          layers: [$l], subject: {mediaType: "'$OCI_M'", digest: $subject, size: $size},
          annotations: {"org.opencontainers.image.created": "2026-01-02T03:04:05Z"}}' | tr -d '\n' >"$TMP/sbom-m.json"
    sbom=$(sha256_of "$TMP/sbom-m.json")
    push_manifest demo/alpha "$sbom" "$TMP/sbom-m.json" "$OCI_M" >/dev/null || return 1
    # A multi-platform index.
    amd=$(image_with demo/multi - amd64 800) && arm=$(image_with demo/multi - arm64 900) || return 1
    jq -cn --arg amd "$amd" --arg arm "$arm" \
        --argjson amd_size "$(size_of "$TMP/seed-demo_multi---amd64.json")" \
        --argjson arm_size "$(size_of "$TMP/seed-demo_multi---arm64.json")" \
        '{schemaVersion: 2, mediaType: "'$OCI_I'", manifests: [
           {mediaType: "'$OCI_M'", digest: $amd, size: $amd_size, platform: {os: "linux", architecture: "amd64"}},
           {mediaType: "'$OCI_M'", digest: $arm, size: $arm_size, platform: {os: "linux", architecture: "arm64", variant: "v8"}}]}' \
        | tr -d '\n' >"$TMP/index.json"
    push_manifest demo/multi 1 "$TMP/index.json" "$OCI_I" >/dev/null
}

ROOT=$TMP/root
berthd_start
seed || { echo "ui: could not seed the registry" >&2; cat "$TMP/berthd.log" >&2; exit 1; }
berthd_stop

HT=$TMP/htpasswd
PW_ALICE='alice-UI-pw'
PW_VIEWER='viewer-UI-pw'
printf '%s\n' "$PW_ALICE" | "$BERTHD" htpasswd "$HT" alice &&
    printf '%s\n' "$PW_VIEWER" | "$BERTHD" htpasswd "$HT" viewer || { echo "ui: berthd htpasswd failed" >&2; exit 1; }

# ui_up ARGS...: berthd serve on $REG (a fresh port unless set) with auth
# ARGS; waits until /ui/ answers.
ui_up() {
    [ -n "${REG:-}" ] || { PORT=$(free_port); REG=127.0.0.1:$PORT; }
    "$BERTHD" serve --listen "$REG" --root "$ROOT" "$@" >>"$TMP/berthd.log" 2>&1 &
    BERTHD_PID=$!
    at_exit "kill $BERTHD_PID; wait $BERTHD_PID"
    local i
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/ui/")" = 200 ] && return 0
        kill -0 "$BERTHD_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "ui: berthd did not serve /ui/ (args: $*):" >&2
    tail -20 "$TMP/berthd.log" >&2
    exit 1
}

# browse MODE: run the browser steps for MODE against $REG.
browse() {
    check
    BERTH_URL=http://$REG UI_MODE=$1 ARTIFACTS=$ARTIFACTS PROFILE_DIR=$TMP/profile-$1 CHROMIUM=$CHROMIUM \
        ALICE_PW=$PW_ALICE VIEWER_PW=$PW_VIEWER \
        timeout -k 5 180 node "$UI_DIR/ui.test.mjs" || fail "the $1 browser run failed (exit $?)"
}

# The page itself needs no credentials, even with auth on.
REG=
ui_up --htpasswd "$HT"
http GET /ui/
expect_status 200 "GET /ui/ without credentials"
expect_match "$(header Content-Type)" '^text/html' "Content-Type of /ui/"
expect_match "$(header Content-Security-Policy)" "default-src 'self'" "CSP of /ui/"
http GET /ui/app.js
expect_match "$(header Content-Type)" '^text/javascript' "Content-Type of /ui/app.js"
http GET /v2/_catalog
expect_status 401 "the API itself still needs credentials"
browse basic
berthd_stop
PORT=$(free_port)
REG=127.0.0.1:$PORT

cat >"$TMP/token.json" <<EOF
{"auth": {
  "htpasswd": "$HT",
  "token": {"realm": "http://$REG/auth/token", "service": "berth-ui", "issuer": "berth-ui",
            "path": "/auth/token", "key": "$TMP/token-key.pem"},
  "access": [
    {"account": "alice", "repository": "*", "actions": ["*"]},
    {"account": "viewer", "repository": "*", "actions": ["pull", "catalog"]}
  ]}}
EOF
ui_up --config "$TMP/token.json"
browse token
finish
