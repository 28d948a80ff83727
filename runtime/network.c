/*
 * network.c - docker's user-defined networks, made of kernel parts and
 * touching nothing of the host's.
 *
 * A network lives in <store>/networks/<id>/: network.json (its name,
 * subnet, labels and endpoints) and netns, the nsfs file of a network
 * namespace of its own bind-mounted there (as `ip netns add` does), which
 * keeps that namespace alive with no process in it. Inside it is one
 * bridge holding the subnet's first address (the gateway). Subnets come
 * from a pool (BERTH_NETWORK_POOL) and never overlap. Containers join and
 * leave networks in endpoint.c.
 *
 * Every change to a network holds <store>/networks/lock. An endpoint
 * records the monitor that made it (pid and start time): one whose monitor
 * is gone (killed with the container) is dropped whenever it is found, and
 * its address is free again.
 */
#include "network.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL_DEFAULT "10.89.0.0/16/24"

/* ---- names, subnets ---------------------------------------------------------------- */

void net_dir(struct berth_store *s, const char *id, char *out, size_t len)
{
    if (id)
        snprintf(out, len, "%s/networks/%s", berth_store_root(s), id);
    else
        snprintf(out, len, "%s/networks", berth_store_root(s));
}

int net_lock(struct berth_store *s, struct berr *err)
{
    char path[4200];
    net_dir(s, NULL, path, sizeof path);
    mkdir_p(path, 0700);
    strncat(path, "/lock", sizeof path - strlen(path) - 1);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) < 0) {
        if (fd >= 0)
            close(fd);
        return berr_set(err, BERR_IO, "cannot lock %s: %s", path, strerror(errno));
    }
    return fd;
}

/* a name docker would take, and one that is safe in a hosts file */
bool net_name_valid(const char *w, size_t max)
{
    size_t n = strlen(w);
    if (n == 0 || n > max || !isalnum((unsigned char)w[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)w[i]) && !strchr("_.-", w[i]))
            return false;
    return true;
}

/* What was given, for a one-line message: cut short, control characters
 * as '?'. */
const char *net_printable(const char *s, char *out, size_t len)
{
    snprintf(out, len, "%s", s);
    for (char *p = out; *p; p++)
        if (!isprint((unsigned char)*p))
            *p = '?';
    return out;
}

uint32_t net_mask(int prefix)
{
    return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

/* "a.b.c.d/n"; host bits are cleared. */
static int cidr_parse(const char *s, struct subnet *out, int min, int max)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof buf || !isdigit((unsigned char)slash[1]))
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    char *end;
    long p = strtol(slash + 1, &end, 10);
    struct in_addr a;
    if (*end || p < min || p > max || inet_pton(AF_INET, buf, &a) != 1)
        return -1;
    out->prefix = (int)p;
    out->net = ntohl(a.s_addr) & net_mask(out->prefix);
    return 0;
}

void net_ip_str(uint32_t ip, char *out, size_t len)
{
    struct in_addr a = {htonl(ip)};
    inet_ntop(AF_INET, &a, out, (socklen_t)len);
}

static bool overlaps(struct subnet a, struct subnet b)
{
    uint32_t m = net_mask(a.prefix < b.prefix ? a.prefix : b.prefix);
    return (a.net & m) == (b.net & m);
}

/* Addresses an interface can hold: not 0/8, loopback, multicast or
 * the reserved and broadcast ranges above it. */
static bool unicast(struct subnet sn)
{
    static const struct subnet bad[] = {{0x00000000, 8}, {0x7f000000, 8}, {0xe0000000, 3}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (overlaps(sn, bad[i]))
            return false;
    return true;
}

void net_random_hex(char *out, size_t nbytes)
{
    unsigned char r[64];
    if (getrandom(r, nbytes, 0) != (ssize_t)nbytes)
        for (size_t i = 0; i < nbytes; i++)
            r[i] = (unsigned char)rand();
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", r[i]);
}

/* ---- the stored networks -------------------------------------------------------------- */

const char *net_str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* Every network.json, by name. */
json_t *net_all(struct berth_store *s)
{
    char path[4200];
    net_dir(s, NULL, path, sizeof path);
    json_t *all = json_array();
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strlen(e->d_name) != RT_ID_LEN)
            continue;
        char file[4400];
        snprintf(file, sizeof file, "%s/%s/network.json", path, e->d_name);
        json_t *n = json_load_file(file, 0, NULL);
        if (!json_is_object(n) || strcmp(net_str(n, "Id"), e->d_name) != 0 ||
            !json_is_object(json_object_get(n, "Endpoints"))) {
            json_decref(n);
            continue;
        }
        size_t i = 0;
        for (; i < json_array_size(all); i++)
            if (strcmp(net_str(n, "Name"), net_str(json_array_get(all, i), "Name")) < 0)
                break;
        json_array_insert_new(all, i, n);
    }
    if (d)
        closedir(d);
    return all;
}

/* By id, name, then unique id prefix, as docker looks them up. */
json_t *net_find(struct berth_store *s, const char *what, struct berr *err)
{
    json_t *all = net_all(s), *found = NULL, *n;
    size_t i, len = strlen(what), matches = 0;
    for (int pass = 0; pass < 3 && !found; pass++)
        json_array_foreach(all, i, n) {
            bool hit = pass == 0 ? strcmp(net_str(n, "Id"), what) == 0
                     : pass == 1 ? strcmp(net_str(n, "Name"), what) == 0
                                 : len > 0 && strncmp(net_str(n, "Id"), what, len) == 0;
            if (hit) {
                matches++;
                found = found ? found : n;
            }
        }
    if (found && matches > 1) {
        berr_set(err, BERR_CONFLICT, "network %s is ambiguous (%zu matches found based on "
                 "ID prefix)", what, matches);
        found = NULL;
    } else if (!found) {
        char shown[300];
        berr_set(err, BERR_NOTFOUND, "No such network: %s", net_printable(what, shown, sizeof shown));
    }
    json_incref(found);
    json_decref(all);
    return found;
}

int net_save(struct berth_store *s, json_t *n, struct berr *err)
{
    char dir[4200], path[4300], tmp[4300];
    net_dir(s, net_str(n, "Id"), dir, sizeof dir);
    snprintf(path, sizeof path, "%s/network.json", dir);
    snprintf(tmp, sizeof tmp, "%s/.network.json.%d", dir, (int)getpid());
    return json_write_atomic(n, path, tmp, 0644, err);
}

bool net_endpoint_alive(json_t *ep)
{
    pid_t pid = (pid_t)json_integer_value(json_object_get(ep, "MonitorPid"));
    json_int_t start = json_integer_value(json_object_get(ep, "MonitorStart"));
    return pid > 0 && proc_start_time(pid) == (unsigned long long)start;
}

/* Does a container still use its endpoint? Its monitor lives and it has
 * not ended: one that has ended (or was removed) leaves as soon as its
 * monitor gets to it, and need not be waited for. */
static bool endpoint_in_use(struct berth_store *s, const char *id, json_t *ep)
{
    if (!net_endpoint_alive(ep))
        return false;
    json_t *st = state_get(s, id);
    const char *status = st ? net_str(json_object_get(st, "State"), "Status") : "removed";
    bool used = strcmp(status, "exited") != 0 && strcmp(status, "dead") != 0 &&
                strcmp(status, "removed") != 0;
    json_decref(st);
    return used;
}

static size_t endpoints_in_use(struct berth_store *s, json_t *n)
{
    json_t *ep;
    const char *id;
    size_t used = 0;
    json_object_foreach(json_object_get(n, "Endpoints"), id, ep)
        used += endpoint_in_use(s, id, ep);
    return used;
}

/* Drop the endpoints whose monitor is gone; true if any was. */
bool net_drop_stale(json_t *n)
{
    json_t *eps = json_object_get(n, "Endpoints"), *ep;
    const char *id;
    void *tmp;
    bool changed = false;
    json_object_foreach_safe(eps, tmp, id, ep)
        if (!net_endpoint_alive(ep)) {
            json_object_del(eps, id);
            changed = true;
        }
    return changed;
}


/* ---- the namespace and its bridge ---------------------------------------------------- */

void net_bridge_name(json_t *n, char out[16])
{
    snprintf(out, 16, "br-%.12s", net_str(n, "Id"));
}

/* In a child: a new network namespace, pinned on `path`, with the bridge
 * up at the gateway's address. */
static int netns_make(const char *path, const char *bridge, uint32_t gw, int prefix,
                      struct berr *err)
{
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return berr_set(err, BERR_IO, "cannot create %s: %s", path, strerror(errno));
    close(fd);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return berr_set(err, BERR_IO, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return berr_set(err, BERR_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        struct berr e = {0};
        if (unshare(CLONE_NEWNET) < 0)
            berr_set(&e, BERR_IO, "cannot create a network namespace: %s", strerror(errno));
        else if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
            berr_set(&e, BERR_IO, "cannot mount the network namespace on %s: %s", path,
                     strerror(errno));
        else {
            struct nl *nl = nl_open(-1, &e);
            int br = -1, lo;
            struct in_addr a = {htonl(gw)};
            if (nl && nl_bridge_add(nl, bridge, &e) == 0 &&
                (br = nl_ifindex(nl, bridge, &e)) > 0 && nl_addr_add(nl, br, a, prefix, &e) == 0 &&
                nl_link_up(nl, br, 0, &e) == 0 && (lo = nl_ifindex(nl, "lo", &e)) > 0)
                nl_link_up(nl, lo, 0, &e);
            nl_close(nl);
        }
        if (e.msg[0])
            write_all(p[1], e.msg, strlen(e.msg));
        _exit(e.msg[0] ? 1 : 0);
    }
    close(p[1]);
    char msg[sizeof err->msg];
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof msg - 1 && (r = read(p[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0)
        n += r;
    msg[n > 0 ? n : 0] = '\0';
    close(p[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (n > 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        return berr_set(err, BERR_IO, "%s", n > 0 ? msg : "cannot set up the network");
    return 0;
}

/* Everything of the network goes: its namespace (and the bridge and veth
 * ends in it) with the last reference, its directory. */
static void net_destroy(struct berth_store *s, const char *id)
{
    char dir[4200], ns[4300];
    net_dir(s, id, dir, sizeof dir);
    snprintf(ns, sizeof ns, "%s/netns", dir);
    umount2(ns, MNT_DETACH | UMOUNT_NOFOLLOW);
    rmtree(dir);
}

/* ---- the public side ---------------------------------------------------------------- */

static int pool_parse(struct subnet *base, int *size, struct berr *err)
{
    const char *pool = getenv("BERTH_NETWORK_POOL");
    if (!pool || !*pool)
        pool = POOL_DEFAULT;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", pool);
    char *last = strrchr(buf, '/'), *end;
    long n = last ? strtol(last + 1, &end, 10) : -1;
    if (last)
        *last = '\0';
    if (!last || *end || !isdigit((unsigned char)last[1]) || cidr_parse(buf, base, 1, 30) < 0 ||
        n < base->prefix || n > 30 || !unicast(*base))
        return berr_set(err, BERR_INVALID, "invalid BERTH_NETWORK_POOL '%s': expected "
                        "CIDR/SIZE, as %s", net_printable(pool, buf, sizeof buf), POOL_DEFAULT);
    *size = (int)n;
    return 0;
}

int net_subnet_of(json_t *n, struct subnet *out)
{
    return cidr_parse(net_str(n, "Subnet"), out, 1, 30);
}

static int subnet_choose(json_t *all, const char *given, struct subnet *out, struct berr *err)
{
    json_t *n;
    size_t i;
    struct subnet other;
    char shown[64];
    if (given) {
        if (cidr_parse(given, out, 1, 30) < 0)
            return berr_set(err, BERR_INVALID, "invalid subnet %s: expected an IPv4 CIDR "
                            "with room for a gateway and a container (at most /30)",
                            net_printable(given, shown, sizeof shown));
        if (!unicast(*out))
            return berr_set(err, BERR_INVALID, "invalid subnet %s: loopback, multicast and "
                            "reserved addresses cannot be given to containers",
                            net_printable(given, shown, sizeof shown));
        json_array_foreach(all, i, n)
            if (net_subnet_of(n, &other) == 0 && overlaps(*out, other))
                return berr_set(err, BERR_CONFLICT, "Pool overlaps with other one on this "
                                "address space");
        return 0;
    }
    struct subnet base;
    int size = 0;
    if (pool_parse(&base, &size, err) < 0)
        return -BERR_INVALID;
    uint64_t count = 1ull << (size - base.prefix);
    for (uint64_t k = 0; k < count; k++) {
        struct subnet cand = {base.net + (uint32_t)(k << (32 - size)), size};
        bool taken = false;
        json_array_foreach(all, i, n)
            taken = taken || (net_subnet_of(n, &other) == 0 && overlaps(cand, other));
        if (!taken) {
            *out = cand;
            return 0;
        }
    }
    return berr_set(err, BERR_CONFLICT, "could not find an available, non-overlapping IPv4 "
                    "address pool among the defaults to assign to the network");
}

static bool reserved_name(const char *name)
{
    return strcmp(name, "host") == 0 || strcmp(name, "none") == 0 ||
           strcmp(name, "bridge") == 0 || strcmp(name, "default") == 0;
}

int rt_network_create(struct berth_store *s, const char *name, const char *subnet,
                      json_t *labels, char id_out[RT_ID_LEN + 1], struct berr *err)
{
    char shown[64];
    if (!net_name_valid(name, 128))
        return berr_set(err, BERR_INVALID, "invalid network name \"%s\": only "
                        "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                        net_printable(name, shown, sizeof shown));
    if (reserved_name(name))
        return berr_set(err, BERR_CONFLICT, "network with name %s already exists", name);
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
        if (!json_is_string(v))
            return berr_set(err, BERR_INVALID, "label %s: the value must be a string",
                            net_printable(k, shown, sizeof shown));
    __attribute__((cleanup(cleanup_closep))) int lock = net_lock(s, err);
    if (lock < 0)
        return lock;
    json_t *all = net_all(s), *n;
    size_t i;
    json_array_foreach(all, i, n)
        if (strcmp(net_str(n, "Name"), name) == 0) {
            json_decref(all);
            return berr_set(err, BERR_CONFLICT, "network with name %s already exists", name);
        }
    struct subnet sn;
    int rc = subnet_choose(all, subnet, &sn, err);
    json_decref(all);
    if (rc < 0)
        return rc;
    char id[RT_ID_LEN + 1], dir[4200], ns[4300], cidr[64], gw[32], now[64], br[16];
    net_random_hex(id, RT_ID_LEN / 2);
    net_dir(s, id, dir, sizeof dir);
    snprintf(ns, sizeof ns, "%s/netns", dir);
    net_ip_str(sn.net, cidr, sizeof cidr);
    snprintf(cidr + strlen(cidr), sizeof cidr - strlen(cidr), "/%d", sn.prefix);
    net_ip_str(sn.net + 1, gw, sizeof gw);
    rfc3339_now(now, sizeof now);
    n = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:{}}", "Name", name, "Id", id, "Created", now,
                  "Driver", "bridge", "Subnet", cidr, "Gateway", gw,
                  "Labels", labels ? json_deep_copy(labels) : json_object(), "Endpoints");
    if (!n)
        return berr_set(err, BERR_IO, "out of memory");
    net_bridge_name(n, br);
    if (mkdir(dir, 0700) < 0)
        rc = berr_set(err, BERR_IO, "cannot create %s: %s", dir, strerror(errno));
    if (rc == 0)
        rc = netns_make(ns, br, sn.net + 1, sn.prefix, err);
    if (rc == 0)
        rc = net_save(s, n, err);
    if (rc < 0)
        net_destroy(s, id);
    else if (id_out)
        snprintf(id_out, RT_ID_LEN + 1, "%s", id);
    json_decref(n);
    return rc;
}

int rt_network_remove(struct berth_store *s, const char *what, struct berr *err)
{
    __attribute__((cleanup(cleanup_closep))) int lock = net_lock(s, err);
    if (lock < 0)
        return lock;
    json_t *n = net_find(s, what, err);
    if (!n)
        return -BERR_NOTFOUND;
    net_drop_stale(n);
    int rc = 0;
    if (endpoints_in_use(s, n) > 0)
        rc = berr_set(err, BERR_CONFLICT, "error while removing network: network %s id %s "
                      "has active endpoints", net_str(n, "Name"), net_str(n, "Id"));
    else
        net_destroy(s, net_str(n, "Id"));
    json_decref(n);
    return rc;
}

static json_t *inspect_doc(json_t *n)
{
    json_t *ctrs = json_object(), *ep;
    const char *id;
    const char *slash = strchr(net_str(n, "Subnet"), '/');
    json_object_foreach(json_object_get(n, "Endpoints"), id, ep) {
        char addr[64];
        snprintf(addr, sizeof addr, "%s%s", net_str(ep, "IPv4Address"), slash ? slash : "");
        json_object_set_new(ctrs, id, json_pack("{s:s,s:s,s:s,s:s,s:s}", "Name", net_str(ep, "Name"),
                                                "EndpointID", net_str(ep, "EndpointID"),
                                                "MacAddress", net_str(ep, "MacAddress"),
                                                "IPv4Address", addr, "IPv6Address", ""));
    }
    json_t *labels = json_object_get(n, "Labels");
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:{s:s,s:{},s:[{s:s,s:s}]},s:b,s:b,s:b,s:b,"
                     "s:{s:s},s:o,s:{},s:O}",
                     "Name", net_str(n, "Name"), "Id", net_str(n, "Id"), "Created", net_str(n, "Created"),
                     "Scope", "local", "Driver", "bridge", "EnableIPv6", 0,
                     "IPAM", "Driver", "default", "Options", "Config", "Subnet",
                     net_str(n, "Subnet"), "Gateway", net_str(n, "Gateway"),
                     "Internal", 0, "Attachable", 0, "Ingress", 0, "ConfigOnly", 0,
                     "ConfigFrom", "Network", "", "Containers", ctrs, "Options",
                     "Labels", labels ? labels : json_null());
}

int rt_network_inspect(struct berth_store *s, const char *what, json_t **doc,
                       struct berr *err)
{
    json_t *n = net_find(s, what, err);
    if (!n)
        return -BERR_NOTFOUND;
    net_drop_stale(n);   /* shown without them; the file loses them at its next change */
    *doc = inspect_doc(n);
    json_decref(n);
    return *doc ? 0 : berr_set(err, BERR_IO, "out of memory");
}

int rt_network_list(struct berth_store *s, json_t **docs, struct berr *err)
{
    (void)err;
    json_t *all = net_all(s), *n;
    size_t i;
    *docs = json_array();
    json_array_foreach(all, i, n) {
        net_drop_stale(n);
        json_array_append_new(*docs, inspect_doc(n));
    }
    json_decref(all);
    return 0;
}

bool rt_network_exists(struct berth_store *s, const char *what)
{
    struct berr err = {0};
    json_t *n = net_find(s, what, &err);
    json_decref(n);
    return n != NULL;
}

int rt_network_prune(struct berth_store *s, json_t **removed, struct berr *err)
{
    __attribute__((cleanup(cleanup_closep))) int lock = net_lock(s, err);
    if (lock < 0)
        return lock;
    json_t *all = net_all(s), *n, *names = json_array();
    size_t i;
    json_array_foreach(all, i, n) {
        net_drop_stale(n);
        if (endpoints_in_use(s, n) == 0) {
            net_destroy(s, net_str(n, "Id"));
            json_array_append_new(names, json_string(net_str(n, "Name")));
        }
    }
    json_decref(all);
    /* what a berth killed while creating a network left behind */
    char path[4200];
    net_dir(s, NULL, path, sizeof path);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        char file[4600];
        snprintf(file, sizeof file, "%s/%s/network.json", path, e->d_name);
        if (strlen(e->d_name) == RT_ID_LEN && access(file, F_OK) < 0 && errno == ENOENT)
            net_destroy(s, e->d_name);
    }
    if (d)
        closedir(d);
    if (removed)
        *removed = names;
    else
        json_decref(names);
    return 0;
}
