#!/bin/bash
# t2110-admin-files: the files an administrator makes as root stay usable
# by the service user, and check-config says what that user cannot use.
#
# - `berthd htpasswd FILE USER` run as root keeps an existing file's owner,
#   group and mode; a new file is 0640 in its directory's group; berthd
#   running as the berthd user reloads it after each change, and a user
#   added as root logs in.
# - `check-config --user berthd` reads everything as berthd: a token key,
#   TLS key or htpasswd file it cannot read is named with "Permission
#   denied" (never "cannot create"), exit 2; check-config never creates
#   the token key; as root without --user it says how to check as berthd.
# - listen / metrics.listen that serve would refuse (a port out of range,
#   a host name, the same address twice) fail check-config and serve
#   alike, with exit 2 and the same message; so does --listen.
# - berthd --version / berth --version print the build's `git describe`,
#   the start-up line and /v2/'s Berth-Version header carry it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-admin.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT
touch "$TMP/berthd.log"
admin_user
ETC=$TMP/etc
install -d -m 0750 -g berthd "$ETC" "$ETC/tls"
own() { stat -c '%U:%G %a' "$1" 2>/dev/null; }
add_user() { printf '%s\n' "$3" | "$BERTHD" htpasswd "$1" "$2"; }

# ---- htpasswd as root ---------------------------------------------------------
add_user "$ETC/htpasswd" admin admin-pw-1
expect_eq "$?" 0 "berthd htpasswd makes a new file"
expect_eq "$(own "$ETC/htpasswd")" "root:berthd 640" "a new htpasswd file: owner, group, mode"
check; as_berthd cat "$ETC/htpasswd" >/dev/null 2>&1 || fail "berthd cannot read a new htpasswd file"
chown berthd:berthd "$ETC/htpasswd"; chmod 0600 "$ETC/htpasswd"
add_user "$ETC/htpasswd" dev dev-pw-2
expect_eq "$(own "$ETC/htpasswd")" "berthd:berthd 600" "root rewrote a berthd:berthd 0600 file"
chown root:berthd "$ETC/htpasswd"; chmod 0640 "$ETC/htpasswd"
add_user "$ETC/htpasswd" admin admin-pw-1b
expect_eq "$(own "$ETC/htpasswd")" "root:berthd 640" "root rewrote a root:berthd 0640 file"
check; ls "$ETC" | grep -q '\.tmp\.' && fail "a temporary file was left in $ETC"
# bad input changes nothing
cp "$ETC/htpasswd" "$TMP/ht.before"
printf '%s\n' pw | "$BERTHD" htpasswd "$ETC/htpasswd" 'a:b' 2>"$TMP/err"
expect_eq "$?" 1 "htpasswd with a ':' in the user name: exit status"
check; cmp -s "$TMP/ht.before" "$ETC/htpasswd" || fail "a refused htpasswd call changed the file"
expect_eq "$(own "$ETC/htpasswd")" "root:berthd 640" "a refused call left owner and mode"

# berthd as the service user, then root adds a user and reloads
DATA=$TMP/data
install -d -m 0750 -o berthd -g berthd "$DATA"
PORT=$(free_port); REG=127.0.0.1:$PORT
jq -n --arg ht "$ETC/htpasswd" --arg root "$DATA" --arg listen "$REG" \
    '{listen: $listen, root: $root, log: {level: "info", format: "text"}, auth: {htpasswd: $ht}}' >"$ETC/config.json"
chgrp berthd "$ETC/config.json"; chmod 0640 "$ETC/config.json"
"${AS_BERTHD[@]}" "$BERTHD" serve --config "$ETC/config.json" >>"$TMP/berthd.log" 2>&1 &
BERTHD_PID=$!
at_exit "kill $BERTHD_PID; wait $BERTHD_PID"
for i in $(seq 1 100); do
    curl -s -o /dev/null "http://$REG/v2/" && break
    sleep 0.05
done
st() { curl -s -o /dev/null -m 10 -w '%{http_code}' -u "$1" "http://$REG/v2/"; }
expect_eq "$(st admin:admin-pw-1b)" 200 "admin logs in to berthd running as berthd"
add_user "$ETC/htpasswd" ci ci-pw-3
n=$(grep -c 'configuration reloaded' "$TMP/berthd.log")
kill -HUP "$BERTHD_PID"
for i in $(seq 1 100); do
    [ "$(grep -c 'configuration reloaded' "$TMP/berthd.log")" -gt "$n" ] && break
    grep -q 'reload refused' "$TMP/berthd.log" && break
    sleep 0.05
done
check; grep -q 'reload refused' "$TMP/berthd.log" && fail "the reload after root's htpasswd was refused: $(grep 'reload refused' "$TMP/berthd.log")"
expect_eq "$(st ci:ci-pw-3)" 200 "a user root added logs in after the reload"
expect_eq "$(st admin:admin-pw-1b)" 200 "admin still logs in after the reload"
expect_eq "$(stat -c %U "$DATA/metadata.db" 2>/dev/null)" berthd "the metadata belongs to berthd"
berthd_stop
expect_eq "$?" 0 "berthd's exit status on SIGTERM"

# ---- check-config as the service user -------------------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ETC/token-key.pem" 2>/dev/null
chmod 0600 "$ETC/token-key.pem"
jq --arg key "$ETC/token-key.pem" '.auth.token = {realm: "https://127.0.0.1/auth/token", key: $key, path: "/auth/token"}' \
    "$ETC/config.json" >"$ETC/c2" && cat "$ETC/c2" >"$ETC/config.json" && rm "$ETC/c2"
out=$("$BERTHD" check-config --user berthd --config "$ETC/config.json" 2>&1)
expect_eq "$?" 2 "check-config --user berthd with a root-only token key: exit status"
expect_eq "$out" "berthd: auth.token.key: cannot read $ETC/token-key.pem: Permission denied" \
    "check-config --user berthd with a root-only token key"
out=$("$BERTHD" check-config --config "$ETC/config.json" 2>&1)
expect_eq "$?" 0 "check-config as root: exit status"
expect_match "$out" "--user berthd" "check-config as root says how to check as the service user"
chgrp berthd "$ETC/token-key.pem"; chmod 0640 "$ETC/token-key.pem"
out=$("$BERTHD" check-config --user berthd --config "$ETC/config.json" 2>&1)
expect_eq "$?" 0 "check-config --user berthd once the key is readable ($out)"
expect_eq "$out" "configuration ok" "check-config --user berthd's output"
# the same as serve: berthd starts as berthd with this configuration
# a missing key: check-config does not create it, and says berthd cannot
mv "$ETC/token-key.pem" "$TMP/key.saved"
out=$("$BERTHD" check-config --user berthd --config "$ETC/config.json" 2>&1)
expect_eq "$?" 2 "check-config --user berthd, no key and /etc read-only to berthd: exit status"
expect_match "$out" "token-key.pem does not exist and cannot be created.*openssl genpkey" \
    "check-config --user berthd, no key"
"$BERTHD" check-config --config "$ETC/config.json" >/dev/null 2>&1
check; [ -e "$ETC/token-key.pem" ] && fail "check-config created the token key"
mv "$TMP/key.saved" "$ETC/token-key.pem"
# TLS: a key only root reads
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$ETC/tls/privkey.pem" -out "$ETC/tls/fullchain.pem" 2>/dev/null
chmod 0600 "$ETC/tls/privkey.pem"
jq --arg c "$ETC/tls/fullchain.pem" --arg k "$ETC/tls/privkey.pem" '.tls = {cert: $c, key: $k}' \
    "$ETC/config.json" >"$ETC/c2" && cat "$ETC/c2" >"$ETC/config.json" && rm "$ETC/c2"
out=$("$BERTHD" check-config --user berthd --config "$ETC/config.json" 2>&1)
expect_eq "$?" 2 "check-config --user berthd, a root-only TLS key: exit status"
expect_eq "$out" "berthd: tls.key: cannot read $ETC/tls/privkey.pem: Permission denied" \
    "check-config --user berthd, a root-only TLS key"
chgrp berthd "$ETC/tls/privkey.pem"; chmod 0640 "$ETC/tls/privkey.pem"
# the htpasswd file
chmod 0600 "$ETC/htpasswd"
out=$("$BERTHD" check-config --user berthd --config "$ETC/config.json" 2>&1)
expect_eq "$?" 2 "check-config --user berthd, a root-only htpasswd: exit status"
expect_match "$out" "htpasswd: Permission denied" "check-config --user berthd, a root-only htpasswd"
chmod 0640 "$ETC/htpasswd"
# the configuration itself, and the data directory
chmod 0600 "$ETC/config.json"
out=$("$BERTHD" check-config --user berthd --config "$ETC/config.json" 2>&1)
expect_eq "$?" 2 "check-config --user berthd, a root-only config.json: exit status"
expect_match "$out" "config.json.*Permission denied" "check-config --user berthd, a root-only config.json"
chmod 0640 "$ETC/config.json"
chown root:root "$DATA"
out=$("$BERTHD" check-config --user berthd --config "$ETC/config.json" 2>&1)
expect_eq "$?" 2 "check-config --user berthd, a data directory of root's: exit status"
expect_match "$out" "root: $DATA is not a directory berthd may write to" "check-config --user berthd, root's data directory"
chown berthd:berthd "$DATA"
out=$("$BERTHD" check-config --user berthd --config "$ETC/config.json" 2>&1)
expect_eq "$out" "configuration ok" "check-config --user berthd with everything readable"
out=$("$BERTHD" check-config --user nosuchuser-x --config "$ETC/config.json" 2>&1)
expect_eq "$?" 2 "check-config --user with an unknown user: exit status"
expect_eq "$out" "berthd: --user: no user 'nosuchuser-x'" "check-config --user with an unknown user"
out=$("$BERTHD" serve --user berthd --config "$ETC/config.json" 2>&1)
expect_eq "$?" 2 "serve --user: exit status"

# ---- listen addresses: check-config and serve agree ----------------------------------
for l in 127.0.0.1:99999 127.0.0.1:0 127.0.0.1: localhost:5000 127.0.0.1:-1 '[::1]:70000' 127.0.0.1:5x; do
    jq -n --arg l "$l" '{listen: $l, root: "'"$TMP/r2"'"}' >"$TMP/l.json"
    out=$("$BERTHD" check-config --config "$TMP/l.json" 2>&1)
    expect_eq "$?" 2 "check-config with listen $l: exit status"
    expect_eq "$out" "berthd: listen: '$l' is not ADDR:PORT (an IPv4 address or [IPv6], a port 1-65535)" \
        "check-config with listen $l"
    out2=$(timeout 10 "$BERTHD" serve --config "$TMP/l.json" 2>&1)
    expect_eq "$?" 2 "serve with listen $l: exit status"
    expect_eq "$out2" "$out" "serve's message for listen $l"
done
jq -n '{listen: "127.0.0.1:5000", metrics: {listen: "127.0.0.1:65536"}}' >"$TMP/l.json"
out=$("$BERTHD" check-config --config "$TMP/l.json" 2>&1)
expect_eq "$?" 2 "check-config with metrics.listen 127.0.0.1:65536: exit status"
expect_match "$out" "metrics.listen: '127.0.0.1:65536' is not ADDR:PORT" "check-config with a bad metrics.listen"
jq -n '{listen: "127.0.0.1:5000", metrics: {listen: "127.0.0.1:5000"}}' >"$TMP/l.json"
out=$("$BERTHD" check-config --config "$TMP/l.json" 2>&1)
expect_eq "$?" 2 "check-config with metrics.listen = listen: exit status"
out=$(timeout 10 "$BERTHD" serve --listen 127.0.0.1:99999 --root "$TMP/r3" 2>&1)
expect_eq "$?" 2 "serve --listen 127.0.0.1:99999: exit status"
expect_eq "$out" "berthd: listen: '127.0.0.1:99999' is not ADDR:PORT (an IPv4 address or [IPv6], a port 1-65535)" \
    "serve --listen 127.0.0.1:99999"
check; [ -e "$TMP/r3" ] && fail "serve with a bad --listen created its data directory"

# ---- versions -------------------------------------------------------------------------
want=$(git -C "$TOP" describe --always --dirty 2>/dev/null)
v=$("$BERTHD" --version)
expect_eq "$?" 0 "berthd --version: exit status"
check; [ -n "$want" ] && [ "$v" != "berthd $want" ] && ! [[ $v == "berthd ${want%-dirty}"* ]] &&
    fail "berthd --version says '$v', the checkout is '$want'"
expect_match "$v" '^berthd [0-9a-z.+-]+$' "berthd --version"
expect_eq "$("$BERTHD" serve --version)" "$v" "berthd serve --version"
BERTH=$(dirname "$BERTHD")/berth
expect_eq "$("$BERTH" --version)" "berth version ${v#berthd }" "berth --version"
ROOT=$TMP/v berthd_start
http GET /v2/
expect_eq "$(header Berth-Version)" "${v#berthd }" "/v2/'s Berth-Version header"
check; grep -q "berthd ${v#berthd } serving" "$TMP/berthd.log" || fail "the start-up line has no version: $(grep serving "$TMP/berthd.log" | tail -1)"
# the docs: the man page's synopsis and the changelog name what is there
check; grep -q 'check\\-config' "$TOP/deploy/man/berthd.8" || fail "berthd.8 does not name check-config"
check; grep -q '^## ' "$TOP/CHANGELOG.md" || fail "CHANGELOG.md has no release entry"
fallback=$(sed -n 's/^#define BERTH_VERSION "\(.*\)"$/\1/p' "$TOP/common/version.h")
check; grep -q "^## $fallback" "$TOP/CHANGELOG.md" || fail "CHANGELOG.md's entries do not name the fallback version $fallback"
finish
