/*
 * netlink.c - the few rtnetlink requests a container network needs, made
 * with libmnl: a bridge, a veth pair whose far end is created straight in
 * another namespace, an address, a link up, a default route.
 *
 * A netlink socket works on the network namespace it was created in, so
 * nl_open enters the namespace it is given only for as long as it takes
 * to open the socket, then returns to its own: the calling process never
 * stays anywhere else, and nothing is ever made in the host's namespace
 * (a veth pair is created in the network's namespace with its peer placed
 * in the container's by the same request).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct nl {
    struct mnl_socket *sock;
    unsigned seq, portid;
    char buf[32768];
};

struct nl *nl_open(int netns, struct berr *err)
{
    int self = -1;
    if (netns >= 0) {
        self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0 || setns(netns, CLONE_NEWNET) < 0) {
            int e = errno;
            if (self >= 0)
                close(self);
            berr_set(err, BERR_IO, "cannot enter a network namespace: %s", strerror(e));
            return NULL;
        }
    }
    struct nl *nl = calloc(1, sizeof *nl);
    if (nl)
        nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    int e = errno;
    if (self >= 0) {
        /* back home: must not fail, or this process is somewhere else */
        if (setns(self, CLONE_NEWNET) < 0)
            _exit(125);
        close(self);
    }
    if (!nl || !nl->sock || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        e = nl && nl->sock ? errno : e;
        nl_close(nl);
        berr_set(err, BERR_IO, "cannot open a netlink socket: %s", strerror(e));
        return NULL;
    }
    nl->portid = mnl_socket_get_portid(nl->sock);
    nl->seq = (unsigned)time(NULL);
    return nl;
}

void nl_close(struct nl *nl)
{
    if (!nl)
        return;
    if (nl->sock)
        mnl_socket_close(nl->sock);
    free(nl);
}

static struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    nlh->nlmsg_seq = ++nl->seq;
    return nlh;
}

struct getlink {
    int index;
};

static int on_link(const struct nlmsghdr *nlh, void *arg)
{
    struct getlink *g = arg;
    if (nlh->nlmsg_type == RTM_NEWLINK) {
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        g->index = ifi->ifi_index;
    }
    return MNL_CB_OK;
}

/* Send and wait for the kernel's answer; 0 or -errno. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
{
    unsigned seq = nlh->nlmsg_seq;
    if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof nl->buf);
        if (n < 0)
            return -errno;
        int rc = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, arg);
        if (rc == MNL_CB_ERROR)
            return errno ? -errno : -EIO;
        if (rc == MNL_CB_STOP)
            return 0;
    }
}

static int fail(struct berr *err, int rc, const char *what, const char *name)
{
    return berr_set(err, BERR_IO, "cannot %s %s: %s", what, name, strerror(-rc));
}

int nl_ifindex(struct nl *nl, const char *name, struct berr *err)
{
    struct nlmsghdr *nlh = nl_msg(nl, RTM_GETLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    struct getlink g = {0};
    int rc = nl_talk(nl, nlh, on_link, &g);
    if (rc < 0 || g.index <= 0)
        return fail(err, rc < 0 ? rc : -ENODEV, "find the interface", name);
    return g.index;
}

int nl_bridge_add(struct nl *nl, const char *name, struct berr *err)
{
    struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, info);
    int rc = nl_talk(nl, nlh, NULL, NULL);
    return rc < 0 ? fail(err, rc, "create the bridge", name) : 0;
}

int nl_veth_add(struct nl *nl, const char *name, const char *peer, int peer_netns,
                const unsigned char mac[6], struct berr *err)
{
    struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    struct nlattr *p = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    struct ifinfomsg *pifi = mnl_nlmsg_put_extra_header(nlh, sizeof *pifi);
    pifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns);
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
    mnl_attr_nest_end(nlh, p);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    int rc = nl_talk(nl, nlh, NULL, NULL);
    return rc < 0 ? fail(err, rc, "create the veth pair", name) : 0;
}

int nl_link_up(struct nl *nl, int index, int master, struct berr *err)
{
    struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    if (master > 0)
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
    int rc = nl_talk(nl, nlh, NULL, NULL);
    char name[32];
    snprintf(name, sizeof name, "#%d", index);
    return rc < 0 ? fail(err, rc, "bring up interface", name) : 0;
}

int nl_addr_add(struct nl *nl, int index, struct in_addr addr, int prefix, struct berr *err)
{
    struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (unsigned)index;
    mnl_attr_put(nlh, IFA_LOCAL, sizeof addr, &addr);
    mnl_attr_put(nlh, IFA_ADDRESS, sizeof addr, &addr);
    int rc = nl_talk(nl, nlh, NULL, NULL);
    char name[32];
    snprintf(name, sizeof name, "to interface #%d", index);
    return rc < 0 ? fail(err, rc, "add an address", name) : 0;
}

int nl_route_default(struct nl *nl, int index, struct in_addr gw, struct berr *err)
{
    struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof *rt);
    rt->rtm_family = AF_INET;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    mnl_attr_put(nlh, RTA_GATEWAY, sizeof gw, &gw);
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
    int rc = nl_talk(nl, nlh, NULL, NULL);
    /* one there already is another network's, joined first: it stays */
    return rc < 0 && rc != -EEXIST ? fail(err, rc, "add the default route", "via the gateway")
                                   : 0;
}

int nl_link_del(struct nl *nl, const char *name)
{
    struct nlmsghdr *nlh = nl_msg(nl, RTM_DELLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    return nl_talk(nl, nlh, NULL, NULL);
}
