/*
 * meta.c - metadata front end: dispatch to the configured driver. A call
 * that fails because the driver's connection went bad (the database file
 * was unwritable for a while) is tried once more on a fresh one.
 */
#include "driver.h"

struct meta {
    const struct meta_driver *drv;
    void *s;
};

#define CALL(m, expr)                                                          \
    ({                                                                         \
        int rc_ = (expr);                                                      \
        if (rc_ == -BERR_IO && (m)->drv->retry((m)->s))                        \
            rc_ = (expr);                                                      \
        rc_;                                                                   \
    })

int meta_open(const char *path, struct meta **out, struct berr *err)
{
    struct meta *m = calloc(1, sizeof *m);
    if (!m)
        return berr_set(err, BERR_IO, "out of memory");
    m->drv = &meta_driver_sqlite;
    int rc = m->drv->open(path, &m->s, err);
    if (rc < 0) {
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void meta_close(struct meta *m)
{
    if (!m)
        return;
    m->drv->close(m->s);
    free(m);
}

int meta_blob_link(struct meta *m, const char *repo, const char *digest, uint64_t size,
                   const struct staged *file, struct berr *err)
{
    return CALL(m, m->drv->blob_link(m->s, repo, digest, size, file, err));
}

int meta_blob_mount(struct meta *m, const char *from, const char *repo, const char *digest)
{
    return CALL(m, m->drv->blob_mount(m->s, from, repo, digest));
}

int meta_blob_get(struct meta *m, const char *repo, const char *digest, uint64_t *size)
{
    return CALL(m, m->drv->blob_get(m->s, repo, digest, size));
}

int meta_blob_unlink(struct meta *m, const char *repo, const char *digest)
{
    return CALL(m, m->drv->blob_unlink(m->s, repo, digest));
}

int meta_upload_add(struct meta *m, const char *id, const char *repo)
{
    return CALL(m, m->drv->upload_add(m->s, id, repo));
}

int meta_upload_repo(struct meta *m, const char *id, char repo[NAME_MAX_LEN + 1])
{
    return CALL(m, m->drv->upload_repo(m->s, id, repo));
}

int meta_upload_remove(struct meta *m, const char *id)
{
    return CALL(m, m->drv->upload_remove(m->s, id));
}

int meta_manifest_put(struct meta *m, const char *repo,
                      const struct manifest_put *put, struct berr *err)
{
    return CALL(m, m->drv->manifest_put(m->s, repo, put, err));
}

int meta_manifest_get(struct meta *m, const char *repo, const char *reference,
                      struct manifest_info *out)
{
    return CALL(m, m->drv->manifest_get(m->s, repo, reference, out));
}

int meta_manifest_delete(struct meta *m, const char *repo, const char *digest)
{
    return CALL(m, m->drv->manifest_delete(m->s, repo, digest));
}

int meta_tag_delete(struct meta *m, const char *repo, const char *tag)
{
    return CALL(m, m->drv->tag_delete(m->s, repo, tag));
}

int meta_tag_set(struct meta *m, const char *repo, const char *tag, const char *digest)
{
    return CALL(m, m->drv->tag_set(m->s, repo, tag, digest));
}

int meta_repo_exists(struct meta *m, const char *repo)
{
    return CALL(m, m->drv->repo_exists(m->s, repo));
}

int meta_tags_list(struct meta *m, const char *repo, const char *last, int n,
                   meta_row_fn each, void *arg, bool *more)
{
    return m->drv->tags_list(m->s, repo, last, n, each, arg, more);
}

int meta_catalog(struct meta *m, const char *last, int n, meta_row_fn each,
                 void *arg, bool *more)
{
    return m->drv->catalog(m->s, last, n, each, arg, more);
}

int meta_referrers(struct meta *m, const char *repo, const char *digest,
                   const char *artifact_type, meta_referrer_fn each, void *arg)
{
    return m->drv->referrers(m->s, repo, digest, artifact_type, each, arg);
}

int meta_tags_detail(struct meta *m, const char *repo, meta_tag_fn each, void *arg)
{
    return m->drv->tags_detail(m->s, repo, each, arg);
}

int meta_gc_manifests(struct meta *m, int64_t cutoff, bool untagged,
                      meta_manifest_fn each, void *arg)
{
    return m->drv->gc_manifests(m->s, cutoff, untagged, each, arg);
}

int meta_gc_manifest_delete(struct meta *m, const char *repo, const char *digest,
                            int64_t cutoff, bool untagged)
{
    return m->drv->gc_manifest_delete(m->s, repo, digest, cutoff, untagged);
}

int meta_gc_unlink_unused(struct meta *m, int64_t cutoff)
{
    return m->drv->gc_unlink_unused(m->s, cutoff);
}

int meta_gc_blobs(struct meta *m, int64_t cutoff, meta_blob_fn each, void *arg)
{
    return m->drv->gc_blobs(m->s, cutoff, each, arg);
}

int meta_gc_blob_delete(struct meta *m, const char *digest, int64_t cutoff,
                        struct blob_store *bs)
{
    return m->drv->gc_blob_delete(m->s, digest, cutoff, bs);
}

bool meta_blob_known(struct meta *m, const char *digest)
{
    return m->drv->blob_known(m->s, digest);
}

int meta_snapshot(struct meta *m, const char *path)
{
    return m->drv->snapshot(m->s, path);
}

int meta_gc_uploads(struct meta *m, int64_t cutoff, meta_row_fn each, void *arg)
{
    return m->drv->gc_uploads(m->s, cutoff, each, arg);
}

int meta_gc_repositories(struct meta *m, meta_row_fn each, void *arg)
{
    return m->drv->gc_repositories(m->s, each, arg);
}

int meta_totals(struct meta *m, uint64_t *blobs, uint64_t *bytes)
{
    return CALL(m, m->drv->totals(m->s, blobs, bytes));
}

int meta_manifest_touch(struct meta *m, const char *repo, const char *digest)
{
    return m->drv->manifest_touch(m->s, repo, digest);
}

int meta_gc_evictable(struct meta *m, meta_evict_fn each, void *arg)
{
    return m->drv->gc_evictable(m->s, each, arg);
}

int meta_usage(struct meta *m, meta_usage_fn each, void *arg, uint64_t *total)
{
    return m->drv->usage(m->s, each, arg, total);
}
