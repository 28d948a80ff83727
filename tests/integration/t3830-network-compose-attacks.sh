#!/bin/bash
# t3830-network-compose-attacks: a hostile compose file and hostile
# containers against berth's networks and `berth compose`. Needs root.
#
#   - a compose file that names another project's network and volume
#     (`name: shop_default`, `name: shop_data`): its `up` warns, its
#     `down -v` removes neither, and the other project starts again with
#     its data;
#   - a compose file whose container_name is another project's container:
#     its up fails on the name and leaves that container running;
#   - names with ../, slashes, control characters or 5000 characters for
#     container_name, project, network and volume: one-line errors, nothing
#     made;
#   - three `up -d` of one project at once: the losers fail on the name,
#     the winner's containers are not removed by them, and after `down` no
#     process of the project is left (a container removed while it was
#     being started kept running with no state);
#   - the host's addresses, routes, links and mounts are the same at the end.
# The store ($BERTH_ROOT) lives in $TMP; the EXIT trap removes every
# container, network and mount made here.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need ip
host_state() { ip -o addr; ip route; ip -o link | sed 's/ state [A-Z]*//'; nft list ruleset 2>/dev/null; grep -v " /tmp/" /proc/mounts; }
host_state >"$TMP/host.before"
# bc DIR ARGS...: berth compose in a project's directory.
bc() {
    local d=$PWD
    cd "$1" || return
    shift
    bx compose "$@"
    cd "$d" || return
}
one_line() {
    check
    [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ] || fail "$1: expected a one-line error, got: $ERR"
}

# ---- the image: busybox, offline ---------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true env sleep id test mkdir grep kill ip head yes; do
    ln -s busybox "$R/bin/$c"
done
chmod 1777 "$R/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" atk/bb:1
ok "berth import of the busybox rootfs" || finish

# ---- another project's network and volume, named by a hostile compose file -------------
SHOP=$TMP/shop EVIL=$TMP/evil
mkdir -p "$SHOP" "$EVIL"
cat >"$SHOP/compose.yaml" <<'EOF'
services:
  db:
    image: atk/bb:1
    command: [sh, -c, "test -f /data/f || echo precious > /data/f; exec sleep 3830"]
    stop_grace_period: 1s
    volumes: ["data:/data"]
volumes:
  data:
EOF
cat >"$EVIL/compose.yaml" <<'EOF'
services:
  x:
    image: atk/bb:1
    command: [sleep, "1"]
    networks: [n]
networks:
  n: {name: shop_default}
volumes:
  v: {name: shop_data}
EOF
bc "$SHOP" up -d
ok "shop: up -d"
bc "$SHOP" stop
ok "shop: stop"
bc "$EVIL" up -d
ok "evil: up -d on shop's network"
expect_match "$ERR" "WARNING: a network with name shop_default exists but was not created for project \"evil\"" \
    "evil's up warns of shop's network"
bc "$EVIL" down -v
ok "evil: down -v"
bx network inspect shop_default
ok "shop's network is still there after evil's down"
bc "$SHOP" start
ok "shop: start again after evil's down"
bc "$SHOP" exec -T db cat /data/f
expect_eq "$OUT" precious "shop's data after evil's down -v"
# shop down keeps its volume; evil's down -v must not take it then either
bc "$SHOP" down
ok "shop: down"
bc "$EVIL" down -v
ok "evil: down -v with shop down"
check
[ -d "$BERTH_ROOT/volumes/shop_data/_data" ] || fail "evil's down -v removed shop's volume shop_data"
bc "$SHOP" up -d
ok "shop: up -d again"
bc "$SHOP" exec -T db cat /data/f
expect_eq "$OUT" precious "shop's data after evil's down -v with shop down"
# a compose file whose container_name is shop's container: its up fails on
# the name, and must not remove shop's container as its own failed one
mkdir -p "$TMP/thief"
printf 'services:\n  x: {image: atk/bb:1, container_name: shop-db-1, command: [sleep, "1"]}\n' \
    >"$TMP/thief/compose.yaml"
bc "$TMP/thief" up -d
rc_fails "thief: up -d with shop's container name"
expect_match "$ERR" "already in use" "thief: the name conflict is the error"
bx inspect shop-db-1
ok "shop's container is still there after thief's failed up"
check
[ "$(printf '%s' "$OUT" | jq -r '.[0].State.Running' 2>/dev/null)" = true ] ||
    fail "shop's container is no longer running after thief's failed up"
bc "$TMP/thief" down
bc "$SHOP" down -v
ok "shop: down -v"
check
[ ! -e "$BERTH_ROOT/volumes/shop_data" ] || fail "shop's own down -v left shop_data"

# ---- hostile names --------------------------------------------------------------------
NAMES=$TMP/names
mkdir -p "$NAMES"
LONG=$(head -c 5000 /dev/zero | tr '\0' x)
i=0
for doc in \
    'services: {a: {image: atk/bb:1, container_name: "../../x"}}' \
    'services: {a: {image: atk/bb:1, container_name: "a/b"}}' \
    "services: {a: {image: atk/bb:1, container_name: \"$LONG\"}}" \
    'services: {a: {image: atk/bb:1, container_name: "a\nb"}}' \
    $'name: "../../evil"\nservices: {a: {image: atk/bb:1}}' \
    $'name: "a\\x01b"\nservices: {a: {image: atk/bb:1}}' \
    $'services: {a: {image: atk/bb:1, networks: ["../n"]}}\nnetworks: {"../n": {}}' \
    $'services: {a: {image: atk/bb:1, networks: [n]}}\nnetworks: {n: {name: "../../n"}}' \
    $'services: {a: {image: atk/bb:1, networks: [n]}}\nnetworks: {n: {name: "n\\tx"}}' \
    $'services: {a: {image: atk/bb:1, volumes: ["v:/v"]}}\nvolumes: {v: {name: "../../v"}}' \
    $'services: {a: {image: atk/bb:1, volumes: ["v:/v"]}}\nvolumes: {v: {name: "/etc"}}' \
    "services: {a: {image: atk/bb:1, volumes: [\"v:/v\"]}}
volumes: {v: {name: \"$LONG\"}}"; do
    i=$((i + 1))
    printf '%s\n' "$doc" >"$NAMES/compose.yaml"
    bc "$NAMES" up -d
    rc_fails "hostile name $i"
    one_line "hostile name $i"
    bx ps -aq
    expect_eq "$OUT" "" "hostile name $i: no container made"
done
check
[ -z "$(ls "$BERTH_ROOT/volumes" 2>/dev/null)" ] || fail "hostile names made volumes: $(ls "$BERTH_ROOT/volumes")"
bx network ls -q
expect_eq "$OUT" "" "hostile names made no network"

# ---- three `up` at once ------------------------------------------------------------
RACE=$TMP/race
mkdir -p "$RACE"
# a number of this run's own, so that no other run's process is counted
NAP=$((3830000 + $$ % 100000))
# whatever this test left running, found by that number, even with its store gone
at_exit 'for _p in $(pgrep -fx "sleep $NAP"); do kill -9 "$_p"; done'
cat >"$RACE/compose.yaml" <<EOF
services:
  a: {image: atk/bb:1, command: [sleep, "$NAP"], stop_grace_period: 1s}
  b: {image: atk/bb:1, command: [sleep, "$NAP"], depends_on: [a], stop_grace_period: 1s}
EOF
for round in 1 2 3; do
    (cd "$RACE" && for i in 1 2 3; do
        timeout 120 "$BERTH" compose up -d </dev/null >"$TMP/race$i.log" 2>&1 &
    done; wait)
    for svc in a b; do
        bx inspect "race-$svc-1"
        check
        [ "$(printf '%s' "$OUT" | jq -r '.[0].State.Running' 2>/dev/null)" = true ] ||
            fail "round $round: race-$svc-1 is not running after three concurrent ups: $(cat "$TMP"/race*.log | tr '\n' ' ')"
    done
    bc "$RACE" down
    ok "round $round: down"
    sleep 0.5
    expect_eq "$(pgrep -fxc "sleep $NAP")" 0 "round $round: processes of the project left after down"
done

# ---- the host is as it was -------------------------------------------------------------
host_state >"$TMP/host.after"
check
diff "$TMP/host.before" "$TMP/host.after" >&2 || fail "the host's addresses, routes, links or mounts changed"
check
if ls "$TMP/san"/* >/dev/null 2>&1; then
    fail "sanitizer reports: $(head -20 "$TMP"/san/* | tr '\n' ' ')"
fi
finish
