# shellcheck shell=bash
# tests/integration/lib-gc.sh - helpers for the garbage collector tests
# (t1500-t1800), on top of tests/lib.sh (source that first).
#
#   gc_cmd [args...]          berthd gc --root $ROOT args: output in $GC_OUT, status in $GC_RC
#   gc_ok [args...]           the same, and a check that it exited 0
#   gc_said KIND NAME [FILE]  did a gc output say "removed|would remove KIND NAME"?
#   gc_lines KIND [FILE]      the names of KIND it removed (or would), sorted
#   gc_summary FIELD [FILE]   a number from the summary line: blobs bytes manifests
#                             tags links uploads repositories
#   blob_path DIGEST          the file a blob lives in; on_disk DIGEST: yes / no
#   sql QUERY                 sqlite3 on $ROOT/metadata.db (berthd may be serving)
#   mk_config FILE            a unique image config; mk_layer FILE BYTES: random data
#   mk_manifest OUT CONFIG LAYER... [-- SUBJECT SIZE ARTIFACT_TYPE]
#                             an OCI image manifest for those files (a referrer with --)
#   mk_index OUT MANIFEST...  an OCI index over those manifest files
#   push_files REPO FILE...   push each file as a blob (fails loudly)
#   push_many REPO FILE...    push many blobs in parallel; prints how many failed
#   pull_check REPO REF       pull a manifest (index: every child) and every blob,
#                             verify every digest and size; prints why on failure
#   expect_pulls REPO REF LABEL   the same as a check
#   all_tags, reachable_blobs "REPO TAG" lines; digests reachable from every tag (API)
#   disk_blobs, db_blobs, trash_count   blob files on disk, blob rows, files in trash/
#   tree_snapshot OUT, db_dump OUT      the root tree / the metadata, for comparing
#   consistency_check LABEL   metadata and file tree agree (sets PENDING_TRASH)
#   usage_expected SPEC, du_actual, admin_actual   own/shared bytes, three ways

OCI_M=application/vnd.oci.image.manifest.v1+json
OCI_I=application/vnd.oci.image.index.v1+json
OCI_C=application/vnd.oci.image.config.v1+json
OCI_L=application/vnd.oci.image.layer.v1.tar
ACCEPT_ALL="$OCI_M,$OCI_I,application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json"

GC_N=0
gc_cmd() {
    GC_N=$((GC_N + 1))
    GC_OUT=$TMP/gc.$GC_N.out
    timeout 120 "$BERTHD" gc --root "$ROOT" "$@" >"$GC_OUT" 2>&1
    GC_RC=$?
    { echo "## berthd gc $* -> $GC_RC"; cat "$GC_OUT"; } >>"$TMP/gc.log"
}
gc_ok() {
    gc_cmd "$@"
    expect_eq "$GC_RC" 0 "exit status of berthd gc $*"
    [ "$GC_RC" -eq 0 ] || sed 's/^/    /' "$GC_OUT" >&2
}
gc_said() {
    awk -v k="$1" -v n="$2" '($1 == "removed" && $2 == k && $3 == n) ||
        ($1 == "would" && $2 == "remove" && $3 == k && $4 == n) { f = 1 } END { exit !f }' "${3:-$GC_OUT}"
}
gc_lines() {
    awk -v k="$1" '$1 == "removed" && $2 == k { print $3 }
        $1 == "would" && $2 == "remove" && $3 == k { print $4 }' "${2:-$GC_OUT}" | sort
}
gc_summary() {
    local line
    line=$(grep -E '^(removed|would remove): ' "${2:-$GC_OUT}" | tail -1)
    case $1 in
    blobs) sed -E 's/^[a-z ]+: ([0-9]+) blobs.*/\1/' <<<"$line" ;;
    bytes) sed -E 's/.*blobs \(([0-9]+) bytes freed\).*/\1/' <<<"$line" ;;
    *) sed -E "s/.* ([0-9]+) $1[ ,].*/\\1/" <<<"$line" ;;
    esac
}

blob_path() { local h=${1#sha256:}; echo "$ROOT/blobs/sha256/${h:0:2}/$h"; }
on_disk() { if [ -f "$(blob_path "$1")" ]; then echo yes; else echo no; fi; }
sql() { sqlite3 -batch -noheader -cmd '.timeout 20000' "$ROOT/metadata.db" "$1"; }

mk_config() {
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"%s"}' \
        "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$1"
}
mk_layer() { random_file "$1" "$2"; }
# mk_manifest OUT CONFIG LAYER... [-- SUBJECT_DIGEST SUBJECT_SIZE ARTIFACT_TYPE]
mk_manifest() {
    local out=$1 cfg=$2 layers='[]' f
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        layers=$(jq -c --argjson l "$(descriptor $OCI_L "$1")" '. + [$l]' <<<"$layers")
        shift
    done
    if [ "${1:-}" = -- ]; then
        jq -cn --argjson c "$(descriptor $OCI_C "$cfg")" --argjson l "$layers" --arg mt $OCI_M \
            --arg sd "$2" --argjson ss "$3" --arg at "$4" \
            '{schemaVersion: 2, mediaType: $mt, artifactType: $at, config: $c, layers: $l,
              subject: {mediaType: $mt, digest: $sd, size: $ss}}' | tr -d '\n' >"$out"
    else
        jq -cn --argjson c "$(descriptor $OCI_C "$cfg")" --argjson l "$layers" --arg mt $OCI_M \
            '{schemaVersion: 2, mediaType: $mt, config: $c, layers: $l}' | tr -d '\n' >"$out"
    fi
}
# mk_index OUT MANIFEST_FILE...
mk_index() {
    local out=$1 list='[]'
    shift
    for f in "$@"; do
        list=$(jq -c --argjson m "$(descriptor $OCI_M "$f")" '. + [$m]' <<<"$list")
    done
    jq -cn --arg mt $OCI_I --argjson l "$list" '{schemaVersion: 2, mediaType: $mt, manifests: $l}' \
        | tr -d '\n' >"$out"
}
push_files() {
    local repo=$1 f
    shift
    for f in "$@"; do
        push_blob "$repo" "$f" >/dev/null || { fail "push blob $f to $repo"; return 1; }
    done
}
# size_sum FILE...: total bytes
size_sum() { local t=0 f; for f in "$@"; do t=$((t + $(size_of "$f"))); done; echo $t; }

# pull_check REPO REF: 0 when the manifest and everything it references pull
# and verify; otherwise prints the reason and returns 1.
pull_check() {
    local repo=$1 ref=$2 f st dig hdr mt d s
    f=$(mktemp "$TMP/pull.XXXXXX")
    st=$(curl -sS -m 30 -o "$f" -D "$f.h" -w '%{http_code}' -H "Accept: $ACCEPT_ALL" \
        "http://$REG/v2/$repo/manifests/$ref" 2>&1)
    if [ "$st" != 200 ]; then
        echo "GET manifest $repo:$ref: $st $(head -c 300 "$f")"; rm -f "$f" "$f.h"; return 1
    fi
    dig=$(sha256_of "$f")
    hdr=$(grep -i '^docker-content-digest:' "$f.h" | tr -d '\r' | awk '{print $2}')
    if [ "$hdr" != "$dig" ] || { [[ $ref == sha256:* ]] && [ "$ref" != "$dig" ]; }; then
        echo "manifest $repo:$ref: body hashes to $dig, header says '$hdr'"; rm -f "$f" "$f.h"; return 1
    fi
    mt=$(jq -r '.mediaType // empty' "$f")
    local rc=0
    if [ "$mt" = "$OCI_I" ] || [ "$mt" = application/vnd.docker.distribution.manifest.list.v2+json ]; then
        for d in $(jq -r '.manifests[].digest' "$f"); do
            pull_check "$repo" "$d" || rc=1
        done
    else
        while read -r d s; do
            [ -n "$d" ] || continue
            st=$(curl -sS -m 30 -o "$f.b" -w '%{http_code}' "http://$REG/v2/$repo/blobs/$d" 2>&1)
            if [ "$st" != 200 ]; then
                echo "GET blob $repo@$d (of $repo:$ref): $st"; rc=1
            elif [ "$(sha256_of "$f.b")" != "$d" ] || [ "$(size_of "$f.b")" != "$s" ]; then
                echo "blob $repo@$d (of $repo:$ref): content does not match its digest/size"; rc=1
            fi
        done < <(jq -r '(.config // empty), (.layers // [])[] | "\(.digest) \(.size)"' "$f")
    fi
    rm -f "$f" "$f.h" "$f.b"
    return $rc
}
# expect_pulls REPO REF LABEL
expect_pulls() {
    local why
    check
    why=$(pull_check "$1" "$2") || fail "${3:-pull} $1:$2 does not pull completely: $why"
}

# all_tags: "REPO TAG" lines for every tag of every repository (via the API)
all_tags() {
    local r
    for r in $(curl -fsS -m 30 "http://$REG/v2/_catalog?n=10000" | jq -r '.repositories[]'); do
        curl -fsS -m 30 "http://$REG/v2/$r/tags/list?n=10000" | jq -r --arg r "$r" '(.tags // [])[] | "\($r) \(.)"'
    done
}
# manifest_closure REPO REF: digests of the manifest, its children, their
# configs and layers (what a pull of REPO:REF needs), one a line.
manifest_closure() {
    local f d
    f=$(mktemp "$TMP/mc.XXXXXX")
    curl -fsS -m 30 -o "$f" -H "Accept: $ACCEPT_ALL" "http://$REG/v2/$1/manifests/$2" || { rm -f "$f"; return 1; }
    sha256_of "$f"
    jq -r '(.config.digest // empty), (.layers // [])[].digest' "$f"
    for d in $(jq -r '(.manifests // [])[].digest' "$f"); do manifest_closure "$1" "$d"; done
    rm -f "$f"
}
# reachable_blobs: sorted digests reachable from every tag, through the API.
reachable_blobs() {
    local r t
    all_tags | while read -r r t; do manifest_closure "$r" "$t"; done | sort -u
}
# disk_blobs: sorted digests of the blob files on disk; db_blobs: of the rows.
disk_blobs() {
    find "$ROOT/blobs/sha256" -type f -printf 'sha256:%f\n' 2>/dev/null | sort
}
db_blobs() { sql 'SELECT digest FROM blobs ORDER BY digest' | sort; }
trash_count() { find "$ROOT/trash" -mindepth 1 2>/dev/null | wc -l; }

# tree_snapshot OUT: every path under $ROOT with type, mode, size, mtime and
# checksum; the sqlite files and gc.lock (rewritten by any sqlite or flock
# user, compared through db_dump instead) are left out.
tree_snapshot() {
    (cd "$ROOT" && find . -mindepth 1 \
        ! -name 'metadata.db' ! -name 'metadata.db-wal' ! -name 'metadata.db-shm' ! -name gc.lock \
        -printf '%P %y %m %s %T@\n' | sort | while read -r p y m s t; do
            if [ "$y" = f ]; then echo "$p $y $m $s $t $(sha256sum <"$p" | cut -c1-64)"
            else echo "$p $y $m $t"; fi
        done) >"$1"
}
db_dump() { sqlite3 -batch -cmd '.timeout 20000' "$ROOT/metadata.db" .dump | sort >"$1"; }

# consistency_check LABEL: the metadata and the file tree agree.
#   every blob row has its file (in blobs/, or, only while a collection
#   has not settled yet, in trash/: counted in $PENDING_TRASH); every blob
#   a manifest references and every manifest body has a row and a file;
#   every link names a recorded blob; every tag points at a stored manifest;
#   every index child is stored in the repository.
consistency_check() {
    local label=$1 n rows disk trash missing
    rows=$(db_blobs)
    disk=$(disk_blobs)
    trash=$(find "$ROOT/trash" -mindepth 1 -maxdepth 1 -name 'sha256-*' -printf '%f\n' 2>/dev/null |
        sed 's/^sha256-/sha256:/' | sort)
    # rows with no file in blobs/: those whose file is in trash/ wait for the next run
    missing=$(comm -23 <(echo "$rows") <(echo "$disk") | sed '/^$/d')
    PENDING_TRASH=$(comm -12 <(echo "$missing") <(echo "$trash") | grep -c .)
    missing=$(comm -23 <(echo "$missing") <(echo "$trash") | sed '/^$/d')
    [ -z "$missing" ] || echo "    blob rows without a file: $(head -5 <<<"$missing" | tr '\n' ' ')" >&2
    expect_eq "$(grep -c . <<<"$missing")" 0 "$label: blob rows whose file is neither in blobs/ nor in trash/"
    n=$(sql "SELECT COUNT(*) FROM manifest_refs r WHERE r.kind = 'blob' AND NOT EXISTS
             (SELECT 1 FROM blobs b WHERE b.digest = r.child)")
    expect_eq "$n" 0 "$label: manifest references to blobs with no row"
    missing=$(comm -23 <(sql "SELECT child FROM manifest_refs WHERE kind = 'blob'
                              UNION SELECT digest FROM manifests" | sort -u) <(echo "$disk") | sed '/^$/d')
    [ -z "$missing" ] || echo "    referenced blobs not on disk: $(head -5 <<<"$missing" | tr '\n' ' ')" >&2
    expect_eq "$(grep -c . <<<"$missing")" 0 "$label: blobs referenced by a manifest (or manifest bodies) missing from blobs/"
    n=$(sql "SELECT COUNT(*) FROM manifest_refs r WHERE r.kind = 'blob' AND NOT EXISTS
             (SELECT 1 FROM repo_blobs l WHERE l.repo = r.repo AND l.digest = r.child)")
    expect_eq "$n" 0 "$label: manifest references to blobs not linked in their repository"
    n=$(sql "SELECT COUNT(*) FROM manifests m WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = m.digest)")
    expect_eq "$n" 0 "$label: manifests whose body has no blob row"
    n=$(sql "SELECT COUNT(*) FROM repo_blobs l WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = l.digest)")
    expect_eq "$n" 0 "$label: repository links to blobs with no row"
    n=$(sql "SELECT COUNT(*) FROM tags t WHERE NOT EXISTS
             (SELECT 1 FROM manifests m WHERE m.repo = t.repo AND m.digest = t.digest)")
    expect_eq "$n" 0 "$label: tags pointing at no stored manifest"
    n=$(sql "SELECT COUNT(*) FROM manifest_refs r WHERE r.kind = 'manifest' AND NOT EXISTS
             (SELECT 1 FROM manifests m WHERE m.repo = r.repo AND m.digest = r.child)")
    expect_eq "$n" 0 "$label: index children not stored in their repository"
}

# push_many REPO FILE...: push many blobs at once (curl --parallel); prints
# the number that did not answer 201.
push_many() {
    local repo=$1 cfg=$TMP/push_many.cfg
    shift
    sha256sum "$@" | awk -v reg="$REG" -v repo="$repo" '
        NR > 1 { print "next" }
        { printf "url = \"http://%s/v2/%s/blobs/uploads/?digest=sha256:%s\"\n", reg, repo, $1
          printf "request = \"POST\"\ndata-binary = \"@%s\"\n", $2
          print "header = \"Content-Type: application/octet-stream\""
          print "output = \"/dev/null\""
          print "write-out = \"%{http_code}\\n\"" }' >"$cfg"
    curl -sS --parallel --parallel-max 8 -K "$cfg" 2>/dev/null | grep -cv '^201$'
}

# Storage accounting. usage_expected SPEC: SPEC has lines "REPO FILE..."
# (what each repository uses); prints "REPO OWN SHARED" lines and
# "total N", sorted, as berthd should count them. du_actual and
# admin_actual print the same from `berthd du` and GET /admin/storage.
usage_expected() {
    local repo files f
    while read -r repo files; do
        for f in $files; do echo "$repo $(sha256_of "$f") $(size_of "$f")"; done
    done <"$1" | sort -u | awk '
        { n++; r[n] = $1; d[n] = $2; size[$2] = $3; users[$2]++; repos[$1] = 1 }
        END {
            for (i = 1; i <= n; i++) if (users[d[i]] > 1) sh[r[i]] += size[d[i]]; else own[r[i]] += size[d[i]]
            for (x in repos) print x, own[x] + 0, sh[x] + 0
            for (y in size) t += size[y]
            print "total", t + 0
        }' | sort
}
du_actual() {
    "$BERTHD" du --root "$ROOT" | awk '/^total on disk:/ { print "total", $4; next }
        NR > 1 { print $1, $2, $3 }' | sort
}
admin_actual() {
    curl -fsS -m 30 "http://$REG/admin/storage" |
        jq -r '(.repositories[] | "\(.name) \(.own_bytes) \(.shared_bytes)"), "total \(.total_bytes)"' | sort
}
