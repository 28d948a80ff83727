#!/bin/bash
# t3000-run: the container runtime, as a user of berth run / exec / ps / logs
# / stop / kill / rm / wait / inspect sees it. Needs root.
#
#   - images made here, offline: rt/bb:1 (busybox-static, an /etc/passwd
#     with an `app` user, /etc/group, /etc/marker) by `berth import`; rt/wh:1,
#     two OCI layers made with umoci, the second deleting /etc/marker and a
#     file of /etc/dir-keep (.wh. whiteouts) and making /etc/dir-opaque
#     opaque, by `berth load`; a missing image is pulled from a berthd first;
#   - run: output, exit codes (0, 3, 127 unknown command, 126 not
#     executable, 137 killed), -e / --env-file / bare -e KEY, -w, -u
#     (name, uid:gid, unknown user), --entrypoint, --hostname, the image's
#     Cmd and Env, -i (stdin only when asked);
#   - detached lifecycle: run -d, ps, logs (stdout/stderr apart, -t,
#     --tail), inspect, stop (TERM, then KILL after -t), kill (-s TERM,
#     default KILL), wait, rm (refused while running, -f), --rm;
#   - nothing left behind by --rm: containers, directories, mounts,
#     processes, cgroups;
#   - published ports (IP:HOST:CTR and HOST:CTR), a port in use refused;
#   - isolation: PID 1, hostname, mounts, only lo (--network host: the
#     host's interfaces), docker's capability set, no mount(2);
#   - limits: -m (OOM kill, 137, OOMKilled), --pids-limit, --cpus;
#   - exec: namespaces, -e, -w, -u, exit status, a stopped container;
#   - whiteouts and opaque directories; volumes (rw, ro), --read-only, bad
#     -v specifications (a name no volume may have, a relative path);
#     errors (unknown image, name in use, bad names, bad options);
#   - -t and -it through a pty made by script(1).
# The store ($BERTH_ROOT) and $HOME live in $TMP; every container made here
# is removed and every mount made here unmounted by the EXIT trap. Under a
# sanitizer build (ASAN_OPTIONS set), reports go to $TMP/san and fail the test.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"
need "$BERTHD" umoci curl script pgrep ss
# run_out WHAT EXPECTED ARGS...: `berth run --rm ARGS` prints EXPECTED, exits 0.
run_out() {
    local what=$1 want=$2
    shift 2
    bx run --rm "$@"
    ok "$what" && expect_eq "$OUT" "$want" "$what:"
}
# rund ARGS...: berth run -d ARGS; $ID is the new container's id.
IDS=()
rund() {
    bx run -d "$@"
    ID=$OUT
    [ "$RC" -eq 0 ] && IDS+=("$ID")
}
# ps_line NAME [-a]: the `berth ps` line of container NAME (NAMES is last).
ps_line() {
    timeout 20 "$BERTH" ps ${2:-} 2>/dev/null | awk -v n="$1" 'NR > 1 && $NF == n'
}
# cgroups PREFIX: the cgroup directories of containers whose id starts so.
cgroups() {
    local d
    for d in /sys/fs/cgroup/berth /sys/fs/cgroup/memory/berth /sys/fs/cgroup/pids/berth \
        /sys/fs/cgroup/cpu/berth; do
        ls -d "$d/$1"* 2>/dev/null
    done
}
no_cgroups() { [ -z "$(cgroups "$1")" ]; }
# unchanged WHAT BEFORE_COUNT BEFORE_DIRS: no container was left behind.
unchanged() {
    expect_eq "$(count_containers)" "$2" "$1: containers in ps -a:"
    expect_eq "$(container_dirs)" "$3" "$1: directories in containers/:"
}
ifaces() { awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' | sort | tr '\n' ' '; }

# ---- images ----------------------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/home/app"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true env sleep httpd id hostname ps wget head tail mount grep wc pwd \
    kill dd touch mkdir stty tty test; do
    ln -s busybox "$R/bin/$c"
done
chmod 1777 "$R/tmp"
chown 1000:1000 "$R/home/app"
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
EOF
printf 'root:x:0:\napp:x:1000:\nstaff:x:50:app\n' >"$R/etc/group"
echo "marker $RANDOM" >"$R/etc/marker"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" rt/bb:1
ok "berth import of the rootfs" || finish
expect_match "$OUT" '^sha256:[0-9a-f]{64}$' "import prints a digest"
IMPORTED=$OUT
expect_eq "$(timeout 20 "$BERTH" inspect rt/bb:1 | jq -r '.[0].Id')" "$IMPORTED" \
    "import prints the image's ID, as docker import does"
bx images -q
check; grep -qx "${IMPORTED:7:12}" <<<"$OUT" || fail "berth images does not show ${IMPORTED:7:12}: $OUT"

# rt/wh:1: layer 1 = the rootfs + two directories (umoci repack); layer 2,
# made by hand: .wh.marker, dir-keep/.wh.gone, dir-opaque/.wh..wh..opq.
L=$TMP/oci
{
    umoci init --layout "$L" && umoci new --image "$L:img" &&
        umoci unpack --image "$L:img" "$TMP/bundle" &&
        cp -a "$R/." "$TMP/bundle/rootfs/" &&
        mkdir -p "$TMP/bundle/rootfs/etc/dir-opaque" "$TMP/bundle/rootfs/etc/dir-keep" &&
        echo lower >"$TMP/bundle/rootfs/etc/dir-opaque/lower1" &&
        echo lower >"$TMP/bundle/rootfs/etc/dir-opaque/lower2" &&
        echo stay >"$TMP/bundle/rootfs/etc/dir-keep/stay" &&
        echo gone >"$TMP/bundle/rootfs/etc/dir-keep/gone" &&
        umoci repack --image "$L:img" "$TMP/bundle" &&
        mkdir -p "$TMP/l2/etc/dir-opaque" "$TMP/l2/etc/dir-keep" &&
        : >"$TMP/l2/etc/.wh.marker" && : >"$TMP/l2/etc/dir-keep/.wh.gone" &&
        : >"$TMP/l2/etc/dir-opaque/.wh..wh..opq" &&
        echo upper >"$TMP/l2/etc/dir-opaque/upper1" &&
        tar -C "$TMP/l2" --owner=0 --group=0 --numeric-owner -cf "$TMP/l2.tar" etc &&
        umoci raw add-layer --image "$L:img" "$TMP/l2.tar" &&
        umoci config --image "$L:img" --config.cmd /bin/sh --config.env PATH=/bin &&
        tar -C "$L" -cf "$TMP/oci.tar" .
} >"$TMP/umoci.log" 2>&1 || { cat "$TMP/umoci.log" >&2; echo "$T_NAME: umoci failed" >&2; exit 1; }
bx load -i "$TMP/oci.tar"
ok "berth load of the two-layer OCI archive"
LOADED=$(sed -n 's/^Loaded image: //p' <<<"$OUT" | head -1)
expect_ne "$LOADED" "" "load names the image it loaded"
bx tag "$LOADED" rt/wh:1
ok "berth tag $LOADED rt/wh:1"
bx inspect rt/wh:1
expect_eq "$(jq '.[0].Layers | length' <<<"$OUT" 2>/dev/null)" 2 "rt/wh:1 layers:"

# the long-running program of the test, unique enough to be looked for
LONG=$((100000 + RANDOM))

# ---- 1. output ----------------------------------------------------------------------
run_out "run echo" hello rt/bb:1 echo hello
expect_eq "$ERR" "" "run echo: stderr"
bxin "some input" run --rm -i rt/bb:1 cat
ok "run -i cat" && expect_eq "$OUT" "some input" "run -i: stdin reaches the container:"
bxin "some input" run --rm rt/bb:1 cat
ok "run cat without -i" && expect_eq "$OUT" "" "run without -i: stdin is not attached:"

# ---- 2. exit codes ----------------------------------------------------------------------
bx run --rm rt/bb:1 sh -c 'exit 3'
rc_is "run sh -c 'exit 3'" 3
bx run --rm rt/bb:1 nonexistent
rc_is "run of an unknown command" 127
expect_match "$ERR" 'executable file not found in \$PATH' "run nonexistent: message"
bx run --rm rt/bb:1 /no/such
rc_is "run /no/such" 127
expect_match "$ERR" '/no/such' "run /no/such: message names the path"
bx run --rm rt/bb:1 /etc/marker
rc_is "run of a file that is not executable" 126
expect_match "$ERR" '/etc/marker.*[Pp]ermission denied' "run /etc/marker: message"
# Killed by a signal: 128 + 9. (`sh -c 'kill -9 $$'` cannot do it: the
# kernel ignores a signal sent to a PID namespace's init from inside, as
# under docker; that is checked in 7.) The signal comes from the host.
timeout 30 "$BERTH" run --rm --name sig rt/bb:1 sleep $LONG </dev/null >/dev/null 2>"$TMP/sig.err" &
SIG_RUN=$!
sig_started() { [ "$(state sig .State.Pid)" -gt 0 ] 2>/dev/null; }
waitfor 5 sig_started
SIG_PID=$(state sig .State.Pid)
check
if [ "${SIG_PID:-0}" -gt 0 ] 2>/dev/null; then
    kill -KILL "$SIG_PID"
    wait "$SIG_RUN"
    expect_eq "$?" 137 "run of a process killed by SIGKILL: exit status"
else
    fail "container sig did not start (pid '$SIG_PID')"
    kill "$SIG_RUN"; wait "$SIG_RUN"
fi

# ---- 3. env, workdir, user, entrypoint, hostname ------------------------------------
bx run --rm -e FOO=bar rt/bb:1 env
ok "run -e FOO=bar" && expect_match "$OUT" $'(^|\n)FOO=bar(\n|$)' "run -e FOO=bar: env"
printf '# a comment line\nFILEVAR=from the file\n\n  SPACED=yes\n' >"$TMP/env.list"
bx run --rm --env-file "$TMP/env.list" rt/bb:1 env
ok "run --env-file"
expect_match "$OUT" $'(^|\n)FILEVAR=from the file(\n|$)' "--env-file: KEY=VAL"
expect_match "$OUT" $'(^|\n)SPACED=yes(\n|$)' "--env-file: indented KEY=VAL"
check; ! grep -q 'comment' <<<"$OUT" || fail "--env-file: the comment line became a variable: $OUT"
export T3000_BARE="from the caller"
unset T3000_UNSET
bx run --rm -e T3000_BARE -e T3000_UNSET rt/bb:1 env
ok "run -e KEY (bare)"
expect_match "$OUT" $'(^|\n)T3000_BARE=from the caller(\n|$)' "-e KEY takes the caller's value"
check; ! grep -q T3000_UNSET <<<"$OUT" || fail "-e KEY of an unset variable should be left out: $OUT"
bx run --rm rt/bb:1 env
expect_match "$OUT" $'(^|\n)PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin(\n|$)' \
    "an image without Env gets docker's default PATH"
expect_match "$OUT" $'(^|\n)HOME=/root(\n|$)' "HOME of root"
run_out "run -w /work/dir pwd" /work/dir -w /work/dir rt/bb:1 pwd
run_out "run -u app id -u" 1000 -u app rt/bb:1 id -u
run_out "run -u app id -g" 1000 -u app rt/bb:1 id -g
run_out "run -u app id -G (supplementary groups from /etc/group)" "1000 50" -u app rt/bb:1 id -G
run_out "run -u app: HOME from /etc/passwd" /home/app -u app rt/bb:1 sh -c 'echo $HOME'
run_out "run -u 1000:50 id -u" 1000 -u 1000:50 rt/bb:1 id -u
run_out "run -u 1000:50 id -g" 50 -u 1000:50 rt/bb:1 id -g
N0=$(count_containers) D0=$(container_dirs)
bx run --rm -u nosuchuser rt/bb:1 id
rc_fails "run -u nosuchuser"
one_line "run -u nosuchuser" 'unable to find user nosuchuser'
unchanged "run -u nosuchuser" "$N0" "$D0"
run_out "run --entrypoint echo IMAGE a b" "a b" --entrypoint echo rt/bb:1 a b
bx run --rm rt/bb:1 sh -c 'echo "$HOSTNAME"; hostname'
ok "run: HOSTNAME and hostname"
H1=$(sed -n 1p <<<"$OUT") H2=$(sed -n 2p <<<"$OUT")
expect_eq "$H1" "$H2" "env HOSTNAME equals hostname:"
expect_match "$H2" '^[0-9a-f]{12}$' "the default hostname is the short id"
bx run --rm --hostname myhost rt/bb:1 sh -c 'hostname; echo "$HOSTNAME"; cat /etc/hostname'
ok "run --hostname myhost" && expect_eq "$OUT" $'myhost\nmyhost\nmyhost' "--hostname: hostname, \$HOSTNAME, /etc/hostname:"
# the image's own Cmd and Env
bx run --rm rt/wh:1
ok "run of an image with Cmd /bin/sh and no command (stdin closed)"
bx run --rm rt/wh:1 env
expect_match "$OUT" $'(^|\n)PATH=/bin(\n|$)' "the image's Env is used"
bx run --rm rt/bb:1
rc_is "run of an image without Cmd and no command" 125
one_line "run with no command" 'berth run: .*(no command|command)'

# ---- 4. detached lifecycle --------------------------------------------------------
rund --name lc rt/bb:1 sh -c 'echo started; echo oops >&2; trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done'
ok "run -d --name lc"
LC=$ID
expect_match "$LC" '^[0-9a-f]{64}$' "run -d prints the full id"
LINE=$(ps_line lc)
expect_match "$LINE" "^${LC:0:12} +rt/bb:1 " "ps: id and image of lc"
expect_match "$LINE" ' Up ' "ps: lc is Up"
check; ps_line lc -a | grep -q ' Up ' || fail "ps -a: lc is not Up"
bx ps -q
expect_match "$OUT" $'(^|\n)'"${LC:0:12}"$'(\n|$)' "ps -q lists the short id"
logs_have() { timeout 10 "$BERTH" logs lc 2>&1 | grep -q "$1"; }
waitfor 5 logs_have started && waitfor 5 logs_have oops
expect_eq "$(timeout 10 "$BERTH" logs lc 2>/dev/null)" started "logs lc, stdout only:"
expect_eq "$(timeout 10 "$BERTH" logs lc 2>&1 >/dev/null)" oops "logs lc, stderr only:"
TS=$(timeout 10 "$BERTH" logs -t lc 2>&1)
expect_eq "$(grep -c . <<<"$TS")" 2 "logs -t: lines"
check
grep -qvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}) (started|oops)$' <<<"$TS" &&
    fail "logs -t: lines do not start with an RFC 3339 time: $TS"
TAIL=$(timeout 10 "$BERTH" logs --tail 1 lc 2>&1)
expect_match "$TAIL" '^(started|oops)$' "logs --tail 1: one line"
bx inspect lc
ok "inspect lc"
expect_eq "$(jq -r 'type' <<<"$OUT" 2>/dev/null)" array "inspect prints a JSON array"
expect_eq "$(jq -r '.[0].State.Running' <<<"$OUT")" true "inspect lc .State.Running"
expect_eq "$(jq -r '.[0].State.Status' <<<"$OUT")" running "inspect lc .State.Status"
expect_eq "$(jq -r '.[0].Id' <<<"$OUT")" "$LC" "inspect lc .Id"
expect_eq "$(jq -r '.[0].Name' <<<"$OUT")" /lc "inspect lc .Name"
LC_PID=$(jq -r '.[0].State.Pid' <<<"$OUT")
check; [ "$LC_PID" -gt 0 ] 2>/dev/null || fail "inspect lc .State.Pid: '$LC_PID'"
check; kill -0 "$LC_PID" 2>/dev/null || fail "the pid of lc ($LC_PID) is not a live process on the host"
bx inspect "${LC:0:12}"
ok "inspect by short id" && expect_eq "$(jq -r '.[0].Name' <<<"$OUT")" /lc "inspect by short id: Name"
START=$(date +%s)
bx stop -t 5 lc
ok "stop -t 5 lc" && expect_eq "$OUT" lc "stop prints the name"
check; [ $(($(date +%s) - START)) -lt 5 ] || fail "stop of a container that exits on TERM took $(($(date +%s) - START)) s"
expect_eq "$(ps_line lc)" "" "ps after stop: lc"
expect_match "$(ps_line lc -a)" ' Exited \(0\) ' "ps -a after stop: lc"
check; timeout 10 "$BERTH" logs lc 2>/dev/null | grep -qx bye || fail "logs after stop: no 'bye' (the TERM trap's output)"
expect_eq "$(state lc .State.Running)" false "inspect after stop: Running"
expect_eq "$(state lc .State.ExitCode)" 0 "inspect after stop: ExitCode"
check; ! kill -0 "$LC_PID" 2>/dev/null || fail "the process of lc ($LC_PID) is still there after stop"
bx wait lc
ok "wait lc" && expect_eq "$OUT" 0 "wait of a stopped container:"
check; [ -d "$BERTH_ROOT/containers/$LC" ] || fail "containers/$LC is missing before rm"
bx rm lc
ok "rm lc" && expect_eq "$OUT" lc "rm prints the name"
expect_eq "$(ps_line lc -a)" "" "ps -a after rm: lc"
check; [ ! -e "$BERTH_ROOT/containers/$LC" ] || fail "containers/$LC is still there after rm"
bx inspect lc
rc_fails "inspect after rm"
check; waitfor 3 no_cgroups "$LC" || fail "cgroups of lc left: $(cgroups "$LC")"

# rm of a running container: refused without -f
rund --name rf rt/bb:1 sleep $LONG
ok "run -d --name rf"
RF=$ID RF_PID=$(state rf .State.Pid)
bx rm rf
rc_fails "rm of a running container without -f"
one_line "rm of a running container" 'berth rm: .*(running|[Ss]top)'
expect_match "$(ps_line rf)" ' Up ' "ps after a refused rm: rf"
bx rm -f rf
ok "rm -f of a running container"
expect_eq "$(ps_line rf -a)" "" "ps -a after rm -f: rf"
check; ! kill -0 "$RF_PID" 2>/dev/null || fail "the process of rf ($RF_PID) is still there after rm -f"
check; [ ! -e "$BERTH_ROOT/containers/$RF" ] || fail "containers/$RF is still there after rm -f"

# kill -s TERM reaches a handler; kill (default SIGKILL) gives 137
rund --name kt rt/bb:1 sh -c 'trap "echo got-term; exit 42" TERM; while :; do sleep 0.1; done'
ok "run -d --name kt"
bx kill -s TERM kt
ok "kill -s TERM kt" && expect_eq "$OUT" kt "kill prints the name"
bx wait kt
ok "wait kt" && expect_eq "$OUT" 42 "wait after kill -s TERM: the trap's exit code"
check; timeout 10 "$BERTH" logs kt | grep -qx got-term || fail "logs kt: no 'got-term'"
rund --name kk rt/bb:1 sleep $LONG
ok "run -d --name kk"
bx kill kk
ok "kill kk"
bx wait kk
ok "wait kk" && expect_eq "$OUT" 137 "wait after kill (SIGKILL):"
expect_match "$(ps_line kk -a)" ' Exited \(137\) ' "ps -a after kill: kk"
bx kill kk
rc_fails "kill of a container that is not running"
# stop of a program that ignores TERM (sleep as PID 1): KILL after -t
rund --name st rt/bb:1 sleep $LONG
START=$(date +%s%N)
bx stop -t 1 st
ok "stop -t 1 of a process that ignores TERM"
ELAPSED=$((($(date +%s%N) - START) / 1000000))
check; [ "$ELAPSED" -ge 900 ] && [ "$ELAPSED" -lt 5000 ] || fail "stop -t 1 took $ELAPSED ms (expected ~1 s)"
expect_eq "$(state st .State.ExitCode)" 137 "stop -t 1 of sleep: exit code"
# wait blocks until the end
rund --name wt rt/bb:1 sh -c 'sleep 1; exit 4'
bx wait wt
ok "wait wt" && expect_eq "$OUT" 4 "wait of a running container: its exit code"
bx rm kt kk st wt
ok "rm of four stopped containers"
bx rm nosuchctr
rc_fails "rm of an unknown container"
one_line "rm of an unknown container" 'berth rm: .*[Nn]o such container'
for v in logs stop kill wait; do
    bx "$v" nosuchctr
    rc_fails "$v of an unknown container"
    expect_match "$ERR" "berth $v: .*[Nn]o such container" "$v nosuchctr: message"
done

# ---- 5. --rm leaves nothing behind --------------------------------------------------
N0=$(count_containers) D0=$(container_dirs)
bx run --rm rt/bb:1 cat /etc/hostname
ok "run --rm cat /etc/hostname"
SHORT=$OUT
expect_match "$SHORT" '^[0-9a-f]{12}$' "the short id"
unchanged "run --rm" "$N0" "$D0"
check; [ -z "$(ls "$BERTH_ROOT/containers" | grep "^$SHORT")" ] || fail "run --rm left containers/$SHORT*"
check; waitfor 3 no_cgroups "$SHORT" || fail "run --rm left cgroups: $(cgroups "$SHORT")"
check; ! grep -q "$TMP" /proc/self/mountinfo || fail "mounts of the test left on the host: $(grep "$TMP" /proc/self/mountinfo)"
check; [ -z "$(pgrep -f 'sleep 31337')" ] || fail "a 'sleep 31337' runs before the test made one"
rund --rm --name rmd rt/bb:1 sleep 31337
ok "run -d --rm sleep 31337"
RMD=$ID
check; [ -n "$(pgrep -f 'sleep 31337')" ] || fail "no 'sleep 31337' process while the container runs"
check; [ -n "$(cgroups "$RMD")" ] || fail "no cgroup for a running container ($RMD)"
bx stop -t 1 rmd
ok "stop of a --rm container"
gone() { [ -z "$(timeout 10 "$BERTH" ps -aq | grep "^${1:0:12}")" ] && [ ! -e "$BERTH_ROOT/containers/$1" ]; }
check; waitfor 5 gone "$RMD" || fail "the -d --rm container is still listed / has a directory after stop"
no_31337() { [ -z "$(pgrep -f 'sleep 31337')" ]; }
check; waitfor 3 no_31337 || fail "processes left: $(pgrep -af 'sleep 31337')"
check; waitfor 3 no_cgroups "$RMD" || fail "cgroups left: $(cgroups "$RMD")"
unchanged "run -d --rm + stop" "$N0" "$D0"
check; ! grep -q "$TMP" /proc/self/mountinfo || fail "mounts left on the host: $(grep "$TMP" /proc/self/mountinfo)"
# --rm of a container that fails to start
bx run --rm rt/bb:1 nonexistent
unchanged "run --rm of an unknown command" "$N0" "$D0"

# ---- 6. published ports -------------------------------------------------------------
mkdir -p "$TMP/www"
WWW="served by berth $RANDOM"
echo "$WWW" >"$TMP/www/index.html"
HP=$(free_port)
rund --name web -p "127.0.0.1:$HP:80" -v "$TMP/www:/www:ro" rt/bb:1 httpd -f -p 80 -h /www
ok "run -d -p 127.0.0.1:$HP:80 httpd"
get() { curl -fsS -m 5 "http://127.0.0.1:$1/index.html" 2>/dev/null; }
waitfor 3 get "$HP"
expect_eq "$(get "$HP")" "$WWW" "GET through -p 127.0.0.1:$HP:80:"
expect_match "$(ps_line web)" "127\.0\.0\.1:$HP->80/tcp" "ps: PORTS of web"
bx inspect web
expect_eq "$(jq -r '.[0].NetworkSettings.Ports["80/tcp"][0].HostPort' <<<"$OUT")" "$HP" "inspect: HostPort"
expect_eq "$(jq -r '.[0].NetworkSettings.Ports["80/tcp"][0].HostIp' <<<"$OUT")" 127.0.0.1 "inspect: HostIp"
HP2=$(free_port)
rund --name web2 -p "$HP2:80" -v "$TMP/www:/www:ro" rt/bb:1 httpd -f -p 80 -h /www
ok "run -d -p $HP2:80 httpd"
waitfor 3 get "$HP2"
expect_eq "$(get "$HP2")" "$WWW" "GET through -p $HP2:80 (all addresses):"
expect_match "$(ps_line web2)" "0\.0\.0\.0:$HP2->80/tcp" "ps: PORTS of web2"
N0=$(count_containers) D0=$(container_dirs)
bx run -d --name web3 -p "$HP:80" rt/bb:1 httpd -f -p 80 -h /www
rc_is "run with a host port in use" 125
one_line "run with a host port in use" 'port is already allocated'
unchanged "run with a host port in use" "$N0" "$D0"
expect_eq "$(get "$HP")" "$WWW" "the first container still serves after the refused run:"
bx rm -f web web2
ok "rm -f web web2"
port_free() { [ -z "$(ss -Htln "sport = :$1")" ]; }
check; waitfor 3 port_free "$HP" || fail "port $HP still listened on after rm -f"
check; ! get "$HP" >/dev/null || fail "port $HP still answers after rm -f"

# ---- 7. isolation ---------------------------------------------------------------------
run_out "PID 1" 1 rt/bb:1 sh -c 'echo $$'
bx run --rm rt/bb:1 ps -o pid,args
expect_eq "$(sed 1d <<<"$OUT" | awk '{print $1}' | tr '\n' ' ')" "1 " "ps in a container sees only its own processes:"
# the kernel does not let PID 1 be killed from inside by a signal it has no handler for
run_out "kill -9 \$\$ by PID 1 is ignored" survived rt/bb:1 sh -c 'kill -9 $$; echo survived'
bx run --rm rt/bb:1 hostname
expect_ne "$OUT" "$(hostname)" "the container's hostname is the host's"
mkdir -p "$TMP/hostmnt"
if mount -t tmpfs none "$TMP/hostmnt"; then
    at_exit "umount '$TMP/hostmnt'"
    echo "host only" >"$TMP/hostmnt/file"
    bx run --rm rt/bb:1 sh -c "cat /proc/self/mountinfo; if test -e '$TMP/hostmnt/file'; then echo VISIBLE; fi"
    ok "run cat /proc/self/mountinfo"
    check; ! grep -q -e hostmnt -e VISIBLE <<<"$OUT" || fail "a host mount is visible in the container: $OUT"
    umount "$TMP/hostmnt"
fi
bx run --rm rt/bb:1 ls /
ok "run ls /" && expect_eq "$(tr '\n' ' ' <<<"$OUT")" "bin dev etc home proc sys tmp " "ls / in the container:"
bx run --rm rt/bb:1 cat /proc/net/dev
ok "run cat /proc/net/dev" && expect_eq "$(ifaces <<<"$OUT")" "lo " "network interfaces of a container:"
# (compared only when the host's interfaces did not change meanwhile)
HOST_IFACES=$(ifaces </proc/net/dev)
bx run --rm --network host rt/bb:1 cat /proc/net/dev
ok "run --network host"
if [ "$(ifaces </proc/net/dev)" = "$HOST_IFACES" ]; then
    expect_eq "$(ifaces <<<"$OUT")" "$HOST_IFACES" "--network host: interfaces"
fi
bx run --rm rt/bb:1 grep -E '^Cap(Eff|Bnd)' /proc/self/status
expect_eq "$(awk '{print $2}' <<<"$OUT" | tr '\n' ' ')" "00000000a80425fb 00000000a80425fb " "capabilities (docker's default set):"
bx run --rm rt/bb:1 mount -t tmpfs none /tmp
rc_fails "mount inside a container"

# ---- 8. limits ------------------------------------------------------------------------
HOG='x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done'
bx run --rm -m 32m rt/bb:1 sh -c "$HOG"
rc_is "run -m 32m of a memory hog" 137
rund -m 32m --name oom rt/bb:1 sh -c "$HOG"
ok "run -d -m 32m --name oom"
bx wait oom
ok "wait oom" && expect_eq "$OUT" 137 "wait of an OOM-killed container:"
expect_eq "$(state oom .State.OOMKilled)" true "inspect oom .State.OOMKilled"
bx rm oom
START=$(date +%s)
bx run --rm --pids-limit 5 rt/bb:1 sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait'
rc_fails "run --pids-limit 5 of 8 background processes"
check; grep -qiE 'fork|resource' <<<"$ERR" || fail "--pids-limit 5: no fork failure on stderr: $ERR"
check; [ $(($(date +%s) - START)) -lt 5 ] || fail "--pids-limit: the container outlived its PID 1"
rund --name lim -m 48m --cpus 0.5 --pids-limit 20 rt/bb:1 sleep $LONG
ok "run -d -m 48m --cpus 0.5 --pids-limit 20"
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    expect_eq "$(cat "/sys/fs/cgroup/berth/$ID/memory.max" 2>&1)" 50331648 "-m 48m: memory.max"
    expect_eq "$(cat "/sys/fs/cgroup/berth/$ID/cpu.max" 2>&1)" "50000 100000" "--cpus 0.5: cpu.max"
    expect_eq "$(cat "/sys/fs/cgroup/berth/$ID/pids.max" 2>&1)" 20 "--pids-limit 20: pids.max"
else
    expect_eq "$(cat "/sys/fs/cgroup/memory/berth/$ID/memory.limit_in_bytes" 2>&1)" 50331648 "-m 48m: memory.limit_in_bytes"
    expect_eq "$(cat "/sys/fs/cgroup/cpu/berth/$ID/cpu.cfs_quota_us" 2>&1)" 50000 "--cpus 0.5: cpu.cfs_quota_us"
    expect_eq "$(cat "/sys/fs/cgroup/pids/berth/$ID/pids.max" 2>&1)" 20 "--pids-limit 20: pids.max"
fi
bx rm -f lim
bx run --rm -m 1x rt/bb:1 true
rc_is "run -m 1x" 125
one_line "run -m 1x" 'berth run: '

# ---- 9. exec ----------------------------------------------------------------------------
rund --name ex rt/bb:1 sleep $LONG
ok "run -d --name ex sleep $LONG"
EX=$ID
bx exec ex sh -c 'echo $$; cat /etc/hostname'
ok "exec ex sh"
EXEC_PID=$(sed -n 1p <<<"$OUT")
check; [ "$EXEC_PID" != 1 ] && [ "$EXEC_PID" -gt 1 ] 2>/dev/null || fail "exec: pid in the container '$EXEC_PID' (expected > 1)"
expect_eq "$(sed -n 2p <<<"$OUT")" "${EX:0:12}" "exec: /etc/hostname is the container's:"
bx exec ex hostname
expect_eq "$OUT" "${EX:0:12}" "exec: hostname (UTS namespace):"
bx exec ex ps -o pid,args
expect_match "$OUT" $'\n *1 +sleep '"$LONG" "exec ps: sleep $LONG is PID 1"
bx exec -e X=1 ex env
ok "exec -e X=1" && expect_match "$OUT" $'(^|\n)X=1(\n|$)' "exec -e X=1: env"
run_exec_out() { local what=$1 want=$2; shift 2; bx exec "$@"; ok "$what" && expect_eq "$OUT" "$want" "$what:"; }
run_exec_out "exec -w /tmp pwd" /tmp -w /tmp ex pwd
run_exec_out "exec -u app id -u" 1000 -u app ex id -u
bx exec ex cat /proc/net/dev
expect_eq "$(ifaces <<<"$OUT")" "lo " "exec: interfaces"
bx exec ex sh -c 'exit 7'
rc_is "exec sh -c 'exit 7'" 7
bx exec ex nonexistent
rc_is "exec of an unknown command" 126   # docker exec's, not run's 127
expect_match "$ERR" 'executable file not found' "exec nonexistent: message"
bxin "to exec" exec -i ex cat
ok "exec -i cat" && expect_eq "$OUT" "to exec" "exec -i: stdin:"
bx exec ex sh -c 'echo file-by-exec > /tmp/f'
run_exec_out "exec sees the files of the container" file-by-exec ex cat /tmp/f
bx stop -t 1 ex
bx exec ex true
rc_fails "exec into a stopped container"
one_line "exec into a stopped container" 'is not running'
bx exec nosuchctr true
rc_fails "exec into an unknown container"
bx rm ex

# ---- 10. whiteouts and opaque directories ------------------------------------------
run_out "a whiteout hides /etc/marker" absent rt/wh:1 sh -c 'test -e /etc/marker && echo present || echo absent'
run_out "an opaque directory shows only the upper layer" upper1 rt/wh:1 ls /etc/dir-opaque
run_out "a file whiteout hides one file of a directory" stay rt/wh:1 ls /etc/dir-keep
run_out "the lower layer is intact under a deletion" "$(cat "$R/etc/marker")" rt/bb:1 cat /etc/marker
bx run --rm rt/wh:1 ls -a /etc
check; ! grep -q '\.wh\.' <<<"$OUT" || fail "whiteout files are visible: $OUT"

# ---- 11. volumes, read-only -----------------------------------------------------------
mkdir -p "$TMP/vol"
echo "from the host" >"$TMP/vol/h"
bx run --rm -v "$TMP/vol:/data" rt/bb:1 sh -c 'cat /data/h; echo inside >/data/f'
ok "run -v $TMP/vol:/data" && expect_eq "$OUT" "from the host" "a host file seen in the volume:"
expect_eq "$(cat "$TMP/vol/f" 2>&1)" inside "a file written in the volume, on the host:"
bx run --rm -v "$TMP/vol:/data:rw" rt/bb:1 sh -c 'echo rw >/data/rw'
ok "run -v ...:rw" && expect_eq "$(cat "$TMP/vol/rw" 2>&1)" rw "a file written in a :rw volume"
bx run --rm -v "$TMP/vol:/data:ro" rt/bb:1 sh -c 'cat /data/h && echo x >/data/g'
rc_fails "write into a :ro volume"
expect_match "$ERR" 'Read-only file system' "write into a :ro volume: message"
check; [ ! -e "$TMP/vol/g" ] || fail "a write into a :ro volume reached the host"
bx run --rm --read-only rt/bb:1 touch /x
rc_fails "run --read-only touch /x"
bx run --rm --read-only -v "$TMP/vol:/data" rt/bb:1 sh -c 'touch /data/ro-root && echo ok >/dev/shm/y && cat /dev/shm/y'
ok "--read-only: volumes and /dev/shm stay writable" && expect_eq "$OUT" ok "--read-only /dev/shm:"
bx run --rm -v "$TMP/newdir/sub:/x" rt/bb:1 true
ok "run -v of a missing host directory"
check; [ -d "$TMP/newdir/sub" ] || fail "-v of a missing host directory: it was not created"
N0=$(count_containers) D0=$(container_dirs)
for spec in rel/ative:/x /abs:relative "$TMP/vol:/b:bogus" "$TMP/vol:/"; do
    bx run --rm -v "$spec" rt/bb:1 true
    rc_is "run -v $spec" 125
    one_line "run -v $spec" 'berth run: '
    unchanged "run -v $spec" "$N0" "$D0"
done
check; [ ! -e rel ] && [ ! -e /abs ] || fail "a bad -v made a directory on the host"

# ---- 12. errors ---------------------------------------------------------------------------
DEAD=127.0.0.1:$(free_port)
N0=$(count_containers) D0=$(container_dirs)
bx run -q --rm "$DEAD/no/such:1" true
rc_is "run -q of an image in an unreachable registry" 125
expect_match "$(sed -n 1p <<<"$ERR")" "^Unable to find image '$DEAD/no/such:1' locally$" "run of a missing image: first line"
check; [ "$(grep -vc '^Unable to find image' <<<"$ERR")" -eq 1 ] ||
    fail "run -q of an unreachable image: expected one error line, got: $ERR"
expect_match "$(tail -n 1 <<<"$ERR")" "^berth run: .*$DEAD" "run of an unreachable image: the error"
unchanged "run of an unreachable image" "$N0" "$D0"
# without -q the pull's progress goes to stderr, but the error is still one line, last
bx run --rm "$DEAD/no/such:1" true
check; [ "$RC" -ne 0 ] && [ "$(grep -c '^berth run:' <<<"$ERR")" -eq 1 ] && [[ $(tail -n 1 <<<"$ERR") == "berth run:"* ]] ||
    fail "run of an unreachable image without -q: expected one 'berth run:' line last on stderr, got: $ERR"
unchanged "run of an unreachable image (no -q)" "$N0" "$D0"
rund --name dup rt/bb:1 sleep $LONG
ok "run -d --name dup"
DUP=$ID
N0=$(count_containers) D0=$(container_dirs)
bx run --rm --name dup rt/bb:1 true
rc_is "run --name of a name in use" 125
one_line "run --name in use" 'already in use'
unchanged "run --name in use" "$N0" "$D0"
expect_match "$(ps_line dup)" "^${DUP:0:12} .* Up " "the container holding the name still runs"
bx rm -f dup
N0=$(count_containers) D0=$(container_dirs)
for bad in 'bad/name' '' '-x'; do
    bx run --rm --name "$bad" rt/bb:1 true
    rc_is "run --name '$bad'" 125
    one_line "run --name '$bad'" 'berth run: .*[Ii]nvalid container name'
    unchanged "run --name '$bad'" "$N0" "$D0"
done
bx run
rc_is "run with no image" 125
bx run --rm --network bogus rt/bb:1 true
rc_is "run --network bogus" 125
one_line "run --network bogus" 'bogus'
bx run --rm --bogus-option rt/bb:1 true
rc_is "run --bogus-option" 125

# ---- 13. -t and -it ------------------------------------------------------------------------
# script(1) gives berth a terminal (the outer size is set first: a pty made
# by script from a non-terminal has no size).
timeout 30 script -qec "stty rows 33 cols 111; '$BERTH' run --rm -t rt/bb:1 sh -c 'tty; stty size'" \
    /dev/null </dev/null >"$TMP/tty.out" 2>&1
TRC=$?
TTY_OUT=$(tr -d '\r' <"$TMP/tty.out")
expect_eq "$TRC" 0 "run -t: exit status"
expect_match "$(sed -n 1p <<<"$TTY_OUT")" '^/dev/(pts/[0-9]+|console)$' "run -t: tty"
expect_eq "$(sed -n 2p <<<"$TTY_OUT")" "33 111" "run -t: the terminal's size"
bx run --rm rt/bb:1 tty
rc_is "run without -t: tty" 1
expect_eq "$OUT" "not a tty" "run without -t: tty"
printf 'echo hi-from-pty-$((40+2))\nexit 5\n' |
    timeout 30 script -qec "'$BERTH' run --rm -it rt/bb:1 sh" /dev/null >"$TMP/it.out" 2>&1
TRC=$?
expect_eq "$TRC" 5 "run -it sh, 'exit 5': exit status through script -e"
check; grep -q 'hi-from-pty-42' "$TMP/it.out" || fail "run -it: no output of the typed command: $(tr -d '\r' <"$TMP/it.out")"
rund --name tt rt/bb:1 sleep $LONG
timeout 30 script -qec "'$BERTH' exec -t tt sh -c 'tty; exit 6'" /dev/null </dev/null >"$TMP/et.out" 2>&1
TRC=$?
expect_eq "$TRC" 6 "exec -t: exit status"
expect_match "$(tr -d '\r' <"$TMP/et.out" | sed -n 1p)" '^/dev/' "exec -t: tty"
bx rm -f tt

# ---- 14. a missing image is pulled first -------------------------------------------
berthd_start
bx tag rt/bb:1 "$REG/rt/auto:1"
ok "tag rt/bb:1 $REG/rt/auto:1"
bx push -q "$REG/rt/auto:1"
ok "push $REG/rt/auto:1"
bx rmi "$REG/rt/auto:1"
ok "rmi $REG/rt/auto:1"
bx run --rm "$REG/rt/auto:1" echo pulled
ok "run of an image that is not in the store" && expect_eq "$OUT" pulled "run of a missing image: output"
expect_match "$ERR" "Unable to find image '$REG/rt/auto:1' locally" "run of a missing image: notice"
bx images
expect_match "$OUT" "$REG/rt/auto +1 " "the pulled image is in the store"

# ---- the end: nothing left --------------------------------------------------------
for c in $(timeout 20 "$BERTH" ps -aq); do timeout 20 "$BERTH" rm -f "$c" >/dev/null 2>&1; done
expect_eq "$(count_containers)" 0 "containers left"
expect_eq "$(container_dirs)" "" "directories left in containers/:"
for id in "${IDS[@]}"; do
    check; waitfor 3 no_cgroups "$id" || fail "cgroups left for $id: $(cgroups "$id")"
done
LEFT=$(pgrep -af "sleep $LONG|sleep 31337|httpd -f -p 80 -h /www$")
check; [ -z "$LEFT" ] || fail "processes left: $LEFT"
check; ! grep -q "$TMP" /proc/self/mountinfo || fail "mounts left: $(grep "$TMP" /proc/self/mountinfo)"
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
