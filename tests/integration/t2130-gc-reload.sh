#!/bin/bash
# t2130-gc-reload: the collector's schedule follows gc.interval as soon as
# a reload changes it, as the docs promise (the policy is reloadable).
#
# - Started with "interval": "0s" (off), a reload to "2s" turns the
#   schedule on: an unreferenced blob (grace 0s) is collected within
#   seconds, not never.
# - Started with "1h", a reload to "2s" runs within seconds, not after the
#   hour.
# - A reload to "0s" stops the runs; a reload to a long interval does not
#   run early; a refused reload changes nothing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-ops.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT
C=$TMP/c.json
gcfg() { jq -n --arg i "$1" '{log: {level: "info", format: "text"}, gc: {interval: $i, grace: "0s"}}' >"$C"; }
hup() { # hup: SIGHUP, wait for the reload line
    local n
    n=$(log_count 'configuration reloaded')
    kill -HUP "$BERTHD_PID"
    check; wait_log 'configuration reloaded' $((n + 1)) || fail "no reload line: $(tail -2 "$TMP/berthd.log")"
}
runs() { log_count 'gc: removed'; }
# lone_blob: an unreferenced blob; prints its digest
lone_blob() {
    random_file "$TMP/lone" 2048
    push_blob lone/x "$TMP/lone"
}
blob_gone() { # blob_gone DIGEST SECONDS: until a HEAD answers 404
    local i
    for i in $(seq 1 $(($2 * 10))); do
        http HEAD "/v2/lone/x/blobs/$1"
        [ "$STATUS" = 404 ] && return 0
        sleep 0.1
    done
    return 1
}

# ---- off at the start, on by a reload ------------------------------------------------
gcfg 0s
ops_up --config "$C"
d=$(lone_blob)
sleep 1
expect_eq "$(runs)" 0 "collections with interval 0s"
gcfg 2s
hup
check; blob_gone "$d" 6 || fail "interval 0s -> 2s by a reload: the lone blob was not collected within 6 s"
check; [ "$(runs)" -ge 1 ] || fail "no 'gc: removed' line after the reload to 2s"

# ---- a reload to 0s stops it ---------------------------------------------------------------
gcfg 0s
hup
sleep 0.5
n=$(runs)
d=$(lone_blob)
sleep 3
expect_eq "$(runs)" "$n" "collections after a reload to 0s"
http HEAD "/v2/lone/x/blobs/$d"
expect_status 200 "a lone blob after a reload to 0s"

# ---- a refused reload keeps the schedule as it was ------------------------------------------
echo '{"gc": {"interval": "soon"}}' >"$C"
kill -HUP "$BERTHD_PID"
check; wait_log 'reload refused' 1 || fail "a bad gc.interval was not refused"
sleep 2
expect_eq "$(runs)" "$n" "collections after a refused reload"
berthd_stop
expect_eq "$?" 0 "berthd's exit status on SIGTERM"

# ---- an hour at the start, seconds by a reload ---------------------------------------------
gcfg 1h
ops_up --config "$C"
d=$(lone_blob)
n=$(runs)
gcfg 2s
hup
check; blob_gone "$d" 6 || fail "interval 1h -> 2s by a reload: the lone blob was not collected within 6 s"
# and back to an hour: no run in the next seconds
gcfg 1h
hup
sleep 0.5
n=$(runs)
d=$(lone_blob)
sleep 3
expect_eq "$(runs)" "$n" "collections within 3 s of a reload to 1h"
http HEAD "/v2/lone/x/blobs/$d"
expect_status 200 "a lone blob after a reload to 1h"
finish
