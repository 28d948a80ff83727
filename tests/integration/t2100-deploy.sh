#!/bin/bash
# t2100-deploy: the files in deploy/ work as shipped.
#
# - deploy/berthd.service passes `systemd-analyze verify` (a copy whose
#   ExecStart names the binary under test: verify wants it to exist) and
#   keeps its hardening; `systemd-analyze security` rates it OK or better.
# - deploy/config.example.json, with its paths moved into $TMP, is accepted
#   by `berthd check-config` and served as is: HTTPS, the token service with
#   htpasswd accounts, the access rules, JSON log lines, the metrics listener.
# - deploy/nginx.conf.example, with ports and certificates moved, passes
#   `nginx -t` and proxies a registry for real: large and chunked uploads
#   stream through, the API version header comes once, and nginx's own 502
#   still carries it. (Skipped when nginx is not installed.)
# - `make install DESTDIR=… PREFIX=/usr` (and the default PREFIX) puts the
#   binaries, library, unit, sysusers file, docs, examples and man pages
#   where a packager expects them.
. "$(dirname "$0")/../lib.sh"
touch "$TMP/berthd.log"
D=$TOP/deploy
OCI_M=application/vnd.oci.image.manifest.v1+json

# ---- the systemd unit --------------------------------------------------------------
if ! command -v systemd-analyze >/dev/null; then
    echo "$T_NAME: installing Debian's systemd package for systemd-analyze" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd; } >/dev/null 2>&1
fi
check
if ! command -v systemd-analyze >/dev/null; then
    fail "systemd-analyze is not available"
else
    mkdir -p "$TMP/unit"
    sed "s|^ExecStart=/usr/local/bin/berthd |ExecStart=$BERTHD |" "$D/berthd.service" >"$TMP/unit/berthd.service"
    # --man=no: the man page is not installed on this machine
    out=$(cd "$TMP/unit" && systemd-analyze verify --man=no "$TMP/unit/berthd.service" 2>&1)
    rc=$?
    expect_eq "$rc" 0 "systemd-analyze verify exit status ($out)"
    expect_eq "$out" "" "systemd-analyze verify output"
    if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
        level=$(systemd-analyze security --offline=yes "$TMP/unit/berthd.service" 2>/dev/null |
            sed -n 's/.*Overall exposure level for berthd.service: \([0-9.]*\).*/\1/p')
        check
        awk -v l="${level:-99}" 'BEGIN { exit !(l <= 2.5) }' ||
            fail "systemd-analyze security: exposure ${level:-unknown}, expected 2.5 or less"
    fi
fi
unit_has() { check; grep -qxF -- "$1" "$D/berthd.service" || fail "berthd.service lacks '$1'"; }
unit_has 'ExecStart=/usr/local/bin/berthd serve --config /etc/berthd/config.json'
unit_has 'ExecReload=/bin/kill -HUP $MAINPID'
for l in User=berthd DynamicUser=no ProtectSystem=strict ReadWritePaths=/var/lib/berthd \
    NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes Restart=on-failure; do
    unit_has "$l"
done
check; grep -q '^LimitNOFILE=[0-9]' "$D/berthd.service" || fail "berthd.service sets no LimitNOFILE"

# ---- the install, from docs/operations.md ------------------------------------------
# The shell block of "Running it under systemd", run as written: /etc/berthd
# and /var/lib/berthd moved into $TMP, `berthd` the binary under test,
# $EDITOR a script that moves the example's ports, systemctl and journalctl
# stand-ins; then berthd is started as the unit says (its User, Group,
# UMask, WorkingDirectory and ExecStart), as the berthd user.
. "$(dirname "$0")/lib-admin.sh"
admin_user
ETC=$TMP/etc
DATA=$TMP/data
PORT=$(free_port)
REG=127.0.0.1:$PORT
MPORT=$(free_port)
mkdir -p "$TMP/bin" "$TMP/admin"
ln -s "$BERTHD" "$TMP/bin/berthd"
cat >"$TMP/bin/systemctl" <<EOF
#!/bin/sh
echo "\$*" >>"$TMP/systemctl.calls"
case "\$*" in
"reload berthd") kill -HUP "\$(cat "$TMP/berthd.pid")" ;;
esac
EOF
printf '#!/bin/sh\nexit 0\n' >"$TMP/bin/journalctl"
printf '#!/bin/sh\nexec /usr/bin/systemd-sysusers "%s" "$@"\n' "$D/berthd.sysusers" >"$TMP/bin/systemd-sysusers"
cat >"$TMP/bin/edit-config" <<EOF
#!/bin/sh
jq --arg etc "$ETC" --arg data "$DATA" --arg listen "$REG" --arg mlisten "127.0.0.1:$MPORT" '
    walk(if type == "string" then sub("^/etc/berthd"; \$etc) | sub("^/var/lib/berthd"; \$data) else . end)
    | .listen = \$listen | .metrics.listen = \$mlisten' "\$1" >"\$1.new" &&
    cat "\$1.new" >"\$1" && rm "\$1.new"
EOF
chmod +x "$TMP/bin/"*
# what the administrator brings: a certificate and its key
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/admin/privkey.pem" -out "$TMP/admin/fullchain.pem" 2>/dev/null ||
    { echo "$T_NAME: openssl could not make a test certificate" >&2; exit 1; }
export EDITOR=$TMP/bin/edit-config PASSWORD=admin-Dep-pw
doc_run operations.md "Running it under systemd"
expect_eq "$?" 0 "the install commands of operations.md, as written ($(tail -3 "$TMP/doc.out"))"
check; grep -qx 'enable --now berthd' "$TMP/systemctl.calls" 2>/dev/null || fail "the install commands do not enable berthd"
expect_eq "$(tail -1 "$TMP/doc.out")" "configuration ok" "the documented check-config's last line"
for f in "$ETC/config.json" "$ETC/htpasswd" "$ETC/token-key.pem" "$ETC/tls/fullchain.pem" "$ETC/tls/privkey.pem"; do
    expect_eq "$(stat -c '%U:%G %a' "$f" 2>/dev/null)" "root:berthd 640" "after the install commands: $f"
    check; as_berthd cat "$f" >/dev/null 2>&1 || fail "the berthd user cannot read $f"
done
expect_eq "$(stat -c '%U:%G %a' "$ETC/tls" 2>/dev/null)" "root:berthd 750" "after the install commands: $ETC/tls"

# the unit's way of starting it
unit() { sed -n "s/^$1=//p" "$D/berthd.service" | tail -1; }
install -d -m "$(unit StateDirectoryMode)" -o "$(unit User)" -g "$(unit Group)" "$DATA"
exec_start=$(unit ExecStart | sed -e "s|^/usr/local/bin/berthd|$BERTHD|" -e "s|/etc/berthd|$ETC|g")
(cd "$DATA" && umask "$(unit UMask)" &&
    exec setpriv --reuid="$(unit User)" --regid="$(unit Group)" --init-groups -- $exec_start) >>"$TMP/berthd.log" 2>&1 &
BERTHD_PID=$!
echo "$BERTHD_PID" >"$TMP/berthd.pid"
at_exit "kill $BERTHD_PID; wait $BERTHD_PID"
CA=(--cacert "$ETC/tls/fullchain.pem")
up=
for i in $(seq 1 100); do
    code=$(curl -s "${CA[@]}" -o /dev/null -w '%{http_code}' "https://$REG/v2/")
    [ "$code" = 401 ] && { up=1; break; }
    kill -0 "$BERTHD_PID" 2>/dev/null || break
    sleep 0.05
done
check
if [ -z "$up" ]; then
    fail "berthd did not serve HTTPS with the example config: $(tail -5 "$TMP/berthd.log")"
else
    hs() { # hs METHOD URL [curl args]: over HTTPS, checked with the test CA
        local method=$1 url=$2; shift 2
        : >"$BODY_FILE"; : >"$HDR_FILE"
        STATUS=$(curl -sS "${CA[@]}" -o "$BODY_FILE" -D "$HDR_FILE" -w '%{http_code}' -X "$method" "$@" "$url") || STATUS=000
    }
    token() { # token USER:PASS SCOPE: the built-in token service
        curl -sS "${CA[@]}" -u "$1" "https://$REG/auth/token?service=registry.example.com&scope=$2" | jq -r '.token // empty'
    }
    hs GET "https://$REG/v2/"
    expect_status 401 "GET /v2/ without a token"
    expect_eq "$(header WWW-Authenticate)" \
        'Bearer realm="https://registry.example.com:5000/auth/token",service="registry.example.com"' "the challenge"
    # more accounts, as operations.md says: berthd htpasswd as root, then a reload
    for u in ci dev; do
        n=$(grep -c 'configuration reloaded' "$TMP/berthd.log")
        PASSWORD=$u-Dep-pw
        doc_block operations.md "Running it under systemd" 2 | sed "s/ ci\$/ $u/" | doc_run -
        expect_eq "$?" 0 "operations.md's commands to add $u ($(tail -3 "$TMP/doc.out"))"
        for i in $(seq 1 100); do
            [ "$(grep -c 'configuration reloaded' "$TMP/berthd.log")" -gt "$n" ] && break
            sleep 0.05
        done
        check; [ "$(grep -c 'configuration reloaded' "$TMP/berthd.log")" -gt "$n" ] ||
            fail "no reload after $u was added: $(tail -2 "$TMP/berthd.log")"
    done
    T=$(token ci:ci-Dep-pw "repository:apps/web:pull,push")

    check; [ -n "$T" ] || fail "no token for ci"
    random_file "$TMP/blob" 4096
    d=$(sha256_of "$TMP/blob")
    hs POST "https://$REG/v2/apps/web/blobs/uploads/?digest=$d" -H "Authorization: Bearer $T" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/blob"
    expect_status 201 "ci pushes to apps/*"
    T=$(token ci:ci-Dep-pw "repository:base/os:pull,push")
    hs POST "https://$REG/v2/base/os/blobs/uploads/?digest=$d" -H "Authorization: Bearer $T" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/blob"
    expect_status 403 "ci may not push outside apps/*"
    T=$(token dev:dev-Dep-pw "repository:apps/web:pull")
    hs GET "https://$REG/v2/apps/web/blobs/$d" -H "Authorization: Bearer $T"
    expect_status 200 "any account pulls"
    T=$(token dev:dev-Dep-pw "registry:catalog:*")
    hs GET "https://$REG/v2/_catalog" -H "Authorization: Bearer $T"
    expect_eq "$(jq -c .repositories "$BODY_FILE")" '["apps/web"]' "the catalog"
    hs GET "https://$REG/ui/"
    expect_status 200 "the web UI"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/healthz")
    expect_eq "$code" 200 "the metrics listener answers /healthz"
    check; grep -v '^$' "$TMP/berthd.log" | while IFS= read -r l; do jq -e 'type == "object"' <<<"$l" >/dev/null 2>&1 || echo "$l"; done \
        >"$TMP/notjson"; [ -s "$TMP/notjson" ] && fail "log lines that are not JSON: $(head -3 "$TMP/notjson")"
    check; grep -q 'Dep-pw' "$TMP/berthd.log" && fail "a password is in the log"
fi
berthd_stop
expect_eq "$?" 0 "berthd's exit status on SIGTERM"

# ---- the nginx example ----------------------------------------------------------------
if ! command -v nginx >/dev/null; then
    echo "$T_NAME: nginx is not installed: the nginx example is not checked (make test-deps installs it)" >&2
else
    NG=$TMP/nginx
    mkdir -p "$NG/logs"
    ROOT=$TMP/plain berthd_start          # plain HTTP on $REG, as behind a proxy
    HPORT=$(free_port)
    SPORT=$(free_port)
    sed -e "s|server 127.0.0.1:5000;|server $REG;|" \
        -e "s|^\( *\)listen 80;|\1listen 127.0.0.1:$HPORT;|" -e "s|^\( *\)listen 443 ssl http2;|\1listen 127.0.0.1:$SPORT ssl http2;|" \
        -e '/listen \[::\]/d' \
        -e "s|/etc/letsencrypt/live/registry.example.com/fullchain.pem|$ETC/tls/fullchain.pem|" \
        -e "s|/etc/letsencrypt/live/registry.example.com/privkey.pem|$ETC/tls/privkey.pem|" \
        "$D/nginx.conf.example" >"$NG/berthd.conf"
    check; grep -v '^ *#' "$NG/berthd.conf" | grep -qE '127\.0\.0\.1:5000|listen (80|443)|letsencrypt' &&
        fail "the test did not move every port or path of the nginx example"
    cat >"$NG/nginx.conf" <<EOF
daemon off;
pid $NG/nginx.pid;
error_log $NG/logs/error.log;
events { worker_connections 64; }
http {
    access_log $NG/logs/access.log;
    client_body_temp_path $NG/body;
    proxy_temp_path $NG/proxy;
    fastcgi_temp_path $NG/fastcgi;
    uwsgi_temp_path $NG/uwsgi;
    scgi_temp_path $NG/scgi;
    include $NG/berthd.conf;
}
EOF
    out=$(nginx -t -q -p "$NG" -e "$NG/logs/error.log" -c "$NG/nginx.conf" 2>&1)
    expect_eq "$?" 0 "nginx -t on the example ($out)"
    nginx -p "$NG" -e "$NG/logs/error.log" -c "$NG/nginx.conf" >>"$TMP/nginx.out" 2>&1 &
    NGINX_PID=$!
    at_exit "kill $NGINX_PID; wait $NGINX_PID"
    P=https://127.0.0.1:$SPORT
    for i in $(seq 1 100); do
        curl -s "${CA[@]}" -o /dev/null "$P/v2/" && break
        sleep 0.05
    done
    hp() { # hp METHOD PATH [curl args]: through nginx
        local method=$1 path=$2; shift 2
        : >"$BODY_FILE"; : >"$HDR_FILE"
        STATUS=$(curl -sS "${CA[@]}" -o "$BODY_FILE" -D "$HDR_FILE" -w '%{http_code}' -X "$method" "$@" "$P$path") || STATUS=000
    }
    hp GET /v2/
    expect_status 200 "GET /v2/ through nginx"
    expect_eq "$(grep -ci '^Docker-Distribution-Api-Version:' "$HDR_FILE")" 1 "API version headers through nginx"
    expect_eq "$(header Docker-Distribution-Api-Version)" registry/2.0 "the API version through nginx"
    # 24 MiB in one POST: nginx's default 1 MiB body limit is off
    random_file "$TMP/big" $((24 << 20))
    big=$(sha256_of "$TMP/big")
    hp POST "/v2/px/a/blobs/uploads/?digest=$big" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/big"
    expect_status 201 "a 24 MiB monolithic upload through nginx"
    # a chunked PATCH (no Content-Length) streams through to berthd
    random_file "$TMP/chunk" $((3 << 20))
    ch=$(sha256_of "$TMP/chunk")
    hp POST /v2/px/a/blobs/uploads/
    expect_status 202 "upload start through nginx"
    loc=$(location)
    hp PATCH "$loc" -H 'Content-Type: application/octet-stream' -H 'Transfer-Encoding: chunked' -T - <"$TMP/chunk"
    expect_status 202 "a chunked PATCH through nginx"
    loc=$(location)
    sep='?'; [[ $loc == *\?* ]] && sep='&'
    hp PUT "$loc${sep}digest=$ch"
    expect_status 201 "upload completion through nginx"
    check; curl -sS "${CA[@]}" "$P/v2/px/a/blobs/$big" | cmp -s - "$TMP/big" || fail "the 24 MiB blob read back through nginx differs"
    check; curl -sS "${CA[@]}" "$P/v2/px/a/blobs/$ch" | cmp -s - "$TMP/chunk" || fail "the chunked blob read back through nginx differs"
    code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$HPORT/v2/")
    expect_eq "$code" "301 https://127.0.0.1/v2/" "plain HTTP is redirected to HTTPS"
    berthd_stop
    expect_eq "$?" 0 "berthd's exit status on SIGTERM"
    hp GET /v2/
    expect_status 502 "nginx answers for a stopped berthd"
    expect_eq "$(header Docker-Distribution-Api-Version)" registry/2.0 "the API version on nginx's own 502"
    kill "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
fi

# ---- make install ----------------------------------------------------------------------
# The same build as the binary under test (an ASan run installs build-asan).
san=()
case $BERTHD in */build-asan/*) san=(SANITIZE=1) ;; esac
inst() { # inst DESTDIR [make args]
    local dest=$1; shift
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$TOP" install \
        DESTDIR="$dest" "${san[@]}" "$@" >"$TMP/install.log" 2>&1
}
inst "$TMP/inst" PREFIX=/usr
expect_eq "$?" 0 "make install DESTDIR=… PREFIX=/usr ($(tail -3 "$TMP/install.log"))"
I=$TMP/inst
for f in usr/bin/berthd usr/bin/berth; do
    check; [ -x "$I/$f" ] || fail "make install: no executable $f"
done
for f in usr/lib/libberth.so.1 usr/lib/libberth.a usr/include/berth.h \
    lib/systemd/system/berthd.service usr/lib/sysusers.d/berthd.conf \
    usr/share/doc/berth/config.example.json usr/share/doc/berth/nginx.conf.example \
    usr/share/doc/berth/operations.md usr/share/doc/berth/configuration.md usr/share/doc/berth/README.md usr/share/doc/berth/CHANGELOG.md \
    usr/share/man/man8/berthd.8 usr/share/man/man1/berth.1; do
    check; [ -f "$I/$f" ] || fail "make install: no $f"
done
expect_eq "$(grep '^ExecStart=' "$I/lib/systemd/system/berthd.service" 2>/dev/null)" \
    'ExecStart=/usr/bin/berthd serve --config /etc/berthd/config.json' "the installed unit's ExecStart"
expect_eq "$(stat -c %a "$I/lib/systemd/system/berthd.service" 2>/dev/null)" 644 "the installed unit's mode"
check; cmp -s "$I/usr/share/doc/berth/config.example.json" "$D/config.example.json" || fail "installed config.example.json differs"
check; find "$I" -path "$I/usr" -prune -o -path "$I/lib" -prune -o -print | grep -qv "^$I\$" &&
    fail "make install wrote outside usr/ and lib/: $(find "$I" -mindepth 1 -maxdepth 1 | grep -v -e /usr -e /lib)"
inst "$TMP/inst2"
expect_eq "$?" 0 "make install DESTDIR=… with the default PREFIX ($(tail -3 "$TMP/install.log"))"
expect_eq "$(grep '^ExecStart=' "$TMP/inst2/usr/local/lib/systemd/system/berthd.service" 2>/dev/null)" \
    'ExecStart=/usr/local/bin/berthd serve --config /etc/berthd/config.json' "the unit under /usr/local"
check; [ -f "$TMP/inst2/usr/local/share/man/man8/berthd.8" ] || fail "no berthd.8 under /usr/local/share/man"
finish
