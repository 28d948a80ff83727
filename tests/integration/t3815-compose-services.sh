#!/bin/bash
# t3815-compose-services: what a service's keys become, seen from the
# containers `berth compose up` makes, as `berth inspect` and the
# container itself show them. Needs root.
#
#   - user, hostname, working_dir, environment with env_file, labels,
#     stop_signal, stop_grace_period, tty, expose (and `run --expose`),
#     deploy's memory and cpus limits;
#   - volumes: a bind mount relative to the project, a named volume (kept
#     by down, removed by down -v), an anonymous one;
#   - restart: on-failure:2 restarts a failing service twice, by its
#     monitor, with no compose process running; restart: always brings a
#     service back after its process is killed from the host;
#   - build: an image built for a service, removed by down --rmi local.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-compose.sh"

PROJ=$TMP/keys
mkdir -p "$PROJ/data" "$PROJ/ctx"
echo "on the host" >"$PROJ/data/note"
printf 'FROM_FILE=fromfile\n# a comment\n' >"$PROJ/vars.env"
printf 'FROM cmp/bb:1\nRUN echo built >/built\nCMD ["sh", "-c", "cat /built; exec sleep 3815"]\n' \
    >"$PROJ/ctx/Dockerfile"
cat >"$PROJ/compose.yaml" <<'EOF2'
services:
  svc:
    image: cmp/bb:1
    command: ["sh", "-c", "id -u; hostname; pwd; echo $$GREETING $$FROM_FILE; cat /data/note; exec sleep 3815"]
    environment:
      GREETING: hello
    env_file: [vars.env]
    user: "1000"
    hostname: custom-host
    working_dir: /tmp
    labels:
      team: shop
    stop_signal: SIGUSR1
    stop_grace_period: 3s
    expose: ["9000", "7000-7001/udp"]
    volumes:
      - ./data:/data:ro
    deploy:
      resources:
        limits: {memory: 64M, cpus: "0.5"}
  store:
    image: cmp/bb:1
    command: ["sh", "-c", "echo x >/named/x; echo y >/anon/y; echo stored; exec sleep 3815"]
    volumes:
      - named:/named
      - /anon
  term:
    image: cmp/bb:1
    command: ["sh", "-c", "tty; exec sleep 3815"]
    tty: true
  flaky:
    image: cmp/bb:1
    command: ["sh", "-c", "echo run; exit 3"]
    restart: on-failure:2
  steady:
    image: cmp/bb:1
    command: ["sleep", "3815"]
    restart: always
  built:
    build: ./ctx
volumes:
  named: {}
EOF2
chmod 0777 "$PROJ/data"
mkdir -p "$BERTH_ROOT"

bc up -d
ok "up -d" || finish

# ---- what svc runs with --------------------------------------------------------------
expect_eq "$(jqc keys-svc-1 .Config.User)" "1000" "user"
expect_eq "$(jqc keys-svc-1 .Config.Hostname)" "custom-host" "hostname"
expect_eq "$(jqc keys-svc-1 .Config.WorkingDir)" "/tmp" "working_dir"
expect_eq "$(jqc keys-svc-1 '.Config.Labels.team')" "shop" "labels"
expect_eq "$(jqc keys-svc-1 .Config.StopSignal)" "SIGUSR1" "stop_signal"
expect_eq "$(jqc keys-svc-1 .Config.StopTimeout)" "3" "stop_grace_period"
expect_eq "$(jqc keys-svc-1 .HostConfig.Memory)" "67108864" "deploy limits: memory"
expect_eq "$(jqc keys-svc-1 .HostConfig.NanoCpus)" "500000000" "deploy limits: cpus"
expect_eq "$(jqc keys-svc-1 '.Config.ExposedPorts | keys | join(",")')" "7000/udp,7001/udp,9000/tcp" "expose"
waitfor 20 sh -c "timeout 20 '$BERTH' logs keys-svc-1 2>/dev/null | grep -q 'on the host'"
logs=$(timeout 20 "$BERTH" logs keys-svc-1 2>&1)
expect_eq "$logs" "1000
custom-host
/tmp
hello fromfile
on the host" "what svc saw: uid, hostname, directory, environment (env_file too), the bind mount"
expect_eq "$(jqc keys-svc-1 '[.Mounts[] | select(.Destination == "/data")][0].Source')" "$PROJ/data" \
    "the bind mount's source, relative to the project"
expect_eq "$(jqc keys-svc-1 '[.Mounts[] | select(.Destination == "/data")][0].RW')" "false" \
    "the bind mount is read-only"
named_dir=$BERTH_ROOT/volumes/keys_named/_data
waitfor 20 sh -c "timeout 20 '$BERTH' logs keys-store-1 2>/dev/null | grep -q stored"
expect_eq "$(cat "$named_dir/x" 2>/dev/null)" "x" "the named volume keys_named holds what store wrote"
anon=$(jqc keys-store-1 '[.Mounts[] | select(.Destination == "/anon")][0].Source')
expect_match "$anon" "^$BERTH_ROOT/volumes/" "the anonymous volume is under the store"
expect_eq "$(cat "$anon/y" 2>/dev/null)" "y" "the anonymous volume holds what store wrote"

bx run --rm --expose 81 --expose 90-91/udp -p 127.0.0.1:$(free_port):82 cmp/bb:1 true
ok "run --expose"
bx run -d --name exposed --expose 81 --expose 90-91/udp cmp/bb:1 sleep 3815
expect_eq "$(jqc exposed '.Config.ExposedPorts | keys | join(",")')" "81/tcp,90/udp,91/udp" "run --expose"
bx rm -f exposed
for bad in 0 70000 9-8 x 80/sctp; do
    bx run --rm --expose "$bad" cmp/bb:1 true
    expect_eq "$RC" "125" "run --expose $bad refused"
    expect_match "$ERR" "invalid port to expose" "run --expose $bad: the message"
done

# ---- tty -----------------------------------------------------------------------------
expect_eq "$(jqc keys-term-1 .Config.Tty)" "true" "tty: Config.Tty"
waitfor 20 sh -c "timeout 20 '$BERTH' logs keys-term-1 2>/dev/null | grep -q /dev/"
expect_match "$(timeout 20 "$BERTH" logs keys-term-1 2>&1)" '^/dev/' "tty: the service has a terminal"

# ---- restart policies, by the monitor ------------------------------------------------
flaky_done() { [ "$(jqc keys-flaky-1 .State.Status)" = exited ] && [ "$(jqc keys-flaky-1 .RestartCount)" = 2 ]; }
check; waitfor 60 flaky_done || fail "on-failure:2: not exited after 2 restarts ($(jqc keys-flaky-1 .State.Status), RestartCount $(jqc keys-flaky-1 .RestartCount))"
expect_eq "$(timeout 20 "$BERTH" logs keys-flaky-1 2>&1 | grep -c '^run$')" "3" "on-failure:2: three runs in the log"
expect_eq "$(jqc keys-flaky-1 .State.ExitCode)" "3" "on-failure:2: the last exit code"
pid=$(jqc keys-steady-1 .State.Pid)
check; [ "${pid:-0}" -gt 0 ] && kill -KILL "$pid" || fail "steady has no pid"
steady_back() {
    running keys-steady-1 && [ "$(jqc keys-steady-1 .State.Pid)" != "$pid" ] &&
        [ "$(jqc keys-steady-1 .RestartCount)" -ge 1 ]
}
check; waitfor 30 steady_back || fail "restart: always: steady did not come back after its process was killed"
expect_eq "$(jqc keys-steady-1 .RestartCount)" "1" "restart: always: RestartCount"

# ---- build ---------------------------------------------------------------------------
waitfor 20 sh -c "timeout 20 '$BERTH' logs keys-built-1 2>/dev/null | grep -q built"
expect_eq "$(timeout 20 "$BERTH" logs keys-built-1 2>&1)" "built" "the built service runs its image"
check; timeout 20 "$BERTH" images | grep -q '^keys-built ' || fail "the image keys-built is not listed"

# ---- down keeps the named volume, down -v removes it; --rmi local the built image ---
bc down --rmi local
ok "down --rmi local"
# services that depend on nothing stop together: each is sent its signal
# before any has to be waited out (three of them ignore theirs)
FIRST_STOPPED=$(printf '%s\n' "$ERR" | grep -n ' Stopped$' | head -1 | cut -d: -f1)
STOPPING=$(printf '%s\n' "$ERR" | head -n "${FIRST_STOPPED:-0}" | grep -c 'keys-\(svc\|store\|term\)-1 *Stopping$')
expect_eq "$STOPPING" 3 "down signals the services of one wave before waiting for any"
expect_eq "$(timeout 20 "$BERTH" ps -aq | wc -l)" "0" "down removes every container"
check; [ -e "$named_dir/x" ] || fail "down removed the named volume"
check; timeout 20 "$BERTH" images | grep -q '^keys-built ' && fail "down --rmi local left keys-built"
check; timeout 20 "$BERTH" images | grep -q '^cmp/bb ' || fail "down --rmi local removed an image the project does not own"
bc up -d store
ok "up -d store again"
waitfor 20 sh -c "timeout 20 '$BERTH' logs keys-store-1 2>/dev/null | grep -q stored"
bc down -v
ok "down -v"
check; [ -e "$BERTH_ROOT/volumes/keys_named" ] && fail "down -v left the named volume"
expect_eq "$(timeout 20 "$BERTH" network ls -q | wc -l)" "0" "down removes the project's network"

check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -40 "$TMP"/san/* >&2
fi
finish
