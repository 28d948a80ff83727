/*
 * progress.h - per-blob progress lines (private to client-lib/).
 */
#ifndef BERTH_CLIENT_PROGRESS_H
#define BERTH_CLIENT_PROGRESS_H

#include "../common/common.h"

#include <pthread.h>
#include <stdio.h>

enum { PROGRESS_MAX = 128 };

struct progress_item {
    char id[16];
    char state[32];
    uint64_t total, done;
    double started;
};

struct progress {
    FILE *out;
    int quiet;
    bool tty;
    const char *verb;      /* "Downloading" or "Pushing": the state with a bar */
    pthread_mutex_t lock;
    struct progress_item items[PROGRESS_MAX];
    int n, drawn;
    double last;
};

/* What a transfer callback gets: which line to advance. */
struct progress_ref {
    struct progress *p;
    int i;
};

void progress_init(struct progress *p, FILE *out, int quiet, const char *verb);
int progress_add(struct progress *p, const char *digest, uint64_t total);
void progress_state(struct progress *p, int i, const char *state);
void progress_bytes(void *arg, uint64_t n);
void progress_done(struct progress *p);

#endif
