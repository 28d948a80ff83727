/*
 * cmd_gc.c - opening a registry root, and the commands that work on one
 * while berthd may be serving it: `berthd gc` and `berthd du`. Also the
 * schedule that runs the same collection inside berthd.
 */
#include "http.h"

#include <errno.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int registry_open(const struct config *cfg, struct blob_store **bs, struct meta **m,
                  struct berr *err)
{
    char dbpath[1100];
    snprintf(dbpath, sizeof dbpath, "%s/metadata.db", cfg->root);
    *bs = NULL;
    *m = NULL;
    if (mkdir_p(cfg->root, 0755) < 0)
        return berr_set(err, BERR_IO, "cannot create %s", cfg->root);
    int rc = blob_store_open(cfg->root, bs, err);
    if (rc == 0 && (rc = meta_open(dbpath, m, err)) < 0) {
        blob_store_close(*bs);
        *bs = NULL;
    }
    return rc;
}

/* ---- berthd gc -------------------------------------------------------------- */

struct printer {
    bool dry_run;
};

static void print_note(void *arg, const char *kind, const char *name, uint64_t bytes)
{
    struct printer *p = arg;
    if (bytes)
        printf("%s %s %s (%llu bytes)\n", p->dry_run ? "would remove" : "removed", kind,
               name, (unsigned long long)bytes);
    else
        printf("%s %s %s\n", p->dry_run ? "would remove" : "removed", kind, name);
}

static void report_line(char *out, size_t len, const struct gc_report *r)
{
    snprintf(out, len,
             "%llu blobs (%llu bytes freed), %llu manifests, %llu tags, %llu links, "
             "%llu uploads, %llu repositories in %.3fs",
             (unsigned long long)r->blobs, (unsigned long long)r->bytes,
             (unsigned long long)r->manifests, (unsigned long long)r->tags,
             (unsigned long long)r->links, (unsigned long long)r->uploads,
             (unsigned long long)r->repositories, r->seconds);
}

int cmd_gc(const struct config *cfg, bool dry_run)
{
    struct berr err = {0};
    struct blob_store *bs;
    struct meta *m;
    if (registry_open(cfg, &bs, &m, &err) < 0) {
        fprintf(stderr, "berthd gc: %s\n", err.msg);
        return 1;
    }
    struct printer p = {dry_run};
    struct gc_report r;
    int rc = gc_run(cfg->root, bs, m, &cfg->gc, dry_run, print_note, &p, &r, &err);
    if (rc == 0) {
        char line[512];
        report_line(line, sizeof line, &r);
        printf("%s: %s\n", dry_run ? "would remove" : "removed", line);
    } else {
        fprintf(stderr, "berthd gc: %s\n", err.msg);
    }
    meta_close(m);
    blob_store_close(bs);
    return rc == 0 ? 0 : 1;
}

/* ---- berthd du -------------------------------------------------------------- */

static int print_usage_row(void *arg, const char *repo, uint64_t own, uint64_t shared)
{
    (void)arg;
    printf("%-40s %15llu %15llu\n", repo, (unsigned long long)own,
           (unsigned long long)shared);
    return 0;
}

int cmd_du(const struct config *cfg)
{
    struct berr err = {0};
    struct blob_store *bs;
    struct meta *m;
    if (registry_open(cfg, &bs, &m, &err) < 0) {
        fprintf(stderr, "berthd du: %s\n", err.msg);
        return 1;
    }
    uint64_t total = 0;
    printf("%-40s %15s %15s\n", "REPOSITORY", "OWN BYTES", "SHARED BYTES");
    int rc = meta_usage(m, print_usage_row, NULL, &total);
    if (rc == 0)
        printf("total on disk: %llu bytes\n", (unsigned long long)total);
    else
        fprintf(stderr, "berthd du: cannot read the metadata\n");
    meta_close(m);
    blob_store_close(bs);
    return rc == 0 ? 0 : 1;
}

/* ---- GET /admin/storage ----------------------------------------------------- */

struct usage_list {
    struct request *rq;
    json_t *repos;
    uint64_t visible_own;
    bool hidden;
};

/* Only what _catalog would list to the same caller (auth_visible): the
 * catalog action alone does not reveal other repositories' names or sizes. */
static int usage_json(void *arg, const char *repo, uint64_t own, uint64_t shared)
{
    struct usage_list *u = arg;
    if (!auth_visible(u->rq->auth, &u->rq->who, repo)) {
        u->hidden = true;
        return 0;
    }
    u->visible_own += own;
    return json_array_append_new(u->repos, json_pack("{s:s,s:I,s:I}", "name", repo,
                                                      "own_bytes", (json_int_t)own,
                                                      "shared_bytes", (json_int_t)shared));
}

enum MHD_Result api_admin_storage(struct request *rq)
{
    if (strcmp(rq->method, "GET") != 0 && !is_head(rq))
        return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
    struct usage_list u = {.rq = rq, .repos = json_array()};
    uint64_t total = 0;
    if (meta_usage(rq->srv->meta, usage_json, &u, &total) < 0) {
        json_decref(u.repos);
        return respond_error(rq, 500, "UNSUPPORTED", "metadata query failed");
    }
    /* the registry-wide total only to a caller who sees every repository */
    if (u.hidden)
        total = u.visible_own;
    return respond(rq, 200, response_json(rq, json_pack("{s:o,s:I}", "repositories", u.repos,
                                                    "total_bytes", (json_int_t)total)));
}

/* ---- the schedule ------------------------------------------------------------ */

struct gc_schedule {
    struct server *srv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    bool reloaded;
};

/* A collection every gc.interval, counted from the last one (or the
 * start). A reload wakes the loop, which computes the next run from the
 * new interval at once: a shorter interval whose time has passed runs now,
 * 0 waits for the next reload. */
static void *schedule_loop(void *arg)
{
    struct gc_schedule *s = arg;
    time_t last = time(NULL);
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        const struct config *cfg = atomic_load(&s->srv->cfg);
        int64_t interval = cfg->gc.interval;
        s->reloaded = false;
        if (interval <= 0) {
            while (!s->stop && !s->reloaded)
                pthread_cond_wait(&s->wake, &s->lock);
            continue;
        }
        struct timespec until = {.tv_sec = last + (time_t)interval};
        bool due = true;
        while (!s->stop && !s->reloaded) {
            if (pthread_cond_timedwait(&s->wake, &s->lock, &until) == ETIMEDOUT)
                break;
        }
        if (s->stop)
            break;
        if (s->reloaded && time(NULL) < until.tv_sec)
            due = false;   /* look at the new interval first */
        if (!due)
            continue;
        pthread_mutex_unlock(&s->lock);
        cfg = atomic_load(&s->srv->cfg);
        struct gc_report r;
        struct berr err = {0};
        if (cfg->gc.interval <= 0) {
            /* turned off by a reload just now */
        } else if (gc_run(cfg->root, s->srv->blobs, s->srv->meta, &cfg->gc, false, NULL, NULL,
                          &r, &err) == 0) {
            char line[512];
            report_line(line, sizeof line, &r);
            log_info("gc: removed %s", line);
            metrics_gc(&r);
        } else {
            log_warn("gc: %s", err.msg);
        }
        last = time(NULL);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

struct gc_schedule *gc_schedule_start(struct server *srv)
{
    struct gc_schedule *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->srv = srv;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, schedule_loop, s) != 0) {
        log_error("gc: cannot start the schedule");
        free(s);
        return NULL;
    }
    return s;
}

void gc_schedule_reload(struct gc_schedule *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->reloaded = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

void gc_schedule_stop(struct gc_schedule *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}
