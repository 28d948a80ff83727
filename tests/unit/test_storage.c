/*
 * test_storage.c - the blob store (uploads hashed as they stream, verified,
 * staged, published without ever replacing a blob, surviving a restart) and
 * the sqlite metadata (per-repository blob visibility, upload sessions,
 * manifests with their refs checked in one transaction, tags, listings with
 * pagination, referrers). Every test gets a fresh directory from mkdtemp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/common.h"
#include "../../storage/storage.h"

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"

struct fx {
    char root[64];
    char db[96];
    struct blob_store *bs;
    struct meta *m;
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
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof f->root, "%s/berth-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->db, sizeof f->db, "%s/meta.db", f->root);
    struct berr err = {0};
    assert_int_equal(blob_store_open(f->root, &f->bs, &err), 0);
    assert_int_equal(meta_open(f->db, &f->m, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    meta_close(f->m);
    blob_store_close(f->bs);
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static unsigned char *pattern(size_t n, uint32_t seed)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    uint32_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static void digest_of(enum digest_algo algo, const void *data, size_t len,
                      char out[DIGEST_MAX])
{
    assert_int_equal(digest_buffer(algo, data, len, out), 0);
}

/* The blob's whole content must be `want`. */
static void assert_blob(struct blob_store *bs, const char *digest, const void *want,
                        size_t len)
{
    int fd = -1;
    uint64_t size = 0;
    assert_int_equal(blob_open(bs, digest, &fd, &size), 0);
    assert_int_equal(size, len);
    unsigned char *buf = malloc(len + 1);
    assert_non_null(buf);
    size_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf + off, len + 1 - off, (off_t)off);
        assert_true(n >= 0);
        if (n == 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    assert_int_equal(off, len);
    assert_memory_equal(buf, want, len);
    free(buf);
}

static void new_upload(struct blob_store *bs, char id[33])
{
    struct berr err = {0};
    upload_id_new(id);
    assert_int_equal(upload_create(bs, id, &err), 0);
}

static struct upload *take(struct blob_store *bs, const char *id)
{
    struct berr err = {0};
    struct upload *up = NULL;
    int rc = upload_take(bs, id, &up, &err);
    if (rc != 0)
        fail_msg("upload_take(%s) = %d: %s", id, rc, err.msg);
    assert_non_null(up);
    return up;
}

static void write_ok(struct upload *up, const void *data, size_t len)
{
    struct berr err = {0};
    assert_int_equal(upload_write(up, data, len, &err), 0);
}

/* Upload `data` in chunks and finish it as `digest`; returns the rc. */
static int upload_all(struct blob_store *bs, const void *data, size_t len,
                      const char *digest, char id[33], struct berr *err)
{
    new_upload(bs, id);
    struct upload *up = take(bs, id);
    const unsigned char *p = data;
    size_t chunk = 4096 + 123;
    for (size_t off = 0; off < len; off += chunk)
        write_ok(up, p + off, len - off < chunk ? len - off : chunk);
    assert_int_equal(upload_offset(up), len);
    uint64_t size = 0;
    int rc = upload_finish(up, digest, &size, err);
    if (rc == 0)
        assert_int_equal(size, len);
    return rc;
}

static int count_blob(void *arg, const char *digest, int64_t age)
{
    (void)digest;
    assert_true(age >= 0);
    (*(int *)arg)++;
    return 0;
}

static int blob_count(struct blob_store *bs)
{
    int n = 0;
    assert_int_equal(blob_list(bs, count_blob, &n), 0);
    return n;
}

/* ---- blob store: uploads -------------------------------------------------------- */

static void test_upload_roundtrip(void **state)
{
    struct fx *f = *state;
    char id[33], d[DIGEST_MAX];
    struct berr err = {0};
    new_upload(f->bs, id);
    uint64_t size = 99;
    assert_int_equal(upload_size(f->bs, id, &size), 0);
    assert_int_equal(size, 0);

    struct upload *up = take(f->bs, id);
    assert_int_equal(upload_offset(up), 0);
    write_ok(up, "hello ", 6);
    write_ok(up, "", 0);
    write_ok(up, "world", 5);
    assert_int_equal(upload_offset(up), 11);
    digest_of(DIGEST_SHA256, "hello world", 11, d);
    size = 0;
    assert_int_equal(upload_finish(up, d, &size, &err), 0);
    assert_int_equal(size, 11);
    /* verified and durable, but not visible until published */
    assert_false(blob_exists(f->bs, d));
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_true(blob_exists(f->bs, d));
    assert_blob(f->bs, d, "hello world", 11);
    /* the upload is gone once published */
    assert_int_equal(upload_size(f->bs, id, &size), -BERR_NOTFOUND);
    assert_int_equal(blob_count(f->bs), 1);
}

static void test_upload_empty_blob(void **state)
{
    struct fx *f = *state;
    char id[33], d[DIGEST_MAX];
    struct berr err = {0};
    digest_of(DIGEST_SHA256, "", 0, d);
    assert_int_equal(upload_all(f->bs, "", 0, d, id, &err), 0);
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_blob(f->bs, d, "", 0);
}

static void test_upload_wrong_digest(void **state)
{
    struct fx *f = *state;
    char id[33], right[DIGEST_MAX], wrong[DIGEST_MAX];
    struct berr err = {0};
    digest_of(DIGEST_SHA256, "hello world", 11, right);
    digest_of(DIGEST_SHA256, "hello there", 11, wrong);
    assert_int_equal(upload_all(f->bs, "hello world", 11, wrong, id, &err), -BERR_DIGEST);
    assert_int_equal(err.code, BERR_DIGEST);
    assert_true(err.msg[0] != '\0');
    assert_false(blob_exists(f->bs, wrong));
    assert_false(blob_exists(f->bs, right));
    assert_int_equal(blob_count(f->bs), 0);

    /* the data stays: a later request can finish it with the right digest */
    uint64_t size = 0;
    assert_int_equal(upload_size(f->bs, id, &size), 0);
    assert_int_equal(size, 11);
    struct upload *up = take(f->bs, id);
    assert_int_equal(upload_offset(up), 11);
    memset(&err, 0, sizeof err);
    assert_int_equal(upload_finish(up, right, &size, &err), 0);
    assert_int_equal(blob_publish(f->bs, id, right, &err), 0);
    assert_blob(f->bs, right, "hello world", 11);
}

static void test_upload_wrong_sha512(void **state)
{
    struct fx *f = *state;
    char id[33], wrong[DIGEST_MAX];
    struct berr err = {0};
    digest_of(DIGEST_SHA512, "other", 5, wrong);
    assert_int_equal(upload_all(f->bs, "hello", 5, wrong, id, &err), -BERR_DIGEST);
    assert_int_equal(err.code, BERR_DIGEST);
    assert_false(blob_exists(f->bs, wrong));
    assert_int_equal(blob_count(f->bs), 0);
}

static void test_upload_invalid_digest(void **state)
{
    struct fx *f = *state;
    const char *bad[] = {
        "md5:5d41402abc4b2a76b9719d911017c592",
        "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982",
        "sha384:59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90"
        "125a3c79f90397bdf5f6a13de828684f",
        "",
        "../../../etc/passwd",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char id[33];
        struct berr err = {0};
        int rc = upload_all(f->bs, "hello", 5, bad[i], id, &err);
        if (rc >= 0)
            fail_msg("upload_finish accepted digest \"%s\"", bad[i]);
        assert_true(err.code != 0);
        assert_false(blob_exists(f->bs, bad[i]));
    }
    assert_int_equal(blob_count(f->bs), 0);
}

static void test_upload_sha512(void **state)
{
    struct fx *f = *state;
    size_t n = 1536 * 1024 + 7;
    unsigned char *data = pattern(n, 7);
    char id[33], d512[DIGEST_MAX], d256[DIGEST_MAX];
    struct berr err = {0};
    digest_of(DIGEST_SHA512, data, n, d512);
    digest_of(DIGEST_SHA256, data, n, d256);
    assert_int_equal(upload_all(f->bs, data, n, d512, id, &err), 0);
    assert_int_equal(blob_publish(f->bs, id, d512, &err), 0);
    assert_true(blob_exists(f->bs, d512));
    assert_false(blob_exists(f->bs, d256));
    assert_blob(f->bs, d512, data, n);
    free(data);
}

static void test_upload_taken_twice(void **state)
{
    struct fx *f = *state;
    char id[33], other[33], d[DIGEST_MAX];
    struct berr err = {0};
    new_upload(f->bs, id);
    new_upload(f->bs, other);
    struct upload *up = take(f->bs, id);
    struct upload *second = NULL;
    assert_int_equal(upload_take(f->bs, id, &second, &err), -BERR_CONFLICT);
    assert_int_equal(err.code, BERR_CONFLICT);
    assert_null(second);
    /* another upload is not affected */
    struct upload *up2 = take(f->bs, other);
    upload_release(up2);

    write_ok(up, "abc", 3);
    upload_release(up);
    /* released: the next request continues where it left off */
    up = take(f->bs, id);
    assert_int_equal(upload_offset(up), 3);
    write_ok(up, "def", 3);
    upload_release(up);
    up = take(f->bs, id);
    assert_int_equal(upload_offset(up), 6);
    write_ok(up, "ghi", 3);
    digest_of(DIGEST_SHA256, "abcdefghi", 9, d);
    uint64_t size = 0;
    assert_int_equal(upload_finish(up, d, &size, &err), 0);
    assert_int_equal(size, 9);
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_blob(f->bs, d, "abcdefghi", 9);
    /* a finished upload cannot be taken again */
    memset(&err, 0, sizeof err);
    second = NULL;
    assert_int_equal(upload_take(f->bs, id, &second, &err), -BERR_NOTFOUND);
}

static void test_upload_release_after_failed_finish(void **state)
{
    struct fx *f = *state;
    char id[33], wrong[DIGEST_MAX];
    struct berr err = {0};
    digest_of(DIGEST_SHA256, "x", 1, wrong);
    assert_int_equal(upload_all(f->bs, "abc", 3, wrong, id, &err), -BERR_DIGEST);
    /* the handle was consumed: the upload is not left busy */
    struct upload *up = take(f->bs, id);
    assert_int_equal(upload_offset(up), 3);
    upload_release(up);
}

static void test_upload_restart(void **state)
{
    struct fx *f = *state;
    size_t na = 1536 * 1024 + 3, nb = 700 * 1024 + 11;
    unsigned char *all = pattern(na + nb, 42);
    char id[33], d[DIGEST_MAX];
    struct berr err = {0};
    digest_of(DIGEST_SHA256, all, na + nb, d);

    new_upload(f->bs, id);
    struct upload *up = take(f->bs, id);
    write_ok(up, all, na);
    upload_release(up);

    /* simulated restart: a new store knows nothing of the running hash */
    blob_store_close(f->bs);
    f->bs = NULL;
    assert_int_equal(blob_store_open(f->root, &f->bs, &err), 0);
    uint64_t size = 0;
    assert_int_equal(upload_size(f->bs, id, &size), 0);
    assert_int_equal(size, na);
    up = take(f->bs, id);
    assert_int_equal(upload_offset(up), na);
    write_ok(up, all + na, nb);
    assert_int_equal(upload_finish(up, d, &size, &err), 0);
    assert_int_equal(size, na + nb);
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_blob(f->bs, d, all, na + nb);
    free(all);
}

static void test_upload_restart_sha512(void **state)
{
    struct fx *f = *state;
    unsigned char *all = pattern(5000, 9);
    char id[33], d[DIGEST_MAX];
    struct berr err = {0};
    digest_of(DIGEST_SHA512, all, 5000, d);
    new_upload(f->bs, id);
    struct upload *up = take(f->bs, id);
    write_ok(up, all, 3000);
    upload_release(up);
    blob_store_close(f->bs);
    f->bs = NULL;
    assert_int_equal(blob_store_open(f->root, &f->bs, &err), 0);
    up = take(f->bs, id);
    write_ok(up, all + 3000, 2000);
    uint64_t size = 0;
    assert_int_equal(upload_finish(up, d, &size, &err), 0);
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_blob(f->bs, d, all, 5000);
    free(all);
}

/* More released uploads than the store keeps hashes for: the evicted ones
 * rebuild their hash from the file. */
static void test_upload_many_released(void **state)
{
    struct fx *f = *state;
    enum { N = 80 };
    char ids[N][33], d[DIGEST_MAX];
    struct berr err = {0};
    for (int i = 0; i < N; i++) {
        new_upload(f->bs, ids[i]);
        struct upload *up = take(f->bs, ids[i]);
        char part[16];
        int n = snprintf(part, sizeof part, "part-%d|", i);
        write_ok(up, part, (size_t)n);
        upload_release(up);
    }
    for (int i = 0; i < N; i += N - 1) {      /* the oldest and the newest */
        struct upload *up = take(f->bs, ids[i]);
        char all[32];
        int n = snprintf(all, sizeof all, "part-%d|tail", i);
        assert_int_equal(upload_offset(up), (uint64_t)n - 4);
        write_ok(up, "tail", 4);
        digest_of(DIGEST_SHA256, all, (size_t)n, d);
        uint64_t size = 0;
        assert_int_equal(upload_finish(up, d, &size, &err), 0);
        assert_int_equal(size, (uint64_t)n);
    }
}

static void test_upload_rewind(void **state)
{
    struct fx *f = *state;
    char id[33], d[DIGEST_MAX];
    struct berr err = {0};
    new_upload(f->bs, id);
    struct upload *up = take(f->bs, id);
    write_ok(up, "first-", 6);
    write_ok(up, "BROKEN", 6);
    assert_int_equal(upload_rewind(up, 100), -BERR_INVALID);
    assert_int_equal(upload_offset(up), 12);
    assert_int_equal(upload_rewind(up, 12), 0);
    assert_int_equal(upload_rewind(up, 6), 0);
    assert_int_equal(upload_offset(up), 6);
    upload_release(up);

    /* the file was cut back too: the next request continues at 6 */
    uint64_t size = 0;
    assert_int_equal(upload_size(f->bs, id, &size), 0);
    assert_int_equal(size, 6);
    up = take(f->bs, id);
    assert_int_equal(upload_offset(up), 6);
    write_ok(up, "second", 6);
    digest_of(DIGEST_SHA256, "first-second", 12, d);
    assert_int_equal(upload_finish(up, d, &size, &err), 0);
    assert_int_equal(size, 12);
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_blob(f->bs, d, "first-second", 12);
}

static void test_upload_write_after_rewind(void **state)
{
    struct fx *f = *state;
    char id[33], d[DIGEST_MAX];
    struct berr err = {0};
    new_upload(f->bs, id);
    struct upload *up = take(f->bs, id);
    write_ok(up, "first-", 6);
    write_ok(up, "BROKEN", 6);
    assert_int_equal(upload_rewind(up, 6), 0);
    /* the same handle keeps going after the rewind */
    write_ok(up, "second", 6);
    assert_int_equal(upload_offset(up), 12);
    digest_of(DIGEST_SHA256, "first-second", 12, d);
    uint64_t size = 0;
    assert_int_equal(upload_finish(up, d, &size, &err), 0);
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_blob(f->bs, d, "first-second", 12);
}

static void test_upload_rewind_then_finish(void **state)
{
    struct fx *f = *state;
    char id[33], d[DIGEST_MAX];
    struct berr err = {0};
    new_upload(f->bs, id);
    struct upload *up = take(f->bs, id);
    write_ok(up, "keep", 4);
    write_ok(up, "drop", 4);
    assert_int_equal(upload_rewind(up, 4), 0);
    /* finish in the same request, right after the rewind */
    digest_of(DIGEST_SHA256, "keep", 4, d);
    uint64_t size = 0;
    assert_int_equal(upload_finish(up, d, &size, &err), 0);
    assert_int_equal(size, 4);
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_blob(f->bs, d, "keep", 4);
}

static void test_upload_unknown_and_invalid_ids(void **state)
{
    struct fx *f = *state;
    char id[33];
    struct berr err = {0};
    struct upload *up = NULL;
    upload_id_new(id);
    assert_int_equal(upload_take(f->bs, id, &up, &err), -BERR_NOTFOUND);
    assert_null(up);
    /* a failed take leaves nothing busy behind */
    memset(&err, 0, sizeof err);
    assert_int_equal(upload_take(f->bs, id, &up, &err), -BERR_NOTFOUND);
    uint64_t size;
    assert_int_equal(upload_size(f->bs, id, &size), -BERR_NOTFOUND);
    assert_int_equal(upload_remove(f->bs, id), -BERR_NOTFOUND);

    const char *bad[] = {"", "../meta.db", "../../../../../../../../etc/pass",
                         "0123456789ABCDEF0123456789ABCDEF", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        up = NULL;
        assert_true(upload_create(f->bs, bad[i], &err) < 0);
        assert_true(upload_take(f->bs, bad[i], &up, &err) < 0);
        assert_null(up);
        assert_true(upload_size(f->bs, bad[i], &size) < 0);
        assert_true(upload_remove(f->bs, bad[i]) < 0);
    }
    /* the database file next to the uploads is untouched */
    assert_int_equal(access(f->db, F_OK), 0);

    /* an id cannot be created twice */
    new_upload(f->bs, id);
    memset(&err, 0, sizeof err);
    assert_true(upload_create(f->bs, id, &err) < 0);
}

static void test_upload_remove(void **state)
{
    struct fx *f = *state;
    char id[33];
    struct berr err = {0};
    new_upload(f->bs, id);
    struct upload *up = take(f->bs, id);
    write_ok(up, "data", 4);
    upload_release(up);
    assert_int_equal(upload_remove(f->bs, id), 0);
    up = NULL;
    assert_int_equal(upload_take(f->bs, id, &up, &err), -BERR_NOTFOUND);
    uint64_t size;
    assert_int_equal(upload_size(f->bs, id, &size), -BERR_NOTFOUND);
}

struct idset {
    char ids[8][33];
    int n;
};

static int collect_id(void *arg, const char *id, int64_t age)
{
    struct idset *s = arg;
    assert_true(age >= 0);
    assert_true(s->n < 8);
    snprintf(s->ids[s->n++], 33, "%s", id);
    return 0;
}

static void test_upload_list(void **state)
{
    struct fx *f = *state;
    char a[33], b[33];
    new_upload(f->bs, a);
    new_upload(f->bs, b);
    struct idset s = {0};
    assert_int_equal(upload_list(f->bs, collect_id, &s), 0);
    assert_int_equal(s.n, 2);
    assert_true((strcmp(s.ids[0], a) == 0 && strcmp(s.ids[1], b) == 0) ||
                (strcmp(s.ids[0], b) == 0 && strcmp(s.ids[1], a) == 0));
}

/* ---- blob store: staged blobs -------------------------------------------------- */

static void test_blob_stage_publish(void **state)
{
    struct fx *f = *state;
    const char body[] = "{\"schemaVersion\":2}";
    char id[33], d[DIGEST_MAX];
    struct berr err = {0};
    digest_of(DIGEST_SHA256, body, strlen(body), d);
    assert_int_equal(blob_stage(f->bs, body, strlen(body), id, &err), 0);
    assert_true(upload_id_valid(id));
    assert_false(blob_exists(f->bs, d));
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_true(blob_exists(f->bs, d));
    assert_blob(f->bs, d, body, strlen(body));
    uint64_t size;
    assert_int_equal(upload_size(f->bs, id, &size), -BERR_NOTFOUND);
}

static void test_blob_never_overwritten(void **state)
{
    struct fx *f = *state;
    char id[33], d[DIGEST_MAX];
    struct berr err = {0};
    digest_of(DIGEST_SHA256, "original", 8, d);
    assert_int_equal(blob_stage(f->bs, "original", 8, id, &err), 0);
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);

    /* a second publish under the same digest leaves the first in place */
    assert_int_equal(blob_stage(f->bs, "impostor!", 9, id, &err), 0);
    blob_publish(f->bs, id, d, &err);
    assert_blob(f->bs, d, "original", 8);

    /* and the same content uploaded again is fine */
    memset(&err, 0, sizeof err);
    assert_int_equal(upload_all(f->bs, "original", 8, d, id, &err), 0);
    assert_int_equal(blob_publish(f->bs, id, d, &err), 0);
    assert_blob(f->bs, d, "original", 8);
    assert_int_equal(blob_count(f->bs), 1);
}

static void test_blob_open_missing(void **state)
{
    struct fx *f = *state;
    char d[DIGEST_MAX];
    digest_of(DIGEST_SHA256, "nothing", 7, d);
    int fd = -1;
    uint64_t size;
    assert_int_equal(blob_open(f->bs, d, &fd, &size), -BERR_NOTFOUND);
    assert_false(blob_exists(f->bs, d));
    digest_of(DIGEST_SHA512, "nothing", 7, d);
    assert_int_equal(blob_open(f->bs, d, &fd, &size), -BERR_NOTFOUND);
    assert_true(blob_open(f->bs, "sha256:../../meta.db", &fd, &size) < 0);
    assert_true(blob_open(f->bs, "md5:5d41402abc4b2a76b9719d911017c592", &fd, &size) < 0);
    assert_false(blob_exists(f->bs, "sha256:../../meta.db"));
    assert_int_equal(fd, -1);
}

/* ---- metadata: blobs and uploads ------------------------------------------------ */

/* Stage `content` and link it into repo in one metadata transaction. */
static void link_blob(struct fx *f, const char *repo, const char *content,
                      char d[DIGEST_MAX])
{
    char id[33];
    struct berr err = {0};
    size_t len = strlen(content);
    digest_of(DIGEST_SHA256, content, len, d);
    assert_int_equal(blob_stage(f->bs, content, len, id, &err), 0);
    struct staged st = {f->bs, id};
    int rc = meta_blob_link(f->m, repo, d, len, &st, &err);
    if (rc != 0)
        fail_msg("meta_blob_link(%s) = %d: %s", repo, rc, err.msg);
}

static void test_meta_blob_scope(void **state)
{
    struct fx *f = *state;
    char d[DIGEST_MAX], other[DIGEST_MAX];
    struct berr err = {0};
    link_blob(f, "a/b", "layer", d);
    digest_of(DIGEST_SHA256, "other", 5, other);
    assert_true(blob_exists(f->bs, d));            /* published with the row */
    assert_true(meta_blob_known(f->m, d));

    uint64_t size = 0;
    assert_int_equal(meta_blob_get(f->m, "a/b", d, &size), 0);
    assert_int_equal(size, 5);
    assert_int_equal(meta_blob_get(f->m, "a/c", d, &size), -BERR_NOTFOUND);
    assert_int_equal(meta_blob_get(f->m, "a", d, &size), -BERR_NOTFOUND);
    assert_int_equal(meta_blob_get(f->m, "a/b", other, &size), -BERR_NOTFOUND);
    assert_true(meta_repo_exists(f->m, "a/b"));
    assert_false(meta_repo_exists(f->m, "a/c"));

    /* an existing blob linked into a second repository, no file this time */
    assert_int_equal(meta_blob_link(f->m, "x", d, 5, NULL, &err), 0);
    assert_int_equal(meta_blob_get(f->m, "x", d, &size), 0);

    /* unlinking is per repository and keeps the file */
    assert_int_equal(meta_blob_unlink(f->m, "a/b", d), 0);
    assert_int_equal(meta_blob_get(f->m, "a/b", d, &size), -BERR_NOTFOUND);
    assert_int_equal(meta_blob_get(f->m, "x", d, &size), 0);
    assert_int_equal(meta_blob_unlink(f->m, "a/b", d), -BERR_NOTFOUND);
    assert_int_equal(meta_blob_unlink(f->m, "nosuch", d), -BERR_NOTFOUND);
    assert_true(blob_exists(f->bs, d));
}

static void test_meta_blob_mount(void **state)
{
    struct fx *f = *state;
    char d[DIGEST_MAX], absent[DIGEST_MAX];
    link_blob(f, "src", "shared layer", d);
    digest_of(DIGEST_SHA256, "absent", 6, absent);
    assert_int_equal(meta_blob_mount(f->m, "src", "dst/app", d), 0);
    uint64_t size = 0;
    assert_int_equal(meta_blob_get(f->m, "dst/app", d, &size), 0);
    assert_int_equal(size, 12);
    assert_true(meta_repo_exists(f->m, "dst/app"));
    /* `from` cannot see it: nothing is linked, no repository appears */
    assert_int_equal(meta_blob_mount(f->m, "nosuch", "dst2", d), -BERR_NOTFOUND);
    assert_int_equal(meta_blob_mount(f->m, "src", "dst2", absent), -BERR_NOTFOUND);
    assert_int_equal(meta_blob_get(f->m, "dst2", d, &size), -BERR_NOTFOUND);
    assert_false(meta_repo_exists(f->m, "dst2"));
}

static void test_meta_uploads(void **state)
{
    struct fx *f = *state;
    char id[33], id2[33], repo[NAME_MAX_LEN + 1];
    struct berr err = {0};
    upload_id_new(id);
    upload_id_new(id2);
    assert_int_equal(meta_upload_add(f->m, id, "team/app"), 0);
    assert_int_equal(meta_upload_add(f->m, id2, "other"), 0);
    assert_true(meta_upload_add(f->m, id, "elsewhere") < 0);
    memset(repo, 'X', sizeof repo);
    assert_int_equal(meta_upload_repo(f->m, id, repo), 0);
    assert_string_equal(repo, "team/app");

    /* sessions survive a restart */
    meta_close(f->m);
    f->m = NULL;
    assert_int_equal(meta_open(f->db, &f->m, &err), 0);
    assert_int_equal(meta_upload_repo(f->m, id, repo), 0);
    assert_string_equal(repo, "team/app");

    assert_int_equal(meta_upload_remove(f->m, id), 0);
    assert_int_equal(meta_upload_repo(f->m, id, repo), -BERR_NOTFOUND);
    assert_int_equal(meta_upload_repo(f->m, id2, repo), 0);
    assert_string_equal(repo, "other");
    upload_id_new(id);
    assert_int_equal(meta_upload_repo(f->m, id, repo), -BERR_NOTFOUND);
}

/* ---- metadata: manifests and tags ------------------------------------------------- */

struct mf {
    const char *media_type;
    const struct manifest_ref *refs;
    size_t nrefs;
    const char *tag;
    const char *subject;
    const char *artifact_type;
    const char *annotations;
};

/* Store `body` as a manifest of repo, its body staged and published with
 * the rows; the digest goes to d. Returns meta_manifest_put's rc. */
static int put_manifest(struct fx *f, const char *repo, const char *body,
                        const struct mf *o, char d[DIGEST_MAX], struct berr *err)
{
    size_t len = strlen(body);
    char id[33];
    digest_of(DIGEST_SHA256, body, len, d);
    assert_int_equal(blob_stage(f->bs, body, len, id, err), 0);
    struct manifest_put put = {
        .body = {f->bs, id},
        .artifact_type = o->artifact_type,
        .annotations = o->annotations,
        .refs = o->refs,
        .nrefs = o->nrefs,
        .tag = o->tag,
    };
    snprintf(put.info.digest, sizeof put.info.digest, "%s", d);
    snprintf(put.info.media_type, sizeof put.info.media_type, "%s",
             o->media_type ? o->media_type : MT_MANIFEST);
    put.info.size = len;
    snprintf(put.info.subject, sizeof put.info.subject, "%s",
             o->subject ? o->subject : "");
    int rc = meta_manifest_put(f->m, repo, &put, err);
    if (rc < 0)
        upload_remove(f->bs, id);   /* the caller's part on failure */
    return rc;
}

static void put_ok(struct fx *f, const char *repo, const char *body, const struct mf *o,
                   char d[DIGEST_MAX])
{
    struct berr err = {0};
    int rc = put_manifest(f, repo, body, o, d, &err);
    if (rc != 0)
        fail_msg("meta_manifest_put(%s) = %d: %s", repo, rc, err.msg);
}

static void assert_manifest(struct meta *m, const char *repo, const char *ref,
                            const char *digest, const char *media_type, uint64_t size)
{
    struct manifest_info mi;
    memset(&mi, 'X', sizeof mi);
    int rc = meta_manifest_get(m, repo, ref, &mi);
    if (rc != 0)
        fail_msg("meta_manifest_get(%s, %s) = %d", repo, ref, rc);
    assert_string_equal(mi.digest, digest);
    assert_string_equal(mi.media_type, media_type);
    assert_int_equal(mi.size, size);
}

static void assert_no_manifest(struct meta *m, const char *repo, const char *ref)
{
    struct manifest_info mi;
    int rc = meta_manifest_get(m, repo, ref, &mi);
    if (rc != -BERR_NOTFOUND)
        fail_msg("meta_manifest_get(%s, %s) = %d, want -BERR_NOTFOUND", repo, ref, rc);
}

static void test_manifest_missing_refs(void **state)
{
    struct fx *f = *state;
    char cfg[DIGEST_MAX], layer[DIGEST_MAX], md[DIGEST_MAX];
    struct berr err = {0};
    link_blob(f, "r", "config", cfg);
    link_blob(f, "other", "layer", layer);         /* visible elsewhere only */
    struct manifest_ref refs[] = {{REF_BLOB, cfg}, {REF_BLOB, layer}};
    struct mf o = {.refs = refs, .nrefs = 2, .tag = "v1"};
    assert_int_equal(put_manifest(f, "r", "{\"m\":1}", &o, md, &err), -BERR_NOTFOUND);
    assert_int_equal(err.code, BERR_NOTFOUND);
    if (!strstr(err.msg, layer))
        fail_msg("error does not name the missing blob: %s", err.msg);
    assert_no_manifest(f->m, "r", md);
    assert_no_manifest(f->m, "r", "v1");
    assert_false(blob_exists(f->bs, md));
    assert_false(meta_blob_known(f->m, md));

    /* in a repository that did not exist, it still does not */
    memset(&err, 0, sizeof err);
    assert_int_equal(put_manifest(f, "fresh", "{\"m\":1}", &o, md, &err), -BERR_NOTFOUND);
    assert_false(meta_repo_exists(f->m, "fresh"));

    /* a child manifest stored in another repository does not count */
    char child[DIGEST_MAX], idx[DIGEST_MAX];
    struct manifest_ref one[] = {{REF_BLOB, layer}};
    struct mf oc = {.refs = one, .nrefs = 1};
    put_ok(f, "other", "{\"child\":1}", &oc, child);
    struct manifest_ref kids[] = {{REF_MANIFEST, child}};
    struct mf oi = {.media_type = MT_INDEX, .refs = kids, .nrefs = 1, .tag = "multi"};
    memset(&err, 0, sizeof err);
    assert_int_equal(put_manifest(f, "r", "{\"index\":1}", &oi, idx, &err), -BERR_NOTFOUND);
    if (!strstr(err.msg, child))
        fail_msg("error does not name the missing manifest: %s", err.msg);
    assert_no_manifest(f->m, "r", idx);
    assert_no_manifest(f->m, "r", "multi");
    assert_false(blob_exists(f->bs, idx));
}

static void test_manifest_put_get(void **state)
{
    struct fx *f = *state;
    char cfg[DIGEST_MAX], layer[DIGEST_MAX], md[DIGEST_MAX], idx[DIGEST_MAX];
    const char body[] = "{\"schemaVersion\":2,\"image\":1}";
    link_blob(f, "r/app", "config", cfg);
    link_blob(f, "r/app", "layer", layer);
    struct manifest_ref refs[] = {{REF_BLOB, cfg}, {REF_BLOB, layer}};
    struct mf o = {.refs = refs, .nrefs = 2, .tag = "v1"};
    put_ok(f, "r/app", body, &o, md);

    assert_manifest(f->m, "r/app", "v1", md, MT_MANIFEST, strlen(body));
    assert_manifest(f->m, "r/app", md, md, MT_MANIFEST, strlen(body));
    struct manifest_info mi;
    assert_int_equal(meta_manifest_get(f->m, "r/app", md, &mi), 0);
    assert_string_equal(mi.subject, "");
    /* the body was published with the rows */
    assert_blob(f->bs, md, body, strlen(body));
    assert_true(meta_repo_exists(f->m, "r/app"));
    assert_no_manifest(f->m, "r/app", "v2");
    assert_no_manifest(f->m, "other", md);
    assert_no_manifest(f->m, "other", "v1");

    /* an index over it, untagged */
    struct manifest_ref kids[] = {{REF_MANIFEST, md}};
    struct mf oi = {.media_type = MT_INDEX, .refs = kids, .nrefs = 1};
    put_ok(f, "r/app", "{\"index\":1}", &oi, idx);
    assert_manifest(f->m, "r/app", idx, idx, MT_INDEX, strlen("{\"index\":1}"));

    /* still there after a restart */
    struct berr err = {0};
    meta_close(f->m);
    f->m = NULL;
    assert_int_equal(meta_open(f->db, &f->m, &err), 0);
    assert_manifest(f->m, "r/app", "v1", md, MT_MANIFEST, strlen(body));
    assert_manifest(f->m, "r/app", idx, idx, MT_INDEX, strlen("{\"index\":1}"));
}

static void test_manifest_tag_move(void **state)
{
    struct fx *f = *state;
    char m1[DIGEST_MAX], m2[DIGEST_MAX];
    struct mf v1 = {.tag = "v1"}, latest = {.tag = "latest"};
    put_ok(f, "r", "{\"n\":1}", &v1, m1);
    put_ok(f, "r", "{\"n\":1}", &latest, m1);     /* a second tag, same manifest */
    assert_manifest(f->m, "r", "latest", m1, MT_MANIFEST, 7);
    put_ok(f, "r", "{\"n\":2}", &latest, m2);     /* moves "latest" */
    assert_manifest(f->m, "r", "latest", m2, MT_MANIFEST, 7);
    assert_manifest(f->m, "r", "v1", m1, MT_MANIFEST, 7);
    assert_manifest(f->m, "r", m1, m1, MT_MANIFEST, 7);
    /* tags are per repository */
    char m3[DIGEST_MAX];
    put_ok(f, "s", "{\"n\":3}", &latest, m3);
    assert_manifest(f->m, "r", "latest", m2, MT_MANIFEST, 7);
    assert_manifest(f->m, "s", "latest", m3, MT_MANIFEST, 7);
}

static void test_manifest_delete_removes_tags(void **state)
{
    struct fx *f = *state;
    char m1[DIGEST_MAX], m2[DIGEST_MAX];
    struct mf a = {.tag = "a"}, b = {.tag = "b"}, c = {.tag = "c"};
    put_ok(f, "r", "{\"n\":1}", &a, m1);
    put_ok(f, "r", "{\"n\":1}", &b, m1);
    put_ok(f, "r", "{\"n\":2}", &c, m2);
    assert_int_equal(meta_manifest_delete(f->m, "r", m1), 0);
    assert_no_manifest(f->m, "r", m1);
    assert_no_manifest(f->m, "r", "a");
    assert_no_manifest(f->m, "r", "b");
    assert_manifest(f->m, "r", "c", m2, MT_MANIFEST, 7);
    assert_int_equal(meta_tag_delete(f->m, "r", "a"), -BERR_NOTFOUND);
    assert_int_equal(meta_manifest_delete(f->m, "r", m1), -BERR_NOTFOUND);
    assert_int_equal(meta_manifest_delete(f->m, "other", m2), -BERR_NOTFOUND);
    assert_manifest(f->m, "r", m2, m2, MT_MANIFEST, 7);
}

static void test_tag_delete(void **state)
{
    struct fx *f = *state;
    char m[DIGEST_MAX];
    struct mf a = {.tag = "a"}, b = {.tag = "b"};
    put_ok(f, "r", "{\"n\":1}", &a, m);
    put_ok(f, "r", "{\"n\":1}", &b, m);
    assert_int_equal(meta_tag_delete(f->m, "r", "a"), 0);
    assert_no_manifest(f->m, "r", "a");
    /* the manifest and its other tags stay */
    assert_manifest(f->m, "r", "b", m, MT_MANIFEST, 7);
    assert_manifest(f->m, "r", m, m, MT_MANIFEST, 7);
    assert_int_equal(meta_tag_delete(f->m, "r", "a"), -BERR_NOTFOUND);
    assert_int_equal(meta_tag_delete(f->m, "r", "never"), -BERR_NOTFOUND);
    assert_int_equal(meta_tag_delete(f->m, "other", "b"), -BERR_NOTFOUND);
    assert_manifest(f->m, "r", "b", m, MT_MANIFEST, 7);
}

/* ---- listings ------------------------------------------------------------------- */

struct rows {
    char text[1024];
    int n;
    int fail_at;    /* return an error on this row (1-based), 0 never */
};

static int collect_row(void *arg, const char *value)
{
    struct rows *r = arg;
    r->n++;
    if (r->fail_at && r->n == r->fail_at)
        return -1;
    size_t len = strlen(r->text);
    snprintf(r->text + len, sizeof r->text - len, "%s%s", len ? "," : "", value);
    return 0;
}

static void expect_tags(struct meta *m, const char *repo, const char *last, int n,
                        const char *want, bool want_more)
{
    struct rows r = {0};
    bool more = !want_more;
    int rc = meta_tags_list(m, repo, last, n, collect_row, &r, &more);
    if (rc != 0 || strcmp(r.text, want) != 0 || more != want_more)
        fail_msg("tags_list(%s, last=%s, n=%d) = %d \"%s\" more=%d; want \"%s\" more=%d",
                 repo, last ? last : "(null)", n, rc, r.text, more, want, want_more);
}

static void expect_catalog(struct meta *m, const char *last, int n, const char *want,
                           bool want_more)
{
    struct rows r = {0};
    bool more = !want_more;
    int rc = meta_catalog(m, last, n, collect_row, &r, &more);
    if (rc != 0 || strcmp(r.text, want) != 0 || more != want_more)
        fail_msg("catalog(last=%s, n=%d) = %d \"%s\" more=%d; want \"%s\" more=%d",
                 last ? last : "(null)", n, rc, r.text, more, want, want_more);
}

static void test_tags_list_pagination(void **state)
{
    struct fx *f = *state;
    char d[DIGEST_MAX];
    /* put out of order; listed in byte order */
    const char *tags[] = {"v2", "latest", "V1", "v1.0", "v10"};
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) {
        struct mf o = {.tag = tags[i]};
        put_ok(f, "r", "{\"n\":1}", &o, d);
    }
    struct mf other = {.tag = "zzz"};
    put_ok(f, "other", "{\"n\":1}", &other, d);

    expect_tags(f->m, "r", NULL, 100, "V1,latest,v1.0,v10,v2", false);
    expect_tags(f->m, "r", NULL, 5, "V1,latest,v1.0,v10,v2", false);
    expect_tags(f->m, "r", NULL, 2, "V1,latest", true);
    expect_tags(f->m, "r", "latest", 2, "v1.0,v10", true);
    expect_tags(f->m, "r", "v10", 2, "v2", false);
    expect_tags(f->m, "r", "v2", 2, "", false);
    expect_tags(f->m, "r", NULL, 4, "V1,latest,v1.0,v10", true);
    /* `last` need not be a tag that exists */
    expect_tags(f->m, "r", "m", 1, "v1.0", true);
    expect_tags(f->m, "r", "zzzz", 10, "", false);
    /* n <= 0: no rows */
    expect_tags(f->m, "r", NULL, 0, "", false);
    expect_tags(f->m, "r", NULL, -1, "", false);
    expect_tags(f->m, "nosuch", NULL, 10, "", false);
    expect_tags(f->m, "other", NULL, 10, "zzz", false);

    /* a deleted tag is no longer listed */
    assert_int_equal(meta_tag_delete(f->m, "r", "v1.0"), 0);
    expect_tags(f->m, "r", NULL, 100, "V1,latest,v10,v2", false);

    /* a callback error stops the listing */
    struct rows r = {.fail_at = 2};
    bool more;
    assert_true(meta_tags_list(f->m, "r", NULL, 100, collect_row, &r, &more) < 0);
    assert_int_equal(r.n, 2);
}

static void test_catalog_pagination(void **state)
{
    struct fx *f = *state;
    char d[DIGEST_MAX];
    const char *repos[] = {"e", "b", "a/b", "c/d/e", "a"};
    for (size_t i = 0; i < sizeof repos / sizeof *repos; i++)
        link_blob(f, repos[i], "x", d);
    expect_catalog(f->m, NULL, 100, "a,a/b,b,c/d/e,e", false);
    expect_catalog(f->m, NULL, 5, "a,a/b,b,c/d/e,e", false);
    expect_catalog(f->m, NULL, 2, "a,a/b", true);
    expect_catalog(f->m, "a/b", 2, "b,c/d/e", true);
    expect_catalog(f->m, "c/d/e", 2, "e", false);
    expect_catalog(f->m, "e", 2, "", false);
    expect_catalog(f->m, "a/a", 1, "a/b", true);
    expect_catalog(f->m, NULL, 0, "", false);
    expect_catalog(f->m, NULL, -5, "", false);

    struct rows r = {.fail_at = 1};
    bool more;
    assert_true(meta_catalog(f->m, NULL, 100, collect_row, &r, &more) < 0);
    assert_int_equal(r.n, 1);
}

/* ---- referrers ------------------------------------------------------------------- */

struct ref_row {
    char digest[DIGEST_MAX];
    char media_type[128];
    uint64_t size;
    char artifact_type[128];   /* "(null)" for NULL */
    char annotations[256];     /* "(null)" for NULL */
};

struct refs {
    struct ref_row rows[8];
    int n;
};

static int collect_referrer(void *arg, const struct referrer *r)
{
    struct refs *s = arg;
    assert_true(s->n < 8);
    struct ref_row *row = &s->rows[s->n++];
    snprintf(row->digest, sizeof row->digest, "%s", r->digest);
    snprintf(row->media_type, sizeof row->media_type, "%s", r->media_type);
    row->size = r->size;
    snprintf(row->artifact_type, sizeof row->artifact_type, "%s",
             r->artifact_type ? r->artifact_type : "(null)");
    snprintf(row->annotations, sizeof row->annotations, "%s",
             r->annotations ? r->annotations : "(null)");
    return 0;
}

static struct ref_row *find_row(struct refs *s, const char *digest)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->rows[i].digest, digest) == 0)
            return &s->rows[i];
    return NULL;
}

static void test_referrers(void **state)
{
    struct fx *f = *state;
    char empty[DIGEST_MAX], subj[DIGEST_MAX], sbom[DIGEST_MAX], sig[DIGEST_MAX];
    char ghost[DIGEST_MAX], orphan[DIGEST_MAX], elsewhere[DIGEST_MAX];
    link_blob(f, "r", "{}", empty);
    link_blob(f, "s", "{}", empty);
    struct manifest_ref cfg[] = {{REF_BLOB, empty}};

    struct mf os = {.refs = cfg, .nrefs = 1, .tag = "v1"};
    put_ok(f, "r", "{\"subject\":true}", &os, subj);

    const char sbom_body[] = "{\"sbom\":1}";
    struct mf o1 = {.refs = cfg, .nrefs = 1, .subject = subj,
                    .artifact_type = "application/vnd.example.sbom",
                    .annotations = "{\"org.opencontainers.image.created\":\"2024-01-01\"}"};
    put_ok(f, "r", sbom_body, &o1, sbom);
    struct mf o2 = {.refs = cfg, .nrefs = 1, .subject = subj,
                    .artifact_type = "application/vnd.example.sig"};
    put_ok(f, "r", "{\"sig\":1}", &o2, sig);
    /* a subject that is not (yet) stored is accepted */
    digest_of(DIGEST_SHA256, "ghost", 5, ghost);
    struct mf o3 = {.refs = cfg, .nrefs = 1, .subject = ghost,
                    .artifact_type = "application/vnd.example.sig"};
    put_ok(f, "r", "{\"orphan\":1}", &o3, orphan);
    /* the same subject in another repository */
    struct mf o4 = {.refs = cfg, .nrefs = 1, .subject = subj,
                    .artifact_type = "application/vnd.example.sbom"};
    put_ok(f, "s", "{\"elsewhere\":1}", &o4, elsewhere);

    struct manifest_info mi;
    assert_int_equal(meta_manifest_get(f->m, "r", sbom, &mi), 0);
    assert_string_equal(mi.subject, subj);

    struct refs all = {0};
    assert_int_equal(meta_referrers(f->m, "r", subj, NULL, collect_referrer, &all), 0);
    assert_int_equal(all.n, 2);
    struct ref_row *row = find_row(&all, sbom);
    assert_non_null(row);
    assert_string_equal(row->media_type, MT_MANIFEST);
    assert_int_equal(row->size, strlen(sbom_body));
    assert_string_equal(row->artifact_type, "application/vnd.example.sbom");
    assert_string_equal(row->annotations,
                        "{\"org.opencontainers.image.created\":\"2024-01-01\"}");
    row = find_row(&all, sig);
    assert_non_null(row);
    assert_string_equal(row->artifact_type, "application/vnd.example.sig");
    assert_string_equal(row->annotations, "(null)");

    struct refs sigs = {0};
    assert_int_equal(meta_referrers(f->m, "r", subj, "application/vnd.example.sig",
                                    collect_referrer, &sigs), 0);
    assert_int_equal(sigs.n, 1);
    assert_string_equal(sigs.rows[0].digest, sig);

    struct refs none = {0};
    assert_int_equal(meta_referrers(f->m, "r", subj, "application/vnd.example.none",
                                    collect_referrer, &none), 0);
    assert_int_equal(none.n, 0);
    /* nothing refers to the config blob or to the sbom */
    assert_int_equal(meta_referrers(f->m, "r", empty, NULL, collect_referrer, &none), 0);
    assert_int_equal(meta_referrers(f->m, "r", sbom, NULL, collect_referrer, &none), 0);
    assert_int_equal(none.n, 0);

    struct refs ghosts = {0};
    assert_int_equal(meta_referrers(f->m, "r", ghost, NULL, collect_referrer, &ghosts), 0);
    assert_int_equal(ghosts.n, 1);
    assert_string_equal(ghosts.rows[0].digest, orphan);

    struct refs other = {0};
    assert_int_equal(meta_referrers(f->m, "s", subj, NULL, collect_referrer, &other), 0);
    assert_int_equal(other.n, 1);
    assert_string_equal(other.rows[0].digest, elsewhere);

    /* a deleted referrer is no longer listed */
    assert_int_equal(meta_manifest_delete(f->m, "r", sbom), 0);
    struct refs after = {0};
    assert_int_equal(meta_referrers(f->m, "r", subj, NULL, collect_referrer, &after), 0);
    assert_int_equal(after.n, 1);
    assert_string_equal(after.rows[0].digest, sig);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_upload_roundtrip),
        T(test_upload_empty_blob),
        T(test_upload_wrong_digest),
        T(test_upload_wrong_sha512),
        T(test_upload_invalid_digest),
        T(test_upload_sha512),
        T(test_upload_taken_twice),
        T(test_upload_release_after_failed_finish),
        T(test_upload_restart),
        T(test_upload_restart_sha512),
        T(test_upload_many_released),
        T(test_upload_rewind),
        T(test_upload_rewind_then_finish),
        T(test_upload_unknown_and_invalid_ids),
        T(test_upload_remove),
        T(test_upload_list),
        T(test_blob_stage_publish),
        T(test_blob_never_overwritten),
        T(test_blob_open_missing),
        T(test_meta_blob_scope),
        T(test_meta_blob_mount),
        T(test_meta_uploads),
        T(test_manifest_missing_refs),
        T(test_manifest_put_get),
        T(test_manifest_tag_move),
        T(test_manifest_delete_removes_tags),
        T(test_tag_delete),
        T(test_tags_list_pagination),
        T(test_catalog_pagination),
        T(test_referrers),
        /* last: while upload_write after upload_rewind crashes, a sanitizer
         * build stops there, and every other test has run before it */
        T(test_upload_write_after_rewind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
