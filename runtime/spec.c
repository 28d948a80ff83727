/*
 * spec.c - what a container's process is: argv, environment, working
 * directory and user, from the Config recorded in its state (which `run`
 * made from the image's config and the command line) and, for `exec`,
 * that command's own overrides; and the check that an image's config has
 * the shape the OCI image spec gives it, before `run` reads any of it.
 * Pure data; nothing here touches the system.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const default_path =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

size_t env_key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Set or replace KEY=VALUE in a NULL-terminated array with room for it. */
static void env_put(char **env, size_t *n, char *kv)
{
    size_t k = env_key_len(kv);
    for (size_t i = 0; i < *n; i++)
        if (env_key_len(env[i]) == k && strncmp(env[i], kv, k) == 0) {
            env[i] = kv;
            return;
        }
    env[(*n)++] = kv;
    env[*n] = NULL;
}

/* ---- the image's config: every field berth may read, by its type ---------------- */

/* null stands for absent everywhere, as it does for docker's decoder */
static bool is_strings(json_t *v)
{
    size_t i;
    json_t *e;
    if (json_is_null(v))
        return true;
    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i, e)
        if (!json_is_string(e))
            return false;
    return true;
}

static bool is_string(json_t *v) { return json_is_null(v) || json_is_string(v); }
static bool is_bool(json_t *v) { return json_is_null(v) || json_is_boolean(v); }
static bool is_integer(json_t *v) { return json_is_null(v) || json_is_integer(v); }

/* {"80/tcp": {}, ...}, as ExposedPorts and Volumes are */
static bool is_set(json_t *v)
{
    const char *k;
    json_t *e;
    if (json_is_null(v))
        return true;
    if (!json_is_object(v))
        return false;
    json_object_foreach(v, k, e)
        if (!json_is_object(e) && !json_is_null(e))
            return false;
    return true;
}

static bool is_string_map(json_t *v)
{
    const char *k;
    json_t *e;
    if (json_is_null(v))
        return true;
    if (!json_is_object(v))
        return false;
    json_object_foreach(v, k, e)
        if (!json_is_string(e))
            return false;
    return true;
}

struct field {
    const char *name;
    bool (*ok)(json_t *);
    const char *what;
};

static const struct field config_fields[] = {
    {"User", is_string, "a string"},
    {"ExposedPorts", is_set, "an object of objects"},
    {"Env", is_strings, "an array of strings"},
    {"Entrypoint", is_strings, "an array of strings"},
    {"Cmd", is_strings, "an array of strings"},
    {"Volumes", is_set, "an object of objects"},
    {"WorkingDir", is_string, "a string"},
    {"Labels", is_string_map, "an object of strings"},
    {"StopSignal", is_string, "a string"},
    {"ArgsEscaped", is_bool, "a boolean"},
    {"OnBuild", is_strings, "an array of strings"},
    {"Shell", is_strings, "an array of strings"},
    {"StopTimeout", is_integer, "an integer"},
};

static const struct field healthcheck_fields[] = {
    {"Test", is_strings, "an array of strings"},
    {"Interval", is_integer, "an integer"},
    {"Timeout", is_integer, "an integer"},
    {"StartPeriod", is_integer, "an integer"},
    {"StartInterval", is_integer, "an integer"},
    {"Retries", is_integer, "an integer"},
};

static const struct field top_fields[] = {
    {"created", is_string, "a string"},
    {"author", is_string, "a string"},
    {"architecture", is_string, "a string"},
    {"os", is_string, "a string"},
    {"variant", is_string, "a string"},
};

static int bad_config(struct berr *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bad_config(struct berr *err, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return berr_set(err, BERR_INVALID, "invalid image config: %s", what);
}

/* The first field of `f` that `obj` has with the wrong type, or NULL. */
static const struct field *wrong_field(json_t *obj, const struct field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, f[i].name);
        if (v && !f[i].ok(v))
            return &f[i];
    }
    return NULL;
}

static int check_fields(json_t *obj, const char *where, const struct field *f, size_t n,
                        struct berr *err)
{
    const struct field *bad = wrong_field(obj, f, n);
    return bad ? bad_config(err, "%s%s is not %s", where, bad->name, bad->what) : 0;
}

int rt_image_config_check(json_t *image, struct berr *err)
{
    if (!json_is_object(image))
        return bad_config(err, "not a JSON object");
    int rc = check_fields(image, "", top_fields, sizeof top_fields / sizeof *top_fields, err);
    if (rc < 0)
        return rc;
    json_t *rootfs = json_object_get(image, "rootfs");
    if (!json_is_object(rootfs))
        return bad_config(err, "rootfs is not an object");
    json_t *type = json_object_get(rootfs, "type");
    if (type && !is_string(type))
        return bad_config(err, "rootfs.type is not a string");
    json_t *diffs = json_object_get(rootfs, "diff_ids");
    if (!json_is_array(diffs) || !is_strings(diffs))
        return bad_config(err, "rootfs.diff_ids is not an array of strings");
    json_t *history = json_object_get(image, "history"), *h;
    size_t i;
    if (history && !json_is_null(history) && !json_is_array(history))
        return bad_config(err, "history is not an array");
    json_array_foreach(history, i, h) {
        static const struct field history_fields[] = {
            {"created", is_string, "a string"}, {"created_by", is_string, "a string"},
            {"author", is_string, "a string"}, {"comment", is_string, "a string"},
            {"empty_layer", is_bool, "a boolean"},
        };
        char where[48];
        snprintf(where, sizeof where, "history[%zu].", i);
        if (!json_is_object(h))
            return bad_config(err, "history[%zu] is not an object", i);
        if ((rc = check_fields(h, where, history_fields,
                               sizeof history_fields / sizeof *history_fields, err)) < 0)
            return rc;
    }
    json_t *config = json_object_get(image, "config");
    if (!config || json_is_null(config))
        return 0;
    if (!json_is_object(config))
        return bad_config(err, "config is not an object");
    if ((rc = check_fields(config, "config.", config_fields,
                           sizeof config_fields / sizeof *config_fields, err)) < 0)
        return rc;
    json_t *hc = json_object_get(config, "Healthcheck");
    if (hc && !json_is_null(hc) && !json_is_object(hc))
        return bad_config(err, "config.Healthcheck is not an object");
    return check_fields(hc, "config.Healthcheck.", healthcheck_fields,
                        sizeof healthcheck_fields / sizeof *healthcheck_fields, err);
}

/* ---- the process ------------------------------------------------------------------ */

int rt_process_from(json_t *config, const struct rt_exec_opts *x, struct rt_process *p,
                    struct berr *err)
{
    memset(p, 0, sizeof *p);
    /* the state's Config was made by run from a checked image config;
     * checked again, since a NULL here would be an argv cut short or a
     * crash */
    if (!json_is_object(config))
        return berr_set(err, BERR_INVALID, "the container's Config is not an object");
    static const struct field tty = {"Tty", is_bool, "a boolean"};
    const struct field *bad = wrong_field(config, config_fields,
                                          sizeof config_fields / sizeof *config_fields);
    if (bad || (bad = wrong_field(config, &tty, 1)))
        return berr_set(err, BERR_INVALID, "invalid container config: %s is not %s", bad->name,
                        bad->what);
    json_t *ep = json_object_get(config, "Entrypoint"), *cmd = json_object_get(config, "Cmd");
    json_t *env = json_object_get(config, "Env");
    size_t nargs = x ? 0 : json_array_size(ep) + json_array_size(cmd);
    if (x)
        while (x->argv[nargs])
            nargs++;
    if (nargs == 0)
        return berr_set(err, BERR_INVALID, "no command specified");
    size_t nenv = json_array_size(env) + (x ? x->nenv : 0) + 5;
    p->argv = calloc(nargs + 1, sizeof *p->argv);
    p->env = calloc(nenv + 1, sizeof *p->env);
    if (!p->argv || !p->env) {
        rt_process_free(p);
        return berr_set(err, BERR_IO, "out of memory");
    }
    size_t n = 0, i;
    json_t *v;
    if (x)
        for (; n < nargs; n++)
            p->argv[n] = x->argv[n];
    else {
        json_array_foreach(ep, i, v)
            p->argv[n++] = (char *)json_string_value(v);
        json_array_foreach(cmd, i, v)
            p->argv[n++] = (char *)json_string_value(v);
    }
    /* the process has PATH, HOSTNAME and (on a terminal) TERM, which
     * Config.Env does not: docker's daemon starts from them and puts
     * Config.Env, then exec's -e, over them, each variable replacing its
     * namesake in place or coming after (env_put), so `env` lists them in
     * docker's order */
    n = 0;
    p->tty = x ? x->tty : json_is_true(json_object_get(config, "Tty"));
    env_put(p->env, &n, (char *)default_path);
    const char *hostname = json_string_value(json_object_get(config, "Hostname"));
    if (hostname) {
        snprintf(p->hostname_kv, sizeof p->hostname_kv, "HOSTNAME=%s", hostname);
        env_put(p->env, &n, p->hostname_kv);
    }
    if (p->tty)
        env_put(p->env, &n, "TERM=xterm");
    json_array_foreach(env, i, v)
        if (json_is_string(v))
            env_put(p->env, &n, (char *)json_string_value(v));
    for (size_t k = 0; x && k < x->nenv; k++)
        env_put(p->env, &n, x->env[k]);
    const char *wd = json_string_value(json_object_get(config, "WorkingDir"));
    p->cwd = x && x->workdir ? x->workdir : wd && *wd ? wd : "/";
    const char *user = json_string_value(json_object_get(config, "User"));
    p->user = x && x->user ? x->user : user ? user : "";
    return 0;
}

/* As docker's daemon parses them: "no-new-privileges", KEY=VALUE (or the
 * old KEY:VALUE), with no-new-privileges a Go boolean. */
int rt_security_opts(json_t *opts, struct rt_process *p, struct berr *err)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    if (opts && !json_is_null(opts) && !json_is_array(opts))
        return berr_set(err, BERR_INVALID, "the container's HostConfig.SecurityOpt is not a list");
    size_t i;
    json_t *v;
    json_array_foreach(opts, i, v) {
        const char *opt = json_string_value(v);
        if (!opt)
            return berr_set(err, BERR_INVALID, "the container's HostConfig.SecurityOpt is not a list of strings");
        if (strcmp(opt, "no-new-privileges") == 0) {
            if (p)
                p->no_new_privs = true;
            continue;
        }
        if (strcmp(opt, "disable") == 0)
            continue;
        size_t k = strcspn(opt, strchr(opt, '=') ? "=" : ":");
        const char *val = opt + k + 1;
        if (!opt[k])
            return berr_set(err, BERR_INVALID, "invalid --security-opt 1: \"%s\"", opt);
        if (strncmp(opt, "no-new-privileges", k) == 0 && k == 17) {
            bool on = false, known = false;
            for (size_t j = 0; j < sizeof yes / sizeof *yes; j++) {
                known |= strcmp(val, yes[j]) == 0 || strcmp(val, no[j]) == 0;
                on |= strcmp(val, yes[j]) == 0;
            }
            if (!known)
                return berr_set(err, BERR_INVALID, "invalid --security-opt 2: \"%s\"", opt);
            if (p)
                p->no_new_privs = on;
        } else if (k == 7 && strncmp(opt, "seccomp", k) == 0) {
            if (strcmp(val, "unconfined") != 0)
                return berr_set(err, BERR_INVALID,
                                "--security-opt %s: only seccomp=unconfined is supported, not a "
                                "profile file", opt);
            if (p)
                p->unconfined = true;
        } else if (!(k == 8 && strncmp(opt, "apparmor", k) == 0) &&
                   !(k == 5 && strncmp(opt, "label", k) == 0)) {
            return berr_set(err, BERR_INVALID, "invalid --security-opt 2: \"%s\"", opt);
        }
    }
    return 0;
}

void rt_process_free(struct rt_process *p)
{
    free(p->argv);
    free(p->env);
    p->argv = p->env = NULL;
}
