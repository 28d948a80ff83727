#!/bin/bash
# t3500-build: berth build, as a user of docker build sees it. Needs root.
#
#   - a base image made here, offline: rt/bb:1 (busybox-static, /etc/passwd
#     with an `app` user) by `berth import`; another pulled from a berthd
#     by FROM;
#   - a Dockerfile with ARG before FROM, FROM, ARG, ENV, WORKDIR, COPY
#     (a file, a directory), RUN, EXPOSE, LABEL, CMD: docker's step
#     output, `berth run` of the result, its config, the history entries'
#     created_by texts (docker's classic builder's), `berth history`;
#   - the cache: an unchanged rebuild is all "Using cache" and gives the
#     same image; a changed COPY source misses from that step on;
#     --no-cache; the cache is shared between tags;
#   - multi-stage: COPY --from=NAME and --from=INDEX, --target;
#   - .dockerignore; ARG/ENV substitution, --build-arg, the unused
#     build-arg warning, the proxy args; -f; `-` (Dockerfile on stdin);
#     -q, --iidfile, --label;
#   - errors: an unknown instruction (file:line), a failing RUN (its
#     output, docker's message, its exit code), a missing COPY source,
#     COPY ../x, a missing Dockerfile; SIGINT and SIGTERM during a RUN;
#     after each: nothing tagged, no container, no mount, no temp files.
# The store ($BERTH_ROOT), $HOME and $TMPDIR live in $TMP.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-build.sh"

# ---- the base image ------------------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/home/app"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true false env sleep id wc pwd mkdir touch test grep head stat \
    find sort tr printf; do
    ln -s busybox "$R/bin/$c"
done
chmod 1777 "$R/tmp"
chown 1000:1000 "$R/home/app"
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
EOF
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" rt/bb:1
ok "berth import of the base rootfs" || finish
BASE_ID=$(image_id rt/bb:1)
BASE_HIST=$(created_by rt/bb:1 | wc -l)

# ---- 1. a build, step by step ----------------------------------------------------------
ctx app
echo "hello file" >"$C/hello.txt"
mkdir -p "$C/dir/sub"
echo one >"$C/dir/one"
echo two >"$C/dir/sub/two"
cat >"$C/Dockerfile" <<'EOF'
# a comment
ARG BASE=rt/bb:1
FROM ${BASE}
ARG GREETING=hello
ENV APP_HOME=/app MODE=prod
WORKDIR $APP_HOME
COPY hello.txt ./
COPY dir/ /app/dir/
RUN echo "$GREETING from run" > /app/run.txt && \
    cat /app/hello.txt
EXPOSE 8080
LABEL org.example.name="demo app"
CMD ["cat", "/app/run.txt"]
EOF
bx build -t demo:1 "$C"
ok "build of the app" || { echo "$OUT" >&2; finish; }
DEMO=$(built)
expect_match "$DEMO" '^[0-9a-f]{12}$' "Successfully built <id>"
expect_match "$OUT" "Step 1/11 : ARG BASE=rt/bb:1" "step 1 (the global ARG)"
expect_match "$OUT" "Step 2/11 : FROM \\\$\\{BASE\\}"$'\n'" ---> ${BASE_ID:7:12}" "FROM: the base image's id"
expect_match "$OUT" "Step 8/11 : RUN echo \"\\\$GREETING from run\" > /app/run.txt && +cat /app/hello.txt"$'\n'" ---> Running in [0-9a-f]{12}"$'\n'"hello file"$'\n'"Removing intermediate container [0-9a-f]{12}"$'\n'" ---> [0-9a-f]{12}" \
    "RUN: docker's lines, its output streamed"
expect_match "$OUT" "Step 11/11 : CMD \\[\"cat\", \"/app/run.txt\"\\]" "the last step"
expect_match "$OUT" "Successfully tagged demo:1\$" "Successfully tagged"
expect_eq "$(count 'Using cache')" 0 "a first build uses no cache:"
expect_match "$(image_id demo:1)" "^sha256:$DEMO" "the tag is the image built"
run_out "run of the built image (its CMD)" "hello from run" demo:1
run_out "its WORKDIR" "/app" demo:1 pwd
run_out "a file COPY'd" "hello file" demo:1 cat /app/hello.txt
run_out "a directory COPY'd (its contents)" "one two" demo:1 sh -c 'echo $(cat /app/dir/one /app/dir/sub/two)'
run_out "its ENV" "/app prod" demo:1 sh -c 'echo $APP_HOME $MODE'
run_out "a build ARG is not in the image's environment" none demo:1 sh -c 'env | grep GREETING || echo none'
bx inspect demo:1
CFG=$(jq -c '.[0].Config' <<<"$OUT")
expect_eq "$(jq -c '.Cmd' <<<"$CFG")" '["cat","/app/run.txt"]' "Config.Cmd:"
expect_eq "$(jq -r '.WorkingDir' <<<"$CFG")" /app "Config.WorkingDir:"
expect_eq "$(jq -c '.ExposedPorts' <<<"$CFG")" '{"8080/tcp":{}}' "Config.ExposedPorts:"
expect_eq "$(jq -r '.Labels["org.example.name"]' <<<"$CFG")" "demo app" "Config.Labels:"
expect_match "$(jq -r '.Env | join(" ")' <<<"$CFG")" "PATH=.* APP_HOME=/app MODE=prod" "Config.Env:"
# one layer per COPY and RUN, and WORKDIR's for the directory it made
expect_eq "$(jq '.[0].Layers | length' <<<"$OUT")" 5 "layers (base + WORKDIR + COPY + COPY + RUN):"
HIST=$(created_by demo:1 | tail -n +$((BASE_HIST + 1)))
expect_eq "$(wc -l <<<"$HIST")" 9 "history entries added by the build:"
h() { sed -n "${1}p" <<<"$HIST"; }
expect_eq "$(h 1)" "/bin/sh -c #(nop)  ARG GREETING=hello" "created_by of ARG:"
expect_eq "$(h 2)" "/bin/sh -c #(nop)  ENV APP_HOME=/app MODE=prod" "created_by of ENV:"
expect_eq "$(h 3)" "/bin/sh -c #(nop) WORKDIR /app" "created_by of WORKDIR:"
expect_match "$(h 4)" '^/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \./ ?$' "created_by of COPY (a file)"
expect_match "$(h 5)" '^/bin/sh -c #\(nop\) COPY dir:[0-9a-f]{64} in /app/dir/ ?$' "created_by of COPY (a directory)"
expect_eq "$(h 6)" '|1 GREETING=hello /bin/sh -c echo "$GREETING from run" > /app/run.txt &&     cat /app/hello.txt' \
    "created_by of RUN (docker's |N prefix for build args):"
expect_match "$(h 7)" '^/bin/sh -c #\(nop\)  EXPOSE .*8080' "created_by of EXPOSE"
expect_eq "$(h 8)" "/bin/sh -c #(nop)  LABEL org.example.name=demo app" "created_by of LABEL:"
expect_eq "$(h 9)" '/bin/sh -c #(nop)  CMD ["cat" "/app/run.txt"]' "created_by of CMD:"
bx history demo:1
ok "berth history"
expect_match "$(sed -n 2p <<<"$OUT")" "^$DEMO +.* /bin/sh -c #\\(nop\\)  CMD \\[\"cat\" \"/app/" "history: the newest line"
expect_match "$OUT" '\|1 GREETING=hello /bin/sh -c echo' "history: the RUN line"

# ---- 2. the cache -----------------------------------------------------------------------
bx build -t demo:2 "$C"
ok "an unchanged rebuild"
expect_eq "$(count '^ ---> Using cache$')" 9 "every step after FROM comes from the cache:"
expect_eq "$(count 'Running in')" 0 "a rebuild runs nothing:"
expect_eq "$(built)" "$DEMO" "the rebuild is the same image:"
expect_eq "$(image_id demo:2)" "$(image_id demo:1)" "demo:2 and demo:1:"
echo "hello changed" >"$C/hello.txt"
bx build -t demo:3 "$C"
ok "a rebuild with a changed COPY source"
expect_eq "$(count '^ ---> Using cache$')" 3 "hits up to the changed COPY (ARG, ENV, WORKDIR):"
expect_match "$OUT" "Step 6/11 : COPY hello.txt ./"$'\n'" ---> [0-9a-f]{12}" "the changed COPY is made again"
expect_match "$OUT" "hello changed" "and the RUN after it runs again"
NEW=$(built)
expect_ne "$NEW" "$DEMO" "a changed source gives another image"
run_out "the new image has the new file" "hello changed" demo:3 cat /app/hello.txt
run_out "demo:1 still has the old one" "hello file" demo:1 cat /app/hello.txt
bx build --no-cache -t demo:4 "$C"
ok "build --no-cache"
expect_eq "$(count 'Using cache')" 0 "--no-cache uses no cache:"
expect_eq "$(count 'Running in')" 1 "--no-cache runs the RUN again:"
expect_ne "$(built)" "$NEW" "--no-cache makes a new image"
bx build -q "$C"
ok "build -q after --no-cache"
expect_match "$OUT" "^sha256:[0-9a-f]{64}$" "-q prints only the image ID"

check; [ -d "$BERTH_ROOT/build-cache" ] && [ -n "$(ls -A "$BERTH_ROOT/build-cache")" ] ||
    fail "the build cache is kept in the store"

# ---- 3. multi-stage --------------------------------------------------------------------
ctx multi
cat >"$C/Dockerfile" <<'EOF'
FROM rt/bb:1 AS builder
RUN mkdir /out && echo built > /out/artifact
FROM rt/bb:1 AS Second
RUN echo second > /second
FROM builder
RUN echo third > /out/third
FROM rt/bb:1
COPY --from=builder /out/artifact /artifact
COPY --from=2 /out/third /third
COPY --from=second /second /second
CMD ["cat", "/artifact", "/third", "/second"]
EOF
bx build -t multi:1 "$C"
ok "multi-stage build" || echo "$OUT" >&2
expect_match "$OUT" "Step 11/11 : CMD" "steps of every stage are counted"
run_out "COPY --from=NAME, --from=INDEX, FROM a stage" "built
third
second" multi:1
bx build --target second -t multi:second "$C"
ok "build --target (a name given in another case)"
expect_match "$OUT" "Step 4/4 : RUN echo second > /second" "--target stops at that stage"
expect_eq "$(count 'Using cache')" 2 "the stages up to the target come from the cache:"
run_out "the target stage's image" "second" multi:second cat /second
bx run --rm multi:second cat /artifact
rc_fails "the target stage has nothing of the later stages"
bx build --target nosuch -t multi:none "$C"
rc_fails "build --target of an unknown stage"
expect_match "$ERR" "failed to reach build target nosuch in Dockerfile" "--target: docker's message"

# ---- 4. .dockerignore --------------------------------------------------------------------
ctx ignore
mkdir -p "$C/logs" "$C/src/deep"
for f in keep.txt secret.txt logs/a.log a.tmp important.tmp src/x.go src/deep/y.md; do
    echo "$f" >"$C/$f"
done
printf '# comment\nsecret.txt\nlogs\n*.tmp\n!important.tmp\n**/*.md\n' >"$C/.dockerignore"
printf 'FROM rt/bb:1\nCOPY . /ctx/\nCMD ["sh", "-c", "cd /ctx && find . -type f | sort"]\n' >"$C/Dockerfile"
bx build -t ignore:1 "$C"
ok "build with a .dockerignore"
bx run --rm ignore:1
ok "run of it"
FILES=$(tr '\n' ' ' <<<"$OUT")
for f in ./keep.txt ./important.tmp ./src/x.go ./Dockerfile; do
    check; [[ " $FILES" == *" $f "* ]] || fail ".dockerignore: $f should be in the image: $FILES"
done
for f in ./secret.txt ./logs/a.log ./a.tmp ./src/deep/y.md; do
    check; [[ " $FILES" != *" $f "* ]] || fail ".dockerignore: $f should have been left out: $FILES"
done

# ---- 5. ARG, ENV, --build-arg ---------------------------------------------------------
ctx args
cat >"$C/Dockerfile" <<'EOF'
FROM rt/bb:1
ARG NAME=world
ARG UNSET
ENV GREETING="hi ${NAME}" OTHER=${UNSET:-fallback} ALT=${NAME:+set}
RUN echo "$GREETING|$OTHER|$ALT|$NAME|$HTTP_PROXY" > /out.txt
CMD ["cat", "/out.txt"]
EOF
bx build -t args:1 "$C"
ok "build with ARG defaults"
run_out "ARG defaults and ENV substitution" "hi world|fallback|set|world|" args:1
expect_eq "$(count 'Warning')" 0 "no warning without --build-arg:"
bx build -t args:2 --build-arg NAME=berth --build-arg UNSET --build-arg UNUSED=1 \
    --build-arg HTTP_PROXY=http://127.0.0.1:9 "$C"
ok "build with --build-arg"
expect_match "$OUT" '\[Warning\] One or more build-args \[UNUSED\] were not consumed' "the unused build-arg warning"
run_out "--build-arg overrides a default" "hi berth|fallback|set|berth|http://127.0.0.1:9" args:2
expect_eq "$(created_by args:2 | grep -c 'PROXY=')" 0 "a proxy arg is not in the history:"
expect_eq "$(created_by args:2 | grep -c '^|1 NAME=berth /bin/sh -c echo')" 1 "the RUN's history has the build arg:"
bx build -t args:3 --build-arg NAME "$C"
ok "--build-arg NAME with no value and none in the environment"
run_out "an unset --build-arg leaves the default" "hi world|fallback|set|world|" args:3
export NAME=from-env
bx build -t args:4 --build-arg NAME "$C"
unset NAME
ok "--build-arg NAME taken from the environment"
run_out "the environment's value" "hi from-env|fallback|set|from-env|" args:4

# ---- 6. -f, stdin, -q, --iidfile, --label ---------------------------------------------------
ctx misc
printf 'FROM rt/bb:1\nRUN echo via-f > /f\nCMD ["cat", "/f"]\n' >"$TMP/other.Dockerfile"
(cd "$TMP" && timeout 120 "$BERTH" build -f other.Dockerfile -t misc:f "$C" >"$TMP/f.out" 2>&1)
check; [ $? -eq 0 ] || fail "build -f (relative to the cwd): $(tail -3 "$TMP/f.out")"
run_out "the -f Dockerfile was built" via-f misc:f
bxin $'FROM rt/bb:1\nRUN echo from-stdin > /s\nCMD ["cat", "/s"]\n' build -t stdin:1 -
ok "build - (the Dockerfile on stdin)"
run_out "the stdin Dockerfile's image" from-stdin stdin:1
bxin $'FROM rt/bb:1\nCOPY x /x\n' build -t stdin:2 -
rc_fails "COPY with no context (Dockerfile on stdin)"
bx build -q --iidfile "$TMP/iid" --label com.example.a=1 --label "com.example.b=two words" \
    -t misc:q "$C" -f "$TMP/other.Dockerfile"
ok "build -q --iidfile --label"
expect_match "$OUT" '^sha256:[0-9a-f]{64}$' "-q: only the ID"
expect_eq "$(cat "$TMP/iid")" "$OUT" "--iidfile holds the same ID:"
expect_eq "$(image_id misc:q)" "$OUT" "and misc:q is that image:"
bx inspect misc:q
expect_eq "$(jq -c '.[0].Config.Labels' <<<"$OUT")" '{"com.example.a":"1","com.example.b":"two words"}' "--label:"
expect_eq "$(created_by misc:q | tail -1)" "/bin/sh -c #(nop)  LABEL com.example.b=two words" "--label's history:"

# ---- 7. scratch, USER, SHELL, --network, --platform ------------------------------------------
ctx more
cat >"$C/Dockerfile" <<'EOF'
FROM scratch
COPY --from=rt/bb:1 /bin/busybox /busybox
CMD ["/busybox", "echo", "from-scratch"]
EOF
bx build -t more:scratch "$C"
ok "FROM scratch, COPY --from=IMAGE"
expect_match "$OUT" "Step 1/3 : FROM scratch"$'\n'" ---> "$'\n' "FROM scratch: docker's empty id line"
run_out "the image from scratch" from-scratch more:scratch
bx inspect more:scratch
expect_eq "$(jq '.[0].Layers | length' <<<"$OUT")" 1 "an image from scratch has only its own layers:"
cat >"$C/Dockerfile" <<'EOF'
FROM rt/bb:1
USER app
RUN id -u > /tmp/uid
SHELL ["/bin/sh", "-e", "-c"]
RUN ls /sys/class/net | tr '\n' ' ' > /tmp/net
USER root
CMD ["cat", "/tmp/uid", "/tmp/net"]
EOF
bx build -t more:user "$C"
ok "USER, SHELL"
NET=$(timeout 20 "$BERTH" run --rm more:user 2>&1)
expect_match "$NET" "^1000"$'\n' "RUN runs as USER"
expect_ne "$(sed -n 2p <<<"$NET")" "lo " "RUN gets the host's network by default"
expect_match "$(created_by more:user | tail -3 | head -1)" "^/bin/sh -e -c ls /sys/class/net" "SHELL: the RUN's created_by"
bx build --no-cache --network none -t more:nonet "$C"
ok "build --network none"
run_out "--network none: RUN sees only lo" "1000
lo " more:nonet
bx build --network bogus -t more:bad "$C"
rc_fails "build --network of an unknown network"
case $(uname -m) in x86_64) HOSTPLAT=linux/amd64 OTHER=linux/arm64 ;; *) HOSTPLAT=linux/$(uname -m) OTHER=linux/amd64 ;; esac
bx build --platform "$HOSTPLAT" -t more:plat "$C"
ok "build --platform of this machine"
bx build --platform "$OTHER" -t more:other "$C"
rc_fails "FROM an image of this platform with --platform of another (not in any registry)"
expect_match "$ERR" "is for $HOSTPLAT, not $OTHER" "--platform: the platforms are named"
nothing_left "after a build for another platform" more:other
printf 'FROM --platform=%s rt/bb:1 AS src\nFROM scratch\nCOPY --from=src /bin/busybox /bin/sh\n' \
    "$HOSTPLAT" >"$TMP/foreign.Dockerfile"
bx build --platform "$OTHER" -f "$TMP/foreign.Dockerfile" -t more:foreign "$C"
ok "FROM scratch --platform of another machine (no RUN)"
bx inspect more:foreign
expect_eq "$(jq -r '.[0].Os + "/" + .[0].Architecture' <<<"$OUT")" "$OTHER" "the image is for that platform:"
printf 'FROM more:foreign\nRUN echo hi\n' >"$TMP/foreign2.Dockerfile"
bx build -f "$TMP/foreign2.Dockerfile" -t more:foreign2 "$C"
rc_fails "RUN in an image of another platform"
expect_match "$ERR" "the image is for $OTHER, this machine is $HOSTPLAT" "RUN of another platform: docker's reason, both named"
nothing_left "after RUN in an image of another platform" more:foreign2

ctx onbuild
printf 'FROM rt/bb:1\nONBUILD RUN echo triggered > /trig\nONBUILD COPY marker /onb/\n' >"$TMP/onbuild.Dockerfile"
echo mark >"$C/marker"
bx build -f "$TMP/onbuild.Dockerfile" -t more:onbase "$C"
ok "an image with ONBUILD triggers"
bx inspect more:onbase
expect_eq "$(jq -c '.[0].Config.OnBuild' <<<"$OUT")" '["RUN echo triggered > /trig","COPY marker /onb/"]' "Config.OnBuild:"
printf 'FROM more:onbase\nCMD ["cat", "/trig", "/onb/marker"]\n' >"$C/Dockerfile"
bx build -t more:onchild "$C"
ok "FROM an image with ONBUILD triggers"
expect_match "$OUT" "# Executing 2 build triggers" "the triggers are announced as docker does"
run_out "the triggers ran in the child build" "triggered
mark" more:onchild
bx inspect more:onchild
expect_match "$(jq -c '.[0].Config.OnBuild' <<<"$OUT")" '^(null|\[\])$' "the child does not inherit the triggers"

# ---- 8. FROM an image that is not in the store ----------------------------------------
berthd_start
bx tag rt/bb:1 "$REG/rt/base:1"
bx push -q "$REG/rt/base:1"
ok "push of the base to a berthd"
bx rmi "$REG/rt/base:1"
printf 'FROM %s\nRUN echo pulled > /p\nCMD ["cat", "/p"]\n' "$REG/rt/base:1" >"$C/Dockerfile"
bx build -t misc:pulled "$C"
ok "FROM a missing image pulls it"
run_out "the image built on the pulled one" pulled misc:pulled
bx inspect "$REG/rt/base:1"
ok "the pulled base is in the store"
bx build --pull -t misc:pulled2 "$C"
ok "build --pull"

# ---- 9. errors ------------------------------------------------------------------------------
ctx err
echo x >"$C/present.txt"
mkdir -p "$TMP/outside"
echo secret >"$TMP/outside/x"
printf 'FROM rt/bb:1\nRUN true\nFROBNICATE the thing\n' >"$C/Dockerfile"
bx build -t fail:1 "$C"
rc_fails "an unknown instruction"
expect_match "$ERR" 'Dockerfile:3: unknown instruction: FROBNICATE' "unknown instruction: file and line"
nothing_left "after an unknown instruction" fail:1

printf 'FROM rt/bb:1\nRUN echo before-fail && exit 3\nCMD ["true"]\n' >"$C/Dockerfile"
bx build -t fail:1 "$C"
rc_is "a failing RUN: docker build's exit status is its code" 3
expect_match "$OUT" "before-fail" "a failing RUN's output is shown"
expect_match "$ERR" "The command '/bin/sh -c echo before-fail && exit 3' returned a non-zero code: 3" \
    "a failing RUN: docker's message"
nothing_left "after a failing RUN" fail:1
bx build -q -t fail:1 "$C"
rc_is "a failing RUN with -q" 3
expect_eq "$OUT" "" "-q: nothing on stdout"
expect_match "$ERR" "before-fail" "-q: the failing step's output is shown"
nothing_left "after a failing RUN with -q" fail:1
printf 'FROM rt/bb:1\nRUN ["false"]\n' >"$C/Dockerfile"
bx build -t fail:1 "$C"
rc_is "a failing exec-form RUN" 1
expect_match "$ERR" "The command 'false' returned a non-zero code: 1" "exec form: the command as docker prints it"

printf 'FROM rt/bb:1\nCOPY present.txt nothere.txt /x/\n' >"$C/Dockerfile"
bx build -t fail:1 "$C"
rc_fails "COPY of a missing source"
expect_match "$ERR" "nothere.txt" "the missing source is named"
nothing_left "after a missing COPY source" fail:1

printf 'FROM rt/bb:1\nCOPY ../outside/x /x\n' >"$C/Dockerfile"
bx build -t fail:1 "$C"
rc_fails "COPY ../x"
expect_match "$ERR" "outside" "COPY ../x: refused as outside the context"
nothing_left "after COPY ../x" fail:1

bx build -t fail:1 -f "$C/nosuch.Dockerfile" "$C"
rc_fails "a missing Dockerfile"
expect_match "$ERR" "nosuch.Dockerfile" "the missing Dockerfile is named"
bx build -t fail:1 "$TMP/nosuch-dir"
rc_fails "a missing context"
bx build -t 'Bad:Tag:x' "$C"
rc_fails "an invalid -t"
expect_match "$ERR" "invalid reference format" "an invalid -t: docker's message"

# SIGINT / SIGTERM while a RUN runs: the container is killed and removed
LONG=$((100000 + RANDOM))
for sig in INT TERM; do
    printf 'FROM rt/bb:1\nRUN echo started && sleep %s\n' "$LONG" >"$C/Dockerfile"
    "$BERTH" build -t fail:1 "$C" >"$TMP/sig.out" 2>&1 </dev/null &
    PID=$!
    for _ in $(seq 1 100); do grep -q '^started' "$TMP/sig.out" && break; sleep 0.1; done
    check; grep -q '^started' "$TMP/sig.out" || fail "SIG$sig: the RUN did not start: $(cat "$TMP/sig.out")"
    kill -"$sig" "$PID"
    for _ in $(seq 1 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    check; if kill -0 "$PID" 2>/dev/null; then fail "SIG$sig: berth build did not stop"; kill -9 "$PID"; fi
    wait "$PID"
    SRC=$?
    expect_eq "$SRC" $((128 + $(kill -l "$sig"))) "SIG$sig: exit status:"
    check; [ -z "$(pgrep -f "sleep $LONG")" ] || fail "SIG$sig: the RUN's process is left: $(pgrep -af "sleep $LONG")"
    nothing_left "after SIG$sig" fail:1
done

# ---- 10. builder prune ----------------------------------------------------------------------
DEMO_ID=$(image_id demo:1)
ctx untagged
printf 'FROM rt/bb:1\nRUN echo untagged > /u\n' >"$C/Dockerfile"
bx build -q "$C"
ok "a build without -t"
UNTAGGED=$OUT
bx builder prune -f
ok "builder prune -f"
expect_match "$OUT" "^Total reclaimed space: [1-9]" "builder prune reclaims space"
expect_eq "$(ls -A "$BERTH_ROOT/build-cache" 2>/dev/null | tr '\n' ' ')" "" "the build cache is empty:"
expect_eq "$(image_id demo:1)" "$DEMO_ID" "a named image stays:"
run_out "a named image still runs after builder prune" "hello from run" demo:1
bx images -a
expect_eq "$(grep -c '<none>' <<<"$OUT")" 1 "no build step's image is left, but the untagged build's:"
expect_eq "$(image_id "$UNTAGGED")" "$UNTAGGED" "the result of a build without -t stays (docker's <none>):"
ctx app2
echo "hello file" >"$C/hello.txt"
printf 'FROM rt/bb:1\nCOPY hello.txt /\nRUN cat /hello.txt\n' >"$C/Dockerfile"
bx build -t app2:1 "$C"
ok "a build after builder prune"
expect_eq "$(count 'Using cache')" 0 "after builder prune nothing comes from the cache:"

# ---- the end: nothing left ----------------------------------------------------------------
nothing_left "at the end" fail:1
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
