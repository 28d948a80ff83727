/*
 * fuzz_rules.c - the access rules of the "auth" configuration object
 * (auth/rules.c): {"groups": {...}, "access": [...]} as auth_open hands
 * them to rules_load, then the question every request asks of them.
 */
#include "fuzz.h"
#include "../../auth/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return 0;
    struct rules *r = NULL;
    struct berr err = {0};
    if (json_is_object(root) &&
        rules_load(json_object_get(root, "access"), json_object_get(root, "groups"), &r,
                   &err) == 0) {
        static const char *const accounts[] = {"", "alice", "bob", "admin"};
        static const char *const names[] = {"*", "library/busybox", "alice/app", "a", "team/x/y"};
        for (size_t i = 0; i < sizeof accounts / sizeof *accounts; i++)
            for (size_t j = 0; j < sizeof names / sizeof *names; j++)
                if (rules_allowed(r, accounts[i], names[j]) & ~15u)
                    abort();   /* only the four actions exist */
        rules_free(r);
    }
    json_decref(root);
    return 0;
}
