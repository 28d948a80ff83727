/*
 * api_blobs.c - HEAD, GET and DELETE /v2/<name>/blobs/<digest>.
 *
 * Whether a repository may serve a blob is a metadata question (the blob
 * was pushed to or mounted into it); the bytes come from the blob store
 * with sendfile. GET honours a single Range.
 *
 * Bytes that changed on disk are never served as the blob: the first GET
 * of a blob after start hashes the file before answering (for blobs up to
 * VERIFY_MAX; bigger ones are left to `berthd fsck`), and a blob whose
 * length or digest is wrong is moved to the quarantine and answered 404
 * BLOB_UNKNOWN, so clients push it again and the push publishes a good
 * copy. A blob that passed is marked in a set kept for the life of the
 * process, and later GETs of it cost one lookup in that set.
 */
#include "http.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* Hashing at ~1.5 GB/s per core, this keeps the first GET of a blob
 * under about 200 ms longer than the next ones. */
#define VERIFY_MAX ((uint64_t)256 << 20)

/* The digests of the blobs verified since the start, as the keys of a
 * jansson object (its hash table) guarded by a mutex. */
static json_t *verified_set;
static pthread_mutex_t verified_lock = PTHREAD_MUTEX_INITIALIZER;

static bool verified_has(const char *digest)
{
    pthread_mutex_lock(&verified_lock);
    bool found = json_object_get(verified_set, digest) != NULL;
    pthread_mutex_unlock(&verified_lock);
    return found;
}

static void verified_add(const char *digest)
{
    pthread_mutex_lock(&verified_lock);
    if (!verified_set)
        verified_set = json_object();
    json_object_set_new(verified_set, digest, json_true());   /* on failure: verified again */
    pthread_mutex_unlock(&verified_lock);
}

/* 0 when the open blob may be served; otherwise the response was sent
 * and fd closed. */
static int blob_integrity(struct request *rq, const char *digest, int fd, uint64_t size,
                          uint64_t stored, enum MHD_Result *out)
{
    bool known = verified_has(digest);
    int rc = 0;
    if (stored != size)
        rc = -BERR_DIGEST;
    else if (!known && size <= VERIFY_MAX)
        rc = blob_verify_fd(digest, fd, size);
    if (rc == 0) {
        if (!known && size <= VERIFY_MAX)
            verified_add(digest);
        return 0;
    }
    if (rc == -BERR_DIGEST) {
        int q = blob_quarantine(rq->srv->blobs, digest, fd);
        close(fd);
        log_error("blob %s: the stored file (%llu bytes, %llu expected) does not match its "
                  "digest: %s; answering 404 until it is pushed again",
                  digest, (unsigned long long)stored, (unsigned long long)size,
                  q == 0 || q == -BERR_NOTFOUND || q == -BERR_CONFLICT
                      ? "moved to quarantine" : "could not move it to quarantine");
        *out = respond_error(rq, 404, "BLOB_UNKNOWN",
                             "blob %s is corrupt in storage and was quarantined", digest);
    } else {
        close(fd);
        log_error("blob %s: cannot read the stored file to verify it", digest);
        *out = respond_error(rq, 500, "UNKNOWN", "blob %s cannot be read from storage",
                             digest);
    }
    return -1;
}

bool digest_check(struct request *rq, const char *digest)
{
    if (digest_valid(digest))
        return true;
    respond_error(rq, 400, "DIGEST_INVALID", "invalid digest '%s': only sha256 and sha512 are supported",
                  digest);
    return false;
}

static enum MHD_Result from_upstream(struct request *rq, struct proxy *proxy, const char *name,
                                     const char *digest)
{
    struct berr err = {0};
    uint64_t size;
    struct MHD_Response *resp = proxy_blob(rq, proxy, name, digest, &size, &err);
    if (!resp && err.code == BERR_TOOBIG) {
        /* waiting for a slot would hold one of the few request threads */
        json_t *doc = json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "code", "TOOMANYREQUESTS",
                                "message", "too many requests", "detail", err.msg);
        resp = response_json(rq, doc);
        if (!resp)
            return MHD_NO;
        header_add(resp, "Retry-After", "1");
        return respond(rq, 429, resp);
    }
    if (!resp)
        return respond_error(rq, 404, "BLOB_UNKNOWN", "blob %s unknown in %s: %s", digest, name,
                             err.msg);
    header_add(resp, "Docker-Content-Digest", "%s", digest);
    header_add(resp, "Content-Type", "application/octet-stream");
    return respond(rq, 200, resp);
}

static enum MHD_Result blob_get(struct request *rq)
{
    const char *name = rq->route.name, *digest = rq->route.ref;
    uint64_t size;
    struct proxy *proxy = rq->srv->proxy;
    int found = meta_blob_get(rq->srv->meta, name, digest, &size);
    if (found == -BERR_IO)
        return respond_error(rq, 503, "UNAVAILABLE", "the registry's metadata cannot be read");
    if (found < 0) {
        if (!proxy || proxy_local(proxy, name))
            return respond_error(rq, 404, "BLOB_UNKNOWN", "blob %s unknown in %s", digest, name);
        struct berr err = {0};
        int rc = proxy_blob_link(rq->srv, proxy, name, digest, &size, &err);
        if (rc == 1)
            return from_upstream(rq, proxy, name, digest);
        if (rc < 0)
            return respond_error(rq, 404, "BLOB_UNKNOWN", "blob %s unknown in %s: %s", digest,
                                 name, err.msg);
    }

    uint64_t first = 0, last = size ? size - 1 : 0;
    bool partial = false;
    const char *range = req_header(rq, "Range");
    if (range) {
        int rc = range_parse(range, size, &first, &last);
        if (rc == -BERR_TOOBIG) {
            struct MHD_Response *resp = response_empty();
            header_add(resp, "Content-Range", "bytes */%llu", (unsigned long long)size);
            return respond(rq, 416, resp);
        }
        partial = rc == 0;
    }
    int fd = -1;
    uint64_t stored;
    if (is_head(rq) ? !blob_exists(rq->srv->blobs, digest)
                    : blob_open(rq->srv->blobs, digest, &fd, &stored) < 0)
        return respond_error(rq, 404, "BLOB_UNKNOWN", "blob %s is missing from storage",
                             digest);
    enum MHD_Result sent;
    if (fd >= 0 && blob_integrity(rq, digest, fd, size, stored, &sent) < 0)
        return sent;
    uint64_t len = partial ? last - first + 1 : size;
    struct MHD_Response *resp = response_fd(rq, fd, partial ? first : 0, len);
    if (!resp) {
        if (fd >= 0)
            close(fd);
        return MHD_NO;
    }
    header_add(resp, "Docker-Content-Digest", "%s", digest);
    header_add(resp, "Content-Type", "application/octet-stream");
    header_add(resp, "Accept-Ranges", "bytes");
    header_add(resp, "ETag", "\"%s\"", digest);
    header_add(resp, "Cache-Control", "max-age=31536000");
    if (partial)
        header_add(resp, "Content-Range", "bytes %llu-%llu/%llu",
                   (unsigned long long)first, (unsigned long long)last,
                   (unsigned long long)size);
    return respond(rq, partial ? 206 : 200, resp);
}

static enum MHD_Result blob_delete(struct request *rq)
{
    if (!rq->cfg->delete_enabled)
        return respond_error(rq, 405, "UNSUPPORTED", "deletion is disabled on this registry");
    if (meta_blob_unlink(rq->srv->meta, rq->route.name, rq->route.ref) < 0)
        return respond_error(rq, 404, "BLOB_UNKNOWN", "blob %s unknown in %s",
                             rq->route.ref, rq->route.name);
    struct MHD_Response *resp = response_empty();
    header_add(resp, "Docker-Content-Digest", "%s", rq->route.ref);
    return respond(rq, 202, resp);
}

enum MHD_Result api_blob(struct request *rq)
{
    if (!digest_check(rq, rq->route.ref))
        return MHD_YES;
    if (strcmp(rq->method, "GET") == 0 || is_head(rq))
        return blob_get(rq);
    if (strcmp(rq->method, "DELETE") == 0)
        return blob_delete(rq);
    return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed on blobs", rq->method);
}
