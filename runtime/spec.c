/*
 * spec.c - what a container's process is: argv, environment, working
 * directory and user, from the Config recorded in its state (which `run`
 * made from the image's config and the command line) and, for `exec`,
 * that command's own overrides. Pure data; nothing here touches the system.
 */
#include "internal.h"

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

static bool env_has(char **env, const char *key)
{
    size_t k = strlen(key);
    for (; *env; env++)
        if (env_key_len(*env) == k && strncmp(*env, key, k) == 0)
            return true;
    return false;
}

int rt_process_from(json_t *config, const struct rt_exec_opts *x, struct rt_process *p,
                    struct berr *err)
{
    memset(p, 0, sizeof *p);
    json_t *ep = json_object_get(config, "Entrypoint"), *cmd = json_object_get(config, "Cmd");
    json_t *env = json_object_get(config, "Env");
    size_t nargs = x ? 0 : json_array_size(ep) + json_array_size(cmd);
    if (x)
        while (x->argv[nargs])
            nargs++;
    if (nargs == 0)
        return berr_set(err, BERR_INVALID, "no command specified");
    size_t nenv = json_array_size(env) + (x ? x->nenv : 0) + 4;
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
    n = 0;
    json_array_foreach(env, i, v)
        if (json_is_string(v))
            env_put(p->env, &n, (char *)json_string_value(v));
    for (size_t k = 0; x && k < x->nenv; k++)
        env_put(p->env, &n, x->env[k]);
    if (!env_has(p->env, "PATH"))
        env_put(p->env, &n, (char *)default_path);
    p->tty = x ? x->tty : json_is_true(json_object_get(config, "Tty"));
    if (p->tty && !env_has(p->env, "TERM"))
        env_put(p->env, &n, "TERM=xterm");
    const char *wd = json_string_value(json_object_get(config, "WorkingDir"));
    p->cwd = x && x->workdir ? x->workdir : wd && *wd ? wd : "/";
    const char *user = json_string_value(json_object_get(config, "User"));
    p->user = x && x->user ? x->user : user ? user : "";
    return 0;
}

void rt_process_free(struct rt_process *p)
{
    free(p->argv);
    free(p->env);
    p->argv = p->env = NULL;
}
