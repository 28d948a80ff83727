#!/bin/bash
# t1000-auth-basic: Basic auth from an htpasswd file: `berthd htpasswd` adds
# and changes users (bcrypt), non-bcrypt and malformed lines stop berthd at
# start-up with the line number, 401 + Basic challenge + UNAUTHORIZED without
# (good) credentials, open mode (no access list: any user, anything), failed
# logins rate-limited (429 + Retry-After) until the window ends, and no
# secret in the log.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-auth.sh"

PW_A='alice-S3cret:with colon'
PW_A2='alice-new-Pa55'
PW_B='bob-pw-0xB0B'
HT=$TMP/htpasswd

# ---- berthd htpasswd -------------------------------------------------------
add_user "$HT" alice "$PW_A"
expect_eq "$?" 0 "berthd htpasswd exit status (new file)"
add_user "$HT" bob "$PW_B"
expect_eq "$?" 0 "berthd htpasswd exit status (second user)"
expect_eq "$(wc -l <"$HT")" 2 "htpasswd lines after two users"
expect_match "$(grep '^alice:' "$HT")" '^alice:\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$' "alice's line is bcrypt"
expect_match "$(grep '^bob:' "$HT")" '^bob:\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$' "bob's line is bcrypt"
expect_eq "$(stat -c %a "$HT")" 640 "htpasswd file mode"
check; grep -qF -- "$PW_A" "$HT" && fail "the clear password is in the htpasswd file"
old_hash=$(grep '^alice:' "$HT")
bob_line=$(grep '^bob:' "$HT")

# Bad invocations: non-zero, file untouched.
cp "$HT" "$TMP/ht.before"
printf '' | "$BERTHD" htpasswd "$HT" carol 2>"$TMP/err"
expect_ne "$?" 0 "berthd htpasswd without a password on stdin"
printf 'x\n' | "$BERTHD" htpasswd "$HT" 'ca:rol' 2>"$TMP/err"
expect_ne "$?" 0 "berthd htpasswd with ':' in the user name"
printf '\n' | "$BERTHD" htpasswd "$HT" carol 2>"$TMP/err"
expect_ne "$?" 0 "berthd htpasswd with an empty password"
"$BERTHD" htpasswd "$HT" </dev/null 2>"$TMP/err"
expect_ne "$?" 0 "berthd htpasswd without a user"
check; cmp -s "$HT" "$TMP/ht.before" || fail "a refused berthd htpasswd changed the file"

# ---- serving ---------------------------------------------------------------
cat >"$TMP/basic.json" <<EOF
{"auth": {"realm": "Berth Test Realm", "ratelimit": {"attempts": 1000, "window": 60}}}
EOF
auth_up --config "$TMP/basic.json" --htpasswd "$HT" --log-level debug

http GET /v2/
expect_error 401 UNAUTHORIZED
expect_eq "$(header WWW-Authenticate)" 'Basic realm="Berth Test Realm"' "Basic challenge"
expect_eq "$(header Docker-Distribution-API-Version)" registry/2.0 "API version header on a 401"
http HEAD /v2/
expect_status 401 "HEAD /v2/ without credentials"
expect_eq "$(header WWW-Authenticate)" 'Basic realm="Berth Test Realm"' "Basic challenge on HEAD"
http GET /v2/any/thing/manifests/latest
expect_error 401 UNAUTHORIZED
expect_eq "$(header WWW-Authenticate)" 'Basic realm="Berth Test Realm"' "Basic challenge on a manifest"
http GET /v2/_catalog
expect_error 401 UNAUTHORIZED
http POST /v2/any/blobs/uploads/
expect_error 401 UNAUTHORIZED

AUTH=(-u "alice:$PW_A")
ahttp GET /v2/
expect_status 200 "GET /v2/ with alice's password (it contains a colon)"
AUTH=(-u "bob:$PW_B")
ahttp GET /v2/
expect_status 200 "GET /v2/ as bob"

# Wrong credentials of every kind: 401 with the challenge.
for c in "alice:wrong" "alice:" "nobody:$PW_A" "bob:$PW_A" "ALICE:$PW_A"; do
    AUTH=(-u "$c")
    ahttp GET /v2/
    expect_error 401 UNAUTHORIZED
    expect_eq "$(header WWW-Authenticate)" 'Basic realm="Berth Test Realm"' "challenge after bad credentials ($c)"
done
for h in "Basic" "Basic !!!!" "Basic $(printf 'alice' | base64)" "Basic $(printf ':%s' "$PW_A" | base64 -w0)" \
         "Bearer $(printf 'alice:%s' "$PW_A" | base64 -w0)" "Digest username=alice"; do
    AUTH=(-H "Authorization: $h")
    ahttp GET /v2/
    expect_error 401 UNAUTHORIZED
done
AUTH=(-H "Authorization: basic $(printf 'alice:%s' "$PW_A" | base64 -w0)")
ahttp GET /v2/
expect_status 200 "the Basic scheme name is case-insensitive"
# A user name with a line break must not write a line of its own into the log.
AUTH=(-H "Authorization: Basic $(printf 'evil\nFORGED info  GET /v2/secret 200 0 0.0s\nx:pw' | base64 -w0)")
ahttp GET /v2/
expect_error 401 UNAUTHORIZED

# Open mode (no access list): any authenticated user may do anything.
AUTH=(-u "alice:$PW_A")
m=$(apush_image lib/app v1)
check; [ -n "$m" ] || fail "alice could not push lib/app:v1"
ahttp GET /v2/lib/app/manifests/v1 -H "Accept: $OCI_M"
expect_status 200 "alice pulls her manifest"
AUTH=(-u "bob:$PW_B")
ahttp GET /v2/lib/app/manifests/v1 -H "Accept: $OCI_M"
expect_status 200 "bob pulls alice's manifest (open mode)"
layer=$(sha256_of "$TMP/aimg-lib_app-v1.layer")
ahttp GET "/v2/lib/app/blobs/$layer"
expect_status 200 "bob pulls a blob"
expect_eq "$(sha256_of "$BODY_FILE")" "$layer" "blob content"
ahttp GET /v2/lib/app/tags/list
expect_eq "$(jq -c .tags "$BODY_FILE")" '["v1"]' "tags list as bob"
ahttp GET /v2/_catalog
expect_status 200 "catalog as bob (open mode)"
expect_eq "$(jq -c .repositories "$BODY_FILE")" '["lib/app"]' "catalog lists lib/app"
m2=$(apush_image lib/bob v1)
check; [ -n "$m2" ] || fail "bob could not push lib/bob:v1"
ahttp DELETE "/v2/lib/bob/manifests/$m2"
expect_status 202 "bob deletes a manifest (open mode)"
AUTH=()
http GET /v2/lib/app/manifests/v1
expect_error 401 UNAUTHORIZED
http HEAD "/v2/lib/app/blobs/$layer"
expect_status 401 "anonymous blob HEAD"
http GET /v2/lib/app/tags/list
expect_error 401 UNAUTHORIZED
http DELETE "/v2/lib/app/manifests/$m"
expect_error 401 UNAUTHORIZED
AUTH=(-u "alice:wrong")
ahttp PUT /v2/lib/app/manifests/v2 -H "Content-Type: $OCI_M" --data-binary @"$TMP/aimg-lib_app-v1.json"
expect_error 401 UNAUTHORIZED
AUTH=(-u "alice:$PW_A")
ahttp GET /v2/lib/app/manifests/v2
expect_error 404 MANIFEST_UNKNOWN
auth_down

# ---- changing a password; only --htpasswd ----------------------------------
add_user "$HT" alice "$PW_A2"
expect_eq "$?" 0 "berthd htpasswd changes alice's password"
expect_eq "$(grep -c '^alice:' "$HT")" 1 "one line for alice after the change"
expect_ne "$(grep '^alice:' "$HT")" "$old_hash" "alice's hash changed"
expect_eq "$(grep '^bob:' "$HT")" "$bob_line" "bob's line kept as it was"
expect_eq "$(wc -l <"$HT")" 2 "htpasswd lines after the change"

auth_up --htpasswd "$HT"
http GET /v2/
expect_eq "$(header WWW-Authenticate)" 'Basic realm="berth"' "default realm"
AUTH=(-u "alice:$PW_A")
ahttp GET /v2/
expect_error 401 UNAUTHORIZED
AUTH=(-u "alice:$PW_A2")
ahttp GET /v2/
expect_status 200 "alice's new password"
AUTH=(-u "bob:$PW_B")
ahttp GET /v2/lib/app/manifests/v1 -H "Accept: $OCI_M"
expect_status 200 "bob still logs in; data survived the restart"
auth_down

# ---- htpasswd files berthd must refuse, with the line number ---------------
bc=$(grep '^bob:' "$HT")
refuse_line() { # refuse_line WHAT LINE_NO CONTENT...: the file is CONTENT lines
    local what=$1 n=$2 f=$TMP/bad-$RANDOM.htpasswd
    shift 2
    printf '%s\n' "$@" >"$f"
    auth_refuses "$what" --htpasswd "$f"
    expect_match "$REFUSAL" "$(basename "$f"):$n:" "$what: the message names the file and line $n"
}
refuse_line "an MD5 (apr1) hash" 3 "# users" "$bc" 'md5:$apr1$dEVeFLOO$AJzL1Jh4tIsBaO0Nm0Bbx.'
refuse_line "a SHA1 hash" 2 "$bc" 'sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g='
refuse_line "a plain-text password" 4 "$bc" "" "# plain" 'plain:password123'
refuse_line "a crypt(3) DES hash" 1 'des:rqXexS6ZhobKA'
refuse_line "a SHA-512 crypt hash" 2 "$bc" 'sha5:$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/'
refuse_line "a line without a colon" 2 "$bc" 'justauser'
refuse_line "an empty user name" 2 "$bc" ":${bc#bob:}"
refuse_line "a truncated bcrypt hash" 2 "$bc" "trunc:${bc:4:40}"
auth_refuses "a missing htpasswd file" --htpasswd "$TMP/no-such-file"
expect_match "$REFUSAL" "no-such-file" "the missing file is named"
cat >"$TMP/noht.json" <<EOF
{"auth": {"realm": "x"}}
EOF
auth_refuses "auth without htpasswd or token" --config "$TMP/noht.json"
cat >"$TMP/badkey.json" <<EOF
{"auth": {"htpasswd": "$HT", "passwords": "x"}}
EOF
auth_refuses "an unknown key in auth" --config "$TMP/badkey.json"
expect_match "$REFUSAL" "passwords" "the unknown key is named"
# Comments and blank lines are fine; $2y$ (Apache) hashes are accepted.
printf '# comment\n\n%s\n%s\n' "$bc" "ally:\$2y\$${bc#bob:\$2?\$}" >"$TMP/ok.htpasswd"
auth_up --htpasswd "$TMP/ok.htpasswd"
AUTH=(-u "ally:$PW_B")
ahttp GET /v2/
expect_status 200 "a \$2y\$ hash is accepted"
auth_down

# ---- rate limiting ---------------------------------------------------------
# Keys are the client address and the account; a second loopback source
# address (127.0.0.2, still talking to 127.0.0.1) tells them apart. The
# window is long enough for the checks made inside it on a slow, loaded
# machine (an ASan build), short enough to wait out twice.
cat >"$TMP/rl.json" <<EOF
{"auth": {"htpasswd": "$HT", "ratelimit": {"attempts": 3, "window": 12}}}
EOF
auth_up --config "$TMP/rl.json"
FROM2=(--interface 127.0.0.2)
# Three failures for bob from 127.0.0.1 block bob and that address.
for i in 1 2 3; do
    AUTH=(-u "bob:wrong$i")
    ahttp GET /v2/
    expect_error 401 UNAUTHORIZED
done
AUTH=(-u "bob:$PW_B")
ahttp GET /v2/
expect_error 429 TOOMANYREQUESTS
expect_match "$(header Retry-After)" '^([1-9]|1[0-2])$' "Retry-After within the 12 s window"
ahttp GET /v2/ "${FROM2[@]}"
expect_error 429 TOOMANYREQUESTS
expect_match "$(header Retry-After)" '^([1-9]|1[0-2])$' "Retry-After for a blocked account from another address"
AUTH=(-u "alice:$PW_A2")
ahttp GET /v2/ "${FROM2[@]}"
expect_status 200 "another account from another address is not blocked"
ahttp GET /v2/
expect_error 429 TOOMANYREQUESTS
AUTH=(-u "bob:wrong4")
ahttp GET /v2/lib/app/manifests/v1
expect_error 429 TOOMANYREQUESTS
# The window ends: bob logs in again.
sleep 12.2
AUTH=(-u "bob:$PW_B")
ahttp GET /v2/
expect_status 200 "bob logs in again after the window"
ahttp GET /v2/lib/app/manifests/v1 -H "Accept: $OCI_M"
expect_status 200 "bob pulls again after the window"
# Failures spread over several accounts from 127.0.0.2 block that address only.
for u in u1 u2 u3; do
    AUTH=(-u "$u:nope")
    ahttp GET /v2/ "${FROM2[@]}"
    expect_error 401 UNAUTHORIZED
done
AUTH=(-u "alice:$PW_A2")
ahttp GET /v2/ "${FROM2[@]}"
expect_error 429 TOOMANYREQUESTS
expect_match "$(header Retry-After)" '^([1-9]|1[0-2])$' "Retry-After for a blocked address"
ahttp GET /v2/
expect_status 200 "the same account from an address that is not blocked"
sleep 12.2
ahttp GET /v2/ "${FROM2[@]}"
expect_status 200 "the address may log in again after the window"
# Successful logins are never limited.
for i in 1 2 3 4 5 6; do ahttp GET /v2/; done
expect_status 200 "repeated good logins are not limited"
auth_down
# One failed request is one failure, also a blob HEAD (berthd checks it
# for pull, then for push).
cat >"$TMP/rl2.json" <<EOF
{"auth": {"htpasswd": "$HT", "ratelimit": {"attempts": 3, "window": 60}}}
EOF
auth_up --config "$TMP/rl2.json"
for i in 1 2; do
    AUTH=(-u "bob:bad-head$i")
    ahttp HEAD "/v2/lib/app/blobs/$layer"
    expect_status 401 "blob HEAD with a bad password"
done
AUTH=(-u "bob:$PW_B")
ahttp GET /v2/ "${FROM2[@]}"
expect_status 200 "after two failed blob HEADs (limit 3) bob may still log in"
auth_down

# ---- no secret in the log --------------------------------------------------
for s in "$PW_A" "$PW_A2" "$PW_B" "wrong1" "$(printf 'alice:%s' "$PW_A" | base64 -w0)" \
         "$(printf 'bob:%s' "$PW_B" | base64 -w0)" "$(printf 'alice:%s' "$PW_A2" | base64 -w0)"; do
    log_has_no "$s" "a password or Basic credential"
done
check; grep -qi 'authorization:' "$TMP/berthd.log" && fail "an Authorization header in the log"
expect_eq "$(grep -c '^FORGED' "$TMP/berthd.log")" 0 "log lines forged through a user name with a line break"
finish
