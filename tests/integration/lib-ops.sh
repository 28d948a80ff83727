# tests/integration/lib-ops.sh - helpers for the operations tests (t2000-t2030:
# metrics, health, reload, logs), sourced after tests/lib.sh.
#
#   scrape OUT [curl args] [--url URL]   # GET /metrics (default http://$REG/metrics),
#                                        # parsed with prometheus_client into OUT:
#                                        # one "name{k="v",...} value" line per sample,
#                                        # labels sorted; returns 1 (and says why) on
#                                        # a non-200 or any parse/consistency error
#   mval OUT KEY                         # a sample's value from OUT ("0" if absent)
#   mhas OUT KEY                         # the sample is present
#   wait_mval KEY WANT [curl args]       # scrape until KEY == WANT (3 s), sets $MV
#   log_count PATTERN                    # lines of $TMP/berthd.log matching (ERE)
#   wait_log PATTERN N                   # until log_count PATTERN >= N (5 s)
#   id_lines ID                          # log lines carrying request id ID
#   ops_port                             # a free 127.0.0.1 port, as ADDR
#   ops_up ARGS...                       # start berthd on $REG (ops_port), wait for /healthz
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'from prometheus_client.parser import text_string_to_metric_families' 2>/dev/null; then
    echo "$T_NAME: needs $PY with Debian's python3-prometheus-client (apt-get install python3-prometheus-client)" >&2
    exit 1
fi
touch "$TMP/berthd.log"

# The parser: prometheus_client's own (the one a Prometheus client library
# trusts), plus what it lets through but a scraper would choke on or a
# dashboard would get wrong: a TYPE that does not match the family's
# samples, a family split in two, duplicate series, negative counters,
# non-cumulative histogram buckets, +Inf != _count.
cat >"$TMP/prom-parse.py" <<'EOF'
import math, re, sys
from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
errors = []
try:
    families = list(text_string_to_metric_families(text))
except Exception as e:  # the parser raises ValueError (and others) on bad input
    print("parse error: %r" % (e,), file=sys.stderr)
    sys.exit(2)
if not text.endswith("\n"):
    errors.append("the exposition does not end with a newline")

# Each family's HELP/TYPE once, its samples contiguous (the text format's rule).
seen_type, order, last = {}, [], None
for line in text.splitlines():
    m = re.match(r"# TYPE (\S+) (\S+)$", line)
    if m:
        if m.group(1) in seen_type:
            errors.append("TYPE for %s given twice" % m.group(1))
        seen_type[m.group(1)] = m.group(2)
        continue
    if not line or line.startswith("#"):
        continue
    name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
    fam = next((f for f in seen_type if name == f or (name.startswith(f + "_") and
                name[len(f) + 1:] in ("bucket", "sum", "count", "total", "created"))), name)
    if fam != last:
        if fam in order:
            errors.append("samples of %s are not together" % fam)
        order.append(fam)
        last = fam
for f, t in seen_type.items():
    if t not in ("counter", "gauge", "histogram", "summary", "untyped", "info", "stateset"):
        errors.append("%s has unknown TYPE %s" % (f, t))

out, keys = [], set()
for fam in families:
    by_series = {}
    for s in fam.samples:
        labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
        key = "%s{%s}" % (s.name, labels) if labels else s.name
        if key in keys:
            errors.append("duplicate series " + key)
        keys.add(key)
        v = s.value
        if math.isnan(v):
            errors.append("NaN value for " + key)
        if fam.type in ("counter", "histogram") and v < 0:
            errors.append("negative %s value for %s" % (fam.type, key))
        if fam.type == "counter" and not s.name.endswith(("_total", "_created")):
            errors.append("counter sample %s does not end in _total" % s.name)
        val = str(int(v)) if v == int(v) and abs(v) < 2**63 else repr(v)
        out.append("%s %s" % (key, val))
        if fam.type == "histogram":
            rest = tuple(sorted((k, v2) for k, v2 in s.labels.items() if k != "le"))
            by_series.setdefault(rest, {})[s.name[len(fam.name):] + ("@" + s.labels["le"] if "le" in s.labels else "")] = v
    if fam.type == "histogram":
        for rest, d in by_series.items():
            buckets = sorted(((float(k.split("@")[1]), v) for k, v in d.items() if k.startswith("_bucket@")))
            where = "%s%s" % (fam.name, dict(rest))
            if not buckets or buckets[-1][0] != math.inf:
                errors.append(where + ": no +Inf bucket")
                continue
            for (b1, v1), (b2, v2) in zip(buckets, buckets[1:]):
                if v2 < v1:
                    errors.append("%s: bucket le=%g (%g) < le=%g (%g): not cumulative" % (where, b2, v2, b1, v1))
            if d.get("_count") != buckets[-1][1]:
                errors.append("%s: _count %s != +Inf bucket %s" % (where, d.get("_count"), buckets[-1][1]))
            if "_sum" not in d:
                errors.append(where + ": no _sum")
print("\n".join(out))
for e in errors:
    print("consistency error: " + e, file=sys.stderr)
sys.exit(3 if errors else 0)
EOF

# scrape OUT [curl args...]: GET /metrics, parse; OUT.txt keeps the raw text.
scrape() {
    local out=$1 url="http://$REG/metrics" code
    shift
    local args=()
    while [ $# -gt 0 ]; do
        if [ "$1" = --url ]; then url=$2; shift 2; else args+=("$1"); shift; fi
    done
    code=$(curl -sS -m 10 -o "$out.txt" -w '%{http_code}' "${args[@]}" "$url") || code=000
    if [ "$code" != 200 ]; then
        echo "GET $url answered $code: $(head -c 300 "$out.txt" 2>/dev/null)" >"$out.err"
        : >"$out"
        return 1
    fi
    "$PY" "$TMP/prom-parse.py" <"$out.txt" >"$out" 2>"$out.err"
}
# mval OUT KEY: the value of the sample KEY (exactly as scrape writes it).
mval() {
    awk -v k="$2" 'substr($0, 1, length(k) + 1) == k " " { v = substr($0, length(k) + 2) }
                   END { print (v == "" ? "0" : v) }' "$1"
}
mhas() { awk -v k="$2" 'substr($0, 1, length(k) + 1) == k " " { f = 1 } END { exit !f }' "$1"; }
# wait_mval KEY WANT [curl args]: a request is counted when libmicrohttpd
# reports it complete, which can be just after its client has the answer.
wait_mval() {
    local key=$1 want=$2 i
    shift 2
    for i in $(seq 1 30); do
        scrape "$TMP/wm" "$@" || break
        MV=$(mval "$TMP/wm" "$key")
        [ "$MV" = "$want" ] && return 0
        sleep 0.1
    done
    return 1
}

log_count() { grep -cE -- "$1" "$TMP/berthd.log"; }
wait_log() {
    local i
    for i in $(seq 1 100); do
        [ "$(log_count "$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
id_lines() { grep -F -- "$1" "$TMP/berthd.log"; }
# ops_port: a port below the kernel's ephemeral range (so no client
# connection, nor its TIME-WAIT, holds it) that no socket uses now.
ops_port() {
    local lo p
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$lo" -gt 21000 ] || lo=32768
    while :; do
        p=$((20000 + RANDOM % (lo - 20000)))
        ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null | grep -q . || { echo "127.0.0.1:$p"; return; }
    done
}
# ops_up ARGS...: berthd serve --listen $REG --root $ROOT ARGS (REG from
# ops_port unless set); waits until /healthz answers 200 (auth or not).
ops_up() {
    ROOT=${ROOT:-$TMP/root}
    mkdir -p "$ROOT"
    REG=${REG:-$(ops_port)}
    PORT=${REG##*:}
    local i log0
    log0=$(wc -l <"$TMP/berthd.log")
    "$BERTHD" serve --listen "$REG" --root "$ROOT" "$@" >>"$TMP/berthd.log" 2>&1 &
    BERTHD_PID=$!
    at_exit "kill $BERTHD_PID; wait $BERTHD_PID"
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$REG/healthz")" = 200 ] && return 0
        kill -0 "$BERTHD_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$T_NAME: berthd did not start (args: $*):" >&2
    tail -n +$((log0 + 1)) "$TMP/berthd.log" | head -20 >&2
    exit 1
}
