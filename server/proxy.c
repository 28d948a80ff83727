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
 * A blob is served for a proxied repository only once the upstream has
 * vouched for it there (a HEAD of it in that repository, or a descriptor
 * in a manifest fetched from the upstream for it): bytes stored for another
 * repository, or pushed to a local one, are linked only then, and a HEAD
 * is answered with an upstream HEAD, never a fetch.
 *
 * A missing blob is fetched once however many clients of a repository ask
 * for it: the first starts a fetch thread that writes into an upload
 * (hashing as it goes); every client, the first included, is answered from
 * that growing file, waiting for bytes as they arrive, so the download
 * streams to the clients while it is stored. The last byte is held back
 * until the digest checks out, and a failed check closes every client's
 * connection short of its Content-Length. The blob is published when its
 * digest checks out; a failed fetch publishes nothing. At most
 * `max_fetches` fetches run at once, and none writes past the size the
 * upstream's manifest or Content-Length announced.
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
#include <sys/socket.h>
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
    uint64_t expect;          /* the size an upstream manifest gave, if known */
    bool expect_known;
    struct berr refused;      /* why this side stopped the transfer */
    int state;                /* 0 running, 1 published, -1 failed */
    int refs;
    struct berr err;
};

#define DESCRIPTORS 4096

struct descriptor {
    char repo[NAME_MAX_LEN + 1];
    char digest[DIGEST_MAX];
    uint64_t size;
};

struct proxy {
    struct berth_client *client;
    char registry[256];
    int64_t ttl;
    char **local;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct fetch *inflight;
    int fetches, max_fetches;      /* fetch threads running, and their bound */
    struct descriptor *descs;      /* a ring of DESCRIPTORS */
    size_t descs_next;
};

static const char *const proxy_keys[] = {"remoteurl", "username", "password", "ttl", "local",
                                         "max_bytes", "max_fetches", NULL};

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
    p->max_fetches = 32;
    json_t *mf = json_object_get(cfg, "max_fetches");
    if (mf && (!json_is_integer(mf) || json_integer_value(mf) < 1 ||
               json_integer_value(mf) > 4096)) {
        free(p);
        return berr_set(err, BERR_INVALID, "proxy.max_fetches: must be a number from 1 to 4096");
    }
    if (mf)
        p->max_fetches = (int)json_integer_value(mf);
    json_t *local = json_object_get(cfg, "local");
    p->local = calloc(json_array_size(local) + 1, sizeof *p->local);
    size_t i;
    json_array_foreach(local, i, v)
        p->local[i] = strdup(json_is_string(v) ? json_string_value(v) : "");
    const char *insecure[] = {plain ? p->registry : NULL, NULL};
    /* one quick retry: a client is waiting, and stale content can be served */
    struct berth_options o = {.insecure = insecure, .quiet = 1, .retries = 1};
    p->descs = calloc(DESCRIPTORS, sizeof *p->descs);
    if (!p->descs) {
        proxy_close(p);
        return berr_set(err, BERR_IO, "out of memory");
    }
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
    free(p->descs);
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

static void descriptors_note(struct proxy *p, const char *repo, json_t *root);

/* Store a manifest fetched from upstream, under `tag` if given. */
static int cache_manifest(struct server *srv, struct proxy *p, const char *repo, const char *tag,
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
    if (rc == 0 && !doc.is_index)
        descriptors_note(p, repo, doc.root);
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
    rc = cache_manifest(srv, p, repo, by_digest ? NULL : ref, &m, err);
    free(m.body);
    if (rc == 0)
        rc = meta_manifest_get(srv->meta, repo, ref, mi);
    return rc;
}

/* ---- what upstream manifests said about blobs --------------------------------- */

/* The descriptors (repository, digest, size) of the image manifests fetched
 * from the upstream, most recent first out of a fixed ring: a blob an
 * upstream manifest of a repository names is one the upstream serves for
 * that repository, and its size is the most a fetch of it may write. Lost
 * on restart: the upstream is asked again then. */
static void descriptors_note(struct proxy *p, const char *repo, json_t *root)
{
    json_t *layers = json_object_get(root, "layers");
    size_t n = json_array_size(layers);
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i <= n; i++) {
        json_t *d = i == 0 ? json_object_get(root, "config") : json_array_get(layers, i - 1);
        const char *digest = json_string_value(json_object_get(d, "digest"));
        json_t *size = json_object_get(d, "size");
        if (!digest || !digest_valid(digest) || !json_is_integer(size) ||
            json_integer_value(size) < 0)
            continue;
        struct descriptor *e = &p->descs[p->descs_next++ % DESCRIPTORS];
        snprintf(e->repo, sizeof e->repo, "%s", repo);
        snprintf(e->digest, sizeof e->digest, "%s", digest);
        e->size = (uint64_t)json_integer_value(size);
    }
    pthread_mutex_unlock(&p->lock);
}

static bool descriptor_size(struct proxy *p, const char *repo, const char *digest,
                            uint64_t *size)
{
    bool found = false;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < DESCRIPTORS && !found; i++) {
        const struct descriptor *e = &p->descs[(p->descs_next - 1 - i) % DESCRIPTORS];
        if (e->digest[0] && strcmp(e->digest, digest) == 0 && strcmp(e->repo, repo) == 0) {
            *size = e->size;
            found = true;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return found;
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

/* Called before the first bytes: the length the upstream announced, 0 when
 * it sent no Content-Length. */
static void on_size(void *arg, uint64_t size)
{
    struct fetch *f = arg;
    if (size == 0 && f->expect_known)
        size = f->expect;
    if (size == 0)
        berr_set(&f->refused, BERR_INVALID,
                 "the upstream sent no Content-Length and no manifest gave the size");
    else if (f->expect_known && size != f->expect)
        berr_set(&f->refused, BERR_INVALID,
                 "the upstream sends %llu bytes for a blob its manifest says is %llu",
                 (unsigned long long)size, (unsigned long long)f->expect);
    pthread_mutex_lock(&f->p->lock);
    if (!f->refused.code) {
        f->size = size;
        f->size_known = true;
    }
    pthread_cond_broadcast(&f->p->changed);
    pthread_mutex_unlock(&f->p->lock);
}

static int on_data(void *arg, const void *data, size_t len)
{
    struct fetch *f = arg;
    if (f->refused.code)
        return -1;
    /* f->written and f->size only change in this thread */
    if (!f->size_known || len > f->size - f->written) {
        berr_set(&f->refused, BERR_TOOBIG, "the upstream sent more than the %llu bytes announced",
                 (unsigned long long)f->size);
        return -1;
    }
    if (upload_write(f->up, data, len, &f->refused) < 0)
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
    if (f->refused.code) {
        f->err = f->refused;   /* why this side stopped the transfer */
        rc = -f->refused.code;
    }
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
        /* nothing of a failed fetch stays: not in blobs/, not in uploads/ */
        upload_remove(srv->blobs, f->id);
        log_warn("proxy: fetching %s for %s failed: %s", f->digest, f->repo, f->err.msg);
    }
    pthread_mutex_lock(&f->p->lock);
    f->state = rc == 0 ? 1 : -1;
    f->p->fetches--;
    pthread_cond_broadcast(&f->p->changed);
    pthread_mutex_unlock(&f->p->lock);
    fetch_release(f);
    return NULL;
}

/* The in-flight fetch of digest for repo, started if there is none; a
 * reference for the caller. Fetches are per repository: a client of one
 * repository never joins bytes the upstream sent for another. */
static struct fetch *fetch_get(struct server *srv, struct proxy *p, const char *repo,
                               const char *digest, struct berr *err)
{
    pthread_mutex_lock(&p->lock);
    struct fetch *f = p->inflight;
    while (f && (strcmp(f->digest, digest) != 0 || strcmp(f->repo, repo) != 0))
        f = f->next;
    if (f) {
        f->refs++;
        pthread_mutex_unlock(&p->lock);
        metrics_proxy("blob", "joined");
        return f;
    }
    if (p->fetches >= p->max_fetches) {
        pthread_mutex_unlock(&p->lock);
        berr_set(err, BERR_TOOBIG, "%d fetches from the upstream are running (proxy.max_fetches)",
                 p->max_fetches);
        return NULL;
    }
    pthread_mutex_unlock(&p->lock);
    f = calloc(1, sizeof *f);
    if (!f) {
        berr_set(err, BERR_IO, "out of memory");
        return NULL;
    }
    f->p = p;
    f->srv = srv;
    f->read_fd = -1;
    snprintf(f->digest, sizeof f->digest, "%s", digest);
    snprintf(f->repo, sizeof f->repo, "%s", repo);
    f->expect_known = descriptor_size(p, repo, digest, &f->expect);
    upload_id_new(f->id);
    if (upload_create(srv->blobs, f->id, err) < 0 ||
        upload_take(srv->blobs, f->id, &f->up, err) < 0 ||
        upload_read_fd(srv->blobs, f->id, &f->read_fd) < 0) {
        if (f->up)
            upload_release(f->up);
        if (f->read_fd >= 0)
            close(f->read_fd);
        upload_remove(srv->blobs, f->id);
        free(f);
        return NULL;
    }
    f->refs = 2;   /* the thread's and the caller's */
    pthread_mutex_lock(&p->lock);
    /* another client may have started the same fetch meanwhile, or taken
     * the last slot */
    struct fetch *other = p->inflight;
    while (other && (strcmp(other->digest, digest) != 0 || strcmp(other->repo, repo) != 0))
        other = other->next;
    bool full = !other && p->fetches >= p->max_fetches;
    if (other || full) {
        if (other)
            other->refs++;
        pthread_mutex_unlock(&p->lock);
        upload_release(f->up);
        close(f->read_fd);
        upload_remove(srv->blobs, f->id);
        free(f);
        if (full)
            berr_set(err, BERR_TOOBIG,
                     "%d fetches from the upstream are running (proxy.max_fetches)",
                     p->max_fetches);
        else
            metrics_proxy("blob", "joined");
        return other;
    }
    f->next = p->inflight;
    p->inflight = f;
    p->fetches++;
    pthread_t th;
    if (pthread_create(&th, NULL, fetch_thread, f) != 0) {
        p->inflight = f->next;
        p->fetches--;
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

static bool never(struct fetch *f, uint64_t unused)
{
    (void)f, (void)unused;
    return false;
}

/* Bytes a client may be sent while the fetch runs: all that arrived but
 * the blob's last byte, which waits for the digest check, so that a client
 * never gets a complete response for bytes that turn out wrong. */
static uint64_t sendable(struct fetch *f)
{
    if (f->state == 1)
        return f->size;
    return f->written < f->size ? f->written : f->size - 1;
}

static bool has_bytes(struct fetch *f, uint64_t pos)
{
    return sendable(f) > pos;
}

/* One client's response streaming a fetch. */
struct reader {
    struct fetch *f;
    struct MHD_Connection *conn;
};

/* Cut the client off short of its Content-Length. libmicrohttpd closes a
 * connection whose reader failed only when its event loop next runs, and
 * with MHD_USE_TURBO without a shutdown first, so the client could sit on
 * a half-sent response until some other traffic wakes that thread: shut
 * the socket down now (libmicrohttpd still closes the descriptor). */
static ssize_t reader_abort(struct reader *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        shutdown(ci->connect_fd, SHUT_RDWR);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static ssize_t read_growing(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct reader *r = cls;
    struct fetch *f = r->f;
    pthread_mutex_lock(&f->p->lock);
    wait_for(f, has_bytes, pos);
    uint64_t upto = f->state < 0 ? 0 : sendable(f);
    uint64_t avail = upto > pos ? upto - pos : 0;
    int state = f->state;
    pthread_mutex_unlock(&f->p->lock);
    /* a failed fetch, a fetch that stalled: the connection is closed short
     * of its Content-Length, which every client takes as a failed download */
    if (avail == 0)
        return state == 1 && pos >= f->size ? MHD_CONTENT_READER_END_OF_STREAM
                                            : reader_abort(r);
    ssize_t n = pread(f->read_fd, buf, max < avail ? max : (size_t)avail, (off_t)pos);
    return n > 0 ? n : reader_abort(r);
}

static void read_done(void *cls)
{
    struct reader *r = cls;
    fetch_release(r->f);
    free(r);
}

/* Does the upstream serve digest in repo? *size: its Content-Length, or the
 * manifest's descriptor size when it sent none. */
static int upstream_has(struct proxy *p, const char *repo, const char *digest, uint64_t *size,
                        struct berr *err)
{
    struct berth_ref up;
    upstream_ref(p, repo, &up);
    struct berr uerr = {0};
    int rc = berth_blob_head(p->client, &up, digest, size, &uerr);
    if (rc < 0)
        return berr_set(err, rc == -BERR_NOTFOUND ? BERR_NOTFOUND : BERR_IO, "upstream: %s",
                        uerr.msg);
    uint64_t declared;
    if (*size == 0 && descriptor_size(p, repo, digest, &declared))
        *size = declared;
    return 0;
}

int proxy_blob_link(struct server *srv, struct proxy *p, const char *repo, const char *digest,
                    uint64_t *size, struct berr *err)
{
    int fd;
    uint64_t have, said;
    if (blob_open(srv->blobs, digest, &fd, &have) < 0)
        return 1;
    close(fd);
    /* Stored for another repository, or pushed to a local one: only the
     * upstream can say this repository has it. */
    if (!(descriptor_size(p, repo, digest, &said) && said == have)) {
        int rc = upstream_has(p, repo, digest, &said, err);
        if (rc < 0)
            return rc;
        if (said != 0 && said != have)
            return berr_set(err, BERR_NOTFOUND, "upstream: %s is %llu bytes there, not %llu",
                            digest, (unsigned long long)said, (unsigned long long)have);
    }
    int rc = meta_blob_link(srv->meta, repo, digest, have, NULL, err);
    if (rc == 0) {
        *size = have;
        metrics_proxy("blob", "hit");
    }
    return rc;
}

struct MHD_Response *proxy_blob(struct request *rq, struct proxy *p, const char *repo,
                                const char *digest, uint64_t *size, struct berr *err)
{
    if (is_head(rq)) {
        /* a HEAD is answered by a HEAD: nothing is fetched, nothing stored */
        if (upstream_has(p, repo, digest, size, err) < 0)
            return NULL;
        return response_fd(rq, -1, 0, *size);
    }
    struct fetch *f = fetch_get(rq->srv, p, repo, digest, err);
    if (!f)
        return NULL;
    pthread_mutex_lock(&p->lock);
    wait_for(f, has_size, 0);
    if (f->state == 1 && !f->size_known) {
        /* a body the upstream sent none of: the empty blob */
        f->size = f->written;
        f->size_known = true;
    }
    /* An empty body cannot be held back: wait for the digest check. */
    if (f->size_known && f->size == 0)
        wait_for(f, never, 0);
    bool ok = f->size_known && f->state >= 0 && (f->size > 0 || f->state == 1);
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
    struct reader *r = malloc(sizeof *r);
    struct MHD_Response *resp =
        r ? MHD_create_response_from_callback(*size, 256 * 1024, read_growing, r, read_done)
          : NULL;
    if (!resp) {
        free(r);
        fetch_release(f);
        berr_set(err, BERR_IO, "out of memory");
        return NULL;
    }
    r->f = f;
    r->conn = rq->conn;
    rq->bytes_out = *size;
    return resp;
}
