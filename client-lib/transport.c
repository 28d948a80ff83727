/*
 * transport.c - HTTP to registries over libcurl, with their auth dance.
 *
 * Every thread keeps one curl easy handle; all of them share a connection
 * cache, so requests to a registry reuse kept-alive connections. A request
 * goes out anonymously or with what worked before for that registry and
 * scope; on 401 the WWW-Authenticate challenge says what to do: Basic (the
 * stored credentials) or Bearer (a token fetched from the realm for the
 * request's scope, cached until it expires). 5xx, 429 and network errors
 * are retried with backoff when the request can be replayed.
 *
 * What a registry can make the client do is bounded: only http and https,
 * redirects followed here (never from https down to http), credentials
 * only to the registry's own scheme, host and port (an upload Location or
 * a redirect elsewhere gets none), no redirect, Location or token realm
 * that leads to an internal address unless the registry is itself at one,
 * responses no larger than the caller expects, and a transfer that stalls
 * fails.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One curl handle per thread, cleaned up when the thread ends (server
 * worker and fetch threads come and go). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_key_t easy_key;

static void easy_free(void *h)
{
    curl_easy_cleanup(h);
}

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_key_create(&easy_key, easy_free);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *arg)
{
    (void)h, (void)a;
    pthread_mutex_lock(&((struct berth_client *)arg)->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
    (void)h;
    pthread_mutex_unlock(&((struct berth_client *)arg)->share_locks[data]);
}

/* A positive number from the environment, else the default. */
static long env_seconds(const char *name, long def)
{
    const char *v = getenv(name);
    char *end;
    long n = v && *v ? strtol(v, &end, 10) : 0;
    return v && *v && !*end && n > 0 ? n : def;
}

int berth_client_new(const struct berth_options *o, struct berth_client **out,
                     struct berr *err)
{
    pthread_once(&curl_once, curl_init_once);
    struct berth_client *c = calloc(1, sizeof *c);
    if (!c)
        return berr_set(err, BERR_IO, "out of memory");
    if (o)
        c->o = *o;
    if (c->o.parallel <= 0)
        c->o.parallel = 4;
    if (!o || o->retries == 0)
        c->o.retries = 4;
    else if (o->retries < 0)   /* none: fail at the first error */
        c->o.retries = 0;
    if (!c->o.out)
        c->o.out = stderr;
    size_t n = 0;
    while (o && o->insecure && o->insecure[n])
        n++;
    c->insecure = calloc(n + 1, sizeof *c->insecure);
    for (size_t i = 0; i < n; i++)
        c->insecure[i] = strdup(o->insecure[i]);
    c->o.insecure = NULL;
    c->o.ca_file = o && o->ca_file ? strdup(o->ca_file) : NULL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    pthread_mutex_init(&c->lock, NULL);
    c->share = curl_share_init();
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    c->tokens = json_object();
    c->internal = json_object();
    /* behind a proxy the address connected to is the proxy's */
    static const char *const proxy_vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
                                             "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof *proxy_vars; i++)
        if (getenv(proxy_vars[i]) && *getenv(proxy_vars[i]))
            c->via_proxy = true;
    c->stall_s = env_seconds("BERTH_STALL_TIMEOUT", 60);
    c->low_speed = env_seconds("BERTH_LOW_SPEED_LIMIT", 1024);
    c->low_time = env_seconds("BERTH_LOW_SPEED_TIME", 300);
    *out = c;
    return 0;
}

void berth_client_free(struct berth_client *c)
{
    if (!c)
        return;
    CURL *h = pthread_getspecific(easy_key);
    if (h) {
        curl_easy_cleanup(h);
        pthread_setspecific(easy_key, NULL);
    }
    curl_share_cleanup(c->share);
    for (char **p = c->insecure; p && *p; p++)
        free(*p);
    free(c->insecure);
    free((char *)c->o.ca_file);
    json_decref(c->tokens);
    json_decref(c->creds);
    json_decref(c->internal);
    free(c);
}

void http_req_init(struct http_req *r, const char *method)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->body_fd = -1;
    r->fd = -1;
    r->max = 16 << 20;
}

void http_req_clear(struct http_req *r)
{
    free(r->buf);
    r->buf = NULL;
    r->len = 0;
}

static bool is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost", 9) == 0 ||
           strncmp(host, "[::1]", 5) == 0;
}

static bool v4_internal(uint32_t a)   /* host byte order */
{
    return (a >> 24) == 0 ||              /* 0.0.0.0/8: "this host" */
           (a >> 24) == 127 ||            /* loopback */
           (a >> 24) == 10 ||             /* RFC 1918 */
           (a >> 20) == 0xac1 ||          /* 172.16.0.0/12 */
           (a >> 16) == 0xc0a8 ||         /* 192.168.0.0/16 */
           (a >> 16) == 0xa9fe ||         /* 169.254.0.0/16 link-local */
           (a >> 22) == (100u << 2 | 1);  /* 100.64.0.0/10 shared (CGNAT) */
}

static bool v6_internal(const uint8_t b[16])
{
    static const uint8_t zero[16];
    if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
        return true;                      /* :: and ::1 */
    if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)   /* ::ffff:a.b.c.d */
        return v4_internal((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                           (uint32_t)b[14] << 8 | b[15]);
    /* NAT64 (RFC 6052): 64:ff9b::a.b.c.d is a.b.c.d, reached through the
     * network's own translator; 64:ff9b:1::/48 is local use only */
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (memcmp(b, nat64, 12) == 0)
        return v4_internal((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                           (uint32_t)b[14] << 8 | b[15]);
    if (memcmp(b, nat64, 4) == 0 && b[4] == 0 && b[5] == 1)
        return true;
    return (b[0] & 0xfe) == 0xfc ||                    /* fc00::/7 unique local */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||  /* fe80::/10 link-local */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0);    /* fec0::/10 site-local */
}

bool addr_is_internal(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in v4;
        memcpy(&v4, sa, sizeof v4);
        return v4_internal(ntohl(v4.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 v6;
        memcpy(&v6, sa, sizeof v6);
        return v6_internal(v6.sin6_addr.s6_addr);
    }
    return false;
}

bool ip_is_internal(const char *ip)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, ip, &a4) == 1)
        return v4_internal(ntohl(a4.s_addr));
    if (inet_pton(AF_INET6, ip, &a6) == 1)
        return v6_internal(a6.s6_addr);
    return false;
}

bool host_is_internal(const char *host)
{
    char h[256];
    size_t n = strlen(host);
    if (n >= sizeof h || n == 0)
        return false;
    if (host[0] == '[' && host[n - 1] == ']')
        snprintf(h, sizeof h, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(h, sizeof h, "%s", host);
    for (char *p = h; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    size_t hl = strlen(h);
    if (hl && h[hl - 1] == '.')
        h[--hl] = '\0';
    if (strcmp(h, "localhost") == 0 || (hl > 10 && strcmp(h + hl - 10, ".localhost") == 0))
        return true;
    if (ip_is_internal(h))
        return true;
    /* inet_aton's forms ("127.1", "2130706433", "0x7f.1") resolve too */
    struct in_addr a;
    if (strspn(h, "0123456789abcdefx.") == hl && inet_aton(h, &a))
        return v4_internal(ntohl(a.s_addr));
    return false;
}

/* The host of a registry name: "127.0.0.1:5000" -> "127.0.0.1", "[::1]:5000" -> "[::1]". */
static void registry_host(const char *registry, char *out, size_t len)
{
    const char *end = registry[0] == '[' ? strchr(registry, ']') : strchr(registry, ':');
    size_t n = end ? (size_t)(end - registry) + (registry[0] == '[') : strlen(registry);
    snprintf(out, len, "%.*s", (int)n, registry);
}

/* May requests for this registry lead to internal addresses? */
static bool internal_ok(struct berth_client *c, const char *registry)
{
    if (c->o.allow_internal_redirects)
        return true;
    char host[256];
    registry_host(registry, host, sizeof host);
    if (host_is_internal(host))
        return true;
    pthread_mutex_lock(&c->lock);
    bool seen = json_object_get(c->internal, registry) != NULL;
    pthread_mutex_unlock(&c->lock);
    return seen;
}

void registry_base(struct berth_client *c, const char *registry, char *out, size_t len)
{
    const char *host = strcmp(registry, "docker.io") == 0 ? "registry-1.docker.io" : registry;
    bool plain = is_loopback(registry);
    for (char **p = c->insecure; p && *p && !plain; p++)
        plain = strcmp(*p, registry) == 0;
    snprintf(out, len, "%s://%s", plain ? "http" : "https", host);
}

/* ---- callbacks ------------------------------------------------------------- */

static void copy_header(char *dst, size_t len, const char *value, size_t n)
{
    while (n > 0 && (value[n - 1] == '\r' || value[n - 1] == '\n' || value[n - 1] == ' '))
        n--;
    while (n > 0 && *value == ' ')
        value++, n--;
    if (n >= len)
        n = len - 1;
    memcpy(dst, value, n);
    dst[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    struct http_req *r = arg;
    size_t len = size * n;
    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or 100 Continue): start over */
        const char *sp = memchr(line, ' ', len);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        r->location[0] = r->digest[0] = r->resp_type[0] = r->challenge[0] = '\0';
        r->resp_range[0] = r->link[0] = '\0';
        r->content_length = 0;
        return len;
    }
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return len;
    size_t klen = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vlen = len - klen - 1;
#define IS(name) (klen == strlen(name) && strncasecmp(line, name, klen) == 0)
    if (IS("Location"))
        copy_header(r->location, sizeof r->location, v, vlen);
    else if (IS("Docker-Content-Digest"))
        copy_header(r->digest, sizeof r->digest, v, vlen);
    else if (IS("Content-Type"))
        copy_header(r->resp_type, sizeof r->resp_type, v, vlen);
    else if (IS("WWW-Authenticate"))
        copy_header(r->challenge, sizeof r->challenge, v, vlen);
    else if (IS("Range"))
        copy_header(r->resp_range, sizeof r->resp_range, v, vlen);
    else if (IS("Link")) {
        char tmp[1100];
        copy_header(tmp, sizeof tmp, v, vlen);
        char *lt = strchr(tmp, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (gt && strstr(gt, "rel=\"next\""))
            snprintf(r->link, sizeof r->link, "%.*s", (int)(gt - lt - 1), lt + 1);
    }
    else if (IS("Content-Length")) {
        char tmp[32];
        copy_header(tmp, sizeof tmp, v, vlen);
        r->content_length = strtoull(tmp, NULL, 10);
    }
#undef IS
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct http_req *r = arg;
    size_t len = size * n;
    if (r->sink == SINK_NONE) {
        /* nobody reads it: a little is fine, an endless one is not */
        r->len += len;
        if (r->len > 65536) {
            r->too_big = true;
            return 0;
        }
        return len;
    }
    /* An error's body is a message, never a blob: keep it in memory. */
    bool streamed = r->sink == SINK_FILE || r->sink == SINK_CALLBACK;
    bool to_memory = r->sink == SINK_MEMORY || (streamed && r->status >= 300);
    if (to_memory && streamed && r->len + len > 65536) {
        /* enough of a message: stop reading (perform keeps the status) */
        r->too_big = true;
        return 0;
    }
    if (to_memory) {
        if (r->len + len > r->max) {
            r->too_big = true;
            return 0;   /* too big: abort the transfer */
        }
        char *buf = realloc(r->buf, r->len + len + 1);
        if (!buf)
            return 0;
        memcpy(buf + r->len, data, len);
        r->buf = buf;
        r->len += len;
        r->buf[r->len] = '\0';
        return len;
    }
    if (streamed && r->has_limit && r->written + len > r->limit) {
        r->too_big = true;   /* more than the descriptor said: not this blob */
        return 0;
    }
    if (r->sink == SINK_CALLBACK) {
        if (!r->size_told && r->on_size)
            r->on_size(r->each_arg, r->range_from + r->content_length);
        r->size_told = true;
        if (r->each(r->each_arg, data, len) < 0)
            return 0;
        if (r->hash)
            hasher_update(r->hash, data, len);
        r->written += len;
    } else if (r->sink == SINK_FILE) {
        if (write_all(r->fd, data, len) < 0) {
            /* a full disk stays full for a retry: say why, once */
            r->write_errno = errno;
            r->fatal = true;
            return 0;
        }
        if (r->hash)
            hasher_update(r->hash, data, len);
        r->written += len;
        if (r->on_bytes)
            r->on_bytes(r->on_bytes_arg, len);
    }
    return len;
}

struct body_src {
    struct http_req *r;
    uint64_t pos;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct body_src *src = arg;
    struct http_req *r = src->r;
    size_t want = size * n;
    if (src->pos >= r->body_len)
        return 0;
    if (want > r->body_len - src->pos)
        want = (size_t)(r->body_len - src->pos);
    if (r->body_fd >= 0) {
        ssize_t got = pread(r->body_fd, buf, want, (off_t)(r->body_off + src->pos));
        if (got < 0)
            return CURL_READFUNC_ABORT;
        want = (size_t)got;
    } else {
        memcpy(buf, (const char *)r->body + src->pos, want);
    }
    src->pos += want;
    if (r->on_bytes)
        r->on_bytes(r->on_bytes_arg, want);
    return want;
}

/* ---- one request ------------------------------------------------------------ */

/* What one perform() allows and what happened, for the callbacks. */
struct guard {
    struct berth_client *c;
    const char *registry;
    bool record;          /* the registry's own origin: remember where it is */
    bool check;           /* elsewhere: internal addresses are refused */
    bool refused;
    char refused_ip[INET6_ADDRSTRLEN];
    struct timespec last; /* when bytes last moved */
    curl_off_t moved;
    bool stalled;
};

static void guard_saw(struct guard *g, bool internal)
{
    if (g->record && internal) {
        pthread_mutex_lock(&g->c->lock);
        json_object_set_new(g->c->internal, g->registry, json_true());
        pthread_mutex_unlock(&g->c->lock);
    }
}

/* New connections: refused before they are made. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct guard *g = arg;
    if (purpose == CURLSOCKTYPE_IPCXN && !g->c->via_proxy) {
        bool internal = addr_is_internal(&a->addr);
        guard_saw(g, internal);
        if (g->check && internal) {
            g->refused = true;
            const void *ip = a->family == AF_INET6
                                 ? (const void *)&((struct sockaddr_in6 *)&a->addr)->sin6_addr
                                 : (const void *)&((struct sockaddr_in *)&a->addr)->sin_addr;
            inet_ntop(a->family, ip, g->refused_ip, sizeof g->refused_ip);
            return CURL_SOCKET_BAD;
        }
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Reused connections: refused before the request is sent. */
static int before_request(void *arg, char *ip, char *local_ip, int port, int local_port)
{
    (void)local_ip, (void)port, (void)local_port;
    struct guard *g = arg;
    if (g->c->via_proxy || !ip)
        return CURL_PREREQFUNC_OK;
    bool internal = ip_is_internal(ip);
    guard_saw(g, internal);
    if (g->check && internal) {
        g->refused = true;
        snprintf(g->refused_ip, sizeof g->refused_ip, "%s", ip);
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)ultotal;
    struct guard *g = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (dlnow + ulnow != g->moved || g->last.tv_sec == 0) {
        g->moved = dlnow + ulnow;
        g->last = now;
        return 0;
    }
    if (now.tv_sec - g->last.tv_sec >= g->c->stall_s) {
        g->stalled = true;
        return 1;
    }
    return 0;
}

static CURL *easy_for_thread(struct berth_client *c)
{
    CURL *h = pthread_getspecific(easy_key);
    if (!h) {
        h = curl_easy_init();
        pthread_setspecific(easy_key, h);
    } else {
        curl_easy_reset(h);
    }
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    /* a registry speaks HTTP: no gopher://, dict://, file://... even
     * when a challenge or a redirect names one */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* a transfer that stays below a floor for long fails (the one that
     * stops altogether is on_progress's) */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, c->low_speed);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->low_time);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "berth/1.0");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->o.ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->o.ca_file);
    return h;
}

/* "scheme://host:port" of a URL, lower case, the port always given;
 * scheme and host apart too. Returns false for what does not parse. */
static bool url_origin(const char *url, char *origin, size_t len, char scheme[16],
                       char host[256])
{
    CURLU *u = curl_url();
    char *sch = NULL, *hst = NULL, *port = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &sch, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &hst, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
              strlen(sch) < 16 && strlen(hst) < 256;
    if (ok) {
        for (char *p = sch; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        for (char *p = hst; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        snprintf(scheme, 16, "%s", sch);
        snprintf(host, 256, "%s", hst);
        snprintf(origin, len, "%s://%s:%s", sch, hst, port);
    }
    curl_free(sch);
    curl_free(hst);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

static void registry_origin(struct berth_client *c, const char *registry, char *out, size_t len)
{
    char base[600], scheme[16], host[256];
    registry_base(c, registry, base, sizeof base);
    if (!url_origin(base, out, len, scheme, host))
        out[0] = '\0';
}

static int refuse(struct http_req *r, struct berr *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A refusal a retry cannot fix: the request and why. */
static int refuse(struct http_req *r, struct berr *err, int code, const char *fmt, ...)
{
    r->fatal = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return berr_set(err, code, "%s %.200s: %s", r->method, r->url, msg);
}

/* Did the transfer get a connection? (A timeout before one is the
 * connect timeout, not the low-speed one.) */
static bool connected(CURL *h)
{
    curl_off_t t = 0;
    return curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &t) == CURLE_OK && t > 0;
}

/* One request to one URL with the given Authorization (may be NULL).
 * Returns 0, or a negative error (message in err). */
static int perform_once(struct berth_client *c, struct http_req *r, const char *url,
                        const char *authz, struct guard *g, struct berr *err)
{
    CURL *h = easy_for_thread(c);
    certs_d_apply(h, url, c->o.ca_file != NULL);
    struct curl_slist *hdrs = NULL;
    char line[4096];
    if (authz) {
        snprintf(line, sizeof line, "Authorization: %s", authz);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (r->accept) {
        snprintf(line, sizeof line, "Accept: %s", r->accept);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (r->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", r->content_type);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (r->extra[0])
        hdrs = curl_slist_append(hdrs, r->extra);
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (r->range_from) {
        snprintf(line, sizeof line, "%llu-", (unsigned long long)r->range_from);
        curl_easy_setopt(h, CURLOPT_RANGE, line);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    /* redirects are followed by perform(), which checks each one */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g);
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, before_request);
    curl_easy_setopt(h, CURLOPT_PREREQDATA, g);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, g);
    struct body_src src = {r, 0};
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        if (r->body || r->body_fd >= 0 || strcmp(r->method, "PUT") == 0 ||
            strcmp(r->method, "PATCH") == 0 || strcmp(r->method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, &src);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
        }
    }
    /* the response of an earlier attempt or hop is forgotten */
    http_req_clear(r);
    r->status = 0;
    r->too_big = false;
    r->write_errno = 0;
    g->refused = g->stalled = false;
    g->last.tv_sec = 0;
    g->moved = 0;
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    bool streamed = r->sink == SINK_FILE || r->sink == SINK_CALLBACK;
    bool cut_short = r->sink == SINK_NONE || (streamed && code >= 300);
    if (rc == CURLE_WRITE_ERROR && r->too_big && cut_short) {
        rc = CURLE_OK;    /* a body nobody needs whole: the status says enough */
    } else if (rc == CURLE_WRITE_ERROR && r->too_big) {
        r->fatal = true;
        if (streamed)
            return berr_set(err, BERR_TOOBIG,
                            "%s %s: the registry sent more than the %llu bytes expected",
                            r->method, url, (unsigned long long)r->limit);
        return berr_set(err, BERR_TOOBIG, "%s %s: the response is larger than %zu bytes",
                        r->method, url, r->max);
    }
    if (g->refused)
        return refuse(r, err, BERR_UNSUPPORTED,
                      "refusing to connect to the internal address %s (the registry is not at one)",
                      g->refused_ip);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
        rc == CURLE_SSL_CERTPROBLEM) {
        /* a retry cannot fix a certificate: say where trust comes from */
        char auth[300];
        const char *a = url + strcspn(url, ":") + 3;
        snprintf(auth, sizeof auth, "%.*s", (int)strcspn(a, "/?#"), a);
        r->fatal = true;
        if (rc == CURLE_SSL_CERTPROBLEM)
            return berr_set(err, BERR_IO, "%s %s: the client certificate was refused (%s): "
                            "check client.cert and client.key in /etc/docker/certs.d/%s/",
                            r->method, url, curl_easy_strerror(rc), auth);
        return berr_set(err, BERR_IO,
                        "%s %s: the registry's certificate is not trusted (%s): give its CA "
                        "with --ca FILE, or put it in /etc/docker/certs.d/%s/ca.crt or "
                        "~/.docker/certs.d/%s/ca.crt (the directory is HOST alone for port 443)",
                        r->method, url, curl_easy_strerror(rc), auth, auth);
    }
    if (rc != CURLE_OK) {
        const char *why = curl_easy_strerror(rc);
        char stall[64];
        if (rc == CURLE_WRITE_ERROR && r->sink == SINK_FILE && r->write_errno)
            return berr_set(err, BERR_IO, "cannot write to the image store: %s",
                            strerror(r->write_errno));
        if (rc == CURLE_WRITE_ERROR && r->sink == SINK_FILE)
            why = "cannot write to the local store (disk full?)";
        if (g->stalled) {
            snprintf(stall, sizeof stall, "no data moved for %ld s", c->stall_s);
            why = stall;
        } else if (rc == CURLE_OPERATION_TIMEDOUT && connected(h)) {
            snprintf(stall, sizeof stall, "slower than %ld bytes/s for %ld s", c->low_speed,
                     c->low_time);
            why = stall;
        }
        return berr_set(err, BERR_IO, "%s %s: %s", r->method, url, why);
    }
    r->status = code;
    return 0;
}

/* Perform with the given Authorization, sent only to `auth_origin`
 * (registry requests: the registry's own; token requests: the realm's).
 * GET and HEAD follow up to 5 redirects, each one checked. */
static int perform(struct berth_client *c, const char *registry, struct http_req *r,
                   const char *authz, const char *auth_origin, struct berr *err)
{
    char reg_origin[600], url[sizeof r->url], origin[600], scheme[16], host[256];
    registry_origin(c, registry, reg_origin, sizeof reg_origin);
    bool follow = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    snprintf(url, sizeof url, "%s", r->url);
    for (int hop = 0;; hop++) {
        if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
            return refuse(r, err, BERR_UNSUPPORTED, "refusing %.*s (only http and https)",
                          (int)strcspn(url, ":/?#"), url);
        if (!url_origin(url, origin, sizeof origin, scheme, host))
            return refuse(r, err, BERR_INVALID, "not a URL: %.100s", url);
        struct guard g = {.c = c, .registry = registry};
        g.record = strcmp(origin, reg_origin) == 0;
        g.check = !g.record && !internal_ok(c, registry);
        if (g.check && host_is_internal(host))
            return refuse(r, err, BERR_UNSUPPORTED,
                          "refusing to connect to the internal address %s (the registry is not at one)",
                          host);
        bool send = authz && auth_origin && strcmp(origin, auth_origin) == 0;
        int rc = perform_once(c, r, url, send ? authz : NULL, &g, err);
        if (rc < 0 || !follow ||
            (r->status != 301 && r->status != 302 && r->status != 303 &&
             r->status != 307 && r->status != 308))
            return rc;
        char *next = NULL;
        curl_easy_getinfo(pthread_getspecific(easy_key), CURLINFO_REDIRECT_URL, &next);
        if (!next || !*next)
            return 0;   /* a redirect without a target: the caller sees the status */
        if (hop >= 5)
            return refuse(r, err, BERR_INVALID, "too many redirects");
        char nscheme[16], nhost[256], norigin[600];
        if (!url_origin(next, norigin, sizeof norigin, nscheme, nhost))
            return refuse(r, err, BERR_INVALID, "a redirect to something not a URL: %.100s", next);
        if (strcmp(scheme, "https") == 0 && strcmp(nscheme, "https") != 0)
            return refuse(r, err, BERR_UNSUPPORTED, "refusing a redirect from https to %s://%s",
                          nscheme, nhost);
        snprintf(url, sizeof url, "%s", next);
    }
}

/* ---- auth ---------------------------------------------------------------------- */

/* The value of key="value" in a challenge. */
static bool challenge_param(const char *ch, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);
    for (const char *p = ch; (p = strstr(p, key)); p += klen) {
        if (p != ch && isalnum((unsigned char)p[-1]))
            continue;
        if (p[klen] != '=')
            continue;
        const char *v = p + klen + 1;
        size_t n;
        if (*v == '"') {
            v++;
            n = strcspn(v, "\"");
        } else {
            n = strcspn(v, ", ");
        }
        if (n >= len)
            return false;
        memcpy(out, v, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

static void basic_header(const char *user, const char *pass, char *out, size_t len)
{
    char plain[1024];
    int n = snprintf(plain, sizeof plain, "%s:%s", user, pass);
    unsigned char enc[1400];
    out[0] = '\0';   /* n is what was wanted: never encode past plain */
    if (n >= 0 && (size_t)n < sizeof plain) {
        EVP_EncodeBlock(enc, (unsigned char *)plain, n);
        snprintf(out, len, "Basic %s", enc);
    }
    OPENSSL_cleanse(plain, sizeof plain);
}

/* Ask the realm for a token for `scope`; cache it. */
static int fetch_token(struct berth_client *c, const char *registry, const char *challenge,
                       const char *scope, char *token, size_t tlen, struct berr *err)
{
    char realm[1024], service[256] = "", chscope[512] = "";
    if (!challenge_param(challenge, "realm", realm, sizeof realm))
        return berr_set(err, BERR_INVALID, "%s: Bearer challenge without a realm", registry);
    challenge_param(challenge, "service", service, sizeof service);
    challenge_param(challenge, "scope", chscope, sizeof chscope);
    if (!scope || !*scope)
        scope = chscope;
    /* the realm is the registry's word: it gets the credentials, so it must
     * be HTTP(S), and not plain HTTP when the registry itself is HTTPS */
    char realm_origin[600], rscheme[16], rhost[256], reg_origin[600];
    if (!url_origin(realm, realm_origin, sizeof realm_origin, rscheme, rhost))
        return berr_set(err, BERR_INVALID, "%s: the token realm is not a URL: %.100s", registry,
                        realm);
    if (strcmp(rscheme, "http") != 0 && strcmp(rscheme, "https") != 0)
        return berr_set(err, BERR_UNSUPPORTED,
                        "%s: refusing the token realm %.100s (only http and https)", registry,
                        realm);
    registry_origin(c, registry, reg_origin, sizeof reg_origin);
    if (strncmp(reg_origin, "https:", 6) == 0 && strcmp(rscheme, "https") != 0)
        return berr_set(err, BERR_UNSUPPORTED,
                        "%s: refusing the plain-http token realm %.100s of an https registry",
                        registry, realm);

    CURL *h = easy_for_thread(c);
    struct http_req r;
    http_req_init(&r, "GET");
    r.sink = SINK_MEMORY;
    r.max = 1 << 20;
    char *es = curl_easy_escape(h, service, 0);
    size_t n = 0;
    buf_appendf(r.url, sizeof r.url, &n, "%s%sservice=%s", realm,
                strchr(realm, '?') ? "&" : "?", es ? es : "");
    curl_free(es);
    /* one scope parameter per scope, as docker sends them */
    char scopes[512];
    snprintf(scopes, sizeof scopes, "%s", scope);
    for (char *save = NULL, *one = strtok_r(scopes, " ", &save); one;
         one = strtok_r(NULL, " ", &save)) {
        char *esc = curl_easy_escape(h, one, 0);
        if (!esc)
            n = sizeof r.url;   /* out of memory: the URL would miss a scope */
        else
            buf_appendf(r.url, sizeof r.url, &n, "&scope=%s", esc);
        curl_free(esc);
    }
    /* a cut-off URL would ask for the wrong scope (or the wrong realm) */
    if (n >= sizeof r.url) {
        http_req_clear(&r);
        return berr_set(err, BERR_TOOBIG, "%s: token realm URL too long", registry);
    }
    char user[256], pass[512], authz[2048];
    bool have = creds_get(c, registry, user, sizeof user, pass, sizeof pass);
    if (have)
        basic_header(user, pass, authz, sizeof authz);
    int rc = perform(c, registry, &r, have ? authz : NULL, realm_origin, err);
    if (rc == 0 && r.status != 200)
        rc = r.status == 401 || r.status == 403
                 ? berr_set(err, BERR_CONFLICT, "%s: unauthorized: %s", registry,
                            have ? "incorrect username or password" : "authentication required")
                 : http_error(&r, "token request", err);
    json_t *doc = rc == 0 ? json_loadb(r.buf, r.len, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(doc, "token"));
    if (!t)
        t = json_string_value(json_object_get(doc, "access_token"));
    if (rc == 0 && (!t || strlen(t) >= tlen))
        rc = berr_set(err, BERR_INVALID, "%s: the token service gave no token", registry);
    if (rc == 0) {
        snprintf(token, tlen, "%s", t);
        json_int_t ttl = json_integer_value(json_object_get(doc, "expires_in"));
        char key[1024];
        snprintf(key, sizeof key, "%s %s", registry, scope);
        pthread_mutex_lock(&c->lock);
        json_object_set_new(c->tokens, key,
                            json_pack("{s:s,s:I}", "token", t, "exp",
                                      (json_int_t)time(NULL) + (ttl > 0 ? ttl : 60) - 10));
        pthread_mutex_unlock(&c->lock);
    }
    json_decref(doc);
    http_req_clear(&r);
    return rc;
}

/* What to send first: a cached token for this scope, or stored Basic
 * credentials if the registry asked for Basic before. */
static bool cached_auth(struct berth_client *c, const char *registry, const char *scope,
                        char *authz, size_t len)
{
    char key[1024];
    snprintf(key, sizeof key, "%s %s", registry, scope ? scope : "");
    bool found = false;
    pthread_mutex_lock(&c->lock);
    json_t *e = json_object_get(c->tokens, key);
    if (e && json_integer_value(json_object_get(e, "exp")) > time(NULL)) {
        const char *t = json_string_value(json_object_get(e, "token"));
        if (t) {
            snprintf(authz, len, "%s%s", strcmp(t, "basic") == 0 ? "" : "Bearer ", t);
            found = strcmp(t, "basic") != 0;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (found)
        return true;
    char user[256], pass[512];
    snprintf(key, sizeof key, "%s basic", registry);
    pthread_mutex_lock(&c->lock);
    bool basic = json_object_get(c->tokens, key) != NULL;
    pthread_mutex_unlock(&c->lock);
    if (basic && creds_get(c, registry, user, sizeof user, pass, sizeof pass)) {
        basic_header(user, pass, authz, len);
        return true;
    }
    return false;
}

static bool retryable(long status)
{
    return status == 429 || status >= 500;
}

int http_do(struct berth_client *c, const char *registry, const char *scope,
            struct http_req *r, struct berr *err)
{
    char authz[8192], reg_origin[600], origin[600], scheme[16], host[256];
    bool have_auth = cached_auth(c, registry, scope, authz, sizeof authz);
    /* credentials go to the registry's own origin only: an upload Location
     * or a Link elsewhere gets none, and its 401 is not answered */
    registry_origin(c, registry, reg_origin, sizeof reg_origin);
    bool own = url_origin(r->url, origin, sizeof origin, scheme, host) &&
               strcmp(origin, reg_origin) == 0;
    bool tried_challenge = false;
    uint64_t resume_from = r->range_from;
    for (int attempt = 0;; attempt++) {
        if ((r->sink == SINK_FILE || r->sink == SINK_CALLBACK) && r->written) {
            /* resume a download where the last attempt stopped */
            r->range_from = resume_from + r->written;
        }
        int rc = perform(c, registry, r, have_auth ? authz : NULL, reg_origin, err);
        if (rc == 0 && r->status == 401 && own && !tried_challenge && r->challenge[0]) {
            tried_challenge = true;
            char user[256], pass[512];
            if (strncasecmp(r->challenge, "Basic", 5) == 0) {
                if (!creds_get(c, registry, user, sizeof user, pass, sizeof pass))
                    return berr_set(err, BERR_CONFLICT, "%s: unauthorized: authentication required (berth login %s)",
                                    registry, registry);
                basic_header(user, pass, authz, sizeof authz);
                char key[600];
                snprintf(key, sizeof key, "%s basic", registry);
                pthread_mutex_lock(&c->lock);
                json_object_set_new(c->tokens, key, json_true());
                pthread_mutex_unlock(&c->lock);
            } else if (strncasecmp(r->challenge, "Bearer", 6) == 0) {
                char token[6000];
                if ((rc = fetch_token(c, registry, r->challenge, scope, token, sizeof token,
                                      err)) < 0)
                    return rc;
                snprintf(authz, sizeof authz, "Bearer %s", token);
            } else {
                return berr_set(err, BERR_UNSUPPORTED, "%s: unsupported authentication: %.40s",
                                registry, r->challenge);
            }
            have_auth = true;
            attempt--;   /* a challenge is not a failure */
            continue;
        }
        bool replayable = r->body_fd >= 0 || r->body || strcmp(r->method, "GET") == 0 ||
                          strcmp(r->method, "HEAD") == 0 || strcmp(r->method, "DELETE") == 0;
        bool again = (rc < 0 || retryable(r->status)) && replayable && !r->fatal &&
                     attempt < c->o.retries;
        if (!again)
            return rc;
        if (c->o.out && !c->o.quiet)
            fprintf(c->o.out, "retrying %s %s (%s)\n", r->method, r->url,
                    rc < 0 ? err->msg : "server busy");
        usleep((useconds_t)(250000u << attempt));
    }
}

int http_error(struct http_req *r, const char *what, struct berr *err)
{
    json_t *doc = r->buf ? json_loadb(r->buf, r->len, 0, NULL) : NULL;
    json_t *e0 = json_array_get(json_object_get(doc, "errors"), 0);
    const char *code = json_string_value(json_object_get(e0, "code"));
    const char *msg = json_string_value(json_object_get(e0, "message"));
    int kind = r->status == 404 ? BERR_NOTFOUND
             : r->status == 401 || r->status == 403 ? BERR_CONFLICT : BERR_IO;
    int rc;
    if (code)
        rc = berr_set(err, kind, "%s: %s: %s", what, code, msg ? msg : "");
    else if (r->status == 401)
        rc = berr_set(err, kind, "%s: unauthorized: authentication required", what);
    else if (r->status == 403)
        rc = berr_set(err, kind, "%s: denied: requested access to the resource is denied", what);
    else if (r->status == 404)
        rc = berr_set(err, kind, "%s: not found", what);
    else
        rc = berr_set(err, kind, "%s: HTTP %ld", what, r->status);
    json_decref(doc);
    return rc;
}
