/*
 * finish.c - the merged project made whole: defaults that must wait for
 * every file (build's dockerfile, depends_on's condition, ports' protocol,
 * the default network, resource names "<project>_NAME"), and the checks
 * that look across services: an image or a build for each, depends_on,
 * networks and named volumes that exist, no dependency cycle, no two
 * services with one container_name.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct fin {
    struct cctx *c;
    json_t *trees, *files;
};

/* Name the last file that sets services.SVC.KEY (or services.SVC), so an
 * error points at the file that holds the mistake. */
static void blame(struct fin *f, const char *svc, const char *key)
{
    for (size_t i = json_array_size(f->trees); i-- > 0;) {
        json_t *s = json_object_get(json_object_get(json_array_get(f->trees, i), "services"), svc);
        if (s && (!key || json_object_get(s, key))) {
            f->c->file = json_string_value(json_array_get(f->files, i));
            return;
        }
    }
    f->c->file = json_string_value(json_array_get(f->files, 0));
}

static int fail_at(struct fin *f, const char *svc, const char *key, const char *sub,
                   const char *fmt, const char *arg)
{
    struct cctx *c = f->c;
    blame(f, svc, key);
    size_t keep = cc_key(c, "services");
    cc_key(c, svc);
    if (key)
        cc_key(c, key);
    if (sub)
        cc_key(c, sub);
    int rc = cc_fail(c, fmt, arg);
    cc_pop(c, keep);
    return rc;
}

static int finish_service(struct fin *f, json_t *p, const char *name, json_t *s)
{
    json_t *v, *services = json_object_get(p, "services");
    const char *key;
    size_t i;
    if (!json_object_get(s, "image") && !json_object_get(s, "build"))
        return fail_at(f, name, NULL, NULL, "%sneither an image nor a build is given", "");
    if ((v = json_object_get(s, "build"))) {
        if (!json_object_get(v, "context"))
            json_object_set_new(v, "context", json_string(f->c->projdir));
        if (!json_object_get(v, "dockerfile"))
            json_object_set_new(v, "dockerfile", json_string("Dockerfile"));
        struct stat st;
        const char *ctx = json_string_value(json_object_get(v, "context"));
        if (stat(ctx, &st) < 0 || !S_ISDIR(st.st_mode))
            return fail_at(f, name, "build", "context", "\"%.120s\" is not a directory", ctx);
    }
    json_t *deps = json_object_get(s, "depends_on");
    void *tmp;
    json_object_foreach_safe(deps, tmp, key, v) {
        /* an optional dependency on a service that is not there is no dependency */
        if (!json_object_get(services, key) && json_is_false(json_object_get(v, "required"))) {
            json_object_del(deps, key);
            continue;
        }
        if (!json_object_get(services, key))
            return fail_at(f, name, "depends_on", NULL, "service \"%.60s\" is not defined", key);
        if (!json_object_get(v, "condition"))
            json_object_set_new(v, "condition", json_string("service_started"));
        if (!json_object_get(v, "required"))
            json_object_set_new(v, "required", json_true());
        if (!json_object_get(v, "restart"))
            json_object_set_new(v, "restart", json_false());
    }
    json_t *nets = json_object_get(s, "networks");
    if (!nets || json_object_size(nets) == 0)
        json_object_set_new(s, "networks", nets = json_pack("{s:n}", "default"));
    json_object_foreach(nets, key, v)
        if (!json_object_get(json_object_get(p, "networks"), key) && strcmp(key, "default") != 0)
            return fail_at(f, name, "networks", NULL, "network \"%.60s\" is not declared under the top-level networks", key);
    json_array_foreach(json_object_get(s, "ports"), i, v) {
        if (!json_object_get(v, "protocol"))
            json_object_set_new(v, "protocol", json_string("tcp"));
        if (!json_object_get(v, "mode"))
            json_object_set_new(v, "mode", json_string("ingress"));
    }
    json_array_foreach(json_object_get(s, "volumes"), i, v) {
        const char *src = json_string_value(json_object_get(v, "source"));
        const char *type = json_string_value(json_object_get(v, "type"));
        if (!json_object_get(v, "read_only"))
            json_object_set_new(v, "read_only", json_false());
        if (src && strcmp(type, "volume") == 0 &&
            !json_object_get(json_object_get(p, "volumes"), src))
            return fail_at(f, name, "volumes", NULL, "volume \"%.60s\" is not declared under the top-level volumes", src);
    }
    const char *cname = json_string_value(json_object_get(s, "container_name"));
    const char *other;
    json_t *o;
    json_object_foreach(services, other, o) {
        if (o == s)
            break;
        const char *on = json_string_value(json_object_get(o, "container_name"));
        if (cname && on && strcmp(cname, on) == 0)
            return fail_at(f, name, "container_name", NULL, "\"%.60s\" is already used by another service", cname);
    }
    return 0;
}

/* The runtime takes network names up to 128 characters (volumes 200):
 * a longer one, given or made of project and key, is refused here, before
 * `up` has made anything, rather than cut short or half made. */
#define RESOURCE_NAME_MAX 128

static int finish_resources(struct cctx *c, json_t *p, const char *kind, const char *project)
{
    json_t *defs = json_object_get(p, kind), *d;
    const char *key;
    if (!defs)
        json_object_set_new(p, kind, defs = json_object());
    if (strcmp(kind, "networks") == 0 && !json_object_get(defs, "default"))
        json_object_set_new(defs, "default", json_object());
    json_object_foreach(defs, key, d) {
        bool external = json_is_true(json_object_get(d, "external"));
        if (!json_object_get(d, "name")) {
            char n[512];
            if (external)
                snprintf(n, sizeof n, "%s", key);
            else
                snprintf(n, sizeof n, "%s_%s", project, key);
            json_object_set_new(d, "name", json_string(n));
        }
        const char *name = json_string_value(json_object_get(d, "name"));
        if (!name || strlen(name) > RESOURCE_NAME_MAX) {
            size_t keep = cc_key(c, kind);
            cc_key(c, key);
            int rc = cc_fail(c, "the name \"%.40s...\" is longer than %d characters",
                             name ?: "", RESOURCE_NAME_MAX);
            cc_pop(c, keep);
            return rc;
        }
        json_object_set_new(d, "external", json_boolean(external));
    }
    return 0;
}

int model_finish(struct cctx *c, json_t *p, const char *name, json_t *trees, json_t *files)
{
    struct fin f = {.c = c, .trees = trees, .files = files};
    const char *key;
    json_t *s;
    json_object_set_new(p, "name", json_string(name));
    if (!json_object_get(p, "services"))
        json_object_set_new(p, "services", json_object());
    if (json_object_size(json_object_get(p, "services")) > COMPOSE_SERVICES_MAX)
        return cc_fail(c, "services: more than %d services", COMPOSE_SERVICES_MAX);
    int frc = finish_resources(c, p, "networks", name);
    if (frc < 0 || (frc = finish_resources(c, p, "volumes", name)) < 0)
        return frc;
    json_object_foreach(json_object_get(p, "services"), key, s) {
        int rc = finish_service(&f, p, key, s);
        if (rc < 0)
            return rc;
    }
    char cycle[180];
    if (order_find_cycle(json_object_get(p, "services"), cycle, sizeof cycle)) {
        char first[128];
        snprintf(first, sizeof first, "%.*s", (int)strcspn(cycle, " "), cycle);
        return fail_at(&f, first, "depends_on", NULL, "dependency cycle: %s", cycle);
    }
    /* a stable order of the top level: name, services, networks, volumes */
    json_t *sorted = json_pack("{s:O,s:O,s:O,s:O}", "name", json_object_get(p, "name"), "services",
                               json_object_get(p, "services"), "networks",
                               json_object_get(p, "networks"), "volumes",
                               json_object_get(p, "volumes"));
    json_object_clear(p);
    json_object_update(p, sorted);
    json_decref(sorted);
    return 0;
}
