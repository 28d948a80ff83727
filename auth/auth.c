/*
 * auth.c - the auth configuration and the per-request decision.
 *
 * Three modes, chosen by the "auth" object: none (no object), basic (an
 * htpasswd file), token (a "token" object: berthd checks bearer tokens
 * signed by a trusted key, and may issue them itself, see token.c). In
 * every mode the access rules (rules.c) decide what an account may do.
 *
 * Verified bearer tokens are cached until they expire, so a client sending
 * the same token on every request pays for the signature check once.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const auth_keys[] = {"realm", "htpasswd", "token", "groups",
                                        "access", "ratelimit", NULL};
static const char *const token_keys[] = {"realm", "service", "issuer", "path", "key",
                                         "trusted", "expiration", "leeway", NULL};

static int get_str(json_t *obj, const char *key, const char *dflt, char **out,
                   const char *where, struct berr *err)
{
    json_t *v = json_object_get(obj, key);
    if (v && (!json_is_string(v) || !json_string_length(v)))
        return berr_set(err, BERR_INVALID, "%s.%s: must be a non-empty string", where, key);
    const char *s = v ? json_string_value(v) : dflt;
    *out = s ? strdup(s) : NULL;
    return 0;
}

/* Realms and the service name are quoted inside WWW-Authenticate: no
 * quotes, backslashes or control characters, and bounded so that every
 * challenge fits in auth_result.challenge (checked below). */
enum { REALM_MAX = 1024, SERVICE_MAX = 256 };
_Static_assert(sizeof ((struct auth_result *)0)->challenge >
                   sizeof "Bearer realm=\"\",service=\"\",scope=\"repository::pull,push,delete\""
                   ",error=\"insufficient_scope\"" + REALM_MAX + SERVICE_MAX + NAME_MAX_LEN,
               "a challenge with the longest realm, service and name must fit");

static int check_quotable(const char *s, size_t max, const char *where, const char *key,
                          struct berr *err)
{
    if (!s)
        return 0;
    if (strlen(s) > max)
        return berr_set(err, BERR_INVALID, "%s.%s: longer than %zu characters", where, key, max);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            return berr_set(err, BERR_INVALID,
                            "%s.%s: no quotes, backslashes or control characters", where, key);
    return 0;
}

static int get_int(json_t *obj, const char *key, int dflt, int min, int *out,
                   const char *where, struct berr *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min ||
        json_integer_value(v) > 100000000)
        return berr_set(err, BERR_INVALID, "%s.%s: must be an integer >= %d", where, key, min);
    *out = (int)json_integer_value(v);
    return 0;
}

/* Load the signing key, creating a P-256 key when the file does not exist
 * yet so a fresh install needs no openssl command (unless `create` is
 * false: check-config changes nothing). A file that exists but cannot be
 * read is an error of its own: creating it is not the fix. */
static int signing_key_load(const char *file, bool create, EVP_PKEY **out, struct berr *err)
{
    FILE *f = fopen(file, "r");
    if (!f && errno != ENOENT)
        return berr_set(err, BERR_IO, "auth.token.key: cannot read %s: %s", file, strerror(errno));
    if (!f && !create) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", file);
        if (access(dirname(dir), W_OK) != 0)
            return berr_set(err, BERR_IO,
                            "auth.token.key: %s does not exist and cannot be created here (%s); "
                            "make it with openssl genpkey (see operations.md)", file, strerror(errno));
        log_info("auth: %s does not exist yet; berthd serve creates it", file);
        *out = EVP_EC_gen("P-256");
        return *out ? 0 : berr_set(err, BERR_IO, "auth.token.key: cannot make a key");
    }
    if (!f) {
        EVP_PKEY *key = EVP_EC_gen("P-256");
        mode_t old = umask(077);
        f = key ? fopen(file, "w") : NULL;
        int e = errno;
        umask(old);
        if (!f || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)) {
            if (f)
                fclose(f);
            EVP_PKEY_free(key);
            return berr_set(err, BERR_IO, "auth.token.key: cannot create %s: %s", file,
                            f ? "write error" : strerror(e));
        }
        fclose(f);
        *out = key;
        log_info("auth: created token signing key %s", file);
        return 0;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!key || EVP_PKEY_base_id(key) != EVP_PKEY_EC || EVP_PKEY_bits(key) != 256) {
        EVP_PKEY_free(key);
        return berr_set(err, BERR_INVALID, "auth.token.key: %s is not a P-256 EC private key", file);
    }
    *out = key;
    return 0;
}

static int auth_open_mode(json_t *cfg, bool check_only, struct auth **out, struct berr *err);

static int token_open(struct auth *a, json_t *t, struct berr *err)
{
    int rc;
    if (!json_is_object(t))
        return berr_set(err, BERR_INVALID, "auth.token: must be an object");
    if ((rc = json_check_keys(t, "auth.token", token_keys, err)) < 0 ||
        (rc = get_str(t, "realm", NULL, &a->token_realm, "auth.token", err)) < 0 ||
        (rc = get_str(t, "service", "berth", &a->service, "auth.token", err)) < 0 ||
        (rc = get_str(t, "issuer", "berth", &a->issuer, "auth.token", err)) < 0 ||
        (rc = get_str(t, "path", NULL, &a->token_path, "auth.token", err)) < 0 ||
        (rc = get_int(t, "expiration", 300, 10, &a->expiration, "auth.token", err)) < 0 ||
        (rc = get_int(t, "leeway", 30, 0, &a->leeway, "auth.token", err)) < 0)
        return rc;
    if (!a->token_realm)
        return berr_set(err, BERR_INVALID, "auth.token.realm: the URL clients get tokens from is required");
    if ((rc = check_quotable(a->token_realm, REALM_MAX, "auth.token", "realm", err)) < 0 ||
        (rc = check_quotable(a->service, SERVICE_MAX, "auth.token", "service", err)) < 0)
        return rc;
    json_t *key = json_object_get(t, "key");
    if (key) {
        if (!json_is_string(key))
            return berr_set(err, BERR_INVALID, "auth.token.key: must be a file name");
        if ((rc = signing_key_load(json_string_value(key), !a->check_only, &a->signing_key, err)) < 0)
            return rc;
        EVP_PKEY_up_ref(a->signing_key);
        jwt_key_id(a->signing_key, a->signing_kid);
        /* our own tokens verify with our own key */
        EVP_PKEY **keys = realloc(a->keys.keys, (a->keys.nkeys + 1) * sizeof *keys);
        char **kids = realloc(a->keys.kids, (a->keys.nkeys + 1) * sizeof *kids);
        if (keys)
            a->keys.keys = keys;
        if (kids)
            a->keys.kids = kids;
        if (!keys || !kids)
            return berr_set(err, BERR_IO, "out of memory");
        a->keys.keys[a->keys.nkeys] = a->signing_key;
        a->keys.kids[a->keys.nkeys] = strdup(a->signing_kid);
        a->keys.nkeys++;
    }
    json_t *trusted = json_object_get(t, "trusted");
    if (trusted && !json_is_array(trusted))
        return berr_set(err, BERR_INVALID, "auth.token.trusted: must be an array of PEM files");
    size_t i;
    json_t *v;
    json_array_foreach(trusted, i, v) {
        if (!json_is_string(v))
            return berr_set(err, BERR_INVALID, "auth.token.trusted[%zu]: must be a file name", i);
        if ((rc = jwt_keys_load(&a->keys, json_string_value(v), err)) < 0)
            return rc;
    }
    if (a->keys.nkeys == 0)
        return berr_set(err, BERR_INVALID, "auth.token: needs a signing key or trusted keys");
    if (a->token_path && (!a->signing_key || !a->users))
        return berr_set(err, BERR_INVALID,
                        "auth.token.path: the built-in token service needs auth.token.key and auth.htpasswd");
    if (a->token_path && a->token_path[0] != '/')
        return berr_set(err, BERR_INVALID, "auth.token.path: must start with /");
    a->mode = MODE_TOKEN;
    return 0;
}

void auth_close(struct auth *a)
{
    if (!a)
        return;
    htpasswd_free(a->users);
    rules_free(a->rules);
    ratelimit_free(a->limits);
    jwt_keys_free(&a->keys);
    EVP_PKEY_free(a->signing_key);
    for (size_t i = 0; i < TOKEN_CACHE; i++) {
        json_decref(a->cache[i].access);
        free(a->cache[i].token);
    }
    pthread_rwlock_destroy(&a->cache_lock);
    free(a->realm);
    free(a->token_realm);
    free(a->service);
    free(a->issuer);
    free(a->token_path);
    free(a);
}

int auth_open(json_t *cfg, struct auth **out, struct berr *err)
{
    return auth_open_mode(cfg, false, out, err);
}

int auth_check_config(json_t *cfg, struct berr *err)
{
    struct auth *a = NULL;
    int rc = auth_open_mode(cfg, true, &a, err);
    auth_close(a);
    return rc;
}

static int auth_open_mode(json_t *cfg, bool check_only, struct auth **out, struct berr *err)
{
    *out = NULL;
    if (!cfg)
        return 0;
    if (!json_is_object(cfg))
        return berr_set(err, BERR_INVALID, "auth: must be an object");
    struct auth *a = calloc(1, sizeof *a);
    if (!a)
        return berr_set(err, BERR_IO, "out of memory");
    pthread_rwlock_init(&a->cache_lock, NULL);
    a->mode = MODE_BASIC;
    a->check_only = check_only;
    int rc, attempts = 10, window = 60;
    char *htpasswd = NULL;
    json_t *rl = json_object_get(cfg, "ratelimit");
    if ((rc = json_check_keys(cfg, "auth", auth_keys, err)) < 0 ||
        (rc = get_str(cfg, "realm", "berth", &a->realm, "auth", err)) < 0 ||
        (rc = get_str(cfg, "htpasswd", NULL, &htpasswd, "auth", err)) < 0 ||
        (rc = check_quotable(a->realm, REALM_MAX, "auth", "realm", err)) < 0)
        goto fail;
    if (rl && (rc = (json_is_object(rl) ? 0 : berr_set(err, BERR_INVALID, "auth.ratelimit: must be an object"))) < 0)
        goto fail;
    if ((rc = get_int(rl, "attempts", 10, 1, &attempts, "auth.ratelimit", err)) < 0 ||
        (rc = get_int(rl, "window", 60, 1, &window, "auth.ratelimit", err)) < 0)
        goto fail;
    if (htpasswd && (rc = htpasswd_load(htpasswd, &a->users, err)) < 0)
        goto fail;
    if ((rc = rules_load(json_object_get(cfg, "access"), json_object_get(cfg, "groups"),
                         &a->rules, err)) < 0)
        goto fail;
    json_t *token = json_object_get(cfg, "token");
    if (token && (rc = token_open(a, token, err)) < 0)
        goto fail;
    if (a->mode == MODE_BASIC && !a->users) {
        rc = berr_set(err, BERR_INVALID, "auth: needs htpasswd (basic) or token");
        goto fail;
    }
    if (!(a->limits = ratelimit_new(attempts, window))) {
        rc = berr_set(err, BERR_IO, "auth.ratelimit: no memory or no randomness for the table");
        goto fail;
    }
    free(htpasswd);
    *out = a;
    return 0;
fail:
    free(htpasswd);
    auth_close(a);
    return rc;
}

bool auth_enabled(const struct auth *a)
{
    return a != NULL;
}

const char *auth_token_path(const struct auth *a)
{
    return a ? a->token_path : NULL;
}

void auth_result_clear(struct auth_result *r)
{
    json_decref(r->granted);
    memset(r, 0, sizeof *r);
}

/* ---- credentials ----------------------------------------------------------- */

/* User names never carry control characters (they reach logs). */
bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int basic_decode(const char *authorization, char *user, size_t ulen, char *pass,
                 size_t plen)
{
    if (!authorization || strncasecmp(authorization, "Basic ", 6) != 0)
        return -BERR_INVALID;
    const char *b64 = authorization + 6;
    while (*b64 == ' ')
        b64++;
    size_t len = strlen(b64);
    if (len == 0 || len > 4096 || len % 4)
        return -BERR_INVALID;
    unsigned char *buf = malloc(len);
    int n = buf ? EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)len) : -1;
    if (n < 0) {
        free(buf);
        return -BERR_INVALID;
    }
    while (n > 0 && b64[len - 1] == '=' && len--)
        n--;
    buf[n] = '\0';
    char *colon = memchr(buf, ':', (size_t)n);
    int rc = -BERR_INVALID;
    if (colon && (size_t)(colon - (char *)buf) < ulen && strlen(colon + 1) < plen &&
        memchr(buf, '\0', (size_t)n) == NULL) {
        *colon = '\0';
        snprintf(user, ulen, "%s", (char *)buf);
        snprintf(pass, plen, "%s", colon + 1);
        rc = user[0] && printable(user) ? 0 : -BERR_INVALID;
    }
    OPENSSL_cleanse(buf, (size_t)n);
    free(buf);
    return rc;
}

/* The failed-login counter of a client address. An IPv6 client counts
 * by its /64: one host is commonly given a whole /64 and can pick a fresh
 * address in it for every guess (and, with enough of them, fill the table
 * with blocked counters). */
static void address_key(const char *client, char *out, size_t len)
{
    unsigned char a[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN];
    snprintf(out, len, "%s", client);
    if (inet_pton(AF_INET6, client, a) != 1)
        return;
    if (memcmp(a, mapped, sizeof mapped) == 0) {   /* an IPv4 peer on an IPv6 listener */
        if (inet_ntop(AF_INET, a + 12, text, sizeof text))
            snprintf(out, len, "%s", text);
        return;
    }
    memset(a + 8, 0, 8);
    if (inet_ntop(AF_INET6, a, text, sizeof text))
        snprintf(out, len, "%s/64", text);
}

int login_check(struct auth *a, const char *client, const char *user,
                const char *password, int *retry_after)
{
    if (!printable(user))
        return -BERR_INVALID;
    char key[200], addr[INET6_ADDRSTRLEN + 4];
    snprintf(key, sizeof key, "user:%s", user);
    address_key(client, addr, sizeof addr);
    int wait = ratelimit_blocked(a->limits, addr);
    int wait_user = ratelimit_blocked(a->limits, key);
    *retry_after = wait > wait_user ? wait : wait_user;
    if (*retry_after > 0)
        return -BERR_CONFLICT;
    if (a->users && htpasswd_verify(a->users, user, password))
        return 0;
    ratelimit_fail(a->limits, addr);
    ratelimit_fail(a->limits, key);
    /* The name is the client's to choose: its spaces are written \x20, so
     * a name like "bob from 192.0.2.1" cannot put an address of its choice
     * where a log reader (fail2ban) looks for the client's. The log escapes
     * the rest (and that backslash) itself. */
    char shown[4 * sizeof key] = "";
    size_t n = 0;
    for (const char *p = user; *p; p++)
        buf_appendf(shown, sizeof shown, &n, *p == ' ' ? "\\x20" : "%c", *p);
    log_warn("auth: failed login for %s from %s", shown, client);
    return -BERR_INVALID;
}

/* Check iss, aud, exp, nbf of verified claims. */
static bool claims_valid(struct auth *a, json_t *claims, time_t now)
{
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    json_t *aud = json_object_get(claims, "aud");
    json_t *exp = json_object_get(claims, "exp");
    json_t *nbf = json_object_get(claims, "nbf");
    if (!iss || strcmp(iss, a->issuer) != 0)
        return false;
    bool aud_ok = false;
    if (json_is_string(aud))
        aud_ok = strcmp(json_string_value(aud), a->service) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
        aud_ok |= json_is_string(v) && strcmp(json_string_value(v), a->service) == 0;
    if (!aud_ok || !json_is_integer(exp))
        return false;
    if (json_integer_value(exp) + a->leeway < now)
        return false;
    if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) - a->leeway > now))
        return false;
    return !json_object_get(claims, "refresh");   /* refresh tokens grant nothing here */
}

/* Verify a bearer token (cached); fills account and granted access. */
static bool bearer_verify(struct auth *a, const char *token, struct auth_result *out)
{
    /* The slot comes from a cheap hash; the whole token is compared (in
     * constant time) before the cached verdict is used. */
    size_t len = strlen(token);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)token[i]) * 16777619u;
    size_t slot = h % TOKEN_CACHE;
    time_t now = time(NULL);
    bool hit = false;
    pthread_rwlock_rdlock(&a->cache_lock);
    struct token_entry *e = &a->cache[slot];
    if (e->access && e->len == len && CRYPTO_memcmp(e->token, token, len) == 0 &&
        e->exp + a->leeway >= now) {
        hit = true;
        snprintf(out->account, sizeof out->account, "%s", e->account);
        out->granted = json_incref(e->access);   /* jansson refcounts are atomic */
        out->token_rules = e->rules;
    }
    pthread_rwlock_unlock(&a->cache_lock);
    if (hit)
        return true;

    json_t *claims = NULL;
    struct berr err = {0};
    if (jwt_verify(&a->keys, token, &claims, &err) < 0)
        return false;
    if (!claims_valid(a, claims, now)) {
        json_decref(claims);
        return false;
    }
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    json_t *access = json_object_get(claims, "access");
    /* Our token service's tokens carry "pwh", the fingerprint of the
     * account's password hash at issue: the account must still have it
     * (not removed, password unchanged), and the grants are checked
     * against the rules in force at each request (token_rules), so a
     * reload reaches tokens already out. Other issuers' tokens keep what
     * their issuer granted. */
    json_t *pwh = json_object_get(claims, "pwh");
    char fp[33];
    if (json_is_string(pwh) && sub && sub[0] &&
        (!a->users || !htpasswd_fingerprint(a->users, sub, fp) ||
         strcmp(fp, json_string_value(pwh)) != 0)) {
        json_decref(claims);
        return false;
    }
    out->token_rules = json_is_string(pwh);
    snprintf(out->account, sizeof out->account, "%s", sub ? sub : "");
    out->granted = json_is_array(access) ? json_incref(access) : json_array();
    char *copy = strdup(token);
    if (!copy)
        return true;   /* verified, just not cached */
    pthread_rwlock_wrlock(&a->cache_lock);
    json_decref(e->access);
    free(e->token);
    e->token = copy;
    e->len = len;
    e->exp = json_integer_value(json_object_get(claims, "exp"));
    snprintf(e->account, sizeof e->account, "%s", out->account);
    e->access = json_incref(out->granted);
    e->rules = out->token_rules;
    pthread_rwlock_unlock(&a->cache_lock);
    json_decref(claims);
    return true;
}

/* What a token's access claim grants on (type, name). */
unsigned granted_actions(json_t *granted, const char *type, const char *name)
{
    unsigned acts = 0;
    size_t i, j;
    json_t *g, *act;
    json_array_foreach(granted, i, g) {
        const char *t = json_string_value(json_object_get(g, "type"));
        const char *n = json_string_value(json_object_get(g, "name"));
        if (!t || !n || strcmp(t, type) != 0 || strcmp(n, name) != 0)
            continue;
        json_array_foreach(json_object_get(g, "actions"), j, act)
            acts |= action_parse(json_string_value(act));
    }
    return acts;
}

static void actions_string(unsigned actions, char *out, size_t len)
{
    static const char *names[] = {"pull", "push", "delete"};
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < 3; i++)
        if (actions & (1u << i))
            buf_appendf(out, len, &o, "%s%s", o ? "," : "", names[i]);
}

static void challenge(struct auth *a, const char *name, unsigned actions,
                      bool insufficient, struct auth_result *out)
{
    out->verdict = AUTH_CHALLENGE;
    char *c = out->challenge;
    size_t size = sizeof out->challenge, n = 0;
    if (a->mode == MODE_BASIC) {
        buf_appendf(c, size, &n, "Basic realm=\"%s\"", a->realm);
        return;   /* the realm's length is bounded when the configuration loads */
    }
    buf_appendf(c, size, &n, "Bearer realm=\"%s\",service=\"%s\"", a->token_realm,
                a->service);
    size_t base = n;
    char acts[64];
    if (name && (actions & ~ACT_CATALOG)) {
        actions_string(actions, acts, sizeof acts);
        buf_appendf(c, size, &n, ",scope=\"repository:%s:%s\"", name, acts);
    } else if (actions & ACT_CATALOG) {
        buf_appendf(c, size, &n, ",scope=\"registry:catalog:*\"");
    }
    if (insufficient)
        buf_appendf(c, size, &n, ",error=\"insufficient_scope\"");
    if (n >= size) {
        /* Cannot happen with a valid repository name and the configured
         * limits; a cut-off header would be worse than one without a
         * scope, which clients still follow. */
        c[base] = '\0';
    }
}

void auth_check(struct auth *a, const char *authorization, const char *client,
                const char *name, unsigned actions, struct auth_result *out)
{
    memset(out, 0, sizeof *out);
    if (!a) {
        out->verdict = AUTH_ALLOW;
        return;
    }
    bool authenticated = false, presented = authorization != NULL;
    if (a->mode == MODE_BASIC && presented) {
        char user[128], pass[512];
        if (basic_decode(authorization, user, sizeof user, pass, sizeof pass) == 0) {
            int rc = login_check(a, client, user, pass, &out->retry_after);
            OPENSSL_cleanse(pass, sizeof pass);
            if (rc == -BERR_CONFLICT) {
                out->verdict = AUTH_LIMITED;
                return;
            }
            if (rc == 0) {
                snprintf(out->account, sizeof out->account, "%s", user);
                authenticated = true;
            }
        }
    } else if (a->mode == MODE_TOKEN && presented &&
               strncasecmp(authorization, "Bearer ", 7) == 0) {
        out->via_token = bearer_verify(a, authorization + 7, out);
        authenticated = out->via_token;
    }
    if (presented && !authenticated) {       /* bad credentials */
        challenge(a, name, actions, false, out);
        return;
    }

    if (!name && !(actions & ACT_CATALOG)) { /* the base endpoint */
        if (authenticated)
            out->verdict = AUTH_ALLOW;
        else
            challenge(a, NULL, 0, false, out);
        return;
    }
    const char *target = name ? name : "*";
    if (out->via_token) {
        unsigned granted = name ? granted_actions(out->granted, "repository", name)
                                : (granted_actions(out->granted, "registry", "catalog")
                                       ? ACT_CATALOG : 0);
        if (out->token_rules)   /* the rules in force, not those at issue time */
            granted &= rules_allowed(a->rules, out->account, target);
        if ((granted & actions) == actions) {
            out->verdict = AUTH_ALLOW;
            return;
        }
        unsigned by_rules = rules_allowed(a->rules, out->account, target);
        /* The rules would allow it: the client needs a token with more scope. */
        if ((by_rules & actions) == actions || !out->account[0])
            challenge(a, name, actions, true, out);
        else
            out->verdict = AUTH_DENY;
        return;
    }
    unsigned by_rules = rules_allowed(a->rules, out->account, target);
    if ((by_rules & actions) == actions)
        out->verdict = AUTH_ALLOW;
    else if (!authenticated)
        challenge(a, name, actions, false, out);
    else
        out->verdict = AUTH_DENY;
}

bool auth_may(struct auth *a, const struct auth_result *who, const char *name,
              unsigned actions)
{
    if (!a)
        return true;
    if (who->via_token)
        return (granted_actions(who->granted, "repository", name) &
                (who->token_rules ? rules_allowed(a->rules, who->account, name) : ~0u) &
                actions) == actions;
    return (rules_allowed(a->rules, who->account, name) & actions) == actions;
}

bool auth_visible(struct auth *a, const struct auth_result *who, const char *name)
{
    return !a || (rules_allowed(a->rules, who->account, name) & ACT_PULL);
}
