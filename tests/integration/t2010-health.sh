#!/bin/bash
# t2010-health: /healthz (alive: 200 {} always) and /readyz (200
# {"status":"ready",...}; 503 when the data directory cannot take a write),
# on the main listener and on the metrics listener. The data directory is
# made unwritable for root with chattr +i on <root>/uploads, and then with a
# read-only bind mount of the root over itself (each where this machine
# allows it; undone at exit): /readyz turns 503 and back to 200 afterwards,
# /healthz stays 200, stored content is still served, and writes work again
# once the directory is writable.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-ops.sh"

MADDR=$(ops_port)
# four workers: the probes and pulls during an outage reach all of them
printf '{"metrics": {"listen": "%s"}, "threads": 4}\n' "$MADDR" >"$TMP/m.json"
ROOT=$TMP/root
ops_up --config "$TMP/m.json"

# probe BASE PATH: GET, sets STATUS and BODY_FILE (like http, any listener)
probe() {
    : >"$BODY_FILE"; : >"$HDR_FILE"
    STATUS=$(curl -sS -m 10 -o "$BODY_FILE" -D "$HDR_FILE" -w '%{http_code}' "${@:3}" "http://$1$2") || STATUS=000
}
ready_is() { # ready_is STATUS READY WRITABLE METADATA(ERE) WHAT: /readyz on both listeners
    local base
    for base in "$REG" "$MADDR"; do
        probe "$base" /readyz
        expect_eq "$STATUS" "$1" "$5: /readyz status on $base"
        expect_match "$(jq -c '[.status, .storage_writable, .metadata_reachable]' "$BODY_FILE" 2>/dev/null)" \
            "^\[\"$2\",$3,$4\]\$" "$5: /readyz body on $base ($(head -c 200 "$BODY_FILE"))"
        expect_match "$(header Content-Type)" '^application/json' "$5: /readyz Content-Type"
        expect_ne "$(header X-Request-Id)" "" "$5: /readyz X-Request-Id"
    done
}
alive() { # alive WHAT: /healthz 200 {} on both listeners
    local base
    for base in "$REG" "$MADDR"; do
        probe "$base" /healthz
        expect_eq "$STATUS" 200 "$1: /healthz status on $base"
        expect_eq "$(jq -c . "$BODY_FILE" 2>/dev/null)" "{}" "$1: /healthz body on $base"
    done
}

alive "at rest"
ready_is 200 ready true true "at rest"
probe "$REG" /healthz -I; expect_eq "$STATUS" 200 "HEAD /healthz"
probe "$REG" /readyz -I; expect_eq "$STATUS" 200 "HEAD /readyz"
probe "$REG" /healthz -X POST -d x; expect_eq "$STATUS" 405 "POST /healthz"
probe "$REG" /readyz -X POST -d x; expect_eq "$STATUS" 405 "POST /readyz"
probe "$REG" /readyz -X DELETE; expect_eq "$STATUS" 405 "DELETE /readyz"
probe "$REG" /readyz/x; expect_eq "$STATUS" 404 "GET /readyz/x"
# the write probe leaves nothing behind
for i in 1 2 3 4 5; do probe "$REG" /readyz; done
expect_eq "$(ls -A "$ROOT/uploads" | wc -l)" 0 "files left in uploads/ by /readyz"

random_file "$TMP/b1" 3000
d1=$(push_blob health/a "$TMP/b1")
expect_ne "$d1" "" "push a blob while ready"

# while_unwritable WHAT METADATA: the checks while the directory cannot take
# a write. METADATA "readable": the metadata is untouched (only uploads/ is
# unwritable), so everything stored is served as before; "maybe": the whole
# root is read-only, and sqlite may not be able to read a WAL database
# there; berthd may then fail reads, but with a 5xx: never a 404 that says
# stored content does not exist.
while_unwritable() {
    local meta='true'
    [ "$2" = readable ] || meta='(true|false)'
    ready_is 503 "not ready" false "$meta" "$1"
    alive "$1"
    http GET "/v2/health/a/blobs/$d1"
    if [ "$2" = readable ] || [ "$STATUS" = 200 ]; then
        expect_status 200 "$1: a stored blob is still served"
        check; cmp -s "$BODY_FILE" "$TMP/b1" || fail "$1: the blob served differs"
    else
        expect_match "$STATUS" '^5[0-9][0-9]$' "$1: GET of a stored blob that cannot be read now ($(head -c 200 "$BODY_FILE"))"
    fi
    random_file "$TMP/b2" 2000
    http POST "/v2/health/a/blobs/uploads/?digest=$(sha256_of "$TMP/b2")" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/b2"
    check; [[ $STATUS == 5* ]] || fail "$1: a blob upload answered $STATUS, expected a 5xx"
    http GET "/v2/health/a/blobs/$(sha256_of "$TMP/b2")"
    expect_match "$STATUS" '^(404|5[0-9][0-9])$' "$1: the refused upload left no blob"
    # probes and pulls keep coming during the outage, on every worker
    seq 1 40 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' "http://$REG/readyz" >"$TMP/burst"
    expect_eq "$(sort "$TMP/burst" | uniq -c | awk '{printf "%s:%s ", $2, $1}')" "503:40 " "$1: 40 probes meanwhile"
    seq 1 40 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' "http://$REG/v2/health/a/tags/list" >"$TMP/burst"
    if [ "$2" = readable ]; then
        expect_eq "$(sort "$TMP/burst" | uniq -c | awk '{printf "%s:%s ", $2, $1}')" "200:40 " "$1: 40 tag lists meanwhile"
    else
        expect_eq "$(grep -cv '^\(200\|5..\)$' "$TMP/burst")" 0 \
            "$1: tag lists of an existing repository answered other than 200 or 5xx ($(sort "$TMP/burst" | uniq -c | tr '\n' ' '))"
    fi
}
after_writable() {
    ready_is 200 ready true true "$1"
    alive "$1"
    random_file "$TMP/b3" 2500
    expect_eq "$(push_blob health/a "$TMP/b3")" "$(sha256_of "$TMP/b3")" "$1: a blob upload works again"
    # every worker writes again (uploads in parallel reach all of them)
    local i
    for i in $(seq 1 24); do random_file "$TMP/p$i" 300; done
    seq 1 24 | xargs -P 12 -I{} sh -c 'curl -s -o /dev/null -w "%{http_code}\n" -X POST \
        --data-binary @"$1/p$2" "http://$3/v2/health/a/blobs/uploads/?digest=sha256:$(sha256sum "$1/p$2" | cut -c1-64)"' \
        _ "$TMP" {} "$REG" >"$TMP/pushes"
    expect_eq "$(sort "$TMP/pushes" | uniq -c | awk '{printf "%s:%s ", $2, $1}')" "201:24 " "$1: 24 parallel uploads"
    http GET "/v2/health/a/blobs/$(sha256_of "$TMP/b3")"
    expect_status 200 "$1: the new blob is served"
    echo "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":$(descriptor application/vnd.oci.image.config.v1+json "$TMP/b1"),\"layers\":[$(descriptor application/vnd.oci.image.layer.v1.tar "$TMP/b3")]}" >"$TMP/m-$2.json"
    push_manifest health/a "$2" "$TMP/m-$2.json" application/vnd.oci.image.manifest.v1+json >/dev/null
    expect_eq "$?" 0 "$1: a manifest PUT (a metadata write) works again"
    expect_eq "$(ls -A "$ROOT/uploads" | wc -l)" 0 "$1: files left in uploads/"
}

methods=0
# ---- chattr +i on <root>/uploads ---------------------------------------------
if command -v chattr >/dev/null && chattr +i "$ROOT/uploads" 2>"$TMP/chattr.err"; then
    at_exit "chattr -i '$ROOT/uploads'"
    if ! touch "$ROOT/uploads/.probe" 2>/dev/null; then
        methods=$((methods + 1))
        while_unwritable "chattr +i uploads/" readable
        chattr -i "$ROOT/uploads"; expect_eq "$?" 0 "chattr -i uploads/"
        after_writable "after chattr +i" t1
    else
        rm -f "$ROOT/uploads/.probe"
        chattr -i "$ROOT/uploads"
    fi
else
    echo "$T_NAME: note: chattr +i does not work on $ROOT: $(cat "$TMP/chattr.err" 2>/dev/null)" >&2
fi
# ---- a read-only bind mount of the root over itself -------------------------
# A fresh berthd: its workers first touch the metadata while the directory
# is read-only, as after a start during a storage outage.
berthd_stop; expect_eq "$?" 0 "berthd exit status on SIGTERM"
MADDR=$(ops_port) REG=
printf '{"metrics": {"listen": "%s"}, "threads": 4}\n' "$MADDR" >"$TMP/m.json"
ops_up --config "$TMP/m.json"
if mount --bind "$ROOT" "$ROOT" 2>"$TMP/mount.err"; then
    at_exit "umount -l '$ROOT'"
    if mount -o remount,bind,ro "$ROOT" 2>>"$TMP/mount.err" && ! touch "$ROOT/.probe" 2>/dev/null; then
        methods=$((methods + 1))
        while_unwritable "read-only bind mount" maybe
        # back to read-write, the way a file system comes back: the same
        # mount, so files berthd opened meanwhile are writable again too
        mount -o remount,bind,rw "$ROOT"; expect_eq "$?" 0 "remount the bind mount read-write"
        after_writable "after the read-only bind mount" t2
    else
        umount "$ROOT"
        echo "$T_NAME: note: a read-only bind mount does not work here: $(cat "$TMP/mount.err")" >&2
    fi
else
    echo "$T_NAME: note: bind mounts do not work here: $(cat "$TMP/mount.err")" >&2
fi

check; [ "$methods" -gt 0 ] || fail "neither a read-only bind mount nor chattr +i works here: the 503 was not tested"
finish
