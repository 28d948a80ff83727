/*
 * api_manifests.c - GET, HEAD, PUT and DELETE /v2/<name>/manifests/<ref>.
 *
 * A PUT body is buffered (bounded by limits.manifest_max_bytes), its digest
 * computed, its document validated (manifest.c), its body staged as a
 * blob, and then recorded in one metadata transaction that also checks
 * every blob and child manifest it names is present and publishes the
 * body, so a manifest is never stored pointing at something missing.
 */
#include "http.h"
#include "manifest.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- Accept negotiation ------------------------------------------------ */

struct accept_scan {
    const char *type;
    bool any_header;
    bool accepted;
};

/* Does one Accept header value list `type` (or a wildcard)? */
static bool accept_lists(const char *value, const char *type)
{
    size_t tlen = strlen(type);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",;");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ')
            m--;
        if ((m == tlen && strncmp(p, type, tlen) == 0) ||
            (m == 3 && strncmp(p, "*/*", 3) == 0))
            return true;
        p += n;
        p += strcspn(p, ",");   /* skip parameters */
    }
    return false;
}

static enum MHD_Result scan_accept(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
    (void)kind;
    struct accept_scan *s = cls;
    if (strcasecmp(key, "Accept") == 0 && value) {
        s->any_header = true;
        if (accept_lists(value, s->type))
            s->accepted = true;
    }
    return MHD_YES;
}

/* A client that sends no Accept gets what is stored, as with distribution
 * for every non-schema1 type. */
static bool client_accepts(struct request *rq, const char *type)
{
    struct accept_scan s = {.type = type};
    MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, scan_accept, &s);
    return !s.any_header || s.accepted;
}

/* ---- handlers ------------------------------------------------------------ */

/* A reference is a valid tag or a valid digest. A tag that is not valid
 * is a 400 for a PUT, which would make it; for the others nothing by that
 * name can exist: 404 MANIFEST_UNKNOWN, as distribution answers. */
static bool reference_check(struct request *rq, bool *is_digest)
{
    const char *ref = rq->route.ref;
    *is_digest = strchr(ref, ':') != NULL;
    if (*is_digest)
        return digest_check(rq, ref);
    if (tag_valid(ref))
        return true;
    if (strcmp(rq->method, "PUT") == 0)
        respond_error(rq, 400, "MANIFEST_INVALID", "invalid tag '%s'", ref);
    else
        respond_error(rq, 404, "MANIFEST_UNKNOWN", "manifest %s unknown in %s: not a valid tag",
                      ref, rq->route.name);
    return false;
}

static enum MHD_Result manifest_get(struct request *rq)
{
    struct manifest_info mi;
    const char *name = rq->route.name, *ref = rq->route.ref;
    struct proxy *proxy = rq->srv->proxy;
    bool stale = false;
    struct berr err = {0};
    int rc = proxy && !proxy_local(proxy, name)
                 ? proxy_manifest(rq->srv, proxy, name, ref, &mi, &stale, &err)
                 : meta_manifest_get(rq->srv->meta, name, ref, &mi);
    if (rc == -BERR_IO && !proxy)
        return respond_error(rq, 503, "UNAVAILABLE", "the registry's metadata cannot be read");
    if (rc < 0)
        return respond_error(rq, 404, "MANIFEST_UNKNOWN", "manifest %s unknown in %s%s%s", ref,
                             name, err.msg[0] ? ": " : "", err.msg);
    if (!client_accepts(rq, mi.media_type))
        return respond_error(rq, 404, "MANIFEST_UNKNOWN",
                             "manifest %s is %s, which the request's Accept does not list",
                             ref, mi.media_type);
    int fd = -1;
    uint64_t size = mi.size;
    if (!is_head(rq) && blob_open(rq->srv->blobs, mi.digest, &fd, &size) < 0)
        return respond_error(rq, 404, "MANIFEST_UNKNOWN", "manifest body missing from storage");
    struct MHD_Response *resp = response_fd(rq, fd, 0, size);
    if (!resp) {
        if (fd >= 0)
            close(fd);
        return MHD_NO;
    }
    header_add(resp, "Content-Type", "%s", mi.media_type);
    header_add(resp, "Docker-Content-Digest", "%s", mi.digest);
    header_add(resp, "ETag", "\"%s\"", mi.digest);
    if (stale)
        header_add(resp, "Warning", "110 - \"Response is Stale\"");
    return respond(rq, 200, resp);
}

static int buffer_body(struct request *rq, const char *data, size_t len)
{
    uint64_t max = rq->cfg->manifest_max;
    if (rq->len + len > max)
        return body_fail(rq, 413, "SIZE_INVALID", "manifest larger than %llu bytes",
                         (unsigned long long)max);
    if (rq->len + len > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 16384;
        while (cap < rq->len + len)
            cap *= 2;
        char *buf = realloc(rq->buf, cap);
        if (!buf)
            return body_fail(rq, 500, "MANIFEST_INVALID", "out of memory");
        rq->buf = buf;
        rq->cap = cap;
    }
    memcpy(rq->buf + rq->len, data, len);
    rq->len += len;
    return 0;
}

static int manifest_put_end(struct request *rq)
{
    const char *name = rq->route.name, *ref = rq->route.ref;
    bool by_digest = strchr(ref, ':') != NULL;
    enum digest_algo algo = DIGEST_SHA256;
    if (by_digest)
        digest_parse(ref, &algo);
    char digest[DIGEST_MAX];
    if (digest_buffer(algo, rq->buf ? rq->buf : "", rq->len, digest) < 0)
        return respond_error(rq, 500, "MANIFEST_INVALID", "cannot hash manifest");
    if (by_digest && strcmp(digest, ref) != 0)
        return respond_error(rq, 400, "DIGEST_INVALID", "manifest digest is %s, not %s",
                             digest, ref);

    struct berr err = {0};
    struct manifest_doc doc;
    if (manifest_parse(req_header(rq, "Content-Type"), rq->buf ? rq->buf : "", rq->len,
                       &doc, &err) < 0) {
        manifest_doc_free(&doc);
        return respond_error(rq, 400, "MANIFEST_INVALID", "%s", err.msg);
    }
    struct manifest_put put = {
        .artifact_type = doc.artifact_type,
        .annotations = doc.annotations,
        .refs = doc.refs,
        .nrefs = doc.nrefs,
        .tag = by_digest ? NULL : ref,
    };
    snprintf(put.info.digest, sizeof put.info.digest, "%s", digest);
    snprintf(put.info.media_type, sizeof put.info.media_type, "%s", doc.media_type);
    snprintf(put.info.subject, sizeof put.info.subject, "%s", doc.subject);
    put.info.size = rq->len;

    char staged[33];
    put.body.bs = rq->srv->blobs;
    put.body.id = staged;
    int rc = blob_stage(rq->srv->blobs, rq->buf ? rq->buf : "", rq->len, staged, &err);
    if (rc == 0) {
        rc = meta_manifest_put(rq->srv->meta, name, &put, &err);
        if (rc < 0)
            upload_remove(rq->srv->blobs, staged);
    }
    manifest_doc_free(&doc);
    if (rc == -BERR_NOTFOUND)
        return respond_error(rq, 400, "MANIFEST_BLOB_UNKNOWN", "%s", err.msg);
    if (rc < 0)
        return respond_error(rq, 500, "MANIFEST_INVALID", "%s", err.msg);

    struct MHD_Response *resp = response_empty();
    header_add(resp, "Location", "/v2/%s/manifests/%s", name, digest);
    header_add(resp, "Docker-Content-Digest", "%s", digest);
    if (put.info.subject[0])
        header_add(resp, "OCI-Subject", "%s", put.info.subject);
    return respond(rq, 201, resp);
}

static enum MHD_Result manifest_put_begin(struct request *rq)
{
    const char *cl = req_header(rq, "Content-Length");
    uint64_t len = cl ? strtoull(cl, NULL, 10) : 0, max = rq->cfg->manifest_max;
    /* too large: answered when the body is in (read and dropped), or at
     * once when even that would be too much to read */
    if (len > max + BODY_DRAIN_MAX)
        return respond_error(rq, 413, "SIZE_INVALID", "manifest larger than %llu bytes",
                             (unsigned long long)max);
    if (len > max)
        body_fail(rq, 413, "SIZE_INVALID", "manifest larger than %llu bytes",
                  (unsigned long long)max);
    rq->on_body = buffer_body;
    rq->on_end = manifest_put_end;
    return MHD_YES;
}

static enum MHD_Result manifest_delete(struct request *rq, bool by_digest)
{
    if (!rq->cfg->delete_enabled)
        return respond_error(rq, 405, "UNSUPPORTED", "deletion is disabled on this registry");
    const char *name = rq->route.name, *ref = rq->route.ref;
    int rc = by_digest ? meta_manifest_delete(rq->srv->meta, name, ref)
                       : meta_tag_delete(rq->srv->meta, name, ref);
    if (rc == -BERR_NOTFOUND)
        return respond_error(rq, 404, "MANIFEST_UNKNOWN", "manifest %s unknown in %s", ref,
                             name);
    if (rc < 0)
        return respond_error(rq, 500, "MANIFEST_INVALID", "metadata write failed");
    return respond(rq, 202, response_empty());
}

enum MHD_Result api_manifest(struct request *rq)
{
    bool by_digest;
    if (!reference_check(rq, &by_digest))
        return MHD_YES;
    if (strcmp(rq->method, "GET") == 0 || is_head(rq))
        return manifest_get(rq);
    if (strcmp(rq->method, "PUT") == 0)
        return manifest_put_begin(rq);
    if (strcmp(rq->method, "DELETE") == 0)
        return manifest_delete(rq, by_digest);
    return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed on manifests",
                         rq->method);
}
