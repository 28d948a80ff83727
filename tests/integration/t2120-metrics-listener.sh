#!/bin/bash
# t2120-metrics-listener: Prometheus can scrape metrics.listen while the
# registry asks for tokens.
#
# - With no credentials configured the listener is open (it is meant for a
#   private address): a plain GET /metrics is 200 although the registry is
#   in token mode.
# - metrics.token: what Prometheus's `authorization: {credentials: ...}`
#   sends (Authorization: Bearer TOKEN) is 200; none, a wrong one, or a
#   token from the registry's own token service is 401 with a Bearer
#   challenge. metrics.username/password: what `basic_auth` sends (curl -u)
#   is 200, a wrong password 401. Both configured: either works.
# - The metrics credentials open nothing on the registry's port; the
#   registry's tokens open nothing on the metrics port.
# - /healthz and /readyz stay open there; any other path is a plain 404
#   (not a registry error document).
# - A reload that changes the token takes effect at once.
# - Bad settings (short token, spaces, username without password,
#   credentials without metrics.listen) fail check-config with exit 2.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-ops.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT
TOK=prom-Scrape-Token-0123456789
TOK2=prom-Second-Token-9876543210
PW=prom-Basic-Password-42
printf '%s\n' ci-Metrics-pw | "$BERTHD" htpasswd "$TMP/htpasswd" ci
# cfg METRICS-JSON: a token-mode registry with this metrics object
cfg() {
    jq -n --arg ht "$TMP/htpasswd" --arg key "$TMP/key.pem" --arg root "$TMP/root" --argjson m "$1" \
        '{root: $root, log: {level: "info", format: "text"}, metrics: $m,
          auth: {htpasswd: $ht, token: {realm: "http://127.0.0.1/auth/token", service: "reg",
                 path: "/auth/token", key: $key},
                 access: [{account: "ci", repository: "*", actions: ["pull", "catalog"]}]}}' >"$TMP/c.json"
}
MADDR=$(ops_port)
mcode() { curl -s -o "$BODY_FILE" -D "$HDR_FILE" -w '%{http_code}' -m 10 "$@" "http://$MADDR${MPATH:-/metrics}"; }

# ---- open ------------------------------------------------------------------------------
cfg "{\"listen\": \"$MADDR\"}"
ops_up --config "$TMP/c.json"
expect_eq "$(mcode)" 200 "GET /metrics on an open metrics listener, registry in token mode"
check; scrape "$TMP/s0" --url "http://$MADDR/metrics" || fail "the open listener's metrics do not parse"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/metrics")" 401 "/metrics on the registry port still needs a login"
berthd_stop

# ---- a bearer token ------------------------------------------------------------------------
cfg "{\"listen\": \"$MADDR\", \"token\": \"$TOK\"}"
out=$("$BERTHD" check-config --config "$TMP/c.json" 2>&1)
expect_eq "$?" 0 "check-config with metrics.token ($out)"
ops_up --config "$TMP/c.json"
expect_eq "$(mcode)" 401 "no credentials"
expect_eq "$(header WWW-Authenticate)" 'Bearer realm="berthd metrics"' "the challenge"
check; grep -q '"errors"' "$BODY_FILE" && fail "the metrics listener's 401 is a registry error document"
expect_eq "$(mcode -H "Authorization: Bearer $TOK")" 200 "Authorization: Bearer TOKEN (Prometheus's authorization.credentials)"
check; grep -q '^berth_http_requests_total' "$BODY_FILE" || fail "the scrape has no berth_http_requests_total"
check; scrape "$TMP/s1" --url "http://$MADDR/metrics" -H "Authorization: Bearer $TOK" || fail "the scrape does not parse"
expect_eq "$(mcode -H "Authorization: Bearer ${TOK}x")" 401 "a longer token"
expect_eq "$(mcode -H "Authorization: Bearer ${TOK%?}")" 401 "a shorter token"
expect_eq "$(mcode -H "Authorization: Basic $(printf 'x:%s' "$TOK" | base64 -w0)")" 401 "the token as a Basic password"
expect_eq "$(mcode -u "ci:ci-Metrics-pw")" 401 "a registry account"
RT=$(curl -s -u ci:ci-Metrics-pw "http://$REG/auth/token?service=reg&scope=registry:catalog:*" | jq -r .token)
check; [ -n "$RT" ] && [ "$RT" != null ] || fail "no registry token"
expect_eq "$(mcode -H "Authorization: Bearer $RT")" 401 "a registry token on the metrics listener"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $RT" "http://$REG/metrics")" 200 \
    "the registry token on the registry's /metrics (catalog)"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "http://$REG/metrics")" 401 \
    "the metrics token on the registry's port"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "http://$REG/v2/_catalog")" 401 \
    "the metrics token opens no registry endpoint"
for p in /healthz /readyz; do
    expect_eq "$(MPATH=$p mcode)" 200 "GET $p on the metrics listener without credentials"
done
for p in /v2/ /v2/_catalog /auth/token /ui/ /nothing; do
    expect_eq "$(MPATH=$p mcode -H "Authorization: Bearer $TOK")" 404 "GET $p on the metrics listener"
    expect_match "$(header Content-Type)" '^text/plain' "GET $p on the metrics listener: a plain answer"
    check; grep -q 'NAME_UNKNOWN' "$BODY_FILE" && fail "GET $p on the metrics listener answers NAME_UNKNOWN"
done
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOK" "http://$MADDR/metrics")" 405 \
    "POST /metrics"

# a reload replaces the token at once
cfg "{\"listen\": \"$MADDR\", \"token\": \"$TOK2\"}"
n=$(log_count 'configuration reloaded')
kill -HUP "$BERTHD_PID"
check; wait_log 'configuration reloaded' $((n + 1)) || fail "no reload"
expect_eq "$(mcode -H "Authorization: Bearer $TOK")" 401 "the old token after a reload"
expect_eq "$(mcode -H "Authorization: Bearer $TOK2")" 200 "the new token after a reload"
check; grep -qF -e "$TOK" -e "$TOK2" "$TMP/berthd.log" && fail "a metrics token is in the log"
berthd_stop

# ---- Basic, and both ------------------------------------------------------------------------
cfg "{\"listen\": \"$MADDR\", \"username\": \"prometheus\", \"password\": \"$PW\", \"token\": \"$TOK\"}"
ops_up --config "$TMP/c.json"
expect_eq "$(mcode -u "prometheus:$PW")" 200 "basic_auth (curl -u prometheus:PASSWORD)"
expect_eq "$(mcode -H "Authorization: Bearer $TOK")" 200 "the token, Basic also configured"
expect_eq "$(mcode -u "prometheus:${PW}x")" 401 "a wrong password"
expect_eq "$(mcode -u "prometheus:")" 401 "an empty password"
expect_eq "$(mcode -u "prometheu:$PW")" 401 "a wrong user name"
expect_eq "$(mcode -H 'Authorization: Basic %%%%')" 401 "Basic with bad base64"
expect_eq "$(mcode -H "Authorization: Basic $(head -c 3000 /dev/zero | base64 -w0)")" 401 "Basic, a long header"
expect_eq "$(mcode)" 401 "no credentials, Basic configured"
check; grep -q '^WWW-Authenticate: Basic realm="berthd metrics"' <(tr -d '\r' <"$HDR_FILE") || fail "no Basic challenge"
check; grep -qF "$PW" "$TMP/berthd.log" && fail "the metrics password is in the log"
berthd_stop

# ---- bad settings --------------------------------------------------------------------------
bad() { # bad METRICS-JSON MESSAGE-ERE
    cfg "$1"
    local out
    out=$("$BERTHD" check-config --config "$TMP/c.json" 2>&1)
    expect_eq "$?" 2 "check-config with metrics $1: exit status"
    expect_match "$out" "$2" "check-config with metrics $1"
}
bad "{\"listen\": \"$MADDR\", \"token\": \"short\"}" 'metrics.token: must be a string of 16'
bad "{\"listen\": \"$MADDR\", \"token\": \"a token with spaces 12345\"}" 'metrics.token: printable ASCII only'
bad "{\"listen\": \"$MADDR\", \"token\": 1234567890123456}" 'metrics.token: must be a string'
bad "{\"listen\": \"$MADDR\", \"username\": \"prometheus\"}" 'username and password go together'
bad "{\"listen\": \"$MADDR\", \"username\": \"p:q\", \"password\": \"$PW\"}" "metrics.username: printable ASCII only, no spaces or ':'"
bad "{\"token\": \"$TOK\"}" 'metrics: token, username and password are for metrics.listen'
bad "{\"listen\": \"$MADDR\", \"tokens\": \"$TOK\"}" 'tokens'
finish
