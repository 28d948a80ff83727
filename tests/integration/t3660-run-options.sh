#!/bin/bash
# t3660-run-options: run's everyday options as docker 20.10 has them, seen
# from inside the container and in inspect. Needs root.
#
#   - --add-host NAME:IP (/etc/hosts, ExtraHosts, on a network too); --cap-add/--cap-drop
#     (X, CAP_X, any case, ALL; CapAdd/CapDrop); --ulimit nofile=S:H,
#     nproc, core (Ulimits); --tmpfs PATH[:OPTS] (Tmpfs, with --read-only);
#     --shm-size (/dev/shm, ShmSize, 64 MB by default); --group-add name
#     or gid (GroupAdd); -v with :z/:Z; named volumes (-v NAME:/x, kept
#     between containers, Mounts Type volume); --mount bind/volume/tmpfs
#     (readonly, tmpfs-size; HostConfig.Mounts); --cidfile (written, an
#     existing file refused); --init (PID 1 /sbin/docker-init, reaps
#     orphans, forwards signals, the command's exit status; Init);
#   - a stopped container started again has them all again;
#   - each option's bad input refused with exit 125 and docker's message,
#     and no container left behind.
# The store ($BERTH_ROOT) and $HOME live in $TMP; the EXIT trap removes
# every container made here and unmounts what is left.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"

R=$TMP/rootfs
mkdir -p "$R/etc"
printf 'root:x:0:\nwheel:x:10:\naudio:x:29:\n' >"$R/etc/group"
bb_image ro/bb:1 sh cat echo sleep true ls id grep ps touch tail wc stat

# runs ARGS...: berth run --rm ARGS, successful; $OUT its output
runs() {
    bx run --rm "$@"
    ok "run $*"
}
# refused WHAT REGEX ARGS...: berth run ARGS exits 125 with REGEX on stderr,
# and leaves no container
refused() {
    local what=$1 re=$2 before
    shift 2
    before=$(count_containers)
    bx run --rm "$@" ro/bb:1 true
    rc_is "$what" 125
    expect_match "$ERR" "$re" "$what: message"
    expect_eq "$(count_containers)" "$before" "$what: no container left"
}
# bits CAPHEX N: is capability N set in CAPHEX?
bit() { echo $(( (0x$1 >> $2) & 1 )); }

# ---- 1. --add-host -----------------------------------------------------------------
runs --add-host db:10.1.2.3 --add-host v6:fe80::1 ro/bb:1 cat /etc/hosts
expect_match "$OUT" $'10\\.1\\.2\\.3\tdb' "add-host: the line in /etc/hosts"
expect_match "$OUT" $'fe80::1\tv6' "add-host: an IPv6 address"
expect_match "$OUT" "localhost" "add-host: localhost still there"
bx network create --subnet 10.96.60.0/24 ro3660net
ok "network create"
runs --network ro3660net --add-host db:10.1.2.3 ro/bb:1 cat /etc/hosts
expect_match "$OUT" $'10\\.1\\.2\\.3\tdb' "add-host on a network: kept when the network writes the file"
expect_match "$OUT" "10\\.96\\.60\\." "add-host on a network: the network's names too"
bx network rm ro3660net
refused "--add-host without an address" 'bad format for add-host: "db"' --add-host db
refused "--add-host with a bad address" 'invalid IP address in add-host: "nope"' --add-host db:nope

# ---- 2. --cap-add / --cap-drop -----------------------------------------------------
runs ro/bb:1 grep CapEff /proc/self/status
DEF=$(echo "$OUT" | awk '{print $2}')
expect_eq "$(bit "$DEF" 12)" 0 "default: no NET_ADMIN"
expect_eq "$(bit "$DEF" 0)" 1 "default: CHOWN"
runs --cap-add NET_ADMIN --cap-drop chown ro/bb:1 grep CapEff /proc/self/status
EFF=$(echo "$OUT" | awk '{print $2}')
expect_eq "$(bit "$EFF" 12)" 1 "--cap-add NET_ADMIN"
expect_eq "$(bit "$EFF" 0)" 0 "--cap-drop chown"
expect_eq "$(bit "$EFF" 6)" 1 "the rest of the default set (SETGID) kept"
runs --cap-drop ALL ro/bb:1 grep -E 'CapEff|CapBnd' /proc/self/status
expect_eq "$(echo "$OUT" | awk '{print $2}' | tr '\n' ' ')" "0000000000000000 0000000000000000 " \
    "--cap-drop ALL: nothing, bounding set too"
runs --cap-drop all --cap-add CAP_CHOWN ro/bb:1 grep CapEff /proc/self/status
expect_eq "$(echo "$OUT" | awk '{print $2}')" "0000000000000001" "drop all, add CAP_CHOWN: only it"
runs --cap-drop ALL ro/bb:1 sh -c 'touch /f && chown 1:1 /f 2>/dev/null; echo $?'
bx run -d --name capx --cap-add sys_time --cap-drop MKNOD ro/bb:1 sleep 300
ok "run -d with caps"
expect_eq "$(state capx '.HostConfig.CapAdd | join(",")')" "CAP_SYS_TIME" "inspect CapAdd: docker's names"
expect_eq "$(state capx '.HostConfig.CapDrop | join(",")')" "CAP_MKNOD" "inspect CapDrop"
bx exec capx grep CapEff /proc/self/status
expect_eq "$(bit "$(echo "$OUT" | awk '{print $2}')" 25)" 1 "exec gets the container's caps (SYS_TIME)"
bx rm -f capx
refused "--cap-add BOGUS" 'unknown capability: "CAP_BOGUS"' --cap-add BOGUS
refused "--cap-drop BOGUS" 'unknown capability' --cap-drop CAP_BOGUS

# ---- 3. --ulimit -------------------------------------------------------------------
runs --ulimit nofile=1024:2048 --ulimit nproc=500 --ulimit core=0 ro/bb:1 \
    sh -c 'ulimit -n; ulimit -Hn; ulimit -u; ulimit -c'
expect_eq "$(echo $OUT)" "1024 2048 500 0" "ulimit: nofile soft/hard, nproc, core"
runs --ulimit nofile=300 ro/bb:1 sh -c 'ulimit -n; ulimit -Hn'
expect_eq "$(echo $OUT)" "300 300" "ulimit without a hard limit: both"
refused "--ulimit bogus type" 'invalid ulimit type: bogus' --ulimit bogus=1
refused "--ulimit not a number" 'parsing "x": invalid syntax' --ulimit nofile=x
refused "--ulimit soft above hard" 'soft limit must be less than or equal to hard limit: 2048 > 1024' \
    --ulimit nofile=2048:1024
refused "--ulimit without =" 'invalid ulimit argument' --ulimit nofile

# ---- 4. --tmpfs, --shm-size ----------------------------------------------------------
runs --tmpfs /run:size=1m,mode=700 --tmpfs /scratch ro/bb:1 sh -c \
    'grep -E " /(run|scratch) " /proc/mounts; stat -c %a /run'
expect_match "$OUT" "tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700" \
    "--tmpfs with options: docker's flags, size, mode"
expect_match "$OUT" "tmpfs /scratch tmpfs rw,nosuid,nodev,noexec" "--tmpfs without options"
expect_eq "$(echo "$OUT" | tail -1)" "700" "--tmpfs mode"
runs --read-only --tmpfs /data ro/bb:1 sh -c 'echo x >/data/f && cat /data/f; touch /f 2>/dev/null || echo ro'
expect_eq "$(echo $OUT)" "x ro" "--tmpfs on a --read-only root: writable, the root not"
refused "--tmpfs relative" "invalid mount path: 'rel' mount path must be absolute" --tmpfs rel
refused "--tmpfs bad option" 'invalid tmpfs option \["bogus"\]' --tmpfs /x:bogus
runs ro/bb:1 grep /dev/shm /proc/mounts
expect_match "$OUT" "size=65536k" "default /dev/shm: 64 MB"
runs --shm-size 2m ro/bb:1 grep /dev/shm /proc/mounts
expect_match "$OUT" "^shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k" "--shm-size 2m"
refused "--shm-size xx" "invalid argument \"xx\" for \"--shm-size\" flag: invalid size: 'xx'" --shm-size xx

# ---- 5. --group-add, :z/:Z -----------------------------------------------------------
runs --group-add wheel --group-add 1234 ro/bb:1 id
expect_eq "$OUT" "uid=0(root) gid=0(root) groups=0(root),10(wheel),1234" "--group-add name and gid"
bx run --rm --group-add nosuch ro/bb:1 id
rc_is "--group-add unknown name" 125
expect_match "$ERR" "Unable to find group nosuch: no matching entries in group file" "--group-add unknown: message"
mkdir -p "$TMP/host"
echo hostfile >"$TMP/host/f"
runs -v "$TMP/host:/h:z" -v "$TMP/host:/h2:Z,ro" -v "$TMP/host:/h3:ro,z" ro/bb:1 sh -c \
    'cat /h/f; touch /h2/x 2>/dev/null || echo ro2; touch /h3/x 2>/dev/null || echo ro3'
expect_eq "$(echo $OUT)" "hostfile ro2 ro3" "-v :z/:Z taken (and ignored), with ro"
bx run -d --name zmode -v "$TMP/host:/h:z" -v "$TMP/host:/h2:ro,Z" ro/bb:1 sleep 300
ok "run -d with :z"
expect_eq "$(state zmode '.HostConfig.Binds | join(" ")')" "$TMP/host:/h:z $TMP/host:/h2:ro,Z" \
    "Binds keep the mode as given, as docker's"
expect_eq "$(state zmode '.Mounts | map(.Mode) | join(" ")')" "z ro,Z" "Mounts: the mode as given"
bx rm -f zmode
refused "-v bad mode" "invalid mode: q" -v "$TMP/host:/h:q"
refused "-v z twice" "invalid mode" -v "$TMP/host:/h:z,Z"

# ---- 6. named volumes and --mount --------------------------------------------------
runs -v vol1:/data ro/bb:1 sh -c 'echo kept >/data/f'
runs -v vol1:/again ro/bb:1 cat /again/f
expect_eq "$OUT" "kept" "a named volume outlives its container"
check; [ -f "$BERTH_ROOT/volumes/vol1/_data/f" ] || fail "the volume's data is in the store"
refused "-v a bad volume name" 'includes invalid characters for a local volume name' -v 'a/b:/x'
bx run -d --name mnt --mount "type=bind,source=$TMP/host,target=/b,readonly" \
    --mount type=volume,source=vol2,target=/v --mount type=tmpfs,target=/t,tmpfs-size=1m \
    -v vol1:/n ro/bb:1 sleep 300
ok "run -d with --mount"
bx exec mnt sh -c 'cat /b/f; touch /b/x 2>/dev/null || echo robind; echo v >/v/f && cat /v/f; grep " /t " /proc/mounts'
expect_match "$OUT" "hostfile" "--mount bind"
expect_match "$OUT" "robind" "--mount bind readonly"
expect_match "$OUT" $'\nv\n' "--mount volume writable"
expect_match "$OUT" "tmpfs /t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k" "--mount tmpfs with a size"
expect_eq "$(state mnt '.HostConfig.Mounts | map(.Type) | join(",")')" "bind,volume,tmpfs" "HostConfig.Mounts"
expect_eq "$(state mnt '.HostConfig.Mounts[0].ReadOnly')" "true" "HostConfig.Mounts ReadOnly"
expect_eq "$(state mnt '.HostConfig.Binds | join(",")')" "vol1:/n" "Binds: the -v ones only, by name"
expect_eq "$(state mnt '.Mounts | map(select(.Type == "volume") | .Name) | sort | join(",")')" "vol1,vol2" \
    "Mounts: the volumes by name"
expect_eq "$(state mnt '.Mounts | map(select(.Name == "vol2") | .Source) | join(",")')" "$BERTH_ROOT/volumes/vol2/_data" \
    "Mounts: a volume's Source"
bx rm -f mnt
bx run --rm --mount type=volume,target=/anon ro/bb:1 true
ok "--mount of an anonymous volume"
refused "--mount unknown type" 'invalid mount config for type "foo": mount type unknown' --mount type=foo,target=/x
refused "--mount bind without source" 'field Source must not be empty' --mount type=bind,target=/x
refused "--mount bind source missing" 'bind source path does not exist: /no/such/dir' \
    --mount type=bind,source=/no/such/dir,target=/x
refused "--mount without target" 'target is required' --mount type=volume,source=v
refused "--mount target relative" 'mount path must be absolute' --mount type=tmpfs,target=rel
refused "--mount volume with a path" 'includes invalid characters for a local volume name' \
    --mount source=/tmp,target=/x
refused "--mount unknown key" "unexpected key 'colour'" --mount type=tmpfs,target=/x,colour=red

# ---- 7. --cidfile -------------------------------------------------------------------
bx run -d --cidfile "$TMP/cid" --name cidc ro/bb:1 sleep 300
ok "run --cidfile"
expect_eq "$(cat "$TMP/cid")" "$(state cidc .Id)" "--cidfile: the full id"
bx run --rm --cidfile "$TMP/cid" ro/bb:1 true
rc_is "--cidfile that exists" 125
expect_match "$ERR" "container ID file found, make sure the other container isn't running or delete $TMP/cid" \
    "--cidfile exists: docker's message"
expect_eq "$(cat "$TMP/cid")" "$(state cidc .Id)" "--cidfile: the existing file untouched"
bx rm -f cidc
bx run --rm --cidfile "$TMP/cid2" ro/bb:1 sh -c 'exit 3'
rc_is "run --cidfile attached" 3
expect_match "$(cat "$TMP/cid2")" '^[0-9a-f]{64}$' "--cidfile attached: written"
bx run --rm --cidfile "$TMP/cid3" --ulimit bogus=1 ro/bb:1 true
check; [ ! -e "$TMP/cid3" ] || fail "--cidfile of a run refused: left behind"

# ---- 8. --init -------------------------------------------------------------------------
runs --init ro/bb:1 sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; cat /proc/1/comm; echo $$'
# (the rest of berth's own argument space is left empty: trailing blanks)
expect_eq "$(echo "$OUT" | sed -n 1p | sed 's/ *$//')" "/sbin/docker-init -- sh -c cat /proc/1/cmdline | tr \"\\0\" \" \"; echo; cat /proc/1/comm; echo \$\$" \
    "--init: PID 1 is docker-init -- COMMAND"
expect_eq "$(echo "$OUT" | sed -n 2p)" "docker-init" "--init: its name"
expect_eq "$(echo "$OUT" | sed -n 3p)" "2" "--init: the command is PID 2"
BERTH_T3660_SECRET=host-only bx run --rm --init ro/bb:1 sh -c \
    'cat /proc/1/environ 2>/dev/null | tr "\0" "\n" | grep -c T3660; grep CapEff /proc/1/status'
expect_match "$OUT" "^0" "--init: nothing of berth's environment readable in the container"
expect_match "$OUT" "CapEff:.0000000000000000" "--init: PID 1 has no capability"
# an orphan that ends: reaped by init; a zombie when PID 1 is a program
# that never waits (sleep)
ZOMBIES='n=0; for s in /proc/[0-9]*/stat; do read -r _ _ st _ <$s; [ "$st" = Z ] && n=$((n+1)); done; echo $n'
bx run -d --name zinit --init ro/bb:1 sh -c '(sleep 0.2 &); exec sleep 300'
ok "run -d --init, an orphan"
bx run -d --name znoinit ro/bb:1 sh -c '(sleep 0.2 &); exec sleep 300'
ok "run -d without --init, an orphan"
sleep 1
bx exec zinit sh -c "$ZOMBIES"
expect_eq "$OUT" "0" "--init reaps orphans"
bx exec znoinit sh -c "$ZOMBIES"
expect_eq "$OUT" "1" "without --init: the orphan stays a zombie (the test sees one)"
bx rm -f zinit znoinit
bx run --rm --init ro/bb:1 sh -c 'exit 5'
rc_is "--init: the command's exit status" 5
bx run -d --name initc --init ro/bb:1 sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
ok "run -d --init"
expect_eq "$(state initc .HostConfig.Init)" "true" "inspect HostConfig.Init"
bx exec initc cat /proc/1/comm
expect_eq "$OUT" "docker-init" "exec sees docker-init as PID 1"
bx stop -t 5 initc
ok "stop --init container"
expect_eq "$(state initc .State.ExitCode)" "7" "--init forwards SIGTERM to the command"
bx run -d --name initk --init ro/bb:1 sleep 300
bx kill -s TERM initk
ok "kill -s TERM"
waitfor 10 test "$(state initk .State.Running)" = false
expect_eq "$(state initk .State.ExitCode)" "143" "--init: a command killed by TERM, 143"

# ---- 9. inspect defaults, and start applies them again --------------------------------
bx run -d --name plain ro/bb:1 sleep 300
ok "run plain"
expect_eq "$(state plain '.HostConfig | [.CapAdd, .CapDrop, .Ulimits, .ExtraHosts, .GroupAdd, has("Init")] | map(tostring) | join(",")')" \
    "null,null,[],null,null,false" "defaults as docker's: null, Ulimits [], no Init"
expect_eq "$(state plain .HostConfig.ShmSize)" "67108864" "default ShmSize"
bx run -d --name again --add-host db:10.1.2.3 --ulimit nofile=1024:2048 --tmpfs /run:size=1m \
    --shm-size 2m --group-add wheel --cap-add NET_ADMIN -v vol1:/n ro/bb:1 sleep 300
ok "run -d with options"
expect_eq "$(state again '.HostConfig.ExtraHosts | join(",")')" "db:10.1.2.3" "inspect ExtraHosts"
expect_eq "$(state again '.HostConfig.Ulimits[0] | "\(.Name) \(.Soft) \(.Hard)"')" "nofile 1024 2048" "inspect Ulimits"
expect_eq "$(state again '.HostConfig.Tmpfs["/run"]')" "size=1m" "inspect Tmpfs"
expect_eq "$(state again .HostConfig.ShmSize)" "2097152" "inspect ShmSize"
expect_eq "$(state again '.HostConfig.GroupAdd | join(",")')" "wheel" "inspect GroupAdd"
bx stop -t 0 again
ok "stop"
bx start again
ok "start again"
bx exec again sh -c 'tail -1 /etc/hosts; ulimit -n; grep -c " /run " /proc/mounts; grep /dev/shm /proc/mounts; id; cat /n/f'
expect_match "$OUT" $'10\\.1\\.2\\.3\tdb' "after start: the extra host"
expect_match "$OUT" $'\n1024\n1\n' "after start: the ulimit and the tmpfs"
expect_match "$OUT" "size=2048k" "after start: the shm size"
expect_match "$OUT" "10\(wheel\)" "after start: the group"
expect_match "$OUT" "kept" "after start: the named volume"

finish
