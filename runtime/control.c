/*
 * control.c - what is done to an existing container from the outside:
 * kill, stop, rm, wait, logs. None of it goes through the monitor: signals
 * go to the container's first process (PID 1 of its namespace, so the
 * kernel takes the rest with it), and the monitor's record in state.json
 * says when it is over.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
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
        rc = berr_set(err, BERR_CONFLICT, "Container %s is not running", what);
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

static int stop_id(struct berth_store *s, const char *id, json_t *st, int timeout)
{
    const char *name = json_string_value(json_object_get(json_object_get(st, "Config"),
                                                         "StopSignal"));
    int sig = name ? rt_signal_parse(name) : -1;
    kill(pid_of(st), sig > 0 ? sig : SIGTERM);
    json_t *now = wait_stopped(s, id, timeout * 1000L);
    if (now && running(now)) {
        kill(pid_of(now), SIGKILL);
        json_decref(wait_stopped(s, id, 10000));
    }
    json_decref(now);
    return 0;
}

int rt_stop(struct berth_store *s, const char *what, int timeout, struct berr *err)
{
    char id[RT_ID_LEN + 1];
    json_t *st;
    int rc = state_find(s, what, id, &st, err);
    if (rc == 0 && running(st))
        rc = stop_id(s, id, st, timeout);
    json_decref(st);
    return rc;
}

int rt_remove(struct berth_store *s, const char *what, bool force, struct berr *err)
{
    char id[RT_ID_LEN + 1], dir[4096];
    json_t *st;
    int rc = state_find(s, what, id, &st, err);
    if (rc < 0)
        return rc;
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

static void print_entry(const char *line, size_t len, bool timestamps)
{
    json_t *e = json_loadb(line, len, 0, NULL);
    const char *text = json_string_value(json_object_get(e, "log"));
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

int rt_logs(struct berth_store *s, const char *what, const struct rt_logs_opts *o,
            struct berr *err)
{
    char id[RT_ID_LEN + 1];
    json_t *st;
    int rc = state_find(s, what, id, &st, err);
    if (rc < 0)
        return rc;
    FILE *f = fopen(json_string_value(json_object_get(st, "LogPath")), "re");
    json_decref(st);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (f && o->tail >= 0) {   /* skip to the last `tail` lines */
        long total = 0, skip;
        while (getline(&line, &cap, f) > 0)
            total++;
        rewind(f);
        for (skip = total - o->tail; skip > 0 && getline(&line, &cap, f) > 0; skip--)
            ;
    }
    for (;;) {
        while (f && (n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] != '\n') {   /* a line still being written */
                fseek(f, -n, SEEK_CUR);
                break;
            }
            print_entry(line, (size_t)n, o->timestamps);
        }
        if (!o->follow)
            break;
        json_t *now = state_get(s, id);
        bool more = now && running(now);
        json_decref(now);
        if (!more) {
            o = &(struct rt_logs_opts){.timestamps = o->timestamps};   /* one last pass */
            continue;
        }
        if (f)
            clearerr(f);
        poll(NULL, 0, 100);
    }
    free(line);
    if (f)
        fclose(f);
    return 0;
}
