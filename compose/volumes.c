/*
 * volumes.c - a service's `volumes`: the short syntax "SOURCE:TARGET[:MODE]"
 * or "TARGET" (anonymous) and the long syntax, into {type, source, target,
 * read_only}. A source that starts with "/", "." or "~" is a bind mount
 * (made absolute against the project directory), anything else names a
 * volume; whether that volume is declared is checked after merging.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static bool is_path(const char *s)
{
    return s[0] == '/' || s[0] == '.' || s[0] == '~';
}

static int mode_ok(struct cctx *c, const char *spec, const char *mode, bool *ro)
{
    static const char *const known[] = {"ro", "rw", "z", "Z", "cached", "delegated", "consistent",
                                        "nocopy"};
    char buf[64];
    if (strlen(mode) >= sizeof buf)
        return cc_fail(c, "invalid mode in \"%.60s\"", spec);
    strcpy(buf, mode);
    char *save, *tok;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok |= strcmp(tok, known[i]) == 0;
        if (!ok)
            return cc_fail(c, "invalid mode \"%.20s\" in \"%.60s\" (ro, rw, z, Z)", tok, spec);
        if (strcmp(tok, "ro") == 0)
            *ro = true;
        if (strcmp(tok, "rw") == 0)
            *ro = false;
    }
    return 0;
}

static int mount_make(struct cctx *c, const char *type, const char *source, const char *target,
                      bool ro, json_t **out)
{
    if (target[0] != '/')
        return cc_fail(c, "the target \"%.60s\" must be an absolute path", target);
    json_t *m = json_pack("{s:s}", "type", type);
    if (source && strcmp(type, "bind") == 0) {
        char *abs;
        if (sh_abspath(c, source, &abs) < 0) {
            json_decref(m);
            return -BERR_INVALID;
        }
        json_object_set_new(m, "source", json_string(abs));
        free(abs);
    } else if (source) {
        if (!sh_name_ok(source)) {
            json_decref(m);
            return cc_fail(c, "invalid volume name \"%.60s\"", source);
        }
        json_object_set_new(m, "source", json_string(source));
    }
    json_object_set_new(m, "target", json_string(target));
    if (ro)
        json_object_set_new(m, "read_only", json_true());
    *out = m;
    return 0;
}

static int volume_short(struct cctx *c, const char *spec, json_t **out)
{
    char buf[4096];
    if (!*spec || strlen(spec) >= sizeof buf)
        return cc_fail(c, "invalid volume \"%.60s\"", spec);
    strcpy(buf, spec);
    char *parts[4];
    size_t n = 0;
    char *p = buf;
    parts[n++] = p;
    while ((p = strchr(p, ':'))) {
        if (n == 3)
            return cc_fail(c, "invalid volume \"%.60s\" (SOURCE:TARGET[:MODE])", spec);
        *p++ = '\0';
        parts[n++] = p;
    }
    bool ro = false;
    if (n == 1)
        return mount_make(c, "volume", NULL, parts[0], false, out);
    if (!*parts[0] || !*parts[1])
        return cc_fail(c, "invalid volume \"%.60s\" (SOURCE:TARGET[:MODE])", spec);
    if (n == 3 && mode_ok(c, spec, parts[2], &ro) < 0)
        return -BERR_INVALID;
    return mount_make(c, is_path(parts[0]) ? "bind" : "volume", parts[0], parts[1], ro, out);
}

static int volume_long(struct cctx *c, json_t *v, json_t **out)
{
    static const char *const known[] = {"type", "source", "target", "read_only", "consistency"};
    const char *key, *type, *source = NULL, *target;
    json_t *val;
    bool ro = false;
    int rc = 0;
    json_object_foreach(v, key, val) {
        bool ok = strncmp(key, "x-", 2) == 0;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok) {
            bool spec = !strcmp(key, "bind") || !strcmp(key, "volume") || !strcmp(key, "tmpfs");
            size_t keep = cc_key(c, key);
            rc = cc_fail(c, spec ? "not supported by berth" : "unknown key");
            cc_pop(c, keep);
            return rc;
        }
    }
    size_t keep = cc_key(c, "type");
    if (!json_object_get(v, "type"))
        rc = cc_fail(c, "is required (bind, volume or tmpfs)");
    else if ((rc = sh_string(c, json_object_get(v, "type"), &type)) == 0 &&
             strcmp(type, "bind") && strcmp(type, "volume") && strcmp(type, "tmpfs"))
        rc = cc_fail(c, "invalid type \"%.20s\" (bind, volume or tmpfs)", type);
    cc_pop(c, keep);
    if (rc < 0)
        return rc;
    keep = cc_key(c, "target");
    if (!json_object_get(v, "target"))
        rc = cc_fail(c, "is required");
    else
        rc = sh_string(c, json_object_get(v, "target"), &target);
    cc_pop(c, keep);
    if (rc < 0)
        return rc;
    if ((val = json_object_get(v, "source")) && !json_is_null(val)) {
        keep = cc_key(c, "source");
        if ((rc = sh_string(c, val, &source)) == 0 && strcmp(type, "tmpfs") == 0)
            rc = cc_fail(c, "a tmpfs mount has no source");
        else if (rc == 0 && !*source)
            source = NULL;
        cc_pop(c, keep);
        if (rc < 0)
            return rc;
    }
    if (!source && strcmp(type, "bind") == 0) {
        keep = cc_key(c, "source");
        rc = cc_fail(c, "is required for a bind mount");
        cc_pop(c, keep);
        return rc;
    }
    if ((val = json_object_get(v, "read_only"))) {
        keep = cc_key(c, "read_only");
        rc = sh_bool(c, val, &ro);
        cc_pop(c, keep);
        if (rc < 0)
            return rc;
    }
    return mount_make(c, type, source, target, ro, out);
}

int sh_volumes(struct cctx *c, json_t *v, json_t **out)
{
    size_t i;
    json_t *item, *m;
    if (!json_is_array(v))
        return cc_fail(c, "must be a list");
    if (json_array_size(v) > COMPOSE_LIST_MAX)
        return cc_fail(c, "more than %d mounts", COMPOSE_LIST_MAX);
    json_t *res = json_array();
    int rc = 0;
    json_array_foreach(v, i, item) {
        size_t keep = cc_idx(c, i);
        if (json_is_string(item))
            rc = volume_short(c, json_string_value(item), &m);
        else if (json_is_object(item))
            rc = volume_long(c, item, &m);
        else
            rc = cc_fail(c, "must be a string or a mapping");
        if (rc == 0) {
            size_t j;
            json_t *prev;
            const char *t = json_string_value(json_object_get(m, "target"));
            json_array_foreach(res, j, prev)
                if (strcmp(json_string_value(json_object_get(prev, "target")), t) == 0)
                    rc = cc_fail(c, "duplicate mount target \"%.60s\"", t);
            if (rc == 0)
                json_array_append(res, m);
            json_decref(m);
        }
        cc_pop(c, keep);
        if (rc < 0) {
            json_decref(res);
            return rc;
        }
    }
    *out = res;
    return 0;
}
