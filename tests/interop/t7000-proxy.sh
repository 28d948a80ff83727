#!/bin/bash
# t7000-proxy: berthd as a pull-through cache (issue 7), against real clients.
#
#   - the upstream is Debian's docker-registry (CNCF distribution 2.8) with
#     htpasswd auth (bcrypt from `berthd htpasswd`) and its access log on,
#     holding library/busybox (umoci + busybox-static, pushed by skopeo);
#     berthd runs in proxy mode with the upstream's username and password;
#   - a dockerd of this test's own (its own data/exec root and socket, so it
#     runs beside any other) started with --registry-mirror pointing at
#     berthd pulls `busybox`: docker asks the mirror for library/busybox, the
#     image has the upstream's digest and runs; every blob is then in
#     berthd's root, and the upstream served each blob once; the same for
#     `multi`, an OCI index (linux/amd64 + linux/arm64), as Docker Hub's are;
#   - a tag moved upstream (another image's manifest PUT on the same tag) is
#     not seen through berthd before the ttl, and is after it; a tag whose
#     ttl ran out is checked with a HEAD (no GET) and stays;
#   - 10 concurrent skopeo copies of an uncached image, and 10 concurrent
#     curl GETs of an uncached 32 MiB blob: the upstream is asked once per
#     blob, and every client gets the right bytes;
#   - pushes to a proxied repository answer 405 UNSUPPORTED; the local
#     namespace (mine/*) takes a push and never asks the upstream;
#   - a berthd with token auth (its built-in token service) as the upstream
#     works too; a wrong password there caches nothing;
#   - with the upstream stopped: the cached tag is served with
#     `Warning: 110 - "Response is Stale"`, and `docker rmi` + `docker pull
#     busybox` still works; a name never cached is a quick 404.
# Everything listens on 127.0.0.1; every server and the dockerd started here
# are stopped, and their directories removed, by the EXIT trap.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"
interop_require "$DOCKER" dockerd skopeo umoci docker-registry jq curl
STEP_TIMEOUT=90
TTL=2
USER_NAME=mirror
USER_PW="t7000-pw-$RANDOM$RANDOM"
UP_CREDS=$USER_NAME:$USER_PW

# ---- helpers -------------------------------------------------------------------

# since T0: seconds since EPOCHREALTIME T0, as a decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
# metric KIND RESULT [REG]: berth_proxy_requests_total for kind/result (0 if absent).
metric() {
    local v
    v=$(curl -s -m 10 "http://${3:-$REG}/metrics" |
        awk -v k="$1" -v r="$2" '$1 == "berth_proxy_requests_total{kind=\"" k "\",result=\"" r "\"}" { print $2 }')
    echo "${v:-0}"
}
# in_root ROOT DIGEST: the blob is in a berthd root and hashes to its name.
in_root() {
    local h=${2#sha256:}
    local f=$1/blobs/sha256/${h:0:2}/$h
    [ -f "$f" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$h" ]
}
# image_blobs REGISTRY REPO REF CURL_ARGS...: config and layer digests of an
# image manifest (one a line).
image_blobs() {
    local r=$1 repo=$2 ref=$3
    shift 3
    curl -fsS -m 20 "$@" -H "Accept: $OCI_MANIFEST" -H "Accept: $DOCKER_MANIFEST" \
        "http://$r/v2/$repo/manifests/$ref" | jq -r '.config.digest, .layers[].digest'
}

# ---- the upstream: docker-registry with htpasswd, access log on ------------------
HT=$TMP/htpasswd
"$BERTHD" htpasswd "$HT" "$USER_NAME" <<<"$USER_PW" >/dev/null 2>&1 ||
    { echo "$T_NAME: berthd htpasswd failed" >&2; exit 1; }
UPORT=$(free_port)
UP=127.0.0.1:$UPORT
mkdir -p "$TMP/up-data"
cat >"$TMP/up.yml" <<EOF
version: 0.1
log: {level: info, formatter: text}
storage: {filesystem: {rootdirectory: $TMP/up-data}, delete: {enabled: true}}
http: {addr: $UP}
auth: {htpasswd: {realm: t7000-upstream, path: $HT}}
EOF
UP_PID=
# the access log (combined format, on stdout) goes to peer.log, where
# lib-interop's step reports look for registry errors
up_start() {
    docker-registry serve "$TMP/up.yml" >>"$TMP/peer.log" 2>&1 &
    UP_PID=$!
    local n code
    for n in $(seq 1 100); do
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$UP/v2/")
        [ "$code" = 401 ] && return 0
        kill -0 "$UP_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$T_NAME: the upstream docker-registry did not start:" >&2
    tail -5 "$TMP/peer.log" >&2
    exit 1
}
up_stop() {
    [ -n "$UP_PID" ] || return 0
    kill "$UP_PID" 2>/dev/null
    wait "$UP_PID" 2>/dev/null
    UP_PID=
}
at_exit 'up_stop'
up_start
# up_gets REPO DIGEST: successful GETs of that blob the upstream logged.
up_gets() {
    grep -cE "\"GET /v2/$1/blobs/$2 HTTP/[0-9.]+\" 20[06] " "$TMP/peer.log"
}
up_lines() { wc -l <"$TMP/peer.log"; }

# ---- berthd in proxy mode ---------------------------------------------------------
jq -n --arg url "http://$UP" --arg u "$USER_NAME" --arg p "$USER_PW" --arg ttl "${TTL}s" \
    '{proxy: {remoteurl: $url, username: $u, password: $p, ttl: $ttl, local: ["mine/*"]}}' \
    >"$TMP/proxy.json"
ROOT=$TMP/cache
berthd_start --config "$TMP/proxy.json"

# more berthds (the token upstream, proxies of it): NAME PORT CONFIG.
declare -A XPID=()
xberthd() {
    local name=$1 port=$2 n
    mkdir -p "$TMP/$name-root"
    "$BERTHD" serve --listen "127.0.0.1:$port" --root "$TMP/$name-root" --config "$3" \
        >>"$TMP/$name.log" 2>&1 &
    XPID[$name]=$!
    at_exit "kill ${XPID[$name]}; wait ${XPID[$name]}"
    for n in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/v2/")" != 000 ] && return 0
        kill -0 "${XPID[$name]}" 2>/dev/null || break
        sleep 0.05
    done
    check; fail "berthd ($name) did not start: $(tail -3 "$TMP/$name.log" | tr '\n' ' ')"
    return 1
}
# xberthd_finish: each extra berthd still runs, exits 0 on SIGTERM, and
# printed no sanitizer report.
xberthd_finish() {
    local name pid rc
    for name in "${!XPID[@]}"; do
        pid=${XPID[$name]}
        check
        if ! kill -0 "$pid" 2>/dev/null; then
            fail "berthd ($name) is no longer running (crashed?)"
            continue
        fi
        kill -TERM "$pid"
        for _w in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid"
        rc=$?
        [ "$rc" -eq 0 ] || fail "berthd ($name) exited $rc on SIGTERM"
        check
        grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/$name.log" &&
            fail "sanitizer report in the $name berthd log: $(grep -E -A3 'Sanitizer|runtime error:' "$TMP/$name.log" | head -10)"
    done
}

# ---- a dockerd of our own, with the mirror ------------------------------------------
# Its own data root, exec root, pid file, config file and socket: it runs
# beside any dockerd already here and leaves that one alone.
DD=$TMP/docker
mkdir -p "$DD"
echo '{}' >"$DD/daemon.json"
export DOCKER_HOST=unix://$DD/docker.sock
dockerd --config-file "$DD/daemon.json" --data-root "$DD/data" --exec-root "$DD/exec" \
    --pidfile "$DD/docker.pid" -H "$DOCKER_HOST" --storage-driver vfs \
    --iptables=false --ip6tables=false --bridge=none --registry-mirror "http://$REG" \
    >"$TMP/dockerd.log" 2>&1 &
DOCKERD_PID=$!
dockerd_stop() {
    local kids
    kids=$(pgrep -P "$DOCKERD_PID" 2>/dev/null)
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _w in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
    # its containerd, when dockerd could not stop it itself
    for _k in $kids; do kill -0 "$_k" 2>/dev/null && kill -KILL "$_k"; done
    awk -v d="$DD" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf "$DD"
}
at_exit dockerd_stop
docker_wait() {
    local n
    for n in $(seq 1 120); do
        timeout 5 "$DOCKER" info >/dev/null 2>&1 && return 0
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.5
    done
    echo "$T_NAME: dockerd did not start:" >&2
    tail -20 "$TMP/dockerd.log" >&2
    exit 1
}

# ---- images, into the upstream (while dockerd starts) -------------------------------
GREETING="t7000 busybox $RANDOM$RANDOM"
build_image "$TMP/oci" bb "$GREETING"
build_image "$TMP/oci" moved "t7000 moved $RANDOM"
build_image "$TMP/oci" conc "t7000 concurrent $RANDOM"
build_multiarch "$TMP/oci" ma
up_push() { step "skopeo copy oci:$1 -> upstream $2" skopeo copy --dest-tls-verify=false \
    --dest-creds "$UP_CREDS" "oci:$TMP/oci:$1" "docker://$UP/$2"; }
up_push bb library/busybox:latest || finish
up_push bb library/ttl:latest || finish
up_push moved library/ttl:moved || finish
up_push conc library/conc:v1 || finish
step "skopeo copy --all oci:ma -> upstream library/multi:latest" skopeo copy --all --dest-tls-verify=false \
    --dest-creds "$UP_CREDS" "oci:$TMP/oci:ma" "docker://$UP/library/multi:latest" || finish
# digests as the upstream serves them
up_digest() {
    curl -sS -m 10 -I -u "$UP_CREDS" -H "Accept: $OCI_MANIFEST" "http://$UP/v2/$1/manifests/$2" |
        tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}
BB=$(up_digest library/busybox latest)
MOVED=$(up_digest library/ttl moved)
CONC=$(up_digest library/conc v1)
expect_eq "$BB" "$(oci_ref_digest "$TMP/oci" bb)" "the upstream's digest of library/busybox:latest"
check; [ -n "$MOVED" ] && [ -n "$CONC" ] && [ "$MOVED" != "$BB" ] ||
    fail "upstream digests: busybox '$BB', moved '$MOVED', conc '$CONC'"

# ---- docker pull busybox through the mirror -------------------------------------------
docker_wait
check
timeout 10 "$DOCKER" info 2>/dev/null | grep -qF "http://$REG/" ||
    fail "dockerd does not list http://$REG/ as a registry mirror"
LOG0=$(wc -l <"$TMP/berthd.log")
T_PULL=$EPOCHREALTIME
if step "docker pull busybox (through the mirror)" "$DOCKER" pull busybox; then
    expect_match "$(cat "$TMP/step.log")" "Digest: $BB" "docker pull busybox: the upstream's digest"
    expect_match "$(timeout 30 "$DOCKER" image inspect -f '{{json .RepoDigests}}' busybox)" "busybox@$BB" \
        "docker's RepoDigests for busybox"
    step "docker run --network none busybox" "$DOCKER" run --rm --network none busybox cat /etc/greeting &&
        expect_eq "$(cat "$TMP/step.log")" "$GREETING" "the pulled busybox runs"
fi
check
tail -n +"$((LOG0 + 1))" "$TMP/berthd.log" | grep -qE '(GET|HEAD) /v2/library/busybox/manifests/latest 200' ||
    fail "dockerd did not ask the mirror for /v2/library/busybox/manifests/latest: $(tail -n +"$((LOG0 + 1))" "$TMP/berthd.log" | head -5 | tr '\n' ' ')"
mapfile -t BB_BLOBS < <(image_blobs "$UP" library/busybox latest -u "$UP_CREDS")
expect_eq "${#BB_BLOBS[@]}" 4 "busybox: config + 3 layers"
for d in "$BB" "${BB_BLOBS[@]}"; do
    check; in_root "$ROOT" "$d" || fail "after docker pull, $d is not (whole) in berthd's root"
done
for d in "${BB_BLOBS[@]}"; do
    expect_eq "$(up_gets library/busybox "$d")" 1 "GETs of blob $d the upstream served for docker's pull"
done
# Docker Hub's official images are multi-platform: an index and its children
MA=$(oci_ref_digest "$TMP/oci" ma)
if step "docker pull multi (an OCI index, through the mirror)" "$DOCKER" pull multi; then
    expect_match "$(cat "$TMP/step.log")" "Digest: $MA" "docker pull multi: the index digest"
    step "docker run --network none multi" "$DOCKER" run --rm --network none multi cat /etc/arch &&
        expect_eq "$(cat "$TMP/step.log")" amd64 "docker picked and ran the amd64 child"
fi
check; in_root "$ROOT" "$MA" && in_root "$ROOT" "$(oci_ref_digest "$TMP/oci" ma-amd64)" ||
    fail "after docker pull multi, the index or its amd64 child is not in berthd's root"
check; [ "$(metric manifest miss)" -ge 1 ] || fail "berth_proxy_requests_total{kind=manifest,result=miss} is $(metric manifest miss)"
check; [ "$(metric blob miss)" -ge 4 ] || fail "berth_proxy_requests_total{kind=blob,result=miss} is $(metric blob miss), expected >= 4"

# ---- the ttl: a tag moved upstream ------------------------------------------------------
http GET /v2/library/ttl/manifests/latest -H "Accept: $OCI_MANIFEST"
T_TTL=$EPOCHREALTIME
expect_status 200 "first GET of library/ttl:latest through berthd"
expect_eq "$(header Docker-Content-Digest)" "$BB" "library/ttl:latest before the move"
# move the tag upstream: the other image's manifest, PUT on the same tag
curl -fsS -m 10 -u "$UP_CREDS" -H "Accept: $OCI_MANIFEST" -o "$TMP/moved.json" \
    "http://$UP/v2/library/ttl/manifests/moved" &&
    curl -fsS -m 10 -u "$UP_CREDS" -X PUT -H "Content-Type: $OCI_MANIFEST" --data-binary @"$TMP/moved.json" \
        "http://$UP/v2/library/ttl/manifests/latest"
expect_eq "$(up_digest library/ttl latest)" "$MOVED" "the upstream's library/ttl:latest after the move"
http GET /v2/library/ttl/manifests/latest -H "Accept: $OCI_MANIFEST"
WITHIN=$(since "$T_TTL")
expect_status 200 "GET of library/ttl:latest right after the move"
check
if awk -v s="$WITHIN" -v t="$TTL" 'BEGIN { exit !(s < t - 1) }'; then
    [ "$(header Docker-Content-Digest)" = "$BB" ] ||
        fail "library/ttl:latest changed through berthd ${WITHIN}s after it was cached, before the ${TTL}s ttl: got $(header Docker-Content-Digest)"
else
    echo "$T_NAME: note: the machine was slow (${WITHIN}s), the before-the-ttl check is skipped"
fi

# ---- pushes: refused outside local namespaces ------------------------------------------
http POST /v2/library/busybox/blobs/uploads/
expect_error 405 UNSUPPORTED
http PUT /v2/library/busybox/manifests/pushed -H "Content-Type: $OCI_MANIFEST" --data-binary @"$TMP/moved.json"
expect_error 405 UNSUPPORTED
http DELETE "/v2/library/busybox/manifests/$BB"
expect_error 405 UNSUPPORTED
step_fails "skopeo copy to a proxied repository" skopeo copy --dest-tls-verify=false \
    "oci:$TMP/oci:bb" "docker://$REG/library/pushed:v1"
UPL=$(up_lines)
step "skopeo copy to the local namespace mine/*" skopeo copy --dest-tls-verify=false \
    "oci:$TMP/oci:moved" "docker://$REG/mine/app:v1" &&
    expect_eq "$(reg_digest mine/app v1 "$OCI_MANIFEST")" "$(oci_ref_digest "$TMP/oci" moved)" "mine/app:v1 as pushed"
http GET /v2/mine/app/manifests/nope -H "Accept: $OCI_MANIFEST"
expect_error 404 MANIFEST_UNKNOWN
check; tail -n +"$((UPL + 1))" "$TMP/peer.log" | grep -q '/v2/mine/' &&
    fail "berthd asked the upstream about the local repository mine/app"

# ---- 10 concurrent pulls of an uncached image --------------------------------------------
mapfile -t CONC_BLOBS < <(image_blobs "$UP" library/conc v1 -u "$UP_CREDS")
declare -A WANT=()
for d in "${CONC_BLOBS[@]}"; do
    if in_root "$ROOT" "$d"; then WANT[$d]=0; else WANT[$d]=1; fi
done
check; [ "${#CONC_BLOBS[@]}" -eq 4 ] && [ "${WANT[${CONC_BLOBS[3]}]}" = 1 ] ||
    fail "library/conc:v1 should have 4 blobs, its random layer uncached: ${CONC_BLOBS[*]}"
pids=()
for i in $(seq 1 10); do
    timeout 120 skopeo copy --src-tls-verify=false "docker://$REG/library/conc:v1" "oci:$TMP/conc$i:v1" \
        >"$TMP/conc$i.log" 2>&1 &
    pids+=($!)
done
for i in $(seq 1 10); do
    wait "${pids[$((i - 1))]}"
    rc=$?
    check
    if [ "$rc" -ne 0 ]; then
        fail "concurrent skopeo copy $i exited $rc: $(tail -3 "$TMP/conc$i.log" | tr '\n' ' ')"
        continue
    fi
    expect_eq "$(oci_ref_digest "$TMP/conc$i" v1)" "$CONC" "concurrent copy $i: manifest digest"
    check; oci_blobs_verified "$TMP/conc$i" 2>/dev/null || fail "concurrent copy $i: a blob does not match its digest"
done
for d in "${CONC_BLOBS[@]}"; do
    expect_eq "$(up_gets library/conc "$d")" "${WANT[$d]}" "10 concurrent pulls: upstream GETs of blob $d"
done

# ---- 10 concurrent GETs of an uncached 32 MiB blob -----------------------------------------
random_file "$TMP/big" $((32 << 20))
BIGD=$(sha256_of "$TMP/big")
loc=$(curl -sS -m 10 -u "$UP_CREDS" -X POST -D - -o /dev/null "http://$UP/v2/library/big/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
case $loc in /*) loc=http://$UP$loc ;; esac
case $loc in *\?*) loc+="&digest=$BIGD" ;; *) loc+="?digest=$BIGD" ;; esac
check
[ "$(curl -s -m 60 -u "$UP_CREDS" -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMP/big" "$loc")" = 201 ] || fail "could not upload the 32 MiB blob to the upstream"
MISS0=$(metric blob miss)
JOIN0=$(metric blob joined)
pids=()
for i in $(seq 1 10); do
    curl -sS -m 120 -o "$TMP/big$i" -w '%{http_code}' "http://$REG/v2/library/big/blobs/$BIGD" >"$TMP/big$i.code" 2>&1 &
    pids+=($!)
done
wait "${pids[@]}"
for i in $(seq 1 10); do
    expect_eq "$(cat "$TMP/big$i.code")" 200 "concurrent blob GET $i: status"
    expect_eq "$(sha256_of "$TMP/big$i")" "$BIGD" "concurrent blob GET $i: content"
done
rm -f "$TMP"/big[0-9]*
expect_eq "$(up_gets library/big "$BIGD")" 1 "10 concurrent GETs of one blob: upstream GETs"
expect_eq "$(($(metric blob miss) - MISS0))" 1 "10 concurrent GETs of one blob: berthd's blob misses"
check; in_root "$ROOT" "$BIGD" || fail "the 32 MiB blob is not (whole) in berthd's root"
echo "$T_NAME: 10 concurrent GETs of one uncached blob: $(($(metric blob joined) - JOIN0)) joined the fetch in flight"

# ---- the ttl, after it ran out -------------------------------------------------------------
left=$(awk -v s="$(since "$T_TTL")" -v t="$TTL" 'BEGIN { d = t + 1.1 - s; if (d > 0) printf "%.2f", d; else print 0 }')
sleep "$left"
http GET /v2/library/ttl/manifests/latest -H "Accept: $OCI_MANIFEST"
T_TTL=$EPOCHREALTIME
expect_status 200 "GET of library/ttl:latest after the ttl"
expect_eq "$(header Docker-Content-Digest)" "$MOVED" "library/ttl:latest after the ttl: the moved tag"
expect_eq "$(sha256_of "$BODY_FILE")" "$MOVED" "library/ttl:latest after the ttl: the body"
step "skopeo copy of the moved tag through berthd" skopeo copy --src-tls-verify=false \
    "docker://$REG/library/ttl:latest" "oci:$TMP/moved-pulled:v1" &&
    expect_eq "$(oci_ref_digest "$TMP/moved-pulled" v1)" "$MOVED" "the moved image, pulled through berthd"

# ---- a berthd with token auth as the upstream ----------------------------------------------
TPORT=$(free_port)
jq -n --arg ht "$HT" --arg realm "http://127.0.0.1:$TPORT/auth/token" --arg key "$TMP/token.pem" --arg u "$USER_NAME" \
    '{auth: {htpasswd: $ht,
             token: {realm: $realm, service: "t7000-up", issuer: "t7000-up", path: "/auth/token", key: $key},
             access: [{account: $u, repository: "*", actions: ["*"]}]}}' >"$TMP/token.json"
if xberthd tokenup "$TPORT" "$TMP/token.json"; then
    step "skopeo copy oci: -> the token-auth berthd" skopeo copy --dest-tls-verify=false \
        --dest-creds "$UP_CREDS" "oci:$TMP/oci:bb" "docker://127.0.0.1:$TPORT/library/busybox:latest"
    P2PORT=$(free_port)
    jq -n --arg url "http://127.0.0.1:$TPORT" --arg u "$USER_NAME" --arg p "$USER_PW" \
        '{proxy: {remoteurl: $url, username: $u, password: $p, ttl: "2s"}}' >"$TMP/proxy2.json"
    if xberthd proxy2 "$P2PORT" "$TMP/proxy2.json"; then
        TL=$(wc -l <"$TMP/tokenup.log")
        step "skopeo copy through a proxy of the token-auth berthd" skopeo copy --src-tls-verify=false \
            "docker://127.0.0.1:$P2PORT/library/busybox:latest" "oci:$TMP/via-token:v1" &&
            expect_eq "$(oci_ref_digest "$TMP/via-token" v1)" "$BB" "busybox through the token upstream: digest"
        check; oci_blobs_verified "$TMP/via-token" 2>/dev/null || fail "through the token upstream: a blob does not match"
        for d in "$BB" "${BB_BLOBS[@]}"; do
            check; in_root "$TMP/proxy2-root" "$d" || fail "through the token upstream: $d is not in the proxy's root"
        done
        check; tail -n +"$((TL + 1))" "$TMP/tokenup.log" | grep -q '/auth/token' ||
            fail "the proxy never asked the upstream's token service (/auth/token)"
    fi
    # the same with a wrong password: nothing is served
    P3PORT=$(free_port)
    jq '.proxy.password = "wrong"' "$TMP/proxy2.json" >"$TMP/proxy3.json"
    if xberthd proxy3 "$P3PORT" "$TMP/proxy3.json"; then
        code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -H "Accept: $OCI_MANIFEST" \
            "http://127.0.0.1:$P3PORT/v2/library/busybox/manifests/latest")
        expect_eq "$code" 404 "a proxy with a wrong upstream password: manifest GET"
    fi
fi

# ---- revalidation: a HEAD, no GET, when the tag is unchanged --------------------------------
left=$(awk -v s="$(since "$T_TTL")" -v t="$TTL" 'BEGIN { d = t + 1.1 - s; if (d > 0) printf "%.2f", d; else print 0 }')
sleep "$left"
UPL=$(up_lines)
REVAL0=$(metric manifest revalidated)
http GET /v2/library/ttl/manifests/latest -H "Accept: $OCI_MANIFEST"
expect_status 200 "GET of library/ttl:latest after another ttl"
expect_eq "$(header Docker-Content-Digest)" "$MOVED" "library/ttl:latest, revalidated"
expect_eq "$(($(metric manifest revalidated) - REVAL0))" 1 "berth_proxy_requests_total{kind=manifest,result=revalidated} increase"
check; tail -n +"$((UPL + 1))" "$TMP/peer.log" | grep -qE '"HEAD /v2/library/ttl/manifests/latest HTTP/[0-9.]+" 200 ' ||
    fail "revalidation: no HEAD of library/ttl/manifests/latest reached the upstream"
check; tail -n +"$((UPL + 1))" "$TMP/peer.log" | grep -qE '"GET /v2/library/ttl/manifests/[^ ]+ HTTP/[0-9.]+" 200 ' &&
    fail "revalidation of an unchanged tag GET the manifest from the upstream"

# ---- the upstream stopped ----------------------------------------------------------------
up_stop
left=$(awk -v s="$(since "$T_PULL")" -v t="$TTL" 'BEGIN { d = t + 1.1 - s; if (d > 0) printf "%.2f", d; else print 0 }')
sleep "$left"
STALE0=$(metric manifest stale)
http GET /v2/library/busybox/manifests/latest -H "Accept: $OCI_MANIFEST"
expect_status 200 "library/busybox:latest with the upstream down"
expect_eq "$(header Docker-Content-Digest)" "$BB" "library/busybox:latest with the upstream down: digest"
expect_eq "$(header Warning)" '110 - "Response is Stale"' "the Warning header of a stale tag"
check; [ "$(metric manifest stale)" -gt "$STALE0" ] || fail "berth_proxy_requests_total{kind=manifest,result=stale} did not grow"
t0=$EPOCHREALTIME
http GET /v2/library/nothere/manifests/latest -H "Accept: $OCI_MANIFEST"
expect_error 404 MANIFEST_UNKNOWN
check; awk -v s="$(since "$t0")" 'BEGIN { exit !(s < 10) }' || fail "a miss with the upstream down took $(since "$t0")s"
step "docker rmi busybox" "$DOCKER" rmi busybox
check; timeout 30 "$DOCKER" image inspect busybox >/dev/null 2>&1 && fail "docker rmi busybox left the image"
if step "docker pull busybox with the upstream down" "$DOCKER" pull busybox; then
    expect_match "$(cat "$TMP/step.log")" "Digest: $BB" "docker pull with the upstream down: digest"
    step "docker run of it" "$DOCKER" run --rm --network none busybox cat /etc/greeting &&
        expect_eq "$(cat "$TMP/step.log")" "$GREETING" "docker run after the pull with the upstream down"
fi

xberthd_finish
finish
