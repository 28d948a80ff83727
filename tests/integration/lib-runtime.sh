# lib-runtime.sh - what the runtime tests share, sourced after lib.sh: the
# build's berth (build-asan/'s under SANITIZE=1), root, busybox-static in
# $BUSYBOX, a store and $HOME in $TMP, sanitizer reports of every berth
# process (detached monitors included) as files in $TMP/san, an EXIT trap
# that removes every container, network and mount the test left, and the
# helpers that run berth. A test names the other tools it needs with `need`.

BERTH=${BERTH:-$(dirname "$BERTHD")/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
# need TOOL...: each is there, or the test stops before it starts.
need() {
    local tool
    for tool; do
        command -v "$tool" >/dev/null || { echo "$T_NAME: $tool is missing (make all test-deps)" >&2; exit 1; }
    done
}
need "$BERTH" jq timeout
[ "$(id -u)" -eq 0 ] || { echo "$T_NAME: needs root" >&2; exit 1; }
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=$(command -v busybox)
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
    { echo "$T_NAME: busybox-static is missing" >&2; exit 1; }

export HOME=$TMP/home BERTH_ROOT=$TMP/store
mkdir -p "$HOME" "$TMP/san"
if [ -n "${ASAN_OPTIONS:-}" ]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$TMP/san/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$TMP/san/ubsan"
fi
# (eval'd inside lib.sh's cleanup loop: names of their own)
at_exit 'for _c in $(timeout 20 "$BERTH" ps -aq); do timeout 30 "$BERTH" rm -f "$_c"; done;
         for _n in $(timeout 20 "$BERTH" network ls -q 2>/dev/null); do timeout 20 "$BERTH" network rm "$_n"; done;
         grep -o " $TMP/[^ ]*" /proc/mounts | sort -r | while read -r _m; do umount -l "$_m"; done'

# bx ARGS...: run berth (stdin /dev/null); $RC, $OUT (stdout), $ERR (stderr).
bx() {
    timeout -k 5 120 "$BERTH" "$@" </dev/null >"$TMP/bx.out" 2>"$TMP/bx.err"
    RC=$?
    OUT=$(cat "$TMP/bx.out")
    ERR=$(cat "$TMP/bx.err")
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/bx.err"; then
        check; fail "sanitizer report from berth $*: $(head -5 "$TMP/bx.err" | tr '\n' ' ')"
    fi
}
# bxin INPUT ARGS...: bx with INPUT on stdin.
bxin() {
    local input=$1
    shift
    printf '%s' "$input" | timeout -k 5 120 "$BERTH" "$@" >"$TMP/bx.out" 2>"$TMP/bx.err"
    RC=${PIPESTATUS[1]}
    OUT=$(cat "$TMP/bx.out")
    ERR=$(cat "$TMP/bx.err")
}
# ok WHAT: the last bx succeeded.
ok() {
    check
    [ "$RC" -eq 0 ] || { fail "$1: berth exited $RC: $(tail -5 "$TMP/bx.err" | tr '\n' ' ')"; return 1; }
}
# rc_fails WHAT: the last bx failed by itself (not by its timeout).
rc_fails() {
    check
    { [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; } ||
        fail "$1: expected a failure, got exit $RC (stdout: $(tail -3 "$TMP/bx.out" | tr '\n' ' '))"
}
# rc_is WHAT CODE: the last bx exited CODE.
rc_is() {
    check
    [ "$RC" -eq "$2" ] || fail "$1: expected exit $2, got $RC (stderr: $(tail -3 "$TMP/bx.err" | tr '\n' ' '))"
}
# one_line WHAT REGEX: stderr of the last bx is exactly one line, matching.
one_line() {
    check
    [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ] || fail "$1: expected one line on stderr, got: $ERR"
    expect_match "$ERR" "$2" "$1: message"
}
# waitfor SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
waitfor() {
    local n=$(($1 * 10))
    shift
    while ! "$@" >/dev/null 2>&1; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        sleep 0.1
    done
}
# state CTR JQPATH: a field of the container's inspect document.
state() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r ".[0]$2"; }
# count_containers, container_dirs: what the store holds.
count_containers() { timeout 20 "$BERTH" ps -aq | grep -c .; }
# bb_image REF CMD...: a busybox image, offline: $TMP/rootfs (whatever the
# test put there first) with /bin/busybox, a link to it for each CMD, /tmp
# and a root line in /etc/passwd when there is none, imported as REF; the
# test ends when it cannot be.
bb_image() {
    local ref=$1 r=$TMP/rootfs c
    shift
    mkdir -p "$r/bin" "$r/etc" "$r/tmp"
    cp "$BUSYBOX" "$r/bin/busybox"
    for c in "$@"; do ln -sf busybox "$r/bin/$c"; done
    [ -e "$r/etc/passwd" ] || echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
    tar -C "$r" --numeric-owner -cf "$TMP/rootfs.tar" .
    bx import "$TMP/rootfs.tar" "$ref"
    ok "import $ref" || finish
}
container_dirs() { ls -A "$BERTH_ROOT/containers" 2>/dev/null | grep -v '^lock$' | sort | tr '\n' ' '; }
