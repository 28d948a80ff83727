#!/bin/bash
# t6100-berth-auth: berth login / push / pull / logout against berthd with
# Basic auth (htpasswd) and with token auth (the built-in token service), and
# against Debian's docker-registry (CNCF distribution) with htpasswd: no
# access before login, a wrong password refused with a clear message,
# auth.json written 0600 and emptied by logout, credentials from
# ~/.docker/config.json used too. Then a registry killed (SIGKILL) in the
# middle of a pull of a 200 MB layer: a clear error, non-zero exit, no
# partial blob and no name in the store; a pull after the restart completes
# with the right digest; and a registry back within the retry window is
# resumed with a Range request; the 200 MB layer pushed back to berthd goes
# up in chunks. A small Python proxy between berth and berthd slows the
# download so the kill lands in the middle of it.
# Everything listens on 127.0.0.1; HOME and the store are in $TMP.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../integration/lib-auth.sh"

BERTH=${BERTH:-build/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
PEER_BIN=${PEER_BIN:-docker-registry}
for tool in "$BERTH" "$PEER_BIN" skopeo jq curl base64; do
    command -v "$tool" >/dev/null || { echo "$T_NAME: $tool is missing (make all test-deps)" >&2; exit 1; }
done

export HOME=$TMP/home BERTH_ROOT=$TMP/store
mkdir -p "$HOME"
AUTH_JSON=$HOME/.config/berth/auth.json

# ---- helpers (as in t6000) ----------------------------------------------------
bx() {
    timeout 120 "$BERTH" "$@" >"$TMP/bx.out" 2>"$TMP/bx.err"
    RC=$?
    OUT=$(cat "$TMP/bx.out")
    ERR=$(cat "$TMP/bx.err")
}
ok() {
    check
    [ "$RC" -eq 0 ] || { fail "$1: berth exited $RC: $(tail -3 "$TMP/bx.err" | tr '\n' ' ')"; return 1; }
}
snapshot() {
    (cd "$BERTH_ROOT" 2>/dev/null && { sha256sum index.json 2>/dev/null; find blobs tmp -type f -printf '%p %s\n' 2>/dev/null | sort; })
}
blobs_verified() {
    local f bad=0
    for f in "$BERTH_ROOT"/blobs/sha256/*; do
        [ -e "$f" ] || continue
        [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "bad blob $f" >&2; bad=1; }
    done
    return $bad
}
# refuses WHAT REGEX ARGS...: fails, one line on stderr matching REGEX, store untouched.
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
}
# has_login REG: auth.json holds an entry for REG.
has_login() { jq -e --arg r "$1" '.auths[$r]' "$AUTH_JSON" >/dev/null 2>&1; }

PW='berth-Auth-pw-6100'
HT=$TMP/htpasswd
add_user "$HT" alice "$PW" && add_user "$HT" bob 'bob-pw-6100' || { echo "$T_NAME: berthd htpasswd failed" >&2; exit 1; }

# an image to push everywhere: a tiny imported rootfs
mkdir -p "$TMP/rootfs/etc"
echo "auth test $RANDOM" >"$TMP/rootfs/etc/motd"
tar -C "$TMP/rootfs" --owner=0 --group=0 --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" local/t6100:src
ok "berth import" || finish

# flow MODE: login, push, pull, tags, logout against $REG with alice/$PW.
flow() {
    local mode=$1 r=$REG
    local img=$r/t6100/app:v1
    bx tag local/t6100:src "$img"
    ok "$mode: berth tag"
    refuses "$mode: push before login" 'berth push: .*([Uu]nauthorized|authentication required|denied)' push -q "$img"
    refuses "$mode: tags before login" 'berth tags: .*([Uu]nauthorized|authentication required|denied)' tags "$r/t6100/app"

    bx login -u alice --password-stdin "$r" <<<"wrong-$PW"
    check; [ "$RC" -ne 0 ] || fail "$mode: login with a wrong password exited 0"
    check; [ "$(grep -c . <<<"$ERR")" -eq 1 ] || fail "$mode: wrong password: expected one line on stderr, got: $ERR"
    expect_match "$ERR" '^berth login: .*(incorrect username or password|[Uu]nauthorized)' "$mode: wrong password message"
    check; has_login "$r" && fail "$mode: a failed login stored credentials"

    bx login -u alice --password-stdin "$r" <<<"$PW"
    ok "$mode: berth login" || return
    expect_eq "$OUT" "Login Succeeded" "$mode: login output"
    check; has_login "$r" || fail "$mode: login stored nothing for $r in $AUTH_JSON"
    expect_eq "$(stat -c %a "$AUTH_JSON" 2>&1)" 600 "$mode: auth.json mode"
    expect_eq "$(jq -r --arg r "$r" '.auths[$r].auth' "$AUTH_JSON" | base64 -d 2>/dev/null)" "alice:$PW" \
        "$mode: auth.json holds docker's auth (base64 user:password)"
    check; [ "$((8#$(stat -c %a "$(dirname "$AUTH_JSON")") & 8#077))" -eq 0 ] ||
        fail "$mode: $(dirname "$AUTH_JSON") is open to others: $(stat -c %a "$(dirname "$AUTH_JSON")")"
    check; grep -qF -- "$PW" "$AUTH_JSON" && fail "$mode: the password is in auth.json in clear"

    bx push -q "$img"
    # the store's layer is uncompressed: the push sends it as gzip, under a
    # manifest of its own
    PUSHED=$OUT
    ok "$mode: berth push after login" && expect_match "$PUSHED" '^sha256:[0-9a-f]{64}$' "$mode: pushed digest"
    bx tags "$r/t6100/app"
    ok "$mode: berth tags after login" && expect_eq "$OUT" v1 "$mode: tags"
    bx rmi "$img"
    bx pull -q "$img"
    ok "$mode: berth pull after login"
    bx inspect "$img"
    expect_eq "$(jq -r '.[0].ManifestDigest' <<<"$OUT")" "$PUSHED" "$mode: pulled digest"
    check; blobs_verified || fail "$mode: a pulled blob does not match its digest"
    # a second login rewrites auth.json: still 0600
    bx login -u alice --password-stdin "$r" <<<"$PW"
    ok "$mode: berth login again" && expect_eq "$(stat -c %a "$AUTH_JSON")" 600 "$mode: auth.json mode after a rewrite"

    bx logout "$r"
    ok "$mode: berth logout"
    expect_eq "$OUT" "Removing login credentials for $r" "$mode: logout output"
    check; has_login "$r" && fail "$mode: logout left credentials for $r"
    bx rmi "$img"
    refuses "$mode: pull after logout" 'berth pull: .*([Uu]nauthorized|authentication required|denied)' pull -q "$img"
    bx logout "$r"
    check; [ "$RC" -ne 0 ] || fail "$mode: logout when not logged in exited 0"

    # credentials from ~/.docker/config.json
    mkdir -p "$HOME/.docker"
    jq -n --arg r "$r" --arg a "$(printf 'alice:%s' "$PW" | base64 -w0)" '{auths: {($r): {auth: $a}}}' \
        >"$HOME/.docker/config.json"
    bx pull -q "$img"
    ok "$mode: berth pull with ~/.docker/config.json credentials" && expect_eq "$OUT" "$img" "$mode: pull output"
    bx rmi "$img"
    jq -n --arg r "http://$r" --arg a "$(printf 'alice:%s' "$PW" | base64 -w0)" '{auths: {($r): {auth: $a}}}' \
        >"$HOME/.docker/config.json"
    bx pull -q "$img"
    ok "$mode: ~/.docker/config.json with a URL key"
    bx rmi "$img"
    jq -n --arg r "$r" --arg a "$(printf 'alice:nope' | base64 -w0)" '{auths: {($r): {auth: $a}}}' \
        >"$HOME/.docker/config.json"
    refuses "$mode: pull with a wrong password in ~/.docker/config.json" \
        'berth pull: .*([Uu]nauthorized|authentication|denied|incorrect)' pull -q "$img"
    rm -f "$HOME/.docker/config.json"
    check; has_login "$r" && fail "$mode: reading ~/.docker/config.json wrote auth.json"
    return 0
}

# ---- berthd, Basic -------------------------------------------------------------
ROOT=$TMP/root-basic
auth_up --htpasswd "$HT"
flow "berthd basic"
auth_down

# ---- berthd, token ---------------------------------------------------------------
ROOT=$TMP/root-token
auth_port
cat >"$TMP/token.json" <<EOF
{"auth": {"htpasswd": "$HT",
  "token": {"realm": "http://$REG/auth/token", "service": "berth", "issuer": "berth",
            "path": "/auth/token", "key": "$TMP/token.pem"},
  "access": [{"account": "alice", "repository": "t6100/*", "actions": ["*"]},
             {"account": "bob", "repository": "t6100/*", "actions": ["pull"]}],
  "ratelimit": {"attempts": 1000, "window": 60}}}
EOF
auth_up --config "$TMP/token.json"
LOG0=$(wc -l <"$TMP/berthd.log")
flow "berthd token"
check; tail -n +$((LOG0 + 1)) "$TMP/berthd.log" | grep -q '/auth/token' || fail "token mode: berth never asked the token service"
# bob may pull but not push: a clear "denied"
bx login -u bob --password-stdin "$REG" <<<'bob-pw-6100'
ok "token: bob logs in"
bx tag local/t6100:src "$REG/t6100/bob:v1"
refuses "token: push without the push right" 'berth push: .*([Dd]enied|[Uu]nauthorized|forbidden|insufficient)' push -q "$REG/t6100/bob:v1"
bx logout "$REG"
auth_down
log_has_no "$PW" "alice's password"

# ---- docker-registry (CNCF distribution), htpasswd ------------------------------------
PPORT=$(free_port)
mkdir -p "$TMP/peer-data"
cat >"$TMP/peer.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $TMP/peer-data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$PPORT}
auth: {htpasswd: {realm: berth-test, path: $HT}}
EOF
"$PEER_BIN" serve "$TMP/peer.yml" >"$TMP/peer.log" 2>&1 &
PEER_PID=$!
at_exit "kill $PEER_PID; wait $PEER_PID"
for _try in $(seq 1 100); do
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PPORT/v2/")
    [ "$code" = 401 ] && break
    kill -0 "$PEER_PID" 2>/dev/null || break
    sleep 0.1
done
if [ "$code" = 401 ]; then
    SAVED_REG=$REG
    REG=127.0.0.1:$PPORT
    flow "docker-registry htpasswd"
    REG=$SAVED_REG
else
    check; fail "docker-registry did not start: $(tail -3 "$TMP/peer.log" | tr '\n' ' ')"
fi
kill "$PEER_PID" 2>/dev/null; wait "$PEER_PID" 2>/dev/null

# ---- a registry killed in the middle of a pull ----------------------------------------
cat >"$TMP/proxy.py" <<'PY'
# proxy.py LISTEN_PORT UPSTREAM_PORT RATE LOG: forward 127.0.0.1 TCP, answers
# slowed to RATE bytes/s (SIGUSR1: full speed, SIGUSR2: slow again); the
# Range headers of requests are appended to LOG.
import re, signal, socket, sys, threading, time
lport, uport, rate, log = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
state = {"rate": rate}
signal.signal(signal.SIGUSR1, lambda *a: state.update(rate=0))
signal.signal(signal.SIGUSR2, lambda *a: state.update(rate=rate))
ranges = re.compile(rb"(?im)^range: *(bytes=[0-9-]+)")
def pump(src, dst, slow):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if not slow:
                for m in ranges.findall(data):
                    with open(log, "a") as f:
                        f.write(m.decode() + "\n")
            dst.sendall(data)
            if slow and state["rate"]:
                time.sleep(len(data) / state["rate"])
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def handle(c):
    try:
        u = socket.create_connection(("127.0.0.1", uport))
    except OSError:
        c.close()
        return
    threading.Thread(target=pump, args=(c, u, False), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, True), daemon=True).start()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", lport))
srv.listen(64)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PY

ROOT=$TMP/root-kill
berthd_start
DIRECT=$REG
# a 200 MB random layer, a config and a manifest, straight into berthd
random_file "$TMP/big.layer" $((200 * 1000 * 1000))
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$(sha256_of "$TMP/big.layer")" >"$TMP/big.config"
LAYER_D=$(push_blob t6100/big "$TMP/big.layer") && push_blob t6100/big "$TMP/big.config" >/dev/null ||
    { check; fail "could not push the 200 MB layer to berthd"; finish; }
jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$TMP/big.config")" \
    --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar "$TMP/big.layer")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' \
    | tr -d '\n' >"$TMP/big.json"
BIG_D=$(push_manifest t6100/big v1 "$TMP/big.json" application/vnd.oci.image.manifest.v1+json) ||
    { check; fail "could not push the big manifest"; finish; }
rm -f "$TMP/big.layer"

XPORT=$(free_port)
"$PY" "$TMP/proxy.py" "$XPORT" "$PORT" $((40 * 1000 * 1000)) "$TMP/ranges.log" >"$TMP/proxy.out" 2>&1 &
PROXY_PID=$!
at_exit "kill $PROXY_PID; wait $PROXY_PID"
for _try in $(seq 1 50); do grep -q ready "$TMP/proxy.out" && break; sleep 0.1; done
BIG=127.0.0.1:$XPORT/t6100/big:v1

# big_partial: bytes of the largest download in progress in the store's tmp/
big_partial() { find "$BERTH_ROOT/tmp" -name 'blob-*' -printf '%s\n' 2>/dev/null | sort -n | tail -1; }
# wait_partial BYTES: until a download in tmp/ has BYTES (10 s at most)
wait_partial() {
    local w
    for w in $(seq 1 400); do
        [ "$(big_partial)" -ge "$1" ] 2>/dev/null && return 0
        kill -0 "$PULL_PID" 2>/dev/null || return 1
        sleep 0.025
    done
    return 1
}

# 1. killed and not back: a clear error, no partial blob, no name
timeout 120 "$BERTH" pull "$BIG" >"$TMP/pull1.out" 2>"$TMP/pull1.err" &
PULL_PID=$!
if wait_partial $((20 * 1000 * 1000)); then
    kill -KILL "$BERTHD_PID"
    wait "$BERTHD_PID" 2>/dev/null
    BERTHD_PID=
    KILLED_AT=$(big_partial)
    wait "$PULL_PID"
    RC=$?
    check; [ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] || fail "pull from a killed registry: exited $RC (expected a clean non-zero exit)"
    ERRLINE=$(grep '^berth pull:' "$TMP/pull1.err")
    check; [ "$(grep -c . <<<"$ERRLINE")" -eq 1 ] && [[ $(tail -n 1 "$TMP/pull1.err") == "berth pull:"* ]] ||
        fail "pull from a killed registry: expected one 'berth pull:' line last on stderr, got: $(cat "$TMP/pull1.err")"
    expect_match "$ERRLINE" "berth pull: .*$XPORT|berth pull: .*${LAYER_D:7:12}" "the error names the registry or the blob"
    check; [ -n "$KILLED_AT" ] && [ "$KILLED_AT" -lt $((200 * 1000 * 1000)) ] ||
        fail "the kill did not land in the middle of the layer (tmp/ had ${KILLED_AT:-nothing})"
    check; [ -z "$(ls -A "$BERTH_ROOT/tmp" 2>/dev/null)" ] || fail "a failed pull left files in tmp/: $(ls -l "$BERTH_ROOT/tmp")"
    check; [ -e "$BERTH_ROOT/blobs/sha256/${LAYER_D#sha256:}" ] && fail "a failed pull stored the layer"
    check; blobs_verified || fail "a failed pull left a blob that does not match its digest"
    check; jq -e --arg n "$BIG" '.manifests[]? | select(.annotations["org.opencontainers.image.ref.name"] == $n)' \
        "$BERTH_ROOT/index.json" >/dev/null 2>&1 && fail "a failed pull named the image"
    check; grep -qF "$BIG" <<<"$(timeout 10 "$BERTH" images)" && fail "images lists the half-pulled image"

    # 2. the registry is back: a retry completes with the right digest
    berthd_spawn "$DIRECT" serve --listen "$DIRECT" --root "$ROOT" || { check; fail "berthd did not restart"; }
    kill -USR1 "$PROXY_PID"
    bx pull "$BIG"
    if ok "pull after the registry restarted"; then
        expect_eq "$(sed -n 1p <<<"$OUT")" "Digest: $BIG_D" "the retried pull has the right digest"
        check; [ "$(sha256sum "$BERTH_ROOT/blobs/sha256/${LAYER_D#sha256:}" 2>/dev/null | cut -d' ' -f1)" = "${LAYER_D#sha256:}" ] ||
            fail "the 200 MB layer is not in the store, whole, after the retry"
        bx inspect "$BIG"
        expect_eq "$(jq -r '.[0].ManifestDigest' <<<"$OUT")" "$BIG_D" "inspect after the retried pull"
    fi
else
    check; fail "the pull never started writing the layer: $(cat "$TMP/pull1.err")"
    kill "$PULL_PID" 2>/dev/null; wait "$PULL_PID" 2>/dev/null
fi

# 3. killed and back within the retry window: the download resumes (Range)
bx rmi "$BIG"
check; [ -e "$BERTH_ROOT/blobs/sha256/${LAYER_D#sha256:}" ] && fail "rmi left the 200 MB layer"
if [ -n "${BERTHD_PID:-}" ]; then
    : >"$TMP/ranges.log"
    kill -USR2 "$PROXY_PID"
    timeout 120 "$BERTH" pull "$BIG" >"$TMP/pull3.out" 2>"$TMP/pull3.err" &
    PULL_PID=$!
    if wait_partial $((20 * 1000 * 1000)); then
        kill -KILL "$BERTHD_PID"
        wait "$BERTHD_PID" 2>/dev/null
        BERTHD_PID=
        berthd_spawn "$DIRECT" serve --listen "$DIRECT" --root "$ROOT" || { check; fail "berthd did not restart"; }
        kill -USR1 "$PROXY_PID"
        wait "$PULL_PID"
        RC=$?
        check; [ "$RC" -eq 0 ] || fail "pull across a quick registry restart: exited $RC: $(tail -2 "$TMP/pull3.err" | tr '\n' ' ')"
        expect_eq "$(sed -n 1p "$TMP/pull3.out")" "Digest: $BIG_D" "the resumed pull has the right digest"
        check; [ "$(sha256sum "$BERTH_ROOT/blobs/sha256/${LAYER_D#sha256:}" 2>/dev/null | cut -d' ' -f1)" = "${LAYER_D#sha256:}" ] ||
            fail "the 200 MB layer is not whole after the resumed pull"
        check; grep -qE '^bytes=[1-9][0-9]*-' "$TMP/ranges.log" ||
            fail "the retry did not resume with a Range request (seen: $(tr '\n' ' ' <"$TMP/ranges.log"))"
        check; [ -z "$(ls -A "$BERTH_ROOT/tmp" 2>/dev/null)" ] || fail "the resumed pull left files in tmp/"
    else
        check; fail "the second pull never started writing the layer: $(cat "$TMP/pull3.err")"
        kill "$PULL_PID" 2>/dev/null; wait "$PULL_PID" 2>/dev/null
    fi
fi

# 4. the 200 MB layer pushed back, to another repository: a chunked upload
# (PATCH ... PUT), nothing to mount (the store knows it under another registry)
if [ -n "${BERTHD_PID:-}" ] && [ -e "$BERTH_ROOT/blobs/sha256/${LAYER_D#sha256:}" ]; then
    LOG0=$(wc -l <"$TMP/berthd.log")
    bx tag "$BIG" "$DIRECT/t6100/big-copy:v1"
    bx push -q "$DIRECT/t6100/big-copy:v1"
    if ok "berth push of a 200 MB layer"; then
        # an uncompressed layer a registry served as it is goes back as it is
        expect_eq "$OUT" "$BIG_D" "push of a 200 MB layer: manifest digest"
        http HEAD "/v2/t6100/big-copy/blobs/$LAYER_D"
        expect_status 200 "the pushed 200 MB layer is in berthd"
        expect_eq "$(header Content-Length)" $((200 * 1000 * 1000)) "size of the pushed 200 MB layer"
        check; tail -n +$((LOG0 + 1)) "$TMP/berthd.log" | grep -q 'PATCH /v2/t6100/big-copy/blobs/uploads/' ||
            fail "a 200 MB layer was not pushed in chunks (no PATCH in berthd's log)"
    else
        echo "   berthd's answers to that push:" >&2
        tail -n +$((LOG0 + 1)) "$TMP/berthd.log" | grep -E ' (4|5)[0-9][0-9] ' | grep -v ' HEAD ' | head -5 >&2
    fi
fi

finish
