#!/bin/bash
# t2170-certs-d: berth trusts a registry's private CA where docker users
# already put it, and fails at once, saying where trust comes from, when
# it does not.
#
# berthd serves HTTPS on [::1] with a certificate from a test CA; berth
# reaches it as [0:0:0:0:0:0:0:1]:PORT (not a name berth treats as plain
# HTTP).
# - With no CA anywhere: the pull fails within seconds, with no retries,
#   and the message names --ca and the certs.d directories; exit non-zero.
# - With the CA at ~/.docker/certs.d/HOST:PORT/ca.crt (HOME of the test),
#   or at /etc/docker/certs.d/HOST:PORT/ca.crt, the pull works.
# - Another CA in certs.d does not help (same clear failure), and
#   --ca still works.
. "$(dirname "$0")/../lib.sh"
unset BERTH_LISTEN BERTH_ROOT BERTH_LOG_LEVEL BERTH_LOG_FORMAT
touch "$TMP/berthd.log"
BERTH=$(dirname "$BERTHD")/berth
OCI_M=application/vnd.oci.image.manifest.v1+json
ip -6 addr show lo 2>/dev/null | grep -q '::1' || { echo "$T_NAME: no IPv6 loopback here" >&2; exit 1; }
PKI=$TMP/pki
mkdir -p "$PKI"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=registry \
        -keyout "$PKI/key.pem" -out "$PKI/req.csr" 2>/dev/null &&
    printf 'subjectAltName=IP:::1\n' >"$PKI/ext" &&
    openssl x509 -req -in "$PKI/req.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
        -days 2 -extfile "$PKI/ext" -out "$PKI/cert.pem" 2>/dev/null ||
    { echo "$T_NAME: openssl could not make the test PKI" >&2; exit 1; }
PORT=$(free_port)
"$BERTHD" serve --listen "[::1]:$PORT" --root "$TMP/root" --tls-cert "$PKI/cert.pem" --tls-key "$PKI/key.pem" \
    >>"$TMP/berthd.log" 2>&1 &
BERTHD_PID=$!
at_exit "kill $BERTHD_PID; wait $BERTHD_PID"
for i in $(seq 1 100); do
    curl -s --cacert "$PKI/ca.crt" -o /dev/null "https://[::1]:$PORT/v2/" && break
    sleep 0.05
done
# an image: a gzipped tar layer, a config, a manifest
mkdir -p "$TMP/layer/etc" && echo hello >"$TMP/layer/etc/hello"
tar -C "$TMP/layer" -czf "$TMP/layer.tgz" etc
echo '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:'"$(gzip -dc "$TMP/layer.tgz" | sha256sum | cut -d' ' -f1)"'"]},"config":{}}' >"$TMP/config.json"
S=(-s --cacert "$PKI/ca.crt")
for f in layer.tgz config.json; do
    curl "${S[@]}" -f -o /dev/null -X POST -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/$f" \
        "https://[::1]:$PORT/v2/app/x/blobs/uploads/?digest=$(sha256_of "$TMP/$f")" || fail "push $f"
done
jq -cn --argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$TMP/config.json")" \
    --argjson l "$(descriptor application/vnd.oci.image.layer.v1.tar+gzip "$TMP/layer.tgz")" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: [$l]}' >"$TMP/m.json"
curl "${S[@]}" -f -o /dev/null -X PUT -H "Content-Type: $OCI_M" --data-binary @"$TMP/m.json" \
    "https://[::1]:$PORT/v2/app/x/manifests/v1" || fail "push the manifest"

HOSTPORT="[0:0:0:0:0:0:0:1]:$PORT"
export HOME=$TMP/home
mkdir -p "$HOME"
pull() { # pull [berth options]: into a fresh store; output in $TMP/pull.out
    rm -rf "$TMP/store"
    timeout 60 "$BERTH" --root "$TMP/store" "$@" pull "$HOSTPORT/app/x:v1" >"$TMP/pull.out" 2>&1
}

# ---- no CA: at once, and say where to put it -----------------------------------------------
t0=$(date +%s)
pull
rc=$?
t1=$(date +%s)
expect_ne "$rc" 0 "berth pull without the registry's CA: exit status"
check; [ $((t1 - t0)) -le 5 ] || fail "a certificate failure took $((t1 - t0)) s (retried?)"
check; grep -q retrying "$TMP/pull.out" && fail "a certificate failure was retried: $(grep -c retrying "$TMP/pull.out") times"
out=$(cat "$TMP/pull.out")
expect_match "$out" "certificate is not trusted" "the failure says the certificate is not trusted"
expect_match "$out" "--ca FILE" "the failure names --ca"
expect_match "$out" "/etc/docker/certs\.d/\[0:0:0:0:0:0:0:1\]:$PORT/ca\.crt" "the failure names the certs.d directory"

# ---- ~/.docker/certs.d ---------------------------------------------------------------------
mkdir -p "$HOME/.docker/certs.d/$HOSTPORT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other-ca \
    -keyout "$PKI/other.key" -out "$HOME/.docker/certs.d/$HOSTPORT/ca.crt" 2>/dev/null
pull
expect_ne "$?" 0 "a certs.d ca.crt of another CA"
expect_match "$(cat "$TMP/pull.out")" "certificate is not trusted" "another CA: the same clear failure"
cp "$PKI/ca.crt" "$HOME/.docker/certs.d/$HOSTPORT/ca.crt"
pull
expect_eq "$?" 0 "berth pull with the CA in ~/.docker/certs.d ($(tail -2 "$TMP/pull.out"))"
rm -rf "$HOME/.docker"

# ---- /etc/docker/certs.d, as an administrator places it for docker --------------------------
ETCD=/etc/docker/certs.d/$HOSTPORT
if [ -e "$ETCD" ]; then
    fail "$ETCD exists already: not touching it"
else
    [ -d /etc/docker/certs.d ] || { mkdir -p /etc/docker/certs.d && at_exit "rmdir /etc/docker/certs.d"; }
    mkdir -p "$ETCD" && at_exit "rm -rf '$ETCD'"
    cp "$PKI/ca.crt" "$ETCD/ca.crt"
    pull
    expect_eq "$?" 0 "berth pull with the CA in /etc/docker/certs.d ($(tail -2 "$TMP/pull.out"))"
    rm -rf "$ETCD"
fi

# ---- --ca still works ----------------------------------------------------------------------
pull --ca "$PKI/ca.crt"
expect_eq "$?" 0 "berth --ca FILE pull ($(tail -2 "$TMP/pull.out"))"
finish
