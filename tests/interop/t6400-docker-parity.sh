#!/bin/bash
# t6400-docker-parity: the same command lines through docker and berth, on
# one image both hold, compared: exit codes, stdout, the first line of
# stderr. Scripts written for docker must behave the same with berth;
# any drift fails this test.
#
# The image (busybox-static, an /etc/passwd with an `app` user) is made
# here with `berth import`, then `berth save | docker load`: both stores
# hold the same image ID. Every line of the TABLE below is one command
# line, run first with docker, then with berth (`--network none` added
# after `run` on both: docker has no network here and berth's default is
# a namespace with loopback only); the lines run in order, so a line may
# use a container an earlier one made. A line is
#
#   CHECKS  ARGS...            # pending: ISSUE ITEM (optional)
#
# ARGS are shell words ($IMG the image, $C a running container, $S a
# stopped one, $F one whose start failed, $V a named volume, $U this
# run's mark); CHECKS, comma-separated:
#   rc       the exit codes are equal       rc=N  both are N
#   out      stdout is equal                err   the first line of stderr is equal
#   own      (with out) only the lines naming this run's containers/image
#   cols     (with out) a table: runs of 2+ spaces read as one column break
#   times    (with out) a container's timestamps (RFC 3339, and ps's
#            "2006-01-02 15:04:05 +0000 UTC") read <RFC3339>, <DATE>
#   imgin    stdin is the image's archive (berth save's), not /dev/null
#   tarout   (with out) stdout is an archive: its manifest.json's RepoTags
#   pty      both run on a terminal (script(1)); stdout loses its \r
#            and the ^@ the terminal echoes
#   sizes    (with out) a size in docker's form (3 significant digits:
#            1.98MB, 2MB, 65.5kB, 0B) reads <SIZE>: docker counts the
#            bytes of a layer's files, berth the layer's blob
# before comparing, both sides are normalised: container IDs (64 and 12
# hex digits) read <ID>, the image's own ID <IMAGE>; times in ps/images
# ("Up 3 seconds", "2 minutes ago", in docker's words) <T>; stderr loses
# the program's own prefix ("docker: ", "Error response from daemon: ",
# "Error: ", "berth CMD: ") and the full stop docker's run adds.
#
# A line marked `# pending:` is a difference being fixed under an issue
# item; it is still expected to match (it fails until the fix is in) and
# its failure says so. A line marked `# differs:` is a difference no item
# covers yet, also expected to match.
#
# docker is shared: every container name and the image tag end in this
# run's mark; they are removed from docker and berth at exit, and dockerd
# is stopped if this test started it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"

BERTH=${BERTH:-$(dirname "$BERTHD")/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
interop_require "$BERTH" "$DOCKER" dockerd jq timeout script
[ "$(id -u)" -eq 0 ] || { echo "$T_NAME: needs root" >&2; exit 1; }
U=$$
IMG=t6400/parity:p$U
C=t6400-up-$U      # runs `sleep`
S=t6400-done-$U    # ran and exited 7
F=t6400-fail-$U    # its command does not exist
V=t6400-vol-$U

docker_up
export HOME=$TMP/home BERTH_ROOT=$TMP/store
mkdir -p "$HOME" "$TMP/san"
# under a sanitizer build, reports of every berth process (detached
# monitors too) are files in $TMP/san, and fail the test
if [ -n "${ASAN_OPTIONS:-}" ]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$TMP/san/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$TMP/san/ubsan"
fi
at_exit 'for _c in $(timeout 30 "$BERTH" ps -aq); do timeout 60 "$BERTH" rm -f "$_c"; done'
at_exit "timeout 60 $DOCKER rm -f $C $S $F; timeout 60 $DOCKER volume rm $V; timeout 60 $DOCKER rmi -f $IMG $IMG-c $IMG-i"

# ---- the image, in both stores ----------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/root"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true env sleep id pwd hostname grep wc; do ln -s busybox "$R/bin/$c"; done
chmod 1777 "$R/tmp"
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
EOF
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
check
if ! timeout 60 "$BERTH" import "$TMP/rootfs.tar" "$IMG" >"$TMP/import.log" 2>&1 ||
    ! timeout 60 "$BERTH" save -o "$TMP/img.tar" "$IMG" >>"$TMP/import.log" 2>&1; then
    fail "berth import/save of the test image: $(tail -3 "$TMP/import.log" | tr '\n' ' ')"
    finish
fi
step "docker load of berth's save" "$DOCKER" load -i "$TMP/img.tar" || finish
IMAGE_ID=$(timeout 30 "$BERTH" inspect -f '{{.Id}}' "$IMG" 2>/dev/null)
expect_match "$IMAGE_ID" '^sha256:[0-9a-f]{64}$' "the image's ID"
expect_eq "$(timeout 30 "$DOCKER" image inspect -f '{{.Id}}' "$IMG" 2>&1)" "$IMAGE_ID" "docker's image ID is berth's"
IMAGE_HEX=${IMAGE_ID#sha256:}

# ---- the table -----------------------------------------------------------------
# shellcheck disable=SC2016 # expanded line by line by the runner
TABLE=$(cat <<'EOF'
# -- one container at a time, removed when it ends
rc=0,out,err    run --rm $IMG echo hi
rc=3,out,err    run --rm $IMG sh -c 'exit 3'
rc=0,out        run --rm -e A=1 $IMG env
rc=0,out        run --rm -e PATH=/bin -e HOSTNAME=parity -e TERM=dumb -t $IMG env
rc=0,out        run --rm $IMG id
rc=0,out        run --rm -u 1000 $IMG id
rc=0,out        run --rm -u app:app $IMG sh -c 'id -u; id -g'
rc=0,out        run --rm -w /tmp $IMG pwd
rc=0,out        run --rm -h parity $IMG hostname
rc=0,out        run --rm $IMG cat /etc/hostname
rc=0,out        run --rm --entrypoint echo $IMG a b
rc=0,out        run --rm -t $IMG echo on-a-tty
rc=0,out,imgin  run --rm -i $IMG sh -c 'cat | wc -c'
rc=0,out,imgin  run --rm $IMG sh -c 'cat | wc -c'
rc=0,out        run --rm $IMG grep -E '^(NoNewPrivs|Cap(Inh|Prm|Eff|Bnd|Amb)|Seccomp):' /proc/self/status
rc=0,out        run --rm -u 1000 $IMG grep -E '^(NoNewPrivs|Cap(Inh|Prm|Eff|Bnd|Amb)|Seccomp):' /proc/self/status
rc=1,out,err    run --rm --read-only $IMG sh -c 'echo x >/tmp/f'
rc=127          run --rm $IMG no-such-command
rc=126          run --rm $IMG /etc/passwd
rc=125,err      run --rm -u nosuchuser $IMG id         # exit codes (issue 20 item 4)
rc=125,err      run --rm -w relative $IMG pwd          # exit codes (issue 20 item 4)
rc=125,err      run --rm 127.0.0.1:1/t6400/nosuch:1 true   # unknown image fails without retries (issue 20 item 8)
rc=0,out        run --rm -w /new/dir $IMG pwd
rc=0,out        run --rm -u 1000 $IMG sh -c 'echo $HOME'
rc=0,out        run --rm -u 1000:50 $IMG id
rc=0,out        run --rm --entrypoint '' $IMG echo x
rc=0,out        run --rm -e HOME $IMG sh -c 'echo $HOME'
rc=0,out        run --rm -e T6400_UNSET $IMG sh -c 'env | grep T6400 || echo unset'
rc=125,err      run --rm --name 'bad name!' $IMG true
rc=1,err        run --rm -it $IMG echo hi              # -t with stdin not a terminal (issue 20 item 7)
rc=0,out,pty    run --rm -it $IMG sh -c 'tty; busybox stat -c "%u:%g %a" $(tty)'   # the container's own devpts (issue 20 item 7)
rc=1,err        run --rm --read-only $IMG sh -c 'echo x >>/etc/hosts'             # --read-only /etc/hosts (issue 20 item 7)
rc=0,out        run --rm -m 64m --pids-limit 50 $IMG sh -c 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max'   # the container's own cgroup in /sys/fs/cgroup (issue 20 item 7)
rc=127          run --name $F $IMG no-such-command
rc=0,out        inspect -f '{{.State.Status}} {{.State.ExitCode}}' $F       # a failed start shows created (issue 20 item 8)
rc=0,out        rm $F
rc=127,out      run -d --name $F $IMG no-such-command                       # run -d prints the ID of a container that failed to start (issue 20 item 8)
rc=0,out        rm -f $F
rc=0,out        run --rm -v $V:/data $IMG sh -c 'echo kept >/data/f' # named volumes (issue 20 item 5)
rc=0,out        run --rm -v $V:/data:ro $IMG cat /data/f # named volumes (issue 20 item 5)
# -- run options (issue 20 item 5)
rc=0,out        run --rm --add-host parity-h:10.1.2.3 $IMG grep parity-h /etc/hosts      # --add-host (issue 20 item 5)
rc=0,out        run --rm --cap-drop ALL $IMG grep CapEff /proc/self/status             # --cap-drop (issue 20 item 5)
rc=0,out        run --rm --cap-add SYS_ADMIN --cap-drop NET_RAW $IMG grep CapEff /proc/self/status   # --cap-add (issue 20 item 5)
rc=0,out        run --rm --ulimit nofile=1024:2048 $IMG sh -c 'ulimit -n; ulimit -Hn'   # --ulimit (issue 20 item 5)
rc=0,out        run --rm --tmpfs /scratch $IMG grep ' /scratch ' /proc/mounts         # --tmpfs (issue 20 item 5)
rc=0,out        run --rm --mount type=tmpfs,target=/m $IMG grep ' /m ' /proc/mounts   # --mount (issue 20 item 5)
rc=0,out        run --rm --shm-size 8m $IMG grep ' /dev/shm ' /proc/mounts            # --shm-size (issue 20 item 5)
rc=0,out        run --rm --group-add 50 -u 1000 $IMG id -G                            # --group-add (issue 20 item 5)
rc=0,out        run --rm --init $IMG sh -c '[ $$ -ne 1 ] && echo not-pid-1'           # --init (issue 20 item 5)
# -- bad usage
rc=125          run --rm --no-such-flag $IMG true
rc=125          ps --no-such-flag                      # exit codes (issue 20 item 4)
rc=125          logs --no-such-flag $C                 # exit codes (issue 20 item 4)
rc=1            no-such-subcommand                     # exit codes (issue 20 item 4)
rc=0            --help
rc=0            run --help                             # --help on every subcommand (issue 20 item 4)
rc=0            ps --help                              # --help on every subcommand (issue 20 item 4)
rc=0            inspect --help                         # --help on every subcommand (issue 20 item 4)
# -- a running container $C, a stopped one $S
rc=0,out        run -d --name $C -e A=1 --label parity=yes -v $TMP:/host:ro $IMG sleep 1000
rc=7,out,err    run --name $S $IMG sh -c 'echo out; echo err >&2; sleep 0.2; echo last; exit 7'
rc=125,err      run --name $C $IMG true
rc=0,out        inspect -f '{{.State.Status}}' $C
rc=0,out        inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}' $S
rc=0,out        inspect -f '{{json .Config.Cmd}}' $C
rc=0,out        inspect -f '{{.HostConfig.NetworkMode}}' $C
rc=0,out        inspect --format '{{.Name}} {{.State.Running}} {{.Config.Image}}' $C
rc=0,out        inspect -f '{{.Config.Hostname}} {{.Config.User}}|{{.Config.WorkingDir}}|{{json .Config.Entrypoint}}' $C
rc=0,out        inspect -f '{{range .Config.Cmd}}[{{.}}]{{end}} {{index .Config.Cmd 0}} {{len .Config.Cmd}}' $C
rc=0,out        inspect -f '{{printf "%s:%d" .State.Status .State.ExitCode}}' $S
rc=0,out        inspect -f '{{.HostConfig.AutoRemove}} {{.HostConfig.Privileged}} {{.RestartCount}} {{.Platform}}' $C
rc=0,out        inspect -f '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}} {{.Config.StdinOnce}} {{.Config.Tty}} {{.Config.OpenStdin}}' $C $S
rc=0,out,times  inspect -f '{{.Created}} {{.State.StartedAt}} {{.State.FinishedAt}}' $S $C
rc=0,out        inspect -f '{{range .Mounts}}{{.Type}} {{.Destination}} {{.Mode}} {{.RW}} {{.Propagation}}{{end}}' $C
rc=0,out        inspect -f '{{json .Mounts}}' $C
rc=0,out,times  inspect -f '{{json .State}}' $S
rc=0,out        inspect -f '{{json .Config.Labels}} {{json .HostConfig.RestartPolicy}} {{json .NetworkSettings.Ports}}' $C
rc=0,out        inspect -f '{{json .Config.Env}}' $C          # Config.Env holds only the image's and user's variables (issue 20 item 8)
rc=0,out        inspect -f '{{json .HostConfig.PidsLimit}}' $C # PidsLimit null when unset (issue 20 item 8)
rc=0,out        inspect -f '{{.Config.Labels.parity}} {{json .Config.Labels}} {{.HostConfig.RestartPolicy.Name}}' $C
rc=1,out,err    inspect t6400-nosuch-$U
rc=64,out,err   inspect -f '{{' $C
rc=0,out        inspect -f '{{.Name}}' $C $S
rc=0,out        inspect --type container -f '{{.Name}}' $C
rc=1,out,err    inspect --type image $C
rc=1,out,err    inspect --type bogus $C
rc=0,out        container inspect -f '{{.Name}}' $C
rc=1,out,err    container inspect $IMG
rc=1,out,err    image inspect $C
rc=0,out,own    container ls -a --format '{{.Names}}'
rc=0,out,own    image ls --format '{{.Repository}}:{{.Tag}}'
# not compared: a key docker's types lack ({{.State.Bogus}}) is an error in
# docker's inspect, <no value> in berth's, which cannot tell its documents'
# structs from their maps
rc=0,out        inspect -f '{{.Config.Labels.nosuch}}' $C
rc=0,out,own    ps -a --format '{{.Names}} {{.Status}}'
rc=0,out,own    ps --format '{{.Names}} {{.Image}} {{.Command}}'
rc=0,out,own,times ps -a --format '{{.Names}}|{{.CreatedAt}}|{{.State}}|{{.Networks}}|{{.Labels}}|{{.Mounts}}|{{.LocalVolumes}}|{{.Ports}}'
rc=0,out,own    ps -a --no-trunc --format '{{.Names}} {{.Mounts}}'
rc=0,out,own    ps --format '{{.Names}} {{.Label "parity"}}|{{.Label "nosuch"}}'
rc=0,out,own    ps -a --format 'table {{.Names}}\t{{.Networks}}\t{{.State}}'
rc=0,out,own    ps -a --format '{{.Names}} {{.Command}}'                   # ps COMMAND quoting (issue 20 item 8)
rc=0,out,own,cols ps -a                                                    # ps COMMAND quoting (issue 20 item 8)
rc=0,out        ps -a --filter name=$S --format '{{.Names}} {{.Status}}'   # ps --filter (issue 20 item 5)
rc=0,out        ps -a --filter status=exited --filter name=-$U --format '{{.Names}}'   # ps --filter (issue 20 item 5)
rc=0,out,own,sizes images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
rc=0,out        images --format '{{.Repository}}:{{.Tag}}' $IMG             # images REPO (issue 20 item 5)
rc=0,out        images -q $IMG                                              # images REPO (issue 20 item 5)
rc=0,out,cols,sizes images $IMG                                             # images REPO (issue 20 item 5)
rc=0,out,own    images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}'
rc=0,out        history --format '{{.CreatedBy}}' $IMG
rc=0,out        history -q $IMG
rc=0,out        history --human=false --format '{{.CreatedAt}} {{.CreatedSince}}' $IMG
rc=0,out        history -H=false --format '{{.CreatedSince}} {{.CreatedBy}}' $IMG
rc=0,out        history --no-trunc --format '{{.ID}}' $IMG
rc=0,out,sizes  history --format '{{.ID}} {{.Size}}' $IMG
rc=0,out,cols,sizes history $IMG
rc=0,out        image inspect -f '{{.Id}} {{.Os}}/{{.Architecture}} {{json .Config.Cmd}}' $IMG
rc=1,err        rmi $IMG
rc=0,out,err    tag $IMG t6400/parity:t$U
rc=0,out,err    rmi t6400/parity:t$U
rc=0,out,tarout save $IMG
rc=0,out,err,imgin load
rc=0,out,err    load -i $TMP/img.tar
rc=1            load -i $TMP/no-such-archive.tar
rc=1            save nosuch/t6400:$U
rc=0,out        import $TMP/rootfs.tar $IMG-i
rc=0,out        image inspect -f '{{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}' $IMG-i
rc=0,out        image inspect -f '{{json .RootFS}}' $IMG
rc=0            rmi $IMG-i                                    # stdout not compared: docker also lists the layers it deleted (Deleted: sha256:CHAIN-ID), berth the image
rc=1,err        kill -s BOGUS $C                       # exit codes (issue 20 item 4)
rc=0,out        exec $C echo hi
rc=0,out        exec -i $C cat
rc=0,out,imgin  exec -i $C sh -c 'cat | wc -c'
rc=0,out        exec -t $C echo hi
rc=1,err        exec -it $C echo hi                    # -t with stdin not a terminal (issue 20 item 7)
rc=0,out        exec -u 1000 -w /tmp $C sh -c 'id -u; pwd'
rc=0,out        exec -e B=2 $C sh -c 'echo $A $B'
rc=0,out        exec -e B=2 -e A=3 $C env
rc=0,out        exec -u 1000 $C id
rc=126          exec $C no-such-command                # exit codes (issue 20 item 4)
rc=126          exec -w /missing $C pwd                # exit codes (issue 20 item 4)
rc=1            exec $S echo hi                        # exit codes (issue 20 item 4)
rc=1,err        exec t6400-nosuch-$U echo hi           # exit codes (issue 20 item 4)
rc=0,out,err    logs $S
rc=0,out        logs --tail 1 $S
rc=0,out        logs --tail 0 $S
rc=0,out,err    logs --tail all $S
rc=0,out,times  logs -t $S
rc=0,out        logs -f $S
rc=0,out        logs --since 10m $S                    # logs --since (issue 20 item 5)
rc=0,out        logs --until 2000-01-01T00:00:00Z $S   # logs --until (issue 20 item 5)
rc=0,out        exec -d $C sh -c 'echo detached >/tmp/d'   # exec -d (issue 20 item 5)
rc=0,out        exec $C sh -c 'i=0; while [ ! -s /tmp/d ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; cat /tmp/d'   # exec -d (issue 20 item 5)
rc=0,out        wait $S
rc=0,out        wait $S $S
rc=0,out        stop $S
rc=1,err        kill $S
rc=0,out        start $C
rc=0,out        port $C
rc=1,err        rm $C
rc=1,err        port $C 80
rc=1,err        stop t6400-nosuch-$U
rc=1,err        wait t6400-nosuch-$U
rc=1,err        logs t6400-nosuch-$U
rc=1,err        start t6400-nosuch-$U
# -- start, stop, kill, rm
rc=0,out        stop -t 1 $C
rc=0,out        inspect -f '{{.State.Status}} {{.State.ExitCode}}' $C
rc=0,out        start $C
rc=0,out        inspect -f '{{.State.Status}} {{.State.Running}}' $C
rc=0,out        kill $C
rc=0,out        wait $C
rc=0,out        start $S
rc=0,out        wait $S
rc=0,out,err    logs $S
rc=0,out        commit $S $IMG-c
rc=0,out        history --format '{{.CreatedBy}}' $IMG-c
rc=0,out,cols,sizes history $IMG-c
rc=0,out        rmi $IMG-c
rc=1,out,err    rm $S t6400-nosuch-$U
rc=1,err        rm $S
rc=0,out,err    rm -f $C t6400-nosuch-$U
rc=1,out,err    inspect $C
EOF
)

# ---- the runner ------------------------------------------------------------------
# norm_out FILE CHECKS: FILE's text as compared.
norm_out() {
    local f=$1 checks=$2
    sed -E "s/$IMAGE_HEX/<IMAGE>/g; s/${IMAGE_HEX:0:12}/<IMAGE>/g" "$f" |
        sed -E 's/\b[0-9a-f]{64}\b/<ID>/g; s/\b[0-9a-f]{12}\b/<ID>/g' |
        sed -E 's/\b(Less than a second|About an? (minute|hour)|[0-9]+ (second|minute|hour|day|week|month|year)s?)\b/<T>/g' |
        { if [[ ,$checks, == *,own,* ]]; then grep -F -e "-$U" -e ":p$U" || true; else cat; fi; } |
        { if [[ ,$checks, == *,times,* ]]; then
            sed -E 's/\b[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/<RFC3339>/g
                    s/\b[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000 UTC/<DATE>/g'; else cat; fi; } |
        { if [[ ,$checks, == *,sizes,* ]]; then
            sed -E 's/(^|[^0-9.])([1-9][0-9]{0,2}|0)(\.[0-9]?[1-9])?(B|kB|MB|GB|TB)\b/\1<SIZE>/g'; else cat; fi; } |
        { if [[ ,$checks, == *,cols,* ]]; then sed -E 's/  +/ | /g; s/ +$//'; else cat; fi; }
}
# norm_err FILE CMD: the first line of FILE's text, without the program's
# prefix (and the full stop docker's `run` adds to the daemon's errors).
norm_err() {
    head -n 1 "$1" | norm_out /dev/stdin "" |
        sed -E 's/^docker: //; s/^Error response from daemon: //; s/^Error: //; s/^berth( [a-z-]+)?: //' |
        if [ "$2" = run ]; then sed -E 's/\.$//'; else cat; fi
}

# invoke PROGRAM OUT ARGS...: PROGRAM ARGS, stdout in OUT.out, stderr in
# OUT.err; on a terminal of script(1) when the line's CHECKS say pty.
invoke() {
    local prog=$1 out=$2
    shift 2
    if [[ ,$checks, == *,pty,* ]]; then
        timeout -k 5 60 script -qec "$(printf '%q ' "$prog" "$@")" /dev/null </dev/null 2>"$out.err" |
            tr -d '\r' | sed 's/\^@//g' >"$out.out"
        return "${PIPESTATUS[0]}"
    fi
    local in=/dev/null
    [[ ,$checks, == *,imgin,* ]] && in=$TMP/img.tar
    if [[ ,$checks, == *,tarout,* ]]; then
        timeout -k 5 60 "$prog" "$@" <"$in" 2>"$out.err" >"$out.tar"
        local rc=$?
        tar -xOf "$out.tar" manifest.json 2>&1 | jq -c '[.[].RepoTags]' >"$out.out" 2>&1
        rm -f "$out.tar"
        return $rc
    fi
    timeout -k 5 60 "$prog" "$@" <"$in" >"$out.out" 2>"$out.err"
}

# run_line LINE: one table line through both programs, compared.
run_line() {
    local line=$1 checks args note="" c want drc brc
    checks=${line%%[[:space:]]*}
    args=${line#"$checks"}
    case $line in
    *'# pending: '*) note=" [pending: ${line##*# pending: }]" ;;
    *'# differs: '*) note=" [differs, no issue item: ${line##*# differs: }]" ;;
    esac
    # the words of the line, as a shell reads them (the comment goes)
    eval "set -- $args" || { check; fail "table line does not parse: $line"; return; }
    [ "$1" = run ] && set -- run --network none "${@:2}"
    local what="\`$*\`"
    invoke "$DOCKER" "$TMP/d" "$@"
    drc=$?
    invoke "$BERTH" "$TMP/b" "$@"
    brc=$?
    for c in ${checks//,/ }; do
        case $c in
        rc)
            expect_eq "$brc" "$drc" "$what$note: exit code (docker's)" ;;
        rc=*)
            want=${c#rc=}
            check
            [ "$drc" = "$want" ] || fail "$what: docker exits $drc, the table says $want (stderr: $(head -c 200 "$TMP/d.err" | tr '\n' ' '))"
            check
            [ "$brc" = "$want" ] || fail "$what$note: berth exits $brc, docker $want (stderr: $(head -c 200 "$TMP/b.err" | tr '\n' ' '))" ;;
        out)
            expect_eq "$(norm_out "$TMP/b.out" "$checks")" "$(norm_out "$TMP/d.out" "$checks")" "$what$note: stdout (docker's)" ;;
        err)
            expect_eq "$(norm_err "$TMP/b.err" "$1")" "$(norm_err "$TMP/d.err" "$1")" "$what$note: stderr's first line (docker's)" ;;
        own | cols | sizes | times | pty | imgin | tarout) ;;
        *) check; fail "table line with an unknown check '$c': $line" ;;
        esac
    done
    if [ "$T_FAILS" -gt "$FAILS_BEFORE" ]; then
        LINES_FAILED=$((LINES_FAILED + 1))
        [ -n "$note" ] && NOTED_FAILED=$((NOTED_FAILED + 1))
    fi
}

LINES=0 LINES_FAILED=0 NOTED_FAILED=0
while IFS= read -r line; do
    case $line in '' | '#'*) continue ;; esac
    LINES=$((LINES + 1))
    FAILS_BEFORE=$T_FAILS
    run_line "$line"
done <<<"$TABLE"
echo "$T_NAME: $LINES command lines, $LINES_FAILED differ from docker ($NOTED_FAILED of them marked pending or differs)"

# nothing of this run is left in either program
check
[ -z "$(timeout 30 "$BERTH" ps -aq)" ] || fail "berth containers left: $(timeout 30 "$BERTH" ps -a)"
check
[ -z "$(timeout 30 "$DOCKER" ps -aq --filter "name=-$U")" ] || fail "docker containers left: $(timeout 30 "$DOCKER" ps -a --filter "name=-$U")"
check
if ls "$TMP/san" | grep -q .; then
    fail "sanitizer reports: $(cat "$TMP"/san/* | head -20)"
fi
finish
