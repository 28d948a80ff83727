/*
 * storage.h - the registry's state: a content-addressed blob store and the
 * metadata that says which repository may see what.
 *
 * Both halves sit behind a driver table (storage/driver.h): the blob store
 * has a filesystem driver, the metadata a sqlite driver. Callers see only
 * the opaque handles below. Blobs are written once: an upload streams into
 * a private file while it is hashed, and becomes visible only after its
 * digest is verified, the file fsynced and renamed into place.
 */
#ifndef BERTH_STORAGE_H
#define BERTH_STORAGE_H

#include "../common/common.h"

#include <stdint.h>

/* ---- blob store -------------------------------------------------------- */

struct blob_store;
struct upload;

int blob_store_open(const char *root, struct blob_store **out, struct berr *err);
void blob_store_close(struct blob_store *bs);

/* Open a stored blob for reading; *size is its length. */
int blob_open(struct blob_store *bs, const char *digest, int *fd, uint64_t *size);
bool blob_exists(struct blob_store *bs, const char *digest);
/* Store a small blob (a manifest body) whose digest the caller computed. */
int blob_put_buffer(struct blob_store *bs, const char *digest, const void *buf,
                    size_t len, struct berr *err);

/* Uploads: create an empty one, then take it (rebuilding the running hash
 * from the partial file when this process has not seen it), append, and
 * either finish it into a blob or release it for a later request. An upload
 * is used by one request at a time; a second taker gets -BERR_CONFLICT. */
int upload_create(struct blob_store *bs, const char *id, struct berr *err);
int upload_take(struct blob_store *bs, const char *id, struct upload **out,
                struct berr *err);
uint64_t upload_offset(const struct upload *up);
int upload_write(struct upload *up, const void *data, size_t len, struct berr *err);
/* Verify against `digest`, make durable and publish. *size is the blob's
 * length. The upload is consumed whether or not this succeeds. */
int upload_finish(struct upload *up, const char *digest, uint64_t *size,
                  struct berr *err);
void upload_release(struct upload *up);
/* Cut an upload back to `offset` bytes (undo a failed or short chunk). */
int upload_rewind(struct upload *up, uint64_t offset);
int upload_remove(struct blob_store *bs, const char *id);
/* Size of an upload's data so far, without taking it. */
int upload_size(struct blob_store *bs, const char *id, uint64_t *size);

/* ---- metadata ----------------------------------------------------------- */

struct meta;

int meta_open(const char *path, struct meta **out, struct berr *err);
void meta_close(struct meta *m);

/* Blobs visible in a repository. */
int meta_blob_link(struct meta *m, const char *repo, const char *digest,
                   uint64_t size);
int meta_blob_get(struct meta *m, const char *repo, const char *digest,
                  uint64_t *size);
int meta_blob_unlink(struct meta *m, const char *repo, const char *digest);

/* Upload sessions, so they survive a restart. */
int meta_upload_add(struct meta *m, const char *id, const char *repo);
int meta_upload_repo(struct meta *m, const char *id, char repo[NAME_MAX_LEN + 1]);
int meta_upload_remove(struct meta *m, const char *id);

struct manifest_info {
    char digest[DIGEST_MAX];
    char media_type[128];
    uint64_t size;
    char subject[DIGEST_MAX];   /* "" when none */
};

/* What a manifest points at: blobs must be visible in the repository,
 * child manifests must be stored in it. */
enum manifest_ref_kind { REF_BLOB, REF_MANIFEST };
struct manifest_ref {
    enum manifest_ref_kind kind;
    const char *digest;
};

/* A manifest to store: the body must already be in the blob store. */
struct manifest_put {
    struct manifest_info info;
    const char *artifact_type;     /* for referrers; may be NULL */
    const char *annotations;       /* JSON object text; may be NULL */
    const struct manifest_ref *refs;
    size_t nrefs;
    const char *tag;               /* may be NULL */
};

/* Checks every ref inside the same transaction that records the manifest:
 * a missing one fails with -BERR_NOTFOUND naming it in err. */
int meta_manifest_put(struct meta *m, const char *repo,
                      const struct manifest_put *put, struct berr *err);
/* `reference` is a tag or a digest. */
int meta_manifest_get(struct meta *m, const char *repo, const char *reference,
                      struct manifest_info *out);
/* Deletes the manifest and every tag that points at it. */
int meta_manifest_delete(struct meta *m, const char *repo, const char *digest);
int meta_tag_delete(struct meta *m, const char *repo, const char *tag);
bool meta_repo_exists(struct meta *m, const char *repo);

/* Listings call `each` once per row, in order, at most n rows (n <= 0:
 * none); *more says whether rows remain after the last one given. */
typedef int (*meta_row_fn)(void *arg, const char *value);
int meta_tags_list(struct meta *m, const char *repo, const char *last, int n,
                   meta_row_fn each, void *arg, bool *more);
int meta_catalog(struct meta *m, const char *last, int n, meta_row_fn each,
                 void *arg, bool *more);

struct referrer {
    const char *digest;
    const char *media_type;
    uint64_t size;
    const char *artifact_type;   /* may be NULL */
    const char *annotations;     /* JSON object text; may be NULL */
};
typedef int (*meta_referrer_fn)(void *arg, const struct referrer *r);
/* Manifests in repo whose subject is `digest`, optionally only those of
 * one artifact type. */
int meta_referrers(struct meta *m, const char *repo, const char *digest,
                   const char *artifact_type, meta_referrer_fn each, void *arg);

#endif
