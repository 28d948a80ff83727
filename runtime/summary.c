/*
 * summary.c - a container in the few words `ps` gives it, docker's words:
 * its command cut to 20 characters, how long ago it was made, its status
 * ("Up 2 hours (healthy)", "Restarting (1) 3 seconds ago", "Exited (0) 5
 * minutes ago", "Created") and its published ports. `berth ps` and
 * `berth compose ps` both print these, from the state document alone.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t parse_time(const char *s)
{
    struct tm tm = {0};
    return s && strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) ? (int64_t)timegm(&tm) : 0;
}

/* "5 seconds", "About a minute", "3 hours": the time since `t`. */
static void since(int64_t t, char *out, size_t len)
{
    int64_t d = (int64_t)time(NULL) - t;
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

static const char *text(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void rt_summary(json_t *c, bool full, struct rt_summary *out)
{
    json_t *st = json_object_get(c, "State"), *a;
    char cmd[4096], ago[64];
    /* display only: a command line too long for cmd is cut, as ps shows it cut */
    size_t n = 0, i;
    buf_appendf(cmd, sizeof cmd, &n, "%s", text(c, "Path"));
    /* an argument with a space in it is put in single quotes, nothing
     * escaped, as docker's daemon does ("sh -c 'sleep 1'") */
    json_array_foreach(json_object_get(c, "Args"), i, a) {
        const char *arg = json_string_value(a) ? json_string_value(a) : "";
        buf_appendf(cmd, sizeof cmd, &n, strchr(arg, ' ') ? " '%s'" : " %s", arg);
    }
    /* cut at 19 characters (not bytes) and "…", as docker's Ellipsis */
    size_t chars = 0, cut = 0;
    for (size_t k = 0; cmd[k]; k++)
        if (((unsigned char)cmd[k] & 0xc0) != 0x80 && ++chars == 20)
            cut = k;
    if (!full && chars > 20)
        snprintf(out->command, sizeof out->command, "\"%.*s…\"", (int)cut, cmd);
    else
        snprintf(out->command, sizeof out->command, "\"%.60s\"", cmd);

    since(parse_time(text(c, "Created")), ago, sizeof ago);
    snprintf(out->created, sizeof out->created, "%s ago", ago);

    const char *s = text(st, "Status");
    const char *health = json_string_value(json_object_get(json_object_get(st, "Health"),
                                                           "Status"));
    long long code = (long long)json_integer_value(json_object_get(st, "ExitCode"));
    if (strcmp(s, "running") == 0) {
        since(parse_time(text(st, "StartedAt")), ago, sizeof ago);
        snprintf(out->status, sizeof out->status, "Up %s%s%s%s", ago,
                 !health ? "" : strcmp(health, "starting") == 0 ? " (health: " : " (",
                 health ? health : "", health ? ")" : "");
    } else if (strcmp(s, "restarting") == 0) {
        since(parse_time(text(st, "FinishedAt")), ago, sizeof ago);
        snprintf(out->status, sizeof out->status, "Restarting (%lld) %s ago", code, ago);
    } else if (strcmp(s, "exited") == 0) {
        /* no end time when the monitor died before it could record one */
        int64_t end = parse_time(text(st, "FinishedAt"));
        since(end, ago, sizeof ago);
        snprintf(out->status, sizeof out->status, "Exited (%lld)%s%s%s", code,
                 end > 0 ? " " : "", end > 0 ? ago : "", end > 0 ? " ago" : "");
    } else
        snprintf(out->status, sizeof out->status, "Created");

    const char *key;
    json_t *binds;
    n = 0;
    out->ports[0] = '\0';
    /* only while they are bound, as docker's */
    bool bound = strcmp(s, "running") == 0 || strcmp(s, "restarting") == 0;
    json_object_foreach(bound ? json_object_get(json_object_get(c, "NetworkSettings"), "Ports")
                              : NULL, key, binds) {
        json_t *b;
        json_array_foreach(binds, i, b)
            buf_appendf(out->ports, sizeof out->ports, &n, "%s%s:%s->%s", n ? ", " : "",
                        text(b, "HostIp"), text(b, "HostPort"), key);
    }
}
