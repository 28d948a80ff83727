/*
 * blob_fs.c - the filesystem blob driver.
 *
 *   <root>/blobs/<algo>/<first 2 hex>/<hex>   published blobs, read-only
 *   <root>/uploads/<id>                        partial uploads
 *
 *   <root>/trash/<algo>-<hex>                  blobs the collector is removing
 *   <root>/quarantine/<algo>-<hex>.<time>[.n] blobs whose bytes no longer match
 *                                              their digest, kept for inspection
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
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
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
    const char *dirs[] = {"blobs/sha256", "blobs/sha512", "uploads", "trash", "quarantine"};
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

static int fs_upload_sync(void *state, int fd, struct berr *err)
{
    (void)state;
    if (fsync(fd) < 0)
        return berr_set(err, BERR_IO, "fsync: %s", strerror(errno));
    return 0;
}

/* Link a durable upload to its blob path, never replacing, and make the
 * new directory entry durable. */
static int fs_upload_publish(void *state, const char *id, const char *digest,
                             struct berr *err)
{
    struct fs_state *fs = state;
    char tmp[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
    if (upload_path(fs, id, tmp, sizeof tmp) < 0 ||
        blob_path(fs, digest, dir, sizeof dir, true) < 0 ||
        blob_path(fs, digest, path, sizeof path, false) < 0)
        return berr_set(err, BERR_INVALID, "invalid upload id or digest");
    if (mkdir(dir, 0755) == 0) {
        /* a new fan-out directory must survive a crash too */
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%.*s", (int)(strrchr(dir, '/') - dir), dir);
        if (fsync_dir(parent) < 0)
            return berr_set(err, BERR_IO, "fsync %s: %s", parent, strerror(errno));
    } else if (errno != EEXIST) {
        return berr_set(err, BERR_IO, "mkdir %s: %s", dir, strerror(errno));
    }
    if (link(tmp, path) < 0) {
        if (errno != EEXIST)
            return berr_set(err, BERR_IO, "link %s: %s", path, strerror(errno));
        /* the same verified content is already there and durable */
    } else if (fsync_dir(dir) < 0) {
        return berr_set(err, BERR_IO, "fsync %s: %s", dir, strerror(errno));
    }
    unlink(tmp);
    return 0;
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

static int fs_upload_remove(void *state, const char *id)
{
    char path[PATH_MAX];
    if (upload_path(state, id, path, sizeof path) < 0)
        return -BERR_INVALID;
    if (unlink(path) < 0)
        return errno == ENOENT ? -BERR_NOTFOUND : -BERR_IO;
    return 0;
}

static int fs_blob_remove(void *state, const char *digest)
{
    char path[PATH_MAX], dir[PATH_MAX];
    if (blob_path(state, digest, path, sizeof path, false) < 0 ||
        blob_path(state, digest, dir, sizeof dir, true) < 0)
        return -BERR_INVALID;
    if (unlink(path) < 0)
        return errno == ENOENT ? 0 : -BERR_IO;
    return fsync_dir(dir);
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

static int fs_upload_list(void *state, upload_fn each, void *arg)
{
    struct fs_state *fs = state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/uploads", fs->root);
    DIR *d = opendir(path);
    if (!d)
        return -BERR_IO;
    time_t now = time(NULL);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        struct stat st;
        if (!upload_id_valid(e->d_name) || fstatat(dirfd(d), e->d_name, &st, 0) < 0)
            continue;
        rc = each(arg, e->d_name, (int64_t)(now - st.st_mtime));
    }
    closedir(d);
    return rc;
}

static int trash_path(struct fs_state *fs, const char *digest, char *out, size_t len)
{
    enum digest_algo algo;
    if (digest_parse(digest, &algo) < 0)
        return -BERR_INVALID;
    int n = snprintf(out, len, "%s/trash/%s-%s", fs->root,
                     algo == DIGEST_SHA512 ? "sha512" : "sha256", digest_hex(digest));
    return n < 0 || (size_t)n >= len ? -BERR_INVALID : 0;
}

static int fs_blob_trash(void *state, const char *digest)
{
    char path[PATH_MAX], trash[PATH_MAX];
    if (blob_path(state, digest, path, sizeof path, false) < 0 ||
        trash_path(state, digest, trash, sizeof trash) < 0)
        return -BERR_INVALID;
    if (rename(path, trash) < 0)
        return errno == ENOENT ? 0 : -BERR_IO;
    char dir[PATH_MAX];
    blob_path(state, digest, dir, sizeof dir, true);
    return fsync_dir(dir);
}

static int fs_trash_settle(void *state, blob_keep_fn keep, void *arg)
{
    struct fs_state *fs = state;
    char dirpath[PATH_MAX];
    snprintf(dirpath, sizeof dirpath, "%s/trash", fs->root);
    DIR *d = opendir(dirpath);
    if (!d)
        return -BERR_IO;
    struct dirent *e;
    while ((e = readdir(d))) {
        /* names are "<algo>-<hex>" */
        char digest[DIGEST_MAX], path[PATH_MAX];
        char *dash = strchr(e->d_name, '-');
        if (!dash || (size_t)(dash - e->d_name) != 6 || strlen(dash + 1) > 128)
            continue;
        snprintf(digest, sizeof digest, "%.6s:%s", e->d_name, dash + 1);
        if (!digest_valid(digest))
            continue;
        if (keep(arg, digest) && blob_path(fs, digest, path, sizeof path, false) == 0 &&
            linkat(dirfd(d), e->d_name, AT_FDCWD, path, 0) < 0 && errno != EEXIST)
            continue;   /* cannot restore it now: leave it for the next run */
        unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
    return fsync_dir(dirpath);
}

static int fs_blob_list(void *state, blob_fn each, void *arg)
{
    struct fs_state *fs = state;
    static const char *const algos[] = {"sha256", "sha512"};
    time_t now = time(NULL);
    int rc = 0;
    for (int a = 0; a < 2 && rc == 0; a++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/blobs/%s", fs->root, algos[a]);
        DIR *top = opendir(path);
        if (!top)
            continue;
        struct dirent *fan;
        while (rc == 0 && (fan = readdir(top))) {
            if (strlen(fan->d_name) != 2 || fan->d_name[0] == '.')
                continue;
            int fd = openat(dirfd(top), fan->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
            if (!d && fd >= 0)
                close(fd);
            struct dirent *e;
            while (d && rc == 0 && (e = readdir(d))) {
                char digest[DIGEST_MAX];
                struct stat st;
                if (strlen(e->d_name) > 128 || e->d_name[0] == '.')
                    continue;
                snprintf(digest, sizeof digest, "%s:%s", algos[a], e->d_name);
                if (!digest_valid(digest) || strncmp(e->d_name, fan->d_name, 2) != 0 ||
                    fstatat(dirfd(d), e->d_name, &st, 0) < 0)
                    continue;
                rc = each(arg, digest, (int64_t)(now - st.st_mtime));
            }
            if (d)
                closedir(d);
        }
        closedir(top);
    }
    return rc;
}

/* Moved, not deleted: an operator may want the bytes; a second bad copy
 * of the same digest never replaces the first. */
static int fs_blob_quarantine(void *state, const char *digest, int fd)
{
    struct fs_state *fs = state;
    char path[PATH_MAX], dir[PATH_MAX], dest[PATH_MAX];
    if (blob_path(fs, digest, path, sizeof path, false) < 0 ||
        blob_path(fs, digest, dir, sizeof dir, true) < 0)
        return -BERR_INVALID;
    struct stat open_st, path_st;
    if (fd >= 0 && fstat(fd, &open_st) == 0) {
        if (stat(path, &path_st) < 0)
            return errno == ENOENT ? -BERR_NOTFOUND : -BERR_IO;
        /* another reader quarantined it and a push healed it meanwhile */
        if (open_st.st_dev != path_st.st_dev || open_st.st_ino != path_st.st_ino)
            return -BERR_CONFLICT;
    }
    snprintf(dest, sizeof dest, "%s/quarantine", fs->root);
    if (mkdir(dest, 0755) < 0 && errno != EEXIST)
        return -BERR_IO;
    /* link, which never replaces, then unlink: a crash in between leaves the
     * bad file in place, and it is found again */
    long long t = (long long)time(NULL);
    for (int i = 0;; i++) {
        int n = i ? snprintf(dest, sizeof dest, "%s/quarantine/%.6s-%s.%lld.%d", fs->root,
                             digest, digest_hex(digest), t, i)
                  : snprintf(dest, sizeof dest, "%s/quarantine/%.6s-%s.%lld", fs->root,
                             digest, digest_hex(digest), t);
        if (n < 0 || (size_t)n >= sizeof dest)
            return -BERR_INVALID;
        if (link(path, dest) == 0)
            break;
        if (errno == ENOENT)
            return -BERR_NOTFOUND;
        if (errno != EEXIST || i >= 1000)
            return -BERR_IO;
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return -BERR_IO;
    return fsync_dir(dir);
}

const struct blob_driver blob_driver_fs = {
    .name = "filesystem",
    .open = fs_open,
    .close = fs_close,
    .blob_open = fs_blob_open,
    .blob_exists = fs_blob_exists,
    .upload_create = fs_upload_create,
    .upload_open = fs_upload_open,
    .upload_sync = fs_upload_sync,
    .upload_publish = fs_upload_publish,
    .upload_remove = fs_upload_remove,
    .blob_remove = fs_blob_remove,
    .upload_size = fs_upload_size,
    .upload_list = fs_upload_list,
    .blob_trash = fs_blob_trash,
    .trash_settle = fs_trash_settle,
    .blob_list = fs_blob_list,
    .blob_quarantine = fs_blob_quarantine,
};
