/*
 * copy.c - where COPY and ADD put things, as whom, and the layer they make.
 *
 * copy_prepare (context.c) asks here for the step's target: --chown and
 * --chmod parsed, and the destination resolved; and for the parent
 * directories the destination needs. copy_layer streams the finished plan
 * into a layer tar (no file is held in memory), reading each file again
 * and checking that it is still what was hashed.
 *
 * Docker's rules, as its classic builder applies them:
 *  - the destination is relative to WORKDIR unless absolute, and resolved
 *    in the parent image's root so that a symlinked /lib or /var/run is
 *    followed;
 *  - it is a directory when it ends with '/', when there are several
 *    sources, or when the parent image has a directory there; missing
 *    parents are created 0755 and owned as what is copied, existing ones
 *    keep the image's metadata;
 *  - everything copied is owned by 0:0 unless --chown (names looked up in
 *    the parent image's /etc/passwd and /etc/group); --chmod sets the
 *    permission bits of what is copied; modes and mtimes are kept;
 *  - ADD unpacks a local tar archive (plain, gzip, bzip2, xz, zstd: what
 *    libarchive recognises by content) into the destination, with owners
 *    and modes as in the archive.
 */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* ---- --chown and --chmod ------------------------------------------------------------- */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Find `name` in a passwd or group file of the parent image: field 3 (the
 * ID), and for passwd field 4 (the primary group) in *gid. */
static int lookup_id(const char *root, const char *file, const char *name, unsigned long *id,
                     unsigned long *gid)
{
    if (!root)
        return -ENOENT;
    char real[2 * PATH_MAX], abs[3 * PATH_MAX];
    if (copy_resolve_scoped(root, file, NULL, real, sizeof real, NULL) < 0)
        return -ENOENT;
    snprintf(abs, sizeof abs, "%s/%s", root, real);
    FILE *f = fopen(abs, "re");
    if (!f)
        return -ENOENT;
    char *line = NULL;
    size_t cap = 0;
    int rc = -ESRCH;
    while (rc != 0 && getline(&line, &cap, f) > 0) {
        char *f0 = strtok(line, ":\n"), *f1 = f0 ? strtok(NULL, ":\n") : NULL,
             *f2 = f1 ? strtok(NULL, ":\n") : NULL, *f3 = f2 ? strtok(NULL, ":\n") : NULL;
        if (!f2 || strcmp(f0, name) != 0 || !all_digits(f2))
            continue;
        *id = strtoul(f2, NULL, 10);
        if (gid)
            *gid = f3 && all_digits(f3) ? strtoul(f3, NULL, 10) : *id;
        rc = 0;
    }
    free(line);
    fclose(f);
    return rc;
}

static int parse_chown(const struct copy_step *c, struct copy_plan *p, uid_t *uid, gid_t *gid,
                       struct berr *err)
{
    *uid = 0;
    *gid = 0;
    if (!c->chown || !*c->chown)
        return 0;
    char user[256], group[256];
    const char *colon = strchr(c->chown, ':');
    if (colon && strchr(colon + 1, ':'))
        return copy_fail(p, err, BERR_INVALID, "invalid chown string format: %s", c->chown);
    snprintf(user, sizeof user, "%.*s", colon ? (int)(colon - c->chown) : (int)strlen(c->chown),
             c->chown);
    snprintf(group, sizeof group, "%s", colon ? colon + 1 : "");
    unsigned long u = 0, g = 0, primary = 0;
    if (all_digits(user)) {
        u = primary = strtoul(user, NULL, 10);
    } else if (lookup_id(c->parent_root, "etc/passwd", user, &u, &primary) < 0) {
        return copy_fail(p, err, BERR_NOTFOUND,
                         "unable to convert uid/gid chown string to host mapping: can't find uid "
                         "for user %s: no such user: %s", user, user);
    }
    if (!colon) {
        g = primary;             /* a user alone: its own group */
    } else if (all_digits(group)) {
        g = strtoul(group, NULL, 10);
    } else if (lookup_id(c->parent_root, "etc/group", group, &g, NULL) < 0) {
        return copy_fail(p, err, BERR_NOTFOUND,
                         "unable to convert uid/gid chown string to host mapping: can't find gid "
                         "for group %s: no such group: %s", group, group);
    }
    if (u > UINT32_MAX - 1 || g > UINT32_MAX - 1)
        return copy_fail(p, err, BERR_INVALID, "invalid chown string format: %s", c->chown);
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}

static int parse_chmod(const struct copy_step *c, struct copy_plan *p, int *mode,
                       struct berr *err)
{
    *mode = -1;
    if (!c->chmod || !*c->chmod)
        return 0;
    char *end;
    unsigned long m = strtoul(c->chmod, &end, 8);
    if (*end || m > 07777 || !isdigit((unsigned char)c->chmod[0]))
        return copy_fail(p, err, BERR_INVALID,
                         "invalid chmod parameter: '%s'. it should be octal string and between 0 "
                         "and 07777", c->chmod);
    *mode = (int)m;
    return 0;
}

/* ---- ADD: archives and URLs ---------------------------------------------------------- */

/* Is the file a tar archive, plain or compressed, as libarchive reads it? */
bool copy_is_archive(const char *path)
{
    struct archive *a = archive_read_new();
    if (!a)
        return false;
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    struct archive_entry *e;
    bool ok = archive_read_open_filename(a, path, 64 << 10) == ARCHIVE_OK &&
              archive_read_next_header(a, &e) == ARCHIVE_OK;
    archive_read_free(a);
    return ok;
}

/* ---- the destination ----------------------------------------------------------------- */

/* The parents of `dir` (a real path relative to the image root, "" for
 * the root) and, with `self`, `dir` itself, as directory entries: with
 * their metadata from the parent image where they are there, else made
 * 0755 and owned as what is copied. */
int copy_add_parents(const struct copy_step *c, struct copy_plan *p, const char *dir, bool self,
                     uid_t uid, gid_t gid, struct berr *err)
{
    char prefix[2 * PATH_MAX];
    size_t len = strlen(dir);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    now.tv_nsec = 0;
    for (size_t i = 1; i <= len; i++) {
        if (i < len && dir[i] != '/')
            continue;
        if (i == len && !self)
            break;
        snprintf(prefix, sizeof prefix, "%.*s", (int)i, dir);
        struct stat st;
        bool there = false;
        if (c->parent_root) {
            char abs[3 * PATH_MAX];
            snprintf(abs, sizeof abs, "%s/%s", c->parent_root, prefix);
            if (lstat(abs, &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                    return copy_fail(p, err, BERR_CONFLICT, "failed to copy files: mkdir /%s: "
                                     "not a directory", prefix);
                there = true;
            }
        }
        struct centry *e = copy_entry_add(p, err);
        if (!e)
            return -BERR_IO;
        if (!(e->path = strdup(prefix)))
            return berr_set(err, BERR_IO, "out of memory");
        if (there) {
            e->mode = st.st_mode;
            e->uid = st.st_uid;
            e->gid = st.st_gid;
            e->mtime = st.st_mtim;
        } else {
            e->mode = S_IFDIR | 0755;
            e->uid = uid;
            e->gid = gid;
            e->mtime = now;
        }
    }
    return 0;
}

/* Where the sources go: dest made absolute against WORKDIR and resolved
 * in the parent image. */
static int resolve_dest(const struct copy_step *c, struct copy_plan *p, struct copy_target *t,
                        struct berr *err)
{
    const char *dest = c->dest && *c->dest ? c->dest : ".";
    char full[2 * PATH_MAX + 2];
    if (dest[0] == '/')
        snprintf(full, sizeof full, "%s", dest);
    else
        snprintf(full, sizeof full, "/%s/%s", c->workdir ? c->workdir : "", dest);
    size_t len = strlen(dest);
    const char *last = strrchr(dest, '/');
    last = last ? last + 1 : dest;
    t->is_dir = dest[len - 1] == '/' || !strcmp(last, ".") || !strcmp(last, "..");
    copy_clean_rooted(full, t->dir, sizeof t->dir);
    if (!c->parent_root)
        return 0;
    char real[2 * PATH_MAX];
    struct stat st;
    int r = copy_resolve_scoped(c->parent_root, t->dir, NULL, real, sizeof real, &st);
    if (r == -ENOTDIR)
        return copy_fail(p, err, BERR_CONFLICT, "failed to copy files: lstat /%s: not a directory",
                         t->dir);
    if (r < 0 && r != -ENOENT)
        return copy_fail(p, err, BERR_IO, "%s failed: %s: %s", p->cmd, full, strerror(-r));
    snprintf(t->dir, sizeof t->dir, "%s", real);
    if (r == 0 && S_ISDIR(st.st_mode))
        t->exists_dir = true;
    return 0;
}

/* The step's target: --chown and --chmod (*chmod -1: none), then dest. */
int copy_resolve_target(const struct copy_step *c, struct copy_plan *p, uid_t *uid, gid_t *gid,
                        int *chmod, struct copy_target *t, struct berr *err)
{
    int rc = parse_chown(c, p, uid, gid, err);
    if (rc == 0)
        rc = parse_chmod(c, p, chmod, err);
    if (rc == 0)
        rc = resolve_dest(c, p, t, err);
    return rc;
}

/* ---- copy_layer ---------------------------------------------------------------------- */

static int write_header(const struct copy_plan *p, struct archive *a, struct archive_entry *ae,
                        struct berr *err)
{
    /* ARCHIVE_WARN: a name not text in this locale, written as its bytes */
    if (archive_write_header(a, ae) < ARCHIVE_WARN)
        return copy_fail(p, err, BERR_IO, "%s failed: writing the layer: %s", p->cmd,
                         archive_error_string(a));
    return 0;
}

/* A regular file: its header (with its file capabilities, the one
 * extended attribute docker's builder copies) and its contents, read
 * again and checked against the hash the plan has. */
static int write_file(struct copy_plan *p, struct archive *a, struct archive_entry *ae,
                      const struct centry *e, struct berr *err)
{
    int fd = open(e->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return copy_fail(p, err, BERR_IO, "%s failed: open %s: %s", p->cmd, e->src,
                         strerror(errno));
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    char cap[256];
    ssize_t caplen = fgetxattr(fd, "security.capability", cap, sizeof cap);
    if (caplen > 0)
        archive_entry_xattr_add_entry(ae, "security.capability", cap, (size_t)caplen);
    int rc = write_header(p, a, ae, err);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (rc == 0 && (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)))
        rc = berr_set(err, BERR_IO, "sha256: cannot start");
    uint64_t left = e->size;
    while (rc == 0 && left > 0) {
        ssize_t n = read(fd, p->buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = copy_fail(p, err, BERR_IO, "%s failed: %s changed while it was copied", p->cmd,
                           e->src);
            break;
        }
        EVP_DigestUpdate(md, p->buf, (size_t)n);
        if (archive_write_data(a, p->buf, (size_t)n) != n)
            rc = copy_fail(p, err, BERR_IO, "%s failed: writing the layer: %s", p->cmd,
                           archive_error_string(a));
        left -= (uint64_t)n;
    }
    unsigned char d[32];
    if (rc == 0) {
        EVP_DigestFinal_ex(md, d, NULL);
        if (memcmp(d, e->sha, sizeof d) != 0 || read(fd, p->buf, 1) != 0)
            rc = copy_fail(p, err, BERR_IO, "%s failed: %s changed while it was copied", p->cmd,
                           e->src);
    }
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

/* "a/b/../c" under `dir`, kept inside it; NULL for the directory itself. */
static char *under(const char *dir, const char *name)
{
    char clean[2 * PATH_MAX];
    copy_clean_rooted(name, clean, sizeof clean);
    if (!*clean)
        return NULL;
    char *s = NULL;
    if (asprintf(&s, "%s%s%s", dir, *dir ? "/" : "", clean) < 0)
        return NULL;
    return s;
}

/* ADD of a local archive: its entries under the destination, as tar -x
 * would put them there (owners and modes as in the archive). */
static int write_archive(struct copy_plan *p, struct archive *a, const struct centry *e,
                         struct berr *err)
{
    char dir[2 * PATH_MAX];
    snprintf(dir, sizeof dir, "%s", e->path);
    dir[strlen(dir) - 1] = '\0';         /* the "\x01" that sorted it */
    struct archive *in = archive_read_new();
    if (!in)
        return berr_set(err, BERR_IO, "out of memory");
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    int rc = 0;
    if (archive_read_open_filename(in, e->src, COPY_CHUNK) != ARCHIVE_OK)
        rc = copy_fail(p, err, BERR_IO, "ADD failed: %s: %s", e->src, archive_error_string(in));
    struct archive_entry *ae;
    int r;
    while (rc == 0 && (r = archive_read_next_header(in, &ae)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ae);
        if (!name)
            name = archive_entry_pathname_utf8(ae);
        char *path = name ? under(dir, name) : NULL;
        if (!path)
            continue;                    /* "./": the destination keeps its own */
        archive_entry_set_pathname(ae, path);
        free(path);
        const char *hl = archive_entry_hardlink(ae);
        if (hl) {
            char *target = under(dir, hl);
            if (!target) {
                rc = copy_fail(p, err, BERR_INVALID, "ADD failed: %s: a hard link to the directory",
                               e->src);
                break;
            }
            archive_entry_set_hardlink(ae, target);
            free(target);
        }
        if ((rc = write_header(p, a, ae, err)) < 0)
            break;
        const void *buf;
        size_t len;
        la_int64_t off;
        while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK) {
            if (archive_write_data(a, buf, len) != (la_ssize_t)len) {
                rc = copy_fail(p, err, BERR_IO, "ADD failed: writing the layer: %s",
                               archive_error_string(a));
                break;
            }
        }
        if (rc == 0 && r != ARCHIVE_EOF)
            rc = copy_fail(p, err, BERR_IO, "ADD failed: %s: %s", e->src, archive_error_string(in));
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = copy_fail(p, err, BERR_IO, "ADD failed: %s: %s", e->src, archive_error_string(in));
    archive_read_free(in);
    return rc;
}

static int write_entry(struct copy_plan *p, struct archive *a, const struct centry *e,
                       struct berr *err)
{
    if (e->archive)
        return write_archive(p, a, e, err);
    struct archive_entry *ae = archive_entry_new();
    if (!ae)
        return berr_set(err, BERR_IO, "out of memory");
    archive_entry_set_pathname(ae, e->path);
    archive_entry_set_mode(ae, e->mode);
    archive_entry_set_uid(ae, e->uid);
    archive_entry_set_gid(ae, e->gid);
    archive_entry_set_mtime(ae, e->mtime.tv_sec, e->mtime.tv_nsec);
    if (e->hardlink) {
        archive_entry_set_hardlink(ae, e->link);
        archive_entry_set_size(ae, 0);
    } else if (S_ISREG(e->mode)) {
        archive_entry_set_size(ae, (la_int64_t)e->size);
    } else if (S_ISLNK(e->mode)) {
        archive_entry_set_symlink(ae, e->link);
    } else if (S_ISCHR(e->mode) || S_ISBLK(e->mode)) {
        archive_entry_set_rdev(ae, e->rdev);
    }
    int rc = S_ISREG(e->mode) && !e->hardlink ? write_file(p, a, ae, e, err)
                                              : write_header(p, a, ae, err);
    archive_entry_free(ae);
    return rc;
}

int copy_layer(struct berth_store *s, struct copy_plan *p, struct berth_layer *out,
               struct berr *err)
{
    struct berth_layer_writer *w = NULL;
    int rc = berth_layer_new(s, &w, err);
    if (rc < 0)
        return rc;
    struct archive *a = berth_layer_archive(w);
    for (size_t i = 0; rc == 0 && i < p->n; i++)
        rc = write_entry(p, a, &p->v[i], err);
    if (rc == 0)
        rc = berth_layer_finish(w, out, err);
    berth_layer_free(w);
    return rc;
}
