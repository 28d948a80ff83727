#!/bin/bash
# t3900-tutorial: docs/tutorial.md, run as a newcomer would run it. Needs
# root and the Debian mirror (for the image the tutorial starts from, made
# once by tests/fixture-debian and kept in build/fixtures).
#
# The page is the script: every "$ command" line of its console blocks is
# run in order (with `berth` the binary under test), in a directory that
# holds the files its "<!-- file: NAME -->" blocks give and the tarball its
# first block makes; every command must succeed, and a command the page
# shows output for must print exactly that. Only addresses change: the
# registry's localhost:5000 becomes a berthd of this test on a free
# loopback port, and the published 8000 a free port.
#
# Beyond what the page shows, it checks what its reader would: the
# container's logs and files, the pushed image pulled back, redis reached
# by name from web, compose ps and logs naming both services, a second
# `up -d` leaving both containers as they were, and `down` leaving no
# container, network, published port or process.
. "$(dirname "$0")/../lib.sh"

# the berth of the build berthd comes from (build-asan/ under SANITIZE=1)
BERTH=${BERTH:-$(dirname "$BERTHD")/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
for tool in "$BERTH" "$BERTHD" curl jq ss timeout; do
    command -v "$tool" >/dev/null || { echo "$T_NAME: $tool is missing (make all test-deps)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "$T_NAME: needs root" >&2; exit 1; }

export HOME=$TMP/home BERTH_ROOT=$TMP/store
mkdir -p "$HOME" "$TMP/san" "$TMP/bin" "$TMP/day"
if [ -n "${ASAN_OPTIONS:-}" ]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$TMP/san/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$TMP/san/ubsan"
fi
ln -s "$BERTH" "$TMP/bin/berth"
export PATH=$TMP/bin:$PATH
at_exit 'cd "$TMP/day" && timeout 60 berth compose down'
at_exit 'for _c in $(timeout 20 berth ps -aq); do timeout 20 berth rm -f "$_c"; done'
at_exit 'for _n in $(timeout 20 berth network ls -q); do timeout 20 berth network rm "$_n"; done'

TAR=$("$TOP/tests/fixture-debian" "" flask) || { echo "$T_NAME: no Debian image to start from" >&2; exit 1; }
ln -s "$TAR" "$TMP/day/debian-flask.tar"
berthd_start
WEB=$(free_port)

# The page, as a list of steps: "cmd<TAB>command", "out<TAB>line" (what the
# page shows the command printing), "file<TAB>name" then the file's lines
# as "line<TAB>text". Addresses are rewritten here.
steps() {
    awk -v reg="127.0.0.1:$PORT" -v web="$WEB" '
        function addr(s) { gsub(/localhost:5000/, reg, s); gsub(/localhost:8000/, "127.0.0.1:" web, s);
                           gsub(/"8000:/, "\"" web ":", s); return s }
        /^<!-- file: .* -->$/ { name = $3; next }
        /^```/ {
            if (!fence) { fence = 1; kind = (name != "") ? "file" : ($0 == "```console") ? "console" : "other"
                          if (kind == "file") print "file\t" name }
            else { fence = 0; name = ""; kind = "" }
            next
        }
        fence && kind == "file" { print "line\t" addr($0); next }
        fence && kind == "console" && /^\$ / { print "cmd\t" addr(substr($0, 3)); next }
        fence && kind == "console" { print "out\t" $0 }
    ' "$TOP/docs/tutorial.md"
}

# run_step N COMMAND: run it in the project directory; output in $TMP/out.N.
run_step() {
    (cd "$TMP/day" && timeout 600 bash -c "$2" </dev/null >"$TMP/out.$1" 2>"$TMP/err.$1")
    local rc=$?
    check
    [ "$rc" -eq 0 ] || fail "step $1 \`$2\` exited $rc: $(tail -5 "$TMP/err.$1" | tr '\n' ' ')"
}
expect_out() {   # N: what the page showed for step N is what it printed
    check
    [ "$(cat "$TMP/out.$1")" == "$(cat "$TMP/want.$1")" ] ||
        fail "step $1 \`${CMDS[$1]}\` printed '$(cat "$TMP/out.$1")', the page shows '$(cat "$TMP/want.$1")'"
}

CMDS=()
n=-1 file=
while IFS=$'\t' read -r kind text; do
    case $kind in
        file) file=$TMP/day/$text; : >"$file" ;;
        line) printf '%s\n' "$text" >>"$file" ;;
        out) printf '%s\n' "$text" >>"$TMP/want.$n" ;;
        cmd)
            [ "$n" -ge 0 ] && [ -e "$TMP/want.$n" ] && expect_out "$n"
            n=$((n + 1)) CMDS[$n]=$text
            # the second `up -d`: what ran before it runs after it, untouched
            ups=$(printf '%s\n' "${CMDS[@]}" | grep -cx 'berth compose up -d')
            [ "$ups" -eq 2 ] && [ "$text" == "berth compose up -d" ] && timeout 20 berth ps -q | sort >"$TMP/before"
            run_step "$n" "$text"
            [ "$ups" -eq 2 ] && [ "$text" == "berth compose up -d" ] && timeout 20 berth ps -q | sort >"$TMP/after"
            ;;
    esac
done < <(steps)
[ "$n" -ge 0 ] && [ -e "$TMP/want.$n" ] && expect_out "$n"
check
[ "$n" -ge 25 ] || fail "only $((n + 1)) commands found in docs/tutorial.md"

# out_of COMMAND [OCCURRENCE]: the output of the page's step with that text
# (as run: with the addresses of this test).
out_of() {
    local i seen=0
    for i in "${!CMDS[@]}"; do
        [ "${CMDS[$i]}" == "$1" ] || continue
        seen=$((seen + 1))
        [ "$seen" -eq "${2:-1}" ] && { cat "$TMP/out.$i"; return; }
    done
}

expect_match "$(out_of 'berth images')" 'debian-flask +bookworm' "images lists the imported image"
expect_match "$(out_of 'berth run --rm debian-flask:bookworm cat /etc/debian_version')" '^12\.' "Debian 12"
expect_match "$(out_of 'berth ps')" 'first' "ps lists the running container"
expect_eq "$(out_of 'berth logs first')" "started" "the container's log"
expect_eq "$(out_of 'berth exec first cat /greeting')" "made on my first day" "exec sees the file"
expect_match "$(out_of 'berth history greeter:1')" 'a greeting' "history shows the commit's message"
expect_eq "$(out_of 'berth run --rm greeter:1 cat /greeting')" "made on my first day" "the committed image"
expect_eq "$(out_of "berth run --rm $REG/team/greeter:1 cat /greeting")" "made on my first day" "the image pulled back from the registry"
expect_match "$(curl -s "http://127.0.0.1:$PORT/v2/team/greeter/tags/list")" '"1"' "the registry has the tag"
expect_match "$(out_of 'berth history counter:1')" 'COPY file:' "the build's history"

ps_out=$(out_of 'berth compose ps')
expect_match "$ps_out" 'day-web-1' "compose ps lists web"
expect_match "$ps_out" 'day-redis-1' "compose ps lists redis"
expect_match "$(out_of 'berth compose logs redis')" 'day-redis-1 +\| .*Ready to accept connections' \
    "compose logs redis, prefixed with the container's name"
expect_eq "$(wc -l <"$TMP/before" 2>/dev/null)" "2" "web and redis run before the second up -d"
expect_eq "$(cat "$TMP/after" 2>/dev/null)" "$(cat "$TMP/before" 2>/dev/null)" \
    "the second up -d leaves both containers as they were"

# after down: nothing of the project is left
expect_eq "$(out_of 'berth ps -a' | grep -c 'day-')" "0" "no container left after down"
expect_eq "$(timeout 20 berth network ls 2>/dev/null | grep -c day_default)" "0" "no network left after down"
check
ss -Htln "sport = :$WEB" | grep -q . && fail "port $WEB still published after down"
check
pgrep -f "redis-server" >/dev/null && pgrep -af redis-server | grep -q "$BERTH_ROOT" &&
    fail "a redis-server of the project still runs after down"

check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -40 "$TMP"/san/* >&2
fi
finish
