/*
 * registry.c - the distribution API as a client uses it: manifests by tag
 * or digest, blobs checked with HEAD, downloaded into the store with their
 * digest verified, uploaded monolithically or in chunks, or mounted from
 * another repository; and the tag and catalog listings, page by page.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { CHUNK = 32 << 20 };   /* blobs larger than this go up in chunks */

static void repo_url(struct berth_client *c, const struct berth_ref *ref, const char *tail,
                     char *out, size_t len)
{
    char base[600];
    registry_base(c, ref->registry, base, sizeof base);
    snprintf(out, len, "%s/v2/%s/%s", base, ref->repository, tail);
}

static void scope_of(const struct berth_ref *ref, const char *actions, char *out, size_t len)
{
    snprintf(out, len, "repository:%s:%s", ref->repository, actions);
}

int berth_manifest_fetch(struct berth_client *c, const struct berth_ref *ref,
                     const char *reference, struct berth_manifest *out, struct berr *err)
{
    memset(out, 0, sizeof *out);
    struct http_req r;
    http_req_init(&r, "GET");
    r.sink = SINK_MEMORY;
    r.max = 4 << 20;
    r.accept = MANIFEST_ACCEPT;
    char tail[300], scope[400], name[600];
    snprintf(tail, sizeof tail, "manifests/%s", reference);
    repo_url(c, ref, tail, r.url, sizeof r.url);
    scope_of(ref, "pull", scope, sizeof scope);
    berth_ref_familiar(ref, name, sizeof name);
    int rc = http_do(c, ref->registry, scope, &r, err);
    if (rc == 0 && r.status == 404)
        rc = berr_set(err, BERR_NOTFOUND, "manifest for %s:%s not found: manifest unknown",
                      name, reference);
    else if (rc == 0 && r.status != 200)
        rc = http_error(&r, name, err);
    enum digest_algo algo = DIGEST_SHA256;
    if (rc == 0 && digest_valid(reference))
        digest_parse(reference, &algo);
    if (rc == 0 && digest_buffer(algo, r.buf ? r.buf : "", r.len, out->digest) < 0)
        rc = berr_set(err, BERR_IO, "cannot hash the manifest");
    if (rc == 0 && digest_valid(reference) && strcmp(out->digest, reference) != 0)
        rc = berr_set(err, BERR_DIGEST, "%s: manifest digest mismatch: got %s", name,
                      out->digest);
    if (rc == 0) {
        json_t *doc = json_loadb(r.buf, r.len, 0, NULL);
        const char *mt = json_string_value(json_object_get(doc, "mediaType"));
        snprintf(out->media_type, sizeof out->media_type, "%s", mt ? mt : r.resp_type);
        out->media_type[strcspn(out->media_type, ";")] = '\0';
        json_decref(doc);
        out->body = r.buf;
        out->len = r.len;
        r.buf = NULL;
    }
    http_req_clear(&r);
    return rc;
}

int berth_manifest_head(struct berth_client *c, const struct berth_ref *ref,
                        const char *reference, char digest[DIGEST_MAX], struct berr *err)
{
    struct http_req r;
    http_req_init(&r, "HEAD");
    r.accept = MANIFEST_ACCEPT;
    char tail[300], scope[400], name[600];
    snprintf(tail, sizeof tail, "manifests/%s", reference);
    repo_url(c, ref, tail, r.url, sizeof r.url);
    scope_of(ref, "pull", scope, sizeof scope);
    berth_ref_familiar(ref, name, sizeof name);
    int rc = http_do(c, ref->registry, scope, &r, err);
    if (rc == 0 && r.status == 404)
        rc = berr_set(err, BERR_NOTFOUND, "manifest for %s:%s not found", name, reference);
    else if (rc == 0 && r.status != 200)
        rc = http_error(&r, name, err);
    else if (rc == 0 && !digest_valid(r.digest))
        rc = berr_set(err, BERR_INVALID, "%s: the registry gave no Docker-Content-Digest", name);
    if (rc == 0)
        snprintf(digest, DIGEST_MAX, "%s", r.digest);
    http_req_clear(&r);
    return rc;
}

int berth_blob_fetch(struct berth_client *c, const struct berth_ref *ref, const char *digest,
                     berth_size_fn size, berth_data_fn each, void *arg, struct berr *err)
{
    enum digest_algo algo;
    if (digest_parse(digest, &algo) < 0)
        return berr_set(err, BERR_UNSUPPORTED, "unsupported digest %s", digest);
    struct http_req r;
    http_req_init(&r, "GET");
    r.sink = SINK_CALLBACK;
    r.each = each;
    r.on_size = size;
    r.each_arg = arg;
    r.hash = hasher_new(algo);
    char tail[300], scope[400];
    snprintf(tail, sizeof tail, "blobs/%s", digest);
    repo_url(c, ref, tail, r.url, sizeof r.url);
    scope_of(ref, "pull", scope, sizeof scope);
    int rc = http_do(c, ref->registry, scope, &r, err);
    if (rc == 0 && r.status != 200 && r.status != 206)
        rc = http_error(&r, digest, err);
    char got[DIGEST_MAX];
    if (rc == 0 && (hasher_final(r.hash, got) < 0 || strcmp(got, digest) != 0))
        rc = berr_set(err, BERR_DIGEST, "%s: digest mismatch: the registry sent %s", digest, got);
    hasher_free(r.hash);
    http_req_clear(&r);
    return rc;
}

int berth_blob_head(struct berth_client *c, const struct berth_ref *ref, const char *digest,
                    uint64_t *size, struct berr *err)
{
    struct http_req r;
    http_req_init(&r, "HEAD");
    char tail[300], scope[400];
    snprintf(tail, sizeof tail, "blobs/%s", digest);
    repo_url(c, ref, tail, r.url, sizeof r.url);
    scope_of(ref, "pull", scope, sizeof scope);
    int rc = http_do(c, ref->registry, scope, &r, err);
    if (rc == 0 && r.status == 404)
        rc = berr_set(err, BERR_NOTFOUND, "%s: not found", digest);
    else if (rc == 0 && r.status != 200)
        rc = http_error(&r, digest, err);
    if (rc == 0)
        *size = r.content_length;
    http_req_clear(&r);
    return rc;
}

int reg_manifest_put(struct berth_client *c, const struct berth_ref *ref, const char *body,
                     size_t len, const char *media_type, char digest[DIGEST_MAX],
                     struct berr *err)
{
    struct http_req r;
    http_req_init(&r, "PUT");
    r.sink = SINK_MEMORY;
    r.body = body;
    r.body_len = len;
    r.content_type = media_type;
    char tail[300], scope[400];
    snprintf(tail, sizeof tail, "manifests/%s", ref->tag[0] ? ref->tag : ref->digest);
    repo_url(c, ref, tail, r.url, sizeof r.url);
    scope_of(ref, "pull,push", scope, sizeof scope);
    int rc = http_do(c, ref->registry, scope, &r, err);
    if (rc == 0 && r.status != 201 && r.status != 200)
        rc = http_error(&r, "manifest push", err);
    if (rc == 0)
        digest_buffer(DIGEST_SHA256, body, len, digest);
    http_req_clear(&r);
    return rc;
}

int reg_blob_exists(struct berth_client *c, const struct berth_ref *ref, const char *digest,
                    const char *scope_actions, struct berr *err)
{
    struct http_req r;
    http_req_init(&r, "HEAD");
    char tail[300], scope[400];
    snprintf(tail, sizeof tail, "blobs/%s", digest);
    repo_url(c, ref, tail, r.url, sizeof r.url);
    scope_of(ref, scope_actions, scope, sizeof scope);
    int rc = http_do(c, ref->registry, scope, &r, err);
    if (rc < 0)
        return rc;
    if (r.status == 200)
        return 1;
    if (r.status == 404)
        return 0;
    return http_error(&r, "blob check", err);
}

int reg_blob_fetch(struct berth_client *c, struct berth_store *s, const struct berth_ref *ref,
                   const char *digest, uint64_t size, void (*on_bytes)(void *, uint64_t),
                   void *arg, struct berr *err)
{
    enum digest_algo algo;
    if (digest_parse(digest, &algo) < 0 || algo != DIGEST_SHA256)
        return berr_set(err, BERR_UNSUPPORTED, "unsupported digest %s", digest);
    char tmp[2400];
    int fd = store_temp(s, tmp, sizeof tmp);
    if (fd < 0)
        return berr_set(err, BERR_IO, "cannot write to the image store: %s", strerror(errno));
    struct http_req r;
    http_req_init(&r, "GET");
    r.sink = SINK_FILE;
    r.fd = fd;
    /* a blob is what its descriptor says: a byte more is not it, and an
     * endless body must not fill the disk */
    r.limit = size;
    r.has_limit = true;
    r.hash = hasher_new(algo);
    r.on_bytes = on_bytes;
    r.on_bytes_arg = arg;
    char tail[300], scope[400];
    snprintf(tail, sizeof tail, "blobs/%s", digest);
    repo_url(c, ref, tail, r.url, sizeof r.url);
    scope_of(ref, "pull", scope, sizeof scope);
    int rc = http_do(c, ref->registry, scope, &r, err);
    if (rc == 0 && r.status != 200 && r.status != 206)
        rc = http_error(&r, digest, err);
    char got[DIGEST_MAX];
    if (rc == 0 && (hasher_final(r.hash, got) < 0 || strcmp(got, digest) != 0))
        rc = berr_set(err, BERR_DIGEST, "%s: digest mismatch: the registry sent %s", digest,
                      got);
    close(fd);
    hasher_free(r.hash);
    http_req_clear(&r);
    if (rc == 0)
        return store_commit_blob(s, tmp, digest, err);
    unlink(tmp);   /* a partial or wrong blob never stays */
    return rc;
}

/* Resolve a Location against the registry base. */
static void absolute(struct berth_client *c, const struct berth_ref *ref, const char *loc,
                     char *out, size_t len)
{
    if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0) {
        snprintf(out, len, "%s", loc);
        return;
    }
    char base[600];
    registry_base(c, ref->registry, base, sizeof base);
    snprintf(out, len, "%s%s", base, loc);
}

static void with_digest(const char *location, const char *digest, char *out, size_t len)
{
    snprintf(out, len, "%.1800s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', digest);
}

int reg_blob_push(struct berth_client *c, struct berth_store *s, const struct berth_ref *ref,
                  const char *digest, uint64_t size, const char *from,
                  void (*on_bytes)(void *, uint64_t), void *arg, struct berr *err)
{
    char scope[600], tail[800];
    if (from)
        snprintf(scope, sizeof scope, "repository:%s:pull,push repository:%s:pull",
                 ref->repository, from);
    else
        scope_of(ref, "pull,push", scope, sizeof scope);
    struct http_req r;
    http_req_init(&r, "POST");
    r.sink = SINK_MEMORY;
    if (from)
        snprintf(tail, sizeof tail, "blobs/uploads/?mount=%s&from=%s", digest, from);
    else
        snprintf(tail, sizeof tail, "blobs/uploads/");
    repo_url(c, ref, tail, r.url, sizeof r.url);
    int rc = http_do(c, ref->registry, scope, &r, err);
    if (rc == 0 && r.status == 201) {        /* mounted */
        if (on_bytes)
            on_bytes(arg, size);
        http_req_clear(&r);
        return 0;
    }
    if (rc == 0 && r.status != 202)
        rc = http_error(&r, "blob upload", err);
    if (rc == 0 && !r.location[0])
        rc = berr_set(err, BERR_INVALID, "blob upload: the registry gave no Location");
    char location[2048];
    if (rc == 0)
        absolute(c, ref, r.location, location, sizeof location);
    http_req_clear(&r);
    if (rc < 0)
        return rc;

    char path[2400];
    store_blob_path(s, digest, path, sizeof path);
    auto_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, BERR_NOTFOUND, "blob %s is missing from the image store", digest);
    uint64_t off = 0;
    /* Large blobs go up in chunks, each retryable on its own. */
    while (size > CHUNK && off < size) {
        uint64_t n = size - off < CHUNK ? size - off : CHUNK;
        http_req_init(&r, "PATCH");
        r.sink = SINK_MEMORY;
        r.body_fd = fd;
        r.body_off = off;
        r.body_len = n;
        r.content_type = "application/octet-stream";
        r.on_bytes = on_bytes;
        r.on_bytes_arg = arg;
        snprintf(r.url, sizeof r.url, "%s", location);
        /* Content-Range keeps a retried chunk from landing twice */
        snprintf(r.extra, sizeof r.extra, "Content-Range: %llu-%llu", (unsigned long long)off,
                 (unsigned long long)(off + n - 1));
        rc = http_do(c, ref->registry, scope, &r, err);
        if (rc == 0 && r.status != 202)
            rc = http_error(&r, "blob upload", err);
        if (rc == 0 && r.location[0])
            absolute(c, ref, r.location, location, sizeof location);
        http_req_clear(&r);
        if (rc < 0)
            return rc;
        off += n;
    }
    http_req_init(&r, "PUT");
    r.sink = SINK_MEMORY;
    r.body_fd = fd;
    r.body_off = off;
    r.body_len = size - off;
    r.content_type = "application/octet-stream";
    r.on_bytes = on_bytes;
    r.on_bytes_arg = arg;
    with_digest(location, digest, r.url, sizeof r.url);
    rc = http_do(c, ref->registry, scope, &r, err);
    if (rc == 0 && r.status != 201)
        rc = http_error(&r, "blob upload", err);
    http_req_clear(&r);
    return rc;
}

/* ---- listings --------------------------------------------------------------------- */

static int list_pages(struct berth_client *c, const char *registry, const char *scope,
                      const char *first_url, const char *key, berth_name_fn each, void *arg,
                      struct berr *err)
{
    char url[2048], base[600];
    registry_base(c, registry, base, sizeof base);
    snprintf(url, sizeof url, "%s", first_url);
    for (int page = 0; page < 100000; page++) {
        struct http_req r;
        http_req_init(&r, "GET");
        r.sink = SINK_MEMORY;
        snprintf(r.url, sizeof r.url, "%s", url);
        int rc = http_do(c, registry, scope, &r, err);
        if (rc == 0 && r.status != 200)
            rc = http_error(&r, registry, err);
        json_t *doc = rc == 0 ? json_loadb(r.buf, r.len, 0, NULL) : NULL;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(doc, key), i, v) {
            if (rc == 0 && json_is_string(v))
                rc = each(arg, json_string_value(v));
        }
        json_decref(doc);
        bool more = rc == 0 && r.link[0];
        if (more) {
            if (r.link[0] == '/')
                snprintf(url, sizeof url, "%s%s", base, r.link);
            else
                snprintf(url, sizeof url, "%s", r.link);
        }
        http_req_clear(&r);
        if (!more)
            return rc;
    }
    return 0;
}

int berth_catalog(struct berth_client *c, const char *registry, berth_name_fn each,
                  void *arg, struct berr *err)
{
    char base[600], url[700];
    registry_base(c, registry, base, sizeof base);
    snprintf(url, sizeof url, "%s/v2/_catalog", base);
    return list_pages(c, registry, "registry:catalog:*", url, "repositories", each, arg, err);
}

int berth_tags(struct berth_client *c, const struct berth_ref *ref, berth_name_fn each,
               void *arg, struct berr *err)
{
    char url[1024], scope[400];
    repo_url(c, ref, "tags/list", url, sizeof url);
    scope_of(ref, "pull", scope, sizeof scope);
    return list_pages(c, ref->registry, scope, url, "tags", each, arg, err);
}

int berth_login(struct berth_client *c, const char *registry, const char *user,
                const char *password, struct berr *err)
{
    creds_set_memory(c, registry, user, password);
    struct http_req r;
    http_req_init(&r, "GET");
    r.sink = SINK_MEMORY;
    char base[600];
    registry_base(c, registry, base, sizeof base);
    snprintf(r.url, sizeof r.url, "%s/v2/", base);
    int rc = http_do(c, registry, NULL, &r, err);
    if (rc == 0 && (r.status == 401 || r.status == 403))
        rc = berr_set(err, BERR_CONFLICT, "login to %s failed: incorrect username or password",
                      registry);
    else if (rc == 0 && r.status != 200)
        rc = http_error(&r, registry, err);
    http_req_clear(&r);
    if (rc == 0)
        rc = creds_save(registry, user, password, err);
    return rc;
}

int berth_logout(const char *registry, struct berr *err)
{
    return creds_remove(registry, err);
}
