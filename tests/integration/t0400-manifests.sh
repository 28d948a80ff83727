#!/bin/bash
# t0400-manifests: PUT/GET/HEAD/DELETE of OCI and Docker manifests and
# indexes; validation errors; the size limit; subject; tags; Accept.
. "$(dirname "$0")/../lib.sh"
LIMIT=16384
echo '{"storage": {"delete": true}}' >"$TMP/config.json"
BERTH_MANIFEST_MAX_BYTES=$LIMIT berthd_start --config "$TMP/config.json"

OCI_M=application/vnd.oci.image.manifest.v1+json
OCI_I=application/vnd.oci.image.index.v1+json
DOCKER_M=application/vnd.docker.distribution.manifest.v2+json
DOCKER_L=application/vnd.docker.distribution.manifest.list.v2+json
SPEC_CODES=" BLOB_UNKNOWN BLOB_UPLOAD_INVALID BLOB_UPLOAD_UNKNOWN DIGEST_INVALID MANIFEST_BLOB_UNKNOWN
 MANIFEST_INVALID MANIFEST_UNKNOWN NAME_INVALID NAME_UNKNOWN SIZE_INVALID UNAUTHORIZED DENIED UNSUPPORTED
 TOOMANYREQUESTS "
R=m/app

# put MANIFEST-FILE REF [CONTENT-TYPE]: PUT to $R.
put() { http PUT "/v2/$R/manifests/$2" -H "Content-Type: ${3:-$OCI_M}" --data-binary @"$1"; }
# same_manifest REF FILE TYPE: GET and HEAD of REF serve FILE as TYPE.
same_manifest() {
    local d; d=$(sha256_of "$2")
    http GET "/v2/$R/manifests/$1" -H "Accept: $3"
    expect_status 200 "GET manifest $1"
    [ "$STATUS" = 200 ] || return
    expect_eq "$(header Content-Type)" "$3" "Content-Type of GET $1"
    expect_eq "$(header Docker-Content-Digest)" "$d" "Docker-Content-Digest of GET $1"
    expect_eq "$(header Content-Length)" "$(size_of "$2")" "Content-Length of GET $1"
    check; cmp -s "$BODY_FILE" "$2" || fail "GET $1: body is not byte-identical to what was pushed"
    http HEAD "/v2/$R/manifests/$1" -H "Accept: $3"
    expect_status 200 "HEAD manifest $1"
    expect_eq "$(header Content-Type)" "$3" "Content-Type of HEAD $1"
    expect_eq "$(header Docker-Content-Digest)" "$d" "Docker-Content-Digest of HEAD $1"
    expect_eq "$(header Content-Length)" "$(size_of "$2")" "Content-Length of HEAD $1"
}

# Blobs.
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$TMP/config"
random_file "$TMP/l1" 1500
random_file "$TMP/l2" 700
for f in config l1 l2; do push_blob $R "$TMP/$f" >/dev/null; done
cfg=$(descriptor application/vnd.oci.image.config.v1+json "$TMP/config")
l1=$(descriptor application/vnd.oci.image.layer.v1.tar+gzip "$TMP/l1")
l2=$(descriptor application/vnd.oci.image.layer.v1.tar+gzip "$TMP/l2")
dcfg=$(descriptor application/vnd.docker.container.image.v1+json "$TMP/config")
dl1=$(descriptor application/vnd.docker.image.rootfs.diff.tar.gzip "$TMP/l1")

# An OCI image manifest, indented: stored and served byte for byte.
jq -n --indent 3 --arg mt $OCI_M --argjson c "$cfg" --argjson a "$l1" --argjson b "$l2" \
    '{schemaVersion: 2, mediaType: $mt, config: $c, layers: [$a, $b], annotations: {"x.y": "z"}}' >"$TMP/m1"
m1=$(sha256_of "$TMP/m1")
put "$TMP/m1" v1
expect_status 201 "PUT OCI manifest by tag"
expect_eq "$(location)" "/v2/$R/manifests/$m1" "Location of the OCI manifest"
expect_eq "$(header Docker-Content-Digest)" "$m1" "Docker-Content-Digest of the OCI manifest"
expect_eq "$(header OCI-Subject)" "" "no OCI-Subject without a subject"
same_manifest v1 "$TMP/m1" $OCI_M
same_manifest "$m1" "$TMP/m1" $OCI_M
put "$TMP/m1" v1
expect_status 201 "PUT of the same manifest again"

# PUT by digest; Content-Type parameters are ignored.
jq -c --argjson b "$l2" '.layers = [$b]' "$TMP/m1" >"$TMP/m2"
m2=$(sha256_of "$TMP/m2")
http PUT "/v2/$R/manifests/$m2" -H "Content-Type: $OCI_M; charset=utf-8" --data-binary @"$TMP/m2"
expect_status 201 "PUT OCI manifest by digest (Content-Type with a parameter)"
expect_eq "$(header Docker-Content-Digest)" "$m2" "Docker-Content-Digest of PUT by digest"
same_manifest "$m2" "$TMP/m2" $OCI_M

# An OCI manifest without a mediaType field is valid (the Content-Type says it).
jq -c 'del(.mediaType) | .annotations = {"no": "mediaType"}' "$TMP/m1" >"$TMP/m1nomt"
put "$TMP/m1nomt" nomt
expect_status 201 "PUT OCI manifest without mediaType"
same_manifest nomt "$TMP/m1nomt" $OCI_M

# An OCI index of both manifests.
jq -n --arg mt $OCI_I --arg m $OCI_M --arg d1 "$m1" --argjson s1 "$(size_of "$TMP/m1")" \
    --arg d2 "$m2" --argjson s2 "$(size_of "$TMP/m2")" \
    '{schemaVersion: 2, mediaType: $mt, manifests: [
      {mediaType: $m, digest: $d1, size: $s1, platform: {architecture: "amd64", os: "linux"}},
      {mediaType: $m, digest: $d2, size: $s2, platform: {architecture: "arm64", os: "linux"}}]}' >"$TMP/i1"
i1=$(sha256_of "$TMP/i1")
put "$TMP/i1" multi $OCI_I
expect_status 201 "PUT OCI index"
expect_eq "$(location)" "/v2/$R/manifests/$i1" "Location of the OCI index"
expect_eq "$(header Docker-Content-Digest)" "$i1" "Docker-Content-Digest of the OCI index"
same_manifest multi "$TMP/i1" $OCI_I
same_manifest "$i1" "$TMP/i1" $OCI_I

# Docker schema2 manifest and manifest list (with a foreign layer that is not pushed).
jq -n --indent 2 --arg mt $DOCKER_M --argjson c "$dcfg" --argjson a "$dl1" --arg fd "sha256:$(printf 'f0%.0s' $(seq 32))" \
    '{schemaVersion: 2, mediaType: $mt, config: $c, layers: [$a,
      {mediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", size: 1234,
       digest: $fd,
       urls: ["https://example.invalid/layer"]}]}' >"$TMP/d1"
dm1=$(sha256_of "$TMP/d1")
put "$TMP/d1" docker $DOCKER_M
expect_status 201 "PUT Docker schema2 manifest (with a foreign layer not pushed)"
[ "$STATUS" = 201 ] || echo "# $(body)" >&2
expect_eq "$(header Docker-Content-Digest)" "$dm1" "Docker-Content-Digest of the Docker manifest"
expect_eq "$(location)" "/v2/$R/manifests/$dm1" "Location of the Docker manifest"
same_manifest docker "$TMP/d1" $DOCKER_M
same_manifest "$dm1" "$TMP/d1" $DOCKER_M
jq -n --arg mt $DOCKER_L --arg m $DOCKER_M --arg d "$dm1" --argjson s "$(size_of "$TMP/d1")" \
    '{schemaVersion: 2, mediaType: $mt, manifests: [
      {mediaType: $m, digest: $d, size: $s, platform: {architecture: "amd64", os: "linux"}}]}' >"$TMP/dl"
dlist=$(sha256_of "$TMP/dl")
put "$TMP/dl" dlist $DOCKER_L
expect_status 201 "PUT Docker manifest list"
expect_eq "$(header Docker-Content-Digest)" "$dlist" "Docker-Content-Digest of the manifest list"
same_manifest dlist "$TMP/dl" $DOCKER_L
same_manifest "$dlist" "$TMP/dl" $DOCKER_L

# A manifest PUT by its sha512 digest.
jq -c '.annotations = {"by": "sha512"}' "$TMP/m1" >"$TMP/m512"
m512=$(sha512_of "$TMP/m512")
put "$TMP/m512" "$m512"
expect_status 201 "PUT by a sha512 digest"
http GET "/v2/$R/manifests/$m512"
expect_status 200 "GET by the sha512 digest"
check; cmp -s "$BODY_FILE" "$TMP/m512" || fail "GET by sha512 digest: body differs"

# Not found.
http GET "/v2/$R/manifests/nosuchtag"
expect_error 404 MANIFEST_UNKNOWN
http HEAD "/v2/$R/manifests/nosuchtag"
expect_status 404 "HEAD unknown tag"
http GET "/v2/$R/manifests/sha256:$(printf '%064d' 5)"
expect_error 404 MANIFEST_UNKNOWN
http GET "/v2/m/never/manifests/latest"
expect_status 404 "GET manifest of a repository that does not exist"
expect_match "$(error_code)" '^(NAME_UNKNOWN|MANIFEST_UNKNOWN)$' "error code for a repository that does not exist"
push_image m/other latest >/dev/null
http GET "/v2/m/other/manifests/$m1"
expect_error 404 MANIFEST_UNKNOWN   # manifests are scoped to their repository

# Missing blobs and children.
random_file "$TMP/absent" 100
absent=$(descriptor application/vnd.oci.image.layer.v1.tar "$TMP/absent")
jq -c --argjson x "$absent" '.layers += [$x]' "$TMP/m1" >"$TMP/bad"
put "$TMP/bad" bad
expect_error 400 MANIFEST_BLOB_UNKNOWN
jq -c --argjson x "$absent" '.config = ($x | .mediaType = "application/vnd.oci.image.config.v1+json")' \
    "$TMP/m1" >"$TMP/bad"
put "$TMP/bad" bad
expect_error 400 MANIFEST_BLOB_UNKNOWN
push_blob m/other "$TMP/absent" >/dev/null   # present in another repository only
jq -c --argjson x "$absent" '.layers += [$x]' "$TMP/m1" >"$TMP/bad"
put "$TMP/bad" bad
expect_error 400 MANIFEST_BLOB_UNKNOWN
jq -c --argjson x "$(jq -c --arg m $OCI_M '.mediaType = $m' <<<"$absent")" '.manifests += [$x]' \
    "$TMP/i1" >"$TMP/bad"
put "$TMP/bad" bad $OCI_I
expect_error 400 MANIFEST_BLOB_UNKNOWN
other=$(sha256_of "$TMP/img-m_other-latest.json")
jq -c --arg d "$other" --argjson s "$(size_of "$TMP/img-m_other-latest.json")" --arg m $OCI_M \
    '.manifests += [{mediaType: $m, digest: $d, size: $s}]' "$TMP/i1" >"$TMP/bad"
put "$TMP/bad" bad $OCI_I
expect_error 400 MANIFEST_BLOB_UNKNOWN   # child exists in another repository only
http GET "/v2/$R/manifests/bad"
expect_error 404 MANIFEST_UNKNOWN

# Digest in the URL not matching the body.
put "$TMP/m1" "$m2"
expect_error 400 DIGEST_INVALID
put "$TMP/m1" "sha512:$(printf '%0128d' 9)"
expect_error 400 DIGEST_INVALID
put "$TMP/m1" "sha256:abc"
expect_error 400 DIGEST_INVALID

# Malformed documents.
printf '{"schemaVersion": 2, "mediaType": "%s", "config": ' $OCI_M >"$TMP/bad"
put "$TMP/bad" bad
expect_error 400 MANIFEST_INVALID
: >"$TMP/bad"
put "$TMP/bad" bad
expect_error 400 MANIFEST_INVALID
echo '[1, 2, 3]' >"$TMP/bad"
put "$TMP/bad" bad
expect_error 400 MANIFEST_INVALID
jq -c '.schemaVersion = 1' "$TMP/m1" >"$TMP/bad"
put "$TMP/bad" bad
expect_error 400 MANIFEST_INVALID
jq -c 'del(.config)' "$TMP/m1" >"$TMP/bad"
put "$TMP/bad" bad
expect_error 400 MANIFEST_INVALID
jq -c '.layers[0].digest = "sha256:nothex"' "$TMP/m1" >"$TMP/bad"
put "$TMP/bad" bad
expect_match "$STATUS:$(error_code)" '^400:(MANIFEST_INVALID|DIGEST_INVALID)$' "a descriptor with a malformed digest"

# Unknown media type; mediaType disagreeing with the Content-Type.
jq -c 'del(.mediaType)' "$TMP/m1" >"$TMP/bad"
put "$TMP/bad" bad application/vnd.example.unknown+json
expect_error 400 MANIFEST_INVALID
jq -c '.mediaType = "application/vnd.example.unknown+json"' "$TMP/m1" >"$TMP/bad"
put "$TMP/bad" bad application/vnd.example.unknown+json
expect_error 400 MANIFEST_INVALID
put "$TMP/m1" bad $DOCKER_M
expect_error 400 MANIFEST_INVALID
put "$TMP/m1" bad $OCI_I
expect_error 400 MANIFEST_INVALID
put "$TMP/i1" bad $OCI_M
expect_error 400 MANIFEST_INVALID
put "$TMP/d1" bad $OCI_M
expect_error 400 MANIFEST_INVALID

# No document may be read two ways: manifests together with layers/config.
jq -c --argjson i "$(jq -c .manifests "$TMP/i1")" '.manifests = $i' "$TMP/m1" >"$TMP/bad"
put "$TMP/bad" bad $OCI_M
expect_error 400 MANIFEST_INVALID
jq -c --argjson l "$l1" '.layers = [$l]' "$TMP/i1" >"$TMP/bad"
put "$TMP/bad" bad $OCI_I
expect_error 400 MANIFEST_INVALID
jq -c --argjson c "$cfg" '.config = $c' "$TMP/i1" >"$TMP/bad"
put "$TMP/bad" bad $OCI_I
expect_error 400 MANIFEST_INVALID
jq -c 'del(.mediaType)' "$TMP/bad" >"$TMP/bad2"
put "$TMP/bad2" bad $OCI_I
expect_error 400 MANIFEST_INVALID
http GET "/v2/$R/manifests/bad"
expect_error 404 MANIFEST_UNKNOWN

# The size limit: exactly the limit is accepted, one byte more is 413.
mk_sized() { # mk_sized FILE SIZE: m1 padded by an annotation to SIZE bytes
    local t; t=$(jq -cj '.annotations.pad = "@PAD@"' "$TMP/m1")
    { printf '%s' "${t%%@PAD@*}"; head -c $(($2 - ${#t} + 5)) /dev/zero | tr '\0' p; printf '%s' "${t#*@PAD@}"; } >"$1"
}
mk_sized "$TMP/atlimit" $LIMIT
expect_eq "$(size_of "$TMP/atlimit")" $LIMIT "test manifest size"
put "$TMP/atlimit" atlimit
expect_status 201 "PUT of a manifest of exactly manifest_max_bytes"
mk_sized "$TMP/over" $((LIMIT + 1))
put "$TMP/over" over
expect_status 413 "PUT of a manifest one byte over manifest_max_bytes"
expect_ne "$(error_code)" "" "error body of the 413"
mk_sized "$TMP/huge" $((5 * 1024 * 1024))
put "$TMP/huge" huge
expect_status 413 "PUT of a 5 MiB manifest"
# A client that sends the whole body before it reads (no Expect: 100-continue;
# plain or chunked) gets the 413, not a reset: the rest is read and dropped.
for te in length chunked; do
    OUT=$(python3 - "$REG" "/v2/$R/manifests/huge" "$TMP/huge" "$te" <<'PY' 2>&1
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
body = open(sys.argv[3], "rb").read()
head = "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n" % (sys.argv[2], sys.argv[1])
if sys.argv[4] == "chunked":
    data = (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
    for i in range(0, len(body), 65536):
        part = body[i:i + 65536]
        data += b"%x\r\n" % len(part) + part + b"\r\n"
    data += b"0\r\n\r\n"
else:
    data = (head + "Content-Length: %d\r\n\r\n" % len(body)).encode() + body
s = socket.create_connection((host, int(port)), timeout=30)
s.sendall(data)
reply = b""
while b"\r\n\r\n" not in reply:
    more = s.recv(65536)
    if not more:
        break
    reply += more
print(reply.split(b"\r\n", 1)[0].decode())
PY
)
    expect_match "$OUT" "^HTTP/1.1 413" "a 5 MiB manifest sent whole ($te) before reading: its 413"
done
http GET "/v2/$R/manifests/over"
expect_error 404 MANIFEST_UNKNOWN

# subject: accepted even when the subject is absent, answered with OCI-Subject.
printf '{}' >"$TMP/empty.json"
push_blob $R "$TMP/empty.json" >/dev/null
empty=$(descriptor application/vnd.oci.empty.v1+json "$TMP/empty.json")
jq -n --arg mt $OCI_M --argjson c "$empty" --arg sd "$m1" --argjson ss "$(size_of "$TMP/m1")" \
    '{schemaVersion: 2, mediaType: $mt, artifactType: "application/vnd.example.sig", config: $c,
      layers: [$c], subject: {mediaType: $mt, digest: $sd, size: $ss}}' >"$TMP/ref"
ref=$(sha256_of "$TMP/ref")
put "$TMP/ref" "$ref"
expect_status 201 "PUT a manifest with a subject"
expect_eq "$(header OCI-Subject)" "$m1" "OCI-Subject header"
jq -c --arg d "sha256:$(printf '%064d' 42)" '.subject.digest = $d' "$TMP/ref" >"$TMP/ref2"
put "$TMP/ref2" "$(sha256_of "$TMP/ref2")"
expect_status 201 "PUT a manifest whose subject does not exist"
expect_eq "$(header OCI-Subject)" "sha256:$(printf '%064d' 42)" "OCI-Subject for an absent subject"

# DELETE by digest: the manifest and its tags go.
jq -c '.annotations = {"del": "digest"}' "$TMP/m1" >"$TMP/m3"
m3=$(sha256_of "$TMP/m3")
put "$TMP/m3" del1
put "$TMP/m3" del2
http DELETE "/v2/$R/manifests/$m3"
expect_status 202 "DELETE manifest by digest"
http GET "/v2/$R/manifests/$m3"
expect_error 404 MANIFEST_UNKNOWN
http HEAD "/v2/$R/manifests/$m3"
expect_status 404 "HEAD after DELETE by digest"
http GET "/v2/$R/manifests/del1"
expect_error 404 MANIFEST_UNKNOWN
http GET "/v2/$R/tags/list"
expect_eq "$(jq -c '[.tags[] | select(startswith("del"))]' "$BODY_FILE")" "[]" "tags of a deleted manifest are gone"
http DELETE "/v2/$R/manifests/$m3"
expect_error 404 MANIFEST_UNKNOWN

# DELETE by tag: only the tag goes.
jq -c '.annotations = {"del": "tag"}' "$TMP/m1" >"$TMP/m4"
m4=$(sha256_of "$TMP/m4")
put "$TMP/m4" keep
put "$TMP/m4" drop
http DELETE "/v2/$R/manifests/drop"
expect_status 202 "DELETE by tag"
http GET "/v2/$R/manifests/drop"
expect_error 404 MANIFEST_UNKNOWN
same_manifest keep "$TMP/m4" $OCI_M
same_manifest "$m4" "$TMP/m4" $OCI_M
http DELETE "/v2/$R/manifests/drop"
expect_error 404 MANIFEST_UNKNOWN

# Moving a tag.
put "$TMP/m2" moving
put "$TMP/m4" moving
expect_status 201 "PUT moves a tag"
same_manifest moving "$TMP/m4" $OCI_M

# Tags: the spec's pattern [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
long128=$(printf 'a%.0s' $(seq 128))
for t in "$long128" _under Upper.Case-9 0 a.b_c-d; do
    put "$TMP/m1" "$t"
    expect_status 201 "PUT valid tag $t"
    http GET "/v2/$R/manifests/$t"
    expect_status 200 "GET valid tag $t"
done
for t in -lead .lead "${long128}a" "sp%20ace" "plus%2Bsign" "semi%3Bcolon" "%C3%A9t%C3%A9"; do
    put "$TMP/m1" "$t"
    expect_error 400 MANIFEST_INVALID
    # nothing by that name exists: 404, as distribution answers
    for m in GET DELETE; do
        http $m "/v2/$R/manifests/$t"
        expect_error 404 MANIFEST_UNKNOWN
    done
    http HEAD "/v2/$R/manifests/$t"
    expect_status 404 "HEAD invalid tag $t"
done
http GET "/v2/$R/manifests/.INVALID_MANIFEST_NAME"
expect_error 404 MANIFEST_UNKNOWN
http GET "/v2/$R/tags/list"
expect_eq "$(jq '[.tags[] | select(length > 128 or startswith("-") or startswith("."))] | length' "$BODY_FILE")" 0 \
    "no invalid tag was stored"

# Accept negotiation.
accept() { # accept REF WANT-STATUS WANT-TYPE [curl -H args...]
    local ref=$1 st=$2 ty=$3; shift 3
    http GET "/v2/$R/manifests/$ref" "$@"
    expect_status "$st" "GET $ref with $*"
    expect_eq "$(header Content-Type)" "$ty" "Content-Type of GET $ref with $*"
}
accept v1 200 $OCI_M -H "Accept: $OCI_M"
accept v1 200 $OCI_M -H "Accept: */*"
accept v1 200 $OCI_M
accept v1 200 $OCI_M -H "Accept: $DOCKER_M, $DOCKER_L;q=0.9, $OCI_M;q=0.8, $OCI_I;q=0.7"
accept v1 200 $OCI_M -H "Accept: $DOCKER_M" -H "Accept: $DOCKER_L" -H "Accept: $OCI_I" -H "Accept: $OCI_M"
accept multi 200 $OCI_I -H "Accept: $DOCKER_M, $DOCKER_L, $OCI_M, $OCI_I"
accept docker 200 $DOCKER_M -H "Accept: $DOCKER_M"
accept docker 200 $DOCKER_M -H "Accept: $OCI_M, */*"
accept docker 200 $DOCKER_M
accept dlist 200 $DOCKER_L -H "Accept: $DOCKER_L" -H "Accept: $DOCKER_M"
# A type the client does not accept: Berth never rewrites a manifest; like
# distribution for OCI types (and as docs/api.md says) it answers 404
# MANIFEST_UNKNOWN.
for c in "docker:$OCI_M" "v1:$DOCKER_M" "multi:$DOCKER_L" "dlist:$OCI_I"; do
    http GET "/v2/$R/manifests/${c%%:*}" -H "Accept: ${c#*:}"
    expect_error 404 MANIFEST_UNKNOWN
    http HEAD "/v2/$R/manifests/${c%%:*}" -H "Accept: ${c#*:}"
    expect_status 404 "HEAD ${c%%:*} with Accept: ${c#*:}"
done

finish
