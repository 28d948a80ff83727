/*
 * server.h - berthd: the registry server. main.c reads the configuration
 * and calls server_run, which serves until SIGTERM or SIGINT.
 */
#ifndef BERTH_SERVER_H
#define BERTH_SERVER_H

#include "../common/common.h"
#include "../gc/gc.h"
#include "../storage/storage.h"

#include <jansson.h>
#include <sys/socket.h>

struct config {
    char listen[256];            /* ADDR:PORT, IPv4 or [IPv6] */
    char root[1024];             /* data directory */
    enum log_level log_level;
    bool log_json;
    uint64_t manifest_max;       /* bytes */
    int page_max;                /* tags/list and _catalog page size cap */
    bool delete_enabled;
    int threads;                 /* 0: chosen from the CPU count */
    json_t *auth;                /* the "auth" object (see auth/auth.h), or NULL */
    json_t *proxy;               /* the "proxy" object (pull-through cache), or NULL */
    char tls_cert[1024];         /* PEM files; both empty: plain HTTP */
    char tls_key[1024];
    char metrics_listen[256];    /* a second listener for /metrics, or "" */
    /* What a scraper sends to that listener: a static bearer token and/or
     * a Basic user and password (all "": the listener is open). */
    char metrics_token[256];
    char metrics_user[128];
    char metrics_password[256];
    struct gc_policy gc;
    /* Connections: a deadline for a request's headers, the idle timeout
     * after them, and caps in total and per client address (0: none). */
    unsigned header_timeout, idle_timeout;
    unsigned connections, connections_per_address;
    /* Reverse proxies whose X-Forwarded-For names the client. */
    struct cidr { int family; unsigned char addr[16]; unsigned bits; } trusted_proxies[32];
    int n_trusted_proxies;
};

/* "ADDR:PORT" (IPv4 or [IPv6], port 1-65535) into a socket address. */
int config_parse_listen(const char *listen, struct sockaddr_storage *ss);
/* What serve would refuse once the settings are merged (flags included):
 * check-config and serve share it, and both exit 2 on it. */
int config_validate(const struct config *cfg, struct berr *err);

/* Is the textual address `addr` inside one of cfg's trusted proxy ranges? */
bool config_trusted_proxy(const struct config *cfg, const char *addr);

/* Defaults, then FILE (may be NULL), then BERTH_* environment variables.
 * Command-line flags are applied by the caller afterwards. */
int config_load(struct config *cfg, const char *file, struct berr *err);
void config_free(struct config *cfg);

/* Open the blob store and metadata under cfg->root. */
int registry_open(const struct config *cfg, struct blob_store **bs, struct meta **m,
                  struct berr *err);

/* Reads the configuration again (for SIGHUP): fills *out or fails with a
 * message. */
typedef int (*server_reload_fn)(void *arg, struct config *out, struct berr *err);
int server_run(const struct config *cfg, server_reload_fn reload, void *arg);

/* The commands besides serve (cmd_gc.c). */
int cmd_gc(const struct config *cfg, bool dry_run);
int cmd_du(const struct config *cfg);
/* berthd fsck (cmd_fsck.c) */
int cmd_fsck(const struct config *cfg, bool dry_run);

#endif
