/*
 * model.c - the top level of one file into canonical shape: `version`
 * (obsolete, accepted and dropped), `name`, `services` (service.c),
 * `networks` and `volumes` definitions; x- extensions dropped, the
 * specification's keys berth does not implement refused as such.
 */
#include "internal.h"

#include <string.h>

static int resource_def(struct cctx *c, const char *kind, json_t *v, json_t **out)
{
    const char *key, *driver = strcmp(kind, "networks") == 0 ? "bridge" : "local";
    json_t *val, *res = json_object();
    int rc = 0;
    if (json_is_null(v)) {
        *out = res;
        return 0;
    }
    if (!json_is_object(v)) {
        json_decref(res);
        return cc_fail(c, "must be a mapping or null");
    }
    json_object_foreach(v, key, val) {
        size_t keep = cc_key(c, key);
        const char *s;
        bool b;
        if (strncmp(key, "x-", 2) == 0)
            ;
        else if (strcmp(key, "name") == 0) {
            if ((rc = sh_string(c, val, &s)) == 0 && !sh_name_ok(s))
                rc = cc_fail(c, "invalid name \"%.60s\"", s);
            if (rc == 0)
                json_object_set(res, "name", val);
        } else if (strcmp(key, "external") == 0) {
            if ((rc = sh_bool(c, val, &b)) == 0)
                json_object_set_new(res, "external", json_boolean(b));
        } else if (strcmp(key, "labels") == 0) {
            json_t *l;
            if ((rc = sh_kv(c, val, false, true, &l)) == 0)
                json_object_set_new(res, "labels", l);
        } else if (strcmp(key, "driver") == 0) {
            if ((rc = sh_string(c, val, &s)) == 0 && strcmp(s, driver) != 0)
                rc = cc_fail(c, "driver \"%.40s\" is not supported by berth (only \"%s\")", s, driver);
        } else if (strcmp(key, "driver_opts") == 0 || strcmp(key, "ipam") == 0 ||
                   strcmp(key, "internal") == 0 || strcmp(key, "attachable") == 0 ||
                   strcmp(key, "enable_ipv6") == 0 || strcmp(key, "enable_ipv4") == 0)
            rc = cc_fail(c, "not supported by berth");
        else
            rc = cc_fail(c, "unknown key");
        cc_pop(c, keep);
        if (rc < 0)
            break;
    }
    return cc_give(rc, res, out);
}

static int section(struct cctx *c, const char *kind, json_t *v, json_t *res)
{
    const char *name;
    json_t *item, *out = json_object(), *d;
    int rc = 0;
    if (!json_is_object(v) && !json_is_null(v)) {
        json_decref(out);
        return cc_fail(c, "must be a mapping");
    }
    if (strcmp(kind, "services") == 0 && json_object_size(v) > COMPOSE_SERVICES_MAX) {
        json_decref(out);
        return cc_fail(c, "more than %d services", COMPOSE_SERVICES_MAX);
    }
    json_object_foreach(json_is_object(v) ? v : NULL, name, item) {
        if (strncmp(name, "x-", 2) == 0)
            continue;
        if (strcmp(kind, "services") == 0)
            rc = service_shape(c, name, item, &d);
        else {
            size_t keep = cc_key(c, name);
            if (!sh_name_ok(name))
                rc = cc_fail(c, "invalid name (letters, digits, \".\", \"_\", \"-\")");
            else
                rc = resource_def(c, kind, item, &d);
            cc_pop(c, keep);
        }
        if (rc < 0)
            break;
        json_object_set_new(out, name, d);
    }
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    json_object_set_new(res, kind, out);
    return 0;
}

int model_shape(struct cctx *c, json_t *doc, json_t **out)
{
    json_t *res = json_object(), *v;
    const char *key;
    int rc = 0;
    if (!json_is_object(doc)) {
        json_decref(res);
        return cc_fail(c, "the top level must be a mapping");
    }
    json_object_foreach(doc, key, v) {
        size_t keep = cc_key(c, key);
        const char *s;
        if (strncmp(key, "x-", 2) == 0)
            ;
        else if (strcmp(key, "version") == 0) {
            if (!json_is_string(v) && !json_is_number(v) && !json_is_null(v))
                rc = cc_fail(c, "must be a string");
        } else if (strcmp(key, "name") == 0) {
            if ((rc = sh_string(c, v, &s)) == 0 && !project_name_ok(s))
                rc = cc_fail(c, "invalid project name \"%.60s\" (lower case letters, digits, "
                                "\"_\", \"-\"; a letter or digit first)", s);
            if (rc == 0)
                json_object_set(res, "name", v);
        } else if (strcmp(key, "services") == 0 || strcmp(key, "networks") == 0 ||
                   strcmp(key, "volumes") == 0)
            rc = section(c, key, v, res);
        else if (strcmp(key, "secrets") == 0 || strcmp(key, "configs") == 0 ||
                 strcmp(key, "include") == 0 || strcmp(key, "models") == 0)
            rc = cc_fail(c, "not supported by berth");
        else
            rc = cc_fail(c, "unknown key");
        cc_pop(c, keep);
        if (rc < 0)
            break;
    }
    return cc_give(rc, res, out);
}
