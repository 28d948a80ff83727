/*
 * control.c - what is done to an existing container from the outside:
 * kill, stop, rm, wait, logs. None of it goes through the monitor: signals
 * go to the container's first process (PID 1 of its namespace, so the
 * kernel takes the rest with it), and the monitor's record in state.json
 * says when it is over.
 */
#include "internal.h"

#include <ctype.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool running(json_t *state)
{
    return json_is_true(json_object_get(json_object_get(state, "State"), "Running"));
}

static pid_t pid_of(json_t *state)
{
    return (pid_t)json_integer_value(json_object_get(json_object_get(state, "State"), "Pid"));
}

/* Wait up to `ms` (forever if < 0) for the container to stop running;
 * its state then, or NULL if it is gone (--rm). */
static json_t *wait_stopped(struct berth_store *s, const char *id, long ms)
{
    for (long waited = 0;; waited += 20) {
        json_t *st = state_get(s, id);
        if (!st || !running(st) || (ms >= 0 && waited >= ms))
            return st;
        json_decref(st);
        usleep(20000);
    }
}

int rt_kill(struct berth_store *s, const char *what, int sig, struct berr *err)
{
    char id[RT_ID_LEN + 1];
    json_t *st;
    int rc = state_find(s, what, id, &st, err);
    if (rc < 0)
        return rc;
    if (!running(st))
        rc = berr_set(err, BERR_CONFLICT, "Cannot kill container: %s: Container %s is not running",
                      what, id);
    else if (state_manual_stop(s, id, true), pid_of(st) <= 0)
        ;   /* waiting to be restarted: the mark alone ends it */
    else if (kill(pid_of(st), sig) < 0)
        rc = berr_set(err, BERR_IO, "cannot signal container %s: %s", what, strerror(errno));
    json_decref(st);
    return rc;
}

int rt_signal_parse(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s && !*end)
        return n > 0 && n < NSIG ? (int)n : -1;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (int i = 1; i < NSIG; i++)
        if (sigabbrev_np(i) && strcasecmp(sigabbrev_np(i), s) == 0)
            return i;
    return -1;
}

/* Whether a monitor holds the container's monitor.lock: it does from the
 * moment it starts, before state.json says Running. */
static bool monitor_alive(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/monitor.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

/* Wait (20 s at most) for the container's monitor to be gone: after the
 * end is recorded it still lets go of the ports, mounts, address and
 * cgroup, which the next start or rm needs. */
static void wait_monitor_gone(struct berth_store *s, const char *id)
{
    char dir[4096];
    state_dir(s, id, dir, sizeof dir);
    for (int i = 0; i < 1000 && monitor_alive(dir); i++)
        usleep(20000);
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* A stop in two halves, so that several containers can be signalled at
 * once and then waited for, each until its own deadline: its stop signal
 * now (the returned deadline: when SIGKILL follows), */
static long long stop_begin(struct berth_store *s, const char *id, json_t *st, int timeout)
{
    json_t *config = json_object_get(st, "Config");
    const char *name = json_string_value(json_object_get(config, "StopSignal"));
    int sig = name ? rt_signal_parse(name) : -1;
    json_t *t = json_object_get(config, "StopTimeout");
    if (timeout < 0)
        timeout = json_is_integer(t) && json_integer_value(t) >= 0
                      ? (int)json_integer_value(t) : 10;
    state_manual_stop(s, id, true);
    if (pid_of(st) > 0)   /* 0: waiting to be restarted, which the mark ends */
        kill(pid_of(st), sig > 0 ? sig : SIGTERM);
    return now_ms() + timeout * 1000LL;
}

/* then the wait for it to end, SIGKILL at the deadline. */
static void stop_end(struct berth_store *s, const char *id, long long deadline)
{
    long long left = deadline - now_ms();
    json_t *now = wait_stopped(s, id, left > 0 ? (long)left : 0);
    if (now && running(now)) {   /* its pid again: it may have been restarted meanwhile */
        if (pid_of(now) > 0)
            kill(pid_of(now), SIGKILL);
        json_decref(wait_stopped(s, id, 10000));
    }
    json_decref(now);
    wait_monitor_gone(s, id);
}

static void stop_id(struct berth_store *s, const char *id, json_t *st, int timeout)
{
    stop_end(s, id, stop_begin(s, id, st, timeout));
}

int rt_stop(struct berth_store *s, const char *what, int timeout, struct berr *err)
{
    return rt_stop_all(s, &what, &timeout, 1, err);
}

int rt_stop_all(struct berth_store *s, const char *const *what, const int *timeout, size_t n,
                struct berr *err)
{
    struct stopping {
        char id[RT_ID_LEN + 1];
        long long deadline;   /* 0: nothing to wait for */
    } *c = calloc(n ? n : 1, sizeof *c);
    if (!c)
        return berr_set(err, BERR_IO, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *st;
        struct berr e = {0};
        int r = state_find(s, what[i], c[i].id, &st, &e);
        if (r < 0) {
            if (rc == 0) {
                *err = e;
                rc = r;
            }
            continue;
        }
        if (running(st))
            c[i].deadline = stop_begin(s, c[i].id, st, timeout[i]);
        json_decref(st);
    }
    for (size_t i = 0; i < n; i++)
        if (c[i].deadline)
            stop_end(s, c[i].id, c[i].deadline);
    free(c);
    return rc;
}


int rt_remove(struct berth_store *s, const char *what, bool force, struct berr *err)
{
    char id[RT_ID_LEN + 1], dir[4096];
    json_t *st;
    int rc = state_find(s, what, id, &st, err);
    if (rc < 0)
        return rc;
    /* A container still being started (its monitor alive, not yet Running):
     * removing its directory now would leave its process running with no
     * state to stop it by. Wait until it runs or its monitor is gone. */
    state_dir(s, id, dir, sizeof dir);
    for (int waited = 0; !running(st) && monitor_alive(dir) && waited < 10000; waited += 20) {
        usleep(20000);
        json_t *now = state_get(s, id);
        if (!now)
            break;
        json_decref(st);
        st = now;
    }
    if (running(st) && !force) {
        json_decref(st);
        return berr_set(err, BERR_CONFLICT, "You cannot remove a running container %s. Stop "
                        "the container before attempting removal or force remove", id);
    }
    if (running(st))
        stop_id(s, id, st, 0);
    json_decref(st);
    int lock = state_lock(s);
    state_dir(s, id, dir, sizeof dir);
    cgroup_remove(id);   /* normally gone with the monitor; not if it died */
    rc = rmtree(dir);
    if (lock >= 0)
        close(lock);
    return rc < 0 ? berr_set(err, BERR_IO, "cannot remove %s: %s", dir, strerror(-rc)) : 0;
}

int rt_wait(struct berth_store *s, const char *what, int *code, struct berr *err)
{
    char id[RT_ID_LEN + 1];
    json_t *st;
    int rc = state_find(s, what, id, &st, err);
    if (rc < 0)
        return rc;
    json_decref(st);
    st = wait_stopped(s, id, -1);
    /* removed on exit (--rm): its code is gone with it, as with docker */
    *code = st ? (int)json_integer_value(json_object_get(json_object_get(st, "State"),
                                                         "ExitCode"))
               : 0;
    json_decref(st);
    return 0;
}

/* ---- logs ------------------------------------------------------------------------ */

/* the digits of a fraction of a second, as nanoseconds */
static int64_t fraction_ns(const char **p)
{
    int64_t ns = 0, scale = 100000000;
    if (**p != '.' || !isdigit((unsigned char)(*p)[1]))
        return 0;
    for ((*p)++; isdigit((unsigned char)**p); (*p)++) {
        ns += (**p - '0') * scale;
        scale /= 10;
    }
    return ns;
}

int rt_time_parse(const char *s, int64_t *ns)
{
    const char *p = s;
    if (isdigit((unsigned char)*p) && strspn(s, "0123456789") == strcspn(s, ".")) {
        /* unix seconds[.fraction] */
        char *end;
        long long sec = strtoll(s, &end, 10);
        p = end;
        int64_t frac = fraction_ns(&p);
        if (*p || sec < 0 || sec > 9000000000LL)
            return -1;
        *ns = (int64_t)sec * 1000000000 + frac;
        return 0;
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    bool local = true;
    int64_t frac = 0, offset = 0;
    if (!rest) {   /* a date alone: its midnight */
        memset(&tm, 0, sizeof tm);
        rest = strptime(s, "%Y-%m-%d", &tm);
        if (!rest || *rest)
            return -1;
    } else {
        frac = fraction_ns(&rest);
        if (*rest == 'Z' && !rest[1])
            local = false;
        else if ((*rest == '+' || *rest == '-') && isdigit((unsigned char)rest[1]) &&
                 isdigit((unsigned char)rest[2]) && rest[3] == ':' &&
                 isdigit((unsigned char)rest[4]) && isdigit((unsigned char)rest[5]) && !rest[6]) {
            offset = ((rest[1] - '0') * 10 + rest[2] - '0') * 3600 +
                     ((rest[4] - '0') * 10 + rest[5] - '0') * 60;
            offset = *rest == '-' ? -offset : offset;
            local = false;
        } else if (*rest)
            return -1;
    }
    time_t t;
    if (local) {
        tm.tm_isdst = -1;
        t = mktime(&tm);
    } else
        t = timegm(&tm) - offset;
    *ns = (int64_t)t * 1000000000 + frac;
    return 0;
}

static void print_entry(const char *line, size_t len, const struct rt_logs_opts *o)
{
    json_t *e = json_loadb(line, len, 0, NULL);
    const char *text = json_string_value(json_object_get(e, "log"));
    bool timestamps = o->timestamps;
    if (text && (o->since || o->until)) {   /* --since, --until: by the line's time */
        int64_t t = 0;
        const char *ts = json_string_value(json_object_get(e, "time"));
        if (!ts || rt_time_parse(ts, &t) < 0 || (o->since && t < o->since) ||
            (o->until && t > o->until))
            text = NULL;
    }
    if (text) {
        int fd = strcmp(json_string_value(json_object_get(e, "stream")) ?: "", "stderr") == 0
                     ? 2 : 1;
        if (timestamps) {
            const char *t = json_string_value(json_object_get(e, "time"));
            write_all(fd, t ? t : "", t ? strlen(t) : 0);
            write_all(fd, " ", 1);
        }
        write_all(fd, text, json_string_length(json_object_get(e, "log")));
    }
    json_decref(e);
}

/* Is f the file that `name` is now (or are both missing)? */
static bool same_file(FILE *f, const char *name)
{
    struct stat a, b;
    if (stat(name, &a) < 0)
        return !f;
    return f && fstat(fileno(f), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static void close_files(FILE **f, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (f[k])
            fclose(f[k]);
    free(f);
}

/* The log's files, oldest first (log.json.N ... log.json.1, log.json),
 * opened at once so that a rotation while they are read moves nothing
 * under us. A rotation while they are being opened would give a set with
 * a file missing or counted twice: the names are checked again after and
 * the whole set opened anew until it holds still. *n: how many; NULL
 * entries for files that are not there. */
static FILE **log_files(const char *path, size_t *n)
{
    char name[4200];
    for (int attempt = 0;; attempt++) {
        size_t rotated = 0;
        for (;; rotated++) {
            snprintf(name, sizeof name, "%s.%zu", path, rotated + 1);
            if (access(name, F_OK) != 0)
                break;
        }
        FILE **f = calloc(rotated + 1, sizeof *f);
        if (!f)
            return NULL;
        for (size_t k = 0; k < rotated; k++) {
            snprintf(name, sizeof name, "%s.%zu", path, rotated - k);
            f[k] = fopen(name, "re");
        }
        f[rotated] = fopen(path, "re");
        bool still = same_file(f[rotated], path);
        for (size_t k = 0; still && k < rotated; k++) {
            snprintf(name, sizeof name, "%s.%zu", path, rotated - k);
            still = same_file(f[k], name);
        }
        snprintf(name, sizeof name, "%s.%zu", path, rotated + 1);
        if ((still && access(name, F_OK) != 0) || attempt == 20) {
            *n = rotated + 1;
            return f;
        }
        close_files(f, rotated + 1);
        poll(NULL, 0, 5);
    }
}

/* Following log.json: has it been rotated away (a new file under its
 * name), or emptied (max-file 1, then it is read again from its start)? */
static bool log_rotated(FILE *f, const char *path)
{
    struct stat now, ours;
    if (stat(path, &now) < 0)
        return false;
    if (!f || fstat(fileno(f), &ours) < 0)
        return true;
    if (now.st_ino != ours.st_ino || now.st_dev != ours.st_dev)
        return true;
    if (now.st_size < ftell(f))
        rewind(f);
    return false;
}

/* Print the complete lines of f from where it is; a line still being
 * written is left for the next call. */
static void print_lines(FILE *f, char **line, size_t *cap, const struct rt_logs_opts *o)
{
    ssize_t n;
    while (f && (n = getline(line, cap, f)) > 0) {
        if ((*line)[n - 1] != '\n') {
            fseek(f, -n, SEEK_CUR);
            break;
        }
        print_entry(*line, (size_t)n, o);
    }
    if (f)
        clearerr(f);
}

int rt_logs(struct berth_store *s, const char *what, const struct rt_logs_opts *o,
            struct berr *err)
{
    char id[RT_ID_LEN + 1], path[4096];
    json_t *st;
    int rc = state_find(s, what, id, &st, err);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof path, "%s", json_string_value(json_object_get(st, "LogPath")) ?: "");
    json_decref(st);
    size_t nf = 0;
    FILE **files = log_files(path, &nf);
    if (!files)
        return berr_set(err, BERR_IO, "out of memory");
    char *line = NULL;
    size_t cap = 0;
    if (o->tail >= 0) {   /* skip to the last `tail` lines, of whichever files */
        long total = 0, skip;
        for (size_t k = 0; k < nf; k++)
            while (files[k] && getline(&line, &cap, files[k]) > 0)
                total++;
        skip = total - o->tail;
        for (size_t k = 0; k < nf; k++) {
            if (files[k])
                rewind(files[k]);
            while (skip > 0 && files[k] && getline(&line, &cap, files[k]) > 0)
                skip--;
        }
    }
    if (o->from > 0) {
        /* the current file past `from`. One smaller than `from` rotated
         * after it was measured: the newest rotated file was the current
         * one then, printed past `from` (all of it when it is smaller
         * too: it rotated more than once), then all of the current. */
        struct stat sb;
        for (size_t k = 0; k + 1 < nf; k++)
            if (files[k])
                fseek(files[k], 0, SEEK_END);
        FILE *cur = files[nf - 1], *prev = nf > 1 ? files[nf - 2] : NULL;
        if (cur && fstat(fileno(cur), &sb) == 0 && sb.st_size >= o->from)
            fseek(cur, (long)o->from, SEEK_SET);
        else if (prev && fstat(fileno(prev), &sb) == 0)
            fseek(prev, sb.st_size >= o->from ? (long)o->from : 0, SEEK_SET);
    }
    for (size_t k = 0; k + 1 < nf; k++)
        print_lines(files[k], &line, &cap, o);
    FILE *f = files[nf - 1];
    bool follow = o->follow;
    for (;;) {
        print_lines(f, &line, &cap, o);
        if (log_rotated(f, path)) {
            /* nothing more is written to the old file once it is renamed:
             * what came after the read above is still to print */
            print_lines(f, &line, &cap, o);
            if (f)
                fclose(f);
            f = fopen(path, "re");
            continue;
        }
        if (!follow)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (o->until && (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec > o->until)
            break;   /* nothing later is to be shown */
        json_t *now = state_get(s, id);
        bool more = now && running(now);
        json_decref(now);
        if (!more) {
            follow = false;   /* one last pass */
            continue;
        }
        poll(NULL, 0, 100);
    }
    free(line);
    if (f)
        fclose(f);
    files[nf - 1] = NULL;   /* f, closed above */
    close_files(files, nf);
    return 0;
}
