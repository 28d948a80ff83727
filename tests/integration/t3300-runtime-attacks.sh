#!/bin/bash
# t3300-runtime-attacks: attacks on berth run/exec/logs/save that got past
# the first round of defences, and some that held (kept so they stay held).
# Needs root.
#
#   - logs: a container writes bytes that are not UTF-8: the line is kept,
#     each bad byte as U+FFFD (docker's json-file), never dropped; one
#     huge line with no newline under max-size=64k stays bounded;
#   - run -i: a container that never reads its stdin while the caller
#     pipes megabytes into it still has all of its output copied (the
#     monitor's stdin writes do not block);
#   - run without -i, with the host's /dev/null replaced by a regular file
#     (in a mount namespace of the test's own): the container reads nothing
#     of that file;
#   - a gzip layer of 600 MiB of zeros and 8 MiB of noise unpacked into a store
#     on a 256 MiB tmpfs stops with a reserve of free space left;
#   - a write that fails while a layer is unpacked (ENOSPC on a 20 MiB
#     tmpfs) fails the run; the layer is not kept with a hole in a file;
#   - save -o onto an existing character device or FIFO writes into it and
#     leaves the node in place (it used to rename a temp file over it);
#   - held: descriptors the caller leaves open (fd 7 on a secret file) reach
#     neither run's nor exec's process; a pts node made with mknod for the
#     host's terminal does not open; where the host has them, the RAPL
#     energy counters (/sys/devices/virtual/powercap) are masked.
# The store ($BERTH_ROOT) and $HOME live in $TMP; every container made here
# is removed by the EXIT trap. Under a sanitizer build (ASAN_OPTIONS set),
# reports go to $TMP/san and fail the test.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need python3 mkfifo unshare script
no_match() {   # WHAT TEXT REGEX
    check
    ! grep -qE -- "$3" <<<"$2" || fail "$1: /$3/ found in: $(grep -E -- "$3" <<<"$2" | head -3 | tr '\n' ' ')"
}
cdir() { echo "$BERTH_ROOT/containers/$(timeout 20 "$BERTH" inspect "$1" | jq -r '.[0].Id')"; }

# ---- the image: busybox ---------------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true sleep head tr yes wc printf mknod readlink; do
    ln -s busybox "$R/bin/$c"
done
chmod 1777 "$R/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" rt/a:1
ok "berth import" || finish

# ---- logs: invalid UTF-8 ---------------------------------------------------------------
bx run --name utf rt/a:1 sh -c 'printf "before\n"; printf "bad\377\376end\n"; printf "cut\342\202\n"; printf "after\n"'
ok "run utf"
bx logs utf
ok "logs utf"
want=$(printf 'before\nbad\357\277\275\357\277\275end\ncut\357\277\275\357\277\275\nafter')
expect_eq "$OUT" "$want" "logs: invalid bytes as U+FFFD, no line lost"
check; jq -e . "$(cdir utf)/log.json" >/dev/null || fail "log.json: not one JSON object a line"
expect_eq "$(wc -l <"$(cdir utf)/log.json")" 4 "log.json: four lines"

# ---- logs: one huge line, no newline ----------------------------------------------------
bx run --name huge --log-opt max-size=64k --log-opt max-file=2 rt/a:1 \
    sh -c 'yes abcdefghij | head -c 3000000 | tr -d "\n"'
ok "run huge"
for f in "$(cdir huge)"/log.json*; do
    check; [ "$(stat -c %s "$f")" -le $((64 * 1024 + 40000)) ] ||
        fail "huge line: $(basename "$f") is $(stat -c %s "$f") bytes past max-size=64k"
done
expect_eq "$(ls "$(cdir huge)" | grep -c '^log\.json')" 2 "huge line: max-file=2 files"

# ---- run -i: a container that does not read its stdin -----------------------------------
head -c 8000000 /dev/zero | timeout -k 5 60 "$BERTH" run -i --rm rt/a:1 sh -c 'yes | head -c 500000' \
    >"$TMP/ni.out" 2>"$TMP/ni.err"
RC=${PIPESTATUS[1]}
ok "run -i, stdin not read (124: the monitor blocked on the container's stdin)"
expect_eq "$(stat -c %s "$TMP/ni.out")" 500000 "run -i, stdin not read: all output copied"
# and what a container does read still arrives whole, and ends
printf 'line1\nline2\n' | timeout -k 5 60 "$BERTH" run -i --rm rt/a:1 sh -c 'cat; echo eof' >"$TMP/ci.out" 2>&1
expect_eq "$(cat "$TMP/ci.out")" $'line1\nline2\neof' "run -i: stdin copied and ended"
seq 1 200000 | timeout -k 5 60 "$BERTH" run -i --rm rt/a:1 wc -l >"$TMP/wc.out" 2>&1
expect_eq "$(tr -d ' ' <"$TMP/wc.out")" 200000 "run -i: a large stdin arrives whole"

# ---- run without -i, the host's /dev/null a regular file --------------------------------
printf 'HOST-SECRET\n' >"$TMP/fakenull"
timeout 60 unshare -m sh -c 'mount --bind "$1" /dev/null && exec "$2" run --rm rt/a:1 sh -c "cat; echo end"' \
    sh "$TMP/fakenull" "$BERTH" </dev/null >"$TMP/dn.out" 2>&1
expect_eq "$(cat "$TMP/dn.out")" "end" "run with a fake /dev/null: the container reads nothing of it"

# ---- save -o onto a device node or a FIFO -----------------------------------------------
mknod "$TMP/null" c 1 3
bx save -o "$TMP/null" rt/a:1
ok "save -o a character device"
check; [ -c "$TMP/null" ] || fail "save -o a character device: the node was replaced"
check; ! compgen -G "$TMP/null.tmp-*" >/dev/null || fail "save -o a device: temp file left"
mkfifo "$TMP/fifo"
timeout 60 cat "$TMP/fifo" >"$TMP/fifo.tar" &
CATPID=$!
bx save -o "$TMP/fifo" rt/a:1
ok "save -o a FIFO"
wait "$CATPID"
check; [ -p "$TMP/fifo" ] || fail "save -o a FIFO: the FIFO was replaced"
check; tar -tf "$TMP/fifo.tar" | grep -qx manifest.json || fail "save -o a FIFO: no archive came out of it"
mkdir "$TMP/adir"
bx save -o "$TMP/adir" rt/a:1
check; [ "$RC" -ne 0 ] || fail "save -o a directory: accepted"
bx save -o "$TMP/plain.tar" rt/a:1
ok "save -o a new file"
check; tar -tf "$TMP/plain.tar" | grep -qx manifest.json || fail "save -o a file: not an archive"

# ---- a layer that decompresses to more than the store's disk holds -----------------------
# 600 MiB of zeros and 8 MiB of noise, gzipped (under load's 100x ratio,
# a pull checks no ratio), with its true diff-id, in
# a store on a 256 MiB tmpfs: unpacking stops with a reserve left free.
mkdir -p "$TMP/small"
mount -t tmpfs -o size=256m tmpfs "$TMP/small" && at_exit "umount -l '$TMP/small'"
mkdir -p "$TMP/bomb"
cp -a "$R/." "$TMP/bomb/"
truncate -s 600M "$TMP/bomb/zeros"
head -c 8M /dev/urandom >"$TMP/bomb/noise"   # under load's 100x ratio: as a pull would bring it
tar -C "$TMP/bomb" --numeric-owner -cf - . | tee >(sha256sum | cut -d' ' -f1 >"$TMP/bomb.diff") |
    gzip -1 >"$TMP/bomb.tar.gz"
rm -f "$TMP/bomb/zeros" "$TMP/bomb/noise"
for _ in $(seq 50); do [ -s "$TMP/bomb.diff" ] && break; sleep 0.1; done
jq -n --arg d "sha256:$(cat "$TMP/bomb.diff")" '{architecture: "amd64", os: "linux",
    config: {Env: ["PATH=/bin"], Cmd: ["echo", "unpacked"]}, rootfs: {type: "layers", diff_ids: [$d]}}' \
    >"$TMP/bomb.json"
python3 - "$TMP/bomb.json" "$TMP/bomb.tar.gz" "$TMP/bomb-img.tar" <<'PY'
import io, json, sys, tarfile
config, layer, out = sys.argv[1:]
with tarfile.open(out, "w") as t:
    def add(name, data):
        i = tarfile.TarInfo(name)
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
    add("config.json", open(config, "rb").read())
    t.add(layer, arcname="layer.tar")
    add("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["rt/bomb:1"],
                                      "Layers": ["layer.tar"]}]).encode())
PY
BERTH_ROOT=$TMP/small/store bx load -i "$TMP/bomb-img.tar"
ok "load of the bomb image" || finish
BERTH_ROOT=$TMP/small/store bx run --rm rt/bomb:1
check; [ "$RC" -ne 0 ] || fail "run of a layer larger than the disk: succeeded"
expect_match "$ERR" "less than [0-9]+ MiB free" "run of the bomb: stopped with a reserve left"
check; [ "$(df -k --output=avail "$TMP/small" | tail -1)" -gt 16384 ] || fail "bomb: the tmpfs was left full"
check; ! compgen -G "$TMP/small/store/layers/.tmp-*" >/dev/null || fail "bomb: partial layer left"
# an image that fits still runs in that store
BERTH_ROOT=$TMP/small/store bx import "$TMP/rootfs.tar" rt/a:1
ok "import into the small store" || finish
BERTH_ROOT=$TMP/small/store bx run --rm rt/a:1 echo fits
ok "run in the small store" && expect_eq "$OUT" fits "run in the small store: output"

# ---- a write that fails while a layer is unpacked ----------------------------------------
# A store on a 20 MiB tmpfs, a layer with 12 MiB of noise: the blob and the
# unpacked file do not both fit, and write(2) fails with ENOSPC before the
# free-space check runs (libarchive calls that a warning, then extends the
# file to its size with a hole). The run must fail, or see the file whole.
mkdir -p "$TMP/tiny" "$TMP/big"
mount -t tmpfs -o size=20m tmpfs "$TMP/tiny" && at_exit "umount -l '$TMP/tiny'"
cp -a "$R/." "$TMP/big/"
ln -s busybox "$TMP/big/bin/sha256sum"
head -c 12M /dev/urandom >"$TMP/big/noise"
SUM=$(sha256sum <"$TMP/big/noise" | cut -d' ' -f1)
tar -C "$TMP/big" --numeric-owner -cf "$TMP/big.tar" .
BERTH_ROOT=$TMP/tiny/store bx import "$TMP/big.tar" rt/big:1
ok "import rt/big:1 into the tiny store" || finish
BERTH_ROOT=$TMP/tiny/store bx run --rm rt/big:1 sha256sum /noise
check; [ "$RC" -ne 0 ] || [[ $OUT == "$SUM  /noise" ]] ||
    fail "unpack on a full disk: the container saw a damaged file: $OUT (want $SUM)"
check; [ "$RC" -eq 0 ] || [[ $ERR =~ (Write failed|No space left) ]] || fail "unpack on a full disk: $ERR"
check; ! compgen -G "$TMP/tiny/store/layers/*" >/dev/null || fail "unpack on a full disk: a layer was kept"

# ---- held: the caller's descriptors, a host pts by mknod --------------------------------
printf 'FD-SECRET\n' >"$TMP/secret"
timeout -k 5 60 "$BERTH" run --rm rt/a:1 sh -c 'for f in /proc/self/fd/*; do readlink $f; done; cat /proc/self/fd/7' \
    7<"$TMP/secret" </dev/null >"$TMP/fd.out" 2>&1
no_match "run: the caller's fd 7" "$(cat "$TMP/fd.out")" "FD-SECRET|$TMP/secret"
bx run -d --name px rt/a:1 sleep 300
ok "run -d px"
timeout -k 5 60 "$BERTH" exec px sh -c 'for f in /proc/self/fd/*; do readlink $f; done; cat /proc/self/fd/7' \
    7<"$TMP/secret" </dev/null >"$TMP/fd.out" 2>&1
no_match "exec: the caller's fd 7" "$(cat "$TMP/fd.out")" "FD-SECRET|$TMP/secret"
# a terminal of the host's (script's pty) and the container making its node
script -qec "sh -c 'readlink /proc/self/fd/0 >$TMP/pts.name; sleep 30'" /dev/null </dev/null >/dev/null 2>&1 &
SPID=$!
at_exit "kill $SPID"
for _ in $(seq 50); do [ -s "$TMP/pts.name" ] && break; sleep 0.1; done
PTS=$(cat "$TMP/pts.name" 2>/dev/null)
if [[ $PTS =~ ^/dev/pts/([0-9]+)$ ]]; then
    N=${BASH_REMATCH[1]}
    bx exec px sh -c "mknod /tmp/hostpts c \$((136 + $N / 256)) \$(($N % 256)) && echo made; echo PWNED >/tmp/hostpts && echo WROTE"
    no_match "mknod of the host's $PTS" "$OUT" "WROTE"
else
    check; fail "could not get a pts from script(1): '$PTS'"
fi
kill "$SPID" 2>/dev/null

# ---- held where the host has it: RAPL energy counters ---------------------------------
if [ -d /sys/devices/virtual/powercap ]; then
    bx run --rm rt/a:1 sh -c 'ls /sys/devices/virtual/powercap | wc -l'
    ok "run: ls powercap"
    expect_eq "$OUT" 0 "run: /sys/devices/virtual/powercap is masked"
fi

if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
