/*
 * test_names.c - the distribution spec's grammars: repository names
 * (components of [a-z0-9]+ joined by ".", "_", "__" or "-"+, at most 255
 * characters), tags ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}) and the server's
 * upload ids (32 lower-case hex characters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/common.h"

static void test_repo_name_valid(void **state)
{
    (void)state;
    const char *good[] = {
        "a", "0", "9a", "abc", "a/b", "a/b/c", "a.b", "a_b", "a__b", "a-b",
        "a---b", "library/ubuntu", "my-org/my.app_v2/sub__dir", "a.b.c",
        "a-b-c", "x/y/z/w/v", "a1/2b/c3",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!repo_name_valid(good[i]))
            fail_msg("repo_name_valid refused \"%s\"", good[i]);
}

static void test_repo_name_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "A", "aB", "Library/ubuntu", "a//b", "/a", "a/", "/", "..", ".",
        "a/..", "../a", "a/../b", "a/./b", "a..b", "a___b", "a._b", "a_.b",
        "a.-b", "a-.b", "-a", "a-", "_a", "a_", ".a", "a.", "__a", "a__",
        "a b", " a", "a ", "a:b", "a@b", "a+b", "a\\b", "a\nb", "a\tb",
        "a%2fb", "caf\xc3\xa9", "a/B", "a/b/", "a/-b", "a/_b", "a/.b",
        "a//", "v2/_catalog/..",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (repo_name_valid(bad[i]))
            fail_msg("repo_name_valid accepted \"%s\"", bad[i]);
    assert_false(repo_name_valid(NULL));
}

static void test_repo_name_length(void **state)
{
    (void)state;
    char name[NAME_MAX_LEN + 2];
    memset(name, 'a', NAME_MAX_LEN);
    name[NAME_MAX_LEN] = '\0';
    assert_true(repo_name_valid(name));                  /* 255 */
    memset(name, 'a', NAME_MAX_LEN + 1);
    name[NAME_MAX_LEN + 1] = '\0';
    assert_false(repo_name_valid(name));                 /* 256 */

    /* many components, 255 and 256 long */
    for (int i = 0; i < NAME_MAX_LEN; i++)
        name[i] = i % 2 ? '/' : 'a';
    name[NAME_MAX_LEN] = '\0';                           /* "a/a/.../a" */
    assert_true(repo_name_valid(name));
    name[NAME_MAX_LEN] = '/';
    name[NAME_MAX_LEN + 1] = '\0';
    assert_false(repo_name_valid(name));                 /* trailing '/' */
    name[NAME_MAX_LEN - 1] = 'b';
    name[NAME_MAX_LEN] = 'b';                            /* 256, valid shape */
    assert_false(repo_name_valid(name));
}

static void test_tag_valid(void **state)
{
    (void)state;
    const char *good[] = {
        "latest", "v1", "v1.0.0", "1.2.3-rc.1", "_", "_x", "A", "1", "UPPER",
        "a-b.c_d", "x..y", "x--y", "x__y", "sha256-abcdef.sig", "a.",
        "a-",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!tag_valid(good[i]))
            fail_msg("tag_valid refused \"%s\"", good[i]);

    const char *bad[] = {
        "", "-a", ".a", "-", ".", "a/b", "a:b", "a@b", "a b", " a", "a ",
        "a+b", "a\nb", "caf\xc3\xa9", "sha256:abc", "a%20b", "..", "a\\b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (tag_valid(bad[i]))
            fail_msg("tag_valid accepted \"%s\"", bad[i]);
    assert_false(tag_valid(NULL));
}

static void test_tag_length(void **state)
{
    (void)state;
    char tag[TAG_MAX_LEN + 2];
    memset(tag, 'x', TAG_MAX_LEN);
    tag[TAG_MAX_LEN] = '\0';
    assert_true(tag_valid(tag));                          /* 128 */
    tag[TAG_MAX_LEN] = 'x';
    tag[TAG_MAX_LEN + 1] = '\0';
    assert_false(tag_valid(tag));                         /* 129 */
}

static void test_upload_id_valid(void **state)
{
    (void)state;
    assert_true(upload_id_valid("0123456789abcdef0123456789abcdef"));
    assert_true(upload_id_valid("ffffffffffffffffffffffffffffffff"));
    const char *bad[] = {
        "",
        "0123456789abcdef0123456789abcde",                /* 31 */
        "0123456789abcdef0123456789abcdef0",              /* 33 */
        "0123456789ABCDEF0123456789ABCDEF",               /* upper case */
        "0123456789abcdef0123456789abcdeg",
        "01234567-89ab-cdef-0123-456789abcdef",           /* a UUID with dashes */
        "../../../../../../../../etc/pass",               /* 32 characters */
        "0123456789abcdef/123456789abcdef",
        "0123456789abcdef 123456789abcdef",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (upload_id_valid(bad[i]))
            fail_msg("upload_id_valid accepted \"%s\"", bad[i]);
    assert_false(upload_id_valid(NULL));
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_upload_id_new(void **state)
{
    (void)state;
    enum { N = 2000 };
    char (*ids)[33] = calloc(N, sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        memset(ids[i], 'Z', sizeof ids[i]);
        upload_id_new(ids[i]);
        assert_int_equal(strlen(ids[i]), 32);
        if (!upload_id_valid(ids[i]))
            fail_msg("upload_id_new made an invalid id \"%s\"", ids[i]);
    }
    qsort(ids, N, sizeof *ids, cmp_id);
    for (int i = 1; i < N; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("upload_id_new repeated \"%s\"", ids[i]);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repo_name_valid),
        cmocka_unit_test(test_repo_name_invalid),
        cmocka_unit_test(test_repo_name_length),
        cmocka_unit_test(test_tag_valid),
        cmocka_unit_test(test_tag_length),
        cmocka_unit_test(test_upload_id_valid),
        cmocka_unit_test(test_upload_id_new),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
