#!/bin/bash
# t3400-commit: berth commit, as a docker user meets it. Needs root.
#
#   - a container of a busybox image adds a file, deletes one of the image,
#     replaces a directory of the image, changes a mode, makes a hard link
#     and a symlink; `commit -m -a -c CMD -c ENV` makes an image whose runs
#     see exactly that (the deletion as a whiteout, the directory opaque),
#     with the CMD and ENV given, docker's history (created_by the
#     container's command, the comment, the author), and a layer that holds
#     the changes only (not the runtime's /etc/hosts, /proc...);
#   - a running container is committed (frozen while its layer is read,
#     where the freezer is) and goes on running; --pause=false too;
#   - a commit without a name is an image found by its ID, listed as
#     <none> (dangling);
#   - errors: an unknown container, a bad -c instruction, a -c that is not
#     a config change, a bad reference, no arguments; none makes an image.
# The store ($BERTH_ROOT) lives in $TMP; containers made here are removed
# by the EXIT trap.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need tar
run_out() {
    local what=$1 want=$2
    shift 2
    bx run --rm "$@"
    ok "$what" && expect_eq "$OUT" "$want" "$what:"
}
blob() { local h=${1#sha256:}; echo "$BERTH_ROOT/blobs/sha256/$h"; }
# image_config REF / image_top_layer REF: the config document; the path of the last layer.
image_manifest() {
    local m
    m=$(timeout 20 "$BERTH" inspect "$1" | jq -r '.[0].ManifestDigest')
    blob "$m"
}
image_config() { cat "$(blob "$(jq -r .config.digest "$(image_manifest "$1")")")"; }
image_top_layer() { blob "$(jq -r '.layers[-1].digest' "$(image_manifest "$1")")"; }
# the container's counter (the writer truncates before it writes: read again if empty)
counter() {
    local n i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        n=$(timeout 20 "$BERTH" exec "$1" cat /counter 2>/dev/null)
        [ -n "$n" ] && { echo "$n"; return 0; }
        sleep 0.05
    done
    return 1
}

# ---- the image --------------------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc/dir" "$R/etc/gone-dir" "$R/etc/tomove" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true env sleep stat ln chmod rm mkdir readlink test mv; do
    ln -s busybox "$R/bin/$c"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
echo "marker $RANDOM" >"$R/etc/marker"
echo keep >"$R/etc/keep"
chmod 644 "$R/etc/keep"
echo a >"$R/etc/dir/a"
echo b >"$R/etc/dir/b"
echo g >"$R/etc/gone-dir/g"
echo m >"$R/etc/tomove/m"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" cm/bb:1
ok "berth import of the rootfs" || finish

# ---- 1. a stopped container's changes ---------------------------------------------------
CHANGE='echo added >/added; rm /etc/marker; chmod 600 /etc/keep; ln /added /hard; ln -s /added /soft; rm -r /etc/dir; mkdir /etc/dir; echo n >/etc/dir/new; rm -r /etc/gone-dir; mv /etc/tomove /moved'
bx run --name cm1 cm/bb:1 sh -c "$CHANGE"
ok "run of the container to commit"
# xattrs an image keeps (user.*, security.capability) and one it does not
UPPER=$BERTH_ROOT/containers/$(timeout 20 "$BERTH" inspect cm1 | jq -r '.[0].Id')/upper
XATTRS=no
if python3 -c "import os, sys; os.setxattr(sys.argv[1], 'user.test', b'hello'); \
        os.setxattr(sys.argv[1], 'trusted.berth-test', b'no')" "$UPPER/added" 2>/dev/null &&
    setcap cap_net_raw+ep "$UPPER/added" 2>/dev/null; then
    XATTRS=yes
fi
bx commit -m "the message" -a "Ann Author <ann@example.com>" -c 'CMD ["cat","/added"]' \
    -c 'ENV A=b' cm1 cm/img:1
ok "commit -m -a -c -c cm1 cm/img:1"
expect_match "$OUT" '^sha256:[0-9a-f]{64}$' "commit prints the image ID"
ID=$OUT
bx images
expect_match "$OUT" "cm/img +1 +${ID:7:12} " "images lists the commit under its name and ID"

run_out "the committed CMD" added cm/img:1
run_out "the committed ENV" b cm/img:1 sh -c 'echo $A'
run_out "the deleted file is gone (whiteout)" gone cm/img:1 sh -c 'test -e /etc/marker || echo gone'
run_out "the other files of the image are kept" "root:x:0:0:root:/root:/bin/sh" cm/img:1 cat /etc/passwd
run_out "the mode change" 600 cm/img:1 stat -c %a /etc/keep
run_out "the changed file's content" keep cm/img:1 cat /etc/keep
run_out "the hard link" "2 2 same" cm/img:1 sh -c \
    'set -- $(stat -c "%h %i" /added /hard); echo $1 $3 $(test "$2" = "$4" && echo same)'
run_out "the symlink" /added cm/img:1 readlink /soft
run_out "the replaced directory is opaque" new cm/img:1 ls /etc/dir
run_out "the deleted directory is gone" gone cm/img:1 sh -c 'test -e /etc/gone-dir || echo gone'
run_out "a renamed directory of the image, whole at its new name" "m gone" cm/img:1 sh -c \
    'echo $(cat /moved/m) $(test -e /etc/tomove || echo gone)'

CONFIG=$(image_config cm/img:1)
expect_eq "$(jq -r .author <<<"$CONFIG")" "Ann Author <ann@example.com>" "config author:"
expect_eq "$(jq -r '.history[-1].comment' <<<"$CONFIG")" "the message" "history comment:"
expect_eq "$(jq -r '.history[-1].created_by' <<<"$CONFIG")" "sh -c $CHANGE" \
    "history created_by (the container's command):"
expect_eq "$(jq -r '.history[-1].author' <<<"$CONFIG")" "Ann Author <ann@example.com>" "history author:"
expect_eq "$(jq -r '.config.Cmd | join(" ")' <<<"$CONFIG")" "cat /added" "config Cmd:"
expect_eq "$(jq -r '.config.Env | map(select(startswith("HOSTNAME="))) | length' <<<"$CONFIG")" 0 \
    "the runtime's HOSTNAME is not in the image's Env:"
expect_eq "$(jq -r '.rootfs.diff_ids | length' <<<"$CONFIG")" 2 "one layer added:"
bx history cm/img:1
expect_match "$(sed -n 2p <<<"$OUT")" "the message" "history shows the comment"

LAYER=$(image_top_layer cm/img:1)
tar -tvf "$LAYER" >"$TMP/layer.txt" 2>/dev/null
check; [ -s "$TMP/layer.txt" ] || fail "the layer is not a tar"
LIST=$(awk '{print $6}' "$TMP/layer.txt" | sort | tr '\n' ' ')
expect_eq "$LIST" "added etc/ etc/.wh.gone-dir etc/.wh.marker etc/.wh.tomove etc/dir/ etc/dir/.wh..wh..opq etc/dir/new etc/keep hard moved/ moved/m soft " \
    "the layer holds the changes and nothing else:"
check; grep -qE '^h.* hard link to added$' "$TMP/layer.txt" || fail "hard link entry: $(cat "$TMP/layer.txt")"
check; grep -qE '^l.* soft -> /added$' "$TMP/layer.txt" || fail "symlink entry: $(cat "$TMP/layer.txt")"
check; grep -qE '^-rw------- 0/0 .* etc/keep$' "$TMP/layer.txt" || fail "etc/keep mode: $(cat "$TMP/layer.txt")"
if [ "$XATTRS" = yes ]; then
    XA=$(python3 -c "
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    h = t.getmember('added').pax_headers
    print(' '.join(sorted(k.split('xattr.', 1)[1] for k in h if k.startswith('SCHILY.xattr.'))))
    print(h.get('SCHILY.xattr.user.test', ''))
" "$LAYER" 2>&1)
    expect_eq "$(sed -n 1p <<<"$XA")" "security.capability user.test" "the xattrs kept in the layer:"
    expect_eq "$(sed -n 2p <<<"$XA")" hello "the user xattr's value:"
fi

# ---- 2. a running container ---------------------------------------------------------------
bx run -d --name cm2 cm/bb:1 sh -c 'i=0; while true; do i=$((i+1)); echo $i >/counter; sleep 0.1; done'
ok "run -d of a container that keeps writing"
CID=$OUT
waitfor 5 counter cm2
bx commit cm2 cm/running:1
ok "commit of a running container"
bx inspect cm2
expect_eq "$(jq -r '.[0].State.Running' <<<"$OUT")" true "the container still runs after commit"
FREEZER=/sys/fs/cgroup/freezer/berth/$CID/freezer.state
if [ -f "$FREEZER" ]; then
    expect_eq "$(cat "$FREEZER")" THAWED "the container is thawed after the commit"
fi
if [ -f "/sys/fs/cgroup/berth/$CID/cgroup.freeze" ]; then
    expect_eq "$(cat "/sys/fs/cgroup/berth/$CID/cgroup.freeze")" 0 "the container is thawed"
fi
N1=$(counter cm2)
sleep 0.5
N2=$(counter cm2)
check; [ -n "$N1" ] && [ -n "$N2" ] && [ "$N2" -gt "$N1" ] || fail "the container goes on after commit ($N1, $N2)"
bx run --rm cm/running:1 sh -c 'test -s /counter && echo counted'
ok "run of the running container's commit" && expect_eq "$OUT" counted "its file is in the image:"
bx commit --pause=false cm2 cm/running:2
ok "commit --pause=false"
bx inspect cm2
expect_eq "$(jq -r '.[0].State.Running' <<<"$OUT")" true "still running after --pause=false"
bx rm -f cm2
ok "rm -f cm2"

# ---- 3. without a name -----------------------------------------------------------------------
bx commit cm1
ok "commit without a name"
expect_match "$OUT" '^sha256:[0-9a-f]{64}$' "it prints the ID"
ANON=$OUT
bx images
expect_match "$OUT" "<none> +<none> +${ANON:7:12} " "an image without a name is listed as docker's dangling ones"
run_out "it runs by its ID" added "${ANON:7:12}" cat /added

# ---- 4. errors ----------------------------------------------------------------------------------
bx images -q
BEFORE=$OUT
NBLOBS=$(ls "$BERTH_ROOT/blobs/sha256" | wc -l)
bx commit no-such-container cm/x:1
rc_fails "commit of an unknown container"
one_line "commit of an unknown container" "No such container: no-such-container"
bx commit -c 'FROBNICATE now' cm1 cm/x:1
rc_fails "commit -c with an unknown instruction"
one_line "commit -c FROBNICATE" "FROBNICATE"
bx commit -c 'RUN echo hi' cm1 cm/x:1
rc_fails "commit -c RUN"
one_line "commit -c RUN" "run is not a valid change command"
bx commit cm1 'Bad:Ref::x'
rc_fails "commit to a bad reference"
one_line "commit to a bad reference" "Bad:Ref::x"
bx commit cm1 'cm/x@sha256:0000000000000000000000000000000000000000000000000000000000000000'
rc_fails "commit to a digest reference"
bx commit
check; [ "$RC" -eq 2 ] || fail "commit without arguments: exit $RC, expected 2"
bx images -q
expect_eq "$OUT" "$BEFORE" "no image was made by a failed commit"
expect_eq "$(ls "$BERTH_ROOT/blobs/sha256" | wc -l)" "$NBLOBS" "no blob was left by a failed commit"

# ---- the end -------------------------------------------------------------------------------------
bx rm cm1
ok "rm cm1"
for c in $(timeout 20 "$BERTH" ps -aq); do timeout 20 "$BERTH" rm -f "$c" >/dev/null 2>&1; done
expect_eq "$(timeout 20 "$BERTH" ps -aq | grep -c .)" 0 "containers left"
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
