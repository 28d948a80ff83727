#!/bin/bash
# t3100-run-security: what a hostile image or container process tries
# against the host, and must not get. Needs root, cc with a static libc.
#
#   1. host devices: a block node made with mknod (allowed, as under docker)
#      cannot be opened; device nodes shipped in an image layer (block 7:0,
#      char 1:11) cannot be opened by root or by another user, in run and
#      in exec; /dev/null, zero, full, random, urandom, ptmx, tty and the
#      pts/ terminals still work (run -t, run -it, exec -t); the container
#      and its exec'd processes are in its devices cgroup (and, on a hybrid
#      host, its cgroup2 one, whose BPF device program alone still refuses
#      the block device); nothing is left of those cgroups afterwards;
#   2. the berth binary from inside (runc CVE-2019-5736): an image whose
#      entrypoint is /proc/self/exe, with its own "dynamic loader" (a
#      probe) that runs in place of berth's; the probe looks at the binary
#      /proc/self/exe is, and tries to open it for writing (directly and
#      through an O_PATH descriptor) and write to it; the same through
#      `berth exec CTR /proc/self/exe`. The host's berth must be unchanged
#      and not be the file the probe sees (a sealed memfd instead);
#   3. seccomp: io_uring_setup, io_uring_enter, io_uring_register fail
#      with EPERM, as under docker's current default profile.
# The store ($BERTH_ROOT) and $HOME live in $TMP; every container made here
# is removed by the EXIT trap. Under a sanitizer build (ASAN_OPTIONS set),
# reports go to $TMP/san and fail the test.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need umoci script cc readelf sha256sum stat
IDS=()
rund() {
    bx run -d "$@"
    ID=$OUT
    [ "$RC" -eq 0 ] && IDS+=("$ID")
}
# lines_are WHAT EXPECTED: $OUT, line by line, is EXPECTED.
lines_are() { expect_eq "$OUT" "$2" "$1:"; }
cgroup_dirs() {
    local d
    for d in /sys/fs/cgroup/berth /sys/fs/cgroup/devices/berth /sys/fs/cgroup/unified/berth; do
        ls -d "$d/$1"* 2>/dev/null
    done
}
no_cgroup_dirs() { [ -z "$(cgroup_dirs "$1")" ]; }
HYBRID=
[ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
    [ -d /sys/fs/cgroup/devices ] && HYBRID=1

# ---- the probes ------------------------------------------------------------------------
# probe open PATH r|w|rw...: "ok" or the errno's name, one line per PATH.
# probe iouring: what io_uring_setup, _enter and _register answer.
cat >"$TMP/probe.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static const char *res(long r) { return r >= 0 ? "ok" : strerrorname_np(errno); }
int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "open") == 0) {
        int mode = strcmp(argv[2], "r") == 0 ? O_RDONLY : strcmp(argv[2], "w") == 0 ? O_WRONLY : O_RDWR;
        for (int i = 3; i < argc; i++)
            printf("%s\n", res(open(argv[i], mode | O_NOCTTY)));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "iouring") == 0) {
        unsigned char params[120] = {0};   /* struct io_uring_params */
        printf("setup=%s\n", res(syscall(__NR_io_uring_setup, 4, params)));
        printf("enter=%s\n", res(syscall(__NR_io_uring_enter, 1000, 0, 0, 0, NULL, 0)));
        printf("register=%s\n", res(syscall(__NR_io_uring_register, 1000, 0, NULL, 0)));
        return 0;
    }
    return 2;
}
EOF
cc -static -O2 -o "$TMP/probe" "$TMP/probe.c" || { echo "$T_NAME: cannot build the probe (static libc?)" >&2; exit 1; }

# The "dynamic loader" of the hostile image: the kernel maps berth (the
# file behind /proc/self/exe) and starts this instead of ld.so, inside the
# container, as CVE-2019-5736's malicious library ran inside runc. No libc:
# it starts with berth's auxiliary vector. It prints what /proc/self/exe is
# and what opening it for writing gives; a write puts back the byte that is
# already there, so even a successful write changes nothing but its report.
EXE_PROBE=
if [ "$(uname -m)" = x86_64 ]; then
    cat >"$TMP/exeprobe.c" <<'EOF'
static long sys(long n, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}
enum { READ = 0, WRITE = 1, OPEN = 2, CLOSE = 3, FSTAT = 5, PREAD = 17, PWRITE = 18,
       FCNTL = 72, EXIT = 231 };
static void out(const char *s)
{
    long n = 0;
    while (s[n])
        n++;
    sys(WRITE, 1, (long)s, n, 0);
}
static void num(long v)
{
    char b[24], *p = b + 23;
    int neg = v < 0;
    unsigned long u = neg ? -(unsigned long)v : (unsigned long)v;
    *p = 0;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (neg)
        *--p = '-';
    out(p);
}
static void kv(const char *k, long v) { out(k); out("="); num(v); out("\n"); }
/* open for writing; if it opens, write back the first byte */
static void try_write(const char *what, const char *path, long flags)
{
    long fd = sys(OPEN, (long)path, flags, 0, 0), w = 0;
    kv(what, fd < 0 ? fd : 0);
    if (fd >= 0) {
        char c = 0;
        int rfd = (int)sys(OPEN, (long)"/proc/self/exe", 0, 0, 0);
        sys(PREAD, rfd, (long)&c, 1, 0);
        w = sys(PWRITE, fd, (long)&c, 1, 0);
        kv("write", w);
        sys(CLOSE, fd, 0, 0, 0);
    }
}
void probe_main(void)
{
    unsigned long st[18];
    long fd = sys(OPEN, (long)"/proc/self/exe", 0, 0, 0);   /* O_RDONLY */
    if (fd >= 0 && sys(FSTAT, fd, (long)st, 0, 0) == 0) {
        kv("dev", (long)st[0]);
        kv("ino", (long)st[1]);
    }
    kv("seals", sys(FCNTL, fd, 1034, 0, 0));                 /* F_GET_SEALS */
    try_write("wronly", "/proc/self/exe", 01);                /* O_WRONLY */
    try_write("rdwr", "/proc/self/exe", 02);                  /* O_RDWR */
    /* the CVE's way: a handle that is not a write, reopened through /proc */
    long p = sys(OPEN, (long)"/proc/self/exe", 010000000, 0, 0);   /* O_PATH */
    char path[40] = "/proc/self/fd/";
    char *q = path + 14, d[8], *e = d + 8;
    long v = p < 0 ? 0 : p;
    do
        *--e = (char)('0' + v % 10);
    while (v /= 10);
    while (e < d + 8)
        *q++ = *e++;
    *q = 0;
    try_write("reopen", path, 01);
    sys(EXIT, 0, 0, 0, 0);
}
__asm__(".globl _start\n_start:\n xor %rbp, %rbp\n and $-16, %rsp\n call probe_main\n hlt\n");
EOF
    cc -static -nostdlib -fno-pie -no-pie -fno-stack-protector -fcf-protection=none -O1 \
        -o "$TMP/exeprobe" "$TMP/exeprobe.c" && EXE_PROBE=$TMP/exeprobe
fi

# ---- the image ------------------------------------------------------------------------
# rt/sec:1 (umoci, berth load): busybox, an `app` user, the probes, and
# device nodes shipped in the layer, open to everyone: /devs/loop0 (block
# 7:0, a host loop device) and /devs/kmsg (char 1:11, the host's kernel
# log, which opens for writing without any capability). With the exe probe
# as the loader berth's ELF names, the image's Entrypoint is /proc/self/exe.
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/devs" "$R/home/app"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true sleep id dd mknod tty stty head wc grep test; do
    ln -s busybox "$R/bin/$c"
done
cp "$TMP/probe" "$R/bin/probe"
chmod 1777 "$R/tmp"
chown 1000:1000 "$R/home/app"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
mknod -m 0666 "$R/devs/loop0" b 7 0
mknod -m 0666 "$R/devs/kmsg" c 1 11
INTERP=$(readelf -l "$BERTH" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
if [ -n "$EXE_PROBE" ] && [ -n "$INTERP" ]; then
    mkdir -p "$R$(dirname "$INTERP")"
    cp "$EXE_PROBE" "$R$INTERP"
fi
L=$TMP/oci
{
    umoci init --layout "$L" && umoci new --image "$L:img" &&
        umoci unpack --image "$L:img" "$TMP/bundle" &&
        cp -a "$R/." "$TMP/bundle/rootfs/" &&
        umoci repack --image "$L:img" "$TMP/bundle" &&
        umoci config --image "$L:img" --config.entrypoint /proc/self/exe --config.env PATH=/bin &&
        tar -C "$L" -cf "$TMP/oci.tar" .
} >"$TMP/umoci.log" 2>&1 || { cat "$TMP/umoci.log" >&2; echo "$T_NAME: umoci failed" >&2; exit 1; }
bx load -i "$TMP/oci.tar"
ok "berth load of the hostile image" || finish
LOADED=$(sed -n 's/^Loaded image: //p' <<<"$OUT" | head -1)
bx tag "$LOADED" rt/sec:1
ok "berth tag $LOADED rt/sec:1" || finish
LONG=$((100000 + RANDOM))

# ---- 1. host devices ---------------------------------------------------------------------
# mknod is allowed (docker keeps CAP_MKNOD and `b *:* m`), access is not
bx run --rm --entrypoint sh rt/sec:1 -c 'mknod /tmp/l0 b 7 0 && echo made; probe open r /tmp/l0; probe open w /tmp/l0; probe open rw /tmp/l0; mknod /tmp/k c 1 11 && probe open w /tmp/k; mknod /tmp/t c 10 200 && probe open rw /tmp/t'
ok "run: mknod of a block device, then open it"
lines_are "mknod b 7 0 then open r, w, rw; mknod c 1 11 then open w; net/tun" $'made\nEPERM\nEPERM\nEPERM\nEPERM\nEPERM'
for user in root app; do
    bx run --rm -u $user --entrypoint probe rt/sec:1 open r /devs/loop0 /devs/kmsg
    ok "run -u $user: open device nodes of the image for reading"
    lines_are "run -u $user: read the image's /devs/loop0 and /devs/kmsg" $'EPERM\nEPERM'
    bx run --rm -u $user --entrypoint probe rt/sec:1 open w /devs/loop0 /devs/kmsg
    lines_are "run -u $user: write the image's /devs/loop0 and /devs/kmsg" $'EPERM\nEPERM'
done
# what every program needs still works
bx run --rm --entrypoint probe rt/sec:1 open rw /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/ptmx
lines_are "run: open null, zero, full, random, urandom, ptmx" $'ok\nok\nok\nok\nok\nok'
bx run --rm -u app --entrypoint sh rt/sec:1 -c 'echo x >/dev/null && head -c 8 /dev/urandom | wc -c && head -c 3 /dev/zero | wc -c && { echo x >/dev/full; echo full=$?; }'
lines_are "run -u app: null, urandom, zero, full" $'8\n3\nfull=1'
# -t, -it: the container's terminal is a pts; /dev/tty is it
timeout 30 script -qec "'$BERTH' run --rm -t --entrypoint sh rt/sec:1 -c 'tty; echo via-tty >/dev/tty; echo via-pts >\$(tty)'" \
    /dev/null </dev/null >"$TMP/tty.out" 2>&1
TRC=$?
TTY_OUT=$(tr -d '\r' <"$TMP/tty.out")
expect_eq "$TRC" 0 "run -t: exit status"
expect_match "$TTY_OUT" '^/dev/(pts/[0-9]+|console)'$'\n''via-tty'$'\n''via-pts$' "run -t: tty, /dev/tty, the pts"
printf 'echo typed-$((40+2)) >/dev/tty\nexit 4\n' |
    timeout 30 script -qec "'$BERTH' run --rm -it --entrypoint sh rt/sec:1" /dev/null >"$TMP/it.out" 2>&1
expect_eq "$?" 4 "run -it sh, 'exit 4': exit status"
check; grep -q 'typed-42' "$TMP/it.out" || fail "run -it: no output through /dev/tty: $(tr -d '\r' <"$TMP/it.out")"

# exec: the exec'd process is in the container's cgroups, under the same rules
rund --name dev --entrypoint sleep rt/sec:1 $LONG
ok "run -d dev"
DEV=$ID
bx exec dev probe open r /devs/loop0 /devs/kmsg /dev/null
lines_are "exec: read the image's nodes, /dev/null" $'EPERM\nEPERM\nok'
bx exec -u app dev probe open w /devs/loop0 /devs/kmsg /dev/urandom
lines_are "exec -u app: write the image's nodes, /dev/urandom" $'EPERM\nEPERM\nok'
bx exec dev sh -c 'mknod /tmp/e0 b 7 0 && probe open r /tmp/e0'
lines_are "exec: mknod b 7 0 then read it" EPERM
bx exec dev cat /proc/self/cgroup
expect_match "$OUT" "(^|"$'\n'")[0-9]+:devices:/berth/$DEV("$'\n'"|$)" "exec: in the container's devices cgroup"
[ -n "$HYBRID" ] && expect_match "$OUT" "(^|"$'\n'")0::/berth/$DEV("$'\n'"|$)" "exec: in the container's cgroup2 cgroup"
bx run --rm --entrypoint cat rt/sec:1 /proc/self/cgroup
expect_match "$OUT" "(^|"$'\n'")[0-9]+:devices:/berth/[0-9a-f]{64}("$'\n'"|$)" "run: in a devices cgroup of its own"
timeout 30 script -qec "'$BERTH' exec -t dev sh -c 'tty; echo via-tty >/dev/tty; exit 6'" /dev/null </dev/null >"$TMP/et.out" 2>&1
expect_eq "$?" 6 "exec -t: exit status"
expect_match "$(tr -d '\r' <"$TMP/et.out")" '^/dev/pts/[0-9]+'$'\n''via-tty$' "exec -t: tty and /dev/tty"
DEV_CG=$(cgroup_dirs "$DEV" | sort | tr '\n' ' ')
expect_match "$DEV_CG" "/sys/fs/cgroup/(devices/)?berth/$DEV " "the container's devices cgroup exists while it runs"
bx rm -f dev
ok "rm -f dev"
check; waitfor 3 no_cgroup_dirs "$DEV" || fail "cgroups left for dev: $(cgroup_dirs "$DEV")"

# On a hybrid host the cgroup2 BPF program is a second, independent lock:
# with the container's process moved out of its v1 devices cgroup (into the
# root, which allows everything), the block device still does not open.
if [ -n "$HYBRID" ]; then
    mkdir -p "$TMP/v"
    rund --name v2 -v "$TMP/v:/v" --entrypoint sh rt/sec:1 -c \
        'while [ ! -e /v/go ]; do sleep 0.1; done; probe open r /devs/loop0 /dev/null >/v/out; mknod /tmp/x b 7 0 && probe open r /tmp/x >>/v/out; touch /v/done; sleep '$LONG
    ok "run -d v2"
    V2_PID=$(state v2 .State.Pid)
    check
    if grep -qx "0::/berth/$ID" "/proc/$V2_PID/cgroup" 2>/dev/null; then
        echo "$V2_PID" >/sys/fs/cgroup/devices/cgroup.procs
        expect_match "$(grep ':devices:' "/proc/$V2_PID/cgroup")" ':devices:/$' "moved out of the v1 devices cgroup"
        touch "$TMP/v/go"
        waitfor 10 test -e "$TMP/v/done"
        expect_eq "$(cat "$TMP/v/out" 2>/dev/null | tr '\n' ' ')" "EPERM ok EPERM " \
            "cgroup2 program alone: loop0 of the image, /dev/null, a new block node"
    else
        fail "the container is not in its cgroup2 cgroup: $(cat "/proc/$V2_PID/cgroup" 2>&1 | tr '\n' ' ')"
    fi
    bx rm -f v2
fi

# ---- 2. the berth binary from inside -------------------------------------------------
SUM0=$(sha256sum <"$BERTH")
HOST_DEVINO=$(stat -L -c '%d %i' "$BERTH")
# exe_report WHAT: the exe probe's output ($OUT) shows a binary that is not
# the host's, sealed, that nothing could open for writing or write to.
exe_report() {
    local what=$1 dev ino seals
    dev=$(sed -n 's/^dev=//p' <<<"$OUT") ino=$(sed -n 's/^ino=//p' <<<"$OUT")
    seals=$(sed -n 's/^seals=//p' <<<"$OUT")
    check
    [ -n "$ino" ] || { fail "$what: the probe did not run (exit $RC): $OUT $ERR"; return; }
    expect_ne "$dev $ino" "$HOST_DEVINO" "$what: /proc/self/exe is the host's berth binary, dev and inode"
    check; [ "${seals:--1}" -ge 0 ] && [ $((seals & 15)) -eq 15 ] ||
        fail "$what: /proc/self/exe is not a sealed memfd (F_GET_SEALS: $seals)"
    local k
    for k in wronly rdwr reopen; do
        expect_match "$(sed -n "s/^$k=//p" <<<"$OUT")" '^-[0-9]+$' "$what: open of /proc/self/exe for writing ($k)"
    done
    check; ! grep -q '^write=' <<<"$OUT" || fail "$what: a write to /proc/self/exe went through: $OUT"
}
if [ -z "$EXE_PROBE" ] || [ -z "$INTERP" ]; then
    echo "$T_NAME: not x86_64 or no ELF interpreter: the /proc/self/exe checks are skipped" >&2
else
    # the image's Entrypoint is /proc/self/exe: berth's binary, with the probe as its loader
    bx run --rm rt/sec:1
    exe_report "run of an image whose entrypoint is /proc/self/exe"
    bx run --rm -u app rt/sec:1
    exe_report "run -u app of that image"
    rund --name ex --entrypoint sleep rt/sec:1 $LONG
    bx exec ex /proc/self/exe
    exe_report "exec CTR /proc/self/exe"
    # the monitor and `berth exec` themselves run from the copy
    MON=$(state ex .Berth.MonitorPid)
    expect_match "$(readlink "/proc/$MON/exe" 2>&1)" '^/memfd:berth' "the monitor's executable"
    expect_eq "$(cat "/proc/$MON/comm" 2>&1)" berth "the monitor's name (ps, pgrep)"
    bx rm -f ex
fi
expect_eq "$(sha256sum <"$BERTH")" "$SUM0" "the host's berth binary, sha256 before and after"

# ---- 3. seccomp: io_uring ----------------------------------------------------------------
bx run --rm --entrypoint probe rt/sec:1 iouring
lines_are "io_uring_setup, _enter, _register in a container" $'setup=EPERM\nenter=EPERM\nregister=EPERM'
bx run -d --name iu --entrypoint sleep rt/sec:1 $LONG
bx exec iu probe iouring
lines_are "io_uring in an exec'd process" $'setup=EPERM\nenter=EPERM\nregister=EPERM'
bx rm -f iu

# ---- the end: nothing left --------------------------------------------------------
for c in $(timeout 20 "$BERTH" ps -aq); do timeout 20 "$BERTH" rm -f "$c" >/dev/null 2>&1; done
expect_eq "$(timeout 20 "$BERTH" ps -aq | grep -c .)" 0 "containers left"
for id in "${IDS[@]}"; do
    check; waitfor 3 no_cgroup_dirs "$id" || fail "cgroups left for $id: $(cgroup_dirs "$id")"
done
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
