/*
 * gc.h - the garbage collector: online mark and sweep over the metadata,
 * used by berthd on a schedule and by `berthd gc` against a live root.
 *
 * It never needs the registry stopped or read-only: every removal re-checks
 * its condition inside its own metadata transaction, the same transactions
 * pushes use, and nothing created or linked within the grace period is
 * touched. A kill at any moment leaves a consistent registry; the next run
 * finishes the job (blobs moved aside are restored or deleted first).
 */
#ifndef BERTH_GC_H
#define BERTH_GC_H

#include "../storage/storage.h"

#include <jansson.h>

struct gc_retention {
    char *repository;        /* glob */
    int keep_last;           /* 0: no limit */
    int64_t max_age;         /* seconds since the tag was last set; 0: none */
    char **protect;          /* tag globs never removed by retention */
    size_t nprotect;
};

struct gc_policy {
    int64_t interval;        /* seconds between scheduled runs; 0: none */
    int64_t grace;           /* nothing younger is collected */
    int64_t upload_ttl;      /* idle uploads older than this are abandoned */
    bool delete_untagged;
    uint64_t cache_max_bytes;   /* pull-through cache: evict above this; 0: no bound */
    struct gc_retention *retention;
    size_t nretention;
};

/* Defaults, then the "gc" object of the configuration (may be NULL). */
int gc_policy_load(json_t *cfg, struct gc_policy *out, struct berr *err);
void gc_policy_free(struct gc_policy *p);
/* "90s", "15m", "2h", "7d" or plain seconds. */
int duration_parse(const char *s, int64_t *seconds);

struct gc_report {
    uint64_t tags, manifests, links, blobs, bytes, uploads, repositories;
    double seconds;
};

/* Called for each thing removed (or, in a dry run, that would be). */
typedef void (*gc_note_fn)(void *arg, const char *kind, const char *name,
                           uint64_t bytes);

/* Settle what a crashed collection left moved aside, unless a collection
 * is running right now (it will). berthd calls this when it starts. */
void gc_recover(const char *root, struct blob_store *bs, struct meta *m);

/* One collection over the registry at `root`. -BERR_CONFLICT when another
 * collection holds the root. */
int gc_run(const char *root, struct blob_store *bs, struct meta *m,
           const struct gc_policy *p, bool dry_run, gc_note_fn note, void *arg,
           struct gc_report *out, struct berr *err);

#endif
