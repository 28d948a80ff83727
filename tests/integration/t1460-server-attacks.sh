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

finish
