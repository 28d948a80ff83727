/*
 * cmd_ps.c - berth ps, logs, stop, kill, rm, wait, start and restart: the
 * containers that `berth run` made, by id, id prefix or name, as docker
 * shows them.
 */
#include "builtin.h"
#include "../runtime/runtime.h"

#include <getopt.h>
#include <regex.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct ps {
    json_t *rows, *items;   /* items: one object a container, for --format */
    bool quiet, no_trunc;
    json_t *filters;        /* -f KEY=VALUE: {"KEY": [VALUE, ...]} */
    long last;              /* -n N, -l: the N newest only; -1: all */
    long shown;
    char before[64], since[64];   /* Created of the before=/since= containers */
};

/* ---- ps -f: docker's filters; values of one key OR'd (label's AND'ed), keys AND'ed --- */

static const char *const filter_keys[] = {"id", "name", "label", "status", "ancestor",
                                          "exited", "network", "volume", "health",
                                          "before", "since", "publish", "expose", NULL};
static const char *const statuses[] = {"created", "restarting", "running", "removing",
                                       "paused", "exited", "dead", NULL};

static bool one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return true;
    return false;
}

/* -f KEY=VALUE into p->filters; a bad one is refused as docker refuses it */
static int filter_add(struct ps *p, const char *f)
{
    const char *eq = strchr(f, '=');
    if (!eq) {
        fprintf(stderr, "berth ps: invalid argument \"%s\" for \"-f, --filter\" flag: bad format "
                        "of filter (expected name=value)\n", f);
        return 125;
    }
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(eq - f), f);
    const char *v = eq + 1;
    if (!one_of(key, filter_keys)) {
        fprintf(stderr, "berth ps: Invalid filter '%s'\n", key);
        return 1;
    }
    if (strcmp(key, "status") == 0 && !one_of(v, statuses)) {
        fprintf(stderr, "berth ps: Invalid filter 'status=%s'\n", v);
        return 1;
    }
    if (strcmp(key, "health") == 0 &&
        !one_of(v, (const char *const[]){"starting", "healthy", "unhealthy", "none", NULL})) {
        fprintf(stderr, "berth ps: Unrecognised filter value for health: %s\n", v);
        return 1;
    }
    if (strcmp(key, "exited") == 0) {
        char *end;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 0 || n > 255) {
            fprintf(stderr, "berth ps: strconv.Atoi: parsing \"%s\": invalid syntax\n", v);
            return 1;
        }
    }
    if (strcmp(key, "name") == 0) {
        regex_t re;
        if (regcomp(&re, v, REG_EXTENDED | REG_NOSUB) != 0) {
            fprintf(stderr, "berth ps: invalid regular expression in filter name=%s\n", v);
            return 1;
        }
        regfree(&re);
    }
    json_t *a = json_object_get(p->filters, key);
    if (!a)
        json_object_set_new(p->filters, key, a = json_array());
    json_array_append_new(a, json_string(v));
    return 0;
}

/* docker's image references: "busybox" is "busybox:latest" */
static bool same_image(const char *want, const char *image, const char *image_id)
{
    if (!image)
        return false;
    if (strcmp(want, image) == 0)
        return true;
    char a[600], b[600];
    bool tagged_want = strrchr(want, ':') > strrchr(want, '/') || (strchr(want, ':') && !strchr(want, '/'));
    bool tagged_image = strrchr(image, ':') > strrchr(image, '/') || (strchr(image, ':') && !strchr(image, '/'));
    snprintf(a, sizeof a, "%s%s", want, tagged_want || strchr(want, '@') ? "" : ":latest");
    snprintf(b, sizeof b, "%s%s", image, tagged_image || strchr(image, '@') ? "" : ":latest");
    if (strcmp(a, b) == 0)
        return true;
    /* by id: sha256:HEX or a prefix of HEX (as docker, 12 at least not needed) */
    const char *hex = image_id && strncmp(image_id, "sha256:", 7) == 0 ? image_id + 7 : image_id;
    const char *w = strncmp(want, "sha256:", 7) == 0 ? want + 7 : want;
    return hex && strlen(w) >= 4 && strncmp(hex, w, strlen(w)) == 0 &&
           strspn(w, "0123456789abcdef") == strlen(w);
}

static bool filter_one(json_t *c, const char *key, const char *v)
{
    json_t *cfg = json_object_get(c, "Config"), *st = json_object_get(c, "State");
    const char *id = json_string_value(json_object_get(c, "Id")) ?: "";
    const char *name = json_string_value(json_object_get(c, "Name")) ?: "";
    const char *status = json_string_value(json_object_get(st, "Status")) ?: "";
    if (strcmp(key, "id") == 0)
        return strncmp(id, v, strlen(v)) == 0;
    if (strcmp(key, "name") == 0) {
        regex_t re;
        if (regcomp(&re, v, REG_EXTENDED | REG_NOSUB) != 0)
            return false;
        /* docker's names have their slash: name=^/web matches web */
        bool m = regexec(&re, name, 0, NULL, 0) == 0 ||
                 (*name == '/' && regexec(&re, name + 1, 0, NULL, 0) == 0);
        regfree(&re);
        return m;
    }
    if (strcmp(key, "label") == 0) {
        const char *eq = strchr(v, '=');
        char k[1024];
        snprintf(k, sizeof k, "%.*s", eq ? (int)(eq - v) : (int)strlen(v), v);
        json_t *l = json_object_get(json_object_get(cfg, "Labels"), k);
        return l && (!eq || strcmp(json_string_value(l) ?: "", eq + 1) == 0);
    }
    if (strcmp(key, "status") == 0)
        return strcmp(status, v) == 0;
    if (strcmp(key, "exited") == 0)
        return strcmp(status, "exited") == 0 &&
               json_integer_value(json_object_get(st, "ExitCode")) == strtol(v, NULL, 10);
    if (strcmp(key, "ancestor") == 0)
        return same_image(v, json_string_value(json_object_get(cfg, "Image")),
                          json_string_value(json_object_get(c, "Image")));
    if (strcmp(key, "network") == 0) {
        const char *mode = json_string_value(json_object_get(json_object_get(c, "HostConfig"),
                                                             "NetworkMode")) ?: "";
        return json_object_get(json_object_get(json_object_get(c, "NetworkSettings"),
                                               "Networks"), v) || strcmp(mode, v) == 0;
    }
    if (strcmp(key, "volume") == 0) {
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(c, "Mounts"), i, m) {
            const char *n = json_string_value(json_object_get(m, "Name"));
            const char *src = json_string_value(json_object_get(m, "Source"));
            const char *dst = json_string_value(json_object_get(m, "Destination"));
            if ((n && strcmp(n, v) == 0) || (src && strcmp(src, v) == 0) ||
                (dst && strcmp(dst, v) == 0))
                return true;
        }
        return false;
    }
    if (strcmp(key, "publish") == 0 || strcmp(key, "expose") == 0) {
        /* "80" or "80/tcp": a port published (on the host) or exposed */
        char want[32];
        snprintf(want, sizeof want, "%s%s", v, strchr(v, '/') ? "" : "/tcp");
        json_t *ports = strcmp(key, "expose") == 0
            ? json_object_get(cfg, "ExposedPorts")
            : json_object_get(json_object_get(c, "HostConfig"), "PortBindings");
        return json_object_get(ports, want) != NULL;
    }
    if (strcmp(key, "health") == 0) {
        const char *h = json_string_value(json_object_get(json_object_get(st, "Health"),
                                                          "Status"));
        return strcmp(h ? h : "none", v) == 0;
    }
    return true;   /* before and since: ps_row compares the creation times */
}

static bool filters_match(struct ps *p, json_t *c)
{
    const char *key;
    json_t *values;
    json_object_foreach(p->filters, key, values) {
        /* label= as docker's: every one must match */
        bool every = strcmp(key, "label") == 0, any = false, all = true;
        size_t i;
        json_t *v;
        json_array_foreach(values, i, v) {
            bool m = filter_one(c, key, json_string_value(v));
            any = any || m;
            all = all && m;
        }
        if (every ? !all : !any)
            return false;
    }
    const char *created = json_string_value(json_object_get(c, "Created")) ?: "";
    if (p->before[0] && strcmp(created, p->before) >= 0)
        return false;
    if (p->since[0] && strcmp(created, p->since) <= 0)
        return false;
    return true;
}

/* before=/since=: the container named, its creation time */
static int filter_times(struct ps *p, struct berth_store *s)
{
    const char *keys[] = {"before", "since"};
    char *out[] = {p->before, p->since};
    for (int k = 0; k < 2; k++) {
        json_t *a = json_object_get(p->filters, keys[k]), *st;
        if (!a)
            continue;
        struct berr err = {0};
        if (rt_inspect(s, json_string_value(json_array_get(a, json_array_size(a) - 1)), &st,
                       &err) < 0)
            return cli_fail("ps", &err);
        snprintf(out[k], 64, "%s", json_string_value(json_object_get(st, "Created")) ?: "");
        json_decref(st);
    }
    return 0;
}

/* "2021-03-04 10:00:00 +0000 UTC" (docker's ps CreatedAt) of an RFC 3339 time */
static void ps_created_at(const char *rfc3339, char *out, size_t len)
{
    struct tm tm = {0};
    time_t t;
    out[0] = 0;
    if (!rfc3339 || !strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm))
        return;
    t = timegm(&tm);
    if (!gmtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm))
        out[0] = 0;
}

/* docker's ps fields for --format, and their column names. Mounts: each
 * mount's volume name or source, cut at 15 characters unless --no-trunc;
 * Networks: the networks, or the mode of a container on none or host. */
static json_t *ps_item(json_t *c, const char *id, const struct rt_summary *t, bool no_trunc)
{
    json_t *cfg = json_object_get(c, "Config"), *v;
    const char *key;
    char labels[4096] = "", nets[1024] = "", mounts[4096] = "", at[64];
    size_t n = 0, m = 0, k = 0, i, volumes = 0;
    json_object_foreach(json_object_get(cfg, "Labels"), key, v)
        n += (size_t)snprintf(labels + n, n < sizeof labels ? sizeof labels - n : 0, "%s%s=%s",
                              n ? "," : "", key, json_string_value(v) ? json_string_value(v) : "");
    json_object_foreach(json_object_get(json_object_get(c, "NetworkSettings"), "Networks"), key, v)
        m += (size_t)snprintf(nets + m, m < sizeof nets ? sizeof nets - m : 0, "%s%s",
                              m ? "," : "", key);
    const char *mode = json_string_value(json_object_get(json_object_get(c, "HostConfig"),
                                                         "NetworkMode"));
    if (!m && mode && (strcmp(mode, "none") == 0 || strcmp(mode, "host") == 0))
        snprintf(nets, sizeof nets, "%s", mode);
    json_array_foreach(json_object_get(c, "Mounts"), i, v) {
        const char *type = json_string_value(json_object_get(v, "Type"));
        const char *what = json_string_value(json_object_get(v, "Name"));
        volumes += type && strcmp(type, "volume") == 0;
        if (!what || !*what)
            what = json_string_value(json_object_get(v, "Source"));
        if (!what)
            continue;
        size_t chars = 0, cut = 0;
        for (const char *q = what; *q; q++)
            if (((unsigned char)*q & 0xc0) != 0x80 && ++chars == 15)
                cut = (size_t)(q - what);
        if (no_trunc || chars <= 15)
            cut = strlen(what);
        k += (size_t)snprintf(mounts + k, k < sizeof mounts ? sizeof mounts - k : 0, "%s%.*s%s",
                              k ? "," : "", (int)cut, what, cut < strlen(what) ? "\xe2\x80\xa6" : "");
    }
    char local[24];
    snprintf(local, sizeof local, "%zu", volumes);
    const char *name = json_string_value(json_object_get(c, "Name"));
    const char *image = json_string_value(json_object_get(cfg, "Image"));
    ps_created_at(json_string_value(json_object_get(c, "Created")), at, sizeof at);
    const char *state = json_string_value(json_object_get(json_object_get(c, "State"), "Status"));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", id,
                     "Image", image ? image : "", "Command", t->command,
                     "CreatedAt", at, "RunningFor", t->created,
                     "Ports", t->ports, "State", state ? state : "", "Status", t->status,
                     "Names", name && *name == '/' ? name + 1 : name ? name : "",
                     "Labels", labels, "Networks", nets, "Mounts", mounts, "LocalVolumes", local);
}

static json_t *ps_headers(void)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "CONTAINER ID",
                     "Image", "IMAGE", "Command", "COMMAND", "CreatedAt", "CREATED AT",
                     "RunningFor", "CREATED", "Ports", "PORTS", "State", "STATE",
                     "Status", "STATUS", "Names", "NAMES", "Labels", "LABELS",
                     "Networks", "NETWORKS", "Mounts", "MOUNTS", "LocalVolumes", "LOCAL VOLUMES");
}

static int ps_row(void *arg, json_t *c)
{
    struct ps *p = arg;
    const char *id = json_string_value(json_object_get(c, "Id"));
    if (!filters_match(p, c))
        return 0;
    if (p->last >= 0 && p->shown >= p->last)
        return 1;   /* newest first: the rest are older */
    p->shown++;
    if (p->quiet) {
        printf("%.*s\n", p->no_trunc ? 64 : 12, id);
        return 0;
    }
    struct rt_summary t;
    rt_summary(c, p->no_trunc, &t);
    char short_id[65];
    snprintf(short_id, sizeof short_id, "%.*s", p->no_trunc ? 64 : 12, id);
    if (p->items) {
        json_array_append_new(p->items, ps_item(c, short_id, &t, p->no_trunc));
        return 0;
    }
    json_array_append_new(p->rows, json_pack("[s,s,s,s,s,s,s]", short_id,
        json_string_value(json_object_get(json_object_get(c, "Config"), "Image")), t.command,
        t.created, t.status, t.ports, json_string_value(json_object_get(c, "Name")) + 1));
    return 0;
}

int cmd_ps(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'}, {"quiet", no_argument, NULL, 'q'},
        {"no-trunc", no_argument, NULL, 'T'}, {"format", required_argument, NULL, 'F'},
        {"filter", required_argument, NULL, 'f'}, {"last", required_argument, NULL, 'n'},
        {"latest", no_argument, NULL, 'l'}, {0},
    };
    struct ps p = {.filters = json_object(), .last = -1};
    bool all = false;
    const char *format = NULL;
    int c, bad = 0;
    while (!bad && (c = getopt_long(argc, argv, "aqf:n:l", opts, NULL)) != -1) {
        if (c == 'f')
            bad = filter_add(&p, optarg);
        else if (c == 'n') {
            char *end;
            p.last = strtol(optarg, &end, 10);
            if (!*optarg || *end) {
                fprintf(stderr, "berth ps: invalid argument \"%s\" for \"-n, --last\" flag: "
                                "strconv.ParseInt: parsing \"%s\": invalid syntax\n", optarg, optarg);
                bad = 125;
            }
            /* docker: -n 0 and -1 (its default) are no limit */
            p.last = p.last <= 0 ? -1 : p.last;
            all = all || p.last > 0;
        } else if (c == 'l') {
            p.last = 1;
            all = true;
        } else if (c == 'a')
            all = true;
        else if (c == 'F')
            format = strcmp(optarg, "table") == 0 || !*optarg ? NULL : optarg;
        else if (c == 'q')
            p.quiet = true;
        else if (c == 'T')
            p.no_trunc = true;
        else
            bad = 2;
    }
    if (!bad && optind != argc) {
        fprintf(stderr, "usage: berth ps [-a] [-q] [--no-trunc] [-f KEY=VALUE]... [-n N] [-l] "
                        "[--format TEMPLATE]\n");
        bad = 2;
    }
    /* as docker's: status= and exited= look at every container */
    all = all || json_object_get(p.filters, "status") || json_object_get(p.filters, "exited") ||
          json_object_get(p.filters, "before") || json_object_get(p.filters, "since");
    struct berth_store *s;
    if (bad || cli_store(g, &s) != 0) {
        json_decref(p.filters);
        return bad ? bad : 1;
    }
    if (filter_times(&p, s) != 0) {
        json_decref(p.filters);
        berth_store_close(s);
        return 1;
    }
    p.rows = json_pack("[[s,s,s,s,s,s,s]]", "CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
                       "STATUS", "PORTS", "NAMES");
    struct berr err = {0};
    /* docker's own default is a template too: its columns come out aligned
     * as its tabwriter aligns them (at least 10 wide, 3 apart, in characters) */
    if (!format)
        format = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t"
                 "{{.Ports}}\t{{.Names}}";
    if (format && !p.quiet)
        p.items = json_array();
    rt_list(s, all, ps_row, &p, &err);
    if (p.items) {
        json_t *headers = ps_headers();
        int rc = cli_format_print("ps", format, p.items, headers);
        json_decref(headers);
        json_decref(p.items);
        json_decref(p.rows);
        json_decref(p.filters);
        berth_store_close(s);
        return rc;
    }
    if (!p.quiet)
        cli_table_print(p.rows);
    json_decref(p.rows);
    json_decref(p.filters);
    berth_store_close(s);
    return 0;
}

/* docker's --since/--until: a time (rt_time_parse) or a Go duration
 * before now ("10m", "1h30m"); ns since the epoch */
static int log_time(const char *s, int64_t *ns)
{
    int64_t ago;
    struct berr err = {0};
    if (rt_time_parse(s, ns) == 0)   /* 0: the beginning, as no limit */
        return 0;
    if (!*s || strspn(s, "0123456789") == strlen(s) || rt_duration_parse(s, &ago, &err) < 0)
        return -1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    *ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - ago;
    return 0;
}

int cmd_logs(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'}, {"timestamps", no_argument, NULL, 't'},
        {"tail", required_argument, NULL, 'n'}, {"since", required_argument, NULL, 'S'},
        {"until", required_argument, NULL, 'U'}, {0},
    };
    struct rt_logs_opts o = {.tail = -1};
    int c;
    while ((c = getopt_long(argc, argv, "ftn:", opts, NULL)) != -1) {
        if (c == 'S' || c == 'U') {
            if (log_time(optarg, c == 'S' ? &o.since : &o.until) < 0) {
                fprintf(stderr, "berth logs: invalid value for \"%s\": failed to parse value "
                                "as time or duration: \"%s\"\n", c == 'S' ? "since" : "until",
                        optarg);
                return 1;   /* docker's: the daemon refuses it */
            }
        } else if (c == 'f')
            o.follow = true;
        else if (c == 't')
            o.timestamps = true;
        else if (c == 'n') {
            char *end;
            o.tail = strcmp(optarg, "all") == 0 ? -1 : strtol(optarg, &end, 10);
            if (strcmp(optarg, "all") != 0 && (*end || o.tail < 0)) {
                fprintf(stderr, "berth logs: invalid --tail: %s\n", optarg);
                return 2;
            }
        } else
            return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: berth logs [-f] [-t] [--tail N] [--since T] [--until T] "
                        "CONTAINER\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    int rc = rt_logs(s, argv[optind], &o, &err);
    berth_store_close(s);
    return rc < 0 ? cli_fail("logs", &err) : 0;
}

/* stop, kill, rm and wait: the same loop over the containers named. */
enum verb { STOP, KILL, RM, WAIT, START, RESTART };

static int each_container(struct cli *g, enum verb verb, const char *name, int argc,
                          char **argv, int arg)
{
    if (optind >= argc) {
        fprintf(stderr, "usage: berth %s [OPTIONS] CONTAINER...\n", name);
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct berr err = {0};
        int code = 0, rc = verb == STOP ? rt_stop(s, argv[i], arg, &err)
                         : verb == KILL ? rt_kill(s, argv[i], arg, &err)
                         : verb == RM   ? rt_remove(s, argv[i], arg, &err)
                         : verb == START ? rt_start(s, argv[i], &err)
                         : verb == RESTART ? rt_restart(s, argv[i], arg, &err)
                                        : rt_wait(s, argv[i], &code, &err);
        /* docker's rm -f says a name it cannot find and goes on: not a failure */
        if (rc < 0 && verb == RM && arg && err.code == BERR_NOTFOUND)
            cli_fail(name, &err);
        else if (rc < 0)
            status = cli_fail(name, &err);
        else if (verb == WAIT)
            printf("%d\n", code);
        else
            printf("%s\n", argv[i]);
        fflush(stdout);
    }
    berth_store_close(s);
    return status;
}

/* stop and restart: -t N, by default the container's StopTimeout (or 10). */
static int stop_like(struct cli *g, enum verb verb, const char *name, int argc, char **argv)
{
    static const struct option opts[] = {{"time", required_argument, NULL, 't'}, {0}};
    int c, timeout = -1;
    while ((c = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
        char *end;
        if (c != 't' || !*optarg || (timeout = (int)strtol(optarg, &end, 10)) < 0 || *end) {
            fprintf(stderr, "berth %s: invalid --time\n", name);
            return 2;
        }
    }
    return each_container(g, verb, name, argc, argv, timeout);
}

int cmd_stop(struct cli *g, int argc, char **argv)
{
    return stop_like(g, STOP, "stop", argc, argv);
}

int cmd_restart(struct cli *g, int argc, char **argv)
{
    return stop_like(g, RESTART, "restart", argc, argv);
}

/* a pidfd: a process that has ended is never confused with a new one */
static volatile int attached_fd = -1;

static void proxy_signal(int sig)
{
    if (attached_fd >= 0)
        pidfd_send_signal(attached_fd, sig, NULL, 0);
}


/* A pidfd of the process the container just started, or -1. The pid in
 * the state may be an exited one's, reused since by another process: the
 * pidfd is opened first, then the state read again must still show the
 * container running (its monitor alive) with that pid and start time,
 * and the process must be the monitor's child. */
static int open_started(struct berth_store *s, const char *what)
{
    struct berr err = {0};
    json_t *st = NULL, *again = NULL;
    if (rt_inspect(s, what, &st, &err) < 0)
        return -1;
    json_t *state = json_object_get(st, "State");
    pid_t pid = (pid_t)json_integer_value(json_object_get(state, "Pid"));
    const char *started = json_string_value(json_object_get(state, "StartedAt"));
    int fd = pid > 0 ? pidfd_open(pid, 0) : -1;
    if (fd >= 0 && rt_inspect(s, what, &again, &err) == 0) {
        json_t *now = json_object_get(again, "State");
        const char *now_started = json_string_value(json_object_get(now, "StartedAt"));
        pid_t monitor = (pid_t)json_integer_value(json_object_get(json_object_get(again, "Berth"),
                                                                  "MonitorPid"));
        bool same = json_is_true(json_object_get(now, "Running")) &&
                    json_integer_value(json_object_get(now, "Pid")) == pid &&
                    started && now_started && strcmp(started, now_started) == 0 &&
                    monitor > 0 && (pid_t)proc_parent(pid) == monitor;
        if (!same) {
            close(fd);
            fd = -1;
        }
    } else if (fd >= 0) {
        close(fd);
        fd = -1;
    }
    json_decref(again);
    json_decref(st);
    return fd;
}

/* start -a: the output from this start on, until the container ends;
 * its exit code is ours, as docker start -a's. Signals we get go to the
 * container's process (docker's --sig-proxy). */
static int start_attached(struct cli *g, const char *what)
{
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    json_t *st = NULL;
    int code = 0, rc = rt_inspect(s, what, &st, &err);
    struct stat sb;
    const char *log = json_string_value(json_object_get(st, "LogPath"));
    struct rt_logs_opts lo = {.follow = true, .tail = -1,
                              /* 0 (an empty log or none yet): all of it */
                              .from = log && stat(log, &sb) == 0 ? (long long)sb.st_size : 0};
    json_decref(st);
    if (rc == 0)
        rc = rt_start(s, what, &err);
    struct sigaction sa = {.sa_handler = proxy_signal, .sa_flags = SA_RESTART}, old[3];
    static const int proxied[3] = {SIGINT, SIGTERM, SIGHUP};
    sigemptyset(&sa.sa_mask);
    if (rc == 0)
        attached_fd = open_started(s, what);
    bool proxying = rc == 0;
    for (int i = 0; proxying && i < 3; i++)
        sigaction(proxied[i], &sa, &old[i]);
    if (rc == 0)
        rc = rt_logs(s, what, &lo, &err);
    fflush(stdout);
    if (rc == 0)
        rc = rt_wait(s, what, &code, &err);
    for (int i = 0; proxying && i < 3; i++)
        sigaction(proxied[i], &old[i], NULL);
    if (attached_fd >= 0)
        close(attached_fd);
    attached_fd = -1;
    berth_store_close(s);
    return rc < 0 ? cli_fail("start", &err) : code;
}

/* -a follows one container; -i (stdin) is refused rather than ignored. */
int cmd_start(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"attach", no_argument, NULL, 'a'}, {"interactive", no_argument, NULL, 'i'}, {0},
    };
    int c;
    bool attach = false;
    while ((c = getopt_long(argc, argv, "ai", opts, NULL)) != -1) {
        if (c == 'a') {
            attach = true;
            continue;
        }
        if (c == 'i')
            fprintf(stderr, "berth start: -i is not supported: a started container's stdin "
                    "is closed (berth run -i keeps it open)\n");
        return 2;
    }
    if (attach && argc - optind > 1) {
        fprintf(stderr, "berth start: you cannot start and attach multiple containers at "
                "once\n");
        return 2;
    }
    if (attach && optind < argc)
        return start_attached(g, argv[optind]);
    return each_container(g, START, "start", argc, argv, 0);
}

int cmd_kill(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {{"signal", required_argument, NULL, 's'}, {0}};
    int c, sig = SIGKILL;
    while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1)
        if (c != 's' || (sig = rt_signal_parse(optarg)) < 0) {
            /* docker's daemon refuses it: 1, as its other errors */
            fprintf(stderr, "berth kill: Invalid signal: %s\n", c == 's' ? optarg : "?");
            return 1;
        }
    return each_container(g, KILL, "kill", argc, argv, sig);
}

int cmd_rm(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0}};
    int c, force = 0;
    while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        if (c != 'f')
            return 2;
        force = 1;
    }
    return each_container(g, RM, "rm", argc, argv, force);
}

int cmd_wait(struct cli *g, int argc, char **argv)
{
    return each_container(g, WAIT, "wait", argc, argv, 0);
}
