#!/bin/bash
# t2030-logs: every response carries X-Request-Id, unique (across requests,
# on one keep-alive connection, under concurrency and across a restart), and
# the access-log line of that request carries the same id with its method,
# path (no query string), status, bytes and duration, in text and in JSON
# (log.format json: every line a JSON object; access lines with time, level,
# request_id, method, path, status, bytes, bytes_in, bytes_out, duration,
# client, account; text lines end with the client address and the account,
# if any);
# Basic credentials (good and bad), bearer tokens (valid and bogus), and the
# password and refresh token of token POSTs never reach the log, at level
# debug, in either format.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-ops.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT
OCI_M=application/vnd.oci.image.manifest.v1+json
IDS=$TMP/ids            # every id seen: "id method path status bytes"
: >"$IDS"

# rq METHOD PATH [curl args]: a request; records its id, sets RID and STATUS
rq() {
    http "$@"
    RID=$(header X-Request-Id)
    check
    if [ -z "$RID" ]; then
        fail "no X-Request-Id on $1 $2 ($STATUS)"
        return
    fi
    local path=${2%%\?*}
    echo "$RID $1 $path $STATUS $(size_of "$BODY_FILE")" >>"$IDS"
}

# ---- text format ------------------------------------------------------------
ops_up
random_file "$TMP/blob" 4321
d=$(sha256_of "$TMP/blob")
rq GET /v2/
rq HEAD /v2/
rq GET /healthz
rq GET /readyz
rq GET /metrics
rq DELETE /metrics
rq GET /v2/logs/app/manifests/nope
rq GET /no/such/thing
rq POST "/v2/logs/app/blobs/uploads/?digest=$d" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/blob"
up_id=$RID
rq GET "/v2/logs/app/blobs/$d"
get_id=$RID
rq HEAD "/v2/logs/app/blobs/$d"
head_blob_id=$RID
rq HEAD /v2/
head_base_id=$RID
rq GET "/v2/logs/app/tags/list?n=1&last=query-secret-zz"
rq PUT /v2/Bad..Name/manifests/x -H "Content-Type: $OCI_M" --data-binary @"$TMP/blob"
rq POST "/v2/logs/app/blobs/uploads/?digest=sha256:$(printf '%064d' 1)" --data-binary @"$TMP/blob"
rq POST /v2/logs/app/blobs/uploads/
rq PATCH "$(location)" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/blob"
rq OPTIONS /v2/
rq GET /ui/

# check_text_line ID METHOD PATH STATUS: the one access line of request ID
check_text_line() {
    local n line
    wait_log "$1" 1
    n=$(id_lines "$1" | wc -l)
    expect_eq "$n" 1 "log lines with request id $1 ($2 $3)"
    line=$(id_lines "$1" | head -1)
    expect_match "$line" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z info +$1 $2 $(sed 's/[][\.*^$?+(){}|/]/\\&/g' <<<"$3") $4 [0-9]+ [0-9]+(\.[0-9]+)?s 127\.0\.0\.1( [^ ]+)?$" \
        "access line of $2 $3"
}
while read -r id m p s b; do
    check_text_line "$id" "$m" "$p" "$s"
done <"$IDS"
expect_eq "$(id_lines "$up_id" | awk '{print $7}')" 4321 "bytes in the access line of a 4321-byte upload"
expect_eq "$(id_lines "$get_id" | awk '{print $7}')" 4321 "bytes in the access line of a 4321-byte download"
# a HEAD answer has no body: no body bytes to log (or count in
# berth_http_response_bytes_total)
expect_eq "$(id_lines "$head_blob_id" | awk '{print $7}')" 0 "bytes in the access line of HEAD on a blob"
expect_eq "$(id_lines "$head_base_id" | awk '{print $7}')" 0 "bytes in the access line of HEAD /v2/"
expect_eq "$(grep -c 'query-secret-zz' "$TMP/berthd.log")" 0 "query strings in the log"

# one keep-alive connection, two requests: two ids
curl -s -o /dev/null -o /dev/null -D "$TMP/ka.h" "http://$REG/v2/" "http://$REG/healthz" 2>"$TMP/ka.err"
mapfile -t ka < <(grep -i '^X-Request-Id:' "$TMP/ka.h" | cut -d' ' -f2 | tr -d '\r')
expect_eq "${#ka[@]}" 2 "X-Request-Id headers on one keep-alive connection"
expect_ne "${ka[0]:-}" "${ka[1]:-x}" "ids on one keep-alive connection"
for id in "${ka[@]}"; do echo "$id GET ka 200 0" >>"$IDS"; done
[ "${#ka[@]}" -eq 2 ] && { check_text_line "${ka[0]}" GET /v2/ 200; check_text_line "${ka[1]}" GET /healthz 200; }

# 40 at once
seq 1 40 | xargs -P 20 -I{} curl -s -o /dev/null -D "$TMP/par.{}" "http://$REG/v2/logs/app/manifests/par{}"
for i in $(seq 1 40); do
    id=$(grep -i '^X-Request-Id:' "$TMP/par.$i" | cut -d' ' -f2 | tr -d '\r')
    check; [ -n "$id" ] || { fail "no X-Request-Id on concurrent request $i"; continue; }
    echo "$id GET par 404 0" >>"$IDS"
    check_text_line "$id" GET "/v2/logs/app/manifests/par$i" 404
done

# a restart: the new process's ids do not repeat the old ones
berthd_stop; expect_eq "$?" 0 "berthd exit status on SIGTERM"
REG=
ops_up
for i in 1 2 3; do rq GET /v2/; check_text_line "$RID" GET /v2/ 200; done
expect_eq "$(awk '{print $1}' "$IDS" | sort | uniq -d | head -3 | tr '\n' ' ')" "" "request ids seen twice"
expect_eq "$(awk '{print $1}' "$IDS" | sort -u | wc -l)" "$(wc -l <"$IDS")" "distinct request ids"
berthd_stop; expect_eq "$?" 0 "berthd exit status on SIGTERM"

# ---- auth, token service and secrets, in JSON and in text, at level debug --------
HT=$TMP/htpasswd
PW='Pw-of-Alice-7f3e'
BAD_PW='Wrong-Basic-Pw-91ac'
BAD_FORM_PW='Wrong-Form-Pw-55d2'
BOGUS='eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJib2d1cyJ9.bogus-signature-c0ffee'
printf '%s\n' "$PW" | "$BERTHD" htpasswd "$HT" alice
SECRETS=("$PW" "$BAD_PW" "$BAD_FORM_PW" "$BOGUS"
         "$(printf 'alice:%s' "$PW" | base64 -w0)" "$(printf 'alice:%s' "$BAD_PW" | base64 -w0)")
secret_traffic() { # with $REG up; appends the tokens it got to SECRETS
    local svc=berth-logs scope=repository:logs/app:pull,push tok tok2 ref tok3
    rq GET /v2/ -u "alice:$PW"
    rq GET /v2/ -u "alice:$BAD_PW"
    expect_status 401 "Basic with a wrong password"
    rq GET /auth/token -G -u "alice:$PW" --data-urlencode "service=$svc" --data-urlencode "scope=$scope" \
        --data-urlencode offline_token=true
    expect_status 200 "GET /auth/token"
    tok=$(jq -r '.token // empty' "$BODY_FILE") ref=$(jq -r '.refresh_token // empty' "$BODY_FILE")
    rq GET /auth/token -G -u "alice:$BAD_PW" --data-urlencode "service=$svc"
    expect_status 401 "GET /auth/token with a wrong password"
    rq GET /v2/ -H "Authorization: Bearer $tok"
    expect_status 200 "GET /v2/ with the bearer token"
    rq POST "/v2/logs/app/blobs/uploads/?digest=$d" -H "Authorization: Bearer $tok" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/blob"
    expect_status 201 "push with the bearer token"
    rq GET /v2/ -H "Authorization: Bearer $BOGUS"
    expect_status 401 "a bogus bearer token"
    rq POST /auth/token --data-urlencode grant_type=password --data-urlencode username=alice \
        --data-urlencode "password=$PW" --data-urlencode "service=$svc" --data-urlencode "scope=$scope" \
        --data-urlencode access_type=offline
    expect_status 200 "POST /auth/token with a password"
    tok2=$(jq -r '.token // empty' "$BODY_FILE")
    [ -n "$ref" ] || ref=$(jq -r '.refresh_token // empty' "$BODY_FILE")
    rq POST /auth/token --data-urlencode grant_type=password --data-urlencode username=alice \
        --data-urlencode "password=$BAD_FORM_PW" --data-urlencode "service=$svc"
    expect_status 401 "POST /auth/token with a wrong password"
    rq POST /auth/token --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$ref" \
        --data-urlencode "service=$svc" --data-urlencode "scope=$scope"
    expect_status 200 "POST /auth/token with a refresh token"
    tok3=$(jq -r '.token // empty' "$BODY_FILE")
    rq GET /v2/logs/app/tags/list -H "Authorization: Bearer $tok3"
    expect_status 200 "a request with the refreshed token"
    expect_ne "$tok" "" "a token from GET"
    expect_ne "$tok2" "" "a token from POST"
    expect_ne "$ref" "" "a refresh token"
    expect_ne "$tok3" "" "a token from the refresh grant"
    SECRETS+=("$tok" "$tok2" "$ref" "$tok3" "${tok##*.}" "${tok2##*.}" "${ref##*.}" "${tok3##*.}")
}
# no_secrets WHAT: none of SECRETS, and no Authorization header value, in the log
no_secrets() {
    local s
    for s in "${SECRETS[@]}"; do
        check
        [ -n "$s" ] || continue
        grep -qF -- "$s" "$TMP/berthd.log" && fail "$1: a secret is in the log: ${s:0:24}...: $(grep -F -- "$s" "$TMP/berthd.log" | head -1 | cut -c1-200)"
    done
    check; grep -qiE '(Basic|Bearer) [A-Za-z0-9+/=._-]{8,}' "$TMP/berthd.log" &&
        fail "$1: an Authorization value is in the log: $(grep -iE '(Basic|Bearer) [A-Za-z0-9+/=._-]{8,}' "$TMP/berthd.log" | head -1 | cut -c1-200)"
}
auth_cfg() { # auth_cfg FORMAT
    jq -n --arg fmt "$1" --arg ht "$HT" --arg realm "http://$REG/auth/token" --arg key "$TMP/signing.pem" '
      {log: {level: "debug", format: $fmt},
       auth: {htpasswd: $ht, ratelimit: {attempts: 1000, window: 60},
              token: {realm: $realm, service: "berth-logs", issuer: "berth-logs", path: "/auth/token",
                      key: $key, expiration: 300},
              access: [{account: "alice", repository: "*", actions: ["*"]}]}}' >"$TMP/auth.json"
}

REG=$(ops_port)
auth_cfg json
LOG0=$(wc -l <"$TMP/berthd.log")
ops_up --config "$TMP/auth.json"
: >"$IDS"
secret_traffic
# every line from this berthd is a JSON object; request lines have the fields
tail -n +$((LOG0 + 1)) "$TMP/berthd.log" >"$TMP/json.log"
check; bad=$(grep -v '^$' "$TMP/json.log" | while IFS= read -r l; do jq -e 'type == "object"' <<<"$l" >/dev/null 2>&1 || echo "$l"; done | head -3)
[ -z "$bad" ] || fail "log lines that are not JSON objects: $bad"
check; bad=$(jq -c 'select(has("request_id") | not) | select((.time | type) != "string" or (.level | type) != "string" or (.msg | type) != "string")' "$TMP/json.log" 2>&1 | head -3)
[ -z "$bad" ] || fail "JSON event lines without time, level and msg: $bad"
while read -r id m p s b; do
    check
    n=$(jq -c --arg id "$id" 'select(.request_id == $id)' "$TMP/json.log" 2>/dev/null | wc -l)
    [ "$n" -eq 1 ] || { fail "$n JSON log lines with request_id $id ($m $p)"; continue; }
    line=$(jq -c --arg id "$id" 'select(.request_id == $id)' "$TMP/json.log")
    expect_eq "$(jq -c '[.method, .path, .status, .level]' <<<"$line")" "[\"$m\",\"$p\",$s,\"info\"]" "JSON access line of $m $p"
    expect_eq "$(jq -r '[(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")),
                        (.bytes | type == "number"), (.bytes_in | type == "number"),
                        (.bytes_out | type == "number"), (.duration | type == "number" and . >= 0),
                        (.bytes == .bytes_in + .bytes_out)] | all' <<<"$line")" true \
        "JSON access line fields and types of $m $p: $line"
    [ "$m" = GET ] && expect_eq "$(jq .bytes_out <<<"$line")" "$b" "bytes_out of $m $p"
    if [ "$m $p" = "POST /v2/logs/app/blobs/uploads/" ] && [ "$s" = 201 ]; then
        expect_eq "$(jq .bytes_in <<<"$line")" 4321 "bytes_in of a 4321-byte upload"
    fi
done <"$IDS"
no_secrets "JSON, level debug"
berthd_stop; expect_eq "$?" 0 "berthd exit status on SIGTERM"

REG=$(ops_port)
auth_cfg text
ops_up --config "$TMP/auth.json"
: >"$IDS"
secret_traffic
while read -r id m p s b; do check_text_line "$id" "$m" "$p" "$s"; done <"$IDS"
no_secrets "text, level debug"
finish
