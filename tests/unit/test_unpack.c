/*
 * test_unpack.c - layers unpacked once per diff-id: plain, gzip and zstd
 * tars with owners, modes and links kept; the diff-id checked over the
 * uncompressed stream; OCI whiteouts turned into overlayfs ones; hostile
 * paths (absolute, '..', hardlinks out, writes through a symlink) kept
 * inside the layer or skipped; nothing left behind on failure, nor in the
 * caller's working directory; racing processes; rmtree. Layers are built
 * with libarchive's writer; tests run as root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../runtime/internal.h"

struct fx {
    char root[64];
    char layers[96];
    char blob[96];
    char outside[64];        /* a directory a hostile layer must not reach */
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
    snprintf(f->root, sizeof f->root, "/tmp/berth-unpack-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->outside, sizeof f->outside, "/tmp/berth-outside-XXXXXX");
    assert_non_null(mkdtemp(f->outside));
    snprintf(f->layers, sizeof f->layers, "%s/layers", f->root);
    snprintf(f->blob, sizeof f->blob, "%s/blob", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    nftw(f->outside, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void join(char *p, size_t len, const char *dir, const char *name)
{
    assert_true((size_t)snprintf(p, len, "%s/%s", dir, name) < len);
}

/* ---- building layers ----------------------------------------------------------- */

struct ent {
    char type;               /* f file, d dir, l symlink, h hardlink, c char dev, p fifo */
    const char *path;
    const char *data;        /* content, or the link's target */
    int mode;                /* 0: 0644 / 0755 */
    int uid;
    const char *xattr, *xvalue;
};

enum { NONE, GZIP, ZSTD };

/* The uncompressed tar of `ents`, in a malloc'd buffer. */
static unsigned char *tar_of(const struct ent *ents, size_t n, size_t *len)
{
    size_t cap = 1 << 16;
    for (size_t i = 0; i < n; i++)
        cap += 2048 + (ents[i].data ? strlen(ents[i].data) : 0);
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    /* UTF-8 names in pax headers, as docker (Go) writes them; only this
     * thread's locale, so that layer_unpack still runs in the "C" one */
    locale_t utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    assert_non_null(utf8);
    locale_t old = uselocale(utf8);
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_memory(a, buf, cap, len), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        const struct ent *x = &ents[i];
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, x->path);
        archive_entry_set_uid(e, x->uid);
        archive_entry_set_gid(e, x->uid);
        archive_entry_set_mtime(e, 1700000000, 0);
        size_t size = 0;
        switch (x->type) {
        case 'd':
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, x->mode ? x->mode : 0755);
            break;
        case 'l':
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_perm(e, 0777);
            archive_entry_set_symlink(e, x->data);
            break;
        case 'c':
            archive_entry_set_filetype(e, AE_IFCHR);
            archive_entry_set_perm(e, 0666);
            archive_entry_set_rdev(e, makedev(1, 3));
            break;
        case 'p':
            archive_entry_set_filetype(e, AE_IFIFO);
            archive_entry_set_perm(e, 0600);
            break;
        case 'h':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_hardlink(e, x->data);
            break;
        default:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, x->mode ? x->mode : 0644);
            size = x->data ? strlen(x->data) : 0;
            archive_entry_set_size(e, (la_int64_t)size);
        }
        if (x->xattr)
            archive_entry_xattr_add_entry(e, x->xattr, x->xvalue, strlen(x->xvalue));
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (size)
            assert_int_equal(archive_write_data(a, x->data, size), (la_ssize_t)size);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    uselocale(old);
    freelocale(utf8);
    return buf;
}

/* Write `data` to `path`, compressed as asked (format raw: the exact bytes). */
static void write_blob(const char *path, const void *data, size_t len, int filter)
{
    if (filter == NONE) {
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        assert_int_equal(fwrite(data, 1, len, fp), len);
        assert_int_equal(fclose(fp), 0);
        return;
    }
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
    assert_int_equal(filter == GZIP ? archive_write_add_filter_gzip(a)
                                    : archive_write_add_filter_zstd(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "layer.tar");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)len);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    archive_entry_free(e);
}

/* Build the layer blob at f->blob; diff_id gets the digest of its tar. */
static void make_layer(struct fx *f, const struct ent *ents, size_t n, int filter,
                       enum digest_algo algo, char diff_id[DIGEST_MAX])
{
    size_t len = 0;
    unsigned char *tar = tar_of(ents, n, &len);
    assert_int_equal(digest_buffer(algo, tar, len, diff_id), 0);
    write_blob(f->blob, tar, len, filter);
    free(tar);
}

static int unpack(struct fx *f, const char *diff_id, char out[PATH_MAX], struct berr *err)
{
    *err = (struct berr){0};
    return layer_unpack(f->layers, f->blob, diff_id, out, PATH_MAX, err);
}

static void unpack_ok(struct fx *f, const char *diff_id, char out[PATH_MAX])
{
    struct berr err;
    int rc = unpack(f, diff_id, out, &err);
    if (rc != 0)
        fail_msg("layer_unpack = %d: %s", rc, err.msg);
    char want[PATH_MAX];
    join(want, sizeof want, f->layers, digest_hex(diff_id));
    assert_string_equal(out, want);
}

/* ---- checks ---------------------------------------------------------------------- */

static bool exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat st;
    join(p, sizeof p, dir, name);
    return lstat(p, &st) == 0;
}

static void assert_content(const char *dir, const char *name, const char *want)
{
    char p[PATH_MAX], buf[256] = {0};
    join(p, sizeof p, dir, name);
    FILE *fp = fopen(p, "r");
    if (!fp)
        fail_msg("%s: %s", p, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static struct stat lstat_of(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat st;
    join(p, sizeof p, dir, name);
    if (lstat(p, &st) < 0)
        fail_msg("%s: %s", p, strerror(errno));
    return st;
}

/* Entries of dir, not counting . and ..; 0 when it does not exist. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

/* ---- tests ----------------------------------------------------------------------- */

static const struct ent plain[] = {
    {'d', "d/", NULL, 0750, 0, NULL, NULL},
    {'f', "d/f", "hello\n", 0640, 1000, NULL, NULL},
    {'f', "busybox", "#!binary\n", 0755, 0, NULL, NULL},
    {'l', "sh", "busybox", 0, 0, NULL, NULL},
    {'l', "lib", "/usr/lib", 0, 0, NULL, NULL},
    {'h', "d/hl", "d/f", 0, 0, NULL, NULL},
    {'c', "dev/null", NULL, 0, 0, NULL, NULL},
    {'p', "fifo", NULL, 0, 0, NULL, NULL},
    {'f', "caf\u00e9/\u65e5\u672c.txt", "utf-8\n", 0, 0, NULL, NULL},
};

static void check_plain(struct fx *f, int filter, enum digest_algo algo)
{
    char diff_id[DIGEST_MAX], out[PATH_MAX], target[64] = {0};
    make_layer(f, plain, sizeof plain / sizeof *plain, filter, algo, diff_id);
    unpack_ok(f, diff_id, out);

    assert_content(out, "d/f", "hello\n");
    struct stat st = lstat_of(out, "d/f");
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 1000);
    assert_int_equal(st.st_mtime, 1700000000);
    assert_int_equal(st.st_nlink, 2);
    assert_int_equal(lstat_of(out, "d/hl").st_ino, st.st_ino);
    assert_int_equal(lstat_of(out, "d").st_mode & 07777, 0750);
    assert_int_equal(lstat_of(out, "d").st_mtime, 1700000000);
    assert_int_equal(lstat_of(out, "busybox").st_mode & 07777, 0755);
    assert_int_equal(lstat_of(out, ".").st_mode & 07777, 0755);
    st = lstat_of(out, "dev/null");
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(1, 3));
    assert_true(S_ISFIFO(lstat_of(out, "fifo").st_mode));
    /* names are bytes (UTF-8 from pax headers), whatever the locale */
    assert_content(out, "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt", "utf-8\n");

    char p[PATH_MAX];
    join(p, sizeof p, out, "sh");
    assert_true(readlink(p, target, sizeof target - 1) > 0);
    assert_string_equal(target, "busybox");
    join(p, sizeof p, out, "lib");
    memset(target, 0, sizeof target);
    assert_true(readlink(p, target, sizeof target - 1) > 0);
    assert_string_equal(target, "/usr/lib");
    assert_int_equal(count_entries(f->layers), 1);   /* no .tmp-* left */
}

static void test_plain_uncompressed(void **state) { check_plain(*state, NONE, DIGEST_SHA256); }
static void test_plain_gzip(void **state) { check_plain(*state, GZIP, DIGEST_SHA256); }
static void test_plain_zstd(void **state) { check_plain(*state, ZSTD, DIGEST_SHA256); }
static void test_plain_sha512(void **state) { check_plain(*state, GZIP, DIGEST_SHA512); }

/* The diff-id covers what follows the end-of-archive blocks too (record
 * padding, here far more than one read of it), as docker computes it. */
static void test_trailing_padding(void **state)
{
    struct fx *f = *state;
    size_t len = 0, pad = 300000;
    unsigned char *tar = tar_of(plain, sizeof plain / sizeof *plain, &len);
    unsigned char *all = calloc(1, len + pad);
    assert_non_null(all);
    memcpy(all, tar, len);
    char diff_id[DIGEST_MAX], short_id[DIGEST_MAX], out[PATH_MAX];
    assert_int_equal(digest_buffer(DIGEST_SHA256, all, len + pad, diff_id), 0);
    assert_int_equal(digest_buffer(DIGEST_SHA256, all, len, short_id), 0);
    write_blob(f->blob, all, len + pad, ZSTD);
    free(tar);
    free(all);
    struct berr err;
    assert_int_equal(unpack(f, short_id, out, &err), -BERR_DIGEST);
    unpack_ok(f, diff_id, out);
    assert_content(out, "d/f", "hello\n");
}

/* docker's empty layer: 1024 zero bytes, gzipped */
static void test_empty_layer(void **state)
{
    struct fx *f = *state;
    unsigned char zero[1024] = {0};
    char diff_id[DIGEST_MAX], out[PATH_MAX];
    assert_int_equal(digest_buffer(DIGEST_SHA256, zero, sizeof zero, diff_id), 0);
    assert_string_equal(diff_id, "sha256:5f70bf18a086007016e948b04aed3b82"
                                 "103a36bea41755b6cddfaf10ace3c6ef");
    write_blob(f->blob, zero, sizeof zero, GZIP);
    unpack_ok(f, diff_id, out);
    assert_int_equal(count_entries(out), 0);
}

/* "./" (some builders write it) and "/" both mean the layer's root */
static void test_root_entries(void **state)
{
    struct fx *f = *state;
    const struct ent ents[] = {
        {'d', "./", NULL, 0711, 0, NULL, NULL},
        {'d', "./bin/", NULL, 0, 0, NULL, NULL},
        {'f', "./bin/x", "x", 0, 0, NULL, NULL},
        {'d', "/", NULL, 0751, 0, NULL, NULL},
        {'d', "//etc/", NULL, 0, 0, NULL, NULL},
    };
    char diff_id[DIGEST_MAX], out[PATH_MAX];
    make_layer(f, ents, sizeof ents / sizeof *ents, NONE, DIGEST_SHA256, diff_id);
    unpack_ok(f, diff_id, out);
    assert_content(out, "bin/x", "x");
    assert_true(S_ISDIR(lstat_of(out, "etc").st_mode));
    assert_int_equal(lstat_of(out, ".").st_mode & 07777, 0751);
}

/* The blob and the layers directory may be relative to the caller's cwd,
 * which is what it was afterwards. */
static void test_relative_paths(void **state)
{
    struct fx *f = *state;
    char diff_id[DIGEST_MAX], out[PATH_MAX], cwd[PATH_MAX], now[PATH_MAX];
    make_layer(f, plain, sizeof plain / sizeof *plain, GZIP, DIGEST_SHA256, diff_id);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->root), 0);
    struct berr err = {0};
    int rc = layer_unpack("layers", "blob", diff_id, out, sizeof out, &err);
    assert_non_null(getcwd(now, sizeof now));
    assert_int_equal(chdir(cwd), 0);
    if (rc != 0)
        fail_msg("layer_unpack = %d: %s", rc, err.msg);
    assert_string_equal(now, f->root);
    assert_true(strncmp(out, "layers/", 7) == 0);
    assert_true(S_ISDIR(lstat_of(f->layers, out + 7).st_mode));
    char p[PATH_MAX];
    join(p, sizeof p, f->root, out);
    assert_content(p, "d/f", "hello\n");
}

static void test_unpack_once(void **state)
{
    struct fx *f = *state;
    char diff_id[DIGEST_MAX], out[PATH_MAX], again[PATH_MAX], p[PATH_MAX];
    make_layer(f, plain, sizeof plain / sizeof *plain, GZIP, DIGEST_SHA256, diff_id);
    unpack_ok(f, diff_id, out);
    join(p, sizeof p, out, "marker");
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fclose(fp);
    join(p, sizeof p, out, "busybox");
    assert_int_equal(unlink(p), 0);

    /* not even the blob is read: it is gone */
    assert_int_equal(unlink(f->blob), 0);
    unpack_ok(f, diff_id, again);
    assert_string_equal(again, out);
    assert_true(exists(out, "marker"));
    assert_false(exists(out, "busybox"));
}

static void test_wrong_diff_id(void **state)
{
    struct fx *f = *state;
    char diff_id[DIGEST_MAX], other[DIGEST_MAX], out[PATH_MAX];
    make_layer(f, plain, sizeof plain / sizeof *plain, GZIP, DIGEST_SHA256, diff_id);
    assert_int_equal(digest_buffer(DIGEST_SHA256, "x", 1, other), 0);
    struct berr err;
    assert_int_equal(unpack(f, other, out, &err), -BERR_DIGEST);
    assert_int_equal(err.code, BERR_DIGEST);
    assert_non_null(strstr(err.msg, "does not match its diff-id"));
    assert_int_equal(count_entries(f->layers), 0);

    /* nor a sha512 one, and a malformed one is refused outright */
    assert_int_equal(digest_buffer(DIGEST_SHA512, "x", 1, other), 0);
    assert_int_equal(unpack(f, other, out, &err), -BERR_DIGEST);
    assert_int_equal(unpack(f, "sha256:abc", out, &err), -BERR_INVALID);
    assert_int_equal(count_entries(f->layers), 0);

    /* the right one still works afterwards */
    unpack_ok(f, diff_id, out);
}

static void test_whiteouts(void **state)
{
    struct fx *f = *state;
    const struct ent ents[] = {
        {'d', "etc/", NULL, 0, 0, NULL, NULL},
        {'f', "etc/shadow", "secret\n", 0, 0, NULL, NULL},
        {'f', "etc/.wh.passwd", NULL, 0, 0, NULL, NULL},
        {'f', "etc/.wh.shadow", NULL, 0, 0, NULL, NULL},    /* replaces the file */
        {'d', "var/", NULL, 0700, 0, NULL, NULL},
        {'f', "var/.wh..wh..opq", NULL, 0, 0, NULL, NULL},
        {'f', "var/kept", "k", 0, 0, NULL, NULL},
        {'f', "usr/share/.wh.doc", NULL, 0, 0, NULL, NULL},  /* parents made */
        {'f', ".wh..wh.plnk", NULL, 0, 0, NULL, NULL},       /* aufs: ignored */
        {'f', "x", "x", 0, 0, "trusted.overlay.redirect", "/etc"},
        {'f', "y", "y", 0, 0, "user.keep", "1"},
    };
    char diff_id[DIGEST_MAX], out[PATH_MAX], p[PATH_MAX], v[8] = {0};
    make_layer(f, ents, sizeof ents / sizeof *ents, GZIP, DIGEST_SHA256, diff_id);
    unpack_ok(f, diff_id, out);

    const char *wh[] = {"etc/passwd", "etc/shadow", "usr/share/doc"};
    for (size_t i = 0; i < 3; i++) {
        struct stat st = lstat_of(out, wh[i]);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(0, 0));
    }
    assert_false(exists(out, "etc/.wh.passwd"));
    assert_false(exists(out, "etc/.wh.shadow"));
    assert_false(exists(out, "var/.wh..wh..opq"));
    assert_false(exists(out, ".wh..wh.plnk"));
    assert_int_equal(lstat_of(out, "usr").st_mode & 07777, 0755);

    join(p, sizeof p, out, "var");
    assert_int_equal(getxattr(p, "trusted.overlay.opaque", v, sizeof v), 1);
    assert_int_equal(v[0], 'y');
    assert_int_equal(lstat_of(out, "var").st_mode & 07777, 0700);
    assert_content(out, "var/kept", "k");
    join(p, sizeof p, out, "etc");
    assert_true(getxattr(p, "trusted.overlay.opaque", v, sizeof v) < 0);

    /* a layer cannot forge overlayfs's own metadata, only other xattrs */
    join(p, sizeof p, out, "x");
    assert_true(getxattr(p, "trusted.overlay.redirect", v, sizeof v) < 0);
    join(p, sizeof p, out, "y");
    assert_int_equal(getxattr(p, "user.keep", v, sizeof v), 1);
}

static void test_traversal(void **state)
{
    struct fx *f = *state;
    char evil_x[PATH_MAX], evil2[PATH_MAX];
    join(evil_x, sizeof evil_x, f->outside, "x");
    FILE *fp = fopen(evil_x, "w");
    assert_non_null(fp);
    fputs("outside\n", fp);
    fclose(fp);
    join(evil2, sizeof evil2, f->outside, "sub");
    assert_int_equal(mkdir(evil2, 0755), 0);

    const char *escapes[] = {"berth-unpack-escape.txt", "berth-unpack-escape2.txt",
                             "berth-unpack-escape3.txt"};
    const char *places[] = {f->root, f->layers, "/tmp", "/"};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
            assert_false(exists(places[j], escapes[i]));

    const struct ent ents[] = {
        {'f', "/abs.txt", "abs\n", 0, 0, NULL, NULL},
        {'f', "../berth-unpack-escape.txt", "x", 0, 0, NULL, NULL},
        {'f', "a/../../berth-unpack-escape2.txt", "x", 0, 0, NULL, NULL},
        {'f', "../../../../../../../../tmp/berth-unpack-escape3.txt", "x", 0, 0, NULL, NULL},
        {'h', "hl", "../../../etc/passwd", 0, 0, NULL, NULL},
        {'h', "hl-abs", "/abs.txt", 0, 0, NULL, NULL},
        {'l', "evil", f->outside, 0, 0, NULL, NULL},
        {'f', "evil/pwned", "pwned\n", 0, 0, NULL, NULL},
        {'d', "evil/sub/", NULL, 0777, 0, NULL, NULL},
        {'f', "evil/sub/deep", "pwned\n", 0, 0, NULL, NULL},
        {'h', "hl-through", "evil/x", 0, 0, NULL, NULL},
        {'f', "evil/.wh.x", NULL, 0, 0, NULL, NULL},
        {'f', "evil/.wh..wh..opq", NULL, 0, 0, NULL, NULL},
        {'f', "ok.txt", "fine\n", 0, 0, NULL, NULL},
    };
    char diff_id[DIGEST_MAX], out[PATH_MAX];
    make_layer(f, ents, sizeof ents / sizeof *ents, GZIP, DIGEST_SHA256, diff_id);
    unpack_ok(f, diff_id, out);

    assert_content(out, "abs.txt", "abs\n");
    assert_content(out, "ok.txt", "fine\n");
    assert_int_equal(lstat_of(out, "hl-abs").st_ino, lstat_of(out, "abs.txt").st_ino);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
            assert_false(exists(places[j], escapes[i]));
    assert_false(exists(out, "hl"));
    assert_false(exists(out, "hl-through"));
    assert_true(S_ISLNK(lstat_of(out, "evil").st_mode));

    /* nothing reached the directory the symlink points to */
    assert_int_equal(count_entries(f->outside), 2);
    assert_int_equal(count_entries(evil2), 0);
    struct stat st = lstat_of(f->outside, "x");
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_nlink, 1);
    assert_content(f->outside, "x", "outside\n");
    assert_int_equal(lstat_of(f->outside, "sub").st_mode & 07777, 0755);
    char v[4];
    assert_true(getxattr(f->outside, "trusted.overlay.opaque", v, sizeof v) < 0);
}

static void test_corrupt_blob(void **state)
{
    struct fx *f = *state;
    char diff_id[DIGEST_MAX], out[PATH_MAX];
    struct ent big[] = {{'d', "d/", NULL, 0700, 0, NULL, NULL},
                        {'f', "d/big", NULL, 0, 0, NULL, NULL}};
    char *data = malloc(200000);
    assert_non_null(data);
    uint32_t x = 7;
    for (size_t i = 0; i < 199999; i++) {  /* incompressible, printable */
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        data[i] = (char)('a' + x % 26);
    }
    data[199999] = '\0';
    big[1].data = data;
    make_layer(f, big, 2, GZIP, DIGEST_SHA256, diff_id);
    free(data);
    struct stat st;
    assert_int_equal(stat(f->blob, &st), 0);
    assert_int_equal(truncate(f->blob, st.st_size / 2), 0);
    /* what libarchive defers (directory modes and times) is not applied
     * relative to the caller's working directory once it is restored */
    char d[PATH_MAX], cwd[PATH_MAX];
    join(d, sizeof d, f->root, "d");
    assert_int_equal(mkdir(d, 0755), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(f->root), 0);
    struct berr err;
    int rc = unpack(f, diff_id, out, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, -BERR_INVALID);
    assert_int_equal(err.code, BERR_INVALID);
    assert_int_equal(count_entries(f->layers), 0);
    assert_int_equal(lstat_of(f->root, "d").st_mode & 07777, 0755);
    assert_int_not_equal(lstat_of(f->root, "d").st_mtime, 1700000000);

    /* garbage, and a missing blob */
    FILE *fp = fopen(f->blob, "w");
    assert_non_null(fp);
    fputs("this is not a layer at all, not even close\n", fp);
    fclose(fp);
    assert_int_equal(unpack(f, diff_id, out, &err), -BERR_INVALID);
    assert_int_equal(count_entries(f->layers), 0);
    unlink(f->blob);
    assert_int_equal(unpack(f, diff_id, out, &err), -BERR_IO);
    assert_int_equal(count_entries(f->layers), 0);
}

/* Processes racing to unpack the same layer all get it, whole, once. */
static void test_concurrent(void **state)
{
    struct fx *f = *state;
    struct ent ents[8];
    char *data[8];
    for (size_t i = 0; i < 8; i++) {
        data[i] = malloc(1 << 20);
        assert_non_null(data[i]);
        memset(data[i], 'a' + (int)i, (1 << 20) - 1);
        data[i][(1 << 20) - 1] = '\0';
        ents[i] = (struct ent){'f', NULL, data[i], 0, 0, NULL, NULL};
    }
    const char *names[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
    for (size_t i = 0; i < 8; i++)
        ents[i].path = names[i];
    char diff_id[DIGEST_MAX], out[PATH_MAX];
    size_t len = 0;
    unsigned char *tar = tar_of(ents, 8, &len);
    assert_int_equal(digest_buffer(DIGEST_SHA256, tar, len, diff_id), 0);
    write_blob(f->blob, tar, len, GZIP);
    free(tar);

    pid_t pids[6];
    for (size_t i = 0; i < 6; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct berr err = {0};
            _exit(layer_unpack(f->layers, f->blob, diff_id, out, sizeof out, &err) ? 1 : 0);
        }
    }
    for (size_t i = 0; i < 6; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(count_entries(f->layers), 1);
    unpack_ok(f, diff_id, out);
    assert_int_equal(lstat_of(out, "7").st_size, (1 << 20) - 1);
    for (size_t i = 0; i < 8; i++)
        free(data[i]);
}

static void test_rmtree(void **state)
{
    struct fx *f = *state;
    char p[PATH_MAX], top[PATH_MAX];
    join(top, sizeof top, f->root, "tree");
    join(p, sizeof p, top, "a/b/c");
    assert_int_equal(mkdir_p(p, 0755), 0);
    join(p, sizeof p, top, "a/b/c/file");
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fclose(fp);
    join(p, sizeof p, top, "a/link");
    assert_int_equal(symlink(f->outside, p), 0);
    join(p, sizeof p, f->outside, "keep");
    fp = fopen(p, "w");
    assert_non_null(fp);
    fclose(fp);
    join(p, sizeof p, top, "a/b/c/dev");
    assert_int_equal(mknod(p, S_IFCHR, makedev(0, 0)), 0);

    assert_int_equal(rmtree(top), 0);
    assert_false(exists(f->root, "tree"));
    assert_true(exists(f->outside, "keep"));
    assert_int_equal(rmtree(top), 0);   /* already gone */
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_plain_uncompressed),
        T(test_plain_gzip),
        T(test_plain_zstd),
        T(test_plain_sha512),
        T(test_trailing_padding),
        T(test_empty_layer),
        T(test_root_entries),
        T(test_relative_paths),
        T(test_unpack_once),
        T(test_wrong_diff_id),
        T(test_whiteouts),
        T(test_traversal),
        T(test_corrupt_blob),
        T(test_concurrent),
        T(test_rmtree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
