/*
 * internal.h - what the files of runtime/ share; nothing outside runtime/
 * includes it (except its unit tests).
 */
#ifndef BERTH_RUNTIME_INTERNAL_H
#define BERTH_RUNTIME_INTERNAL_H

#include "runtime.h"

#include <netinet/in.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

/* ---- unpack.c: layers ---------------------------------------------------------- */

/* Unpack the layer blob at `blob` (tar, gzip- or zstd-compressed) into
 * <layers>/<hex of diff_id>, unless it is already there; `out` gets that
 * directory. The uncompressed stream must hash to diff_id. OCI whiteouts
 * become overlayfs ones; entries that would land outside the layer are
 * skipped, and nothing is ever written through a symlink. A half-unpacked
 * layer is never left under its final name. */
int layer_unpack(const char *layers, const char *blob, const char *diff_id, char *out,
                 size_t len, struct berr *err);
/* rm -rf, not crossing into other filesystems; 0 or -errno. */
int rmtree(const char *path);

/* ---- spec.c: what a container runs ----------------------------------------------- */

/* The process to start or exec, resolved from the image config and the
 * options: argv, env, cwd and user as the container will see them. */
struct rt_process {
    char **argv;             /* NULL-terminated */
    char **env;              /* NULL-terminated */
    const char *cwd;         /* absolute, inside the container */
    const char *user;        /* "name", "uid", "name:group", "uid:gid", or "" */
    bool tty;
    bool no_new_privs;       /* --security-opt no-new-privileges */
    bool unconfined;         /* --security-opt seccomp=unconfined: no filter */
    char hostname_kv[300];   /* HOSTNAME=<Config.Hostname>, added as docker adds it */
    /* from HostConfig (host_process): the capabilities root keeps (one bit
     * each; docker's default set unless caps_given), resource limits,
     * supplementary groups (names or gids), and --init */
    uint64_t caps;
    bool caps_given, init;
    struct { int resource; rlim_t soft, hard; } rlimits[16];
    size_t nrlimits;
    const char *group_add[32];
    size_t ngroup_add;
};
/* The length of KEY in "KEY=VALUE" (all of it without '='). */
size_t env_key_len(const char *kv);
/* Build from the state document's Config (Cmd, Entrypoint, Env,
 * WorkingDir, User), with exec's overrides when `x` is not NULL.
 * Strings point into `state` and `x`; free the arrays with
 * rt_process_free. */
int rt_process_from(json_t *config, const struct rt_exec_opts *x, struct rt_process *p,
                    struct berr *err);
void rt_process_free(struct rt_process *p);
/* Docker's --security-opt values (a JSON array of strings, NULL: none):
 * check them and, with p, apply no-new-privileges and seccomp=unconfined
 * to it. apparmor= and label= are taken and ignored (no LSM here); a
 * seccomp profile file is refused. */
int rt_security_opts(json_t *opts, struct rt_process *p, struct berr *err);
/* Is the image's config (the whole document) of the shape the OCI image
 * spec gives it, for every field berth reads? A message naming the first
 * field that is not. */
int rt_image_config_check(json_t *image, struct berr *err);

/* ---- process.c: the last steps before exec, inside the container ------------------ */

/* In the container's root: become the user, set the working directory
 * (created if missing and checked to be inside the root), close every fd
 * above 2, load the seccomp filter (unless unconfined), drop capabilities
 * to docker's default set, set no_new_privs (if asked), exec. Only returns on failure, with a message
 * as docker prints it and the exit status (126, 127) in *status. */
void rt_process_exec(const struct rt_process *p, int *status, char *msg, size_t len);

/* docker's default capability set, one bit a capability. */
uint64_t process_default_caps(void);

/* ---- hostopts.c: HostConfig's CapAdd, Ulimits, ExtraHosts, Tmpfs, ... ------------- */

/* What HostConfig says of the process: capabilities, rlimits, groups, init. */
int host_process(json_t *host, struct rt_process *p, struct berr *err);
/* Inside the new root, before it is made read-only: /dev/shm of ShmSize,
 * the tmpfs mounts of Tmpfs and of Mounts. */
int host_mounts(json_t *host, char *msg, size_t len);
/* ExtraHosts appended to <dir>/hosts; their lines written to f. */
void host_etc_hosts(const char *dir, json_t *host);
void host_extra_hosts(FILE *f, json_t *host);
/* The host directories a container mounts: the -v ones (a named volume
 * made if need be, and mounted from its _data) then the bind and volume
 * ones of HostConfig.Mounts. */
struct host_binds {
    struct rt_volume v[64];
    size_t n;
    char *owned[192];
    size_t nowned;
};
int host_binds_make(struct berth_store *s, const struct rt_volume *vols, size_t n, json_t *host,
                    struct host_binds *b, struct berr *err);
void host_binds_free(struct host_binds *b);
/* --init, in the container's first process: fork; the child returns (to
 * exec the command), this process stays PID 1, reaps every child,
 * forwards every signal to the command and exits with its status. */
void host_init(int report_fd, char **argv);

/* ---- seccomp.c ---------------------------------------------------------------------- */

/* docker's default profile: refuse (EPERM) what a container must not call. */
int seccomp_load_default(char *msg, size_t len);

/* ---- cgroup.c ----------------------------------------------------------------------- */

/* Put pid into a cgroup of its own (v2 where mounted, else the v1
 * memory, cpu, pids and devices hierarchies) with the limits of `o` and
 * docker's device rules. */
int cgroup_enter(const char *id, pid_t pid, const struct rt_run_opts *o, struct berr *err);
/* Join the container's cgroup (for exec); an error if its device rules
 * could not be joined. */
int cgroup_join(const char *id, pid_t pid, struct berr *err);
void cgroup_remove(const char *id);
/* Did the kernel kill something in it for memory? */
bool cgroup_oom_killed(const char *id);
/* Freeze (and wait until every process is frozen) or thaw the container:
 * 0 when done, 1 when there is no freezer for it, else an error. */
int cgroup_freeze(const char *id, bool frozen, struct berr *err);

/* ---- exe.c -------------------------------------------------------------------------- */

/* Is /proc/self/exe a sealed copy (rt_exe_reexec_sealed)? */
bool rt_exe_sealed(void);
/* 0 when it is; else an error saying that it must be. */
int rt_exe_require_sealed(struct berr *err);

/* ---- exec.c ------------------------------------------------------------------------- */

/* A process's stdin when it has none: the host's /dev/null if it really is
 * that device, else an empty pipe with no writer; -1 on failure. */
int rt_null_stdin(void);

/* ---- devices.c ---------------------------------------------------------------------- */

/* docker's default device rules on one cgroup directory, v1 (devices.deny
 * and devices.allow) or v2 (a BPF device program), whichever `dir` is:
 * access to null, zero, full, random, urandom, tty, ptmx, pts/N and tun;
 * mknod of any node; nothing else. Every container's cgroup gets them from
 * cgroup_enter, before its first process runs. */
int cgroup_devices_limit(const char *dir, struct berr *err);

/* ---- rootfs.c: inside the new namespaces, before exec ------------------------------- */

struct rt_rootfs {
    const char *layers;      /* <store>/layers */
    char **lower;            /* layer dir names under `layers`, bottom first */
    size_t nlower;
    const char *dir;         /* <store>/containers/<id> */
    const char *hostname;
    const struct rt_volume *volumes;
    size_t nvolumes;
    bool read_only, network_host;
    json_t *host;            /* HostConfig: its tmpfs mounts and ShmSize (host_mounts) */
};
/* Mount the overlay and everything a container sees, pivot_root into it. */
int rootfs_enter(const struct rt_rootfs *r, char *msg, size_t len);
/* After it, with -t: a pty of the container's devpts as its stdio and
 * controlling terminal (and /dev/console); the master, or -1. */
int rootfs_console(char *msg, size_t len);

/* ---- state.c ------------------------------------------------------------------------- */

/* <store>/containers, <store>/containers/<id>. */
void state_dir(struct berth_store *s, const char *id, char *out, size_t len);
/* Find a container by id, unique id prefix, or name; *state is its
 * state.json (refreshed as rt_inspect says), `id` its full id. */
int state_find(struct berth_store *s, const char *what, char id[RT_ID_LEN + 1],
               json_t **state, struct berr *err);
/* One container's state by full id, refreshed; NULL if it is gone. */
json_t *state_get(struct berth_store *s, const char *id);
int state_write(struct berth_store *s, const char *id, json_t *state, struct berr *err);
/* The container's lock: held exclusive while its state changes. */
int state_lock(struct berth_store *s);
/* The user stopped or killed the container (marked before the signal is
 * sent, cleared by start): its restart policy no longer applies. */
void state_manual_stop(struct berth_store *s, const char *id, bool stopped);
bool state_manually_stopped(const char *dir);
/* An exited container publishes no ports (NetworkSettings.Ports {}, as
 * docker shows it); those it had are kept in Berth.LastPorts, which start
 * tries first for the random ones. */
void state_ports_clear(json_t *state);
/* RFC 3339 with nanoseconds, UTC, as docker writes times. */
void rfc3339_now(char *out, size_t len);

/* ---- monitor.c ------------------------------------------------------------------------ */

/* A container being started: its state document and how to build it. */
struct rt_container {
    struct berth_store *s;
    char id[RT_ID_LEN + 1];
    char dir[4096];
    json_t *state;
    const struct rt_run_opts *o;
    struct rt_rootfs root;
    int *listeners;          /* bound sockets, one per o->ports */
    int pin;                 /* rt_layers_pin until the overlay is mounted, or -1 */
    int monitor_lock;        /* monitor_lock taken by whoever starts it, or -1 */
    int term;                /* attached with -t: the client's terminal, for its
                              * window size only; else -1 */
};
/* <dir>/monitor.lock, held (flock) by the container's monitor for as long
 * as it lives, so that a new one (start) waits until the last is gone. A
 * descriptor locked, or -1 when it is held (EWOULDBLOCK) or on error. */
int monitor_lock(const char *dir);
/* Become the container's monitor: start it, copy its output to the log
 * (and to our stdout/stderr when attached), forward signals and ports,
 * record its end. With ready_fd >= 0, report there whether it started
 * (a status byte, then the error) and stay quiet. *status: its exit
 * status (128 + signal when killed). */
int monitor_run(struct rt_container *c, bool attached, int ready_fd, int *status,
                struct berr *err);
/* -d: fork the monitor into a session of its own; return once it says
 * the container's program runs (or why not). */
int run_detached(struct rt_container *c, int *status, struct berr *err);
/* attach.c: without -d, the same monitor, with this process as its
 * client until the container ends; *status: the container's. */
int run_attached(struct rt_container *c, int *status, struct berr *err);

/* ---- health.c: the health check, run by the monitor ---------------------------------- */

struct health {
    bool on;
    char **argv;             /* the probe, NULL-terminated */
    int64_t interval, timeout, start_period;   /* ns */
    int retries;
    int64_t started;         /* CLOCK_MONOTONIC ns: the container's start */
    int64_t next;            /* when the next probe is due */
    pid_t pid;               /* the probe running, 0 when none */
    int64_t deadline, kill_at;
    bool timed_out;
    char begun[64];          /* its start, RFC 3339 */
    int out;                 /* its output, -1 */
    char buf[4096];
    size_t len;
};
/* From the state's Config.Healthcheck; State.Health becomes "starting". */
void health_start(struct health *h, struct rt_container *c);
/* The probe's output descriptor to poll, or -1; ms until health_due has
 * something to do, -1 for never. */
int health_fd(const struct health *h);
int health_wait_ms(const struct health *h);
/* Start a probe that is due, end one that ran out of time. */
void health_due(struct health *h, struct rt_container *c);
void health_read(struct health *h);
/* A child has ended: true if it was the probe (its result is recorded). */
bool health_reaped(struct health *h, struct rt_container *c, pid_t pid, int ws);
/* The container has ended: no probe runs any more. */
void health_stop(struct health *h, struct rt_container *c);

/* ---- ports.c ------------------------------------------------------------------------ */

/* A listening socket for p on the host, or a negative error. A random
 * port gets the one the kernel chose in p->host_port. */
int ports_listen(struct rt_port *p, struct berr *err);
/* -P: each tcp port of `exposed` (ExposedPorts: {"80/tcp": {}}) that is
 * not published yet is added to ports (n of at most max), random. */
int ports_publish_all(struct rt_port *ports, size_t *n, size_t max, json_t *exposed,
                      struct berr *err);
/* {"80/tcp": [{"HostIp", "HostPort"}]}: NetworkSettings.Ports (the ports
 * bound), or with `bindings` HostConfig.PortBindings (what was asked). */
json_t *ports_json(const struct rt_port *ports, size_t n, bool bindings);
/* Relay a connection accepted on the host to the container's port at
 * addr (network order) in its namespace. */
void ports_relay(int client, int netns, uint32_t addr, uint16_t port);

/* ---- netlink.c: rtnetlink, with libmnl ---------------------------------------------- */


/* A socket on the network namespace `netns` (an fd; -1: our own). */
struct nl *nl_open(int netns, struct berr *err);
void nl_close(struct nl *nl);
/* The index of an interface by name, or a negative error. */
int nl_ifindex(struct nl *nl, const char *name, struct berr *err);
int nl_bridge_add(struct nl *nl, const char *name, struct berr *err);
/* A veth pair: `name` here, `peer` created in the namespace `peer_netns`
 * with the MAC address `mac`. */
int nl_veth_add(struct nl *nl, const char *name, const char *peer, int peer_netns,
                const unsigned char mac[6], struct berr *err);
/* Up, and on the bridge `master` when > 0. */
int nl_link_up(struct nl *nl, int index, int master, struct berr *err);
int nl_addr_add(struct nl *nl, int index, struct in_addr addr, int prefix, struct berr *err);
int nl_route_default(struct nl *nl, int index, struct in_addr gw, struct berr *err);
/* Delete an interface by name: 0 or -errno (-ENODEV when there is none). */
int nl_link_del(struct nl *nl, const char *name);

/* ---- network.c: user-defined networks ------------------------------------------------ */

/* Join the container (its first process: pid) to its networks: those
 * recorded in its state (NetworkSettings.Networks), else those of c->o; a
 * veth pair, an address, the hosts files of every container on them;
 * NetworkSettings in c->state and state.json. Called again for each
 * start. */
int net_join(struct rt_container *c, pid_t pid, struct berr *err);
/* Leave them all (when the container ends): its addresses are free again,
 * the networks stay recorded. */
void net_leave(struct rt_container *c);
/* For state_write: `state` to the state.json at `path` (through `tmp`),
 * with the network fields the file has (network.c owns and writes them
 * itself), under the file's lock. */
int net_state_write(const char *path, const char *tmp, json_t *state, struct berr *err);
/* The container's address on its network, in network order; loopback
 * when it has none. */
uint32_t net_address(const struct rt_container *c);
/* Is there such a network (by name, id or id prefix)? For run's checks. */
int net_check(struct berth_store *s, const struct rt_run_opts *o, struct berr *err);

/* ---- inbuf.c: standard input passed on without blocking ------------------------ */

/* What was read from one end and not yet taken by the other. */
struct inbuf {
    char data[65536];
    size_t len, off;
};
static inline bool inbuf_held(const struct inbuf *b) { return b->off < b->len; }
static inline void inbuf_clear(struct inbuf *b) { b->len = b->off = 0; }
/* Write what is held to `to`, as much as it takes now: -1 when `to` is gone. */
int inbuf_flush(struct inbuf *b, int to);
/* One read from `from` (when nothing is held), then a flush to `to`: -1
 * when `from` has ended or `to` is gone. */
int inbuf_read(struct inbuf *b, int from, int to);

#endif
