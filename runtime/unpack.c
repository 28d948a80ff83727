/*
 * unpack.c - image layers unpacked once per diff-id, for overlayfs.
 *
 * A layer blob is read in one pass through two libarchive readers: the
 * first only decompresses (format "raw", any filter) and its output is
 * hashed on its way into the second, which parses the tar; what the tar
 * reader leaves (end-of-archive padding) is drained into the hash, so the
 * diff-id is checked over the exact uncompressed stream without a second
 * read of the blob. Entries are written by archive_write_disk with the
 * temporary directory as the working directory, because that is what its
 * SECURE_* checks are relative to; paths are also cleaned here first
 * (leading '/' dropped, '..' skipped) so a hostile layer loses entries
 * instead of failing, and whiteouts, which libarchive knows nothing about,
 * are made with *at() calls that never follow a symlink. The layer appears
 * under its final name only by rename(), after it is complete, verified and
 * on disk: the name existing is what says "unpacked", so it must never
 * name a partial tree.
 */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct unpack {
    struct archive *raw;     /* the blob, decompressed */
    struct archive *tar;     /* the tar, read from `raw` */
    struct archive *disk;
    struct hasher *hash;     /* of everything `raw` yields */
    const char *id;          /* short hex, for messages */
    char buf[64 * 1024];
    uint64_t total;          /* decompressed so far */
    uint64_t next_check;     /* of the free space, at this total */
};

/* A layer is data from anywhere: a few MB of zstd or gzip can stand for
 * terabytes. Unpacking stops while the store's filesystem still has this
 * much free (64 MiB, or 2% of it if more), rather than when it is full
 * and everything else on it fails too. Checked every 16 MiB. */
#define RESERVE_MIN ((uint64_t)64 << 20)
#define CHECK_EVERY ((uint64_t)16 << 20)

static bool has_dotdot(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")); p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
            return true;
    return false;
}

/* The tar reader pulls decompressed bytes through here, so each byte is
 * hashed exactly once whatever the tar reader reads ahead. */
static la_ssize_t pump(struct archive *tar, void *ctx, const void **buf)
{
    struct unpack *u = ctx;
    la_ssize_t n = archive_read_data(u->raw, u->buf, sizeof u->buf);
    if (n < 0 || hasher_update(u->hash, u->buf, (size_t)n) < 0) {
        archive_set_error(tar, EIO, "%s",
                          n < 0 ? archive_error_string(u->raw) : "cannot hash");
        return -1;
    }
    u->total += (uint64_t)n;
    if (u->total >= u->next_check) {
        u->next_check = u->total + CHECK_EVERY;
        struct statvfs fs;
        if (statvfs(".", &fs) == 0) {
            uint64_t size = (uint64_t)fs.f_blocks * fs.f_frsize;
            uint64_t reserve = size / 50 > RESERVE_MIN ? size / 50 : RESERVE_MIN;
            if ((uint64_t)fs.f_bavail * fs.f_frsize < reserve) {
                char msg[160];   /* libarchive's own format knows no %llu */
                snprintf(msg, sizeof msg, "unpacked to %llu MiB, it would leave less than "
                         "%llu MiB free on the store's filesystem",
                         (unsigned long long)(u->total >> 20),
                         (unsigned long long)(reserve >> 20));
                archive_set_error(tar, ENOSPC, "%s", msg);
                return -1;
            }
        }
    }
    *buf = u->buf;
    return n;
}

/* Open directory `dir` (relative to the layer root, the cwd), creating what
 * is missing, without following a symlink on the way: -ELOOP or -ENOTDIR
 * if something other than a directory is in the way. */
static int open_beneath(const char *dir)
{
    char path[PATH_MAX], *save = NULL;
    snprintf(path, sizeof path, "%s", dir);
    int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (char *c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        bool made = mkdirat(fd, c, 0755) == 0;
        int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(fd);
        if (next < 0)
            return -e;
        if (made)
            fchmod(next, 0755);  /* as documented, whatever the umask */
        fd = next;
    }
    return fd;
}

/* 1 if `path` is a whiteout (applied, or ignored as harmless), 0 if not. */
static int whiteout(const char *path, const char *id, struct berr *err)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, ".wh.", 4) != 0)
        return 0;
    const char *name = base + 4;
    bool opaque = strcmp(name, ".wh..opq") == 0;
    if (!opaque && (strncmp(name, ".wh.", 4) == 0 || !*name || !strcmp(name, ".") ||
                    !strcmp(name, "..")))
        return 1;    /* aufs bookkeeping, or names nothing */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)(base - path), path);
    auto_close int fd = open_beneath(dir);
    if (fd == -ELOOP || fd == -ENOTDIR)
        return 1;    /* would reach through a symlink */
    if (fd < 0)
        return berr_set(err, BERR_IO, "layer %.12s: %s: %s", id, path, strerror(-fd));
    if (opaque) {
        if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
            return berr_set(err, BERR_IO, "layer %.12s: %s: %s", id, path, strerror(errno));
        return 1;
    }
    if (unlinkat(fd, name, 0) < 0 && errno == EISDIR) {
        char victim[PATH_MAX];
        snprintf(victim, sizeof victim, "%s%s", dir, name);
        rmtree(victim);
    }
    if (mknodat(fd, name, S_IFCHR, makedev(0, 0)) < 0)
        return berr_set(err, BERR_IO, "layer %.12s: %s: %s", id, path, strerror(errno));
    return 1;
}

/* overlayfs trusts its own xattrs in lower layers (redirects, metacopy,
 * origin); a layer says "opaque" by whiteout and nothing else. */
static void drop_overlay_xattrs(struct archive_entry *e)
{
    const char *name;
    const void *value;
    size_t size;
    int bad = 0;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
        bad += strncmp(name, "trusted.overlay.", 16) == 0;
    struct archive_entry *all = bad ? archive_entry_clone(e) : NULL;
    if (!all)
        return;
    archive_entry_xattr_clear(e);
    archive_entry_xattr_reset(all);
    while (archive_entry_xattr_next(all, &name, &value, &size) == ARCHIVE_OK)
        if (strncmp(name, "trusted.overlay.", 16) != 0)
            archive_entry_xattr_add_entry(e, name, value, size);
    archive_entry_free(all);
}

static int entry_extract(struct unpack *u, struct archive_entry *e, struct berr *err)
{
    char path[PATH_MAX], link[PATH_MAX];
    const char *p = archive_entry_pathname(e), *l = archive_entry_hardlink(e);
    if (!p)
        return berr_set(err, BERR_INVALID, "layer %.12s: an entry has no usable name", u->id);
    p += strspn(p, "/");
    if ((size_t)snprintf(path, sizeof path, "%s", *p ? p : ".") >= sizeof path ||
        (l && strlen(l) >= sizeof link))
        return berr_set(err, BERR_INVALID, "layer %.12s: a name is too long", u->id);
    if (has_dotdot(path))
        return 0;
    int rc = whiteout(path, u->id, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    archive_entry_set_pathname(e, path);
    if (l) {
        l += strspn(l, "/");
        snprintf(link, sizeof link, "%s", l);
        if (!*link || has_dotdot(link))
            return 0;
        archive_entry_set_hardlink(e, link);
    }
    drop_overlay_xattrs(e);

    rc = archive_write_header(u->disk, e);
    /* The SECURE_* refusals come as ARCHIVE_FAILED without an errno; a
     * failing system call (ENOSPC, EIO) has one and fails the layer. */
    if (rc == ARCHIVE_FAILED && archive_errno(u->disk) <= 0) {
        log_debug("layer %.12s: skipped %s: %s", u->id, path, archive_error_string(u->disk));
        return 0;
    }
    if (rc < ARCHIVE_WARN)
        goto disk_error;
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t off;
        rc = archive_read_data_block(u->tar, &buf, &size, &off);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc < ARCHIVE_WARN)
            return berr_set(err, BERR_INVALID, "layer %.12s: %s", u->id,
                            archive_error_string(u->tar));
        /* libarchive reports a failed write(2) (ENOSPC, EFBIG, EIO) as
         * only a warning: the file would be short in a layer named complete,
         * whose diff-id, checked over the stream, still matches */
        rc = archive_write_data_block(u->disk, buf, size, off);
        if (rc < ARCHIVE_WARN || (rc < ARCHIVE_OK && archive_errno(u->disk) > 0))
            goto disk_error;
    }
    if (archive_write_finish_entry(u->disk) >= ARCHIVE_WARN)
        return 0;
disk_error:
    return berr_set(err, BERR_IO, "layer %.12s: %s", u->id, archive_error_string(u->disk));
}

/* Before extract(), and before the chdir: `blob` may be a relative path. */
static int blob_open(struct unpack *u, const char *blob, struct berr *err)
{
    struct archive_entry *e;
    archive_read_support_filter_all(u->raw);
    archive_read_support_format_raw(u->raw);
    if (archive_read_open_filename(u->raw, blob, sizeof u->buf) != ARCHIVE_OK)
        return berr_set(err, BERR_IO, "layer %.12s: cannot open %s: %s", u->id, blob,
                        strerror(archive_errno(u->raw) > 0 ? archive_errno(u->raw) : EIO));
    if (archive_read_next_header(u->raw, &e) != ARCHIVE_OK)
        return berr_set(err, BERR_INVALID, "layer %.12s: %s", u->id,
                        archive_error_string(u->raw));
    archive_read_support_format_tar(u->tar);
    if (archive_read_open(u->tar, u, NULL, pump, NULL) != ARCHIVE_OK)
        return berr_set(err, BERR_INVALID, "layer %.12s: %s", u->id,
                        archive_error_string(u->tar));
    return 0;
}

/* Extract the tar into the cwd and check its diff-id. */
static int extract(struct unpack *u, const char *diff_id, struct berr *err)
{
    struct archive_entry *e;
    /* no FFLAGS: an immutable file would make the layer impossible to
     * remove; numeric owners, as the image means them */
    archive_write_disk_set_options(u->disk, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
                                   ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
                                   ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                   ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    int rc;
    while ((rc = archive_read_next_header(u->tar, &e)) != ARCHIVE_EOF) {
        if (rc < ARCHIVE_WARN)
            return berr_set(err, BERR_INVALID, "layer %.12s: %s", u->id,
                            archive_error_string(u->tar));
        if ((rc = entry_extract(u, e, err)) < 0)
            return rc;
    }
    /* directory modes and times are fixed up here, relative to the cwd */
    if (archive_write_close(u->disk) != ARCHIVE_OK)
        return berr_set(err, BERR_IO, "layer %.12s: %s", u->id, archive_error_string(u->disk));
    la_ssize_t n;
    while ((n = archive_read_data(u->raw, u->buf, sizeof u->buf)) > 0)
        if (hasher_update(u->hash, u->buf, (size_t)n) < 0)
            return berr_set(err, BERR_IO, "layer %.12s: cannot hash", u->id);
    if (n < 0)
        return berr_set(err, BERR_INVALID, "layer %.12s: %s", u->id,
                        archive_error_string(u->raw));
    char got[DIGEST_MAX];
    if (hasher_final(u->hash, got) < 0 || strcmp(got, diff_id) != 0)
        return berr_set(err, BERR_DIGEST, "layer %.12s: content does not match its diff-id",
                        u->id);
    return 0;
}

/* Unpack into `tmp`, with it as the cwd for the time of extract(). */
static int unpack_into(const char *tmp, const char *blob, const char *diff_id,
                       enum digest_algo algo, struct unpack *u, struct berr *err)
{
    u->id = digest_hex(diff_id);
    if (!(u->raw = archive_read_new()) || !(u->tar = archive_read_new()) ||
        !(u->disk = archive_write_disk_new()) || !(u->hash = hasher_new(algo)))
        return berr_set(err, BERR_IO, "layer %.12s: out of memory", u->id);
    int rc = blob_open(u, blob, err);
    if (rc < 0)
        return rc;
    auto_close int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0 || chdir(tmp) < 0)
        return berr_set(err, BERR_IO, "layer %.12s: cannot enter %s: %s", u->id, tmp,
                        strerror(errno));
    rc = extract(u, diff_id, err);
    /* freeing applies what is still deferred (after an error), and that is
     * relative to the cwd: it must still be the layer's */
    archive_write_free(u->disk);
    u->disk = NULL;
    if (fchdir(cwd) < 0 && rc == 0)
        rc = berr_set(err, BERR_IO, "cannot return to the working directory: %s",
                      strerror(errno));
    if (rc == 0) {
        /* the files must be on disk before the name that says they are */
        auto_close int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || syncfs(fd) < 0)
            rc = berr_set(err, BERR_IO, "layer %.12s: sync: %s", u->id, strerror(errno));
    }
    return rc;
}

int layer_unpack(const char *layers, const char *blob, const char *diff_id, char *out,
                 size_t len, struct berr *err)
{
    enum digest_algo algo;
    if (digest_parse(diff_id, &algo) < 0)
        return berr_set(err, BERR_INVALID, "invalid diff-id \"%s\"", diff_id);
    const char *hex = digest_hex(diff_id);
    struct stat st;
    char tmp[PATH_MAX];
    if ((size_t)snprintf(out, len, "%s/%s", layers, hex) >= len ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.tmp-%s-XXXXXX", layers, hex) >= sizeof tmp)
        return berr_set(err, BERR_INVALID, "layer %.12s: path too long", hex);
    if (stat(out, &st) == 0)
        return 0;
    /* 0700: layers hold setuid binaries no user of the host may reach */
    if (mkdir_p(layers, 0700) < 0 || !mkdtemp(tmp) || chmod(tmp, 0755) < 0)
        return berr_set(err, BERR_IO, "layer %.12s: cannot create a directory in %s: %s",
                        hex, layers, strerror(errno));

    struct unpack *u = calloc(1, sizeof *u);
    int rc = u ? unpack_into(tmp, blob, diff_id, algo, u, err)
               : berr_set(err, BERR_IO, "layer %.12s: out of memory", hex);
    if (u) {
        archive_read_free(u->tar);   /* before `raw`, which its callback reads */
        archive_read_free(u->raw);
        archive_write_free(u->disk);
        hasher_free(u->hash);
        free(u);
    }
    if (rc == 0 && rename(tmp, out) < 0) {
        if (errno != EEXIST && errno != ENOTEMPTY)
            rc = berr_set(err, BERR_IO, "layer %.12s: rename: %s", hex, strerror(errno));
        rmtree(tmp);    /* another process unpacked it first */
    } else if (rc < 0) {
        rmtree(tmp);
    } else {
        fsync_dir(layers);
    }
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) < 0 ? -errno : 0;
}

int rmtree(const char *path)
{
    int rc = nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (rc == -1)
        rc = -errno;
    return rc == -ENOENT ? 0 : rc;
}
