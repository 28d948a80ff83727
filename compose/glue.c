/*
 * glue.c - where compose meets the runtime's networks, labels, restart
 * policies, health checks, stop settings and `start` of a stopped
 * container: the one place that knows those interfaces.
 */
#include "project.h"

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

int glue_network_remove(struct compose_project *p, const char *name, struct berr *err)
{
    return rt_network_remove(p->store, name, err);
}

int glue_run_opts(struct svc_opts *so, struct berr *err)
{
    (void)err;
    so->o.network = so->network;
    so->o.aliases = so->aliases;
    so->o.naliases = so->naliases;
    return 0;
}

int glue_start(struct compose_project *p, const char *id, struct berr *err)
{
    (void)p, (void)id;
    return berr_set(err, BERR_UNSUPPORTED, "starting a stopped container is not supported");
}

const char *glue_health(json_t *state)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(state, "State"), "Health"), "Status"));
}
