# tests/integration/lib-auth.sh - helpers for the auth tests (t1000-t1300,
# interop t5000), sourced after tests/lib.sh.
#
#   auth_port                       # pick $PORT/$REG before writing a config
#   auth_up ARGS...                 # berthd serve --listen $REG --root $ROOT ARGS;
#                                   # waits for any HTTP answer (401 included)
#   auth_up_tls CA ARGS...          # the same over HTTPS, checked with CA
#   auth_refuses ARGS...            # berthd serve must exit non-zero: $REFUSAL
#   add_user FILE USER PASS         # berthd htpasswd
#   AUTH=(-u alice:pw) / AUTH=(-H "Authorization: Bearer $t") then
#   ahttp METHOD PATH [curl args]   # http with "${AUTH[@]}" ($SCHEME, $CACERT)
#   apush_blob REPO FILE, apush_manifest REPO REF FILE, apush_image REPO TAG
#   token_get USER:PASS|"" SCOPE... # the built-in token service; prints the token
#   mint KEY ALG CLAIMS [HEADER]    # tests/integration/mint-token.py
#   jwt_header TOKEN / jwt_claims TOKEN
#   make_ca DIR / make_cert DIR NAME SAN   # openssl test PKI
#   log_has_no SECRET WHAT          # SECRET never appears in $TMP/berthd.log
PY=${PYTHON:-/usr/bin/python3}
MINT=$TOP/tests/integration/mint-token.py
OCI_M=application/vnd.oci.image.manifest.v1+json
SCHEME=http
CACERT=
AUTH=()

if ! "$PY" -c 'import cryptography' 2>/dev/null; then
    echo "$T_NAME: needs $PY with Debian's python3-cryptography (apt-get install python3-cryptography)" >&2
    exit 1
fi
touch "$TMP/berthd.log"

auth_port() {
    PORT=$(free_port)
    REG=127.0.0.1:$PORT
}

# _auth_wait PID: wait until something answers HTTP(S) on $REG.
_auth_wait() {
    local pid=$1 i code
    for i in $(seq 1 100); do
        code=$(curl -sk -o /dev/null -m 2 -w '%{http_code}' \
            "$SCHEME://$REG/v2/" 2>/dev/null)
        [ -n "$code" ] && [ "$code" != 000 ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# auth_up ARGS...: start berthd on $REG (auth_port first, or a fresh port).
auth_up() {
    [ -n "${REG:-}" ] || auth_port
    ROOT=${ROOT:-$TMP/root}
    mkdir -p "$ROOT"
    LOG0=$(wc -l <"$TMP/berthd.log")
    "$BERTHD" serve --listen "$REG" --root "$ROOT" "$@" >>"$TMP/berthd.log" 2>&1 &
    BERTHD_PID=$!
    at_exit "kill $BERTHD_PID; wait $BERTHD_PID"
    if ! _auth_wait "$BERTHD_PID"; then
        echo "$T_NAME: berthd did not start (args: $*):" >&2
        tail -n +$((LOG0 + 1)) "$TMP/berthd.log" | head -20 >&2
        exit 1
    fi
}
auth_up_tls() {
    SCHEME=https CACERT=$1
    shift
    auth_up "$@"
}
# auth_down: stop berthd (expects exit 0) and forget the port.
auth_down() {
    check
    berthd_stop
    local rc=$?
    [ "$rc" -eq 0 ] || fail "berthd exited $rc on SIGTERM (expected 0)"
    REG= PORT=
}

# auth_refuses WHAT ARGS...: berthd serve ARGS must exit non-zero within 10 s;
# its output is in $REFUSAL.
auth_refuses() {
    local what=$1 rc
    shift
    local port
    port=$(free_port)
    mkdir -p "$TMP/refuse-root"
    REFUSAL=$(timeout 10 "$BERTHD" serve --listen "127.0.0.1:$port" --root "$TMP/refuse-root" "$@" 2>&1)
    rc=$?
    check
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
        fail "$what: berthd did not refuse to start (exit $rc)"
    fi
}

add_user() { printf '%s\n' "$3" | "$BERTHD" htpasswd "$1" "$2"; }

ahttp() {
    local method=$1 path=$2
    shift 2
    local head=()
    [ "$method" = HEAD ] && head=(-I)
    : >"$BODY_FILE"
    : >"$HDR_FILE"
    STATUS=$(curl -sS --path-as-is -m "${HTTP_TIMEOUT:-30}" -o "$BODY_FILE" -D "$HDR_FILE" \
        -w '%{http_code}' -X "$method" "${head[@]}" ${CACERT:+--cacert "$CACERT"} \
        "${AUTH[@]}" "$@" "$SCHEME://$REG$path") || STATUS=000
}

# apush_blob REPO FILE: monolithic upload with $AUTH; prints the digest.
apush_blob() {
    local d
    d=$(sha256_of "$2")
    curl -fsS -o /dev/null -X POST ${CACERT:+--cacert "$CACERT"} "${AUTH[@]}" \
        -H 'Content-Type: application/octet-stream' --data-binary @"$2" \
        "$SCHEME://$REG/v2/$1/blobs/uploads/?digest=$d" || return 1
    echo "$d"
}
apush_manifest() {
    curl -fsS -o /dev/null -X PUT ${CACERT:+--cacert "$CACERT"} "${AUTH[@]}" \
        -H "Content-Type: $OCI_M" --data-binary @"$3" "$SCHEME://$REG/v2/$1/manifests/$2" || return 1
    sha256_of "$3"
}
# apush_image REPO TAG: config + one layer + OCI manifest ($TMP/aimg-REPO-TAG.*).
apush_image() {
    local f=${1//\//_}
    f=$TMP/aimg-$f-$2
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"x":"%s"}' \
        "$RANDOM$RANDOM" >"$f.config"
    random_file "$f.layer" 512
    apush_blob "$1" "$f.config" >/dev/null && apush_blob "$1" "$f.layer" >/dev/null || return 1
    jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$f.config")" \
        --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar "$f.layer")" \
        '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' \
        | tr -d '\n' >"$f.json"
    apush_manifest "$1" "$2" "$f.json"
}

# token_get CREDS SCOPE...: GET the built-in token service ($TOKEN_PATH,
# default /auth/token) for $SERVICE; prints .token (empty on failure).
token_get() {
    local creds=$1 args=() s
    shift
    [ -n "$creds" ] && args=(-u "$creds")
    for s in "$@"; do args+=(--data-urlencode "scope=$s"); done
    curl -sS -G -m 30 ${CACERT:+--cacert "$CACERT"} "${args[@]}" \
        --data-urlencode "service=${SERVICE:-berth}" \
        "$SCHEME://$REG${TOKEN_PATH:-/auth/token}" | jq -r '.token // empty'
}

mint() { "$PY" "$MINT" "$@"; }
jwt_header() { "$PY" "$MINT" --decode "$1" | jq -c .header; }
jwt_claims() { "$PY" "$MINT" --decode "$1" | jq -c .claims; }

# make_ca DIR: DIR/ca.key, DIR/ca.crt (EC P-256, CA:TRUE).
make_ca() {
    mkdir -p "$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=Berth Test CA $RANDOM" -keyout "$1/ca.key" -out "$1/ca.crt" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
}
# make_cert DIR NAME [SAN]: DIR/NAME.key + DIR/NAME.crt signed by DIR/ca.*.
make_cert() {
    local dir=$1 name=$2 san=${3:-}
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=$name" -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null || return 1
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        [ -n "$san" ] && echo "subjectAltName=$san" && echo "extendedKeyUsage=serverAuth"
    } >"$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 2 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
}

# log_has_no SECRET WHAT: the berthd log never contains SECRET.
log_has_no() {
    check
    [ -n "$1" ] || { fail "log_has_no $2: empty secret"; return; }
    if grep -qF -- "$1" "$TMP/berthd.log"; then
        fail "$2 appears in berthd's log: $(grep -F -- "$1" "$TMP/berthd.log" | head -2)"
    fi
}
