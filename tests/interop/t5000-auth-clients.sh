#!/bin/bash
# t5000-auth-clients: real clients against berthd over TLS (a test CA, placed
# in /etc/docker/certs.d/127.0.0.1:PORT/ca.crt for docker and in a cert dir
# for skopeo and podman), first with Basic auth, then with token auth and the
# built-in token service: docker login / push / pull / logout, skopeo copy
# and inspect with credentials, podman login / pull / push / logout.
# dockerd is started when none answers, and stopped at the end if started
# here. Everything is undone by the EXIT trap.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../integration/lib-auth.sh"

DOCKER=/usr/bin/docker
for tool in "$DOCKER" dockerd skopeo podman umoci; do
    command -v "$tool" >/dev/null || { echo "$T_NAME: $tool is missing (make test-deps)" >&2; exit 1; }
done
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=$(command -v busybox)
[ -x "$BUSYBOX" ] || { echo "$T_NAME: busybox-static is missing" >&2; exit 1; }

# docker's login state lives in $TMP, not in root's ~/.docker.
export DOCKER_CONFIG=$TMP/docker-config
mkdir -p "$DOCKER_CONFIG"
PODMAN=(podman --root "$TMP/podman/root" --runroot "$TMP/podman/run" --storage-driver vfs
        --cgroup-manager cgroupfs --events-backend none)
step() { # step WHAT CMD...: CMD must succeed (output in $TMP/step.log)
    local what=$1
    shift
    check
    if ! timeout 120 "$@" >"$TMP/step.log" 2>&1; then
        fail "$what: $(tail -5 "$TMP/step.log" | tr '\n' ' ')"
        return 1
    fi
}
step_fails() { # step_fails WHAT CMD...: CMD must fail
    local what=$1
    shift
    check
    if timeout 120 "$@" >"$TMP/step.log" 2>&1; then
        fail "$what: succeeded"
        return 1
    fi
}

# ---- dockerd ---------------------------------------------------------------
if ! timeout 10 "$DOCKER" info >/dev/null 2>&1; then
    dockerd --storage-driver vfs --iptables=false --bridge=none >"$TMP/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    # (cleanup code is eval'd inside lib.sh's loop over `i`: use other names)
    at_exit "kill -TERM $DOCKERD_PID; for _w in \$(seq 1 150); do kill -0 $DOCKERD_PID 2>/dev/null || break; sleep 0.1; done; kill -KILL $DOCKERD_PID; wait $DOCKERD_PID"
    for i in $(seq 1 120); do
        timeout 5 "$DOCKER" info >/dev/null 2>&1 && break
        # someone else's dockerd may have won the race for the socket
        kill -0 "$DOCKERD_PID" 2>/dev/null || { DOCKERD_PID=; }
        sleep 0.5
    done
    timeout 10 "$DOCKER" info >/dev/null 2>&1 || { echo "$T_NAME: dockerd did not start:" >&2; tail -20 "$TMP/dockerd.log" >&2; exit 1; }
fi

# ---- PKI and a test image --------------------------------------------------
PKI=$TMP/pki
make_ca "$PKI" && make_cert "$PKI" server IP:127.0.0.1 || { echo "openssl failed" >&2; exit 1; }
CERTDIR=$TMP/certs
mkdir -p "$CERTDIR" && cp "$PKI/ca.crt" "$CERTDIR/ca.crt"
# docker_certs: install the CA for $REG where dockerd looks, removed at exit.
docker_certs() {
    local d=/etc/docker/certs.d/$REG
    mkdir -p "$d" && cp "$PKI/ca.crt" "$d/ca.crt"
    at_exit "rm -rf '$d'; rmdir /etc/docker/certs.d"
}

(
    set -e
    cd "$TMP"
    umoci init --layout oci
    umoci new --image oci:busybox
    umoci unpack --image oci:busybox bundle
    mkdir -p bundle/rootfs/bin
    cp "$BUSYBOX" bundle/rootfs/bin/busybox
    for c in sh ls echo cat true; do ln -s busybox "bundle/rootfs/bin/$c"; done
    umoci repack --image oci:busybox bundle
    umoci config --image oci:busybox --config.cmd /bin/sh --config.env PATH=/bin
) >"$TMP/umoci.log" 2>&1 || { echo "$T_NAME: could not build the test image:" >&2; tail "$TMP/umoci.log" >&2; exit 1; }

HT=$TMP/htpasswd
PW='interop-Pa55word'
add_user "$HT" alice "$PW" || exit 1
IMAGES=()
at_exit 'for _img in "${IMAGES[@]}"; do $DOCKER rmi -f "$_img"; done'
at_exit '"${PODMAN[@]}" rmi -af'

# clients MODE: the same walk with each client; $REG serves HTTPS with auth.
clients() {
    local mode=$1 r=$REG
    # skopeo
    step_fails "$mode: skopeo copy without credentials is refused" \
        skopeo copy --dest-cert-dir "$CERTDIR" oci:"$TMP/oci:busybox" "docker://$r/interop/skopeo:v1"
    step_fails "$mode: skopeo copy with a wrong password is refused" \
        skopeo copy --dest-cert-dir "$CERTDIR" --dest-creds alice:wrong oci:"$TMP/oci:busybox" "docker://$r/interop/skopeo:v1"
    step "$mode: skopeo copy --dest-creds" \
        skopeo copy --dest-cert-dir "$CERTDIR" --dest-creds "alice:$PW" oci:"$TMP/oci:busybox" "docker://$r/interop/skopeo:v1"
    step "$mode: skopeo inspect --creds" \
        skopeo inspect --cert-dir "$CERTDIR" --creds "alice:$PW" "docker://$r/interop/skopeo:v1" &&
        expect_eq "$(jq -r '.Env[0]' "$TMP/step.log")" PATH=/bin "$mode: skopeo inspect shows the image config"
    step "$mode: skopeo list-tags --creds" \
        skopeo list-tags --cert-dir "$CERTDIR" --creds "alice:$PW" "docker://$r/interop/skopeo" &&
        expect_eq "$(jq -c .Tags "$TMP/step.log")" '["v1"]' "$mode: skopeo list-tags"
    step_fails "$mode: skopeo inspect without credentials is refused" \
        skopeo inspect --cert-dir "$CERTDIR" "docker://$r/interop/skopeo:v1"
    step "$mode: skopeo copy --src-creds (pull to an OCI layout)" \
        skopeo copy --src-cert-dir "$CERTDIR" --src-creds "alice:$PW" "docker://$r/interop/skopeo:v1" oci:"$TMP/pulled-$mode:v1"

    # docker
    IMAGES+=("$r/interop/skopeo:v1" "$r/interop/docker:v1")
    step_fails "$mode: docker pull before login is refused" "$DOCKER" pull "$r/interop/skopeo:v1"
    step_fails "$mode: docker login with a wrong password is refused" \
        "$DOCKER" login -u alice --password-stdin "$r" <<<wrong
    step "$mode: docker login" "$DOCKER" login -u alice --password-stdin "$r" <<<"$PW" &&
        expect_match "$(cat "$TMP/step.log")" 'Login Succeeded' "$mode: docker login output"
    check; jq -e --arg r "$r" '.auths[$r]' "$DOCKER_CONFIG/config.json" >/dev/null 2>&1 ||
        fail "$mode: docker login stored nothing for $r"
    step "$mode: docker pull" "$DOCKER" pull "$r/interop/skopeo:v1"
    step "$mode: docker tag" "$DOCKER" tag "$r/interop/skopeo:v1" "$r/interop/docker:v1"
    step "$mode: docker push" "$DOCKER" push "$r/interop/docker:v1"
    step "$mode: docker rmi" "$DOCKER" rmi "$r/interop/docker:v1"
    step "$mode: docker pull of what docker pushed" "$DOCKER" pull "$r/interop/docker:v1"
    step "$mode: skopeo sees docker's push" \
        skopeo inspect --cert-dir "$CERTDIR" --creds "alice:$PW" "docker://$r/interop/docker:v1"
    step "$mode: docker logout" "$DOCKER" logout "$r"
    check; jq -e --arg r "$r" '.auths[$r]' "$DOCKER_CONFIG/config.json" >/dev/null 2>&1 &&
        fail "$mode: docker logout left credentials for $r"
    step "$mode: docker rmi after logout" "$DOCKER" rmi "$r/interop/docker:v1"
    step_fails "$mode: docker pull after logout is refused" "$DOCKER" pull "$r/interop/docker:v1"

    # podman
    local AF=$TMP/podman-auth-$mode.json
    step_fails "$mode: podman login with a wrong password is refused" \
        "${PODMAN[@]}" login --authfile "$AF" --cert-dir "$CERTDIR" -u alice --password-stdin "$r" <<<wrong
    step "$mode: podman login" \
        "${PODMAN[@]}" login --authfile "$AF" --cert-dir "$CERTDIR" -u alice --password-stdin "$r" <<<"$PW"
    step "$mode: podman pull" \
        "${PODMAN[@]}" pull --authfile "$AF" --cert-dir "$CERTDIR" "$r/interop/docker:v1"
    step "$mode: podman tag" "${PODMAN[@]}" tag "$r/interop/docker:v1" "$r/interop/podman:v1"
    step "$mode: podman push" \
        "${PODMAN[@]}" push --authfile "$AF" --cert-dir "$CERTDIR" "$r/interop/podman:v1"
    step "$mode: podman logout" "${PODMAN[@]}" logout --authfile "$AF" "$r"
    "${PODMAN[@]}" rmi -f "$r/interop/docker:v1" "$r/interop/podman:v1" >/dev/null 2>&1
    step_fails "$mode: podman pull after logout is refused" \
        "${PODMAN[@]}" pull --authfile "$AF" --cert-dir "$CERTDIR" "$r/interop/podman:v1"
    AUTH=(-u "alice:$PW")
    [ "$mode" = token ] && AUTH=(-H "Authorization: Bearer $(SERVICE=interop token_get "alice:$PW" repository:interop/podman:pull)")
    ahttp GET /v2/interop/podman/manifests/v1 -H "Accept: $OCI_M" \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json'
    expect_status 200 "$mode: podman's push is in berthd"
}

# ---- Basic auth over TLS ---------------------------------------------------
auth_port
cat >"$TMP/basic.json" <<EOF
{"tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key"},
 "auth": {"realm": "interop", "htpasswd": "$HT", "ratelimit": {"attempts": 1000}}}
EOF
docker_certs
auth_up_tls "$PKI/ca.crt" --config "$TMP/basic.json"
clients basic
auth_down

# ---- token auth over TLS ---------------------------------------------------
auth_port
cat >"$TMP/token.json" <<EOF
{"tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key"},
 "auth": {"htpasswd": "$HT", "ratelimit": {"attempts": 1000},
   "token": {"realm": "https://$REG/auth/token", "service": "interop", "path": "/auth/token",
             "key": "$TMP/signing.pem"},
   "access": [{"account": "alice", "repository": "interop/*", "actions": ["*"]}]}}
EOF
docker_certs
auth_up_tls "$PKI/ca.crt" --config "$TMP/token.json"
clients token
check; grep -q '"/auth/token"\|/auth/token ' "$TMP/berthd.log" || fail "token mode: no client used the token service"
auth_down

log_has_no "$PW" "alice's password"
log_has_no "$(printf 'alice:%s' "$PW" | base64 -w0)" "alice's Basic credentials"
finish
