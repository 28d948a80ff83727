#!/bin/bash
# t2160-backup: the backup and restore commands of operations.md, run as
# written (paths moved into $TMP) against berthd running as the berthd
# user, while pushes go on.
#
# - The online backup uses only what is installed (sqlite3, flock,
#   runuser, cp): no rsync. Its metadata copy and directory are private
#   (no group or other access), the copy passes sqlite's integrity check,
#   and a second run copies only what is new.
# - The restore brings back every tag pushed before the backup, with its
#   blobs; berthd serves them as the berthd user; the documented dry run
#   as berthd succeeds and leaves nothing of root's in the data directory.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-admin.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT
touch "$TMP/berthd.log"
for c in sqlite3 flock runuser; do
    command -v $c >/dev/null || { echo "$T_NAME: needs $c (apt-get install sqlite3 util-linux)" >&2; exit 1; }
done
admin_user
ETC=$TMP/etc
DATA=$TMP/data
BK=$TMP/backup
OCI_M=application/vnd.oci.image.manifest.v1+json
install -d -m 0750 -g berthd "$ETC"
install -d -m 0755 "$TMP/bk-parent"
PORT=$(free_port); REG=127.0.0.1:$PORT
jq -n --arg root "$DATA" --arg listen "$REG" \
    '{listen: $listen, root: $root, log: {level: "info", format: "text"}, gc: {interval: "1h", grace: "1h"}}' >"$ETC/config.json"
chgrp berthd "$ETC/config.json"; chmod 0640 "$ETC/config.json"
install -d -m 0750 -o berthd -g berthd "$DATA"

# systemctl and berthd as the administrator has them: start/stop run
# berthd as the berthd user, as the unit does; the pid is in $TMP/berthd.pid
mkdir -p "$TMP/bin"
ln -s "$BERTHD" "$TMP/bin/berthd"
export STUB_BERTHD=$BERTHD STUB_ETC=$ETC STUB_DATA=$DATA STUB_TMP=$TMP STUB_REG=$REG
cat >"$TMP/bin/systemctl" <<'EOF'
#!/bin/bash
case "$*" in
"start berthd")
    (cd "$STUB_DATA" && umask 0027 &&
        exec setpriv --reuid=berthd --regid=berthd --init-groups -- "$STUB_BERTHD" serve --config "$STUB_ETC/config.json") \
        >>"$STUB_TMP/berthd.log" 2>&1 </dev/null &
    echo $! >"$STUB_TMP/berthd.pid"
    for i in $(seq 1 100); do
        curl -s -o /dev/null "http://$STUB_REG/v2/" && exit 0
        sleep 0.05
    done
    exit 1 ;;
"stop berthd")
    pid=$(cat "$STUB_TMP/berthd.pid" 2>/dev/null) || exit 0
    kill "$pid" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    exit 1 ;;
esac
EOF
chmod +x "$TMP/bin/systemctl"
at_exit 'kill $(cat "$TMP/berthd.pid" 2>/dev/null) 2>/dev/null; sleep 0.5'
PATH=$TMP/bin:$PATH systemctl start berthd
expect_eq "$?" 0 "berthd starts as the berthd user"

# push_tag REPO TAG: a layer, a config and a manifest
f() { echo "$TMP/$1-${2//\//_}-$3"; }   # f KIND REPO TAG: a scratch file
push_tag() {
    random_file "$(f l "$1" "$2")" 4096
    echo "{\"architecture\":\"amd64\",\"os\":\"linux\",\"t\":\"$1:$2\"}" >"$(f c "$1" "$2")"
    push_blob "$1" "$(f l "$1" "$2")" >/dev/null && push_blob "$1" "$(f c "$1" "$2")" >/dev/null || return 1
    jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$(f c "$1" "$2")")" \
        --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar+gzip "$(f l "$1" "$2")")" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' >"$(f m "$1" "$2")"
    curl -fsS -o /dev/null -X PUT -H "Content-Type: $OCI_M" --data-binary @"$(f m "$1" "$2")" "http://$REG/v2/$1/manifests/$2"
}
for i in 1 2 3; do push_tag app/one v$i || fail "push app/one:v$i"; done
push_tag app/two latest || fail "push app/two:latest"

# ---- the online backup, under pushes ------------------------------------------------------
( for i in $(seq 1 20); do push_tag load/x "t$i"; done ) >/dev/null 2>&1 &
LOAD=$!
at_exit "kill $LOAD"
doc_block operations.md Backups 1 | sed "s|/backup/berthd|$BK|g" | doc_run -
expect_eq "$?" 0 "the documented online backup ($(tail -3 "$TMP/doc.out"))"
wait "$LOAD"
check; grep -q rsync "$TMP/doc.sh" && fail "the backup commands use rsync"
expect_eq "$(stat -c '%U %a' "$BK" 2>/dev/null)" "berthd 700" "the backup directory"
check; [ "$(( 0$(stat -c %a "$BK/metadata.db" 2>/dev/null) & 077 ))" -eq 0 ] ||
    fail "the metadata copy is readable by others: $(stat -c %a "$BK/metadata.db" 2>/dev/null)"
expect_eq "$(sqlite3 "file:$BK/metadata.db?mode=ro" 'PRAGMA integrity_check' 2>&1)" ok "the metadata copy's integrity"
n1=$(find "$BK/blobs" -type f | wc -l)
check; [ "$n1" -ge 8 ] || fail "the backup holds $n1 blob files"
push_tag app/three after || fail "push after the backup"
doc_block operations.md Backups 1 | sed "s|/backup/berthd|$BK|g" | doc_run -
expect_eq "$?" 0 "a second backup into the same directory ($(tail -3 "$TMP/doc.out"))"
n2=$(find "$BK/blobs" -type f | wc -l)
check; [ "$n2" -gt "$n1" ] || fail "the second backup copied no new blob ($n1 -> $n2)"

# ---- the restore -------------------------------------------------------------------------
doc_block operations.md Backups 2 | sed "s|/backup/berthd|$BK|g" | doc_run -
expect_eq "$?" 0 "the documented restore ($(tail -5 "$TMP/doc.out"))"
for t in app/one:v1 app/one:v3 app/two:latest; do
    http GET "/v2/${t%%:*}/manifests/${t#*:}" -H "Accept: $OCI_M"
    expect_status 200 "$t after the restore"
    check; cmp -s "$BODY_FILE" "$(f m "${t%%:*}" "${t#*:}")" || fail "$t's manifest differs after the restore"
    http GET "/v2/${t%%:*}/blobs/$(sha256_of "$(f l "${t%%:*}" "${t#*:}")")"
    expect_status 200 "$t's layer after the restore"
done
check; find "$DATA" ! -user berthd | grep -q . && fail "files of root's in the data directory: $(find "$DATA" ! -user berthd | head -3)"
check; grep -q 'would remove\|removed\|blobs' "$TMP/doc.out" || fail "the dry run printed nothing: $(tail -3 "$TMP/doc.out")"
PATH=$TMP/bin:$PATH systemctl stop berthd
check; grep -qE 'AddressSanitizer|runtime error:' "$TMP/berthd.log" && fail "a sanitizer report in the log"
finish
