#!/bin/bash
# t3625-run-details: details of run, stop and start as a docker user sees
# them. Needs root.
#
#   - run --network A --network B --network-alias X: the alias is A's only
#     (docker's legacy alias goes to the first network), B's has none;
#   - inspect of an exited container: NetworkSettings.Ports {} (the host
#     port is free); start publishes it again from PortBindings, the random
#     one on the port it had;
#   - a container whose monitor died: Ports {} as well;
#   - compose: a service's networks by priority, then by name; the first is
#     NetworkMode and has the default route (eth0);
#   - start -a across a log rotation: every line of this start, those
#     written to the file rotated away included, none of the last run's.
# Traffic only to 127.0.0.1 and the namespaces made here. The store
# ($BERTH_ROOT) and $HOME live in $TMP; the EXIT trap removes every
# container and network made here.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need ip ss
unset BERTH_NETWORK_POOL
listening() { ss -Htln "sport = :$1" | grep -q .; }

R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh cat echo sleep true ip; do ln -s busybox "$R/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" rd/bb:1
ok "import the busybox image" || finish

# ---- 1. --network-alias: the first network only ------------------------------------
bx network create --subnet 10.96.1.0/24 rda
ok "network create rda"
bx network create --subnet 10.96.2.0/24 rdb
ok "network create rdb"
bx run -d --name al --network rda --network rdb --network-alias x1 --network-alias x2 rd/bb:1 sleep 300
ok "run with two networks and aliases"
expect_eq "$(state al '.NetworkSettings.Networks.rda.Aliases | join(",")')" "x1,x2" "the first network has the aliases"
expect_eq "$(state al '.NetworkSettings.Networks.rdb.Aliases // [] | join(",")')" "" "the second has none"
expect_eq "$(state al .HostConfig.NetworkMode)" rda "NetworkMode: the first network"
bx run --rm --network rdb --network-alias y rd/bb:1 true
ok "one network and an alias"
bx run --rm --network-alias y rd/bb:1 true
rc_is "an alias without a network" 125 && one_line "an alias without a network" 'network-scoped aliases'
bx rm -f al
ok "rm -f al"

# ---- 2. ports of an exited container ---------------------------------------------
bx run -d --name pr -p 127.0.0.1::5000 rd/bb:1 sleep 300
ok "run -d -p 127.0.0.1::5000"
P=$(state pr '.NetworkSettings.Ports["5000/tcp"][0].HostPort')
check; [ "$P" -ge 1024 ] 2>/dev/null || fail "a random host port: $P"
bx stop -t 1 pr
ok "stop pr"
expect_eq "$(state pr '.NetworkSettings.Ports | tojson')" "{}" "exited: NetworkSettings.Ports {}"
expect_eq "$(state pr '.HostConfig.PortBindings["5000/tcp"][0].HostIp')" 127.0.0.1 "exited: PortBindings kept"
check; ! listening "$P" || fail "exited: port $P still listened on"
bx port pr
ok "port of an exited container" && expect_eq "$OUT" "" "port: nothing for an exited container"
bx start pr
ok "start pr"
expect_eq "$(state pr '.NetworkSettings.Ports["5000/tcp"][0].HostPort')" "$P" "start: the port it had"
expect_eq "$(state pr '.NetworkSettings.Ports["5000/tcp"][0].HostIp')" 127.0.0.1 "start: on its address"
check; waitfor 5 listening "$P" || fail "start: nothing listens on $P"
# a container that ends by itself
bx run -d --name pf -p 127.0.0.1::5001 rd/bb:1 sh -c 'exit 4'
ok "run -d pf"
bx wait pf
expect_eq "$OUT" 4 "pf ended"
expect_eq "$(state pf '.NetworkSettings.Ports | tojson')" "{}" "ended by itself: Ports {}"

# ---- 3. a monitor that died ------------------------------------------------------
MON=$(state pr .Berth.MonitorPid)
check; [ "$MON" -gt 1 ] 2>/dev/null || fail "the monitor's pid: $MON"
CPID=$(state pr .State.Pid)
kill -9 "$MON" 2>/dev/null
[ "$CPID" -gt 1 ] 2>/dev/null && kill -9 "$CPID" 2>/dev/null
waitfor 5 test "$(state pr .State.Running)" = false
expect_eq "$(state pr .State.Running)" false "monitor killed: not running"
expect_eq "$(state pr '.NetworkSettings.Ports | tojson')" "{}" "monitor killed: Ports {}"

# ---- 4. start -a across a log rotation ------------------------------------------
# the first run writes ten lines (~750 bytes of json-file), the start five
# more: the log rotates (max-size 1k) after the third
bx run -d --name rot --log-opt max-size=1k --log-opt max-file=3 rd/bb:1 sh -c \
    'if [ -e /tmp/ran ]; then for i in 0 1 2 3 4; do echo b$i; done;
     else touch /tmp/ran; for i in 0 1 2 3 4 5 6 7 8 9; do echo a$i; done; fi'
ok "run -d rot"
bx wait rot
bx start -a rot
ok "start -a rot"
expect_eq "$(printf '%s' "$OUT" | tr '\n' ' ')" "b0 b1 b2 b3 b4" "start -a: all of this start's output"
LOG=$(state rot .LogPath)
check; [ -e "$LOG.1" ] || fail "the log did not rotate: $(ls "$(dirname "$LOG")")"
bx logs rot
expect_eq "$(printf '%s' "$OUT" | grep -c .)" 15 "logs: both runs"

# ---- 5. compose: networks by priority ---------------------------------------------
PROJ=$TMP/pri
mkdir -p "$PROJ"
cat >"$PROJ/compose.yaml" <<'YML'
services:
  byname:
    image: rd/bb:1
    command: ["sleep", "300"]
    networks: [zed, alpha]
  bypri:
    image: rd/bb:1
    command: ["sleep", "300"]
    networks:
      alpha:
      zed: {priority: 100}
networks:
  alpha:
  zed:
YML
(cd "$PROJ" && bx compose up -d; echo "$RC" >"$TMP/rc"; printf '%s' "$ERR" >"$TMP/err")
RC=$(cat "$TMP/rc")
check; [ "$RC" -eq 0 ] || fail "compose up: exit $RC: $(cat "$TMP/err")"
expect_eq "$(state pri-byname-1 .HostConfig.NetworkMode)" pri_alpha "same priority: by name"
expect_eq "$(state pri-byname-1 '.NetworkSettings.Networks | keys_unsorted | join(",")')" pri_alpha,pri_zed \
    "same priority: Networks by name"
expect_eq "$(state pri-bypri-1 .HostConfig.NetworkMode)" pri_zed "priority 100 first"
ZGW=$(state pri-bypri-1 .NetworkSettings.Networks.pri_zed.Gateway)
bx exec pri-bypri-1 ip -o -4 addr show eth0
expect_match "$OUT" "inet $(state pri-bypri-1 .NetworkSettings.Networks.pri_zed.IPAddress)/" \
    "eth0 on the first network"
bx exec pri-bypri-1 ip route
expect_match "$OUT" "default via $ZGW " "the default route through the first network"
cat >"$PROJ/compose.yaml" <<'YML'
services:
  bad:
    image: rd/bb:1
    networks: {alpha: {priority: high}}
networks:
  alpha:
YML
(cd "$PROJ" && bx compose up -d; echo "$RC" >"$TMP/rc"; printf '%s' "$ERR" >"$TMP/err")
RC=$(cat "$TMP/rc")
check; [ "$RC" -ne 0 ] || fail "a priority not a number: accepted"
expect_match "$(cat "$TMP/err")" 'services\.bad\.networks\.alpha\.priority: must be an integer' "a bad priority: the key"
expect_eq "$(timeout 20 "$BERTH" ps -a | grep -c pri-bad)" 0 "a bad priority: nothing made"

finish
