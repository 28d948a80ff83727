/*
 * http.h - what the API handlers share (private to server/): the request
 * being served, its parsed route, and the helpers that build responses.
 *
 * A request goes through three phases, driven by libmicrohttpd calling the
 * access handler repeatedly: `begin` (headers are in: route, validate,
 * maybe answer at once), `body` (each piece of the request body, written
 * to an upload or buffered for a manifest) and `end` (answer). Handlers
 * for requests without a body only have an `end`.
 */
#ifndef BERTH_SERVER_HTTP_H
#define BERTH_SERVER_HTTP_H

#include "../auth/auth.h"
#include "../storage/storage.h"
#include "server.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>

enum route_kind {
    ROUTE_NONE,          /* no such endpoint */
    ROUTE_BASE,          /* /v2/ */
    ROUTE_HEALTH,        /* /healthz */
    ROUTE_READY,         /* /readyz */
    ROUTE_METRICS,       /* /metrics */
    ROUTE_CATALOG,       /* /v2/_catalog */
    ROUTE_TAGS,          /* /v2/<name>/tags/list */
    ROUTE_MANIFEST,      /* /v2/<name>/manifests/<reference> */
    ROUTE_BLOB,          /* /v2/<name>/blobs/<digest> */
    ROUTE_UPLOAD_START,  /* /v2/<name>/blobs/uploads/ */
    ROUTE_UPLOAD,        /* /v2/<name>/blobs/uploads/<id> */
    ROUTE_REFERRERS,     /* /v2/<name>/referrers/<digest> */
    ROUTE_TOKEN,         /* the built-in token service (auth.token.path) */
    ROUTE_ADMIN_STORAGE, /* /admin/storage: bytes per repository */
    ROUTE_UI,            /* /ui and /ui/<file>: the web UI (api_ui.c) */
    ROUTE_COUNT
};

struct route {
    enum route_kind kind;
    char name[NAME_MAX_LEN + 1];
    char ref[DIGEST_MAX];        /* tag, digest or upload id */
    bool name_invalid;           /* shaped like a route, but a bad name */
};

/* Split a request path into a route. Pure; unit-tested. `token_path` is
 * the token service's path, or NULL. */
void route_parse(const char *path, const char *token_path, struct route *out);

/* The configuration and auth can be replaced by a reload (SIGHUP) while
 * requests run: each request takes the current pair when it begins and
 * keeps it; replaced ones are kept until berthd stops. */
struct server {
    _Atomic(const struct config *) cfg;
    _Atomic(struct auth *) auth;   /* NULL: no auth */
    struct blob_store *blobs;
    struct meta *meta;
    struct MHD_Daemon *metrics_daemon;   /* a listener for /metrics only, or NULL */
    struct proxy *proxy;                 /* pull-through cache mode, or NULL */
    struct gc_schedule *gc;              /* the collector's schedule */
};

struct request {
    struct server *srv;
    const struct config *cfg;    /* as it was when the request began */
    struct auth *auth;
    struct MHD_Connection *conn;
    const char *method;
    char path[1024];
    struct route route;
    double started;
    unsigned status;
    uint64_t bytes_in;           /* request body bytes */
    uint64_t bytes_out;          /* response body bytes */
    char id[17];                 /* request id, in logs and X-Request-Id */
    bool answered;
    char client[64];             /* the client's address (see client_address) */
    struct auth_result who;      /* who is asking, once auth_check ran */

    /* The body, for the requests that have one. */
    int (*on_body)(struct request *rq, const char *data, size_t len);
    int (*on_end)(struct request *rq);
    struct upload *upload;
    bool upload_is_session;      /* false for a one-shot monolithic POST */
    bool upload_counted;         /* counted in berth_uploads_in_progress */
    char upload_id[33];
    uint64_t chunk_start;        /* upload offset before this request's body */
    uint64_t chunk_expect;       /* bytes promised by Content-Range, or 0 */
    void *state;                 /* a handler's own state, freed by free_state */
    void (*free_state)(void *state);
    char *buf;                   /* a buffered manifest */
    size_t len, cap;
    /* A failure met while reading the body, answered at the end: the rest
     * is read and dropped (the client, still sending, would otherwise meet
     * a reset instead of the answer), up to BODY_DRAIN_MAX past fail_at. */
    unsigned fail_status;
    uint64_t fail_at;
    const char *fail_code;
    char fail_msg[256];
};

/* ---- answering ------------------------------------------------------- */

/* Every response goes through here: adds the API version header, records
 * the status, queues it. Takes ownership of resp. */
enum MHD_Result respond(struct request *rq, unsigned status, struct MHD_Response *resp);
/* The spec's error body: {"errors":[{"code","message","detail"}]}. */
enum MHD_Result respond_error(struct request *rq, unsigned status,
                              const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An empty body with the given status. */
struct MHD_Response *response_empty(void);
/* A JSON body (takes the reference). */
struct MHD_Response *response_json(struct request *rq, json_t *doc);
/* A body of `size` bytes from fd at offset (sendfile); HEAD sends none. */
struct MHD_Response *response_fd(struct request *rq, int fd, uint64_t offset,
                                 uint64_t size);
void header_add(struct MHD_Response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *req_header(struct request *rq, const char *name);
/* The client's address for limits and logs: the peer, or the address a
 * trusted proxy (cfg->trusted_proxies) names in X-Forwarded-For. */
void client_address(struct MHD_Connection *conn, const struct config *cfg, char *out,
                    size_t len);
const char *req_query(struct request *rq, const char *name);
bool is_head(struct request *rq);
#define BODY_DRAIN_MAX (64ULL << 20)
/* Remember a failure while the body is still arriving. */
int body_fail(struct request *rq, unsigned status, const char *code,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Validate a digest from the URL or query; answers 400 DIGEST_INVALID and
 * returns false when it is not a sha256 or sha512 digest. */
bool digest_check(struct request *rq, const char *digest);

/* ---- the API areas: each begins a request of its route ------------------ */

enum MHD_Result api_blob(struct request *rq);
enum MHD_Result api_upload(struct request *rq);
enum MHD_Result api_manifest(struct request *rq);
enum MHD_Result api_tags(struct request *rq);
enum MHD_Result api_catalog(struct request *rq);
enum MHD_Result api_referrers(struct request *rq);
enum MHD_Result api_token(struct request *rq);
enum MHD_Result api_admin_storage(struct request *rq);
enum MHD_Result api_metrics(struct request *rq);
enum MHD_Result api_ui(struct request *rq);

/* The pull-through cache (proxy.c). */
struct proxy;
int proxy_open(json_t *cfg, struct proxy **out, struct berr *err);
void proxy_close(struct proxy *p);
/* A repository that is ordinary here (accepts pushes) in proxy mode. */
bool proxy_local(const struct proxy *p, const char *repo);
/* Find a manifest, from the cache or the upstream; *stale when the
 * upstream could not be asked and the cached one is served anyway. */
int proxy_manifest(struct server *srv, struct proxy *p, const char *repo, const char *ref,
                   struct manifest_info *mi, bool *stale, struct berr *err);
/* A blob stored here but not linked to repo: link it when the upstream
 * confirms it for repo. 0 when linked (*size set), 1 when its bytes are not
 * here, negative when the upstream does not confirm it. */
int proxy_blob_link(struct server *srv, struct proxy *p, const char *repo, const char *digest,
                    uint64_t *size, struct berr *err);
/* A blob from the upstream: for a GET a response streaming it as it
 * arrives (err->code BERR_TOOBIG when too many fetches run), for a HEAD
 * the upstream's answer to a HEAD. */
struct MHD_Response *proxy_blob(struct request *rq, struct proxy *p, const char *repo,
                                const char *digest, uint64_t *size, struct berr *err);

/* Counters for /metrics (metrics.c). */
void metrics_proxy(const char *kind, const char *result);
void metrics_request(enum route_kind route, const char *method, unsigned status,
                     double seconds, uint64_t in, uint64_t out);
void metrics_upload_active(int delta);
void metrics_gc(const struct gc_report *r);

/* Collections on berthd's schedule (gc.interval), in their own thread. */
struct gc_schedule;
struct gc_schedule *gc_schedule_start(struct server *srv);
/* After a reload: the new gc.interval applies at once. */
void gc_schedule_reload(struct gc_schedule *s);
void gc_schedule_stop(struct gc_schedule *s);

#endif
