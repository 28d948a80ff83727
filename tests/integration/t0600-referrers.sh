#!/bin/bash
# t0600-referrers: GET /v2/<name>/referrers/<digest>: the OCI index of the
# manifests whose subject is that digest; artifactType and its filter.
. "$(dirname "$0")/../lib.sh"
echo '{"storage": {"delete": true}}' >"$TMP/config.json"
berthd_start --config "$TMP/config.json"
OCI_M=application/vnd.oci.image.manifest.v1+json
OCI_I=application/vnd.oci.image.index.v1+json
R=rf/app

subject=$(push_image $R v1)
subject_size=$(size_of "$TMP/img-rf_app-v1.json")
printf '{}' >"$TMP/empty"
push_blob $R "$TMP/empty" >/dev/null
empty=$(descriptor application/vnd.oci.empty.v1+json "$TMP/empty")
printf '{"sbom": true}' >"$TMP/sbomcfg"
push_blob $R "$TMP/sbomcfg" >/dev/null
sigcfg=$(descriptor application/vnd.example.sig.config.v1+json "$TMP/sbomcfg")
subj=$(jq -cn --arg mt $OCI_M --arg d "$subject" --argjson s "$subject_size" '{mediaType: $mt, digest: $d, size: $s}')

# A: artifactType set, empty config, annotations.
jq -cn --arg mt $OCI_M --argjson c "$empty" --argjson s "$subj" \
    '{schemaVersion: 2, mediaType: $mt, artifactType: "application/vnd.example.sbom.v1", config: $c,
      layers: [$c], subject: $s, annotations: {"org.example.kind": "sbom", "n": "1"}}' >"$TMP/a"
# B: no artifactType: the config's mediaType stands in.
jq -cn --arg mt $OCI_M --argjson c "$sigcfg" --argjson s "$subj" --argjson e "$empty" \
    '{schemaVersion: 2, mediaType: $mt, config: $c, layers: [$e], subject: $s,
      annotations: {"org.example.kind": "sig"}}' >"$TMP/b"
# C: an index with a subject and an artifactType, no annotations.
jq -cn --arg mt $OCI_I --argjson s "$subj" --arg m $OCI_M --arg d "$(sha256_of "$TMP/a")" \
    --argjson z "$(size_of "$TMP/a")" \
    '{schemaVersion: 2, mediaType: $mt, artifactType: "application/vnd.example.bundle", subject: $s,
      manifests: [{mediaType: $m, digest: $d, size: $z}]}' >"$TMP/c"
# D: an index with a subject and no artifactType.
jq -c 'del(.artifactType) | .annotations = {"which": "d"}' "$TMP/c" >"$TMP/d"
A=$(push_manifest $R "$(sha256_of "$TMP/a")" "$TMP/a" $OCI_M)
B=$(push_manifest $R "$(sha256_of "$TMP/b")" "$TMP/b" $OCI_M)
C=$(push_manifest $R "$(sha256_of "$TMP/c")" "$TMP/c" $OCI_I)
D=$(push_manifest $R "$(sha256_of "$TMP/d")" "$TMP/d" $OCI_I)
expect_ne "$A" "" "push referrer A"
expect_ne "$B" "" "push referrer B"
expect_ne "$C" "" "push referrer C (an index)"
expect_ne "$D" "" "push referrer D (an index)"
# The same subject digest in another repository does not count here.
push_image rf/other v1 >/dev/null
push_blob rf/other "$TMP/empty" >/dev/null
push_manifest rf/other "$(sha256_of "$TMP/a")" "$TMP/a" $OCI_M >/dev/null

# desc DIGEST: the descriptor for DIGEST in the last response, compact, keys sorted.
desc() { jq -cS --arg d "$1" '.manifests[] | select(.digest == $d)' "$BODY_FILE"; }

http GET "/v2/$R/referrers/$subject"
expect_status 200 "GET referrers"
expect_eq "$(header Content-Type)" $OCI_I "referrers Content-Type"
expect_eq "$(jq -r .schemaVersion "$BODY_FILE")" 2 "referrers schemaVersion"
expect_eq "$(jq -r .mediaType "$BODY_FILE")" $OCI_I "referrers mediaType"
expect_eq "$(jq -r '.manifests | length' "$BODY_FILE")" 4 "four referrers"
expect_eq "$(header OCI-Filters-Applied)" "" "no OCI-Filters-Applied without a filter"
expect_eq "$(desc "$A")" "$(jq -cSn --arg d "$A" --argjson z "$(size_of "$TMP/a")" --arg m $OCI_M \
    '{mediaType: $m, digest: $d, size: $z, artifactType: "application/vnd.example.sbom.v1",
      annotations: {"org.example.kind": "sbom", "n": "1"}}')" "descriptor of A (artifactType, annotations)"
expect_eq "$(desc "$B")" "$(jq -cSn --arg d "$B" --argjson z "$(size_of "$TMP/b")" --arg m $OCI_M \
    '{mediaType: $m, digest: $d, size: $z, artifactType: "application/vnd.example.sig.config.v1+json",
      annotations: {"org.example.kind": "sig"}}')" "descriptor of B (artifactType from config.mediaType)"
expect_eq "$(desc "$C" | jq -cS 'del(.annotations | select(. == {}))')" \
    "$(jq -cSn --arg d "$C" --argjson z "$(size_of "$TMP/c")" --arg m $OCI_I \
    '{mediaType: $m, digest: $d, size: $z, artifactType: "application/vnd.example.bundle"}')" \
    "descriptor of C (an index with artifactType)"
expect_eq "$(desc "$D")" "$(jq -cSn --arg d "$D" --argjson z "$(size_of "$TMP/d")" --arg m $OCI_I \
    '{mediaType: $m, digest: $d, size: $z, annotations: {"which": "d"}}')" \
    "descriptor of D (an index without artifactType: none)"

# Filter by artifactType.
http GET "/v2/$R/referrers/$subject?artifactType=application/vnd.example.sbom.v1"
expect_status 200 "referrers?artifactType="
expect_eq "$(header OCI-Filters-Applied)" artifactType "OCI-Filters-Applied"
expect_eq "$(jq -r '[.manifests[].digest] | join(",")' "$BODY_FILE")" "$A" "filtered to A"
http GET "/v2/$R/referrers/$subject?artifactType=application%2Fvnd.example.sig.config.v1%2Bjson"
expect_eq "$(jq -r '[.manifests[].digest] | join(",")' "$BODY_FILE")" "$B" "filtered (URL-encoded) to B"
http GET "/v2/$R/referrers/$subject?artifactType=application/vnd.example.none"
expect_status 200 "filter matching nothing"
expect_eq "$(header OCI-Filters-Applied)" artifactType "OCI-Filters-Applied when nothing matches"
expect_eq "$(jq -c .manifests "$BODY_FILE")" "[]" "filter matching nothing: empty manifests"

# None: an empty index (never 404).
http GET "/v2/$R/referrers/$A"
expect_status 200 "referrers of a manifest without referrers"
expect_eq "$(header Content-Type)" $OCI_I "Content-Type of the empty index"
expect_eq "$(jq -c '[.schemaVersion, .mediaType, .manifests]' "$BODY_FILE")" "[2,\"$OCI_I\",[]]" "empty index"
http GET "/v2/$R/referrers/sha256:$(printf '%064d' 11)"
expect_status 200 "referrers of an unknown digest"
expect_eq "$(jq -c .manifests "$BODY_FILE")" "[]" "referrers of an unknown digest: empty"

# Repository scoping: rf/other has only A.
http GET "/v2/rf/other/referrers/$subject"
expect_status 200 "referrers in another repository"
expect_eq "$(jq -r '[.manifests[].digest] | join(",")' "$BODY_FILE")" "$A" "only that repository's referrers"

# A referrer pushed before its subject, and a deleted referrer.
jq -c '.annotations = {"early": "yes"} | .subject.digest = "sha256:'"$(printf '%064d' 12)"'"' "$TMP/a" >"$TMP/e"
E=$(push_manifest $R "$(sha256_of "$TMP/e")" "$TMP/e" $OCI_M)
http GET "/v2/$R/referrers/sha256:$(printf '%064d' 12)"
expect_eq "$(jq -r '[.manifests[].digest] | join(",")' "$BODY_FILE")" "$E" "referrer of a subject not pushed"
http DELETE "/v2/$R/manifests/$B"
expect_status 202 "DELETE referrer B"
http GET "/v2/$R/referrers/$subject"
expect_eq "$(jq -r '.manifests | length' "$BODY_FILE")" 3 "a deleted referrer is no longer listed"
expect_eq "$(desc "$B")" "" "B is gone"

# Invalid digests: 400.
for bad in sha256:abc "sha256:$(printf '%064d' 0 | tr 0 A)" md5:d41d8cd98f00b204e9800998ecf8427e latest; do
    http GET "/v2/$R/referrers/$bad"
    expect_error 400 DIGEST_INVALID
done
http GET "/v2/BAD/referrers/$subject"
expect_error 400 NAME_INVALID

finish
