/*
 * resources.c - the project's networks and named volumes. Each declared
 * one (the model names it <project>_<key> unless `name:` says otherwise)
 * is made when a service that uses it comes up, labelled with the project
 * and its key, and removed by `down` (volumes only with -v). External
 * ones are never made or removed: they must exist. One that already exists
 * without this project's label (another project's, or made by hand) is
 * used with a warning, as docker compose does, and never removed by this
 * project's `down`: a compose file that names another project's network
 * or volume cannot take it away.
 */
#include "project.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

const char *proj_network_name(struct compose_project *p, const char *key)
{
    json_t *n = json_object_get(json_object_get(p->model, "networks"), key);
    return json_string_value(json_object_get(n, "name"));
}

const char *proj_volume_name(struct compose_project *p, const char *key)
{
    json_t *v = json_object_get(json_object_get(p->model, "volumes"), key);
    return json_string_value(json_object_get(v, "name"));
}

static json_t *labels_of(struct compose_project *p, json_t *decl, const char *kind,
                         const char *key)
{
    json_t *l = json_deep_copy(json_object_get(decl, "labels"));
    if (!json_is_object(l)) {
        json_decref(l);
        l = json_object();
    }
    json_object_set_new(l, LABEL_PROJECT, json_string(proj_name(p)));
    json_object_set_new(l, kind, json_string(key));
    return l;
}

static bool network_ours(struct compose_project *p, const char *name)
{
    char *proj = glue_network_project(p, name);
    bool ours = proj && strcmp(proj, proj_name(p)) == 0;
    free(proj);
    return ours;
}

static bool volume_ours(struct compose_project *p, const char *name)
{
    json_t *info = rt_volume_inspect(p->store, name);
    const char *proj = json_string_value(json_object_get(json_object_get(info, "Labels"),
                                                         LABEL_PROJECT));
    bool ours = proj && strcmp(proj, proj_name(p)) == 0;
    json_decref(info);
    return ours;
}

static void not_ours(struct compose_project *p, const char *kind, const char *name)
{
    fprintf(p->out ?: stderr, "WARNING: a %s with name %s exists but was not created for "
            "project \"%s\"; set `external: true` to use an existing %s\n", kind, name,
            proj_name(p), kind);
}

/* `check`: only that an external one exists; else make a missing one. */
static int network_up(struct compose_project *p, const char *key, bool check, struct berr *err)
{
    json_t *decl = json_object_get(json_object_get(p->model, "networks"), key);
    const char *name = json_string_value(json_object_get(decl, "name"));
    if (!decl || !name)
        return berr_set(err, BERR_INVALID, "network %s is not declared", key);
    bool external = json_is_true(json_object_get(decl, "external"));
    if (check || external) {
        if (external && !glue_network_exists(p, name))
            return berr_set(err, BERR_NOTFOUND, "network %s declared as external, but "
                            "could not be found", name);
        return 0;
    }
    if (glue_network_exists(p, name) && !network_ours(p, name))
        not_ours(p, "network", name);
    json_t *labels = labels_of(p, decl, LABEL_NETWORK, key);
    bool created = false;
    int rc = glue_network_ensure(p, name, labels, &created, err);
    json_decref(labels);
    if (rc == 0 && created)
        proj_progress(p, "Network", name, "Created");
    return rc;
}

static int volume_up(struct compose_project *p, const char *key, bool check, struct berr *err)
{
    json_t *decl = json_object_get(json_object_get(p->model, "volumes"), key);
    const char *name = json_string_value(json_object_get(decl, "name"));
    char path[4096];
    if (!decl || !name)
        return berr_set(err, BERR_INVALID, "volume %s is not declared in the top-level "
                        "volumes", key);
    bool external = json_is_true(json_object_get(decl, "external"));
    if (check || external) {
        if (external && rt_volume_get(p->store, name, path, err) < 0)
            return berr_set(err, BERR_NOTFOUND, "external volume \"%s\" not found", name);
        return 0;
    }
    if (rt_volume_get(p->store, name, path, &(struct berr){0}) == 0 && !volume_ours(p, name))
        not_ours(p, "volume", name);
    json_t *labels = labels_of(p, decl, LABEL_VOLUME, key);
    bool created = false;
    int rc = rt_volume_create(p->store, name, labels, path, &created, err);
    json_decref(labels);
    if (rc == 0 && created)
        proj_progress(p, "Volume", name, "Created");
    return rc;
}

/* Every network and named volume the services use, once each. */
static int each_resource(struct compose_project *p, json_t *services, bool check,
                         struct berr *err)
{
    size_t i, j;
    json_t *name, *v;
    const char *key;
    json_t *done = json_object();
    int rc = 0;
    json_array_foreach(services, i, name) {
        json_t *svc = proj_service(p, json_string_value(name));
        json_object_foreach(json_object_get(svc, "networks"), key, v) {
            char mark[600];
            snprintf(mark, sizeof mark, "n/%s", key);
            if (rc == 0 && !json_object_get(done, mark)) {
                json_object_set_new(done, mark, json_true());
                rc = network_up(p, key, check, err);
            }
        }
        json_array_foreach(json_object_get(svc, "volumes"), j, v) {
            const char *src = json_string_value(json_object_get(v, "source"));
            const char *type = json_string_value(json_object_get(v, "type"));
            char mark[600];
            if (!src || !type || strcmp(type, "volume") != 0)
                continue;
            snprintf(mark, sizeof mark, "v/%s", src);
            if (rc == 0 && !json_object_get(done, mark)) {
                json_object_set_new(done, mark, json_true());
                rc = volume_up(p, src, check, err);
            }
        }
    }
    json_decref(done);
    return rc;
}

int proj_resources_up(struct compose_project *p, json_t *services, struct berr *err)
{
    /* what is missing is found before anything is made */
    int rc = each_resource(p, services, true, err);
    return rc < 0 ? rc : each_resource(p, services, false, err);
}

int proj_resources_down(struct compose_project *p, bool volumes, struct berr *err)
{
    json_t *decl;
    const char *key;
    int rc = 0;
    json_object_foreach(json_object_get(p->model, "networks"), key, decl) {
        const char *name = json_string_value(json_object_get(decl, "name"));
        struct berr e = {0};
        if (!name || json_is_true(json_object_get(decl, "external")) ||
            !glue_network_exists(p, name) || !network_ours(p, name))
            continue;
        proj_progress(p, "Network", name, "Removing");
        if (glue_network_remove(p, name, &e) < 0) {
            /* docker compose's: kept for what still uses it (an orphan
             * left by down without --remove-orphans), not an error */
            if (e.code == BERR_CONFLICT && strstr(e.msg, "active endpoints")) {
                proj_progress(p, "Network", name, "Resource is still in use");
                continue;
            }
            if (rc == 0)
                *err = e;
            rc = rc ?: -e.code;
            proj_progress(p, "Network", name, "Error");
        } else
            proj_progress(p, "Network", name, "Removed");
    }
    if (!volumes)
        return rc;
    /* the declared volumes and the project's anonymous ones */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/volumes", berth_store_root(p->store));
    json_t *names = json_array();
    json_object_foreach(json_object_get(p->model, "volumes"), key, decl)
        if (!json_is_true(json_object_get(decl, "external")) &&
            json_is_string(json_object_get(decl, "name")) &&
            volume_ours(p, json_string_value(json_object_get(decl, "name"))))
            json_array_append(names, json_object_get(decl, "name"));
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        json_t *info = e->d_name[0] == '.' ? NULL : rt_volume_inspect(p->store, e->d_name);
        json_t *labels = json_object_get(info, "Labels");
        const char *proj = json_string_value(json_object_get(labels, LABEL_PROJECT));
        if (proj && strcmp(proj, proj_name(p)) == 0 && !json_object_get(labels, LABEL_VOLUME))
            json_array_append_new(names, json_string(e->d_name));
        json_decref(info);
    }
    if (d)
        closedir(d);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) {
        char path[4096];
        struct berr ve = {0};
        const char *name = json_string_value(n);
        if (rt_volume_get(p->store, name, path, &ve) < 0)
            continue;
        proj_progress(p, "Volume", name, "Removing");
        if (rt_volume_remove(p->store, name, &ve) < 0) {
            if (rc == 0)
                *err = ve;
            rc = rc ?: -ve.code;
            proj_progress(p, "Volume", name, "Error");
        } else
            proj_progress(p, "Volume", name, "Removed");
    }
    json_decref(names);
    return rc;
}
