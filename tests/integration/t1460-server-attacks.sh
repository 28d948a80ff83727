#!/bin/bash
# t1460-server-attacks: attacks on berthd's defences that got past them once.
# - A Basic user name with spaces ("mallory from 192.0.2.66") made the
#   failed-login line read "failed login for mallory from 192.0.2.66 from
#   127.0.0.1": a log reader that takes the address after "from" (fail2ban)
#   bans whom the attacker names. Its spaces are now escaped, and the line
#   names the real client once.
# - The failed-login limit counted each IPv6 address alone: a client with a
#   /64 picks a fresh address for every guess and is never limited. It now
#   counts by /64 (tried through a trusted proxy's X-Forwarded-For); another
#   /64 is not locked out, and an IPv4 client written as ::ffff:a.b.c.d
#   shares the counter of a.b.c.d.
# - A slow POST to the token service (headers at once, then the form body a
#   byte at a time) held a connection with no credentials for as long as
#   the client liked: the header deadline ended with the headers and the
#   idle timeout never came. The token service's body is now held to the
#   headers' deadline; a form sent at once still gets a token.
# - limits.connections_per_address counted each IPv6 address alone: from
#   one /64 a client opened as many connections as it liked. In a network
#   namespace with 2001:db8::/64 on its loopback, 12 partial requests from
#   12 addresses of that /64 under a limit of 4: berthd closes 8, and a
#   client of another /64 is still served.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-auth.sh"

HT=$TMP/htpasswd
PW_A='alice-atk-pw'
add_user "$HT" alice "$PW_A" || exit 1

# ---- a user name that writes its own "from ADDR" ----------------------------
cat >"$TMP/rl.json" <<EOF
{"auth": {"htpasswd": "$HT", "ratelimit": {"attempts": 50, "window": 300}}}
EOF
for fmt in text json; do
    auth_up --config "$TMP/rl.json" --log-format "$fmt"
    LOG0=$(wc -l <"$TMP/berthd.log")
    AUTH=(-u "mallory from 192.0.2.66:nope")
    ahttp GET /v2/
    expect_error 401 UNAUTHORIZED
    sleep 0.3
    NEW=$(tail -n +$((LOG0 + 1)) "$TMP/berthd.log")
    if [ "$fmt" = json ]; then
        line=$(jq -r 'select(.msg? // "" | test("failed login")) | .msg' <<<"$NEW" 2>/dev/null)
    else
        line=$(grep 'failed login' <<<"$NEW")
    fi
    expect_match "$line" 'failed login for mallory.*from 127\.0\.0\.1$' "($fmt) the failed-login line"
    check; grep -q 'from 192\.0\.2\.66' <<<"$line" && fail "($fmt) the user name wrote an address after 'from': $line"
    check; [ "$(grep -o ' from ' <<<"$line" | wc -l)" -eq 1 ] || fail "($fmt) one ' from ' in: $line"
    auth_down
done

# ---- IPv6: one /64, many addresses ------------------------------------------
cat >"$TMP/tp.json" <<EOF
{"trusted_proxies": ["127.0.0.1/32"],
 "auth": {"htpasswd": "$HT", "ratelimit": {"attempts": 3, "window": 300}}}
EOF
auth_up --config "$TMP/tp.json"
# Three failures, each from a fresh address of 2001:db8:1::/64 and for a
# different account, so only the address counter can stop the fourth.
for i in 1 2 3; do
    AUTH=(-u "spray$i:nope")
    ahttp GET /v2/ -H "X-Forwarded-For: 2001:db8:1::$i"
    expect_error 401 UNAUTHORIZED
done
AUTH=(-u "alice:$PW_A")
ahttp GET /v2/ -H "X-Forwarded-For: 2001:db8:1:0:ffff:ffff:ffff:ffff"
expect_error 429 TOOMANYREQUESTS
ahttp GET /v2/ -H "X-Forwarded-For: [2001:db8:1::abcd]:4711"
expect_error 429 TOOMANYREQUESTS
ahttp GET /v2/ -H "X-Forwarded-For: 2001:db8:2::1"
expect_status 200 "another /64 logs in"
ahttp GET /v2/ -H "X-Forwarded-For: 2001:db8:1:1::1"
expect_status 200 "the neighbouring /64 logs in"
# IPv4 as an IPv4-mapped IPv6 address is the same client.
for i in 1 2 3; do
    AUTH=(-u "mapped$i:nope")
    ahttp GET /v2/ -H "X-Forwarded-For: ::ffff:198.51.100.20"
    expect_error 401 UNAUTHORIZED
done
AUTH=(-u "alice:$PW_A")
ahttp GET /v2/ -H "X-Forwarded-For: 198.51.100.20"
expect_error 429 TOOMANYREQUESTS
ahttp GET /v2/ -H "X-Forwarded-For: 198.51.100.21"
expect_status 200 "the next IPv4 address logs in"
sleep 0.3
check; grep -q 'failed login for spray1 from 2001:db8:1::1$' "$TMP/berthd.log" ||
    fail "the failed-login line names the whole IPv6 address: $(grep -m1 'spray1' "$TMP/berthd.log")"
auth_down

# ---- a slow POST to the token service -----------------------------------------
cat >"$TMP/slowpost.py" <<'EOF'
# slowpost.py PORT PATH SECONDS: POST headers at once, then one body byte
# every 0.3 s; prints "closed" when the server closes within SECONDS, else "open".
import socket, sys, time
port, path, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(("POST %s HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: 4000\r\n\r\n" % path).encode())
s.settimeout(0.3)
end = time.time() + limit
while time.time() < end:
    try:
        if not s.recv(4096):
            print("closed"); sys.exit(0)
    except socket.timeout:
        pass
    except OSError:
        print("closed"); sys.exit(0)
    try:
        s.send(b"a")
    except OSError:
        print("closed"); sys.exit(0)
print("open")
EOF
jq -n --arg ht "$HT" --arg key "$TMP/signing.pem" --arg realm "http://127.0.0.1/auth/token" '{
  limits: {header_timeout: 2, idle_timeout: 600},
  auth: {htpasswd: $ht, token: {realm: $realm, service: "atk", path: "/auth/token", key: $key},
         access: [{account: "alice", repository: "*", actions: ["pull"]}]}}' >"$TMP/tok.json"
auth_up --config "$TMP/tok.json"
expect_eq "$(timeout 30 "$PY" "$TMP/slowpost.py" "$PORT" /auth/token 15)" closed \
    "a token POST whose body trickles is closed at the header deadline"
out=$(curl -sS -m 10 -X POST --data 'grant_type=password&username=alice&service=atk&client_id=t' \
    --data-urlencode "password=$PW_A" "http://$REG/auth/token")
expect_match "$(jq -r '.access_token // .token // empty' <<<"$out" 2>/dev/null)" '^ey' "a token POST sent at once"
auth_down

# ---- connections from many addresses of one IPv6 /64 ---------------------------
# In a network namespace of its own: 2001:db8::/64 on its loopback, every
# address of it usable as a source.
cat >"$TMP/loris6.py" <<'EOF'
# loris6.py PORT N SECONDS KEEP: N connections to [2001:db8::1]:PORT, each
# from another address of 2001:db8::/64, each with a partial request; waits
# until all but KEEP are closed (or SECONDS pass) and prints how many the
# server closed.
import socket, sys, time
port, n, limit, keep = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.SOL_IP, 15, 1)   # IP_FREEBIND
    s.bind(("2001:db8::%x" % (0x100 + i), 0))
    s.settimeout(5)
    s.connect(("2001:db8::1", port))
    s.send(b"GET /v2/ HTTP/1.1\r\nHost: a\r\n")
    s.setblocking(False)
    socks.append(s)
closed = set()
end = time.time() + limit
while time.time() < end and len(closed) < n - keep:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        try:
            if not s.recv(4096):
                closed.add(i)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(i)
    time.sleep(0.1)
print("closed", len(closed))
# the /64 is full; another /64 is served
code = "none"
try:
    s = socket.socket(socket.AF_INET6)
    s.bind(("2001:db8:0:1::5", 0))
    s.settimeout(5)
    s.connect(("2001:db8::1", port))
    s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    code = s.recv(64).split(b" ")[1].decode()
except (OSError, IndexError):
    pass
print("other", code)
EOF
cat >"$TMP/inner6.sh" <<EOF
ip link set lo up || exit 3
ip -6 addr add 2001:db8::1/64 dev lo nodad || exit 3
ip -6 addr add 2001:db8:0:1::5/64 dev lo nodad || exit 3
ip -6 route add local 2001:db8::/64 dev lo || exit 3
echo '{"limits": {"connections_per_address": 4, "header_timeout": 60}}' >"$TMP/c6.json"
"$BERTHD" serve --listen '[2001:db8::1]:5000' --root "$TMP/root6" --config "$TMP/c6.json" >>"$TMP/berthd.log" 2>&1 &
pid=\$!
for i in \$(seq 1 100); do
    curl -s -g -o /dev/null -m 1 'http://[2001:db8::1]:5000/v2/' && break
    sleep 0.05
done
"$PY" "$TMP/loris6.py" 5000 12 20 4
kill \$pid
wait \$pid
echo "exit \$?"
EOF
if timeout 10 unshare -rn true 2>/dev/null; then
    out=$(timeout 60 unshare -rn bash "$TMP/inner6.sh" 2>&1)
    expect_match "$out" 'closed 8' "12 connections from one /64 under connections_per_address 4: closed by berthd ($out)"
    expect_match "$out" 'other 200' "a client of another /64 is served"
    expect_match "$out" 'exit 0' "berthd exits 0 after the /64 flood"
else
    echo "$T_NAME: no network namespaces here: the /64 connection limit is not tried" >&2
fi

finish
