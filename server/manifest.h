/*
 * manifest.h - parsing and validating manifest documents (private to
 * server/). Pure functions over a body and its Content-Type: no storage.
 */
#ifndef BERTH_SERVER_MANIFEST_H
#define BERTH_SERVER_MANIFEST_H

#include "../common/common.h"
#include "../storage/storage.h"

#include <jansson.h>

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

struct manifest_doc {
    json_t *root;
    const char *media_type;      /* one of the MT_* above */
    bool is_index;               /* an OCI index or a Docker manifest list */
    struct manifest_ref *refs;   /* config + layers, or child manifests */
    size_t nrefs;
    char subject[DIGEST_MAX];    /* "" when none */
    const char *artifact_type;   /* artifactType, else config.mediaType; may be NULL */
    char *annotations;           /* compact JSON text, or NULL */
};

bool manifest_type_known(const char *media_type);
bool manifest_type_is_index(const char *media_type);

/* Parse and validate `body` sent with `content_type`. On failure err holds
 * a message and the return is -BERR_INVALID (MANIFEST_INVALID). Layers that
 * are foreign/non-distributable are not required to be present. */
int manifest_parse(const char *content_type, const char *body, size_t len,
                   struct manifest_doc *out, struct berr *err);
void manifest_doc_free(struct manifest_doc *doc);

#endif
