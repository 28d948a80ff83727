# lib-build.sh - what the build tests share (sourced after ../lib.sh): berth
# and busybox-static found, the store, $HOME and $TMPDIR in $TMP, and the
# helpers that run berth and check what a build left.

. "$(dirname "$0")/lib-runtime.sh"
need "$BERTHD" curl pgrep ss
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"
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
