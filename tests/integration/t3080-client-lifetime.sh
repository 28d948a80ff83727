#!/bin/bash
# t3080-client-lifetime: a container outlives the `berth run` attached to
# it, as docker's outlives its CLI, and that client still does what an
# attached docker run does while it lives:
#
#   - SIGKILL of the client: the container runs on (ps, its log grows),
#     its end is recorded (Exited (3)), and --rm still removes it when it
#     ends, by itself or by `berth kill` (nothing left: ps -a, containers/,
#     processes);
#   - the container's stdin (-i) ends with its client;
#   - SIGINT reaches the container even when the client was started with
#     SIGINT ignored (a shell's background job), and the container's own
#     trap runs: its exit status is the client's; SIGTERM too;
#   - the client's exit status is the container's when something else
#     ends it (berth kill: 137), stdout and stderr stay apart;
#   - -t through script(1): the window size of the client's terminal.
# Container names start with t3080-; the client's pid is the only process
# signalled. lib-runtime.sh removes every container made here.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need script

bb_image cl/bb:1 sh echo cat true sleep stty

# client NAME ARGS...: `berth run --name NAME ARGS` in the background,
# output in $TMP/NAME.out and .err; $CP is its pid.
client() {
    local name=$1
    shift
    "$BERTH" run --name "$name" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
    CP=$!
}
running() { [ "$(state "$1" .State.Status)" == running ]; }
gone() { ! timeout 20 "$BERTH" ps -aq --no-trunc | grep -q "^$1"; }
log_has() { timeout 20 "$BERTH" logs "$1" 2>&1 | grep -q "$2"; }
# the process of the container's first program (its pid on the host)
ctr_pid() { state "$1" .State.Pid; }

TICK='i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.1; done'

# ---- 1. SIGKILL of the client, --rm ------------------------------------------------
client t3080-a --rm cl/bb:1 sh -c "$TICK"
check; waitfor 20 log_has t3080-a 'tick 3' || fail "t3080-a never started"
ID=$(state t3080-a .Id)
kill -9 "$CP"
wait "$CP" 2>/dev/null
sleep 0.5
check; running t3080-a || fail "killing the client (SIGKILL) stopped the container"
N=$(timeout 20 "$BERTH" logs t3080-a | grep -c tick)
sleep 0.5
check; [ "$(timeout 20 "$BERTH" logs t3080-a | grep -c tick)" -gt "$N" ] ||
    fail "the container's log does not grow after its client was killed"
expect_match "$(cat "$TMP/t3080-a.out")" '^tick 0' "the client printed the output while it lived"
P=$(ctr_pid t3080-a)
bx kill t3080-a
ok "kill t3080-a"
check; waitfor 20 gone "$ID" || fail "--rm did not remove the container after its client was killed"
check; [ ! -e "$BERTH_ROOT/containers/$ID" ] || fail "--rm left containers/$ID"
check; ! kill -0 "$P" 2>/dev/null || fail "the container's process $P is left"

# ---- 2. it ends by itself: --rm, and without it, its status ---------------------------
client t3080-b --rm cl/bb:1 sh -c 'echo up; sleep 2; exit 0'
check; waitfor 20 log_has t3080-b up || fail "t3080-b never started"
ID=$(state t3080-b .Id)
kill -9 "$CP"
wait "$CP" 2>/dev/null
check; waitfor 20 gone "$ID" || fail "--rm: a container whose client was killed is kept after its end"
client t3080-c cl/bb:1 sh -c 'echo up; sleep 1; exit 3'
check; waitfor 20 log_has t3080-c up || fail "t3080-c never started"
kill -9 "$CP"
wait "$CP" 2>/dev/null
check; waitfor 20 sh -c "[ \"\$(timeout 20 '$BERTH' inspect -f '{{.State.Status}}' t3080-c)\" = exited ]" ||
    fail "t3080-c did not end"
expect_eq "$(state t3080-c .State.ExitCode)" 3 "the end of a container whose client was killed: ExitCode"
bx ps -a
expect_match "$OUT" 'Exited \(3\).*t3080-c' "ps -a: Exited (3)"
bx rm t3080-c

# ---- 3. -i: the container's stdin ends with its client ------------------------------
mkfifo "$TMP/in"
"$BERTH" run --rm -i --name t3080-d cl/bb:1 sh -c 'echo ready; cat; echo stdin-ended; sleep 1000' \
    <"$TMP/in" >"$TMP/t3080-d.out" 2>&1 &
CP=$!
exec 7>"$TMP/in"   # a writer that stays: only the client's end can end it
echo typed >&7
check; waitfor 20 log_has t3080-d typed || fail "-i: what was typed did not reach the container"
kill -9 "$CP"
wait "$CP" 2>/dev/null
check; waitfor 20 log_has t3080-d stdin-ended || fail "-i: the container's stdin did not end with its client"
check; running t3080-d || fail "-i: the container stopped with its client"
exec 7>&-
bx rm -f t3080-d

# ---- 4. signals: SIGINT ignored by the client's shell, SIGTERM -----------------------
(
    trap '' INT
    exec "$BERTH" run --rm --name t3080-e cl/bb:1 \
        sh -c 'trap "echo got-int; exit 9" INT; echo ready; while :; do sleep 0.1; done' \
        >"$TMP/t3080-e.out" 2>&1 </dev/null
) &
CP=$!
check; waitfor 20 log_has t3080-e ready || fail "t3080-e never started"
kill -INT "$CP"
wait "$CP"
RC=$?
rc_is "SIGINT to a client started with it ignored: the container's trap's status" 9
expect_match "$(cat "$TMP/t3080-e.out")" got-int "the container's INT trap ran"

client t3080-f --rm cl/bb:1 sh -c 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.1; done'
check; waitfor 20 log_has t3080-f ready || fail "t3080-f never started"
kill -TERM "$CP"
wait "$CP"
RC=$?
rc_is "SIGTERM to the client: the container's trap's status" 7
expect_eq "$(cat "$TMP/t3080-f.out")" "ready
got-term" "SIGTERM: the container's output"

# ---- 5. ended by someone else; stdout and stderr apart --------------------------------
client t3080-g cl/bb:1 sh -c 'echo to-out; echo to-err >&2; exec sleep 1000'
check; waitfor 20 log_has t3080-g to-err || fail "t3080-g never started"
bx kill t3080-g
wait "$CP"
RC=$?
rc_is "the client of a container killed by berth kill" 137
expect_eq "$(cat "$TMP/t3080-g.out")" to-out "the client's stdout"
expect_eq "$(cat "$TMP/t3080-g.err")" to-err "the client's stderr"
bx rm t3080-g

# ---- 6. -t: the client's terminal's size -------------------------------------------
OUT=$(timeout -k 5 60 script -qec "stty rows 33 cols 77; '$BERTH' run --rm -t --name t3080-h cl/bb:1 stty size" \
    /dev/null </dev/null | tr -d '\r')
expect_match "$OUT" '33 77' "-t: the container's terminal has the client's size"

# ---- 7. bad inputs: a start that fails leaves no monitor and, with --rm, no container ---
bx run --rm --name t3080-i cl/bb:1 /nosuch
rc_is "run of a missing program, attached" 127
bx inspect t3080-i
rc_fails "a failed attached start with --rm left a container"
bx run --name t3080-j -u nosuchuser cl/bb:1 true
rc_is "run -u nosuchuser, attached" 125
expect_eq "$(state t3080-j .State.Status)" created "a failed attached start: its state (docker: Created)"
check; [ -z "$(pgrep -f "t3080-[ij]")" ] || fail "a failed attached start left a process"
bx rm t3080-j

# the monitors' sanitizer reports too (a build with ASAN_OPTIONS set)
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi

finish
