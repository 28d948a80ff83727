#!/bin/bash
# t1450-security-net: the network-facing defences, each tried as an attack.
# - Failed-login limit: an attacker who crafts user names that share the
#   victim's slot in an unkeyed table (and changes source address between
#   guesses) cannot reset the victim's counter: the victim's account still
#   gets 429 after the threshold.
# - trusted_proxies: behind a trusted proxy, X-Forwarded-For names the
#   client (right-most entry not itself a trusted proxy): failures of one
#   forwarded address do not lock out another, and the logs (failed-login
#   line, access line) name the forwarded address; an entry the client
#   wrote to the left is ignored; without trusted_proxies (or from a peer
#   that is not trusted) X-Forwarded-For is ignored, so it cannot be spoofed
#   to dodge the limit; bad trusted_proxies values are refused by
#   check-config with the entry named.
# - Connections: a slowloris from 127.0.0.2 (hundreds of connections that
#   trickle header bytes, against a berthd whose open-file soft limit is
#   low) does not stop 127.0.0.1 from being served; a client trickling a
#   partial header is closed after limits.header_timeout; a slow but steady
#   upload body still succeeds; bad limits are refused.
# - TLS: 1.0 and 1.1 are refused by the server (openssl s_client against a
#   control s_server shows the client can speak them), 1.2 and 1.3 work.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-auth.sh"

HT=$TMP/htpasswd
PW_A='alice-net-pw'
add_user "$HT" alice "$PW_A" || exit 1
add_user "$HT" bob bob-net-pw || exit 1

# ---- failed-login limit: crafted names cannot evict the victim's counter ----
# The attack on the old table: slot = first two bytes of SHA-256("user:NAME")
# modulo 4096, 8 slots probed, the stalest replaced. Eight names with
# alice's base slot push her counter out; fresh source addresses keep the
# per-address counter of the attacker low.
mapfile -t CRAFTED < <("$PY" - <<'EOF'
import hashlib
def base(name):
    md = hashlib.sha256(("user:" + name).encode()).digest()
    return ((md[0] << 8) | md[1]) % 4096
want, out, i = base("alice"), [], 0
while len(out) < 8:
    n = "x%d" % i
    if base(n) == want:
        out.append(n)
    i += 1
print("\n".join(out))
EOF
)
check; [ "${#CRAFTED[@]}" -eq 8 ] || fail "could not craft colliding names"
cat >"$TMP/rl.json" <<EOF
{"auth": {"htpasswd": "$HT", "ratelimit": {"attempts": 3, "window": 300}}}
EOF
auth_up --config "$TMP/rl.json"
src=1
from_fresh() { src=$((src + 1)); FROM=(--interface "127.0.1.$src"); }
guess_codes=()
for round in 1 2 3 4 5; do
    from_fresh
    AUTH=(-u "alice:guess$round")
    ahttp GET /v2/ "${FROM[@]}"
    guess_codes+=("$STATUS")
    for n in "${CRAFTED[@]}"; do
        from_fresh
        AUTH=(-u "$n:whatever")
        ahttp GET /v2/ "${FROM[@]}"
    done
done
expect_eq "${guess_codes[*]}" "401 401 401 429 429" "alice's guesses from fresh addresses between crafted-name floods"
from_fresh
AUTH=(-u "alice:$PW_A")
ahttp GET /v2/ "${FROM[@]}"
expect_error 429 TOOMANYREQUESTS
expect_match "$(header Retry-After)" '^[0-9]+$' "Retry-After on the victim's account"
from_fresh
AUTH=(-u "bob:bob-net-pw")
ahttp GET /v2/ "${FROM[@]}"
expect_status 200 "another account is not locked by the flood"
auth_down

# ---- trusted_proxies: X-Forwarded-For names the client ----------------------
cat >"$TMP/tp.json" <<EOF
{"trusted_proxies": ["127.0.0.1/32", "::1"],
 "auth": {"htpasswd": "$HT", "ratelimit": {"attempts": 3, "window": 300}}}
EOF
auth_up --config "$TMP/tp.json"
LOG0=$(wc -l <"$TMP/berthd.log")
# Three failures from 198.51.100.7 (different accounts: the address counts).
for u in u1 u2 u3; do
    AUTH=(-u "$u:nope")
    ahttp GET /v2/ -H "X-Forwarded-For: 198.51.100.7"
    expect_error 401 UNAUTHORIZED
done
AUTH=(-u "alice:$PW_A")
ahttp GET /v2/ -H "X-Forwarded-For: 198.51.100.7"
expect_error 429 TOOMANYREQUESTS
# The proxy appends the real address; what the client wrote to its left
# does not get it out.
ahttp GET /v2/ -H "X-Forwarded-For: 203.0.113.50, 198.51.100.7"
expect_error 429 TOOMANYREQUESTS
# Nor does a chain of trusted proxies in front of it.
ahttp GET /v2/ -H "X-Forwarded-For: 198.51.100.7, 127.0.0.1"
expect_error 429 TOOMANYREQUESTS
# Another client behind the same proxy is not locked out.
ahttp GET /v2/ -H "X-Forwarded-For: 198.51.100.8"
expect_status 200 "another forwarded address logs in"
ahttp GET /v2/ -H "X-Forwarded-For: 2001:db8::8"
expect_status 200 "an IPv6 forwarded address logs in"
ahttp GET /v2/ -H "X-Forwarded-For: 198.51.100.7:4711"
expect_error 429 TOOMANYREQUESTS
ahttp GET /v2/ -H "X-Forwarded-For: [2001:db8::8]:4711"
expect_status 200 "a bracketed IPv6 forwarded address with a port"
# Two X-Forwarded-For headers count as one list.
ahttp GET /v2/ -H "X-Forwarded-For: 198.51.100.8" -H "X-Forwarded-For: 198.51.100.7"
expect_error 429 TOOMANYREQUESTS
# A peer that is not a trusted proxy is itself the client.
ahttp GET /v2/ --interface 127.0.0.2 -H "X-Forwarded-For: 198.51.100.8"
expect_status 200 "127.0.0.2 (not trusted) logs in"
sleep 0.3
NEW=$(tail -n +$((LOG0 + 1)) "$TMP/berthd.log")
check; grep -q 'failed login for u1 from 198.51.100.7' <<<"$NEW" \
    || fail "the failed-login line names the forwarded address: $(grep -m1 'failed login' <<<"$NEW")"
check; grep -q 'failed login.* from 127.0.0.1' <<<"$NEW" && fail "a failed-login line names the proxy"
check; grep -Eq ' GET /v2/ 429 [0-9]+ [0-9.]+s 198\.51\.100\.7( [^ ]+)?$' <<<"$NEW" \
    || fail "the access line names the forwarded address: $(grep -m1 ' GET /v2/ 429' <<<"$NEW")"
check; grep -Eq ' GET /v2/ 200 [0-9]+ [0-9.]+s 2001:db8::8( [^ ]+)?$' <<<"$NEW" \
    || fail "the access line names the IPv6 forwarded address"
check; grep -Eq ' GET /v2/ 200 [0-9]+ [0-9.]+s 127\.0\.0\.2( [^ ]+)?$' <<<"$NEW" \
    || fail "the access line of an untrusted peer names the peer"
auth_down

# The JSON access line carries it as "client".
auth_up --config "$TMP/tp.json" --log-format json
LOG0=$(wc -l <"$TMP/berthd.log")
AUTH=(-u "alice:$PW_A")
ahttp GET /v2/ -H "X-Forwarded-For: 198.51.100.9, 127.0.0.1"
expect_status 200 "a login through two proxies"
id=$(header X-Request-Id)
sleep 0.3
expect_eq "$(tail -n +$((LOG0 + 1)) "$TMP/berthd.log" | jq -r --arg id "$id" 'select(.request_id == $id) | .client' 2>/dev/null)" \
    198.51.100.9 "the JSON access line's client"
auth_down

# Without trusted_proxies, X-Forwarded-For is whatever the client says.
auth_up --config "$TMP/rl.json"
LOG0=$(wc -l <"$TMP/berthd.log")
for i in 1 2 3; do
    AUTH=(-u "v$i:nope")
    ahttp GET /v2/ -H "X-Forwarded-For: 192.0.2.$i"
    expect_error 401 UNAUTHORIZED
done
AUTH=(-u "alice:$PW_A")
ahttp GET /v2/ -H "X-Forwarded-For: 192.0.2.99"
expect_error 429 TOOMANYREQUESTS
sleep 0.3
NEW=$(tail -n +$((LOG0 + 1)) "$TMP/berthd.log")
check; grep -q 'failed login for v1 from 127.0.0.1' <<<"$NEW" || fail "without trusted_proxies the peer is logged"
check; grep -q '192\.0\.2\.' <<<"$NEW" && fail "a spoofed X-Forwarded-For reached the log"
auth_down

# check-config names a bad entry.
for bad in '"10.0.0.0/33"' '"not-an-ip"' '"::1/129"' '5' '"10.0.0.0/"'; do
    printf '{"trusted_proxies": ["127.0.0.1", %s]}\n' "$bad" >"$TMP/badtp.json"
    out=$("$BERTHD" check-config --config "$TMP/badtp.json" 2>&1)
    rc=$?
    expect_eq "$rc" 2 "check-config exit for trusted_proxies [..., $bad]"
    expect_match "$out" 'trusted_proxies\[1\]' "the message names the entry ($bad)"
done
printf '{"trusted_proxies": "127.0.0.1"}\n' >"$TMP/badtp.json"
out=$("$BERTHD" check-config --config "$TMP/badtp.json" 2>&1)
expect_match "$out" 'trusted_proxies: must be a list' "a string instead of a list"
printf '{"trusted_proxies": ["10.0.0.0/8", "fd00::/8", "192.168.1.1"]}\n' >"$TMP/goodtp.json"
"$BERTHD" check-config --config "$TMP/goodtp.json" >/dev/null 2>&1
expect_eq "$?" 0 "check-config accepts IPv4 and IPv6 ranges"

# ---- connections -----------------------------------------------------------
cat >"$TMP/slow.py" <<'EOF'
# slow.py MODE PORT ...: small attack clients for berthd.
#   loris PORT SRC N SECONDS   N connections from SRC, each sending a partial
#                              request and one header line every 0.5 s;
#                              prints how many were still open after 1 s
#                              and keeps trickling until SECONDS end.
#   partial PORT SECONDS       one connection trickling a header line every
#                              0.3 s; prints "closed" when the server closes
#                              it within SECONDS, else "open".
#   upload PORT PATH SIZE SECONDS   a POST whose body of SIZE bytes goes out
#                              in small pieces over SECONDS; prints the status.
import socket, sys, time, select

def connect(port, src=None):
    s = socket.socket()
    if src:
        s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s

def closed(s):
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        return s.recv(1, socket.MSG_DONTWAIT) == b""
    except OSError:
        return True

mode, port = sys.argv[1], int(sys.argv[2])
if mode == "loris":
    src, n, secs = sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    socks = []
    for i in range(n):
        try:
            s = connect(port, src)
            s.send(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            pass
    time.sleep(1)
    print(sum(1 for s in socks if not closed(s)), flush=True)
    end = time.time() + secs
    while time.time() < end:
        for s in socks:
            try:
                s.send(b"X-A: b\r\n")
            except OSError:
                pass
        time.sleep(0.5)
elif mode == "partial":
    secs = float(sys.argv[3])
    s = connect(port)
    s.send(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
    end = time.time() + secs
    state = "open"
    while time.time() < end:
        time.sleep(0.3)
        if closed(s):
            state = "closed"
            break
        try:
            s.send(b"X-A: b\r\n")
        except OSError:
            state = "closed"
            break
    print(state)
elif mode == "upload":
    path, size, secs = sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    body = bytes(range(256)) * (size // 256)
    s = connect(port)
    s.settimeout(30)
    s.send(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: %d\r\n\r\n" % (path, len(body))).encode())
    pieces = 20
    step = len(body) // pieces
    for i in range(pieces):
        s.send(body[i * step:(i + 1) * step if i < pieces - 1 else len(body)])
        time.sleep(secs / pieces)
    print(s.recv(4096).split(b" ")[1].decode())
EOF

# A berthd with a low open-file soft limit, as under a default ulimit; it
# may raise it up to the hard limit.
printf '#!/bin/sh\nulimit -Sn 256\nexec "%s" "$@"\n' "$BERTHD" >"$TMP/berthd-lowfd"
chmod +x "$TMP/berthd-lowfd"
REAL_BERTHD=$BERTHD
BERTHD=$TMP/berthd-lowfd
# header_timeout long enough that only the per-address limit protects here
cat >"$TMP/conn.json" <<EOF
{"limits": {"header_timeout": 60, "connections_per_address": 32}}
EOF
auth_up --config "$TMP/conn.json"
BERTHD=$REAL_BERTHD
"$PY" "$TMP/slow.py" loris "$PORT" 127.0.0.2 400 6 >"$TMP/loris.out" 2>&1 &
LORIS=$!
at_exit "kill $LORIS"
for i in $(seq 1 300); do [ -s "$TMP/loris.out" ] && break; sleep 0.1; done
open=$(head -1 "$TMP/loris.out")
check; [[ $open =~ ^[0-9]+$ ]] && [ "$open" -le 32 ] \
    || fail "slowloris connections from 127.0.0.2 kept open: '$open' (limit 32 per address)"
HTTP_TIMEOUT=5 http GET /v2/
expect_status 200 "127.0.0.1 is served during a slowloris from 127.0.0.2"
HTTP_TIMEOUT=5 http GET /v2/ --interface 127.0.0.3
expect_status 200 "127.0.0.3 is served during a slowloris from 127.0.0.2"
wait "$LORIS"
auth_down

# The header deadline: a client that trickles its headers is cut off.
cat >"$TMP/deadline.json" <<EOF
{"limits": {"header_timeout": 2}}
EOF
auth_up --config "$TMP/deadline.json"
expect_eq "$("$PY" "$TMP/slow.py" partial "$PORT" 12)" closed \
    "a connection trickling a partial header is closed after the header deadline"
# A slow but steady body is not headers: it completes.
st=$("$PY" "$TMP/slow.py" upload "$PORT" "/v2/slow/app/blobs/uploads/?digest=sha256:$(
    "$PY" -c 'import hashlib; print(hashlib.sha256(bytes(range(256)) * 250).hexdigest())')" 64000 5)
expect_eq "$st" 201 "a 64 kB upload body sent over 5 s (deadline 2 s)"
# Kept-alive requests within the deadline still share a connection.
out=$(curl -sS -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
    "http://$REG/v2/" "http://$REG/v2/")
expect_eq "$(tr '\n' ' ' <<<"$out")" "200 1 200 0 " "two requests on one kept-alive connection"
auth_down

# Bad connection limits are refused with the key named.
for kv in '"header_timeout": 0' '"idle_timeout": "5"' '"connections": 3' '"connections_per_address": -1'; do
    printf '{"limits": {%s}}\n' "$kv" >"$TMP/badlim.json"
    out=$("$BERTHD" check-config --config "$TMP/badlim.json" 2>&1)
    rc=$?
    expect_eq "$rc" 2 "check-config exit for limits {$kv}"
    expect_match "$out" "limits\\.$(cut -d'"' -f2 <<<"$kv")" "the message names the key ($kv)"
done

# ---- TLS versions -------------------------------------------------------------
PKI=$TMP/pki
make_ca "$PKI" && make_cert "$PKI" server IP:127.0.0.1 \
    || { echo "openssl could not make the test PKI" >&2; exit 1; }
# s_client as an attacker would: every version and cipher allowed.
tls_try() {   # tls_try ADDR VERSION: the negotiated protocol, or "none"
    local out
    out=$(timeout 10 openssl s_client -connect "$1" "-$2" -cipher 'DEFAULT:@SECLEVEL=0' \
        -CAfile "$PKI/ca.crt" </dev/null 2>&1)
    # "New, ..., Cipher is X" says whether a handshake completed; the
    # session's Protocol line says which version it used.
    if grep -Eq '^New, .*Cipher is [A-Z0-9_-]+$' <<<"$out" && ! grep -q 'Cipher is (NONE)' <<<"$out"; then
        # (a TLS 1.3 session is printed only once a ticket arrives)
        { sed -nE 's/^ *Protocol *: *(TLSv1(\.[0-3])?)$/\1/p' <<<"$out"
          sed -nE 's/^New, (TLSv1\.3), Cipher is .*/\1/p' <<<"$out"; } | head -1
    else
        echo none
    fi
}
# Control: this openssl client does speak 1.0 and 1.1 to a server that
# allows them, so a refusal below comes from berthd.
for v in tls1 tls1_1; do
    cport=$(free_port)
    timeout 10 openssl s_server -www -accept "127.0.0.1:$cport" -naccept 1 -"$v" \
        -cipher 'DEFAULT:@SECLEVEL=0' -cert "$PKI/server.crt" -key "$PKI/server.key" \
        >/dev/null 2>&1 </dev/null &
    spid=$!
    for i in $(seq 1 50); do ss -Htln "sport = :$cport" | grep -q . && break; sleep 0.1; done
    got=$(tls_try "127.0.0.1:$cport" "$v")
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
    check; [ "$got" = none ] && fail "control: openssl cannot speak $v here; the refusal test below proves nothing"
done
auth_up_tls "$PKI/ca.crt" --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key"
expect_eq "$(tls_try "$REG" tls1)" none "TLS 1.0 refused"
expect_eq "$(tls_try "$REG" tls1_1)" none "TLS 1.1 refused"
expect_eq "$(tls_try "$REG" tls1_2)" TLSv1.2 "TLS 1.2 negotiated"
expect_eq "$(tls_try "$REG" tls1_3)" TLSv1.3 "TLS 1.3 negotiated"
code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' --cacert "$PKI/ca.crt" --tlsv1.2 "https://$REG/v2/")
expect_eq "$code" 200 "curl over HTTPS still works"
auth_down
finish
