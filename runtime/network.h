/*
 * network.h - what network.c (the networks themselves: their files, lock,
 * namespace and subnet) gives endpoint.c (the containers on them).
 * Private to runtime/.
 */
#ifndef BERTH_RUNTIME_NETWORK_H
#define BERTH_RUNTIME_NETWORK_H

#include "internal.h"

struct subnet {
    uint32_t net;            /* host order */
    int prefix;
};

/* <store>/networks, or <store>/networks/<id> when id is given. */
void net_dir(struct berth_store *s, const char *id, char *out, size_t len);
/* <store>/networks/lock, held by every change to a network; returns the fd. */
int net_lock(struct berth_store *s, struct berr *err);
/* Every network.json, by name. */
json_t *net_all(struct berth_store *s);
/* By id, name, then unique id prefix, as docker looks them up. */
json_t *net_find(struct berth_store *s, const char *what, struct berr *err);
int net_save(struct berth_store *s, json_t *n, struct berr *err);
/* Drop the endpoints whose monitor is gone; true if any was. */
bool net_drop_stale(json_t *n);
bool net_endpoint_alive(json_t *ep);
void net_bridge_name(json_t *n, char out[16]);
int net_subnet_of(json_t *n, struct subnet *out);

/* a name docker would take, and one that is safe in a hosts file */
bool net_name_valid(const char *w, size_t max);
/* What was given, for a one-line message: cut short, control characters as '?'. */
const char *net_printable(const char *s, char *out, size_t len);
uint32_t net_mask(int prefix);
void net_ip_str(uint32_t ip, char *out, size_t len);
void net_random_hex(char *out, size_t nbytes);
/* A string member, or "". */
const char *net_str(json_t *o, const char *key);

#endif
