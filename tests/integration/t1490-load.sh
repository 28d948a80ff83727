#!/bin/bash
# t1490-load: many clients at once, on loopback, against berthd with token
# auth on. LOAD_CLIENTS (200) clients for LOAD_SECONDS (20 here so the suite
# stays short on a small machine; LOAD_SECONDS=60 is the figure in
# docs/benchmarks.md): three quarters are wrk connections (manifest GETs,
# blob GETs, tag lists), the rest load.py clients mixing manifest GETs, blob
# HEADs and GETs, tag lists, monolithic and chunked blob pushes and manifest
# PUTs. No request may fail,
# and once the load ends berthd holds no more threads and descriptors than
# before it (a small fixed slack). The p99 latency is printed.
# Then slow clients: readers of a 16 MiB blob at 1 KiB/s, requests whose
# headers stop half way and uploads whose body stops half way hang on while
# normal requests still complete, each within 10 s.
# The clients are wrk with tests/integration/load-reads.lua and
# tests/integration/load.py (python3 threads + http.client).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-auth.sh"

command -v wrk >/dev/null || { echo "$T_NAME: needs wrk (apt-get install wrk)" >&2; exit 1; }
CLIENTS=${LOAD_CLIENTS:-200}
SECONDS_=${LOAD_SECONDS:-20}
SLOW=${LOAD_SLOW:-20}
LOAD=$TOP/tests/integration/load.py
REPO=load/app

HT=$TMP/htpasswd
add_user "$HT" loader 'l0ad-pw' || { echo "berthd htpasswd failed" >&2; exit 1; }
auth_port
# every client comes from 127.0.0.1: the per-address cap is raised above
# the number of clients (the total cap stays the default)
# (LOAD_THREADS=N sets berthd's worker threads; the default is 4 per CPU)
THREADS_CFG=
[ -n "${LOAD_THREADS:-}" ] && THREADS_CFG="\"threads\": $LOAD_THREADS,"
cat >"$TMP/config.json" <<EOF
{"limits": {"connections_per_address": 1024}, $THREADS_CFG
 "auth": {"htpasswd": "$HT",
  "token": {"realm": "http://$REG/auth/token", "service": "berth", "issuer": "berth-load",
            "path": "/auth/token", "key": "$TMP/signing.pem", "expiration": 900},
  "access": [{"account": "loader", "repository": "load/*", "actions": ["pull", "push"]}]}}
EOF
auth_up --config "$TMP/config.json"
TOKEN=$(token_get loader:l0ad-pw "repository:$REPO:pull,push")
check; [ -n "$TOKEN" ] || { fail "no token from the token service"; finish; }
AUTH=(-H "Authorization: Bearer $TOKEN")
ahttp GET "/v2/$REPO/tags/list"
expect_status 404 "tags of an empty repository with a token"
AUTH=()
ahttp GET "/v2/$REPO/tags/list"
expect_status 401 "no token, no tags"
AUTH=(-H "Authorization: Bearer $TOKEN")

threads() { ls "/proc/$BERTHD_PID/task" | wc -l; }
# fds: berthd's descriptors but the metadata database's (a worker thread
# opens its connection on its first request that needs one: at most one per
# thread, checked by db_fds_bounded) and the idle upload sessions' files
fds() {
    find "/proc/$BERTHD_PID/fd" -mindepth 1 -printf '%l\n' 2>/dev/null |
        grep -cv -e "^$ROOT/metadata.db" -e "^$ROOT/uploads/"
}
db_fds_bounded() {
    local n
    n=$(find "/proc/$BERTHD_PID/fd" -mindepth 1 -lname "$ROOT/metadata.db" 2>/dev/null | wc -l)
    check; [ "$n" -le "$(threads)" ] || fail "$1: $n database connections for $(threads) threads"
}
# fd_list: what berthd's descriptors point at, sockets and pipes by kind
fd_list() {
    find "/proc/$BERTHD_PID/fd" -mindepth 1 -printf '%l\n' 2>/dev/null |
        sed -E 's/:\[[0-9]+\]$//' | sort | uniq -c | sort -rn
}
# settle: the clients' connections are closed when load.py exits; give
# berthd a moment to see them go
settle() {
    local i
    for i in $(seq 1 20); do
        [ "$(ss -Htn state established "( sport = :$PORT )" | wc -l)" -eq 0 ] && break
        sleep 0.5
    done
    sleep 1
}

# ---- warm-up: every worker thread opens its database connection ------------
DIGESTS=$("$PY" "$LOAD" seed "$REG" "$TOKEN" "$REPO" "$TMP/seed.json")
check; [ "$(wc -w <<<"$DIGESTS")" -eq 3 ] || { fail "could not seed $REPO: $DIGESTS"; finish; }
"$PY" "$LOAD" load "$REG" "$TOKEN" "$REPO" "$TMP/seed.json" 50 3 >"$TMP/warm.json"
check; [ "$(jq -r .failures "$TMP/warm.json" 2>/dev/null)" = 0 ] ||
    fail "warm-up: $(cat "$TMP/warm.json")"
settle
T0=$(threads) F0=$(fds)
fd_list >"$TMP/fds.0"

# ---- the load ---------------------------------------------------------------
# wrk keeps READERS connections busy with reads (its latency record is
# berthd's, not a client's); load.py runs the rest of the clients through
# the whole mix, pushes included (its latencies include python's own
# scheduling of its threads).
READERS=${LOAD_READERS:-$((CLIENTS * 3 / 4))}
WRITERS=$((CLIENTS - READERS))
LOAD_AUTHORIZATION="Bearer $TOKEN" wrk -t2 -c"$READERS" -d"${SECONDS_}s" --timeout 10s \
    -s "$TOP/tests/integration/load-reads.lua" "http://$REG" -- "$REPO" $DIGESTS \
    >"$TMP/wrk.out" 2>&1 &
WRK_PID=$!
at_exit "kill $WRK_PID"
"$PY" "$LOAD" load "$REG" "$TOKEN" "$REPO" "$TMP/seed.json" "$WRITERS" "$SECONDS_" >"$TMP/load.json"
wait "$WRK_PID"
expect_eq $? 0 "wrk's exit status ($(tail -3 "$TMP/wrk.out"))"
wrk_val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/wrk.out"; }
check; [ -s "$TMP/load.json" ] || fail "load.py printed nothing"
R=$(cat "$TMP/load.json")
echo "# load.py: $R"
echo "# wrk: $(wrk_val REQUESTS) reads, p50 $(wrk_val P50_US) us, p99 $(wrk_val P99_US) us," \
    "max $(wrk_val MAX_US) us, non-2xx $(wrk_val NON2XX) $(wrk_val STATUS), socket errors $(wrk_val SOCKET_ERRORS)"
echo "# p99: reads $(( $(wrk_val P99_US) / 1000 )) ms over $(wrk_val REQUESTS) requests ($READERS connections);" \
    "mixed with pushes $(jq -r .p99_ms <<<"$R") ms over $(jq -r .requests <<<"$R") requests" \
    "($WRITERS clients); ${SECONDS_}s"
expect_eq "$(wrk_val NON2XX)" 0 "non-2xx answers to the readers ($(wrk_val STATUS))"
expect_eq "$(wrk_val SOCKET_ERRORS)" 0 "socket errors or timeouts of the readers"
check; [ "$(wrk_val REQUESTS)" -gt "$READERS" ] 2>/dev/null || fail "too few reads: $(cat "$TMP/wrk.out")"
expect_eq "$(jq -r .failures <<<"$R")" 0 "failed requests under load ($(jq -c .first_failures <<<"$R"))"
check; [ "$(jq -r .requests <<<"$R")" -gt "$WRITERS" ] || fail "too few requests: $R"
for op in manifest-get blob-head blob-get tags-list push-monolithic push-chunked manifest-put; do
    check; [ "$(jq -r ".ops[\"$op\"] // 0" <<<"$R")" -gt 0 ] || fail "no $op in the mix: $R"
done
kill -0 "$BERTHD_PID" 2>/dev/null; expect_eq $? 0 "berthd still running after the load"
settle
T1=$(threads) F1=$(fds)
echo "# threads $T0 -> $T1, descriptors (but the database's) $F0 -> $F1"
db_fds_bounded "after the load"
check; [ "$T1" -le "$T0" ] || fail "berthd's threads grew under load: $T0 -> $T1"
check; [ "$F1" -le $((F0 + 4)) ] ||
    fail "berthd's descriptors grew under load: $F0 -> $F1: $(fd_list | diff "$TMP/fds.0" - | grep '^[<>]' | tr '\n' ' ')"
check; [ -z "$(ls -A "$ROOT/uploads" 2>/dev/null)" ] ||
    fail "upload files left behind: $(ls "$ROOT/uploads" | head -3)"

# what was pushed under load is all there, whole
ahttp GET "/v2/$REPO/tags/list"
expect_status 200 "tags after the load"
expect_eq "$(jq -r '.tags | index("v1") != null' "$BODY_FILE")" true "v1 still listed"

# ---- slow clients -----------------------------------------------------------
BIG=$TMP/big
random_file "$BIG" $((16 << 20))
BIGD=$(apush_blob "$REPO" "$BIG")
check; [ -n "$BIGD" ] || fail "could not push the 16 MiB blob"
SMALL=$TMP/small
random_file "$SMALL" 4096
SMALLD=$(apush_blob "$REPO" "$SMALL")

"$PY" "$LOAD" slow "$REG" "$TOKEN" "$REPO" "$BIGD" "$SLOW" 15 >"$TMP/slow.json" 2>"$TMP/slow.err" &
SLOW_PID=$!
at_exit "kill $SLOW_PID"
# wait until the slow clients are all connected
for i in $(seq 1 40); do
    [ "$(ss -Htn state established "( sport = :$PORT )" | wc -l)" -ge $((SLOW * 3)) ] && break
    sleep 0.25
done
check; [ "$(ss -Htn state established "( sport = :$PORT )" | wc -l)" -ge $((SLOW * 3)) ] ||
    fail "the slow clients did not all connect"

# while they hang on, normal requests of every kind complete promptly
slowest=0
for round in 1 2 3; do
    for what in manifest blob-head blob-get tags push; do
        t0=$(date +%s%N)
        case $what in
        manifest) ahttp GET "/v2/$REPO/manifests/v1" -H "Accept: $OCI_M" -m 10 ;;
        blob-head) ahttp HEAD "/v2/$REPO/blobs/$SMALLD" -m 10 ;;
        blob-get) ahttp GET "/v2/$REPO/blobs/$BIGD" -m 10 ;;
        tags) ahttp GET "/v2/$REPO/tags/list" -m 10 ;;
        push)
            random_file "$TMP/p$round" 2048
            ahttp POST "/v2/$REPO/blobs/uploads/?digest=$(sha256_of "$TMP/p$round")" -m 10 \
                -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/p$round"
            ;;
        esac
        ms=$((($(date +%s%N) - t0) / 1000000))
        if [ "$what" = blob-get ]; then
            check; cmp -s "$BODY_FILE" "$BIG" || fail "the 16 MiB blob read back different (round $round)"
        fi
        [ "$ms" -gt "$slowest" ] && slowest=$ms
        want=200
        [ "$what" = push ] && want=201
        expect_eq "$STATUS" "$want" "$what (round $round) while slow clients hang on (${ms} ms)"
    done
    sleep 2
done
echo "# slowest normal request with $((SLOW * 3)) slow clients connected: $slowest ms"

wait "$SLOW_PID"
check; [ -s "$TMP/slow.json" ] || fail "slow clients: $(cat "$TMP/slow.err")"
echo "# slow clients still connected at the end: $(cat "$TMP/slow.json")"
# the 1 KiB/s readers are served (slowly), not cut off
expect_eq "$(jq -r .reader "$TMP/slow.json")" "$SLOW" "slow readers still being served"
settle
T2=$(threads) F2=$(fds)
echo "# after the slow clients: threads $T2, descriptors (but the database's and uploads') $F2"
check; [ "$T2" -le "$T0" ] || fail "berthd's threads grew after the slow clients: $T0 -> $T2"
# An upload session left half way keeps its file open in the blob store's
# table of idle sessions, which holds at most 64: those are counted apart.
U2=$(find "/proc/$BERTHD_PID/fd" -mindepth 1 -lname "$ROOT/uploads/*" 2>/dev/null | wc -l)
echo "# upload sessions holding a file open: $U2"
check; [ "$U2" -le 64 ] || fail "more upload files open than the idle-session table holds: $U2"
db_fds_bounded "after the slow clients"
check; [ "$F2" -le $((F0 + 4)) ] ||
    fail "berthd's descriptors grew after the slow clients: $F0 -> $F2: $(fd_list | diff "$TMP/fds.0" - | grep '^[<>]' | tr '\n' ' ')"

auth_down
finish
