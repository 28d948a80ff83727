#!/bin/bash
# t3820-compose-errors: what `berth compose up` refuses, and how a service
# that fails to start stops it. Needs root.
#
#   - a broken project (bad YAML, an unknown key, a wrong type, depends_on
#     naming no service, a cycle, an unknown service asked for, a missing
#     external network or volume) is refused with the file, key and reason
#     (or the name), a non-zero exit, and nothing made: no container,
#     network or volume;
#   - a service whose program cannot run, a job that exits non-zero before
#     its dependents (service_completed_successfully), a dependency that
#     turns unhealthy (service_healthy), a port already in use: up stops
#     with the service's name and its log tail, removes the failed
#     container, starts nothing that depends on it; down then leaves
#     nothing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-compose.sh"

n_containers() { timeout 20 "$BERTH" ps -aq | grep -c .; }
n_networks() { timeout 20 "$BERTH" network ls -q 2>/dev/null | grep -c .; }
n_volumes() { ls -A "$BERTH_ROOT/volumes" 2>/dev/null | grep -c .; }
# nothing_made WHAT: no container, network or volume exists.
nothing_made() {
    expect_eq "$(n_containers)" 0 "$1: containers"
    expect_eq "$(n_networks)" 0 "$1: networks"
    expect_eq "$(n_volumes)" 0 "$1: volumes"
}
cid() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r '.[0].Id // empty'; }

PROJ=$TMP/app
mkdir -p "$PROJ"
# refused FILE-CONTENT WHAT REGEX [SERVICE...]: up -d refuses the project,
# one line naming REGEX, nothing made.
refused() {
    local content=$1 what=$2 re=$3
    shift 3
    printf '%s\n' "$content" >"$PROJ/compose.yaml"
    bc up -d "$@"
    rc_fails "$what"
    one_line "$what" "$re"
    nothing_made "$what"
}

# ---- a broken project: refused before anything starts ---------------------------------
VALID='services:
  web:
    image: cmp/bb:1
    command: ["httpd", "-f", "-p", "8080"]
    volumes: [data:/data]
volumes:
  data:'
refused 'services:
  web:
    image: cmp/bb:1
    command: [unclosed' "bad YAML" 'compose\.yaml'
refused 'services:
  web:
    image: cmp/bb:1
    colour: blue' "an unknown key" 'compose\.yaml: .*services\.web.*colour'
refused 'services:
  web:
    image: cmp/bb:1
    ports: {a: b}' "a wrong type" 'compose\.yaml: .*services\.web\.ports'
refused 'services:
  web:
    image: cmp/bb:1
    depends_on: [db]' "depends_on naming no service" 'compose\.yaml: .*services\.web\.depends_on.*db'
refused 'services:
  a:
    image: cmp/bb:1
    depends_on: [b]
  b:
    image: cmp/bb:1
    depends_on: [a]' "a cycle" 'compose\.yaml: .*cycle|compose\.yaml: .*circular'
refused "$VALID" "an unknown service" 'no such service: nosuch' nosuch
refused 'services:
  web:
    image: cmp/bb:1
    networks: [outside]
networks:
  outside:
    external: true' "a missing external network" 'outside.*external|external.*outside'
refused 'services:
  web:
    image: cmp/bb:1
    volumes: [keep:/data]
volumes:
  keep:
    external: true' "a missing external volume" 'external volume "keep" not found'
bc up -d -t x
rc_fails "up -t x"
bc down --rmi some
rc_fails "down --rmi some"
nothing_made "bad options"

# ---- a service whose program cannot run ------------------------------------------------
cat >"$PROJ/compose.yaml" <<'EOF'
services:
  ok:
    image: cmp/bb:1
    command: ["sleep", "300"]
  bad:
    image: cmp/bb:1
    command: ["/no/such/program"]
    depends_on: [ok]
  after:
    image: cmp/bb:1
    command: ["sleep", "300"]
    depends_on: [bad]
EOF
bc up -d
rc_fails "up with a program that cannot run"
expect_match "$ERR" "service bad failed to start: .*no/such/program" "the failing service is named, with the reason"
expect_eq "$(cid app-bad-1)" "" "the failed container is removed"
expect_eq "$(cid app-after-1)" "" "what depends on it is not started"
expect_match "$(cid app-ok-1)" '^[0-9a-f]{64}$' "its dependency was started"
bc down
ok "down after the failure"
nothing_made "down after a failed up"

# ---- a job that exits non-zero -------------------------------------------------------
cat >"$PROJ/compose.yaml" <<'EOF'
services:
  migrate:
    image: cmp/bb:1
    command: ["sh", "-c", "echo applying 0001; echo 'relation users exists' >&2; exit 2"]
  web:
    image: cmp/bb:1
    command: ["sleep", "300"]
    depends_on:
      migrate:
        condition: service_completed_successfully
EOF
bc up -d
rc_fails "up with a failing job"
expect_match "$ERR" 'service "migrate" didn.t complete successfully: exit 2' "the failed job is named with its exit"
expect_match "$ERR" 'app-migrate-1 +\| relation users exists' "the job's log tail is shown"
expect_eq "$(cid app-web-1)" "" "web is not started after the failed job"
bc down
ok "down after the failed job"
nothing_made "down after a failed job"

# ---- a dependency that turns unhealthy --------------------------------------------------
cat >"$PROJ/compose.yaml" <<'EOF'
services:
  db:
    image: cmp/bb:1
    command: ["sh", "-c", "echo db up but broken; exec sleep 300"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 2
  web:
    image: cmp/bb:1
    command: ["sleep", "300"]
    depends_on:
      db:
        condition: service_healthy
EOF
bc up -d
rc_fails "up with an unhealthy dependency"
expect_match "$ERR" 'dependency failed to start: container app-db-1 is unhealthy' "the unhealthy dependency is named"
expect_match "$ERR" 'app-db-1 +\| db up but broken' "its log tail is shown"
expect_eq "$(cid app-web-1)" "" "web is not started"
bc down
ok "down after the unhealthy dependency"
nothing_made "down after an unhealthy dependency"

# ---- a port in use ----------------------------------------------------------------------
PORT=$(free_port)
python3 -c "import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $PORT)); s.listen(1); time.sleep(120)" &
HOLDER=$!
at_exit "kill $HOLDER"
for _ in $(seq 50); do ss -Htln "sport = :$PORT" | grep -q . && break; sleep 0.1; done
cat >"$PROJ/compose.yaml" <<EOF
services:
  web:
    image: cmp/bb:1
    command: ["httpd", "-f", "-p", "8080"]
    ports: ["127.0.0.1:$PORT:8080"]
EOF
bc up -d
rc_fails "up with a port in use"
expect_match "$ERR" "service web failed to start: .*$PORT.*(in use|allocated)" "the service and the port are named"
expect_eq "$(cid app-web-1)" "" "no container is left for it"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
bc down
ok "down after the port in use"
nothing_made "down after a port in use"

if ls "$TMP/san"/* >/dev/null 2>&1; then
    check; fail "sanitizer reports: $(head -20 "$TMP"/san/* | tr '\n' ' ')"
fi
finish
