/*
 * runtime.h - containers from the local image store, without a daemon.
 * The one public header of runtime/, used by the berth command.
 *
 * A container lives in <store>/containers/<id>/: state.json (what
 * `inspect` prints, docker's shape: Config, State, Mounts, HostConfig,
 * NetworkSettings), log.json (docker's json-file lines), hosts, hostname,
 * resolv.conf, and upper/ + work/ for its overlay. Layers are unpacked once
 * per diff-id into <store>/layers/<hex>/.
 *
 * Each container has one monitor process: it starts the container in new
 * mount, PID, UTS, IPC and network namespaces, copies its output to the log
 * (and to the terminal when attached), forwards signals and published
 * ports, and records the exit. With `detach` the monitor runs on its own
 * and rt_run returns once the container's process has been executed; else
 * the calling process is the monitor and rt_run returns the exit status.
 */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include "../client-lib/berth.h"

#include <stdbool.h>
#include <stdint.h>

#define RT_ID_LEN 64

struct rt_port {
    char host_ip[64];        /* "0.0.0.0" when not given */
    uint16_t host_port, ctr_port;
    /* no host port given: a free one is chosen when the port is bound
     * (host_port, if set, is tried first: the one a restart had before);
     * HostConfig.PortBindings keeps HostPort "" as docker's does */
    bool random;
    bool publish_all;        /* one of -P's: not in PortBindings at all */
};

struct rt_volume {
    char *host, *ctr;        /* absolute paths; host a volume's name when not */
    bool ro;
    const char *name;        /* a named volume's name (host: its _data), or NULL */
    bool mount;              /* from --mount (HostConfig.Mounts), not in Binds */
    char mode[16];           /* -v's mode as given ("ro", "z", "ro,Z"), or "" */
};

/* One user-defined network a container joins (rt_network_create), with
 * more names for the container on it. */
struct rt_net {
    const char *name;
    char **aliases;
    size_t naliases;
};

struct rt_run_opts {
    const char *image;       /* as given: "busybox", an id, a digest */
    const char *name;        /* NULL: a made-up one */
    const char *hostname;    /* NULL: the short id */
    char **cmd;              /* NULL: the image's Cmd */
    int ncmd;
    const char *entrypoint;  /* NULL: the image's; "": none */
    char **env;              /* KEY=VALUE, applied over the image's */
    size_t nenv;
    const char *workdir, *user;
    struct rt_volume *volumes;
    size_t nvolumes;
    struct rt_port *ports;
    size_t nports;
    bool publish_all;        /* -P: every exposed tcp port on a random host port too */
    bool read_only, network_host, tty, interactive, detach, auto_remove;
    bool network_none;       /* --network none: loopback only, recorded as such */
    struct rt_net *networks; /* joined in order, as eth0, eth1, ...; the first is
                              * HostConfig.NetworkMode and has the default route */
    size_t nnetworks;
    int64_t memory;          /* bytes, 0: no limit */
    int64_t cpu_quota;       /* microseconds per 100000, 0: no limit */
    int64_t pids_limit;      /* 0: no limit */
    int64_t log_max_size;    /* bytes of log.json before it is rotated; 0: 20 MB */
    int log_max_file;        /* log files kept; 0: 1 with log_max_size, else 5 */
    /* what the monitor does over the container's life */
    const char *restart;     /* "no", "always", "on-failure[:N]", "unless-stopped"; NULL: no */
    char **labels;           /* KEY=VALUE, over the image's Labels */
    size_t nlabels;
    char **security_opt;     /* docker's: no-new-privileges[:BOOL], seccomp=unconfined,
                              * apparmor=..., label=... (HostConfig.SecurityOpt) */
    size_t nsecurity_opt;
    const char *stop_signal; /* NULL: the image's StopSignal, else SIGTERM */
    int stop_timeout;        /* seconds stop waits before SIGKILL, when stop_timeout_set */
    bool stop_timeout_set;
    /* the health check, over the image's HEALTHCHECK: the test in docker's
     * form (["CMD", ARG...], ["CMD-SHELL", "COMMAND"], ["NONE"]), durations
     * in ns and retries (0: the image's, else 30 s, 30 s, 0 s, 3) */
    char **health_test;
    size_t nhealth_test;
    int64_t health_interval, health_timeout, health_start_period;
    int health_retries;
    bool no_healthcheck;     /* none, whatever the image says */
    char **expose;           /* "PORT[-PORT][/tcp|udp]", over the image's ExposedPorts */
    size_t nexpose;
    json_t *host_config;     /* HostConfig fields of rt_host_opt, or NULL */
    const char *cidfile;     /* written with the id once the container exists */
};

/* docker's run options that land in HostConfig: "cap-add", "cap-drop"
 * (CAP_X, X or ALL), "ulimit" (nofile=SOFT[:HARD]), "add-host"
 * (NAME:IP), "tmpfs" (PATH[:OPTS]), "shm-size", "group-add", "init" and
 * "mount" (type=bind|volume|tmpfs,source=,target=,readonly): `value`
 * checked, as docker's message says when it is not, and added to `host`
 * (CapAdd, CapDrop, Ulimits, ExtraHosts, Tmpfs, ShmSize, GroupAdd, Init,
 * Mounts). */
int rt_host_opt(json_t *host, const char *opt, const char *value, struct berr *err);

/* Parse what the command line says: "-p [[IP:][HOST]:]CTR[/tcp]",
 * "-v HOST:CTR[:ro|rw]", "--memory 64m", "--cpus 1.5". */
int rt_port_parse(const char *s, struct rt_port *p, struct berr *err);
int rt_volume_parse(const char *s, struct rt_volume *v, struct berr *err);
int rt_size_parse(const char *s, int64_t *bytes, struct berr *err);
int rt_cpus_parse(const char *s, int64_t *quota, struct berr *err);
/* --expose PORT[-PORT][/tcp|udp]: is it one? */
int rt_expose_check(const char *s, struct berr *err);
/* docker's json-file "--log-opt max-size=10m" (k, m, g: powers of 1000)
 * and "--log-opt max-file=3", into o; anything else is refused. */
int rt_log_opt_parse(const char *s, struct rt_run_opts *o, struct berr *err);

/* docker's --restart: "no", "always", "unless-stopped", "on-failure[:N]"
 * (N >= 0, 0: no limit) into name and *max. */
int rt_restart_parse(const char *s, char name[16], int *max, struct berr *err);
/* A Go duration as docker's --health-* take it ("30s", "1m30s", "500ms",
 * "1h"), in ns; negative ones are refused. */
int rt_duration_parse(const char *s, int64_t *ns, struct berr *err);

/* Create and start a container. `id` gets its id; `status` the exit status
 * when attached. The image must be in the store. */
int rt_run(struct berth_store *s, const struct rt_run_opts *o, char id[RT_ID_LEN + 1],
           int *status, struct berr *err);

/* ---- existing containers, by id, id prefix or name ---------------------------- */

/* The state document, with State brought up to date (a container whose
 * monitor died is exited). Caller json_decref's it. Besides docker's
 * fields: State.Restarting while the monitor waits to restart it,
 * RestartCount, State.Health ({Status: "starting", "healthy" or
 * "unhealthy", FailingStreak, Log: the last 5 probes}) when it has a
 * health check, Config.Labels. */
int rt_inspect(struct berth_store *s, const char *what, json_t **state, struct berr *err);
typedef int (*rt_container_fn)(void *arg, json_t *state);
/* Every container, newest first; only running ones unless `all`. */
int rt_list(struct berth_store *s, bool all, rt_container_fn each, void *arg,
            struct berr *err);

/* A container (its state document) as `ps` shows it, in docker's words:
 * the command ("\"sh -c 'sleep 1…\"", cut unless `full`), "5 minutes
 * ago", "Up 2 hours (healthy)" / "Exited (0) 3 seconds ago" / ..., and
 * "0.0.0.0:8080->80/tcp, ...". */
struct rt_summary {
    char command[80], created[80], status[200], ports[1024];
};
void rt_summary(json_t *state, bool full, struct rt_summary *out);

/* "TERM", "SIGTERM" (any case) or "15": the signal number, or -1. */
int rt_signal_parse(const char *s);
int rt_kill(struct berth_store *s, const char *what, int sig, struct berr *err);
/* SIGTERM (or the container's StopSignal), then SIGKILL after `timeout` s
 * (< 0: the container's StopTimeout, else 10). A container stopped or
 * killed this way is not restarted by its restart policy. */
int rt_stop(struct berth_store *s, const char *what, int timeout, struct berr *err);
/* rt_stop of n containers at once: all signalled first, each killed when
 * its own timeout[i] has passed, so n that ignore their signal take one
 * timeout, not n. The first error is reported; the others still stop. */
int rt_stop_all(struct berth_store *s, const char *const *what, const int *timeout, size_t n,
                struct berr *err);
/* Start a stopped container again (its process anew, its files, ports,
 * volumes, limits and policies as it was made), detached. One that is
 * running is left alone. */
int rt_start(struct berth_store *s, const char *what, struct berr *err);
/* rt_stop (if running), then rt_start. */
int rt_restart(struct berth_store *s, const char *what, int timeout, struct berr *err);
/* Refused for a running container unless `force` (which kills it). */
int rt_remove(struct berth_store *s, const char *what, bool force, struct berr *err);
/* Block until the container is not running; its exit code. */
int rt_wait(struct berth_store *s, const char *what, int *code, struct berr *err);

struct rt_logs_opts {
    bool follow, timestamps;
    long tail;               /* -1: all */
    long long from;          /* > 0: only what the log file has past this size (its
                              * size before a start: `start -a`); rotated files not */
    int64_t since, until;    /* ns since the epoch, 0: none: lines of that time or
                              * later, of that time or earlier (--since, --until) */
};
/* A time as docker's logs --since takes it, without the relative form:
 * RFC 3339 (fractions, Z or an offset; none: local time), a date, or
 * unix seconds[.fraction]; ns since the epoch. */
int rt_time_parse(const char *s, int64_t *ns);
int rt_logs(struct berth_store *s, const char *what, const struct rt_logs_opts *o,
            struct berr *err);

struct rt_exec_opts {
    char **argv;
    char **env;
    size_t nenv;
    const char *workdir, *user;
    bool interactive, tty;
    /* killed (SIGKILL) when the caller dies, as a health probe is at its
     * timeout; else it runs on, as docker exec's process does */
    bool die_with_caller;
    /* -d: started and left to run (its stdio /dev/null); rt_exec returns
     * at once with status 0 */
    bool detach;
};
/* Run a process in a running container; `status` is its exit status. */
int rt_exec(struct berth_store *s, const char *what, const struct rt_exec_opts *o,
            int *status, struct berr *err);

/* The changes in a container's root filesystem (its overlay upper
 * directory) as a new layer in the store (berth_layer_new): added and
 * changed files with their modes, owners, times, xattrs, hard links and
 * symlinks; deleted files and opaque directories as OCI whiteouts. With
 * `pause`, a running container is frozen (cgroup freezer, where there is
 * one) while its upper directory is read. `image` gets the ID of the
 * container's image; `config` (may be NULL) its Config as run. */
int rt_container_layer(struct berth_store *s, const char *what, bool pause,
                       struct berth_layer *layer, char image[DIGEST_MAX], json_t **config,
                       struct berr *err);

/* The same for a container that has exited, written to `w` (a layer
 * writer of berth_layer_new) so that the caller finishes it: a build
 * step holds the layer pin across its commit. */
struct berth_layer_writer;
int rt_container_layer_write(struct berth_store *s, const char *what,
                             struct berth_layer_writer *w, struct berr *err);

/* ---- unpacked layers (<store>/layers/<hex>/) ------------------------------------ */

/* Unpacked layers are shared by every container and build step and freed
 * by rt_layers_prune. A user of them holds the pin (a shared lock; close
 * the descriptor to let go) from before rt_image_layers until it no
 * longer reads them; prune takes it exclusively. */
int rt_layers_pin(struct berth_store *s, struct berr *err);
/* The directories of an image's layers, unpacked if need be, lowest
 * first (a NULL-terminated array, free each and the array). */
int rt_image_layers(struct berth_store *s, const char *image, char ***dirs, size_t *n,
                    struct berr *err);
/* Remove the unpacked layers no image of the store and no container
 * uses; `freed` gets the bytes they held. */
int rt_layers_prune(struct berth_store *s, uint64_t *freed, struct berr *err);

/* A command that starts processes inside containers (run, exec, build...)
 * calls this first, with main's argv: unless it already runs from one, it
 * re-executes itself from a sealed in-memory copy of its binary, so that
 * nothing in a container can reach the file berth was started from. Only
 * returns on failure, or at once in the copy. rt_run and rt_exec refuse to
 * work without it. */
int rt_exe_reexec_sealed(char **argv, struct berr *err);

/* ---- user-defined networks (<store>/networks/<id>/) ---------------------------- */

/* A network is a Linux bridge in a network namespace of its own, with a
 * subnet; containers run with `network` set join it and find each other
 * by name, alias and hostname. Networks are named by name, id or unique id
 * prefix. `subnet` NULL: the next free one of the pool ($BERTH_NETWORK_POOL,
 * "CIDR/SIZE", default 10.89.0.0/16/24). `labels`: an object of strings,
 * or NULL. `id` (may be NULL) gets the new network's id. */
int rt_network_create(struct berth_store *s, const char *name, const char *subnet,
                      json_t *labels, char id[RT_ID_LEN + 1], struct berr *err);
/* docker's `network connect`: a running container joins at once (a new
 * interface, ethN, and an address; every hosts file on the network is
 * rewritten); a stopped one only has the network recorded, and joins it
 * when started. Refused for a container run with --network host or none,
 * or already on it. */
int rt_network_connect(struct berth_store *s, const char *network, const char *container,
                       char **aliases, size_t naliases, struct berr *err);
/* docker's `network disconnect`: the container leaves it now (if running)
 * and for its later starts. */
int rt_network_disconnect(struct berth_store *s, const char *network, const char *container,
                          struct berr *err);
/* Refused while a running container is on it. */
int rt_network_remove(struct berth_store *s, const char *what, struct berr *err);
/* docker's `network inspect` document of one network. */
int rt_network_inspect(struct berth_store *s, const char *what, json_t **doc,
                       struct berr *err);
/* Every network's inspect document, by name. */
int rt_network_list(struct berth_store *s, json_t **docs, struct berr *err);
bool rt_network_exists(struct berth_store *s, const char *what);
/* Remove every network no running container is on; `removed` gets their
 * names (an array; may be NULL). */
int rt_network_prune(struct berth_store *s, json_t **removed, struct berr *err);

/* ---- named volumes (<store>/volumes/<name>/_data) ----------------------------------- */

/* Create (or find) a volume; `path` gets its _data directory, `created`
 * (may be NULL) whether it was made now. Names as docker's:
 * [a-zA-Z0-9][a-zA-Z0-9_.-]+. */
int rt_volume_create(struct berth_store *s, const char *name, json_t *labels,
                     char path[4096], bool *created, struct berr *err);
/* Its _data directory, or BERR_NOTFOUND. */
int rt_volume_get(struct berth_store *s, const char *name, char path[4096], struct berr *err);
/* volume.json (Name, Driver, Mountpoint, CreatedAt, Labels), or NULL. */
json_t *rt_volume_inspect(struct berth_store *s, const char *name);
/* Refused while a container (running or not) mounts it. */
int rt_volume_remove(struct berth_store *s, const char *name, struct berr *err);

#endif
