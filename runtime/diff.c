/*
 * diff.c - a container's changes as a layer: its overlay upper directory,
 * read back into a tar as docker's layers are (paths relative, no leading
 * "/"; directories end in "/").
 *
 * The upper directory holds exactly what changed, in overlayfs's words;
 * they become the OCI image spec's: a deleted file or directory (a 0/0
 * character device) is a ".wh.<name>" entry, a directory whose lower
 * contents are hidden (trusted.overlay.opaque or user.overlay.opaque "y")
 * is the directory followed by its ".wh..wh..opq". Files come with their
 * mode, owner, times and the xattrs an image keeps (user.*,
 * security.capability); names of the same inode become hard links to the
 * first one written. The overlay is mounted without redirect_dir and
 * metacopy (rootfs.c), so every changed file and renamed directory is in
 * the upper directory whole. What the runtime itself put there (the mount
 * points /proc, /sys, /dev and the bind-mounted /etc/hosts, /etc/hostname,
 * /etc/resolv.conf) is not the container's change and is left out, as
 * docker's init layer keeps it out of a commit.
 *
 * The walk is in name order, so the same changes make the same layer.
 */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* made by the runtime, not by the container */
static const char *const runtime_paths[] = {
    "proc", "sys", "dev", "etc/hosts", "etc/hostname", "etc/resolv.conf",
};

struct inode_seen {
    dev_t dev;
    ino_t ino;
    char *path;              /* the name it was first written under */
};

struct diff {
    struct archive *a;
    const char *upper;
    size_t upper_len;
    const char *id;          /* short container id, for messages */
    struct inode_seen *seen;
    size_t nseen, cap;
    char buf[64 * 1024];
};

static int by_name(const FTSENT **a, const FTSENT **b)
{
    return strcmp((*a)->fts_name, (*b)->fts_name);
}

static bool runtime_path(const char *rel)
{
    for (size_t i = 0; i < sizeof runtime_paths / sizeof *runtime_paths; i++)
        if (strcmp(rel, runtime_paths[i]) == 0)
            return true;
    return false;
}

static bool xattr_kept(const char *name)
{
    return (strncmp(name, "user.", 5) == 0 && strncmp(name, "user.overlay.", 13) != 0) ||
           strcmp(name, "security.capability") == 0;
}

static bool is_opaque(const char *path)
{
    char v[4];
    ssize_t n = lgetxattr(path, "trusted.overlay.opaque", v, sizeof v);
    if (n != 1)
        n = lgetxattr(path, "user.overlay.opaque", v, sizeof v);
    return n == 1 && v[0] == 'y';
}

static int add_xattrs(struct diff *d, struct archive_entry *e, const char *path)
{
    char names[8192], value[65536];
    ssize_t n = llistxattr(path, names, sizeof names);
    if (n < 0)
        return errno == ENOTSUP ? 0 : -errno;
    for (char *name = names; name < names + n; name += strlen(name) + 1) {
        if (!xattr_kept(name))
            continue;
        ssize_t v = lgetxattr(path, name, value, sizeof value);
        if (v < 0)
            return -errno;
        archive_entry_xattr_add_entry(e, name, value, (size_t)v);
    }
    (void)d;
    return 0;
}

static int write_header(struct diff *d, struct archive_entry *e, const char *rel,
                        struct berr *err)
{
    /* ARCHIVE_WARN: a name that is not text in this locale (a UTF-8
     * symlink target under LANG=C, as ca-certificates has) was written
     * as its bytes, which is what a layer should hold */
    if (archive_write_header(d->a, e) < ARCHIVE_WARN)
        return berr_set(err, BERR_IO, "container %.12s: %s: %s", d->id, rel,
                        archive_error_string(d->a));
    return 0;
}

/* A ".wh." entry: an empty regular file, as docker writes them. */
static int write_marker(struct diff *d, const char *dir, const char *name,
                        const struct stat *st, struct berr *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s%s.wh.%s", dir, *dir ? "/" : "", name);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0);
    archive_entry_set_size(e, 0);
    archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    int rc = write_header(d, e, path, err);
    archive_entry_free(e);
    return rc;
}

/* The first name of a multiply-linked inode, or NULL (and it is recorded). */
static const char *link_target(struct diff *d, const struct stat *st, const char *rel)
{
    if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
        return NULL;
    for (size_t i = 0; i < d->nseen; i++)
        if (d->seen[i].dev == st->st_dev && d->seen[i].ino == st->st_ino)
            return d->seen[i].path;
    if (d->nseen == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        struct inode_seen *v = realloc(d->seen, cap * sizeof *v);
        if (!v)
            return NULL;
        d->seen = v;
        d->cap = cap;
    }
    char *copy = strdup(rel);
    if (copy)
        d->seen[d->nseen++] = (struct inode_seen){st->st_dev, st->st_ino, copy};
    return NULL;
}

static int write_data(struct diff *d, const char *path, const char *rel, struct berr *err)
{
    auto_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return berr_set(err, BERR_IO, "container %.12s: cannot read %s: %s", d->id, rel,
                        strerror(errno));
    for (;;) {
        ssize_t n = read(fd, d->buf, sizeof d->buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return berr_set(err, BERR_IO, "container %.12s: cannot read %s: %s", d->id, rel,
                            strerror(errno));
        if (n == 0)
            return 0;
        if (archive_write_data(d->a, d->buf, (size_t)n) != n)
            return berr_set(err, BERR_IO, "container %.12s: %s: %s", d->id, rel,
                            archive_error_string(d->a));
    }
}

static int write_entry(struct diff *d, FTSENT *f, const char *rel, struct berr *err)
{
    const struct stat *st = f->fts_statp;
    char dir[4200];
    const char *slash = strrchr(rel, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - rel) : 0, rel);
    if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0)
        return write_marker(d, dir, f->fts_name, st, err);
    if (S_ISSOCK(st->st_mode))
        return 0;   /* as docker: a socket cannot be in a tar */

    struct archive_entry *e = archive_entry_new();
    archive_entry_copy_stat(e, st);
    archive_entry_set_uname(e, "");
    archive_entry_set_gname(e, "");
    char name[4200], target[4200];
    snprintf(name, sizeof name, "%s%s", rel, S_ISDIR(st->st_mode) ? "/" : "");
    archive_entry_set_pathname(e, name);
    int rc = add_xattrs(d, e, f->fts_accpath);
    if (rc < 0) {
        archive_entry_free(e);
        return berr_set(err, BERR_IO, "container %.12s: %s: xattrs: %s", d->id, rel,
                        strerror(-rc));
    }
    const char *first = link_target(d, st, rel);
    if (first) {
        archive_entry_set_hardlink(e, first);
        archive_entry_set_size(e, 0);
    } else if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlink(f->fts_accpath, target, sizeof target - 1);
        if (n < 0) {
            archive_entry_free(e);
            return berr_set(err, BERR_IO, "container %.12s: %s: %s", d->id, rel,
                            strerror(errno));
        }
        target[n] = '\0';
        archive_entry_set_symlink(e, target);
        archive_entry_set_size(e, 0);
    } else if (!S_ISREG(st->st_mode)) {
        archive_entry_set_size(e, 0);
    }
    rc = write_header(d, e, rel, err);
    archive_entry_free(e);
    if (rc == 0 && !first && S_ISREG(st->st_mode) && st->st_size > 0)
        rc = write_data(d, f->fts_accpath, rel, err);
    if (rc == 0 && S_ISDIR(st->st_mode) && is_opaque(f->fts_accpath))
        rc = write_marker(d, rel, ".wh..opq", st, err);
    return rc;
}

static int walk(struct diff *d, struct berr *err)
{
    char *roots[] = {(char *)d->upper, NULL};
    FTS *fts = fts_open(roots, FTS_PHYSICAL | FTS_NOCHDIR | FTS_XDEV, by_name);
    if (!fts)
        return berr_set(err, BERR_IO, "container %.12s: cannot read %s: %s", d->id, d->upper,
                        strerror(errno));
    int rc = 0;
    FTSENT *f;
    while (rc == 0 && (f = fts_read(fts))) {
        if (f->fts_level == 0 || f->fts_info == FTS_DP)
            continue;
        const char *rel = f->fts_path + d->upper_len + 1;
        if (f->fts_info == FTS_DNR || f->fts_info == FTS_ERR || f->fts_info == FTS_NS) {
            rc = berr_set(err, BERR_IO, "container %.12s: cannot read %s: %s", d->id, rel,
                          strerror(f->fts_errno));
            break;
        }
        if (runtime_path(rel)) {
            if (f->fts_info == FTS_D)
                fts_set(fts, f, FTS_SKIP);
            continue;
        }
        rc = write_entry(d, f, rel, err);
    }
    fts_close(fts);
    return rc;
}

/* The container's upper directory into `a`. */
static int diff_write(struct berth_store *s, const char *id, struct archive *a,
                      struct berr *err)
{
    char upper[4200];
    state_dir(s, id, upper, sizeof upper);
    strcat(upper, "/upper");
    struct stat st;
    if (stat(upper, &st) < 0 || !S_ISDIR(st.st_mode))
        return berr_set(err, BERR_NOTFOUND, "container %.12s has no file system to commit", id);
    struct diff *d = calloc(1, sizeof *d);
    if (!d)
        return berr_set(err, BERR_IO, "out of memory");
    *d = (struct diff){.a = a, .upper = upper, .upper_len = strlen(upper), .id = id};
    int rc = walk(d, err);
    for (size_t i = 0; i < d->nseen; i++)
        free(d->seen[i].path);
    free(d->seen);
    free(d);
    return rc;
}

int rt_container_layer_write(struct berth_store *s, const char *what,
                             struct berth_layer_writer *w, struct berr *err)
{
    char id[RT_ID_LEN + 1];
    json_t *state;
    int rc = state_find(s, what, id, &state, err);
    if (rc < 0)
        return rc;
    json_decref(state);
    return diff_write(s, id, berth_layer_archive(w), err);
}

int rt_container_layer(struct berth_store *s, const char *what, bool pause,
                       struct berth_layer *layer, char image[DIGEST_MAX], json_t **config,
                       struct berr *err)
{
    char id[RT_ID_LEN + 1];
    json_t *state;
    if (config)
        *config = NULL;
    int rc = state_find(s, what, id, &state, err);
    if (rc < 0)
        return rc;
    snprintf(image, DIGEST_MAX, "%s", json_string_value(json_object_get(state, "Image"))
                                          ? json_string_value(json_object_get(state, "Image"))
                                          : "");
    bool running = json_is_true(json_object_get(json_object_get(state, "State"), "Running"));
    json_t *cfg = json_incref(json_object_get(state, "Config"));
    json_decref(state);
    if (!image[0]) {
        json_decref(cfg);
        return berr_set(err, BERR_INVALID, "container %.12s has no image", id);
    }

    struct berth_layer_writer *w = NULL;
    rc = berth_layer_new(s, &w, err);
    /* frozen as late as possible and thawed whatever happens */
    bool frozen = false;
    if (rc == 0 && pause && running) {
        int f = cgroup_freeze(id, true, err);
        if (f < 0)
            rc = f;
        frozen = f == 0;
    }
    if (rc == 0)
        rc = diff_write(s, id, berth_layer_archive(w), err);
    if (frozen) {
        struct berr e2 = {0};
        int t = cgroup_freeze(id, false, &e2);
        if (t < 0 && rc == 0) {
            *err = e2;
            rc = t;
        }
    }
    if (rc == 0)
        rc = berth_layer_finish(w, layer, err);
    if (w)
        berth_layer_free(w);
    if (rc == 0 && config)
        *config = cfg;
    else
        json_decref(cfg);
    return rc;
}
