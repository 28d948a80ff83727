#!/bin/bash
# t6200-berth-hostile-registry: berth against a malicious registry
# (tests/interop/hostile-registry.py), and against hostile archives.
#
#   - credentials: an upload Location and a blob redirect that name another
#     host:port get no Authorization (Basic and Bearer);
#   - limits: a 150-byte layer served as 200 MB stops at byte 151, with no
#     temp file left; a gzip bomb (2 MB -> 2 GiB of zeros) given to
#     `berth load` is refused before it is written, and, read from a pipe,
#     stopped early; a blob that stalls, or trickles below the floor, fails
#     (BERTH_STALL_TIMEOUT / BERTH_LOW_SPEED_* in seconds here); the temp
#     file of a pull killed with SIGKILL is removed by the next berth
#     command, that of a pull still running is not;
#   - protocols: a Bearer realm of gopher:// or dict:// never connects (a
#     listener records any connection), an https realm that redirects to
#     http is refused.
# A file-size limit (ulimit -f) keeps a berth that fails to stop from
# filling the disk. Everything listens on 127.0.0.1; HOME and the store are
# in $TMP.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../integration/lib-auth.sh"

BERTH=${BERTH:-build/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
HOSTILE=$TOP/tests/interop/hostile-registry.py
for tool in "$BERTH" python3 openssl tar; do
    command -v "$tool" >/dev/null || { echo "$T_NAME: $tool is missing (make all test-deps)" >&2; exit 1; }
done

export HOME=$TMP/home BERTH_ROOT=$TMP/store
mkdir -p "$HOME"

# bx ARGS...: run berth (60 s at most, files up to 100 MB); $RC, $OUT, $ERR.
bx() {
    (ulimit -f 102400; exec timeout 60 "$BERTH" "$@") >"$TMP/bx.out" 2>"$TMP/bx.err" </dev/null
    RC=$?
    OUT=$(cat "$TMP/bx.out")
    ERR=$(cat "$TMP/bx.err")
    no_sanitizer_report "berth $1"
}
no_sanitizer_report() {
    check
    ! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/bx.err" ||
        fail "$1: sanitizer report: $(grep -E -A3 'Sanitizer|runtime error:' "$TMP/bx.err" | head -8)"
}
ok() {
    check
    [ "$RC" -eq 0 ] || { fail "$1: berth exited $RC: $(tail -3 "$TMP/bx.err" | tr '\n' ' ')"; return 1; }
}
# refused WHAT REGEX: the last bx failed (not by a signal or the timeout)
# with a message matching REGEX, and left nothing in the store's tmp/.
refused() {
    check
    if [ "$RC" -eq 0 ] || [ "$RC" -ge 124 ]; then
        fail "$1: expected a clean failure, berth exited $RC: $(tail -2 "$TMP/bx.err" | tr '\n' ' ')"
        return
    fi
    expect_match "$ERR" "$2" "$1: message"
    check
    [ -z "$(ls -A "$BERTH_ROOT/tmp" 2>/dev/null)" ] || fail "$1: left files in tmp/: $(ls "$BERTH_ROOT/tmp")"
}
record_has() { grep -c -- "$1" "$TMP/record" 2>/dev/null || true; }

# hostile MODE [TLS]: (re)start the hostile registry; $HREG is its name.
HPID=
hostile() {
    [ -n "$HPID" ] && { kill "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; }
    : >"$TMP/record"
    local p1 p2 p3 p4 i
    p1=$(free_port); p2=$(free_port); p3=$(free_port); p4=$(free_port)
    while [ "$p2" = "$p1" ]; do p2=$(free_port); done
    while [ "$p3" = "$p1" ] || [ "$p3" = "$p2" ]; do p3=$(free_port); done
    while [ "$p4" = "$p1" ] || [ "$p4" = "$p2" ] || [ "$p4" = "$p3" ]; do p4=$(free_port); done
    local mode=${1//@RAW@/$p3}
    mode=${mode//@TLS@/$p4}
    if [ "${2:-}" = tls ]; then
        python3 "$HOSTILE" "$mode" "$p1" "$p2" "$p3" "$TMP/record" "$p4" "$PKI/server.crt" "$PKI/server.key" \
            >>"$TMP/hostile.log" 2>&1 &
    else
        python3 "$HOSTILE" "$mode" "$p1" "$p2" "$p3" "$TMP/record" >>"$TMP/hostile.log" 2>&1 &
    fi
    HPID=$!
    at_exit "kill $HPID; wait $HPID"
    HREG=127.0.0.1:$p1 OTHER_PORT=$p2 RAW_PORT=$p3 TLS_PORT=$p4
    for i in $(seq 1 100); do
        curl -s -o /dev/null -m 2 "http://$HREG/v2/" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$T_NAME: the hostile registry did not start:" >&2; tail -5 "$TMP/hostile.log" >&2
    exit 1
}

# a small image in the store, to push
mkdir -p "$TMP/rootfs/etc"
echo "hello $RANDOM" >"$TMP/rootfs/etc/greeting"
tar -C "$TMP/rootfs" --owner=0 --group=0 --numeric-owner -cf "$TMP/rootfs.tar" .

# ---- 5: credentials stay with the registry's own host:port --------------------------
for mode in push-basic push-bearer; do
    hostile "$mode"
    bx login -u alice -p pw "$HREG"
    ok "$mode: login" || continue
    bx import "$TMP/rootfs.tar" "$HREG/t6200/app:v1"
    ok "$mode: import" || continue
    bx push "$HREG/t6200/app:v1"
    ok "$mode: push through an upload Location on another port"
    check
    [ "$(record_has '^OTHER PUT')" -ge 1 ] || fail "$mode: the upload never reached the Location's host (record: $(cat "$TMP/record"))"
    check
    [ "$(grep '^OTHER' "$TMP/record" | grep -vc ' -$')" -eq 0 ] ||
        fail "$mode: credentials were sent to another host: $(grep '^OTHER' "$TMP/record" | grep -v ' -$' | head -3)"
done

hostile pull-redirect
bx login -u alice -p pw "$HREG"
ok "pull-redirect: login"
bx pull "$HREG/t6200/app:v1"
ok "pull-redirect: pull with blobs redirected to another port"
check
[ "$(record_has '^OTHER GET /blob/')" -ge 1 ] || fail "pull-redirect: no blob GET reached the other host"
check
[ "$(grep '^OTHER' "$TMP/record" | grep -vc ' -$')" -eq 0 ] ||
    fail "pull-redirect: credentials followed a redirect: $(grep '^OTHER' "$TMP/record" | grep -v ' -$' | head -3)"
bx rmi "$HREG/t6200/app:v1"

# ---- 6a: a layer larger than its descriptor ------------------------------------------
hostile oversize
bx login -u alice -p pw "$HREG"
bx pull "$HREG/t6200/big:v1"
refused "a 150-byte layer served as 200 MB" 'more than the 150 bytes'
check
[ "$(du -sk "$BERTH_ROOT" | cut -f1)" -lt 10240 ] || fail "the store grew to $(du -sh "$BERTH_ROOT" | cut -f1)"

# ---- 6b: a gzip bomb for berth load ---------------------------------------------------
# a docker-archive tar with one 2 GiB member of zeros, gzipped to about 2 MB
python3 - "$TMP/bomb.tar.gz" <<'EOF'
import struct, sys, tarfile, zlib
size = 2 << 30
ti = tarfile.TarInfo("0123/layer.tar"); ti.size = size
head = ti.tobuf(format=tarfile.USTAR_FORMAT)
co = zlib.compressobj(9, zlib.DEFLATED, -15)
zero, tail = bytes(1 << 20), bytes(1024)
first = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH)
a = co.compress(zero) + co.flush(zlib.Z_FULL_FLUSH)
b = co.compress(zero) + co.flush(zlib.Z_FULL_FLUSH)   # every later MiB compresses to these bytes
crc = zlib.crc32(head)
zcrc = zlib.crc32(zero)
with open(sys.argv[1], "wb") as f:
    f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + first + a)
    for _ in range((size >> 20) - 1):
        f.write(b)
    f.write(co.compress(tail) + co.flush())
    for _ in range(size >> 20):
        crc = zlib.crc32(zero, crc)
    crc = zlib.crc32(tail, crc)
    f.write(struct.pack("<II", crc & 0xffffffff, (len(head) + size + 1024) & 0xffffffff))
EOF
check
[ "$(size_of "$TMP/bomb.tar.gz")" -lt 4000000 ] || fail "the bomb is $(size_of "$TMP/bomb.tar.gz") bytes"
bx load -i "$TMP/bomb.tar.gz"
refused "berth load of a gzip bomb" 'decompression bomb'
# from a pipe the archive's size is unknown: the running ratio stops it
(ulimit -f 102400; cat "$TMP/bomb.tar.gz" | timeout 60 "$BERTH" load -i -) >"$TMP/bx.out" 2>"$TMP/bx.err"
RC=$? ERR=$(cat "$TMP/bx.err")
no_sanitizer_report "berth load from a pipe"
refused "berth load of a gzip bomb from a pipe" 'decompression bomb'

# ---- 6c: a blob that stalls, one that trickles ------------------------------------------
hostile stall
bx login -u alice -p pw "$HREG"
export BERTH_STALL_TIMEOUT=1
bx pull "$HREG/t6200/slow:v1"
refused "a blob that stops sending" 'no data moved for 1 s'
unset BERTH_STALL_TIMEOUT
hostile trickle
bx login -u alice -p pw "$HREG"
export BERTH_LOW_SPEED_LIMIT=100000 BERTH_LOW_SPEED_TIME=1
bx pull "$HREG/t6200/slow:v1"
refused "a blob that trickles" 'slower than 100000 bytes/s for 1 s'
unset BERTH_LOW_SPEED_LIMIT BERTH_LOW_SPEED_TIME

# ---- 6d: a pull killed with SIGKILL -----------------------------------------------------
hostile stall
bx login -u alice -p pw "$HREG"
# wait_temp PID: until the pull PID has a temp file (10 s at most)
wait_temp() {
    local i
    for i in $(seq 1 200); do
        ls "$BERTH_ROOT"/tmp/blob-* >/dev/null 2>&1 && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
"$BERTH" pull "$HREG/t6200/slow:v1" >/dev/null 2>&1 &
PULL=$!
at_exit "kill -KILL $PULL"
check
if wait_temp "$PULL"; then
    kill -KILL "$PULL"; wait "$PULL" 2>/dev/null
    LEFT=$(ls "$BERTH_ROOT"/tmp/)
    check
    [ -n "$LEFT" ] || fail "the killed pull left no temp file to clean"
    bx images
    ok "berth images after a killed pull"
    check
    [ -z "$(ls -A "$BERTH_ROOT/tmp")" ] || fail "the temp files of a killed pull are still there: $(ls "$BERTH_ROOT/tmp")"
else
    fail "the pull never wrote a temp file"
fi
# a pull that is still running keeps its temp file
"$BERTH" pull "$HREG/t6200/slow:v1" >/dev/null 2>&1 &
PULL=$!
at_exit "kill -KILL $PULL"
check
if wait_temp "$PULL"; then
    LIVE=$(ls "$BERTH_ROOT"/tmp/)
    bx images
    expect_eq "$(ls "$BERTH_ROOT"/tmp/)" "$LIVE" "the temp file of a running pull"
else
    fail "the second pull never wrote a temp file"
fi
kill -KILL "$PULL"; wait "$PULL" 2>/dev/null
bx images

# ---- 11: token realms and redirects that lead elsewhere -------------------------------------
for scheme in gopher dict; do
    hostile "realm:$scheme://127.0.0.1:@RAW@/_hello"
    bx login -u alice -p pw "$HREG"
    refused "a $scheme:// token realm" "refusing the token realm $scheme://.*only http and https"
    bx pull "$HREG/t6200/app:v1"
    refused "a $scheme:// token realm (pull)" "only http and https"
    sleep 0.2
    expect_eq "$(record_has '^RAW')" 0 "connections to the $scheme:// listener"
done

PKI=$TMP/pki
if make_ca "$PKI" && make_cert "$PKI" server IP:127.0.0.1; then
    hostile "realm:https://127.0.0.1:@TLS@/token" tls
    bx --ca "$PKI/ca.crt" login -u alice -p pw "$HREG"
    refused "an https realm redirecting to http" 'refusing a redirect from https to http'
    check
    [ "$(record_has '^TLS GET /token')" -ge 1 ] || fail "the https realm was never asked (record: $(cat "$TMP/record"))"
    expect_eq "$(record_has '^OTHER')" 0 "requests that followed the https -> http redirect"
else
    fail "openssl could not make the test PKI"
fi

finish
