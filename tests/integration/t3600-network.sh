#!/bin/bash
# t3600-network: user-defined networks, as a user of berth network and
# berth run --network sees them. Needs root.
#
#   - network create (default pool, $BERTH_NETWORK_POOL, --subnet, --label),
#     ls, ls -q, inspect (docker's shape), rm, prune;
#   - two containers on one network reach each other by name, alias and
#     hostname (busybox httpd + wget), both listening on port 80;
#   - a container on another network, or with none, cannot reach them;
#   - every container's /etc/hosts follows containers joining and leaving;
#   - -p to a container on a network (its server bound to its network
#     address only);
#   - container inspect: HostConfig.NetworkMode, NetworkSettings.Networks;
#   - an address is free again after `berth kill`, and after the monitor
#     itself is SIGKILLed (its endpoint is dropped when next found);
#   - network rm refused while a running container is on it, then works and
#     leaves no mount, namespace directory or process;
#   - errors: unknown network (create, inspect, rm, run), duplicate name,
#     bad and overlapping subnets, bad names and aliases, a bad pool;
#   - `ip link`, `ip addr` and `ip route` of the host are the same before and
#     after.
# Traffic goes only between the namespaces made here. The EXIT trap removes
# every container and unmounts every namespace file left under $TMP.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need curl ip pgrep
unset BERTH_NETWORK_POOL
# refused WHAT REGEX ARGS...: berth ARGS fails with one line matching REGEX.
refused() {
    local what=$1 re=$2
    shift 2
    bx "$@"
    rc_fails "$what" && one_line "$what" "$re"
}
# the host's links, addresses and routes
host_net() { ip -o link show | sed 's/ qlen [0-9]*//'; ip -o addr show; ip route show table all; }
net_names() { timeout 20 "$BERTH" network ls 2>/dev/null | awk 'NR > 1 { print $2 }' | tr '\n' ' '; }
net_json() { timeout 20 "$BERTH" network inspect "$1" 2>/dev/null | jq -r ".[0]$2"; }
ctr_json() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r ".[0]$2"; }
ip_of() { ctr_json "$1" .NetworkSettings.IPAddress; }
# fetch NET URL: wget from a fresh container on NET (or none); its output.
# (busybox's own timeout: its wget -T crashes in some builds; not as PID 1,
# which ignores the SIGTERM timeout sends)
fetch() {
    local net=$1
    shift
    bx run --rm --network "$net" rt/bb:1 sh -c 'timeout 5 wget -q -O- "$0"; exit $?' "$@"
}
# web NAME TEXT ARGS...: a detached httpd on port 80 serving TEXT.
web() {
    local name=$1 text=$2
    shift 2
    bx run -d --name "$name" "$@" rt/bb:1 sh -c "mkdir -p $WWW && echo $text >$WWW/index.html && exec httpd -f -p 80 -h $WWW"
    ok "run -d $name" || return 1
}
hosts_of() { timeout 20 "$BERTH" exec "$1" cat /etc/hosts 2>/dev/null; }
has_host() { hosts_of "$1" | grep -qw -- "$2"; }
lacks_host() { ! hosts_of "$1" | grep -qw -- "$2"; }

HOST_BEFORE=$(host_net)
# names of this run's own, to tell its processes from any other's
TAG=$((RANDOM % 9000 + 1000))
WWW=/t3600www$TAG
LONG=36$TAG

# ---- the image ---------------------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh cat echo sleep mkdir httpd wget nc ip hostname grep true timeout; do ln -s busybox "$R/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" rt/bb:1
ok "import the busybox image" || finish

# ---- 1. create, ls, inspect ----------------------------------------------------------
bx network create n1
ok "network create n1" && expect_match "$OUT" '^[0-9a-f]{64}$' "create prints the id"
N1=$OUT
bx network create --subnet 10.99.5.0/24 --label env=test --label tier=back n2
ok "network create --subnet --label n2"
BERTH_NETWORK_POOL=10.77.0.0/16/24 bx network create n3
ok "network create n3 from \$BERTH_NETWORK_POOL"
expect_eq "$(net_json n3 '.IPAM.Config[0].Subnet')" 10.77.0.0/24 "n3's subnet from the pool"
BERTH_NETWORK_POOL=10.77.0.0/16/24 bx network create n4
expect_eq "$(net_json n4 '.IPAM.Config[0].Subnet')" 10.77.1.0/24 "n4: the pool's next subnet"
bx network ls
ok "network ls" && expect_match "$(head -1 <<<"$OUT")" '^NETWORK ID +NAME +DRIVER +SCOPE$' "ls header"
expect_eq "$(net_names)" "n1 n2 n3 n4 " "ls lists the networks"
expect_match "$OUT" "${N1:0:12} +n1 +bridge +local" "ls line of n1"
bx network ls -q
expect_eq "$(grep -c . <<<"$OUT")" 4 "ls -q: one id a line"
expect_match "$OUT" "^${N1:0:12}" "ls -q: short ids"
bx network inspect n1
ok "network inspect n1"
expect_eq "$(jq -r '.[0].Name' <<<"$OUT")" n1 "inspect: Name"
expect_eq "$(jq -r '.[0].Id' <<<"$OUT")" "$N1" "inspect: Id"
expect_eq "$(jq -r '.[0].Driver' <<<"$OUT")" bridge "inspect: Driver"
expect_eq "$(jq -r '.[0].IPAM.Config[0].Subnet' <<<"$OUT")" 10.89.0.0/24 "inspect: the default pool's first subnet"
expect_eq "$(jq -r '.[0].IPAM.Config[0].Gateway' <<<"$OUT")" 10.89.0.1 "inspect: Gateway"
expect_eq "$(jq -c '.[0].Containers' <<<"$OUT")" '{}' "inspect: no Containers yet"
expect_match "$(jq -r '.[0].Created' <<<"$OUT")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "inspect: Created"
expect_eq "$(net_json n2 '.Labels | to_entries | map("\(.key)=\(.value)") | join(",")')" \
    "env=test,tier=back" "inspect: Labels"
expect_eq "$(net_json "${N1:0:8}" .Name)" n1 "inspect by id prefix"
bx network inspect n1 n2
expect_eq "$(jq -r '.[].Name' <<<"$OUT" | tr '\n' ' ')" "n1 n2 " "inspect of two networks"

# ---- 2. errors ---------------------------------------------------------------------------
refused "create of a name in use" '^berth network create: network with name n1 already exists$' network create n1
refused "create of host" 'network with name host already exists' network create host
refused "create of a bad subnet" 'invalid subnet nonsense' network create --subnet nonsense bad1
refused "create of a /31" 'invalid subnet 10.98.0.0/31' network create --subnet 10.98.0.0/31 bad2
refused "create of a subnet with no prefix" 'invalid subnet 10.98.0.0' network create --subnet 10.98.0.0 bad3
refused "create of an overlapping subnet" 'Pool overlaps with other one on this address space' \
    network create --subnet 10.99.0.0/16 bad4
refused "create of a subnet inside another" 'Pool overlaps' network create --subnet 10.99.5.128/25 bad5
refused "create of a loopback subnet" 'invalid subnet 127.1.0.0/16: loopback' network create --subnet 127.1.0.0/16 bad8
refused "create of a multicast subnet" 'invalid subnet 239.0.0.0/24' network create --subnet 239.0.0.0/24 bad9
refused "create of a huge subnet over 0/8" 'invalid subnet 0.0.0.0/1' network create --subnet 0.0.0.0/1 bad10
refused "create of a name with a slash" 'invalid network name' network create ../evil
refused "create of a name with a space" 'invalid network name' network create "a b"
BERTH_NETWORK_POOL=garbage refused "create with a bad pool" 'invalid BERTH_NETWORK_POOL' network create bad6
refused "create with another driver" 'plugin "overlay" not found' network create -d overlay bad7
refused "inspect of an unknown network" '^Error: No such network: nosuch$' network inspect nosuch
refused "rm of an unknown network" 'No such network: nosuch' network rm nosuch
refused "run on an unknown network" '^berth run: network nosuch not found$' run --rm --network nosuch rt/bb:1 true
refused "an alias without a network" 'network-scoped aliases are only supported for user-defined networks' \
    run --rm --network-alias x rt/bb:1 true
refused "an alias that would add a hosts line" 'invalid network alias' \
    run --rm --network n1 --network-alias $'x\n6.6.6.6 evil' rt/bb:1 true
expect_eq "$(net_names)" "n1 n2 n3 n4 " "nothing made or lost by the errors"
expect_eq "$(timeout 20 "$BERTH" ps -aq | grep -c .)" 0 "no container made by the errors"
expect_eq "$(ls "$BERTH_ROOT/networks" | grep -vc lock)" 4 "no network directory made by the errors"

# ---- 3. two containers reach each other by name, alias and hostname --------------------
web web1 from-web1 --network n1 --network-alias www --network-alias api
web web2 from-web2 --net n1 --hostname h2
IP1=$(ip_of web1)
IP2=$(ip_of web2)
expect_match "$IP1" '^10\.89\.0\.[0-9]+$' "web1's address is in n1's subnet"
expect_ne "$IP1" "$IP2" "two containers, two addresses"
fetch n1 http://web1/
ok "wget http://web1/ from n1" && expect_eq "$OUT" from-web1 "by name"
fetch n1 http://www/
ok "wget http://www/" && expect_eq "$OUT" from-web1 "by alias"
fetch n1 http://api/
expect_eq "$OUT" from-web1 "by the second alias"
fetch n1 http://web2/
ok "wget http://web2/" && expect_eq "$OUT" from-web2 "by name: another server on the same port"
fetch n1 http://h2/
expect_eq "$OUT" from-web2 "by hostname"
bx exec web1 timeout 5 wget -q -O- http://web2/
ok "web1 reaches web2" && expect_eq "$OUT" from-web2 "web1 -> web2"
bx exec web2 timeout 5 wget -q -O- http://www/
expect_eq "$OUT" from-web1 "web2 -> web1 by alias"
bx run --rm --network n1 rt/bb:1 ip route
expect_match "$OUT" "default via 10.89.0.1 dev eth0" "a container's default route is the gateway"

# ---- 4. other networks and none cannot reach them -------------------------------------------
fetch n2 "http://$IP1/"
rc_fails "wget of web1's address from n2"
fetch n2 http://web1/
rc_fails "wget of web1 by name from n2"
fetch none "http://$IP1/"
rc_fails "wget of web1's address with --network none"
bx run --rm rt/bb:1 sh -c 'timeout 5 wget -q -O- "$0"; exit $?' "http://$IP1/"
rc_fails "wget of web1's address with the default network"
bx run --rm --network none rt/bb:1 ip -o link
expect_eq "$(awk '{ print $2 }' <<<"$OUT" | tr '\n' ' ')" "lo: " "--network none: only lo"

# ---- 5. hosts files follow joins and leaves ---------------------------------------------------
bx run -d --name watcher --network n1 rt/bb:1 sleep $LONG
ok "run -d watcher"
check; has_host watcher web1 || fail "watcher's hosts lacks web1: $(hosts_of watcher)"
check; has_host watcher www || fail "watcher's hosts lacks www"
web late from-late --network n1 --network-alias latecomer
check; waitfor 5 has_host watcher latecomer || fail "watcher's hosts lacks the late joiner: $(hosts_of watcher)"
check; has_host web1 latecomer || fail "web1's hosts lacks the late joiner"
bx exec watcher timeout 5 wget -q -O- http://latecomer/
expect_eq "$OUT" from-late "the late joiner is reachable by alias"
bx stop -t 1 late
ok "stop late"
check; waitfor 5 lacks_host watcher latecomer || fail "watcher's hosts still has the stopped container: $(hosts_of watcher)"
check; lacks_host web2 late || fail "web2's hosts still has the stopped container"
expect_eq "$(ctr_json late .NetworkSettings.IPAddress)" "" "a stopped container has no address"
expect_eq "$(ctr_json late .HostConfig.NetworkMode)" n1 "a stopped container keeps its NetworkMode"
bx rm -f late

# ---- 5b. start and restart policies join the network again ---------------------------------------
web again from-again --network n1 --network-alias again-alias
bx stop -t 1 again
ok "stop again"
check; waitfor 5 lacks_host watcher again-alias || fail "a stopped container stays in the hosts files"
bx start again
ok "start again"
expect_match "$(ip_of again)" '^10\.89\.0\.' "a started container has an address again"
check; waitfor 5 has_host watcher again-alias || fail "start: the alias is not back in the hosts files"
bx exec watcher timeout 5 wget -q -O- http://again-alias/
expect_eq "$OUT" from-again "start: reachable by its alias again"
bx rm -f again
bx run -d --name flap --network n1 --network-alias flapper --restart always rt/bb:1 sh -c 'sleep 1; exit 3'
ok "run -d --restart always on n1"
check; waitfor 10 sh -c "[ \"\$(timeout 20 '$BERTH' inspect flap | jq '.[0].RestartCount')\" -ge 1 ]" ||
    fail "the container was not restarted"
check; waitfor 5 has_host watcher flapper || fail "a restarted container is not in the hosts files"
check; waitfor 5 sh -c "timeout 20 '$BERTH' inspect flap | jq -r '.[0].NetworkSettings.IPAddress' | grep -q '^10\.89\.0\.'" ||
    fail "a restarted container has no address"
bx rm -f flap
check; waitfor 5 lacks_host watcher flapper || fail "a removed container stays in the hosts files"

# ---- 6. published ports to a container on a network -----------------------------------------
PORT=$(free_port)
bx run -d --name pub --network n1 -p "127.0.0.1:$PORT:80" rt/bb:1 \
    sh -c "mkdir -p $WWW && echo from-pub >$WWW/index.html && exec httpd -f -p \"\$(hostname -i):80\" -h $WWW"
ok "run -d -p on n1"
check; waitfor 5 curl -sf "http://127.0.0.1:$PORT/" || fail "nothing answers on the published port"
expect_eq "$(curl -s --max-time 5 "http://127.0.0.1:$PORT/")" from-pub \
    "-p reaches a server bound to the container's network address only"
bx rm -f pub

# ---- 7. inspect ---------------------------------------------------------------------------------
expect_eq "$(ctr_json web1 .HostConfig.NetworkMode)" n1 "HostConfig.NetworkMode"
expect_eq "$(ctr_json web1 .NetworkSettings.Networks.n1.IPAddress)" "$IP1" "Networks.n1.IPAddress"
expect_eq "$(ctr_json web1 .NetworkSettings.Networks.n1.NetworkID)" "$N1" "Networks.n1.NetworkID"
expect_eq "$(ctr_json web1 .NetworkSettings.Networks.n1.IPPrefixLen)" 24 "Networks.n1.IPPrefixLen"
expect_eq "$(ctr_json web1 .NetworkSettings.Networks.n1.Gateway)" 10.89.0.1 "Networks.n1.Gateway"
expect_eq "$(ctr_json web1 '.NetworkSettings.Networks.n1.Aliases | join(",")')" www,api "Networks.n1.Aliases"
expect_match "$(ctr_json web1 .NetworkSettings.Networks.n1.MacAddress)" '^02:42(:[0-9a-f]{2}){4}$' "MacAddress"
bx run -d --name byid --network "${N1:0:10}" rt/bb:1 sleep $LONG
ok "run --network ID-PREFIX"
expect_eq "$(ctr_json byid .HostConfig.NetworkMode)" n1 "NetworkMode: the name, whatever was given"
expect_match "$(ctr_json byid .NetworkSettings.Networks.n1.IPAddress)" '^10\.89\.0\.' "Networks: by name"
bx rm -f byid
WEB1=$(ctr_json web1 .Id)
expect_eq "$(net_json n1 ".Containers[\"$WEB1\"].Name")" web1 "network inspect: Containers[id].Name"
expect_eq "$(net_json n1 ".Containers[\"$WEB1\"].IPv4Address")" "$IP1/24" "network inspect: IPv4Address"
expect_eq "$(net_json n1 '.Containers | length')" 3 "network inspect: three containers on n1"

# ---- 8. addresses are freed -----------------------------------------------------------------------
bx run -d --name k1 --network n2 rt/bb:1 sleep $LONG
K1=$(ip_of k1)
expect_eq "$K1" 10.99.5.2 "the first container on n2 gets .2"
bx kill k1
ok "kill k1"
check; waitfor 5 sh -c "[ \"\$(timeout 20 '$BERTH' network inspect n2 | jq '.[0].Containers | length')\" = 0 ]" ||
    fail "a killed container stays on its network"
bx run -d --name k2 --network n2 rt/bb:1 sleep $LONG
expect_eq "$(ip_of k2)" "$K1" "a killed container's address is given again"
MON=$(ctr_json k2 .Berth.MonitorPid)
kill -KILL "$MON" 2>/dev/null
check; waitfor 5 sh -c "! kill -0 $MON" || fail "the monitor did not die"
expect_eq "$(net_json n2 '.Containers | length')" 0 "a dead monitor's endpoint is dropped"
bx run -d --name k3 --network n2 rt/bb:1 sleep $LONG
expect_eq "$(ip_of k3)" "$K1" "a dead monitor's address is given again"
bx rm -f k1 k2 k3

# ---- 8b. containers joining at once get addresses of their own ----------------------------------
for i in 1 2 3 4 5; do
    timeout 60 "$BERTH" run -d --name "par$i" --network n2 rt/bb:1 sleep $LONG >/dev/null 2>&1 &
done
wait
PAR=$(for i in 1 2 3 4 5; do ip_of "par$i"; done | sort)
expect_eq "$(grep -c . <<<"$PAR")" 5 "five containers started at once have addresses"
expect_eq "$(sort -u <<<"$PAR" | grep -c .)" 5 "five containers started at once: five addresses"
expect_eq "$(net_json n2 '.Containers | length')" 5 "network inspect: five containers"
check; waitfor 5 sh -c "timeout 20 '$BERTH' exec par1 cat /etc/hosts | grep -c 'par[1-5]' | grep -qx 5" ||
    fail "par1's hosts lacks some of the others: $(hosts_of par1)"
bx exec par3 hostname -i
expect_eq "$OUT" "$(ip_of par3)" "hostname -i: the container's own address (stderr: $ERR)"
bx rm -f par1 par2 par3 par4 par5

# ---- 8c. full pools and subnets ------------------------------------------------------------------
BERTH_NETWORK_POOL=10.66.0.0/24/24 bx network create full1
ok "create from a pool of one subnet"
BERTH_NETWORK_POOL=10.66.0.0/24/24 refused "create from a full pool" \
    'could not find an available, non-overlapping IPv4 address pool' network create full2
bx network create --subnet 10.55.0.0/30 tiny
ok "create a /30 (room for one container)"
bx run -d --name tiny1 --network tiny rt/bb:1 sleep $LONG
ok "the one container of a /30" && expect_eq "$(ip_of tiny1)" 10.55.0.2 "its address"
refused "a second container on a full /30" 'no available IPv4 addresses' \
    run -d --name tiny2 --network tiny rt/bb:1 sleep $LONG
expect_eq "$(net_json tiny '.Containers | length')" 1 "the full network keeps its one container"
bx rm -f tiny1 tiny2
bx network rm full1 tiny
ok "rm full1 tiny"

# ---- 9. rm refused while in use; then nothing is left ----------------------------------------------
refused "rm of a network in use" '^berth network rm: error while removing network: network n1 id [0-9a-f]{64} has active endpoints$' \
    network rm n1
expect_eq "$(net_names)" "n1 n2 n3 n4 " "a refused rm keeps the network"
fetch n1 http://web1/
expect_eq "$OUT" from-web1 "n1 still works after the refused rm"
bx rm -f web1 web2 watcher
ok "rm -f the containers on n1"
bx network rm n1 n2
ok "network rm n1 n2" && expect_eq "$OUT" $'n1\nn2' "rm prints the names"
expect_eq "$(net_names)" "n3 n4 " "n1 and n2 are gone"
# what a berth killed while creating a network leaves: a directory with no network.json
mkdir -p "$BERTH_ROOT/networks/$(printf 'ab%.0s' $(seq 32))"
touch "$BERTH_ROOT/networks/$(printf 'ab%.0s' $(seq 32))/netns"
expect_eq "$(net_names)" "n3 n4 " "a half-made network is not listed"
bx network prune -f
ok "network prune -f" && expect_eq "$OUT" $'Deleted Networks:\nn3\nn4' "prune lists what it removed"
expect_eq "$(net_names)" "" "no network left"
expect_eq "$(ls -A "$BERTH_ROOT/networks" | grep -v '^lock$')" "" "no network directory left"
check; ! grep -q "$TMP" /proc/self/mountinfo || fail "mounts left: $(grep "$TMP" /proc/self/mountinfo)"
LEFT=$(pgrep -af "h $WWW|sleep $LONG" | grep -v pgrep)
check; [ -z "$LEFT" ] || fail "processes left: $LEFT"

# ---- 10. compose's use: labels, create, rm -------------------------------------------------------
bx network create --label com.docker.compose.project=demo demo_default
ok "create demo_default"
bx network rm demo_default
ok "rm demo_default"

# ---- the host saw nothing -----------------------------------------------------------------------
expect_eq "$(host_net)" "$HOST_BEFORE" "the host's links, addresses and routes"
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
