#!/bin/bash
# t3650-ps-images-logs: the listing options people type every day, as
# docker 20.10 has them. Needs root.
#
#   - ps -f/--filter: name (a regular expression, ^/NAME too), id (a
#     prefix), label (KEY, KEY=VALUE; several must all match), status
#     (looks at every container), ancestor, exited=N, before, since,
#     publish, expose; values of one key
#     OR'd, different keys AND'ed; bad filters refused (exit 1, 125 for
#     one without '='); ps -n N, -l (every state, newest first), -n x;
#   - images REPO, REPO:TAG, a pattern, a name that matches nothing;
#     history --no-trunc (the full ID);
#   - logs --since/--until with RFC 3339 times, unix seconds and relative
#     durations; a bad value refused;
#   - exec -d: returns at once with 0, the command runs on; one that
#     cannot be executed fails; a stopped container refused.
# The store ($BERTH_ROOT) and $HOME live in $TMP; the EXIT trap removes
# every container made here.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"

bb_image pl/bb:1 sh cat echo sleep true ls
bx tag pl/bb:1 pl/bb:2
ok "tag pl/bb:2"
bx tag pl/bb:1 other/img:latest
ok "tag other/img"

# names NAME...: the names `berth ps ARGS` lists, space-separated, in order
names() { timeout 20 "$BERTH" ps "$@" --format '{{.Names}}' 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }

# ---- 1. ps filters ----------------------------------------------------------------
bx run -d --name pl-web1 -l app=web pl/bb:1 sleep 300
ok "run pl-web1"
bx run -d --name pl-web2 -l app=web -l tier=front pl/bb:2 sleep 300
ok "run pl-web2"
WEB2=$(state pl-web2 .Id)
bx run --name pl-ex3 pl/bb:1 sh -c 'exit 3'
rc_is "run pl-ex3" 3
bx run --name pl-ex0 other/img true
ok "run pl-ex0"

expect_eq "$(names)" "pl-web2 pl-web1" "ps: the running ones, newest first"
expect_eq "$(names -a)" "pl-ex0 pl-ex3 pl-web2 pl-web1" "ps -a"
expect_eq "$(names -f name=web)" "pl-web2 pl-web1" "name=: a part of the name"
expect_eq "$(names -f 'name=^pl-web1$')" "pl-web1" "name=: a regular expression"
expect_eq "$(names -f 'name=^/pl-web1$')" "pl-web1" "name=: with docker's leading slash"
expect_eq "$(names -f "id=${WEB2:0:10}")" "pl-web2" "id=: a prefix"
expect_eq "$(names -f label=tier)" "pl-web2" "label=KEY"
expect_eq "$(names -f label=app=web)" "pl-web2 pl-web1" "label=KEY=VALUE"
expect_eq "$(names -f label=app=web -f label=tier=front)" "pl-web2" "two labels: both must match"
expect_eq "$(names -f label=app=db)" "" "label with another value: none"
expect_eq "$(names -f status=exited)" "pl-ex0 pl-ex3" "status=exited without -a"
expect_eq "$(names -f status=running -f status=exited)" "pl-ex0 pl-ex3 pl-web2 pl-web1" \
    "two statuses: either"
expect_eq "$(names -f status=exited -f name=ex3)" "pl-ex3" "status and name: both"
expect_eq "$(names -f exited=3)" "pl-ex3" "exited=3"
expect_eq "$(names -f exited=0 -f exited=3)" "pl-ex0 pl-ex3" "exited=0 or 3"
expect_eq "$(names -a -f ancestor=pl/bb:1)" "pl-ex3 pl-web1" "ancestor=REPO:TAG"
expect_eq "$(names -a -f ancestor=other/img)" "pl-ex0" "ancestor without a tag: latest"
IMGID=$(state pl-web1 .Image)
expect_eq "$(names -a -f "ancestor=${IMGID#sha256:}")" "pl-ex0 pl-ex3 pl-web2 pl-web1" \
    "ancestor=image ID"
expect_eq "$(names -f before=pl-web2 -f name=pl-)" "pl-web1" "before="
expect_eq "$(names -f since=pl-web2)" "pl-ex0 pl-ex3" "since="
bx run -d --name pl-port -p 127.0.0.1::80 --expose 90 pl/bb:1 sleep 300
ok "run pl-port"
expect_eq "$(names -f publish=80)" "pl-port" "publish=80"
expect_eq "$(names -f expose=90/tcp)" "pl-port" "expose=90/tcp"
expect_eq "$(names -f publish=90)" "" "publish= of a port only exposed: none"
bx rm -f pl-port
ok "rm pl-port"
bx ps -q -f name=pl-web1
ok "ps -q -f" && expect_eq "$OUT" "$(state pl-web1 .Id | cut -c1-12)" "ps -q -f: the short id"

bx ps -f status=bogus
rc_is "status=bogus" 1
expect_match "$ERR" "Invalid filter 'status=bogus'" "status=bogus: docker's message"
bx ps -f bogus=1
rc_is "an unknown filter" 1
expect_match "$ERR" "Invalid filter 'bogus'" "unknown filter: docker's message"
bx ps -f name
rc_is "a filter without =" 125
expect_match "$ERR" "bad format of filter \(expected name=value\)" "filter without =: message"
bx ps -f exited=x
rc_is "exited=x" 1
bx ps -f 'name=[' 
rc_is "name= a bad regular expression" 1

# ---- 2. ps -n, -l -------------------------------------------------------------------
expect_eq "$(names -n 2)" "pl-ex0 pl-ex3" "-n 2: the two newest, stopped or not"
expect_eq "$(names -n 3)" "pl-ex0 pl-ex3 pl-web2" "-n 3"
expect_eq "$(names -l)" "pl-ex0" "-l: the newest"
expect_eq "$(names --latest)" "pl-ex0" "--latest"
expect_eq "$(names -n 0)" "pl-web2 pl-web1" "-n 0: no limit"
expect_eq "$(names -n 5 -f status=running)" "pl-web2 pl-web1" "-n with a filter"
expect_eq "$(names -l -f name=web)" "pl-web2" "-l with a filter"
bx ps -n x
rc_is "-n x" 125
expect_match "$ERR" 'invalid argument "x" for "-n, --last" flag' "-n x: docker's message"

# ---- 3. images REPO[:TAG], history --no-trunc -------------------------------------
img_names() { timeout 20 "$BERTH" images "$@" --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//'; }
expect_eq "$(img_names pl/bb)" "pl/bb:1 pl/bb:2" "images REPO"
expect_eq "$(img_names pl/bb:2)" "pl/bb:2" "images REPO:TAG"
expect_eq "$(img_names 'pl/*')" "pl/bb:1 pl/bb:2" "images with a pattern"
expect_eq "$(img_names 'pl/bb:[2-9]')" "pl/bb:2" "a tag pattern"
expect_eq "$(img_names other/img)" "other/img:latest" "images other/img"
expect_eq "$(img_names docker.io/other/img)" "other/img:latest" "the full name"
expect_eq "$(img_names pl/none)" "" "a name of no image: nothing"
expect_eq "$(img_names pl/bb:9)" "" "a tag of no image: nothing"
expect_eq "$(img_names)" "other/img:latest pl/bb:1 pl/bb:2" "images: all of them"
bx images -q pl/bb:2
ok "images -q REPO:TAG" && expect_eq "$OUT" "$(echo "${IMGID#sha256:}" | cut -c1-12)" "images -q: the short id"
bx images pl/bb other/img
rc_fails "images with two names"

bx history --no-trunc pl/bb:1
ok "history --no-trunc"
expect_match "$(echo "$OUT" | sed -n 2p)" "^$IMGID " "history --no-trunc: the full ID"
bx history pl/bb:1
ok "history"
expect_match "$(echo "$OUT" | sed -n 2p)" "^$(echo "${IMGID#sha256:}" | cut -c1-12) " "history: the short ID"

# ---- 4. logs --since / --until ---------------------------------------------------
bx run --name pl-log pl/bb:1 sh -c 'echo one; sleep 1.2; echo two; sleep 1.2; echo three'
ok "run pl-log"
bx logs -t pl-log
ok "logs -t"
T1=$(echo "$OUT" | sed -n 1p | cut -d' ' -f1)
T2=$(echo "$OUT" | sed -n 2p | cut -d' ' -f1)
T3=$(echo "$OUT" | sed -n 3p | cut -d' ' -f1)
bx logs --since "$T2" pl-log
ok "logs --since RFC3339" && expect_eq "$(echo $OUT)" "two three" "--since T2: from two on"
bx logs --until "$T2" pl-log
ok "logs --until RFC3339" && expect_eq "$(echo $OUT)" "one two" "--until T2: up to two"
bx logs --since "$T2" --until "$T2" pl-log
expect_eq "$(echo $OUT)" "two" "--since and --until the same time: that line"
S3=$(date -d "$T3" +%s)
bx logs --since "$S3" pl-log
ok "logs --since unix seconds" && expect_eq "$(echo $OUT)" "three" "--since seconds: the last line"
bx logs --until "$(date -d "$T1" +%s)" pl-log
expect_eq "$(echo $OUT)" "" "--until seconds before the first line's fraction: nothing"
bx logs --since 10m pl-log
ok "logs --since 10m" && expect_eq "$(echo $OUT)" "one two three" "--since 10m: everything"
bx logs --until 1h pl-log
ok "logs --until 1h" && expect_eq "$OUT" "" "--until 1h (ago): nothing"
bx logs --since 2000-01-01 --until 2000-01-02 pl-log
expect_eq "$OUT" "" "a day long ago: nothing"
bx logs --since "$(date -u -d "$T2" +%Y-%m-%dT%H:%M:%S).999999999+00:00" pl-log
expect_eq "$(echo $OUT)" "three" "an offset and a fraction"
bx logs --since yesterday pl-log
rc_is "--since yesterday" 1
expect_match "$ERR" 'invalid value for "since"' "--since bad: message"
bx logs --until 2026-13-45 pl-log
rc_is "--until a bad date" 1
bx logs --since 0 pl-log
ok "logs --since 0" && expect_eq "$(echo $OUT)" "one two three" "--since 0: everything"

# ---- 5. exec -d ------------------------------------------------------------------
START=$(date +%s%N)
bx exec -d pl-web1 sh -c 'sleep 1; echo done >/exec-d-mark'
END=$(date +%s%N)
ok "exec -d"
expect_eq "$OUT" "" "exec -d prints nothing"
check; [ $(((END - START) / 1000000)) -lt 900 ] || fail "exec -d waited for the command ($(((END - START) / 1000000)) ms)"
bx exec pl-web1 cat /exec-d-mark
rc_fails "the command has not ended yet"
waitfor 10 timeout 10 "$BERTH" exec pl-web1 cat /exec-d-mark
check; [ $? -eq 0 ] || fail "the detached command never finished"
bx exec -d pl-web1 /no/such/cmd
rc_is "exec -d of a missing command" 1
expect_match "$ERR" "no such file or directory" "exec -d missing: why"
bx exec -d pl-ex0 true
rc_fails "exec -d in a stopped container"
expect_match "$ERR" "is not running" "exec -d stopped: why"

finish
