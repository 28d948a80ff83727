/*
 * blob_store.c - blob store front end: driver dispatch and uploads.
 *
 * An upload keeps its running hash between requests in a small table, so a
 * blob sent as many PATCHes is hashed once as it streams in. When the table
 * has no entry (berthd restarted, or the entry was evicted), the hash is
 * rebuilt by reading the partial file: the file is the truth, the table a
 * cache. Uploads hash sha256 as they stream; a blob finished as sha512 is
 * hashed again from the file at the end.
 */
#include "driver.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

struct blob_store {
    const struct blob_driver *drv;
    void *state;
    pthread_mutex_t lock;
    struct upload *idle;        /* released uploads, most recent first */
    size_t nidle;
    struct upload *busy;        /* taken uploads, to refuse a second taker */
};

struct upload {
    struct blob_store *bs;
    struct upload *next;
    char id[33];
    int fd;
    uint64_t offset;
    struct hasher *hash;        /* covers exactly [0, offset) */
};

enum { IDLE_MAX = 64 };

int blob_store_open(const char *root, struct blob_store **out, struct berr *err)
{
    struct blob_store *bs = calloc(1, sizeof *bs);
    if (!bs)
        return berr_set(err, BERR_IO, "out of memory");
    bs->drv = &blob_driver_fs;
    int rc = bs->drv->open(root, &bs->state, err);
    if (rc < 0) {
        free(bs);
        return rc;
    }
    pthread_mutex_init(&bs->lock, NULL);
    *out = bs;
    return 0;
}

static void upload_free(struct upload *up)
{
    if (up->fd >= 0)
        close(up->fd);
    hasher_free(up->hash);
    free(up);
}

void blob_store_close(struct blob_store *bs)
{
    if (!bs)
        return;
    while (bs->idle) {
        struct upload *up = bs->idle;
        bs->idle = up->next;
        upload_free(up);
    }
    bs->drv->close(bs->state);
    pthread_mutex_destroy(&bs->lock);
    free(bs);
}

int blob_open(struct blob_store *bs, const char *digest, int *fd, uint64_t *size)
{
    return bs->drv->blob_open(bs->state, digest, fd, size);
}

bool blob_exists(struct blob_store *bs, const char *digest)
{
    return bs->drv->blob_exists(bs->state, digest);
}

int blob_stage(struct blob_store *bs, const void *buf, size_t len, char id[33],
               struct berr *err)
{
    upload_id_new(id);
    int rc = bs->drv->upload_create(bs->state, id, err);
    if (rc < 0)
        return rc;
    int fd = -1;
    uint64_t size;
    rc = bs->drv->upload_open(bs->state, id, &fd, &size);
    if (rc == 0 && write_all(fd, buf, len) < 0)
        rc = berr_set(err, BERR_IO, "cannot write staged blob: %s", strerror(errno));
    if (rc == 0)
        rc = bs->drv->upload_sync(bs->state, fd, err);
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        bs->drv->upload_remove(bs->state, id);
    return rc;
}

int blob_publish(struct blob_store *bs, const char *id, const char *digest,
                 struct berr *err)
{
    return bs->drv->upload_publish(bs->state, id, digest, err);
}

int blob_unpublish(struct blob_store *bs, const char *digest)
{
    return bs->drv->blob_remove(bs->state, digest);
}

int upload_list(struct blob_store *bs, upload_fn each, void *arg)
{
    return bs->drv->upload_list(bs->state, each, arg);
}

int blob_trash(struct blob_store *bs, const char *digest)
{
    return bs->drv->blob_trash(bs->state, digest);
}

int blob_trash_settle(struct blob_store *bs, blob_keep_fn keep, void *arg)
{
    return bs->drv->trash_settle(bs->state, keep, arg);
}

int blob_list(struct blob_store *bs, blob_fn each, void *arg)
{
    return bs->drv->blob_list(bs->state, each, arg);
}

int blob_verify_fd(const char *digest, int fd, uint64_t size)
{
    enum digest_algo algo;
    if (digest_parse(digest, &algo) < 0)
        return -BERR_INVALID;
    struct hasher *h = hasher_new(algo);
    if (!h)
        return -BERR_IO;
    char got[DIGEST_MAX];
    int rc = hasher_update_fd(h, fd, size);
    if (rc == 0)
        rc = hasher_final(h, got) < 0 ? -BERR_IO : 0;
    hasher_free(h);
    if (rc == 0 && strcmp(got, digest) != 0)
        rc = -BERR_DIGEST;
    return rc;
}

int blob_quarantine(struct blob_store *bs, const char *digest, int fd)
{
    return bs->drv->blob_quarantine(bs->state, digest, fd);
}

int upload_create(struct blob_store *bs, const char *id, struct berr *err)
{
    return bs->drv->upload_create(bs->state, id, err);
}

/* Unlink the entry for id from a list; returns it or NULL. */
static struct upload *list_take(struct upload **head, const char *id)
{
    for (struct upload **pp = head; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct upload *up = *pp;
            *pp = up->next;
            return up;
        }
    }
    return NULL;
}

static bool list_has(struct upload *head, const char *id)
{
    for (; head; head = head->next)
        if (strcmp(head->id, id) == 0)
            return true;
    return false;
}

int upload_take(struct blob_store *bs, const char *id, struct upload **out,
                struct berr *err)
{
    pthread_mutex_lock(&bs->lock);
    if (list_has(bs->busy, id)) {
        pthread_mutex_unlock(&bs->lock);
        return berr_set(err, BERR_CONFLICT, "upload is in use by another request");
    }
    struct upload *up = list_take(&bs->idle, id);
    if (up)
        bs->nidle--;
    else if ((up = calloc(1, sizeof *up))) {
        up->bs = bs;
        up->fd = -1;
        strcpy(up->id, id);
    }
    if (up) {
        up->next = bs->busy;
        bs->busy = up;
    }
    pthread_mutex_unlock(&bs->lock);
    if (!up)
        return berr_set(err, BERR_IO, "out of memory");

    /* Reopen and check the cached hash still covers the whole file. */
    uint64_t size = 0;
    if (up->fd < 0) {
        int rc = bs->drv->upload_open(bs->state, id, &up->fd, &size);
        if (rc < 0) {
            upload_release(up);
            return berr_set(err, -rc, "upload %s not found", id);
        }
    } else if (bs->drv->upload_size(bs->state, id, &size) < 0) {
        upload_release(up);
        return berr_set(err, BERR_NOTFOUND, "upload %s not found", id);
    }
    if (!up->hash || up->offset != size) {
        hasher_free(up->hash);
        up->hash = hasher_new(DIGEST_SHA256);
        if (!up->hash || hasher_update_fd(up->hash, up->fd, size) < 0) {
            upload_release(up);
            return berr_set(err, BERR_IO, "cannot read upload %s", id);
        }
        up->offset = size;
    }
    *out = up;
    return 0;
}

uint64_t upload_offset(const struct upload *up)
{
    return up->offset;
}

int upload_write(struct upload *up, const void *data, size_t len, struct berr *err)
{
    if (write_all(up->fd, data, len) < 0) {
        /* The file may hold part of the data now: let the next taker rehash.
         * errno stays the write's, for the caller to tell a full disk. */
        int e = errno;
        hasher_free(up->hash);
        up->hash = NULL;
        berr_set(err, BERR_IO, "write to upload failed: %s", strerror(e));
        errno = e;
        return -BERR_IO;
    }
    if (up->hash)   /* else rebuilt from the file when needed */
        hasher_update(up->hash, data, len);
    up->offset += len;
    return 0;
}

/* Remove from the busy list; keep it idle for a later request or free it. */
static void upload_put_back(struct upload *up, bool keep)
{
    struct blob_store *bs = up->bs;
    pthread_mutex_lock(&bs->lock);
    list_take(&bs->busy, up->id);
    if (keep) {
        up->next = bs->idle;
        bs->idle = up;
        if (++bs->nidle > IDLE_MAX) {
            /* drop the oldest: its file stays, the hash is rebuilt on need */
            struct upload **pp = &bs->idle;
            while ((*pp)->next)
                pp = &(*pp)->next;
            struct upload *old = *pp;
            *pp = NULL;
            bs->nidle--;
            upload_free(old);
        }
        up = NULL;
    }
    pthread_mutex_unlock(&bs->lock);
    if (up)
        upload_free(up);
}

void upload_release(struct upload *up)
{
    upload_put_back(up, up->hash != NULL && up->fd >= 0);
}

int upload_rewind(struct upload *up, uint64_t offset)
{
    if (offset > up->offset)
        return -BERR_INVALID;
    if (offset == up->offset)
        return 0;
    hasher_free(up->hash);      /* rebuilt from the file by the next taker */
    up->hash = NULL;
    if (ftruncate(up->fd, (off_t)offset) < 0 || lseek(up->fd, 0, SEEK_END) < 0)
        return -BERR_IO;
    up->offset = offset;
    return 0;
}

int upload_finish(struct upload *up, const char *digest, uint64_t *size,
                  struct berr *err)
{
    struct blob_store *bs = up->bs;
    enum digest_algo algo;
    int rc;
    if (digest_parse(digest, &algo) < 0) {
        rc = berr_set(err, BERR_DIGEST, "invalid digest");
        goto out;
    }
    char got[DIGEST_MAX];
    if (algo == DIGEST_SHA512 || !up->hash) {
        hasher_free(up->hash);
        up->hash = hasher_new(algo);
        if (!up->hash || hasher_update_fd(up->hash, up->fd, up->offset) < 0) {
            rc = berr_set(err, BERR_IO, "cannot read upload");
            goto out;
        }
    }
    if (hasher_final(up->hash, got) < 0) {
        rc = berr_set(err, BERR_IO, "hash failed");
        goto out;
    }
    hasher_free(up->hash);
    up->hash = NULL;
    if (strcmp(got, digest) != 0) {
        rc = berr_set(err, BERR_DIGEST, "content digest %s does not match %s",
                      got, digest);
        goto out;
    }
    /* Durable before it is published: if an existing copy is collected
     * meanwhile, this one is what gets linked into place. */
    rc = bs->drv->upload_sync(bs->state, up->fd, err);
    if (rc == 0)
        *size = up->offset;
out:
    upload_put_back(up, false);
    return rc;
}

int upload_remove(struct blob_store *bs, const char *id)
{
    pthread_mutex_lock(&bs->lock);
    struct upload *up = list_take(&bs->idle, id);
    if (up)
        bs->nidle--;
    pthread_mutex_unlock(&bs->lock);
    if (up)
        upload_free(up);
    return bs->drv->upload_remove(bs->state, id);
}

int upload_read_fd(struct blob_store *bs, const char *id, int *fd)
{
    uint64_t size;
    return bs->drv->upload_open(bs->state, id, fd, &size);
}

int upload_size(struct blob_store *bs, const char *id, uint64_t *size)
{
    return bs->drv->upload_size(bs->state, id, size);
}
