/*
 * test_range.c - the header values berthd parses by hand: a blob GET's
 * Range (one "bytes=" range, RFC 9110 semantics), an upload PATCH's
 * Content-Range, and the `n` page size of tag and catalog listings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../common/common.h"

/* range_parse(hdr, size) must succeed with [first, last]. */
static void range_ok(const char *hdr, uint64_t size, uint64_t first, uint64_t last)
{
    uint64_t f = 12345, l = 12345;
    int rc = range_parse(hdr, size, &f, &l);
    if (rc != 0)
        fail_msg("range_parse(\"%s\", %llu) = %d, want [%llu, %llu]", hdr,
                 (unsigned long long)size, rc, (unsigned long long)first,
                 (unsigned long long)last);
    if (f != first || l != last)
        fail_msg("range_parse(\"%s\", %llu) = [%llu, %llu], want [%llu, %llu]", hdr,
                 (unsigned long long)size, (unsigned long long)f,
                 (unsigned long long)l, (unsigned long long)first,
                 (unsigned long long)last);
}

static void range_err(const char *hdr, uint64_t size, int want)
{
    uint64_t f = 0, l = 0;
    int rc = range_parse(hdr, size, &f, &l);
    if (rc != want)
        fail_msg("range_parse(\"%s\", %llu) = %d (range [%llu, %llu]), want %d",
                 hdr ? hdr : "(null)", (unsigned long long)size, rc,
                 (unsigned long long)f, (unsigned long long)l, want);
}

static void test_range_satisfiable(void **state)
{
    (void)state;
    range_ok("bytes=0-0", 100, 0, 0);
    range_ok("bytes=0-99", 100, 0, 99);
    range_ok("bytes=10-19", 100, 10, 19);
    range_ok("bytes=99-99", 100, 99, 99);
    range_ok("bytes=0-", 100, 0, 99);
    range_ok("bytes=42-", 100, 42, 99);
    range_ok("bytes=99-", 100, 99, 99);
    /* a last position past the end means the end */
    range_ok("bytes=50-200", 100, 50, 99);
    range_ok("bytes=0-18446744073709551615", 100, 0, 99);
    /* suffix ranges: the last n bytes, or all of a shorter body */
    range_ok("bytes=-5", 100, 95, 99);
    range_ok("bytes=-1", 100, 99, 99);
    range_ok("bytes=-100", 100, 0, 99);
    range_ok("bytes=-500", 100, 0, 99);
    range_ok("bytes=0-0", 1, 0, 0);
    range_ok("bytes=-1", 1, 0, 0);
    /* large bodies */
    range_ok("bytes=4294967296-4294967300", 8589934592ULL, 4294967296ULL, 4294967300ULL);
    range_ok("bytes=-1", 8589934592ULL, 8589934591ULL, 8589934591ULL);
}

static void test_range_unsatisfiable(void **state)
{
    (void)state;
    range_err("bytes=100-", 100, -BERR_TOOBIG);
    range_err("bytes=100-100", 100, -BERR_TOOBIG);
    range_err("bytes=100-200", 100, -BERR_TOOBIG);
    range_err("bytes=1000-2000", 100, -BERR_TOOBIG);
    /* a zero-length suffix selects nothing (RFC 9110 14.1.1) */
    range_err("bytes=-0", 100, -BERR_TOOBIG);
}

static void test_range_empty_resource(void **state)
{
    (void)state;
    range_err("bytes=0-", 0, -BERR_TOOBIG);
    range_err("bytes=0-0", 0, -BERR_TOOBIG);
    range_err("bytes=0-99", 0, -BERR_TOOBIG);
    range_err("bytes=-5", 0, -BERR_TOOBIG);
}

static void test_range_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "bytes=", "bytes=-", "bytes", "bytes 0-1", "0-1", "items=0-1",
        "bytes=a-b", "bytes=0-a", "bytes=0-1x", "bytes=x0-1", "bytes=--5",
        "bytes=1--2", "bytes=0--", "bytes=+1-2", "bytes=1-+2", "bytes=0.5-1",
        "bytes=1", "bytes=-5-", "bytes=5-2", "bytes=99-98",
        /* multiple ranges: served as the whole body, never as multipart */
        "bytes=0-1,5-6", "bytes=0-1, 5-6", "bytes=0-0,-1", "bytes=-1,0-0",
        "bytes=0-1,", "bytes=,0-1",
        /* numbers that overflow 64 bits */
        "bytes=18446744073709551616-", "bytes=0-18446744073709551616",
        "bytes=-18446744073709551616",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        range_err(bad[i], 100, -BERR_INVALID);
    range_err(NULL, 100, -BERR_INVALID);
    /* malformed stays malformed on an empty body */
    range_err("bytes=5-2", 0, -BERR_INVALID);
    range_err("bytes=0-1,2-3", 0, -BERR_INVALID);
}

/* ---- Content-Range --------------------------------------------------- */

static void crange_ok(const char *hdr, uint64_t first, uint64_t last)
{
    uint64_t f = 12345, l = 12345;
    int rc = content_range_parse(hdr, &f, &l);
    if (rc != 0 || f != first || l != last)
        fail_msg("content_range_parse(\"%s\") = %d [%llu, %llu], want [%llu, %llu]",
                 hdr, rc, (unsigned long long)f, (unsigned long long)l,
                 (unsigned long long)first, (unsigned long long)last);
}

static void crange_bad(const char *hdr)
{
    uint64_t f = 0, l = 0;
    int rc = content_range_parse(hdr, &f, &l);
    if (rc != -BERR_INVALID)
        fail_msg("content_range_parse(\"%s\") = %d [%llu, %llu], want -BERR_INVALID",
                 hdr ? hdr : "(null)", rc, (unsigned long long)f,
                 (unsigned long long)l);
}

static void test_content_range_valid(void **state)
{
    (void)state;
    crange_ok("0-99", 0, 99);
    crange_ok("0-0", 0, 0);
    crange_ok("100-199", 100, 199);
    crange_ok("bytes 0-99/100", 0, 99);
    crange_ok("bytes 0-99/*", 0, 99);
    crange_ok("bytes 100-199/1000", 100, 199);
    crange_ok("bytes=0-99", 0, 99);
    crange_ok("bytes 0-99", 0, 99);
    crange_ok("0-99/100", 0, 99);
    crange_ok("4294967296-8589934591", 4294967296ULL, 8589934591ULL);
}

static void test_content_range_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "junk", "bytes", "bytes ", "bytes=", "0", "0-", "-99", "-", "5-2",
        "a-b", "0-b", "0-99 ", " 0-99", "0-99x", "0--99", "0-99/", "0-99/abc",
        "0-99/100x", "bytes 0-99/100/100", "bytes:0-99", "bytesx0-99",
        "bytes  0-99", "0-99,100-199", "+0-99", "0-18446744073709551616",
        "18446744073709551616-18446744073709551617",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        crange_bad(bad[i]);
    crange_bad(NULL);
}

static void test_content_range_total_length(void **state)
{
    (void)state;
    /* RFC 9110 14.4: a complete length not past the last position makes
     * the value invalid */
    crange_bad("bytes 0-99/50");
    crange_bad("bytes 0-99/99");
    crange_ok("bytes 0-99/101", 0, 99);
}

/* ---- page sizes ------------------------------------------------------------- */

static void page_ok(const char *n, int max, int want)
{
    int out = -12345;
    int rc = page_size_parse(n, max, &out);
    if (rc != 0 || out != want)
        fail_msg("page_size_parse(\"%s\", %d) = %d, n=%d; want 0, n=%d",
                 n ? n : "(null)", max, rc, out, want);
}

static void page_bad(const char *n, int max)
{
    int out = -12345;
    int rc = page_size_parse(n, max, &out);
    if (rc != -BERR_INVALID)
        fail_msg("page_size_parse(\"%s\", %d) = %d, n=%d; want -BERR_INVALID", n, max,
                 rc, out);
}

static void test_page_size(void **state)
{
    (void)state;
    page_ok(NULL, 1000, 1000);
    page_ok("", 1000, 1000);
    page_ok("0", 1000, 0);
    page_ok("1", 1000, 1);
    page_ok("5", 1000, 5);
    page_ok("007", 1000, 7);
    page_ok("999", 1000, 999);
    page_ok("1000", 1000, 1000);
    page_ok("5", 0, 0);
    page_ok(NULL, 7, 7);
}

static void test_page_size_clamped(void **state)
{
    (void)state;
    /* above the maximum: clamped, never refused, never allocated */
    page_ok("1001", 1000, 1000);
    page_ok("2147483647", 1000, 1000);
    page_ok("2147483648", 1000, 1000);
    page_ok("4294967296", 1000, 1000);
    page_ok("18446744073709551615", 1000, 1000);
}

static void test_page_size_huge(void **state)
{
    (void)state;
    /* past 64 bits is still just "more than the maximum" */
    page_ok("18446744073709551616", 1000, 1000);
    page_ok("99999999999999999999999999999999999999", 1000, 1000);
}

static void test_page_size_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "-1", "-0", "abc", "5abc", "abc5", " 5", "5 ", "0x10", "5.0", "1e3",
        "--1", "5,6",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        page_bad(bad[i], 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_satisfiable),
        cmocka_unit_test(test_range_unsatisfiable),
        cmocka_unit_test(test_range_empty_resource),
        cmocka_unit_test(test_range_invalid),
        cmocka_unit_test(test_content_range_valid),
        cmocka_unit_test(test_content_range_invalid),
        cmocka_unit_test(test_content_range_total_length),
        cmocka_unit_test(test_page_size),
        cmocka_unit_test(test_page_size_clamped),
        cmocka_unit_test(test_page_size_huge),
        cmocka_unit_test(test_page_size_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
