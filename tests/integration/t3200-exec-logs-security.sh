#!/bin/bash
# t3200-exec-logs-security: attacks on the caller of berth exec and on berth
# run, from an image or a container. Needs root.
#
#   - exec's stdio: a probe in the container (a static C program built
#     here) reports where its fds 0-2 lead (pipes or /dev/null, never a
#     terminal of the caller's) and tries TIOCSTI on them and on /dev/tty;
#     run from a terminal (script(1)), the outer shell then reads a line
#     "typed" by the user: it must get that line, not the injected one;
#     with -i and with -t (its own pty) too;
#   - a process left behind by exec tries to read the caller's terminal
#     after exec has returned, while the user types;
#   - what must keep working: exit status, -i piping, stdout and stderr
#     apart, a signal to berth exec (and Ctrl-C at the terminal) reaching
#     the process, a reader that goes away (head);
#   - malformed image configs (Env [null], [5], Entrypoint [1], Cmd {},
#     User 5, WorkingDir [], ExposedPorts/Volumes/Labels of wrong types...)
#     loaded from hand-made docker-archive tars: berth run refuses each
#     with one line and 125, never crashes;
#   - logs: --log-opt max-size=64k max-file=3 bounds log.json and its
#     rotated files while a container writes fast; berth logs and --tail
#     read across them, oldest first; logs -f follows rotations; the
#     default is bounded; bad --log-opt values are refused.
# The store ($BERTH_ROOT) and $HOME live in $TMP; every container made here
# is removed by the EXIT trap. Under a sanitizer build (ASAN_OPTIONS set),
# reports go to $TMP/san and fail the test.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need script pgrep cc python3 mkfifo
mkdir -p "$TMP/vol"
at_exit 'exec 7>&-'
no_match() {   # WHAT TEXT REGEX
    check
    ! grep -qE -- "$3" <<<"$2" || fail "$1: /$3/ found in: $(grep -E -- "$3" <<<"$2" | head -3 | tr '\n' ' ')"
}

# ---- the image: busybox and the probe ---------------------------------------------
# probe sti: where fds 0-2 lead, and TIOCSTI on them and on /dev/tty.
# probe bgread OUT GO: a child left behind that, once GO exists, tries to
# read a terminal from fds 0-2 and /dev/tty, and writes what it got to OUT.
cat >"$TMP/probe.c" <<'EOF'
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char inject[] = "echo PWNED-BY-CONTAINER\n";

static void sti(int fd, const char *name)
{
    size_t i;
    for (i = 0; i < sizeof inject - 1; i++)
        if (ioctl(fd, TIOCSTI, &inject[i]) < 0)
            break;
    if (i == sizeof inject - 1)
        printf("sti %s: INJECTED\n", name);
    else
        printf("sti %s: refused (%s)\n", name, strerror(errno));
}

static void link_of(int fd)
{
    char path[64], target[256];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    printf("fd%d -> %s%s\n", fd, target, isatty(fd) ? " (tty)" : "");
}

static void try_read(FILE *out, int fd, const char *name)
{
    if (isatty(fd))
        fprintf(out, "%s: TTY\n", name);
    struct pollfd p = {fd, POLLIN, 0};
    char buf[256];
    ssize_t n = -1;
    if (poll(&p, 1, isatty(fd) ? 5000 : 0) > 0)
        n = read(fd, buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
        fprintf(out, "%s: READ %s", name, buf);
    } else
        fprintf(out, "%s: nothing (%zd, %s)\n", name, n, n < 0 ? strerror(errno) : "EOF");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sti") == 0) {
        for (int fd = 0; fd < 3; fd++)
            link_of(fd);
        sti(0, "fd0");
        sti(1, "fd1");
        sti(2, "fd2");
        int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
        if (tty < 0)
            printf("sti /dev/tty: no terminal (%s)\n", strerror(errno));
        else
            sti(tty, "/dev/tty");
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "bgread") == 0) {
        if (fork() != 0)
            return 0;
        signal(SIGHUP, SIG_IGN);   /* outlive the caller's session, if in it */
        for (int i = 0; i < 400 && access(argv[3], F_OK) != 0; i++)
            usleep(50000);
        FILE *out = fopen(argv[2], "w");
        if (!out)
            return 1;
        setvbuf(out, NULL, _IONBF, 0);
        try_read(out, 0, "fd0");
        try_read(out, 1, "fd1");
        try_read(out, 2, "fd2");
        int tty = open("/dev/tty", O_RDONLY | O_NOCTTY);
        if (tty < 0)
            fprintf(out, "/dev/tty: no terminal (%s)\n", strerror(errno));
        else
            try_read(out, tty, "/dev/tty");
        fprintf(out, "done\n");
        return 0;
    }
    fprintf(stderr, "usage: probe sti | probe bgread OUT GO\n");
    return 2;
}
EOF
cc -static -O2 -o "$TMP/probe" "$TMP/probe.c" 2>"$TMP/cc.err" ||
    { cat "$TMP/cc.err" >&2; echo "$T_NAME: cc -static failed (libc6-dev)" >&2; exit 1; }

R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/vol"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true env sleep id ps head tail wc seq yes test; do
    ln -s busybox "$R/bin/$c"
done
cp "$TMP/probe" "$R/probe"
chmod 1777 "$R/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" rt/probe:1
ok "berth import of the probe's rootfs" || finish

LONG=$((200000 + RANDOM))
bx run -d --name px -v "$TMP/vol:/vol" rt/probe:1 sleep $LONG
ok "run -d px" || finish

# ---- 1. exec's stdio, outside a terminal ------------------------------------------
bx exec px /probe sti
ok "exec probe sti"
expect_match "$OUT" $'fd0 -> /dev/null\n' "exec without -i: stdin is /dev/null"
expect_match "$OUT" $'fd1 -> pipe:\\[[0-9]+\\]\n' "exec: stdout is a pipe"
expect_match "$OUT" $'fd2 -> pipe:\\[[0-9]+\\]\n' "exec: stderr is a pipe"
no_match "exec: TIOCSTI" "$OUT" 'INJECTED'
expect_match "$OUT" 'sti /dev/tty: no terminal' "exec: no controlling terminal"
bxin "" exec -i px /probe sti
expect_match "$OUT" $'fd0 -> pipe:\\[[0-9]+\\]\n' "exec -i: stdin is a pipe"

# ---- 2. exec from a terminal: TIOCSTI into the caller's shell ---------------------
# inner.sh runs in script's pty, as a user's shell would: berth exec, then
# the shell reads the next line the user types. The test types it (through
# script's stdin, a fifo) once exec has returned.
cat >"$TMP/inner.sh" <<EOF
"$BERTH" exec \$EXEC_OPTS px \$PROBE
echo "exec-rc=\$?"
touch "$TMP/done"
IFS= read -r -t 20 line
echo "shell-read:[\$line]"
# the user's session goes on while what exec left behind is at work
for i in \$(seq 1 200); do
    [ -z "\$WAIT_FOR" ] || grep -q '^done\$' "\$WAIT_FOR" 2>/dev/null && break
    sleep 0.1
done
EOF
# term_exec NAME EXEC_OPTS PROBE...: $TOUT is what the terminal showed.
term_exec() {
    local name=$1 spid
    rm -f "$TMP/done" "$TMP/typed" "$TMP/vol/go"
    mkfifo "$TMP/typed"
    EXEC_OPTS=$2 PROBE=$3 WAIT_FOR=${WAIT_FOR:-} timeout 60 script -qec "bash $TMP/inner.sh" /dev/null \
        <"$TMP/typed" >"$TMP/$name.out" 2>&1 &
    spid=$!
    exec 7>"$TMP/typed"
    check; waitfor 30 test -e "$TMP/done" || fail "$name: exec did not return"
    [ -z "${GO:-}" ] || touch "$GO"
    # (a subshell: if the shell has already ended, SIGPIPE ends only it)
    (printf 'typed-by-user\n' >&7) 2>/dev/null
    wait "$spid"
    exec 7>&-
    TOUT=$(tr -d '\r' <"$TMP/$name.out")
}
term_exec sti "" "/probe sti"
expect_match "$TOUT" 'exec-rc=0' "exec from a terminal: exit status"
expect_match "$TOUT" 'fd1 -> pipe:' "exec from a terminal: stdout is a pipe"
expect_match "$TOUT" 'fd2 -> pipe:' "exec from a terminal: stderr is a pipe"
no_match "exec from a terminal: fds" "$TOUT" '^fd[0-2] -> .*\(tty\)'
no_match "exec from a terminal: TIOCSTI" "$TOUT" 'INJECTED|PWNED'
expect_match "$TOUT" 'sti /dev/tty: no terminal' "exec from a terminal: no controlling terminal"
expect_match "$TOUT" 'shell-read:\[typed-by-user\]' "exec from a terminal: the shell reads what the user typed"
term_exec sti-i "-i" "/probe sti"
expect_match "$TOUT" 'fd0 -> pipe:' "exec -i from a terminal: stdin is a pipe"
no_match "exec -i from a terminal: TIOCSTI" "$TOUT" 'INJECTED|PWNED'
expect_match "$TOUT" 'shell-read:\[typed-by-user\]' "exec -i from a terminal: the shell reads what the user typed"
# -t: a pty of its own, so TIOCSTI only feeds its own input
term_exec sti-t "-t" "/probe sti"
expect_match "$TOUT" 'exec-rc=0' "exec -t from a terminal: exit status"
expect_match "$TOUT" 'fd0 -> /dev/pts/[0-9]+ \(tty\)' "exec -t: a pty in the container"
expect_match "$TOUT" 'shell-read:\[typed-by-user\]' "exec -t from a terminal: the shell reads what the user typed"

# ---- 3. a process left behind reads the terminal after exec returned ---------------
GO=$TMP/vol/go WAIT_FOR=$TMP/vol/bg.out term_exec bgread "" "/probe bgread /vol/bg.out /vol/go"
check; waitfor 30 grep -q '^done$' "$TMP/vol/bg.out" || fail "bgread: the probe did not finish: $(cat "$TMP/vol/bg.out" 2>&1)"
BG=$(cat "$TMP/vol/bg.out" 2>/dev/null)
no_match "a process left by exec: terminal" "$BG" 'TTY|READ'
expect_match "$BG" '/dev/tty: no terminal' "a process left by exec has no controlling terminal"
expect_match "$TOUT" 'shell-read:\[typed-by-user\]' "after exec, the shell (not the container) reads what the user typed"
rm -f "$TMP/vol/bg.out"

# ---- 4. what exec must keep doing ----------------------------------------------------
bx exec px sh -c 'exit 7'
rc_is "exec sh -c 'exit 7'" 7
bx exec px nonexistent
rc_is "exec of an unknown command" 126   # docker exec's, not run's 127
bxin "hi" exec -i px cat
ok "echo hi | exec -i cat" && expect_eq "$OUT" "hi" "exec -i: stdin piped through"
bxin "" exec px sh -c 'echo to-out; echo to-err >&2'
expect_eq "$OUT" "to-out" "exec: stdout"
expect_eq "$ERR" "to-err" "exec: stderr apart"
expect_eq "$(timeout -k 5 60 "$BERTH" exec px sh -c 'head -c 3000000 /dev/zero' </dev/null | wc -c)" \
    3000000 "exec: 3 MB of output, whole"
# -i to a process that never reads its stdin and writes more than a pipe
# holds: both streams keep moving
head -c 1000000 /dev/zero | timeout -k 5 60 "$BERTH" exec -i px sh -c 'head -c 3000000 /dev/zero' >"$TMP/noread.out" 2>&1
NRC=${PIPESTATUS[1]}
expect_eq "$NRC" 0 "exec -i, stdin never read: exit status (124, 137: stuck)"
expect_eq "$(wc -c <"$TMP/noread.out")" 3000000 "exec -i, stdin never read: the whole output"
head -c 2000000 /dev/urandom >"$TMP/big.in"
expect_eq "$(timeout -k 5 60 "$BERTH" exec -i px sh -c 'cat; echo end' <"$TMP/big.in" | head -c 2000000 | cmp - "$TMP/big.in" && echo same)" \
    same "exec -i: 2 MB of stdin, whole and in order"
# (yes says a word of this run's, so that pgrep finds no other test's yes)
timeout -k 5 30 "$BERTH" exec px yes "t3200-$$" </dev/null 2>/dev/null | head -n 1 >/dev/null
YRC=${PIPESTATUS[0]}
check; [ "$YRC" -ne 124 ] || fail "exec yes | head -1: berth exec did not end when its reader went away"
check; waitfor 10 sh -c "! pgrep -f '^yes t3200-$$'" || fail "exec yes | head -1: yes is still running"
# a signal to berth exec reaches the process: 128 + 15
LONG2=$((300000 + RANDOM))
"$BERTH" exec px sleep $LONG2 </dev/null >/dev/null 2>&1 &
EP=$!
check
if waitfor 10 pgrep -f "^sleep $LONG2"; then
    kill -TERM "$EP"
    wait "$EP"
    expect_eq "$?" 143 "exec killed by SIGTERM: its exit status"
    check; waitfor 10 sh -c "! pgrep -f '^sleep $LONG2'" || fail "SIGTERM to berth exec did not reach the process"
else
    fail "exec sleep $LONG2 did not start"
    kill -KILL "$EP"; wait "$EP"
fi
# Ctrl-C at the terminal: the process is not in the terminal's process
# group any more, so it gets the SIGINT from berth exec
LONG3=$((400000 + RANDOM))
cat >"$TMP/inner-int.sh" <<EOF
"$BERTH" exec px sleep $LONG3
echo "exec-rc=\$?"
touch "$TMP/done"
EOF
rm -f "$TMP/done" "$TMP/typed"
mkfifo "$TMP/typed"
timeout 60 script -qec "bash $TMP/inner-int.sh" /dev/null <"$TMP/typed" >"$TMP/int.out" 2>&1 &
SPID=$!
exec 7>"$TMP/typed"
check
if waitfor 20 pgrep -f "^sleep $LONG3"; then
    (printf '\003' >&7) 2>/dev/null
    waitfor 20 test -e "$TMP/done" || fail "Ctrl-C: exec did not return"
    expect_match "$(tr -d '\r' <"$TMP/int.out")" 'exec-rc=130' "Ctrl-C at the terminal: exec's exit status"
    check; waitfor 10 sh -c "! pgrep -f '^sleep $LONG3'" || fail "Ctrl-C did not reach the exec'd process"
else
    fail "exec sleep $LONG3 from a terminal did not start"
fi
exec 7>&-
wait "$SPID"
bx rm -f px

# ---- 5. malformed image configs ------------------------------------------------------
# mkimage NAME JQ: a docker-archive of the probe rootfs whose config is the
# good one changed by JQ, loaded as rt/NAME:1.
DIFF=sha256:$(sha256sum "$TMP/rootfs.tar" | cut -d' ' -f1)
jq -n --arg d "$DIFF" '{architecture: "amd64", os: "linux", created: "2024-01-01T00:00:00Z",
    config: {Env: ["PATH=/bin"], Cmd: ["echo", "good-config"]},
    rootfs: {type: "layers", diff_ids: [$d]},
    history: [{created: "2024-01-01T00:00:00Z", created_by: "t3200"}]}' >"$TMP/good-config.json"
mkimage() {
    jq -c "$2" "$TMP/good-config.json" >"$TMP/config.json" || { echo "bad jq: $2" >&2; return 1; }
    python3 - "$TMP/config.json" "$TMP/rootfs.tar" "$TMP/img.tar" "rt/$1:1" <<'PY'
import io, json, sys, tarfile
config, layer, out, tag = sys.argv[1:]
cfg = open(config, "rb").read()
with tarfile.open(out, "w") as t:
    def add(name, data):
        i = tarfile.TarInfo(name)
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
    add("config.json", cfg)
    t.add(layer, arcname="layer.tar")
    add("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": [tag],
                                      "Layers": ["layer.tar"]}]).encode())
PY
    bx load -i "$TMP/img.tar"
}
mkimage good '.'
ok "load of the hand-made docker-archive"
bx run --rm rt/good:1
ok "run of the good hand-made image" && expect_eq "$OUT" "good-config" "run of the good hand-made image: output"
N0=$(count_containers) D0=$(container_dirs)
i=0
while IFS='|' read -r expr field; do
    [ -n "$expr" ] || continue
    i=$((i + 1))
    mkimage "bad$i" "$expr"
    check; [ "$RC" -eq 0 ] || { fail "load of the config $expr: $ERR"; continue; }
    bx run --rm "rt/bad$i:1"
    rc_is "run of an image whose config has $expr" 125
    one_line "run of an image whose config has $expr" "^berth run: invalid image config: $field"
    bx run -d "rt/bad$i:1"
    rc_is "run -d of an image whose config has $expr" 125
done <<'EOF'
.config.Env = [null]|config.Env
.config.Env = [5]|config.Env
.config.Env = "PATH=/bin"|config.Env
.config.Entrypoint = [1]|config.Entrypoint
.config.Entrypoint = "sh"|config.Entrypoint
.config.Cmd = {}|config.Cmd
.config.Cmd = ["echo", ["x"]]|config.Cmd
.config.User = 5|config.User
.config.User = ["root"]|config.User
.config.WorkingDir = []|config.WorkingDir
.config.WorkingDir = 0|config.WorkingDir
.config.ExposedPorts = ["80/tcp"]|config.ExposedPorts
.config.ExposedPorts = {"80/tcp": 5}|config.ExposedPorts
.config.Volumes = "/data"|config.Volumes
.config.Volumes = {"/data": "x"}|config.Volumes
.config.Labels = {"a": 1}|config.Labels
.config.Labels = ["a=b"]|config.Labels
.config.StopSignal = 15|config.StopSignal
.config.Shell = "sh"|config.Shell
.config.OnBuild = [1]|config.OnBuild
.config.Healthcheck = "CMD true"|config.Healthcheck
.config.Healthcheck = {"Test": [1]}|config.Healthcheck.Test
.config.Healthcheck = {"Interval": "5s"}|config.Healthcheck.Interval
.config.ArgsEscaped = "yes"|config.ArgsEscaped
.config = "x"|config is not
.config = [1, 2]|config is not
.history = {}|history
.history = [5]|history
.created = 5|created
.os = ["linux"]|os
.rootfs.type = 1|rootfs.type
EOF
expect_eq "$(count_containers)" "$N0" "malformed configs: containers left"
expect_eq "$(container_dirs)" "$D0" "malformed configs: directories left"
# null stands for absent, as with docker
mkimage nulls '.config.Env = null | .config.Entrypoint = null | .config.User = null |
    .config.Labels = null | .config.ExposedPorts = null | .config.Cmd = ["echo", "nulls-ok"]'
bx run --rm rt/nulls:1
ok "run of an image with null fields" && expect_eq "$OUT" "nulls-ok" "null fields: output"
mkimage noconfig 'del(.config)'
bx run --rm rt/noconfig:1 echo no-config-ok
ok "run of an image with no config object" && expect_eq "$OUT" "no-config-ok" "no config: output"

# ---- 6. logs: bounded, rotated, read across files -----------------------------------
N0=$(count_containers) D0=$(container_dirs)
for bad in 'max-size=abc' 'max-size=0' 'max-size=-1' 'max-size=10x' 'max-size=' 'max-file=0' \
    'max-file=x' 'max-file=-2' 'max-file=1.5' 'max-file=' 'max-size' 'compress=true' \
    'bogus=1' '=1'; do
    bx run --rm --log-opt "$bad" rt/probe:1 true
    rc_is "run --log-opt $bad" 125
    one_line "run --log-opt $bad" '^berth run: .*log opt'
done
expect_eq "$(count_containers)" "$N0" "bad --log-opt: containers left"
expect_eq "$(container_dirs)" "$D0" "bad --log-opt: directories left"
for good in 10k 10m 1g 1.5m 64KB 100b 2048; do
    bx run --rm --log-opt "max-size=$good" --log-opt max-file=2 rt/probe:1 true
    ok "run --log-opt max-size=$good"
done

# the default is bounded
bx run -d --name dflt rt/probe:1 true
expect_eq "$(state dflt '.HostConfig.LogConfig | "\(.Type) \(.Config["max-size"]) \(.Config["max-file"])"')" \
    "json-file 20m 5" "default log limits in inspect"
bx run -d --name sizeonly --log-opt max-size=1m rt/probe:1 true
expect_eq "$(state sizeonly '.HostConfig.LogConfig.Config | "\(.["max-size"]) \(.["max-file"])"')" \
    "1m 1" "max-size alone keeps one file (as docker's json-file)"
bx rm -f dflt sizeonly

# A container writes 40000 numbered lines as fast as it can; while it
# does, the log on disk never passes 3 x 64k (plus one line).
LIMIT=$((3 * 64000 + 200))
N=40000
bx run -d --name flood --log-opt max-size=64k --log-opt max-file=3 rt/probe:1 \
    sh -c "i=0; while [ \$i -lt $N ]; do echo \"line \$i of the flood, padded to a fair length\"; i=\$((i+1)); done"
ok "run -d flood" || finish
FLOOD=$OUT
DIR=$BERTH_ROOT/containers/$FLOOD
MAXSEEN=0 MAXFILES=0
log_size() { cat "$DIR"/log.json* 2>/dev/null | wc -c; }
for _ in $(seq 1 600); do
    SZ=$(log_size)
    NF=$(ls "$DIR" 2>/dev/null | grep -c '^log\.json')
    [ "$SZ" -gt "$MAXSEEN" ] && MAXSEEN=$SZ
    [ "$NF" -gt "$MAXFILES" ] && MAXFILES=$NF
    [ "$(state flood .State.Running)" = true ] || break
    sleep 0.05
done
SZ=$(log_size)
[ "$SZ" -gt "$MAXSEEN" ] && MAXSEEN=$SZ
check; [ "$MAXSEEN" -le "$LIMIT" ] || fail "flood: $MAXSEEN bytes of log on disk (limit $LIMIT)"
check; [ "$MAXFILES" -le 3 ] || fail "flood: $MAXFILES log files (max-file=3)"
expect_eq "$(ls "$DIR" | grep '^log\.json' | sort | tr '\n' ' ')" "log.json log.json.1 log.json.2 " "flood: the log files"
check; [ "$(stat -c %s "$DIR/log.json.1")" -le 64000 ] || fail "flood: log.json.1 is over max-size"
bx logs flood
LOGS=$OUT
expect_eq "$(tail -n 1 <<<"$LOGS")" "line $((N - 1)) of the flood, padded to a fair length" "logs: the last line"
# oldest first and nothing twice: consecutive numbers up to the last
SEQ_OK=$(awk '{ if (NR > 1 && $2 != prev + 1) { print "gap after " prev; exit } prev = $2 } END { print "end " prev }' <<<"$LOGS")
expect_eq "$SEQ_OK" "end $((N - 1))" "logs: lines in order across the rotated files"
LINES_ON_DISK=$(cat "$DIR/log.json.2" "$DIR/log.json.1" "$DIR/log.json" | wc -l)
expect_eq "$(wc -l <<<"$LOGS")" "$LINES_ON_DISK" "logs: every line of the three files"
IN_LAST=$(wc -l <"$DIR/log.json")
TAIL=$((IN_LAST + 25))
bx logs --tail "$TAIL" flood
expect_eq "$(wc -l <<<"$OUT")" "$TAIL" "logs --tail $TAIL (more than log.json holds): line count"
expect_eq "$(head -n 1 <<<"$OUT" | cut -d' ' -f2)" "$((N - TAIL))" "logs --tail across files: the first line"
expect_eq "$(tail -n 1 <<<"$OUT" | cut -d' ' -f2)" "$((N - 1))" "logs --tail across files: the last line"
bx logs --tail 3 flood
expect_eq "$(cut -d' ' -f2 <<<"$OUT" | tr '\n' ' ')" "$((N - 3)) $((N - 2)) $((N - 1)) " "logs --tail 3"
bx logs --tail 0 flood
expect_eq "$OUT" "" "logs --tail 0"
bx rm -f flood

# logs -f while the log rotates: it ends with the container, in order, with
# the last line
bx run -d --name follow --log-opt max-size=16k --log-opt max-file=2 rt/probe:1 \
    sh -c "sleep 1; i=0; while [ \$i -lt 5000 ]; do echo \"line \$i\"; i=\$((i+1)); done"
ok "run -d follow"
timeout 60 "$BERTH" logs -f follow </dev/null >"$TMP/follow.out" 2>&1
FRC=$?
expect_eq "$FRC" 0 "logs -f across rotations: exit status"
expect_eq "$(tail -n 1 "$TMP/follow.out")" "line 4999" "logs -f across rotations: the last line"
FOLLOW_ORDER=$(awk '{ if (NR > 1 && $2 <= prev) { print "out of order at " $0; exit } prev = $2 } END { print "ok" }' "$TMP/follow.out")
expect_eq "$FOLLOW_ORDER" ok "logs -f across rotations: in order, nothing twice"
bx rm -f follow

# max-file=1: log.json alone, emptied when full
bx run -d --name one --log-opt max-size=8k rt/probe:1 sh -c 'seq 1 3000'
ok "run -d --log-opt max-size=8k (max-file 1)"
waitfor 30 sh -c "[ \"\$('$BERTH' inspect one | jq -r '.[0].State.Running')\" = false ]"
DIR=$BERTH_ROOT/containers/$(state one .Id)
expect_eq "$(ls "$DIR" | grep '^log\.json' | tr '\n' ' ')" "log.json " "max-file 1: one file"
check; [ "$(stat -c %s "$DIR/log.json")" -le 8000 ] || fail "max-file 1: log.json is over max-size"
bx logs --tail 1 one
expect_eq "$OUT" 3000 "max-file 1: the last line"
bx rm -f one

# ---- the end ------------------------------------------------------------------------
for c in $(timeout 20 "$BERTH" ps -aq); do timeout 20 "$BERTH" rm -f "$c" >/dev/null 2>&1; done
expect_eq "$(count_containers)" 0 "containers left"
LEFT=$(pgrep -af "sleep ($LONG|$LONG2|$LONG3)")
check; [ -z "$LEFT" ] || fail "processes left: $LEFT"
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
