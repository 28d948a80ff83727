/*
 * proxy.c - berthd as a pull-through cache of an upstream registry.
 *
 * With "proxy": {"remoteurl", "username", "password", "ttl", "local"} in
 * the configuration, a manifest or blob this registry does not have is
 * fetched from the upstream through libberth (with its Basic or Bearer
 * auth), verified, stored, and served from here on. Tags are trusted for
 * `ttl`, then checked again with a HEAD, which registries such as Docker
 * Hub do not count as a pull; if the upstream cannot be reached, what is
 * cached is served, stale tags with a Warning header.
 *
 * A missing blob is fetched once however many clients ask for it: the
 * first starts a fetch thread that writes into an upload (hashing as it
 * goes); every client, the first included, is answered from that growing
 * file, waiting for bytes as they arrive, so the download streams to the
 * clients while it is stored. The blob is published when its digest
 * checks out; a failed fetch publishes nothing.
 *
 * Repositories matching "local" globs are ordinary ones that accept pushes;
 * pushes elsewhere are refused.
 */
#include "../client-lib/berth.h"
#include "http.h"
#include "manifest.h"

#include <fnmatch.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fetch {
    struct fetch *next;
    struct proxy *p;
    struct server *srv;
    char digest[DIGEST_MAX];
    char repo[NAME_MAX_LEN + 1];
    char id[33];
    struct upload *up;
    int read_fd;              /* kept open: readers pread it even after publish */
    uint64_t size, written;
    bool size_known;
    int state;                /* 0 running, 1 published, -1 failed */
    int refs;
    struct berr err;
};

struct proxy {
    struct berth_client *client;
    char registry[256];
    int64_t ttl;
    char **local;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct fetch *inflight;
};

static const char *const proxy_keys[] = {"remoteurl", "username", "password", "ttl", "local",
                                         "max_bytes", NULL};

int proxy_open(json_t *cfg, struct proxy **out, struct berr *err)
{
    *out = NULL;
    if (!cfg)
        return 0;
    json_t *v;
    if (!json_is_object(cfg))
        return berr_set(err, BERR_INVALID, "proxy: must be an object");
    if (json_check_keys(cfg, "proxy", proxy_keys, err) < 0)
        return -BERR_INVALID;
    const char *url = json_string_value(json_object_get(cfg, "remoteurl"));
    bool plain = url && strncmp(url, "http://", 7) == 0;
    if (!url || (!plain && strncmp(url, "https://", 8) != 0))
        return berr_set(err, BERR_INVALID, "proxy.remoteurl: an http:// or https:// URL is required");
    struct proxy *p = calloc(1, sizeof *p);
    if (!p)
        return berr_set(err, BERR_IO, "out of memory");
    const char *host = url + (plain ? 7 : 8);
    snprintf(p->registry, sizeof p->registry, "%.*s", (int)strcspn(host, "/"), host);
    if (strcmp(p->registry, "registry-1.docker.io") == 0 ||
        strcmp(p->registry, "index.docker.io") == 0)
        snprintf(p->registry, sizeof p->registry, "docker.io");
    p->ttl = 300;
    json_t *ttl = json_object_get(cfg, "ttl");
    if (ttl && !(json_is_string(ttl) && duration_parse(json_string_value(ttl), &p->ttl) == 0) &&
        !(json_is_integer(ttl) && (p->ttl = json_integer_value(ttl)) >= 0)) {
        free(p);
        return berr_set(err, BERR_INVALID, "proxy.ttl: not a duration (like 90s, 5m)");
    }
    json_t *local = json_object_get(cfg, "local");
    p->local = calloc(json_array_size(local) + 1, sizeof *p->local);
    size_t i;
    json_array_foreach(local, i, v)
        p->local[i] = strdup(json_is_string(v) ? json_string_value(v) : "");
    const char *insecure[] = {plain ? p->registry : NULL, NULL};
    /* one quick retry: a client is waiting, and stale content can be served */
    struct berth_options o = {.insecure = insecure, .quiet = 1, .retries = 1};
    if (berth_client_new(&o, &p->client, err) < 0) {
        proxy_close(p);
        return -BERR_IO;
    }
    const char *user = json_string_value(json_object_get(cfg, "username"));
    const char *pass = json_string_value(json_object_get(cfg, "password"));
    if (user && pass)
        berth_client_set_credentials(p->client, p->registry, user, pass);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
    *out = p;
    return 0;
}

void proxy_close(struct proxy *p)
{
    if (!p)
        return;
    /* fetches still running use the store: let them end (bounded) */
    for (int i = 0; i < 300; i++) {
        pthread_mutex_lock(&p->lock);
        bool idle = p->inflight == NULL;
        pthread_mutex_unlock(&p->lock);
        if (idle)
            break;
        usleep(100000);
    }
    for (char **l = p->local; l && *l; l++)
        free(*l);
    free(p->local);
    berth_client_free(p->client);
    free(p);
}

bool proxy_local(const struct proxy *p, const char *repo)
{
    for (char **l = p->local; *l; l++)
        if (fnmatch(*l, repo, 0) == 0)
            return true;
    return false;
}

static void upstream_ref(struct proxy *p, const char *repo, struct berth_ref *ref)
{
    memset(ref, 0, sizeof *ref);
    snprintf(ref->registry, sizeof ref->registry, "%s", p->registry);
    snprintf(ref->repository, sizeof ref->repository, "%s", repo);
}

/* ---- manifests ------------------------------------------------------------------ */

/* Store a manifest fetched from upstream, under `tag` if given. */
static int cache_manifest(struct server *srv, const char *repo, const char *tag,
                          const struct berth_manifest *m, struct berr *err)
{
    struct manifest_doc doc;
    int rc = manifest_parse(m->media_type, m->body, m->len, &doc, err);
    struct manifest_put put = {
        .artifact_type = doc.artifact_type,
        .annotations = doc.annotations,
        .refs = doc.refs,
        .nrefs = doc.nrefs,
        .tag = tag,
        .cached = true,
    };
    char staged[33];
    if (rc == 0) {
        snprintf(put.info.digest, sizeof put.info.digest, "%s", m->digest);
        snprintf(put.info.media_type, sizeof put.info.media_type, "%s", doc.media_type);
        snprintf(put.info.subject, sizeof put.info.subject, "%s", doc.subject);
        put.info.size = m->len;
        rc = blob_stage(srv->blobs, m->body, m->len, staged, err);
    }
    if (rc == 0) {
        put.body.bs = srv->blobs;
        put.body.id = staged;
        rc = meta_manifest_put(srv->meta, repo, &put, err);
        if (rc < 0)
            upload_remove(srv->blobs, staged);
    }
    manifest_doc_free(&doc);
    return rc;
}

int proxy_manifest(struct server *srv, struct proxy *p, const char *repo, const char *ref,
                   struct manifest_info *mi, bool *stale, struct berr *err)
{
    *stale = false;
    bool by_digest = digest_valid(ref);
    int local = meta_manifest_get(srv->meta, repo, ref, mi);
    if (local == 0 && (by_digest || (int64_t)time(NULL) - mi->updated < p->ttl)) {
        metrics_proxy("manifest", "hit");
        meta_manifest_touch(srv->meta, repo, mi->digest);
        return 0;
    }
    struct berth_ref up;
    upstream_ref(p, repo, &up);
    struct berr uerr = {0};
    if (local == 0) {
        /* a tag past its ttl: is it still the same manifest upstream? */
        char digest[DIGEST_MAX];
        int rc = berth_manifest_head(p->client, &up, ref, digest, &uerr);
        if (rc == 0 && strcmp(digest, mi->digest) == 0) {
            meta_tag_set(srv->meta, repo, ref, digest);
            metrics_proxy("manifest", "revalidated");
            return 0;
        }
        if (rc < 0 && rc != -BERR_NOTFOUND) {
            log_warn("proxy: %s:%s served stale: %s", repo, ref, uerr.msg);
            *stale = true;
            metrics_proxy("manifest", "stale");
            return 0;
        }
    }
    struct berth_manifest m;
    int rc = berth_manifest_fetch(p->client, &up, ref, &m, &uerr);
    if (rc < 0) {
        if (local == 0 && rc != -BERR_NOTFOUND) {
            *stale = true;
            metrics_proxy("manifest", "stale");
            return 0;
        }
        return berr_set(err, rc == -BERR_NOTFOUND ? BERR_NOTFOUND : BERR_IO, "upstream: %s",
                        uerr.msg);
    }
    metrics_proxy("manifest", "miss");
    rc = cache_manifest(srv, repo, by_digest ? NULL : ref, &m, err);
    free(m.body);
    if (rc == 0)
        rc = meta_manifest_get(srv->meta, repo, ref, mi);
    return rc;
}

/* ---- blobs ------------------------------------------------------------------------ */

static void fetch_release(struct fetch *f)
{
    struct proxy *p = f->p;
    pthread_mutex_lock(&p->lock);
    bool last = --f->refs == 0;
    if (last) {
        for (struct fetch **pp = &p->inflight; *pp; pp = &(*pp)->next)
            if (*pp == f) {
                *pp = f->next;
                break;
            }
    }
    pthread_mutex_unlock(&p->lock);
    if (last) {
        if (f->read_fd >= 0)
            close(f->read_fd);
        free(f);
    }
}

static void on_size(void *arg, uint64_t size)
{
    struct fetch *f = arg;
    pthread_mutex_lock(&f->p->lock);
    f->size = size;
    f->size_known = true;
    pthread_cond_broadcast(&f->p->changed);
    pthread_mutex_unlock(&f->p->lock);
}

static int on_data(void *arg, const void *data, size_t len)
{
    struct fetch *f = arg;
    if (upload_write(f->up, data, len, &f->err) < 0)
        return -1;
    pthread_mutex_lock(&f->p->lock);
    f->written += len;
    pthread_cond_broadcast(&f->p->changed);
    pthread_mutex_unlock(&f->p->lock);
    return 0;
}

static void *fetch_thread(void *arg)
{
    struct fetch *f = arg;
    struct server *srv = f->srv;
    struct berth_ref up;
    upstream_ref(f->p, f->repo, &up);
    int rc = berth_blob_fetch(f->p->client, &up, f->digest, on_size, on_data, f, &f->err);
    uint64_t size = 0;
    struct upload *u = f->up;
    f->up = NULL;
    if (rc == 0)
        rc = upload_finish(u, f->digest, &size, &f->err);
    else
        upload_release(u);
    if (rc == 0) {
        struct staged file = {srv->blobs, f->id};
        rc = meta_blob_link(srv->meta, f->repo, f->digest, size, &file, &f->err);
    }
    if (rc < 0) {
        upload_remove(srv->blobs, f->id);
        log_warn("proxy: fetching %s for %s failed: %s", f->digest, f->repo, f->err.msg);
    }
    pthread_mutex_lock(&f->p->lock);
    f->state = rc == 0 ? 1 : -1;
    pthread_cond_broadcast(&f->p->changed);
    pthread_mutex_unlock(&f->p->lock);
    fetch_release(f);
    return NULL;
}

/* The in-flight fetch of digest, started if there is none; a reference
 * for the caller. */
static struct fetch *fetch_get(struct server *srv, struct proxy *p, const char *repo,
                               const char *digest, struct berr *err)
{
    pthread_mutex_lock(&p->lock);
    struct fetch *f = p->inflight;
    while (f && strcmp(f->digest, digest) != 0)
        f = f->next;
    if (f) {
        f->refs++;
        pthread_mutex_unlock(&p->lock);
        metrics_proxy("blob", "joined");
        return f;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        pthread_mutex_unlock(&p->lock);
        berr_set(err, BERR_IO, "out of memory");
        return NULL;
    }
    f->p = p;
    f->srv = srv;
    f->read_fd = -1;
    snprintf(f->digest, sizeof f->digest, "%s", digest);
    snprintf(f->repo, sizeof f->repo, "%s", repo);
    upload_id_new(f->id);
    if (upload_create(srv->blobs, f->id, err) < 0 ||
        upload_take(srv->blobs, f->id, &f->up, err) < 0 ||
        upload_read_fd(srv->blobs, f->id, &f->read_fd) < 0) {
        pthread_mutex_unlock(&p->lock);
        if (f->up)
            upload_release(f->up);
        upload_remove(srv->blobs, f->id);
        free(f);
        return NULL;
    }
    f->refs = 2;   /* the thread's and the caller's */
    f->next = p->inflight;
    p->inflight = f;
    pthread_t th;
    if (pthread_create(&th, NULL, fetch_thread, f) != 0) {
        p->inflight = f->next;
        pthread_mutex_unlock(&p->lock);
        upload_release(f->up);
        upload_remove(srv->blobs, f->id);
        close(f->read_fd);
        free(f);
        berr_set(err, BERR_IO, "cannot start a fetch");
        return NULL;
    }
    pthread_detach(th);
    pthread_mutex_unlock(&p->lock);
    metrics_proxy("blob", "miss");
    return f;
}

/* Wait (bounded) until cond holds or the fetch ends; with the lock held. */
static void wait_for(struct fetch *f, bool (*cond)(struct fetch *, uint64_t), uint64_t arg)
{
    for (int i = 0; i < 600 && f->state == 0 && !cond(f, arg); i++) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&f->p->changed, &f->p->lock, &until);
    }
}

static bool has_size(struct fetch *f, uint64_t unused)
{
    (void)unused;
    return f->size_known;
}

static bool has_bytes(struct fetch *f, uint64_t pos)
{
    return f->written > pos;
}

static ssize_t read_growing(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct fetch *f = cls;
    pthread_mutex_lock(&f->p->lock);
    wait_for(f, has_bytes, pos);
    uint64_t avail = f->written > pos ? f->written - pos : 0;
    int state = f->state;
    pthread_mutex_unlock(&f->p->lock);
    if (avail == 0)
        return state == 1 && pos >= f->size ? MHD_CONTENT_READER_END_OF_STREAM
                                            : MHD_CONTENT_READER_END_WITH_ERROR;
    ssize_t n = pread(f->read_fd, buf, max < avail ? max : (size_t)avail, (off_t)pos);
    return n > 0 ? n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void read_done(void *cls)
{
    fetch_release(cls);
}

struct MHD_Response *proxy_blob(struct request *rq, struct proxy *p, const char *repo,
                                const char *digest, uint64_t *size, struct berr *err)
{
    struct fetch *f = fetch_get(rq->srv, p, repo, digest, err);
    if (!f)
        return NULL;
    pthread_mutex_lock(&p->lock);
    wait_for(f, has_size, 0);
    bool ok = f->size_known && f->state >= 0;
    *size = f->size;
    if (!ok)
        *err = f->err;
    pthread_mutex_unlock(&p->lock);
    if (!ok) {
        if (!err->msg[0])
            berr_set(err, BERR_NOTFOUND, "the upstream did not answer in time");
        fetch_release(f);
        return NULL;
    }
    if (is_head(rq)) {
        fetch_release(f);   /* the fetch goes on without this client */
        return response_fd(rq, -1, 0, *size);
    }
    rq->bytes_out = *size;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(*size, 256 * 1024, read_growing, f, read_done);
    if (!resp)
        fetch_release(f);
    return resp;
}
