/*
 * config.c - berthd's configuration: embedded defaults (what `make run`
 * uses), then an optional JSON file, then BERTH_* environment variables;
 * command-line flags win last (main.c). Unknown keys are refused, so a typo
 * never silently falls back to a default.
 */
#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen, sizeof cfg->listen, "0.0.0.0:5000");
    snprintf(cfg->root, sizeof cfg->root, "./data");
    cfg->log_level = LOG_INFO;
    cfg->manifest_max = 4 << 20;
    cfg->page_max = 1000;
    cfg->delete_enabled = true;
    cfg->header_timeout = 20;
    cfg->idle_timeout = 300;
    cfg->connections = 4096;
    cfg->connections_per_address = 64;
    gc_policy_load(NULL, &cfg->gc, NULL);
}

static int set_string(char *dst, size_t len, const char *v, const char *what,
                      struct berr *err)
{
    if (!v || !*v || strlen(v) >= len)
        return berr_set(err, BERR_INVALID, "%s: must be a non-empty string", what);
    snprintf(dst, len, "%s", v);
    return 0;
}

static int set_log_level(struct config *cfg, const char *v, struct berr *err)
{
    bool ok;
    cfg->log_level = log_level_parse(v, &ok);
    return ok ? 0 : berr_set(err, BERR_INVALID,
                             "log.level: '%s' is not debug, info, warn or error",
                             v ? v : "");
}

static int set_log_format(struct config *cfg, const char *v, struct berr *err)
{
    if (v && strcmp(v, "json") == 0)
        cfg->log_json = true;
    else if (v && strcmp(v, "text") == 0)
        cfg->log_json = false;
    else
        return berr_set(err, BERR_INVALID, "log.format: '%s' is not text or json",
                        v ? v : "");
    return 0;
}

static int parse_u64_str(const char *v, uint64_t min, uint64_t *out)
{
    char *end;
    if (!v || !*v)
        return -1;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || n < min || v[0] == '-')
        return -1;
    *out = n;
    return 0;
}

/* "ADDR" or "ADDR/BITS", IPv4 or IPv6; a bare address is one host. */
static int cidr_parse(const char *s, struct cidr *out)
{
    char host[INET6_ADDRSTRLEN + 8];
    if (!s || strlen(s) >= sizeof host)
        return -1;
    snprintf(host, sizeof host, "%s", s);
    char *slash = strchr(host, '/');
    if (slash)
        *slash = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = 128;
    } else {
        return -1;
    }
    if (slash) {
        char *end;
        unsigned long bits = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || slash[1] == '-' || bits > out->bits)
            return -1;
        out->bits = (unsigned)bits;
    }
    return 0;
}

static int set_trusted_proxies(struct config *cfg, json_t *list, struct berr *err)
{
    size_t i;
    json_t *v;
    size_t max = sizeof cfg->trusted_proxies / sizeof *cfg->trusted_proxies;
    if (!json_is_array(list))
        return berr_set(err, BERR_INVALID,
                        "trusted_proxies: must be a list of addresses or CIDR ranges");
    if (json_array_size(list) > max)
        return berr_set(err, BERR_INVALID, "trusted_proxies: at most %zu ranges", max);
    json_array_foreach(list, i, v) {
        if (cidr_parse(json_string_value(v), &cfg->trusted_proxies[i]) < 0)
            return berr_set(err, BERR_INVALID,
                            "trusted_proxies[%zu]: '%s' is not an IPv4 or IPv6 address or "
                            "CIDR range (e.g. 10.0.0.0/8, 127.0.0.1, fd00::/8)",
                            i, json_is_string(v) ? json_string_value(v) : "(not a string)");
    }
    cfg->n_trusted_proxies = (int)json_array_size(list);
    return 0;
}

int config_parse_listen(const char *listen, struct sockaddr_storage *ss)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || strlen(listen) >= sizeof host)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || colon[1] == '-' || colon[1] == '+' || port < 1 || port > 65535)
        return -1;
    size_t hlen = (size_t)(colon - listen);
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && host[hlen - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        host[hlen - 1] = '\0';
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

int config_validate(const struct config *cfg, struct berr *err)
{
    struct sockaddr_storage ss;
    if (config_parse_listen(cfg->listen, &ss) < 0)
        return berr_set(err, BERR_INVALID,
                        "listen: '%s' is not ADDR:PORT (an IPv4 address or [IPv6], a port 1-65535)",
                        cfg->listen);
    if (cfg->metrics_listen[0] && config_parse_listen(cfg->metrics_listen, &ss) < 0)
        return berr_set(err, BERR_INVALID,
                        "metrics.listen: '%s' is not ADDR:PORT (an IPv4 address or [IPv6], a port 1-65535)",
                        cfg->metrics_listen);
    if (cfg->metrics_listen[0] && strcmp(cfg->metrics_listen, cfg->listen) == 0)
        return berr_set(err, BERR_INVALID, "metrics.listen: must differ from listen (%s)",
                        cfg->listen);
    return 0;
}

bool config_trusted_proxy(const struct config *cfg, const char *addr)
{
    unsigned char a[16];
    int family = AF_INET;
    if (inet_pton(AF_INET, addr, a) != 1) {
        family = AF_INET6;
        if (inet_pton(AF_INET6, addr, a) != 1)
            return false;
        /* an IPv4 peer on an IPv6 listener arrives as ::ffff:a.b.c.d */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0) {
            memmove(a, a + 12, 4);
            family = AF_INET;
        }
    }
    for (int i = 0; i < cfg->n_trusted_proxies; i++) {
        const struct cidr *c = &cfg->trusted_proxies[i];
        if (c->family != family)
            continue;
        unsigned full = c->bits / 8, rest = c->bits % 8;
        if (memcmp(a, c->addr, full) != 0)
            continue;
        unsigned char mask = (unsigned char)(0xff00 >> rest);
        if (rest && ((a[full] ^ c->addr[full]) & mask))
            continue;
        return true;
    }
    return false;
}

/* The metrics listener's own credentials: secrets of printable ASCII
 * without spaces (what a header carries), long enough not to be guessed. */
static int metrics_secret(json_t *v, const char *what, size_t min, char *dst, size_t len,
                          struct berr *err)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (!s || n < min || n >= len)
        return berr_set(err, BERR_INVALID, "%s: must be a string of %zu to %zu characters", what,
                        min, len - 1);
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || (min == 1 && s[i] == ':'))
            return berr_set(err, BERR_INVALID, "%s: printable ASCII only, no spaces%s", what,
                            min == 1 ? " or ':'" : "");
    snprintf(dst, len, "%s", s);
    return 0;
}

static int set_metrics_auth(struct config *cfg, json_t *metrics, struct berr *err)
{
    json_t *token = json_object_get(metrics, "token");
    json_t *user = json_object_get(metrics, "username");
    json_t *password = json_object_get(metrics, "password");
    int rc;
    if ((token || user || password) && !cfg->metrics_listen[0])
        return berr_set(err, BERR_INVALID,
                        "metrics: token, username and password are for metrics.listen, which is not set");
    if (token && (rc = metrics_secret(token, "metrics.token", 16, cfg->metrics_token,
                                      sizeof cfg->metrics_token, err)) < 0)
        return rc;
    if (!user != !password)
        return berr_set(err, BERR_INVALID, "metrics: username and password go together");
    if (user && ((rc = metrics_secret(user, "metrics.username", 1, cfg->metrics_user,
                                      sizeof cfg->metrics_user, err)) < 0 ||
                 (rc = metrics_secret(password, "metrics.password", 16, cfg->metrics_password,
                                      sizeof cfg->metrics_password, err)) < 0))
        return rc;
    return 0;
}

/* Check that an object holds only the named keys. */
static int json_uint(json_t *v, const char *what, uint64_t min, uint64_t *out,
                     struct berr *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min)
        return berr_set(err, BERR_INVALID, "%s: must be an integer >= %llu", what,
                        (unsigned long long)min);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int config_from_json(struct config *cfg, json_t *root, struct berr *err)
{
    static const char *const top[] = {"listen", "root", "log", "limits", "storage",
                                      "threads", "auth", "tls", "gc", "metrics", "proxy",
                                      "trusted_proxies", NULL};
    static const char *const tls_keys[] = {"cert", "key", NULL};
    static const char *const log_keys[] = {"level", "format", NULL};
    static const char *const limit_keys[] = {"manifest_max_bytes", "page_max",
                                             "header_timeout", "idle_timeout", "connections",
                                             "connections_per_address", NULL};
    static const char *const storage_keys[] = {"delete", NULL};
    int rc;
    uint64_t n = 0;
    json_t *v, *log, *limits, *storage;

    if (!json_is_object(root))
        return berr_set(err, BERR_INVALID, "the configuration must be a JSON object");
    if ((rc = json_check_keys(root, "config", top, err)) < 0)
        return rc;
    if ((v = json_object_get(root, "listen")) &&
        (rc = set_string(cfg->listen, sizeof cfg->listen, json_string_value(v),
                         "listen", err)) < 0)
        return rc;
    if ((v = json_object_get(root, "root")) &&
        (rc = set_string(cfg->root, sizeof cfg->root, json_string_value(v), "root",
                         err)) < 0)
        return rc;
    if ((v = json_object_get(root, "threads"))) {
        if ((rc = json_uint(v, "threads", 1, &n, err)) < 0)
            return rc;
        cfg->threads = n > 256 ? 256 : (int)n;
    }
    if ((log = json_object_get(root, "log"))) {
        if (!json_is_object(log))
            return berr_set(err, BERR_INVALID, "log: must be an object");
        if ((rc = json_check_keys(log, "log", log_keys, err)) < 0)
            return rc;
        if ((v = json_object_get(log, "level")) &&
            (rc = set_log_level(cfg, json_string_value(v), err)) < 0)
            return rc;
        if ((v = json_object_get(log, "format")) &&
            (rc = set_log_format(cfg, json_string_value(v), err)) < 0)
            return rc;
    }
    if ((limits = json_object_get(root, "limits"))) {
        if (!json_is_object(limits))
            return berr_set(err, BERR_INVALID, "limits: must be an object");
        if ((rc = json_check_keys(limits, "limits", limit_keys, err)) < 0)
            return rc;
        if ((v = json_object_get(limits, "manifest_max_bytes"))) {
            if ((rc = json_uint(v, "limits.manifest_max_bytes", 1, &n, err)) < 0)
                return rc;
            cfg->manifest_max = n;
        }
        if ((v = json_object_get(limits, "page_max"))) {
            if ((rc = json_uint(v, "limits.page_max", 1, &n, err)) < 0)
                return rc;
            cfg->page_max = n > 100000 ? 100000 : (int)n;
        }
        static const struct { const char *key; uint64_t min, max; size_t off; } conn[] = {
            {"header_timeout", 1, 3600, offsetof(struct config, header_timeout)},
            {"idle_timeout", 1, 86400, offsetof(struct config, idle_timeout)},
            {"connections", 16, 1000000, offsetof(struct config, connections)},
            {"connections_per_address", 0, 1000000, offsetof(struct config, connections_per_address)},
        };
        for (size_t i = 0; i < sizeof conn / sizeof *conn; i++) {
            if (!(v = json_object_get(limits, conn[i].key)))
                continue;
            char what[64];
            snprintf(what, sizeof what, "limits.%s", conn[i].key);
            if ((rc = json_uint(v, what, conn[i].min, &n, err)) < 0)
                return rc;
            if (n > conn[i].max)
                return berr_set(err, BERR_INVALID, "%s: must be at most %llu", what,
                                (unsigned long long)conn[i].max);
            *(unsigned *)((char *)cfg + conn[i].off) = (unsigned)n;
        }
    }
    if ((v = json_object_get(root, "trusted_proxies")) &&
        (rc = set_trusted_proxies(cfg, v, err)) < 0)
        return rc;
    json_t *metrics = json_object_get(root, "metrics");
    if (metrics) {
        static const char *const metrics_keys[] = {"listen", "token", "username", "password", NULL};
        if (!json_is_object(metrics))
            return berr_set(err, BERR_INVALID, "metrics: must be an object");
        if ((rc = json_check_keys(metrics, "metrics", metrics_keys, err)) < 0 ||
            ((v = json_object_get(metrics, "listen")) &&
             (rc = set_string(cfg->metrics_listen, sizeof cfg->metrics_listen,
                              json_string_value(v), "metrics.listen", err)) < 0))
            return rc;
        if ((rc = set_metrics_auth(cfg, metrics, err)) < 0)
            return rc;
    }
    json_t *tls = json_object_get(root, "tls");
    if (tls) {
        if (!json_is_object(tls))
            return berr_set(err, BERR_INVALID, "tls: must be an object");
        if ((rc = json_check_keys(tls, "tls", tls_keys, err)) < 0 ||
            (rc = set_string(cfg->tls_cert, sizeof cfg->tls_cert,
                             json_string_value(json_object_get(tls, "cert")), "tls.cert", err)) < 0 ||
            (rc = set_string(cfg->tls_key, sizeof cfg->tls_key,
                             json_string_value(json_object_get(tls, "key")), "tls.key", err)) < 0)
            return rc;
    }
    if ((v = json_object_get(root, "proxy"))) {
        if (!json_is_object(v))
            return berr_set(err, BERR_INVALID, "proxy: must be an object");
        cfg->proxy = json_incref(v);
    }
    if ((v = json_object_get(root, "auth"))) {
        if (!json_is_object(v))
            return berr_set(err, BERR_INVALID, "auth: must be an object");
        cfg->auth = json_incref(v);
    }
    gc_policy_free(&cfg->gc);
    if ((rc = gc_policy_load(json_object_get(root, "gc"), &cfg->gc, err)) < 0)
        return rc;
    /* the cache's size bound is kept by the collector */
    json_t *max = json_object_get(cfg->proxy, "max_bytes");
    if (max && (!json_is_integer(max) || json_integer_value(max) < 0))
        return berr_set(err, BERR_INVALID, "proxy.max_bytes: must be a number of bytes");
    cfg->gc.cache_max_bytes = (uint64_t)json_integer_value(max);
    if ((storage = json_object_get(root, "storage"))) {
        if (!json_is_object(storage))
            return berr_set(err, BERR_INVALID, "storage: must be an object");
        if ((rc = json_check_keys(storage, "storage", storage_keys, err)) < 0)
            return rc;
        if ((v = json_object_get(storage, "delete"))) {
            if (!json_is_boolean(v))
                return berr_set(err, BERR_INVALID, "storage.delete: must be true or false");
            cfg->delete_enabled = json_is_true(v);
        }
    }
    return 0;
}

static int config_from_env(struct config *cfg, struct berr *err)
{
    const char *v;
    uint64_t n = 0;
    int rc;
    if ((v = getenv("BERTH_LISTEN")) &&
        (rc = set_string(cfg->listen, sizeof cfg->listen, v, "BERTH_LISTEN", err)) < 0)
        return rc;
    if ((v = getenv("BERTH_ROOT")) &&
        (rc = set_string(cfg->root, sizeof cfg->root, v, "BERTH_ROOT", err)) < 0)
        return rc;
    if ((v = getenv("BERTH_LOG_LEVEL")) && (rc = set_log_level(cfg, v, err)) < 0)
        return rc;
    if ((v = getenv("BERTH_LOG_FORMAT")) && (rc = set_log_format(cfg, v, err)) < 0)
        return rc;
    if ((v = getenv("BERTH_MANIFEST_MAX_BYTES"))) {
        if (parse_u64_str(v, 1, &n) < 0)
            return berr_set(err, BERR_INVALID, "BERTH_MANIFEST_MAX_BYTES: '%s' is not a positive integer", v);
        cfg->manifest_max = n;
    }
    if ((v = getenv("BERTH_TLS_CERT")) &&
        (rc = set_string(cfg->tls_cert, sizeof cfg->tls_cert, v, "BERTH_TLS_CERT", err)) < 0)
        return rc;
    if ((v = getenv("BERTH_TLS_KEY")) &&
        (rc = set_string(cfg->tls_key, sizeof cfg->tls_key, v, "BERTH_TLS_KEY", err)) < 0)
        return rc;
    if ((v = getenv("BERTH_PAGE_MAX"))) {
        if (parse_u64_str(v, 1, &n) < 0)
            return berr_set(err, BERR_INVALID, "BERTH_PAGE_MAX: '%s' is not a positive integer", v);
        cfg->page_max = n > 100000 ? 100000 : (int)n;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    json_decref(cfg->auth);
    json_decref(cfg->proxy);
    cfg->auth = cfg->proxy = NULL;
    gc_policy_free(&cfg->gc);
}

int config_load(struct config *cfg, const char *file, struct berr *err)
{
    config_defaults(cfg);
    if (file) {
        json_error_t jerr;
        json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
        if (!root && jerr.line < 1)   /* not a syntax error: the file itself */
            return berr_set(err, BERR_INVALID, "%s: %s", file, jerr.text);
        if (!root)
            return berr_set(err, BERR_INVALID, "%s:%d: %s", file, jerr.line, jerr.text);
        int rc = config_from_json(cfg, root, err);
        json_decref(root);
        if (rc < 0) {
            config_free(cfg);
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return berr_set(err, BERR_INVALID, "%s: %s", file, msg);
        }
    }
    return config_from_env(cfg, err);
}
