/*
 * service.c - one service of one file into canonical shape: a table of the
 * keys berth knows, each with its checker; keys of the Compose
 * Specification berth does not implement are refused as such, anything
 * else as unknown, x- extensions dropped. env_file is read here and folded
 * under `environment`.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*shape_fn)(struct cctx *c, json_t *v, json_t **out);

static int sh_str(struct cctx *c, json_t *v, json_t **out)
{
    const char *s;
    int rc = sh_string(c, v, &s);
    if (rc == 0)
        *out = json_incref(v);
    return rc;
}

static int sh_image(struct cctx *c, json_t *v, json_t **out)
{
    const char *s;
    int rc = sh_string(c, v, &s);
    if (rc < 0)
        return rc;
    if (!*s || strpbrk(s, " \t\n"))
        return cc_fail(c, "invalid image reference \"%.60s\"", s);
    *out = json_incref(v);
    return 0;
}

static int sh_boolv(struct cctx *c, json_t *v, json_t **out)
{
    bool b;
    int rc = sh_bool(c, v, &b);
    if (rc == 0)
        *out = json_boolean(b);
    return rc;
}

static int sh_env(struct cctx *c, json_t *v, json_t **out)
{
    return sh_kv(c, v, true, false, out);
}

static int sh_labels(struct cctx *c, json_t *v, json_t **out)
{
    return sh_kv(c, v, false, true, out);
}

static int sh_container_name(struct cctx *c, json_t *v, json_t **out)
{
    const char *s;
    int rc = sh_string(c, v, &s);
    if (rc == 0 && (!sh_name_ok(s) || strlen(s) > 128))
        return cc_fail(c, "invalid container name \"%.60s\" ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", s);
    if (rc == 0)
        *out = json_incref(v);
    return rc;
}

static int sh_restart(struct cctx *c, json_t *v, json_t **out)
{
    const char *s;
    int rc = sh_string(c, v, &s);
    if (rc < 0)
        return rc;
    if (strcmp(s, "no") == 0 || strcmp(s, "always") == 0 || strcmp(s, "unless-stopped") == 0 ||
        strcmp(s, "on-failure") == 0) {
        *out = json_incref(v);
        return 0;
    }
    if (strncmp(s, "on-failure:", 11) == 0 && s[11] && strlen(s + 11) < 10 &&
        strspn(s + 11, "0123456789") == strlen(s + 11)) {
        *out = json_incref(v);
        return 0;
    }
    return cc_fail(c, "invalid restart policy \"%.40s\" (no, always, on-failure[:N], unless-stopped)", s);
}

static int sh_expose(struct cctx *c, json_t *v, json_t **out)
{
    int rc = sh_strings(c, v, out);
    if (rc < 0)
        return rc;
    size_t i;
    json_t *e;
    json_array_foreach(*out, i, e) {
        const char *s = json_string_value(e), *slash = strchr(s, '/');
        size_t keep = cc_idx(c, i);
        long lo, hi;
        if (!port_range(s, slash ? (size_t)(slash - s) : strlen(s), &lo, &hi) ||
            (slash && strcmp(slash, "/tcp") && strcmp(slash, "/udp")))
            rc = cc_fail(c, "invalid port \"%.40s\"", s);
        cc_pop(c, keep);
        if (rc < 0) {
            json_decref(*out);
            return rc;
        }
    }
    return 0;
}


static const struct {
    const char *key;
    shape_fn fn;
} keys[] = {
    {"image", sh_image},
    {"build", sh_build},
    {"command", sh_command},
    {"entrypoint", sh_command},
    {"environment", sh_env},
    {"env_file", NULL},            /* read with environment, below */
    {"ports", sh_ports},
    {"expose", sh_expose},
    {"volumes", sh_volumes},
    {"depends_on", sh_depends_on},
    {"healthcheck", sh_healthcheck},
    {"restart", sh_restart},
    {"working_dir", sh_str},
    {"user", sh_scalar_str},       /* user: 1000 is "1000" */
    {"hostname", sh_str},
    {"container_name", sh_container_name},
    {"labels", sh_labels},
    {"stop_signal", sh_str},
    {"stop_grace_period", sh_duration},
    {"tty", sh_boolv},
    {"stdin_open", sh_boolv},
    {"networks", sh_networks},
    {"deploy", sh_deploy},
    {"mem_limit", NULL},           /* the older spellings of deploy's limits, below */
    {"cpus", NULL},
};

/* Keys of the Compose Specification that berth does not implement. */
static const char *const unsupported[] = {
    "annotations", "attach", "blkio_config", "cap_add", "cap_drop", "cgroup", "cgroup_parent",
    "configs", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period",
    "cpu_rt_runtime", "cpu_shares", "cpuset", "credential_spec", "develop",
    "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname", "driver_opts",
    "external_links", "extends", "extra_hosts", "gpus", "group_add", "init", "ipc", "isolation",
    "label_file", "links", "logging", "mac_address", "mem_reservation",
    "mem_swappiness", "memswap_limit", "models", "network_mode", "oom_kill_disable",
    "oom_score_adj", "pid", "pids_limit", "platform", "post_start", "pre_stop", "privileged",
    "profiles", "provider", "pull_policy", "read_only", "runtime", "scale", "secrets",
    "security_opt", "shm_size", "storage_opt", "sysctls", "tmpfs", "ulimits", "use_api_socket",
    "userns_mode", "uts", "volumes_from", NULL,
};

/* mem_limit and cpus: deploy.resources.limits.memory and .cpus, which win
 * when both are given */
static int old_limits(struct cctx *c, json_t *in, json_t *svc)
{
    json_t *mem = json_object_get(in, "mem_limit"), *cpus = json_object_get(in, "cpus");
    json_t *lim = NULL, *bytes = NULL;
    int rc = 0;
    if ((!mem || json_is_null(mem)) && (!cpus || json_is_null(cpus)))
        return 0;
    if (cpus && !json_is_null(cpus)) {
        json_t *spec = json_pack("{s:O}", "cpus", cpus);
        rc = sh_limits(c, spec, &lim); /* its messages say services.S.cpus */
        json_decref(spec);
        if (rc < 0)
            return rc;
    } else
        lim = json_object();
    if (mem && !json_is_null(mem)) {
        size_t keep = cc_key(c, "mem_limit");
        rc = sh_bytes(c, mem, &bytes);
        cc_pop(c, keep);
        if (rc < 0) {
            json_decref(lim);
            return rc;
        }
        json_object_set_new(lim, "memory", bytes);
    }
    json_t *deploy = json_object_get(svc, "deploy");
    if (!deploy)
        json_object_set_new(svc, "deploy", deploy = json_object());
    json_t *res = json_object_get(deploy, "resources");
    if (!res)
        json_object_set_new(deploy, "resources", res = json_object());
    json_t *have = json_object_get(res, "limits");
    if (have)
        json_object_update(lim, have);
    json_object_set_new(res, "limits", lim);
    return 0;
}

/* env_file: a path, a list of paths, or of {path, required}. */
static int env_files(struct cctx *c, json_t *v, json_t *env)
{
    json_t *list = json_is_array(v) ? json_incref(v) : json_pack("[O]", v), *item;
    size_t i;
    int rc = 0;
    json_array_foreach(list, i, item) {
        size_t keep = json_is_array(v) ? cc_idx(c, i) : c->plen;
        const char *path = NULL;
        bool required = true;
        if (json_is_object(item)) {
            static const char *const known[] = {"path", "required", "format", NULL};
            json_t *r = json_object_get(item, "required");
            if ((rc = sh_check_keys(c, item, known, NULL)) == 0 && r)
                rc = sh_bool(c, r, &required);
            if (rc == 0 && !json_object_get(item, "path"))
                rc = cc_fail(c, "path is required");
            if (rc == 0)
                rc = sh_string(c, json_object_get(item, "path"), &path);
        } else
            rc = sh_string(c, item, &path);
        char *abs = NULL;
        if (rc == 0 && (rc = sh_abspath(c, path, &abs)) == 0) {
            struct berr e = {0};
            json_t *vals = json_object();
            int r = dotenv_read(abs, path, c->vars, vals, &e);
            if (r == -BERR_NOTFOUND && !required)
                r = 0;
            if (r < 0)
                rc = cc_fail(c, "%s", e.msg);
            else
                json_object_update(env, vals);
            json_decref(vals);
        }
        free(abs);
        cc_pop(c, keep);
        if (rc < 0)
            break;
    }
    json_decref(list);
    return rc;
}

int service_shape(struct cctx *c, const char *name, json_t *in, json_t **out)
{
    json_t *svc = json_object(), *v;
    const char *key;
    int rc = 0;
    size_t keep = cc_key(c, name);
    if (!sh_name_ok(name))
        rc = cc_fail(c, "invalid service name (letters, digits, \".\", \"_\", \"-\")");
    else if (json_is_null(in))
        ;
    else if (!json_is_object(in))
        rc = cc_fail(c, "must be a mapping");
    json_object_foreach(rc == 0 && json_is_object(in) ? in : NULL, key, v) {
        size_t k2 = cc_key(c, key);
        size_t i, n = sizeof keys / sizeof *keys;
        for (i = 0; i < n && strcmp(keys[i].key, key); i++)
            ;
        if (strncmp(key, "x-", 2) == 0)
            ;
        else if (i == n) {
            bool spec = false;
            for (size_t j = 0; unsupported[j]; j++)
                spec |= strcmp(unsupported[j], key) == 0;
            rc = cc_fail(c, spec ? "not supported by berth" : "unknown key");
        } else if (keys[i].fn && !json_is_null(v)) {
            json_t *val;
            if ((rc = keys[i].fn(c, v, &val)) == 0)
                json_object_set_new(svc, key, val);
        }
        cc_pop(c, k2);
        if (rc < 0)
            break;
    }
    if (rc == 0 && json_is_object(in))
        rc = old_limits(c, in, svc);
    v = rc == 0 && json_is_object(in) ? json_object_get(in, "env_file") : NULL;
    if (v && !json_is_null(v)) {
        json_t *env = json_object();
        size_t k2 = cc_key(c, "env_file");
        rc = env_files(c, v, env);
        cc_pop(c, k2);
        json_object_update(env, json_object_get(svc, "environment"));
        json_object_set_new(svc, "environment", env);
    }
    cc_pop(c, keep);
    if (rc < 0) {
        json_decref(svc);
        return rc;
    }
    *out = svc;
    return 0;
}
