/*
 * test_lifecycle.c - what a container's monitor is told to do over its
 * life, before anything runs: docker's --restart policies and Go
 * durations (--health-interval...), good and bad, and the health check
 * read from a container's Config.Healthcheck (CMD, CMD-SHELL, NONE,
 * docker's defaults) into State.Health "starting".
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

#include "../../runtime/internal.h"

static void test_restart_parse(void **state)
{
    (void)state;
    char name[16];
    int max = -5;
    struct berr err = {0};
    const char *good[][2] = {{"no", "no"}, {"always", "always"},
                             {"unless-stopped", "unless-stopped"}, {"on-failure", "on-failure"}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(rt_restart_parse(good[i][0], name, &max, &err), 0);
        assert_string_equal(name, good[i][1]);
        assert_int_equal(max, 0);
    }
    assert_int_equal(rt_restart_parse("on-failure:5", name, &max, &err), 0);
    assert_string_equal(name, "on-failure");
    assert_int_equal(max, 5);
    assert_int_equal(rt_restart_parse("on-failure:0", name, &max, &err), 0);
    assert_int_equal(max, 0);
    const char *bad[] = {"", "bogus", "on-failure:", "on-failure:-1", "on-failure:x",
                         "on-failure:1x", "always:3", "no:1", "unless-stopped:2",
                         "on-failures", "ALWAYS", "on-failure:99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = '\0';
        assert_true(rt_restart_parse(bad[i], name, &max, &err) < 0);
        assert_true(err.msg[0] != '\0');
        assert_null(strchr(err.msg, '\n'));
    }
}

static void test_duration_parse(void **state)
{
    (void)state;
    int64_t ns;
    struct berr err = {0};
    const struct { const char *s; int64_t ns; } good[] = {
        {"0", 0}, {"30s", 30000000000LL}, {"500ms", 500000000LL}, {"1m30s", 90000000000LL},
        {"2h", 7200000000000LL}, {"1.5s", 1500000000LL}, {"10us", 10000}, {"7ns", 7},
        {"1h1m1s", 3661000000000LL}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(rt_duration_parse(good[i].s, &ns, &err), 0);
        assert_int_equal(ns, good[i].ns);
    }
    const char *bad[] = {"", "5", "5x", "s", "-1s", "1s-", "1 s", "abc", "1e400h", "30sec",
                         "9999999999999h"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_true(rt_duration_parse(bad[i], &ns, &err) < 0);
}

/* A container of a store in a temporary directory, with `hc` as its
 * Config.Healthcheck. */
struct fixture {
    char root[64];
    struct berth_store *s;
    struct rt_container c;
};

static void fixture_make(struct fixture *f, json_t *hc)
{
    struct berr err = {0};
    snprintf(f->root, sizeof f->root, "/tmp/test_lifecycle.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    assert_int_equal(berth_store_open(f->root, &f->s, &err), 0);
    memset(&f->c, 0, sizeof f->c);
    f->c.s = f->s;
    snprintf(f->c.id, sizeof f->c.id, "%064d", 7);
    state_dir(f->s, f->c.id, f->c.dir, sizeof f->c.dir);
    assert_int_equal(mkdir_p(f->c.dir, 0700), 0);
    f->c.state = json_pack("{s:{},s:{s:o}}", "State", "Config", "Healthcheck",
                           hc ? hc : json_null());
}

static void fixture_free(struct fixture *f)
{
    json_decref(f->c.state);
    berth_store_close(f->s);
    rmtree(f->root);
}

static void test_health_config(void **state)
{
    (void)state;
    struct fixture f;
    struct health h = {.out = -1};

    fixture_make(&f, json_pack("{s:[s,s]}", "Test", "CMD-SHELL", "curl -f localhost || exit 1"));
    health_start(&h, &f.c);
    assert_true(h.on);
    assert_string_equal(h.argv[0], "/bin/sh");
    assert_string_equal(h.argv[1], "-c");
    assert_string_equal(h.argv[2], "curl -f localhost || exit 1");
    assert_null(h.argv[3]);
    assert_int_equal(h.interval, 30000000000LL);   /* docker's defaults */
    assert_int_equal(h.timeout, 30000000000LL);
    assert_int_equal(h.start_period, 0);
    assert_int_equal(h.retries, 3);
    json_t *health = json_object_get(json_object_get(f.c.state, "State"), "Health");
    assert_string_equal(json_string_value(json_object_get(health, "Status")), "starting");
    assert_int_equal(json_integer_value(json_object_get(health, "FailingStreak")), 0);
    assert_int_equal(json_array_size(json_object_get(health, "Log")), 0);
    assert_int_equal(health_fd(&h), -1);   /* no probe yet: the first after Interval */
    assert_true(health_wait_ms(&h) > 29000);
    health_stop(&h, &f.c);
    fixture_free(&f);

    fixture_make(&f, json_pack("{s:[s,s,s],s:I,s:I,s:I,s:i}", "Test", "CMD", "test", "-e",
                               "Interval", (json_int_t)1000000000, "Timeout",
                               (json_int_t)2000000000, "StartPeriod", (json_int_t)5000000000,
                               "Retries", 7));
    health_start(&h, &f.c);
    assert_true(h.on);
    assert_string_equal(h.argv[0], "test");
    assert_string_equal(h.argv[1], "-e");
    assert_null(h.argv[2]);
    assert_int_equal(h.interval, 1000000000);
    assert_int_equal(h.timeout, 2000000000);
    assert_int_equal(h.start_period, 5000000000LL);
    assert_int_equal(h.retries, 7);
    health_stop(&h, &f.c);
    fixture_free(&f);

    /* none: NONE, an empty test, an unknown kind, no Healthcheck at all */
    json_t *none[] = {json_pack("{s:[s]}", "Test", "NONE"), json_pack("{s:[]}", "Test"),
                      json_pack("{s:[s,s]}", "Test", "SHELL", "true"),
                      json_pack("{s:[s]}", "Test", "CMD"), NULL};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
        fixture_make(&f, none[i]);
        health_start(&h, &f.c);
        assert_false(h.on);
        assert_int_equal(health_wait_ms(&h), -1);
        assert_null(json_object_get(json_object_get(f.c.state, "State"), "Health"));
        health_stop(&h, &f.c);
        fixture_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_parse),
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_health_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
