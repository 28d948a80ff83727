/*
 * test_layer.c - making images in the local store: the layer writer (a
 * pax tar hashed as it is written: the blob's name is the SHA-256 of its
 * bytes, and it reads back as written), image commit on scratch and on a
 * parent (layers, history, diff_ids, config, platform, manifest), the
 * listing of images without a name (dangling, intermediate), the pin
 * that keeps a finished layer from rmi's sweep until an image uses it,
 * and the gzip form a push makes once. Every test gets its own store in a
 * fresh directory from mkdtemp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../client-lib/internal.h"

struct fx {
    char root[64];
    struct berth_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct berr err = {0};
    snprintf(f->root, sizeof f->root, "/tmp/berth-layer-XXXXXX");
    if (!mkdtemp(f->root) || berth_store_open(f->root, &f->s, &err) < 0)
        return -1;
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

/* ---- helpers ------------------------------------------------------------------------- */

static void add_file(struct archive *a, const char *name, const char *data, int mode)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, (mode_t)mode);
    archive_entry_set_size(e, (la_int64_t)strlen(data));
    archive_entry_set_uid(e, 1000);
    archive_entry_set_gid(e, 1000);
    archive_entry_set_mtime(e, 1700000000, 0);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, data, strlen(data)), (la_ssize_t)strlen(data));
    archive_entry_free(e);
}

static void add_entry(struct archive *a, const char *name, unsigned type, const char *target)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0777);
    if (target)
        archive_entry_set_symlink(e, target);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
}

/* A layer with a directory, a file (`text`) and a symlink. */
static void make_layer(struct fx *f, const char *text, struct berth_layer *out)
{
    struct berth_layer_writer *w;
    struct berr err = {0};
    assert_int_equal(berth_layer_new(f->s, &w, &err), 0);
    struct archive *a = berth_layer_archive(w);
    assert_non_null(a);
    add_entry(a, "etc", AE_IFDIR, NULL);
    add_file(a, "etc/greeting", text, 0640);
    add_entry(a, "etc/link", AE_IFLNK, "greeting");
    assert_int_equal(berth_layer_finish(w, out, &err), 0);
    berth_layer_free(w);
}

static bool blob_exists(struct fx *f, const char *digest)
{
    char path[2400];
    berth_blob_path(f->s, digest, path, sizeof path);
    return access(path, F_OK) == 0;
}

static void file_digest(const char *path, char out[DIGEST_MAX])
{
    struct hasher *h = hasher_new(DIGEST_SHA256);
    int fd = open(path, O_RDONLY);
    struct stat st;
    assert_true(fd >= 0 && fstat(fd, &st) == 0);
    assert_int_equal(hasher_update_fd(h, fd, (uint64_t)st.st_size), 0);
    assert_int_equal(hasher_final(h, out), 0);
    hasher_free(h);
    close(fd);
}

static size_t count_dir(const char *root, const char *sub)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, sub);
    DIR *d = opendir(path);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

struct seen {
    size_t n, unnamed, intermediate;
    char last_id[DIGEST_MAX];
};

static int count_images(void *arg, const struct berth_image *img)
{
    struct seen *s = arg;
    s->n++;
    s->unnamed += img->name == NULL;
    s->intermediate += img->intermediate;
    snprintf(s->last_id, sizeof s->last_id, "%s", img->config_digest);
    return 0;
}

/* ---- the writer ---------------------------------------------------------------------- */

static void test_writer_round_trip(void **state)
{
    struct fx *f = *state;
    struct berth_layer l;
    make_layer(f, "hello\n", &l);
    assert_string_equal(l.media_type, "application/vnd.oci.image.layer.v1.tar");
    assert_string_equal(l.digest, l.diff_id);
    assert_true(blob_exists(f, l.digest));

    /* the blob is named after the SHA-256 of its bytes, and is l.size long */
    char path[2400], got[DIGEST_MAX];
    struct stat st;
    berth_blob_path(f->s, l.digest, path, sizeof path);
    file_digest(path, got);
    assert_string_equal(got, l.digest);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, l.size);
    assert_int_equal(st.st_size % 512, 0);

    /* it reads back as written */
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
    assert_string_equal(archive_entry_pathname(e), "etc/");
    assert_int_equal(archive_entry_filetype(e), AE_IFDIR);
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
    assert_string_equal(archive_entry_pathname(e), "etc/greeting");
    assert_int_equal(archive_entry_perm(e), 0640);
    assert_int_equal(archive_entry_uid(e), 1000);
    char buf[64] = {0};
    assert_int_equal(archive_read_data(a, buf, sizeof buf), 6);
    assert_string_equal(buf, "hello\n");
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
    assert_string_equal(archive_entry_pathname(e), "etc/link");
    assert_string_equal(archive_entry_symlink(e), "greeting");
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_EOF);
    archive_read_free(a);

    /* the same entries make the same blob; nothing is left in tmp/ */
    struct berth_layer again;
    make_layer(f, "hello\n", &again);
    assert_string_equal(again.digest, l.digest);
    assert_int_equal(count_dir(f->root, "tmp"), 0);
    struct berth_layer other;
    make_layer(f, "other\n", &other);
    assert_string_not_equal(other.digest, l.digest);
}

static void test_writer_abandoned(void **state)
{
    struct fx *f = *state;
    struct berth_layer_writer *w;
    struct berr err = {0};
    assert_int_equal(berth_layer_new(f->s, &w, &err), 0);
    add_file(berth_layer_archive(w), "a", "data", 0644);
    berth_layer_free(w);
    assert_int_equal(count_dir(f->root, "tmp"), 0);
    assert_int_equal(count_dir(f->root, "blobs/sha256"), 0);
    assert_int_equal(count_dir(f->root, "pins"), 0);
    /* a finished writer cannot be finished twice */
    struct berth_layer l;
    assert_int_equal(berth_layer_new(f->s, &w, &err), 0);
    assert_int_equal(berth_layer_finish(w, &l, &err), 0);
    assert_true(berth_layer_finish(w, &l, &err) < 0);
    berth_layer_free(w);
}

/* ---- commit -------------------------------------------------------------------------- */

static void test_commit_scratch(void **state)
{
    struct fx *f = *state;
    struct berth_layer l;
    struct berr err = {0};
    char id[DIGEST_MAX], mdigest[DIGEST_MAX];
    make_layer(f, "scratch\n", &l);
    json_t *cfg = json_pack("{s:[s],s:[s]}", "Cmd", "sh", "Env", "PATH=/bin");
    struct berth_commit c = {
        .layer = &l, .config = cfg, .created_by = "/bin/sh -c #(nop) ADD file:abc in / ",
        .platform = "linux/arm64/v8",
    };
    assert_int_equal(berth_image_commit(f->s, &c, id, &err), 0);
    json_decref(cfg);
    assert_true(digest_valid(id));

    json_t *manifest, *config;
    assert_int_equal(berth_image_get(f->s, id, &manifest, &config, mdigest, &err), 0);
    /* the ID is the config's digest */
    char path[2400], got[DIGEST_MAX];
    berth_blob_path(f->s, id, path, sizeof path);
    file_digest(path, got);
    assert_string_equal(got, id);
    assert_string_equal(json_string_value(json_object_get(manifest, "mediaType")),
                        "application/vnd.oci.image.manifest.v1+json");
    assert_int_equal(json_integer_value(json_object_get(manifest, "schemaVersion")), 2);
    json_t *cd = json_object_get(manifest, "config");
    assert_string_equal(json_string_value(json_object_get(cd, "mediaType")),
                        "application/vnd.oci.image.config.v1+json");
    assert_string_equal(json_string_value(json_object_get(cd, "digest")), id);
    json_t *layers = json_object_get(manifest, "layers");
    assert_int_equal(json_array_size(layers), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(layers, 0), "digest")),
                        l.digest);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(layers, 0), "size")),
                     (json_int_t)l.size);

    assert_string_equal(json_string_value(json_object_get(config, "architecture")), "arm64");
    assert_string_equal(json_string_value(json_object_get(config, "os")), "linux");
    assert_string_equal(json_string_value(json_object_get(config, "variant")), "v8");
    const char *created = json_string_value(json_object_get(config, "created"));
    assert_non_null(created);
    assert_int_equal(strlen(created), 30);  /* 2026-01-02T03:04:05.123456789Z */
    assert_int_equal(created[10], 'T');
    assert_int_equal(created[29], 'Z');
    json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    assert_int_equal(json_array_size(diff_ids), 1);
    assert_string_equal(json_string_value(json_array_get(diff_ids, 0)), l.diff_id);
    json_t *history = json_object_get(config, "history");
    assert_int_equal(json_array_size(history), 1);
    json_t *h = json_array_get(history, 0);
    assert_string_equal(json_string_value(json_object_get(h, "created_by")),
                        "/bin/sh -c #(nop) ADD file:abc in / ");
    assert_string_equal(json_string_value(json_object_get(h, "created")), created);
    assert_null(json_object_get(h, "empty_layer"));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(config, "config"), "Cmd"), 0)),
                        "sh");
    json_decref(manifest);
    json_decref(config);

    /* no name: not in berth_images; dangling in berth_images_all */
    struct seen seen = {0};
    assert_int_equal(berth_images(f->s, count_images, &seen, &err), 0);
    assert_int_equal(seen.n, 0);
    assert_int_equal(berth_images_all(f->s, false, count_images, &seen, &err), 0);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.unnamed, 1);
    assert_string_equal(seen.last_id, id);

    /* this machine's platform by default; a bad one is refused */
    c.platform = NULL;
    assert_int_equal(berth_image_commit(f->s, &c, id, &err), 0);
    assert_int_equal(berth_image_get(f->s, id, NULL, &config, NULL, &err), 0);
    char host[64];
    host_platform(host, sizeof host);
    char want[64];
    snprintf(want, sizeof want, "%s/%s", json_string_value(json_object_get(config, "os")),
             json_string_value(json_object_get(config, "architecture")));
    assert_string_equal(want, host);
    json_decref(config);
    c.platform = "nonsense";
    assert_true(berth_image_commit(f->s, &c, id, &err) < 0);
    c.platform = NULL;
    c.parent = "no-such-image:1";
    assert_int_equal(berth_image_commit(f->s, &c, id, &err), -BERR_NOTFOUND);
}

static void test_commit_parent(void **state)
{
    struct fx *f = *state;
    struct berth_layer l1, l2;
    struct berr err = {0};
    char base[DIGEST_MAX], step[DIGEST_MAX], top[DIGEST_MAX];
    make_layer(f, "one\n", &l1);
    make_layer(f, "two\n", &l2);
    json_t *cfg = json_pack("{s:[s]}", "Cmd", "sh");
    struct berth_commit c = {.layer = &l1, .config = cfg, .created_by = "base"};
    assert_int_equal(berth_image_commit(f->s, &c, base, &err), 0);
    json_decref(cfg);
    assert_int_equal(berth_tag(f->s, base, "example.com/base:1", &err), 0);

    /* a layer over the parent, by its name; the parent's config is kept */
    struct berth_commit c2 = {.parent = "example.com/base:1", .layer = &l2,
                              .created_by = "/bin/sh -c echo two", .intermediate = true};
    assert_int_equal(berth_image_commit(f->s, &c2, step, &err), 0);
    /* then a config-only step, by ID, with author and comment */
    json_t *cfg3 = json_pack("{s:[s],s:s}", "Cmd", "echo", "WorkingDir", "/srv");
    struct berth_commit c3 = {.parent = step, .config = cfg3,
                              .created_by = "/bin/sh -c #(nop)  CMD [\"echo\"]",
                              .author = "Jane <j@example.com>", .comment = "a message"};
    assert_int_equal(berth_image_commit(f->s, &c3, top, &err), 0);
    json_decref(cfg3);

    json_t *manifest, *config;
    assert_int_equal(berth_image_get(f->s, step, NULL, &config, NULL, &err), 0);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(config, "config"), "Cmd"), 0)),
                        "sh");
    json_decref(config);
    assert_int_equal(berth_image_get(f->s, top, &manifest, &config, NULL, &err), 0);
    json_t *layers = json_object_get(manifest, "layers");
    assert_int_equal(json_array_size(layers), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(layers, 0), "digest")),
                        l1.digest);
    assert_string_equal(json_string_value(json_object_get(json_array_get(layers, 1), "digest")),
                        l2.digest);
    json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    assert_int_equal(json_array_size(diff_ids), 2);
    assert_string_equal(json_string_value(json_array_get(diff_ids, 1)), l2.diff_id);
    json_t *history = json_object_get(config, "history");
    assert_int_equal(json_array_size(history), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(history, 0), "created_by")),
                        "base");
    assert_string_equal(json_string_value(json_object_get(json_array_get(history, 1), "created_by")),
                        "/bin/sh -c echo two");
    assert_null(json_object_get(json_array_get(history, 1), "empty_layer"));
    json_t *last = json_array_get(history, 2);
    assert_true(json_is_true(json_object_get(last, "empty_layer")));
    assert_string_equal(json_string_value(json_object_get(last, "comment")), "a message");
    assert_string_equal(json_string_value(json_object_get(last, "author")), "Jane <j@example.com>");
    assert_string_equal(json_string_value(json_object_get(config, "author")), "Jane <j@example.com>");
    assert_string_equal(json_string_value(json_object_get(json_object_get(config, "config"), "WorkingDir")),
                        "/srv");
    json_decref(manifest);
    json_decref(config);

    /* names: base; dangling: top; intermediate (-a only): step */
    struct seen seen = {0};
    assert_int_equal(berth_images(f->s, count_images, &seen, &err), 0);
    assert_int_equal(seen.n, 1);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(berth_images_all(f->s, false, count_images, &seen, &err), 0);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.intermediate, 0);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(berth_images_all(f->s, true, count_images, &seen, &err), 0);
    assert_int_equal(seen.n, 3);
    assert_int_equal(seen.intermediate, 1);
    assert_int_equal(seen.unnamed, 2);

    /* the base's blobs stay while images over it do, even without its name */
    assert_int_equal(berth_rmi(f->s, "example.com/base:1", false, &err), 0);
    assert_true(blob_exists(f, l1.digest));
    assert_true(blob_exists(f, l2.digest));
    assert_true(blob_exists(f, top));
    /* the intermediate one is kept from the sweep too, until removed */
    assert_int_equal(berth_rmi(f->s, top, false, &err), 0);
    assert_true(blob_exists(f, l2.digest));
    assert_true(blob_exists(f, step));
    assert_int_equal(berth_rmi(f->s, step, false, &err), 0);
    assert_false(blob_exists(f, l1.digest));
    assert_false(blob_exists(f, l2.digest));
    assert_int_equal(count_dir(f->root, "blobs/sha256"), 0);
}

/* A named image that is also a build step: listed once. */
static void test_named_step_listed_once(void **state)
{
    struct fx *f = *state;
    struct berth_layer l;
    struct berr err = {0};
    char id[DIGEST_MAX];
    make_layer(f, "x\n", &l);
    struct berth_commit c = {.layer = &l, .created_by = "x", .intermediate = true};
    assert_int_equal(berth_image_commit(f->s, &c, id, &err), 0);
    assert_int_equal(berth_tag(f->s, id, "example.com/x:1", &err), 0);
    struct seen seen = {0};
    assert_int_equal(berth_images_all(f->s, true, count_images, &seen, &err), 0);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.unnamed, 0);
    /* untagged, it is a build step again: hidden but kept */
    assert_int_equal(berth_rmi(f->s, "example.com/x:1", false, &err), 0);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(berth_images_all(f->s, false, count_images, &seen, &err), 0);
    assert_int_equal(seen.n, 0);
    assert_true(blob_exists(f, l.digest));
    /* one name and its build step: rmi by ID needs no force, removes both */
    assert_int_equal(berth_tag(f->s, id, "example.com/x:2", &err), 0);
    assert_int_equal(berth_rmi(f->s, id, false, &err), 0);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(berth_images_all(f->s, true, count_images, &seen, &err), 0);
    assert_int_equal(seen.n, 0);
    assert_false(blob_exists(f, l.digest));
}

/* ---- the pin ------------------------------------------------------------------------- */

/* An rmi that runs the sweep: a throw-away named image removed. */
static void sweep(struct fx *f)
{
    struct berr err = {0};
    char id[DIGEST_MAX];
    json_t *cfg = json_pack("{s:i}", "n", rand());
    struct berth_commit c = {.config = cfg, .created_by = "tmp"};
    assert_int_equal(berth_image_commit(f->s, &c, id, &err), 0);
    json_decref(cfg);
    assert_int_equal(berth_tag(f->s, id, "example.com/tmp:1", &err), 0);
    assert_int_equal(berth_rmi(f->s, "example.com/tmp:1", false, &err), 0);
    assert_false(blob_exists(f, id));
}

static void test_pin_vs_sweep(void **state)
{
    struct fx *f = *state;
    struct berth_layer l;
    struct berr err = {0};
    char id[DIGEST_MAX];
    make_layer(f, "pinned\n", &l);
    assert_int_equal(count_dir(f->root, "pins"), 1);
    sweep(f);
    assert_true(blob_exists(f, l.digest));

    /* another handle (another berth process) sweeps: still kept */
    struct berth_store *s2;
    assert_int_equal(berth_store_open(f->root, &s2, &err), 0);
    json_t *cfg = json_pack("{s:s}", "x", "y");
    struct berth_commit tmp = {.config = cfg};
    assert_int_equal(berth_image_commit(s2, &tmp, id, &err), 0);
    json_decref(cfg);
    assert_int_equal(berth_rmi(s2, id, false, &err), 0);
    berth_store_close(s2);
    assert_true(blob_exists(f, l.digest));

    /* once an image uses it, the pin goes; the image keeps it */
    struct berth_commit c = {.layer = &l, .created_by = "x"};
    assert_int_equal(berth_image_commit(f->s, &c, id, &err), 0);
    assert_int_equal(count_dir(f->root, "pins"), 0);
    sweep(f);
    assert_true(blob_exists(f, l.digest));
    assert_int_equal(berth_rmi(f->s, id, false, &err), 0);
    assert_false(blob_exists(f, l.digest));

    /* a pin ends with the store handle that made it */
    assert_int_equal(berth_store_open(f->root, &s2, &err), 0);
    struct berth_layer_writer *w;
    assert_int_equal(berth_layer_new(s2, &w, &err), 0);
    add_file(berth_layer_archive(w), "f", "closed\n", 0644);
    assert_int_equal(berth_layer_finish(w, &l, &err), 0);
    berth_layer_free(w);
    assert_int_equal(count_dir(f->root, "pins"), 1);
    sweep(f);
    assert_true(blob_exists(f, l.digest));
    berth_store_close(s2);
    assert_int_equal(count_dir(f->root, "pins"), 0);
    sweep(f);
    assert_false(blob_exists(f, l.digest));
}

/* A pin left by a process that is gone (kill -9) is not honoured. */
static void test_stale_pin(void **state)
{
    struct fx *f = *state;
    struct berr err = {0};
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct berth_store *s;
        struct berth_layer_writer *w;
        struct berth_layer l;
        close(fds[0]);
        if (berth_store_open(f->root, &s, &err) < 0 || berth_layer_new(s, &w, &err) < 0)
            _exit(1);
        add_file(berth_layer_archive(w), "f", "orphan\n", 0644);
        if (berth_layer_finish(w, &l, &err) < 0)
            _exit(1);
        if (write(fds[1], l.digest, strlen(l.digest) + 1) < 0)
            _exit(1);
        _exit(0);   /* no close: the pin file stays, as after a kill */
    }
    close(fds[1]);
    char digest[DIGEST_MAX] = {0};
    assert_true(read(fds[0], digest, sizeof digest - 1) > 0);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(count_dir(f->root, "pins"), 1);
    assert_true(blob_exists(f, digest));
    sweep(f);
    assert_false(blob_exists(f, digest));
    assert_int_equal(count_dir(f->root, "pins"), 0);
}

/* ---- gzip for a push --------------------------------------------------------------------- */

static void test_gzip_once(void **state)
{
    struct fx *f = *state;
    struct berth_layer l;
    struct berr err = {0};
    char gz[DIGEST_MAX], gz2[DIGEST_MAX], path[2400], got[DIGEST_MAX];
    uint64_t size, size2;
    make_layer(f, "compress me\n", &l);
    assert_int_equal(layer_gzip(f->s, l.digest, gz, &size, &err), 0);
    assert_string_not_equal(gz, l.digest);
    berth_blob_path(f->s, gz, path, sizeof path);
    file_digest(path, got);
    assert_string_equal(got, gz);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, size);

    /* it decompresses to the layer */
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    archive_read_support_filter_gzip(a);
    archive_read_support_format_raw(a);
    assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
    assert_int_equal(archive_filter_code(a, 0), ARCHIVE_FILTER_GZIP);
    struct hasher *h = hasher_new(DIGEST_SHA256);
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
        hasher_update(h, buf, (size_t)n);
    assert_int_equal(n, 0);
    assert_int_equal(hasher_final(h, got), 0);
    hasher_free(h);
    archive_read_free(a);
    assert_string_equal(got, l.diff_id);

    /* the second time it is remembered, not made again */
    struct stat before;
    stat(path, &before);
    assert_int_equal(layer_gzip(f->s, l.digest, gz2, &size2, &err), 0);
    assert_string_equal(gz2, gz);
    assert_int_equal(size2, size);
    struct stat after;
    stat(path, &after);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(count_dir(f->root, "gzip"), 1);

    /* the gzip form lives as long as the layer's image */
    char id[DIGEST_MAX];
    struct berth_commit c = {.layer = &l, .created_by = "x"};
    assert_int_equal(berth_image_commit(f->s, &c, id, &err), 0);
    sweep(f);
    assert_true(blob_exists(f, gz));
    assert_int_equal(berth_rmi(f->s, id, false, &err), 0);
    assert_false(blob_exists(f, gz));
    assert_false(blob_exists(f, l.digest));
    assert_int_equal(count_dir(f->root, "gzip"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writer_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_abandoned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_scratch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_step_listed_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin_vs_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_pin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
