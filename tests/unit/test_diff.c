/*
 * test_diff.c - a container's upper directory read back as a layer
 * (runtime/diff.c), and unpacked layers pruned (runtime/gc.c), without
 * mounting anything: the upper directory is made here as overlayfs
 * would leave it (0/0 character devices for deletions, the opaque xattr,
 * a hard link, a symlink, xattrs to keep and to drop, the runtime's own
 * mount points), with a state.json beside it. Needs root (mknod, trusted.*
 * xattrs); skipped otherwise. Each test has its own store under /tmp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../runtime/internal.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct fx {
    char root[64];
    char upper[256];
    struct berth_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct berr err = {0};
    snprintf(f->root, sizeof f->root, "/tmp/berth-diff-XXXXXX");
    if (!mkdtemp(f->root) || berth_store_open(f->root, &f->s, &err) < 0)
        return -1;
    snprintf(f->upper, sizeof f->upper, "%s/containers/%s/upper", f->root, CID);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    berth_store_close(f->s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->root);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void put(const char *dir, const char *name, const char *text, int mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static void sub(const char *dir, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* The container: its state.json (image, layers) and an upper directory
 * as overlayfs leaves it. */
static void make_container(struct fx *f, const char *layer_hex)
{
    char path[512];
    assert_int_equal(mkdir_p(f->upper, 0755), 0);
    snprintf(path, sizeof path, "%s/containers/%s/state.json", f->root, CID);
    FILE *st = fopen(path, "w");
    assert_non_null(st);
    fprintf(st, "{\"Id\":\"%s\",\"Name\":\"/c\",\"Created\":\"2026-01-01T00:00:00Z\","
                "\"Image\":\"sha256:%064d\",\"State\":{\"Status\":\"exited\",\"Running\":false},"
                "\"Config\":{\"Cmd\":[\"sh\"]},\"Berth\":{\"Layers\":[\"%s\"]}}",
            CID, 0, layer_hex);
    fclose(st);
    if (getuid() != 0)
        return;
    char p[512];
    put(f->upper, "added", "new\n", 0640);
    sub(f->upper, "added", p, sizeof p);
    assert_int_equal(setxattr(p, "user.kept", "yes", 3, 0), 0);
    assert_int_equal(setxattr(p, "trusted.dropped", "no", 2, 0), 0);
    char l[512];
    sub(f->upper, "hard", l, sizeof l);
    assert_int_equal(link(p, l), 0);
    sub(f->upper, "soft", l, sizeof l);
    assert_int_equal(symlink("/added", l), 0);
    sub(f->upper, "gone", l, sizeof l);
    assert_int_equal(mknod(l, S_IFCHR, makedev(0, 0)), 0);
    sub(f->upper, "etc", l, sizeof l);
    assert_int_equal(mkdir(l, 0755), 0);
    put(l, "hosts", "", 0644);
    put(l, "keep", "k\n", 0600);
    sub(f->upper, "opaque", l, sizeof l);
    assert_int_equal(mkdir(l, 0750), 0);
    assert_int_equal(setxattr(l, "trusted.overlay.opaque", "y", 1, 0), 0);
    assert_int_equal(setxattr(l, "trusted.overlay.impure", "y", 1, 0), 0);
    put(l, "inside", "i\n", 0644);
    for (const char *const *m = (const char *const[]){"proc", "sys", "dev", NULL}; *m; m++) {
        sub(f->upper, *m, l, sizeof l);
        assert_int_equal(mkdir(l, 0755), 0);
    }
    put(f->upper, "dev/console", "", 0644);
}

struct seen {
    char list[2048];
    char added_xattrs[256];
    char hard_target[64];
    char soft_target[64];
    int keep_mode, opaque_mode;
    char added_data[16];
};

static void read_layer(struct fx *f, const struct berth_layer *l, struct seen *out)
{
    char path[512];
    memset(out, 0, sizeof *out);
    berth_blob_path(f->s, l->digest, path, sizeof path);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, path, 16384), ARCHIVE_OK);
    struct archive_entry *e;
    size_t n = 0;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        buf_appendf(out->list, sizeof out->list, &n, "%s ", name);
        if (strcmp(name, "added") == 0) {
            const char *xn;
            const void *xv;
            size_t xs, k = 0;
            archive_entry_xattr_reset(e);
            while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
                buf_appendf(out->added_xattrs, sizeof out->added_xattrs, &k, "%s=%.*s ", xn,
                            (int)xs, (const char *)xv);
            la_ssize_t r = archive_read_data(a, out->added_data, sizeof out->added_data - 1);
            assert_true(r >= 0);
        }
        if (strcmp(name, "hard") == 0 && archive_entry_hardlink(e))
            snprintf(out->hard_target, sizeof out->hard_target, "%s", archive_entry_hardlink(e));
        if (strcmp(name, "soft") == 0 && archive_entry_symlink(e))
            snprintf(out->soft_target, sizeof out->soft_target, "%s", archive_entry_symlink(e));
        if (strcmp(name, "etc/keep") == 0)
            out->keep_mode = (int)(archive_entry_perm(e));
        if (strcmp(name, "opaque/") == 0)
            out->opaque_mode = (int)(archive_entry_perm(e));
    }
    archive_read_free(a);
}

static void test_upper_as_layer(void **state)
{
    struct fx *f = *state;
    if (getuid() != 0)
        skip();
    make_container(f, "00");
    struct berth_layer_writer *w = NULL;
    struct berth_layer l;
    struct berr err = {0};
    assert_int_equal(berth_layer_new(f->s, &w, &err), 0);
    assert_int_equal(rt_container_layer_write(f->s, "c", w, &err), 0);
    assert_int_equal(berth_layer_finish(w, &l, &err), 0);
    berth_layer_free(w);
    struct seen s;
    read_layer(f, &l, &s);
    /* name order; the runtime's own files left out; deletions and the
     * opaque directory as OCI whiteouts */
    assert_string_equal(s.list, "added etc/ etc/keep .wh.gone hard opaque/ opaque/.wh..wh..opq "
                                "opaque/inside soft ");
    /* (libarchive reads pax's LIBARCHIVE.xattr and SCHILY.xattr forms both) */
    assert_non_null(strstr(s.added_xattrs, "user.kept=yes "));
    assert_null(strstr(s.added_xattrs, "trusted."));
    assert_string_equal(s.added_data, "new\n");
    assert_string_equal(s.hard_target, "added");
    assert_string_equal(s.soft_target, "/added");
    assert_int_equal(s.keep_mode, 0600);
    assert_int_equal(s.opaque_mode, 0750);
}

static void test_same_changes_same_layer(void **state)
{
    struct fx *f = *state;
    if (getuid() != 0)
        skip();
    make_container(f, "00");
    char digest[2][DIGEST_MAX];
    for (int i = 0; i < 2; i++) {
        struct berth_layer_writer *w = NULL;
        struct berth_layer l;
        struct berr err = {0};
        assert_int_equal(berth_layer_new(f->s, &w, &err), 0);
        assert_int_equal(rt_container_layer_write(f->s, CID, w, &err), 0);
        assert_int_equal(berth_layer_finish(w, &l, &err), 0);
        berth_layer_free(w);
        snprintf(digest[i], DIGEST_MAX, "%s", l.diff_id);
    }
    assert_string_equal(digest[0], digest[1]);
}

static void test_unknown_container(void **state)
{
    struct fx *f = *state;
    struct berth_layer_writer *w = NULL;
    struct berr err = {0};
    assert_int_equal(berth_layer_new(f->s, &w, &err), 0);
    assert_true(rt_container_layer_write(f->s, "nope", w, &err) < 0);
    assert_non_null(strstr(err.msg, "No such container: nope"));
    berth_layer_free(w);
}

/* ---- gc.c ------------------------------------------------------------------------------- */

static void mklayer(struct fx *f, const char *hex)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/layers/%s/d", f->root, hex);
    assert_int_equal(mkdir_p(dir, 0755), 0);
    put(dir, "file", "0123456789", 0644);
}

static bool layer_there(struct fx *f, const char *hex)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/layers/%s", f->root, hex);
    return access(dir, F_OK) == 0;
}

static void test_prune(void **state)
{
    struct fx *f = *state;
    char used[65], unused[65], partial[128];
    memset(used, 'a', 64);
    memset(unused, 'b', 64);
    used[64] = unused[64] = '\0';
    make_container(f, used);
    mklayer(f, used);
    mklayer(f, unused);
    snprintf(partial, sizeof partial, ".tmp-%s-XXXXXX", unused);
    mklayer(f, partial);
    uint64_t freed = 0;
    struct berr err = {0};
    assert_int_equal(rt_layers_prune(f->s, &freed, &err), 0);
    assert_true(layer_there(f, used));      /* a container's */
    assert_false(layer_there(f, unused));
    assert_false(layer_there(f, partial));  /* an unpack that died */
    assert_true(freed >= 20);

    /* the pin is a shared lock on layers/.lock (t3420 has a prune wait
     * for one) */
    int pin = rt_layers_pin(f->s, &err);
    assert_true(pin >= 0);
    char lock[512];
    snprintf(lock, sizeof lock, "%s/layers/.lock", f->root);
    assert_int_equal(access(lock, F_OK), 0);
    close(pin);

    /* the container gone, its layer goes too */
    char path[512];
    snprintf(path, sizeof path, "%s/containers/%s", f->root, CID);
    assert_int_equal(rmtree(path), 0);
    assert_int_equal(rt_layers_prune(f->s, &freed, &err), 0);
    assert_false(layer_there(f, used));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upper_as_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_changes_same_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_container, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
