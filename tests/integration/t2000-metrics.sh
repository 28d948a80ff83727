#!/bin/bash
# t2000-metrics: GET /metrics in the Prometheus text format, parsed whole with
# prometheus_client (any parse error fails): request counters by route,
# method and status move exactly as requests are made (push, pull, 404s),
# the duration histogram and the byte counters move, the storage gauges match
# what was pushed (a blob stored once however many repositories hold it),
# berth_uploads_in_progress counts an upload while it runs and returns to 0
# (also when the client goes away mid-upload); the separate metrics listener
# answers /metrics, /healthz and /readyz only; with auth on, /metrics on the
# registry's port needs an account with the catalog action, while the
# metrics listener ignores registry accounts (open here: its own
# credentials are t2120's).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-ops.sh"
OCI_M=application/vnd.oci.image.manifest.v1+json
RQ=berth_http_requests_total
HD=berth_http_request_duration_seconds
req() { echo "$RQ{method=\"$2\",route=\"$1\",status=\"$3\"}"; }   # req ROUTE METHOD STATUS
# expect_delta KEY BEFORE-FILE AFTER-FILE WANT WHAT
expect_delta() {
    expect_eq "$(($(mval "$3" "$1") - $(mval "$2" "$1")))" "$4" "$5 ($1)"
}
# parsed FILE WHAT: scrape FILE must have succeeded (call right after scrape)
parsed() {
    local rc=$?
    check
    [ "$rc" -eq 0 ] || fail "$1: /metrics did not parse as Prometheus text: $(cat "$2.err")"
}

# ---- one berthd, with the extra metrics listener ----------------------------
MADDR=$(ops_port)
printf '{"metrics": {"listen": "%s"}}\n' "$MADDR" >"$TMP/m.json"
ops_up --config "$TMP/m.json"

scrape "$TMP/m0"; parsed "first scrape" "$TMP/m0"
http GET /metrics
expect_match "$(header Content-Type)" '^text/plain; ?version=0\.0\.4' "Content-Type of /metrics"
for fam in "counter $RQ" "histogram $HD" "counter berth_http_request_bytes_total" \
           "counter berth_http_response_bytes_total" "gauge berth_uploads_in_progress" \
           "gauge berth_storage_blobs" "gauge berth_storage_bytes" "counter berth_gc_runs_total" \
           "counter berth_gc_removed_total" "counter berth_gc_freed_bytes_total"; do
    set -- $fam
    check; grep -qx "# TYPE $2 $1" "$TMP/m0.txt" || fail "no '# TYPE $2 $1' line in /metrics"
    check; grep -q "^# HELP $2 ." "$TMP/m0.txt" || fail "no HELP for $2"
done
expect_eq "$(mval "$TMP/m0" berth_storage_blobs)" 0 "blobs stored in an empty registry"
expect_eq "$(mval "$TMP/m0" berth_storage_bytes)" 0 "bytes stored in an empty registry"
expect_eq "$(mval "$TMP/m0" berth_uploads_in_progress)" 0 "uploads in progress at rest"
expect_eq "$(mval "$TMP/m0" berth_gc_runs_total)" 0 "gc runs at start"
for k in blob manifest tag upload repository; do
    check; mhas "$TMP/m0" "berth_gc_removed_total{kind=\"$k\"}" || fail "no berth_gc_removed_total{kind=\"$k\"} series"
done
check; mhas "$TMP/m0" berth_gc_freed_bytes_total || fail "no berth_gc_freed_bytes_total sample"
# HEAD /metrics: headers only
http HEAD /metrics
expect_status 200 "HEAD /metrics"
http POST /metrics -d x
expect_status 405 "POST /metrics"

# Traffic: push an image, pull it, some 404s; wait until the last one counts.
dig=$(push_image ops/app v1)
expect_ne "$dig" "" "push_image ops/app:v1"
F=$TMP/img-ops_app-v1
cfg_d=$(sha256_of "$F.config") lay_d=$(sha256_of "$F.layer")
sz_c=$(size_of "$F.config") sz_l=$(size_of "$F.layer") sz_m=$(size_of "$F.json")
http GET /v2/ops/app/manifests/v1 -H "Accept: $OCI_M"; expect_status 200 "pull manifest"
http HEAD "/v2/ops/app/manifests/$dig" -H "Accept: $OCI_M"; expect_status 200 "HEAD manifest"
http GET "/v2/ops/app/blobs/$cfg_d"; expect_status 200 "pull config"
http GET "/v2/ops/app/blobs/$lay_d"; expect_status 200 "pull layer"
for i in 1 2 3; do http GET /v2/ops/app/manifests/nope$i; expect_status 404 "unknown tag"; done
http GET "/v2/ops/app/blobs/sha256:$(printf '%064d' 0)"; expect_status 404 "unknown blob"
http GET /no/such/endpoint; expect_status 404 "unknown endpoint"
http DELETE /v2/ops/app/manifests/nope9; expect_status 404 "DELETE unknown manifest"
wait_mval "$(req manifest DELETE 404)" 1
scrape "$TMP/m1"; parsed "scrape after traffic" "$TMP/m1"

expect_delta "$(req upload POST 201)" "$TMP/m0" "$TMP/m1" 2 "two monolithic blob uploads"
expect_delta "$(req manifest PUT 201)" "$TMP/m0" "$TMP/m1" 1 "one manifest PUT"
expect_delta "$(req manifest GET 200)" "$TMP/m0" "$TMP/m1" 1 "one manifest GET"
expect_delta "$(req manifest HEAD 200)" "$TMP/m0" "$TMP/m1" 1 "one manifest HEAD"
expect_delta "$(req blob GET 200)" "$TMP/m0" "$TMP/m1" 2 "two blob GETs"
expect_delta "$(req manifest GET 404)" "$TMP/m0" "$TMP/m1" 3 "three manifest 404s"
expect_delta "$(req blob GET 404)" "$TMP/m0" "$TMP/m1" 1 "one blob 404"
expect_delta "$(req none GET 404)" "$TMP/m0" "$TMP/m1" 1 "one unknown-endpoint 404"
expect_delta "$(req manifest DELETE 404)" "$TMP/m0" "$TMP/m1" 1 "one DELETE 404"
expect_delta "$(req metrics HEAD 200)" "$TMP/m0" "$TMP/m1" 1 "HEAD /metrics"
expect_delta "$(req metrics POST 405)" "$TMP/m0" "$TMP/m1" 1 "POST /metrics"
check; [ "$(mval "$TMP/m1" "$(req metrics GET 200)")" -ge 2 ] ||
    fail "the earlier scrapes are not counted: $(req metrics GET 200) = $(mval "$TMP/m1" "$(req metrics GET 200)")"
# Histogram: one observation per request, per route; _sum grows.
expect_delta "$HD"'_count{route="manifest"}' "$TMP/m0" "$TMP/m1" 7 "manifest requests observed by the histogram"
expect_delta "$HD"'_count{route="blob"}' "$TMP/m0" "$TMP/m1" 3 "blob requests observed by the histogram"
expect_delta "$HD"'_count{route="upload"}' "$TMP/m0" "$TMP/m1" 2 "upload requests observed by the histogram"
check; "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$(mval "$TMP/m1" "$HD"'_sum{route="manifest"}')" ||
    fail "${HD}_sum{route=\"manifest\"} did not grow: $(mval "$TMP/m1" "$HD"'_sum{route="manifest"}')"
expect_eq "$(mval "$TMP/m1" "$HD"'_bucket{le="+Inf",route="manifest"}')" \
    "$(mval "$TMP/m1" "$HD"'_count{route="manifest"}')" "manifest +Inf bucket equals _count"
# Bytes: every request body byte, at least every pulled byte.
expect_delta berth_http_request_bytes_total "$TMP/m0" "$TMP/m1" $((sz_c + sz_l + sz_m)) "request body bytes of the push"
out_d=$(($(mval "$TMP/m1" berth_http_response_bytes_total) - $(mval "$TMP/m0" berth_http_response_bytes_total)))
check; [ "$out_d" -ge $((sz_c + sz_l + sz_m)) ] ||
    fail "berth_http_response_bytes_total grew by $out_d, less than the $((sz_c + sz_l + sz_m)) bytes pulled"
# Storage: config, layer and manifest, once each.
expect_eq "$(mval "$TMP/m1" berth_storage_blobs)" 3 "blobs stored after one image"
expect_eq "$(mval "$TMP/m1" berth_storage_bytes)" $((sz_c + sz_l + sz_m)) "bytes stored after one image"

# The same blobs pushed to a second repository are not stored twice; a
# second image adds its three.
push_blob ops/other "$F.layer" >/dev/null; expect_eq "$?" 0 "push the same layer to another repository"
push_image ops/two v1 >/dev/null; expect_eq "$?" 0 "push a second image"
G=$TMP/img-ops_two-v1
want_bytes=$((sz_c + sz_l + sz_m + $(size_of "$G.config") + $(size_of "$G.layer") + $(size_of "$G.json")))
wait_mval berth_storage_blobs 6
expect_eq "$MV" 6 "blobs stored after a shared layer and a second image"
scrape "$TMP/m2"; parsed "scrape after the second image" "$TMP/m2"
expect_eq "$(mval "$TMP/m2" berth_storage_bytes)" "$want_bytes" "bytes stored after a shared layer and a second image"
expect_delta "$(req upload POST 201)" "$TMP/m1" "$TMP/m2" 3 "three more uploads"

# HEAD answers send no body: between two scrapes with only HEADs in between,
# the response bytes grow by the first scrape's body alone.
scrape "$TMP/h0"; parsed "scrape before HEADs" "$TMP/h0"
http HEAD /v2/; expect_status 200 "HEAD /v2/"
http HEAD /v2/ops/app/manifests/v1 -H "Accept: $OCI_M"; expect_status 200 "HEAD manifest"
http HEAD "/v2/ops/app/blobs/$lay_d"; expect_status 200 "HEAD blob"
http HEAD /v2/ops/app/manifests/nope; expect_status 404 "HEAD unknown manifest"
sleep 0.3
scrape "$TMP/h1"; parsed "scrape after HEADs" "$TMP/h1"
expect_delta berth_http_response_bytes_total "$TMP/h0" "$TMP/h1" "$(size_of "$TMP/h0.txt")" \
    "response body bytes across HEAD requests (the scrape's own body only)"
expect_delta berth_http_request_bytes_total "$TMP/h0" "$TMP/h1" 0 "request body bytes across HEAD requests"

# ---- uploads in progress ------------------------------------------------------
random_file "$TMP/slow" 98304
start_upload() {
    http POST /v2/ops/slow/blobs/uploads/
    expect_status 202 "start an upload session"
    UP=$(location)
}
start_upload
# a PATCH trickling 96 KiB at 48 KiB/s: about 2 s
curl -sS -o /dev/null -w '%{http_code}' -X PATCH --limit-rate 48k -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMP/slow" "http://$REG$UP" >"$TMP/slow.code" 2>&1 &
slow=$!
at_exit "kill $slow"
wait_mval berth_uploads_in_progress 1
expect_eq "$MV" 1 "berth_uploads_in_progress during a slow PATCH"
wait $slow
expect_eq "$(cat "$TMP/slow.code")" 202 "the slow PATCH"
wait_mval berth_uploads_in_progress 0
expect_eq "$MV" 0 "berth_uploads_in_progress after the PATCH"
http PUT "$UP$([[ $UP == *\?* ]] && echo '&' || echo '?')digest=$(sha256_of "$TMP/slow")"
expect_status 201 "finish the slow upload"

# a client that goes away mid-upload
start_upload
curl -sS -o /dev/null -X PATCH --limit-rate 16k -H 'Content-Type: application/octet-stream' \
    --data-binary @"$TMP/slow" "http://$REG$UP" 2>/dev/null &
gone=$!
at_exit "kill $gone"
wait_mval berth_uploads_in_progress 1
expect_eq "$MV" 1 "berth_uploads_in_progress during a PATCH about to be cut"
kill $gone; wait $gone 2>/dev/null
wait_mval berth_uploads_in_progress 0
expect_eq "$MV" 0 "berth_uploads_in_progress after the client went away"

# ---- the metrics listener -------------------------------------------------------
scrape "$TMP/l1" --url "http://$MADDR/metrics"; parsed "scrape on the metrics listener" "$TMP/l1"
expect_eq "$(mval "$TMP/l1" berth_storage_blobs)" 7 "the metrics listener sees the same registry"
for p in /healthz /readyz; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' "http://$MADDR$p")
    expect_eq "$code" 200 "GET $p on the metrics listener"
done
for p in /v2/ /v2/_catalog /v2/ops/app/manifests/v1 "/v2/ops/app/blobs/$lay_d" /admin/storage /ui/ /nothing; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' "http://$MADDR$p")
    expect_eq "$code" 404 "GET $p on the metrics listener"
done
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary @"$F.layer" \
    "http://$MADDR/v2/ops/x/blobs/uploads/?digest=$lay_d")
expect_eq "$code" 404 "a blob upload on the metrics listener"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $OCI_M" --data-binary @"$F.json" \
    "http://$MADDR/v2/ops/x/manifests/v1")
expect_eq "$code" 404 "a manifest PUT on the metrics listener"
http GET /v2/ops/x/tags/list
expect_status 404 "nothing was pushed through the metrics listener"
scrape "$TMP/l2"; parsed "scrape on the main listener too" "$TMP/l2"
expect_eq "$(mval "$TMP/l2" berth_storage_blobs)" 7 "no blob stored through the metrics listener"
berthd_stop; expect_eq "$?" 0 "berthd exit status on SIGTERM"

# ---- auth on ----------------------------------------------------------------
HT=$TMP/htpasswd
printf 'scrape-pw-9\n' | "$BERTHD" htpasswd "$HT" scraper
printf 'dev-pw-7\n' | "$BERTHD" htpasswd "$HT" dev
MADDR=$(ops_port)
cat >"$TMP/a.json" <<EOF
{"metrics": {"listen": "$MADDR"},
 "auth": {"htpasswd": "$HT", "ratelimit": {"attempts": 1000, "window": 60},
          "access": [{"account": "scraper", "repository": "*", "actions": ["catalog"]},
                     {"account": "dev", "repository": "*", "actions": ["pull", "push"]}]}}
EOF
REG=
ops_up --config "$TMP/a.json"
for base in "$REG"; do
    code=$(curl -sS -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' "http://$base/metrics")
    expect_eq "$code" 401 "GET /metrics on $base without credentials"
    check; grep -qi '^WWW-Authenticate: Basic' "$TMP/h" || fail "no Basic challenge with the 401 on $base/metrics"
    check; grep -q '^berth_' "$TMP/b" && fail "metrics leaked in the 401 body on $base"
    code=$(curl -sS -o /dev/null -w '%{http_code}' -u scraper:wrong "http://$base/metrics")
    expect_eq "$code" 401 "GET /metrics on $base with a wrong password"
    code=$(curl -sS -o /dev/null -w '%{http_code}' -u dev:dev-pw-7 "http://$base/metrics")
    expect_eq "$code" 403 "GET /metrics on $base as an account without catalog"
    scrape "$TMP/a1" -u scraper:scrape-pw-9 --url "http://$base/metrics"
    parsed "GET /metrics on $base as the catalog account" "$TMP/a1"
    expect_eq "$(mval "$TMP/a1" berth_storage_blobs)" 7 "storage gauge after a restart ($base)"
    for p in /healthz /readyz; do
        code=$(curl -sS -o /dev/null -w '%{http_code}' "http://$base$p")
        expect_eq "$code" 200 "GET $p on $base without credentials (probes need none)"
    done
done
scrape "$TMP/a2" --url "http://$MADDR/metrics"
parsed "GET /metrics on the metrics listener without credentials (registry auth on)" "$TMP/a2"
for p in /healthz /readyz; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' "http://$MADDR$p")
    expect_eq "$code" 200 "GET $p on the metrics listener without credentials"
done
code=$(curl -sS -o /dev/null -w '%{http_code}' -u scraper:scrape-pw-9 "http://$MADDR/v2/")
expect_eq "$code" 404 "/v2/ on the metrics listener, with credentials"
# the refusals are counted too
wait_mval "$(req metrics GET 403)" 1 -u scraper:scrape-pw-9
expect_eq "$MV" 1 "403s on /metrics counted"
expect_eq "$(mval "$TMP/wm" "$(req metrics GET 401)")" 2 "401s on /metrics counted"
finish
