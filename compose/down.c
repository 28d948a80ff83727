/*
 * down.c - `compose down`: the project's containers stopped, dependents
 * first, and removed; then its networks, with -v its volumes (declared
 * and anonymous), with --rmi its images. Containers of services no longer
 * in the model (orphans) go only with --remove-orphans, else docker
 * compose's warning names them (proj_orphans, which `up` uses too);
 * one-off containers of `run` go too.
 */
#include "project.h"

#include <string.h>

static bool in_wave(json_t *wave, const char *service)
{
    size_t i;
    json_t *n;
    json_array_foreach(wave, i, n)
        if (strcmp(json_string_value(n), service) == 0)
            return true;
    return false;
}

/* Remove one container, stopped by proj_stop before. */
static int remove_one(struct compose_project *p, json_t *c, struct berr *err)
{
    const char *id = json_string_value(json_object_get(c, "Id"));
    struct berr e = {0};
    proj_progress(p, "Container", ctr_name(c), "Removing");
    if (rt_remove(p->store, id, true, &e) < 0) {
        proj_progress(p, "Container", ctr_name(c), "Error");
        *err = e;
        return -e.code;
    }
    proj_progress(p, "Container", ctr_name(c), "Removed");
    return 0;
}

int proj_orphans(struct compose_project *p, bool oneoff, bool remove, int timeout,
                 struct berr *err)
{
    json_t *all, *c;
    int rc = proj_containers(p, oneoff, &all, err);
    if (rc < 0)
        return rc;
    json_t *services = json_object_get(p->model, "services");
    char names[2048] = "";
    size_t len = 0, i;
    json_t *orphans = json_array();
    json_array_foreach(all, i, c) {
        const char *svc = ctr_label(c, LABEL_SERVICE);
        if (svc && json_object_get(services, svc))
            continue;
        if (remove) {
            json_array_append(orphans, c);
        } else if (len < sizeof names) {
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? " " : "",
                                    ctr_name(c));
        }
    }
    struct berr e = {0};
    if (proj_stop(p, orphans, timeout, &e) < 0 && rc == 0) {
        *err = e;
        rc = -e.code;
    }
    json_array_foreach(orphans, i, c)
        if (remove_one(p, c, &e) < 0 && rc == 0) {
            *err = e;
            rc = -e.code;
        }
    json_decref(orphans);
    if (len)
        fprintf(p->out ?: stderr, "WARNING: Found orphan containers ([%s]) for this project. If "
                "you removed or renamed this service in your compose file, you can run this "
                "command with the --remove-orphans flag to clean it up.\n", names);
    json_decref(all);
    return rc;
}

int compose_down(struct compose_project *p, const struct compose_down_opts *o, struct berr *err)
{
    json_t *order, *all;
    int rc = compose_order(p->model, NULL, 0, false, &order, err);
    if (rc == 0 && (rc = proj_containers(p, true, &all, err)) < 0)
        json_decref(order);
    if (rc < 0)
        return rc;
    /* dependents first, each wave of the stop order at once; orphans after */
    json_t *waves = compose_stop_waves(p->model, order), *wave;
    size_t w;
    json_array_foreach(waves, w, wave) {
        json_t *mine = json_array(), *c;
        size_t i;
        json_array_foreach(all, i, c) {
            const char *svc = ctr_label(c, LABEL_SERVICE);
            if (svc && in_wave(wave, svc))
                json_array_append(mine, c);
        }
        struct berr e = {0};
        if (proj_stop(p, mine, o->timeout, &e) < 0 && rc == 0) {
            *err = e;
            rc = -e.code;
        }
        json_array_foreach(mine, i, c)
            if (remove_one(p, c, &e) < 0 && rc == 0) {
                *err = e;
                rc = -e.code;
            }
        json_decref(mine);
    }
    json_decref(waves);
    struct berr oe = {0};
    if (proj_orphans(p, true, o->remove_orphans, o->timeout, &oe) < 0 && rc == 0) {
        *err = oe;
        rc = -oe.code;
    }
    json_decref(all);
    struct berr e = {0};
    int rrc = proj_resources_down(p, o->volumes, &e);
    if (rrc < 0 && rc == 0) {
        *err = e;
        rc = rrc;
    }
    if (o->rmi) {
        size_t i;
        json_t *n;
        json_array_foreach(order, i, n) {
            const char *svc = json_string_value(n);
            char image[1024];
            /* local: only the images compose named itself (no image: key) */
            if (strcmp(o->rmi, "local") == 0 &&
                json_object_get(proj_service(p, svc), "image"))
                continue;
            proj_image_name(p, svc, image, sizeof image);
            struct berr ie = {0};
            if (berth_image_get(p->store, image, NULL, NULL, NULL, &ie) < 0)
                continue;
            proj_progress(p, "Image", image, "Removing");
            if (berth_rmi(p->store, image, false, &ie) < 0) {
                proj_progress(p, "Image", image, "Error");
                if (rc == 0)
                    *err = ie;
                rc = rc ?: -ie.code;
            } else
                proj_progress(p, "Image", image, "Removed");
        }
    }
    json_decref(order);
    return rc;
}
