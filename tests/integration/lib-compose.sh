# lib-compose.sh - what the compose tests (t3810, t3815, t3820) share, sourced
# after lib.sh: the checks that berth and the tools are there, a store and
# $HOME in $TMP, sanitizer reports to $TMP/san, an EXIT trap that removes
# every container, network and mount of the store, helpers to run berth
# and berth compose, and a busybox image made offline, imported as cmp/bb:1
# (with an `app` user, uid 1000).

# the berth of the build berthd comes from (build-asan/ under SANITIZE=1)
BERTH=${BERTH:-$(dirname "$BERTHD")/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
for tool in "$BERTH" jq curl timeout ss python3; do
    command -v "$tool" >/dev/null || { echo "$T_NAME: $tool is missing (make all test-deps)" >&2; exit 1; }
done
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
at_exit 'for _c in $(timeout 20 "$BERTH" ps -aq); do timeout 20 "$BERTH" rm -f "$_c"; done;
         for _n in $(timeout 20 "$BERTH" network ls -q 2>/dev/null); do timeout 20 "$BERTH" network rm "$_n"; done;
         grep -o " $BERTH_ROOT[^ ]*" /proc/mounts | sort -r | while read -r _m; do umount -l "$_m"; done'

# bx ARGS...: run berth (stdin /dev/null); $RC, $OUT (stdout), $ERR (stderr).
bx() {
    timeout 120 "$BERTH" "$@" </dev/null >"$TMP/bx.out" 2>"$TMP/bx.err"
    RC=$?
    OUT=$(cat "$TMP/bx.out")
    ERR=$(cat "$TMP/bx.err")
}
# bc ARGS...: berth compose in the project's directory ($PROJ).
bc() {
    local d=$PWD
    cd "$PROJ" || return
    bx compose "$@"
    cd "$d" || return
}
ok() {
    check
    [ "$RC" -eq 0 ] || { fail "$1: berth exited $RC: $(tail -5 "$TMP/bx.err" | tr '\n' ' ')"; return 1; }
}
rc_fails() {
    check
    { [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; } || fail "$1: expected a failure, got exit $RC (stdout: $OUT)"
}
# waitfor SECONDS COMMAND...: until it succeeds; 1 if it never did.
waitfor() {
    local n=$(($1 * 10))
    shift
    while ! "$@" >/dev/null 2>&1; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        sleep 0.1
    done
}
cid() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r '.[0].Id'; }
label() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r ".[0].Config.Labels[\"$2\"]"; }
running() { [ "$(timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r '.[0].State.Running')" = true ]; }
# jqc CONTAINER FILTER: a field of its inspect document.
jqc() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r ".[0] | $2"; }

# the image: busybox, offline
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/www"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true false env sleep httpd id wget test mkdir pwd grep kill hostname tty; do
    ln -s busybox "$R/bin/$c"
done
chmod 1777 "$R/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" cmp/bb:1
ok "berth import of the busybox rootfs" || finish
