/*
 * test_common.c - bounded string building (buf_appendf) at its edges, the
 * WWW-Authenticate challenge built with it for the longest realm, service
 * and repository name the configuration and the grammar allow, stored
 * credentials too long for their buffer, and the escaping that keeps a log
 * line one line of valid UTF-8 (log_escape).
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

#include "../../auth/auth.h"
#include "../../client-lib/internal.h"
#include "../../common/common.h"

/* ---- buf_appendf ------------------------------------------------------------ */

/* A guard area after the buffer: nothing may ever be written there. */
struct guarded {
    char buf[8];
    char guard[8];
};

static void guard_init(struct guarded *g)
{
    memset(g->buf, 'X', sizeof g->buf);
    memset(g->guard, 'G', sizeof g->guard);
}

static void guard_check(const struct guarded *g)
{
    for (size_t i = 0; i < sizeof g->guard; i++)
        if (g->guard[i] != 'G')
            fail_msg("buf_appendf wrote past the end of the buffer (guard byte %zu)", i);
}

static void test_appendf_exact_fit(void **state)
{
    (void)state;
    struct guarded g;
    guard_init(&g);
    size_t n = 0;
    /* 7 characters and the NUL: exactly 8 */
    assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "%s", "abc"), 0);
    assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "%s", "defg"), 0);
    assert_int_equal(n, 7);
    assert_string_equal(g.buf, "abcdefg");
    guard_check(&g);
    /* even an empty append fits no more: it still succeeds */
    assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "%s", ""), 0);
    assert_int_equal(n, 7);
    /* one more character does not */
    assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "h"), -BERR_TOOBIG);
    assert_string_equal(g.buf, "abcdefg");
    assert_true(n >= sizeof g.buf);
    guard_check(&g);
}

static void test_appendf_one_over(void **state)
{
    (void)state;
    struct guarded g;
    guard_init(&g);
    size_t n = 0;
    /* 8 characters do not fit in 8 bytes: 7 of them and the NUL do */
    assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "%s", "12345678"), -BERR_TOOBIG);
    assert_string_equal(g.buf, "1234567");
    assert_int_equal(n, 8);   /* the length the whole string needs */
    guard_check(&g);

    guard_init(&g);
    n = 0;
    assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "%d", 1234), 0);
    assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "%d", 5678), -BERR_TOOBIG);
    assert_string_equal(g.buf, "1234567");
    assert_int_equal(n, 8);
    guard_check(&g);
}

static void test_appendf_after_truncation(void **state)
{
    (void)state;
    struct guarded g;
    guard_init(&g);
    size_t n = 0;
    assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "%s", "0123456789"), -BERR_TOOBIG);
    assert_int_equal(n, 10);
    /* every later append writes nothing, keeps the NUL, keeps counting */
    for (int i = 0; i < 100; i++)
        assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "%s", "abc"), -BERR_TOOBIG);
    assert_int_equal(n, 310);
    assert_string_equal(g.buf, "0123456");
    guard_check(&g);
    /* a short append after a long one fails too: no gap, no overwrite */
    assert_int_equal(buf_appendf(g.buf, sizeof g.buf, &n, "z"), -BERR_TOOBIG);
    assert_string_equal(g.buf, "0123456");

    /* the old idiom's failure: a huge piece in the middle */
    char big[300];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    guard_init(&g);
    n = 0;
    buf_appendf(g.buf, sizeof g.buf, &n, "a");
    buf_appendf(g.buf, sizeof g.buf, &n, "%s", big);
    buf_appendf(g.buf, sizeof g.buf, &n, ",tail=%s", big);
    assert_int_equal(n, 1 + 299 + 6 + 299);
    assert_string_equal(g.buf, "abbbbbb");
    guard_check(&g);
}

static void test_appendf_tiny_buffers(void **state)
{
    (void)state;
    size_t n = 0;
    /* size 0: nothing at all is written, not even a NUL */
    assert_int_equal(buf_appendf(NULL, 0, &n, "x"), -BERR_TOOBIG);
    assert_int_equal(n, 1);
    char one[1] = {'Q'};
    n = 0;
    assert_int_equal(buf_appendf(one, 1, &n, "%s", ""), 0);
    assert_int_equal(one[0], '\0');
    assert_int_equal(buf_appendf(one, 1, &n, "y"), -BERR_TOOBIG);
    assert_int_equal(one[0], '\0');
}

/* ---- the challenge, built at its largest ---------------------------------------- */

static char tmpdir[64];

static struct auth *token_auth(const char *realm, const char *service, struct berr *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s/signing.pem", tmpdir);
    json_t *cfg = json_pack("{s:{s:s,s:s,s:s}}", "token", "realm", realm, "service", service,
                            "key", key);
    assert_non_null(cfg);
    struct auth *a = NULL;
    int rc = auth_open(cfg, &a, err);
    json_decref(cfg);
    return rc == 0 ? a : NULL;
}

static void test_challenge_longest(void **state)
{
    (void)state;
    char realm[1025], service[257], name[NAME_MAX_LEN + 1];
    memcpy(realm, "https://auth.example/", 21);
    memset(realm + 21, 'r', sizeof realm - 22);
    realm[sizeof realm - 1] = '\0';
    memset(service, 's', sizeof service - 1);
    service[sizeof service - 1] = '\0';
    for (size_t i = 0; i < NAME_MAX_LEN; i++)
        name[i] = i % 64 == 63 ? '/' : 'n';
    name[NAME_MAX_LEN] = '\0';
    assert_true(repo_name_valid(name));

    struct berr err = {0};
    struct auth *a = token_auth(realm, service, &err);
    if (!a)
        fail_msg("auth_open: %s", err.msg);
    struct auth_result r;
    auth_check(a, NULL, "c", name, ACT_PULL | ACT_PUSH | ACT_DELETE, &r);
    assert_int_equal(r.verdict, AUTH_CHALLENGE);
    char want[2048];
    snprintf(want, sizeof want,
             "Bearer realm=\"%s\",service=\"%s\",scope=\"repository:%s:pull,push,delete\"",
             realm, service, name);
    assert_string_equal(r.challenge, want);
    auth_result_clear(&r);
    auth_close(a);

    /* one character more than the limits: refused when the configuration loads */
    char longer[1100];
    snprintf(longer, sizeof longer, "%sx", realm);
    memset(&err, 0, sizeof err);
    assert_null(token_auth(longer, service, &err));
    assert_non_null(strstr(err.msg, "realm"));
    snprintf(longer, sizeof longer, "%sx", service);
    memset(&err, 0, sizeof err);
    assert_null(token_auth(realm, longer, &err));
    assert_non_null(strstr(err.msg, "service"));
    /* a quote would end the quoted value early */
    memset(&err, 0, sizeof err);
    assert_null(token_auth("https://a/\",scope=\"x", "svc", &err));
    assert_null(token_auth("https://a/", "sv\"c", &err));
}

/* ---- credentials: snprintf's return is what it wanted, not what it wrote ---- */

static void test_creds_save_too_long(void **state)
{
    (void)state;
    char user[700], pass[700];
    memset(user, 'u', sizeof user - 1);
    user[sizeof user - 1] = '\0';
    memset(pass, 'p', sizeof pass - 1);
    pass[sizeof pass - 1] = '\0';
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", tmpdir, 1);
    struct berr err = {0};
    /* "user:pass" is 1399 bytes: more than the 1024 it is built in */
    assert_int_equal(creds_save("127.0.0.1:1", user, pass, &err), -BERR_TOOBIG);
    assert_non_null(strstr(err.msg, "too long"));
    /* what fits is stored */
    user[100] = pass[100] = '\0';
    assert_int_equal(creds_save("127.0.0.1:1", user, pass, &err), 0);
    if (home)
        setenv("HOME", home, 1);
    free(home);
}

/* ---- log_escape ------------------------------------------------------------------ */

static const char *esc(const char *in, bool space)
{
    static char out[512];
    log_escape(in, out, sizeof out, space);
    return out;
}

static void test_log_escape_controls(void **state)
{
    (void)state;
    assert_string_equal(esc("/v2/a/manifests/x", false), "/v2/a/manifests/x");
    assert_string_equal(esc("/v2/a\nFAKE 200", false), "/v2/a\\x0aFAKE 200");
    assert_string_equal(esc("a\r\tb\x1b[31mc\x7f", false), "a\\x0d\\x09b\\x1b[31mc\\x7f");
    assert_string_equal(esc("a b", true), "a\\x20b");
    assert_string_equal(esc("a b", false), "a b");
    /* a literal backslash-x in the input stays distinct from an escape */
    assert_string_equal(esc("a\\x0ab", false), "a\\\\x0ab");
    assert_string_equal(esc("", false), "");
    assert_string_equal(esc(NULL, false), "");
}

static void test_log_escape_utf8(void **state)
{
    (void)state;
    /* valid UTF-8 passes unchanged: é, €, 𝄞 */
    assert_string_equal(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e", false),
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e");
    /* invalid bytes, each one escaped */
    assert_string_equal(esc("u\xff\xfe", false), "u\\xff\\xfe");
    assert_string_equal(esc("\xc3", false), "\\xc3");              /* cut short */
    assert_string_equal(esc("\xc3(", false), "\\xc3(");            /* bad continuation */
    assert_string_equal(esc("\xc0\xaf", false), "\\xc0\\xaf");     /* overlong '/' */
    assert_string_equal(esc("\xed\xa0\x80", false), "\\xed\\xa0\\x80");   /* surrogate */
    assert_string_equal(esc("\xf4\x90\x80\x80", false), "\\xf4\\x90\\x80\\x80");   /* > U+10FFFF */
    assert_string_equal(esc("\xe2\x82", false), "\\xe2\\x82");
    /* C1 control U+009B (CSI) */
    assert_string_equal(esc("a\xc2\x9b" "b", false), "a\\xc2\\x9bb");
    /* what comes out always makes a JSON string */
    const char *bad = "\xff\x80\xc3\x28\xe2\x28\xa1\xf0\x28\x8c\xbc\n\x01";
    json_t *s = json_string(esc(bad, false));
    assert_non_null(s);
    json_decref(s);
}

static void test_log_escape_bounds(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'X', sizeof out);
    /* "abc" + "\x0a" and the NUL: exactly 8 */
    assert_int_equal(log_escape("abc\n", out, sizeof out, false), 7);
    assert_string_equal(out, "abc\\x0a");
    /* an escape that does not fit is left out whole */
    assert_int_equal(log_escape("abcd\n", out, sizeof out, false), 4);
    assert_string_equal(out, "abcd");
    /* and so is a character */
    assert_int_equal(log_escape("abcdef\xe2\x82\xac", out, sizeof out, false), 6);
    assert_string_equal(out, "abcdef");
    assert_int_equal(log_escape("abc", out, 1, false), 0);
    assert_string_equal(out, "");
    assert_int_equal(log_escape("abc", out, 0, false), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/berth-test-common-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/signing.pem", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "rm -rf '%s'", tmpdir);
    return system(path) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appendf_exact_fit),
        cmocka_unit_test(test_appendf_one_over),
        cmocka_unit_test(test_appendf_after_truncation),
        cmocka_unit_test(test_appendf_tiny_buffers),
        cmocka_unit_test(test_challenge_longest),
        cmocka_unit_test(test_creds_save_too_long),
        cmocka_unit_test(test_log_escape_controls),
        cmocka_unit_test(test_log_escape_utf8),
        cmocka_unit_test(test_log_escape_bounds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
