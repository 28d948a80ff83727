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
    int (*blob_put)(void *state, const char *digest, const void *buf,
                    size_t len, struct berr *err);
    int (*upload_create)(void *state, const char *id, struct berr *err);
    /* Open an upload's partial data for appending; *size is its length. */
    int (*upload_open)(void *state, const char *id, int *fd, uint64_t *size);
    /* Make the upload durable and publish it as `digest`. Never replaces an
     * existing blob. */
    int (*upload_commit)(void *state, const char *id, int fd,
                         const char *digest, struct berr *err);
    int (*upload_remove)(void *state, const char *id);
    int (*upload_size)(void *state, const char *id, uint64_t *size);
};

extern const struct blob_driver blob_driver_fs;

struct meta_driver {
    const char *name;
    int (*open)(const char *path, void **state, struct berr *err);
    void (*close)(void *state);
    int (*blob_link)(void *s, const char *repo, const char *digest, uint64_t size);
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
    bool (*repo_exists)(void *s, const char *repo);
    int (*tags_list)(void *s, const char *repo, const char *last, int n,
                     meta_row_fn each, void *arg, bool *more);
    int (*catalog)(void *s, const char *last, int n, meta_row_fn each,
                   void *arg, bool *more);
    int (*referrers)(void *s, const char *repo, const char *digest,
                     const char *artifact_type, meta_referrer_fn each, void *arg);
};

extern const struct meta_driver meta_driver_sqlite;

#endif
