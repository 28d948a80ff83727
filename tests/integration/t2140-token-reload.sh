#!/bin/bash
# t2140-token-reload: access-rule changes reach tokens issued before the
# reload, at the next request (not when the tokens expire).
#
# - ci's token for push on apps/web pushes; a reload that takes push away
#   from ci makes the same token 403 for a push, while its pull still works.
# - A token for the catalog stops listing once the rules drop catalog.
# - Removing an account from htpasswd, or changing its password, makes its
#   tokens worthless (401).
# - Rules that grow do not grow a token beyond its scope (a pull-only token
#   stays pull-only); a fresh token gets the new rights.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-ops.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT
HT=$TMP/htpasswd
printf '%s\n' ci-Tok-pw | "$BERTHD" htpasswd "$HT" ci
printf '%s\n' dev-Tok-pw | "$BERTHD" htpasswd "$HT" dev
C=$TMP/c.json
cfg() { # cfg ACCESS-JSON
    jq -n --arg ht "$HT" --arg key "$TMP/key.pem" --argjson access "$1" \
        '{log: {level: "info", format: "text"},
          auth: {htpasswd: $ht, ratelimit: {attempts: 1000, window: 60},
                 token: {realm: "http://127.0.0.1/auth/token", service: "reg", path: "/auth/token", key: $key},
                 access: $access}}' >"$C"
}
hup() {
    local n
    n=$(log_count 'configuration reloaded')
    kill -HUP "$BERTHD_PID"
    check; wait_log 'configuration reloaded' $((n + 1)) || fail "no reload: $(tail -2 "$TMP/berthd.log")"
}
token() { curl -s -u "$1" "http://$REG/auth/token?service=reg&scope=$2" | jq -r '.token // empty'; }
code() { # code TOKEN METHOD PATH [curl args]
    local t=$1 m=$2 p=$3; shift 3
    curl -s -o /dev/null -w '%{http_code}' -X "$m" -H "Authorization: Bearer $t" "$@" "http://$REG$p"
}
up() { # up TOKEN FILE: a monolithic blob push to apps/web
    code "$1" POST "/v2/apps/web/blobs/uploads/?digest=$(sha256_of "$2")" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$2"
}
FULL='[{"account": "ci", "repository": "apps/*", "actions": ["pull", "push"]},
       {"account": "*", "repository": "*", "actions": ["pull", "catalog"]}]'
NARROW='[{"account": "ci", "repository": "apps/*", "actions": ["pull"]},
         {"account": "*", "repository": "*", "actions": ["pull"]}]'
cfg "$FULL"
ops_up --config "$C"
T=$(token ci:ci-Tok-pw "repository:apps/web:pull,push")
check; [ -n "$T" ] || fail "no token for ci"
random_file "$TMP/b1" 1024
expect_eq "$(up "$T" "$TMP/b1")" 201 "ci's token pushes under the rules it was issued by"
TC=$(token dev:dev-Tok-pw "registry:catalog:*")
expect_eq "$(code "$TC" GET /v2/_catalog)" 200 "dev's catalog token"
TP=$(token dev:dev-Tok-pw "repository:apps/web:pull")

cfg "$NARROW"
hup
random_file "$TMP/b2" 1024
expect_eq "$(up "$T" "$TMP/b2")" 403 "ci's token after a reload took push away"
http HEAD "/v2/apps/web/blobs/$(sha256_of "$TMP/b2")" -H "Authorization: Bearer $(token ci:ci-Tok-pw "repository:apps/web:pull")"
expect_status 404 "nothing was stored by the refused push"
expect_eq "$(code "$T" GET "/v2/apps/web/blobs/$(sha256_of "$TMP/b1")")" 200 "ci's token still pulls (pull is still allowed)"
expect_eq "$(code "$TC" GET /v2/_catalog)" 403 "dev's catalog token after catalog was taken away"
TCP=$(token ci:ci-Tok-pw "repository:apps/web:pull")
T2=$(token ci:ci-Tok-pw "repository:apps/web:pull,push")
check; [ -n "$T2" ] || fail "no new token for ci"
expect_eq "$(up "$T2" "$TMP/b2")" 403 "a new ci token under the narrowed rules"

# rules that grow do not grow a token's scope
cfg "$FULL"
hup
expect_eq "$(code "$TCP" POST /v2/apps/web/blobs/uploads/)" 401 "ci's pull-only token asks for a push token after the rules grew"
expect_eq "$(code "$TP" POST /v2/apps/web/blobs/uploads/)" 403 "dev's token, which the rules never let push"
expect_eq "$(up "$T" "$TMP/b2")" 201 "ci's old token pushes again once the rules allow it (its scope had push)"

# a password changed
TD=$(token dev:dev-Tok-pw "repository:apps/web:pull")
expect_eq "$(code "$TD" GET "/v2/apps/web/blobs/$(sha256_of "$TMP/b1")")" 200 "dev's token before the password change"
printf '%s\n' dev-New-pw | "$BERTHD" htpasswd "$HT" dev
hup
expect_eq "$(code "$TD" GET "/v2/apps/web/blobs/$(sha256_of "$TMP/b1")")" 401 "dev's token after the password changed"
TP=$(token dev:dev-New-pw "repository:apps/web:pull")
# an account removed from htpasswd
grep -v '^ci:' "$HT" >"$HT.new" && cat "$HT.new" >"$HT"
hup
expect_eq "$(code "$T" GET "/v2/apps/web/blobs/$(sha256_of "$TMP/b1")")" 401 "the token of an account removed from htpasswd"
expect_eq "$(code "$TP" GET "/v2/apps/web/blobs/$(sha256_of "$TMP/b1")")" 200 "another account's token is unaffected"
finish
