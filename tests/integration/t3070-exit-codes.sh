#!/bin/bash
# t3070-exit-codes: berth's exit codes and flag errors are docker 20.10's,
# for every command, as a script that checks $? sees them (each line of
# the tables below was run through docker 20.10 with an imported busybox
# image, --network none, and gave the same code):
#
#   - a flag a command does not have, a flag missing its value, a long flag
#     given by a prefix (--no for --no-trunc): 125, with docker's two lines
#     ("unknown flag: --x", "See 'berth CMD --help'."), for every command
#     and subcommand (compose's, network's, image's, ...), and nothing done;
#   - --help (and -h where the command has no -h of its own) on every
#     command and subcommand: its usage on stdout, 0, nothing on stderr;
#   - an unknown command or subcommand: 1; a management command alone: 0;
#   - flags after the image (run) or the container (exec) are the
#     command's: `run IMG echo --help` prints --help;
#   - run: -u nosuchuser 125, -w relative 125 (no container made), a
#     command not found 127, a file that is not executable 126;
#   - exec: a command not found 126 (docker exec's, not run's 127), -u
#     nosuchuser 126, -w /missing 126 (and not made), a stopped or unknown
#     container 1;
#   - kill -s BOGUS: 1, on a running container and on an unknown one;
#   - where docker's CLI is installed, the flag and --help lines are run
#     through it too, and must exit as berth does.
# The store ($BERTH_ROOT) lives in $TMP; lib-runtime.sh removes every
# container made here.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"

# t CODE PATTERN ARGS...: `berth ARGS` exits CODE; PATTERN, when not
# empty, matches its stderr (its stdout when CODE is 0, and then stderr
# is empty).
t() {
    local code=$1 pat=$2
    shift 2
    bx "$@"
    rc_is "berth $*" "$code"
    [ -z "$pat" ] && return
    if [ "$code" -eq 0 ]; then
        expect_match "$OUT" "$pat" "berth $*: stdout"
        expect_eq "$ERR" "" "berth $*: stderr"
    else
        expect_match "$ERR" "$pat" "berth $*: stderr"
    fi
}

# ---- an image and two containers ----------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh echo cat true sleep pwd test; do ln -s busybox "$R/bin/$c"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" ec/bb:1
ok "import" || finish
bx run -d --name t3070-up ec/bb:1 sleep 1000
ok "run -d t3070-up" || finish
bx run --name t3070-down ec/bb:1 true
ok "run t3070-down"
N0=$(count_containers)
D0=$(container_dirs)

# Compose's subcommands need a project.
mkdir -p "$TMP/proj"
printf 'services:\n  web:\n    image: ec/bb:1\n    command: ["sleep", "1000"]\n' \
    >"$TMP/proj/compose.yaml"
CF=(compose -f "$TMP/proj/compose.yaml" -p t3070)

# ---- 1. every command: a bad flag is 125, --help is 0 --------------------------------
PATHS=(login logout pull push images tag rmi inspect history save load import catalog tags
       mirror run exec ps logs stop kill rm wait port start restart build commit
       "image ls" "image rm" "image prune" "image tag" "image inspect" "image history"
       "image save" "image load" "image import" "image pull" "image push"
       "container ls" "container rm" "container run" "container exec" "container logs"
       "container stop" "container kill" "container wait" "container inspect"
       "container commit" "container start" "container restart" "container port"
       "network create" "network ls" "network inspect" "network rm" "network prune"
       "network connect" "network disconnect" "builder prune" "system df")
COMPOSE=(config up down ps logs start stop restart exec run build pull push port)
for p in "${PATHS[@]}"; do
    # shellcheck disable=SC2086 # the path is words
    t 125 "^unknown flag: --bogus-flag
See 'berth $p --help'.\$" $p --bogus-flag
    # shellcheck disable=SC2086
    t 0 "^
Usage:  berth $p( |"$'\n'"|\$)" $p --help
done
for p in "${COMPOSE[@]}"; do
    t 125 "^unknown flag: --bogus-flag
See 'berth compose $p --help'.\$" "${CF[@]}" "$p" --bogus-flag
    t 0 "^
Usage:  berth compose $p( |"$'\n'"|\$)" "${CF[@]}" "$p" --help
done
for p in "" image container network builder system compose; do
    # shellcheck disable=SC2086
    t 0 "Usage:  berth $p" $p --help
done
expect_match "$(bx network --help; echo "$OUT")" $'\n  create +Create a network' \
    "network --help lists its subcommands"
# -h as --help, where the command has no -h of its own (run's is --hostname)
t 0 "^
Usage:  berth ps " ps -h
t 0 "^
Usage:  berth rm " rm -h
t 0 "^
Usage:  berth network ls " network ls -h
t 125 "^flag needs an argument: 'h' in -h" run -h
# --help anywhere among the options, and after a command's arguments
t 0 "Usage:  berth ps " ps -a --help
t 0 "Usage:  berth rm " rm t3070-up --help
t 0 "Usage:  berth tag " tag a --help
expect_match "$(state t3070-up .State.Status)" running "rm --help removed nothing"

# ---- 2. the shapes of a bad flag -----------------------------------------------------
t 125 "^unknown shorthand flag: 'z' in -z
See 'berth ps --help'.\$" ps -z
t 125 "^unknown shorthand flag: 'z' in -az"$'\n' ps -az
t 125 "^flag needs an argument: --name
See 'berth run --help'.\$" run --name
t 125 "^flag needs an argument: 's' in -s
See 'berth kill --help'.\$" kill -s
t 125 "^unknown flag: --no"$'\n' ps --no             # a prefix of --no-trunc: not docker's
t 125 "^unknown flag: --all"$'\n' ps --all=x         # a value to a flag that takes none
t 125 "^unknown flag: --bogus
See 'berth --help'.\$" --bogus
t 125 "^flag needs an argument: --root
See 'berth --help'.\$" --root
t 125 "^unknown flag: --x"$'\n' tag --x ec/bb:1 ec/bb:2   # commands without flags refuse them
t 125 "^unknown shorthand flag: 'x' in -x"$'\n' wait -x t3070-up
t 125 "^unknown flag: --bogus
See 'berth network inspect --help'.\$" network inspect --bogus bridge
t 125 "^unknown flag: --bogus
See 'berth compose --help'.\$" "${CF[@]}" --bogus ps
t 125 "" run --rm --bogus ec/bb:1 true
t 125 "" "${CF[@]}" up -d --bogus-flag
bx images -q ec/bb:2
expect_eq "$OUT" "" "tag --x tagged nothing"
# and without a bad flag, those commands still find their arguments
t 0 "^0\$" wait t3070-down
t 0 "" tag ec/bb:1 ec/bb:3
t 0 "^\$" port t3070-up
expect_eq "$(count_containers)" "$N0" "bad flags made no container:"
expect_eq "$(container_dirs)" "$D0" "bad flags left no directory:"

# ---- 3. unknown commands -------------------------------------------------------------
t 1 "^berth: 'frobnicate' is not a berth command.
See 'berth --help'\$" frobnicate
for m in image container network builder system compose; do
    t 1 "'$m frobnicate' is not a berth command" "$m" frobnicate
    t 0 "" "$m"
done
bx
rc_is "berth alone (docker's: the usage)" 0

# ---- 4. what follows the image or the container is the command's ---------------------
t 0 "^--help\$" run --rm ec/bb:1 echo --help
t 0 "^-h --bogus\$" run --rm ec/bb:1 echo -h --bogus
t 0 "^--help\$" exec t3070-up echo --help
t 0 "^-- -x\$" run --rm ec/bb:1 echo -- -x

# ---- 5. run ---------------------------------------------------------------------------
t 125 "^berth run: unable to find user nosuchuser: no matching entries in passwd file\$" \
    run --rm -u nosuchuser ec/bb:1 true
t 125 "^berth run: the working directory 'relative' is invalid, it needs to be an absolute path\$" \
    run -w relative ec/bb:1 true
t 127 'executable file not found in \$PATH' run --rm ec/bb:1 nosuchcmd
t 127 'no such file or directory' run --rm ec/bb:1 /no/such/file
t 126 '[Pp]ermission denied' run --rm ec/bb:1 /etc/passwd
t 3 "" run --rm ec/bb:1 sh -c 'exit 3'
t 0 "^/made/here\$" run --rm -w /made/here ec/bb:1 pwd   # run makes it, as docker's
expect_eq "$(count_containers)" "$N0" "failed runs with --rm left no container:"
bx run --name t3070-nouser -u nosuchuser ec/bb:1 true
rc_is "run -u nosuchuser, kept" 125
expect_eq "$(state t3070-nouser .State.ExitCode)" 125 "a run that failed to start: ExitCode"

# ---- 6. exec --------------------------------------------------------------------------
t 126 'executable file not found in \$PATH' exec t3070-up nosuchcmd
t 126 '[Pp]ermission denied' exec t3070-up /etc/passwd
t 126 'unable to find user nosuchuser' exec -u nosuchuser t3070-up true
t 126 'chdir to cwd \("/missing"\) set in config.json failed: no such file or directory' \
    exec -w /missing t3070-up true
t 1 "" exec t3070-up test -e /missing
t 126 'not a directory' exec -w /etc/passwd t3070-up true
t 0 "^/tmp\$" exec -w /tmp t3070-up pwd
t 7 "" exec t3070-up sh -c 'exit 7'
t 1 'is not running' exec t3070-down true
t 1 '' exec t3070-nosuch true
t 1 'requires at least 2 arguments' exec t3070-up

# ---- 7. kill -s -----------------------------------------------------------------------
t 1 '^berth kill: Invalid signal: BOGUS$' kill -s BOGUS t3070-up
t 1 'Invalid signal: BOGUS' kill -s BOGUS t3070-nosuch
expect_eq "$(state t3070-up .State.Status)" running "kill -s BOGUS: still running"
t 0 '^t3070-up$' kill -s TERM t3070-up   # PID 1 without a handler: ignored, as docker's

# ---- 8. the same command lines through docker's CLI, where it is installed ----------------
# (flags are docker's CLI's own business: no engine is needed)
DOCKER=$(command -v docker || true)
if [ -n "$DOCKER" ]; then
    same() {
        local want
        HOME=$TMP/home timeout 20 "$DOCKER" "$@" </dev/null >/dev/null 2>&1
        want=$?
        bx "$@"
        check
        [ "$RC" -eq "$want" ] || fail "berth $* exits $RC, docker $want"
    }
    for p in "${PATHS[@]}"; do
        case $p in catalog | tags | mirror) continue ;; esac
        # shellcheck disable=SC2086
        same $p --bogus-flag
        # shellcheck disable=SC2086
        same $p --help
    done
    for p in image container network builder system; do
        same "$p" frobnicate
        same "$p" --help
    done
    same frobnicate
    same --bogus
    same ps -z
    same ps -az
    same ps --no
    same ps -h
    same run --name
    same kill -s
    same tag --x a b
    same wait -x c
    same rm -h
fi

# the monitors' sanitizer reports too (a build with ASAN_OPTIONS set)
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi

finish
