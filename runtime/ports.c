/*
 * ports.c - published ports without a bridge, NAT or private addresses.
 * `run` binds the host side itself (so a port in use is an error before
 * anything starts); the monitor accepts, and for each connection a child
 * enters the container's network namespace, connects to the port on its
 * loopback (or on its address on a user-defined network, as docker
 * connects to it there), and copies bytes both ways until both sides are
 * done.
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

int rt_port_parse(const char *s, struct rt_port *p, struct berr *err)
{
    char buf[256], *parts[3];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", s);
    char *proto = strchr(buf, '/');
    if (proto) {
        *proto++ = '\0';
        if (strcmp(proto, "tcp") != 0)
            return berr_set(err, BERR_UNSUPPORTED, "invalid port %s: only tcp is supported", s);
    }
    /* an IPv6 address would need brackets; only IPv4 is served */
    for (char *save, *t = strtok_r(buf, ":", &save); t && n < 3; t = strtok_r(NULL, ":", &save))
        parts[n++] = t;
    memset(p, 0, sizeof *p);
    snprintf(p->host_ip, sizeof p->host_ip, "%s", n == 3 ? parts[0] : "0.0.0.0");
    struct in_addr a;
    char *end1, *end2;
    unsigned long hp = n >= 2 ? strtoul(parts[n - 2], &end1, 10) : 0;
    unsigned long cp = n >= 2 ? strtoul(parts[n - 1], &end2, 10) : 0;
    if (n < 2 || *end1 || *end2 || hp == 0 || hp > 65535 || cp == 0 || cp > 65535 ||
        inet_pton(AF_INET, p->host_ip, &a) != 1)
        return berr_set(err, BERR_INVALID, "invalid port specification: \"%s\" "
                        "(expected [IP:]HOSTPORT:CONTAINERPORT[/tcp])", s);
    p->host_port = (uint16_t)hp;
    p->ctr_port = (uint16_t)cp;
    return 0;
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

int ports_listen(const struct rt_port *p, struct berr *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p->host_port)};
    inet_pton(AF_INET, p->host_ip, &sa.sin_addr);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return berr_set(err, BERR_IO, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            return berr_set(err, BERR_CONFLICT, "Bind for %s:%u failed: port is already "
                            "allocated", p->host_ip, p->host_port);
        return berr_set(err, BERR_IO, "cannot listen on %s:%u: %s", p->host_ip, p->host_port,
                        strerror(e));
    }
    return fd;
}
