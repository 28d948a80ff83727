/*
 * glue.c - where compose meets the runtime's networks, labels, restart
 * policies, health checks, stop settings and `start` of a stopped
 * container: the one place that knows those interfaces.
 */
#include "project.h"

#include <stdlib.h>
#include <string.h>

int glue_network_ensure(struct compose_project *p, const char *name, json_t *labels,
                        bool *created, struct berr *err)
{
    *created = false;
    if (rt_network_exists(p->store, name))
        return 0;
    int rc = rt_network_create(p->store, name, NULL, labels, NULL, err);
    /* made by another `up` in the meantime: as good */
    if (rc < 0 && rt_network_exists(p->store, name)) {
        memset(err, 0, sizeof *err);
        return 0;
    }
    *created = rc == 0;
    return rc;
}

int glue_network_exists(struct compose_project *p, const char *name)
{
    return rt_network_exists(p->store, name);
}

/* The project label of an existing network: a copy for the caller to free,
 * NULL when it has none or does not exist. */
char *glue_network_project(struct compose_project *p, const char *name)
{
    json_t *doc = NULL;
    struct berr e = {0};
    if (rt_network_inspect(p->store, name, &doc, &e) < 0)
        return NULL;
    const char *proj = json_string_value(json_object_get(json_object_get(doc, "Labels"),
                                                         LABEL_PROJECT));
    char *out = proj ? strdup(proj) : NULL;
    json_decref(doc);
    return out;
}

int glue_network_remove(struct compose_project *p, const char *name, struct berr *err)
{
    return rt_network_remove(p->store, name, err);
}

static int health(struct svc_opts *so, struct berr *err)
{
    json_t *h = so->healthcheck, *t;
    struct rt_run_opts *o = &so->o;
    size_t i;
    if (!h)
        return 0;
    if (json_is_true(json_object_get(h, "disable"))) {
        o->no_healthcheck = true;
        return 0;
    }
    json_t *test = json_object_get(h, "test");
    if (json_array_size(test) > 0) {
        const char *kind = json_string_value(json_array_get(test, 0));
        if (kind && strcmp(kind, "NONE") == 0) {
            o->no_healthcheck = true;
            return 0;
        }
        so->health = calloc(json_array_size(test) + 1, sizeof *so->health);
        if (!so->health)
            return berr_set(err, BERR_IO, "out of memory");
        json_array_foreach(test, i, t)
            so->health[i] = (char *)json_string_value(t);
        o->health_test = so->health;
        o->nhealth_test = json_array_size(test);
    }
    static const char *const keys[] = {"interval", "timeout", "start_period"};
    int64_t *dst[] = {&o->health_interval, &o->health_timeout, &o->health_start_period};
    for (size_t k = 0; k < 3; k++) {
        const char *d = json_string_value(json_object_get(h, keys[k]));
        if (d && compose_duration(d, dst[k], err) < 0)
            return -err->code;
    }
    json_t *r = json_object_get(h, "retries");
    if (json_is_integer(r))
        o->health_retries = (int)json_integer_value(r);
    return 0;
}

int glue_run_opts(struct svc_opts *so, struct berr *err)
{
    struct rt_run_opts *o = &so->o;
    o->networks = so->networks;
    o->nnetworks = so->nnetworks;
    o->labels = so->labels;
    o->nlabels = so->nlabels;
    o->restart = so->restart;
    o->stop_signal = so->stop_signal;
    if (so->stop_timeout >= 0) {
        o->stop_timeout = so->stop_timeout;
        o->stop_timeout_set = true;
    }
    return health(so, err);
}

int glue_start(struct compose_project *p, const char *id, struct berr *err)
{
    return rt_start(p->store, id, err);
}

const char *glue_health(json_t *state)
{
    const char *st = json_string_value(
        json_object_get(json_object_get(json_object_get(state, "State"), "Health"), "Status"));
    if (st)
        return st;
    /* a check that has not run yet: starting, as docker shows it */
    json_t *test = json_object_get(
        json_object_get(json_object_get(state, "Config"), "Healthcheck"), "Test");
    const char *kind = json_string_value(json_array_get(test, 0));
    return kind && strcmp(kind, "NONE") != 0 && ctr_running(state) ? "starting" : NULL;
}
