/*
 * test_manifest.c - manifest_parse: OCI image manifests and indexes, Docker
 * schema2 manifests and manifest lists, read as exactly one thing (the
 * Content-Type and the body's mediaType agree, one shape only), with the
 * refs, subject, artifactType and annotations a registry stores. Bodies
 * follow the examples of the OCI image-spec (manifest.md, image-index.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/manifest.h"

#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define D_CFG "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
#define D_L1 "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0"
#define D_L2 "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b"
#define D_L3 "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736"
#define D_M1 "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"
#define D_M2 "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
#define D_SUBJ "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D_EMPTY "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define D_512                                                                   \
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"   \
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

#define DESC(mt, digest, size)                                                  \
    "{\"mediaType\":\"" mt "\",\"digest\":\"" digest "\",\"size\":" #size "}"

#define CFG DESC(MT_OCI_CONFIG, D_CFG, 7023)
#define LAYERS "[" DESC(MT_OCI_LAYER, D_L1, 32654) "," DESC(MT_OCI_LAYER, D_L2, 16724) "]"
#define MANIFESTS                                                               \
    "[" DESC(MT_OCI_MANIFEST, D_M1, 7143) "," DESC(MT_OCI_MANIFEST, D_M2, 7682) "]"

/* An OCI image manifest with mediaType and `fields` after it. */
#define OCI_M(fields) "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\"," fields "}"
#define OCI_I(fields) "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\"," fields "}"

static const char oci_manifest[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
    "  \"config\": {\n"
    "    \"mediaType\": \"application/vnd.oci.image.config.v1+json\",\n"
    "    \"size\": 7023,\n"
    "    \"digest\": \"" D_CFG "\"\n"
    "  },\n"
    "  \"layers\": [\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
    "      \"size\": 32654,\n"
    "      \"digest\": \"" D_L1 "\"\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
    "      \"size\": 16724,\n"
    "      \"digest\": \"" D_L2 "\"\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n"
    "      \"size\": 73109,\n"
    "      \"digest\": \"" D_L3 "\"\n"
    "    }\n"
    "  ],\n"
    "  \"annotations\": {\n"
    "    \"com.example.key1\": \"value1\",\n"
    "    \"com.example.key2\": \"value2\"\n"
    "  }\n"
    "}\n";

static const char oci_index[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n"
    "  \"manifests\": [\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
    "      \"size\": 7143,\n"
    "      \"digest\": \"" D_M1 "\",\n"
    "      \"platform\": {\"architecture\": \"ppc64le\", \"os\": \"linux\"}\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
    "      \"size\": 7682,\n"
    "      \"digest\": \"" D_M2 "\",\n"
    "      \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\"}\n"
    "    }\n"
    "  ],\n"
    "  \"annotations\": {\n"
    "    \"com.example.key1\": \"value1\",\n"
    "    \"com.example.key2\": \"value2\"\n"
    "  }\n"
    "}\n";

static const char docker_manifest[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "  \"config\": {\n"
    "    \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
    "    \"size\": 7023,\n"
    "    \"digest\": \"" D_CFG "\"\n"
    "  },\n"
    "  \"layers\": [\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "      \"size\": 32654,\n"
    "      \"digest\": \"" D_L1 "\"\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\n"
    "      \"size\": 16724,\n"
    "      \"digest\": \"" D_L2 "\",\n"
    "      \"urls\": [\"https://example.com/layer.tar.gz\"]\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "      \"size\": 73109,\n"
    "      \"digest\": \"" D_L3 "\"\n"
    "    }\n"
    "  ]\n"
    "}\n";

static const char docker_list[] =
    "{\n"
    "  \"schemaVersion\": 2,\n"
    "  \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n"
    "  \"manifests\": [\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "      \"size\": 7143,\n"
    "      \"digest\": \"" D_M1 "\",\n"
    "      \"platform\": {\"architecture\": \"ppc64le\", \"os\": \"linux\"}\n"
    "    },\n"
    "    {\n"
    "      \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "      \"size\": 7682,\n"
    "      \"digest\": \"" D_M2 "\",\n"
    "      \"platform\": {\"architecture\": \"amd64\", \"os\": \"linux\",\n"
    "                   \"features\": [\"sse4\"]}\n"
    "    }\n"
    "  ]\n"
    "}\n";

/* ---- helpers ---------------------------------------------------------------- */

static void parse_ok(const char *ct, const char *body, struct manifest_doc *doc)
{
    struct berr err = {0};
    int rc = manifest_parse(ct, body, strlen(body), doc, &err);
    if (rc != 0)
        fail_msg("manifest_parse(%s) = %d: %s\nbody: %s", ct ? ct : "(null)", rc,
                 err.msg, body);
    assert_non_null(doc->root);
    assert_non_null(doc->media_type);
}

static void parse_bad_len(const char *ct, const char *body, size_t len)
{
    struct berr err = {0};
    struct manifest_doc doc;
    int rc = manifest_parse(ct, body, len, &doc, &err);
    if (rc != -BERR_INVALID)
        fail_msg("manifest_parse(%s) = %d, want -BERR_INVALID\nbody: %.*s",
                 ct ? ct : "(null)", rc, (int)len, body);
    assert_int_equal(err.code, BERR_INVALID);
    assert_true(err.msg[0] != '\0');
    manifest_doc_free(&doc);
}

static void parse_bad(const char *ct, const char *body)
{
    parse_bad_len(ct, body, strlen(body));
}

static int count_ref(const struct manifest_doc *doc, enum manifest_ref_kind kind,
                     const char *digest)
{
    int n = 0;
    for (size_t i = 0; i < doc->nrefs; i++)
        if (doc->refs[i].kind == kind && doc->refs[i].digest &&
            strcmp(doc->refs[i].digest, digest) == 0)
            n++;
    return n;
}

static void assert_annotation(const struct manifest_doc *doc, const char *key,
                              const char *value)
{
    assert_non_null(doc->annotations);
    json_error_t jerr;
    json_t *obj = json_loads(doc->annotations, 0, &jerr);
    if (!json_is_object(obj))
        fail_msg("annotations are not a JSON object: %s", doc->annotations);
    const char *got = json_string_value(json_object_get(obj, key));
    if (!got || strcmp(got, value) != 0)
        fail_msg("annotation %s = %s, want %s (in %s)", key, got ? got : "(none)",
                 value, doc->annotations);
    json_decref(obj);
}

static size_t annotation_count(const struct manifest_doc *doc)
{
    json_t *obj = json_loads(doc->annotations, 0, NULL);
    assert_true(json_is_object(obj));
    size_t n = json_object_size(obj);
    json_decref(obj);
    return n;
}

/* ---- media types ----------------------------------------------------------------- */

static void test_type_helpers(void **state)
{
    (void)state;
    assert_true(manifest_type_known(MT_OCI_MANIFEST));
    assert_true(manifest_type_known(MT_OCI_INDEX));
    assert_true(manifest_type_known(MT_DOCKER_MANIFEST));
    assert_true(manifest_type_known(MT_DOCKER_LIST));
    assert_false(manifest_type_known("application/vnd.docker.distribution.manifest.v1+prettyjws"));
    assert_false(manifest_type_known("application/vnd.oci.artifact.manifest.v1+json"));
    assert_false(manifest_type_known(MT_OCI_CONFIG));
    assert_false(manifest_type_known("application/json"));
    assert_false(manifest_type_known(""));
    assert_false(manifest_type_known(NULL));
    assert_true(manifest_type_is_index(MT_OCI_INDEX));
    assert_true(manifest_type_is_index(MT_DOCKER_LIST));
    assert_false(manifest_type_is_index(MT_OCI_MANIFEST));
    assert_false(manifest_type_is_index(MT_DOCKER_MANIFEST));
    assert_false(manifest_type_is_index(NULL));
}

/* ---- accepted documents -------------------------------------------------------------- */

static void test_oci_manifest(void **state)
{
    (void)state;
    struct manifest_doc doc;
    parse_ok(MT_OCI_MANIFEST, oci_manifest, &doc);
    assert_string_equal(doc.media_type, MT_OCI_MANIFEST);
    assert_false(doc.is_index);
    assert_int_equal(doc.nrefs, 4);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_CFG), 1);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_L1), 1);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_L2), 1);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_L3), 1);
    assert_string_equal(doc.subject, "");
    /* no artifactType: the config's media type */
    assert_non_null(doc.artifact_type);
    assert_string_equal(doc.artifact_type, MT_OCI_CONFIG);
    assert_annotation(&doc, "com.example.key1", "value1");
    assert_annotation(&doc, "com.example.key2", "value2");
    assert_int_equal(annotation_count(&doc), 2);
    manifest_doc_free(&doc);
}

static void test_content_type_forms(void **state)
{
    (void)state;
    struct manifest_doc doc;
    /* parameters after the media type */
    parse_ok(MT_OCI_MANIFEST "; charset=utf-8", oci_manifest, &doc);
    assert_string_equal(doc.media_type, MT_OCI_MANIFEST);
    manifest_doc_free(&doc);
    /* a generic or missing Content-Type: the body's mediaType decides */
    parse_ok("application/json", oci_manifest, &doc);
    assert_string_equal(doc.media_type, MT_OCI_MANIFEST);
    manifest_doc_free(&doc);
    parse_ok(NULL, oci_index, &doc);
    assert_string_equal(doc.media_type, MT_OCI_INDEX);
    assert_true(doc.is_index);
    manifest_doc_free(&doc);
    parse_ok("", docker_list, &doc);
    assert_string_equal(doc.media_type, MT_DOCKER_LIST);
    manifest_doc_free(&doc);
    /* mediaType is optional in an OCI body: the Content-Type decides */
    parse_ok(MT_OCI_MANIFEST,
             "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":" LAYERS "}", &doc);
    assert_string_equal(doc.media_type, MT_OCI_MANIFEST);
    assert_false(doc.is_index);
    assert_int_equal(doc.nrefs, 3);
    manifest_doc_free(&doc);
    parse_ok(MT_OCI_INDEX, "{\"schemaVersion\":2,\"manifests\":" MANIFESTS "}", &doc);
    assert_string_equal(doc.media_type, MT_OCI_INDEX);
    assert_true(doc.is_index);
    assert_int_equal(doc.nrefs, 2);
    manifest_doc_free(&doc);
}

static void test_oci_index(void **state)
{
    (void)state;
    struct manifest_doc doc;
    parse_ok(MT_OCI_INDEX, oci_index, &doc);
    assert_string_equal(doc.media_type, MT_OCI_INDEX);
    assert_true(doc.is_index);
    assert_int_equal(doc.nrefs, 2);
    assert_int_equal(count_ref(&doc, REF_MANIFEST, D_M1), 1);
    assert_int_equal(count_ref(&doc, REF_MANIFEST, D_M2), 1);
    assert_string_equal(doc.subject, "");
    assert_null(doc.artifact_type);
    assert_annotation(&doc, "com.example.key1", "value1");
    manifest_doc_free(&doc);

    /* an index of indexes, and an empty index */
    parse_ok(MT_OCI_INDEX,
             OCI_I("\"manifests\":[" DESC(MT_OCI_INDEX, D_M1, 100) "]"), &doc);
    assert_int_equal(doc.nrefs, 1);
    assert_int_equal(count_ref(&doc, REF_MANIFEST, D_M1), 1);
    manifest_doc_free(&doc);
    parse_ok(MT_OCI_INDEX, OCI_I("\"manifests\":[]"), &doc);
    assert_true(doc.is_index);
    assert_int_equal(doc.nrefs, 0);
    manifest_doc_free(&doc);
}

static void test_docker_manifest(void **state)
{
    (void)state;
    struct manifest_doc doc;
    parse_ok(MT_DOCKER_MANIFEST, docker_manifest, &doc);
    assert_string_equal(doc.media_type, MT_DOCKER_MANIFEST);
    assert_false(doc.is_index);
    /* the foreign layer is not required to be in the registry */
    assert_int_equal(doc.nrefs, 3);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_CFG), 1);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_L1), 1);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_L2), 0);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_L3), 1);
    assert_string_equal(doc.subject, "");
    assert_null(doc.annotations);
    manifest_doc_free(&doc);
}

static void test_docker_manifest_list(void **state)
{
    (void)state;
    struct manifest_doc doc;
    parse_ok(MT_DOCKER_LIST, docker_list, &doc);
    assert_string_equal(doc.media_type, MT_DOCKER_LIST);
    assert_true(doc.is_index);
    assert_int_equal(doc.nrefs, 2);
    assert_int_equal(count_ref(&doc, REF_MANIFEST, D_M1), 1);
    assert_int_equal(count_ref(&doc, REF_MANIFEST, D_M2), 1);
    assert_null(doc.artifact_type);
    assert_null(doc.annotations);
    manifest_doc_free(&doc);
}

static void test_nondistributable_layers(void **state)
{
    (void)state;
    struct manifest_doc doc;
    parse_ok(MT_OCI_MANIFEST,
             OCI_M("\"config\":" CFG ",\"layers\":["
                   DESC(MT_OCI_LAYER, D_L1, 1) ","
                   DESC("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", D_L2, 2)
                   "]"), &doc);
    assert_int_equal(doc.nrefs, 2);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_L1), 1);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_L2), 0);
    manifest_doc_free(&doc);
}

/* Only the defined non-distributable types skip the presence check; a
 * type that merely looks like one is an ordinary layer. */
static void test_foreign_lookalikes(void **state)
{
    (void)state;
    static const char *const lookalikes[] = {
        "application/x.foreign.evil",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip+x",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+evil",
        "x.nondistributable.y",
    };
    for (size_t i = 0; i < sizeof lookalikes / sizeof *lookalikes; i++) {
        char body[1024];
        snprintf(body, sizeof body,
                 OCI_M("\"config\":" CFG ",\"layers\":[{\"mediaType\":\"%s\","
                       "\"digest\":\"" D_L2 "\",\"size\":2}]"), lookalikes[i]);
        struct manifest_doc doc;
        parse_ok(MT_OCI_MANIFEST, body, &doc);
        if (count_ref(&doc, REF_BLOB, D_L2) != 1)
            fail_msg("layer of type %s not checked", lookalikes[i]);
        manifest_doc_free(&doc);
    }
    static const char *const foreign[] = {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    };
    for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++) {
        char body[1024];
        snprintf(body, sizeof body,
                 OCI_M("\"config\":" CFG ",\"layers\":[{\"mediaType\":\"%s\","
                       "\"digest\":\"" D_L2 "\",\"size\":2}]"), foreign[i]);
        struct manifest_doc doc;
        parse_ok(MT_OCI_MANIFEST, body, &doc);
        if (count_ref(&doc, REF_BLOB, D_L2) != 0)
            fail_msg("non-distributable layer of type %s required", foreign[i]);
        manifest_doc_free(&doc);
    }
}

static void test_sha512_descriptors(void **state)
{
    (void)state;
    struct manifest_doc doc;
    parse_ok(MT_OCI_MANIFEST,
             OCI_M("\"config\":" CFG ",\"layers\":[" DESC(MT_OCI_LAYER, D_512, 3) "]"), &doc);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_512), 1);
    manifest_doc_free(&doc);
}

static void test_artifact_with_subject(void **state)
{
    (void)state;
    struct manifest_doc doc;
    parse_ok(MT_OCI_MANIFEST,
             OCI_M("\"artifactType\":\"application/vnd.example.sbom.v1\","
                   "\"config\":" DESC(MT_OCI_EMPTY, D_EMPTY, 2) ","
                   "\"layers\":[" DESC("application/spdx+json", D_L1, 100) "],"
                   "\"subject\":" DESC(MT_OCI_MANIFEST, D_SUBJ, 1234) ","
                   "\"annotations\":{\"org.opencontainers.image.created\":"
                   "\"2024-01-01T00:00:00Z\"}"), &doc);
    assert_string_equal(doc.subject, D_SUBJ);
    assert_non_null(doc.artifact_type);
    assert_string_equal(doc.artifact_type, "application/vnd.example.sbom.v1");
    assert_annotation(&doc, "org.opencontainers.image.created", "2024-01-01T00:00:00Z");
    /* the subject need not be present: it is not a ref */
    assert_int_equal(count_ref(&doc, REF_BLOB, D_SUBJ), 0);
    assert_int_equal(count_ref(&doc, REF_MANIFEST, D_SUBJ), 0);
    assert_int_equal(doc.nrefs, 2);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_EMPTY), 1);
    manifest_doc_free(&doc);
}

static void test_artifact_type_from_config(void **state)
{
    (void)state;
    struct manifest_doc doc;
    parse_ok(MT_OCI_MANIFEST,
             OCI_M("\"config\":" DESC("application/vnd.example.signature.config.v1+json",
                                      D_CFG, 2) ","
                   "\"layers\":[" DESC("application/vnd.example.sig", D_L1, 10) "],"
                   "\"subject\":" DESC(MT_OCI_MANIFEST, D_SUBJ, 1234)), &doc);
    assert_non_null(doc.artifact_type);
    assert_string_equal(doc.artifact_type, "application/vnd.example.signature.config.v1+json");
    assert_string_equal(doc.subject, D_SUBJ);
    assert_null(doc.annotations);
    manifest_doc_free(&doc);
}

static void test_artifact_without_layers(void **state)
{
    (void)state;
    struct manifest_doc doc;
    /* image-spec 1.1: layers SHOULD (not MUST) have an entry */
    parse_ok(MT_OCI_MANIFEST,
             OCI_M("\"artifactType\":\"application/vnd.example.thing\","
                   "\"config\":" DESC(MT_OCI_EMPTY, D_EMPTY, 2) ",\"layers\":[]"), &doc);
    assert_int_equal(doc.nrefs, 1);
    assert_int_equal(count_ref(&doc, REF_BLOB, D_EMPTY), 1);
    assert_string_equal(doc.artifact_type, "application/vnd.example.thing");
    manifest_doc_free(&doc);
}

static void test_index_with_subject(void **state)
{
    (void)state;
    struct manifest_doc doc;
    parse_ok(MT_OCI_INDEX,
             OCI_I("\"artifactType\":\"application/vnd.example.bundle\","
                   "\"manifests\":" MANIFESTS ","
                   "\"subject\":" DESC(MT_OCI_INDEX, D_SUBJ, 99) ","
                   "\"annotations\":{\"a\":\"1\",\"b\":\"\"}"), &doc);
    assert_true(doc.is_index);
    assert_string_equal(doc.subject, D_SUBJ);
    assert_string_equal(doc.artifact_type, "application/vnd.example.bundle");
    assert_int_equal(doc.nrefs, 2);
    assert_int_equal(count_ref(&doc, REF_MANIFEST, D_SUBJ), 0);
    assert_annotation(&doc, "a", "1");
    assert_annotation(&doc, "b", "");
    assert_int_equal(annotation_count(&doc), 2);
    manifest_doc_free(&doc);
}

static void test_length_is_honoured(void **state)
{
    (void)state;
    /* only `len` bytes are the body: what follows is not read */
    size_t n = strlen(oci_manifest);
    char *buf = malloc(n + 16);
    assert_non_null(buf);
    memcpy(buf, oci_manifest, n);
    memcpy(buf + n, "garbage{]", 10);
    struct manifest_doc doc;
    struct berr err = {0};
    assert_int_equal(manifest_parse(MT_OCI_MANIFEST, buf, n, &doc, &err), 0);
    assert_int_equal(doc.nrefs, 4);
    manifest_doc_free(&doc);
    /* and a body cut short is malformed */
    parse_bad_len(MT_OCI_MANIFEST, buf, n / 2);
    free(buf);
}

/* ---- refused documents ------------------------------------------------------------ */

static void test_malformed_json(void **state)
{
    (void)state;
    parse_bad(MT_OCI_MANIFEST, "");
    parse_bad(MT_OCI_MANIFEST, "{");
    parse_bad(MT_OCI_MANIFEST, "not json");
    parse_bad(MT_OCI_MANIFEST, "{\"schemaVersion\":2,}");
    parse_bad(MT_OCI_MANIFEST, "{'schemaVersion':2}");
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":" LAYERS) " x");
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":" LAYERS) "{}");
    parse_bad(NULL, "\x00{}");
    parse_bad_len(MT_OCI_MANIFEST, "{\"schemaVersion\":2}\0junk", 24);
}

static void test_not_an_object(void **state)
{
    (void)state;
    const char *bodies[] = {"[]", "[" CFG "]", "\"manifest\"", "2", "null", "true"};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        parse_bad(MT_OCI_MANIFEST, bodies[i]);
        parse_bad(NULL, bodies[i]);
    }
}

static void test_unknown_media_type(void **state)
{
    (void)state;
    /* in the body */
    parse_bad(NULL, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_CONFIG
                    "\",\"config\":" CFG ",\"layers\":" LAYERS "}");
    parse_bad("application/json",
              "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\","
              "\"config\":" CFG ",\"layers\":" LAYERS "}");
    parse_bad(NULL, "{\"schemaVersion\":2,\"mediaType\":\"\",\"config\":" CFG
                    ",\"layers\":" LAYERS "}");
    /* in the Content-Type */
    parse_bad("text/plain", "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":" LAYERS "}");
    parse_bad("application/vnd.docker.distribution.manifest.v1+prettyjws",
              "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":" LAYERS "}");
    parse_bad("application/vnd.docker.distribution.manifest.v1+json",
              "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":" LAYERS "}");
    /* neither says what it is */
    parse_bad(NULL, "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":" LAYERS "}");
    parse_bad("application/json", "{\"schemaVersion\":2,\"manifests\":" MANIFESTS "}");
}

static void test_content_type_disagrees(void **state)
{
    (void)state;
    parse_bad(MT_OCI_MANIFEST, docker_manifest);
    parse_bad(MT_DOCKER_MANIFEST, oci_manifest);
    parse_bad(MT_OCI_INDEX, oci_manifest);
    parse_bad(MT_OCI_MANIFEST, oci_index);
    parse_bad(MT_OCI_INDEX, docker_list);
    parse_bad(MT_DOCKER_LIST, oci_index);
    parse_bad(MT_DOCKER_LIST "; charset=utf-8", docker_manifest);
}

static void test_both_shapes(void **state)
{
    (void)state;
    /* manifests together with config and/or layers, whatever the type says */
    const char *types[] = {MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST};
    for (size_t i = 0; i < 4; i++) {
        char body[4096];
        snprintf(body, sizeof body,
                 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":" CFG
                 ",\"layers\":" LAYERS ",\"manifests\":" MANIFESTS "}", types[i]);
        parse_bad(types[i], body);
        parse_bad(NULL, body);
        snprintf(body, sizeof body,
                 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"layers\":" LAYERS
                 ",\"manifests\":" MANIFESTS "}", types[i]);
        parse_bad(types[i], body);
        snprintf(body, sizeof body,
                 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":" CFG
                 ",\"manifests\":" MANIFESTS "}", types[i]);
        parse_bad(types[i], body);
    }
    /* no mediaType in the body: the Content-Type alone cannot settle it */
    parse_bad(MT_OCI_MANIFEST, "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":" LAYERS
                               ",\"manifests\":" MANIFESTS "}");
    parse_bad(MT_OCI_INDEX, "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":" LAYERS
                            ",\"manifests\":" MANIFESTS "}");
    /* an empty manifests array or empty layers still make two shapes */
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":" LAYERS ",\"manifests\":[]"));
    parse_bad(MT_OCI_INDEX, OCI_I("\"manifests\":" MANIFESTS ",\"layers\":[]"));
}

static void test_wrong_shape(void **state)
{
    (void)state;
    /* an index with an image's body, and the other way round */
    parse_bad(MT_OCI_INDEX, "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":" LAYERS "}");
    parse_bad(MT_OCI_MANIFEST, "{\"schemaVersion\":2,\"manifests\":" MANIFESTS "}");
    parse_bad(NULL, OCI_I("\"config\":" CFG ",\"layers\":" LAYERS));
    parse_bad(NULL, OCI_M("\"manifests\":" MANIFESTS));
}

static void test_missing_parts(void **state)
{
    (void)state;
    /* missing config */
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"layers\":" LAYERS));
    parse_bad(MT_DOCKER_MANIFEST,
              "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST
              "\",\"layers\":[" DESC(MT_DOCKER_LAYER, D_L1, 1) "]}");
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":null,\"layers\":" LAYERS));
    /* missing layers (required by the image-spec's schema) */
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":null"));
    /* missing manifests */
    parse_bad(MT_OCI_INDEX, OCI_I("\"annotations\":{}"));
    parse_bad(MT_DOCKER_LIST, "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\"}");
    parse_bad(MT_OCI_INDEX, OCI_I("\"manifests\":null"));
    /* nothing at all */
    parse_bad(MT_OCI_MANIFEST, "{}");
    parse_bad(MT_OCI_MANIFEST, "{\"schemaVersion\":2}");
}

static void test_wrong_structure(void **state)
{
    (void)state;
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":\"" D_CFG "\",\"layers\":" LAYERS));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":[" CFG "],\"layers\":" LAYERS));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":" CFG));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":[\"" D_L1 "\"]"));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":[null]"));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":[" CFG ",3]"));
    parse_bad(MT_OCI_INDEX, OCI_I("\"manifests\":" DESC(MT_OCI_MANIFEST, D_M1, 1)));
    parse_bad(MT_OCI_INDEX, OCI_I("\"manifests\":[1]"));
    parse_bad(MT_OCI_INDEX, OCI_I("\"manifests\":[" DESC(MT_OCI_MANIFEST, D_M1, 1) ",[]]"));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":" LAYERS ",\"subject\":\""
                                     D_SUBJ "\""));
}

static void test_bad_digests(void **state)
{
    (void)state;
    const char *bad[] = {
        "sha256:xyz",
        "sha256:B5B2B2C507A0944348E0303114D8D93AAAA081732B86451D9BCE1F432A537BC7",
        "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc",
        "sha384:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
        "b5b2b2c507a0944348e0303114d8d93a",
        "md5:5d41402abc4b2a76b9719d911017c592",
        "b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char desc[512], body[4096];
        snprintf(desc, sizeof desc, "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1}",
                 MT_OCI_LAYER, bad[i]);
        /* in the config, a layer, an index entry and the subject */
        snprintf(body, sizeof body, OCI_M("\"config\":%s,\"layers\":" LAYERS), desc);
        parse_bad(MT_OCI_MANIFEST, body);
        snprintf(body, sizeof body, OCI_M("\"config\":" CFG ",\"layers\":[" 
                                          DESC(MT_OCI_LAYER, D_L1, 1) ",%s]"), desc);
        parse_bad(MT_OCI_MANIFEST, body);
        snprintf(body, sizeof body, OCI_I("\"manifests\":[%s]"), desc);
        parse_bad(MT_OCI_INDEX, body);
        snprintf(body, sizeof body,
                 OCI_M("\"config\":" CFG ",\"layers\":" LAYERS ",\"subject\":%s"), desc);
        parse_bad(MT_OCI_MANIFEST, body);
    }
    /* a digest that is missing or not a string */
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":{\"mediaType\":\"" MT_OCI_CONFIG
                                     "\",\"size\":1},\"layers\":" LAYERS));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":{\"mediaType\":\"" MT_OCI_CONFIG
                                     "\",\"digest\":123,\"size\":1},\"layers\":" LAYERS));
    parse_bad(MT_OCI_INDEX, OCI_I("\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
                                  "\",\"digest\":null,\"size\":1}]"));
}

static void test_bad_sizes(void **state)
{
    (void)state;
    const char *bad[] = {"12.5", "-1", "\"12\"", "true", "null", "[]", "1e3", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char desc[512], body[4096];
        snprintf(desc, sizeof desc, "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%s}",
                 MT_OCI_LAYER, D_L3, bad[i]);
        snprintf(body, sizeof body, OCI_M("\"config\":%s,\"layers\":" LAYERS), desc);
        parse_bad(MT_OCI_MANIFEST, body);
        snprintf(body, sizeof body, OCI_M("\"config\":" CFG ",\"layers\":[%s]"), desc);
        parse_bad(MT_OCI_MANIFEST, body);
        snprintf(body, sizeof body, OCI_I("\"manifests\":[%s]"), desc);
        parse_bad(MT_OCI_INDEX, body);
    }
    /* missing size */
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":[{\"mediaType\":\""
                                     MT_OCI_LAYER "\",\"digest\":\"" D_L1 "\"}]"));
    /* zero and large sizes are fine */
    struct manifest_doc doc;
    parse_ok(MT_OCI_MANIFEST,
             OCI_M("\"config\":" DESC(MT_OCI_CONFIG, D_CFG, 0) ",\"layers\":["
                   DESC(MT_OCI_LAYER, D_L1, 9007199254740991) "]"), &doc);
    manifest_doc_free(&doc);
}

static void test_bad_descriptor_media_type(void **state)
{
    (void)state;
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":{\"digest\":\"" D_CFG
                                     "\",\"size\":1},\"layers\":" LAYERS));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":[{\"mediaType\":\"\","
                                     "\"digest\":\"" D_L1 "\",\"size\":1}]"));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":[{\"mediaType\":7,"
                                     "\"digest\":\"" D_L1 "\",\"size\":1}]"));
    parse_bad(MT_OCI_INDEX, OCI_I("\"manifests\":[{\"digest\":\"" D_M1 "\",\"size\":1}]"));
}

static void test_schema_version(void **state)
{
    (void)state;
    const char *bad[] = {"1", "3", "0", "-2", "\"2\"", "2.0", "null", "true", "[2]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char body[4096];
        snprintf(body, sizeof body,
                 "{\"schemaVersion\":%s,\"mediaType\":\"" MT_OCI_MANIFEST
                 "\",\"config\":" CFG ",\"layers\":" LAYERS "}", bad[i]);
        parse_bad(MT_OCI_MANIFEST, body);
        snprintf(body, sizeof body,
                 "{\"schemaVersion\":%s,\"mediaType\":\"" MT_OCI_INDEX
                 "\",\"manifests\":" MANIFESTS "}", bad[i]);
        parse_bad(MT_OCI_INDEX, body);
    }
    parse_bad(MT_OCI_MANIFEST, "{\"mediaType\":\"" MT_OCI_MANIFEST
                               "\",\"config\":" CFG ",\"layers\":" LAYERS "}");
}

static void test_bad_field_types(void **state)
{
    (void)state;
    /* mediaType, artifactType, annotations of the wrong type */
    parse_bad(MT_OCI_MANIFEST, "{\"schemaVersion\":2,\"mediaType\":2,\"config\":" CFG
                               ",\"layers\":" LAYERS "}");
    parse_bad(NULL, "{\"schemaVersion\":2,\"mediaType\":[\"" MT_OCI_MANIFEST
                    "\"],\"config\":" CFG ",\"layers\":" LAYERS "}");
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"artifactType\":123,\"config\":" CFG ",\"layers\":" LAYERS));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"artifactType\":{},\"config\":" CFG ",\"layers\":" LAYERS));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":" LAYERS
                                     ",\"annotations\":[]"));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":" LAYERS
                                     ",\"annotations\":\"a=b\""));
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":" LAYERS
                                     ",\"annotations\":{\"a\":1}"));
    parse_bad(MT_OCI_INDEX, OCI_I("\"manifests\":" MANIFESTS ",\"annotations\":{\"a\":null}"));
    parse_bad(MT_OCI_INDEX, OCI_I("\"manifests\":" MANIFESTS ",\"annotations\":{\"a\":{}}"));
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    /* a document two parsers could read differently */
    parse_bad(NULL, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"mediaType\":\""
                    MT_OCI_MANIFEST "\",\"config\":" CFG ",\"layers\":" LAYERS "}");
    parse_bad(MT_OCI_MANIFEST, OCI_M("\"config\":" CFG ",\"layers\":" LAYERS
                                     ",\"layers\":[]"));
    parse_bad(MT_OCI_MANIFEST, "{\"schemaVersion\":2,\"schemaVersion\":2,\"mediaType\":\""
                               MT_OCI_MANIFEST "\",\"config\":" CFG ",\"layers\":" LAYERS "}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_helpers),
        cmocka_unit_test(test_oci_manifest),
        cmocka_unit_test(test_content_type_forms),
        cmocka_unit_test(test_oci_index),
        cmocka_unit_test(test_docker_manifest),
        cmocka_unit_test(test_docker_manifest_list),
        cmocka_unit_test(test_nondistributable_layers),
        cmocka_unit_test(test_foreign_lookalikes),
        cmocka_unit_test(test_sha512_descriptors),
        cmocka_unit_test(test_artifact_with_subject),
        cmocka_unit_test(test_artifact_type_from_config),
        cmocka_unit_test(test_artifact_without_layers),
        cmocka_unit_test(test_index_with_subject),
        cmocka_unit_test(test_length_is_honoured),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_unknown_media_type),
        cmocka_unit_test(test_content_type_disagrees),
        cmocka_unit_test(test_both_shapes),
        cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_missing_parts),
        cmocka_unit_test(test_wrong_structure),
        cmocka_unit_test(test_bad_digests),
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_bad_descriptor_media_type),
        cmocka_unit_test(test_schema_version),
        cmocka_unit_test(test_bad_field_types),
        cmocka_unit_test(test_duplicate_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
