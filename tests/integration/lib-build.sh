# lib-build.sh - what the build tests share (sourced after ../lib.sh): berth
# and busybox-static found, the store, $HOME and $TMPDIR in $TMP, and the
# helpers that run berth and check what a build left.

BERTH=${BERTH:-build/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
for tool in "$BERTH" "$BERTHD" jq curl pgrep timeout ss; do
    command -v "$tool" >/dev/null || { echo "$T_NAME: $tool is missing (make all test-deps)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "$T_NAME: needs root" >&2; exit 1; }
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=$(command -v busybox)
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
    { echo "$T_NAME: busybox-static is missing" >&2; exit 1; }

export HOME=$TMP/home BERTH_ROOT=$TMP/store TMPDIR=$TMP/tmpdir
mkdir -p "$HOME" "$TMPDIR" "$TMP/san"
if [ -n "${ASAN_OPTIONS:-}" ]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$TMP/san/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$TMP/san/ubsan"
fi
at_exit 'for _c in $(timeout 20 "$BERTH" ps -aq); do timeout 20 "$BERTH" rm -f "$_c"; done'

# ---- helpers -------------------------------------------------------------------
# bx ARGS...: run berth (stdin /dev/null); $RC, $OUT (stdout), $ERR (stderr).
bx() {
    timeout 120 "$BERTH" "$@" </dev/null >"$TMP/bx.out" 2>"$TMP/bx.err"
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
    printf '%s' "$input" | timeout 120 "$BERTH" "$@" >"$TMP/bx.out" 2>"$TMP/bx.err"
    RC=${PIPESTATUS[1]}
    OUT=$(cat "$TMP/bx.out")
    ERR=$(cat "$TMP/bx.err")
}
ok() {
    check
    [ "$RC" -eq 0 ] || { fail "$1: berth exited $RC: $(tail -5 "$TMP/bx.err" | tr '\n' ' ')"; return 1; }
}
rc_is() {
    check
    [ "$RC" -eq "$2" ] || fail "$1: expected exit $2, got $RC (stderr: $(tail -3 "$TMP/bx.err" | tr '\n' ' '))"
}
rc_fails() {
    check
    { [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; } || fail "$1: expected a failure, got exit $RC (stdout: $(tail -3 "$TMP/bx.out" | tr '\n' ' '))"
}
# run_out WHAT EXPECTED ARGS...: `berth run --rm ARGS` prints EXPECTED.
run_out() {
    local what=$1 want=$2
    shift 2
    bx run --rm "$@"
    ok "$what" && expect_eq "$OUT" "$want" "$what:"
}
# ctx NAME: a fresh context directory $C.
ctx() {
    C=$TMP/ctx-$1
    rm -rf "$C"
    mkdir -p "$C"
}
# built: the image ID "Successfully built" names in $OUT.
built() { sed -n 's/^Successfully built \([0-9a-f]\{12\}\)$/\1/p' <<<"$OUT" | tail -1; }
image_id() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r '.[0].Id'; }
# created_by IMAGE: the history entries' created_by, oldest first, one a line.
created_by() {
    local id
    id=$(image_id "$1")
    jq -r '.history[].created_by // ""' "$BERTH_ROOT/blobs/sha256/${id#sha256:}"
}
count() { grep -c -- "$1" <<<"$OUT"; }
count_containers() { timeout 20 "$BERTH" ps -aq | grep -c .; }
container_dirs() { ls -A "$BERTH_ROOT/containers" 2>/dev/null | grep -v '^lock$' | sort | tr '\n' ' '; }
temp_files() { { ls -A "$BERTH_ROOT/tmp" 2>/dev/null; ls -A "$TMPDIR" 2>/dev/null; } | tr '\n' ' '; }
# nothing_left WHAT TAG: a failed build left no tag, container, mount or temp file.
nothing_left() {
    check; ! timeout 20 "$BERTH" inspect "$2" >/dev/null 2>&1 || fail "$1: $2 was tagged"
    expect_eq "$(count_containers)" 0 "$1: containers left (ps -a):"
    expect_eq "$(container_dirs)" "" "$1: directories left in containers/:"
    check; ! grep -q "$BERTH_ROOT" /proc/self/mountinfo ||
        fail "$1: mounts left: $(grep "$BERTH_ROOT" /proc/self/mountinfo | head -3)"
    expect_eq "$(temp_files)" "" "$1: temp files left:"
}
