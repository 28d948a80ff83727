/*
 * endpoint.c - containers on user-defined networks.
 *
 * A container keeps its own network namespace: its monitor (or `network
 * connect`) joins it to each of its networks with a veth pair (one end on
 * the network's bridge, the other in the container as eth0, eth1, ...) and
 * an address of the subnet. Every container gets in its hosts file the
 * names, aliases and hostnames of the members of each network it is on,
 * at their addresses there, rewritten in place (the container sees the
 * file through a bind mount).
 *
 * A container's networks are recorded in its state.json as docker's
 * inspect shows them: NetworkSettings.Networks, one entry per network by
 * name, in the order it joins them (the first has the default route and
 * its address is NetworkSettings.IPAddress; HostConfig.NetworkMode stays
 * what the container was made with);
 * a stopped container keeps its entries with no address, and `start`
 * joins them again. `network connect` and `disconnect` change them from
 * another process than the container's monitor, which writes state.json
 * whole: so this file writes them to state.json itself, under the
 * containers' lock, and every other write of state.json carries them over
 * from the file (net_state_write).
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

/* ---- hosts files ---------------------------------------------------------------------- */

/* One line of a hosts file: an endpoint's address, then its name,
 * hostname and aliases, each once. */
static void hosts_line(FILE *f, json_t *ep)
{
    json_t *words = json_array(), *a;
    json_array_append_new(words, json_string(net_str(ep, "Name")));
    json_array_append_new(words, json_string(net_str(ep, "Hostname")));
    size_t i;
    json_array_foreach(json_object_get(ep, "Aliases"), i, a)
        if (json_is_string(a))
            json_array_append(words, a);
    fprintf(f, "%s\t", net_str(ep, "IPv4Address"));
    const char *sep = "";
    json_array_foreach(words, i, a) {
        const char *w = json_string_value(a);
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(w, json_string_value(json_array_get(words, k))) == 0;
        if (!seen && net_name_valid(w, 255)) {
            fprintf(f, "%s%s", sep, w);
            sep = " ";
        }
    }
    fputc('\n', f);
    json_decref(words);
}

/* The hosts file of container `id`: the members of every network of
 * `all` it is on, each at its address on that network (itself too); only
 * its own hostname when it is on none. Rewritten in place, never renamed:
 * the container has this very file mounted. */
static void hosts_write_one(struct berth_store *s, const char *id, json_t *all)
{
    char *text = NULL, path[4300], hostname[256] = "";
    size_t len = 0, i;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    fprintf(f, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    state_dir(s, id, path, sizeof path);
    strncat(path, "/state.json", sizeof path - strlen(path) - 1);
    json_t *own = json_load_file(path, 0, NULL);   /* its --add-host lines */
    host_extra_hosts(f, json_object_get(own, "HostConfig"));
    json_decref(own);
    bool any = false;
    json_t *n, *ep;
    const char *eid;
    json_array_foreach(all, i, n) {
        json_t *eps = json_object_get(n, "Endpoints");
        json_t *self = json_object_get(eps, id);
        if (!self || !net_endpoint_alive(self))
            continue;
        any = true;
        json_object_foreach(eps, eid, ep)
            if (net_endpoint_alive(ep))
                hosts_line(f, ep);
    }
    state_dir(s, id, path, sizeof path);
    if (!any) {
        strncat(path, "/hostname", sizeof path - strlen(path) - 1);
        FILE *h = fopen(path, "re");
        if (h && fgets(hostname, sizeof hostname, h))
            hostname[strcspn(hostname, "\n")] = '\0';
        if (h)
            fclose(h);
        if (net_name_valid(hostname, 255))
            fprintf(f, "127.0.0.1\t%s\n", hostname);
        state_dir(s, id, path, sizeof path);
    }
    fclose(f);
    strncat(path, "/hosts", sizeof path - strlen(path) - 1);
    /* the container's root owns this file and may hold a lease on it: a
     * blocking open would wait for the lease to break, with the networks'
     * lock held; with O_NONBLOCK it fails at once and the file is left */
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == EWOULDBLOCK)
        fprintf(stderr, "berth: the hosts file of container %.12s is leased by the container: "
                "it is not updated\n", id);
    if (fd >= 0) {
        if (write_all(fd, text, len) == 0)
            if (ftruncate(fd, (off_t)len) < 0) {
                /* the old tail stays; the next rewrite tries again */
            }
        close(fd);
    }
    free(text);
}

/* After container `id` joined or left networks: its hosts file and those
 * of every container that shares a network with it, or shared `left`
 * (which it has just left; may be NULL), from the networks as stored. */
static void hosts_refresh(struct berth_store *s, const char *id, json_t *left)
{
    json_t *all = net_all(s), *n, *ep, *done = json_object();
    size_t i;
    const char *eid;
    hosts_write_one(s, id, all);
    json_object_set_new(done, id, json_true());
    json_array_foreach(all, i, n) {
        json_t *eps = json_object_get(n, "Endpoints");
        if (!json_object_get(eps, id) &&
            !(left && strcmp(net_str(n, "Id"), net_str(left, "Id")) == 0))
            continue;
        json_object_foreach(eps, eid, ep)
            if (!json_object_get(done, eid) && net_endpoint_alive(ep)) {
                hosts_write_one(s, eid, all);
                json_object_set_new(done, eid, json_true());
            }
    }
    json_decref(done);
    json_decref(all);
}

static bool alias_check(char **aliases, size_t n, struct berr *err)
{
    for (size_t i = 0; i < n; i++)
        if (!net_name_valid(aliases[i], 255)) {
            char shown[64];   /* (an alias of 255 is cut short here) */
            berr_set(err, BERR_INVALID, "invalid network alias \"%s\": only "
                     "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                     net_printable(aliases[i], shown, sizeof shown));
            return false;
        }
    return true;
}

int net_check(struct berth_store *s, const struct rt_run_opts *o, struct berr *err)
{
    char shown[300];
    if ((o->network_host || o->network_none) && o->nnetworks > 0)
        return berr_set(err, BERR_INVALID, "conflicting options: cannot attach both "
                        "user-defined and non-user-defined network-modes");
    for (size_t i = 0; i < o->nnetworks; i++) {
        const struct rt_net *w = &o->networks[i];
        if (!alias_check(w->aliases, w->naliases, err))
            return -BERR_INVALID;
        if (!w->name || !rt_network_exists(s, w->name))
            return berr_set(err, BERR_NOTFOUND, "network %s not found",
                            net_printable(w->name ? w->name : "", shown, sizeof shown));
        for (size_t k = 0; k < i; k++)
            if (strcmp(o->networks[k].name, w->name) == 0)
                return berr_set(err, BERR_INVALID, "network %s is given twice",
                                net_printable(w->name, shown, sizeof shown));
    }
    return 0;
}

static void veth_name(const char *id, char out[16])
{
    snprintf(out, 16, "veth%.11s", id);
}

static json_t *networks_of(json_t *st)
{
    json_t *ns = json_object_get(st, "NetworkSettings");
    if (!json_is_object(ns))
        json_object_set_new(st, "NetworkSettings", ns = json_object());
    json_t *nets = json_object_get(ns, "Networks");
    if (!json_is_object(nets))
        json_object_set_new(ns, "Networks", nets = json_object());
    return nets;
}

/* A Networks entry: the network `n`, the container's aliases on it and
 * its endpoint there (NULL: not joined now). */
static json_t *entry_of(json_t *n, json_t *aliases, json_t *ep)
{
    const char *slash = strchr(net_str(n, "Subnet"), '/');
    return json_pack("{s:O,s:s,s:s,s:s,s:s,s:i,s:s}", "Aliases", aliases,
                     "NetworkID", net_str(n, "Id"), "EndpointID", ep ? net_str(ep, "EndpointID") : "",
                     "Gateway", ep ? net_str(n, "Gateway") : "",
                     "IPAddress", ep ? net_str(ep, "IPv4Address") : "",
                     "IPPrefixLen", ep && slash ? atoi(slash + 1) : 0,
                     "MacAddress", ep ? net_str(ep, "MacAddress") : "");
}

/* NetworkSettings' own fields from the first network. HostConfig.NetworkMode
 * is what the container was made with, and stays so (as docker's does). */
static void settings_top(json_t *st)
{
    json_t *ns = json_object_get(st, "NetworkSettings");
    void *it = json_object_iter(json_object_get(ns, "Networks"));
    json_t *first = it ? json_object_iter_value(it) : NULL;
    json_object_set_new(ns, "IPAddress", json_string(first ? net_str(first, "IPAddress") : ""));
    json_object_set_new(ns, "IPPrefixLen", json_integer(first ? json_integer_value(
                            json_object_get(first, "IPPrefixLen")) : 0));
    json_object_set_new(ns, "Gateway", json_string(first ? net_str(first, "Gateway") : ""));
    json_object_set_new(ns, "MacAddress", json_string(first ? net_str(first, "MacAddress") : ""));
}

static void state_file(struct berth_store *s, const char *id, char *path, size_t len)
{
    state_dir(s, id, path, len);
    strncat(path, "/state.json", len - strlen(path) - 1);
}

/* Berth's own fields of state.json that this file writes: NetworksSet,
 * true once the networks the container was made with are in Networks
 * (they are not put back after that: `network disconnect` may have taken
 * them out); NetworksPid, the container process whose namespace the
 * networks are joined to (0: none now). */
static const char *const net_marks[] = {"NetworksSet", "NetworksPid"};

static json_t *berth_of(json_t *st)
{
    json_t *b = json_object_get(st, "Berth");
    if (!json_is_object(b))
        json_object_set_new(st, "Berth", b = json_object());
    return b;
}

static void state_carry(const char *path, json_t *state)
{
    json_t *disk = json_load_file(path, 0, NULL);
    json_t *ns = json_object_get(disk, "NetworkSettings");
    json_t *mine = json_object_get(state, "NetworkSettings");
    if (json_is_object(ns) && json_is_object(mine)) {
        static const char *const keys[] = {"Networks", "IPAddress", "IPPrefixLen", "Gateway",
                                           "MacAddress"};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            json_t *v = json_object_get(ns, keys[i]);
            if (v)
                json_object_set(mine, keys[i], v);
        }
    }
    json_t *db = json_object_get(disk, "Berth"), *b = json_object_get(state, "Berth");
    if (json_is_object(db) && json_is_object(b))
        for (size_t i = 0; i < sizeof net_marks / sizeof *net_marks; i++) {
            json_t *v = json_object_get(db, net_marks[i]);
            if (v)
                json_object_set(b, net_marks[i], v);
        }
    json_decref(disk);
}

/* Held while state.json is read and written whole: what a `network
 * connect` writes between the two is not lost. */
static int state_file_lock(const char *path)
{
    char lock[4400];
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int net_state_write(const char *path, const char *tmp, json_t *state, struct berr *err)
{
    __attribute__((cleanup(cleanup_closep))) int lock = state_file_lock(path);
    state_carry(path, state);
    return json_write_atomic(state, path, tmp, 0644, err);
}

/* Write the network fields of `st` to the container's state.json (as it
 * is on disk otherwise), under the containers' lock; not if the container
 * is gone. HostConfig.NetworkMode too when `mode`: only at the first start,
 * the name of the network it was given by. */
static int settings_store_mode(struct berth_store *s, const char *id, json_t *st, bool mode,
                               struct berr *err)
{
    char path[4300], tmp[4400];
    int lock = state_lock(s), rc = 0;
    state_file(s, id, path, sizeof path);
    __attribute__((cleanup(cleanup_closep))) int flk = state_file_lock(path);
    json_t *disk = json_load_file(path, 0, NULL);
    json_t *ns = json_object_get(st, "NetworkSettings");
    if (json_is_object(disk) && json_is_object(ns)) {
        json_t *dns = json_object_get(disk, "NetworkSettings");
        if (!json_is_object(dns))
            json_object_set_new(disk, "NetworkSettings", dns = json_object());
        const char *key;
        json_t *v;
        json_object_foreach(ns, key, v)
            if (strcmp(key, "Ports") != 0)
                json_object_set(dns, key, v);
        json_t *host = json_object_get(disk, "HostConfig");
        if (mode && json_is_object(host))
            json_object_set(host, "NetworkMode",
                            json_object_get(json_object_get(st, "HostConfig"), "NetworkMode"));
        json_t *b = json_object_get(st, "Berth");
        for (size_t i = 0; json_is_object(b) && i < sizeof net_marks / sizeof *net_marks; i++) {
            json_t *v = json_object_get(b, net_marks[i]);
            if (v)
                json_object_set(berth_of(disk), net_marks[i], v);
        }
        state_dir(s, id, tmp, sizeof tmp);
        snprintf(tmp + strlen(tmp), sizeof tmp - strlen(tmp), "/.state.json.%d", (int)getpid());
        rc = json_write_atomic(disk, path, tmp, 0644, err);
    }
    json_decref(disk);
    if (lock >= 0)
        close(lock);
    return rc;
}

static int settings_store(struct berth_store *s, const char *id, json_t *st, struct berr *err)
{
    return settings_store_mode(s, id, st, false, err);
}

/* The veth pair (the container's end named `ifname`), the address and,
 * unless it has one already, the default route; in the network's
 * namespace and the container's, never ours. */
static int wire(const char *id, json_t *n, int netns, int ctrns, const char *ifname,
                uint32_t ip, const unsigned char mac[6], struct berr *err)
{
    char veth[16], br[16];
    veth_name(id, veth);
    net_bridge_name(n, br);
    struct subnet sn;
    net_subnet_of(n, &sn);
    struct nl *nl = nl_open(netns, err), *cnl = NULL;
    if (!nl)
        return -BERR_IO;
    nl_link_del(nl, veth);   /* from an earlier start of this container */
    int rc = nl_veth_add(nl, veth, ifname, ctrns, mac, err);
    int vi = rc == 0 ? nl_ifindex(nl, veth, err) : rc;
    int bi = vi > 0 ? nl_ifindex(nl, br, err) : vi;
    rc = bi > 0 ? nl_link_up(nl, vi, bi, err) : bi;
    if (rc < 0 || !(cnl = nl_open(ctrns, err))) {
        nl_link_del(nl, veth);
        nl_close(nl);
        return rc < 0 ? rc : -BERR_IO;
    }
    int ei = nl_ifindex(cnl, ifname, err);
    struct in_addr a = {htonl(ip)}, gw = {htonl(sn.net + 1)};
    rc = ei > 0 ? nl_addr_add(cnl, ei, a, sn.prefix, err) : ei;
    if (rc == 0)
        rc = nl_link_up(cnl, ei, 0, err);
    if (rc == 0)
        rc = nl_route_default(cnl, ei, gw, err);
    nl_close(cnl);
    if (rc < 0)
        nl_link_del(nl, veth);
    nl_close(nl);
    return rc;
}

/* The lowest free address of the subnet, past the gateway; 0 if none. */
static uint32_t address_choose(json_t *n)
{
    struct subnet sn;
    if (net_subnet_of(n, &sn) < 0)
        return 0;
    uint32_t last = sn.net | ~net_mask(sn.prefix);
    for (uint32_t ip = sn.net + 2; ip < last; ip++) {
        char a[32];
        net_ip_str(ip, a, sizeof a);
        bool used = false;
        json_t *ep;
        const char *id;
        json_object_foreach(json_object_get(n, "Endpoints"), id, ep)
            used = used || strcmp(net_str(ep, "IPv4Address"), a) == 0;
        if (!used)
            return ip;
    }
    return 0;
}

/* The network's namespace, opened. */
static int netns_open(struct berth_store *s, json_t *n)
{
    char dir[4200], path[4300];
    net_dir(s, net_str(n, "Id"), dir, sizeof dir);
    snprintf(path, sizeof path, "%s/netns", dir);
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* The container `id` (its state `st`; network namespace `ctrns`; monitor
 * mon_pid) joins the network `n` as interface `ifname`, under the
 * networks' lock. Its Networks entry in `st` gets the endpoint. */
static int join_one(struct berth_store *s, const char *id, json_t *st, json_t *n,
                    json_t *aliases, int ctrns, const char *ifname, struct berr *err)
{
    json_t *eps = json_object_get(n, "Endpoints");
    net_drop_stale(n);
    json_object_del(eps, id);
    uint32_t ip = address_choose(n);
    unsigned char mac[6] = {0x02, 0x42, (unsigned char)(ip >> 24), (unsigned char)(ip >> 16),
                            (unsigned char)(ip >> 8), (unsigned char)ip};
    __attribute__((cleanup(cleanup_closep))) int netns = netns_open(s, n);
    if (ip == 0)
        return berr_set(err, BERR_CONFLICT, "no available IPv4 addresses on this network's "
                        "address pools: %s (%s)", net_str(n, "Name"), net_str(n, "Id"));
    if (netns < 0)
        return berr_set(err, BERR_IO, "cannot open the network namespace of %s: %s",
                        net_str(n, "Name"), strerror(errno));
    int rc = wire(id, n, netns, ctrns, ifname, ip, mac, err);
    if (rc < 0)
        return rc;
    char addr[32], macs[32], epid[RT_ID_LEN + 1];
    net_ip_str(ip, addr, sizeof addr);
    snprintf(macs, sizeof macs, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
             mac[3], mac[4], mac[5]);
    net_random_hex(epid, RT_ID_LEN / 2);
    json_t *b = json_object_get(st, "Berth");
    const char *name = net_str(st, "Name");
    const char *hostname = net_str(json_object_get(st, "Config"), "Hostname");
    json_t *ep = json_pack("{s:s,s:s,s:O,s:s,s:s,s:s,s:s,s:O,s:O}", "Name",
                           name[0] == '/' ? name + 1 : name, "Hostname", hostname,
                           "Aliases", aliases, "IPv4Address", addr, "MacAddress", macs,
                           "EndpointID", epid, "Interface", ifname,
                           "MonitorPid", json_object_get(b, "MonitorPid"),
                           "MonitorStart", json_object_get(b, "MonitorStart"));
    json_t *entry = ep ? entry_of(n, aliases, ep) : NULL;
    rc = entry ? 0 : berr_set(err, BERR_IO, "out of memory");
    if (rc == 0) {
        json_object_set_new(eps, id, ep);
        ep = NULL;
        rc = net_save(s, n, err);
        if (rc < 0)
            json_object_del(eps, id);
    }
    if (rc == 0)
        json_object_set_new(networks_of(st), net_str(n, "Name"), entry);
    else {
        json_decref(entry);
        json_decref(ep);
        struct nl *nl = nl_open(netns, &(struct berr){0});
        char veth[16];
        veth_name(id, veth);
        if (nl)
            nl_link_del(nl, veth);
        nl_close(nl);
    }
    return rc;
}

/* The container's end of its pair on `n` goes (and the peer with it). */
static void unwire(struct berth_store *s, json_t *n, const char *id)
{
    struct berr err = {0};
    __attribute__((cleanup(cleanup_closep))) int netns = netns_open(s, n);
    struct nl *nl = netns >= 0 ? nl_open(netns, &err) : NULL;
    char veth[16];
    veth_name(id, veth);
    if (nl)
        nl_link_del(nl, veth);
    nl_close(nl);
}

int net_join(struct rt_container *c, pid_t pid, struct berr *err)
{
    const struct rt_run_opts *o = c->o;
    if (o->network_host || o->network_none)
        return 0;
    __attribute__((cleanup(cleanup_closep))) int lock = net_lock(c->s, err);
    if (lock < 0)
        return lock;
    char path[4300];
    /* what is recorded (`network connect` may have added to it since the
     * container was made); at its first start, what it was run with */
    state_file(c->s, c->id, path, sizeof path);
    state_carry(path, c->state);
    json_t *nets = networks_of(c->state), *b = berth_of(c->state);
    int rc = 0;
    bool mode = false;
    if (!json_is_true(json_object_get(b, "NetworksSet"))) {
        /* the --network ones first, then what a `network connect` of the
         * created container added */
        json_t *first = json_object();
        for (size_t i = 0; rc == 0 && i < o->nnetworks; i++) {
            json_t *n = net_find(c->s, o->networks[i].name, err), *aliases = json_array();
            for (size_t k = 0; n && k < o->networks[i].naliases; k++)
                json_array_append_new(aliases, json_string(o->networks[i].aliases[k]));
            if (n && i == 0 && json_is_object(json_object_get(c->state, "HostConfig"))) {
                /* the name, whatever it was given by */
                json_object_set_new(json_object_get(c->state, "HostConfig"), "NetworkMode",
                                    json_string(net_str(n, "Name")));
                mode = true;
            }
            if (n)
                json_object_set_new(first, net_str(n, "Name"), entry_of(n, aliases, NULL));
            else
                rc = berr_set(err, BERR_NOTFOUND, "network %s not found", o->networks[i].name);
            json_decref(aliases);
            json_decref(n);
        }
        if (rc < 0) {
            json_decref(first);
            return rc;
        }
        json_object_update_missing(first, nets);
        json_object_set_new(json_object_get(c->state, "NetworkSettings"), "Networks", first);
        nets = first;
        json_object_set_new(b, "NetworksSet", json_true());
    }
    /* from here a `network connect` joins this process's namespace itself */
    json_object_set_new(b, "NetworksPid", json_integer(pid));
    if (json_object_size(nets) == 0)
        return settings_store_mode(c->s, c->id, c->state, mode, err);
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
    __attribute__((cleanup(cleanup_closep))) int ctrns = open(path, O_RDONLY | O_CLOEXEC);
    if (ctrns < 0)
        return berr_set(err, BERR_IO, "cannot open the network namespace of the container: %s",
                        strerror(errno));
    json_t *list = json_deep_copy(nets), *e;
    const char *name;
    size_t k = 0;
    json_object_foreach(list, name, e) {
        json_t *n = net_find(c->s, name, err);
        char ifname[16];
        snprintf(ifname, sizeof ifname, "eth%zu", k++);
        if (!json_is_array(json_object_get(e, "Aliases")))   /* a state.json of the wrong shape */
            json_object_set_new(e, "Aliases", json_array());
        rc = n ? join_one(c->s, c->id, c->state, n, json_object_get(e, "Aliases"), ctrns,
                          ifname, err)
               : berr_set(err, BERR_NOTFOUND, "network %s not found", name);
        json_decref(n);
        if (rc < 0)
            break;
    }
    json_decref(list);
    settings_top(c->state);
    int src = settings_store_mode(c->s, c->id, c->state, mode,
                                  rc < 0 ? &(struct berr){0} : err);
    rc = rc < 0 ? rc : src;
    hosts_refresh(c->s, c->id, NULL);
    return rc;
}

void net_leave(struct rt_container *c)
{
    if (c->o->network_host || c->o->network_none)
        return;
    struct berr err = {0};
    __attribute__((cleanup(cleanup_closep))) int lock = net_lock(c->s, &err);
    if (lock < 0)
        return;
    json_t *all = net_all(c->s), *n, *left = json_array();
    size_t i;
    json_array_foreach(all, i, n) {
        json_t *eps = json_object_get(n, "Endpoints");
        if (!json_object_get(eps, c->id))
            continue;
        /* the pair goes now, not when the container's namespace does */
        unwire(c->s, n, c->id);
        json_object_del(eps, c->id);
        net_drop_stale(n);
        if (net_save(c->s, n, &err) == 0)
            json_array_append(left, n);
    }
    json_array_foreach(left, i, n)
        hosts_refresh(c->s, c->id, n);
    /* the networks stay recorded, with no address, for the next start */
    char path[4300];
    state_file(c->s, c->id, path, sizeof path);
    state_carry(path, c->state);
    json_t *e, *empty = json_array();
    const char *name;
    json_object_foreach(networks_of(c->state), name, e) {
        json_t *nn = net_find(c->s, name, &err);
        json_t *aliases = json_object_get(e, "Aliases");
        if (nn)   /* (a state.json of the wrong shape: no aliases) */
            json_object_set_new(networks_of(c->state), name,
                                entry_of(nn, json_is_array(aliases) ? aliases : empty, NULL));
        json_decref(nn);
    }
    json_decref(empty);
    json_object_set_new(berth_of(c->state), "NetworksPid", json_integer(0));
    settings_top(c->state);
    settings_store(c->s, c->id, c->state, &err);
    json_decref(left);
    json_decref(all);
}

uint32_t net_address(const struct rt_container *c)
{
    /* as state.json has it now: `network disconnect` changes it there,
     * not in the monitor's copy */
    char path[4300];
    state_file(c->s, c->id, path, sizeof path);
    json_t *st = json_load_file(path, 0, NULL);
    const char *ip = net_str(json_object_get(st, "NetworkSettings"), "IPAddress");
    struct in_addr a;
    uint32_t addr = htonl(INADDR_LOOPBACK);
    if (*ip && inet_pton(AF_INET, ip, &a) == 1)
        addr = a.s_addr;
    json_decref(st);
    return addr;
}

/* ---- network connect / disconnect --------------------------------------------------- */

/* Is the container's process there to be joined? Its pid, else 0. Its
 * monitor records the pid (NetworksPid) when it joins the networks, under
 * the networks' lock, before the state says it runs: from then on the
 * process is joined here; before, the monitor joins what is recorded. */
static pid_t running_pid(json_t *st)
{
    json_t *b = json_object_get(st, "Berth");
    pid_t joined = (pid_t)json_integer_value(json_object_get(b, "NetworksPid"));
    json_t *mon = json_pack("{s:O?,s:O?}", "MonitorPid", json_object_get(b, "MonitorPid"),
                            "MonitorStart", json_object_get(b, "MonitorStart"));
    bool alive = mon && net_endpoint_alive(mon);
    json_decref(mon);
    /* (the monitor's own child: not a pid of an earlier run, reused) */
    if (joined > 0 && alive &&
        (pid_t)proc_parent(joined) == (pid_t)json_integer_value(json_object_get(b, "MonitorPid")))
        return joined;
    json_t *state = json_object_get(st, "State");
    if (!json_is_true(json_object_get(state, "Running")) ||
        json_is_true(json_object_get(state, "Restarting")))
        return 0;
    return (pid_t)json_integer_value(json_object_get(state, "Pid"));
}

/* The container, its network and its lock, for connect and disconnect. */
static int target(struct berth_store *s, const char *network, const char *container,
                  char id[RT_ID_LEN + 1], json_t **st, json_t **n, struct berr *err)
{
    *n = net_find(s, network, err);
    if (!*n)
        return -BERR_NOTFOUND;
    int rc = state_find(s, container, id, st, err);
    if (rc < 0) {
        json_decref(*n);
        *n = NULL;
        return rc;
    }
    const char *mode = net_str(json_object_get(*st, "HostConfig"), "NetworkMode");
    if (strcmp(mode, "host") == 0 || strcmp(mode, "none") == 0) {
        rc = berr_set(err, BERR_CONFLICT, strcmp(mode, "host") == 0
                      ? "container cannot be disconnected from host network or connected "
                        "to host network"
                      : "container %s runs with --network none: it cannot be connected to "
                        "or disconnected from a network", container);
        json_decref(*n);
        json_decref(*st);
        *n = *st = NULL;
    }
    return rc;
}

int rt_network_connect(struct berth_store *s, const char *network, const char *container,
                       char **aliases, size_t naliases, struct berr *err)
{
    if (!alias_check(aliases, naliases, err))
        return -BERR_INVALID;
    __attribute__((cleanup(cleanup_closep))) int lock = net_lock(s, err);
    if (lock < 0)
        return lock;
    char id[RT_ID_LEN + 1], shown[300];
    json_t *st, *n;
    int rc = target(s, network, container, id, &st, &n, err);
    if (rc < 0)
        return rc;
    json_t *nets = networks_of(st), *al = json_array();
    for (size_t i = 0; i < naliases; i++)
        json_array_append_new(al, json_string(aliases[i]));
    const char *name = net_str(st, "Name");
    if (json_object_get(nets, net_str(n, "Name")))
        rc = berr_set(err, BERR_CONFLICT, "endpoint with name %s already exists in network %s",
                      net_printable(name[0] == '/' ? name + 1 : name, shown, sizeof shown),
                      net_str(n, "Name"));
    pid_t pid = running_pid(st);
    if (rc == 0 && pid > 0) {
        char path[64], ifname[16] = "";
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
        __attribute__((cleanup(cleanup_closep))) int ctrns = open(path, O_RDONLY | O_CLOEXEC);
        struct nl *cnl = ctrns >= 0 ? nl_open(ctrns, err) : NULL;
        if (!cnl)
            rc = ctrns < 0 ? berr_set(err, BERR_IO, "cannot open the network namespace of "
                                      "the container: %s", strerror(errno)) : -BERR_IO;
        /* the lowest free ethN */
        for (int k = 0; cnl && k < 1000 && !ifname[0]; k++) {
            struct berr quiet = {0};
            char try[16];
            snprintf(try, sizeof try, "eth%d", k);
            if (nl_ifindex(cnl, try, &quiet) < 0)
                memcpy(ifname, try, sizeof ifname);
        }
        nl_close(cnl);
        if (rc == 0)
            rc = join_one(s, id, st, n, al, ctrns, ifname, err);
    } else if (rc == 0)
        json_object_set_new(nets, net_str(n, "Name"), entry_of(n, al, NULL));
    if (rc == 0) {
        settings_top(st);
        rc = settings_store(s, id, st, err);
        if (rc < 0 && json_object_get(json_object_get(n, "Endpoints"), id)) {
            /* not recorded: not joined either */
            unwire(s, n, id);
            json_object_del(json_object_get(n, "Endpoints"), id);
            net_save(s, n, &(struct berr){0});
        }
        hosts_refresh(s, id, NULL);
    }
    json_decref(al);
    json_decref(st);
    json_decref(n);
    return rc;
}

int rt_network_disconnect(struct berth_store *s, const char *network, const char *container,
                          struct berr *err)
{
    __attribute__((cleanup(cleanup_closep))) int lock = net_lock(s, err);
    if (lock < 0)
        return lock;
    char id[RT_ID_LEN + 1], shown[300];
    json_t *st, *n;
    int rc = target(s, network, container, id, &st, &n, err);
    if (rc < 0)
        return rc;
    json_t *nets = networks_of(st), *eps = json_object_get(n, "Endpoints");
    if (!json_object_get(nets, net_str(n, "Name")) && !json_object_get(eps, id))
        rc = berr_set(err, BERR_CONFLICT, "container %s is not connected to network %s",
                      net_printable(container, shown, sizeof shown), net_str(n, "Name"));
    if (rc == 0 && json_object_get(eps, id)) {
        json_object_del(eps, id);
        net_drop_stale(n);
        rc = net_save(s, n, err);
        if (rc == 0)
            unwire(s, n, id);
    }
    if (rc == 0) {
        json_object_del(nets, net_str(n, "Name"));
        settings_top(st);
        /* the default route went with the first network's interface: the
         * next one's gateway takes over */
        pid_t pid = running_pid(st);
        void *it = json_object_iter(nets);
        json_t *next = it ? net_find(s, json_object_iter_key(it), &(struct berr){0}) : NULL;
        json_t *ep = json_object_get(json_object_get(next, "Endpoints"), id);
        if (pid > 0 && ep) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
            __attribute__((cleanup(cleanup_closep))) int ctrns = open(path, O_RDONLY | O_CLOEXEC);
            struct berr quiet = {0};
            struct nl *cnl = ctrns >= 0 ? nl_open(ctrns, &quiet) : NULL;
            int ei = cnl ? nl_ifindex(cnl, net_str(ep, "Interface"), &quiet) : -1;
            struct in_addr gw;
            if (ei > 0 && inet_pton(AF_INET, net_str(next, "Gateway"), &gw) == 1)
                nl_route_default(cnl, ei, gw, &quiet);
            nl_close(cnl);
        }
        json_decref(next);
        rc = settings_store(s, id, st, err);
        hosts_refresh(s, id, n);
    }
    json_decref(st);
    json_decref(n);
    return rc;
}
