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
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
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
    if (!o || o->retries <= 0)
        c->o.retries = 4;
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
    /* An error's body is a message, never a blob: keep it in memory. */
    bool streamed = r->sink == SINK_FILE || r->sink == SINK_CALLBACK;
    bool to_memory = r->sink == SINK_MEMORY || (streamed && r->status >= 300);
    if (to_memory && streamed && r->len + len > 65536)
        return len;
    if (to_memory) {
        if (r->len + len > r->max)
            return 0;   /* too big: abort the transfer */
        char *buf = realloc(r->buf, r->len + len + 1);
        if (!buf)
            return 0;
        memcpy(buf + r->len, data, len);
        r->buf = buf;
        r->len += len;
        r->buf[r->len] = '\0';
    } else if (r->sink == SINK_CALLBACK) {
        if (!r->size_told && r->on_size)
            r->on_size(r->each_arg, r->range_from + r->content_length);
        r->size_told = true;
        if (r->each(r->each_arg, data, len) < 0)
            return 0;
        if (r->hash)
            hasher_update(r->hash, data, len);
        r->written += len;
    } else if (r->sink == SINK_FILE) {
        if (write_all(r->fd, data, len) < 0)
            return 0;
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
    /* a stalled transfer is an error, a slow one is not */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "berth/1.0");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->o.ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->o.ca_file);
    return h;
}

/* Perform once with the given Authorization (may be NULL). Returns 0, or
 * -BERR_IO for a network failure (message in err). */
static int perform(struct berth_client *c, struct http_req *r, const char *authz,
                   struct berr *err)
{
    CURL *h = easy_for_thread(c);
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
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    bool is_get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    /* blob GETs may be redirected to storage; credentials never follow */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, is_get ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
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
    /* the response of an earlier attempt is forgotten */
    http_req_clear(r);
    r->status = 0;
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        const char *why = curl_easy_strerror(rc);
        if (rc == CURLE_WRITE_ERROR && r->sink == SINK_FILE)
            why = "cannot write to the local store (disk full?)";
        return berr_set(err, BERR_IO, "%s %s: %s", r->method, r->url, why);
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    r->status = code;
    return 0;
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
    int rc = perform(c, &r, have ? authz : NULL, err);
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
    char authz[8192];
    bool have_auth = cached_auth(c, registry, scope, authz, sizeof authz);
    bool tried_challenge = false;
    uint64_t resume_from = r->range_from;
    for (int attempt = 0;; attempt++) {
        if ((r->sink == SINK_FILE || r->sink == SINK_CALLBACK) && r->written) {
            /* resume a download where the last attempt stopped */
            r->range_from = resume_from + r->written;
        }
        int rc = perform(c, r, have_auth ? authz : NULL, err);
        if (rc == 0 && r->status == 401 && !tried_challenge && r->challenge[0]) {
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
        bool again = (rc < 0 || retryable(r->status)) && replayable && attempt < c->o.retries;
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
