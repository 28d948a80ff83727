#!/bin/bash
# t3510-build-copy: COPY and ADD in `berth build`, as docker's classic
# builder makes them. Needs root.
#
#   - owners: root by default; --chown by name (the image's /etc/passwd and
#     /etc/group) or number, the parents a COPY makes owned the same way,
#     the image's own directories left as they are; --chmod;
#   - sources: globs (Go's rules: '*' does not cross '/', dots are not
#     special), a directory's contents, several sources into a directory,
#     symlinks kept as links, hard links kept as one file, a top-level
#     symlink followed inside the context;
#   - the destination: relative to WORKDIR, "." , an image directory
#     (into it), a symlinked image directory (followed);
#   - ADD: a local tar.gz unpacked, a URL fetched from a local http server
#     (mode 0600, Last-Modified kept), a redirect followed;
#   - history: "COPY --chown=appfile:<hex> in ...", "multi:", "dir:",
#     "ADD file:";
#   - the cache: an unchanged rebuild is all cache hits, an mtime alone
#     changes nothing, new contents behind the URL miss from that step;
#   - errors as docker words them: several sources and no '/', an unknown
#     --chown user, an HTTP 404, a COPY of a URL; nothing left after.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-build.sh"

# ---- a base image and a web server -------------------------------------------------------
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/opt" "$R/usr/lib"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh ls cat stat find sort readlink; do ln -s busybox "$R/bin/$c"; done
ln -s usr/lib "$R/lib"
chmod 1777 "$R/tmp"
chmod 700 "$R/opt"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\nstaff:x:50:\napp:x:1001:\n' >"$R/etc/group"
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" cp/base:1
ok "berth import of the base rootfs" || finish

WWW=$TMP/www
mkdir -p "$WWW/dir"
echo remote >"$WWW/remote.txt"
touch -d @1500000000 "$WWW/remote.txt"
PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$WWW" "$PORT" >/dev/null 2>&1 &
WEB=$!
at_exit "kill $WEB"
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/remote.txt" && break; sleep 0.1; done

# ---- 1. a build with every kind of COPY and ADD ------------------------------------------
ctx copy
C1=$C
echo a >"$C/a.txt"
echo b >"$C/b.txt"
echo h >"$C/.hidden.txt"
printf '#!/bin/sh\necho run\n' >"$C/run.sh"
mkdir -p "$C/src/sub" "$C/links" "$C/tree/t"
echo x >"$C/src/x"
echo y >"$C/src/sub/y"
chmod 700 "$C/src"
echo data >"$C/links/f"
ln "$C/links/f" "$C/links/hard"
ln -s f "$C/links/soft"
ln -s ../a.txt "$C/toa"
echo one >"$C/tree/t/one"
tar -C "$C/tree" -czf "$C/arch.tar.gz" .
rm -rf "$C/tree"
cat >"$C/Dockerfile" <<DF
FROM cp/base:1
COPY --chown=app a.txt /n1/n2/a.txt
COPY --chown=7:staff b.txt /opt/
COPY --chmod=755 run.sh /usr/local/bin/
COPY *.txt /texts/
COPY src /app/
COPY links /links/
COPY toa /lib/x/
WORKDIR /w
COPY a.txt .
ADD arch.tar.gz /unpacked
ADD http://127.0.0.1:$PORT/remote.txt /remote/
ADD http://127.0.0.1:$PORT/dir /listing
DF
bx build -t cp:1 "$C"
ok "the build" || { echo "$OUT" >&2; finish; }
bx run --rm cp:1 sh -c 'stat -c "%n %a %u:%g" /n1 /n1/n2 /n1/n2/a.txt /opt /opt/b.txt \
    /usr/local/bin/run.sh /app /app/x /app/sub/y /w/a.txt /unpacked/t/one /remote/remote.txt'
ok "stat of what was copied"
expect_eq "$OUT" "/n1 755 1000:1001
/n1/n2 755 1000:1001
/n1/n2/a.txt 644 1000:1001
/opt 700 0:0
/opt/b.txt 644 7:50
/usr/local/bin/run.sh 755 0:0
/app 755 0:0
/app/x 644 0:0
/app/sub/y 644 0:0
/w/a.txt 644 0:0
/unpacked/t/one 644 0:0
/remote/remote.txt 600 0:0" "owners and modes:"
bx run --rm cp:1 sh -c 'cd /texts && ls -a | sort | tr "\n" " "'
expect_eq "$OUT" ". .. .hidden.txt a.txt b.txt " "COPY *.txt: dot files match, nothing else"
run_out "a symlink in a directory is a link" "f" cp:1 readlink /links/soft
run_out "a hard link in a directory is one file" "1" \
    cp:1 sh -c '[ $(stat -c %i /links/f) = $(stat -c %i /links/hard) ] && echo 1'
run_out "a top-level symlink is followed, through the image's /lib -> usr/lib" "a" \
    cp:1 cat /usr/lib/x/toa
run_out "ADD of a URL keeps Last-Modified" "1500000000" cp:1 stat -c %Y /remote/remote.txt
run_out "ADD of a URL follows a redirect" "yes" \
    cp:1 sh -c 'grep -q "Directory listing" /listing && echo yes'
run_out "COPY --chmod" "run" cp:1 /usr/local/bin/run.sh

CB=$(created_by cp:1)
expect_match "$CB" $'\n/bin/sh -c #\\(nop\\) COPY --chown=appfile:[0-9a-f]{64} in /n1/n2/a.txt \n' \
    "history: --chown as docker writes it"
expect_match "$CB" $'\n/bin/sh -c #\\(nop\\) COPY multi:[0-9a-f]{64} in /texts/ \n' "history: multi:"
expect_match "$CB" $'\n/bin/sh -c #\\(nop\\) COPY dir:[0-9a-f]{64} in /app/ \n' "history: dir:"
expect_match "$CB" $'\n/bin/sh -c #\\(nop\\) COPY file:[0-9a-f]{64} in \\. \n' "history: in . "
expect_match "$CB" $'\n/bin/sh -c #\\(nop\\) ADD file:[0-9a-f]{64} in /unpacked \n' "history: ADD"

# ---- 2. the cache -------------------------------------------------------------------------
bx build -t cp:2 "$C"
ok "a rebuild"
expect_eq "$(count '^ ---> Using cache$')" 12 "a rebuild: every step from the cache:"
touch -d @1234567890 "$C/a.txt" "$C/src/x"
bx build -t cp:2 "$C"
ok "a rebuild after touching sources"
expect_eq "$(count '^ ---> Using cache$')" 12 "mtimes alone change nothing:"
echo "remote 2" >"$WWW/remote.txt"
bx build -t cp:3 "$C"
ok "a rebuild after the URL's contents changed"
expect_eq "$(count '^ ---> Using cache$')" 10 "the ADD of the URL misses:"
run_out "the new contents" "remote 2" cp:3 cat /remote/remote.txt

# ---- 3. errors ------------------------------------------------------------------------------
ctx err
echo a >"$C/a.txt"
echo b >"$C/b.txt"
try_fail() {
    printf 'FROM cp/base:1\n%s\n' "$1" >"$C/Dockerfile"
    bx build -t fail:1 "$C"
    rc_fails "$1"
    expect_match "$ERR" "$2" "$1: the message"
    nothing_left "after $1" fail:1
}
try_fail 'COPY a.txt b.txt /nodir' \
    'When using COPY with more than one source file, the destination must be a directory and end with a /'
try_fail 'COPY --chown=nobody a.txt /x' \
    "unable to convert uid/gid chown string to host mapping: can't find uid for user nobody: no such user: nobody"
try_fail "ADD http://127.0.0.1:$PORT/missing.txt /x" \
    "ADD failed: failed to GET http://127.0.0.1:$PORT/missing.txt with status 404"
try_fail "COPY http://127.0.0.1:$PORT/remote.txt /x" "COPY failed: source can't be a URL for COPY"
try_fail 'COPY missing.txt /x' \
    'COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist'
try_fail 'COPY nomatch* /x/' 'COPY failed: no source files were specified'

# ---- the end ----------------------------------------------------------------------------------
nothing_left "at the end" fail:1
check
if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
