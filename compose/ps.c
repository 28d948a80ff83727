/*
 * ps.c - `compose ps`: the project's containers as docker compose lists
 * them (NAME IMAGE COMMAND SERVICE CREATED STATUS PORTS), sorted by name;
 * running ones only unless -a.
 */
#include "project.h"

#include <stdlib.h>
#include <string.h>

static json_t *row_of(json_t *c)
{
    struct rt_summary t;
    rt_summary(c, false, &t);
    return json_pack("[s,s,s,s,s,s,s]", ctr_name(c),
                     json_string_value(json_object_get(json_object_get(c, "Config"), "Image"))
                         ?: "",
                     t.command, ctr_label(c, LABEL_SERVICE) ?: "", t.created, t.status, t.ports);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(ctr_name(*(json_t *const *)a), ctr_name(*(json_t *const *)b));
}

int compose_ps(struct compose_project *p, char **services, size_t n, bool all, json_t **rows,
               json_t **ids, struct berr *err)
{
    json_t *list;
    int rc = proj_check_services(p, services, n, err);
    if (rc == 0)
        rc = proj_containers(p, true, &list, err);
    if (rc < 0)
        return rc;
    size_t k = 0, i, total = json_array_size(list);
    json_t **v = calloc(total ? total : 1, sizeof *v), *c;
    if (!v) {
        json_decref(list);
        return berr_set(err, BERR_IO, "out of memory");
    }
    json_array_foreach(list, i, c) {
        const char *svc = ctr_label(c, LABEL_SERVICE);
        bool wanted = n == 0;
        for (size_t j = 0; !wanted && j < n; j++)
            wanted = svc && strcmp(svc, services[j]) == 0;
        if (wanted && (all || ctr_running(c)))
            v[k++] = c;
    }
    qsort(v, k, sizeof *v, by_name);
    *rows = json_pack("[[s,s,s,s,s,s,s]]", "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED",
                      "STATUS", "PORTS");
    *ids = json_array();
    for (i = 0; i < k; i++) {
        json_array_append_new(*rows, row_of(v[i]));
        json_array_append(*ids, json_object_get(v[i], "Id"));
    }
    free(v);
    json_decref(list);
    return 0;
}
