#!/bin/bash
# t0900-config: the JSON config file, BERTH_* environment overrides and flags
# (defaults < file < environment < flags), JSON log lines, storage.delete,
# and clear refusals of bad configuration.
. "$(dirname "$0")/../lib.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT BERTH_MANIFEST_MAX_BYTES BERTH_PAGE_MAX
OCI_M=application/vnd.oci.image.manifest.v1+json
touch "$TMP/berthd.log"
random_file "$TMP/b" 100
d=$(sha256_of "$TMP/b")

# up ADDR ARGS...: berthd_spawn, counted as a check; LOG0 marks where its log starts.
up() {
    LOG0=$(wc -l <"$TMP/berthd.log")
    check
    berthd_spawn "$@" || fail "berthd did not answer on $1 (args: ${*:2}): $(tail -n +$((LOG0 + 1)) "$TMP/berthd.log" | head -5)"
}
down() { berthd_stop; expect_eq "$?" 0 "exit status on SIGTERM"; }
log_lines() { tail -n +$((LOG0 + 1)) "$TMP/berthd.log"; }
refused() { # refused ADDR: nothing answers on ADDR
    check
    curl -s -o /dev/null -m 2 "http://$1/v2/" && fail "something answers on $1"
}
stored_in() { # stored_in ROOT: the test blob is stored under ROOT
    expect_eq "$(find "$1/blobs" -name "${d#sha256:}" 2>/dev/null | wc -l)" 1 "blob stored under $1"
}
A1=127.0.0.1:$(free_port) A2=127.0.0.1:$(free_port) A3=127.0.0.1:$(free_port)

# The file alone.
cat >"$TMP/c.json" <<EOF
{"listen": "$A1", "root": "$TMP/r1", "log": {"level": "info", "format": "json"},
 "limits": {"manifest_max_bytes": 100000, "page_max": 100}, "storage": {"delete": true}}
EOF
up $A1 serve --config "$TMP/c.json"
push_blob cfg/a "$TMP/b" >/dev/null
stored_in "$TMP/r1"
http GET /v2/nope/blobs/$d
http GET "/v2/cfg/a/blobs/$d"
# JSON log lines: every line is JSON; request lines carry method, path and status.
check; log_lines | grep -v '^$' | while IFS= read -r l; do jq -e 'type == "object"' <<<"$l" >/dev/null 2>&1 || echo "$l"; done \
    >"$TMP/notjson"; [ -s "$TMP/notjson" ] && fail "log lines that are not JSON objects: $(head -3 "$TMP/notjson")"
expect_eq "$(log_lines | jq -c 'select(.method == "GET" and .path == "/v2/cfg/a/blobs/'"$d"'") | .status | tostring' 2>/dev/null | head -1)" \
    '"200"' "JSON log line for GET blob with status 200"
expect_eq "$(log_lines | jq -c 'select(.method == "GET" and .path == "/v2/nope/blobs/'"$d"'") | .status | tostring' 2>/dev/null | head -1)" \
    '"404"' "JSON log line for a 404"
expect_eq "$(log_lines | jq -c 'select(.method == "POST") | .path' 2>/dev/null | head -1)" \
    '"/v2/cfg/a/blobs/uploads/"' "JSON log line for the POST"
expect_eq "$(log_lines | jq -c 'select(.method != null) | select(has("path") and has("status") | not)' 2>/dev/null | head -1)" \
    "" "request log lines without path or status"
down
refused $A1

# The environment overrides the file.
BERTH_LISTEN=$A2 BERTH_ROOT=$TMP/r2 BERTH_LOG_FORMAT=text BERTH_PAGE_MAX=2 BERTH_MANIFEST_MAX_BYTES=1000 \
    up $A2 serve --config "$TMP/c.json"
refused $A1
push_blob cfg/a "$TMP/b" >/dev/null
stored_in "$TMP/r2"
for t in t1 t2 t3; do push_image cfg/a $t >/dev/null; done
http GET "/v2/cfg/a/tags/list?n=50"
expect_eq "$(jq -c .tags "$BODY_FILE")" '["t1","t2"]' "BERTH_PAGE_MAX over limits.page_max"
jq -c '.annotations.pad = ("x" * 1000)' "$TMP/img-cfg_a-t1.json" >"$TMP/big"
http PUT /v2/cfg/a/manifests/big -H "Content-Type: $OCI_M" --data-binary @"$TMP/big"
expect_status 413 "BERTH_MANIFEST_MAX_BYTES over limits.manifest_max_bytes"
http GET /v2/
check; log_lines | grep -q '^{' && fail "BERTH_LOG_FORMAT=text still wrote JSON lines"
expect_ne "$(log_lines | grep 'GET' | grep -F '/v2/cfg/a/tags/list' | grep -c 200)" 0 "a text log line with method, path and status"
down

# Flags override the environment.
BERTH_LISTEN=$A2 BERTH_ROOT=$TMP/r2 BERTH_LOG_FORMAT=json \
    up $A3 serve --config "$TMP/c.json" --listen $A3 --root "$TMP/r3" --log-format text
refused $A2
push_blob cfg/a "$TMP/b" >/dev/null
stored_in "$TMP/r3"
http GET /v2/
check; log_lines | grep -q '^{' && fail "--log-format text still wrote JSON lines"
down

# The file's limits apply when nothing overrides them; `berthd` alone means `berthd serve`.
cat >"$TMP/small.json" <<EOF
{"limits": {"manifest_max_bytes": 1000, "page_max": 1}, "storage": {"delete": false}}
EOF
BERTH_LISTEN=$A1 BERTH_ROOT=$TMP/r4 up $A1 --config "$TMP/small.json"
push_blob cfg/b "$TMP/b" >/dev/null
stored_in "$TMP/r4"
for t in t1 t2; do push_image cfg/b $t >/dev/null; done
http GET "/v2/cfg/b/tags/list"
expect_eq "$(jq -c .tags "$BODY_FILE")" '["t1"]' "limits.page_max from the file"
jq -c '.annotations.pad = ("x" * 1000)' "$TMP/img-cfg_b-t1.json" >"$TMP/big"
http PUT /v2/cfg/b/manifests/big -H "Content-Type: $OCI_M" --data-binary @"$TMP/big"
expect_status 413 "limits.manifest_max_bytes from the file"
# storage.delete false: deletion is refused (400 or 405) and nothing goes.
http DELETE /v2/cfg/b/manifests/t1
expect_match "$STATUS" '^(400|405)$' "DELETE manifest with storage.delete false"
expect_eq "$(error_code)" UNSUPPORTED "error code of a refused DELETE"
http DELETE "/v2/cfg/b/manifests/$(sha256_of "$TMP/img-cfg_b-t1.json")"
expect_match "$STATUS" '^(400|405)$' "DELETE manifest by digest with storage.delete false"
http DELETE "/v2/cfg/b/blobs/$d"
expect_match "$STATUS" '^(400|405)$' "DELETE blob with storage.delete false"
http GET /v2/cfg/b/manifests/t1
expect_status 200 "the manifest is still there"
http GET "/v2/cfg/b/blobs/$d"
expect_status 200 "the blob is still there"
down

# Bad configuration: a non-zero exit, soon, with a message that names the problem.
bad() { # bad WHAT PATTERN [env=val...] -- berthd args...
    local what=$1 pat=$2; shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
    local rc=0
    env "${envs[@]}" timeout 10 "$BERTHD" "$@" >"$TMP/bad.out" 2>&1 || rc=$?
    check
    if [ "$rc" = 0 ] || [ "$rc" = 124 ] || [ "$rc" -ge 128 ]; then
        fail "$what: exit status $rc (want a non-zero exit, not a signal or a hang)"
    elif ! grep -qiE -- "$pat" "$TMP/bad.out"; then
        fail "$what: message does not match /$pat/: $(head -3 "$TMP/bad.out")"
    fi
    check; grep -qE 'Sanitizer|runtime error:|Segmentation' "$TMP/bad.out" && fail "$what: crashed: $(head -3 "$TMP/bad.out")"
}
F=127.0.0.1:$(free_port)
ok_base=(serve --listen "$F" --root "$TMP/rbad")
printf '{"listen": "%s",\n "root": "%s",\n "log": {"level": "info"\n' "$F" "$TMP/rbad" >"$TMP/malformed.json"
echo '{"limits": {"page_max": "many"}}' >"$TMP/type.json"
echo '{"limits": {"page_max": 0}}' >"$TMP/zero.json"
echo '{"log": {"level": "loud"}}' >"$TMP/level.json"
echo '{"log": {"format": "xml"}}' >"$TMP/format.json"
echo '{"lisen": "127.0.0.1:1"}' >"$TMP/typo.json"
echo '{"storage": {"delete": "yes"}}' >"$TMP/delete.json"
echo '[1, 2]' >"$TMP/array.json"
bad "missing config file" "$TMP/nonexistent.json" -- "${ok_base[@]}" --config "$TMP/nonexistent.json"
bad "malformed JSON" "malformed.json" -- "${ok_base[@]}" --config "$TMP/malformed.json"
bad "wrong type for page_max" "page_max" -- "${ok_base[@]}" --config "$TMP/type.json"
bad "page_max 0" "page_max" -- "${ok_base[@]}" --config "$TMP/zero.json"
bad "unknown log level" "level|loud" -- "${ok_base[@]}" --config "$TMP/level.json"
bad "unknown log format" "format|xml" -- "${ok_base[@]}" --config "$TMP/format.json"
bad "unknown key" "lisen" -- "${ok_base[@]}" --config "$TMP/typo.json"
bad "storage.delete not a boolean" "delete" -- "${ok_base[@]}" --config "$TMP/delete.json"
bad "config not an object" "object|array.json" -- "${ok_base[@]}" --config "$TMP/array.json"
bad "BERTH_PAGE_MAX not a number" "BERTH_PAGE_MAX" BERTH_PAGE_MAX=abc -- "${ok_base[@]}"
bad "BERTH_MANIFEST_MAX_BYTES negative" "BERTH_MANIFEST_MAX_BYTES" BERTH_MANIFEST_MAX_BYTES=-5 -- "${ok_base[@]}"
bad "BERTH_LOG_LEVEL unknown" "BERTH_LOG_LEVEL|loud|level" BERTH_LOG_LEVEL=loud -- "${ok_base[@]}"
bad "listen address without a port" "listen|address|nonsense" -- serve --listen nonsense --root "$TMP/rbad"
bad "unknown flag" "no-such-flag|unknown|unrecognized|usage" -- "${ok_base[@]}" --no-such-flag
bad "unknown command" "frobnicate|unknown|usage" -- frobnicate --listen "$F" --root "$TMP/rbad"
: >"$TMP/file"
bad "root under a regular file" "$TMP/file|root|directory" -- serve --listen "$F" --root "$TMP/file/root"
# The address is taken.
up $A3 serve --listen $A3 --root "$TMP/r5"
bad "listen address in use" "$A3|address|in use|bind|listen" -- serve --listen $A3 --root "$TMP/r6"
down

finish
