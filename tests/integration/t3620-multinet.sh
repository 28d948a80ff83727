#!/bin/bash
# t3620-multinet: a container on several user-defined networks, as a user of
# berth run --network (repeated), berth network connect / disconnect and a
# compose service with several networks sees it. Needs root.
#
#   - run --network A --network B --network-alias: eth0 on A, eth1 on B, the
#     alias on A only, the default route through A;
#   - it reaches a container only on A and one only on B by name; they reach
#     it by name and alias, each at its address on their network; the A-only
#     and B-only containers cannot reach each other;
#   - hosts files on every side; inspect (NetworkSettings.Networks,
#     HostConfig.NetworkMode, none and host recorded as such);
#   - network connect of a running container to a third network (reachable
#     there by name and --alias), disconnect (gone from hosts files,
#     unreachable, interface gone); connect / disconnect of a stopped
#     container change what its next start joins;
#   - published ports after the first (and the last) network is disconnected;
#     HostConfig.NetworkMode unchanged by connect and disconnect; a restart
#     policy does not put back networks that were disconnected; a lease one
#     container holds on its hosts file does not stall a connect of another;
#   - stop + start joins both networks again;
#   - network rm refused while a container is on it;
#   - a compose service on two networks reaches services on each;
#   - errors: connect to an unknown network or container, twice, disconnect
#     when not on it, bad aliases, --network host (or none) with another;
#   - `ip link`, `ip addr` and `ip route` of the host are the same before and
#     after.
# Traffic goes only between the namespaces made here. The EXIT trap removes
# every container and network and unmounts what is left under $TMP.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need ip pgrep curl python3
unset BERTH_NETWORK_POOL
# refused WHAT REGEX ARGS...: berth ARGS fails with one line matching REGEX.
refused() {
    local what=$1 re=$2
    shift 2
    bx "$@"
    rc_fails "$what" && one_line "$what" "$re"
}
host_net() { ip -o link show | sed 's/ qlen [0-9]*//'; ip -o addr show; ip route show table all; }
ctr_json() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r ".[0]$2"; }
net_json() { timeout 20 "$BERTH" network inspect "$1" 2>/dev/null | jq -r ".[0]$2"; }
ip_on() { ctr_json "$1" ".NetworkSettings.Networks[\"$2\"].IPAddress"; }
# get CONTAINER URL: wget from inside a running container; its output.
get() { bx exec "$1" timeout 5 wget -q -O- "$2"; }
# get_fails CONTAINER URL: the same where it must fail (it fails at once, or
# by the timeout: a name nothing answers for, a packet nothing routes)
get_fails() { bx exec "$1" timeout 2 wget -q -O- "$2"; }
# web NAME TEXT ARGS...: a detached httpd on port 80 serving TEXT.
web() {
    local name=$1 text=$2
    shift 2
    bx run -d --name "$name" "$@" rt/bb:1 sh -c "mkdir -p $WWW && echo $text >$WWW/index.html && exec httpd -f -p 80 -h $WWW"
    ok "run -d $name" || return 1
}
hosts_of() { timeout 20 "$BERTH" exec "$1" cat /etc/hosts 2>/dev/null; }
# hosts_line CONTAINER NAME: the address CONTAINER's hosts file gives NAME.
hosts_addr() { hosts_of "$1" | awk -v n="$2" '{ for (i = 2; i <= NF; i++) if ($i == n) { print $1; exit } }'; }
lacks_host() { ! hosts_of "$1" | grep -qw -- "$2"; }
has_host() { hosts_of "$1" | grep -qw -- "$2"; }
links_of() { timeout 20 "$BERTH" exec "$1" ip -o link 2>/dev/null | awk '{ sub(/[@:].*/, "", $2); print $2 }' | tr '\n' ' '; }

HOST_BEFORE=$(host_net)
TAG=$((RANDOM % 9000 + 1000))
WWW=/t3620www$TAG
LONG=36$TAG

# ---- the image ---------------------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh cat echo sleep mkdir httpd wget ip hostname grep true timeout; do ln -s busybox "$R/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" rt/bb:1
ok "import the busybox image" || finish

bx network create --subnet 10.91.1.0/24 neta
ok "network create neta"
bx network create --subnet 10.91.2.0/24 netb
ok "network create netb"
bx network create --subnet 10.91.3.0/24 netc
ok "network create netc"

# ---- 1. one container on two networks ---------------------------------------------------------
web onlya from-a --network neta
web onlyb from-b --network netb
web both from-both --network neta --network netb --network-alias dual
BA=$(ip_on both neta)
BB=$(ip_on both netb)
expect_match "$BA" '^10\.91\.1\.[0-9]+$' "both: an address on neta"
expect_match "$BB" '^10\.91\.2\.[0-9]+$' "both: an address on netb"
expect_eq "$(links_of both)" "lo eth0 eth1 " "both: lo, eth0, eth1"
bx exec both ip -o -4 addr show eth0
expect_match "$OUT" "inet $BA/24" "eth0 holds the neta address"
bx exec both ip -o -4 addr show eth1
expect_match "$OUT" "inet $BB/24" "eth1 holds the netb address"
bx exec both ip route
expect_match "$OUT" "default via 10.91.1.1 dev eth0" "the default route goes through the first network"
expect_eq "$(links_of onlya)" "lo eth0 " "a container on one network: lo, eth0"

# reachability, by name, both ways
get both http://onlya/
ok "both -> onlya" && expect_eq "$OUT" from-a "both reaches onlya by name"
get both http://onlyb/
ok "both -> onlyb" && expect_eq "$OUT" from-b "both reaches onlyb by name"
get onlya http://both/
ok "onlya -> both" && expect_eq "$OUT" from-both "onlya reaches both by name"
get onlya http://dual/
expect_eq "$OUT" from-both "onlya reaches both by its alias"
get onlyb http://both/
ok "onlyb -> both" && expect_eq "$OUT" from-both "onlyb reaches both by name"
get_fails onlyb http://dual/
rc_fails "the alias is neta's only: onlyb cannot use it"
# the A-only and B-only ones are apart
get_fails onlya "http://$(ip_on onlyb netb)/"
rc_fails "onlya cannot reach onlyb's address"
get_fails onlyb "http://$(ip_on onlya neta)/"
rc_fails "onlyb cannot reach onlya's address"
get_fails onlya http://onlyb/
rc_fails "onlya cannot reach onlyb by name"

# hosts files
expect_eq "$(hosts_addr onlya both)" "$BA" "onlya's hosts: both at its neta address"
expect_eq "$(hosts_addr onlya dual)" "$BA" "onlya's hosts: the alias at the neta address"
expect_eq "$(hosts_addr onlyb both)" "$BB" "onlyb's hosts: both at its netb address"
expect_eq "$(hosts_addr both onlya)" "$(ip_on onlya neta)" "both's hosts: onlya"
expect_eq "$(hosts_addr both onlyb)" "$(ip_on onlyb netb)" "both's hosts: onlyb"
check; lacks_host onlya onlyb || fail "onlya's hosts lists onlyb: $(hosts_of onlya)"
check; lacks_host onlyb onlya || fail "onlyb's hosts lists onlya: $(hosts_of onlyb)"
check; ! hosts_of onlya | grep -q "$BB" || fail "onlya's hosts has both's netb address"

# inspect
expect_eq "$(ctr_json both '.NetworkSettings.Networks | keys_unsorted | join(",")')" neta,netb "Networks: both, in order"
expect_eq "$(ctr_json both .HostConfig.NetworkMode)" neta "NetworkMode: the first network"
expect_eq "$(ctr_json both .NetworkSettings.IPAddress)" "$BA" "IPAddress: the first network's"
expect_eq "$(ctr_json both '.NetworkSettings.Networks.netb.Gateway')" 10.91.2.1 "Networks.netb.Gateway"
expect_eq "$(ctr_json both '.NetworkSettings.Networks.netb.IPPrefixLen')" 24 "Networks.netb.IPPrefixLen"
expect_eq "$(ctr_json both '.NetworkSettings.Networks.netb.NetworkID')" "$(net_json netb .Id)" "Networks.netb.NetworkID"
expect_eq "$(ctr_json both ' | [.NetworkSettings.Networks[].Aliases // [] | join(",")] | join(" ")')" "dual " \
    "--network-alias on the first network only"
expect_match "$(ctr_json both .NetworkSettings.Networks.netb.MacAddress)" '^02:42(:[0-9a-f]{2}){4}$' "Networks.netb.MacAddress"
expect_ne "$(ctr_json both .NetworkSettings.Networks.netb.MacAddress)" \
    "$(ctr_json both .NetworkSettings.Networks.neta.MacAddress)" "a MAC address per interface"
BOTH=$(ctr_json both .Id)
expect_eq "$(net_json neta ".Containers[\"$BOTH\"].IPv4Address")" "$BA/24" "network inspect neta: both"
expect_eq "$(net_json netb ".Containers[\"$BOTH\"].IPv4Address")" "$BB/24" "network inspect netb: both"
bx run -d --name nonet --network none rt/bb:1 sleep $LONG
expect_eq "$(ctr_json nonet .HostConfig.NetworkMode)" none "--network none: NetworkMode none"
bx run -d --name hostnet --network host rt/bb:1 sleep $LONG
expect_eq "$(ctr_json hostnet .HostConfig.NetworkMode)" host "--network host: NetworkMode host"
bx run -d --name plain rt/bb:1 sleep $LONG
expect_eq "$(ctr_json plain .HostConfig.NetworkMode)" default "no --network: NetworkMode default"

# ---- 2. connect / disconnect a running container ------------------------------------------------
web onlyc from-c --network netc
get_fails onlyc http://both/
rc_fails "before connect, onlyc cannot reach both"
bx network connect --alias viac netc both
ok "network connect --alias netc both" && expect_eq "$OUT" "" "connect prints nothing"
BC=$(ip_on both netc)
expect_match "$BC" '^10\.91\.3\.[0-9]+$' "connect: an address on netc"
expect_eq "$(links_of both)" "lo eth0 eth1 eth2 " "connect: eth2"
bx exec both ip -o -4 addr show eth2
expect_match "$OUT" "inet $BC/24" "eth2 holds the netc address"
get onlyc http://both/
ok "onlyc -> both after connect" && expect_eq "$OUT" from-both "reachable on the third network by name"
get onlyc http://viac/
expect_eq "$OUT" from-both "reachable by the connect alias"
get both http://onlyc/
expect_eq "$OUT" from-c "both reaches onlyc"
expect_eq "$(hosts_addr onlyc both)" "$BC" "onlyc's hosts: both at its netc address"
check; lacks_host onlya viac || fail "the netc alias leaked into neta's hosts: $(hosts_of onlya)"
expect_eq "$(ctr_json both '.NetworkSettings.Networks | keys_unsorted | join(",")')" neta,netb,netc "Networks after connect"
expect_eq "$(ctr_json both '.NetworkSettings.Networks.netc.Aliases | join(",")')" viac "Networks.netc.Aliases"
expect_eq "$(ctr_json both .HostConfig.NetworkMode)" neta "NetworkMode unchanged by connect"
bx exec both ip route
expect_match "$OUT" "default via 10.91.1.1 dev eth0" "connect keeps the default route"
refused "connect twice" '^berth network connect: endpoint with name both already exists in network netc$' \
    network connect netc both
bx network disconnect netc both
ok "network disconnect netc both"
check; waitfor 5 lacks_host onlyc both || fail "onlyc's hosts still lists both: $(hosts_of onlyc)"
check; lacks_host onlyc viac || fail "onlyc's hosts still lists the alias"
check; lacks_host both onlyc || fail "both's hosts still lists onlyc: $(hosts_of both)"
get_fails onlyc "http://$BC/"
rc_fails "after disconnect, both's netc address is unreachable"
get_fails onlyc http://both/
rc_fails "after disconnect, both is unreachable by name from netc"
expect_eq "$(links_of both)" "lo eth0 eth1 " "disconnect: eth2 is gone"
expect_eq "$(ctr_json both '.NetworkSettings.Networks | keys_unsorted | join(",")')" neta,netb "Networks after disconnect"
expect_eq "$(net_json netc ".Containers[\"$BOTH\"] // \"none\"")" none "netc's inspect no longer lists both"
get onlya http://both/
expect_eq "$OUT" from-both "neta still reaches both after the netc disconnect"
refused "disconnect when not on it" '^berth network disconnect: container both is not connected to network netc$' \
    network disconnect netc both

# disconnecting the first network: the next one's gateway becomes the default route
MPORT=$(free_port)
web mover from-mover --network netc --network netb -p 127.0.0.1:$MPORT:80
expect_eq "$(curl -s --max-time 5 "http://127.0.0.1:$MPORT/")" from-mover "a published port, before any disconnect"
bx network disconnect -f netc mover
ok "disconnect -f of the first network"
bx exec mover ip route
expect_match "$OUT" "default via 10.91.2.1 dev eth1" "the default route moves to the next network"
expect_eq "$(ctr_json mover .HostConfig.NetworkMode)" netc "NetworkMode: what it was made with, after a disconnect"
expect_eq "$(ctr_json mover .NetworkSettings.IPAddress)" "$(ip_on mover netb)" "IPAddress: the next network's"
get onlyb http://mover/
expect_eq "$OUT" from-mover "still reachable on the next network"
expect_eq "$(curl -s --max-time 5 "http://127.0.0.1:$MPORT/")" from-mover "the published port after disconnecting the first network"
bx network disconnect netb mover
ok "disconnect the last network"
expect_eq "$(ctr_json mover .NetworkSettings.IPAddress)" "" "IPAddress: none on no network"
expect_eq "$(curl -s --max-time 5 "http://127.0.0.1:$MPORT/")" from-mover "the published port on no network (loopback)"
bx network connect neta mover
ok "connect the network-less one to neta"
expect_eq "$(ctr_json mover .HostConfig.NetworkMode)" netc "NetworkMode: unchanged by a connect"
expect_eq "$(curl -s --max-time 5 "http://127.0.0.1:$MPORT/")" from-mover "the published port after a connect"
bx rm -f mover

# a restart policy does not put back the networks the user disconnected
web again from-again --restart always --network neta --network netb
bx network disconnect neta again
ok "disconnect neta from a --restart always container"
bx network disconnect netb again
ok "disconnect netb from it"
APID=$(ctr_json again .State.Pid)
kill -9 "$APID"
restarted() { [ "$(ctr_json again .RestartCount)" -ge 1 ] && [ "$(ctr_json again .State.Running)" = true ] &&
    [ "$(ctr_json again .State.Pid)" != "$APID" ]; }
check; waitfor 15 restarted || fail "the --restart always container did not come back"
expect_eq "$(ctr_json again '.NetworkSettings.Networks | keys | join(",")')" "" "restart: no network put back"
expect_eq "$(links_of again)" "lo " "restart: only lo"
expect_eq "$(net_json neta ".Containers[\"$(ctr_json again .Id)\"] // \"none\"")" none "restart: not on neta"
bx rm -f again

# a container that holds a lease on its hosts file does not stall the others
LEASED=$(ctr_json onlyb .Id)
python3 -c '
import fcntl, os, signal, sys, time
signal.signal(signal.SIGIO, signal.SIG_IGN)
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
open(sys.argv[2], "w").close()
time.sleep(60)
' "$BERTH_ROOT/containers/$LEASED/hosts" "$TMP/leased" &
LEASE_PID=$!
at_exit "kill $LEASE_PID 2>/dev/null"
check; waitfor 5 test -e "$TMP/leased" || fail "cannot take a lease on a hosts file"
web leaser from-leaser --network neta
T0=$(date +%s)
bx network connect netb leaser
ok "connect next to a container holding a lease on its hosts file"
check; [ $(($(date +%s) - T0)) -lt 10 ] || fail "network connect waited for the lease: $(($(date +%s) - T0)) s"
expect_match "$ERR" "hosts file of container ${LEASED:0:12} is leased" "the leased file is reported"
kill "$LEASE_PID" 2>/dev/null; wait "$LEASE_PID" 2>/dev/null
bx rm -f leaser
check; waitfor 5 lacks_host onlyb leaser || fail "onlyb's hosts file is not updated once the lease is gone"

# ---- 3. stop + start joins both again --------------------------------------------------------------
bx stop -t 1 both
ok "stop both"
check; waitfor 5 lacks_host onlya both || fail "a stopped container stays in neta's hosts: $(hosts_of onlya)"
check; waitfor 5 lacks_host onlyb both || fail "a stopped container stays in netb's hosts"
expect_eq "$(ctr_json both '.NetworkSettings.Networks | keys_unsorted | join(",")')" neta,netb "a stopped container keeps its networks"
expect_eq "$(ctr_json both '.NetworkSettings.Networks.netb.IPAddress')" "" "a stopped container has no address"
bx start both
ok "start both"
expect_match "$(ip_on both neta)" '^10\.91\.1\.' "start: an address on neta again"
expect_match "$(ip_on both netb)" '^10\.91\.2\.' "start: an address on netb again"
expect_eq "$(links_of both)" "lo eth0 eth1 " "start: eth0 and eth1 again"
check; waitfor 5 has_host onlya dual || fail "start: the alias is not back in neta's hosts"
get onlya http://dual/
expect_eq "$OUT" from-both "start: reachable from neta by alias"
get onlyb http://both/
expect_eq "$OUT" from-both "start: reachable from netb by name"
get both http://onlyb/
expect_eq "$OUT" from-b "start: reaches netb"

# connect / disconnect of a stopped container: what the next start joins
bx stop -t 1 both
bx network connect --alias laterc netc both
ok "connect a stopped container"
expect_eq "$(ctr_json both '.NetworkSettings.Networks.netc.IPAddress')" "" "recorded, with no address yet"
expect_eq "$(net_json netc ".Containers[\"$BOTH\"] // \"none\"")" none "a stopped container is on no network yet"
bx network disconnect netb both
ok "disconnect a stopped container"
bx start both
ok "start after connect/disconnect while stopped"
expect_eq "$(ctr_json both '.NetworkSettings.Networks | keys_unsorted | join(",")')" neta,netc "start joins the recorded networks"
expect_eq "$(links_of both)" "lo eth0 eth1 " "two interfaces"
check; waitfor 5 has_host onlyc laterc || fail "the alias given while stopped is not in netc's hosts"
get onlyc http://laterc/
expect_eq "$OUT" from-both "reachable on the network connected while stopped"
get_fails onlyb http://both/
rc_fails "not on the network disconnected while stopped"
check; lacks_host onlyb both || fail "netb's hosts still lists both"
bx network connect netb both
ok "connect netb again, running"
get onlyb http://both/
expect_eq "$OUT" from-both "reachable on netb again"

# a restart policy joins what was connected since the container was made
bx run -d --name flap --network neta --network-alias flapper --restart always rt/bb:1 sh -c 'sleep 2; exit 3'
ok "run -d --restart always on neta"
bx network connect --alias flapb netb flap
ok "connect the flapping container to netb"
check; waitfor 15 sh -c "[ \"\$(timeout 20 '$BERTH' inspect flap | jq '.[0].RestartCount')\" -ge 1 ]" ||
    fail "the container was not restarted"
check; waitfor 10 sh -c "timeout 20 '$BERTH' inspect flap | jq -r '.[0].NetworkSettings.Networks.netb.IPAddress' | grep -q '^10\.91\.2\.'" ||
    fail "after its restart the container has no netb address: $(ctr_json flap .NetworkSettings.Networks)"
expect_eq "$(ctr_json flap '.NetworkSettings.Networks | keys_unsorted | join(",")')" neta,netb "restarted: both networks recorded"
check; waitfor 5 has_host onlyb flapb || fail "restarted: not in netb's hosts files: $(hosts_of onlyb)"
bx rm -f flap
ok "rm -f flap"
check; waitfor 5 lacks_host onlyb flapb || fail "a removed container stays in netb's hosts files"

# ---- 4. network rm refused while a container is on it ----------------------------------------------
refused "rm of a network a multi-network container is on" 'has active endpoints' network rm netc
bx rm -f onlyc
refused "rm of netc while both is still on it" 'has active endpoints' network rm netc
expect_match "$(net_json netc .Name)" netc "netc kept"

# ---- 5. errors ------------------------------------------------------------------------------------------
refused "connect to an unknown network" 'nosuch' network connect nosuch both
refused "connect of an unknown container" '^berth network connect: No such container: nosuchctr$' \
    network connect neta nosuchctr
refused "disconnect from an unknown network" 'nosuch' network disconnect nosuch both
refused "disconnect of an unknown container" 'No such container: nosuchctr' network disconnect neta nosuchctr
refused "connect with a bad alias" 'invalid network alias' network connect --alias $'x\n6.6.6.6 evil' netb onlya
refused "connect of a --network host container" 'host network' network connect neta hostnet
refused "connect of a --network none container" 'none' network connect neta nonet
refused "connect with an alias with a slash" 'invalid network alias' network connect --alias ../x netb onlya
refused "connect to a network named with ../" 'No such network' network connect ../neta onlya
# racing connects of one container to one network: one wins, the others are refused
for i in 1 2 3 4; do
    timeout 60 "$BERTH" network connect netb onlya >/dev/null 2>"$TMP/race$i.err" &
done
wait
expect_eq "$(cat "$TMP"/race*.err | grep -c 'endpoint with name onlya already exists in network netb')" 3 \
    "three of four racing connects are refused"
expect_eq "$(links_of onlya)" "lo eth0 eth1 " "racing connects: one interface more"
expect_eq "$(net_json netb " | [.Containers[] | select(.Name == \"onlya\")] | length")" 1 "racing connects: one endpoint"
bx network disconnect netb onlya
ok "disconnect after the race"
bx network connect neta
check; [ "$RC" -eq 2 ] || fail "connect with one argument: exit $RC, not 2"
refused "--network host with another" 'conflicting options: cannot attach both user-defined and non-user-defined network-modes' \
    run --rm --network host --network neta rt/bb:1 true
check; [ "$RC" -eq 125 ] || fail "--network host --network neta: exit $RC, not 125"
refused "--network none with another" 'conflicting options' run --rm --network neta --network none rt/bb:1 true
refused "the same network twice" 'given twice' run --rm --network neta --network neta rt/bb:1 true
refused "an unknown second network" '^berth run: network nosuch not found$' run --rm --network neta --network nosuch rt/bb:1 true
expect_eq "$(ctr_json both '.NetworkSettings.Networks | keys_unsorted | join(",")')" neta,netc,netb "the errors changed nothing"
get onlya http://both/
expect_eq "$OUT" from-both "both still reachable after the errors"
expect_eq "$(ctr_json onlya '.NetworkSettings.Networks | keys | join(",")')" neta "onlya unchanged"

# ---- 6. compose: a service on two networks ---------------------------------------------------------------
PROJ=$TMP/mn
mkdir -p "$PROJ"
cat >"$PROJ/compose.yaml" <<YML
services:
  front:
    image: rt/bb:1
    command: ["sh", "-c", "mkdir -p $WWW && echo from-front >$WWW/index.html && exec httpd -f -p 80 -h $WWW"]
    stop_grace_period: 1s
    networks: [outside]
  back:
    image: rt/bb:1
    command: ["sh", "-c", "mkdir -p $WWW && echo from-back >$WWW/index.html && exec httpd -f -p 80 -h $WWW"]
    stop_grace_period: 1s
    networks:
      inside:
        aliases: [db]
  mid:
    image: rt/bb:1
    command: ["sh", "-c", "mkdir -p $WWW && echo from-mid >$WWW/index.html && exec httpd -f -p 80 -h $WWW"]
    stop_grace_period: 1s
    networks:
      outside:
        aliases: [api]
      inside:
networks:
  outside:
  inside:
YML
(cd "$PROJ" && bx compose up -d; echo "$RC" >"$TMP/rc")
RC=$(cat "$TMP/rc")
ok "compose up -d"
check; ! grep -q "only its first network" "$TMP/bx.out" "$TMP/bx.err" || fail "compose warns it joins only one network"
get mn-mid-1 http://front/
ok "mid -> front" && expect_eq "$OUT" from-front "mid reaches a service on outside"
get mn-mid-1 http://db/
ok "mid -> back" && expect_eq "$OUT" from-back "mid reaches a service on inside by alias"
get mn-front-1 http://api/
expect_eq "$OUT" from-mid "front reaches mid by its outside alias"
get mn-back-1 http://mid/
expect_eq "$OUT" from-mid "back reaches mid by service name"
get_fails mn-front-1 http://back/
rc_fails "front cannot reach back"
expect_eq "$(ctr_json mn-mid-1 '.NetworkSettings.Networks | keys_unsorted | join(",")')" mn_inside,mn_outside \
    "mid's Networks, by name (docker compose's order)"
expect_eq "$(ctr_json mn-mid-1 '.NetworkSettings.Networks.mn_outside.Aliases | join(",")')" mid,api \
    "the service name and its aliases on outside"
expect_eq "$(ctr_json mn-mid-1 '.NetworkSettings.Networks.mn_inside.Aliases | join(",")')" mid \
    "the service name on inside"
(cd "$PROJ" && bx compose down; echo "$RC" >"$TMP/rc")
RC=$(cat "$TMP/rc")
ok "compose down"
check; ! timeout 20 "$BERTH" network ls | grep -q mn_ || fail "compose down left networks"

# ---- the end: nothing left, the host saw nothing -------------------------------------------------------
bx rm -f both onlya onlyb nonet hostnet plain
ok "rm -f the containers"
bx network rm neta netb netc
ok "network rm neta netb netc"
expect_eq "$(ls -A "$BERTH_ROOT/networks" | grep -v '^lock$')" "" "no network directory left"
LEFT=$(pgrep -af "h $WWW|sleep $LONG" | grep -v pgrep)
check; [ -z "$LEFT" ] || fail "processes left: $LEFT"
expect_eq "$(host_net)" "$HOST_BEFORE" "the host's links, addresses and routes"
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
