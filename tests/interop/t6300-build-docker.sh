#!/bin/bash
# t6300-build-docker: berth build and berth commit on a real Debian base
# image (debootstrap minbase bookworm, imported as debian:bookworm; the
# tarball is cached in build/fixtures between runs), against docker.
#
#   (a) docker's Flask tutorial, offline: FROM a Debian base that has
#       python3-flask and python3-redis (the fixture t3900 uses; the
#       tutorial's apt-get would need the Internet), a RUN,
#       COPY app.py /app/, WORKDIR, EXPOSE, CMD -> `berth build -t
#       flask-app .`: docker's classic output, `berth run -d -p` serves the
#       page, the config's history is what docker's classic builder writes
#       (`/bin/sh -c useradd ...`, `/bin/sh -c #(nop)  CMD [...]`,
#       `/bin/sh -c #(nop) COPY file:<hex> in /app/ `) and `berth history`
#       shows it; an unchanged rebuild is all cache hits (same image ID,
#       -q prints only the ID); a changed app.py misses from its COPY on;
#   (b) berth save -> docker load -> docker run prints what berth run
#       prints, and docker reads berth's history; berth push to berthd ->
#       docker pull -> docker run, podman pull and skopeo inspect of it;
#   (c) one Dockerfile (COPY of a tree with modes, a symlink, hard links and
#       an empty directory; COPY --chown by id and by name; --chmod; a glob;
#       a RUN that creates, chowns, chmods (setuid, sticky), links and
#       deletes files, in its own layer and in lower ones) built by berth
#       and by `docker build` (BuildKit, which --chmod needs) on the same
#       base: both images, saved (`berth save`, `docker save`) and unpacked
#       the same way (skopeo copy to an OCI layout, umoci unpack), hold the
#       same files: names, types, modes, owners, sizes, contents (sha256),
#       symlink targets and hard-link groups, over the whole filesystem.
#       Nothing is excluded: docker's build adds no file of its own to an
#       image (its /etc/hosts, /etc/resolv.conf and /.dockerenv exist only in
#       containers), and the times of files are not compared;
#   (d) berth commit of a running Debian container with an added and a
#       deleted file (-a, -m, -c CMD) -> berth save -> docker load: docker
#       run sees the file added and the file gone, and runs the new CMD.
#
# docker's storage here is vfs (a full copy of the base per container), so
# there is one docker build and a few docker runs, all with no network but
# the build's. dockerd is started when none answers and stopped at the end
# if started here; every docker image made here, docker's build cache,
# every berth container and the store ($TMP) are removed at exit.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-interop.sh"

BERTH=${BERTH:-build/berth}
case $BERTH in /*) ;; *) BERTH=$TOP/$BERTH ;; esac
interop_require "$BERTH" "$DOCKER" dockerd skopeo podman umoci jq curl python3 debootstrap
BUILD_TIMEOUT=${BUILD_TIMEOUT:-600}
PARTS=${T6300_PARTS:-abcd}     # a subset of the parts below, when working on one
U=$$     # docker is shared: every docker name made here ends in it

docker_up
# BuildKit keeps its own cache of what `docker build` made (on vfs, full
# copies of the base): it is a cache, dropping it costs others only time
at_exit "timeout 120 $DOCKER builder prune -af"

export HOME=$TMP/home BERTH_ROOT=$TMP/store
mkdir -p "$HOME"
# every berth container made here, whatever state it is in, before the
# store is removed
at_exit 'for _c in $(timeout 30 "$BERTH" ps -aq); do timeout 60 "$BERTH" rm -f "$_c"; done'

# ---- helpers ----------------------------------------------------------------
# bx ARGS...: run berth (BX_TIMEOUT s, 180 by default); $RC, $OUT (stdout),
# $ERR (stderr).
bx() {
    timeout "${BX_TIMEOUT:-180}" "$BERTH" "$@" >"$TMP/bx.out" 2>"$TMP/bx.err"
    RC=$?
    OUT=$(cat "$TMP/bx.out")
    ERR=$(cat "$TMP/bx.err")
}
# ok WHAT: the last bx succeeded.
ok() {
    check
    [ "$RC" -eq 0 ] || {
        fail "$1: berth exited $RC: $( (tail -n 5 "$TMP/bx.err"; [ -s "$TMP/bx.err" ] || tail -n 5 "$TMP/bx.out") | tr '\n' ' ')"
        return 1
    }
}
# build WHAT ARGS...: berth build ARGS, within $BUILD_TIMEOUT.
build() {
    local what=$1
    shift
    BX_TIMEOUT=$BUILD_TIMEOUT bx build "$@"
    ok "$what"
}
# config_of IMAGE: the image's config JSON from the store.
config_of() {
    local id
    id=$(timeout 60 "$BERTH" inspect "$1" 2>/dev/null | jq -r '.[0].Id // empty')
    [ -n "$id" ] && cat "$BERTH_ROOT/blobs/sha256/${id#sha256:}"
}
# count_lines TEXT REGEX: how many lines of TEXT match REGEX.
count_lines() { grep -cE -- "$2" <<<"$1"; }
# column LINE HEADER COLUMNS NAME: the text of LINE under NAME (as t6000).
column() {
    awk -v line="$1" -v head="$2" -v cols="$3" -v name="$4" 'BEGIN {
        n = split(cols, c, "|"); from = 1
        for (i = 1; i <= n; i++) {
            p = index(substr(head, from), c[i]); start[i] = p ? from + p - 1 : 0
            from = start[i] + length(c[i])
        }
        for (i = 1; i <= n; i++) if (c[i] == name) break
        stop = i < n ? start[i + 1] : length(line) + 1
        v = substr(line, start[i], stop - start[i]); sub(/ +$/, "", v); print v
    }'
}
# shown_as SHOWN FULL WHAT: a history cell shows FULL, or its start and an
# ellipsis ("…" as docker, or "...") when FULL is long.
shown_as() {
    local shown=$1 full=$2 cut
    check
    [ "$shown" == "$full" ] && return 0
    cut=${shown%…}
    [ "$cut" == "$shown" ] && cut=${shown%...}
    if [ "$cut" == "$shown" ] || [ ${#cut} -lt 30 ] || [ "${full:0:${#cut}}" != "$cut" ]; then
        fail "$3: history shows '$shown' for '$full'"
    fi
}
# unpack_saved WHAT ARCHIVE DIR: a docker-archive (docker save, berth save)
# unpacked to DIR/rootfs the same way whoever wrote it: skopeo copy to an
# OCI layout, umoci unpack (as root: owners kept, whiteouts applied).
unpack_saved() {
    rm -rf "$3" "$3.oci"
    step "$1: skopeo copy docker-archive -> oci" skopeo copy -q "docker-archive:$2" "oci:$3.oci:img" &&
        step "$1: umoci unpack" umoci unpack --image "$3.oci:img" "$3"
}
# fs_list ROOTFS: one line per file under ROOTFS, sorted: path, type, mode,
# uid:gid, and for a file its size, sha256 and the first path of its
# hard-link group; for a symlink its target; for a device its numbers.
cat >"$TMP/fslist.py" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
first, rows = {}, []
kinds = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
         stat.S_IFBLK: "b", stat.S_IFIFO: "p", stat.S_IFSOCK: "s"}
for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    for name in sorted(dirnames + filenames):
        p = os.path.join(dirpath, name)
        rel = "/" + os.path.relpath(p, root)
        st = os.lstat(p)
        t = kinds[stat.S_IFMT(st.st_mode)]
        what = ""
        if t == "f":
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for b in iter(lambda: f.read(1 << 20), b""):
                    h.update(b)
            what = "%d sha256:%s" % (st.st_size, h.hexdigest())
            if st.st_nlink > 1:
                k = first.setdefault((st.st_dev, st.st_ino), rel)
                if k != rel:
                    what += " hardlink-to:" + k
        elif t == "l":
            what = "-> " + os.readlink(p)
        elif t in "cb":
            what = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        rows.append("%s %s %04o %d:%d %s" % (rel, t, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, what))
print("\n".join(sorted(rows)))
PY
fs_list() { python3 "$TMP/fslist.py" "$1"; }
# berth_containers_gone WHAT: no berth container and no mount under $TMP
# is left.
berth_containers_gone() {
    expect_eq "$(timeout 30 "$BERTH" ps -aq 2>&1)" "" "$1: berth ps -aq"
    expect_eq "$(awk -v t="$TMP/" 'index($2, t) == 1 { print $2 }' /proc/mounts)" "" "$1: mounts left under $TMP"
}

# ---- the base image ------------------------------------------------------------
if ! debian_fixture debian:bookworm; then
    fail "no Debian base image (tests/fixture-debian, berth import)"
    finish
fi
BASE_ID=$(timeout 60 "$BERTH" inspect debian:bookworm | jq -r '.[0].Id')
# docker gets the same base (the same layer, the same image ID) through
# berth save | docker load, under a name of its own
DBASE=t6300/debian:bookworm-$U
docker_forget "$DBASE"
bx tag debian:bookworm "$DBASE"
bx save -o "$TMP/base.tar" "$DBASE"
ok "berth save of the base" &&
    step "docker load of the base" "$DOCKER" load -i "$TMP/base.tar" &&
    expect_eq "$("$DOCKER" image inspect -f '{{.Id}}' "$DBASE" 2>&1)" "$BASE_ID" "docker's base is berth's"
rm -f "$TMP/base.tar"
bx rmi "$DBASE"

# ---- (a) the Flask tutorial -------------------------------------------------------
FLASK_TAR=$("$TOP/tests/fixture-debian" "" flask) || { fail "no Debian image with Flask (tests/fixture-debian)"; finish; }
bx import "$FLASK_TAR" t6300/debian-flask:bookworm
ok "berth import of the Debian base with Flask" || finish
MARK="t6300-$RANDOM$RANDOM"
mkdir -p "$TMP/flask"
cat >"$TMP/flask/app.py" <<EOF
import os

import redis
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello World from a berth build! $MARK\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
EOF
cat >"$TMP/flask/Dockerfile" <<'EOF'
FROM t6300/debian-flask:bookworm
RUN useradd --system --no-create-home web && echo setting-up-web
COPY app.py /app/
WORKDIR /app
EXPOSE 5000
CMD ["python3", "app.py"]
EOF
H_RUN='/bin/sh -c useradd --system --no-create-home web && echo setting-up-web'
H_COPY_RE='^/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /app/ $'
H_WORKDIR='/bin/sh -c #(nop) WORKDIR /app'
H_EXPOSE='/bin/sh -c #(nop)  EXPOSE 5000'
H_CMD='/bin/sh -c #(nop)  CMD ["python3" "app.py"]'
RUNCMD=(python3 -c 'import os, flask, redis, app; print(os.getcwd(), app.hello().strip(), flask.__name__, redis.__name__)')
RUN_WANT="/app Hello World from a berth build! $MARK flask redis"

# flask_build: build it, its output, its config and history; returns 1
# when there is no image to go on with.
flask_build() {
    cd "$TMP/flask" || return 1
    build "berth build -t flask-app . (the Flask tutorial)" -t flask-app .
    local rc=$RC out=$OUT
    cd "$TMP" || return 1
    [ "$rc" -eq 0 ] || return 1
    FLASK_ID=$(timeout 60 "$BERTH" inspect flask-app 2>/dev/null | jq -r '.[0].Id // empty')
    expect_match "$FLASK_ID" '^sha256:[0-9a-f]{64}$' "flask-app is in the store"
    [ -n "$FLASK_ID" ] || return 1
    expect_eq "$(grep -E '^Step [0-9]+/[0-9]+ : ' <<<"$out")" "Step 1/6 : FROM t6300/debian-flask:bookworm
Step 2/6 : RUN useradd --system --no-create-home web && echo setting-up-web
Step 3/6 : COPY app.py /app/
Step 4/6 : WORKDIR /app
Step 5/6 : EXPOSE 5000
Step 6/6 : CMD [\"python3\", \"app.py\"]" "build: docker's Step lines"
    expect_eq "$(count_lines "$out" '^setting-up-web$')" 1 "build: the RUN step's output is shown"
    expect_eq "$(count_lines "$out" '^ ---> [0-9a-f]{12}$')" 6 "build: one ' ---> ID' line per step"
    expect_eq "$(grep -E '^Successfully (built|tagged) ' <<<"$out")" "Successfully built ${FLASK_ID:7:12}
Successfully tagged flask-app:latest" "build: docker's last lines"

    # the config: docker's classic history, one layer per RUN and COPY
    local cfg
    cfg=$(config_of flask-app)
    expect_eq "$(jq -r '.config.Cmd | @json' <<<"$cfg")" '["python3","app.py"]' "config: Cmd"
    expect_eq "$(jq -r '.config.WorkingDir' <<<"$cfg")" /app "config: WorkingDir"
    expect_eq "$(jq -r '.config.ExposedPorts | keys | @json' <<<"$cfg")" '["5000/tcp"]' "config: ExposedPorts"
    expect_eq "$(jq '.rootfs.diff_ids | length' <<<"$cfg")" 3 "config: the base, RUN and COPY layers"
    expect_eq "$(jq '.history | length' <<<"$cfg")" 6 "config: the base's history entry and one per step"
    HIST=$(jq -r '.history[1:][] | .created_by' <<<"$cfg")
    expect_eq "$(sed -n 1p <<<"$HIST")" "$H_RUN" "history: RUN"
    H_COPY=$(sed -n 2p <<<"$HIST")
    expect_match "$H_COPY" "$H_COPY_RE" "history: COPY"
    expect_eq "$(sed -n 3p <<<"$HIST")" "$H_WORKDIR" "history: WORKDIR"
    expect_eq "$(sed -n 4p <<<"$HIST")" "$H_EXPOSE" "history: EXPOSE"
    expect_eq "$(sed -n 5p <<<"$HIST")" "$H_CMD" "history: CMD"
    expect_eq "$(jq -c '[.history[1:][] | .empty_layer // false]' <<<"$cfg")" '[false,false,true,true,true]' \
        "history: empty_layer on WORKDIR, EXPOSE, CMD"

    bx history flask-app
    if ok "berth history flask-app"; then
        local head cols="IMAGE|CREATED|CREATED BY|SIZE|COMMENT" n full
        head=$(sed -n 1p <<<"$OUT")
        expect_eq "$(($(wc -l <<<"$OUT") - 1))" 6 "berth history: one row per history entry"
        expect_eq "$(column "$(sed -n 2p <<<"$OUT")" "$head" "$cols" IMAGE)" "${FLASK_ID:7:12}" "berth history: the image ID first"
        n=2
        for full in "$H_CMD" "$H_EXPOSE" "$H_WORKDIR" "$H_COPY" "$H_RUN" "berth import"; do
            shown_as "$(column "$(sed -n ${n}p <<<"$OUT")" "$head" "$cols" "CREATED BY")" "$full" "berth history row $n"
            n=$((n + 1))
        done
        for n in 2 3 4; do
            expect_eq "$(column "$(sed -n ${n}p <<<"$OUT")" "$head" "$cols" SIZE)" 0B "berth history row $n: SIZE of a config-only step"
        done
    fi
}

# flask_run: berth run -d -p serves the page; berth run prints what the
# app, its packages and the WORKDIR give.
flask_run() {
    local hp page
    hp=$(free_port)
    bx run -d --name flask -p "127.0.0.1:$hp:5000" flask-app
    if ok "berth run -d -p 127.0.0.1:$hp:5000 flask-app"; then
        for _t in $(seq 1 60); do
            page=$(curl -fsS -m 2 "http://127.0.0.1:$hp/" 2>/dev/null) && break
            sleep 0.5
        done
        expect_eq "$page" "Hello World from a berth build! $MARK" "the Flask app answers on 127.0.0.1:$hp"
        bx rm -f flask
        ok "berth rm -f flask"
    fi
    bx run --rm flask-app "${RUNCMD[@]}"
    ok "berth run --rm flask-app python3 -c ..." && expect_eq "$OUT" "$RUN_WANT" "berth run: the app, its packages, the WORKDIR"
}

# flask_rebuild: unchanged, every step comes from the cache; with app.py
# changed, the RUN still does and COPY on do not.
flask_rebuild() {
    cd "$TMP/flask" || return 1
    build "berth build (unchanged, again)" -t flask-app .
    expect_eq "$(count_lines "$OUT" '^ ---> Using cache$')" 5 "rebuild: steps 2 to 6 come from the cache"
    expect_eq "$(count_lines "$OUT" 'Running in|^setting-up-web$')" 0 "rebuild: nothing runs"
    expect_match "$OUT" "Successfully built ${FLASK_ID:7:12}" "rebuild: the same image"
    build "berth build -q (unchanged)" -q -t flask-app .
    expect_eq "$OUT" "$FLASK_ID" "build -q prints only the image ID"
    cp -a "$TMP/flask" "$TMP/flask2"
    echo "# changed" >>"$TMP/flask2/app.py"
    cd "$TMP/flask2" || return 1
    if build "berth build of a changed app.py" -t flask-app:v2 .; then
        expect_eq "$(count_lines "$OUT" '^ ---> Using cache$')" 1 "changed COPY: only the RUN step comes from the cache"
        expect_eq "$(count_lines "$OUT" '^setting-up-web$')" 0 "changed COPY: the RUN does not run again"
        local h
        h=$(config_of flask-app:v2 | jq -r '.history[2].created_by')
        expect_match "$h" "$H_COPY_RE" "changed COPY: history"
        expect_ne "$h" "$H_COPY" "changed COPY: the file hash in its history"
    fi
    cd "$TMP" || return 1
}

# ---- (b) berth save -> docker load, berth push -> docker / podman / skopeo --------
flask_docker_load() {
    local d=t6300/flask-app:$U
    docker_forget "$d"
    bx tag flask-app "$d"
    bx save -o "$TMP/flask.tar" "$d"
    if ok "berth save flask-app" && step "docker load of berth save" "$DOCKER" load -i "$TMP/flask.tar"; then
        expect_match "$(cat "$TMP/step.log")" "Loaded image: $d" "docker load output"
        expect_eq "$("$DOCKER" image inspect -f '{{.Id}}' "$d" 2>&1)" "$FLASK_ID" "docker's image ID is berth's"
        step "docker run of what berth built (saved)" "$DOCKER" run --rm --network none "$d" "${RUNCMD[@]}" &&
            expect_eq "$(cat "$TMP/step.log")" "$RUN_WANT" "docker run prints what berth run prints (save/load)"
        expect_eq "$("$DOCKER" history --no-trunc --format '{{.CreatedBy}}' "$d" 2>&1 | head -5 | tac)" "$HIST" \
            "docker history shows berth's history"
        expect_eq "$("$DOCKER" image inspect -f '{{json .Config.Cmd}} {{.Config.WorkingDir}} {{json .Config.ExposedPorts}}' "$d" 2>&1)" \
            '["python3","app.py"] /app {"5000/tcp":{}}' "docker reads berth's config"
    fi
    timeout 60 "$DOCKER" rmi -f "$d" >/dev/null 2>&1
    bx rmi "$d"
    rm -f "$TMP/flask.tar"
}

flask_push() {
    local pushed=$REG/t6300/flask-app:v1 digest
    docker_forget "$pushed"
    bx tag flask-app "$pushed"
    bx push -q "$pushed"
    ok "berth push of what berth built" || return 1
    digest=$OUT
    if step "docker pull of berth's push" "$DOCKER" pull "$pushed"; then
        expect_match "$(cat "$TMP/step.log")" "Digest: $digest" "docker pull: berth's digest"
        step "docker run of what berth built (pushed)" "$DOCKER" run --rm --network none "$pushed" "${RUNCMD[@]}" &&
            expect_eq "$(cat "$TMP/step.log")" "$RUN_WANT" "docker run prints what berth run prints (push/pull)"
    fi
    timeout 60 "$DOCKER" rmi -f "$pushed" >/dev/null 2>&1
    PODMAN=(podman --root "$TMP/podman/root" --runroot "$TMP/podman/run" --storage-driver vfs
            --cgroup-manager cgroupfs --events-backend none)
    at_exit '"${PODMAN[@]}" rmi -af'
    if step "podman pull of berth's push" "${PODMAN[@]}" pull --tls-verify=false "$pushed"; then
        expect_eq "$("${PODMAN[@]}" image inspect --format '{{.Digest}}' "$pushed" 2>&1)" "$digest" "podman: berth's digest"
        expect_eq "$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$pushed" 2>&1)" "${FLASK_ID#sha256:}" "podman: berth's image ID"
    fi
    timeout 60 "${PODMAN[@]}" rmi -af >/dev/null 2>&1
    if step "skopeo inspect of berth's push" skopeo inspect --tls-verify=false "docker://$pushed"; then
        expect_eq "$(jq -r .Digest "$TMP/step.log")" "$digest" "skopeo: berth's digest"
        expect_eq "$(jq -r '.Layers | length' "$TMP/step.log")" 3 "skopeo: three layers"
    fi
    if step "skopeo inspect --config" skopeo inspect --config --tls-verify=false "docker://$pushed"; then
        expect_eq "$(jq -c '[.config.Cmd, .config.WorkingDir, (.config.ExposedPorts | keys)]' "$TMP/step.log")" \
            '[["python3","app.py"],"/app",["5000/tcp"]]' "skopeo: the config"
        expect_eq "$(jq -r '.history[-1].created_by' "$TMP/step.log")" "$H_CMD" "skopeo: the history"
    fi
}

if [[ $PARTS == *[ab]* ]] && flask_build; then
    flask_run
    flask_rebuild
    flask_docker_load
    registry_start
    flask_push
fi

# ---- (c) the same Dockerfile, built by berth and by docker: the same files ---------
C=$TMP/files
mkdir -p "$C/tree/sub" "$C/tree/empty"
echo plain >"$C/tree/plain.txt"
printf '#!/bin/sh\necho exec\n' >"$C/tree/exec.sh"
echo ro >"$C/tree/ro.txt"
echo deep >"$C/tree/sub/deep.txt"
echo gone >"$C/tree/gone.txt"
head -c 200000 /dev/urandom >"$C/tree/random.bin"
echo linked >"$C/tree/hl.a"
ln "$C/tree/hl.a" "$C/tree/hl.b"
ln -s plain.txt "$C/tree/link"
ln -s ../nowhere "$C/tree/dangling"
chmod 0755 "$C/tree/exec.sh"
chmod 0400 "$C/tree/ro.txt"
chmod 0640 "$C/tree/sub/deep.txt"
chmod 0750 "$C/tree/sub"
chmod 0700 "$C/tree/empty"
chown -h 4321:4321 "$C/tree/plain.txt" "$C/tree/link"     # COPY makes them 0:0
echo secret >"$C/secret.txt"
printf '#!/bin/sh\necho hello\n' >"$C/hello.sh"
echo a=1 >"$C/app.conf"
echo b=2 >"$C/db.conf"
cat >"$C/Dockerfile" <<'EOF'
FROM debian:bookworm
COPY tree/ /srv/tree/
COPY --chown=1000:1000 tree/ /srv/owned/
COPY --chown=daemon:daemon --chmod=640 secret.txt /srv/secret/
COPY --chmod=755 hello.sh /usr/local/bin/hello
COPY *.conf /etc/app/
RUN set -e; \
    echo made >/srv/made.txt; chown 12:34 /srv/made.txt; chmod 4750 /srv/made.txt; \
    ln -s made.txt /srv/made.link; ln /srv/made.txt /srv/made.hard; \
    mkdir -m 1777 /srv/scratch; mkdir -p /srv/a/b/c; touch /srv/a/b/c/empty; \
    rm /srv/tree/gone.txt; rm -r /srv/owned/sub; chmod 600 /srv/tree/exec.sh; \
    chown -h 7:7 /srv/tree/link; \
    rm /etc/debian_version; echo changed >/etc/motd; rm -r /usr/share/doc/apt
EOF
sed "s|^FROM debian:bookworm\$|FROM $DBASE|" "$C/Dockerfile" >"$TMP/Dockerfile.docker"

same_files() {
    local d=t6300/files:$U rc
    cd "$C" || return 1
    build "berth build of the files Dockerfile" -t t6300-files .
    rc=$RC
    if [ "$rc" -eq 0 ]; then
        docker_forget "$d"
        STEP_TIMEOUT=$BUILD_TIMEOUT step "docker build of the files Dockerfile (BuildKit)" \
            env DOCKER_BUILDKIT=1 "$DOCKER" build --network host -f "$TMP/Dockerfile.docker" -t "$d" .
        rc=$?
    fi
    cd "$TMP" || return 1
    [ "$rc" -eq 0 ] || return 1
    expect_eq "$(config_of t6300-files | jq '.rootfs.diff_ids | length')" \
        "$("$DOCKER" image inspect -f '{{len .RootFS.Layers}}' "$d" 2>&1)" "as many layers as docker's build"
    bx save -o "$TMP/files-berth.tar" t6300-files
    ok "berth save t6300-files" &&
        step "docker save of its build" "$DOCKER" save -o "$TMP/files-docker.tar" "$d" &&
        unpack_saved "berth's image" "$TMP/files-berth.tar" "$TMP/u-berth" &&
        unpack_saved "docker's image" "$TMP/files-docker.tar" "$TMP/u-docker" || return 1
    timeout 60 "$DOCKER" rmi -f "$d" >/dev/null 2>&1
    fs_list "$TMP/u-berth/rootfs" >"$TMP/files-berth.list"
    fs_list "$TMP/u-docker/rootfs" >"$TMP/files-docker.list"
    rm -rf "$TMP/u-berth" "$TMP/u-berth.oci" "$TMP/u-docker" "$TMP/u-docker.oci" "$TMP"/files-*.tar
    check
    if ! diff -u "$TMP/files-docker.list" "$TMP/files-berth.list" >"$TMP/files.diff"; then
        fail "berth's and docker's builds differ (- docker, + berth; path type mode uid:gid size sha256 | -> target):
$(grep -E '^[-+]/' "$TMP/files.diff" | head -40)"
    fi
    # the listing did see what the Dockerfile made (a wrong unpack would
    # make both sides equally wrong)
    local l
    l=$(cat "$TMP/files-berth.list")
    expect_match "$l" $'(^|\n)/srv/made.txt f 4750 12:34 5 sha256:[0-9a-f]+ hardlink-to:/srv/made.hard\n' "the RUN's setuid hard link"
    expect_match "$l" $'(^|\n)/srv/owned/hl.b f 0644 1000:1000 7 sha256:[0-9a-f]+ hardlink-to:/srv/owned/hl.a\n' "COPY --chown keeps hard links"
    expect_match "$l" $'(^|\n)/srv/secret/secret.txt f 0640 1:1 7 ' "COPY --chown=daemon:daemon --chmod=640"
    expect_match "$l" $'(^|\n)/srv/tree/link l 0777 7:7 -> plain.txt\n' "a symlink chowned by RUN"
    expect_match "$l" $'(^|\n)/srv/scratch d 1777 0:0 \n' "a sticky directory"
    check
    grep -E '^/(etc/debian_version|srv/tree/gone.txt|srv/owned/sub|usr/share/doc/apt) ' "$TMP/files-berth.list" &&
        fail "a file the RUN deleted is still in berth's image"
    check
    [ "$(wc -l <"$TMP/files-berth.list")" -gt 3000 ] || fail "berth's image lists only $(wc -l <"$TMP/files-berth.list") files"
}
[[ $PARTS == *c* ]] && same_files

# ---- (d) berth commit of a running Debian container -> docker run -------------------
commit_to_docker() {
    local d=t6300/commit:$U cfg id
    bx run -d --name deb debian:bookworm sh -c 'echo added >/root/added.txt && rm /etc/debian_version && exec sleep 600'
    ok "berth run -d of a Debian container" || return 1
    for _t in $(seq 1 50); do
        timeout 10 "$BERTH" exec deb test -e /root/added.txt 2>/dev/null && break
        sleep 0.2
    done
    bx commit -a "t6300 <t6300@example.org>" -m "an added and a deleted file" \
        -c 'CMD ["cat", "/root/added.txt"]' deb t6300-commit:v1
    local committed=0
    if ok "berth commit of a running container"; then
        committed=1
        id=$(timeout 60 "$BERTH" inspect t6300-commit:v1 2>/dev/null | jq -r '.[0].Id // empty')
        expect_match "$OUT" "^$id\$" "commit prints the image ID"
        cfg=$(config_of t6300-commit:v1)
        expect_eq "$(jq '.rootfs.diff_ids | length' <<<"$cfg")" 2 "commit: the base and one layer"
        expect_eq "$(jq -c '[.author, .history[-1].comment, .config.Cmd]' <<<"$cfg")" \
            '["t6300 <t6300@example.org>","an added and a deleted file",["cat","/root/added.txt"]]' "commit: -a, -m, -c"
    fi
    bx inspect deb
    expect_eq "$(jq -r '.[0].State.Running' <<<"$OUT")" true "the container runs on after commit"
    bx rm -f deb
    ok "berth rm -f deb"
    [ "$committed" -eq 1 ] || return 1

    docker_forget "$d"
    bx tag t6300-commit:v1 "$d"
    bx save -o "$TMP/commit.tar" "$d"
    if ok "berth save of the committed image" && step "docker load of the committed image" "$DOCKER" load -i "$TMP/commit.tar"; then
        step "docker run of the committed image" "$DOCKER" run --rm --network none "$d" &&
            expect_eq "$(cat "$TMP/step.log")" added "docker runs the committed CMD and sees the added file"
        step "docker run: the deleted file" "$DOCKER" run --rm --network none "$d" \
            sh -c 'if [ -e /etc/debian_version ]; then echo present; else echo deleted; fi; head -1 /etc/os-release' &&
            expect_eq "$(cat "$TMP/step.log")" 'deleted
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"' "docker sees the deleted file gone, the rest of the base there"
    fi
    timeout 60 "$DOCKER" rmi -f "$d" >/dev/null 2>&1
    bx run --rm t6300-commit:v1
    ok "berth run of the committed image" && expect_eq "$OUT" added "berth runs the committed CMD"
}
[[ $PARTS == *d* ]] && commit_to_docker

berth_containers_gone "at the end"
finish
