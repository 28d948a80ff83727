/*
 * merge.c - several compose files into one, as the specification's merge
 * rules say, on trees already in canonical shape: mappings merge key by
 * key, a later scalar replaces; `ports` entries are unique by (host_ip,
 * published, target, protocol), `volumes` by target (a later entry
 * replaces); command, entrypoint and healthcheck.test are replaced whole;
 * other lists (expose, aliases) are appended without repeats. A value
 * tagged !override replaces what came before it whole; one tagged !reset
 * removes it (load.c unsets those paths around the merge).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool str_eq(json_t *a, json_t *b, const char *dflt)
{
    const char *x = json_string_value(a), *y = json_string_value(b);
    x = x ? x : dflt;
    y = y ? y : dflt;
    return strcmp(x, y) == 0;
}

static bool same_port(json_t *a, json_t *b)
{
    return json_equal(json_object_get(a, "target"), json_object_get(b, "target")) &&
           str_eq(json_object_get(a, "published"), json_object_get(b, "published"), "") &&
           str_eq(json_object_get(a, "host_ip"), json_object_get(b, "host_ip"), "") &&
           str_eq(json_object_get(a, "protocol"), json_object_get(b, "protocol"), "tcp");
}

static bool same_mount(json_t *a, json_t *b)
{
    return json_equal(json_object_get(a, "target"), json_object_get(b, "target"));
}

static bool same_value(json_t *a, json_t *b)
{
    return json_equal(a, b);
}

static void merge_unique(json_t *base, json_t *over, bool (*same)(json_t *, json_t *))
{
    size_t i, j;
    json_t *o, *b;
    json_array_foreach(over, i, o) {
        bool found = false;
        json_array_foreach(base, j, b)
            if (same(b, o)) {
                if (json_is_object(b) && json_is_object(o))
                    json_object_update(b, o);
                found = true;
                break;
            }
        if (!found)
            json_array_append(base, o);
    }
}

static void merge_node(json_t *base, const char *key, json_t *over);

static void merge_object(json_t *base, json_t *over)
{
    const char *k;
    json_t *v;
    json_object_foreach(over, k, v)
        merge_node(base, k, v);
}

/* base[key] = merge(base[key], over) */
static void merge_node(json_t *base, const char *key, json_t *over)
{
    json_t *cur = json_object_get(base, key);
    if (!cur || json_is_null(cur) || json_is_null(over) || json_typeof(cur) != json_typeof(over) ||
        strcmp(key, "command") == 0 || strcmp(key, "entrypoint") == 0 || strcmp(key, "test") == 0) {
        json_object_set_new(base, key, json_deep_copy(over));
        return;
    }
    if (json_is_object(cur)) {
        merge_object(cur, over);
        return;
    }
    if (!json_is_array(cur)) {
        json_object_set_new(base, key, json_deep_copy(over));
        return;
    }
    json_t *copy = json_deep_copy(over);
    if (strcmp(key, "ports") == 0)
        merge_unique(cur, copy, same_port);
    else if (strcmp(key, "volumes") == 0)
        merge_unique(cur, copy, same_mount);
    else
        merge_unique(cur, copy, same_value);
    json_decref(copy);
}

int model_merge(json_t *base, json_t *over)
{
    merge_object(base, over);
    return 0;
}

void model_unset(json_t *tree, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *parent = NULL, *cur = tree;
    char *p = buf, key[128] = "";
    long idx = -1;
    while (cur && *p) {
        parent = cur;
        if (*p == '[') {
            idx = strtol(p + 1, &p, 10);
            if (*p == ']')
                p++;
            cur = json_array_get(cur, (size_t)idx);
        } else {
            size_t n = strcspn(p, ".[");
            snprintf(key, sizeof key, "%.*s", (int)(n < sizeof key ? n : sizeof key - 1), p);
            idx = -1;
            p += n;
            cur = json_object_get(cur, key);
        }
        if (*p == '.')
            p++;
    }
    if (!cur || !parent)
        return;
    if (idx >= 0)
        json_array_remove(parent, (size_t)idx);
    else
        json_object_del(parent, key);
}
