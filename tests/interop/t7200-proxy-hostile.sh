#!/bin/bash
# t7200-proxy-hostile: berthd's pull-through cache against a hostile
# upstream and hostile clients (issue 18, findings 10, 12 and 13).
#
# The upstream is a small python3 registry written here (just /v2/,
# manifests and blobs), told per repository and digest how to misbehave by
# a JSON file it reads at every request, and logging every request it gets.
#
#   - cross-repository reads: a blob pushed to the local repository
#     mine/secret, and a blob cached for library/a, are a 404 BLOB_UNKNOWN
#     (GET and HEAD) through proxied names the upstream does not have them
#     for, and berthd asked the upstream; a stored blob the upstream does
#     have for library/b is served there after an upstream HEAD, with no
#     second download;
#   - unverified bytes: an upstream that sends other bytes for a digest (a
#     small blob and a 1 MiB one), or redirects to other content, never
#     gives a client a clean, complete 200: curl sees the transfer cut short
#     of its Content-Length; nothing is stored, uploads/ is left empty, and a
#     second GET fails the same way;
#   - fetch caps: 100 concurrent HEADs of blobs berthd does not have reach
#     the upstream as HEADs only (no GET), and berthd's thread count stays
#     bounded; with proxy.max_fetches 2, a third concurrent download is a 429
#     TOOMANYREQUESTS with Retry-After while two are held by the upstream,
#     and both of those complete with the right bytes; an endless upstream
#     body stops at the size the manifest gave (or at once, with no size
#     known at all), the upstream is cut off well before its end, and
#     uploads/ is left empty.
# Everything listens on 127.0.0.1; the servers are stopped by the EXIT trap.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"
for t in python3 jq curl; do
    command -v "$t" >/dev/null || { echo "$T_NAME: $t is missing" >&2; exit 1; }
done

# ---- the hostile upstream -------------------------------------------------------------
UPCONF=$TMP/up.json
UPLOG=$TMP/up.log
UPDATA=$TMP/updata
mkdir -p "$UPDATA"
echo '{"blobs": {}, "manifests": {}, "slow": []}' >"$UPCONF"
: >"$UPLOG"
cat >"$TMP/upstream.py" <<'PY'
import http.server, json, os, socketserver, sys, threading, time

conf_path, log_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
log_lock = threading.Lock()
ENDLESS_CAP = 256 << 20      # an "endless" body still ends, so the test is bounded

def log(line):
    with log_lock, open(log_path, "a") as f:
        f.write(line + "\n")

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass

    def plain(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def blob(self, path, digest):
        with open(path, "rb") as f:
            data = f.read()
        self.plain(200, data, [("Docker-Content-Digest", digest),
                               ("Content-Type", "application/octet-stream")])

    def handle_one(self):
        log("%s %s" % (self.command, self.path))
        with open(conf_path) as f:
            conf = json.load(f)
        p = self.path.split("?")[0]
        if p == "/v2/":
            return self.plain(200, b"{}")
        if p.startswith("/data/"):
            return self.blob(os.path.join(conf["datadir"], p[6:]), "")
        if not p.startswith("/v2/"):
            return self.plain(404)
        rest = p[4:]
        for kind in ("/manifests/", "/blobs/"):
            if kind in rest:
                repo, ref = rest.split(kind, 1)
                break
        else:
            return self.plain(404)
        if kind == "/manifests/":
            m = conf["manifests"].get(repo + ":" + ref)
            if not m:
                return self.plain(404)
            with open(m["file"], "rb") as f:
                body = f.read()
            return self.plain(200, body, [("Content-Type", m["type"]),
                                          ("Docker-Content-Digest", m["digest"])])
        if repo in conf["slow"]:
            # a HEAD is answered at once; a GET would hang for a while
            if self.command == "GET":
                time.sleep(5)
            return self.plain(404)
        b = conf["blobs"].get(repo + "@" + ref)
        if not b:
            return self.plain(404)
        mode = b.get("mode", "ok")
        if self.command == "HEAD" or mode == "ok":
            return self.blob(b["file"], ref)
        if mode == "wrong":
            return self.blob(b["other"], ref)
        if mode == "redirect":
            return self.plain(307, b"", [("Location", "/data/" + os.path.basename(b["other"]))])
        if mode == "hold":
            for _ in range(1200):
                if os.path.exists(conf["release"]):
                    break
                time.sleep(0.05)
            return self.blob(b["file"], ref)
        if mode in ("endless", "huge"):
            self.send_response(200)
            self.send_header("Docker-Content-Digest", ref)
            if mode == "huge":
                self.send_header("Content-Length", str(1 << 40))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent, chunk = 0, os.urandom(65536)
            try:
                while sent < ENDLESS_CAP:
                    if mode == "huge":
                        self.wfile.write(chunk)
                    else:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                if mode != "huge":
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            log("SENT %s %d" % (p, sent))
            self.close_connection = True
            return
        return self.plain(404)

    do_GET = do_HEAD = handle_one

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

S(("127.0.0.1", port), H).serve_forever()
PY
UPORT=$(free_port)
UP=127.0.0.1:$UPORT
python3 "$TMP/upstream.py" "$UPCONF" "$UPLOG" "$UPORT" >"$TMP/upstream.err" 2>&1 &
UP_PID=$!
at_exit "kill $UP_PID; wait $UP_PID"
for n in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$UP/v2/")" = 200 ] && break
    kill -0 "$UP_PID" 2>/dev/null || { echo "$T_NAME: the upstream did not start: $(cat "$TMP/upstream.err")" >&2; exit 1; }
    sleep 0.05
done
jq --arg d "$UPDATA" --arg r "$TMP/release" '.datadir = $d | .release = $r' "$UPCONF" >"$UPCONF.new" &&
    mv "$UPCONF.new" "$UPCONF"

# up_blob REPO DIGEST FILE [MODE [OTHER]]: what the upstream does for that blob.
up_blob() {
    jq --arg k "$1@$2" --arg f "$3" --arg m "${4:-ok}" --arg o "${5:-}" \
        '.blobs[$k] = {file: $f, mode: $m, other: $o}' "$UPCONF" >"$UPCONF.new" && mv "$UPCONF.new" "$UPCONF"
}
# up_manifest REPO TAG FILE: an OCI manifest the upstream serves.
up_manifest() {
    jq --arg k "$1:$2" --arg f "$3" --arg d "$(sha256_of "$3")" --arg t "$OCI_MANIFEST" \
        '.manifests[$k] = {file: $f, type: $t, digest: $d}' "$UPCONF" >"$UPCONF.new" && mv "$UPCONF.new" "$UPCONF"
}
# up_count PATTERN: upstream requests matching an extended regexp.
up_count() { grep -cE "$1" "$UPLOG"; }
# stored DIGEST: the blob is in berthd's blobs/.
stored() { local h=${1#sha256:}; [ -e "$ROOT/blobs/sha256/${h:0:2}/$h" ]; }
# uploads_empty: nothing left in uploads/ (a failed fetch cleans up as it
# ends, which may be just after the client was cut off: wait for it, bounded).
uploads_empty() {
    local n
    for n in $(seq 1 100); do
        [ -z "$(ls -A "$ROOT/uploads" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}
# threads: berthd's current thread count.
threads() { awk '/^Threads:/ { print $2 }' "/proc/$BERTHD_PID/status"; }

# ---- berthd in proxy mode ---------------------------------------------------------------
# threads: a client waiting for a held download holds one request thread
jq -n --arg url "http://$UP" \
    '{threads: 8, proxy: {remoteurl: $url, ttl: "1h", local: ["mine/*"], max_fetches: 2}}' >"$TMP/proxy.json"
ROOT=$TMP/cache
berthd_start --config "$TMP/proxy.json"

# ==== 10: reads across repositories ========================================================
random_file "$TMP/secret" 1000
SECRET=$(push_blob mine/secret "$TMP/secret")
check; [ -n "$SECRET" ] && stored "$SECRET" || fail "could not push the private blob to mine/secret"
n0=$(up_count "^HEAD /v2/library/pub/blobs/$SECRET\$")
http GET "/v2/library/pub/blobs/$SECRET"
expect_error 404 BLOB_UNKNOWN
check; cmp -s "$BODY_FILE" "$TMP/secret" && fail "the private blob of mine/secret was served through library/pub"
http HEAD "/v2/library/pub/blobs/$SECRET"
expect_eq "$STATUS" 404 "HEAD of the private blob through library/pub"
check; [ "$(up_count "^HEAD /v2/library/pub/blobs/$SECRET\$")" -gt "$n0" ] ||
    fail "berthd did not ask the upstream about $SECRET in library/pub"
check; grep -qE "^GET /v2/library/pub/blobs/$SECRET\$" "$UPLOG" &&
    fail "berthd downloaded the private blob's digest from the upstream (a HEAD is enough)"

# a blob the upstream has for library/a only, cached through library/a
random_file "$TMP/shared" 3000
SHARED=$(sha256_of "$TMP/shared")
up_blob library/a "$SHARED" "$TMP/shared"
http GET "/v2/library/a/blobs/$SHARED"
expect_status 200 "GET of a blob through library/a"
expect_eq "$(sha256_of "$BODY_FILE")" "$SHARED" "the blob through library/a"
check; stored "$SHARED" || fail "the blob fetched through library/a is not stored"
http GET "/v2/library/b/blobs/$SHARED"
expect_error 404 BLOB_UNKNOWN
http HEAD "/v2/library/b/blobs/$SHARED"
expect_eq "$STATUS" 404 "HEAD through library/b of a blob cached for library/a"
# once the upstream has it for library/b too, it is served there, not downloaded again
up_blob library/b "$SHARED" "$TMP/shared"
http GET "/v2/library/b/blobs/$SHARED"
expect_status 200 "GET through library/b once the upstream has it there"
expect_eq "$(sha256_of "$BODY_FILE")" "$SHARED" "the blob through library/b"
expect_eq "$(up_count "^GET /v2/library/b/blobs/$SHARED\$")" 0 "upstream GETs of a blob already stored, for library/b"
check; [ "$(up_count "^HEAD /v2/library/b/blobs/$SHARED\$")" -ge 1 ] || fail "library/b: the upstream was not asked with a HEAD"
http HEAD "/v2/library/b/blobs/$SHARED"
expect_status 200 "HEAD through library/b, now linked"
expect_eq "$(header Content-Length)" 3000 "HEAD through library/b: Content-Length"
# a HEAD of a blob berthd does not have: the upstream's HEAD answers it, nothing is fetched
random_file "$TMP/headonly" 777
HEADONLY=$(sha256_of "$TMP/headonly")
up_blob library/h "$HEADONLY" "$TMP/headonly"
http HEAD "/v2/library/h/blobs/$HEADONLY"
expect_status 200 "HEAD of a blob only the upstream has"
expect_eq "$(header Content-Length)" 777 "its Content-Length, from the upstream's HEAD"
expect_eq "$(up_count "^GET /v2/library/h/blobs/$HEADONLY\$")" 0 "upstream GETs for a HEAD"
check; stored "$HEADONLY" && fail "a HEAD stored the blob"

# ==== 12: unverified bytes ===================================================================
# bad_get REPO DIGEST SIZE WHAT: curl must not get a clean, complete 200.
bad_get() {
    local rc code
    : >"$TMP/bad.out"
    code=$(curl -sS -m 60 -o "$TMP/bad.out" -w '%{http_code}' "http://$REG/v2/$1/blobs/$2" 2>"$TMP/bad.err")
    rc=$?
    check
    if [ "$rc" -eq 0 ] && [ "$code" = 200 ]; then
        fail "$4: a clean, complete 200 for bytes that fail their digest ($(size_of "$TMP/bad.out") bytes)"
    elif [ "$code" = 200 ] && [ "$rc" -ne 18 ] && [ "$rc" -ne 56 ]; then
        fail "$4: curl exited $rc (expected 18, a transfer cut short): $(cat "$TMP/bad.err")"
    fi
    check
    [ "$(sha256_of "$TMP/bad.out")" != "$2" ] && [ "$(size_of "$TMP/bad.out")" -lt "$3" ] ||
        [ "$code" != 200 ] || fail "$4: the client got all $3 bytes"
}
for size in 100 $((1 << 20)); do
    random_file "$TMP/good$size" "$size"
    random_file "$TMP/evil$size" "$size"
    cp "$TMP/evil$size" "$UPDATA/evil$size"
    GOOD=$(sha256_of "$TMP/good$size")
    for mode in wrong redirect; do
        repo=library/evil-$mode-$size
        up_blob "$repo" "$GOOD" "$TMP/good$size" "$mode" "$UPDATA/evil$size"
        bad_get "$repo" "$GOOD" "$size" "$mode, $size bytes, first GET"
        check; uploads_empty || fail "$mode, $size bytes: uploads/ keeps $(ls "$ROOT/uploads" | wc -l) files"
        check; stored "$GOOD" && fail "$mode, $size bytes: the bad bytes were stored as $GOOD"
        bad_get "$repo" "$GOOD" "$size" "$mode, $size bytes, second GET"
        check; stored "$GOOD" && fail "$mode, $size bytes: stored after the second GET"
    done
done
check; uploads_empty || fail "uploads/ is not empty after the bad fetches"

# ==== 13: fetch caps ===========================================================================
# 100 concurrent HEADs of blobs berthd does not have; the upstream would hang
# 5 s on a GET of any of them
jq '.slow = ["library/flood"]' "$UPCONF" >"$UPCONF.new" && mv "$UPCONF.new" "$UPCONF"
T0=$(threads)
pids=()
for i in $(seq 1 100); do
    d=sha256:$(printf '%064x' "$((RANDOM * 32768 + RANDOM))$i" | head -c 64)
    curl -s -m 30 -o /dev/null -w '%{http_code}\n' -I "http://$REG/v2/library/flood/blobs/$d" >>"$TMP/flood.codes" &
    pids+=($!)
done
TMAX=$T0
for i in $(seq 1 20); do
    t=$(threads)
    [ "$t" -gt "$TMAX" ] && TMAX=$t
    sleep 0.05
done
wait "${pids[@]}"
expect_eq "$(sort -u "$TMP/flood.codes" | tr '\n' ' ')" "404 " "100 HEADs of unknown blobs: statuses"
expect_eq "$(up_count '^GET /v2/library/flood/')" 0 "upstream GETs caused by 100 HEADs"
check; [ "$(up_count '^HEAD /v2/library/flood/')" -ge 100 ] || fail "the upstream saw $(up_count '^HEAD /v2/library/flood/') HEADs, expected 100"
check; [ "$TMAX" -le $((T0 + 4)) ] || fail "berthd's threads went from $T0 to $TMAX during 100 HEADs"
echo "$T_NAME: berthd threads during 100 concurrent HEADs: $T0 -> at most $TMAX"

# proxy.max_fetches 2: two downloads held by the upstream, a third is refused
holds=()
for i in 1 2 3; do
    random_file "$TMP/hold$i" 200000
    holds+=("$(sha256_of "$TMP/hold$i")")
    up_blob library/hold "${holds[$((i - 1))]}" "$TMP/hold$i" hold
done
pids=()
for i in 1 2; do
    curl -s -m 90 -o "$TMP/hold$i.out" -w '%{http_code}' "http://$REG/v2/library/hold/blobs/${holds[$((i - 1))]}" \
        >"$TMP/hold$i.code" &
    pids+=($!)
    for n in $(seq 1 200); do
        [ "$(up_count '^GET /v2/library/hold/')" -ge "$i" ] && break
        sleep 0.05
    done
done
expect_eq "$(up_count '^GET /v2/library/hold/')" 2 "downloads the upstream holds"
http GET "/v2/library/hold/blobs/${holds[2]}"
expect_error 429 TOOMANYREQUESTS
expect_eq "$(header Retry-After)" 1 "Retry-After of a 429"
expect_eq "$(up_count '^GET /v2/library/hold/')" 2 "upstream GETs while at proxy.max_fetches"
# a HEAD is never refused for the bound
http HEAD "/v2/library/hold/blobs/${holds[2]}"
expect_status 200 "HEAD while at proxy.max_fetches"
touch "$TMP/release"
wait "${pids[@]}"
for i in 1 2; do
    expect_eq "$(cat "$TMP/hold$i.code")" 200 "held download $i: status"
    expect_eq "$(sha256_of "$TMP/hold$i.out")" "${holds[$((i - 1))]}" "held download $i: content"
done
http GET "/v2/library/hold/blobs/${holds[2]}"
expect_status 200 "the refused download, asked again"
expect_eq "$(sha256_of "$BODY_FILE")" "${holds[2]}" "the refused download, asked again: content"

# an endless upstream body: stopped at the manifest's size, or at once with no size at all
random_file "$TMP/layer" $((1 << 20))
LAYER=$(sha256_of "$TMP/layer")
echo '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$TMP/config"
CONFIG=$(sha256_of "$TMP/config")
jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$TMP/config")" \
    --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar+gzip "$TMP/layer")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' |
    tr -d '\n' >"$TMP/manifest.json"
for mode in endless huge; do
    repo=library/$mode
    up_manifest "$repo" v1 "$TMP/manifest.json"
    up_blob "$repo" "$LAYER" "$TMP/layer" "$mode"
    http GET "/v2/$repo/manifests/v1" -H "Accept: $OCI_MANIFEST"
    expect_status 200 "$mode: the manifest through berthd"
    code=$(curl -s -m 60 -o "$TMP/endless.out" -w '%{http_code}' "http://$REG/v2/$repo/blobs/$LAYER")
    rc=$?
    check; [ "$rc" -ne 0 ] || [ "$code" != 200 ] || fail "$mode: a clean 200 for an endless body"
    check; [ "$(size_of "$TMP/endless.out")" -le $((1 << 20)) ] ||
        fail "$mode: the client got $(size_of "$TMP/endless.out") bytes, more than the manifest's $((1 << 20))"
    for n in $(seq 1 200); do grep -q "^SENT /v2/$repo/" "$UPLOG" && break; sleep 0.05; done
    # the most any one upstream response sent
    sent=$(awk -v p="/v2/$repo/blobs/$LAYER" '$1 == "SENT" && $2 == p && $3 > m { m = $3 } END { print m }' "$UPLOG")
    check; [ -n "$sent" ] && [ "$sent" -lt $((64 << 20)) ] ||
        fail "$mode: the upstream sent ${sent:-its whole} bytes (of 256 MiB) before berthd stopped reading"
    echo "$T_NAME: $mode upstream body: berthd stopped it after ${sent:-?} bytes"
    check; uploads_empty || fail "$mode: uploads/ keeps $(ls "$ROOT/uploads" | wc -l) files"
    check; stored "$LAYER" && fail "$mode: the endless body was stored"
done
# no manifest, no Content-Length: refused at once
repo=library/nosize
up_blob "$repo" "$LAYER" "$TMP/layer" endless
http GET "/v2/$repo/blobs/$LAYER"
expect_error 404 BLOB_UNKNOWN
check; uploads_empty || fail "nosize: uploads/ keeps $(ls "$ROOT/uploads" | wc -l) files"

finish
