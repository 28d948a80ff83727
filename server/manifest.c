/*
 * manifest.c - reading a manifest document as exactly one thing.
 *
 * The media type comes from the Content-Type, or from the body's mediaType
 * when the Content-Type is generic; when both are given they must agree.
 * An index (or Docker manifest list) has `manifests` and no config or
 * layers; an image manifest the opposite; a document with both shapes is
 * refused, so no client can read one manifest two ways.
 */
#include "manifest.h"

#include <stdio.h>
#include <string.h>

static const char *const known_types[] = {
    MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST, NULL,
};

bool manifest_type_known(const char *media_type)
{
    for (const char *const *t = known_types; *t; t++)
        if (media_type && strcmp(media_type, *t) == 0)
            return true;
    return false;
}

bool manifest_type_is_index(const char *media_type)
{
    return media_type && (strcmp(media_type, MT_OCI_INDEX) == 0 ||
                          strcmp(media_type, MT_DOCKER_LIST) == 0);
}

/* Layers that registries are not expected to hold: exactly the media types
 * the specs define as such. Anything else is checked, or a pusher could
 * reference blobs it never uploaded by naming them, say, x.foreign.evil. */
static bool layer_is_foreign(const char *media_type)
{
    static const char *const types[] = {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    };
    for (size_t i = 0; media_type && i < sizeof types / sizeof *types; i++)
        if (strcmp(media_type, types[i]) == 0)
            return true;
    return false;
}

static int descriptor_check(json_t *d, const char *where, struct berr *err)
{
    if (!json_is_object(d))
        return berr_set(err, BERR_INVALID, "%s: not a descriptor object", where);
    json_t *mt = json_object_get(d, "mediaType");
    json_t *digest = json_object_get(d, "digest");
    json_t *size = json_object_get(d, "size");
    if (!json_is_string(mt) || !json_string_length(mt))
        return berr_set(err, BERR_INVALID, "%s: mediaType missing", where);
    if (!json_is_string(digest) || !digest_valid(json_string_value(digest)))
        return berr_set(err, BERR_INVALID, "%s: digest missing or invalid", where);
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return berr_set(err, BERR_INVALID, "%s: size must be a non-negative integer", where);
    return 0;
}

/* Strip parameters ("; charset=...") from a Content-Type. */
static void base_type(const char *content_type, char *out, size_t len)
{
    size_t n = 0;
    if (content_type) {
        n = strcspn(content_type, ";");
        while (n > 0 && content_type[n - 1] == ' ')
            n--;
        if (n >= len)
            n = len - 1;
        memcpy(out, content_type, n);
    }
    out[n] = '\0';
}

static int pick_media_type(const char *content_type, json_t *root,
                           struct manifest_doc *doc, struct berr *err)
{
    char ct[128];
    base_type(content_type, ct, sizeof ct);
    json_t *mt = json_object_get(root, "mediaType");
    if (mt && !json_is_string(mt))
        return berr_set(err, BERR_INVALID, "mediaType must be a string");
    const char *body_type = json_string_value(mt);
    bool generic = !ct[0] || strcmp(ct, "application/json") == 0 ||
                   strcmp(ct, "application/octet-stream") == 0;
    const char *type = generic ? body_type : ct;
    if (!type)
        return berr_set(err, BERR_INVALID, "no media type: send a Content-Type or a mediaType field");
    if (!manifest_type_known(type))
        return berr_set(err, BERR_INVALID, "unsupported manifest media type '%s'", type);
    if (body_type && strcmp(body_type, type) != 0)
        return berr_set(err, BERR_INVALID, "mediaType '%s' does not match Content-Type '%s'",
                        body_type, type);
    for (const char *const *t = known_types; *t; t++)
        if (strcmp(type, *t) == 0)
            doc->media_type = *t;
    doc->is_index = manifest_type_is_index(type);
    return 0;
}

static int add_ref(struct manifest_doc *doc, enum manifest_ref_kind kind, json_t *d)
{
    doc->refs[doc->nrefs].kind = kind;
    doc->refs[doc->nrefs].digest = json_string_value(json_object_get(d, "digest"));
    doc->nrefs++;
    return 0;
}

static int parse_index(json_t *root, struct manifest_doc *doc, struct berr *err)
{
    json_t *list = json_object_get(root, "manifests");
    if (!json_is_array(list))
        return berr_set(err, BERR_INVALID, "an index needs a manifests array");
    doc->refs = calloc(json_array_size(list) + 1, sizeof *doc->refs);
    if (!doc->refs)
        return berr_set(err, BERR_IO, "out of memory");
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        char where[32];
        snprintf(where, sizeof where, "manifests[%zu]", i);
        int rc = descriptor_check(d, where, err);
        if (rc < 0)
            return rc;
        add_ref(doc, REF_MANIFEST, d);
    }
    return 0;
}

static int parse_image(json_t *root, struct manifest_doc *doc, struct berr *err)
{
    json_t *config = json_object_get(root, "config");
    json_t *layers = json_object_get(root, "layers");
    int rc = descriptor_check(config, "config", err);
    if (rc < 0)
        return rc;
    if (!json_is_array(layers))
        return berr_set(err, BERR_INVALID, "a manifest needs a layers array");
    doc->refs = calloc(json_array_size(layers) + 1, sizeof *doc->refs);
    if (!doc->refs)
        return berr_set(err, BERR_IO, "out of memory");
    add_ref(doc, REF_BLOB, config);
    size_t i;
    json_t *d;
    json_array_foreach(layers, i, d) {
        char where[32];
        snprintf(where, sizeof where, "layers[%zu]", i);
        if ((rc = descriptor_check(d, where, err)) < 0)
            return rc;
        if (!layer_is_foreign(json_string_value(json_object_get(d, "mediaType"))))
            add_ref(doc, REF_BLOB, d);
    }
    if (!doc->artifact_type)
        doc->artifact_type = json_string_value(json_object_get(config, "mediaType"));
    return 0;
}

int manifest_parse(const char *content_type, const char *body, size_t len,
                   struct manifest_doc *out, struct berr *err)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    out->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!out->root)
        return berr_set(err, BERR_INVALID, "malformed JSON: %s", jerr.text);
    json_t *root = out->root;
    int rc;
    if (!json_is_object(root))
        return berr_set(err, BERR_INVALID, "a manifest must be a JSON object");
    json_t *sv = json_object_get(root, "schemaVersion");
    if (!json_is_integer(sv) || json_integer_value(sv) != 2)
        return berr_set(err, BERR_INVALID, "schemaVersion must be 2");
    if ((rc = pick_media_type(content_type, root, out, err)) < 0)
        return rc;
    bool has_manifests = json_object_get(root, "manifests") != NULL;
    bool has_image = json_object_get(root, "config") || json_object_get(root, "layers");
    if (has_manifests && has_image)
        return berr_set(err, BERR_INVALID,
                        "a document with both manifests and config/layers is ambiguous");
    if (out->is_index ? has_image : has_manifests)
        return berr_set(err, BERR_INVALID, "the body's shape does not fit media type %s",
                        out->media_type);

    json_t *at = json_object_get(root, "artifactType");
    if (at && !json_is_string(at))
        return berr_set(err, BERR_INVALID, "artifactType must be a string");
    out->artifact_type = json_string_value(at);

    json_t *subject = json_object_get(root, "subject");
    if (subject) {
        if ((rc = descriptor_check(subject, "subject", err)) < 0)
            return rc;
        snprintf(out->subject, sizeof out->subject, "%s",
                 json_string_value(json_object_get(subject, "digest")));
    }
    json_t *ann = json_object_get(root, "annotations");
    if (ann) {
        if (!json_is_object(ann))
            return berr_set(err, BERR_INVALID, "annotations must be an object");
        json_t *v;
        const char *k;
        json_object_foreach(ann, k, v)
            if (!json_is_string(v))
                return berr_set(err, BERR_INVALID, "annotation '%s' must be a string", k);
        out->annotations = json_dumps(ann, JSON_COMPACT | JSON_SORT_KEYS);
    }
    return out->is_index ? parse_index(root, out, err) : parse_image(root, out, err);
}

void manifest_doc_free(struct manifest_doc *doc)
{
    json_decref(doc->root);
    free(doc->refs);
    free(doc->annotations);
    memset(doc, 0, sizeof *doc);
}
