#!/bin/bash
# t3630-tty-readonly: a container's terminal, its read-only files and the
# cgroup view inside, as a docker user checks them. Needs root.
#
#   - run -it / -t: the terminal is the container's own pts (tty prints
#     /dev/pts/0, root:tty 620, as under docker), /dev/console is the same
#     device, the terminal's size and an exit status come through; exec -t
#     gets the next pts of the same devpts; run -dt logs /dev/pts/0;
#   - run -it (and exec -it) with stdin not a terminal: docker's "the input
#     device is not a TTY", exit 1, no container made; -t alone and -dit
#     still run;
#   - --read-only: /, /etc/hosts, /etc/hostname and /etc/resolv.conf
#     refuse writes (the host's copies unchanged), /dev/shm and a volume
#     still take them; without it /etc/hosts can be written;
#   - /sys/fs/cgroup: the container's own limits where a runtime looks
#     (memory.max, cpu.max, pids.max on a cgroup v2 host; memory/, cpu/,
#     pids/ on v1), "max" without limits, read-only, none of the host's
#     tree (no berth/ directory of every container).
# The store ($BERTH_ROOT) and $HOME live in $TMP; the EXIT trap removes
# every container made here.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need script

R=$TMP/rootfs
mkdir -p "$R/etc"
printf 'root:x:0:\ntty:x:5:\n' >"$R/etc/group"
bb_image tr/bb:1 sh cat echo sleep true tty stat ls stty touch id grep head
IMG=tr/bb:1

# in_pty CMD: run CMD under script(1) (a terminal of 40x100); $TRC its
# status, $TOUT its output without \r, nor the "^@" that script's own
# terminal may echo when its stdin ends (docker's output has it too).
in_pty() {
    timeout 30 script -qec "stty rows 40 cols 100; $1" /dev/null </dev/null >"$TMP/pty.out" 2>&1
    TRC=$?
    TOUT=$(tr -d '\r' <"$TMP/pty.out" | sed 's/\^@//g')
}

# ---- 1. -it: the container's own pts -----------------------------------------------------
in_pty "'$BERTH' run --rm -it $IMG sh -c 'tty; stat -c \"%a %u %g %t:%T\" \$(tty) /dev/console; stty size; exit 3'"
expect_eq "$TRC" 3 "run -it: the exit status comes through"
expect_eq "$(sed -n 1p <<<"$TOUT")" /dev/pts/0 "run -it: tty"
expect_eq "$(sed -n 2p <<<"$TOUT")" "620 0 5 88:0" "run -it: /dev/pts/0 is root:tty 620 (as docker's)"
expect_eq "$(sed -n 3p <<<"$TOUT")" "620 0 5 88:0" "run -it: /dev/console is the same pts"
expect_eq "$(sed -n 4p <<<"$TOUT")" "40 100" "run -it: the terminal's size"
in_pty "'$BERTH' run --rm -it $IMG sh -c 'ls /dev/pts | grep -v ptmx | head -5; ls -l /dev/ptmx'"
expect_eq "$(sed -n 1p <<<"$TOUT")" 0 "run -it: its devpts has its pty only"
expect_match "$(sed -n 2p <<<"$TOUT")" '/dev/ptmx -> pts/ptmx$' "run -it: /dev/ptmx is its devpts's"
printf 'echo typed-$((6*7))\nexit 4\n' |
    timeout 30 script -qec "'$BERTH' run --rm -it $IMG sh" /dev/null >"$TMP/it.out" 2>&1
expect_eq "$?" 4 "run -it sh, typed 'exit 4': exit status"
check; grep -q 'typed-42' "$TMP/it.out" || fail "run -it: the typed command's output: $(tr -d '\r' <"$TMP/it.out")"

# ---- 2. -t without -i, -dt, exec -t ---------------------------------------------------------
bx run --rm -t $IMG tty
ok "run -t, stdin not a terminal (as docker: only -it needs one)"
expect_eq "$(tr -d '\r' <<<"$OUT")" /dev/pts/0 "run -t: tty"
bx run -d -t --name tr-dt $IMG sh -c 'tty; sleep 300'
ok "run -dt"
waitfor 10 sh -c "'$BERTH' logs tr-dt | grep -q pts"
bx logs tr-dt
expect_eq "$(tr -d '\r' <<<"$OUT")" /dev/pts/0 "run -dt: logs show /dev/pts/0"
in_pty "'$BERTH' exec -t tr-dt sh -c 'tty; stat -c \"%u %g\" \$(tty)'"
expect_eq "$TRC" 0 "exec -t into a -t container"
expect_eq "$(sed -n 1p <<<"$TOUT")" /dev/pts/1 "exec -t: the next pts of the container's devpts"
bx rm -f tr-dt
ok "rm -f tr-dt"

# ---- 3. -it with stdin not a terminal ------------------------------------------------------
BEFORE=$(count_containers)
bx run --rm -it $IMG true
rc_is "run -it, stdin /dev/null" 1
one_line "run -it, stdin /dev/null" '^the input device is not a TTY$'
bxin "echo hi" run -it $IMG cat
rc_is "run -it, stdin a pipe" 1
expect_eq "$ERR" "the input device is not a TTY" "run -it, stdin a pipe: message"
expect_eq "$(count_containers)" "$BEFORE" "run -it refused: no container made"
bx run -d --name tr-ex $IMG sleep 300
ok "run -d tr-ex"
bx exec -it tr-ex true
rc_is "exec -it, stdin /dev/null" 1
one_line "exec -it, stdin /dev/null" '^the input device is not a TTY$'
bx exec -t tr-ex tty
ok "exec -t, stdin not a terminal"
expect_eq "$(tr -d '\r' <<<"$OUT")" /dev/pts/0 "exec -t into a container without one: /dev/pts/0"
bx rm -f tr-ex
ok "rm -f tr-ex"
bx run -dit --name tr-dit $IMG sh
ok "run -dit: detached, no terminal needed here"
expect_match "$OUT" '^[0-9a-f]{64}$' "run -dit: prints the id"
expect_eq "$(state tr-dit .State.Running)" true "run -dit: sh waits on its terminal"
bx rm -f tr-dit
ok "rm -f tr-dit"

# ---- 4. --read-only: the root and the files berth mounts --------------------------------------
mkdir -p "$TMP/vol"
bx run --rm --read-only -v "$TMP/vol:/vol" $IMG sh -c '
    for f in /etc/hosts /etc/hostname /etc/resolv.conf /new; do
        echo x >>$f 2>/dev/null && echo "$f writable" || echo "$f read-only"
    done
    echo shm >/dev/shm/f && cat /dev/shm/f; echo vol >/vol/f && cat /vol/f'
ok "run --read-only"
expect_eq "$OUT" "/etc/hosts read-only
/etc/hostname read-only
/etc/resolv.conf read-only
/new read-only
shm
vol" "--read-only: the root and /etc/hosts & co. refuse writes, /dev/shm and a volume take them"
bx run --rm --read-only $IMG sh -c 'echo x >>/etc/hosts'
rc_is "--read-only: a write to /etc/hosts fails" 1
expect_match "$ERR" 'Read-only file system' "--read-only: /etc/hosts: the error"
bx run --rm $IMG sh -c 'echo "10.1.2.3 added" >>/etc/hosts && grep -c added /etc/hosts'
ok "without --read-only /etc/hosts is writable"
expect_eq "$OUT" 1 "without --read-only: the line was added"
bx run -d --read-only --name tr-ro $IMG sleep 300
ok "run -d --read-only"
bx exec tr-ro sh -c 'echo x >>/etc/resolv.conf'
rc_is "exec into a --read-only container: /etc/resolv.conf read-only too" 1
ID=$(state tr-ro .Id)
check; grep -q '^x$' "$BERTH_ROOT/containers/$ID/resolv.conf" && fail "--read-only: the container's resolv.conf was written"
bx rm -f tr-ro
ok "rm -f tr-ro"

# ---- 5. /sys/fs/cgroup: the container's own ----------------------------------------------------
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    MEM=memory.max CPU=cpu.max PIDS=pids.max CPU_WANT="150000 100000" TREE=/sys/fs/cgroup
else
    MEM=memory/memory.limit_in_bytes CPU=cpu/cpu.cfs_quota_us PIDS=pids/pids.max
    CPU_WANT=150000 TREE=/sys/fs/cgroup/memory
fi
bx run --rm -m 64m --cpus 1.5 --pids-limit 50 $IMG sh -c \
    "cat /sys/fs/cgroup/$MEM /sys/fs/cgroup/$CPU /sys/fs/cgroup/$PIDS"
ok "run -m 64m --cpus 1.5 --pids-limit 50: cat the limits"
expect_eq "$OUT" "67108864
$CPU_WANT
50" "/sys/fs/cgroup shows the container's own limits"
bx run --rm $IMG cat /sys/fs/cgroup/$PIDS
ok "no --pids-limit: pids.max"
expect_eq "$OUT" max "no --pids-limit: pids.max is max"
bx run --rm --pids-limit 50 $IMG sh -c "echo 100000 >/sys/fs/cgroup/$PIDS; cat /sys/fs/cgroup/$PIDS"
expect_eq "$OUT" 50 "/sys/fs/cgroup is read-only: the limit stays"
expect_match "$ERR" 'Read-only file system' "/sys/fs/cgroup is read-only: the error"
bx run --rm $IMG sh -c "ls $TREE/berth 2>/dev/null | head -1; grep -c . /sys/fs/cgroup/${PIDS%/*}/cgroup.procs"
ok "the cgroup tree inside"
expect_eq "$OUT" 1 "none of the host's cgroup tree inside: no berth/, its own process only"
bx run --rm --network host $IMG cat /sys/fs/cgroup/$PIDS
ok "--network host: the cgroup view too"
expect_eq "$OUT" max "--network host: pids.max"

finish
