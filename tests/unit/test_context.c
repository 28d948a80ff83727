/*
 * test_context.c - COPY and ADD: the plan copy_prepare makes and the
 * layer copy_layer writes, read back with libarchive. Globs, directories,
 * several sources, the destination's rules (WORKDIR, a directory or a
 * symlink in the parent image, missing parents), --chown by name from a
 * fake parent root's /etc/passwd and /etc/group, --chmod, sources outside
 * the context refused and symlinks kept inside it, a missing source named
 * as docker names it, .dockerignore exclusions and "!" exceptions,
 * symlinks and hard links kept, ADD of tar archives (plain and
 * compressed) and of URLs served by a local python3 http.server, the
 * cache hash, and (as root) the read-only root views.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "../../builder/internal.h"

struct fx {
    char root[64];
    char ctx[96];
    char parent[96];
    char store_dir[96];
    struct berth_store *store;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->root, sizeof f->root, "/tmp/berth-ctx-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->ctx, sizeof f->ctx, "%s/ctx", f->root);
    snprintf(f->parent, sizeof f->parent, "%s/parent", f->root);
    snprintf(f->store_dir, sizeof f->store_dir, "%s/store", f->root);
    assert_int_equal(mkdir(f->ctx, 0755), 0);
    assert_int_equal(mkdir(f->parent, 0755), 0);
    struct berr err = { 0 };
    assert_int_equal(berth_store_open(f->store_dir, &f->store, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    berth_store_close(f->store);
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- making files -------------------------------------------------------------------- */

static void mkdirs(const char *dir, const char *rel, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    if (mkdir(p, mode) < 0)
        assert_int_equal(errno, EEXIST);
    chmod(p, mode);
}

static void put(const char *dir, const char *rel, const char *text, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    if (strlen(p) > strlen(dir))
        mkdirs(dir, p + strlen(dir) + 1, 0755);
    *slash = '/';
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    chmod(p, mode);
}

static void set_mtime(const char *dir, const char *rel, time_t t)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    struct timespec ts[2] = { { t, 0 }, { t, 0 } };
    assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void link_sym(const char *dir, const char *rel, const char *target)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    assert_int_equal(symlink(target, p), 0);
}

/* ---- running a step and reading its layer -------------------------------------------- */

struct lent {
    char path[512];
    mode_t mode;
    unsigned uid, gid;
    int64_t size, mtime;
    char link[512];
    char hardlink[512];
    char data[512];
    size_t caplen;               /* of its security.capability */
};

struct layer {
    struct lent v[128];
    size_t n;
    char created_by[512];
    char hash[DIGEST_MAX];
};

struct step {
    const char *srcs[8];
    const char *dest;
    const char *workdir;
    const char *chown, *chmod;
    const char *from_root;
    bool add;
    bool scratch;
    bool no_ctx;
    const char *line;
};

static int run_step(struct fx *f, const struct step *st, struct layer *out, struct berr *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    struct bctx *ctx = NULL;
    int rc = bctx_open(st->no_ctx ? NULL : f->ctx, &ctx, err);
    if (rc < 0)
        return rc;
    size_t n = 0;
    while (n < 8 && st->srcs[n])
        n++;
    struct copy_step c = {
        .ctx = ctx,
        .from_root = st->from_root,
        .srcs = (char *const *)st->srcs,
        .nsrcs = n,
        .dest = st->dest,
        .workdir = st->workdir,
        .parent_root = st->scratch ? NULL : f->parent,
        .chown = st->chown,
        .chmod = st->chmod,
        .add = st->add,
        .line = st->line,
    };
    struct copy_plan *p = NULL;
    char *created_by = NULL;
    rc = copy_prepare(&c, &p, out->hash, &created_by, err);
    if (rc == 0) {
        snprintf(out->created_by, sizeof out->created_by, "%s", created_by);
        free(created_by);
        struct berth_layer layer;
        rc = copy_layer(f->store, p, &layer, err);
        copy_plan_free(p);
        if (rc == 0) {
            char path[PATH_MAX];
            berth_blob_path(f->store, layer.digest, path, sizeof path);
            struct archive *a = archive_read_new();
            archive_read_support_filter_all(a);
            archive_read_support_format_tar(a);
            assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
            struct archive_entry *e;
            while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                assert_true(out->n < 128);
                struct lent *l = &out->v[out->n++];
                snprintf(l->path, sizeof l->path, "%s", archive_entry_pathname(e));
                l->mode = archive_entry_mode(e);
                l->uid = (unsigned)archive_entry_uid(e);
                l->gid = (unsigned)archive_entry_gid(e);
                l->size = archive_entry_size(e);
                l->mtime = archive_entry_mtime(e);
                if (archive_entry_symlink(e))
                    snprintf(l->link, sizeof l->link, "%s", archive_entry_symlink(e));
                if (archive_entry_hardlink(e))
                    snprintf(l->hardlink, sizeof l->hardlink, "%s", archive_entry_hardlink(e));
                const char *xname;
                const void *xval;
                size_t xlen;
                archive_entry_xattr_reset(e);
                while (archive_entry_xattr_next(e, &xname, &xval, &xlen) == ARCHIVE_OK)
                    if (!strcmp(xname, "security.capability"))
                        l->caplen = xlen;
                la_ssize_t r = archive_read_data(a, l->data, sizeof l->data - 1);
                if (r > 0)
                    l->data[r] = '\0';
            }
            archive_read_free(a);
        }
    }
    bctx_free(ctx);
    return rc;
}

static void ok_step(struct fx *f, const struct step *st, struct layer *out)
{
    struct berr err;
    int rc = run_step(f, st, out, &err);
    if (rc != 0)
        fail_msg("step failed: %s", err.msg);
}

static void err_step(struct fx *f, const struct step *st, const char *msg)
{
    struct layer l;
    struct berr err;
    int rc = run_step(f, st, &l, &err);
    if (rc == 0)
        fail_msg("step succeeded, expected: %s", msg);
    if (!strstr(err.msg, msg))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, msg);
}

static const struct lent *find(const struct layer *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].path, path))
            return &l->v[i];
    return NULL;
}

static const struct lent *must(const struct layer *l, const char *path)
{
    const struct lent *e = find(l, path);
    if (!e) {
        char names[4096] = "";
        size_t len = 0;
        for (size_t i = 0; i < l->n; i++)
            buf_appendf(names, sizeof names, &len, " %s", l->v[i].path);
        fail_msg("no %s in the layer; it has:%s", path, names);
    }
    return e;
}

static bool hexword(const char *s, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix);
    if (strncmp(s, prefix, pl))
        return false;
    for (int i = 0; i < 64; i++)
        if (!strchr("0123456789abcdef", s[pl + i]))
            return false;
    return !strcmp(s + pl + 64, suffix);
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_single_file(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "abc.txt", "hello", 0640);
    set_mtime(f->ctx, "abc.txt", 1000000);
    mkdirs(f->parent, "tmp", 01777);
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "abc.txt" }, .dest = "/tmp/abc.txt" }, &l);
    assert_true(hexword(l.created_by, "/bin/sh -c #(nop) COPY file:", " in /tmp/abc.txt "));
    assert_true(hexword(l.hash, "sha256:", ""));
    assert_int_equal(l.n, 2);
    const struct lent *d = must(&l, "tmp/");
    assert_int_equal(d->mode, S_IFDIR | 01777);
    const struct lent *e = must(&l, "tmp/abc.txt");
    assert_int_equal(e->mode, S_IFREG | 0640);
    assert_int_equal(e->uid, 0);
    assert_int_equal(e->gid, 0);
    assert_int_equal(e->size, 5);
    assert_int_equal(e->mtime, 1000000);
    assert_string_equal(e->data, "hello");
    /* the layer holds the parent first */
    assert_string_equal(l.v[0].path, "tmp/");
}

static void test_dir_contents(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "src/a.txt", "a", 0644);
    put(f->ctx, "src/sub/b.txt", "b", 0600);
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "src" }, .dest = "/app" }, &l);
    assert_true(hexword(l.created_by, "/bin/sh -c #(nop) COPY dir:", " in /app "));
    assert_int_equal(must(&l, "app/")->mode, S_IFDIR | 0755);
    assert_string_equal(must(&l, "app/a.txt")->data, "a");
    assert_int_equal(must(&l, "app/sub/")->mode, S_IFDIR | 0755);
    assert_int_equal(must(&l, "app/sub/b.txt")->mode, S_IFREG | 0600);
    assert_null(find(&l, "app/src/"));
    assert_int_equal(l.n, 4);
    /* a trailing slash on the source changes nothing; "." is the context */
    ok_step(f, &(struct step){ .srcs = { "src/" }, .dest = "/app/" }, &l);
    assert_non_null(find(&l, "app/sub/b.txt"));
    ok_step(f, &(struct step){ .srcs = { "." }, .dest = "/" }, &l);
    assert_non_null(find(&l, "src/sub/b.txt"));
    assert_true(hexword(l.created_by, "/bin/sh -c #(nop) COPY dir:", " in / "));
}

static void test_globs(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "a.txt", "a", 0644);
    put(f->ctx, "b.txt", "b", 0644);
    put(f->ctx, ".hidden.txt", "h", 0644);
    put(f->ctx, "c.md", "c", 0644);
    put(f->ctx, "sub/d.txt", "d", 0644);
    put(f->ctx, "sub/deep/e.txt", "e", 0644);
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "*.txt" }, .dest = "/d/" }, &l);
    assert_non_null(find(&l, "d/a.txt"));
    assert_non_null(find(&l, "d/b.txt"));
    assert_non_null(find(&l, "d/.hidden.txt"));   /* Go's Match: a dot is not special */
    assert_null(find(&l, "d/c.md"));
    assert_null(find(&l, "d/d.txt"));             /* '*' does not cross '/' */
    assert_true(hexword(l.created_by, "/bin/sh -c #(nop) COPY multi:", " in /d/ "));
    ok_step(f, &(struct step){ .srcs = { "sub/*.txt" }, .dest = "/d/" }, &l);
    assert_non_null(find(&l, "d/d.txt"));
    assert_null(find(&l, "d/e.txt"));
    ok_step(f, &(struct step){ .srcs = { "*/*/?.txt" }, .dest = "/d/" }, &l);
    assert_string_equal(must(&l, "d/e.txt")->data, "e");
    ok_step(f, &(struct step){ .srcs = { "[ab].txt" }, .dest = "/d/" }, &l);
    assert_non_null(find(&l, "d/a.txt"));
    assert_null(find(&l, "d/.hidden.txt"));
    /* one match and no slash: the file is the destination */
    ok_step(f, &(struct step){ .srcs = { "?.md" }, .dest = "/x" }, &l);
    assert_string_equal(must(&l, "x")->data, "c");
    assert_true(hexword(l.created_by, "/bin/sh -c #(nop) COPY file:", " in /x "));
    /* a glob that matches a directory copies its contents */
    ok_step(f, &(struct step){ .srcs = { "su?" }, .dest = "/s/" }, &l);
    assert_non_null(find(&l, "s/d.txt"));
    assert_non_null(find(&l, "s/deep/e.txt"));
    /* an escaped glob character is literal */
    put(f->ctx, "arr[0].txt", "z", 0644);
    ok_step(f, &(struct step){ .srcs = { "arr[[]0].txt" }, .dest = "/z" }, &l);
    assert_string_equal(must(&l, "z")->data, "z");
    err_step(f, &(struct step){ .srcs = { "nomatch*" }, .dest = "/d/" },
             "COPY failed: no source files were specified");
}

static void test_multi_source(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "a.txt", "a", 0644);
    put(f->ctx, "c.md", "c", 0644);
    put(f->ctx, "dir/x", "x", 0644);
    err_step(f, &(struct step){ .srcs = { "a.txt", "c.md" }, .dest = "/dest" },
             "When using COPY with more than one source file, the destination must be a "
             "directory and end with a /");
    err_step(f, &(struct step){ .srcs = { "*" }, .dest = "/dest" },
             "When using COPY with more than one source file");
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "a.txt", "c.md", "dir" }, .dest = "/dest/" }, &l);
    assert_non_null(find(&l, "dest/a.txt"));
    assert_non_null(find(&l, "dest/c.md"));
    assert_non_null(find(&l, "dest/x"));
    assert_true(hexword(l.created_by, "/bin/sh -c #(nop) COPY multi:", " in /dest/ "));
    /* the same file twice: one entry */
    ok_step(f, &(struct step){ .srcs = { "a.txt", "a.txt" }, .dest = "/dest/" }, &l);
    assert_int_equal(l.n, 2);
}

static void test_dest_rules(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "a.txt", "a", 0644);
    put(f->ctx, "dir/x", "x", 0644);
    mkdirs(f->parent, "app", 0750);
    mkdirs(f->parent, "opt", 0700);
    mkdirs(f->parent, "usr/lib", 0755);
    link_sym(f->parent, "lib", "usr/lib");
    put(f->parent, "etc/hostname", "h", 0644);
    struct layer l;
    /* relative to WORKDIR, trailing slash a directory */
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "rel/", .workdir = "/app" }, &l);
    assert_int_equal(must(&l, "app/")->mode, S_IFDIR | 0750);
    assert_int_equal(must(&l, "app/rel/")->mode, S_IFDIR | 0755);
    assert_non_null(find(&l, "app/rel/a.txt"));
    assert_true(hexword(l.created_by, "/bin/sh -c #(nop) COPY file:", " in rel/ "));
    /* "." is WORKDIR, even where the parent image lacks it */
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = ".", .workdir = "/new" }, &l);
    assert_non_null(find(&l, "new/a.txt"));
    assert_int_equal(must(&l, "new/")->mode, S_IFDIR | 0755);
    /* a directory of the parent image: into it, with its metadata */
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/opt" }, &l);
    assert_int_equal(must(&l, "opt/")->mode, S_IFDIR | 0700);
    assert_string_equal(must(&l, "opt/a.txt")->data, "a");
    /* no such directory, no slash: the file is named dest */
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/srv/file" }, &l);
    assert_int_equal(must(&l, "srv/file")->mode, S_IFREG | 0644);
    assert_int_equal(must(&l, "srv/")->mode, S_IFDIR | 0755);
    /* a symlinked parent is followed in the image */
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/lib/x/" }, &l);
    assert_non_null(find(&l, "usr/lib/x/a.txt"));
    assert_non_null(find(&l, "usr/"));
    assert_non_null(find(&l, "usr/lib/"));
    assert_null(find(&l, "lib/"));
    /* a file onto a directory of the image, a directory onto a file, a file under a file */
    mkdirs(f->parent, "opt/a.txt", 0755);
    err_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/opt/" },
             "failed to copy files: cannot replace the directory /opt/a.txt with a file");
    err_step(f, &(struct step){ .srcs = { "dir" }, .dest = "/etc/hostname" },
             "failed to copy files: failed to copy directory: mkdir /etc/hostname: not a "
             "directory");
    err_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/etc/hostname/x" },
             "failed to copy files: lstat /etc/hostname/x: not a directory");
    err_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/etc/hostname/" },
             "failed to copy files: mkdir /etc/hostname: not a directory");
    /* scratch: every parent made */
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/a/b/c", .scratch = true }, &l);
    assert_int_equal(must(&l, "a/")->mode, S_IFDIR | 0755);
    assert_int_equal(must(&l, "a/b/")->mode, S_IFDIR | 0755);
    assert_non_null(find(&l, "a/b/c"));
}

static void test_chown(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "a.txt", "a", 0644);
    put(f->ctx, "dir/x", "x", 0644);
    put(f->parent, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                 "app:x:1000:1001::/home/app:/bin/sh\n", 0644);
    put(f->parent, "etc/group", "root:x:0:\nstaff:x:50:\napp:x:1001:\n", 0644);
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chown = "app" }, &l);
    assert_int_equal(must(&l, "d/a.txt")->uid, 1000);
    assert_int_equal(must(&l, "d/a.txt")->gid, 1001);
    assert_int_equal(must(&l, "d/")->uid, 1000);      /* made for the copy */
    assert_true(hexword(l.created_by, "/bin/sh -c #(nop) COPY --chown=appfile:", " in /d/ "));
    ok_step(f, &(struct step){ .srcs = { "dir" }, .dest = "/etc/", .chown = "app:staff" }, &l);
    assert_int_equal(must(&l, "etc/x")->uid, 1000);
    assert_int_equal(must(&l, "etc/x")->gid, 50);
    assert_int_equal(must(&l, "etc/")->uid, 0);       /* the image's own */
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chown = "7:8" }, &l);
    assert_int_equal(must(&l, "d/a.txt")->uid, 7);
    assert_int_equal(must(&l, "d/a.txt")->gid, 8);
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chown = "7" }, &l);
    assert_int_equal(must(&l, "d/a.txt")->gid, 7);
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chown = "7:staff" }, &l);
    assert_int_equal(must(&l, "d/a.txt")->gid, 50);
    err_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chown = "nobody" },
             "unable to convert uid/gid chown string to host mapping: can't find uid for user "
             "nobody: no such user: nobody");
    err_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chown = "app:nogroup" },
             "can't find gid for group nogroup: no such group: nogroup");
    err_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chown = "app",
                                .scratch = true }, "no such user: app");
    err_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chown = "1:2:3" },
             "invalid chown string format: 1:2:3");
}

static void test_chmod(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "a.txt", "a", 0644);
    put(f->ctx, "dir/x", "x", 0600);
    link_sym(f->ctx, "dir/l", "x");
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chmod = "755" }, &l);
    assert_int_equal(must(&l, "d/a.txt")->mode, S_IFREG | 0755);
    ok_step(f, &(struct step){ .srcs = { "dir" }, .dest = "/d", .chmod = "0440" }, &l);
    assert_int_equal(must(&l, "d/x")->mode, S_IFREG | 0440);
    assert_int_equal(must(&l, "d/l")->mode & S_IFMT, S_IFLNK);
    err_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chmod = "u+x" },
             "invalid chmod parameter: 'u+x'");
    err_step(f, &(struct step){ .srcs = { "a.txt" }, .dest = "/d/", .chmod = "99" },
             "invalid chmod parameter");
}

static void test_outside_context(void **state)
{
    struct fx *f = *state;
    put(f->root, "secret", "s", 0644);
    put(f->ctx, "a.txt", "a", 0644);
    put(f->ctx, "etc/passwd", "inside", 0644);
    link_sym(f->ctx, "up", "../secret");
    link_sym(f->ctx, "abs", "/etc/passwd");
    link_sym(f->ctx, "far", "../../../../../../secret");
    err_step(f, &(struct step){ .srcs = { "../secret" }, .dest = "/x" },
             "COPY failed: forbidden path outside the build context: ../secret ()");
    err_step(f, &(struct step){ .srcs = { "a/../../secret" }, .dest = "/x" },
             "forbidden path outside the build context: a/../../secret ()");
    err_step(f, &(struct step){ .srcs = { "..", }, .dest = "/x" },
             "forbidden path outside the build context: .. ()");
    err_step(f, &(struct step){ .srcs = { "a.txt", "../secret" }, .dest = "/x/", .add = true },
             "ADD failed: forbidden path outside the build context: ../secret ()");
    struct layer l;
    /* an absolute source is the context's */
    ok_step(f, &(struct step){ .srcs = { "/a.txt" }, .dest = "/x" }, &l);
    assert_string_equal(must(&l, "x")->data, "a");
    /* symlinks are followed as if the context were the root */
    ok_step(f, &(struct step){ .srcs = { "abs" }, .dest = "/x" }, &l);
    assert_string_equal(must(&l, "x")->data, "inside");
    err_step(f, &(struct step){ .srcs = { "up" }, .dest = "/x" },
             "file not found in build context or excluded by .dockerignore: stat up: file does "
             "not exist");
    err_step(f, &(struct step){ .srcs = { "far" }, .dest = "/x" }, "stat far: file does not exist");
    /* in a copied directory, links are copied as they are */
    ok_step(f, &(struct step){ .srcs = { "." }, .dest = "/c/" }, &l);
    assert_string_equal(must(&l, "c/up")->link, "../secret");
    assert_string_equal(must(&l, "c/abs")->link, "/etc/passwd");
}

static void test_missing_source(void **state)
{
    struct fx *f = *state;
    err_step(f, &(struct step){ .srcs = { "missing.txt" }, .dest = "/x" },
             "COPY failed: file not found in build context or excluded by .dockerignore: stat "
             "missing.txt: file does not exist");
    err_step(f, &(struct step){ .srcs = { "missing.txt" }, .dest = "/x", .line = "Dockerfile:7" },
             "Dockerfile:7: COPY failed: file not found");
    err_step(f, &(struct step){ .srcs = { "./sub/missing.txt" }, .dest = "/x", .add = true },
             "ADD failed: file not found in build context or excluded by .dockerignore: stat "
             "sub/missing.txt: file does not exist");
    err_step(f, &(struct step){ .srcs = { "x" }, .dest = "/x", .no_ctx = true },
             "COPY failed: file not found in build context");
}

static void test_dockerignore(void **state)
{
    struct fx *f = *state;
    put(f->ctx, ".dockerignore", "# comment\n*.log\nsecret\n!secret/keep.txt\n", 0644);
    put(f->ctx, "a.log", "log", 0644);
    put(f->ctx, "b.txt", "b", 0644);
    put(f->ctx, "sub/c.log", "c", 0644);
    put(f->ctx, "secret/key", "k", 0600);
    put(f->ctx, "secret/keep.txt", "keep", 0644);
    link_sym(f->ctx, "tolog", "a.log");
    struct layer l;
    char p[PATH_MAX];
    ok_step(f, &(struct step){ .srcs = { "." }, .dest = "/app" }, &l);
    assert_non_null(find(&l, "app/b.txt"));
    assert_non_null(find(&l, "app/sub/c.log"));   /* "*.log" is the top level's */
    assert_null(find(&l, "app/a.log"));
    assert_null(find(&l, "app/secret/key"));
    assert_string_equal(must(&l, "app/secret/keep.txt")->data, "keep");
    assert_non_null(find(&l, "app/secret/"));
    err_step(f, &(struct step){ .srcs = { "a.log" }, .dest = "/x" },
             "COPY failed: file not found in build context or excluded by .dockerignore: stat "
             "a.log: file does not exist");
    err_step(f, &(struct step){ .srcs = { "secret/key" }, .dest = "/x" }, "stat secret/key");
    err_step(f, &(struct step){ .srcs = { "tolog" }, .dest = "/x" }, "stat tolog");
    ok_step(f, &(struct step){ .srcs = { "secret/keep.txt" }, .dest = "/k" }, &l);
    assert_string_equal(must(&l, "k")->data, "keep");
    ok_step(f, &(struct step){ .srcs = { "secret" }, .dest = "/s" }, &l);
    assert_non_null(find(&l, "s/keep.txt"));
    assert_null(find(&l, "s/key"));
    ok_step(f, &(struct step){ .srcs = { "secre?" }, .dest = "/s" }, &l);
    assert_non_null(find(&l, "s/keep.txt"));
    assert_null(find(&l, "s/key"));
    /* a glob matching a link to a hidden file fails, as docker's does */
    err_step(f, &(struct step){ .srcs = { "to*" }, .dest = "/g/" }, "stat tolog");
    unlink((snprintf(p, sizeof p, "%s/tolog", f->ctx), p));
    ok_step(f, &(struct step){ .srcs = { "*" }, .dest = "/g/" }, &l);
    assert_null(find(&l, "g/a.log"));
    assert_non_null(find(&l, "g/b.txt"));
}

static void test_dockerignore_patterns(void **state)
{
    struct fx *f = *state;
    put(f->ctx, ".dockerignore", "secret.txt\nlogs\n*.tmp\n!important.tmp\n**/*.md\n", 0644);
    const char *files[] = { "keep.txt", "secret.txt", "logs/a.log", "a.tmp", "important.tmp",
                            "src/x.go", "src/deep/y.md", "z.md" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        put(f->ctx, files[i], files[i], 0644);
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "." }, .dest = "/ctx/" }, &l);
    assert_non_null(find(&l, "ctx/keep.txt"));
    assert_non_null(find(&l, "ctx/important.tmp"));
    assert_non_null(find(&l, "ctx/src/x.go"));
    assert_non_null(find(&l, "ctx/.dockerignore"));
    assert_null(find(&l, "ctx/secret.txt"));
    assert_null(find(&l, "ctx/logs/"));
    assert_null(find(&l, "ctx/logs/a.log"));
    assert_null(find(&l, "ctx/a.tmp"));
    assert_null(find(&l, "ctx/src/deep/y.md"));
    assert_null(find(&l, "ctx/z.md"));
    assert_non_null(find(&l, "ctx/src/deep/"));
    ok_step(f, &(struct step){ .srcs = { "*.tmp" }, .dest = "/t/" }, &l);
    assert_non_null(find(&l, "t/important.tmp"));
    assert_null(find(&l, "t/a.tmp"));
}

static void test_links_kept(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "d/f", "data", 0644);
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof a, "%s/d/f", f->ctx);
    snprintf(b, sizeof b, "%s/d/hl", f->ctx);
    assert_int_equal(link(a, b), 0);
    link_sym(f->ctx, "d/sl", "f");
    assert_int_equal(mkfifo((snprintf(a, sizeof a, "%s/d/fifo", f->ctx), a), 0644), 0);
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "d" }, .dest = "/x" }, &l);
    const struct lent *e = must(&l, "x/f");
    assert_int_equal(e->mode & S_IFMT, S_IFREG);
    assert_string_equal(e->data, "data");
    assert_string_equal(must(&l, "x/hl")->hardlink, "x/f");
    assert_string_equal(must(&l, "x/sl")->link, "f");
    assert_int_equal(must(&l, "x/fifo")->mode & S_IFMT, S_IFIFO);
    /* a top-level symlink is followed: the file's contents under its name */
    ok_step(f, &(struct step){ .srcs = { "d/sl" }, .dest = "/y/" }, &l);
    assert_string_equal(must(&l, "y/sl")->data, "data");
}

/* A tar of ./t/one ("1", owned 5:6) and ./t/ln -> one, through `filter`. */
static void make_tar(const char *path, int filter)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (filter)
        assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "./");
    archive_entry_set_mode(e, S_IFDIR | 0700);
    archive_write_header(a, e);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "./t/");
    archive_entry_set_mode(e, S_IFDIR | 0755);
    archive_write_header(a, e);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "./t/one");
    archive_entry_set_mode(e, S_IFREG | 0640);
    archive_entry_set_uid(e, 5);
    archive_entry_set_gid(e, 6);
    archive_entry_set_size(e, 1);
    archive_write_header(a, e);
    archive_write_data(a, "1", 1);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "../../t/two");
    archive_entry_set_mode(e, S_IFREG | 0644);
    archive_entry_set_size(e, 1);
    archive_write_header(a, e);
    archive_write_data(a, "2", 1);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
}

static void test_add_archive(void **state)
{
    struct fx *f = *state;
    const struct { int filter; const char *name; } kinds[] = {
        { 0, "plain.tar" }, { ARCHIVE_FILTER_GZIP, "a.tar.gz" },
        { ARCHIVE_FILTER_BZIP2, "a.tar.bz2" }, { ARCHIVE_FILTER_XZ, "a.tar.xz" },
    };
    char path[PATH_MAX];
    struct layer l;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", f->ctx, kinds[i].name);
        make_tar(path, kinds[i].filter);
        ok_step(f, &(struct step){ .srcs = { kinds[i].name }, .dest = "/opt", .add = true }, &l);
        const struct lent *e = must(&l, "opt/t/one");
        assert_string_equal(e->data, "1");
        assert_int_equal(e->uid, 5);
        assert_int_equal(e->gid, 6);
        assert_int_equal(e->mode, S_IFREG | 0640);
        assert_non_null(find(&l, "opt/t/"));
        assert_string_equal(must(&l, "opt/t/two")->data, "2");   /* kept inside */
        assert_null(find(&l, kinds[i].name));
        assert_int_equal(must(&l, "opt/")->mode, S_IFDIR | 0755);
        assert_true(hexword(l.created_by, "/bin/sh -c #(nop) ADD file:", " in /opt "));
    }
    /* COPY does not unpack; ADD of a file that is no archive copies it */
    ok_step(f, &(struct step){ .srcs = { "a.tar.gz" }, .dest = "/opt/" }, &l);
    assert_non_null(find(&l, "opt/a.tar.gz"));
    assert_null(find(&l, "opt/t/one"));
    put(f->ctx, "fake.tar.gz", "", 0644);
    put(f->ctx, "text", "just text", 0644);
    ok_step(f, &(struct step){ .srcs = { "fake.tar.gz", "text" }, .dest = "/o/", .add = true },
            &l);
    assert_non_null(find(&l, "o/fake.tar.gz"));
    assert_string_equal(must(&l, "o/text")->data, "just text");
}

/* ---- ADD of URLs: python3's http.server on a free loopback port ---------------------- */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static pid_t serve(const char *dir, int port)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1",
               "--directory", dir, p, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {       /* up to 10 s for it to listen */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int rc = connect(s, (struct sockaddr *)&a, sizeof a);
        close(s);
        if (rc == 0)
            return pid;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("python3 -m http.server did not start");
    return -1;
}

static void test_add_url(void **state)
{
    struct fx *f = *state;
    if (system("command -v python3 >/dev/null 2>&1") != 0)
        skip();                  /* the server of this test (make test-deps) */
    char www[128];
    snprintf(www, sizeof www, "%s/www", f->root);
    mkdirs(f->root, "www", 0755);
    put(www, "pkg.txt", "payload", 0644);
    set_mtime(www, "pkg.txt", 1500000000);
    put(www, "sub/index.txt", "i", 0644);
    int port = free_port();
    pid_t pid = serve(www, port);
    char url[128], missing[128], redirect[128], bare[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/pkg.txt", port);
    snprintf(missing, sizeof missing, "http://127.0.0.1:%d/missing.txt", port);
    snprintf(redirect, sizeof redirect, "http://127.0.0.1:%d/sub", port);
    snprintf(bare, sizeof bare, "http://127.0.0.1:%d/", port);
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { url }, .dest = "/d/", .add = true }, &l);
    const struct lent *e = must(&l, "d/pkg.txt");
    assert_int_equal(e->mode, S_IFREG | 0600);
    assert_int_equal(e->mtime, 1500000000);
    assert_string_equal(e->data, "payload");
    assert_true(hexword(l.created_by, "/bin/sh -c #(nop) ADD file:", " in /d/ "));
    char first[DIGEST_MAX];
    snprintf(first, sizeof first, "%s", l.hash);
    ok_step(f, &(struct step){ .srcs = { url }, .dest = "/named", .add = true }, &l);
    assert_string_equal(must(&l, "named")->data, "payload");
    mkdirs(f->parent, "srv", 0755);
    ok_step(f, &(struct step){ .srcs = { url }, .dest = "/srv", .add = true }, &l);
    assert_string_equal(must(&l, "srv/pkg.txt")->data, "payload");
    /* the same contents, the same hash; new contents, a new one */
    ok_step(f, &(struct step){ .srcs = { url }, .dest = "/d/", .add = true }, &l);
    assert_string_equal(l.hash, first);
    put(www, "pkg.txt", "payload 2", 0644);
    ok_step(f, &(struct step){ .srcs = { url }, .dest = "/d/", .add = true }, &l);
    assert_string_not_equal(l.hash, first);
    /* a redirect is followed (/sub -> /sub/, its listing) */
    ok_step(f, &(struct step){ .srcs = { redirect }, .dest = "/r", .add = true }, &l);
    assert_non_null(strstr(must(&l, "r")->data, "index.txt"));
    err_step(f, &(struct step){ .srcs = { missing }, .dest = "/d/", .add = true },
             "ADD failed: failed to GET");
    err_step(f, &(struct step){ .srcs = { missing }, .dest = "/d/", .add = true }, "404");
    err_step(f, &(struct step){ .srcs = { bare }, .dest = "/d/", .add = true },
             "cannot determine filename for source");
    err_step(f, &(struct step){ .srcs = { url }, .dest = "/d/" },
             "COPY failed: source can't be a URL for COPY");
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    /* nothing answers any more */
    err_step(f, &(struct step){ .srcs = { url }, .dest = "/d/", .add = true }, "ADD failed");
}

static void test_cache_hash(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "d/a", "a", 0644);
    put(f->ctx, "d/b", "b", 0644);
    struct step st = { .srcs = { "d" }, .dest = "/x" };
    struct layer l;
    char h0[DIGEST_MAX], c0[512];
    ok_step(f, &st, &l);
    snprintf(h0, sizeof h0, "%s", l.hash);
    snprintf(c0, sizeof c0, "%s", l.created_by);
    ok_step(f, &st, &l);
    assert_string_equal(l.hash, h0);
    /* mtimes do not count */
    set_mtime(f->ctx, "d/a", 12345);
    ok_step(f, &st, &l);
    assert_string_equal(l.hash, h0);
    assert_string_equal(l.created_by, c0);
    /* modes, contents, names, owners and the destination do */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/d/a", f->ctx);
    chmod(p, 0600);
    ok_step(f, &st, &l);
    assert_string_not_equal(l.hash, h0);
    assert_string_not_equal(l.created_by, c0);
    chmod(p, 0644);
    ok_step(f, &st, &l);
    assert_string_equal(l.hash, h0);
    put(f->ctx, "d/a", "A", 0644);
    ok_step(f, &st, &l);
    assert_string_not_equal(l.hash, h0);
    put(f->ctx, "d/a", "a", 0644);
    put(f->ctx, "d/c", "", 0644);
    ok_step(f, &st, &l);
    assert_string_not_equal(l.hash, h0);
    unlink((snprintf(p, sizeof p, "%s/d/c", f->ctx), p));
    ok_step(f, &(struct step){ .srcs = { "d" }, .dest = "/x", .chown = "1" }, &l);
    assert_string_not_equal(l.hash, h0);
    ok_step(f, &(struct step){ .srcs = { "d" }, .dest = "/y" }, &l);
    assert_string_not_equal(l.hash, h0);
    ok_step(f, &st, &l);
    assert_string_equal(l.hash, h0);
}

static void test_changed_while_copied(void **state)
{
    struct fx *f = *state;
    put(f->ctx, "a", "before", 0644);
    struct bctx *ctx = NULL;
    struct berr err = { 0 };
    assert_int_equal(bctx_open(f->ctx, &ctx, &err), 0);
    char *srcs[] = { "a" };
    struct copy_step c = { .ctx = ctx, .srcs = srcs, .nsrcs = 1, .dest = "/a",
                           .parent_root = f->parent };
    struct copy_plan *p;
    char hash[DIGEST_MAX], *cb;
    assert_int_equal(copy_prepare(&c, &p, hash, &cb, &err), 0);
    put(f->ctx, "a", "after!", 0644);
    struct berth_layer layer;
    assert_true(copy_layer(f->store, p, &layer, &err) < 0);
    assert_non_null(strstr(err.msg, "changed while it was copied"));
    copy_plan_free(p);
    free(cb);
    bctx_free(ctx);
}

static void test_from_root(void **state)
{
    struct fx *f = *state;
    char stage[128];
    snprintf(stage, sizeof stage, "%s/stage", f->root);
    mkdirs(f->root, "stage", 0755);
    put(stage, "usr/bin/tool", "#!/bin/sh\n", 0755);
    link_sym(stage, "bin", "usr/bin");
    put(f->ctx, ".dockerignore", "*\n", 0644);
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "/bin/tool" }, .dest = "/usr/local/bin/",
                               .from_root = stage }, &l);
    const struct lent *e = must(&l, "usr/local/bin/tool");
    assert_int_equal(e->mode, S_IFREG | 0755);
    err_step(f, &(struct step){ .srcs = { "/nope" }, .dest = "/x", .from_root = stage },
             "COPY failed: stat nope: file does not exist");
}

static void test_large_file(void **state)
{
    struct fx *f = *state;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/big", f->ctx);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    for (int i = 0; i < 24; i++) {
        memset(buf, 'a' + i, 1 << 20);
        assert_int_equal(write(fd, buf, 1 << 20), 1 << 20);
    }
    free(buf);
    close(fd);
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "big" }, .dest = "/big" }, &l);
    assert_int_equal(must(&l, "big")->size, 24 << 20);
}

static void test_capability(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        skip();
    put(f->ctx, "bin/server", "elf", 0755);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/bin/server", f->ctx);
    /* VFS_CAP_REVISION_2, effective, CAP_NET_BIND_SERVICE permitted */
    uint32_t cap[5] = { 0x02000001, 1u << 10, 0, 0, 0 };
    if (setxattr(p, "security.capability", cap, sizeof cap, 0) < 0)
        skip();
    struct layer l;
    ok_step(f, &(struct step){ .srcs = { "bin" }, .dest = "/usr/bin" }, &l);
    assert_int_equal(must(&l, "usr/bin/server")->caplen, sizeof cap);
}

/* ---- root views (root only) ---------------------------------------------------------- */

static bool file_is(const char *dir, const char *rel, const char *text)
{
    char p[PATH_MAX], buf[64] = "";
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *fp = fopen(p, "r");
    if (!fp)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return !strcmp(buf, text);
}

static void test_rootview(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        skip();
    char l1[128], l2[128], l3[128];
    snprintf(l1, sizeof l1, "%s/layers/l1", f->root);
    snprintf(l2, sizeof l2, "%s/layers/l2", f->root);
    snprintf(l3, sizeof l3, "%s/other/l3", f->root);
    mkdirs(f->root, "layers/l1", 0755);
    mkdirs(f->root, "layers/l2", 0755);
    mkdirs(f->root, "other/l3", 0755);
    put(l1, "a", "1", 0644);
    put(l1, "b", "1", 0644);
    put(l2, "b", "2", 0644);
    put(l2, "c", "2", 0644);
    put(l3, "d", "3", 0644);
    struct berr err = { 0 };
    char *lower[] = { l1, l2, l3 };
    char *view = NULL;
    /* two layers: the later one on top */
    if (rootview_mount(lower, 2, &view, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(file_is(view, "a", "1"));
    assert_true(file_is(view, "b", "2"));
    assert_true(file_is(view, "c", "2"));
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/new", view);
    assert_true(open(p, O_WRONLY | O_CREAT, 0644) < 0);
    assert_int_equal(errno, EROFS);
    char *keep = strdup(view);
    rootview_umount(view);
    struct stat st;
    assert_true(stat(keep, &st) < 0);
    free(keep);
    /* layers in different directories */
    assert_int_equal(rootview_mount(lower, 3, &view, &err), 0);
    assert_true(file_is(view, "d", "3"));
    assert_true(file_is(view, "b", "2"));
    rootview_umount(view);
    /* one layer: a read-only bind mount */
    assert_int_equal(rootview_mount(lower, 1, &view, &err), 0);
    assert_true(file_is(view, "b", "1"));
    snprintf(p, sizeof p, "%s/new", view);
    assert_true(open(p, O_WRONLY | O_CREAT, 0644) < 0);
    assert_int_equal(errno, EROFS);
    rootview_umount(view);
    /* none: an empty directory */
    assert_int_equal(rootview_mount(NULL, 0, &view, &err), 0);
    assert_int_equal(stat(view, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    keep = strdup(view);
    rootview_umount(view);
    assert_true(stat(keep, &st) < 0);
    free(keep);
    /* the working directory is kept */
    char cwd[PATH_MAX], after[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(rootview_mount(lower, 2, &view, &err), 0);
    assert_non_null(getcwd(after, sizeof after));
    assert_string_equal(cwd, after);
    rootview_umount(view);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    /* the test's web server is on the loopback: no proxy in between */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    const struct CMUnitTest tests[] = {
        T(test_single_file),
        T(test_dir_contents),
        T(test_globs),
        T(test_multi_source),
        T(test_dest_rules),
        T(test_chown),
        T(test_chmod),
        T(test_outside_context),
        T(test_missing_source),
        T(test_dockerignore),
        T(test_dockerignore_patterns),
        T(test_links_kept),
        T(test_add_archive),
        T(test_add_url),
        T(test_cache_hash),
        T(test_changed_while_copied),
        T(test_from_root),
        T(test_large_file),
        T(test_capability),
        T(test_rootview),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
