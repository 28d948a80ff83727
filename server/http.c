/*
 * http.c - berthd's HTTP layer on libmicrohttpd.
 *
 * libmicrohttpd runs a pool of worker threads, each with its own epoll set;
 * the access handler below is called once when a request's headers are in,
 * once per piece of body, and once at the end. The request context carries
 * the handler's state across those calls. Responses are built only through
 * respond(), so every one carries the API version header and is logged.
 *
 * Connections are bounded in total and per client address (an IPv6 client
 * by its /64), and a request's headers must arrive within a deadline (a
 * watchdog thread closes the connections that miss it: libmicrohttpd's own
 * timeout only measures idleness, which a client trickling one byte at a
 * time never reaches).
 *
 * Shutdown: SIGTERM or SIGINT stops accepting connections, waits for the
 * requests in flight to finish, then stops. An upload cut short stays a
 * partial file: only a verified, complete blob is ever published.
 */
#include "http.h"
#include "../common/version.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_int in_flight;
static int signal_pipe[2] = {-1, -1};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- responses ----------------------------------------------------------- */

void header_add(struct MHD_Response *resp, const char *name, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    MHD_add_response_header(resp, name, value);
}

enum MHD_Result respond(struct request *rq, unsigned status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
    MHD_add_response_header(resp, "X-Request-Id", rq->id);
    if (is_head(rq))
        rq->bytes_out = 0;   /* the headers say how long; no body goes out */
    if (status == 401 && rq->who.challenge[0])
        MHD_add_response_header(resp, "WWW-Authenticate", rq->who.challenge);
    if (status == 429 && rq->who.retry_after > 0)
        header_add(resp, "Retry-After", "%d", rq->who.retry_after);
    rq->status = status;
    rq->answered = true;
    enum MHD_Result r = MHD_queue_response(rq->conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

struct MHD_Response *response_empty(void)
{
    return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
}

struct MHD_Response *response_json(struct request *rq, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return NULL;
    rq->bytes_out = strlen(text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return resp;
}

/* A HEAD response still needs the real Content-Length: a callback response
 * of that size gives it without ever reading anything. */
static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls, (void)pos, (void)buf, (void)max;
    return MHD_CONTENT_READER_END_OF_STREAM;
}

struct MHD_Response *response_fd(struct request *rq, int fd, uint64_t offset,
                                 uint64_t size)
{
    if (is_head(rq)) {
        if (fd >= 0)
            close(fd);
        return MHD_create_response_from_callback(size, 4096, no_body, NULL, NULL);
    }
    rq->bytes_out = size;
    return MHD_create_response_from_fd_at_offset64(size, fd, offset);
}

enum MHD_Result respond_error(struct request *rq, unsigned status,
                              const char *code, const char *fmt, ...)
{
    static const struct { const char *code, *message; } messages[] = {
        {"BLOB_UNKNOWN", "blob unknown to registry"},
        {"BLOB_UPLOAD_INVALID", "blob upload invalid"},
        {"BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"},
        {"DIGEST_INVALID", "provided digest did not match uploaded content"},
        {"MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry"},
        {"MANIFEST_INVALID", "manifest invalid"},
        {"MANIFEST_UNKNOWN", "manifest unknown to registry"},
        {"NAME_INVALID", "invalid repository name"},
        {"NAME_UNKNOWN", "repository name not known to registry"},
        {"SIZE_INVALID", "provided length did not match content length"},
        {"UNAUTHORIZED", "authentication required"},
        {"DENIED", "requested access to the resource is denied"},
        {"UNSUPPORTED", "the operation is unsupported"},
        {"TOOMANYREQUESTS", "too many requests"},
        {"PAGINATION_NUMBER_INVALID", "invalid number of results requested"},
        {"UNAVAILABLE", "the registry cannot serve this right now"},
    };
    const char *message = "error";
    for (size_t i = 0; i < sizeof messages / sizeof *messages; i++)
        if (strcmp(messages[i].code, code) == 0)
            message = messages[i].message;
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *doc = json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "code", code,
                            "message", message, "detail", detail);
    return respond(rq, status, response_json(rq, doc));
}

int body_fail(struct request *rq, unsigned status, const char *code,
              const char *fmt, ...)
{
    if (rq->fail_status)
        return -1;           /* keep the first failure */
    rq->fail_status = status;
    rq->fail_at = rq->bytes_in;
    rq->fail_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rq->fail_msg, sizeof rq->fail_msg, fmt, ap);
    va_end(ap);
    return -1;
}

const char *req_header(struct request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *req_query(struct request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool is_head(struct request *rq)
{
    return strcmp(rq->method, "HEAD") == 0;
}

/* Ready: the data directory takes a write and the metadata answers. */
static enum MHD_Result api_ready(struct request *rq)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/uploads/.readyz-%s", rq->cfg->root, rq->id);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool writable = fd >= 0 && write(fd, "ok", 2) == 2;
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    uint64_t blobs, bytes;
    bool metadata = meta_totals(rq->srv->meta, &blobs, &bytes) == 0;
    json_t *doc = json_pack("{s:s,s:b,s:b}", "status", writable && metadata ? "ready" : "not ready",
                            "storage_writable", writable, "metadata_reachable", metadata);
    return respond(rq, writable && metadata ? 200 : 503, response_json(rq, doc));
}

/* ---- access ------------------------------------------------------------ */

/* What a request needs: the repository it touches (NULL: registry-wide)
 * and the actions. */
static unsigned needed_actions(struct request *rq)
{
    const char *m = rq->method;
    bool read = strcmp(m, "GET") == 0 || is_head(rq);
    switch (rq->route.kind) {
    case ROUTE_CATALOG:
    case ROUTE_ADMIN_STORAGE:
    case ROUTE_METRICS:
        return ACT_CATALOG;
    case ROUTE_BASE:
        return 0;
    case ROUTE_UPLOAD_START:
    case ROUTE_UPLOAD:
        return ACT_PUSH;
    default:
        if (strcmp(m, "DELETE") == 0)
            return ACT_DELETE;
        return read ? ACT_PULL : ACT_PUSH;
    }
}

/* Ask auth; answers 401, 403 or 429 and returns false when not allowed. */
static bool authorize(struct request *rq)
{
    if (!rq->auth)
        return true;
    enum route_kind k = rq->route.kind;
    const char *name = k == ROUTE_BASE || k == ROUTE_CATALOG || k == ROUTE_ADMIN_STORAGE ||
                               k == ROUTE_METRICS
                           ? NULL : rq->route.name;
    const char *authz = req_header(rq, "Authorization");
    unsigned need = needed_actions(rq);
    auth_check(rq->auth, authz, rq->client, name, need, &rq->who);
    /* Whoever may push may ask whether a blob is already there. */
    if (rq->who.verdict == AUTH_DENY && rq->route.kind == ROUTE_BLOB && is_head(rq)) {
        struct auth_result push;
        auth_check(rq->auth, authz, rq->client, name, ACT_PUSH, &push);
        if (push.verdict == AUTH_ALLOW) {
            auth_result_clear(&rq->who);
            rq->who = push;
        } else {
            auth_result_clear(&push);
        }
    }
    switch (rq->who.verdict) {
    case AUTH_ALLOW:
        return true;
    case AUTH_CHALLENGE:
        respond_error(rq, 401, "UNAUTHORIZED", "authentication required");
        return false;
    case AUTH_DENY:
        respond_error(rq, 403, "DENIED", "%s may not do this on %s", rq->who.account,
                      name ? name : "this registry");
        return false;
    case AUTH_LIMITED:
        respond_error(rq, 429, "TOOMANYREQUESTS", "too many failed logins; retry later");
        return false;
    }
    return false;
}

/* ---- connection deadlines ------------------------------------------------ */

/* Every open connection, with the time by which its request headers must be
 * in (0 while a request is being served). The entry is the connection's
 * socket context; libmicrohttpd reports the close before it closes the
 * socket, so the watchdog never touches a descriptor that was reused. */
struct conn_watch {
    struct conn_watch *prev, *next;
    int fd;
    double deadline;
    bool closing;
    bool v6;                   /* an IPv6 peer (not IPv4-mapped), by its /64: */
    unsigned char prefix[8];
};

/* libmicrohttpd's per-address limit counts each IPv6 address alone, but
 * one host commonly holds a whole /64: IPv6 peers are also counted by /64
 * against limits.connections_per_address (fixed at the start, like
 * libmicrohttpd's). */
static unsigned prefix_limit;

static bool peer_prefix(struct MHD_Connection *conn, const struct config *cfg,
                        unsigned char prefix[8])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr || ci->client_addr->sa_family != AF_INET6)
        return false;
    const unsigned char *a = ((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr.s6_addr;
    char text[INET6_ADDRSTRLEN];
    if (memcmp(a, mapped, sizeof mapped) == 0 ||
        (cfg->n_trusted_proxies && inet_ntop(AF_INET6, a, text, sizeof text) &&
         config_trusted_proxy(cfg, text)))
        return false;   /* a trusted proxy: by its own address (a pool may share a /64) */
    memcpy(prefix, a, 8);
    return true;
}

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond = PTHREAD_COND_INITIALIZER;
static struct conn_watch *watch_head;
static bool watch_stop;

static struct conn_watch *conn_watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_headers_in(struct MHD_Connection *conn)
{
    struct conn_watch *w = conn_watch_of(conn);
    if (!w)
        return;
    pthread_mutex_lock(&watch_lock);
    w->deadline = 0;
    pthread_mutex_unlock(&watch_lock);
}

static void conn_await_headers(struct MHD_Connection *conn, const struct config *cfg)
{
    struct conn_watch *w = conn_watch_of(conn);
    if (!w)
        return;
    pthread_mutex_lock(&watch_lock);
    w->deadline = now_seconds() + cfg->header_timeout;
    pthread_mutex_unlock(&watch_lock);
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    struct server *srv = cls;
    struct conn_watch *w = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(w = calloc(1, sizeof *w)))
            return;   /* unwatched: the idle timeout still applies */
        w->fd = ci->connect_fd;
        w->deadline = now_seconds() + atomic_load(&srv->cfg)->header_timeout;
        w->v6 = peer_prefix(conn, atomic_load(&srv->cfg), w->prefix);
        pthread_mutex_lock(&watch_lock);
        if (w->v6 && prefix_limit) {
            unsigned same = 0;
            for (struct conn_watch *o = watch_head; o; o = o->next)
                same += o->v6 && !o->closing && memcmp(o->prefix, w->prefix, 8) == 0;
            if (same >= prefix_limit) {
                /* over the limit: closed as a late connection is */
                w->closing = true;
                shutdown(w->fd, SHUT_RDWR);
            }
        }
        w->next = watch_head;
        if (watch_head)
            watch_head->prev = w;
        watch_head = w;
        pthread_mutex_unlock(&watch_lock);
        *socket_context = w;
    } else if (w) {
        pthread_mutex_lock(&watch_lock);
        if (w->prev)
            w->prev->next = w->next;
        else
            watch_head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        pthread_mutex_unlock(&watch_lock);
        free(w);
        *socket_context = NULL;
    }
}

/* Close the connections whose headers are late. shutdown() wakes the
 * connection's worker with an end of stream; the worker then closes it. */
static void *watchdog(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&watch_lock);
    while (!watch_stop) {
        double now = now_seconds();
        int late = 0;
        for (struct conn_watch *w = watch_head; w; w = w->next) {
            if (w->deadline > 0 && now > w->deadline && !w->closing) {
                w->closing = true;
                shutdown(w->fd, SHUT_RDWR);
                late++;
            }
        }
        if (late)
            log_debug("http: closed %d connection(s) whose request headers were late", late);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&watch_cond, &watch_lock, &ts);
    }
    pthread_mutex_unlock(&watch_lock);
    return NULL;
}

/* ---- the metrics listener ------------------------------------------------ */

static enum MHD_Result respond_text(struct request *rq, unsigned status, const char *text)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                                MHD_RESPMEM_PERSISTENT);
    if (resp)
        MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    return respond(rq, status, resp);
}

static bool secret_equal(const char *got, size_t got_len, const char *want)
{
    size_t n = strlen(want);
    return got_len == n && CRYPTO_memcmp(got, want, n) == 0;
}

/* What Prometheus sends: `authorization: {credentials: TOKEN}` (Bearer)
 * or `basic_auth: {username, password}`. None configured: open. */
static bool metrics_authorized(struct request *rq)
{
    const struct config *cfg = rq->cfg;
    if (!cfg->metrics_token[0] && !cfg->metrics_user[0])
        return true;
    const char *h = req_header(rq, "Authorization");
    if (!h)
        return false;
    if (cfg->metrics_token[0] && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7;
        while (*t == ' ')
            t++;
        return secret_equal(t, strlen(t), cfg->metrics_token);
    }
    if (cfg->metrics_user[0] && strncasecmp(h, "Basic ", 6) == 0) {
        const char *b = h + 6;
        while (*b == ' ')
            b++;
        size_t blen = strlen(b);
        if (blen > 1024 || blen % 4)
            return false;
        unsigned char dec[800];
        int n = EVP_DecodeBlock(dec, (const unsigned char *)b, (int)blen);
        if (n < 0)
            return false;
        while (n > 0 && blen > 0 && b[--blen] == '=')
            n--;   /* EVP_DecodeBlock counts the padding */
        const unsigned char *colon = memchr(dec, ':', (size_t)n);
        if (!colon)
            return false;
        size_t ulen = (size_t)(colon - dec);
        bool user_ok = secret_equal((const char *)dec, ulen, cfg->metrics_user);
        bool pass_ok = secret_equal((const char *)colon + 1, (size_t)n - ulen - 1,
                                    cfg->metrics_password);
        OPENSSL_cleanse(dec, sizeof dec);
        return user_ok && pass_ok;
    }
    return false;
}

static enum MHD_Result respond_metrics_401(struct request *rq)
{
    const struct config *cfg = rq->cfg;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen("401 unauthorized\n"), (void *)"401 unauthorized\n", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    if (cfg->metrics_token[0])
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"berthd metrics\"");
    if (cfg->metrics_user[0])
        MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"berthd metrics\"");
    return respond(rq, 401, resp);
}

/* ---- dispatch ------------------------------------------------------------ */

static enum MHD_Result route_begin(struct request *rq)
{
    struct route *r = &rq->route;
    bool get = strcmp(rq->method, "GET") == 0 || is_head(rq);
    /* The metrics listener answers /metrics and the health checks only,
     * with its own credentials (the registry's are for the registry). */
    if (rq->srv->metrics_daemon &&
        MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_DAEMON)->daemon ==
            rq->srv->metrics_daemon) {
        if (r->kind == ROUTE_METRICS) {
            if (!get)
                return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
            return metrics_authorized(rq) ? api_metrics(rq) : respond_metrics_401(rq);
        }
        if (r->kind != ROUTE_HEALTH && r->kind != ROUTE_READY)
            return respond_text(rq, 404, "404 page not found: this listener serves /metrics, "
                                         "/healthz and /readyz\n");
    }
    switch (r->kind) {
    case ROUTE_NONE:
        return respond_error(rq, 404, "NAME_UNKNOWN", "no such endpoint: %s", rq->path);
    case ROUTE_READY:
        if (!get)
            return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
        return api_ready(rq);
    case ROUTE_TOKEN:
        return api_token(rq);
    case ROUTE_UI:
        return api_ui(rq);   /* the page needs no credentials; its API calls do */
    case ROUTE_HEALTH:
        if (!get)
            return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
        return respond(rq, 200, response_json(rq, json_object()));
    default:
        break;
    }
    if (r->name_invalid)
        return respond_error(rq, 400, "NAME_INVALID", "invalid repository name");
    if (!authorize(rq))
        return MHD_YES;
    bool write = !get && r->kind != ROUTE_CATALOG && r->kind != ROUTE_ADMIN_STORAGE &&
                 r->kind != ROUTE_METRICS && r->kind != ROUTE_BASE;
    if (write && rq->srv->proxy && !proxy_local(rq->srv->proxy, r->name))
        return respond_error(rq, 405, "UNSUPPORTED",
                             "%s is cached from an upstream registry: push there", r->name);
    if (r->kind == ROUTE_BASE) {
        if (!get)
            return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
        /* the version, for whoever may use the registry (not on a 401) */
        struct MHD_Response *resp = response_json(rq, json_object());
        if (resp)
            MHD_add_response_header(resp, "Berth-Version", BERTH_VERSION);
        return respond(rq, 200, resp);
    }
    switch (r->kind) {
    case ROUTE_CATALOG: return api_catalog(rq);
    case ROUTE_METRICS: return api_metrics(rq);
    case ROUTE_ADMIN_STORAGE: return api_admin_storage(rq);
    case ROUTE_TAGS: return api_tags(rq);
    case ROUTE_MANIFEST: return api_manifest(rq);
    case ROUTE_BLOB: return api_blob(rq);
    case ROUTE_UPLOAD_START:
    case ROUTE_UPLOAD: return api_upload(rq);
    case ROUTE_REFERRERS: return api_referrers(rq);
    default:
        return respond_error(rq, 404, "NAME_UNKNOWN", "no such endpoint");
    }
}

/* Request ids: a per-process random prefix and a counter, in hex. */
static void request_id_new(char out[17])
{
    static atomic_uint_fast64_t counter;
    static _Atomic uint32_t prefix;
    if (!atomic_load(&prefix)) {
        char id[33];
        upload_id_new(id);
        atomic_store(&prefix, (uint32_t)strtoul(id + 24, NULL, 16) | 1);
    }
    uint64_t n = atomic_fetch_add(&counter, 1);
    snprintf(out, 17, "%08x%08x", (unsigned)atomic_load(&prefix), (unsigned)(n & 0xffffffffu));
}

/* The textual form of a socket address, or "?" */
static void sockaddr_text(const struct sockaddr *sa, char *out, size_t len)
{
    snprintf(out, len, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
}

/* One X-Forwarded-For entry ("addr", "a.b.c.d:port", "[v6]" or
 * "[v6]:port") in canonical form; false when it is not an address. The
 * canonical form is what goes into logs and rate-limit keys, so nothing
 * else a client wrote does. */
static bool forwarded_addr(const char *s, size_t n, char *out, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 8];
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *host = buf;
    char *colon = strchr(host, ':');
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (!close)
            return false;
        *close = '\0';
        host++;
    } else if (colon && !strchr(colon + 1, ':')) {
        *colon = '\0';   /* "a.b.c.d:port", as some proxies write it */
    }
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return inet_ntop(AF_INET, a, out, (socklen_t)len) != NULL;
    if (inet_pton(AF_INET6, host, a) == 1)
        return inet_ntop(AF_INET6, a, out, (socklen_t)len) != NULL;
    return false;
}

struct xff_list {
    const char *values[16];
    int n;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct xff_list *l = cls;
    if (strcasecmp(key, "X-Forwarded-For") != 0 || !value)
        return MHD_YES;
    if (l->n == (int)(sizeof l->values / sizeof *l->values))   /* keep the right-most */
        memmove(l->values, l->values + 1, sizeof l->values - sizeof *l->values), l->n--;
    l->values[l->n++] = value;
    return MHD_YES;
}

/* Who is asking: the peer, or, when the peer is a trusted proxy, the
 * right-most X-Forwarded-For entry that is not itself a trusted proxy
 * (entries to its left were written by the client and prove nothing). */
void client_address(struct MHD_Connection *conn, const struct config *cfg, char *out,
                    size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sockaddr_text(ci ? ci->client_addr : NULL, out, len);
    if (!cfg || cfg->n_trusted_proxies == 0 || !config_trusted_proxy(cfg, out))
        return;
    struct xff_list l = {.n = 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_xff, &l);
    for (int i = l.n - 1; i >= 0; i--) {
        const char *v = l.values[i];
        size_t end = strlen(v);
        while (end > 0) {
            size_t start = end;
            while (start > 0 && v[start - 1] != ',')
                start--;
            char addr[INET6_ADDRSTRLEN];
            if (!forwarded_addr(v + start, end - start, addr, sizeof addr))
                return;   /* not an address: the last trusted hop is all we know */
            snprintf(out, len, "%s", addr);
            if (!config_trusted_proxy(cfg, addr))
                return;
            end = start > 0 ? start - 1 : 0;
        }
    }
}

/* Does the request carry a body? Requests without one are routed at the
 * final call: a response queued before libmicrohttpd has read the whole
 * request costs the connection its keep-alive. */
static bool has_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    return (cl && strtoull(cl, NULL, 10) > 0) || te;
}

/* Two Content-Length headers that disagree, or a length beside a
 * Transfer-Encoding, make the body's end depend on which one a server
 * reads (request smuggling behind a proxy that reads the other): refused.
 * libmicrohttpd itself reads the first Content-Length and ignores the rest. */
struct length_seen {
    const char *first;
    bool conflict;
};

static enum MHD_Result length_scan(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct length_seen *ls = cls;
    if (strcasecmp(key, "Content-Length") != 0)
        return MHD_YES;
    value = value ? value : "";
    if (!ls->first)
        ls->first = value;
    else if (strcmp(ls->first, value) != 0)
        ls->conflict = true;
    return ls->conflict ? MHD_NO : MHD_YES;
}

static bool length_ambiguous(struct MHD_Connection *conn)
{
    struct length_seen ls = {NULL, false};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, length_scan, &ls);
    return ls.conflict || (ls.first && MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                   "Transfer-Encoding"));
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      const char *version, const char *upload_data,
                                      size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        atomic_fetch_add(&in_flight, 1);
        rq->srv = cls;
        rq->cfg = atomic_load(&rq->srv->cfg);
        rq->auth = atomic_load(&rq->srv->auth);
        request_id_new(rq->id);
        rq->conn = conn;
        rq->method = method;
        rq->started = now_seconds();
        snprintf(rq->path, sizeof rq->path, "%s", url);
        client_address(conn, rq->cfg, rq->client, sizeof rq->client);
        route_parse(url, auth_token_path(rq->auth), &rq->route);
        /* The token service takes a small form from a party not yet signed
         * in: its body is held to the headers' deadline, or a client could
         * trickle it (a slow POST) as long as it likes. */
        if (rq->route.kind != ROUTE_TOKEN)
            conn_headers_in(conn);
        if (length_ambiguous(conn))
            return respond_error(rq, 400, "UNSUPPORTED",
                                 "conflicting Content-Length or Transfer-Encoding headers");
        if (!has_body(conn))
            return MHD_YES;
        /* Headers are in: refuse a bad request before its body is read. */
        enum MHD_Result r = route_begin(rq);
        if (r == MHD_YES && !rq->answered && !rq->on_end)
            return respond_error(rq, 500, "UNSUPPORTED", "internal error: no handler");
        return r;
    }
    if (rq->answered) {            /* answered early: drop what still arrives */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        rq->bytes_in += len;
        if (!rq->fail_status && rq->on_body)
            rq->on_body(rq, upload_data, len);
        if (rq->fail_status && rq->bytes_in - rq->fail_at > BODY_DRAIN_MAX)   /* enough */
            return respond_error(rq, rq->fail_status, rq->fail_code, "%s", rq->fail_msg);
        return MHD_YES;
    }
    if (rq->route.kind == ROUTE_TOKEN)
        conn_headers_in(conn);     /* the whole form is in: no deadline while it is answered */
    if (!rq->on_end) {             /* no body: route now, answer now */
        enum MHD_Result r = route_begin(rq);
        if (rq->answered || r == MHD_NO)
            return r;
    }
    if (rq->fail_status)
        return respond_error(rq, rq->fail_status, rq->fail_code, "%s", rq->fail_msg);
    if (!rq->on_end)
        return respond_error(rq, 500, "UNSUPPORTED", "internal error: no handler");
    rq->on_end(rq);
    return rq->answered ? MHD_YES : MHD_NO;
}

static void request_completed(void *cls, struct MHD_Connection *conn,
                              void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    struct request *rq = *con_cls;
    if (!rq)
        return;
    conn_await_headers(conn, rq->cfg);   /* the next request on a kept-alive connection */
    if (rq->upload)
        upload_release(rq->upload);
    if (rq->upload_counted)
        metrics_upload_active(-1);
    if (rq->upload_id[0] && !rq->upload_is_session)
        upload_remove(rq->srv->blobs, rq->upload_id);   /* a one-shot upload */
    unsigned status = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? rq->status : 499;
    double seconds = now_seconds() - rq->started;
    log_request(rq->id, rq->client, rq->who.account, rq->method, rq->path, status, rq->bytes_in,
                rq->bytes_out, seconds);
    metrics_request(rq->route.kind, rq->method, status, seconds, rq->bytes_in, rq->bytes_out);
    auth_result_clear(&rq->who);
    if (rq->free_state)
        rq->free_state(rq->state);
    free(rq->buf);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&in_flight, 1);
}

/* ---- serving --------------------------------------------------------------- */

static void on_signal(int sig)
{
    char c = (char)sig;
    if (write(signal_pipe[1], &c, 1) < 0) {
        /* the pipe is full: a stop is already pending */
    }
}

static int read_file(const char *path, char **out, struct berr *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return berr_set(err, BERR_IO, "cannot read %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while (mem && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(f);
    if (!mem || fclose(mem) != 0 || len == 0) {
        free(buf);
        return berr_set(err, BERR_IO, "cannot read %s", path);
    }
    *out = buf;
    return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    if (n && msg[n - 1] == '\n')
        msg[n - 1] = '\0';
    log_debug("http: %s", msg);
}

/* TLS 1.2 and 1.3 only: 1.0 and 1.1 are deprecated (RFC 8996). */
static const char tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

/* Start a libmicrohttpd daemon on `listen` (TLS when cert is given). */
static struct MHD_Daemon *daemon_start(struct server *srv, const char *listen, unsigned threads,
                                       unsigned connections, const char *cert, const char *key)
{
    const struct config *cfg = atomic_load(&srv->cfg);
    struct sockaddr_storage addr;
    if (config_parse_listen(listen, &addr) < 0) {
        log_error("listen: '%s' is not ADDR:PORT", listen);
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
            (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (cert ? MHD_USE_TLS : 0),
        0, NULL, NULL, access_handler, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        /* idle time once the headers are in; before, the watchdog's deadline */
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout,
        MHD_OPTION_CONNECTION_LIMIT, connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->connections_per_address,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, srv,
        /* the TLS options last: without TLS the first ends the list early */
        cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
        MHD_OPTION_HTTPS_MEM_KEY, key,
        MHD_OPTION_HTTPS_PRIORITIES, tls_priorities,
        MHD_OPTION_END);
    if (!d)
        log_error("cannot listen on %s%s: %s", listen, cert ? " with TLS" : "", strerror(errno));
    return d;
}

/* Each connection holds a socket and, while it sends a blob or takes an
 * upload, a file: raise the descriptor limit as far as allowed and keep
 * the connection cap under half of it, with room for the databases. */
static unsigned connection_cap(const struct config *cfg, unsigned threads)
{
    struct rlimit rl;
    unsigned cap = cfg->connections;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                getrlimit(RLIMIT_NOFILE, &rl);
        }
        rlim_t fit = rl.rlim_cur > 512 ? (rl.rlim_cur - 256) / 2 : 128;
        if (rl.rlim_cur != RLIM_INFINITY && fit < cap) {
            log_warn("limits.connections: %u do not fit the open-file limit (%llu); "
                     "serving at most %u connections",
                     cap, (unsigned long long)rl.rlim_cur, (unsigned)fit);
            cap = (unsigned)fit;
        }
    }
    return cap < threads ? threads : cap;
}

/* What a reload replaced: kept until berthd stops, since requests that
 * began before the reload may still use them. */
struct retired {
    struct config *cfgs[64];
    struct auth *auths[64];
    int n;
};

static void reload(struct server *srv, server_reload_fn load, void *arg, struct retired *old)
{
    struct berr err = {0};
    struct config *next = calloc(1, sizeof *next);
    struct auth *auth = NULL;
    if (!next || old->n == 64) {
        log_error("reload refused: too many reloads since the start; restart berthd");
        free(next);
        return;
    }
    if (load(arg, next, &err) < 0 || auth_open(next->auth, &auth, &err) < 0) {
        log_error("reload refused, the running configuration stays: %s", err.msg);
        config_free(next);
        free(next);
        return;
    }
    const struct config *cur = atomic_load(&srv->cfg);
    if (strcmp(next->listen, cur->listen) != 0 || strcmp(next->root, cur->root) != 0 ||
        strcmp(next->tls_cert, cur->tls_cert) != 0 || strcmp(next->tls_key, cur->tls_key) != 0 ||
        strcmp(next->metrics_listen, cur->metrics_listen) != 0 ||
        next->connections != cur->connections || next->idle_timeout != cur->idle_timeout ||
        next->connections_per_address != cur->connections_per_address)
        log_warn("reload: listen, root, tls, metrics.listen, limits.connections, "
                 "limits.connections_per_address and limits.idle_timeout change only at "
                 "the next start");
    memcpy(next->listen, cur->listen, sizeof next->listen);
    memcpy(next->root, cur->root, sizeof next->root);
    memcpy(next->tls_cert, cur->tls_cert, sizeof next->tls_cert);
    memcpy(next->tls_key, cur->tls_key, sizeof next->tls_key);
    memcpy(next->metrics_listen, cur->metrics_listen, sizeof next->metrics_listen);
    log_setup(next->log_level, next->log_json);
    old->auths[old->n] = atomic_exchange(&srv->auth, auth);
    old->cfgs[old->n] = (struct config *)atomic_exchange(&srv->cfg, next);
    old->n++;
    gc_schedule_reload(srv->gc);
    log_info("configuration reloaded (auth %s)", auth ? "on" : "off");
}

int server_run(const struct config *cfg, server_reload_fn load, void *arg)
{
    struct berr err = {0};
    struct server srv = {.blobs = NULL};   /* (not {0}: its first member is _Atomic) */
    struct auth *auth = NULL;
    atomic_init(&srv.cfg, cfg);
    if (auth_open(cfg->auth, &auth, &err) < 0) {
        log_error("%s", err.msg);
        return 2;
    }
    atomic_init(&srv.auth, auth);
    char *tls_cert = NULL, *tls_key = NULL;
    if ((cfg->tls_cert[0] || cfg->tls_key[0]) &&
        (read_file(cfg->tls_cert, &tls_cert, &err) < 0 ||
         read_file(cfg->tls_key, &tls_key, &err) < 0)) {
        log_error("tls: %s", err.msg);
        free(tls_cert);
        auth_close(auth);
        return 2;
    }
    if (registry_open(cfg, &srv.blobs, &srv.meta, &err) < 0) {
        log_error("storage: %s", err.msg);
        auth_close(auth);
        free(tls_cert);
        free(tls_key);
        return 1;
    }
    gc_recover(cfg->root, srv.blobs, srv.meta);
    if (proxy_open(cfg->proxy, &srv.proxy, &err) < 0) {
        log_error("%s", err.msg);
        meta_close(srv.meta);
        blob_store_close(srv.blobs);
        auth_close(auth);
        free(tls_cert);
        free(tls_key);
        return 2;
    }

    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return 1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads
                                        : (unsigned)(ncpu > 0 ? ncpu * 4 : 8);
    struct retired old = {0};
    int rc = 0;
    unsigned connections = connection_cap(cfg, threads);
    pthread_t watchdog_thread;
    watch_stop = false;
    prefix_limit = cfg->connections_per_address;
    int werr = pthread_create(&watchdog_thread, NULL, watchdog, NULL);
    bool watching = werr == 0;
    if (!watching)
        log_error("cannot start the connection watchdog: %s", strerror(werr));
    struct MHD_Daemon *d = !watching ? NULL
                                     : daemon_start(&srv, cfg->listen, threads, connections,
                                                    tls_cert, tls_key);
    if (d && cfg->metrics_listen[0] &&
        !(srv.metrics_daemon = daemon_start(&srv, cfg->metrics_listen, 1, 64, NULL, NULL))) {
        MHD_stop_daemon(d);
        d = NULL;
    }
    if (!d) {
        rc = 1;
        goto out;
    }
    struct gc_schedule *sched = srv.gc = gc_schedule_start(&srv);
    log_info("berthd %s serving %s on %s, data in %s, %u threads, auth %s%s%s",
             BERTH_VERSION, tls_cert ? "HTTPS" : "HTTP", cfg->listen, cfg->root, threads,
             !auth ? "off" : auth_token_path(auth) ? "token (with token service)" : "on",
             cfg->metrics_listen[0] ? ", metrics on " : "", cfg->metrics_listen);

    /* SIGHUP reloads; SIGTERM and SIGINT stop. */
    for (;;) {
        struct pollfd pfd = {.fd = signal_pipe[0], .events = POLLIN};
        char sig = 0;
        if (poll(&pfd, 1, -1) < 0 || read(signal_pipe[0], &sig, 1) != 1)
            continue;
        if (sig != SIGHUP)
            break;
        if (load)
            reload(&srv, load, arg, &old);
    }
    log_info("shutting down: finishing %d request(s) in flight",
             atomic_load(&in_flight));
    MHD_socket lsock = MHD_quiesce_daemon(d);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    for (int i = 0; i < 3000 && atomic_load(&in_flight) > 0; i++)
        usleep(10000);
    gc_schedule_stop(sched);
    if (srv.metrics_daemon)
        MHD_stop_daemon(srv.metrics_daemon);
    MHD_stop_daemon(d);
    log_info("berthd stopped");
out:
    if (watching) {
        pthread_mutex_lock(&watch_lock);
        watch_stop = true;
        pthread_cond_signal(&watch_cond);
        pthread_mutex_unlock(&watch_lock);
        pthread_join(watchdog_thread, NULL);
    }
    proxy_close(srv.proxy);
    meta_close(srv.meta);
    blob_store_close(srv.blobs);
    auth_close(atomic_load(&srv.auth));
    for (int i = 0; i < old.n; i++) {
        auth_close(old.auths[i]);
        if (i > 0 || old.cfgs[i] != cfg) {
            config_free(old.cfgs[i]);
            free(old.cfgs[i]);
        }
    }
    if (old.n) {   /* the current one came from a reload too */
        struct config *cur = (struct config *)atomic_load(&srv.cfg);
        config_free(cur);
        free(cur);
    }
    free(tls_cert);
    free(tls_key);
    return rc;
}
