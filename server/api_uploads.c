/*
 * api_uploads.c - blob uploads: /v2/<name>/blobs/uploads/[<id>].
 *
 * POST starts a session (or, with ?digest=, takes the whole blob at once,
 * or, with ?mount=&from=, links a blob another repository already has);
 * PATCH appends a chunk; PUT ?digest= appends an optional last chunk and
 * finishes; GET reports progress; DELETE cancels. Sessions are rows in the
 * metadata plus a partial file, so they outlive a restart. Bodies are
 * written to disk piece by piece as they arrive, never held whole.
 */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void add_upload_headers(struct request *rq, struct MHD_Response *resp,
                               uint64_t offset)
{
    header_add(resp, "Location", "/v2/%s/blobs/uploads/%s", rq->route.name,
               rq->upload_id);
    header_add(resp, "Docker-Upload-UUID", "%s", rq->upload_id);
    header_add(resp, "Range", "0-%llu",
               (unsigned long long)(offset ? offset - 1 : 0));
}

static enum MHD_Result respond_upload(struct request *rq, unsigned status,
                                      uint64_t offset)
{
    struct MHD_Response *resp = response_empty();
    add_upload_headers(rq, resp, offset);
    return respond(rq, status, resp);
}

static enum MHD_Result respond_blob_created(struct request *rq, const char *digest)
{
    struct MHD_Response *resp = response_empty();
    header_add(resp, "Location", "/v2/%s/blobs/%s", rq->route.name, digest);
    header_add(resp, "Docker-Content-Digest", "%s", digest);
    return respond(rq, 201, resp);
}

/* A write failed (a full disk, most often): the upload goes at once, its
 * partial file and its session, so the space it held is free for the next
 * push now and not after the purge; a client starts such a push over. */
static void drop_upload(struct request *rq)
{
    upload_release(rq->upload);
    rq->upload = NULL;
    upload_remove(rq->srv->blobs, rq->upload_id);
    if (rq->upload_is_session)
        meta_upload_remove(rq->srv->meta, rq->upload_id);
}

static int write_body(struct request *rq, const char *data, size_t len)
{
    struct berr err = {0};
    if (upload_write(rq->upload, data, len, &err) < 0) {
        bool full = errno == ENOSPC || errno == EDQUOT;
        drop_upload(rq);
        return body_fail(rq, full ? 507 : 500, "BLOB_UPLOAD_INVALID", "%s", err.msg);
    }
    return 0;
}

/* Did the body deliver what Content-Range promised? Undo it if not. */
static bool chunk_complete(struct request *rq)
{
    uint64_t got = upload_offset(rq->upload) - rq->chunk_start;
    if (!rq->chunk_expect || got == rq->chunk_expect)
        return true;
    upload_rewind(rq->upload, rq->chunk_start);
    upload_release(rq->upload);
    rq->upload = NULL;
    respond_error(rq, 400, "SIZE_INVALID", "Content-Range promised %llu bytes, got %llu",
                  (unsigned long long)rq->chunk_expect, (unsigned long long)got);
    return false;
}

/* Finish the upload as `digest` and link the blob into the repository. */
static enum MHD_Result finish(struct request *rq, const char *digest)
{
    struct berr err = {0};
    uint64_t size;
    struct upload *up = rq->upload;
    rq->upload = NULL;
    int rc = upload_finish(up, digest, &size, &err);
    if (rc == 0) {
        struct staged file = {rq->srv->blobs, rq->upload_id};
        rc = meta_blob_link(rq->srv->meta, rq->route.name, digest, size, &file, &err);
    }
    if (rq->upload_is_session && rc != -BERR_IO) {
        /* a published blob or a refused one: either way the session is over */
        upload_remove(rq->srv->blobs, rq->upload_id);
        meta_upload_remove(rq->srv->meta, rq->upload_id);
    }
    if (rc == -BERR_DIGEST)
        return respond_error(rq, 400, "DIGEST_INVALID", "%s", err.msg);
    if (rc < 0)
        return respond_error(rq, 500, "BLOB_UPLOAD_INVALID", "%s", err.msg);
    return respond_blob_created(rq, digest);
}

static int monolithic_end(struct request *rq)
{
    return finish(rq, req_query(rq, "digest"));
}

static int patch_end(struct request *rq)
{
    if (!chunk_complete(rq))
        return 0;
    /* Let go of the upload before answering: the client's next request
     * for it may arrive before this one's completion is processed. */
    uint64_t offset = upload_offset(rq->upload);
    upload_release(rq->upload);
    rq->upload = NULL;
    return respond_upload(rq, 202, offset);
}

static int put_end(struct request *rq)
{
    if (!chunk_complete(rq))
        return 0;
    return finish(rq, req_query(rq, "digest"));
}

/* Take the upload for this request, checking a Content-Range if sent. */
static bool take_upload(struct request *rq)
{
    struct berr err = {0};
    int rc = upload_take(rq->srv->blobs, rq->upload_id, &rq->upload, &err);
    if (rc == -BERR_CONFLICT) {
        respond_error(rq, 416, "BLOB_UPLOAD_INVALID", "%s", err.msg);
        return false;
    }
    if (rc < 0) {
        respond_error(rq, 404, "BLOB_UPLOAD_UNKNOWN", "upload %s unknown", rq->upload_id);
        return false;
    }
    rq->chunk_start = upload_offset(rq->upload);
    const char *range = req_header(rq, "Content-Range");
    if (range) {
        uint64_t first, last;
        if (content_range_parse(range, &first, &last) < 0 || first != rq->chunk_start) {
            struct MHD_Response *resp = response_empty();
            add_upload_headers(rq, resp, rq->chunk_start);
            respond(rq, 416, resp);
            return false;
        }
        rq->chunk_expect = last - first + 1;
    }
    rq->on_body = write_body;
    rq->upload_counted = true;
    metrics_upload_active(1);
    return true;
}

static enum MHD_Result start_session(struct request *rq, bool session)
{
    struct berr err = {0};
    upload_id_new(rq->upload_id);
    rq->upload_is_session = session;
    if (upload_create(rq->srv->blobs, rq->upload_id, &err) < 0)
        return respond_error(rq, 500, "BLOB_UPLOAD_INVALID", "%s", err.msg);
    if (session && meta_upload_add(rq->srv->meta, rq->upload_id, rq->route.name) < 0) {
        upload_remove(rq->srv->blobs, rq->upload_id);
        return respond_error(rq, 500, "BLOB_UPLOAD_INVALID", "cannot record upload");
    }
    return MHD_YES;
}

static enum MHD_Result upload_post(struct request *rq)
{
    const char *mount = req_query(rq, "mount");
    const char *from = req_query(rq, "from");
    const char *digest = req_query(rq, "digest");
    if (mount) {
        if (!digest_check(rq, mount))
            return MHD_YES;
        if (from && repo_name_valid(from) &&
            auth_may(rq->auth, &rq->who, from, ACT_PULL) &&
            meta_blob_mount(rq->srv->meta, from, rq->route.name, mount) == 0)
            return respond_blob_created(rq, mount);
        /* not visible in `from`: an ordinary upload instead */
    } else if (digest) {
        if (!digest_check(rq, digest))
            return MHD_YES;
        if (start_session(rq, false) == MHD_YES && !rq->answered && take_upload(rq))
            rq->on_end = monolithic_end;
        return MHD_YES;
    }
    if (start_session(rq, true) == MHD_YES && !rq->answered)
        return respond_upload(rq, 202, 0);
    return MHD_YES;
}

enum MHD_Result api_upload(struct request *rq)
{
    if (rq->route.kind == ROUTE_UPLOAD_START) {
        if (strcmp(rq->method, "POST") != 0)
            return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
        return upload_post(rq);
    }

    const char *id = rq->route.ref;
    char repo[NAME_MAX_LEN + 1];
    if (!upload_id_valid(id) || meta_upload_repo(rq->srv->meta, id, repo) < 0 ||
        strcmp(repo, rq->route.name) != 0)
        return respond_error(rq, 404, "BLOB_UPLOAD_UNKNOWN", "upload unknown");
    memcpy(rq->upload_id, id, sizeof rq->upload_id);   /* validated: 32 hex + NUL */
    rq->upload_is_session = true;

    if (strcmp(rq->method, "GET") == 0 || is_head(rq)) {
        uint64_t size;
        if (upload_size(rq->srv->blobs, id, &size) < 0)
            return respond_error(rq, 404, "BLOB_UPLOAD_UNKNOWN", "upload unknown");
        return respond_upload(rq, 204, size);
    }
    if (strcmp(rq->method, "DELETE") == 0) {
        upload_remove(rq->srv->blobs, id);
        meta_upload_remove(rq->srv->meta, id);
        return respond(rq, 204, response_empty());
    }
    if (strcmp(rq->method, "PATCH") == 0) {
        if (take_upload(rq))
            rq->on_end = patch_end;
        return MHD_YES;
    }
    if (strcmp(rq->method, "PUT") == 0) {
        if (!digest_check(rq, req_query(rq, "digest") ? req_query(rq, "digest") : ""))
            return MHD_YES;
        if (take_upload(rq))
            rq->on_end = put_end;
        return MHD_YES;
    }
    return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
}
