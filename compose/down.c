/*
 * down.c - `compose down`: the project's containers stopped, dependents
 * first, and removed; then its networks, with -v its volumes (declared
 * and anonymous), with --rmi its images. Containers of services no longer
 * in the model (orphans) go only with --remove-orphans; one-off
 * containers of `run` go too.
 */
#include "project.h"

#include <string.h>

static int rank_of(json_t *order, const char *service)
{
    size_t i;
    json_t *n;
    json_array_foreach(order, i, n)
        if (service && strcmp(json_string_value(n), service) == 0)
            return (int)i;
    return -1;
}

int compose_down(struct compose_project *p, const struct compose_down_opts *o, struct berr *err)
{
    json_t *order, *all;
    int rc = compose_order(p->model, NULL, 0, false, &order, err);
    if (rc == 0 && (rc = proj_containers(p, true, &all, err)) < 0)
        json_decref(order);
    if (rc < 0)
        return rc;
    /* dependents first: the reverse of the start order; orphans last */
    for (int rank = (int)json_array_size(order) - 1; rank >= -1; rank--) {
        size_t i;
        json_t *c;
        json_array_foreach(all, i, c) {
            const char *svc = ctr_label(c, LABEL_SERVICE);
            if (rank_of(order, svc) != rank)
                continue;
            if (rank < 0 && !o->remove_orphans) {
                fprintf(p->out ?: stderr, "WARNING: found orphan container %s for this "
                        "project; run with --remove-orphans to remove it\n", ctr_name(c));
                continue;
            }
            const char *id = json_string_value(json_object_get(c, "Id"));
            struct berr e = {0};
            int timeout = o->timeout >= 0 ? o->timeout
                                          : proj_stop_timeout(proj_service(p, svc ?: ""));
            if (ctr_running(c)) {
                proj_progress(p, "Container", ctr_name(c), "Stopping");
                rt_stop(p->store, id, timeout, &e);
                proj_progress(p, "Container", ctr_name(c), "Stopped");
            }
            proj_progress(p, "Container", ctr_name(c), "Removing");
            if (rt_remove(p->store, id, true, &e) < 0) {
                proj_progress(p, "Container", ctr_name(c), "Error");
                if (rc == 0)
                    *err = e;
                rc = rc ?: -e.code;
            } else
                proj_progress(p, "Container", ctr_name(c), "Removed");
        }
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
