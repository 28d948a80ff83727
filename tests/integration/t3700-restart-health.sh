#!/bin/bash
# t3700-restart-health: what a container's monitor does over its life, as a
# docker user sees it. Needs root.
#
#   - restart policies: on-failure:N restarts N times then stays exited
#     (RestartCount N, every run's output in the log); always restarts after
#     the process exits by itself and after a kill of it from the host, but
#     not after `berth stop` or `berth kill`, also while it waits to restart
#     (State.Restarting, ps "Restarting (N)"); docker's growing delay
#     (100 ms, doubling); unless-stopped; no;
#   - start and restart of stopped containers: output appended, published
#     ports served again, volumes and the container's own files still there,
#     start of a running one does nothing, of an unknown one fails;
#   - health checks: a passing probe -> healthy, a failing one -> unhealthy
#     after Retries (FailingStreak, Log of at most 5 with ExitCode and
#     Output), the start period, a hanging probe ended by its timeout (no
#     probe left in the container), the image's HEALTHCHECK (made by `berth
#     commit --change`), --no-healthcheck, ps's "(healthy)" / "(health:
#     starting)";
#   - --label (over the image's), --stop-signal and --stop-timeout used by
#     stop;
#   - bad values refused with one line and nothing made: --restart bogus,
#     on-failure:-1, always:3, --rm with --restart, --health-retries x,
#     --health-interval 5x, --stop-signal NOPE, --stop-timeout x.
# The store ($BERTH_ROOT) and $HOME live in $TMP; every container made here
# is removed by the EXIT trap. Under a sanitizer build (ASAN_OPTIONS set),
# reports go to $TMP/san and fail the test.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need curl pgrep
rund() {
    bx run -d "$@"
    ok "run -d $*"
}
is() { [ "$(state "$1" "$2")" == "$3" ]; }
ps_line() { timeout 20 "$BERTH" ps -a 2>/dev/null | awk -v n="$1" 'NR > 1 && $NF == n'; }
logs_count() { timeout 20 "$BERTH" logs "$1" 2>&1 | grep -c "^$2\$"; }

# ---- the image ---------------------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true false env sleep httpd test touch ps grep kill mkdir wget; do
    ln -s busybox "$R/bin/$c"
done
chmod 1777 "$R/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" lt/bb:1
ok "berth import of the rootfs" || finish

# ---- 1. on-failure:N ---------------------------------------------------------------
rund --name of2 --restart on-failure:2 lt/bb:1 sh -c 'echo run; exit 3'
check; waitfor 10 is of2 .State.Status exited || fail "on-failure:2: still $(state of2 .State.Status)"
expect_eq "$(state of2 .RestartCount)" 2 "on-failure:2: RestartCount"
expect_eq "$(state of2 .State.ExitCode)" 3 "on-failure:2: exit code"
expect_eq "$(state of2 .HostConfig.RestartPolicy.Name):$(state of2 .HostConfig.RestartPolicy.MaximumRetryCount)" \
    on-failure:2 "on-failure:2: HostConfig.RestartPolicy"
sleep 1
expect_eq "$(state of2 .RestartCount)" 2 "on-failure:2: no restart after the last"
expect_eq "$(logs_count of2 run)" 3 "on-failure:2: every run's output is in the log"
# a success is not a failure
rund --name of0 --restart on-failure lt/bb:1 sh -c 'echo ok'
check; waitfor 10 is of0 .State.Status exited || fail "on-failure, exit 0: still running"
sleep 0.5
expect_eq "$(state of0 .RestartCount)" 0 "on-failure, exit 0: not restarted"
# no policy: none
rund --name no1 --restart no lt/bb:1 false
check; waitfor 10 is no1 .State.Status exited || fail "--restart no: still running"
sleep 0.5
expect_eq "$(state no1 .RestartCount)" 0 "--restart no: not restarted"

# ---- 2. always: after an exit, after a kill from the host; not after stop/kill --------
rund --name al --restart always lt/bb:1 sh -c 'echo up; sleep 3701'
check; waitfor 10 is al .State.Status running || fail "always: not running"
PID1=$(state al .State.Pid)
kill -9 "$PID1"
check; waitfor 10 is al .RestartCount 1 || fail "always: not restarted after a kill from the host"
check; waitfor 10 is al .State.Status running || fail "always: not running again"
PID2=$(state al .State.Pid)
expect_ne "$PID2" "$PID1" "always: a new process"
expect_match "$(ps_line al)" ' Up ' "always: ps shows it up"
bx stop -t 1 al
ok "stop of an always container"
expect_eq "$(state al .State.Status)" exited "always: exited after berth stop"
sleep 1
expect_eq "$(state al .State.Status):$(state al .RestartCount)" exited:1 "always: not restarted after berth stop"
expect_eq "$(logs_count al up)" 2 "always: both runs' output in the log"

rund --name al2 --restart always lt/bb:1 sh -c 'echo up; sleep 3701'
check; waitfor 10 is al2 .State.Status running || fail "always (kill): not running"
bx kill al2
ok "kill of an always container"
check; waitfor 10 is al2 .State.Status exited || fail "always: still running after berth kill"
sleep 1
expect_eq "$(state al2 .State.Status):$(state al2 .RestartCount)" exited:0 "always: not restarted after berth kill"

# a process that ends at once: restarted again and again, with docker's growing
# delay (100, 200, 400, 800 ms...), seen waiting as Restarting
rund --name fast --restart always lt/bb:1 sh -c 'echo tick; exit 1'
check; waitfor 10 is fast .State.Restarting true || fail "always: never seen restarting"
check; waitfor 10 sh -c "timeout 5 '$BERTH' ps | grep -E ' Restarting \([0-9]+\) .* fast\$'" ||
    fail "ps never shows the container waiting to restart: $(ps_line fast)"
expect_eq "$(state fast .State.Running)" true "restarting: State.Running as docker says"
sleep 2
N=$(state fast .RestartCount)
check; [ "$N" -ge 2 ] && [ "$N" -le 8 ] || fail "always: $N restarts in about 2 s (docker's delay: 3 to 6)"
bx stop fast
ok "stop of a restarting container"
check; waitfor 10 is fast .State.Status exited || fail "always: still restarting after berth stop"
N=$(state fast .RestartCount)
sleep 1.5
expect_eq "$(state fast .RestartCount)" "$N" "always: no restart after stop while waiting"
expect_eq "$(state fast .State.Restarting)" false "stopped: no longer Restarting"

# attached: ^C (SIGINT to berth, passed on) ends it for good
START=$(date +%s)
timeout -s INT 2 "$BERTH" run --name att --restart always lt/bb:1 \
    sh -c 'trap "exit 0" INT; while true; do sleep 0.1; done' >/dev/null 2>&1 </dev/null
check; [ $(($(date +%s) - START)) -lt 10 ] || fail "attached: ^C did not end run --restart always"
sleep 0.5
expect_eq "$(state att .State.Status):$(state att .RestartCount)" exited:0 "attached: not restarted after ^C"

# unless-stopped: as always without a daemon to restart
rund --name us --restart unless-stopped lt/bb:1 sh -c 'echo up; sleep 3701'
check; waitfor 10 is us .State.Status running || fail "unless-stopped: not running"
kill -9 "$(state us .State.Pid)"
check; waitfor 10 is us .RestartCount 1 || fail "unless-stopped: not restarted after a kill from the host"
bx stop -t 1 us
ok "stop of an unless-stopped container"
sleep 1
expect_eq "$(state us .State.Status)" exited "unless-stopped: stays stopped"

# ---- 3. start and restart of stopped containers --------------------------------------
mkdir -p "$TMP/www" "$TMP/vol"
echo hello >"$TMP/www/index.html"
PORT=$(free_port)
rund --name web -p "127.0.0.1:$PORT:80" -v "$TMP/www:/www3700:ro" -v "$TMP/vol:/vol" lt/bb:1 \
    sh -c 'echo started; echo x >>/vol/runs; echo y >>/mine; httpd -f -p 80 -h /www3700'
check; waitfor 10 curl -sf "http://127.0.0.1:$PORT/index.html" || fail "web: port not served"
bx stop -t 1 web
ok "stop web"
check; ! curl -sf -m 2 "http://127.0.0.1:$PORT/index.html" >/dev/null || fail "web: served while stopped"
bx start web
ok "start of a stopped container" && expect_eq "$OUT" web "start prints the name"
expect_eq "$(state web .State.Status)" running "start: running again"
check; waitfor 10 curl -sf "http://127.0.0.1:$PORT/index.html" || fail "start: port not served again"
expect_eq "$(curl -s "http://127.0.0.1:$PORT/index.html")" hello "start: the bind mount is there again"
PID1=$(state web .State.Pid)
bx start web
ok "start of a running container" && expect_eq "$(state web .State.Pid)" "$PID1" "start of a running one: same process"
bx restart -t 1 web
ok "restart" && expect_eq "$OUT" web "restart prints the name"
expect_ne "$(state web .State.Pid)" "$PID1" "restart: a new process"
check; waitfor 10 curl -sf "http://127.0.0.1:$PORT/index.html" || fail "restart: port not served again"
expect_eq "$(logs_count web started)" 3 "start/restart: output appended to the log"
expect_eq "$(grep -c x "$TMP/vol/runs")" 3 "start/restart: the volume is the same"
bx exec web cat /mine
expect_eq "$(printf '%s\n' "$OUT" | grep -c y)" 3 "start/restart: the container's own files are kept"
bx start no-such-container
check; [ "$RC" -ne 0 ] || fail "start of an unknown container succeeded"
one_line "start of an unknown container" 'No such container: no-such-container'
bx restart no-such-container
check; [ "$RC" -ne 0 ] || fail "restart of an unknown container succeeded"
# two starts at once: one process
rund --name twice lt/bb:1 sh -c 'echo started; sleep 3701'
bx stop -t 0 twice
ok "stop twice"
timeout 30 "$BERTH" start twice >/dev/null 2>&1 &
timeout 30 "$BERTH" start twice >/dev/null 2>&1 &
wait
sleep 0.5
expect_eq "$(logs_count twice started)" 2 "two starts at once start it once"
expect_eq "$(state twice .State.Status)" running "two starts at once: running"
# a state.json that points outside the store is refused by start
bx stop -t 0 twice
ok "stop twice again"
SJ=$BERTH_ROOT/containers/$(state twice .Id)/state.json
cp "$SJ" "$TMP/state.saved"
jq '.Berth.Layers[0] = "../../../../etc"' "$TMP/state.saved" >"$SJ"
bx start twice
check; [ "$RC" -ne 0 ] || fail "start with a layer outside the store succeeded"
one_line "start with a bad layer" 'layer .* is missing'
jq '.HostConfig.Binds = ["/abs:relative"]' "$TMP/state.saved" >"$SJ"
bx start twice
check; [ "$RC" -ne 0 ] || fail "start with a bad bind succeeded"
one_line "start with a bad bind" 'invalid volume specification'
cp "$TMP/state.saved" "$SJ"
bx start twice
ok "start with its state restored"

# start keeps the restart policy; the user's stop mark is cleared
bx start al
ok "start of a stopped always container"
kill -9 "$(state al .State.Pid)"
check; waitfor 10 is al .RestartCount 2 || fail "always: restarted again after start"
bx stop -t 1 al
ok "stop al"

# on a network: every start joins it again, with its aliases
bx network create lt3700net
ok "network create"
rund --name nw --network lt3700net --network-alias web3700 --restart always lt/bb:1 \
    sh -c 'mkdir -p /w; echo on-net >/w/i; httpd -f -p 80 -h /www3700 -h /w'
fetch() { timeout 30 "$BERTH" run --rm --network lt3700net lt/bb:1 wget -qO- http://web3700/i; }
check; waitfor 10 fetch || fail "network: the alias does not answer"
kill -9 "$(state nw .State.Pid)"
check; waitfor 10 is nw .RestartCount 1 || fail "network: not restarted"
check; waitfor 10 fetch || fail "network: the alias does not answer after a restart"
expect_eq "$(state nw '.NetworkSettings.Networks.lt3700net.Aliases[0]')" web3700 "network: aliases kept"
bx stop -t 1 nw
ok "stop nw"
bx start nw
ok "start nw"
check; waitfor 10 fetch || fail "network: the alias does not answer after start"
expect_eq "$(state nw '.NetworkSettings.Networks.lt3700net.Aliases[0]')" web3700 "network: aliases kept by start"
bx rm -f nw
ok "rm nw"
bx network rm lt3700net
ok "network rm"

# ---- 4. health checks -------------------------------------------------------------------
rund --name hp --health-cmd 'echo probing; test -e /tmp/ok' --health-interval 200ms \
    --health-retries 2 lt/bb:1 sh -c 'touch /tmp/ok; sleep 3701'
check; waitfor 10 is hp .State.Health.Status healthy || fail "health: a passing check is not healthy"
expect_match "$(ps_line hp)" 'Up .* \(healthy\)' "ps shows (healthy)"
expect_eq "$(state hp '.State.Health.Log[-1].ExitCode')" 0 "health: Log ExitCode"
expect_eq "$(state hp '.State.Health.Log[-1].Output')" probing "health: Log Output"
expect_match "$(state hp '.State.Health.Log[-1].Start')" '^20[0-9-]+T' "health: Log Start"
expect_eq "$(state hp .Config.Healthcheck.Test[0])" CMD-SHELL "health: Config.Healthcheck.Test"
expect_eq "$(state hp .Config.Healthcheck.Interval)" 200000000 "health: Interval in ns"
bx exec hp sh -c 'rm /tmp/ok'
check; waitfor 10 is hp .State.Health.Status unhealthy || fail "health: a failing check is not unhealthy"
check; [ "$(state hp .State.Health.FailingStreak)" -ge 2 ] || fail "health: FailingStreak $(state hp .State.Health.FailingStreak)"
sleep 1.5
check; [ "$(state hp '.State.Health.Log | length')" -le 5 ] || fail "health: more than 5 in Log"
expect_match "$(ps_line hp)" '\(unhealthy\)' "ps shows (unhealthy)"
bx exec hp touch /tmp/ok
check; waitfor 10 is hp .State.Health.Status healthy || fail "health: healthy again after a pass"
expect_eq "$(state hp .State.Health.FailingStreak)" 0 "health: a pass resets FailingStreak"

# Retries: not unhealthy after fewer failures (streak and status read at once)
rund --name hr --health-cmd false --health-interval 700ms --health-retries 4 lt/bb:1 sleep 3701
streak_seen() {
    SEEN=$(state hr '.State.Health | "\(.FailingStreak) \(.Status)"')
    case $SEEN in 1\ *|2\ *|3\ *) return 0 ;; esac
    return 1
}
check; waitfor 10 streak_seen || fail "retries: no failures counted ($SEEN)"
expect_match "$SEEN" '^[123] starting$' "retries: fewer than 4 failures is not unhealthy yet"
check; waitfor 10 is hr .State.Health.Status unhealthy || fail "retries: never unhealthy"
check; [ "$(state hr .State.Health.FailingStreak)" -ge 4 ] || fail "retries: unhealthy before 4 failures"

# start period: failures inside it do not count (one long enough that a
# loaded machine's slow `run` still leaves it running for the checks)
rund --name hs --health-cmd false --health-interval 200ms --health-retries 1 \
    --health-start-period 8s lt/bb:1 sleep 3701
sleep 1.5
expect_match "$(ps_line hs)" 'Up .* \(health: starting\)' "ps shows (health: starting)"
expect_eq "$(state hs .State.Health.Status):$(state hs .State.Health.FailingStreak)" starting:0 \
    "start period: failures not counted"
check; [ "$(state hs '.State.Health.Log | length')" -ge 2 ] || fail "start period: probes still run"
check; waitfor 20 is hs .State.Health.Status unhealthy || fail "start period: unhealthy after it"

# timeout: a hanging probe is ended
rund --name ht --health-cmd 'sleep 3131' --health-timeout 500ms --health-interval 200ms \
    --health-retries 1 lt/bb:1 sleep 3701
check; waitfor 10 is ht .State.Health.Status unhealthy || fail "timeout: a hanging probe is not a failure"
expect_eq "$(state ht '.State.Health.Log[0].ExitCode')" -1 "timeout: ExitCode -1"
expect_match "$(state ht '.State.Health.Log[0].Output')" 'exceeded timeout' "timeout: Output"
sleep 0.5
check; [ "$(pgrep -xc -f 'sleep 3131')" -le 2 ] || fail "timeout: hanging probes pile up: $(pgrep -xa -f 'sleep 3131')"
bx rm -f ht
ok "rm -f ht"
check; waitfor 5 sh -c "! pgrep -x -f 'sleep 3131'" || fail "timeout: probe left after rm: $(pgrep -xa -f 'sleep 3131')"

# the image's HEALTHCHECK, labels and stop signal (berth commit --change)
bx run --name base lt/bb:1 true
ok "run base"
bx commit --change 'HEALTHCHECK --interval=200ms --retries=1 CMD ["test","-e","/etc/passwd"]' \
    --change 'LABEL from=image shared=image' --change 'STOPSIGNAL USR1' base lt/hc:1
ok "commit an image with a HEALTHCHECK"
rund --name ih -l shared=run --label extra=1 lt/hc:1 sleep 3701
check; waitfor 10 is ih .State.Health.Status healthy || fail "image HEALTHCHECK: not healthy"
expect_eq "$(state ih .Config.Healthcheck.Test[0])" CMD "image HEALTHCHECK in Config"
expect_eq "$(state ih '.Config.Labels | to_entries | map("\(.key)=\(.value)") | sort | join(",")')" \
    "extra=1,from=image,shared=run" "labels: the run's over the image's"
expect_eq "$(state ih .Config.StopSignal)" USR1 "the image's StopSignal"
rund --name ih2 --no-healthcheck lt/hc:1 sleep 3701
sleep 0.8
expect_eq "$(state ih2 .State.Health)" null "--no-healthcheck: no State.Health"
expect_eq "$(state ih2 .Config.Healthcheck.Test[0])" NONE "--no-healthcheck: Test NONE"
expect_match "$(ps_line ih2)" 'Up [^(]*$' "--no-healthcheck: no health in ps"
rund --name ih3 --health-cmd false --health-retries 1 --health-interval 200ms lt/hc:1 sleep 3701
check; waitfor 10 is ih3 .State.Health.Status unhealthy || fail "--health-cmd over the image's"
expect_eq "$(state ih3 .Config.Healthcheck.Test[1])" false "--health-cmd replaces the image's test"

# labels are in rt_list's documents: what ps -a reads
rund --name lab -l com.docker.compose.project=demo lt/bb:1 sleep 3701
expect_eq "$(state lab '.Config.Labels["com.docker.compose.project"]')" demo "label in inspect"

# ---- 5. stop signal and stop timeout ---------------------------------------------------
rund --name sg --stop-signal USR1 lt/bb:1 sh -c 'trap "echo got-usr1; exit 0" USR1; echo ready; while true; do sleep 0.1; done'
check; waitfor 10 sh -c "timeout 5 '$BERTH' logs sg | grep -q ready" || fail "stop-signal: not ready"
START=$(date +%s)
bx stop -t 20 sg
ok "stop with --stop-signal"
check; [ $(($(date +%s) - START)) -lt 10 ] || fail "stop-signal: stop took the whole timeout"
expect_eq "$(timeout 5 "$BERTH" logs sg | grep -c got-usr1)" 1 "stop-signal: USR1 reached the process"
expect_eq "$(state sg .State.ExitCode)" 0 "stop-signal: the process ended by its trap"
# PID 1 without a handler ignores SIGTERM: --stop-timeout 1 is how long stop waits
rund --name st --stop-timeout 1 lt/bb:1 sleep 3701
expect_eq "$(state st .Config.StopTimeout)" 1 "Config.StopTimeout"
START=$(date +%s)
bx stop st
ok "stop with --stop-timeout"
check; [ $(($(date +%s) - START)) -lt 6 ] || fail "stop-timeout: stop waited $(($(date +%s) - START)) s"
expect_eq "$(state st .State.ExitCode)" 137 "stop-timeout: killed"

# ---- 6. bad values ---------------------------------------------------------------------
BEFORE=$(count_containers)
for args in "--restart bogus" "--restart on-failure:-1" "--restart on-failure:x" \
    "--restart always:3" "--rm --restart always" "--health-retries x" "--health-retries -1" \
    "--health-interval 5x" "--health-interval 500us" "--health-timeout -1s" "--stop-signal NOPE" "--stop-timeout x" \
    "--label =v"; do
    # shellcheck disable=SC2086
    bx run -d $args lt/bb:1 true
    check; [ "$RC" -eq 125 ] || fail "run $args: expected exit 125, got $RC"
    one_line "run $args" '^berth run: '
done
expect_eq "$(count_containers)" "$BEFORE" "bad values: no container made"
bx start
check; [ "$RC" -ne 0 ] || fail "start without a container succeeded"

# ---- the end: nothing left --------------------------------------------------------------
for c in $(timeout 20 "$BERTH" ps -aq); do timeout 30 "$BERTH" rm -f "$c" >/dev/null 2>&1; done
expect_eq "$(count_containers)" 0 "containers left"
LEFT_RE="^sleep 3701|^sleep 3131|^httpd -f -p 80 -h /www3700"
check; waitfor 5 sh -c "! pgrep -f '$LEFT_RE'" || fail "processes left: $(pgrep -af "$LEFT_RE")"
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
