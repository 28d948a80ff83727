#!/bin/bash
# t2020-reload: SIGHUP re-reads the configuration file: htpasswd users
# (added, removed, the file itself replaced), access rules, limits and
# storage.delete, log level and format; a keep-alive connection and a long
# upload in progress survive the reload; a configuration that does not load
# (bad JSON, unknown keys, a bad value, a missing or invalid htpasswd file,
# one that would open the registry to anyone) is refused with an error line
# naming the reason, and requests are answered exactly as before;
# `berthd check-config` exits 0 ("configuration ok") or 2 with the file,
# line or key and the reason.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-ops.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT BERTH_MANIFEST_MAX_BYTES BERTH_PAGE_MAX
OCI_M=application/vnd.oci.image.manifest.v1+json
PW_A=alice-pw-1 PW_B=bob-pw-2 PW_C=carol-pw-3 PW_D=dave-pw-4 PW_E=erin-pw-5
C=$TMP/berthd.json
add_user() { printf '%s\n' "$3" | "$BERTHD" htpasswd "$1" "$2"; }
TEXT_INFO='{"level": "info", "format": "text"}'
# cfg HTPASSWD ACCESS-JSON|null [LOG-JSON] [EXTRA-JSON]: write the config to $C
cfg() {
    jq -n --arg ht "$1" --argjson access "$2" --argjson log "${3:-$TEXT_INFO}" --argjson extra "${4:-"{}"}" \
        '{log: $log, auth: ({realm: "berth-reload", htpasswd: $ht, ratelimit: {attempts: 1000, window: 60}}
                             + (if $access == null then {} else {access: $access} end))} + $extra' >"$C"
}
# st USER:PASS|"" METHOD PATH [curl args]: the status code
st() {
    local u=()
    [ -n "$1" ] && u=(-u "$1")
    curl -s -o /dev/null -m 10 -w '%{http_code}' "${u[@]}" -X "$2" "${@:4}" "http://$REG$3"
}
RELOADED='configuration reloaded'
REFUSED='reload refused'
# hup_ok WHAT: SIGHUP and wait for the "configuration reloaded" line
hup_ok() {
    local n
    n=$(log_count "$RELOADED")
    kill -HUP "$BERTHD_PID"
    check
    wait_log "$RELOADED" $((n + 1)) || fail "$1: no '$RELOADED' line within 5 s of SIGHUP: $(tail -3 "$TMP/berthd.log")"
}
# hup_refused WHAT REASON-ERE: SIGHUP with a broken $C: one error line with
# the reason, no reload
hup_refused() {
    local n m line
    n=$(log_count "$REFUSED") m=$(log_count "$RELOADED")
    kill -HUP "$BERTHD_PID"
    check
    if ! wait_log "$REFUSED" $((n + 1)); then
        fail "$1: no '$REFUSED' line within 5 s of SIGHUP: $(tail -3 "$TMP/berthd.log")"
        return
    fi
    line=$(grep -E -- "$REFUSED" "$TMP/berthd.log" | tail -1)
    expect_match "$line" '(^[0-9TZ:.-]+ error |"level": ?"error")' "$1: the refusal is logged at level error"
    expect_match "$line" "$2" "$1: the refusal says why"
    expect_eq "$(log_count "$RELOADED")" "$m" "$1: '$RELOADED' lines after a refused reload"
    check; kill -0 "$BERTHD_PID" 2>/dev/null || fail "$1: berthd died on a broken configuration"
}

# ---- start: alice only, no access list ------------------------------------
HT1=$TMP/htpasswd1
add_user "$HT1" alice "$PW_A"
cfg "$HT1" null
ops_up --config "$C"
expect_eq "$(st "alice:$PW_A" GET /v2/)" 200 "alice at start"
expect_eq "$(st "bob:$PW_B" GET /v2/)" 401 "bob before he exists"
expect_eq "$(st "" GET /v2/)" 401 "anonymous at start"
# an image with three tags, pushed as alice
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$TMP/cfg.json"
random_file "$TMP/layer" 700
for f in cfg.json layer; do
    st "alice:$PW_A" POST "/v2/rl/app/blobs/uploads/?digest=$(sha256_of "$TMP/$f")" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/$f" >"$TMP/code"
    expect_eq "$(cat "$TMP/code")" 201 "alice pushes $f"
done
jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$TMP/cfg.json")" \
    --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar "$TMP/layer")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' \
    | tr -d '\n' >"$TMP/man.json"
for t in v1 v2 v3; do
    expect_eq "$(st "alice:$PW_A" PUT /v2/rl/app/manifests/$t -H "Content-Type: $OCI_M" --data-binary @"$TMP/man.json")" \
        201 "alice pushes rl/app:$t"
done

# ---- a new user ---------------------------------------------------------------
add_user "$HT1" bob "$PW_B"
hup_ok "bob added to the htpasswd file"
expect_eq "$(st "bob:$PW_B" GET /v2/)" 200 "bob after SIGHUP"
expect_eq "$(st "bob:$PW_B" GET /v2/rl/app/manifests/v1 -H "Accept: $OCI_M")" 200 "bob pulls after SIGHUP"
expect_eq "$(st "alice:$PW_A" GET /v2/)" 200 "alice (kept) after SIGHUP"
expect_eq "$(st "bob:wrong" GET /v2/)" 401 "bob with a wrong password"

# ---- new access rules -------------------------------------------------------------
cfg "$HT1" '[{"account": "alice", "repository": "*", "actions": ["*"]},
             {"account": "bob", "repository": "*", "actions": ["pull"]}]'
hup_ok "access rules"
expect_eq "$(st "bob:$PW_B" GET /v2/rl/app/manifests/v1 -H "Accept: $OCI_M")" 200 "bob pulls under the new rules"
expect_eq "$(st "bob:$PW_B" POST /v2/rl/app/blobs/uploads/)" 403 "bob may no longer push"
expect_eq "$(st "alice:$PW_A" POST /v2/rl/app/blobs/uploads/)" 202 "alice still may push"

# ---- another htpasswd file: alice gone, carol new, bob kept ----------------------
HT2=$TMP/htpasswd2
add_user "$HT2" bob "$PW_B"; add_user "$HT2" carol "$PW_C"
ACCESS3='[{"account": "bob", "repository": "*", "actions": ["pull"]},
          {"account": "carol", "repository": "rl/*", "actions": ["pull", "push", "delete"]}]'
cfg "$HT2" "$ACCESS3"
cp "$C" "$TMP/good.json"
hup_ok "a new htpasswd file"
# state3 WHAT: what the configuration in good.json allows
state3() {
    expect_eq "$(st "" GET /v2/)" 401 "$1: anonymous"
    expect_eq "$(st "alice:$PW_A" GET /v2/)" 401 "$1: alice (removed)"
    expect_eq "$(st "bob:$PW_B" GET /v2/rl/app/manifests/v1 -H "Accept: $OCI_M")" 200 "$1: bob pulls"
    expect_eq "$(st "bob:$PW_B" POST /v2/rl/app/blobs/uploads/)" 403 "$1: bob may not push"
    expect_eq "$(st "carol:$PW_C" GET /v2/rl/app/tags/list)" 200 "$1: carol lists tags"
    expect_eq "$(st "carol:$PW_C" POST /v2/rl/app/blobs/uploads/)" 202 "$1: carol may push to rl/*"
    expect_eq "$(st "carol:$PW_C" POST /v2/other/blobs/uploads/)" 403 "$1: carol may not push outside rl/*"
}
state3 "after the new htpasswd file"

# ---- broken configurations: refused, the running one stays ------------------------
broken() { # broken NAME REASON-ERE: $C holds a broken config; keep a copy
    cp "$C" "$TMP/bad-$1.json"
    hup_refused "$1" "$2"
    state3 "after the refused $1"
}
printf '{"log": {"level": "info"},\n "auth": {"htpasswd": "%s"}\n "listen": "x"\n}\n' "$HT2" >"$C"
broken json "berthd\.json:3"
# would open the registry to anyone, were the typo not refused
printf '{"log": {"level": "info"}, "bogus_key": true}\n' >"$C"
broken unknown-key "bogus_key"
cfg "$HT2" "$ACCESS3" '{"level": "info", "levle": "debug"}'
broken unknown-log-key "levle"
cfg "$HT2" "$ACCESS3" '{"level": "loud"}'
broken bad-level "log\.level.*loud"
cfg "$TMP/no-such-htpasswd" "$ACCESS3"
broken missing-htpasswd "no-such-htpasswd"
cp "$HT2" "$TMP/htpasswd-bad"; echo 'mallory:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=' >>"$TMP/htpasswd-bad"
cfg "$TMP/htpasswd-bad" "$ACCESS3"
broken non-bcrypt-htpasswd "htpasswd-bad:3"
cfg "$HT2" '[{"account": "bob", "repository": "*", "actions": ["fly"]}]'
broken bad-action "auth\.access\[0\].*action"
rm -f "$C"
hup_refused "a missing config file" "berthd\.json"
state3 "after the refused missing file"

# ---- a keep-alive connection and a long upload across SIGHUP ----------------------
cp "$TMP/good.json" "$C"
check
out=$("$PY" - "$PORT" "$BERTHD_PID" "$TMP/berthd.log" "$(printf 'bob:%s' "$PW_B" | base64 -w0)" <<'EOF'
import http.client, os, signal, sys, time
port, pid, log, cred = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def count():
    with open(log, errors="replace") as f:
        return f.read().count("configuration reloaded")
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
h = {"Authorization": "Basic " + cred}
c.request("GET", "/v2/", headers=h); r = c.getresponse(); r.read()
st1, s1 = r.status, c.sock.getsockname() if c.sock else None
n = count()
os.kill(pid, signal.SIGHUP)
for _ in range(100):
    if count() > n:
        break
    time.sleep(0.05)
reloaded = count() > n
try:
    c.request("GET", "/v2/", headers=h); r = c.getresponse(); r.read()
    st2, s2 = r.status, c.sock.getsockname() if c.sock else None
except Exception as e:
    st2, s2 = "error:%s" % type(e).__name__, None
print(st1, st2, "same-connection" if s1 and s1 == s2 else "new-connection", "reloaded" if reloaded else "not-reloaded")
EOF
)
expect_eq "$out" "200 200 same-connection reloaded" "a keep-alive connection across SIGHUP"

status=$(curl -s -o /dev/null -D "$TMP/h" -w '%{http_code}' -u "carol:$PW_C" -X POST "http://$REG/v2/rl/app/blobs/uploads/")
expect_eq "$status" 202 "carol starts an upload"
UP=$(grep -i '^Location:' "$TMP/h" | cut -d' ' -f2- | tr -d '\r' | sed -E 's|^https?://[^/]*||')
random_file "$TMP/big" 131072
# about 2 s at 64 KiB/s; the reload also changes limits and storage.delete
cfg "$HT2" "$ACCESS3" "$TEXT_INFO" '{"limits": {"page_max": 2}, "storage": {"delete": false}}'
curl -s -o /dev/null -D "$TMP/slow.h" -w '%{http_code}' -u "carol:$PW_C" -X PATCH --limit-rate 64k \
    -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/big" "http://$REG$UP" >"$TMP/slow.code" &
slow=$!
at_exit "kill $slow"
sleep 0.6
check; kill -0 $slow 2>/dev/null || fail "the slow PATCH ended before the SIGHUP (test too fast?)"
hup_ok "SIGHUP during an upload"
check; kill -0 $slow 2>/dev/null || fail "the slow PATCH ended right at the SIGHUP: $(cat "$TMP/slow.code")"
wait $slow
expect_eq "$(cat "$TMP/slow.code")" 202 "the PATCH that ran across SIGHUP"
expect_eq "$(grep -i '^Range:' "$TMP/slow.h" | tr -d '\r' | cut -d' ' -f2)" "0-131071" "Range after the PATCH"
d=$(sha256_of "$TMP/big")
sep='?'; [[ $UP == *\?* ]] && sep='&'
expect_eq "$(st "carol:$PW_C" PUT "$UP${sep}digest=$d")" 201 "finish the upload after SIGHUP"
curl -s -o "$TMP/big.back" -u "bob:$PW_B" "http://$REG/v2/rl/app/blobs/$d"
check; cmp -s "$TMP/big" "$TMP/big.back" || fail "the blob uploaded across SIGHUP differs"
# the limits and storage.delete of that reload
curl -s -o "$TMP/tags" -D "$TMP/tags.h" -u "carol:$PW_C" "http://$REG/v2/rl/app/tags/list?n=10"
expect_eq "$(jq '.tags | length' "$TMP/tags")" 2 "tags in a page after page_max became 2"
check; grep -qi '^Link:' "$TMP/tags.h" || fail "no Link header for the next page after page_max became 2"
expect_eq "$(st "carol:$PW_C" DELETE /v2/rl/app/manifests/v3)" 405 "DELETE after storage.delete became false"

# ---- log level and format -----------------------------------------------------------
# req_id USER:PASS PATH: GET, prints the X-Request-Id
req_id() {
    curl -s -o /dev/null -D - -u "$1" "http://$REG$2" | grep -i '^X-Request-Id:' | cut -d' ' -f2 | tr -d '\r'
}
# wait_user USER:PASS: until the user gets in (a reload that logs nothing at this level)
wait_user() {
    local i
    for i in $(seq 1 50); do [ "$(st "$1" GET /v2/)" = 200 ] && return 0; sleep 0.1; done
    return 1
}
id=$(req_id "bob:$PW_B" /v2/)
check; wait_log "$id" 1 || fail "an info-level access line is missing for request $id"

HT3=$TMP/htpasswd3
cp "$HT2" "$HT3"; add_user "$HT3" dave "$PW_D"
cfg "$HT3" "$ACCESS3" '{"level": "warn"}'
kill -HUP "$BERTHD_PID"
check; wait_user "dave:$PW_D" || fail "log.level warn: the reload did not happen (dave never got in)"
id=$(req_id "bob:$PW_B" /v2/)
st "eve-at-warn:x" GET /v2/ >/dev/null
sleep 0.3
expect_eq "$(id_lines "$id" | wc -l)" 0 "access lines at level warn (request $id)"
check; grep -q 'eve-at-warn' "$TMP/berthd.log" || fail "log.level warn: the failed-login warning is missing"

HT4=$TMP/htpasswd4
cp "$HT3" "$HT4"; add_user "$HT4" erin "$PW_E"
cfg "$HT4" "$ACCESS3" '{"level": "error"}'
kill -HUP "$BERTHD_PID"
check; wait_user "erin:$PW_E" || fail "log.level error: the reload did not happen (erin never got in)"
id=$(req_id "bob:$PW_B" /v2/)
st "eve-at-error:x" GET /v2/ >/dev/null
sleep 0.3
expect_eq "$(id_lines "$id" | wc -l)" 0 "access lines at level error (request $id)"
expect_eq "$(log_count 'eve-at-error')" 0 "warnings at level error"
printf '{"log": {"level": "error"}, "auth": {"htpasswd": "%s"}, "gc": {"interval": "often"}}\n' "$HT4" >"$C"
hup_refused "a bad gc.interval, at level error" "gc\.interval"
cp "$C" "$TMP/bad-gc.json"

cfg "$HT4" "$ACCESS3" '{"level": "debug", "format": "json"}'
n=$(log_count '"msg": ?"configuration reloaded')
kill -HUP "$BERTHD_PID"
check; wait_log '"msg": ?"configuration reloaded' $((n + 1)) || fail "no JSON reload line after switching to JSON: $(tail -2 "$TMP/berthd.log")"
id=$(req_id "bob:$PW_B" /v2/)
check; wait_log "$id" 1 || fail "no access line at level debug for request $id"
expect_eq "$(id_lines "$id" | jq -c '[.request_id, .method, .path, .status]' 2>&1)" "[\"$id\",\"GET\",\"/v2/\",200]" "JSON access line after the reload"
st "eve-at-debug:x" GET /v2/ >/dev/null
check; wait_log 'eve-at-debug' 1 || fail "no failed-login line at level debug"
expect_eq "$(grep 'eve-at-debug' "$TMP/berthd.log" | jq -r .level 2>&1)" warn "the failed-login line is JSON at level warn"
printf '{"log": {"level": "debug", "format": "json"}, "auth": {"htpasswd": "%s", "acess": []}}\n' "$HT4" >"$C"
hup_refused "an unknown auth key, in JSON" "acess"
expect_eq "$(grep -E "$REFUSED" "$TMP/berthd.log" | tail -1 | jq -r .level 2>&1)" error "the JSON refusal line's level"

cfg "$HT4" "$ACCESS3"
hup_ok "back to text at level info"
expect_match "$(grep "$RELOADED" "$TMP/berthd.log" | tail -1)" '^[0-9T:.-]+Z info +configuration reloaded' "the reload line in text"
id=$(req_id "erin:$PW_E" /v2/)
check; wait_log "$id" 1 || fail "no access line back at level info for request $id"
expect_match "$(id_lines "$id")" "^[0-9T:.-]+Z info +$id GET /v2/ 200 " "text access line after the reload"
expect_eq "$(st "dave:$PW_D" GET /v2/rl/app/tags/list)" 403 "dave (no rule) after all the reloads"
expect_eq "$(st "alice:$PW_A" GET /v2/)" 401 "alice (removed) after all the reloads"

# ---- check-config --------------------------------------------------------------------
cc() { # cc FILE: runs check-config, sets CC_RC, CC_OUT, CC_ERR
    "$BERTHD" check-config --config "$1" >"$TMP/cc.out" 2>"$TMP/cc.err"
    CC_RC=$? CC_OUT=$(cat "$TMP/cc.out") CC_ERR=$(cat "$TMP/cc.err")
}
cc "$TMP/good.json"
expect_eq "$CC_RC" 0 "check-config on a good configuration: exit status ($CC_ERR)"
expect_eq "$CC_OUT" "configuration ok" "check-config on a good configuration: output"
cc "$C"
expect_eq "$CC_RC" 0 "check-config on the running configuration"
for bad in "json:bad-json.json:3" "unknown-key:bogus_key" "unknown-log-key:levle" "bad-level:log\.level.*loud" \
           "missing-htpasswd:no-such-htpasswd" "non-bcrypt-htpasswd:htpasswd-bad:3" "bad-action:auth\.access\[0\].*action" "gc:gc\.interval"; do
    name=${bad%%:*} re=${bad#*:}
    cc "$TMP/bad-$name.json"
    expect_eq "$CC_RC" 2 "check-config exit status on $name"
    expect_match "$CC_ERR" "$re" "check-config names the $name problem"
    check; [[ $CC_OUT == *"configuration ok"* ]] && fail "check-config says ok on $name"
done
cc "$TMP/not-there.json"
expect_eq "$CC_RC" 2 "check-config on a missing file"
expect_match "$CC_ERR" "not-there\.json" "check-config names the missing file"
finish
