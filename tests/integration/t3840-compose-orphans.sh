#!/bin/bash
# t3840-compose-orphans: the compose options that decide what `up` may
# build and what it leaves behind, and the runtime details around them, as
# a docker user sees them. Needs root.
#
#   - up --no-build: refused with one line and nothing started while a
#     built service's image is missing; fine once it is there; --build with
#     --no-build refused;
#   - orphans (containers of services gone from the file): up and down warn
#     with docker compose's message and keep them; --remove-orphans removes
#     them (up: the rest keeps running; down: nothing of the project left);
#   - berth start -a: only this start's output, stdout and stderr apart,
#     and the container's exit code (0 and 3); a SIGTERM to it passed to
#     the container; -i, two containers, an unknown one refused;
#   - a health probe that hangs past its timeout (one that forks, one run
#     as a non-root user): killed with every process it started, docker's
#     "Health check exceeded timeout (1s)", unhealthy after the retries;
#   - restart always and unless-stopped: a container the user stopped stays
#     stopped.
# The store ($BERTH_ROOT) lives in $TMP; the EXIT trap removes every
# container, network and mount made here.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-compose.sh"

names() { timeout 20 "$BERTH" ps -a | awk 'NR > 1 {print $NF}' | sort | tr '\n' ' '; }
one_line() {
    check
    [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ] || fail "$1: expected one line on stderr, got: $ERR"
    expect_match "$ERR" "$2" "$1: message"
}

# ---- the project: one service from an image, one built ------------------------------
PROJ=$TMP/orph
mkdir -p "$PROJ/ctx"
printf 'FROM cmp/bb:1\nCMD ["sleep", "3841"]\n' >"$PROJ/ctx/Dockerfile"
both() {
    cat >"$PROJ/compose.yaml" <<EOF
services:
  keep:
    build: ./ctx
    stop_grace_period: 1s
  gone:
    image: cmp/bb:1
    command: ["sleep", "3840"]
    stop_grace_period: 1s
EOF
}
only_keep() {
    cat >"$PROJ/compose.yaml" <<EOF
services:
  keep:
    build: ./ctx
    stop_grace_period: 1s
EOF
}
both

# ---- --no-build ---------------------------------------------------------------------
bc up -d --build --no-build
rc_fails "up --build --no-build"
one_line "up --build --no-build" 'incompatible'
bc up -d --no-build
rc_fails "up --no-build without the image"
one_line "up --no-build without the image" 'service keep: image orph-keep not found; run without --no-build'
expect_eq "$(names)" "" "up --no-build without the image starts nothing"
check; timeout 20 "$BERTH" images | grep -q '^orph-keep ' && fail "up --no-build built the image"

bc up -d
ok "up -d (builds)" || finish
check; running orph-keep-1 || fail "orph-keep-1 is not running"
check; running orph-gone-1 || fail "orph-gone-1 is not running"
bc down
ok "down"
bc up -d --no-build
ok "up --no-build with the image"
check; running orph-keep-1 || fail "up --no-build: orph-keep-1 is not running"
check; running orph-gone-1 || fail "up --no-build: orph-gone-1 is not running"

# ---- orphans: up -------------------------------------------------------------------
only_keep
bc up -d
ok "up -d with a service removed"
expect_match "$ERR" 'Found orphan containers \(\[orph-gone-1\]\) for this project\. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up\.' \
    "up warns about the orphan"
check; running orph-gone-1 || fail "up without --remove-orphans stopped the orphan"
bc up -d --remove-orphans
ok "up -d --remove-orphans"
check; [[ $ERR == *"Found orphan"* ]] && fail "up --remove-orphans still warns: $ERR"
expect_eq "$(names)" "orph-keep-1 " "up --remove-orphans removes the orphan only"
check; running orph-keep-1 || fail "up --remove-orphans: orph-keep-1 is not running"
check; waitfor 10 sh -c "! pgrep -x -f 'sleep 3840'" || fail "the orphan's process is left"

# ---- orphans: down -----------------------------------------------------------------
both
bc up -d
ok "up -d both again"
only_keep
bc down
ok "down with an orphan"
expect_match "$ERR" 'Found orphan containers \(\[orph-gone-1\]\) for this project' "down warns about the orphan"
expect_eq "$(names)" "orph-gone-1 " "down without --remove-orphans keeps the orphan"
check; running orph-gone-1 || fail "down without --remove-orphans stopped the orphan"
expect_match "$ERR" 'Network orph_default +Resource is still in use' "down keeps the network the orphan is on"
bx stop -t 1 orph-gone-1
ok "stop the orphan"
bc down --remove-orphans
ok "down --remove-orphans (the orphan stopped)"
expect_eq "$(names)" "" "down --remove-orphans leaves nothing"
expect_eq "$(timeout 20 "$BERTH" network ls -q | wc -l)" "0" "down --remove-orphans removes the network"
check; waitfor 10 sh -c "! pgrep -x -f 'sleep 384[01]'" || fail "down --remove-orphans left a process"
bc down --remove-orphans
ok "down --remove-orphans with nothing left"
bc up --no-build --bogus
rc_fails "up --bogus"
expect_eq "$(names)" "" "up --bogus starts nothing"

# ---- start -a ----------------------------------------------------------------------
bx run --name sa cmp/bb:1 sh -c 'echo out-line; echo err-line >&2; exit 3'
check; [ "$RC" -eq 3 ] || fail "run sa: exit $RC"
timeout 60 "$BERTH" start -a sa >"$TMP/sa.out" 2>"$TMP/sa.err"
expect_eq "$?" 3 "start -a: the container's exit code"
expect_eq "$(grep -c . "$TMP/sa.out")" 1 "start -a: only this start's stdout"
expect_eq "$(cat "$TMP/sa.out")" "out-line" "start -a: stdout"
expect_eq "$(cat "$TMP/sa.err")" "err-line" "start -a: stderr"
bx run --name s0 cmp/bb:1 sh -c 'echo zero'
ok "run s0"
timeout 60 "$BERTH" start --attach s0 >"$TMP/s0.out" 2>&1
expect_eq "$?" 0 "start --attach: exit 0"
expect_eq "$(cat "$TMP/s0.out")" "zero" "start --attach: output"
check; running s0 && fail "start -a returned while s0 runs"
# a signal to start -a goes to the container's process
bx run -d --name si cmp/bb:1 sh -c 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done'
ok "run si"
bx kill si
ok "kill si"
check; waitfor 10 sh -c "! timeout 20 '$BERTH' inspect si | jq -e '.[0].State.Running'" || fail "si still runs"
"$BERTH" start -a si >"$TMP/si.out" 2>&1 </dev/null &
SI=$!
check; waitfor 10 grep -q ready "$TMP/si.out" || fail "start -a si: no output"
kill -TERM "$SI"
check; waitfor 10 sh -c "! kill -0 $SI" || { fail "start -a si: still there after SIGTERM"; kill -9 "$SI"; }
wait "$SI"
expect_eq "$?" 7 "start -a: SIGTERM passed to the container"
expect_eq "$(cat "$TMP/si.out")" "$(printf 'ready\ngot-term')" "start -a si: output"
bx rm -f si
ok "rm si"
bx start -a nosuch
rc_fails "start -a of an unknown container"
one_line "start -a nosuch" 'nosuch'
bx start -a sa s0
expect_eq "$RC" 2 "start -a of two containers"
bx start -i sa
expect_eq "$RC" 2 "start -i"
one_line "start -i" 'not supported'
bx rm sa s0
ok "rm sa s0"

# ---- a probe past its timeout ------------------------------------------------------
# one that forks (a child in the background, then waits), one as `app`
bx run -d --name hf --health-cmd 'sleep 3842 & sleep 3842; true' --health-timeout 1s \
    --health-interval 300ms --health-retries 2 cmp/bb:1 sleep 3843
ok "run hf"
bx run -d --name hu -u app --health-cmd 'sleep 3844' --health-timeout 1s \
    --health-interval 300ms --health-retries 2 cmp/bb:1 sleep 3845
ok "run hu"
check; waitfor 15 sh -c "[ \"\$(timeout 20 '$BERTH' inspect hf | jq -r '.[0].State.Health.Status')\" = unhealthy ]" ||
    fail "a forking probe past its timeout does not make hf unhealthy"
check; waitfor 15 sh -c "[ \"\$(timeout 20 '$BERTH' inspect hu | jq -r '.[0].State.Health.Status')\" = unhealthy ]" ||
    fail "a non-root probe past its timeout does not make hu unhealthy"
expect_eq "$(jqc hf '.State.Health.Log[-1].Output')" "Health check exceeded timeout (1s)" "the timeout's message"
expect_eq "$(jqc hu '.State.Health.Log[-1].ExitCode')" "-1" "a timed-out probe's ExitCode"
check; [ "$(jqc hu '.State.Health.FailingStreak')" -ge 2 ] || fail "FailingStreak after the retries"
# at most one probe at a time: what a killed one started is gone too
for _ in 1 2 3 4 5 6; do
    check; [ "$(pgrep -x -f 'sleep 3842' | grep -c .)" -le 2 ] ||
        fail "the forking probe's processes outlive its timeout: $(pgrep -a -f 'sleep 3842' | tr '\n' ' ')"
    check; [ "$(pgrep -x -f 'sleep 3844' | grep -c .)" -le 1 ] ||
        fail "the non-root probe outlives its timeout: $(pgrep -a -f 'sleep 3844' | tr '\n' ' ')"
    sleep 0.7
done
bx rm -f hf hu
ok "rm -f hf hu"
check; waitfor 5 sh -c "! pgrep -f 'sleep 384[2-5]'" || fail "a probe is left after rm: $(pgrep -a -f 'sleep 384[2-5]')"
# the same from a compose file, as user app: gone before the next probe
PROJ=$TMP/hc
mkdir -p "$PROJ"
cat >"$PROJ/compose.yaml" <<EOF
services:
  slow:
    image: cmp/bb:1
    user: app
    command: ["sleep", "3850"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD-SHELL", "sleep 3849 & sleep 3849"]
      interval: 3s
      timeout: 1s
      retries: 1
EOF
bc up -d
ok "up -d a service whose probe hangs"
check; waitfor 15 sh -c "[ \"\$(timeout 20 '$BERTH' inspect hc-slow-1 | jq -r '.[0].State.Health.Status')\" = unhealthy ]" ||
    fail "compose: a probe past its timeout does not make hc-slow-1 unhealthy"
check; waitfor 1 sh -c "! pgrep -f 'sleep 384[9]'" || fail "compose: the probe outlives its timeout: $(pgrep -a -f 'sleep 384[9]')"
expect_eq "$(jqc hc-slow-1 .Config.User)" "app" "compose: the service's user"
expect_eq "$(jqc hc-slow-1 '.State.Health.Log[-1].Output')" "Health check exceeded timeout (1s)" "compose: the timeout's message"
bc down
ok "down hc"
check; waitfor 5 sh -c "! pgrep -f 'sleep 38(49|50)'" || fail "compose: a process left after down"

bx run -d --name hb --health-cmd 'sleep 1' --health-timeout 1x cmp/bb:1 sleep 3846
rc_fails "run --health-timeout 1x"
one_line "--health-timeout 1x" 'invalid'

# ---- always and unless-stopped: the user's stop holds -------------------------------
bx run -d --name ra --restart always cmp/bb:1 sleep 3847
ok "run --restart always"
bx run -d --name ru --restart unless-stopped cmp/bb:1 sleep 3848
ok "run --restart unless-stopped"
bx stop -t 1 ra ru
ok "stop ra ru"
sleep 1.5
for c in ra ru; do
    check; running $c && fail "$c: restarted after the user's stop"
    expect_eq "$(jqc $c .RestartCount)" 0 "$c: RestartCount after stop"
done
bx start ru
ok "start ru"
check; running ru || fail "start ru after stop"
bx rm -f ra ru
ok "rm -f ra ru"

finish
