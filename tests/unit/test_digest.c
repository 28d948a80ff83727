/*
 * test_digest.c - digest strings (the "algo:hex" grammar, sha256 and sha512
 * only) and hashing: known vectors, incremental against one-shot, from a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/common.h"

#define SHA256_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA512_EMPTY                                                            \
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"   \
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define SHA512_ABC                                                              \
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"   \
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

/* "<prefix><n hex chars of c>" in a static buffer. */
static const char *mk(const char *prefix, char c, size_t n)
{
    static char buf[512];
    size_t p = strlen(prefix);
    memcpy(buf, prefix, p);
    memset(buf + p, c, n);
    buf[p + n] = '\0';
    return buf;
}

static void test_parse_valid(void **state)
{
    (void)state;
    enum digest_algo algo = 0;
    assert_int_equal(digest_parse(SHA256_ABC, &algo), DIGEST_SHA256);
    assert_int_equal(algo, DIGEST_SHA256);
    assert_int_equal(digest_parse(SHA512_ABC, &algo), DIGEST_SHA512);
    assert_int_equal(algo, DIGEST_SHA512);
    /* every hex digit */
    assert_true(digest_parse("sha256:0123456789abcdef0123456789abcdef"
                             "0123456789abcdef0123456789abcdef", NULL) > 0);
    /* algo may be NULL */
    assert_int_equal(digest_parse(SHA256_EMPTY, NULL), DIGEST_SHA256);
    assert_true(digest_valid(SHA256_EMPTY));
    assert_true(digest_valid(SHA512_EMPTY));
}

static void test_parse_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "sha256",
        "sha256:",
        "sha512:",
        ":" "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        /* upper-case hex, upper-case algorithm */
        "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        "sha256:Ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        /* surrounding junk */
        " sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad ",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
        "sha256: ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a/",
        "sha256:../../../../etc/passwd",
        /* non-hex */
        "sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256+b64:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        enum digest_algo algo = 0;
        if (digest_parse(bad[i], &algo) >= 0)
            fail_msg("digest_parse accepted \"%s\"", bad[i]);
        assert_false(digest_valid(bad[i]));
    }
    assert_true(digest_parse(NULL, NULL) < 0);
    assert_false(digest_valid(NULL));
}

static void test_parse_lengths(void **state)
{
    (void)state;
    assert_true(digest_valid(mk("sha256:", 'a', 64)));
    assert_false(digest_valid(mk("sha256:", 'a', 63)));
    assert_false(digest_valid(mk("sha256:", 'a', 65)));
    assert_false(digest_valid(mk("sha256:", 'a', 128)));
    assert_true(digest_valid(mk("sha512:", 'a', 128)));
    assert_false(digest_valid(mk("sha512:", 'a', 127)));
    assert_false(digest_valid(mk("sha512:", 'a', 129)));
    assert_false(digest_valid(mk("sha512:", 'a', 64)));
    /* the longest valid digest fits DIGEST_MAX with its NUL */
    assert_int_equal(strlen(mk("sha512:", 'a', 128)) + 1, DIGEST_MAX);
}

static void test_parse_unknown_algorithms(void **state)
{
    (void)state;
    assert_true(digest_parse(mk("md5:", 'a', 32), NULL) < 0);
    assert_true(digest_parse(mk("sha1:", 'a', 40), NULL) < 0);
    assert_true(digest_parse(mk("sha384:", 'a', 96), NULL) < 0);
    assert_true(digest_parse(mk("sha224:", 'a', 56), NULL) < 0);
    assert_true(digest_parse(mk("blake3:", 'a', 64), NULL) < 0);
    assert_true(digest_parse(mk("sha256x:", 'a', 64), NULL) < 0);
    assert_true(digest_parse(mk("sha25:", 'a', 64), NULL) < 0);
}

static void test_digest_hex(void **state)
{
    (void)state;
    assert_string_equal(digest_hex(SHA256_ABC),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(digest_hex(SHA512_EMPTY), SHA512_EMPTY + 7);
}

static void test_buffer_vectors(void **state)
{
    (void)state;
    char out[DIGEST_MAX];
    assert_int_equal(digest_buffer(DIGEST_SHA256, "", 0, out), 0);
    assert_string_equal(out, SHA256_EMPTY);
    assert_int_equal(digest_buffer(DIGEST_SHA256, "abc", 3, out), 0);
    assert_string_equal(out, SHA256_ABC);
    assert_int_equal(digest_buffer(DIGEST_SHA512, "", 0, out), 0);
    assert_string_equal(out, SHA512_EMPTY);
    assert_int_equal(digest_buffer(DIGEST_SHA512, "abc", 3, out), 0);
    assert_string_equal(out, SHA512_ABC);
    /* what the hasher writes is always a valid digest string */
    assert_true(digest_valid(out));
}

static unsigned char *random_bytes(size_t n)
{
    unsigned char *p = malloc(n);
    assert_non_null(p);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static void incremental_equals_oneshot(enum digest_algo algo)
{
    size_t n = 3 * 1024 * 1024 + 17;
    unsigned char *data = random_bytes(n);
    char whole[DIGEST_MAX], parts[DIGEST_MAX], bytewise[DIGEST_MAX];
    assert_int_equal(digest_buffer(algo, data, n, whole), 0);

    /* uneven pieces, including empty updates */
    struct hasher *h = hasher_new(algo);
    assert_non_null(h);
    assert_int_equal(hasher_algo(h), algo);
    size_t off = 0, step = 1;
    while (off < n) {
        size_t len = step < n - off ? step : n - off;
        assert_int_equal(hasher_update(h, data + off, len), 0);
        assert_int_equal(hasher_update(h, data, 0), 0);
        off += len;
        step = step * 3 + 1;
    }
    assert_int_equal(hasher_final(h, parts), 0);
    hasher_free(h);
    assert_string_equal(parts, whole);

    /* byte by byte over a smaller prefix */
    char prefix[DIGEST_MAX];
    assert_int_equal(digest_buffer(algo, data, 1000, prefix), 0);
    h = hasher_new(algo);
    assert_non_null(h);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(hasher_update(h, data + i, 1), 0);
    assert_int_equal(hasher_final(h, bytewise), 0);
    hasher_free(h);
    assert_string_equal(bytewise, prefix);
    free(data);
}

static void test_hasher_incremental_sha256(void **state)
{
    (void)state;
    incremental_equals_oneshot(DIGEST_SHA256);
}

static void test_hasher_incremental_sha512(void **state)
{
    (void)state;
    incremental_equals_oneshot(DIGEST_SHA512);
}

static void test_hasher_free_null(void **state)
{
    (void)state;
    hasher_free(NULL);
}

static int temp_file(const void *data, size_t len)
{
    char path[] = "/tmp/berth-test-digest-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write_all(fd, data, len), 0);
    return fd;
}

static void test_hasher_update_fd(void **state)
{
    (void)state;
    /* larger than the function's internal 1 MiB chunk, not a multiple of it */
    size_t n = 2 * 1024 * 1024 + 12345;
    unsigned char *data = random_bytes(n);
    int fd = temp_file(data, n);
    /* the file offset is at the end: "the first len bytes" must not care */
    for (int a = DIGEST_SHA256; a <= DIGEST_SHA512; a++) {
        uint64_t lens[] = {0, 1, 1024 * 1024, n - 7, n};
        for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
            char want[DIGEST_MAX], got[DIGEST_MAX];
            assert_int_equal(digest_buffer(a, data, lens[i], want), 0);
            struct hasher *h = hasher_new(a);
            assert_non_null(h);
            assert_int_equal(hasher_update_fd(h, fd, lens[i]), 0);
            assert_int_equal(hasher_final(h, got), 0);
            hasher_free(h);
            assert_string_equal(got, want);
        }
    }
    /* continuing a hasher after a file prefix */
    char want[DIGEST_MAX], got[DIGEST_MAX];
    assert_int_equal(digest_buffer(DIGEST_SHA256, data, n, want), 0);
    struct hasher *h = hasher_new(DIGEST_SHA256);
    assert_int_equal(hasher_update_fd(h, fd, 1000), 0);
    assert_int_equal(hasher_update(h, data + 1000, n - 1000), 0);
    assert_int_equal(hasher_final(h, got), 0);
    hasher_free(h);
    assert_string_equal(got, want);
    close(fd);
    free(data);
}

static void test_hasher_update_fd_short_file(void **state)
{
    (void)state;
    int fd = temp_file("abc", 3);
    struct hasher *h = hasher_new(DIGEST_SHA256);
    assert_non_null(h);
    /* asking for more than the file holds is an error, not a silent short hash */
    assert_true(hasher_update_fd(h, fd, 4) < 0);
    hasher_free(h);
    close(fd);

    h = hasher_new(DIGEST_SHA256);
    assert_true(hasher_update_fd(h, -1, 1) < 0);
    hasher_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_lengths),
        cmocka_unit_test(test_parse_unknown_algorithms),
        cmocka_unit_test(test_digest_hex),
        cmocka_unit_test(test_buffer_vectors),
        cmocka_unit_test(test_hasher_incremental_sha256),
        cmocka_unit_test(test_hasher_incremental_sha512),
        cmocka_unit_test(test_hasher_free_null),
        cmocka_unit_test(test_hasher_update_fd),
        cmocka_unit_test(test_hasher_update_fd_short_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
