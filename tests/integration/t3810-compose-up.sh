#!/bin/bash
# t3810-compose-up: `berth compose` running a project of busybox services,
# as a docker compose user drives it. Needs root.
#
#   - up -d: the project's network (<project>_default, labelled), a named
#     volume, containers <project>-<service>-1 labelled as docker compose
#     labels them, started in depends_on order (a health-gated one and one
#     waiting for a job to complete successfully);
#   - two services listening on the same container port, one published on
#     the host; services reaching each other by service name and by alias;
#   - up -d again leaves everything running (same containers); a change to
#     one service recreates only that one; --force-recreate; --no-deps;
#   - ps (-a, -q, SERVICE), logs (prefixes, --tail, -t, SERVICE), exec
#     (output, exit status, -e, -w, -u), run (--rm, -d: a one-off container
#     labelled oneoff=True, the service's environment, deps running);
#   - stop / start / restart; up attached (no -d): prefixed output, then
#     SIGINT stops the services;
#   - down: no container, network, published port, mount or process left,
#     the volume kept (its data seen again by the next up); down -v removes
#     it;
#   - build, push to a berthd, pull, run the pulled image, down --rmi all.
# The store ($BERTH_ROOT) lives in $TMP; the EXIT trap removes every
# container, network and mount made here.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-compose.sh"

project_containers() {
    timeout 20 "$BERTH" ps -aq | while read -r c; do
        [ "$(label "$c" com.docker.compose.project)" = "$1" ] && echo "$c"
    done
}
# the services' processes (the one-off's sleep included)
leftovers() { pgrep -f 'httpd -f -p 8080 -h /www3810|sleep 3131' | grep -c .; }
store_mounts() { grep -c " $BERTH_ROOT/containers" /proc/mounts; }

# ---- the project -----------------------------------------------------------------
PROJ=$TMP/shop
mkdir -p "$PROJ"
WEB_PORT=$(free_port)
cat >"$PROJ/compose.yaml" <<EOF
services:
  db:
    image: cmp/bb:1
    command: ["sh", "-c", "echo db starting; mkdir -p /data /www3810; echo \$\$RANDOM >> /data/boots; echo db-page > /www3810/index.html; exec httpd -f -p 8080 -h /www3810"]
    stop_grace_period: 1s
    volumes:
      - data:/data
    healthcheck:
      test: ["CMD", "test", "-f", "/www3810/index.html"]
      interval: 1s
      timeout: 2s
      retries: 5
    networks:
      default:
        aliases: [database]
  migrate:
    image: cmp/bb:1
    command: ["sh", "-c", "echo migrated; exit 0"]
  web:
    image: cmp/bb:1
    command: ["sh", "-c", "echo web says \$\$GREETING; mkdir -p /www3810; echo web-page > /www3810/index.html; exec httpd -f -p 8080 -h /www3810"]
    environment:
      GREETING: \${GREETING:-hello}
    ports:
      - "127.0.0.1:$WEB_PORT:8080"
    working_dir: /tmp
    stop_grace_period: 2s
    depends_on:
      db:
        condition: service_healthy
      migrate:
        condition: service_completed_successfully
volumes:
  data:
EOF

# ---- up -d -------------------------------------------------------------------------
bc up -d
ok "up -d" || { cat "$TMP/bx.err" >&2; finish; }
expect_match "$ERR" "Container shop-web-1 +Started" "up -d reports web started"
expect_match "$ERR" "Network shop_default +Created" "up -d reports the network"
DB=$(cid shop-db-1) WEB=$(cid shop-web-1) MIG=$(cid shop-migrate-1)
expect_match "$DB" '^[0-9a-f]{64}$' "shop-db-1 exists"
expect_match "$WEB" '^[0-9a-f]{64}$' "shop-web-1 exists"
check; running shop-db-1 || fail "db is not running"
check; running shop-web-1 || fail "web is not running"
expect_eq "$(timeout 20 "$BERTH" inspect shop-migrate-1 | jq -r '.[0].State.ExitCode')" 0 "migrate ran to its end"
expect_eq "$(label shop-web-1 com.docker.compose.project)" shop "project label"
expect_eq "$(label shop-web-1 com.docker.compose.service)" web "service label"
expect_eq "$(label shop-web-1 com.docker.compose.container-number)" 1 "container-number label"
expect_eq "$(label shop-web-1 com.docker.compose.oneoff)" False "oneoff label"
expect_eq "$(label shop-web-1 com.docker.compose.project.working_dir)" "$PROJ" "working_dir label"
expect_eq "$(label shop-web-1 com.docker.compose.project.config_files)" "$PROJ/compose.yaml" "config_files label"
expect_match "$(label shop-web-1 com.docker.compose.config-hash)" '^[0-9a-f]{64}$' "config-hash label"
expect_match "$(label shop-web-1 com.docker.compose.depends_on)" 'db:service_healthy:false' "depends_on label"
expect_match "$(label shop-web-1 com.docker.compose.image)" '^sha256:' "image label"
# started in order: db healthy before web started
DB_HEALTH=$(timeout 20 "$BERTH" inspect shop-db-1 | jq -r '.[0].State.Health.Status')
expect_eq "$DB_HEALTH" healthy "db is healthy"
WEB_START=$(timeout 20 "$BERTH" inspect shop-web-1 | jq -r '.[0].State.StartedAt')
MIG_END=$(timeout 20 "$BERTH" inspect shop-migrate-1 | jq -r '.[0].State.FinishedAt')
check; [[ "$MIG_END" < "$WEB_START" || "$MIG_END" == "$WEB_START" ]] || fail "web started ($WEB_START) before migrate ended ($MIG_END)"
# the network and the volume
bx network inspect shop_default
ok "network shop_default exists"
expect_eq "$(jq -r '.[0].Labels["com.docker.compose.project"]' <<<"$OUT")" shop "network's project label"
expect_eq "$(jq -r '.[0].Labels["com.docker.compose.network"]' <<<"$OUT")" default "network's key label"
check; [ -d "$BERTH_ROOT/volumes/shop_data/_data" ] || fail "named volume shop_data not made"
expect_eq "$(jq -r '.Labels["com.docker.compose.project"]' "$BERTH_ROOT/volumes/shop_data/volume.json")" shop "volume's project label"

# ---- reaching the services ----------------------------------------------------------
waitfor 10 curl -fsS "http://127.0.0.1:$WEB_PORT/"
expect_eq "$(curl -sS -m 10 "http://127.0.0.1:$WEB_PORT/")" web-page "the published port reaches web"
bc exec -T web wget -qO- http://db:8080/
ok "exec wget by service name" && expect_eq "$OUT" db-page "web reaches db by its service name"
bc exec -T web wget -qO- http://database:8080/
ok "exec wget by alias" && expect_eq "$OUT" db-page "web reaches db by its alias"
bc exec -T db wget -qO- http://web:8080/
ok "db reaches web" && expect_eq "$OUT" web-page "db reaches web on the same container port"

# ---- exec --------------------------------------------------------------------------
bc exec -T web sh -c 'echo $GREETING $X; pwd; id -u'
ok "exec" && expect_eq "$OUT" "hello
/tmp
0" "exec sees the service's environment and working_dir"
bc exec -T -e X=1 -w / -u 1000 web sh -c 'echo $X; pwd; id -u'
ok "exec -e -w -u" && expect_eq "$OUT" "1
/
1000" "exec -e -w -u"
bc exec -T web sh -c 'exit 3'
expect_eq "$RC" 3 "exec's exit status"
bc exec -T nosuch true
rc_fails "exec of an unknown service"
expect_match "$ERR" "no such service: nosuch" "exec names the unknown service"

# ---- ps ----------------------------------------------------------------------------
bc ps
ok "ps"
expect_match "$(head -1 <<<"$OUT")" '^NAME +IMAGE +COMMAND +SERVICE +CREATED +STATUS +PORTS$' "ps header"
expect_match "$OUT" "shop-web-1 +cmp/bb:1 +\"sh -c .*\" +web +.* ago +Up .* +127.0.0.1:$WEB_PORT->8080/tcp" "ps row of web"
expect_match "$OUT" 'shop-db-1 .* db .*\(healthy\)' "ps shows db's health"
check; grep -q shop-migrate-1 <<<"$OUT" && fail "ps without -a lists the exited migrate"
bc ps -a
expect_match "$OUT" 'shop-migrate-1 .* Exited \(0\)' "ps -a lists the exited migrate"
bc ps -q web
expect_eq "$OUT" "$WEB" "ps -q web"
bc ps nosuch
rc_fails "ps of an unknown service"

# ---- logs --------------------------------------------------------------------------
bc logs web
ok "logs web" && expect_eq "$OUT" "shop-web-1  | web says hello" "logs web, prefixed"
bc logs
expect_match "$OUT" "shop-db-1       \| db starting" "logs of all: db, padded to the longest name"
expect_match "$OUT" "shop-migrate-1  \| migrated" "logs of all: migrate"
expect_match "$OUT" "shop-web-1      \| web says hello" "logs of all: web"
bc logs --tail 1 -t db
expect_match "$OUT" '^shop-db-1  \| [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z db starting$' "logs -t --tail 1"
bc logs --tail x
rc_fails "logs --tail x"

# ---- up -d again: unchanged -------------------------------------------------------
bc up -d
ok "up -d, a second time"
expect_match "$ERR" "Container shop-web-1 +Running" "unchanged web left running"
expect_match "$ERR" "Container shop-db-1 +Running" "unchanged db left running"
expect_eq "$(cid shop-web-1)" "$WEB" "web is the same container"
expect_eq "$(cid shop-db-1)" "$DB" "db is the same container"

# ---- a change recreates that service only ------------------------------------------
GREETING=bonjour bc up -d
ok "up -d with web changed"
NEWWEB=$(cid shop-web-1)
expect_ne "$NEWWEB" "$WEB" "the changed web is recreated"
expect_eq "$(cid shop-db-1)" "$DB" "db is left alone"
expect_match "$ERR" "Container shop-web-1 +Recreate" "up reports the recreation"
bc logs web
expect_eq "$OUT" "shop-web-1  | web says bonjour" "the new web runs the new config"
check; running "$WEB" 2>/dev/null && fail "the old web container still runs"
WEB=$NEWWEB
GREETING=bonjour bc up -d --force-recreate --no-deps web
ok "up --force-recreate --no-deps web"
expect_ne "$(cid shop-web-1)" "$WEB" "--force-recreate makes a new web"
expect_eq "$(cid shop-db-1)" "$DB" "--no-deps leaves db alone"
WEB=$(cid shop-web-1)
waitfor 10 curl -fsS "http://127.0.0.1:$WEB_PORT/"
expect_eq "$(curl -sS -m 10 "http://127.0.0.1:$WEB_PORT/")" web-page "the port reaches the recreated web"

# ---- run ---------------------------------------------------------------------------
N_BEFORE=$(timeout 20 "$BERTH" ps -aq | grep -c .)
bc run --rm -T web sh -c 'echo one-off $GREETING'
ok "run --rm" && expect_eq "$OUT" "one-off hello" "run prints the command's output"
expect_eq "$(timeout 20 "$BERTH" ps -aq | grep -c .)" "$N_BEFORE" "run --rm leaves no container"
bc run -T web sh -c 'exit 4'
expect_eq "$RC" 4 "run's exit status"
bc run -d web sleep 3131
ok "run -d"
ONE=$OUT
expect_match "$ONE" '^shop-web-run-[0-9a-f]{12}$' "run -d prints the one-off's name"
expect_eq "$(label "$ONE" com.docker.compose.oneoff)" True "the one-off is labelled oneoff=True"
bc ps -a
expect_match "$OUT" "$ONE" "ps -a lists the one-off"
bc run nosuch true
rc_fails "run of an unknown service"
bx rm -f "$ONE"

# ---- stop / start / restart -------------------------------------------------------
bc stop
ok "stop"
check; running shop-web-1 && fail "web still runs after stop"
check; running shop-db-1 && fail "db still runs after stop"
bc ps
expect_eq "$(grep -c . <<<"$OUT")" 1 "ps after stop: only the header"
check; ss -Htln "sport = :$WEB_PORT" | grep -q . && fail "port $WEB_PORT still listened on after stop"
bc start
ok "start"
check; running shop-web-1 || fail "web does not run after start"
check; running shop-db-1 || fail "db does not run after start"
expect_eq "$(cid shop-web-1)" "$WEB" "start starts the same web"
waitfor 10 curl -fsS "http://127.0.0.1:$WEB_PORT/"
expect_eq "$(curl -sS -m 10 "http://127.0.0.1:$WEB_PORT/")" web-page "the port works after start"
T0=$(timeout 20 "$BERTH" inspect shop-web-1 | jq -r '.[0].State.StartedAt')
sleep 1.1
bc restart web
ok "restart web"
T1=$(timeout 20 "$BERTH" inspect shop-web-1 | jq -r '.[0].State.StartedAt')
expect_ne "$T1" "$T0" "restart starts web anew"
check; running shop-web-1 || fail "web does not run after restart"
bc start nosuch
rc_fails "start of an unknown service"

# ---- down: everything goes but the volume --------------------------------------------
bc down
ok "down"
expect_eq "$(project_containers shop | grep -c .)" 0 "no container of the project after down"
check; timeout 20 "$BERTH" network inspect shop_default >/dev/null 2>&1 && fail "network left after down"
check; ss -Htln "sport = :$WEB_PORT" | grep -q . && fail "port $WEB_PORT still listened on after down"
expect_eq "$(store_mounts)" 0 "no container mount left after down"
expect_eq "$(leftovers)" 0 "no service process left after down"
check; [ -d "$BERTH_ROOT/volumes/shop_data/_data" ] || fail "down without -v removed the volume"
expect_eq "$(grep -c . "$BERTH_ROOT/volumes/shop_data/_data/boots")" 2 "the volume saw db start twice"

# ---- up attached: prefixed output, stopped on SIGINT --------------------------------
# --foreground: timeout passes SIGINT on once (not to its group as well,
# which would be a second ^C: "press Ctrl+C again to force")
( cd "$PROJ" && exec timeout --foreground 60 "$BERTH" compose up db >"$TMP/attached.out" 2>"$TMP/attached.err" ) &
APID=$!
waitfor 20 grep -q "db starting" "$TMP/attached.out"
check; running shop-db-1 || fail "attached up does not run db"
sleep 0.5
kill -INT "$APID"
wait "$APID"
ARC=$?
expect_eq "$ARC" 0 "attached up exits 0 after SIGINT"
expect_match "$(cat "$TMP/attached.out")" "db-1  \| db starting" "attached output is prefixed by service-1"
check; running shop-db-1 && fail "db still runs after the attached up was interrupted"
expect_eq "$(grep -c . "$BERTH_ROOT/volumes/shop_data/_data/boots")" 3 "the volume's data came back"

# ---- build: another project, by -f and -p -------------------------------------------
KIT=$TMP/kit
mkdir -p "$KIT"
echo "hello from a build" >"$KIT/hello.txt"
printf 'FROM cmp/bb:1\nCOPY hello.txt /hello.txt\nCMD ["cat", "/hello.txt"]\n' >"$KIT/Dockerfile"
printf 'services:\n  hello:\n    build: .\n' >"$KIT/compose.yaml"
bx compose -f "$KIT/compose.yaml" -p kit build
ok "build of a service with build:"
bx images
expect_match "$OUT" "kit-hello +latest" "the built image is named <project>-<service>"
bx compose -f "$KIT/compose.yaml" -p kit up
ok "up attached, of a service that ends by itself"
expect_eq "$OUT" "hello-1  | hello from a build" "attached output of the built service"
expect_eq "$(label kit-hello-1 com.docker.compose.project.config_files)" "$KIT/compose.yaml" "config_files label of -f"
expect_eq "$(label kit-hello-1 com.docker.compose.project.working_dir)" "$KIT" "working_dir of -f: the file's directory"
bx compose -f "$KIT/compose.yaml" -p kit down --rmi local
ok "down --rmi local"
bx images
check; grep -q kit-hello <<<"$OUT" && fail "down --rmi local left the built image"
expect_eq "$(project_containers kit | grep -c .)" 0 "no container of kit after down"

# ---- push and pull through a berthd ------------------------------------------------
berthd_start
printf 'services:\n  hello:\n    build: .\n    image: %s/kit/hello:1\n  base:\n    image: %s/kit/hello:1\n' \
    "$REG" "$REG" >"$KIT/registry.yaml"
bx --insecure "$REG" compose -f "$KIT/registry.yaml" -p reg build
ok "build of an image: with build:"
bx --insecure "$REG" compose -f "$KIT/registry.yaml" -p reg push
ok "push"
expect_match "$(curl -fsS "http://$REG/v2/kit/hello/tags/list")" '"1"' "the pushed tag is in the registry"
bx rmi "$REG/kit/hello:1"
ok "rmi of the pushed image"
bx --insecure "$REG" compose -f "$KIT/registry.yaml" -p reg pull
ok "pull"
bx --insecure "$REG" compose -f "$KIT/registry.yaml" -p reg run --rm -T --no-deps base
ok "run of the pulled image" && expect_eq "$OUT" "hello from a build" "the pulled image runs"
bx --insecure "$REG" compose -f "$KIT/registry.yaml" -p reg down --rmi all
ok "down --rmi all"
bx images
check; grep -q "kit/hello" <<<"$OUT" && fail "down --rmi all left the image"

# ---- down -v -----------------------------------------------------------------------
bc down -v
ok "down -v"
check; [ -e "$BERTH_ROOT/volumes/shop_data" ] && fail "down -v left the volume"
expect_eq "$(project_containers shop | grep -c .)" 0 "no container after down -v"
expect_eq "$(store_mounts)" 0 "no container mount left after down -v"
bc down
ok "down of a project with nothing left"

if ls "$TMP/san"/* >/dev/null 2>&1; then
    check; fail "sanitizer reports: $(head -20 "$TMP"/san/* | tr '\n' ' ')"
fi
finish
