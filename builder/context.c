/*
 * context.c - the build context, and the sources of COPY and ADD.
 *
 * A COPY or ADD is done in two passes. copy_prepare resolves the sources
 * (globs, directories, symlinks followed inside the context only, files
 * that .dockerignore hides left out, URLs fetched to a temporary file by
 * fetch.c) and the destination (copy.c), and makes a plan: the list of
 * entries the layer will hold, with the parent directories the
 * destination needs, each with its final path, mode, owner, size and the
 * sha256 of its contents. Every file is read once here, hashed as it is
 * read; the hash of the whole plan is the build cache's, and docker's
 * classic builder text "COPY file:<hex> in /dest " goes in the history.
 * copy_layer (copy.c) then streams the plan into a layer tar.
 *
 * Docker's rules for sources, as its classic builder applies them:
 *  - sources are relative to the context root ("/x" too); one that leads
 *    out of it ("../x") is refused: "COPY failed: forbidden path outside
 *    the build context: ../x ()". A symlink is followed as if the context
 *    were "/": it never reaches outside;
 *  - a glob is matched against paths of the context by Go's filepath.Match
 *    rules ('*' does not cross '/', a leading dot is not special);
 *  - a directory source copies its contents, not itself; symlinks in it
 *    are copied as links, hard links among the copied files stay links;
 *  - several sources (or a glob) need a destination ending with '/'.
 *
 * The plan (struct copy_plan, internal.h) is what context.c, copy.c and
 * fetch.c share; each keeps the rest of its work to itself.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_LINKS 40             /* symlinks followed while resolving one path */
#define IGNORE_MAX (4 << 20)     /* a .dockerignore larger than this is refused */

/* ---- the context --------------------------------------------------------------------- */

struct bctx {
    char *root;                  /* the real path of the context, NULL: none */
    struct df_ignore *ig;        /* its .dockerignore, NULL: none */
};

int bctx_open(const char *dir, struct bctx **out, struct berr *err)
{
    struct bctx *c = calloc(1, sizeof *c);
    if (!c)
        return berr_set(err, BERR_IO, "out of memory");
    *out = c;
    if (!dir)
        return 0;
    c->root = realpath(dir, NULL);
    struct stat st;
    if (!c->root || stat(c->root, &st) < 0) {
        bctx_free(c);
        *out = NULL;
        return berr_set(err, BERR_NOTFOUND, "unable to prepare context: path \"%s\" not found",
                        dir);
    }
    if (!S_ISDIR(st.st_mode)) {
        bctx_free(c);
        *out = NULL;
        return berr_set(err, BERR_INVALID,
                        "unable to prepare context: context must be a directory: %s", dir);
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/.dockerignore", c->root);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > IGNORE_MAX) {
        rc = berr_set(err, BERR_INVALID, "cannot read .dockerignore: not a file of at most 4 MiB");
    } else if (!(text = malloc((size_t)st.st_size + 1))) {
        rc = berr_set(err, BERR_IO, "out of memory");
    } else {
        ssize_t n;
        while (len < (size_t)st.st_size &&
               (n = read(fd, text + len, (size_t)st.st_size - len)) > 0)
            len += (size_t)n;
        text[len] = '\0';
        rc = df_ignore_parse(text, len, &c->ig, err);
    }
    free(text);
    close(fd);
    if (rc < 0) {
        bctx_free(c);
        *out = NULL;
    }
    return rc;
}

void bctx_free(struct bctx *c)
{
    if (!c)
        return;
    if (c->ig)
        df_ignore_free(c->ig);
    free(c->root);
    free(c);
}

/* Is `rel` (a real path relative to the context) left out of it? An
 * excluded directory that a "!" pattern may reopen is still there. */
static bool hidden(const struct df_ignore *ig, const char *rel, bool dir)
{
    if (!ig || !*rel || !df_ignore_match(ig, rel))
        return false;
    return !(dir && df_ignore_may_reinclude(ig, rel));
}

/* ---- the plan ------------------------------------------------------------------------ */

static void entry_clear(struct centry *e)
{
    free(e->path);
    free(e->src);
    free(e->link);
}

static int rmtree_at(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[PATH_MAX + 256];
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            if (de->d_type == DT_DIR)
                rmtree_at(sub);
            else
                unlink(sub);
        }
        closedir(d);
    }
    return rmdir(path);
}

void copy_plan_free(struct copy_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        entry_clear(&p->v[i]);
    free(p->v);
    for (size_t i = 0; i < p->ninfos; i++)
        EVP_MD_CTX_free(p->infos[i].md);
    free(p->infos);
    if (p->tmpdir) {
        rmtree_at(p->tmpdir);
        free(p->tmpdir);
    }
    free(p->buf);
    free(p);
}

/* An error of this step: "Dockerfile:7: COPY failed: ..." */
int copy_fail(const struct copy_plan *p, struct berr *err, int code, const char *fmt, ...)
{
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->line && *p->line)
        return berr_set(err, code, "%s: %s", p->line, msg);
    return berr_set(err, code, "%s", msg);
}

struct centry *copy_entry_add(struct copy_plan *p, struct berr *err)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct centry *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            berr_set(err, BERR_IO, "out of memory");
            return NULL;
        }
        p->v = v;
        p->cap = cap;
    }
    struct centry *e = &p->v[p->n];
    memset(e, 0, sizeof *e);
    e->seq = p->n++;
    e->info = -1;
    return e;
}

static int info_add(struct copy_plan *p, bool dir, struct berr *err)
{
    struct cinfo *v = realloc(p->infos, (p->ninfos + 1) * sizeof *v);
    if (!v)
        return berr_set(err, BERR_IO, "out of memory");
    p->infos = v;
    v[p->ninfos].dir = dir;
    v[p->ninfos].md = EVP_MD_CTX_new();
    if (!v[p->ninfos].md || !EVP_DigestInit_ex(v[p->ninfos].md, EVP_sha256(), NULL))
        return berr_set(err, BERR_IO, "sha256: cannot start");
    return (int)p->ninfos++;
}

static char *join(const char *a, const char *b)
{
    char *s = NULL;
    if (!*a)
        return strdup(b);
    if (!*b)
        return strdup(a);
    if (asprintf(&s, "%s/%s", a, b) < 0)
        return NULL;
    return s;
}

/* ---- paths --------------------------------------------------------------------------- */

/* Clean a slash-separated path lexically, as Go's path.Clean does for a
 * rooted one: no "", "." or ".." components; ".." above the top is
 * dropped. The result has no leading or trailing '/' ("" for the top). */
void copy_clean_rooted(const char *in, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    while (*in) {
        while (*in == '/')
            in++;
        const char *e = strchrnul(in, '/');
        size_t cl = (size_t)(e - in);
        if (cl == 0 || (cl == 1 && in[0] == '.')) {
        } else if (cl == 2 && in[0] == '.' && in[1] == '.') {
            char *s = strrchr(out, '/');
            n = s ? (size_t)(s - out) : 0;
            out[n] = '\0';
        } else if (n + cl + 2 < len) {
            if (n)
                out[n++] = '/';
            memcpy(out + n, in, cl);
            n += cl;
            out[n] = '\0';
        }
        in = e;
    }
}

/* Does a relative path lead above its top ("../x", "a/../../x")? */
static bool leads_out(const char *rel)
{
    int depth = 0;
    while (*rel) {
        while (*rel == '/')
            rel++;
        const char *e = strchrnul(rel, '/');
        size_t cl = (size_t)(e - rel);
        if (cl == 2 && rel[0] == '.' && rel[1] == '.') {
            if (--depth < 0)
                return true;
        } else if (cl && !(cl == 1 && rel[0] == '.')) {
            depth++;
        }
        rel = e;
    }
    return false;
}

/* Resolve `rel` inside `root` as if root were "/": symlinks are followed
 * (an absolute target starts again at root, ".." stops at root), so
 * nothing outside is reached. `out` gets the real path relative to root
 * ("" for root itself). On -ENOENT, `out` is what was resolved followed
 * by the rest of the path, cleaned. `ig`: what it hides does not exist. */
int copy_resolve_scoped(const char *root, const char *rel, const struct df_ignore *ig,
                        char *out, size_t outlen, struct stat *st_out)
{
    char todo[2 * PATH_MAX], next[2 * PATH_MAX], abs[2 * PATH_MAX + 64];
    snprintf(todo, sizeof todo, "%s", rel);
    size_t olen = 0;
    out[0] = '\0';
    int links = 0;
    const char *p = todo;
    struct stat st;
    if (lstat(root, &st) < 0)
        return -errno;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchrnul(p, '/');
        size_t cl = (size_t)(e - p);
        if (cl == 1 && p[0] == '.') {
            p = e;
            continue;
        }
        if (cl == 2 && p[0] == '.' && p[1] == '.') {
            char *s = strrchr(out, '/');
            olen = s ? (size_t)(s - out) : 0;
            out[olen] = '\0';
            p = e;
            if (lstat(olen ? (snprintf(abs, sizeof abs, "%s/%s", root, out), abs) : root,
                      &st) < 0)
                return -errno;
            continue;
        }
        size_t save = olen;
        if (olen + cl + 2 >= outlen)
            return -ENAMETOOLONG;
        if (olen)
            out[olen++] = '/';
        memcpy(out + olen, p, cl);
        olen += cl;
        out[olen] = '\0';
        p = e;
        snprintf(abs, sizeof abs, "%s/%s", root, out);
        int rc = lstat(abs, &st) < 0                      ? -errno
                 : hidden(ig, out, S_ISDIR(st.st_mode)) ? -ENOENT
                                                        : 0;
        if (rc < 0) {
            if (rc == -ENOENT) {
                char rest[2 * PATH_MAX];
                snprintf(rest, sizeof rest, "%s/%s", out, p);
                copy_clean_rooted(rest, out, outlen);
            }
            return rc;
        }
        if (S_ISLNK(st.st_mode)) {
            if (++links > MAX_LINKS)
                return -ELOOP;
            char target[PATH_MAX];
            ssize_t n = readlink(abs, target, sizeof target - 1);
            if (n < 0)
                return -errno;
            target[n] = '\0';
            olen = target[0] == '/' ? 0 : save;
            out[olen] = '\0';
            if ((size_t)snprintf(next, sizeof next, "%s%s", target, p) >= sizeof next)
                return -ENAMETOOLONG;
            memcpy(todo, next, sizeof todo);
            p = todo;
            if (olen == 0 && lstat(root, &st) < 0)
                return -errno;
            continue;
        }
        const char *q = p;
        while (*q == '/')
            q++;
        if (*q && !S_ISDIR(st.st_mode))
            return -ENOTDIR;
    }
    if (st_out)
        *st_out = st;
    return 0;
}

/* ---- reading sources ----------------------------------------------------------------- */

/* Hash a regular file's contents (one read of it). */
static int hash_file(struct copy_plan *p, const char *path, uint64_t size, unsigned char sha[32],
                     struct berr *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return copy_fail(p, err, BERR_IO, "%s failed: open %s: %s", p->cmd, path, strerror(errno));
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL)
                 ? 0 : berr_set(err, BERR_IO, "sha256: cannot start");
    uint64_t total = 0;
    ssize_t n;
    while (rc == 0 && (n = read(fd, p->buf, COPY_CHUNK)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = copy_fail(p, err, BERR_IO, "%s failed: read %s: %s", p->cmd, path,
                           strerror(errno));
            break;
        }
        EVP_DigestUpdate(md, p->buf, (size_t)n);
        total += (uint64_t)n;
    }
    if (rc == 0 && total != size)
        rc = copy_fail(p, err, BERR_IO, "%s failed: %s changed while it was read", p->cmd, path);
    if (rc == 0)
        EVP_DigestFinal_ex(md, sha, NULL);
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

struct walk {
    struct copy_plan *p;
    const char *root;            /* of the sources (the context, or --from's root) */
    const struct df_ignore *ig;
    uid_t uid;
    gid_t gid;
    int chmod;                   /* -1: none */
    int info;
};

/* One entry found in a source: its layer path, where it is, its stat. */
static int add_found(struct walk *w, const char *lpath, const char *abs, const struct stat *st,
                     struct berr *err)
{
    struct copy_plan *p = w->p;
    struct centry *e = copy_entry_add(p, err);
    if (!e)
        return -BERR_IO;
    e->info = w->info;
    e->path = strdup(lpath);
    e->src = strdup(abs);
    if (!e->path || !e->src)
        return berr_set(err, BERR_IO, "out of memory");
    e->mode = st->st_mode;
    if (w->chmod >= 0 && !S_ISLNK(st->st_mode))
        e->mode = (st->st_mode & S_IFMT) | (mode_t)w->chmod;
    e->uid = w->uid;
    e->gid = w->gid;
    e->mtime = st->st_mtim;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->nlink = st->st_nlink;
    if (S_ISREG(st->st_mode)) {
        e->size = (uint64_t)st->st_size;
        return hash_file(p, abs, e->size, e->sha, err);
    }
    if (S_ISLNK(st->st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(abs, target, sizeof target - 1);
        if (n < 0)
            return copy_fail(p, err, BERR_IO, "%s failed: readlink %s: %s", p->cmd, abs,
                             strerror(errno));
        target[n] = '\0';
        if (!(e->link = strdup(target)))
            return berr_set(err, BERR_IO, "out of memory");
        return 0;
    }
    if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
        e->rdev = st->st_rdev;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory, sorted (Go's Walk order); NULL-terminated. */
static char **dir_names(int dfd, size_t *count)
{
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    struct dirent *de;
    while (v && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n + 1 >= cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        if (!(v[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (!v)
        return NULL;
    v[n] = NULL;
    qsort(v, n, sizeof *v, cmp_names);
    *count = n;
    return v;
}

static void names_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static int walk_tree(struct walk *w, int dfd, const char *rel, const char *abs, const char *lpath,
                     size_t *added, struct berr *err);

/* walk_tree of the directory `name` in `dfd`. */
static int walk_subdir(struct walk *w, int dfd, const char *name, const char *rel,
                       const char *abs, const char *lpath, size_t *added, struct berr *err)
{
    int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return copy_fail(w->p, err, BERR_IO, "%s failed: open %s: %s", w->p->cmd, abs,
                         strerror(errno));
    int rc = walk_tree(w, sub, rel, abs, lpath, added, err);
    close(sub);
    return rc;
}

/* Add what is under the directory `dfd` (at `rel` in the source root,
 * `abs` on disk) to the layer under `lpath`. `*added` counts the entries
 * added, so that an excluded directory a "!" pattern reopens is added
 * only when something under it is. */
static int walk_tree(struct walk *w, int dfd, const char *rel, const char *abs, const char *lpath,
                     size_t *added, struct berr *err)
{
    size_t n = 0;
    char **names = dir_names(dfd, &n);
    if (!names)
        return copy_fail(w->p, err, BERR_IO, "%s failed: reading %s: %s", w->p->cmd, abs,
                         strerror(errno ? errno : ENOMEM));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *crel = join(rel, names[i]), *cabs = join(abs, names[i]),
             *clp = join(lpath, names[i]);
        struct stat st;
        if (!crel || !cabs || !clp) {
            rc = berr_set(err, BERR_IO, "out of memory");
        } else if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno != ENOENT)
                rc = copy_fail(w->p, err, BERR_IO, "%s failed: lstat %s: %s", w->p->cmd, cabs,
                               strerror(errno));
        } else if (S_ISSOCK(st.st_mode)) {
            /* sockets are not copied (nor sent with a context) */
        } else if (w->ig && df_ignore_match(w->ig, crel)) {
            if (S_ISDIR(st.st_mode) && df_ignore_may_reinclude(w->ig, crel)) {
                size_t under = 0;
                rc = walk_subdir(w, dfd, names[i], crel, cabs, clp, &under, err);
                if (rc == 0 && under) {
                    rc = add_found(w, clp, cabs, &st, err);
                    *added += under + 1;
                }
            }
        } else {
            rc = add_found(w, clp, cabs, &st, err);
            (*added)++;
            if (rc == 0 && S_ISDIR(st.st_mode))
                rc = walk_subdir(w, dfd, names[i], crel, cabs, clp, added, err);
        }
        free(crel);
        free(cabs);
        free(clp);
    }
    names_free(names);
    return rc;
}

/* ---- globs --------------------------------------------------------------------------- */

/* Has the source a glob character (a backslash escapes the next one)? */
static bool has_wildcards(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' && s[1])
            s++;
        else if (*s == '*' || *s == '?' || *s == '[')
            return true;
    }
    return false;
}

struct matches {
    char **v;
    size_t n;
};

/* The paths under `rel` that match the pattern's components from `k` on,
 * in Go's Walk order; what .dockerignore hides is not there. Directories
 * are searched only as deep as the pattern goes. */
static int glob_dir(const char *root, const struct df_ignore *ig, const char *rel, char **comps,
                    size_t ncomps, size_t k, struct matches *m)
{
    char abs[2 * PATH_MAX];
    snprintf(abs, sizeof abs, "%s%s%s", root, *rel ? "/" : "", rel);
    int dfd = open(abs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    size_t n = 0;
    char **names = dir_names(dfd, &n);
    int rc = names ? 0 : -BERR_IO;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (fnmatch(comps[k], names[i], FNM_PATHNAME) != 0)
            continue;
        char *crel = join(rel, names[i]);
        struct stat st;
        if (!crel) {
            rc = -BERR_IO;
            break;
        }
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            hidden(ig, crel, S_ISDIR(st.st_mode))) {
            free(crel);
            continue;
        }
        if (k + 1 == ncomps) {
            char **v = realloc(m->v, (m->n + 1) * sizeof *v);
            if (!v) {
                free(crel);
                rc = -BERR_IO;
                break;
            }
            m->v = v;
            m->v[m->n++] = crel;
            continue;
        }
        if (S_ISDIR(st.st_mode))
            rc = glob_dir(root, ig, crel, comps, ncomps, k + 1, m);
        free(crel);
    }
    names_free(names);
    close(dfd);
    return rc;
}

static int glob_source(const char *root, const struct df_ignore *ig, const char *pattern,
                       struct matches *m)
{
    char *copy = strdup(pattern);
    if (!copy)
        return -BERR_IO;
    char *comps[PATH_MAX / 2];
    size_t n = 0;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c && n < PATH_MAX / 2;
         c = strtok_r(NULL, "/", &save))
        if (strcmp(c, ".") != 0)
            comps[n++] = c;
    int rc = n ? glob_dir(root, ig, "", comps, n, 0, m) : 0;
    free(copy);
    return rc;
}

static bool is_url(const char *s)
{
    return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* ---- sorting and hashing the plan ---------------------------------------------------- */

static int cmp_entries(const void *a, const void *b)
{
    const struct centry *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void to_hex(const unsigned char *d, char *out)
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void hash_entry(EVP_MD_CTX *md, const struct centry *e)
{
    char line[PATH_MAX * 3];
    char hex[65] = "";
    if (S_ISREG(e->mode) || e->archive)
        to_hex(e->sha, hex);
    int n = snprintf(line, sizeof line, "%s%c%o%c%u:%u%c%llu%c%s%c%s%c%s%c%u:%u\n", e->path, 0,
                     (unsigned)e->mode, 0, (unsigned)e->uid, (unsigned)e->gid, 0,
                     (unsigned long long)e->size, 0, hex, 0, e->hardlink ? "hardlink" : "", 0,
                     e->link ? e->link : "", 0, major(e->rdev), minor(e->rdev));
    EVP_DigestUpdate(md, line, n < (int)sizeof line ? (size_t)n : sizeof line);
    if (e->archive)
        EVP_DigestUpdate(md, "archive\n", 8);
}

struct ino_ref {
    dev_t dev;
    ino_t ino;
    size_t at;
};

static int cmp_inos(const void *a, const void *b)
{
    const struct ino_ref *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Files copied more than once under one inode (hard links among the
 * sources) become hard links to the first of them in the layer. */
static int link_hardlinks(struct copy_plan *p, struct berr *err)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += S_ISREG(p->v[i].mode) && p->v[i].nlink > 1 && p->v[i].src && !p->v[i].archive;
    if (n < 2)
        return 0;
    struct ino_ref *v = malloc(n * sizeof *v);
    if (!v)
        return berr_set(err, BERR_IO, "out of memory");
    n = 0;
    for (size_t i = 0; i < p->n; i++)
        if (S_ISREG(p->v[i].mode) && p->v[i].nlink > 1 && p->v[i].src && !p->v[i].archive)
            v[n++] = (struct ino_ref){ p->v[i].dev, p->v[i].ino, i };
    qsort(v, n, sizeof *v, cmp_inos);
    int rc = 0;
    for (size_t i = 1; rc == 0 && i < n; i++) {
        size_t first = i - 1;
        while (i < n && v[i].dev == v[first].dev && v[i].ino == v[first].ino) {
            struct centry *e = &p->v[v[i].at], *t = &p->v[v[first].at];
            /* the same file with other owners or modes stays a copy */
            if (e->mode == t->mode && e->uid == t->uid && e->gid == t->gid) {
                e->hardlink = true;
                if (!(e->link = strdup(t->path)))
                    rc = berr_set(err, BERR_IO, "out of memory");
            }
            i++;
        }
    }
    free(v);
    return rc;
}

/* Sort by path (a parent before what is in it), keep the last of each
 * path, link hard links, and hash. */
static int finish_plan(const struct copy_step *c, struct copy_plan *p, uid_t uid, gid_t gid,
                       const char *dest, char hash[DIGEST_MAX], char **created_by,
                       struct berr *err)
{
    qsort(p->v, p->n, sizeof *p->v, cmp_entries);
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].info >= 0)
            hash_entry(p->infos[p->v[i].info].md, &p->v[i]);
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (i + 1 < p->n && !p->v[i].archive && !strcmp(p->v[i].path, p->v[i + 1].path)) {
            entry_clear(&p->v[i]);
            continue;
        }
        p->v[k++] = p->v[i];
    }
    p->n = k;
    int rc = link_hardlinks(p, err);
    if (rc < 0)
        return rc;

    /* docker's history: one source's hash, or "multi:" over them all */
    char (*hx)[80] = calloc(p->ninfos ? p->ninfos : 1, sizeof *hx);
    if (!hx)
        return berr_set(err, BERR_IO, "out of memory");
    EVP_MD_CTX *multi = EVP_MD_CTX_new();
    EVP_DigestInit_ex(multi, EVP_sha256(), NULL);
    for (size_t i = 0; i < p->ninfos; i++) {
        unsigned char d[32];
        char h[65];
        EVP_DigestFinal_ex(p->infos[i].md, d, NULL);
        to_hex(d, h);
        snprintf(hx[i], sizeof hx[i], "%s:%s", p->infos[i].dir ? "dir" : "file", h);
        if (i)
            EVP_DigestUpdate(multi, ",", 1);
        EVP_DigestUpdate(multi, hx[i], strlen(hx[i]));
    }
    char src_hash[80];
    if (p->ninfos == 1) {
        snprintf(src_hash, sizeof src_hash, "%s", hx[0]);
    } else {
        unsigned char d[32];
        char h[65];
        EVP_DigestFinal_ex(multi, d, NULL);
        to_hex(d, h);
        snprintf(src_hash, sizeof src_hash, "multi:%s", h);
    }
    EVP_MD_CTX_free(multi);
    free(hx);

    /* the cache's: everything in the layer but mtimes, and the options */
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].info >= 0)
            hash_entry(md, &p->v[i]);
    char opts[PATH_MAX + 512];
    int n = snprintf(opts, sizeof opts, "%s\n%s\n%u:%u\n%s\n%s\n%s\n", p->cmd, src_hash,
                     (unsigned)uid, (unsigned)gid, c->chown ? c->chown : "",
                     c->chmod ? c->chmod : "", dest);
    EVP_DigestUpdate(md, opts, n < (int)sizeof opts ? (size_t)n : sizeof opts);
    unsigned char d[32];
    char h[65];
    EVP_DigestFinal_ex(md, d, NULL);
    EVP_MD_CTX_free(md);
    to_hex(d, h);
    snprintf(hash, DIGEST_MAX, "sha256:%s", h);

    char chown[300] = "";
    if (c->chown && *c->chown)
        snprintf(chown, sizeof chown, "--chown=%s", c->chown);
    if (asprintf(created_by, "/bin/sh -c #(nop) %s %s%s in %s ", p->cmd, chown, src_hash,
                 c->dest) < 0) {
        *created_by = NULL;
        return berr_set(err, BERR_IO, "out of memory");
    }
    return 0;
}

/* ---- copy_prepare -------------------------------------------------------------------- */

/* One source that exists: a file (to `dest/name` or `dest`), or a
 * directory (its contents into dest), or with ADD a tar (unpacked into
 * dest). `real` is its real path relative to `root`. */
static int add_source(struct walk *w, const struct copy_step *c, const struct copy_target *t,
                      const char *root, const char *real, const char *name, const struct stat *st,
                      bool unpack, struct berr *err)
{
    struct copy_plan *p = w->p;
    char abs[3 * PATH_MAX];
    snprintf(abs, sizeof abs, "%s%s%s", root, *real ? "/" : "", real);
    int info = info_add(p, S_ISDIR(st->st_mode), err);
    if (info < 0)
        return info;
    w->info = info;
    if (S_ISDIR(st->st_mode)) {
        int rc = copy_add_parents(c, p, t->dir, true, w->uid, w->gid, err);
        int dfd = rc < 0 ? -1 : open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rc == 0 && dfd < 0)
            rc = copy_fail(p, err, BERR_IO, "%s failed: open %s: %s", p->cmd, abs, strerror(errno));
        size_t added = 0;
        if (rc == 0)
            rc = walk_tree(w, dfd, real, abs, t->dir, &added, err);
        if (dfd >= 0)
            close(dfd);
        return rc;
    }
    if (unpack && S_ISREG(st->st_mode) && copy_is_archive(abs)) {
        int rc = copy_add_parents(c, p, t->dir, true, w->uid, w->gid, err);
        struct centry *e = rc < 0 ? NULL : copy_entry_add(p, err);
        if (!e)
            return rc < 0 ? rc : -BERR_IO;
        e->info = info;
        e->archive = true;
        e->mode = st->st_mode;
        e->size = (uint64_t)st->st_size;
        /* the archive sorts right after its directory: "dir" + "\x01" */
        if (asprintf(&e->path, "%s\x01", t->dir) < 0 ||
            !(e->src = strdup(abs))) {
            e->path = NULL;
            return berr_set(err, BERR_IO, "out of memory");
        }
        return hash_file(p, abs, e->size, e->sha, err);
    }
    char lpath[3 * PATH_MAX];
    int n = t->is_dir ? snprintf(lpath, sizeof lpath, "%s%s%s", t->dir, *t->dir ? "/" : "", name)
                      : snprintf(lpath, sizeof lpath, "%s", t->dir);
    if (n < 0 || (size_t)n >= sizeof lpath)
        return copy_fail(p, err, BERR_INVALID, "%s failed: file name too long: %s", p->cmd, name);
    if (!*lpath)
        return copy_fail(p, err, BERR_INVALID, "%s failed: cannot copy a file to /", p->cmd);
    if (c->parent_root) {
        char there[4 * PATH_MAX];
        struct stat tst;
        snprintf(there, sizeof there, "%s/%s", c->parent_root, lpath);
        if (lstat(there, &tst) == 0 && S_ISDIR(tst.st_mode))
            return copy_fail(p, err, BERR_CONFLICT, "failed to copy files: cannot replace the "
                             "directory /%s with a file", lpath);
    }
    char parent[3 * PATH_MAX];
    snprintf(parent, sizeof parent, "%s", lpath);
    char *slash = strrchr(parent, '/');
    int rc = 0;
    if (slash) {
        *slash = '\0';
        rc = copy_add_parents(c, p, parent, true, w->uid, w->gid, err);
    }
    return rc < 0 ? rc : add_found(w, lpath, abs, st, err);
}

/* Sources from the context or --from's root: a glob, or one path. */
static int add_local(struct walk *w, const struct copy_step *c, struct copy_target *t,
                     const char *orig, size_t *count, struct berr *err)
{
    struct copy_plan *p = w->p;
    const char *root = c->from_root ? c->from_root : c->ctx ? c->ctx->root : NULL;
    const struct df_ignore *ig = c->from_root ? NULL : c->ctx ? c->ctx->ig : NULL;
    /* docker: "/x" and "./x" are the context's x */
    const char *rel = orig;
    while (*rel == '/')
        rel++;
    if (!strncmp(rel, "./", 2))
        rel += 2;
    if (leads_out(rel))
        return copy_fail(p, err, BERR_INVALID, "%s failed: forbidden path outside the build "
                         "context: %s ()", p->cmd, rel);
    if (!root)
        return copy_fail(p, err, BERR_NOTFOUND, "%s failed: file not found in build context or "
                         "excluded by .dockerignore: stat %s: file does not exist", p->cmd, rel);

    struct matches m = { 0 };
    if (has_wildcards(rel)) {
        if (glob_source(root, ig, rel, &m) < 0) {
            for (size_t i = 0; i < m.n; i++)
                free(m.v[i]);
            free(m.v);
            return berr_set(err, BERR_IO, "out of memory");
        }
    } else {
        m.v = malloc(sizeof *m.v);
        if (!m.v || !(m.v[0] = strdup(rel))) {
            free(m.v);
            return berr_set(err, BERR_IO, "out of memory");
        }
        m.n = 1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m.n; i++) {
        char real[2 * PATH_MAX];
        struct stat st;
        int r = copy_resolve_scoped(root, m.v[i], ig, real, sizeof real, &st);
        if (r == -ENOENT || r == -ENOTDIR) {
            if (c->from_root)
                rc = copy_fail(p, err, BERR_NOTFOUND, "%s failed: stat %s: file does not exist",
                               p->cmd, m.v[i]);
            else
                rc = copy_fail(p, err, BERR_NOTFOUND, "%s failed: file not found in build context "
                               "or excluded by .dockerignore: stat %s: file does not exist", p->cmd,
                               m.v[i]);
        } else if (r < 0) {
            rc = copy_fail(p, err, BERR_IO, "%s failed: stat %s: %s", p->cmd, m.v[i], strerror(-r));
        } else {
            char cleaned[2 * PATH_MAX];
            copy_clean_rooted(m.v[i], cleaned, sizeof cleaned);
            const char *base = strrchr(cleaned, '/');
            base = base ? base + 1 : cleaned;
            if (!S_ISDIR(st.st_mode) && t->exists_dir)
                t->is_dir = true;
            if (S_ISDIR(st.st_mode) && !t->exists_dir && c->parent_root) {
                char abs[3 * PATH_MAX];
                struct stat dst;
                snprintf(abs, sizeof abs, "%s/%s", c->parent_root, t->dir);
                if (*t->dir && lstat(abs, &dst) == 0 && !S_ISDIR(dst.st_mode))
                    rc = copy_fail(p, err, BERR_CONFLICT, "failed to copy files: failed to copy "
                                   "directory: mkdir /%s: not a directory", t->dir);
            }
            if (rc == 0)
                rc = add_source(w, c, t, root, real, base, &st, c->add, err);
            (*count)++;
        }
    }
    for (size_t i = 0; i < m.n; i++)
        free(m.v[i]);
    free(m.v);
    return rc;
}

static int add_url(struct walk *w, const struct copy_step *c, const struct copy_target *t,
                   const char *url, struct berr *err)
{
    struct copy_plan *p = w->p;
    char *path = NULL, *name = NULL;
    struct stat st;
    unsigned char sha[32];
    int rc = copy_fetch(p, url, &path, &name, &st, sha, err);
    if (rc == 0 && !*name && t->is_dir)
        rc = copy_fail(p, err, BERR_INVALID, "ADD failed: cannot determine filename for source %s",
                       url);
    if (rc == 0) {
        const char *base = *name ? name : "__unnamed__";
        int info = info_add(p, false, err);
        char lpath[3 * PATH_MAX];
        if (t->is_dir || t->exists_dir)
            snprintf(lpath, sizeof lpath, "%s%s%s", t->dir, *t->dir ? "/" : "", base);
        else
            snprintf(lpath, sizeof lpath, "%s", t->dir);
        char *slash = strrchr(lpath, '/');
        if (info < 0) {
            rc = info;
        } else if (slash) {
            *slash = '\0';
            rc = copy_add_parents(c, p, lpath, true, w->uid, w->gid, err);
            *slash = '/';
        }
        struct centry *e = rc < 0 ? NULL : copy_entry_add(p, err);
        if (rc == 0 && !e)
            rc = -BERR_IO;
        if (e) {
            e->info = info;
            e->path = strdup(lpath);
            e->src = path;
            path = NULL;
            e->mode = S_IFREG | (w->chmod >= 0 ? (mode_t)w->chmod : 0600);
            e->uid = w->uid;
            e->gid = w->gid;
            e->size = (uint64_t)st.st_size;
            e->mtime = st.st_mtim;
            e->nlink = 1;
            memcpy(e->sha, sha, sizeof sha);
            if (!e->path)
                rc = berr_set(err, BERR_IO, "out of memory");
        }
    }
    free(path);
    free(name);
    return rc;
}

int copy_prepare(const struct copy_step *c, struct copy_plan **out, char hash[DIGEST_MAX],
                 char **created_by, struct berr *err)
{
    *out = NULL;
    *created_by = NULL;
    struct copy_plan *p = calloc(1, sizeof *p);
    if (!p || !(p->buf = malloc(COPY_CHUNK))) {
        free(p);
        return berr_set(err, BERR_IO, "out of memory");
    }
    p->cmd = c->add ? "ADD" : "COPY";
    p->line = c->line;
    struct walk w = { .p = p, .chmod = -1, .info = -1 };
    struct copy_target t = { 0 };
    int rc = copy_resolve_target(c, p, &w.uid, &w.gid, &w.chmod, &t, err);
    if (rc == 0 && c->nsrcs == 0)
        rc = copy_fail(p, err, BERR_INVALID, "%s failed: no source files were specified", p->cmd);
    /* several sources need a directory, named as one */
    const char *dest = c->dest && *c->dest ? c->dest : ".";
    bool slash = dest[strlen(dest) - 1] == '/';
    size_t count = 0;
    for (size_t i = 0; rc == 0 && i < c->nsrcs; i++) {
        const char *src = c->srcs[i];
        if (is_url(src) && !c->from_root) {
            if (!c->add)
                rc = copy_fail(p, err, BERR_INVALID, "COPY failed: source can't be a URL for COPY");
            else
                rc = add_url(&w, c, &t, src, err);
            count++;
        } else {
            w.ig = c->from_root ? NULL : c->ctx ? c->ctx->ig : NULL;
            w.root = c->from_root ? c->from_root : c->ctx ? c->ctx->root : NULL;
            if (c->nsrcs > 1 || has_wildcards(src))
                t.is_dir = t.is_dir || slash;
            rc = add_local(&w, c, &t, src, &count, err);
        }
        if (rc == 0 && count > 1 && !slash)
            rc = copy_fail(p, err, BERR_INVALID, "When using %s with more than one source file, "
                           "the destination must be a directory and end with a /", p->cmd);
    }
    if (rc == 0 && count == 0)
        rc = copy_fail(p, err, BERR_NOTFOUND, "%s failed: no source files were specified", p->cmd);
    if (rc == 0)
        rc = finish_plan(c, p, w.uid, w.gid, t.dir, hash, created_by, err);
    if (rc < 0) {
        copy_plan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}
