#!/bin/bash
# t3610-ports: published ports on a host port berth chooses, as a docker
# user sees them. Needs root.
#
#   - run -p 5000, -p 5000/tcp, -p 127.0.0.1::5000: a free host port, known
#     as soon as `run -d` returns (`berth port` right after), a busybox
#     httpd reachable on it; inspect (NetworkSettings.Ports with the port,
#     HostConfig.PortBindings with HostPort "") and ps show it;
#   - -P: every tcp port of the image's EXPOSE and of --expose (udp ones
#     only exposed), PublishAllPorts;
#   - two containers (also three started at once) get different ports; the
#     port is free again after rm;
#     stop + start, restart and a restart policy keep the port;
#   - --network host: ports discarded with docker's warning;
#   - berth port: every binding, one port, a port not published (exit 1,
#     docker's message), a stopped container (none), bad arguments;
#   - compose: "5000", "127.0.0.1::5001" and a long entry without
#     published get random ports, `berth compose ps` shows the one to use,
#     `berth compose port`;
#   - bad -p values (0, 70000, abc, 1.2.3.4.5::80, too many colons, a
#     range, udp): one line, exit 125, nothing made.
# Traffic only to 127.0.0.1. The store ($BERTH_ROOT) and $HOME live in
# $TMP; every container and network made here is removed by the EXIT trap.
# Under a sanitizer build (ASAN_OPTIONS set), reports go to $TMP/san and
# fail the test.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-compose.sh"

one_line() {
    check
    [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ] || fail "$1: expected one line on stderr, got: $ERR"
    expect_match "$ERR" "$2" "$1: message"
}
count_containers() { timeout 20 "$BERTH" ps -aq | grep -c .; }
# listening PORT: something listens on 127.0.0.1:PORT or 0.0.0.0:PORT.
listening() { ss -Htln "sport = :$1" | grep -q .; }
# get PORTLINE: the host port of "IP:PORT".
hport() { printf '%s\n' "${1##*:}"; }
served() { curl -sf -m 5 "http://127.0.0.1:$1/index.html"; }

# a document root of this run's own: its processes are told from another run's
WWW=www3610-$$
mkdir -p "$R/$WWW" && echo page3610 >"$R/$WWW/index.html"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" pt/bb:1
ok "import" || finish
# an image with EXPOSE 6000 and 7000/udp, made by commit --change
bx run --name base pt/bb:1 true
ok "run base" || finish
bx commit --change 'EXPOSE 6000 7000/udp' base pt/exp:1
ok "commit --change EXPOSE" || finish
bx rm base
HTTPD="httpd -f -h /$WWW -p"

# ---- 1. -p 5000: a random host port, known when run -d returns ---------------------
bx run -d --name r1 -p 5000 pt/bb:1 $HTTPD 5000
ok "run -d -p 5000"
bx port r1 5000
ok "port r1 5000 right after run -d"
expect_match "$OUT" '^0\.0\.0\.0:[0-9]+$' "port r1 5000: IP:PORT"
P1=$(hport "$OUT")
check; [ "$P1" -ge 1024 ] 2>/dev/null || fail "-p 5000: host port $P1"
check; listening "$P1" || fail "-p 5000: nothing listens on $P1 once run -d returned"
check; served "$P1" | grep -q page3610 || fail "-p 5000: httpd not reachable on $P1"
bx port r1
expect_eq "$OUT" "5000/tcp -> 0.0.0.0:$P1" "port r1: every binding"
bx port r1 5000/tcp
expect_eq "$OUT" "0.0.0.0:$P1" "port r1 5000/tcp"
expect_eq "$(jqc r1 '.NetworkSettings.Ports["5000/tcp"][0].HostPort')" "$P1" "inspect: NetworkSettings.Ports"
expect_eq "$(jqc r1 '.HostConfig.PortBindings["5000/tcp"][0] | "\(.HostIp)|\(.HostPort)"')" "0.0.0.0|" \
    "inspect: PortBindings keeps HostPort empty"
expect_match "$(timeout 20 "$BERTH" ps | grep ' r1$')" "0\.0\.0\.0:$P1->5000/tcp" "ps shows the port"

# -p IP::PORT and /tcp
bx run -d --name r2 -p 127.0.0.1::5000/tcp pt/bb:1 $HTTPD 5000
ok "run -d -p 127.0.0.1::5000/tcp"
bx port r2 5000
expect_match "$OUT" '^127\.0\.0\.1:[0-9]+$' "port r2 5000: on 127.0.0.1"
P2=$(hport "$OUT")
expect_ne "$P2" "$P1" "two containers: different random ports"
check; served "$P2" | grep -q page3610 || fail "-p 127.0.0.1::5000: httpd not reachable on $P2"
check; ss -Htln "sport = :$P2" | grep -q '127.0.0.1:' || fail "-p 127.0.0.1::5000: not bound to 127.0.0.1"
# a fixed and a random port together
FP=$(free_port)
bx run -d --name r3 -p "127.0.0.1:$FP:5000" -p 127.0.0.1::5000 pt/bb:1 $HTTPD 5000
ok "run -d with a fixed and a random binding of one port"
bx port r3 5000
check; [ "$(printf '%s\n' "$OUT" | grep -c .)" -eq 2 ] || fail "port r3 5000: two bindings, got $OUT"
expect_eq "$(printf '%s\n' "$OUT" | head -1)" "127.0.0.1:$FP" "port r3 5000: the fixed one first"
P3=$(hport "$(printf '%s\n' "$OUT" | tail -1)")
check; served "$P3" | grep -q page3610 || fail "r3: the random binding does not serve"

# three at once: three different ports, each serving
for i in 1 2 3; do
    timeout 60 "$BERTH" run -d --name "c$i" -p 127.0.0.1::5000 pt/bb:1 $HTTPD 5000 \
        >/dev/null 2>"$TMP/c$i.err" &
done
wait
CPS=""
for i in 1 2 3; do
    bx port "c$i" 5000
    ok "concurrent run c$i" && CPS="$CPS $(hport "$OUT")"
done
expect_eq "$(printf '%s\n' $CPS | sort -u | grep -c .)" 3 "concurrent runs: three different ports ($CPS)"
for p in $CPS; do
    check; served "$p" | grep -q page3610 || fail "concurrent runs: nothing served on $p"
done
bx rm -f c1 c2 c3

# ---- 2. -P: the image's EXPOSE and --expose -------------------------------------------
bx run -d --name pa -P --expose 6001 --expose 6100-6101/udp pt/exp:1 $HTTPD 6000
ok "run -d -P"
bx port pa
LINES=$OUT
expect_match "$LINES" "6000/tcp -> 0\.0\.0\.0:[0-9]+" "-P: the image's EXPOSE 6000"
expect_match "$LINES" "6001/tcp -> 0\.0\.0\.0:[0-9]+" "-P: --expose 6001"
check; ! printf '%s\n' "$LINES" | grep -q udp || fail "-P: a udp port published: $LINES"
expect_eq "$(jqc pa .HostConfig.PublishAllPorts)" true "-P: PublishAllPorts"
expect_eq "$(jqc pa '.HostConfig.PortBindings | length')" 0 "-P: no PortBindings"
bx port pa 6000
PA=$(hport "$OUT")
check; served "$PA" | grep -q page3610 || fail "-P: httpd on 6000 not reachable on $PA"
bx port pa 7000/udp
check; [ "$RC" -eq 1 ] || fail "port pa 7000/udp: exit $RC"
one_line "port of a udp port only exposed" "No public port '7000/udp' published for pa"

# ---- 3. berth port's errors ------------------------------------------------------------
bx port r1 5001
check; [ "$RC" -eq 1 ] || fail "port r1 5001: expected exit 1, got $RC"
one_line "port not published" "^berth port: No public port '5001/tcp' published for r1$"
bx port no-such 5000
check; [ "$RC" -eq 1 ] || fail "port of an unknown container: exit $RC"
one_line "port of an unknown container" "No such container: no-such"
for bad in abc 0 70000 5000/sctp; do
    bx port r1 "$bad"
    check; [ "$RC" -eq 1 ] || fail "port r1 $bad: exit $RC"
    one_line "port r1 $bad" "invalid port"
done
bx port
check; [ "$RC" -eq 2 ] || fail "port without arguments: exit $RC"

# ---- 4. rm frees the port; stop/start, restart and a restart policy keep it ---------
bx rm -f r2
ok "rm -f r2"
check; ! listening "$P2" || fail "rm: port $P2 still in use"
check; python3 -c "import socket; s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $P2)); s.listen(1)" ||
    fail "rm: port $P2 cannot be bound again"

bx stop -t 1 r1
ok "stop r1"
check; ! listening "$P1" || fail "stop: port $P1 still bound"
bx port r1
expect_eq "$OUT" "" "port of a stopped container: nothing"
check; timeout 20 "$BERTH" ps -a | grep ' r1$' | grep -q -- '->' && fail "ps -a: ports of a stopped container"
bx start r1
ok "start r1"
bx port r1 5000
expect_eq "$OUT" "0.0.0.0:$P1" "start: the same port again"
check; waitfor 10 served "$P1" || fail "start: not served on $P1"
bx restart -t 1 pa
ok "restart pa"
bx port pa 6000
expect_eq "$(hport "$OUT")" "$PA" "restart: the same port again"
check; waitfor 10 served "$PA" || fail "restart: not served on $PA"
# a port taken while it was stopped: another one, recorded
bx stop -t 1 r3
python3 -c "
import socket, time, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $P3)); s.listen(1); print('up', flush=True); time.sleep(30)" >"$TMP/hold.out" &
HOLD=$!
at_exit "kill $HOLD 2>/dev/null"
check; waitfor 10 grep -q up "$TMP/hold.out" || fail "cannot hold port $P3"
bx start r3
ok "start r3 while its random port is taken"
bx port r3 5000
NEW3=$(hport "$(printf '%s\n' "$OUT" | tail -1)")
expect_ne "$NEW3" "$P3" "start: another port when the old one is taken"
expect_eq "$(printf '%s\n' "$OUT" | head -1)" "127.0.0.1:$FP" "start: the fixed port stays"
check; waitfor 10 served "$NEW3" || fail "start: not served on the new port $NEW3"
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null
# a restart policy: the monitor keeps its listener
bx run -d --name rp --restart always -p 127.0.0.1::5000 pt/bb:1 sh -c "sleep 1; exec $HTTPD 5000"
ok "run -d --restart always -p 127.0.0.1::5000"
bx port rp 5000
PR=$(hport "$OUT")
check; waitfor 15 served "$PR" || fail "restart policy: not served"
kill -9 "$(jqc rp .State.Pid)"
check; waitfor 15 sh -c "[ \"\$(timeout 20 '$BERTH' inspect rp | jq -r '.[0].RestartCount')\" -ge 1 ]" ||
    fail "restart policy: not restarted"
bx port rp 5000
expect_eq "$(hport "$OUT")" "$PR" "restart policy: the same port"
check; waitfor 15 served "$PR" || fail "restart policy: not served again"

# --network host: published ports are discarded, as docker does
bx run --rm --network host -p 5000 -P pt/bb:1 true
ok "run --network host -p 5000 -P"
expect_eq "$ERR" "WARNING: Published ports are discarded when using host network mode" \
    "--network host -p: docker's warning"

# ---- 5. bad -p values ----------------------------------------------------------------------
BEFORE=$(count_containers)
for bad in 0 70000 abc 1.2.3.4.5::80 1:2:3:80 8000-8001:80 5000/udp :0 ""; do
    bx run -d -p "$bad" pt/bb:1 true
    check; [ "$RC" -eq 125 ] || fail "run -p '$bad': expected exit 125, got $RC"
    one_line "run -p '$bad'" '^berth run: invalid '
done
expect_eq "$(count_containers)" "$BEFORE" "bad -p: no container made"
bx port r1 5000
expect_eq "$OUT" "0.0.0.0:$P1" "bad -p: r1 untouched"

# ---- 6. compose ------------------------------------------------------------------------
PROJ=$TMP/proj
mkdir -p "$PROJ"
cat >"$PROJ/compose.yaml" <<EOF
services:
  web:
    image: pt/bb:1
    command: ["httpd", "-f", "-h", "/$WWW", "-p", "5000"]
    stop_grace_period: 1s
    ports:
      - "5000"
      - "127.0.0.1::5001"
      - target: 5002
        host_ip: 127.0.0.1
      - "5003/udp"
EOF
bc -p ports3610 up -d
ok "compose up -d with ports without a host port" || finish
bc -p ports3610 ps
ROW=$(printf '%s\n' "$OUT" | grep 'ports3610-web-1')
expect_match "$ROW" "0\.0\.0\.0:[0-9]+->5000/tcp" "compose ps: 5000's host port"
expect_match "$ROW" "127\.0\.0\.1:[0-9]+->5001/tcp" "compose ps: 5001's host port"
expect_match "$ROW" "127\.0\.0\.1:[0-9]+->5002/tcp" "compose ps: the long syntax's host port"
CP=$(printf '%s\n' "$ROW" | grep -oE '0\.0\.0\.0:[0-9]+->5000/tcp' | sed -E 's/.*:([0-9]+)->.*/\1/')
check; waitfor 10 served "$CP" || fail "compose: web not reachable on the port compose ps shows ($CP)"
bc -p ports3610 port web 5000
ok "compose port web 5000"
expect_eq "$OUT" "0.0.0.0:$CP" "compose port web 5000"
expect_eq "$(jqc ports3610-web-1 '.Config.ExposedPorts | has("5003/udp")')" true \
    "compose: an unpublished udp port is only exposed"
bc -p ports3610 port web 5009
check; [ "$RC" -eq 1 ] || fail "compose port web 5009: exit $RC"
expect_match "$ERR" "No public port '5009/tcp' published for web" "compose port: not published"
bc -p ports3610 port nosuch 5000
rc_fails "compose port of an unknown service"
bc -p ports3610 up -d
ok "compose up -d again"
bc -p ports3610 port web 5000
expect_eq "$OUT" "0.0.0.0:$CP" "compose up again: not recreated, same port"
bc -p ports3610 down
ok "compose down"
check; ! listening "$CP" || fail "compose down: port $CP still bound"

# ---- the end: nothing left --------------------------------------------------------------
for c in $(timeout 20 "$BERTH" ps -aq); do timeout 30 "$BERTH" rm -f "$c" >/dev/null 2>&1; done
expect_eq "$(count_containers)" 0 "containers left"
check; waitfor 5 sh -c "! pgrep -f 'httpd -f -h /[w]$WWW'" || fail "processes left: $(pgrep -af "httpd -f -h /$WWW")"
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
