#!/bin/bash
# t3420-prune: the store does not grow forever. Needs root.
#
#   - unpacked layers (layers/<hex>) stay while an image or a container
#     uses them, and `image prune` frees them after the last image that
#     used them was removed (rmi) and no container is left on them;
#   - image prune removes dangling images only (unnamed commits), -a every
#     image no container uses; never one a container uses; docker's output
#     ("Deleted Images:", "untagged:", "deleted:", "Total reclaimed
#     space:"); without -f it asks, and "n" keeps everything;
#   - a prune waits for a container start or a build that holds the
#     unpacked layers (the pin) and then does its work;
#   - builder prune runs and reports what it reclaimed;
#   - system df: docker's four rows, with counts and sizes that follow the
#     store (images, active ones, containers, running ones, 0B at the end).
# The store ($BERTH_ROOT) lives in $TMP; containers made here are removed
# by the EXIT trap.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need tar flock
# the unpacked layers, as hex names
layers() { ls "$BERTH_ROOT/layers" 2>/dev/null | grep -E '^[0-9a-f]{64}$' | sort | tr '\n' ' '; }
diff_ids() { timeout 20 "$BERTH" inspect "$1" | jq -r '.[0].RootFS.Layers[]' | sed 's/^sha256://' | sort | tr '\n' ' '; }
# df_row TYPE: "TOTAL ACTIVE SIZE" of that row of system df (columns are 3+ spaces apart)
df_row() { timeout 20 "$BERTH" system df | awk -F'   +' -v t="$1" '$1 == t { print $2, $3, $4 }'; }

# ---- the images -----------------------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true sleep; do ln -s busybox "$R/bin/$c"; done
echo "base $RANDOM" >"$R/etc/base"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" pr/bb:1
ok "import pr/bb:1" || finish

bx system df
ok "system df"
expect_eq "$(awk 'NR == 1 { print $1, $2, $3, $4, $5 }' <<<"$OUT")" "TYPE TOTAL ACTIVE SIZE RECLAIMABLE" "system df header:"
expect_eq "$(awk -F'   +' 'NR > 1 { print $1 }' <<<"$OUT" | tr '\n' ',')" \
    "Images,Containers,Local Volumes,Build Cache," "system df rows:"
expect_eq "$(df_row Images)" "1 0 $(timeout 20 "$BERTH" images | awk '$1 == "pr/bb" { print $NF }')" \
    "system df Images (total active size) with one image:"
expect_eq "$(df_row Containers)" "0 0 0B" "system df Containers with none:"

# ---- 1. a container keeps its layers; prune frees them after rmi -----------------------------
BASE=$(diff_ids pr/bb:1)
bx run --name pr1 pr/bb:1 sh -c 'echo changed >/etc/base; echo new >/new'
ok "run pr1"
expect_eq "$(layers)" "$BASE" "the image's layer is unpacked once:"
expect_eq "$(df_row Images | cut -d' ' -f1,2)" "1 1" "system df: the image is active"
expect_eq "$(df_row Containers | cut -d' ' -f1,2)" "1 0" "system df: one container, not running"
expect_match "$(df_row Containers | cut -d' ' -f3)" '^[1-9][0-9]*B$' "system df: the container's size is its changes"

bx commit pr1 pr/c:1
ok "commit pr1 pr/c:1"
bx run --rm pr/c:1 cat /new
ok "run of the commit" && expect_eq "$OUT" new "the commit's file:"
ALL=$(diff_ids pr/c:1)
expect_eq "$(layers)" "$ALL" "the commit's layer is unpacked too:"
expect_eq "$(df_row Images | cut -d' ' -f1,2)" "2 1" "system df: two images, one active"

bx image prune -f
ok "image prune with nothing dangling"
expect_eq "$OUT" "Total reclaimed space: 0B" "image prune output with nothing to do:"
expect_eq "$(layers)" "$ALL" "layers kept while their images are there:"

bx rmi pr/c:1
ok "rmi pr/c:1"
expect_eq "$(layers)" "$ALL" "rmi alone does not remove unpacked layers:"
bx image prune -f
ok "image prune after rmi"
expect_match "$OUT" 'Total reclaimed space: [1-9]' "image prune reclaims the unpacked layer"
expect_eq "$(layers)" "$BASE" "the commit's unpacked layer is freed, the base kept:"

# -a: the image a container uses stays
bx image prune -a -f
ok "image prune -a while a container uses the image"
expect_eq "$OUT" "Total reclaimed space: 0B" "image prune -a keeps an image in use:"
bx images
expect_match "$OUT" 'pr/bb +1 ' "pr/bb:1 kept"
expect_eq "$(layers)" "$BASE" "its layer kept:"

# ---- 2. a running container whose image is gone --------------------------------------------
bx tag pr/bb:1 pr/run:1
ok "tag pr/run:1"
bx run -d --name pr2 pr/run:1 sleep 300
ok "run -d pr2"
bx rm pr1
ok "rm pr1"
bx rmi pr/run:1
ok "rmi pr/run:1"
bx rmi pr/bb:1
rc_is "rmi of the last name of an image a running container uses" 1
expect_match "$ERR" 'conflict: unable to remove repository reference "pr/bb:1" \(must force\)' "rmi: docker's conflict"
bx rmi -f pr/bb:1
ok "rmi -f pr/bb:1 (untagged; kept while the container runs, as docker's)"
bx image prune -a -f
ok "image prune -a with no named image left"
expect_eq "$(layers)" "$BASE" "a running container keeps its layers without an image name:"
bx exec pr2 cat /etc/base
ok "the container still reads its layer"
expect_eq "$(df_row Images | cut -d' ' -f1,2)" "1 1" "system df: the untagged image, in use"
expect_eq "$(df_row Containers | cut -d' ' -f1,2)" "1 1" "system df: one running container"
bx rm -f pr2
ok "rm -f pr2"
bx image prune -f
ok "image prune after the container is gone"
expect_match "$OUT" 'Total reclaimed space: [1-9]' "the base layer's space is reclaimed"
expect_eq "$(layers)" "" "no unpacked layer left:"

# ---- 3. dangling images, -a, the question ---------------------------------------------------
bx import "$TMP/rootfs.tar" pr/bb:2
ok "import pr/bb:2"
bx run --name pr3 pr/bb:2 sh -c 'echo d >/d'
ok "run pr3"
bx commit pr3
ok "commit pr3 (no name)"
DANGLING=$OUT
bx rm pr3
ok "rm pr3"
bxin n image prune
ok "image prune answered n"
expect_match "$OUT" 'WARNING! This will remove all dangling images' "image prune asks first"
bx run --rm "${DANGLING:7:12}" cat /d
ok "the dangling image is still there after 'n'" && expect_eq "$OUT" d "its file:"
bx image prune -f
ok "image prune of a dangling image"
expect_eq "$(sed -n 1p <<<"$OUT")" "Deleted Images:" "image prune output header:"
expect_match "$OUT" "deleted: $DANGLING" "image prune names the image it deleted"
expect_match "$OUT" 'Total reclaimed space: [1-9]' "image prune reclaims its blobs"
bx images
expect_match "$OUT" 'pr/bb +2 ' "image prune keeps named images"
bx image prune -a -f
ok "image prune -a"
expect_match "$OUT" 'untagged: pr/bb:2' "image prune -a untags"
expect_match "$OUT" 'deleted: sha256:' "image prune -a deletes"
bx images -q
expect_eq "$OUT" "" "no image left after prune -a"
expect_eq "$(layers)" "" "no unpacked layer left after prune -a"
expect_eq "$(ls "$BERTH_ROOT/blobs/sha256" | wc -l)" 0 "no blob left after prune -a"

# ---- 4. a prune waits for the pin ---------------------------------------------------------------
bx import "$TMP/rootfs.tar" pr/bb:3
ok "import pr/bb:3"
bx run --rm pr/bb:3 true
ok "run --rm pr/bb:3"
bx rmi pr/bb:3
ok "rmi pr/bb:3"
flock -s "$BERTH_ROOT/layers/.lock" sleep 2 &
PIN=$!
at_exit "kill $PIN"
sleep 0.3
START=$(date +%s%N)
bx image prune -f
ELAPSED=$(( ($(date +%s%N) - START) / 1000000 ))
ok "image prune while the layers are pinned"
check; [ "$ELAPSED" -ge 1000 ] || fail "image prune did not wait for the pin (${ELAPSED} ms)"
expect_eq "$(layers)" "" "the layer is freed once the pin is let go:"
wait "$PIN"

# ---- 5. builder prune ----------------------------------------------------------------------------
bx builder prune -f
ok "builder prune -f"
expect_match "$OUT" '^Total reclaimed space: ' "builder prune output"
bxin n builder prune
ok "builder prune answered n"
expect_match "$OUT" 'WARNING! This will remove all dangling build cache' "builder prune asks first"

# ---- the end ---------------------------------------------------------------------------------------
bx system df
ok "system df at the end"
expect_eq "$(awk -F'   +' 'NR > 1 { print $2, $3, $4, $5 }' <<<"$OUT" | tr '\n' ',')" \
    "0 0 0B 0B,0 0 0B 0B,0 0 0B 0B,0 0 0B 0B," "system df of an empty store:"
expect_eq "$(timeout 20 "$BERTH" ps -aq | grep -c .)" 0 "containers left"
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
