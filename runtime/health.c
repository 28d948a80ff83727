/*
 * health.c - a container's health check, as docker runs it, from its
 * monitor. Config.Healthcheck (the image's HEALTHCHECK with `run`'s
 * --health-* on top) says what to run and when: every Interval a probe
 * runs inside the container the way `berth exec` runs a process (a child
 * of the monitor calls rt_exec, its stdout and stderr into a pipe read
 * here), and is ended when it passes Timeout, with every process it
 * started (kill_tree: each by a pidfd, opened before its start time is
 * checked again, so a pid reused since the scan is never signalled). Exit 0 is a pass; anything
 * else, or the timeout, a failure. State.Health is docker's: Status
 * "starting" until the first pass, "healthy" after a pass, "unhealthy"
 * after Retries failures in a row (failures inside StartPeriod do not
 * count), FailingStreak, and the last 5 probes in Log. The monitor
 * writes each change to state.json, where `ps` and `inspect` read it.
 */
#include "internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECOND 1000000000LL
#define LOG_KEPT 5           /* docker's maxLogEntries */

int rt_duration_parse(const char *s, int64_t *ns, struct berr *err)
{
    static const struct { const char *unit; double ns; } units[] = {
        {"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    double total = 0;
    const char *p = s;
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    while (*p) {
        char *end;
        if (!isdigit((unsigned char)*p) && *p != '.')
            break;
        double v = strtod(p, &end);
        if (end == p)
            break;
        size_t best = 0, k = 0;
        for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
            size_t n = strlen(units[i].unit);
            if (strncmp(end, units[i].unit, n) == 0 && n > best)
                best = n, k = i;
        }
        if (best == 0)
            break;
        total += v * units[k].ns;
        p = end + best;
    }
    if (*p || p == s || total > 9e18)
        return berr_set(err, BERR_INVALID, "invalid duration: '%s' (a number and a unit: "
                        "500ms, 30s, 1m30s, 2h)", s);
    *ns = (int64_t)total;
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SECOND + ts.tv_nsec;
}

static int64_t field(json_t *hc, const char *key, int64_t dflt)
{
    json_int_t v = json_integer_value(json_object_get(hc, key));
    return v > 0 ? (int64_t)v : dflt;
}

static void write_state(struct rt_container *c)
{
    struct berr err = {0};
    state_write(c->s, c->id, c->state, &err);
}

void health_start(struct health *h, struct rt_container *c)
{
    free(h->argv);
    *h = (struct health){.out = -1};
    json_t *hc = json_object_get(json_object_get(c->state, "Config"), "Healthcheck");
    json_t *test = json_object_get(hc, "Test");
    const char *kind = json_string_value(json_array_get(test, 0));
    size_t n = json_array_size(test);
    if (!kind || (strcmp(kind, "CMD") != 0 && strcmp(kind, "CMD-SHELL") != 0) || n < 2)
        return;   /* none, or NONE */
    h->argv = calloc(n + 2, sizeof *h->argv);
    if (!h->argv)
        return;
    if (strcmp(kind, "CMD-SHELL") == 0) {
        h->argv[0] = "/bin/sh";
        h->argv[1] = "-c";
        h->argv[2] = (char *)json_string_value(json_array_get(test, 1));
    } else
        for (size_t i = 1; i < n; i++)
            h->argv[i - 1] = (char *)json_string_value(json_array_get(test, i));
    h->on = true;
    h->interval = field(hc, "Interval", 30 * SECOND);
    h->timeout = field(hc, "Timeout", 30 * SECOND);
    h->start_period = field(hc, "StartPeriod", 0);
    h->retries = (int)field(hc, "Retries", 3);
    h->started = now_ns();
    h->next = h->started + h->interval;
    json_t *st = json_object_get(c->state, "State");
    json_t *old = json_object_get(json_object_get(st, "Health"), "Log");
    json_t *log = json_is_array(old) ? json_incref(old) : json_array();
    json_object_set_new(st, "Health", json_pack("{s:s,s:i,s:o}", "Status", "starting",
                                                "FailingStreak", 0, "Log", log));
    write_state(c);
}

int health_fd(const struct health *h)
{
    return h->on && h->pid > 0 ? h->out : -1;
}

int health_wait_ms(const struct health *h)
{
    if (!h->on)
        return -1;
    int64_t when = h->pid <= 0 ? h->next : h->timed_out ? h->kill_at : h->deadline;
    int64_t ms = (when - now_ns()) / 1000000 + 1;
    return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

/* One probe's end: the log, the streak, the status, as docker's
 * handleProbeResult. */
static void record(struct health *h, struct rt_container *c, int code, const char *output)
{
    json_t *health = json_object_get(json_object_get(c->state, "State"), "Health");
    json_t *log = json_object_get(health, "Log");
    char end[64];
    rfc3339_now(end, sizeof end);
    char clean[sizeof h->buf + 1];
    size_t n = 0;
    for (const char *p = output; *p && n < sizeof clean - 1; p++)   /* JSON takes UTF-8 */
        clean[n++] = (unsigned char)*p < 0x80 ? *p : '?';
    clean[n] = '\0';
    json_array_append_new(log, json_pack("{s:s,s:s,s:i,s:s}", "Start", h->begun, "End", end,
                                         "ExitCode", code, "Output", clean));
    while (json_array_size(log) > LOG_KEPT)
        json_array_remove(log, 0);
    json_int_t streak = json_integer_value(json_object_get(health, "FailingStreak"));
    if (code == 0) {
        json_object_set_new(health, "Status", json_string("healthy"));
        json_object_set_new(health, "FailingStreak", json_integer(0));
    } else if (now_ns() - h->started >= h->start_period) {
        json_object_set_new(health, "FailingStreak", json_integer(++streak));
        if (streak >= h->retries)
            json_object_set_new(health, "Status", json_string("unhealthy"));
    }
    write_state(c);
}

static void probe_run(struct health *h, struct rt_container *c)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return;
    rfc3339_now(h->begun, sizeof h->begun);
    pid_t pid = fork();
    if (pid == 0) {
        int in = rt_null_stdin();
        if (in < 0 || dup2(in, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(125);
        /* nothing of the monitor's (published ports' listeners above all:
         * a start after the container stops binds them again) */
        close_range(3, ~0U, 0);
        struct rt_exec_opts x = {.argv = h->argv, .die_with_caller = true};
        struct berr err = {0};
        int status = 125;
        if (rt_exec(c->s, c->id, &x, &status, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            status = 125;
        }
        _exit(status);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return;
    }
    h->pid = pid;
    h->out = p[0];
    fcntl(h->out, F_SETFL, fcntl(h->out, F_GETFL) | O_NONBLOCK);
    h->len = 0;
    h->timed_out = false;
    h->deadline = now_ns() + h->timeout;
}

void health_read(struct health *h)
{
    char buf[4096];
    ssize_t n = read(h->out, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(h->out);
        h->out = -1;
        return;
    }
    size_t room = sizeof h->buf - 1 - h->len;   /* docker keeps the first 4 KiB */
    size_t k = (size_t)n < room ? (size_t)n : room;
    memcpy(h->buf + h->len, buf, k);
    h->len += k;
}

/* The probe and everything it started, wherever it runs now. Each step of
 * rt_exec makes a session of its own (setsid), and a probe run as another
 * user loses die_with_caller's signal when it changes user, so killing
 * the probe's first process is not enough: every descendant of `root`,
 * and every process of a session one of them leads (what a shell put in
 * the background and whose parent has gone), is killed. Repeated while
 * something is found, for what forks in between. */
static void kill_tree(pid_t root)
{
    for (int pass = 0; pass < 10; pass++) {
        DIR *d = opendir("/proc");
        if (!d)
            return;
        size_t n = 0, cap = 0;
        struct proc { pid_t pid, ppid, sid; bool mine; unsigned long long start; } *ps = NULL;
        struct dirent *e;
        while ((e = readdir(d))) {
            char path[300], buf[512];
            if (!isdigit((unsigned char)e->d_name[0]))
                continue;
            snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            ssize_t len = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (len <= 0)
                continue;
            buf[len] = '\0';
            /* pid (comm) state ppid pgrp session: comm may hold ')' */
            char *rp = strrchr(buf, ')'), st;
            int pid = atoi(buf), ppid, pgrp, sid;
            if (!rp || sscanf(rp + 1, " %c %d %d %d", &st, &ppid, &pgrp, &sid) != 4)
                continue;
            if (n == cap) {
                struct proc *more = realloc(ps, (cap = cap ? cap * 2 : 256) * sizeof *ps);
                if (!more)
                    break;
                ps = more;
            }
            ps[n++] = (struct proc){pid, ppid, sid, pid == root, proc_start_time(pid)};
        }
        closedir(d);
        bool grew = true;
        while (grew) {
            grew = false;
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; !ps[i].mine && j < n; j++)
                    if (ps[j].mine && (ps[i].ppid == ps[j].pid ||
                                       (ps[i].sid == ps[j].pid && ps[j].sid == ps[j].pid)))
                        ps[i].mine = grew = true;
        }
        int killed = 0;
        for (size_t i = 0; i < n; i++) {
            if (!ps[i].mine || ps[i].pid == root || ps[i].start == 0)
                continue;
            /* the process the scan saw, not one that took its pid since:
             * the same start time read once the pidfd holds it */
            int fd = pidfd_open(ps[i].pid, 0);
            if (fd < 0)
                continue;
            if (proc_start_time(ps[i].pid) == ps[i].start &&
                pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0)
                killed++;
            close(fd);
        }
        free(ps);
        if (!killed)
            return;
    }
}

void health_due(struct health *h, struct rt_container *c)
{
    if (!h->on)
        return;
    int64_t now = now_ns();
    if (h->pid <= 0 && now >= h->next)
        probe_run(h, c);
    else if (h->pid > 0 && !h->timed_out && now >= h->deadline) {
        kill_tree(h->pid);
        kill(h->pid, SIGKILL);
        h->timed_out = true;
        h->kill_at = now + SECOND;
        char msg[128];
        snprintf(msg, sizeof msg, "Health check exceeded timeout (%llds)",
                 (long long)(h->timeout / SECOND));
        if (h->timeout % SECOND)
            snprintf(msg, sizeof msg, "Health check exceeded timeout (%lldms)",
                     (long long)(h->timeout / 1000000));
        record(h, c, -1, msg);
    } else if (h->pid > 0 && h->timed_out && now >= h->kill_at) {
        kill(h->pid, SIGKILL);
        h->kill_at = now + 60 * SECOND;
    }
}

bool health_reaped(struct health *h, struct rt_container *c, pid_t pid, int ws)
{
    if (!h->on || pid != h->pid)
        return false;
    while (h->out >= 0) {   /* what it wrote before it ended */
        size_t before = h->len;
        health_read(h);
        if (h->out >= 0 && h->len == before)
            break;
    }
    if (h->out >= 0)
        close(h->out);
    h->out = -1;
    h->pid = 0;
    h->buf[h->len] = '\0';
    if (!h->timed_out)
        record(h, c, WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws), h->buf);
    h->next = now_ns() + h->interval;
    return true;
}

void health_stop(struct health *h, struct rt_container *c)
{
    (void)c;
    if (h->pid > 0) {
        kill_tree(h->pid);
        kill(h->pid, SIGKILL);
        waitpid(h->pid, NULL, 0);
    }
    if (h->out >= 0)
        close(h->out);
    free(h->argv);
    *h = (struct health){.out = -1};
}
