#!/bin/bash
# t2150-access-log: access-log lines say who made the request and from
# where, as operations.md promises.
#
# - JSON lines carry "account" (the authenticated account, "" when none)
#   and "client"; text lines end with the client and then the account,
#   when there is one.
# - Behind a trusted proxy (trusted_proxies), the client is the address
#   the proxy put in X-Forwarded-For; without trusted_proxies, the header
#   is ignored and the client is the peer.
# - A failed login logs no account (the name tried is not an account);
#   a token's account is its subject.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-ops.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT
HT=$TMP/htpasswd
printf '%s\n' alice-Log-pw | "$BERTHD" htpasswd "$HT" alice
C=$TMP/c.json
cfg() { # cfg FORMAT TRUSTED-JSON [TOKEN]
    jq -n --arg ht "$HT" --arg f "$1" --argjson tp "$2" --arg key "$TMP/key.pem" --arg tok "${3:-}" \
        '{log: {level: "info", format: $f}, trusted_proxies: $tp,
          auth: ({htpasswd: $ht, ratelimit: {attempts: 1000, window: 60}}
                 + (if $tok == "" then {} else {token: {realm: "http://127.0.0.1/auth/token", service: "reg",
                    path: "/auth/token", key: $key}} end))}' >"$C"
}
# line ID: the access line of request ID
rid() { header X-Request-Id; }
line() {
    local i
    for i in $(seq 1 50); do
        grep -F "$1" "$TMP/berthd.log" | grep -v '"msg"' | tail -1 | grep -q . && break
        sleep 0.05
    done
    grep -F "$1" "$TMP/berthd.log" | tail -1
}

# ---- JSON, behind a trusted proxy ---------------------------------------------------------
cfg json '["127.0.0.1"]'
ops_up --config "$C"
http GET /v2/ -u alice:alice-Log-pw -H 'X-Forwarded-For: 203.0.113.7'
expect_status 200 "alice through the proxy"
l=$(line "$(rid)")
expect_eq "$(jq -r .account <<<"$l")" alice "the account in the JSON line"
expect_eq "$(jq -r .client <<<"$l")" 203.0.113.7 "the client named by the trusted proxy"
http GET /v2/ -H 'X-Forwarded-For: 198.51.100.1, 203.0.113.9'
expect_status 401 "anonymous through the proxy"
l=$(line "$(rid)")
expect_eq "$(jq -r .account <<<"$l")" "" "no account for an anonymous request"
expect_eq "$(jq -r .client <<<"$l")" 203.0.113.9 "the right-most address of X-Forwarded-For"
http GET /v2/ -u mallory:guess -H 'X-Forwarded-For: 203.0.113.8'
expect_status 401 "a failed login"
l=$(line "$(rid)")
expect_eq "$(jq -r .account <<<"$l")" "" "a failed login logs no account"
check; grep -q mallory <<<"$l" && fail "the name of a failed login is in the access line"
berthd_stop

# ---- text, no trusted proxy ---------------------------------------------------------------
cfg text '[]'
n0=$(wc -l <"$TMP/berthd.log")
ops_up --config "$C"
http GET /v2/ -u alice:alice-Log-pw -H 'X-Forwarded-For: 203.0.113.7'
l=$(line "$(rid)")
expect_match "$l" ' GET /v2/ 200 [0-9]+ [0-9.]+s 127\.0\.0\.1 alice$' "the text line: client, then account"
http GET /v2/
l=$(line "$(rid)")
expect_match "$l" ' GET /v2/ 401 [0-9]+ [0-9.]+s 127\.0\.0\.1$' "the text line of an anonymous request"
check; tail -n +$((n0 + 1)) "$TMP/berthd.log" | grep -q 203.0.113 && fail "an untrusted X-Forwarded-For reached the log"
berthd_stop

# ---- a token's account ----------------------------------------------------------------------
cfg json '[]' token
ops_up --config "$C"
T=$(curl -s -u alice:alice-Log-pw "http://$REG/auth/token?service=reg&scope=repository:a/b:pull" | jq -r .token)
http GET /v2/a/b/tags/list -H "Authorization: Bearer $T"
l=$(line "$(rid)")
expect_eq "$(jq -r .account <<<"$l")" alice "the account of a token request"
finish
