# tests/lib.sh - shared by the integration and interop scripts.
#
#   . "$(dirname "$0")/../lib.sh"
#   berthd_start                # a berthd on a free 127.0.0.1 port: $PORT, $REG, $ROOT
#   http GET /v2/               # sets $STATUS; body in $BODY_FILE, headers in $HDR_FILE
#   expect_status 200
#   expect_eq "$(header Docker-Distribution-API-Version)" registry/2.0
#   expect_error 404 BLOB_UNKNOWN
#   finish                      # prints the summary, exits non-zero on failure
#
# Also: berthd_spawn (exact args, for config tests), berthd_stop, location,
# error_code, push_blob, push_manifest, push_image, descriptor, random_file,
# debian_fixture (a real debian:bookworm base image in the berth store).
# Everything started is stopped by an EXIT trap; scratch lives in $TMP.
# finish also fails the test if berthd died, does not exit 0 on SIGTERM, or
# printed a sanitizer report. Traffic goes to 127.0.0.1 only, never a proxy.
set -u
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTHD=${BERTHD:-build/berthd}
case $BERTHD in /*) ;; *) BERTHD=$TOP/$BERTHD ;; esac
TMP=$(mktemp -d /tmp/berth-test.XXXXXX)
T_NAME=$(basename "$0" .sh)
T_FAILS=0
T_COUNT=0
CLEANUP=()

at_exit() { CLEANUP+=("$*"); }
# small_disk DIR SIZE: a tmpfs of SIZE (12m, ...) on DIR, made now and
# unmounted at exit; the test ends when it cannot be mounted (needs root).
small_disk() {
    mkdir -p "$1"
    if ! mount -t tmpfs -o "size=$2,mode=0755" "berth-$T_NAME" "$1" 2>"$TMP/mount.err"; then
        echo "$T_NAME: cannot mount a tmpfs (needs root): $(cat "$TMP/mount.err")" >&2
        exit 1
    fi
    at_exit "umount -l '$1'"
    SMALL_DISK=$1
}
# disk_avail: the bytes free on the small disk; disk_fill BYTES: a filler
# file takes all but about BYTES of it; disk_unfill: the filler goes.
disk_avail() { df -B1 --output=avail "$SMALL_DISK" | tail -1 | tr -d ' '; }
disk_fill() {
    rm -f "$SMALL_DISK/filler"
    local a
    a=$(disk_avail)
    [ "$a" -gt "$1" ] && head -c $((a - $1)) /dev/zero >"$SMALL_DISK/filler" 2>/dev/null
    sync
}
disk_unfill() { rm -f "$SMALL_DISK/filler"; }
run_cleanup() {
    # an unusual name: the eval'd commands must not be able to clobber it
    local __cleanup_idx
    for ((__cleanup_idx = ${#CLEANUP[@]} - 1; __cleanup_idx >= 0; __cleanup_idx--)); do
        eval "${CLEANUP[__cleanup_idx]}" >/dev/null 2>&1
    done
    rm -rf "$TMP"
}
trap run_cleanup EXIT

fail() { T_FAILS=$((T_FAILS + 1)); echo "not ok - $T_NAME: $*" >&2; }
pass() { :; }
check() { T_COUNT=$((T_COUNT + 1)); }
expect_eq() { check; [ "$1" == "$2" ] || fail "${3:-expected} '$2', got '$1'"; }
expect_ne() { check; [ "$1" != "$2" ] || fail "${3:-unexpected} '$2'"; }
expect_match() { check; [[ $1 =~ $2 ]] || fail "${3:-expected match} /$2/, got '$1'"; }
finish() {
    if [ -n "${BERTHD_PID:-}" ]; then
        check
        if kill -0 "$BERTHD_PID" 2>/dev/null; then
            berthd_stop; local rc=$?
            [ "$rc" -eq 0 ] || fail "berthd exited $rc on SIGTERM (expected 0)"
        else
            fail "berthd is no longer running (crashed?)"
        fi
    fi
    check
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/berthd.log" 2>/dev/null; then
        fail "sanitizer report in the berthd log:"
        grep -E -A5 'Sanitizer|runtime error:' "$TMP/berthd.log" | head -40 >&2
    fi
    echo "$T_NAME: $T_COUNT checks, $T_FAILS failed"
    [ "$T_FAILS" -eq 0 ]
    exit $?
}

# A port below the kernel's ephemeral range (client sockets never hold it)
# that nothing listens on or still holds.
free_port() {
    local p low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    while :; do
        p=$((10000 + RANDOM % (low - 10000)))
        ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
    done
}

# berthd_start [extra berthd serve args...]: ROOT defaults to a fresh dir.
berthd_start() {
    ROOT=${ROOT:-$TMP/root}
    mkdir -p "$ROOT"
    local try
    for try in 1 2 3 4 5; do
        PORT=$(free_port)
        REG=127.0.0.1:$PORT
        "$BERTHD" serve --listen "$REG" --root "$ROOT" "$@" >>"$TMP/berthd.log" 2>&1 &
        BERTHD_PID=$!
        local i
        for i in $(seq 1 100); do
            if curl -fsS -o /dev/null "http://$REG/v2/" 2>/dev/null; then
                at_exit "kill $BERTHD_PID; wait $BERTHD_PID"
                return 0
            fi
            kill -0 "$BERTHD_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill "$BERTHD_PID" 2>/dev/null; wait "$BERTHD_PID" 2>/dev/null
    done
    echo "berthd did not start:" >&2; cat "$TMP/berthd.log" >&2
    exit 1
}

# berthd_spawn ADDR [args...]: run "$BERTHD" with exactly these args (and the
# caller's environment; use for config/env tests), wait until http://ADDR/v2/
# answers. Sets REG, PORT, BERTHD_PID; returns 1 if berthd exited or did not
# answer within 5 s (its output is in $TMP/berthd.log).
berthd_spawn() {
    REG=$1; PORT=${1##*:}; shift
    "$BERTHD" "$@" >>"$TMP/berthd.log" 2>&1 &
    BERTHD_PID=$!
    at_exit "kill $BERTHD_PID; wait $BERTHD_PID"
    local i
    for i in $(seq 1 100); do
        curl -fsS -o /dev/null "http://$REG/v2/" 2>/dev/null && return 0
        kill -0 "$BERTHD_PID" 2>/dev/null || { wait "$BERTHD_PID"; BERTHD_PID=; return 1; }
        sleep 0.05
    done
    return 1
}

# berthd_stop: SIGTERM and wait (10 s at most, then SIGKILL); returns
# berthd's exit status and forgets BERTHD_PID.
berthd_stop() {
    local pid=${BERTHD_PID:-} i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "berthd did not exit within 10 s of SIGTERM" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    BERTHD_PID=
    wait "$pid"
}

BODY_FILE=$TMP/body
HDR_FILE=$TMP/headers
# http METHOD PATH [curl args...]: PATH is relative to http://$REG (sent as
# is: no ../ squashing). Body and headers of an earlier call never linger.
http() {
    local method=$1 path=$2; shift 2
    local head=()
    [ "$method" = HEAD ] && head=(-I)
    : >"$BODY_FILE"; : >"$HDR_FILE"
    STATUS=$(curl -sS --path-as-is -m "${HTTP_TIMEOUT:-30}" -o "$BODY_FILE" -D "$HDR_FILE" \
        -w '%{http_code}' -X "$method" "${head[@]}" "$@" "http://$REG$path") || STATUS=000
}
# header NAME: the value of a response header of the last http call.
header() {
    grep -i "^$1:" "$HDR_FILE" | head -1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'
}
body() { cat "$BODY_FILE"; }
expect_status() { expect_eq "$STATUS" "$1" "${2:-status}"; }
# expect_error STATUS CODE: the spec's error body with that code.
expect_error() {
    expect_eq "$STATUS" "$1" "status for $2"
    expect_eq "$(jq -r '.errors[0].code' "$BODY_FILE" 2>/dev/null)" "$2" "error code"
}

# location: the Location header of the last http call, as a path.
location() { header Location | sed -E 's|^https?://[^/]*||'; }
# error_code: .errors[0].code of the last http call's body.
error_code() { jq -r '.errors[0].code // empty' "$BODY_FILE" 2>/dev/null; }

sha256_of() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
sha512_of() { echo "sha512:$(sha512sum "$1" | cut -d' ' -f1)"; }
size_of() { stat -c %s "$1"; }
# random_file FILE BYTES: random content.
random_file() { head -c "$2" /dev/urandom >"$1"; }
# descriptor MEDIATYPE FILE: an OCI descriptor (compact JSON) for FILE.
descriptor() {
    jq -cn --arg mt "$1" --arg d "$(sha256_of "$2")" --argjson s "$(size_of "$2")" \
        '{mediaType: $mt, digest: $d, size: $s}'
}

# push_blob REPO FILE: monolithic upload; prints the digest.
push_blob() {
    local d
    d=$(sha256_of "$2")
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary @"$2" "http://$REG/v2/$1/blobs/uploads/?digest=$d" || return 1
    echo "$d"
}

# push_manifest REPO REF FILE MEDIATYPE: PUT a manifest; prints its digest.
push_manifest() {
    curl -fsS -o /dev/null -X PUT -H "Content-Type: $4" --data-binary @"$3" \
        "http://$REG/v2/$1/manifests/$2" || return 1
    sha256_of "$3"
}

# push_image REPO TAG: a config blob, one random layer and an OCI manifest
# (in $TMP/img-REPO-TAG.json, "/" made "_", REPO cut to 100 characters);
# prints the manifest digest.
push_image() {
    local f=${1//\//_}
    f=$TMP/img-${f:0:100}-$2
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"x":"%s"}' \
        "$RANDOM$RANDOM" >"$f.config"
    random_file "$f.layer" 512
    push_blob "$1" "$f.config" >/dev/null && push_blob "$1" "$f.layer" >/dev/null || return 1
    jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$f.config")" \
        --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar "$f.layer")" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' \
        | tr -d '\n' >"$f.json"
    push_manifest "$1" "$2" "$f.json" application/vnd.oci.image.manifest.v1+json
}

# debian_fixture [REF]: a real Debian base image (debootstrap minbase
# bookworm) imported into the berth store ($BERTH_ROOT) as REF (default
# debian:bookworm); the tarball's path in $DEBIAN_TAR. The tarball is made
# once by tests/fixture-debian and kept in build/fixtures (or
# $BERTH_FIXTURES) between runs; several tests asking at once wait for one
# debootstrap (a lock). Returns 1, with the reason on stderr, when it
# cannot be made (no debootstrap, no mirror).
debian_fixture() {
    local ref=${1:-debian:bookworm} berth=${BERTH:-$TOP/build/berth}
    case $berth in /*) ;; *) berth=$TOP/$berth ;; esac
    DEBIAN_TAR=$("$TOP/tests/fixture-debian") || return 1
    timeout 300 "$berth" import "$DEBIAN_TAR" "$ref" >"$TMP/fixture-import.log" 2>&1 || {
        echo "$T_NAME: berth import of $DEBIAN_TAR as $ref failed: $(tail -3 "$TMP/fixture-import.log")" >&2
        return 1
    }
}
