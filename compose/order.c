/*
 * order.c - depends_on as a graph: the order to start services in
 * (dependencies first, otherwise the order of the file) and the cycle
 * that makes an order impossible, named service by service.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WHITE = 0, GREY, BLACK };

struct walk {
    json_t *services;
    json_t *color;        /* name -> WHITE/GREY/BLACK */
    json_t *stack;        /* the path being walked */
    json_t *out;          /* post-order */
    json_t *only;         /* NULL, or the set to emit */
    char *cycle;
    size_t cycle_len;
    bool found;
};

static int color(struct walk *w, const char *n)
{
    return (int)json_integer_value(json_object_get(w->color, n));
}

static void visit(struct walk *w, const char *name, int depth)
{
    if (w->found || color(w, name) == BLACK)
        return;
    if (depth > 1000) {
        snprintf(w->cycle, w->cycle_len, "%.60s: depends_on chains longer than 1000 services", name);
        w->found = true;
        return;
    }
    if (color(w, name) == GREY) {
        /* the cycle: from name's place on the stack back to name */
        size_t i, len = 0, start = 0;
        json_t *v;
        json_array_foreach(w->stack, i, v)
            if (strcmp(json_string_value(v), name) == 0)
                start = i;
        w->cycle[0] = '\0';
        for (i = start; i < json_array_size(w->stack); i++)
            buf_appendf(w->cycle, w->cycle_len, &len, "%s -> ",
                        json_string_value(json_array_get(w->stack, i)));
        buf_appendf(w->cycle, w->cycle_len, &len, "%s", name);
        w->found = true;
        return;
    }
    json_object_set_new(w->color, name, json_integer(GREY));
    json_array_append_new(w->stack, json_string(name));
    const char *dep;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(w->services, name), "depends_on"), dep, v)
        if (json_object_get(w->services, dep))
            visit(w, dep, depth + 1);
    json_array_remove(w->stack, json_array_size(w->stack) - 1);
    json_object_set_new(w->color, name, json_integer(BLACK));
    if (!w->only || json_object_get(w->only, name))
        json_array_append_new(w->out, json_string(name));
}

static void walk_init(struct walk *w, json_t *services)
{
    memset(w, 0, sizeof *w);
    w->services = services;
    w->color = json_object();
    w->stack = json_array();
    w->out = json_array();
}

static void walk_free(struct walk *w)
{
    json_decref(w->color);
    json_decref(w->stack);
    json_decref(w->out);
    json_decref(w->only);
}

bool order_find_cycle(json_t *services, char *out, size_t len)
{
    struct walk w;
    const char *name;
    json_t *v;
    walk_init(&w, services);
    w.cycle = out;
    w.cycle_len = len;
    json_object_foreach(services, name, v)
        visit(&w, name, 0);
    bool found = w.found;
    walk_free(&w);
    return found;
}

/* want and everything it needs, transitively */
static void closure(json_t *services, const char *name, json_t *set)
{
    if (json_object_get(set, name))
        return;
    json_object_set_new(set, name, json_true());
    const char *dep;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(services, name), "depends_on"), dep, v)
        if (json_object_get(services, dep))
            closure(services, dep, set);
}

int compose_order(json_t *project, char **want, size_t nwant, bool no_deps, json_t **order,
                  struct berr *err)
{
    json_t *services = json_object_get(project, "services"), *v;
    const char *name;
    struct walk w;
    char cycle[256];
    for (size_t i = 0; i < nwant; i++)
        if (!json_object_get(services, want[i]))
            return berr_set(err, BERR_NOTFOUND, "no such service: %.100s", want[i]);
    walk_init(&w, services);
    w.cycle = cycle;
    w.cycle_len = sizeof cycle;
    if (nwant) {
        w.only = json_object();
        for (size_t i = 0; i < nwant; i++) {
            if (no_deps)
                json_object_set_new(w.only, want[i], json_true());
            else
                closure(services, want[i], w.only);
        }
    }
    json_object_foreach(services, name, v)
        visit(&w, name, 0);
    if (w.found) {
        int rc = berr_set(err, BERR_INVALID, "dependency cycle: %s", cycle);
        walk_free(&w);
        return rc;
    }
    *order = json_incref(w.out);
    walk_free(&w);
    return 0;
}

/* level: 0 for a service nothing in `order` depends on, else one more
 * than its highest dependent's; the services of one level share no
 * dependency and stop together, the lowest level first. */
json_t *compose_stop_waves(json_t *project, json_t *order)
{
    json_t *services = json_object_get(project, "services");
    size_t n = json_array_size(order);
    int *level = calloc(n ? n : 1, sizeof *level), top = -1;
    json_t *waves = json_array();
    if (!level)
        return waves;
    for (size_t k = n; k-- > 0;) {   /* dependents come later in the order */
        const char *name = json_string_value(json_array_get(order, k));
        for (size_t d = k + 1; d < n; d++) {
            json_t *deps = json_object_get(
                json_object_get(services, json_string_value(json_array_get(order, d))),
                "depends_on");
            if (json_object_get(deps, name) && level[d] + 1 > level[k])
                level[k] = level[d] + 1;
        }
        if (level[k] > top)
            top = level[k];
    }
    for (int l = 0; l <= top; l++) {
        json_t *wave = json_array();
        for (size_t k = 0; k < n; k++)
            if (level[k] == l)
                json_array_append(wave, json_array_get(order, k));
        json_array_append_new(waves, wave);
    }
    free(level);
    return waves;
}
