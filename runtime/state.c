/*
 * state.c - where containers are recorded: <store>/containers/<id>/
 * state.json, in the shape `docker inspect` prints. It is written whole
 * (temp file, fsync, rename) by `run` when the container is created and
 * by its monitor when the container starts and ends; readers never see a
 * half-written one. Creating a container (its name must be unique) and
 * removing one hold <store>/containers/lock.
 *
 * The user's `stop` or `kill` is recorded (stopped-by-user) before the
 * signal is sent: the monitor reads it when the process ends and does
 * not apply the restart policy.
 *
 * A monitor that died (killed, or the machine rebooted) cannot record the
 * end; readers then see the container as exited, never as running: the
 * monitor is identified by pid and start time, so a reused pid does not
 * pass for it.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

void state_dir(struct berth_store *s, const char *id, char *out, size_t len)
{
    if (id)
        snprintf(out, len, "%s/containers/%s", berth_store_root(s), id);
    else
        snprintf(out, len, "%s/containers", berth_store_root(s));
}

int state_lock(struct berth_store *s)
{
    char path[4096];
    state_dir(s, NULL, path, sizeof path);
    mkdir_p(path, 0700);
    size_t n = strlen(path);
    if (buf_appendf(path, sizeof path, &n, "/lock") < 0)
        return -1;   /* a cut-off path would lock some other file */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A file beside state.json rather than a field of it: the monitor owns
 * state.json and writes it whole, a field set by `stop` would be lost. */
void state_manual_stop(struct berth_store *s, const char *id, bool stopped)
{
    char path[4096];
    state_dir(s, id, path, sizeof path);
    size_t n = strlen(path);
    if (buf_appendf(path, sizeof path, &n, "/stopped-by-user") < 0)
        return;
    if (!stopped) {
        unlink(path);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

bool state_manually_stopped(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/stopped-by-user", dir);
    return access(path, F_OK) == 0;
}

void rfc3339_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_appendf(out, len, &n, ".%09ldZ", ts.tv_nsec);
}

void state_ports_clear(json_t *state)
{
    json_t *ns = json_object_get(state, "NetworkSettings");
    json_t *ports = json_object_get(ns, "Ports");
    if (!json_is_object(ports) || json_object_size(ports) == 0)
        return;
    json_t *b = json_object_get(state, "Berth");
    if (json_is_object(b))
        json_object_set(b, "LastPorts", ports);
    json_object_set_new(ns, "Ports", json_object());
}

/* Is the monitor recorded in state alive (same pid, same start time)? */
static bool state_monitor_alive(json_t *state)
{
    json_t *b = json_object_get(state, "Berth");
    pid_t pid = (pid_t)json_integer_value(json_object_get(b, "MonitorPid"));
    json_int_t start = json_integer_value(json_object_get(b, "MonitorStart"));
    return pid > 0 && proc_start_time(pid) == (unsigned long long)start;
}

json_t *state_get(struct berth_store *s, const char *id)
{
    char path[4096];
    state_dir(s, id, path, sizeof path);
    size_t n = strlen(path);
    if (buf_appendf(path, sizeof path, &n, "/state.json") < 0)
        return NULL;
    json_t *st = json_load_file(path, 0, NULL);
    if (!st)
        return NULL;
    json_t *state = json_object_get(st, "State");
    if (json_is_true(json_object_get(state, "Running")) && !state_monitor_alive(st)) {
        json_object_set_new(state, "Status", json_string("exited"));
        json_object_set_new(state, "Running", json_false());
        json_object_set_new(state, "Restarting", json_false());
        json_object_set_new(state, "Pid", json_integer(0));
        json_object_set_new(state, "ExitCode", json_integer(255));
        json_object_set_new(state, "Error", json_string("the container's monitor died"));
        state_ports_clear(st);
    }
    return st;
}

int state_write(struct berth_store *s, const char *id, json_t *state, struct berr *err)
{
    char path[4096], tmp[4200];
    state_dir(s, id, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s/.state.json.%d", path, (int)getpid());
    size_t n = strlen(path);
    if (buf_appendf(path, sizeof path, &n, "/state.json") < 0)
        return berr_set(err, BERR_TOOBIG, "state directory path too long: %s", path);
    /* with the networks as `network connect` may have changed them since
     * this copy was read */
    return net_state_write(path, tmp, state, err);
}

static bool is_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == RT_ID_LEN;
}

/* Every container's state, newest first. */
static json_t *state_all(struct berth_store *s)
{
    char path[4096];
    state_dir(s, NULL, path, sizeof path);
    json_t *all = json_array();
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        json_t *st = is_id(e->d_name) ? state_get(s, e->d_name) : NULL;
        if (!st)
            continue;
        const char *created = json_string_value(json_object_get(st, "Created"));
        size_t i = 0;
        for (; i < json_array_size(all); i++) {
            const char *c = json_string_value(json_object_get(json_array_get(all, i), "Created"));
            if (created && c && strcmp(created, c) > 0)
                break;
        }
        json_array_insert_new(all, i, st);
    }
    if (d)
        closedir(d);
    return all;
}

int state_find(struct berth_store *s, const char *what, char id[RT_ID_LEN + 1],
               json_t **state, struct berr *err)
{
    json_t *all = state_all(s), *found = NULL, *st;
    size_t i, n = strlen(what), matches = 0;
    const char *name = what[0] == '/' ? what + 1 : what;
    /* a full id, then a name, then an id prefix (docker's order) */
    for (int pass = 0; pass < 3 && !found; pass++)
        json_array_foreach(all, i, st) {
            const char *cid = json_string_value(json_object_get(st, "Id"));
            const char *cname = json_string_value(json_object_get(st, "Name"));
            bool hit = pass == 0 ? strcmp(cid, what) == 0
                     : pass == 1 ? cname && strcmp(cname + 1, name) == 0
                                 : n > 0 && strncmp(cid, what, n) == 0;
            if (hit) {
                matches++;
                found = found ? found : st;
            }
        }
    if (!found || matches > 1) {
        json_decref(all);
        return found ? berr_set(err, BERR_CONFLICT,
                                "multiple IDs found with provided prefix: %s", what)
                     : berr_set(err, BERR_NOTFOUND, "No such container: %s", what);
    }
    snprintf(id, RT_ID_LEN + 1, "%s", json_string_value(json_object_get(found, "Id")));
    *state = json_incref(found);
    json_decref(all);
    return 0;
}

int rt_inspect(struct berth_store *s, const char *what, json_t **state, struct berr *err)
{
    char id[RT_ID_LEN + 1];
    return state_find(s, what, id, state, err);
}

int rt_list(struct berth_store *s, bool all, rt_container_fn each, void *arg,
            struct berr *err)
{
    (void)err;
    json_t *list = state_all(s), *st;
    size_t i;
    int rc = 0;
    json_array_foreach(list, i, st)
        if (all || json_is_true(json_object_get(json_object_get(st, "State"), "Running")))
            if ((rc = each(arg, st)) != 0)
                break;
    json_decref(list);
    return rc;
}
