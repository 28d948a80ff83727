#!/bin/bash
# t3640-inspect-parity: the same command lines through docker and berth on
# one image, their outputs and exit codes compared, so that drift fails
# here; what berth must print is also checked on its own, so the test
# means something where no docker engine is installed. Needs root.
#
#   - inspect: HostConfig.NetworkMode (none, host, default, a network's
#     name), Config.Env (the image's and the user's variables only; the
#     process still has HOSTNAME and PATH), HostConfig.PidsLimit (null
#     unless set);
#   - a first start that fails (command not found): run -d prints the id
#     then the error, exit 127; the container stays "created" (ps:
#     Created) with its exit code and error, no start time; start again
#     fails the same way; rm takes it;
#   - an image the registry does not have (a berthd), and a registry that
#     does not answer: run fails at once, exit 125, no retries;
#   - personality(2): the values docker's seccomp profile allows (0, 0x8,
#     0x20000, 0x20008, the query 0xffffffff) work, others fail EPERM;
#   - ps: COMMAND quoted as docker's ("sh -c 'sleep 300'"), cut at 20
#     characters with "…", columns aligned in characters, at least 10 wide;
#   - run -t / -it (stdin not a terminal) and --read-only: same output and
#     status as docker's.
# With a docker engine (dockerd and /usr/bin/docker), this test starts one
# of its own (its socket, data and exec roots in $TMP; --network none
# only), makes the image there (docker import, then save) and loads the
# same image into berth; it stops that engine when it ends. The store
# ($BERTH_ROOT) and $HOME live in $TMP; the EXIT trap removes every
# container, network and mount made here.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need "$BERTHD" cc curl

R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh cat echo sleep true tty env sort grep; do ln -s busybox "$R/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
# pers VALUE...: personality(VALUE) for each, its result or its error
cat >"$TMP/pers.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        errno = 0;
        int r = personality(strtoul(argv[i], NULL, 0));
        printf("%s %s\n", argv[i], r < 0 ? strerror(errno) : "ok");
    }
    return 0;
}
EOF
cc -static -O2 -o "$R/bin/pers" "$TMP/pers.c" || { echo "$T_NAME: cannot build a static program" >&2; exit 1; }
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
IMG=tp/bb:1

# ---- a docker engine of this test's own, when there is one to start ------------------------
DOCKER=
if [ -x /usr/bin/docker ] && command -v dockerd >/dev/null && [ -z "${BERTH_TEST_NO_DOCKER:-}" ]; then
    D=$TMP/d
    mkdir -p "$D"
    export DOCKER_HOST=unix://$D/sock
    dockerd --storage-driver vfs --iptables=false --ip6tables=false --bridge=none \
        --data-root "$D/data" --exec-root "$D/exec" -H "$DOCKER_HOST" --pidfile "$D/pid" \
        >"$D/log" 2>&1 &
    DOCKERD_PID=$!
    at_exit 'for _c in $(/usr/bin/docker ps -aq); do /usr/bin/docker rm -f "$_c"; done;
             kill $DOCKERD_PID; for _i in $(seq 1 100); do kill -0 $DOCKERD_PID || break; sleep 0.1; done;
             kill -9 $DOCKERD_PID; wait $DOCKERD_PID'
    if waitfor 60 /usr/bin/docker info; then
        DOCKER=/usr/bin/docker
    else
        echo "$T_NAME: dockerd did not start, comparing with docker's known outputs only" >&2
        tail -5 "$D/log" >&2
    fi
fi
if [ -n "$DOCKER" ]; then
    $DOCKER import --change 'ENV PATH=/bin' "$TMP/rootfs.tar" $IMG >/dev/null &&
        $DOCKER save -o "$TMP/image.tar" $IMG
    check; [ -s "$TMP/image.tar" ] || fail "docker import and save of the test image"
    bx load -i "$TMP/image.tar"
    ok "berth load of docker's image" || finish
else
    echo "$T_NAME: no docker engine: berth is checked against docker's known outputs only" >&2
    bx import "$TMP/rootfs.tar" $IMG
    ok "import the busybox image" || finish
fi

# both ARGS...: the same command line through docker (when there is one)
# and berth, stdin /dev/null; $B_RC $B_OUT $B_ERR, $D_RC $D_OUT $D_ERR.
both() {
    bx "$@"
    B_RC=$RC B_OUT=$OUT B_ERR=$ERR
    [ -n "$DOCKER" ] || return 0
    timeout -k 5 120 $DOCKER "$@" </dev/null >"$TMP/d.out" 2>"$TMP/d.err"
    D_RC=$?
    D_OUT=$(cat "$TMP/d.out")
    D_ERR=$(cat "$TMP/d.err")
}
# same WHAT [out|rc|err...]: berth's last results are docker's
same() {
    local what=$1 k
    shift
    [ -n "$DOCKER" ] || return 0
    for k in "$@"; do
        case $k in
            rc) expect_eq "$B_RC" "$D_RC" "$what: exit status as docker's" ;;
            out) expect_eq "$B_OUT" "$D_OUT" "$what: stdout as docker's" ;;
            err) expect_eq "$B_ERR" "$D_ERR" "$what: stderr as docker's" ;;
        esac
    done
}
# inspect_both CTR JQ: the field in both; $B_V $D_V.
inspect_both() {
    B_V=$(timeout 20 "$BERTH" inspect "$1" | jq -c ".[0]$2")
    [ -n "$DOCKER" ] || return 0
    D_V=$(timeout 20 $DOCKER inspect "$1" | jq -c ".[0]$2")
    expect_eq "$B_V" "$D_V" "inspect $1 $2 as docker's"
}
IMAGE_ENV=$(timeout 20 "$BERTH" image inspect $IMG | jq -c '.[0].Config.Env // []')

# ---- 1. inspect: NetworkMode, Config.Env, PidsLimit ---------------------------------------------
both run -d --network none --name tp-env -e FOO=1 -e 'BAR=two words' $IMG sleep 300
check; [ "$B_RC" -eq 0 ] || fail "run -d tp-env: $B_ERR"
inspect_both tp-env .HostConfig.NetworkMode
expect_eq "$B_V" '"none"' "--network none: NetworkMode"
# (docker's own order of the -e variables changes from run to run: compared as sets)
inspect_both tp-env '.Config.Env | sort'
B_V=$(state tp-env .Config.Env | jq -c .)
expect_eq "$B_V" "$(jq -c '["FOO=1", "BAR=two words"] + .' <<<"$IMAGE_ENV")" \
    "Config.Env: the user's, then the image's, nothing else"
inspect_both tp-env .HostConfig.PidsLimit
expect_eq "$B_V" null "no --pids-limit: PidsLimit null"
both exec tp-env sh -c 'env | grep -c "^HOSTNAME=$(cat /etc/hostname)$"; echo $PATH'
expect_eq "$B_OUT" "1
$(jq -r '.[] | select(startswith("PATH=")) | .[5:]' <<<"$IMAGE_ENV" | grep . || echo /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)" \
    "the process has HOSTNAME and the image's PATH"
same "exec env" rc out
both run -d --network host --pids-limit 50 --name tp-host $IMG sleep 300
inspect_both tp-host .HostConfig.NetworkMode
expect_eq "$B_V" '"host"' "--network host: NetworkMode"
inspect_both tp-host .HostConfig.PidsLimit
expect_eq "$B_V" 50 "--pids-limit 50: PidsLimit"
bx run -d --name tp-default $IMG sleep 300
ok "run -d without --network"
expect_eq "$(state tp-default .HostConfig.NetworkMode)" default "no --network: NetworkMode default"
bx network create --subnet 10.97.3.0/24 tp-net
ok "network create tp-net"
bx run -d --name tp-onnet --network tp-net $IMG sleep 300
ok "run -d --network tp-net"
expect_eq "$(state tp-onnet .HostConfig.NetworkMode)" tp-net "--network NAME: NetworkMode is its name"
bx rm -f tp-default tp-onnet tp-host
ok "rm -f"
[ -z "$DOCKER" ] || $DOCKER rm -f tp-host >/dev/null
bx network rm tp-net
ok "network rm tp-net"

# ---- 2. a first start that fails -------------------------------------------------------------------
both run -d --network none --name tp-fail $IMG nosuchcmd
expect_eq "$B_RC" 127 "run -d nosuchcmd: exit 127"
expect_match "$B_OUT" '^[0-9a-f]{64}$' "run -d nosuchcmd: the id on stdout all the same"
expect_match "$B_ERR" 'exec: "nosuchcmd": executable file not found in \$PATH' "run -d nosuchcmd: why"
same "run -d nosuchcmd" rc
[ -z "$DOCKER" ] || expect_match "$D_OUT" '^[0-9a-f]{64}$' "docker run -d nosuchcmd prints the id"
expect_eq "$(state tp-fail .Id)" "$B_OUT" "the id printed is the container's"
inspect_both tp-fail .State.Status
expect_eq "$B_V" '"created"' "failed first start: State.Status created"
inspect_both tp-fail .State.ExitCode
expect_eq "$B_V" 127 "failed first start: ExitCode"
inspect_both tp-fail .State.StartedAt
expect_eq "$B_V" '"0001-01-01T00:00:00Z"' "failed first start: never started"
inspect_both tp-fail .State.Running
expect_eq "$(state tp-fail .State.Error)" 'exec: "nosuchcmd": executable file not found in $PATH' \
    "failed first start: State.Error"
check; timeout 20 "$BERTH" ps -a | grep -q ' Created .*tp-fail$' ||
    fail "ps -a: the container is Created: $(timeout 20 "$BERTH" ps -a)"
both start tp-fail
expect_eq "$B_RC" 1 "start again: fails"
same "start of a container whose command is missing" rc
expect_eq "$(state tp-fail .State.Status)" created "start again: still created"
bx rm tp-fail
ok "rm of a created container"
both run --network none --name tp-fail2 $IMG nosuchcmd
expect_eq "$B_RC" 127 "run nosuchcmd, attached: exit 127"
same "run nosuchcmd" rc
expect_eq "$(state tp-fail2 .State.Status)" created "attached, failed: created"
bx rm tp-fail2
ok "rm tp-fail2"
BEFORE=$(count_containers)
bx run --rm --network none $IMG nosuchcmd
rc_is "run --rm nosuchcmd" 127
expect_eq "$(count_containers)" "$BEFORE" "run --rm nosuchcmd: removed"

# ---- 3. an image nobody has: at once, no retries ----------------------------------------------------
berthd_start
DEAD=127.0.0.1:$(free_port)
for reg in "$REG" "$DEAD"; do
    START=$(date +%s%N)
    both run --rm --network none "$reg/nosuch/image:1" true
    MS=$((($(date +%s%N) - START) / 1000000))
    expect_eq "$B_RC" 125 "run $reg/nosuch/image:1: exit 125"
    same "run $reg/nosuch/image:1" rc
    expect_match "$B_ERR" "Unable to find image '$reg/nosuch/image:1' locally" "run $reg/nosuch: says so"
    check; grep -q retrying <<<"$B_ERR" && fail "run $reg/nosuch: retried: $B_ERR"
    check; [ "$MS" -lt 5000 ] || fail "run $reg/nosuch: took ${MS} ms (both engines)"
done
expect_match "$B_ERR" "Couldn't connect to server" "a registry that does not answer: the error"

# ---- 4. personality --------------------------------------------------------------------------------
both run --rm --network none $IMG pers 0x0 0x8 0x20000 0x20008 0xffffffff 0x40000 0x400000 \
    0x0400008 0xfffffffe 0x100000000 0x100000008 0x1 0x20009
expect_eq "$B_OUT" "0x0 ok
0x8 ok
0x20000 ok
0x20008 ok
0xffffffff ok
0x40000 Operation not permitted
0x400000 Operation not permitted
0x0400008 Operation not permitted
0xfffffffe Operation not permitted
0x100000000 Operation not permitted
0x100000008 Operation not permitted
0x1 Operation not permitted
0x20009 Operation not permitted" "personality: docker's values only"
same "personality" rc out
bx run --rm --network none --security-opt seccomp=unconfined $IMG pers 0x40000 0x0
expect_eq "$OUT" "0x40000 ok
0x0 ok" "seccomp=unconfined: personality(ADDR_NO_RANDOMIZE) works"

# ---- 5. ps: COMMAND and the columns ------------------------------------------------------------------
both run -d --network none --name tp-q1 $IMG sh -c 'sleep 300'
both run -d --network none --name tp-q2 $IMG sh -c "echo 'a b'; sleep 300"
both run -d --network none --name tp-q3 $IMG sleep 300
bx ps --format '{{.Names}} {{.Command}}'
ok "ps --format"
expect_eq "$(grep tp-q <<<"$OUT" | sort)" "tp-q1 \"sh -c 'sleep 300'\"
tp-q2 \"sh -c 'echo 'a b'; …\"
tp-q3 \"sleep 300\"" "ps: COMMAND quoted and cut as docker's"
bx ps --no-trunc --format '{{.Names}} {{.Command}}'
expect_eq "$(grep tp-q2 <<<"$OUT")" "tp-q2 \"sh -c 'echo 'a b'; sleep 300'\"" "ps --no-trunc: COMMAND whole"
# the columns up to CREATED (the rest says how long ago), ids and the
# other containers left out
ps_head() {
    local LC_ALL=C.UTF-8 out=$1 head line
    head=$(head -1 <<<"$out" | sed 's/CREATED.*//')
    { head -1 <<<"$out"; grep ' tp-q[123]$' <<<"$out"; } | while IFS= read -r line; do
        echo "${line:15:$((${#head} - 15))}|"   # in characters, not bytes
    done
}
B_PS=$(timeout 20 "$BERTH" ps)
expect_eq "$(ps_head "$B_PS" | sort)" "$(printf '%s\n' \
    'IMAGE     COMMAND                  |' \
    "tp/bb:1   \"sh -c 'echo 'a b'; …\"   |" \
    "tp/bb:1   \"sh -c 'sleep 300'\"      |" \
    'tp/bb:1   "sleep 300"              |' | sort)" "ps: columns aligned in characters, 3 apart"
expect_match "$(head -1 <<<"$B_PS")" '^CONTAINER ID   IMAGE +COMMAND +CREATED +STATUS +PORTS     NAMES$' \
    "ps: an empty PORTS column is 10 wide, as docker's"
if [ -n "$DOCKER" ]; then
    D_PS=$(timeout 20 $DOCKER ps)
    expect_eq "$(ps_head "$B_PS" | sort)" "$(ps_head "$D_PS" | sort)" "ps: the columns as docker's"
    expect_eq "$(head -1 <<<"$B_PS" | sed 's/CREATED.*//')" "$(head -1 <<<"$D_PS" | sed 's/CREATED.*//')" \
        "ps: the header as docker's"
fi
for c in tp-q1 tp-q2 tp-q3 tp-env; do
    bx rm -f $c
    [ -z "$DOCKER" ] || $DOCKER rm -f $c >/dev/null
done

# ---- 6. terminals, read-only, cgroups: same output as docker's --------------------------------------
both run --rm --network none -t $IMG tty
expect_eq "$B_OUT" $'/dev/pts/0\r' "run -t: tty"
same "run -t tty" rc out
both run --rm --network none -it $IMG true
expect_eq "$B_RC:$B_ERR" "1:the input device is not a TTY" "run -it, stdin /dev/null"
same "run -it, stdin /dev/null" rc err
both run --rm --network none --read-only $IMG sh -c 'echo x >>/etc/hosts; echo x >>/etc/hostname; echo x >>/etc/resolv.conf; echo x >/f'
expect_eq "$B_RC" 1 "--read-only writes: exit status"
expect_eq "$B_ERR" "sh: can't create /etc/hosts: Read-only file system
sh: can't create /etc/hostname: Read-only file system
sh: can't create /etc/resolv.conf: Read-only file system
sh: can't create /f: Read-only file system" "--read-only: /etc/hosts & co. as the root"
same "--read-only writes" rc err
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    LIMITS="memory.max cpu.max pids.max"
else
    LIMITS="memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us pids/pids.max"
fi
both run --rm --network none -m 64m --cpus 1.5 --pids-limit 50 $IMG sh -c \
    "cd /sys/fs/cgroup && cat $LIMITS"
ok "cat the limits in /sys/fs/cgroup"
expect_match "$B_OUT" '^67108864'$'\n''150000' "/sys/fs/cgroup: the container's memory and cpu limits"
same "/sys/fs/cgroup limits" rc out

finish
