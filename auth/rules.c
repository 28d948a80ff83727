/*
 * rules.c - access rules: which account may do what on which repositories.
 * (In the example, "team/..." stands for the glob team slash star.)
 *
 *   "groups": {"devs": ["alice", "bob"]},
 *   "access": [
 *     {"account": "alice", "repository": "team/...", "actions": ["pull", "push"]},
 *     {"group": "devs", "repository": "*", "actions": ["pull"]},
 *     {"account": "*", "repository": "*", "actions": ["catalog"]},
 *     {"account": "anonymous", "repository": "public/...", "actions": ["pull"]}
 *   ]
 *
 * "*" as the account is any authenticated user, "anonymous" is everyone,
 * authenticated or not. Repositories are shell globs (fnmatch, where "*"
 * also crosses "/"). Rules add up: an action is allowed when any rule that
 * matches the account and the repository grants it. With no "access" list,
 * every authenticated user may do everything.
 */
#include "internal.h"

#include <fnmatch.h>
#include <string.h>

struct rule {
    char *account;     /* NULL when the rule names a group */
    char *group;
    char *repository;
    unsigned actions;
};

struct rules {
    struct rule *list;
    size_t n;
    bool open;         /* no access list: any authenticated user, anything */
    json_t *groups;    /* {"group": ["member", ...]} */
};

unsigned action_parse(const char *s)
{
    if (!s)
        return 0;
    if (strcmp(s, "pull") == 0)
        return ACT_PULL;
    if (strcmp(s, "push") == 0)
        return ACT_PUSH;
    if (strcmp(s, "delete") == 0)
        return ACT_DELETE;
    if (strcmp(s, "catalog") == 0)
        return ACT_CATALOG;
    if (strcmp(s, "*") == 0)
        return ACT_PULL | ACT_PUSH | ACT_DELETE | ACT_CATALOG;
    return 0;
}

void rules_free(struct rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->list[i].account);
        free(r->list[i].group);
        free(r->list[i].repository);
    }
    free(r->list);
    json_decref(r->groups);
    free(r);
}

static char *dup_or_null(json_t *v)
{
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

int rules_load(json_t *access, json_t *groups, struct rules **out, struct berr *err)
{
    struct rules *r = calloc(1, sizeof *r);
    if (!r)
        return berr_set(err, BERR_IO, "out of memory");
    if (groups && !json_is_object(groups)) {
        rules_free(r);
        return berr_set(err, BERR_INVALID, "auth.groups: must be an object of arrays");
    }
    r->groups = groups ? json_incref(groups) : json_object();
    r->open = access == NULL;
    if (access && !json_is_array(access)) {
        rules_free(r);
        return berr_set(err, BERR_INVALID, "auth.access: must be an array");
    }
    size_t i;
    json_t *item;
    r->list = calloc(json_array_size(access) + 1, sizeof *r->list);
    json_array_foreach(access, i, item) {
        struct rule *ru = &r->list[r->n++];
        json_t *acts = json_object_get(item, "actions");
        ru->account = dup_or_null(json_object_get(item, "account"));
        ru->group = dup_or_null(json_object_get(item, "group"));
        ru->repository = dup_or_null(json_object_get(item, "repository"));
        if (!json_is_object(item) || (!ru->account == !ru->group) || !ru->repository ||
            !json_is_array(acts)) {
            rules_free(r);
            return berr_set(err, BERR_INVALID,
                            "auth.access[%zu]: needs account or group, repository and actions",
                            i);
        }
        size_t j;
        json_t *a;
        json_array_foreach(acts, j, a) {
            unsigned bit = action_parse(json_string_value(a));
            if (!bit) {
                rules_free(r);
                return berr_set(err, BERR_INVALID,
                                "auth.access[%zu]: unknown action (pull, push, delete, catalog, *)",
                                i);
            }
            ru->actions |= bit;
        }
    }
    *out = r;
    return 0;
}

static bool in_group(const struct rules *r, const char *group, const char *account)
{
    json_t *members = json_object_get(r->groups, group);
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        const char *name = json_string_value(m);
        if (name && (strcmp(name, account) == 0 || strcmp(name, "*") == 0))
            return true;
    }
    return false;
}

static bool account_matches(const struct rules *r, const struct rule *ru,
                            const char *account)
{
    bool authenticated = account[0] != '\0';
    if (ru->group)
        return authenticated && in_group(r, ru->group, account);
    if (strcmp(ru->account, "anonymous") == 0)
        return true;
    if (strcmp(ru->account, "*") == 0)
        return authenticated;
    return authenticated && strcmp(ru->account, account) == 0;
}

unsigned rules_allowed(const struct rules *r, const char *account, const char *name)
{
    if (r->open)
        return account[0] ? ACT_PULL | ACT_PUSH | ACT_DELETE | ACT_CATALOG : 0;
    unsigned allowed = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct rule *ru = &r->list[i];
        if (account_matches(r, ru, account) && fnmatch(ru->repository, name, 0) == 0)
            allowed |= ru->actions;
    }
    return allowed;
}
