/*
 * driver.h - the tables a storage backend fills in (private to storage/).
 *
 * The filesystem blob driver and the sqlite metadata driver are the only
 * ones today; an object-store blob driver or a PostgreSQL metadata driver
 * slots in beside them without touching callers, which only ever see the
 * functions in storage.h.
 */
#ifndef BERTH_STORAGE_DRIVER_H
#define BERTH_STORAGE_DRIVER_H

#include "storage.h"

struct blob_driver {
    const char *name;
    int (*open)(const char *root, void **state, struct berr *err);
    void (*close)(void *state);
    int (*blob_open)(void *state, const char *digest, int *fd, uint64_t *size);
    bool (*blob_exists)(void *state, const char *digest);
    int (*upload_create)(void *state, const char *id, struct berr *err);
    /* Open an upload's partial data for appending; *size is its length. */
    int (*upload_open)(void *state, const char *id, int *fd, uint64_t *size);
    /* Make an upload's data durable. */
    int (*upload_sync)(void *state, int fd, struct berr *err);
    /* Publish a durable upload as `digest` and remove the upload. Never
     * replaces an existing blob. */
    int (*upload_publish)(void *state, const char *id, const char *digest,
                          struct berr *err);
    int (*upload_remove)(void *state, const char *id);
    /* Remove a blob just published by a transaction that did not commit. */
    int (*blob_remove)(void *state, const char *digest);
    int (*upload_size)(void *state, const char *id, uint64_t *size);
    int (*upload_list)(void *state, upload_fn each, void *arg);
    int (*blob_trash)(void *state, const char *digest);
    int (*trash_settle)(void *state, blob_keep_fn keep, void *arg);
    int (*blob_list)(void *state, blob_fn each, void *arg);
    /* Move a blob whose bytes do not match its digest out of the store,
     * unless the file there is no longer the one open as fd (>= 0). */
    int (*blob_quarantine)(void *state, const char *digest, int fd);
};

extern const struct blob_driver blob_driver_fs;

struct meta_driver {
    const char *name;
    int (*open)(const char *path, void **state, struct berr *err);
    void (*close)(void *state);
    /* After a failure: true when this thread's connection was given up
     * and the call is worth trying once more on a new one. */
    bool (*retry)(void *state);
    int (*blob_link)(void *s, const char *repo, const char *digest, uint64_t size,
                     const struct staged *file, struct berr *err);
    int (*blob_mount)(void *s, const char *from, const char *repo, const char *digest);
    int (*blob_get)(void *s, const char *repo, const char *digest, uint64_t *size);
    int (*blob_unlink)(void *s, const char *repo, const char *digest);
    int (*upload_add)(void *s, const char *id, const char *repo);
    int (*upload_repo)(void *s, const char *id, char repo[NAME_MAX_LEN + 1]);
    int (*upload_remove)(void *s, const char *id);
    int (*manifest_put)(void *s, const char *repo, const struct manifest_put *put,
                        struct berr *err);
    int (*manifest_get)(void *s, const char *repo, const char *reference,
                        struct manifest_info *out);
    int (*manifest_delete)(void *s, const char *repo, const char *digest);
    int (*tag_delete)(void *s, const char *repo, const char *tag);
    int (*tag_set)(void *s, const char *repo, const char *tag, const char *digest);
    int (*repo_exists)(void *s, const char *repo);
    int (*tags_list)(void *s, const char *repo, const char *last, int n,
                     meta_row_fn each, void *arg, bool *more);
    int (*catalog)(void *s, const char *last, int n, meta_row_fn each,
                   void *arg, bool *more);
    int (*referrers)(void *s, const char *repo, const char *digest,
                     const char *artifact_type, meta_referrer_fn each, void *arg);
    int (*tags_detail)(void *s, const char *repo, meta_tag_fn each, void *arg);
    int (*gc_manifests)(void *s, int64_t cutoff, bool untagged, meta_manifest_fn each,
                        void *arg);
    int (*gc_manifest_delete)(void *s, const char *repo, const char *digest,
                              int64_t cutoff, bool untagged);
    int (*gc_unlink_unused)(void *s, int64_t cutoff);
    int (*gc_blobs)(void *s, int64_t cutoff, meta_blob_fn each, void *arg);
    int (*gc_blob_delete)(void *s, const char *digest, int64_t cutoff,
                          struct blob_store *bs);
    bool (*blob_known)(void *s, const char *digest);
    int (*snapshot)(void *s, const char *path);
    int (*gc_uploads)(void *s, int64_t cutoff, meta_row_fn each, void *arg);
    int (*gc_repositories)(void *s, meta_row_fn each, void *arg);
    int (*usage)(void *s, meta_usage_fn each, void *arg, uint64_t *total);
    int (*totals)(void *s, uint64_t *blobs, uint64_t *bytes);
    int (*manifest_touch)(void *s, const char *repo, const char *digest);
    int (*gc_evictable)(void *s, meta_evict_fn each, void *arg);
};

extern const struct meta_driver meta_driver_sqlite;

#endif
