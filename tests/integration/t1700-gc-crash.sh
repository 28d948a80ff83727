#!/bin/bash
# t1700-gc-crash: kill -9 of `berthd gc` in the middle of a sweep (a few
# thousand small unreferenced blobs, untagged images and stray blob files,
# so the sweep lasts), several times, while berthd serves and a reader keeps
# pulling the tagged images: after each kill the metadata and the file tree
# agree (sqlite3 + find), berthd still answers reads and writes correctly;
# the next `berthd gc` finishes the job (all garbage gone, nothing left in
# trash/). Then once more with a restart of berthd between the kill and the
# second run (berthd settles what the killed run left in trash/ at start).
# GC_CRASH_BLOBS sets the number of unreferenced blobs (default 3000), GC_CRASH_ROUNDS
# the number of kills while berthd serves (default 4, plus one early in a run).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-gc.sh"
berthd_start
W=$TMP/w
mkdir -p "$W/junk"
NBLOBS=${GC_CRASH_BLOBS:-3000}
ROUNDS=${GC_CRASH_ROUNDS:-4}

# Tagged images that must survive everything, sharing a layer.
mk_layer "$W/base" 8000
KEEP=()
for n in 1 2 3; do
    mk_config "$W/c$n"
    mk_layer "$W/l$n" $((1000 + n))
    push_files crash/app "$W/base" "$W/c$n" "$W/l$n"
    mk_manifest "$W/m$n" "$W/c$n" "$W/base" "$W/l$n"
    d=$(push_manifest crash/app v$n "$W/m$n" $OCI_M)
    expect_match "$d" '^sha256:' "push crash/app:v$n"
    KEEP+=("crash/app v$n")
done

# make_garbage N PREFIX: N unreferenced blobs over four repositories, 10
# untagged images, and 20 blob files no row knows (as a crash between a
# publish and its commit leaves them), all older than one second.
make_garbage() {
    local n=$1 p=$2 i r bad=0
    head -c $((n * 200)) /dev/urandom | split -b 200 -a 6 -d - "$W/junk/$p"
    for r in 1 2 3 4; do
        bad=$((bad + $(push_many crash/junk$r $(ls "$W/junk/$p"* | awk -v r=$r 'NR % 4 == r - 1'))))
    done
    expect_eq "$bad" 0 "pushes of $n unreferenced blobs that did not answer 201"
    for i in $(seq 1 10); do
        push_image crash/untagged "$p$i" >/dev/null || { fail "push crash/untagged:$p$i"; continue; }
        curl -fsS -o /dev/null -X DELETE "http://$REG/v2/crash/untagged/manifests/$p$i" || fail "DELETE tag $p$i"
    done
    for i in $(seq 1 20); do
        head -c 100 /dev/urandom >"$W/stray"
        local d
        d=$(sha256_of "$W/stray")
        mkdir -p "$(dirname "$(blob_path "$d")")"
        cp "$W/stray" "$(blob_path "$d")"
        touch -d '1 minute ago' "$(blob_path "$d")"
    done
    sleep 1.1   # --grace 0s collects only what is older than the current second
}

# A reader pulling the tagged images all along.
# (start_reader, stop_reader: around a phase in which berthd keeps serving)
reader() {
    local end=$((SECONDS + 120)) t
    while [ ! -e "$W/stop" ] && [ $SECONDS -lt $end ]; do
        for t in "${KEEP[@]}"; do
            pull_check $t >>"$W/reader.fail" || echo "(at $(date +%T.%N))" >>"$W/reader.fail"
        done
        echo x >>"$W/reader.count"
        sleep 0.2
    done
}
start_reader() {
    rm -f "$W/stop"
    reader &
    READER=$!
    at_exit "touch $W/stop; kill $READER"
}
stop_reader() {
    touch "$W/stop"
    wait $READER
    READER_PASSES=$(( ${READER_PASSES:-0} + $(cat "$W/reader.count" 2>/dev/null | wc -l) ))
    rm -f "$W/reader.count"
    expect_eq "$(grep -v '^(at ' "$W/reader.fail" | head -5)" "" "the reader's pulls while berthd served $1"
}
: >"$W/reader.fail"

# one_kill LABEL MODE: start a collection, kill -9 it mid-sweep (MODE
# sweep: 0-200 ms after it reported its first removed blob; MODE any:
# 5-60 ms after it started, in whatever step it is), then check.
KILLED=0
TOTAL_PENDING=0
one_kill() {
    local label=$1 mode=$2 out=$W/kill.$1.out pid i
    stdbuf -oL "$BERTHD" gc --root "$ROOT" --grace 0s --delete-untagged >"$out" 2>&1 &
    pid=$!
    if [ "$mode" = sweep ]; then
        for i in $(seq 1 1000); do
            grep -q '^removed blob' "$out" && break
            kill -0 $pid 2>/dev/null || break
            sleep 0.01
        done
        sleep "0.$(printf '%03d' $((RANDOM % 200)))"
    else
        sleep "0.$(printf '%03d' $((5 + RANDOM % 55)))"
    fi
    if kill -KILL $pid 2>/dev/null; then
        KILLED=$((KILLED + 1))
    else
        echo "  ($label: the collection had already ended before the kill: $(tail -3 "$out" | tr "\n" " "))"
    fi
    wait $pid 2>/dev/null
    echo "  $label: killed after $(grep -c '^removed manifest' "$out") manifests, $(grep -c '^removed blob' "$out") blobs reported removed; trash holds $(trash_count)"
    consistency_check "after kill -9 ($label)"
    TOTAL_PENDING=$((TOTAL_PENDING + PENDING_TRASH))
    [ "$PENDING_TRASH" -eq 0 ] ||
        echo "  $label: $PENDING_TRASH blob row(s) whose file waits in trash/ for the next run to restore it"
    local t
    for t in "${KEEP[@]}"; do expect_pulls $t "after kill -9 ($label):"; done
    # berthd still takes writes, and they pull back.
    local d
    d=$(push_image crash/after "$label")
    expect_match "$d" '^sha256:' "push to berthd after kill -9 ($label)"
    KEEP+=("crash/after $label")
    expect_pulls crash/after "$label" "new image after kill -9 ($label):"
}

# expect_all_garbage_gone LABEL: only what the tags reach is left.
expect_all_garbage_gone() {
    local reach
    reach=$(reachable_blobs | tr '\n' ' ')
    expect_eq "$(disk_blobs | tr '\n' ' ')" "$reach" "$1: blob files on disk = blobs reachable from the tags"
    expect_eq "$(db_blobs | tr '\n' ' ')" "$reach" "$1: blob rows = blobs reachable from the tags"
    expect_eq "$(trash_count)" 0 "$1: nothing left in trash/"
    expect_eq "$(sql "SELECT COUNT(*) FROM manifests WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo = manifests.repo AND t.digest = manifests.digest)")" 0 \
        "$1: no untagged manifest left"
    expect_eq "$(curl -fsS "http://$REG/v2/_catalog" | jq -c .repositories)" '["crash/after","crash/app"]' \
        "$1: only the repositories with tags are left"
    consistency_check "$1"
    PENDING_TRASH=${PENDING_TRASH:-0}
    expect_eq "$PENDING_TRASH" 0 "$1: blob rows whose file is in trash/"
}

# ---- 1. kills while berthd serves ----------------------------------------------------
make_garbage "$NBLOBS" a
start_reader
before=$(sql 'SELECT COUNT(*) FROM blobs')
echo "  registry: $before blob rows, $(disk_blobs | wc -l) blob files"
one_kill start any
for r in $(seq 1 "$ROUNDS"); do one_kill round$r sweep; done
expect_ne "$(sql 'SELECT COUNT(*) FROM blobs')" "$before" "the killed collections removed something"
gc_ok --grace 0s --delete-untagged
echo "  second run: $(tail -1 "$GC_OUT")"
expect_ne "$(gc_summary blobs)" 0 "the second run had work left to finish"
stop_reader "during the kills and the second run"
expect_all_garbage_gone "after the second run"
for t in "${KEEP[@]}"; do expect_pulls $t "after the second run:"; done

# ---- 2. kill, restart berthd, second run ------------------------------------------------
make_garbage $((NBLOBS / 2)) b
start_reader
for try in 1 2 3 4 5 6; do
    one_kill restart$try sweep
    [ "$(trash_count)" -gt 0 ] && break   # try to leave something for the restart to settle
done
echo "  trash holds $(trash_count) file(s) before the restart"
stop_reader "during the kills"
berthd_stop
expect_eq "$?" 0 "berthd exits 0 on SIGTERM"
berthd_start
expect_eq "$(trash_count)" 0 "berthd settled trash/ when it started"
start_reader
consistency_check "after the restart"
expect_eq "$PENDING_TRASH" 0 "after the restart: blob rows whose file is in trash/"
for t in "${KEEP[@]}"; do expect_pulls $t "after the restart:"; done
gc_ok --grace 0s --delete-untagged
echo "  run after the restart: $(tail -1 "$GC_OUT")"
expect_all_garbage_gone "after the restart and a second run"

stop_reader "after the restart"
echo "  $KILLED collections killed; the reader made $READER_PASSES passes; $TOTAL_PENDING blob row(s) were found waiting in trash/ right after a kill"
check; [ "$KILLED" -ge $((ROUNDS - 1)) ] || fail "only $KILLED collections were killed mid-way (the sweep finished first)"
for t in "${KEEP[@]}"; do expect_pulls $t "at the end:"; done
finish
