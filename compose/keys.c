/*
 * keys.c - the service keys with a structure of their own: build,
 * depends_on, healthcheck, networks and deploy's resource limits, each
 * from its short and long forms into the canonical shape, refusing keys
 * it does not know (and naming those of the specification berth does not
 * implement).
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int sh_build(struct cctx *c, json_t *v, json_t **out)
{
    static const char *const known[] = {"context", "dockerfile", "args", "target", NULL};
    static const char *const spec[] = {"additional_contexts", "cache_from", "cache_to", "dockerfile_inline",
        "entitlements", "extra_hosts", "isolation", "labels", "network", "no_cache", "platforms",
        "privileged", "pull", "secrets", "shm_size", "ssh", "tags", "ulimits", NULL};
    json_t *res = json_object(), *val;
    const char *s;
    char *abs;
    int rc = 0;
    size_t keep;
    if (json_is_string(v)) {
        if ((rc = sh_abspath(c, json_string_value(v), &abs)) < 0)
            goto out;
        json_object_set_new(res, "context", json_string(abs));
        free(abs);
        *out = res;
        return 0;
    }
    if (!json_is_object(v)) {
        rc = cc_fail(c, "must be a string (the context) or a mapping");
        goto out;
    }
    if ((rc = sh_check_keys(c, v, known, spec)) < 0)
        goto out;
    if ((val = json_object_get(v, "context"))) {
        keep = cc_key(c, "context");
        if ((rc = sh_string(c, val, &s)) == 0 && (rc = sh_abspath(c, s, &abs)) == 0) {
            json_object_set_new(res, "context", json_string(abs));
            free(abs);
        }
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
    }
    if ((val = json_object_get(v, "dockerfile"))) {
        keep = cc_key(c, "dockerfile");
        if ((rc = sh_string(c, val, &s)) == 0)
            json_object_set(res, "dockerfile", val);
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
    }
    if ((val = json_object_get(v, "args"))) {
        json_t *args;
        keep = cc_key(c, "args");
        if ((rc = sh_kv(c, val, true, false, &args)) == 0)
            json_object_set_new(res, "args", args);
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
    }
    if ((val = json_object_get(v, "target"))) {
        keep = cc_key(c, "target");
        if ((rc = sh_string(c, val, &s)) == 0)
            json_object_set(res, "target", val);
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
    }
    *out = res;
    return 0;
out:
    json_decref(res);
    return rc;
}

int sh_depends_on(struct cctx *c, json_t *v, json_t **out)
{
    static const char *const known[] = {"condition", "required", "restart", NULL};
    json_t *res = json_object(), *item;
    size_t i;
    const char *name;
    int rc = 0;
    if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            size_t keep = cc_idx(c, i);
            if ((rc = sh_string(c, item, &name)) == 0 && json_object_get(res, name))
                rc = cc_fail(c, "\"%.60s\" is listed twice", name);
            if (rc == 0)
                json_object_set_new(res, name, json_object());
            cc_pop(c, keep);
            if (rc < 0)
                break;
        }
    } else if (json_is_object(v)) {
        json_object_foreach(v, name, item) {
            size_t keep = cc_key(c, name), k2;
            json_t *d = json_object(), *val;
            if (!json_is_object(item) && !json_is_null(item))
                rc = cc_fail(c, "must be a mapping (condition, required, restart)");
            else if (json_is_object(item) && (rc = sh_check_keys(c, item, known, NULL)) == 0) {
                if ((val = json_object_get(item, "condition"))) {
                    const char *s;
                    k2 = cc_key(c, "condition");
                    if ((rc = sh_string(c, val, &s)) == 0 && strcmp(s, "service_started") &&
                        strcmp(s, "service_healthy") && strcmp(s, "service_completed_successfully"))
                        rc = cc_fail(c, "invalid condition \"%.40s\" (service_started, service_healthy,"
                                        " service_completed_successfully)", s);
                    cc_pop(c, k2);
                    if (rc == 0)
                        json_object_set(d, "condition", val);
                }
                for (int b = 0; b < 2 && rc == 0; b++) {
                    const char *k = b ? "restart" : "required";
                    bool flag;
                    if (!(val = json_object_get(item, k)))
                        continue;
                    k2 = cc_key(c, k);
                    if ((rc = sh_bool(c, val, &flag)) == 0)
                        json_object_set_new(d, k, json_boolean(flag));
                    cc_pop(c, k2);
                }
            }
            cc_pop(c, keep);
            json_object_set_new(res, name, d);
            if (rc < 0)
                break;
        }
    } else
        rc = cc_fail(c, "must be a list of services or a mapping");
    return cc_give(rc, res, out);
}

int sh_healthcheck(struct cctx *c, json_t *v, json_t **out)
{
    static const char *const known[] = {"test", "interval", "timeout", "start_period", "retries",
                                        "disable", NULL};
    static const char *const spec[] = {"start_interval", NULL};
    static const char *const durations[] = {"interval", "timeout", "start_period"};
    json_t *res = json_object(), *val, *d;
    int rc = 0;
    size_t keep;
    if (!json_is_object(v)) {
        json_decref(res);
        return cc_fail(c, "must be a mapping");
    }
    if ((rc = sh_check_keys(c, v, known, spec)) < 0)
        goto out;
    if ((val = json_object_get(v, "test"))) {
        keep = cc_key(c, "test");
        json_t *t = NULL;
        if (json_is_string(val)) {
            if (!json_string_length(val))
                rc = cc_fail(c, "empty command");
            else
                t = json_pack("[s,O]", "CMD-SHELL", val);
        } else if ((rc = sh_strings(c, val, &t)) == 0) {
            const char *first = json_string_value(json_array_get(t, 0));
            if (!first || (strcmp(first, "CMD") && strcmp(first, "CMD-SHELL") && strcmp(first, "NONE")))
                rc = cc_fail(c, "must start with \"CMD\", \"CMD-SHELL\" or \"NONE\"");
            else if (strcmp(first, "NONE") && json_array_size(t) < 2)
                rc = cc_fail(c, "%s without a command", first);
        }
        cc_pop(c, keep);
        if (rc < 0) {
            json_decref(t);
            goto out;
        }
        json_object_set_new(res, "test", t);
    }
    for (size_t i = 0; i < sizeof durations / sizeof *durations; i++) {
        if (!(val = json_object_get(v, durations[i])))
            continue;
        keep = cc_key(c, durations[i]);
        rc = sh_duration(c, val, &d);
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
        json_object_set_new(res, durations[i], d);
    }
    if ((val = json_object_get(v, "retries"))) {
        long long n;
        keep = cc_key(c, "retries");
        rc = sh_int(c, val, 0, 1000000, &n);
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
        json_object_set_new(res, "retries", json_integer(n));
    }
    if ((val = json_object_get(v, "disable"))) {
        bool b;
        keep = cc_key(c, "disable");
        rc = sh_bool(c, val, &b);
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
        json_object_set_new(res, "disable", json_boolean(b));
    }
    *out = res;
    return 0;
out:
    json_decref(res);
    return rc;
}

int sh_networks(struct cctx *c, json_t *v, json_t **out)
{
    static const char *const known[] = {"aliases", "priority", NULL};
    static const char *const spec[] = {"ipv4_address", "ipv6_address", "link_local_ips", "mac_address",
                                       "driver_opts", "gw_priority", "interface_name", NULL};
    json_t *res = json_object(), *item, *val;
    size_t i;
    const char *name;
    int rc = 0;
    if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            size_t keep = cc_idx(c, i);
            if ((rc = sh_string(c, item, &name)) == 0)
                json_object_set_new(res, name, json_null());
            cc_pop(c, keep);
            if (rc < 0)
                break;
        }
    } else if (json_is_object(v)) {
        json_object_foreach(v, name, item) {
            size_t keep = cc_key(c, name);
            if (json_is_null(item))
                json_object_set_new(res, name, json_null());
            else if (!json_is_object(item))
                rc = cc_fail(c, "must be a mapping or null");
            else if ((rc = sh_check_keys(c, item, known, spec)) == 0) {
                json_t *n = json_object(), *aliases;
                if ((val = json_object_get(item, "aliases"))) {
                    size_t k2 = cc_key(c, "aliases");
                    if ((rc = sh_strings(c, val, &aliases)) == 0)
                        json_object_set_new(n, "aliases", aliases);
                    cc_pop(c, k2);
                }
                long long prio;
                if (rc == 0 && (val = json_object_get(item, "priority"))) {
                    size_t k2 = cc_key(c, "priority");
                    if ((rc = sh_int(c, val, INT32_MIN, INT32_MAX, &prio)) == 0)
                        json_object_set_new(n, "priority", json_integer(prio));
                    cc_pop(c, k2);
                }
                json_object_set_new(res, name, n);
            }
            cc_pop(c, keep);
            if (rc < 0)
                break;
        }
    } else
        rc = cc_fail(c, "must be a list of networks or a mapping");
    return cc_give(rc, res, out);
}

int sh_limits(struct cctx *c, json_t *v, json_t **out)
{
    static const char *const known[] = {"memory", "cpus", NULL};
    static const char *const spec[] = {"pids", "devices", NULL};
    json_t *res = json_object(), *val, *n;
    int rc = 0;
    size_t keep;
    if (!json_is_object(v))
        rc = cc_fail(c, "must be a mapping");
    else if ((rc = sh_check_keys(c, v, known, spec)) == 0 && (val = json_object_get(v, "memory"))) {
        keep = cc_key(c, "memory");
        if ((rc = sh_bytes(c, val, &n)) == 0)
            json_object_set_new(res, "memory", n);
        cc_pop(c, keep);
    }
    if (rc == 0 && (val = json_object_get(v, "cpus"))) {
        keep = cc_key(c, "cpus");
        double d = -1;
        char *end = NULL;
        if (json_is_number(val))
            d = json_number_value(val);
        else if (json_is_string(val)) {
            d = strtod(json_string_value(val), &end);
            if (end == json_string_value(val) || *end)
                d = -1;
        }
        if (!(d > 0 && d <= 4096)) {
            char shown[64];
            cc_show(val, shown, sizeof shown);
            rc = cc_fail(c, "invalid number of CPUs %s", shown);
        } else
            json_object_set_new(res, "cpus", json_real(d));
        cc_pop(c, keep);
    }
    return cc_give(rc, res, out);
}

int sh_deploy(struct cctx *c, json_t *v, json_t **out)
{
    static const char *const known[] = {"resources", NULL};
    static const char *const spec[] = {"mode", "replicas", "labels", "placement", "restart_policy",
                                       "rollback_config", "update_config", "endpoint_mode", NULL};
    static const char *const rknown[] = {"limits", NULL};
    static const char *const rspec[] = {"reservations", NULL};
    json_t *res = json_object(), *r, *lim;
    int rc = 0;
    if (!json_is_object(v))
        rc = cc_fail(c, "must be a mapping");
    else if ((rc = sh_check_keys(c, v, known, spec)) == 0 && (r = json_object_get(v, "resources"))) {
        size_t keep = cc_key(c, "resources");
        if (!json_is_object(r))
            rc = cc_fail(c, "must be a mapping");
        else if ((rc = sh_check_keys(c, r, rknown, rspec)) == 0 &&
                 json_object_get(r, "limits")) {
            size_t k2 = cc_key(c, "limits");
            if ((rc = sh_limits(c, json_object_get(r, "limits"), &lim)) == 0)
                json_object_set_new(res, "resources", json_pack("{s:o}", "limits", lim));
            cc_pop(c, k2);
        }
        cc_pop(c, keep);
    }
    return cc_give(rc, res, out);
}
