/*
 * policy.c - what the collector may remove, from the "gc" configuration:
 *
 *   "gc": {
 *     "interval": "1h", "grace": "1h", "upload_ttl": "24h",
 *     "delete_untagged": false,
 *     "retention": [
 *       {"repository": "ci/...", "keep_last": 10, "max_age": "30d",
 *        "protect": ["v*", "latest"]}
 *     ]
 *   }
 *
 * (where "ci/..." is a repository glob). Durations are "90s", "15m", "2h",
 * "7d" or plain seconds.
 */
#include "gc.h"

#include <stdio.h>
#include <string.h>

int duration_parse(const char *s, int64_t *seconds)
{
    if (!s || !*s)
        return -BERR_INVALID;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return -BERR_INVALID;
    long long unit = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        unit = 60, end++;
    else if (*end == 'h')
        unit = 3600, end++;
    else if (*end == 'd')
        unit = 86400, end++;
    if (*end || v > INT64_MAX / unit)
        return -BERR_INVALID;
    *seconds = v * unit;
    return 0;
}

static int json_duration(json_t *obj, const char *key, int64_t *out, struct berr *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && duration_parse(json_string_value(v), out) == 0)
        return 0;
    return berr_set(err, BERR_INVALID, "gc.%s: not a duration (like 90s, 15m, 2h, 7d)", key);
}

void gc_policy_free(struct gc_policy *p)
{
    for (size_t i = 0; i < p->nretention; i++) {
        struct gc_retention *r = &p->retention[i];
        free(r->repository);
        for (size_t j = 0; j < r->nprotect; j++)
            free(r->protect[j]);
        free(r->protect);
    }
    free(p->retention);
    memset(p, 0, sizeof *p);
}

static int retention_load(json_t *item, size_t i, struct gc_retention *r, struct berr *err)
{
    static const char *const keys[] = {"repository", "keep_last", "max_age", "protect", NULL};
    json_t *v;
    if (!json_is_object(item))
        return berr_set(err, BERR_INVALID, "gc.retention[%zu]: must be an object", i);
    char where[40];
    snprintf(where, sizeof where, "gc.retention[%zu]", i);
    if (json_check_keys(item, where, keys, err) < 0)
        return -BERR_INVALID;
    json_t *repo = json_object_get(item, "repository");
    json_t *keep = json_object_get(item, "keep_last");
    json_t *protect = json_object_get(item, "protect");
    if (!json_is_string(repo))
        return berr_set(err, BERR_INVALID, "gc.retention[%zu].repository: a glob is required", i);
    r->repository = strdup(json_string_value(repo));
    if (keep && (!json_is_integer(keep) || json_integer_value(keep) < 1))
        return berr_set(err, BERR_INVALID, "gc.retention[%zu].keep_last: must be >= 1", i);
    r->keep_last = keep ? (int)json_integer_value(keep) : 0;
    struct berr sub = {0};
    if (json_duration(item, "max_age", &r->max_age, &sub) < 0)
        return berr_set(err, BERR_INVALID, "gc.retention[%zu].max_age: not a duration", i);
    if (protect && !json_is_array(protect))
        return berr_set(err, BERR_INVALID, "gc.retention[%zu].protect: must be a list of tag globs", i);
    r->protect = calloc(json_array_size(protect) + 1, sizeof *r->protect);
    size_t j;
    json_array_foreach(protect, j, v) {
        if (!json_is_string(v))
            return berr_set(err, BERR_INVALID, "gc.retention[%zu].protect: must be strings", i);
        r->protect[r->nprotect++] = strdup(json_string_value(v));
    }
    if (!r->keep_last && !r->max_age)
        return berr_set(err, BERR_INVALID, "gc.retention[%zu]: needs keep_last or max_age", i);
    return 0;
}

int gc_policy_load(json_t *cfg, struct gc_policy *out, struct berr *err)
{
    static const char *const keys[] = {"interval", "grace", "upload_ttl",
                                       "delete_untagged", "retention", NULL};
    memset(out, 0, sizeof *out);
    out->interval = 3600;
    out->grace = 3600;
    out->upload_ttl = 86400;
    if (!cfg)
        return 0;
    if (!json_is_object(cfg))
        return berr_set(err, BERR_INVALID, "gc: must be an object");
    json_t *v;
    int rc;
    if ((rc = json_check_keys(cfg, "gc", keys, err)) < 0)
        return rc;
    if ((rc = json_duration(cfg, "interval", &out->interval, err)) < 0 ||
        (rc = json_duration(cfg, "grace", &out->grace, err)) < 0 ||
        (rc = json_duration(cfg, "upload_ttl", &out->upload_ttl, err)) < 0)
        return rc;
    v = json_object_get(cfg, "delete_untagged");
    if (v && !json_is_boolean(v))
        return berr_set(err, BERR_INVALID, "gc.delete_untagged: must be true or false");
    out->delete_untagged = json_is_true(v);
    json_t *ret = json_object_get(cfg, "retention");
    if (ret && !json_is_array(ret))
        return berr_set(err, BERR_INVALID, "gc.retention: must be a list");
    out->retention = calloc(json_array_size(ret) + 1, sizeof *out->retention);
    size_t i;
    json_array_foreach(ret, i, v) {
        out->nretention++;
        if ((rc = retention_load(v, i, &out->retention[i], err)) < 0) {
            gc_policy_free(out);
            return rc;
        }
    }
    return 0;
}
