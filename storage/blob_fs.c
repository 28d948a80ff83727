/*
 * blob_fs.c - the filesystem blob driver.
 *
 *   <root>/blobs/<algo>/<first 2 hex>/<hex>   published blobs, read-only
 *   <root>/uploads/<id>                        partial uploads
 *
 * Publishing is fsync(file), link(upload, blob), fsync(blob dir), unlink
 * upload: link(2) fails with EEXIST instead of replacing, so a blob that
 * exists is never overwritten, and a crash leaves either no blob or a whole
 * one. Paths are only built from digests and ids already validated.
 */
#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fs_state {
    char root[PATH_MAX - 256];
};

static int blob_path(struct fs_state *fs, const char *digest, char *out,
                     size_t len, bool dir_only)
{
    enum digest_algo algo;
    if (digest_parse(digest, &algo) < 0)
        return -BERR_INVALID;
    const char *hex = digest_hex(digest);
    const char *name = algo == DIGEST_SHA512 ? "sha512" : "sha256";
    int n = dir_only ? snprintf(out, len, "%s/blobs/%s/%.2s", fs->root, name, hex)
                     : snprintf(out, len, "%s/blobs/%s/%.2s/%s", fs->root, name,
                                hex, hex);
    return n < 0 || (size_t)n >= len ? -BERR_INVALID : 0;
}

static int upload_path(struct fs_state *fs, const char *id, char *out, size_t len)
{
    if (!upload_id_valid(id))
        return -BERR_INVALID;
    int n = snprintf(out, len, "%s/uploads/%s", fs->root, id);
    return n < 0 || (size_t)n >= len ? -BERR_INVALID : 0;
}

static int fs_open(const char *root, void **state, struct berr *err)
{
    struct fs_state *fs = calloc(1, sizeof *fs);
    if (!fs)
        return berr_set(err, BERR_IO, "out of memory");
    if (strlen(root) >= sizeof fs->root) {
        free(fs);
        return berr_set(err, BERR_INVALID, "storage root path too long");
    }
    strcpy(fs->root, root);
    char path[PATH_MAX];
    const char *dirs[] = {"blobs/sha256", "blobs/sha512", "uploads"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        if (mkdir_p(path, 0755) < 0) {
            int e = errno;
            free(fs);
            return berr_set(err, BERR_IO, "cannot create %s: %s", path, strerror(e));
        }
    }
    *state = fs;
    return 0;
}

static void fs_close(void *state)
{
    free(state);
}

static int fs_blob_open(void *state, const char *digest, int *fd, uint64_t *size)
{
    char path[PATH_MAX];
    if (blob_path(state, digest, path, sizeof path, false) < 0)
        return -BERR_INVALID;
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return errno == ENOENT ? -BERR_NOTFOUND : -BERR_IO;
    struct stat st;
    if (fstat(f, &st) < 0) {
        close(f);
        return -BERR_IO;
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return 0;
}

static bool fs_blob_exists(void *state, const char *digest)
{
    char path[PATH_MAX];
    return blob_path(state, digest, path, sizeof path, false) == 0 &&
           access(path, F_OK) == 0;
}

/* Durably move a complete temp file to its blob path, never replacing. */
static int publish(struct fs_state *fs, const char *tmp, int fd,
                   const char *digest, struct berr *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (blob_path(fs, digest, dir, sizeof dir, true) < 0 ||
        blob_path(fs, digest, path, sizeof path, false) < 0)
        return berr_set(err, BERR_INVALID, "invalid digest");
    if (access(path, F_OK) == 0) {
        /* The same verified content is already durable: nothing to add. */
        unlink(tmp);
        return 0;
    }
    if (fsync(fd) < 0)
        return berr_set(err, BERR_IO, "fsync: %s", strerror(errno));
    if (mkdir(dir, 0755) == 0) {
        /* a new fan-out directory must survive a crash too */
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%.*s", (int)(strrchr(dir, '/') - dir), dir);
        if (fsync_dir(parent) < 0)
            return berr_set(err, BERR_IO, "fsync %s: %s", parent, strerror(errno));
    } else if (errno != EEXIST) {
        return berr_set(err, BERR_IO, "mkdir %s: %s", dir, strerror(errno));
    }
    if (link(tmp, path) < 0 && errno != EEXIST)
        return berr_set(err, BERR_IO, "link %s: %s", path, strerror(errno));
    if (fsync_dir(dir) < 0)
        return berr_set(err, BERR_IO, "fsync %s: %s", dir, strerror(errno));
    unlink(tmp);
    return 0;
}

static int fs_blob_put(void *state, const char *digest, const void *buf,
                       size_t len, struct berr *err)
{
    struct fs_state *fs = state;
    if (fs_blob_exists(state, digest))
        return 0;
    char id[33], tmp[PATH_MAX];
    upload_id_new(id);
    upload_path(fs, id, tmp, sizeof tmp);
    auto_close int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return berr_set(err, BERR_IO, "create %s: %s", tmp, strerror(errno));
    int rc = write_all(fd, buf, len);
    if (rc == 0)
        rc = publish(fs, tmp, fd, digest, err);
    else
        berr_set(err, BERR_IO, "write %s: %s", tmp, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int fs_upload_create(void *state, const char *id, struct berr *err)
{
    char path[PATH_MAX];
    if (upload_path(state, id, path, sizeof path) < 0)
        return berr_set(err, BERR_INVALID, "invalid upload id");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return berr_set(err, BERR_IO, "create %s: %s", path, strerror(errno));
    close(fd);
    return 0;
}

static int fs_upload_open(void *state, const char *id, int *fd, uint64_t *size)
{
    char path[PATH_MAX];
    if (upload_path(state, id, path, sizeof path) < 0)
        return -BERR_INVALID;
    int f = open(path, O_RDWR | O_CLOEXEC);
    if (f < 0)
        return errno == ENOENT ? -BERR_NOTFOUND : -BERR_IO;
    struct stat st;
    if (fstat(f, &st) < 0 || lseek(f, 0, SEEK_END) < 0) {
        close(f);
        return -BERR_IO;
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return 0;
}

static int fs_upload_commit(void *state, const char *id, int fd,
                            const char *digest, struct berr *err)
{
    char tmp[PATH_MAX];
    if (upload_path(state, id, tmp, sizeof tmp) < 0)
        return berr_set(err, BERR_INVALID, "invalid upload id");
    return publish(state, tmp, fd, digest, err);
}

static int fs_upload_remove(void *state, const char *id)
{
    char path[PATH_MAX];
    if (upload_path(state, id, path, sizeof path) < 0)
        return -BERR_INVALID;
    if (unlink(path) < 0)
        return errno == ENOENT ? -BERR_NOTFOUND : -BERR_IO;
    return 0;
}

static int fs_upload_size(void *state, const char *id, uint64_t *size)
{
    char path[PATH_MAX];
    if (upload_path(state, id, path, sizeof path) < 0)
        return -BERR_INVALID;
    struct stat st;
    if (stat(path, &st) < 0)
        return errno == ENOENT ? -BERR_NOTFOUND : -BERR_IO;
    *size = (uint64_t)st.st_size;
    return 0;
}

const struct blob_driver blob_driver_fs = {
    .name = "filesystem",
    .open = fs_open,
    .close = fs_close,
    .blob_open = fs_blob_open,
    .blob_exists = fs_blob_exists,
    .blob_put = fs_blob_put,
    .upload_create = fs_upload_create,
    .upload_open = fs_upload_open,
    .upload_commit = fs_upload_commit,
    .upload_remove = fs_upload_remove,
    .upload_size = fs_upload_size,
};
