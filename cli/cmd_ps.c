/*
 * cmd_ps.c - berth ps, logs, stop, kill, rm, wait, start and restart: the
 * containers that `berth run` made, by id, id prefix or name, as docker
 * shows them.
 */
#include "builtin.h"
#include "../runtime/runtime.h"

#include <getopt.h>
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
};

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
        {"no-trunc", no_argument, NULL, 'T'}, {"format", required_argument, NULL, 'F'}, {0},
    };
    struct ps p = {0};
    bool all = false;
    const char *format = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "aq", opts, NULL)) != -1) {
        if (c == 'a')
            all = true;
        else if (c == 'F')
            format = strcmp(optarg, "table") == 0 || !*optarg ? NULL : optarg;
        else if (c == 'q')
            p.quiet = true;
        else if (c == 'T')
            p.no_trunc = true;
        else
            return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: berth ps [-a] [-q] [--no-trunc] [--format TEMPLATE]\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
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
        berth_store_close(s);
        return rc;
    }
    if (!p.quiet)
        cli_table_print(p.rows);
    json_decref(p.rows);
    berth_store_close(s);
    return 0;
}

int cmd_logs(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'}, {"timestamps", no_argument, NULL, 't'},
        {"tail", required_argument, NULL, 'n'}, {0},
    };
    struct rt_logs_opts o = {.tail = -1};
    int c;
    while ((c = getopt_long(argc, argv, "ftn:", opts, NULL)) != -1) {
        if (c == 'f')
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
        fprintf(stderr, "usage: berth logs [-f] [-t] [--tail N] CONTAINER\n");
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
        if (rc < 0)
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
            fprintf(stderr, "berth kill: invalid signal: %s\n", c == 's' ? optarg : "?");
            return 2;
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
