/*
 * project.c - a loaded project's names and its containers. A container
 * belongs to the project when its com.docker.compose.project label says
 * so; nothing else about the project is stored: the labels and the model
 * are the whole truth, as with docker compose.
 */
#include "project.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *proj_name(struct compose_project *p)
{
    return json_string_value(json_object_get(p->model, "name")) ?: "";
}

json_t *proj_service(struct compose_project *p, const char *name)
{
    return json_object_get(json_object_get(p->model, "services"), name);
}

int proj_check_services(struct compose_project *p, char **services, size_t n,
                        struct berr *err)
{
    for (size_t i = 0; i < n; i++)
        if (!proj_service(p, services[i]))
            return berr_set(err, BERR_NOTFOUND, "no such service: %s", services[i]);
    return 0;
}

void proj_image_name(struct compose_project *p, const char *service, char *out, size_t len)
{
    const char *image = json_string_value(json_object_get(proj_service(p, service), "image"));
    if (image)
        snprintf(out, len, "%s", image);
    else
        snprintf(out, len, "%s-%s", proj_name(p), service);
}

const char *ctr_label(json_t *state, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(state, "Config"), "Labels"), key));
}

const char *ctr_name(json_t *state)
{
    const char *n = json_string_value(json_object_get(state, "Name")) ?: "";
    return *n == '/' ? n + 1 : n;
}

bool ctr_running(json_t *state)
{
    json_t *st = json_object_get(state, "State");
    return json_is_true(json_object_get(st, "Running")) ||
           json_is_true(json_object_get(st, "Restarting"));
}

struct collect {
    const char *project;
    bool oneoff;
    json_t *list;
};

static int collect_one(void *arg, json_t *state)
{
    struct collect *c = arg;
    const char *proj = ctr_label(state, LABEL_PROJECT), *one = ctr_label(state, LABEL_ONEOFF);
    if (!proj || strcmp(proj, c->project) != 0)
        return 0;
    if (!c->oneoff && one && strcmp(one, "True") == 0)
        return 0;
    json_array_append(c->list, state);
    return 0;
}

int proj_containers(struct compose_project *p, bool oneoff, json_t **list, struct berr *err)
{
    struct collect c = {.project = proj_name(p), .oneoff = oneoff, .list = json_array()};
    int rc = rt_list(p->store, true, collect_one, &c, err);
    if (rc < 0) {
        json_decref(c.list);
        return rc;
    }
    *list = c.list;
    return 0;
}

static int by_number(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return atoi(ctr_label(x, LABEL_NUMBER) ?: "0") - atoi(ctr_label(y, LABEL_NUMBER) ?: "0");
}

json_t *proj_service_containers(json_t *all, const char *service)
{
    json_t *out = json_array(), *c;
    size_t i;
    json_array_foreach(all, i, c) {
        const char *svc = ctr_label(c, LABEL_SERVICE), *one = ctr_label(c, LABEL_ONEOFF);
        if (svc && strcmp(svc, service) == 0 && !(one && strcmp(one, "True") == 0))
            json_array_append(out, c);
    }
    size_t n = json_array_size(out);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return out;
    for (i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(out, i));
    qsort(v, n, sizeof *v, by_number);
    json_array_clear(out);
    for (i = 0; i < n; i++)
        json_array_append_new(out, v[i]);
    free(v);
    return out;
}

int proj_config_hash(json_t *service, const char *image_id, char out[65])
{
    char *text = json_dumps(service, JSON_SORT_KEYS | JSON_COMPACT), d[DIGEST_MAX];
    if (!text)
        return -BERR_IO;
    struct hasher *h = hasher_new(DIGEST_SHA256);
    int rc = h ? 0 : -BERR_IO;
    if (rc == 0)
        rc = hasher_update(h, text, strlen(text));
    if (rc == 0)
        rc = hasher_update(h, image_id ?: "", strlen(image_id ?: ""));
    if (rc == 0)
        rc = hasher_final(h, d);
    if (h)
        hasher_free(h);
    free(text);
    if (rc == 0)
        snprintf(out, 65, "%s", digest_hex(d));
    return rc;
}

int proj_client(struct compose_project *p, struct berr *err)
{
    if (p->client)
        return 0;
    if (!p->client_opts)
        return berr_set(err, BERR_INVALID, "no registry client");
    return berth_client_new(p->client_opts, &p->client, err);
}

int proj_stop_timeout(json_t *service)
{
    const char *g = json_string_value(json_object_get(service, "stop_grace_period"));
    int64_t ns;
    struct berr err = {0};
    if (g && compose_duration(g, &ns, &err) == 0)
        return (int)(ns / 1000000000LL);
    return 10;
}

int proj_stop(struct compose_project *p, json_t *ctrs, int timeout, struct berr *err)
{
    size_t n = json_array_size(ctrs), k = 0, i;
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    int *timeouts = calloc(n ? n : 1, sizeof *timeouts);
    json_t *c, *stopping = json_array();
    int rc = 0;
    if (!ids || !timeouts)
        rc = berr_set(err, BERR_IO, "out of memory");
    json_array_foreach(rc == 0 ? ctrs : NULL, i, c) {
        if (!ctr_running(c))
            continue;
        proj_progress(p, "Container", ctr_name(c), "Stopping");
        json_array_append(stopping, c);
        ids[k] = json_string_value(json_object_get(c, "Id"));
        /* a service's container: its stop_grace_period now; an orphan's: its own */
        json_t *svc = proj_service(p, ctr_label(c, LABEL_SERVICE) ?: "");
        timeouts[k++] = timeout >= 0 ? timeout : svc ? proj_stop_timeout(svc) : -1;
    }
    if (k)
        rc = rt_stop_all(p->store, ids, timeouts, k, err);
    json_array_foreach(stopping, i, c)
        proj_progress(p, "Container", ctr_name(c), "Stopped");
    json_decref(stopping);
    free(ids);
    free(timeouts);
    return rc;
}

void proj_progress(struct compose_project *p, const char *kind, const char *name,
                   const char *what)
{
    fprintf(p->out ?: stderr, " %s %s  %s\n", kind, name, what);
    fflush(p->out ?: stderr);
}

void proj_log_tail(struct compose_project *p, const char *id, int lines)
{
    json_t *state;
    struct berr e = {0};
    if (rt_inspect(p->store, id, &state, &e) < 0)
        return;
    char name[300];
    snprintf(name, sizeof name, "%s", ctr_name(state));
    json_decref(state);
    struct log_source src = {.id = id, .prefix = name};
    struct rt_logs_opts o = {.tail = lines};
    struct berr err = {0};
    fflush(stdout);
    /* to `out` (stderr): the tail explains an error */
    FILE *out = p->out ?: stderr;
    int saved = dup(1);
    if (saved < 0)
        return;
    fflush(out);
    dup2(fileno(out), 1);
    logs_print(p, &src, 1, &o, true, NULL, &err);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
}

void compose_project_close(struct compose_project *p)
{
    if (p->client)
        berth_client_free(p->client);
    p->client = NULL;
}
