/*
 * runopts.c - one service of the model as the runtime's run options: the
 * keys compose.h lists mapped onto struct rt_run_opts, docker compose's
 * labels added, named and anonymous volumes resolved to their directories
 * under the store. Every string the options point at is held by the
 * svc_opts (the model's own or copies in `hold`), so the model may change
 * afterwards.
 */
#include "project.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *keep(struct svc_opts *so, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    json_array_append_new(so->hold, json_string(s));
    free(s);
    return json_string_value(json_array_get(so->hold, json_array_size(so->hold) - 1));
}

static const char *scalar(struct svc_opts *so, json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        return keep(so, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return keep(so, "%g", json_real_value(v));
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return NULL;
}

static int add_label(struct svc_opts *so, const char *k, const char *v)
{
    char **grown = realloc(so->labels, (so->nlabels + 1) * sizeof *grown);
    if (!grown)
        return -BERR_IO;
    so->labels = grown;
    so->labels[so->nlabels++] = (char *)keep(so, "%s=%s", k, v);
    return 0;
}

static int command(struct svc_opts *so, json_t *svc, struct berr *err)
{
    json_t *ep = json_object_get(svc, "entrypoint"), *cmd = json_object_get(svc, "command");
    size_t nep = json_array_size(ep), ncmd = json_array_size(cmd), n = 0, i;
    json_t *a;
    if (ep)
        so->o.entrypoint = nep ? json_string_value(json_array_get(ep, 0)) : "";
    if (!cmd && nep <= 1)
        return 0;
    so->cmd = calloc(nep + ncmd + 1, sizeof *so->cmd);
    if (!so->cmd)
        return berr_set(err, BERR_IO, "out of memory");
    /* the entrypoint's arguments come before the command, as docker's */
    json_array_foreach(ep, i, a)
        if (i > 0)
            so->cmd[n++] = (char *)json_string_value(a);
    json_array_foreach(cmd, i, a)
        so->cmd[n++] = (char *)json_string_value(a);
    so->o.cmd = so->cmd;
    so->o.ncmd = (int)n;
    return 0;
}

static int environment(struct svc_opts *so, json_t *svc, struct berr *err)
{
    json_t *env = json_object_get(svc, "environment"), *v;
    const char *k;
    so->env = calloc(json_object_size(env) + 1, sizeof *so->env);
    if (!so->env)
        return berr_set(err, BERR_IO, "out of memory");
    json_object_foreach(env, k, v) {
        const char *s = scalar(so, v);
        if (s)   /* a bare KEY with no value anywhere is left out, as docker's */
            so->env[so->o.nenv++] = (char *)keep(so, "%s=%s", k, s);
    }
    so->o.env = so->env;
    return 0;
}

static int ports(struct svc_opts *so, json_t *svc, const char *service, struct berr *err)
{
    json_t *list = json_object_get(svc, "ports"), *p;
    size_t i;
    so->ports = calloc(json_array_size(list) + 1, sizeof *so->ports);
    if (!so->ports)
        return berr_set(err, BERR_IO, "out of memory");
    json_array_foreach(list, i, p) {
        const char *pub = json_string_value(json_object_get(p, "published"));
        const char *ip = json_string_value(json_object_get(p, "host_ip"));
        const char *proto = json_string_value(json_object_get(p, "protocol"));
        json_int_t target = json_integer_value(json_object_get(p, "target"));
        char *end = "";
        bool random = !pub || !*pub;   /* "5000", "127.0.0.1::5000": a free host port */
        if (random && proto && strcmp(proto, "tcp") != 0)
            continue;   /* only exposed: udp is not published on the host */
        if (proto && strcmp(proto, "tcp") != 0)
            return berr_set(err, BERR_UNSUPPORTED, "service %s: ports[%zu]: only tcp ports "
                            "can be published", service, i);
        long hp = random ? 0 : strtol(pub, &end, 10);
        if (*end || (!random && (hp < 1 || hp > 65535)) || target < 1 || target > 65535)
            return berr_set(err, BERR_UNSUPPORTED, "service %s: ports[%zu]: cannot publish "
                            "\"%s\" (one host port per container port)", service, i,
                            pub ? pub : "");
        struct rt_port *rp = &so->ports[so->o.nports++];
        snprintf(rp->host_ip, sizeof rp->host_ip, "%s", ip && *ip ? ip : "0.0.0.0");
        rp->host_port = (uint16_t)hp;
        rp->ctr_port = (uint16_t)target;
        rp->random = random;
    }
    so->o.ports = so->ports;
    return 0;
}

static int volumes(struct compose_project *p, struct svc_opts *so, json_t *svc,
                   const struct svc_identity *id, struct berr *err)
{
    json_t *list = json_object_get(svc, "volumes"), *v;
    size_t i;
    so->volumes = calloc(json_array_size(list) + 1, sizeof *so->volumes);
    if (!so->volumes)
        return berr_set(err, BERR_IO, "out of memory");
    json_array_foreach(list, i, v) {
        const char *type = json_string_value(json_object_get(v, "type")) ?: "volume";
        const char *src = json_string_value(json_object_get(v, "source"));
        const char *target = json_string_value(json_object_get(v, "target"));
        char path[4096];
        if (!target || target[0] != '/')
            return berr_set(err, BERR_INVALID, "service %s: volumes[%zu]: the target must "
                            "be an absolute path", id->service, i);
        if (strcmp(type, "bind") == 0) {
            if (!src || src[0] != '/')
                return berr_set(err, BERR_INVALID, "service %s: volumes[%zu]: the source "
                                "must be an absolute path", id->service, i);
            snprintf(path, sizeof path, "%s", src);
        } else if (strcmp(type, "volume") == 0) {
            const char *name;
            json_t *labels = json_pack("{s:s}", LABEL_PROJECT, proj_name(p));
            char anon[200];
            if (src) {
                name = proj_volume_name(p, src);
                if (!name) {
                    json_decref(labels);
                    return berr_set(err, BERR_INVALID, "service %s: volumes[%zu]: volume "
                                    "\"%s\" is not declared in the top-level volumes",
                                    id->service, i, src);
                }
                json_object_set_new(labels, LABEL_VOLUME, json_string(src));
            } else {
                /* anonymous: one per service and target, so that a
                 * recreated container finds its data again */
                char d[DIGEST_MAX];
                digest_buffer(DIGEST_SHA256, target, strlen(target), d);
                snprintf(anon, sizeof anon, "%s_%s_%.16s", proj_name(p), id->service,
                         digest_hex(d));
                name = anon;
            }
            int rc = rt_volume_create(p->store, name, labels, path, NULL, err);
            json_decref(labels);
            if (rc < 0)
                return rc;
        } else
            return berr_set(err, BERR_UNSUPPORTED, "service %s: volumes[%zu]: %s mounts are "
                            "not supported", id->service, i, type);
        struct rt_volume *rv = &so->volumes[so->o.nvolumes++];
        rv->host = (char *)keep(so, "%s", path);
        rv->ctr = (char *)target;
        rv->ro = json_is_true(json_object_get(v, "read_only"));
    }
    so->o.volumes = so->volumes;
    return 0;
}

/* docker compose's order of a service's networks: by priority, highest
 * first, then by name; the first is the primary one (NetworkMode, the
 * default route). */
struct net_key {
    const char *key;
    json_int_t priority;
};

static int by_priority(const void *a, const void *b)
{
    const struct net_key *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Every network of the service, in that order, each with the service's
 * name and its `aliases:` as aliases, as docker compose does. */
static int networks(struct compose_project *p, struct svc_opts *so, json_t *svc,
                    const struct svc_identity *id, struct berr *err)
{
    json_t *nets = json_object_get(svc, "networks"), *cfg, *a;
    const char *key;
    size_t i, n = 0;
    so->networks = calloc(json_object_size(nets) + 1, sizeof *so->networks);
    struct net_key *keys = calloc(json_object_size(nets) + 1, sizeof *keys);
    if (!so->networks || !keys) {
        free(keys);
        return berr_set(err, BERR_IO, "out of memory");
    }
    json_object_foreach(nets, key, cfg)
        keys[n++] = (struct net_key){key, json_integer_value(json_object_get(cfg, "priority"))};
    qsort(keys, n, sizeof *keys, by_priority);
    for (size_t k = 0; k < n; k++) {
        cfg = json_object_get(nets, keys[k].key);
        struct rt_net *w = &so->networks[so->nnetworks++];
        w->name = proj_network_name(p, keys[k].key);
        json_t *aliases = json_object_get(cfg, "aliases");
        w->aliases = calloc(json_array_size(aliases) + 2, sizeof *w->aliases);
        if (!w->aliases) {
            free(keys);
            return berr_set(err, BERR_IO, "out of memory");
        }
        w->aliases[w->naliases++] = (char *)id->service;
        json_array_foreach(aliases, i, a)
            w->aliases[w->naliases++] = (char *)json_string_value(a);
    }
    free(keys);
    return 0;
}

static void depends_label(struct compose_project *p, struct svc_opts *so, json_t *svc)
{
    json_t *deps = json_object_get(svc, "depends_on"), *d;
    const char *k;
    char buf[4096];
    size_t n = 0;
    buf[0] = '\0';
    json_object_foreach(deps, k, d) {
        buf_appendf(buf, sizeof buf, &n, "%s%s:%s:%s", n ? "," : "", k,
                    json_string_value(json_object_get(d, "condition")) ?: "service_started",
                    json_is_true(json_object_get(d, "restart")) ? "true" : "false");
    }
    (void)p;
    add_label(so, LABEL_DEPENDS, buf);
}

/* expose:, and the udp ports given without a host port: ExposedPorts only. */
static int exposed(struct svc_opts *so, json_t *svc)
{
    json_t *expose = json_object_get(svc, "expose"), *ports = json_object_get(svc, "ports"), *v;
    so->expose = calloc(json_array_size(expose) + json_array_size(ports) + 1, sizeof *so->expose);
    if (!so->expose)
        return -BERR_IO;
    size_t i;
    json_array_foreach(expose, i, v)
        so->expose[so->o.nexpose++] = (char *)json_string_value(v);
    json_array_foreach(ports, i, v) {
        const char *pub = json_string_value(json_object_get(v, "published"));
        const char *proto = json_string_value(json_object_get(v, "protocol"));
        if ((!pub || !*pub) && proto && strcmp(proto, "tcp") != 0)
            so->expose[so->o.nexpose++] = (char *)keep(so, "%lld/%s",
                (long long)json_integer_value(json_object_get(v, "target")), proto ? proto : "tcp");
    }
    so->o.expose = so->expose;
    return 0;
}

int svc_opts_build(struct compose_project *p, json_t *svc, const struct svc_identity *id,
                   struct svc_opts *so, struct berr *err)
{
    memset(so, 0, sizeof *so);
    so->hold = json_array();
    so->stop_timeout = -1;
    struct rt_run_opts *o = &so->o;
    char image[1024], num[16];
    proj_image_name(p, id->service, image, sizeof image);
    o->image = keep(so, "%s", image);
    o->name = id->name;
    o->detach = true;
    o->hostname = json_string_value(json_object_get(svc, "hostname"));
    o->workdir = json_string_value(json_object_get(svc, "working_dir"));
    o->user = json_string_value(json_object_get(svc, "user"));
    o->tty = json_is_true(json_object_get(svc, "tty"));
    o->interactive = json_is_true(json_object_get(svc, "stdin_open"));
    json_t *limits = json_object_get(json_object_get(json_object_get(svc, "deploy"),
                                                     "resources"), "limits");
    json_t *mem = json_object_get(limits, "memory"), *cpus = json_object_get(limits, "cpus");
    if (mem)
        o->memory = (int64_t)json_number_value(mem);
    if (cpus)
        o->cpu_quota = (int64_t)(json_number_value(cpus) * 100000.0);
    if (json_is_string(cpus) && rt_cpus_parse(json_string_value(cpus), &o->cpu_quota, err) < 0)
        return -err->code;
    int rc = command(so, svc, err);
    if (rc == 0)
        rc = environment(so, svc, err);
    if (rc == 0)
        rc = ports(so, svc, id->service, err);
    if (rc == 0)
        rc = volumes(p, so, svc, id, err);
    if (rc == 0)
        rc = networks(p, so, svc, id, err);
    if (rc == 0 && exposed(so, svc) < 0)
        rc = berr_set(err, BERR_IO, "out of memory");
    if (rc < 0)
        return rc;
    json_t *v;
    const char *k;
    json_object_foreach(json_object_get(svc, "labels"), k, v)
        if (scalar(so, v))
            add_label(so, k, scalar(so, v));
    snprintf(num, sizeof num, "%d", id->number);
    add_label(so, LABEL_PROJECT, proj_name(p));
    add_label(so, LABEL_SERVICE, id->service);
    add_label(so, LABEL_NUMBER, num);
    add_label(so, LABEL_ONEOFF, id->oneoff ? "True" : "False");
    add_label(so, LABEL_HASH, id->hash ?: "");
    add_label(so, LABEL_WORKDIR, p->workdir ?: "");
    add_label(so, LABEL_FILES, p->config_files ?: "");
    add_label(so, LABEL_IMAGE, id->image_id ?: "");
    add_label(so, LABEL_VERSION, "2.20.0");
    depends_label(p, so, svc);
    so->restart = json_string_value(json_object_get(svc, "restart"));
    so->stop_signal = json_string_value(json_object_get(svc, "stop_signal"));
    if (json_object_get(svc, "stop_grace_period"))
        so->stop_timeout = proj_stop_timeout(svc);
    so->healthcheck = json_object_get(svc, "healthcheck");
    return 0;
}

void svc_opts_free(struct svc_opts *so)
{
    free(so->env);
    free(so->cmd);
    free(so->labels);
    for (size_t i = 0; i < so->nnetworks; i++)
        free(so->networks[i].aliases);
    free(so->networks);
    free(so->health);
    free(so->expose);
    free(so->volumes);
    free(so->ports);
    json_decref(so->hold);
    memset(so, 0, sizeof *so);
}
