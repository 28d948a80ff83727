/*
 * test_network.c - what user-defined networks refuse before they make
 * anything (no namespace, no root needed): bad names, reserved names, bad,
 * loopback and multicast subnets, labels that are not strings, a bad
 * $BERTH_NETWORK_POOL; unknown networks for inspect, rm and run; aliases
 * that are not names or come without a network. The store is left as it
 * was: no network, no directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/internal.h"

struct fixture {
    char root[64];
    struct berth_store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct berr err = {0};
    snprintf(f->root, sizeof f->root, "/tmp/berth-net-unit.XXXXXX");
    if (!mkdtemp(f->root) || berth_store_open(f->root, &f->s, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    berth_store_close(f->s);
    rmtree(f->root);
    free(f);
    return 0;
}

/* networks/ holds nothing but its lock */
static void assert_no_network(struct fixture *f)
{
    char path[128];
    snprintf(path, sizeof path, "%s/networks", f->root);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.' && strcmp(e->d_name, "lock") != 0)
            fail_msg("left in networks/: %s", e->d_name);
    if (d)
        closedir(d);
    json_t *docs = NULL;
    struct berr err = {0};
    assert_int_equal(rt_network_list(f->s, &docs, &err), 0);
    assert_int_equal(json_array_size(docs), 0);
    json_decref(docs);
}

static void refused(struct fixture *f, const char *name, const char *subnet, json_t *labels,
                    const char *msg)
{
    struct berr err = {0};
    char id[RT_ID_LEN + 1];
    if (rt_network_create(f->s, name, subnet, labels, id, &err) == 0)
        fail_msg("network %s (subnet %s) was created", name, subnet ? subnet : "-");
    if (!strstr(err.msg, msg))
        fail_msg("network %s: expected \"%s\" in \"%s\"", name, msg, err.msg);
    assert_null(strchr(err.msg, '\n'));
}

static void test_create_refused(void **state)
{
    struct fixture *f = *state;
    unsetenv("BERTH_NETWORK_POOL");
    refused(f, "../x", NULL, NULL, "invalid network name");
    refused(f, "a b", NULL, NULL, "invalid network name");
    refused(f, "", NULL, NULL, "invalid network name");
    refused(f, "-x", NULL, NULL, "invalid network name");
    refused(f, "a\nb", NULL, NULL, "invalid network name");
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    refused(f, longname, NULL, NULL, "invalid network name");
    refused(f, "host", NULL, NULL, "network with name host already exists");
    refused(f, "none", NULL, NULL, "already exists");
    refused(f, "bridge", NULL, NULL, "already exists");
    const char *bad[] = {"x", "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/31",
                         "10.0.0.0/32", "10.0.0.0/0", "10.0.0/24", "10.0.0.0/24x",
                         "10.0.0.256/24", "/24", "10.0.0.0/-1", "::1/64"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        refused(f, "n", bad[i], NULL, "invalid subnet");
    refused(f, "n", "127.0.0.0/24", NULL, "loopback");
    refused(f, "n", "224.1.0.0/16", NULL, "multicast");
    refused(f, "n", "250.0.0.0/24", NULL, "reserved");
    refused(f, "n", "0.0.0.0/8", NULL, "invalid subnet");
    json_t *labels = json_pack("{s:i}", "k", 1);
    refused(f, "n", NULL, labels, "label k");
    json_decref(labels);
    const char *pools[] = {"x", "10.0.0.0/16", "10.0.0.0/16/8", "10.0.0.0/16/31",
                           "10.0.0.0/16/", "127.0.0.0/8/24", "10.0.0.0/16/24x"};
    for (size_t i = 0; i < sizeof pools / sizeof *pools; i++) {
        setenv("BERTH_NETWORK_POOL", pools[i], 1);
        refused(f, "n", NULL, NULL, "invalid BERTH_NETWORK_POOL");
    }
    unsetenv("BERTH_NETWORK_POOL");
    assert_no_network(f);
}

static void test_unknown(void **state)
{
    struct fixture *f = *state;
    struct berr err = {0};
    json_t *doc = NULL;
    assert_true(rt_network_inspect(f->s, "nosuch", &doc, &err) < 0);
    assert_string_equal(err.msg, "No such network: nosuch");
    memset(&err, 0, sizeof err);
    assert_true(rt_network_remove(f->s, "nosuch", &err) < 0);
    assert_string_equal(err.msg, "No such network: nosuch");
    assert_false(rt_network_exists(f->s, "nosuch"));
    assert_false(rt_network_exists(f->s, ""));
    json_t *removed = NULL;
    assert_int_equal(rt_network_prune(f->s, &removed, &err), 0);
    assert_int_equal(json_array_size(removed), 0);
    json_decref(removed);
    assert_no_network(f);
}

static void test_run_checks(void **state)
{
    struct fixture *f = *state;
    struct berr err = {0};
    char *alias[] = {"db", "x\n6.6.6.6 evil", "../x"};
    struct rt_net nosuch = {.name = "nosuch"};
    struct rt_run_opts o = {.networks = &nosuch, .nnetworks = 1};
    assert_true(net_check(f->s, &o, &err) < 0);
    assert_string_equal(err.msg, "network nosuch not found");
    o.network_host = true;
    memset(&err, 0, sizeof err);
    assert_true(net_check(f->s, &o, &err) < 0);
    assert_non_null(strstr(err.msg, "conflicting options"));
    for (size_t i = 1; i < 3; i++) {
        struct rt_net bad = {.name = "nosuch", .aliases = alias + i, .naliases = 1};
        o = (struct rt_run_opts){.networks = &bad, .nnetworks = 1};
        memset(&err, 0, sizeof err);
        assert_true(net_check(f->s, &o, &err) < 0);
        assert_non_null(strstr(err.msg, "invalid network alias"));
        assert_null(strchr(err.msg, '\n'));
    }
    o = (struct rt_run_opts){0};
    assert_int_equal(net_check(f->s, &o, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_checks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
