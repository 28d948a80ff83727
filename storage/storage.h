/*
 * storage.h - the registry's state: a content-addressed blob store and the
 * metadata that says which repository may see what.
 *
 * Both halves sit behind a driver table (storage/driver.h): the blob store
 * has a filesystem driver, the metadata a sqlite driver. Callers see only
 * the opaque handles below. Blobs are written once: an upload streams into
 * a private file while it is hashed; once its digest is verified and the
 * file fsynced it is "staged", and it is published (linked into place)
 * inside the metadata transaction that records it. The garbage collector
 * removes rows and moves files aside in one transaction too, so the two
 * can never interleave between a row and its file.
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
/* Stage a small blob (a manifest body) from memory: id receives the
 * staged file's upload id. */
int blob_stage(struct blob_store *bs, const void *buf, size_t len, char id[33],
               struct berr *err);
/* Make a staged upload visible as `digest` (never replacing an existing
 * blob) and remove the staged file. Called by the metadata driver inside
 * the transaction that records the blob. */
int blob_publish(struct blob_store *bs, const char *id, const char *digest,
                 struct berr *err);
/* Take back a blob that blob_publish made (it was not there before) when
 * the transaction recording it fails to commit: called with the
 * transaction still open, so no other writer can have come to rely on it. */
int blob_unpublish(struct blob_store *bs, const char *digest);

/* Uploads: create an empty one, then take it (rebuilding the running hash
 * from the partial file when this process has not seen it), append, and
 * either finish it into a blob or release it for a later request. An upload
 * is used by one request at a time; a second taker gets -BERR_CONFLICT. */
int upload_create(struct blob_store *bs, const char *id, struct berr *err);
int upload_take(struct blob_store *bs, const char *id, struct upload **out,
                struct berr *err);
uint64_t upload_offset(const struct upload *up);
int upload_write(struct upload *up, const void *data, size_t len, struct berr *err);
/* Verify against `digest` and make the data durable: the upload is then
 * staged, ready for blob_publish. *size is the blob's length. The upload
 * handle is consumed whether or not this succeeds; the file stays. */
int upload_finish(struct upload *up, const char *digest, uint64_t *size,
                  struct berr *err);
void upload_release(struct upload *up);
/* Cut an upload back to `offset` bytes (undo a failed or short chunk). */
int upload_rewind(struct upload *up, uint64_t offset);
int upload_remove(struct blob_store *bs, const char *id);
/* A descriptor to read an upload's data while it is written. */
int upload_read_fd(struct blob_store *bs, const char *id, int *fd);
/* Size of an upload's data so far, without taking it. */
int upload_size(struct blob_store *bs, const char *id, uint64_t *size);
/* Every upload file with its age in seconds (for the collector). */
typedef int (*upload_fn)(void *arg, const char *id, int64_t age);
int upload_list(struct blob_store *bs, upload_fn each, void *arg);

/* The collector's side: move a blob aside inside its deleting transaction,
 * then settle the moved-aside blobs once it committed (or after a crash):
 * those `keep` says are still recorded go back, the rest are deleted. */
int blob_trash(struct blob_store *bs, const char *digest);
typedef bool (*blob_keep_fn)(void *arg, const char *digest);
int blob_trash_settle(struct blob_store *bs, blob_keep_fn keep, void *arg);
/* Every stored blob, with its age in seconds. */
typedef int (*blob_fn)(void *arg, const char *digest, int64_t age);
int blob_list(struct blob_store *bs, blob_fn each, void *arg);

/* Integrity: hash the first `size` bytes of an open blob and compare them
 * with its digest (0, -BERR_DIGEST on a mismatch, -BERR_IO when it cannot
 * be read); and move a blob that failed it out of the store, so it is never
 * served and a push of the same content publishes a good copy. `fd` is the
 * descriptor that was verified: a good copy published since it was opened
 * is left in place (-BERR_CONFLICT). */
int blob_verify_fd(const char *digest, int fd, uint64_t size);
int blob_quarantine(struct blob_store *bs, const char *digest, int fd);

/* ---- metadata ----------------------------------------------------------- */

struct meta;

int meta_open(const char *path, struct meta **out, struct berr *err);
void meta_close(struct meta *m);

/* A staged file to publish inside a metadata transaction. */
struct staged {
    struct blob_store *bs;
    const char *id;
};

/* Make a blob visible in a repository, publishing `file` (if not NULL) in
 * the same transaction. */
int meta_blob_link(struct meta *m, const char *repo, const char *digest,
                   uint64_t size, const struct staged *file, struct berr *err);
/* Link a blob visible in `from` into `repo`, atomically; -BERR_NOTFOUND
 * when `from` cannot see it. */
int meta_blob_mount(struct meta *m, const char *from, const char *repo,
                    const char *digest);
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
    int64_t updated;            /* when the tag was last set (by digest: stored) */
};

/* What a manifest points at: blobs must be visible in the repository,
 * child manifests must be stored in it. */
enum manifest_ref_kind { REF_BLOB, REF_MANIFEST };
struct manifest_ref {
    enum manifest_ref_kind kind;
    const char *digest;
};

/* A manifest to store; its body is staged and published with the rows. */
struct manifest_put {
    struct staged body;
    struct manifest_info info;
    const char *artifact_type;     /* for referrers; may be NULL */
    const char *annotations;       /* JSON object text; may be NULL */
    const struct manifest_ref *refs;
    size_t nrefs;
    const char *tag;               /* may be NULL */
    bool cached;                   /* a cache entry: refs arrive later, on
                                      demand, and it may be evicted */
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
/* Point a tag at a stored manifest (and mark it set now). */
int meta_tag_set(struct meta *m, const char *repo, const char *tag, const char *digest);
/* 1 when the repository has anything in it, 0 when not, negative when the
 * metadata cannot be read. */
int meta_repo_exists(struct meta *m, const char *repo);

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

/* ---- for the garbage collector ------------------------------------------ */
/* Times are unix seconds; `cutoff` is now minus the grace period: nothing
 * created or linked after it is touched. Every deletion re-checks its
 * condition inside its own transaction. */

typedef int (*meta_tag_fn)(void *arg, const char *tag, const char *digest,
                           int64_t updated);
int meta_tags_detail(struct meta *m, const char *repo, meta_tag_fn each, void *arg);

/* Manifests to collect: referrers whose subject is gone, and, when
 * `untagged`, manifests with no tag that no index in the repository
 * refers to and that are not referrers. */
typedef int (*meta_manifest_fn)(void *arg, const char *repo, const char *digest);
int meta_gc_manifests(struct meta *m, int64_t cutoff, bool untagged,
                      meta_manifest_fn each, void *arg);
/* Delete one of those if it still qualifies: 0, or -BERR_CONFLICT. */
int meta_gc_manifest_delete(struct meta *m, const char *repo, const char *digest,
                            int64_t cutoff, bool untagged);
/* Drop repository links to blobs no manifest of that repository uses.
 * Returns the number dropped, or a negative error. */
int meta_gc_unlink_unused(struct meta *m, int64_t cutoff);
/* Blobs nothing refers to: no manifest uses them or is them, no recent link. */
typedef int (*meta_blob_fn)(void *arg, const char *digest, uint64_t size);
int meta_gc_blobs(struct meta *m, int64_t cutoff, meta_blob_fn each, void *arg);
/* Delete one such blob if it still qualifies, moving its file to the trash
 * in the same transaction (bs NULL: rows only); a digest with no row at
 * all (a file left by a crash) qualifies too. 0, or -BERR_CONFLICT. */
int meta_gc_blob_delete(struct meta *m, const char *digest, int64_t cutoff,
                        struct blob_store *bs);
bool meta_blob_known(struct meta *m, const char *digest);
/* A consistent copy of the whole metadata at `path` (for dry runs). */
int meta_snapshot(struct meta *m, const char *path);
/* Upload sessions started before cutoff. */
int meta_gc_uploads(struct meta *m, int64_t cutoff, meta_row_fn each, void *arg);
/* Remove repositories with nothing left in them, listing each. */
int meta_gc_repositories(struct meta *m, meta_row_fn each, void *arg);

/* Storage accounting: per repository, bytes of the blobs (and manifest
 * bodies) only it uses, and bytes it shares with others; *total is every
 * recorded blob once. */
typedef int (*meta_usage_fn)(void *arg, const char *repo, uint64_t own,
                             uint64_t shared);
int meta_usage(struct meta *m, meta_usage_fn each, void *arg, uint64_t *total);
/* How many blobs are recorded and their bytes; an error means the
 * metadata cannot be read (readiness). */
int meta_totals(struct meta *m, uint64_t *blobs, uint64_t *bytes);

/* A cache entry was served: remember when (for least-recently-pulled
 * eviction). */
int meta_manifest_touch(struct meta *m, const char *repo, const char *digest);
/* Cache entries, least recently pulled first, with the bytes of the
 * manifest and its blobs; `each` returns non-zero to stop. */
typedef int (*meta_evict_fn)(void *arg, const char *repo, const char *digest, uint64_t bytes);
int meta_gc_evictable(struct meta *m, meta_evict_fn each, void *arg);

#endif
