#!/bin/bash
# t3520-build-config: the instructions that change only the config, end to
# end. Needs root.
#
# One Dockerfile with the `escape` and `syntax` directives, MAINTAINER, ENV
# continued with the backtick, STOPSIGNAL, HEALTHCHECK, VOLUME (both forms),
# EXPOSE, USER, SHELL, ENTRYPOINT and CMD: what `berth inspect` shows of the
# result, what its RUN steps and its container see, and the history texts
# (docker's classic builder's); then `commit -m -a` shows in inspect.
. "$(dirname "$0")/../lib.sh"

BERTH=${BERTH:-build/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
[ "$(id -u)" -eq 0 ] || { echo "$T_NAME: needs root" >&2; exit 1; }
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
    { echo "$T_NAME: busybox-static is missing" >&2; exit 1; }
export HOME=$TMP/home BERTH_ROOT=$TMP/store TMPDIR=$TMP/tmpdir
mkdir -p "$HOME" "$TMPDIR"
at_exit 'for _c in $(timeout 20 "$BERTH" ps -aq); do timeout 20 "$BERTH" rm -f "$_c"; done'

b() { timeout 120 "$BERTH" "$@" </dev/null 2>"$TMP/err"; }
cfg() { b inspect cfg:1 | jq -c ".[0]$1"; }

R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh id echo cat test; do ln -s busybox "$R/bin/$c"; done
chmod 1777 "$R/tmp"
printf 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
check; b import "$TMP/rootfs.tar" rt/bb:1 >/dev/null || { fail "import: $(cat "$TMP/err")"; finish; }

C=$TMP/ctx
mkdir -p "$C"
cat >"$C/Dockerfile" <<'EOF'
# escape=`
# syntax=docker/dockerfile:1
FROM rt/bb:1
MAINTAINER Jane <jane@example.com>
ENV DIR=C:\path `
    OTHER=x
RUN echo "$DIR" > /dir.txt
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD test -f /dir.txt
VOLUME ["/data", "/cache"]
VOLUME /logs
EXPOSE 8080 53/udp
USER app
SHELL ["/bin/sh", "-ec"]
RUN id -un > /tmp/who
ENTRYPOINT ["/bin/sh","-c"]
CMD ["cat /dir.txt /tmp/who"]
EOF
check; b build -q -t cfg:1 "$C" >"$TMP/id" || { fail "build: $(cat "$TMP/err")"; finish; }
expect_match "$(cat "$TMP/id")" '^sha256:[0-9a-f]{64}$' "build -q prints the ID:"
expect_eq "$(cfg .Author)" '"Jane <jane@example.com>"' "MAINTAINER is the author:"
expect_eq "$(cfg .Config.Env)" '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","DIR=C:\\path","OTHER=x"]' \
    "ENV with the backtick escape:"
expect_eq "$(cfg .Config.StopSignal)" '"SIGUSR1"' "STOPSIGNAL:"
expect_eq "$(cfg .Config.Healthcheck)" \
    '{"Test":["CMD-SHELL","test -f /dir.txt"],"Interval":5000000000,"Timeout":2000000000,"Retries":4}' "HEALTHCHECK:"
expect_eq "$(cfg '.Config.Volumes | keys')" '["/cache","/data","/logs"]' "VOLUME, both forms:"
expect_eq "$(cfg '.Config.ExposedPorts | keys')" '["53/udp","8080/tcp"]' "EXPOSE:"
expect_eq "$(cfg .Config.User)" '"app"' "USER:"
expect_eq "$(cfg .Config.Shell)" '["/bin/sh","-ec"]' "SHELL:"
expect_eq "$(cfg .Config.Entrypoint)" '["/bin/sh","-c"]' "ENTRYPOINT:"
expect_eq "$(cfg .Config.Cmd)" '["cat /dir.txt /tmp/who"]' "CMD:"
# the RUN steps saw the ENV and the USER; the container runs ENTRYPOINT + CMD
expect_eq "$(b run --rm cfg:1 | tr '\n' ' ')" 'C:\path app ' "run of the result:"

ID=$(cfg .Id | tr -d '"')
jq -r '.history[].created_by' "$BERTH_ROOT/blobs/sha256/${ID#sha256:}" | tail -13 >"$TMP/hist"
cat >"$TMP/hist.want" <<'EOF'
/bin/sh -c echo "$DIR" > /dir.txt
/bin/sh -c #(nop)  STOPSIGNAL SIGUSR1
/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "test -f /dir.txt"] "5s" "2s" "0s" '\x04'}
/bin/sh -c #(nop)  VOLUME [/data /cache]
/bin/sh -c #(nop)  VOLUME [/logs]
/bin/sh -c #(nop)  EXPOSE 53/udp 8080
/bin/sh -c #(nop)  USER app
/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]
/bin/sh -ec id -un > /tmp/who
/bin/sh -ec #(nop)  ENTRYPOINT ["/bin/sh" "-c"]
/bin/sh -ec #(nop)  CMD ["cat /dir.txt /tmp/who"]
EOF
expect_eq "$(tail -11 "$TMP/hist")" "$(cat "$TMP/hist.want")" "history, as docker's classic builder writes it:"
expect_eq "$(jq -c '[.history[] | .empty_layer // false] | .[-13:]' "$BERTH_ROOT/blobs/sha256/${ID#sha256:}")" \
    '[true,true,false,true,true,true,true,true,true,true,false,true,true]' "only RUN made layers:"

# commit -m / -a show in inspect as docker's Comment and Author
CID=$(b run -d cfg:1 'echo hi > /tmp/x; sleep 30')
check; [ -n "$CID" ] || fail "run -d: $(cat "$TMP/err")"
check; b commit -m "a note" -a "Bob" "$CID" cfg:2 >/dev/null || fail "commit: $(cat "$TMP/err")"
expect_eq "$(b inspect cfg:2 | jq -c '.[0] | [.Comment, .Author]')" '["a note","Bob"]' "commit -m -a in inspect:"
b rm -f "$CID" >/dev/null
finish
