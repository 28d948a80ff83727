/*
 * ps.c - `compose ps`: the project's containers as docker compose lists
 * them (NAME IMAGE COMMAND SERVICE CREATED STATUS PORTS), sorted by name;
 * running ones only unless -a.
 */
#include "project.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t parse_time(const char *s)
{
    struct tm tm = {0};
    return s && strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) ? (int64_t)timegm(&tm) : 0;
}

static void duration(int64_t d, char *out, size_t len)
{
    if (d < 1)
        snprintf(out, len, "Less than a second");
    else if (d < 60)
        snprintf(out, len, "%lld second%s", (long long)d, d == 1 ? "" : "s");
    else if (d < 120)
        snprintf(out, len, "About a minute");
    else if (d < 3600)
        snprintf(out, len, "%lld minutes", (long long)(d / 60));
    else if (d < 7200)
        snprintf(out, len, "About an hour");
    else if (d < 2 * 86400)
        snprintf(out, len, "%lld hours", (long long)(d / 3600));
    else
        snprintf(out, len, "%lld days", (long long)(d / 86400));
}

static json_t *row_of(json_t *c)
{
    json_t *st = json_object_get(c, "State"), *a;
    char cmd[4096], shown[64], created[80], status[200], ago[64], ports[1024] = "";
    size_t n = 0, i;
    buf_appendf(cmd, sizeof cmd, &n, "%s", json_string_value(json_object_get(c, "Path")) ?: "");
    json_array_foreach(json_object_get(c, "Args"), i, a)
        buf_appendf(cmd, sizeof cmd, &n, " %s", json_string_value(a) ?: "");
    if (strlen(cmd) > 20)
        snprintf(shown, sizeof shown, "\"%.19s…\"", cmd);
    else
        snprintf(shown, sizeof shown, "\"%s\"", cmd);
    int64_t now = (int64_t)time(NULL);
    duration(now - parse_time(json_string_value(json_object_get(c, "Created"))), ago, sizeof ago);
    snprintf(created, sizeof created, "%s ago", ago);
    const char *s = json_string_value(json_object_get(st, "Status")) ?: "";
    const char *health = glue_health(c);
    if (strcmp(s, "running") == 0) {
        duration(now - parse_time(json_string_value(json_object_get(st, "StartedAt"))), ago,
                 sizeof ago);
        snprintf(status, sizeof status, "Up %s%s%s%s", ago,
                 health ? (strcmp(health, "starting") == 0 ? " (health: " : " (") : "",
                 health ?: "", health ? ")" : "");
    } else if (strcmp(s, "exited") == 0) {
        int64_t end = parse_time(json_string_value(json_object_get(st, "FinishedAt")));
        duration(now - end, ago, sizeof ago);
        snprintf(status, sizeof status, "Exited (%lld)%s%s%s",
                 (long long)json_integer_value(json_object_get(st, "ExitCode")),
                 end > 0 ? " " : "", end > 0 ? ago : "", end > 0 ? " ago" : "");
    } else
        snprintf(status, sizeof status, "%s", *s ? s : "created");
    const char *key;
    json_t *binds;
    size_t pl = 0;
    json_object_foreach(json_object_get(json_object_get(c, "NetworkSettings"), "Ports"), key,
                        binds) {
        json_t *b;
        json_array_foreach(binds, i, b)
            buf_appendf(ports, sizeof ports, &pl, "%s%s:%s->%s", pl ? ", " : "",
                        json_string_value(json_object_get(b, "HostIp")) ?: "",
                        json_string_value(json_object_get(b, "HostPort")) ?: "", key);
    }
    return json_pack("[s,s,s,s,s,s,s]", ctr_name(c),
                     json_string_value(json_object_get(json_object_get(c, "Config"), "Image"))
                         ?: "",
                     shown, ctr_label(c, LABEL_SERVICE) ?: "", created, status, ports);
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
