#!/bin/bash
# t3060-rmi-privs: rmi of an image containers use, and a container's
# privileges as docker leaves them. Needs root.
#
#   - rmi NAME of an image a container (stopped or running) uses is refused
#     without -f when it is the image's last name, with docker's conflict
#     message; another name of it goes; rmi ID is refused while a stopped
#     container uses it (must be forced) and always while a running one does
#     (cannot be forced); `image prune -a` keeps it; rmi -f NAME removes it
#     (or, while a running container uses it, leaves it <none>)
#     and the container still starts, or keeps running, from its own root;
#   - /proc/self/status as root and as -u 1000: NoNewPrivs 0, CapInh empty,
#     docker's CapPrm/CapEff for root, none for 1000, a seccomp filter; a
#     setuid-root program run by uid 1000 gets euid 0; --security-opt
#     no-new-privileges (and :true, =false) sets no_new_privs (also for an
#     exec, and after a restart); seccomp=unconfined loads no filter;
#     apparmor= is taken; bad options are refused with docker's message and
#     no container is made.
# The store ($BERTH_ROOT) lives in $TMP; the EXIT trap removes every
# container made here.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need cc
IDS=()
rund() {
    bx run -d "$@"
    ID=$OUT
    [ "$RC" -eq 0 ] && IDS+=("$ID")
}
# status_of FIELD TEXT: the value of FIELD in a /proc/PID/status text.
status_of() { awk -v f="$1:" '$1 == f { print $2 }' <<<"$2"; }

# ---- image ------------------------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh cat id sleep grep true echo; do ln -s busybox "$R/bin/$c"; done
chmod 1777 "$R/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
# busybox gives up a setuid bit by itself for most applets: a program of
# our own says what it runs as
cat >"$TMP/euid.c" <<'EOF2'
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid()); return 0; }
EOF2
cc -static -o "$R/bin/euid" "$TMP/euid.c" || { echo "$T_NAME: cc -static failed" >&2; exit 1; }
chmod 4755 "$R/bin/euid"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" rt/priv:1
ok "berth import" || finish

# ---- 1. privileges as docker leaves them -----------------------------------------
bx run --rm --network none rt/priv:1 cat /proc/self/status
ok "run as root"
expect_eq "$(status_of NoNewPrivs "$OUT")" 0 "root: NoNewPrivs:"
expect_eq "$(status_of CapInh "$OUT")" 0000000000000000 "root: CapInh:"
expect_eq "$(status_of CapPrm "$OUT")" 00000000a80425fb "root: CapPrm (docker's set):"
expect_eq "$(status_of CapEff "$OUT")" 00000000a80425fb "root: CapEff (docker's set):"
expect_eq "$(status_of CapBnd "$OUT")" 00000000a80425fb "root: CapBnd (docker's set):"
expect_eq "$(status_of Seccomp "$OUT")" 2 "root: a seccomp filter:"
bx run --rm --network none -u 1000 rt/priv:1 cat /proc/self/status
ok "run -u 1000"
expect_eq "$(status_of NoNewPrivs "$OUT")" 0 "-u 1000: NoNewPrivs:"
expect_eq "$(status_of CapInh "$OUT")" 0000000000000000 "-u 1000: CapInh:"
expect_eq "$(status_of CapPrm "$OUT")" 0000000000000000 "-u 1000: CapPrm:"
expect_eq "$(status_of CapEff "$OUT")" 0000000000000000 "-u 1000: CapEff:"
expect_eq "$(status_of Seccomp "$OUT")" 2 "-u 1000: a seccomp filter:"
bx run --rm --network none -u 1000 rt/priv:1 /bin/euid
ok "setuid-root program as uid 1000" && expect_eq "$OUT" "uid=1000 euid=0" "setuid-root program:"
bx run --rm --network none rt/priv:1 sh -c 'mkdir /tmp/m && mount -t tmpfs none /tmp/m'
rc_fails "mount(2) is still refused by the filter"
bx run --rm --network none rt/priv:1 sh -c 'echo x >/tmp/f && cat /tmp/f'
ok "an ordinary program runs under the filter" && expect_eq "$OUT" x "write and read:"

# --security-opt no-new-privileges and its spellings
for opt in no-new-privileges no-new-privileges:true no-new-privileges=true no-new-privileges=1; do
    bx run --rm --network none -u 1000 --security-opt "$opt" rt/priv:1 sh -c \
        '/bin/euid; grep NoNewPrivs /proc/self/status'
    ok "--security-opt $opt" &&
        expect_eq "$OUT" "$(printf 'uid=1000 euid=1000\nNoNewPrivs:\t1')" "--security-opt $opt:"
done
bx run --rm --network none --security-opt no-new-privileges=false rt/priv:1 grep NoNewPrivs /proc/self/status
ok "no-new-privileges=false" && expect_eq "$OUT" "$(printf 'NoNewPrivs:\t0')" "no-new-privileges=false:"
bx run --rm --network none --security-opt seccomp=unconfined rt/priv:1 grep -E 'Seccomp:|NoNewPrivs' /proc/self/status
ok "seccomp=unconfined" &&
    expect_eq "$OUT" "$(printf 'NoNewPrivs:\t0\nSeccomp:\t0')" "seccomp=unconfined: no filter:"
bx run --rm --network none --security-opt apparmor=unconfined --security-opt label=disable rt/priv:1 true
ok "apparmor= and label= are taken"

# kept in the container: exec and a restart see it
rund --network none --security-opt no-new-privileges --name nnp rt/priv:1 sleep 1000
ok "run -d --security-opt no-new-privileges"
bx inspect nnp
expect_eq "$(jq -c '.[0].HostConfig.SecurityOpt' <<<"$OUT")" '["no-new-privileges"]' "inspect HostConfig.SecurityOpt:"
bx exec -u 1000 nnp sh -c '/bin/euid; grep NoNewPrivs /proc/self/status'
ok "exec into it" && expect_eq "$OUT" "$(printf 'uid=1000 euid=1000\nNoNewPrivs:\t1')" "exec: no_new_privs kept:"
bx restart -t 1 nnp
ok "restart"
bx exec nnp grep NoNewPrivs /proc/1/status
ok "exec after restart" && expect_eq "$OUT" "$(printf 'NoNewPrivs:\t1')" "after restart: no_new_privs kept:"
rund --network none --name plain rt/priv:1 sleep 1000
bx exec -u 1000 plain /bin/euid
ok "exec into a default container" && expect_eq "$OUT" "uid=1000 euid=0" "exec: setuid works:"
bx rm -f nnp plain
ok "rm -f nnp plain"

# bad options: docker's messages, nothing made
before=$(timeout 20 "$BERTH" ps -aq | wc -l)
bx run --rm --network none --security-opt foo=bar rt/priv:1 true
rc_fails "--security-opt foo=bar" && one_line "foo=bar" 'invalid --security-opt 2: "foo=bar"'
bx run --rm --network none --security-opt bogus rt/priv:1 true
rc_fails "--security-opt bogus" && one_line "bogus" 'invalid --security-opt 1: "bogus"'
bx run --rm --network none --security-opt no-new-privileges=maybe rt/priv:1 true
rc_fails "no-new-privileges=maybe" && one_line "maybe" 'invalid --security-opt 2: "no-new-privileges=maybe"'
bx run --rm --network none --security-opt seccomp=/etc/passwd rt/priv:1 true
rc_fails "seccomp=FILE" && one_line "seccomp=FILE" 'only seccomp=unconfined'
bx run -d --network none --security-opt "seccomp=../../x" rt/priv:1 true
rc_fails "seccomp=../../x"
expect_eq "$(timeout 20 "$BERTH" ps -aq | wc -l)" "$before" "no container made by a bad option:"

# ---- 2. rmi of an image in use -----------------------------------------------------
bx tag rt/priv:1 rt/img:1
IMG=$(timeout 20 "$BERTH" inspect rt/img:1 | jq -r '.[0].Id')
IMG=${IMG#sha256:}
bx run --network none --name stopped rt/img:1 echo from-stopped
ok "a container that stops" && expect_eq "$OUT" from-stopped "stopped container output:"
STOPPED=$(timeout 20 "$BERTH" inspect stopped | jq -r '.[0].Id')
bx rmi rt/priv:1
ok "rmi of one of two names" && expect_eq "$OUT" "Untagged: rt/priv:1" "rmi another name:"
bx rmi rt/img:1
rc_is "rmi NAME used by a stopped container" 1
one_line "rmi NAME" "conflict: unable to remove repository reference \"rt/img:1\" \(must force\) - container ${STOPPED:0:12} is using its referenced image ${IMG:0:12}\$"
bx rmi "${IMG:0:12}"
rc_is "rmi ID used by a stopped container" 1
one_line "rmi ID" "conflict: unable to delete ${IMG:0:12} \(must be forced\) - image is being used by stopped container ${STOPPED:0:12}\$"
bx images -q
expect_match "$OUT" "${IMG:0:12}" "the image is still there after the refusals"

rund --network none --name running rt/img:1 sleep 1000
RUNNING=$ID
bx rmi -f "${IMG:0:12}"
rc_is "rmi -f ID used by a running container" 1
one_line "rmi -f ID" "conflict: unable to delete ${IMG:0:12} \(cannot be forced\) - image is being used by running container ${RUNNING:0:12}\$"
bx rmi -f "sha256:$IMG"
rc_is "rmi -f sha256:ID used by a running container" 1
bx image prune -a -f
ok "image prune -a"
bx images -q
expect_match "$OUT" "${IMG:0:12}" "image prune -a keeps an image containers use"
bx rm -f running
ok "rm -f the running container"

bx rmi -f rt/img:1
ok "rmi -f NAME used by a stopped container" && expect_eq "$OUT" "Untagged: rt/img:1
Deleted: sha256:$IMG" "rmi -f:"
bx images -q
expect_eq "$(grep -c "${IMG:0:12}" <<<"$OUT")" 0 "rmi -f removed the image:"
bx start -a stopped
ok "the stopped container starts from its own root" && expect_eq "$OUT" from-stopped "start -a after rmi -f:"
bx image prune -a -f
ok "image prune -a after rmi -f"
bx start -a stopped
ok "it still starts after a prune" && expect_eq "$OUT" from-stopped "start -a after prune:"

# a running one keeps running when its image goes
bx import "$TMP/rootfs.tar" rt/img:2
rund --network none --name keeps rt/img:2 sleep 1000
bx rmi rt/img:2
rc_is "rmi NAME used by a running container" 1
expect_match "$ERR" 'unable to remove repository reference "rt/img:2" \(must force\)' "rmi NAME, running: message"
IMG2=$(timeout 20 "$BERTH" inspect rt/img:2 | jq -r '.[0].Id')
IMG2=${IMG2#sha256:}
bx rmi -f rt/img:2
ok "rmi -f NAME used by a running container" && expect_eq "$OUT" "Untagged: rt/img:2" "rmi -f NAME, running:"
bx images
expect_match "$OUT" "<none> +<none> +${IMG2:0:12}" "the image stays, without a name, while a container runs it"
bx rmi -f rt/img:2
rc_is "rmi -f of the name again" 1
bx rmi "${IMG2:0:12}"
rc_is "rmi ID of it, running" 1
one_line "rmi ID, running" "cannot be forced\) - image is being used by running container"
bx exec keeps echo alive
ok "the running container still runs" && expect_eq "$OUT" alive "exec after rmi -f:"
bx image prune -f
ok "image prune (dangling)"
bx images -q
expect_match "$OUT" "${IMG2:0:12}" "image prune keeps the dangling image a container runs"
bx rm -f keeps
bx image prune -f
ok "image prune once the container is gone"
bx images -q
expect_eq "$(grep -c "${IMG2:0:12}" <<<"$OUT")" 0 "then image prune removes it:"
bx rmi nosuch/image:1
rc_is "rmi of a missing image" 1
one_line "rmi missing" 'No such image: nosuch/image:1'

finish
