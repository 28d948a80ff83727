/*
 * test_build_cache.c - the build cache (cache.c): keys that differ in any
 * part, entries that hit only while their image is in the store, and
 * `builder prune`: the cache emptied, the build steps' images removed but
 * a named image and an untagged build's result kept with their blobs.
 * Every test gets its own store in a fresh directory from mkdtemp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../builder/internal.h"

struct fx {
    char root[64];
    struct berth_store *s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct berr err = {0};
    snprintf(f->root, sizeof f->root, "/tmp/berth-bcache-XXXXXX");
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

/* A one-file layer over `parent` (NULL: scratch), committed as a step. */
static void step(struct fx *f, const char *parent, const char *file, bool intermediate,
                 char id[DIGEST_MAX])
{
    struct berth_layer_writer *w;
    struct berth_layer layer;
    struct berr err = {0};
    assert_int_equal(berth_layer_new(f->s, &w, &err), 0);
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, file);
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_size(ae, (la_int64_t)strlen(file));
    assert_int_equal(archive_write_header(berth_layer_archive(w), ae), ARCHIVE_OK);
    assert_int_equal(archive_write_data(berth_layer_archive(w), file, strlen(file)),
                     (la_ssize_t)strlen(file));
    archive_entry_free(ae);
    assert_int_equal(berth_layer_finish(w, &layer, &err), 0);
    berth_layer_free(w);
    struct berth_commit c = {.parent = parent, .layer = &layer, .created_by = file,
                             .intermediate = intermediate};
    assert_int_equal(berth_image_commit(f->s, &c, id, &err), 0);
}

static void test_keys(void **state)
{
    (void)state;
    char a[DIGEST_MAX], b[DIGEST_MAX];
    cache_key("sha256:p", "RUN x", "A=1", "", a);
    assert_true(digest_valid(a));
    cache_key("sha256:p", "RUN x", "A=1", "", b);
    assert_string_equal(a, b);
    const char *other[][4] = {
        {"sha256:q", "RUN x", "A=1", ""}, {"sha256:p", "RUN y", "A=1", ""},
        {"sha256:p", "RUN x", "A=2", ""}, {"sha256:p", "RUN x", "A=1", "sha256:h"},
        /* the same bytes, cut elsewhere */
        {"sha256:pR", "UN x", "A=1", ""}, {"sha256:p", "RUN xA", "=1", ""},
    };
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        cache_key(other[i][0], other[i][1], other[i][2], other[i][3], b);
        assert_string_not_equal(a, b);
    }
}

static void test_store_lookup(void **state)
{
    struct fx *f = *state;
    struct berr err = {0};
    char id[DIGEST_MAX], key[DIGEST_MAX], got[DIGEST_MAX];
    cache_key("scratch:linux/amd64", "COPY a /", "", "sha256:x", key);
    assert_int_not_equal(cache_lookup(f->s, key, got), 0);
    step(f, NULL, "a", true, id);
    assert_int_equal(cache_store(f->s, key, id, &err), 0);
    assert_int_equal(cache_lookup(f->s, key, got), 0);
    assert_string_equal(got, id);
    /* an entry whose image is gone is a miss */
    uint64_t freed;
    assert_int_equal(berth_prune_intermediate(f->s, NULL, NULL, &freed, &err), 0);
    assert_true(freed > 0);
    assert_int_not_equal(cache_lookup(f->s, key, got), 0);
    /* a broken entry is a miss, not an error */
    char path[300];
    snprintf(path, sizeof path, "%s/build-cache/%s", f->root, digest_hex(key));
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("garbage\n", fp);
    fclose(fp);
    assert_int_not_equal(cache_lookup(f->s, key, got), 0);
    assert_int_not_equal(cache_store(f->s, "nokey", id, &err), 0);
}

static void test_prune(void **state)
{
    struct fx *f = *state;
    struct berr err = {0};
    char base[DIGEST_MAX], s1[DIGEST_MAX], s2[DIGEST_MAX], named[DIGEST_MAX],
        loose[DIGEST_MAX], key[DIGEST_MAX];
    step(f, NULL, "base", false, base);
    assert_int_equal(berth_tag(f->s, base, "base:1", &err), 0);
    step(f, base, "one", true, s1);
    step(f, s1, "two", true, s2);
    step(f, s2, "three", true, named);
    assert_int_equal(berth_tag(f->s, named, "app:1", &err), 0);
    step(f, base, "untagged", true, loose);
    assert_int_equal(berth_image_unmark_intermediate(f->s, loose, &err), 0);
    cache_key(base, "RUN one", "", "", key);
    assert_int_equal(cache_store(f->s, key, s1, &err), 0);

    uint64_t freed = 0;
    assert_int_equal(builder_prune(f->s, &freed, &err), 0);
    assert_true(freed > 0);
    char got[DIGEST_MAX];
    assert_int_not_equal(cache_lookup(f->s, key, got), 0);
    /* the steps are gone; the named images, the untagged result stay */
    assert_int_not_equal(berth_image_get(f->s, s1, NULL, NULL, NULL, &err), 0);
    assert_int_not_equal(berth_image_get(f->s, s2, NULL, NULL, NULL, &err), 0);
    json_t *manifest = NULL;
    assert_int_equal(berth_image_get(f->s, "app:1", &manifest, NULL, NULL, &err), 0);
    assert_int_equal(berth_image_get(f->s, loose, NULL, NULL, NULL, &err), 0);
    assert_int_equal(berth_image_get(f->s, "base:1", NULL, NULL, NULL, &err), 0);
    /* every layer of the named image is still there */
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(manifest, "layers"), i, l) {
        char path[400];
        berth_blob_path(f->s, json_string_value(json_object_get(l, "digest")), path,
                        sizeof path);
        assert_int_equal(access(path, F_OK), 0);
    }
    assert_int_equal(json_array_size(json_object_get(manifest, "layers")), 4);
    json_decref(manifest);
    /* a second prune has nothing left to do */
    assert_int_equal(builder_prune(f->s, &freed, &err), 0);
    assert_int_equal(freed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test_setup_teardown(test_store_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
