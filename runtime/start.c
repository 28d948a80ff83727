/*
 * start.c - `berth start` and `berth restart`: an existing container that
 * has stopped is started again by a new monitor, detached. Everything is
 * rebuilt from its state.json (Config for the process; HostConfig for
 * binds, published ports, limits, read-only root, log options, restart
 * policy; the networks it is on), so that a container runs again the way
 * it was made: same overlay upper directory, same volumes, same ports (a
 * random one is the one it had while that is free).
 * The user's stop mark is cleared first, so that its restart policy
 * applies again, as docker's start does.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rt_restart_parse(const char *s, char name[16], int *max, struct berr *err)
{
    *max = 0;
    if (strcmp(s, "no") == 0 || strcmp(s, "always") == 0 || strcmp(s, "unless-stopped") == 0) {
        snprintf(name, 16, "%s", s);
        return 0;
    }
    if (strncmp(s, "on-failure", 10) == 0 && (s[10] == '\0' || s[10] == ':')) {
        snprintf(name, 16, "on-failure");
        if (s[10] == '\0')
            return 0;
        char *end;
        long n = strtol(s + 11, &end, 10);
        if (isdigit((unsigned char)s[11]) && !*end && n >= 0 && n <= 1000000) {
            *max = (int)n;
            return 0;
        }
        return berr_set(err, BERR_INVALID, "invalid restart policy: maximum retry count must "
                        "be a number from 0 up: '%s'", s + 11);
    }
    if (strchr(s, ':') && (strncmp(s, "always:", 7) == 0 || strncmp(s, "no:", 3) == 0 ||
                           strncmp(s, "unless-stopped:", 15) == 0))
        return berr_set(err, BERR_INVALID, "invalid restart policy '%s': maximum retry count "
                        "can only be used with 'on-failure'", s);
    return berr_set(err, BERR_INVALID, "invalid restart policy '%s' (no, always, "
                    "on-failure[:N], unless-stopped)", s);
}

/* The options a container was made with, from its state document. The
 * strings point into `st`; volumes are allocated (free them). */
static int opts_from_state(json_t *st, struct rt_run_opts *o, struct rt_volume *vols,
                           struct rt_port *ports, char *restart, size_t rlen,
                           struct berr *err)
{
    json_t *config = json_object_get(st, "Config"), *host = json_object_get(st, "HostConfig");
    json_t *v;
    size_t i;
    int rc = 0;
    o->image = json_string_value(json_object_get(config, "Image"));
    o->tty = json_is_true(json_object_get(config, "Tty"));
    o->interactive = json_is_true(json_object_get(config, "OpenStdin"));
    o->detach = true;
    o->auto_remove = json_is_true(json_object_get(host, "AutoRemove"));
    o->read_only = json_is_true(json_object_get(host, "ReadonlyRootfs"));
    o->memory = json_integer_value(json_object_get(host, "Memory"));
    o->cpu_quota = json_integer_value(json_object_get(host, "NanoCpus")) / 10000;
    o->pids_limit = json_integer_value(json_object_get(host, "PidsLimit"));
    const char *mode = json_string_value(json_object_get(host, "NetworkMode"));
    o->network_host = mode && strcmp(mode, "host") == 0;
    o->network_none = mode && strcmp(mode, "none") == 0;
    /* the user-defined networks are joined again from
     * NetworkSettings.Networks by the monitor (net_join) */
    json_array_foreach(json_object_get(host, "Binds"), i, v) {
        if (o->nvolumes == 64 || !json_is_string(v))
            return berr_set(err, BERR_INVALID, "the container's HostConfig.Binds is not valid");
        if ((rc = rt_volume_parse(json_string_value(v), &vols[o->nvolumes], err)) < 0)
            return rc;
        o->nvolumes++;
    }
    o->volumes = vols;
    const char *key;
    json_object_foreach(json_object_get(host, "PortBindings"), key, v) {
        json_t *b;
        json_array_foreach(v, i, b) {
            char spec[128];
            snprintf(spec, sizeof spec, "%s:%s:%.*s",
                     json_string_value(json_object_get(b, "HostIp")) ?: "0.0.0.0",
                     json_string_value(json_object_get(b, "HostPort")) ?: "",
                     (int)strcspn(key, "/"), key);
            if (o->nports == 64)
                return berr_set(err, BERR_INVALID, "too many published ports");
            if ((rc = rt_port_parse(spec, &ports[o->nports], err)) < 0)
                return rc;
            o->nports++;
        }
    }
    o->ports = ports;
    if (rc == 0 && json_is_true(json_object_get(host, "PublishAllPorts")))
        rc = ports_publish_all(ports, &o->nports, 64, json_object_get(config, "ExposedPorts"),
                               err);
    /* a random port tries the one it had before first */
    json_t *had = json_object_get(json_object_get(st, "Berth"), "LastPorts");
    for (size_t k = 0; rc == 0 && k < o->nports; k++) {
        char key[32];
        snprintf(key, sizeof key, "%u/tcp", ports[k].ctr_port);
        json_t *b;
        json_array_foreach(ports[k].random ? json_object_get(had, key) : NULL, i, b) {
            const char *ip = json_string_value(json_object_get(b, "HostIp"));
            long hp = atol(json_string_value(json_object_get(b, "HostPort")) ?: "");
            bool taken = !ip || strcmp(ip, ports[k].host_ip) != 0 || hp < 1 || hp > 65535;
            for (size_t j = 0; j < k && !taken; j++)
                taken = ports[j].host_port == hp && strcmp(ports[j].host_ip, ip) == 0;
            if (!taken) {
                ports[k].host_port = (uint16_t)hp;
                break;
            }
        }
    }
    json_t *log = json_object_get(json_object_get(host, "LogConfig"), "Config");
    const char *size = json_string_value(json_object_get(log, "max-size"));
    const char *files = json_string_value(json_object_get(log, "max-file"));
    char opt[80];
    if (size && rc == 0) {
        snprintf(opt, sizeof opt, "max-size=%s", size);
        rc = rt_log_opt_parse(opt, o, err);
    }
    if (files && rc == 0) {
        snprintf(opt, sizeof opt, "max-file=%s", files);
        rc = rt_log_opt_parse(opt, o, err);
    }
    if (o->log_max_size <= 0)
        o->log_max_size = 20 * 1000 * 1000;
    if (o->log_max_file <= 0)
        o->log_max_file = 5;
    json_t *policy = json_object_get(host, "RestartPolicy");
    const char *name = json_string_value(json_object_get(policy, "Name"));
    json_int_t max = json_integer_value(json_object_get(policy, "MaximumRetryCount"));
    if (name && strcmp(name, "on-failure") == 0 && max > 0)
        snprintf(restart, rlen, "on-failure:%lld", (long long)max);
    else
        snprintf(restart, rlen, "%s", name ? name : "no");
    o->restart = restart;
    return rc;
}

static bool running(json_t *st)
{
    return json_is_true(json_object_get(json_object_get(st, "State"), "Running"));
}

static int start_one(struct berth_store *s, const char *what, struct berr *err)
{
    char id[RT_ID_LEN + 1], dir[4096];
    json_t *st;
    int rc = state_find(s, what, id, &st, err);
    if (rc < 0)
        return rc;
    /* the last monitor may still be finishing (it has recorded the end,
     * its network and cgroup are not let go yet): wait until it is gone;
     * one that another start made means it runs */
    state_dir(s, id, dir, sizeof dir);
    int lock = -1;
    for (int tries = 0; !running(st) && (lock = monitor_lock(dir)) < 0; tries++) {
        if (tries == 1000) {
            json_decref(st);
            return berr_set(err, BERR_CONFLICT, "container %s: its monitor has not ended", what);
        }
        usleep(20000);
        json_decref(st);
        if (!(st = state_get(s, id)))
            return berr_set(err, BERR_NOTFOUND, "No such container: %s", what);
    }
    if (lock >= 0) {   /* no monitor: what it last recorded is what is */
        json_decref(st);
        st = state_get(s, id);
    }
    if (!st || running(st)) {
        if (lock >= 0)
            close(lock);
        json_decref(st);
        return st ? 0 : berr_set(err, BERR_NOTFOUND, "No such container: %s", what);
    }
    struct rt_run_opts o = {0};
    struct rt_volume vols[64];
    struct rt_port ports[64];
    char restart[64], layers_dir[4096];
    struct rt_container c = {.s = s, .o = &o, .pin = -1, .state = st, .monitor_lock = lock,
                             .term = -1};
    int listeners[64];
    size_t nlisteners = 0;
    snprintf(c.id, sizeof c.id, "%s", id);
    state_dir(s, id, c.dir, sizeof c.dir);
    snprintf(layers_dir, sizeof layers_dir, "%s/layers", berth_store_root(s));
    rc = opts_from_state(st, &o, vols, ports, restart, sizeof restart, err);
    /* named volumes and --mount's, as run mounted them */
    struct host_binds *binds = calloc(1, sizeof *binds);
    if (rc == 0 && !binds)
        rc = berr_set(err, BERR_IO, "out of memory");
    if (rc == 0)
        rc = host_binds_make(s, o.volumes, o.nvolumes, json_object_get(st, "HostConfig"), binds,
                             err);
    if (rc == 0) {
        o.volumes = binds->v;
        o.nvolumes = binds->n;
    }
    json_t *layers = json_object_get(json_object_get(st, "Berth"), "Layers");
    char **lower = calloc(json_array_size(layers) + 1, sizeof *lower);
    if (rc == 0 && !lower)
        rc = berr_set(err, BERR_IO, "out of memory");
    /* held until the overlay is mounted: a prune must not take the layers */
    if (rc == 0 && (c.pin = rt_layers_pin(s, err)) < 0)
        rc = c.pin;
    size_t i;
    json_t *v;
    json_array_foreach(rc == 0 ? layers : NULL, i, v) {
        const char *name = json_string_value(v);
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", layers_dir, name ? name : "");
        if (!name || strchr(name, '/') || name[0] == '.' || access(dir, F_OK) != 0) {
            rc = berr_set(err, BERR_NOTFOUND, "the container's layer %s is missing from "
                          "the store", name ? name : "?");
            break;
        }
        lower[i] = (char *)name;
    }
    for (size_t k = 0; rc == 0 && !o.network_host && k < o.nports; k++) {
        rc = ports_listen(&o.ports[k], err);
        if (rc >= 0)
            listeners[nlisteners++] = rc, rc = 0;
    }
    for (size_t k = 0; rc == 0 && k < o.nvolumes; k++)
        if (mkdir_p(o.volumes[k].host, 0755) < 0 && errno != EEXIST)
            rc = berr_set(err, BERR_INVALID, "invalid mount config: cannot create bind source "
                          "path %s: %s", o.volumes[k].host, strerror(errno));
    if (rc == 0 && !o.network_host)   /* the random ones may have changed */
        json_object_set_new(json_object_get(st, "NetworkSettings"), "Ports",
                            ports_json(o.ports, o.nports, false));
    const char *hostname = json_string_value(json_object_get(json_object_get(st, "Config"),
                                                             "Hostname"));
    if (rc == 0) {
        c.root = (struct rt_rootfs){.layers = layers_dir, .lower = lower,
                                    .nlower = json_array_size(layers), .dir = c.dir,
                                    .hostname = hostname ? hostname : "",
                                    .volumes = o.volumes, .nvolumes = o.nvolumes,
                                    .read_only = o.read_only, .network_host = o.network_host};
        c.listeners = listeners;
        state_manual_stop(s, id, false);
        int status;
        rc = run_detached(&c, &status, err);
    }
    if (c.pin >= 0)
        close(c.pin);
    if (c.monitor_lock >= 0)   /* not handed to a monitor (run_detached lets go of it) */
        close(c.monitor_lock);
    for (size_t k = 0; k < nlisteners; k++)
        close(listeners[k]);
    for (size_t k = 0; o.volumes == vols && k < o.nvolumes; k++) {
        free(vols[k].host);
        free(vols[k].ctr);
    }
    if (binds) {
        for (size_t k = 0; o.volumes != vols && k < binds->n; k++)
            if (!binds->v[k].mount) {   /* the -v ones: opts_from_state's */
                free(binds->v[k].name ? (char *)binds->v[k].name : binds->v[k].host);
                free(binds->v[k].ctr);
            }
        host_binds_free(binds);
        free(binds);
    }
    free(lower);
    json_decref(st);
    return rc;
}

int rt_start(struct berth_store *s, const char *what, struct berr *err)
{
    /* not under the containers lock: the monitor forked from here would
     * hold it for as long as it lives */
    int rc = rt_exe_require_sealed(err);
    return rc < 0 ? rc : start_one(s, what, err);
}

int rt_restart(struct berth_store *s, const char *what, int timeout, struct berr *err)
{
    int rc = rt_stop(s, what, timeout, err);
    return rc < 0 ? rc : rt_start(s, what, err);
}
