#!/bin/bash
# t3800-compose-config: `berth compose config`, as a docker compose user
# meets it. Nothing here starts a container.
#
#   - the default files: compose.yaml, compose.yml, docker-compose.yml,
#     docker-compose.yaml, first found wins, looked for in parent
#     directories too, with compose.override.yaml merged over;
#   - -f repeated (merged in order), -f - (stdin), --project-directory;
#   - the project name from -p, COMPOSE_PROJECT_NAME, name: or the
#     directory; .env and --env-file, the environment winning over them;
#   - the printed model loads again as the same model; --services; -q;
#   - each broken file (bad YAML, an unknown key, a wrong type, a missing
#     depends_on, a cycle, ${VAR:?}, a duplicate key, an alias bomb, a bad
#     project name) refused with "FILE: KEY.PATH: reason" on one line and
#     exit 15, nothing printed on stdout, the file untouched and no
#     container made; usage errors exit 2.
. "$(dirname "$0")/../lib.sh"

# the berth beside the berthd under test (build-asan/ in an ASan run)
BERTH=${BERTH:-$(dirname "$BERTHD")/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
for tool in "$BERTH" timeout sha256sum jq; do
    command -v "$tool" >/dev/null || { echo "$T_NAME: $tool is missing (make all test-deps)" >&2; exit 1; }
done
export HOME=$TMP/home BERTH_ROOT=$TMP/store
mkdir -p "$HOME"
unset COMPOSE_FILE COMPOSE_PROJECT_NAME
if [ -n "${ASAN_OPTIONS:-}" ]; then
    mkdir -p "$TMP/san"
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$TMP/san/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$TMP/san/ubsan"
fi

# bc ARGS...: `berth compose ARGS` in the current directory; $RC, $OUT, $ERR.
bc() {
    timeout 30 "$BERTH" compose "$@" </dev/null >"$TMP/bc.out" 2>"$TMP/bc.err"
    RC=$?
    OUT=$(cat "$TMP/bc.out")
    ERR=$(cat "$TMP/bc.err")
}
ok() {
    check
    [ "$RC" -eq 0 ] || { fail "$1: exit $RC: $ERR"; return 1; }
}
# refused WHAT REGEX: exit 15, one line on stderr matching, nothing on stdout
refused() {
    check
    [ "$RC" -eq 15 ] || fail "$1: expected exit 15, got $RC (stderr: $ERR)"
    check
    [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ] || fail "$1: expected one line on stderr, got: $ERR"
    expect_match "$ERR" "$2" "$1: message"
    expect_eq "$OUT" "" "$1: stdout"
}
# the value at a simple path of the printed YAML: "services.web.image"
yget() {
    python3 -c '
import sys, json
try:
    import yaml
except ImportError:
    sys.exit(3)
d = yaml.safe_load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(json.dumps(d) if not isinstance(d, str) else d)' "$1" <<<"$OUT"
}
HAVE_PYYAML=1
python3 -c 'import yaml' 2>/dev/null || HAVE_PYYAML=0
# field: grep one "key: value" line of the printed YAML (when PyYAML is missing)
has_line() { check; grep -qE "^ *$1\$" <<<"$OUT" || fail "${2:-output}: no line /$1/ in: $OUT"; }

P=$TMP/My_App.1
mkdir -p "$P/sub/deeper"
cd "$P" || exit 1

# ---- default files and their precedence ----------------------------------------------
bc config
refused "no file" '^berth compose: no configuration file provided: not found'

echo 'services: {dyaml: {image: busybox}}' >docker-compose.yaml
bc config --services
ok "docker-compose.yaml" && expect_eq "$OUT" "dyaml" "docker-compose.yaml found"
echo 'services: {dyml: {image: busybox}}' >docker-compose.yml
bc config --services
ok "docker-compose.yml" && expect_eq "$OUT" "dyml" "docker-compose.yml over docker-compose.yaml"
echo 'services: {cyml: {image: busybox}}' >compose.yml
bc config --services
ok "compose.yml" && expect_eq "$OUT" "cyml" "compose.yml over docker-compose.*"
cat >compose.yaml <<'EOF'
services:
  web:
    image: busybox
    command: ["echo", "hi"]
EOF
bc config --services
ok "compose.yaml" && expect_eq "$OUT" "web" "compose.yaml first"
# the override file beside it
echo 'services: {web: {command: override}}' >compose.override.yaml
bc config
ok "override" && has_line '- override' "compose.override.yaml merged"
rm compose.override.yaml
# from a subdirectory: found above, named after the directory it is in
cd sub/deeper || exit 1
bc config
ok "from a subdirectory" && has_line 'name: my_app1' "project name from the directory"
cd "$P" || exit 1
rm compose.yml docker-compose.yml docker-compose.yaml

# ---- -f, stdin, --project-directory ------------------------------------------------
cat >base.yaml <<'EOF'
services:
  web:
    image: web:1
    ports: ["8000:80"]
    environment: [A=1, B=1]
    volumes: ["./data:/data"]
    depends_on: [db]
  db:
    image: postgres
EOF
cat >over.yaml <<'EOF'
services:
  web:
    image: web:2
    ports: ["8001:81"]
    environment: {B: "2"}
EOF
bc -f base.yaml -f over.yaml config
ok "-f -f"
has_line 'image: web:2' "-f: the later file wins"
has_line 'A: "1"' "-f: environment kept"
has_line 'B: "2"' "-f: environment overridden"
has_line 'published: "8000"' "-f: ports appended (1)"
has_line 'published: "8001"' "-f: ports appended (2)"
has_line "source: $P/data" "-f: bind path absolute"
bc -f over.yaml -f base.yaml config
ok "-f reversed" && has_line 'image: web:1' "-f: order matters"
COMPOSE_FILE=base.yaml:over.yaml bc config
ok "COMPOSE_FILE" && has_line 'image: web:2' "COMPOSE_FILE lists the files"
COMPOSE_FILE=base.yaml bc -f over.yaml -f base.yaml config
ok "-f over COMPOSE_FILE" && has_line 'published: "8001"' "-f wins over COMPOSE_FILE"
timeout 30 "$BERTH" compose -f - -p stdin config --services <base.yaml >"$TMP/bc.out" 2>"$TMP/bc.err"
RC=$?
OUT=$(cat "$TMP/bc.out")
ok "-f -" && expect_eq "$OUT" "$(printf 'web\ndb')" "-f - reads stdin"
mkdir -p "$TMP/elsewhere"
bc -f "$P/base.yaml" --project-directory "$TMP/elsewhere" config
ok "--project-directory" && has_line "source: $TMP/elsewhere/data" "--project-directory: paths resolve there"
has_line 'name: elsewhere' "--project-directory names the project"

# ---- names, .env ---------------------------------------------------------------------
bc -p myproj config
ok "-p" && has_line 'name: myproj' "-p"
has_line 'name: myproj_default' "-p names the default network"
COMPOSE_PROJECT_NAME=fromenv bc config
ok "COMPOSE_PROJECT_NAME" && has_line 'name: fromenv' "COMPOSE_PROJECT_NAME"
printf 'name: fromfile\n' | cat - compose.yaml >named.yaml
bc -f named.yaml config
ok "name:" && has_line 'name: fromfile' "top-level name:"
COMPOSE_PROJECT_NAME=fromenv bc -f named.yaml -p fromcli config
ok "-p wins" && has_line 'name: fromcli' "-p over COMPOSE_PROJECT_NAME and name:"
bc -p "Bad Name" config
refused "bad -p" '^berth compose: invalid project name "Bad Name"'

cat >compose.yaml <<'EOF'
version: "3.9"
services:
  web:
    image: "app:${TAG}"
    environment:
      GREETING: ${GREETING:-hello}
      FROM_DOTENV:
      LITERAL: "$$HOME"
EOF
printf 'TAG=dotenv\nFROM_DOTENV=yes it is\n' >.env
bc config
ok ".env" && has_line 'image: app:dotenv' ".env feeds \${TAG}"
has_line 'GREETING: hello' "\${VAR:-default}"
has_line 'FROM_DOTENV: yes it is' ".env feeds a bare environment key"
has_line 'LITERAL: \$HOME' "\$\$ is a literal \$"
TAG=shell GREETING=hi bc config
ok "environment over .env" && has_line 'image: app:shell' "the environment wins over .env"
has_line 'GREETING: hi' "\${VAR:-default} with VAR set"
printf 'TAG=other\n' >other.env
bc --env-file other.env config
ok "--env-file" && has_line 'image: app:other' "--env-file"
bc --env-file missing.env config
refused "--env-file missing" '^berth compose: cannot read missing.env: No such file or directory$'
printf 'NOT VALID\n' >.env
bc config
refused ".env broken" '^berth compose: \.env: line 1: invalid variable name "NOT VALID"$'
rm .env

# ---- the output loads again as the same model --------------------------------------
mkdir -p ctx
cat >compose.yaml <<'EOF'
services:
  web:
    build: ./ctx
    command: 'echo "a b" ''c: d'' "#e"' 
    ports: ["127.0.0.1:8000:80/udp", 3000]
    environment: [A=no, B="", C=1.5, D=on, E=null, F="1:30"]
    volumes: ["./data:/data:ro", "cache:/cache"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck: {test: "wget -q -O- localhost || exit 1", interval: 90s, retries: 3}
    restart: "no"
    deploy: {resources: {limits: {memory: 512m, cpus: 0.5}}}
    networks: {back: {aliases: [site]}}
  db:
    image: "postgres:16"
    labels: {"yes": "true"}
    networks: [back]
networks: {back: {}}
volumes: {cache: {}}
EOF
sum=$(sha256sum compose.yaml)
bc config
ok "config" && first=$OUT
printf '%s\n' "$OUT" >"$TMP/printed.yaml"
bc -f "$TMP/printed.yaml" --project-directory "$P" config
ok "reload" && expect_eq "$OUT" "$first" "the printed model reloads as itself"
if [ "$HAVE_PYYAML" -eq 1 ]; then
    OUT=$first
    expect_eq "$(yget services.web.ports.0.target)" "80" "a YAML reader: target"
    expect_eq "$(yget services.web.ports.0.host_ip)" "127.0.0.1" "a YAML reader: host_ip"
    expect_eq "$(yget services.web.environment.A)" "no" "a YAML reader: \"no\" stays a string"
    expect_eq "$(yget services.web.environment.D)" "on" "a YAML reader: \"on\" stays a string"
    expect_eq "$(yget services.web.environment.E)" "null" "a YAML reader: E=null is the string null"
    expect_eq "$(yget services.web.restart)" "no" "a YAML reader: restart"
    expect_eq "$(yget services.web.command)" '["echo", "a b", "c: d", "#e"]' "a YAML reader: command"
    expect_eq "$(yget services.web.deploy.resources.limits.memory)" "536870912" "a YAML reader: memory"
    expect_eq "$(yget services.web.healthcheck.interval)" "1m30s" "a YAML reader: interval"
fi
bc config -q
ok "-q" && expect_eq "$OUT" "" "-q prints nothing"
bc config --format json
ok "--format json"
expect_eq "$(jq -r '.services.web.ports[0].published' <<<"$OUT")" "8000" "--format json: ports"
expect_eq "$(jq -r '.services.web.depends_on.db.condition' <<<"$OUT")" "service_healthy" "--format json: depends_on"
expect_eq "$(jq -r '.networks.back.name' <<<"$OUT")" "my_app1_back" "--format json: network names"
bc config --format toml
check; [ "$RC" -eq 2 ] || fail "--format toml: exit $RC"
bc config --services
ok "--services" && expect_eq "$OUT" "$(printf 'web\ndb')" "--services"
bc config --volumes
ok "--volumes" && expect_eq "$OUT" "cache" "--volumes"
bc -p imgs config --images
ok "--images" && expect_eq "$OUT" "$(printf 'imgs-web\npostgres:16')" "--images: built ones named <project>-<service>"
expect_eq "$(sha256sum compose.yaml)" "$sum" "config leaves the file as it was"

# ---- broken files ---------------------------------------------------------------------
# bad NAME FILE-TEXT REGEX: compose.yaml is that text; config -q is refused
bad() {
    printf '%s\n' "$2" >bad.yaml
    local sum
    sum=$(sha256sum bad.yaml)
    bc -f bad.yaml config -q
    refused "$1" "$3"
    expect_eq "$(sha256sum bad.yaml)" "$sum" "$1: the file is untouched"
}
bad "bad YAML" 'services: {web: {image: x}' \
    '^berth compose: bad\.yaml: line 2 column 1: did not find expected'
bad "unknown key" $'services:\n  web:\n    image: x\n    imagee: y' \
    '^berth compose: bad\.yaml: services\.web\.imagee: unknown key$'
bad "unsupported key" $'services:\n  web:\n    image: x\n    privileged: true' \
    '^berth compose: bad\.yaml: services\.web\.privileged: not supported by berth$'
bad "wrong type" $'services:\n  web:\n    image: x\n    ports: "80:80"' \
    '^berth compose: bad\.yaml: services\.web\.ports: must be a list$'
bad "bad port" $'services:\n  web:\n    image: x\n    ports: ["x:80"]' \
    '^berth compose: bad\.yaml: services\.web\.ports\[0\]: invalid published port "x:80"$'
bad "huge number" $'services:\n  web:\n    image: x\n    ports: [99999999999999999999999]' \
    '^berth compose: bad\.yaml: services\.web\.ports\[0\]: invalid port'
bad "missing dependency" $'services:\n  web:\n    image: x\n    depends_on: [db]' \
    '^berth compose: bad\.yaml: services\.web\.depends_on: service "db" is not defined$'
bad "cycle" $'services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}' \
    '^berth compose: bad\.yaml: services\.a\.depends_on: dependency cycle: a -> b -> a$'
bad "required variable" $'services:\n  web:\n    image: ${IMAGE:?set IMAGE first}' \
    '^berth compose: bad\.yaml: services\.web\.image: required variable IMAGE is missing a value: set IMAGE first$'
bad "bad interpolation" $'services:\n  web:\n    image: "a${B"' \
    '^berth compose: bad\.yaml: services\.web\.image: invalid interpolation format in "a\$\{B"$'
bad "duplicate key" $'services:\n  web:\n    image: x\n    image: y' \
    '^berth compose: bad\.yaml: services\.web: duplicate key "image" \(line 4\)$'
bad "no image" $'services:\n  web:\n    command: x' \
    '^berth compose: bad\.yaml: services\.web: neither an image nor a build is given$'
bad "bad name:" $'name: "../x"\nservices: {web: {image: x}}' \
    '^berth compose: bad\.yaml: name: invalid project name "\.\./x"'
bad "control characters" $'services:\n  web:\n    image: x\n    ports: ["a\\nb\\u001b[2J"]' \
    '^berth compose: bad\.yaml: services\.web\.ports\[0\]: invalid port "a\\x0ab\\x1b\[2J"$'
check
! grep -q $'\x1b' "$TMP/bc.err" || fail "control characters: an escape byte reached the terminal"
bad "empty" '' '^berth compose: bad\.yaml: empty compose file$'
bad "not a mapping" '- a' '^berth compose: bad\.yaml: the top level must be a mapping$'
bomb='a: &a [x, x, x, x, x, x, x, x, x, x]'
prev=a
for n in b c d e f g h i j; do
    bomb+=$'\n'"$n: &$n [*$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev, *$prev]"
    prev=$n
done
start=$(date +%s)
bad "alias bomb" "$bomb" '^berth compose: bad\.yaml: .*more than [0-9]+ nodes \(aliases expanded\)'
check
[ $(( $(date +%s) - start )) -lt 10 ] || fail "alias bomb: took $(( $(date +%s) - start ))s"
# a later -f names its own file
printf 'services:\n  web:\n    depends_on: [ghost]\n' >over.yaml
bc -f base.yaml -f over.yaml config
refused "error in the second file" '^berth compose: over\.yaml: services\.web\.depends_on: service "ghost" is not defined$'
bc -f nothere.yaml config
refused "missing -f" '^berth compose: nothere\.yaml: No such file or directory$'
bc -f "$P" config
refused "a directory" 'is a directory$'
# no container was made by any of it
check
[ -z "$(timeout 20 "$BERTH" ps -aq 2>/dev/null)" ] || fail "a container exists after config"

# ---- usage ----------------------------------------------------------------------------
bc
check; [ "$RC" -eq 0 ] || fail "no subcommand: exit $RC (docker's: the usage, 0)"
bc frobnicate
check; [ "$RC" -eq 1 ] || fail "unknown subcommand: exit $RC"
expect_match "$ERR" "'compose frobnicate' is not a berth command" "unknown subcommand: message"
bc config --bogus
check; [ "$RC" -eq 125 ] || fail "unknown option: exit $RC"
bc --help
ok "--help" && expect_match "$OUT" "config" "--help lists config"

check
if ls "$TMP"/san/* >/dev/null 2>&1; then
    fail "sanitizer reports: $(head -20 "$TMP"/san/* | tr '\n' ' ')"
fi
finish
