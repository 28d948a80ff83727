/*
 * ports.c - published ports without a bridge, NAT or private addresses.
 * `run` binds the host side itself, so a port in use is an error before
 * anything starts, and a random port (no host port given, or -P) is the
 * kernel's choice of a free one, known and recorded before `run -d`
 * returns; `start` tries that one again first. The monitor accepts, and
 * for each connection a child enters the container's network namespace,
 * connects to the port on its loopback (or on its address on a
 * user-defined network, as docker connects to it there), and copies bytes
 * both ways until both sides are done.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* "5000", "5000/tcp", "8080:5000", "127.0.0.1:8080:5000", "127.0.0.1::5000",
 * ":5000": docker's -p; an empty or missing host port is a random one. */
int rt_port_parse(const char *s, struct rt_port *p, struct berr *err)
{
    char buf[256], *parts[4];
    int n = 0;
    memset(p, 0, sizeof *p);
    if (strlen(s) >= sizeof buf)
        return berr_set(err, BERR_INVALID, "invalid port specification: \"%.40s...\"", s);
    snprintf(buf, sizeof buf, "%s", s);
    char *proto = strchr(buf, '/');
    if (proto) {
        *proto++ = '\0';
        if (strcmp(proto, "tcp") != 0)
            return berr_set(err, BERR_UNSUPPORTED, "invalid port %s: only tcp is supported", s);
    }
    /* empty fields count ("IP::CTR"); an IPv6 address would need
     * brackets, and only IPv4 is served */
    for (char *rest = buf, *t; n < 4 && (t = strsep(&rest, ":")); )
        parts[n++] = t;
    if (n > 3)
        return berr_set(err, BERR_INVALID, "invalid port specification: \"%s\" "
                        "(expected [[IP:][HOSTPORT]:]CONTAINERPORT[/tcp])", s);
    const char *ip = n == 3 && *parts[0] ? parts[0] : "0.0.0.0";
    const char *host = n >= 2 ? parts[n - 2] : "", *ctr = parts[n - 1];
    struct in_addr a;
    if (strlen(ip) >= sizeof p->host_ip || inet_pton(AF_INET, ip, &a) != 1)
        return berr_set(err, BERR_INVALID, "invalid IP address: %s", ip);
    snprintf(p->host_ip, sizeof p->host_ip, "%s", ip);
    const struct { const char *what, *v; uint16_t *out; } nums[] = {
        {"containerPort", ctr, &p->ctr_port}, {"hostPort", host, &p->host_port}};
    for (size_t i = 0; i < 2; i++) {
        if (i == 1 && !*host) {
            p->random = true;
            break;
        }
        const char *v = nums[i].v;
        char *end;
        errno = 0;
        unsigned long port = strtoul(v, &end, 10);
        if (*v < '0' || *v > '9' || *end || errno || port == 0 || port > 65535)
            return berr_set(err, BERR_INVALID, "invalid %s: \"%s\" in \"%s\" (a port from 1 "
                            "to 65535; ranges are not supported)", nums[i].what, v, s);
        *nums[i].out = (uint16_t)port;
    }
    return 0;
}

int ports_publish_all(struct rt_port *ports, size_t *n, size_t max, json_t *exposed,
                      struct berr *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(exposed, key, v) {
        char *end;
        unsigned long port = strtoul(key, &end, 10);
        if (strcmp(end, "/tcp") != 0 || port == 0 || port > 65535)
            continue;   /* udp cannot be published */
        bool done = false;
        for (size_t i = 0; i < *n; i++)
            done |= ports[i].ctr_port == port;
        if (done)
            continue;
        if (*n == max)
            return berr_set(err, BERR_INVALID, "too many published ports");
        ports[*n] = (struct rt_port){.host_ip = "0.0.0.0", .ctr_port = (uint16_t)port,
                                     .random = true, .publish_all = true};
        ++*n;
    }
    return 0;
}

json_t *ports_json(const struct rt_port *ports, size_t n, bool bindings)
{
    json_t *out = json_object();
    for (size_t i = 0; i < n; i++) {
        char key[32], hp[8] = "";
        if (bindings && ports[i].publish_all)
            continue;
        snprintf(key, sizeof key, "%u/tcp", ports[i].ctr_port);
        if (!bindings || !ports[i].random)
            snprintf(hp, sizeof hp, "%u", ports[i].host_port);
        json_t *list = json_object_get(out, key);
        if (!list)
            json_object_set_new(out, key, list = json_array());
        json_array_append_new(list, json_pack("{s:s,s:s}", "HostIp", ports[i].host_ip,
                                              "HostPort", hp));
    }
    return out;
}

static void copy_both_ways(int a, int b)
{
    char buf[65536];
    struct pollfd pfd[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    int open_dirs = 2;
    while (open_dirs > 0 && poll(pfd, 2, -1) > 0)
        for (int i = 0; i < 2; i++) {
            if (!pfd[i].revents)
                continue;
            int to = i ? a : b;
            ssize_t n = read(pfd[i].fd, buf, sizeof buf);
            if (n <= 0 || write_all(to, buf, (size_t)n) < 0) {
                shutdown(to, SHUT_WR);
                pfd[i].fd = -1;
                open_dirs--;
            }
        }
}

void ports_relay(int client, int netns, uint32_t addr, uint16_t port)
{
    if (netns < 0 || setns(netns, CLONE_NEWNET) < 0)
        return;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = addr};
    /* a server still starting gets a moment before the client is turned away */
    for (int i = 0; fd >= 0 && i < 20; i++) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            copy_both_ways(client, fd);
            break;
        }
        if (errno != ECONNREFUSED)
            break;
        usleep(50000);
    }
}

static int listen_on(const struct rt_port *p, uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, p->host_ip, &sa.sin_addr);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int ports_listen(struct rt_port *p, struct berr *err)
{
    /* a random port tries the one it had first, so that a restart keeps it */
    int fd = p->random && !p->host_port ? -EADDRINUSE : listen_on(p, p->host_port);
    if (fd == -EADDRINUSE && p->random)
        fd = listen_on(p, 0);
    if (fd == -EADDRINUSE)
        return berr_set(err, BERR_CONFLICT, "Bind for %s:%u failed: port is already "
                        "allocated", p->host_ip, p->host_port);
    if (fd < 0)
        return berr_set(err, BERR_IO, "cannot listen on %s:%u: %s", p->host_ip, p->host_port,
                        strerror(-fd));
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int e = errno;
        close(fd);
        return berr_set(err, BERR_IO, "getsockname: %s", strerror(e));
    }
    p->host_port = ntohs(sa.sin_port);
    return fd;
}
