/*
 * server.h - berthd: the registry server. main.c reads the configuration
 * and calls server_run, which serves until SIGTERM or SIGINT.
 */
#ifndef BERTH_SERVER_H
#define BERTH_SERVER_H

#include "../common/common.h"

struct config {
    char listen[256];            /* ADDR:PORT, IPv4 or [IPv6] */
    char root[1024];             /* data directory */
    enum log_level log_level;
    bool log_json;
    uint64_t manifest_max;       /* bytes */
    int page_max;                /* tags/list and _catalog page size cap */
    bool delete_enabled;
    int threads;                 /* 0: chosen from the CPU count */
};

/* Defaults, then FILE (may be NULL), then BERTH_* environment variables.
 * Command-line flags are applied by the caller afterwards. */
int config_load(struct config *cfg, const char *file, struct berr *err);

int server_run(const struct config *cfg);

#endif
