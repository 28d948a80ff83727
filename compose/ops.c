/*
 * ops.c - the commands over existing containers and images: start, stop,
 * restart, exec's container, run (a one-off container), build, pull and
 * push.
 */
#include "project.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static bool wanted(char **services, size_t n, const char *svc)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(services[i], svc) == 0)
            return true;
    return n == 0;
}

int compose_lifecycle(struct compose_project *p, enum compose_action a, char **services,
                      size_t n, int timeout, struct berr *err)
{
    json_t *order, *all;
    int rc = proj_check_services(p, services, n, err);
    if (rc == 0)
        rc = compose_order(p->model, NULL, 0, false, &order, err);
    if (rc < 0)
        return rc;
    if ((rc = proj_containers(p, false, &all, err)) < 0) {
        json_decref(order);
        return rc;
    }
    size_t count = json_array_size(order);
    /* stop (and restart's stop): dependents first, a wave at a time */
    json_t *waves = a != COMPOSE_START ? compose_stop_waves(p->model, order) : NULL, *wave;
    size_t w;
    json_array_foreach(waves, w, wave) {
        json_t *mine = json_array(), *name;
        size_t i;
        json_array_foreach(wave, i, name) {
            const char *svc = json_string_value(name);
            json_t *theirs = wanted(services, n, svc) ? proj_service_containers(all, svc) : NULL;
            json_array_extend(mine, theirs);
            json_decref(theirs);
        }
        struct berr e = {0};
        if (proj_stop(p, mine, timeout, &e) < 0 && rc == 0) {
            *err = e;
            rc = -e.code;
        }
        json_decref(mine);
    }
    json_decref(waves);
    for (size_t k = 0; a != COMPOSE_STOP && rc == 0 && k < count; k++) {
        const char *svc = json_string_value(json_array_get(order, k));
        if (!wanted(services, n, svc))
            continue;
        json_t *mine = proj_service_containers(all, svc), *c;
        size_t i;
        if (json_array_size(mine) == 0 && n > 0)
            rc = berr_set(err, BERR_NOTFOUND, "service \"%s\" has no container to %s", svc,
                          a == COMPOSE_START ? "start" : "restart");
        json_array_foreach(rc == 0 ? mine : NULL, i, c) {
            const char *id = json_string_value(json_object_get(c, "Id"));
            if (a == COMPOSE_START && ctr_running(c))
                continue;
            proj_progress(p, "Container", ctr_name(c), "Starting");
            if ((rc = glue_start(p, id, err)) < 0) {
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                berr_set(err, -rc, "service %s failed to start: %s", svc, msg);
                proj_log_tail(p, id, 20);
                break;
            }
            proj_progress(p, "Container", ctr_name(c), "Started");
        }
        json_decref(mine);
    }
    json_decref(all);
    json_decref(order);
    return rc;
}

int compose_container_of(struct compose_project *p, const char *service, int index,
                         char id[65], struct berr *err)
{
    json_t *all, *mine;
    int rc = proj_check_services(p, (char **)&service, 1, err);
    if (rc == 0)
        rc = proj_containers(p, false, &all, err);
    if (rc < 0)
        return rc;
    mine = proj_service_containers(all, service);
    json_decref(all);
    size_t i;
    json_t *c;
    rc = berr_set(err, BERR_NOTFOUND, "service \"%s\" is not running", service);
    json_array_foreach(mine, i, c) {
        const char *num = ctr_label(c, LABEL_NUMBER);
        if (num && atoi(num) == index && ctr_running(c)) {
            snprintf(id, 65, "%s", json_string_value(json_object_get(c, "Id")));
            memset(err, 0, sizeof *err);
            rc = 0;
        }
    }
    json_decref(mine);
    return rc;
}

static void run_adjust(struct svc_opts *so, const void *arg)
{
    const struct compose_run_opts *o = arg;
    struct rt_run_opts *r = &so->o;
    if (o->entrypoint) {
        r->entrypoint = o->entrypoint;
        r->cmd = NULL, r->ncmd = 0;
    }
    if (o->ncmd > 0) {
        r->cmd = o->cmd;
        r->ncmd = o->ncmd;
    }
    if (o->user)
        r->user = o->user;
    if (o->workdir)
        r->workdir = o->workdir;
    /* -e over the service's environment: later entries win */
    char **env = realloc(so->env, (r->nenv + o->nenv + 1) * sizeof *env);
    if (env) {
        for (size_t i = 0; i < o->nenv; i++)
            env[r->nenv++] = o->env[i];
        so->env = r->env = env;
    }
    if (!o->service_ports)
        r->nports = 0;
    r->detach = o->detach;
    r->auto_remove = o->rm;
    r->tty = o->tty;
    r->interactive = o->interactive;
    so->restart = NULL;   /* a one-off container is never restarted */
}

int compose_run(struct compose_project *p, const struct compose_run_opts *o, int *status,
                struct berr *err)
{
    char *svcs[1] = {(char *)o->service}, image[DIGEST_MAX], name[300], hash[65];
    json_t *order;
    int rc = proj_check_services(p, svcs, 1, err);
    if (rc == 0)
        rc = compose_order(p->model, svcs, 1, o->no_deps, &order, err);
    if (rc < 0)
        return rc;
    /* the dependencies as `up -d` would start them; not the service itself */
    json_t *deps = json_array(), *attach = json_array(), *n;
    size_t i;
    json_array_foreach(order, i, n)
        if (strcmp(json_string_value(n), o->service) != 0)
            json_array_append(deps, n);
    struct compose_up_opts up = {.detach = true, .timeout = -1};
    rc = up_services(p, &up, deps, attach, err);
    json_decref(deps);
    json_decref(attach);
    json_decref(order);
    /* the service's own networks and volumes too */
    json_t *self = json_pack("[s]", o->service);
    if (rc == 0)
        rc = proj_resources_up(p, self, err);
    json_decref(self);
    if (rc == 0)
        rc = up_image(p, o->service, UP_BUILD_MISSING, image, err);
    if (rc < 0)
        return rc;
    if (o->name)
        snprintf(name, sizeof name, "%s", o->name);
    else {
        unsigned char r[6];
        if (getrandom(r, sizeof r, 0) != sizeof r)
            return berr_set(err, BERR_IO, "no randomness");
        snprintf(name, sizeof name, "%s-%s-run-%02x%02x%02x%02x%02x%02x", proj_name(p),
                 o->service, r[0], r[1], r[2], r[3], r[4], r[5]);
    }
    proj_config_hash(proj_service(p, o->service), image, hash);
    struct svc_identity id = {.service = o->service, .name = name, .image_id = image,
                              .hash = hash, .number = 1, .oneoff = true};
    struct svc_opts so;
    char cid[RT_ID_LEN + 1];
    rc = up_create(p, o->service, &id, run_adjust, o, &so, cid, status, err);
    svc_opts_free(&so);
    if (rc == 0 && o->detach)
        printf("%s\n", name);
    return rc;
}

int compose_build(struct compose_project *p, char **services, size_t n, bool no_cache,
                  struct berr *err)
{
    json_t *svc;
    const char *name;
    int rc = proj_check_services(p, services, n, err);
    json_object_foreach(json_object_get(p->model, "services"), name, svc)
        if (rc == 0 && json_object_get(svc, "build") && wanted(services, n, name))
            rc = up_build(p, name, no_cache, err);
    return rc;
}

int compose_pull(struct compose_project *p, char **services, size_t n, struct berr *err)
{
    json_t *svc;
    const char *name;
    int rc = proj_check_services(p, services, n, err);
    json_object_foreach(json_object_get(p->model, "services"), name, svc) {
        const char *image = json_string_value(json_object_get(svc, "image"));
        /* a service that is built is not pulled, as docker compose skips it */
        if (rc == 0 && image && !json_object_get(svc, "build") && wanted(services, n, name))
            rc = up_pull(p, image, err);
    }
    return rc;
}

int compose_push(struct compose_project *p, char **services, size_t n, struct berr *err)
{
    json_t *svc;
    const char *name;
    char digest[DIGEST_MAX];
    int rc = proj_check_services(p, services, n, err);
    if (rc == 0)
        rc = proj_client(p, err);
    json_object_foreach(json_object_get(p->model, "services"), name, svc) {
        const char *image = json_string_value(json_object_get(svc, "image"));
        if (rc < 0 || !image || !json_object_get(svc, "build") || !wanted(services, n, name))
            continue;
        proj_progress(p, "Image", image, "Pushing");
        rc = berth_push(p->client, p->store, image, digest, err);
        proj_progress(p, "Image", image, rc < 0 ? "Error" : "Pushed");
    }
    return rc;
}
