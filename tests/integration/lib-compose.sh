# lib-compose.sh - what the compose tests (t3810, t3815, t3820) share, sourced
# after lib.sh: the checks that berth and the tools are there, a store and
# $HOME in $TMP, sanitizer reports to $TMP/san, an EXIT trap that removes
# every container, network and mount of the store, helpers to run berth
# and berth compose, and a busybox image made offline, imported as cmp/bb:1
# (with an `app` user, uid 1000).

# the berth of the build berthd comes from (build-asan/ under SANITIZE=1)
. "$(dirname "$0")/lib-runtime.sh"
need curl ss python3
# bc ARGS...: berth compose in the project's directory ($PROJ).
bc() {
    local d=$PWD
    cd "$PROJ" || return
    bx compose "$@"
    cd "$d" || return
}
cid() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r '.[0].Id'; }
label() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r ".[0].Config.Labels[\"$2\"]"; }
running() { [ "$(timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r '.[0].State.Running')" = true ]; }
# jqc CONTAINER FILTER: a field of its inspect document.
jqc() { timeout 20 "$BERTH" inspect "$1" 2>/dev/null | jq -r ".[0] | $2"; }

# the image: busybox, offline
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/www"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls echo cat true false env sleep httpd id wget test mkdir pwd grep kill hostname tty; do
    ln -s busybox "$R/bin/$c"
done
chmod 1777 "$R/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" cmp/bb:1
ok "berth import of the busybox rootfs" || finish
