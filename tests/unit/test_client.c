/*
 * test_client.c - what libberth's transport lets a registry make it do:
 * which addresses count as internal (loopback, private, link-local, CGNAT,
 * unspecified, IPv4-mapped, and the odd spellings inet_aton accepts), and
 * that a URL leading away from a registry that is not itself internal to an
 * internal address, or to a scheme other than http(s), is refused before
 * anything connects. The only traffic is to 127.0.0.0/8 port 1 (closed).
 * And which temp files of the image store count as left by a dead process:
 * a pid that is gone, or one reused by a process started at another time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../client-lib/internal.h"

static void test_ip_internal(void **state)
{
    (void)state;
    static const char *const internal[] = {
        "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1",
        "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255",
        "0.0.0.0", "0.1.2.3", "::1", "::", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1",
        "fec0::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",
        "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1",
    };
    static const char *const external[] = {
        "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.0", "192.169.0.1", "100.63.255.255",
        "100.128.0.0", "169.253.0.1", "11.0.0.1", "2001:db8::1", "2606:4700::1111",
        "::ffff:8.8.8.8", "fe7f::1", "64:ff9b::8.8.8.8", "64:ff9a::127.0.0.1",
        "not an address", "",
    };
    for (size_t i = 0; i < sizeof internal / sizeof *internal; i++)
        if (!ip_is_internal(internal[i]))
            fail_msg("%s should be internal", internal[i]);
    for (size_t i = 0; i < sizeof external / sizeof *external; i++)
        if (ip_is_internal(external[i]))
            fail_msg("%s should not be internal", external[i]);
}

static void test_host_internal(void **state)
{
    (void)state;
    static const char *const internal[] = {
        "localhost", "LocalHost", "localhost.", "registry.localhost", "127.0.0.1", "[::1]",
        "[fe80::1]", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "10.1", "0",
    };
    static const char *const external[] = {
        "registry-1.docker.io", "example.com", "localhost.example.com", "notlocalhost",
        "8.8.8.8", "[2001:db8::1]", "", "1.2.3.4.5",
    };
    for (size_t i = 0; i < sizeof internal / sizeof *internal; i++)
        if (!host_is_internal(internal[i]))
            fail_msg("%s should be internal", internal[i]);
    for (size_t i = 0; i < sizeof external / sizeof *external; i++)
        if (host_is_internal(external[i]))
            fail_msg("%s should not be internal", external[i]);
}

/* One GET of `url` on behalf of `registry`: its error (or "" when the
 * request got an answer). */
static int get(const char *registry, const char *url, bool allow, char *msg, size_t len)
{
    struct berth_options o = {.quiet = 1, .retries = 1, .allow_internal_redirects = allow};
    struct berth_client *c = NULL;
    struct berr err = {0};
    assert_int_equal(berth_client_new(&o, &c, &err), 0);
    struct http_req r;
    http_req_init(&r, "GET");
    r.sink = SINK_MEMORY;
    snprintf(r.url, sizeof r.url, "%s", url);
    int rc = http_do(c, registry, "repository:x:pull", &r, &err);
    snprintf(msg, len, "%s", rc < 0 ? err.msg : "");
    http_req_clear(&r);
    berth_client_free(c);
    return rc;
}

/* An upload Location or a Link from a public registry that names an
 * internal address: refused before any connection. */
static void test_public_registry_to_internal_refused(void **state)
{
    (void)state;
    char msg[256];
    static const char *const urls[] = {
        "http://127.0.0.1:1/v2/x/blobs/uploads/1",
        "http://169.254.169.254:1/latest/meta-data/",
        "http://[::1]:1/v2/",
        "http://localhost:1/v2/",
        "http://2130706433:1/v2/",
    };
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        assert_int_equal(get("registry.example.com", urls[i], false, msg, sizeof msg),
                         -BERR_UNSUPPORTED);
        if (!strstr(msg, "refusing to connect to the internal address"))
            fail_msg("%s: %s", urls[i], msg);
    }
}

/* The registry is itself on loopback, or the option says so: allowed
 * (then the closed port is the error). */
static void test_internal_registry_allowed(void **state)
{
    (void)state;
    char msg[256];
    assert_true(get("127.0.0.1:5000", "http://127.0.0.2:1/v2/", false, msg, sizeof msg) < 0);
    assert_null(strstr(msg, "internal address"));
    assert_true(get("registry.example.com", "http://127.0.0.1:1/v2/", true, msg, sizeof msg) < 0);
    assert_null(strstr(msg, "internal address"));
}

static void test_other_schemes_refused(void **state)
{
    (void)state;
    char msg[256];
    static const char *const urls[] = {
        "gopher://127.0.0.1:1/_x", "dict://127.0.0.1:1/x", "file:///etc/passwd",
        "ftp://127.0.0.1:1/x", "ldap://127.0.0.1:1/",
    };
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        assert_int_equal(get("127.0.0.1:5000", urls[i], true, msg, sizeof msg),
                         -BERR_UNSUPPORTED);
        if (!strstr(msg, "only http and https"))
            fail_msg("%s: %s", urls[i], msg);
    }
}

static bool present(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tmp/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void touch(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tmp/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_stale_temp_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_client.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct berth_store *s = NULL;
    struct berr err = {0};
    assert_int_equal(berth_store_open(dir, &s, &err), 0);

    /* this process's own temp file: alive */
    char live[4096];
    int fd = store_temp(s, live, sizeof live);
    assert_true(fd >= 0);
    close(fd);
    const char *live_name = strrchr(live, '/') + 1;
    int me = 0;
    unsigned long long start = 0;
    assert_int_equal(sscanf(live_name, "blob-%d-%llu-", &me, &start), 2);
    assert_int_equal(me, (int)getpid());

    /* a pid that is gone */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    char dead[128], reused[128], dead_index[64];
    snprintf(dead, sizeof dead, "blob-%d-%llu-AbCdEf", (int)child, start);
    snprintf(dead_index, sizeof dead_index, "index.json.%d", (int)child);
    /* this pid, but a process that started at another time */
    snprintf(reused, sizeof reused, "blob-%d-%llu-AbCdEf", me, start + 1);
    touch(dir, dead);
    touch(dir, dead_index);
    touch(dir, reused);
    touch(dir, "blob-AbCdEf");          /* not named by this scheme: left alone */
    touch(dir, "something-else");

    berth_store_clean_temp(dir);
    assert_true(present(dir, live_name));
    assert_false(present(dir, dead));
    assert_false(present(dir, dead_index));
    assert_false(present(dir, reused));
    assert_true(present(dir, "blob-AbCdEf"));
    assert_true(present(dir, "something-else"));

    berth_store_close(s);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_internal),
        cmocka_unit_test(test_host_internal),
        cmocka_unit_test(test_public_registry_to_internal_refused),
        cmocka_unit_test(test_internal_registry_allowed),
        cmocka_unit_test(test_other_schemes_refused),
        cmocka_unit_test(test_stale_temp_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
