/*
 * creds.c - registry credentials: ~/.config/berth/auth.json (mode 0600),
 * and, for reading only, the "auths" of ~/.docker/config.json. Both use
 * docker's layout: {"auths": {"REGISTRY": {"auth": base64("user:pass")}}},
 * where Docker Hub is "https://index.docker.io/v1/".
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void config_path(const char *rel, char *out, size_t len)
{
    const char *home = getenv("HOME");
    snprintf(out, len, "%s/%s", home && *home ? home : "/root", rel);
}

/* The keys a registry may be stored under. */
static bool key_matches(const char *key, const char *registry)
{
    if (strcmp(registry, "docker.io") == 0)
        return strcmp(key, "https://index.docker.io/v1/") == 0 ||
               strcmp(key, "docker.io") == 0 || strcmp(key, "index.docker.io") == 0;
    const char *k = key;
    if (strncmp(k, "https://", 8) == 0)
        k += 8;
    else if (strncmp(k, "http://", 7) == 0)
        k += 7;
    size_t n = strlen(registry);
    return strncmp(k, registry, n) == 0 && (k[n] == '\0' || k[n] == '/');
}

static const char *store_key(const char *registry)
{
    return strcmp(registry, "docker.io") == 0 ? "https://index.docker.io/v1/" : registry;
}

/* Decode one auths entry into user and password. */
static bool entry_decode(json_t *e, char *user, size_t ulen, char *pass, size_t plen)
{
    const char *auth = json_string_value(json_object_get(e, "auth"));
    if (auth && *auth) {
        size_t len = strlen(auth);
        unsigned char *buf = malloc(len + 1);
        int n = buf ? EVP_DecodeBlock(buf, (const unsigned char *)auth, (int)len) : -1;
        bool ok = false;
        if (n > 0) {
            while (n > 0 && len > 0 && auth[len - 1] == '=')
                n--, len--;
            buf[n] = '\0';
            char *colon = strchr((char *)buf, ':');
            if (colon) {
                *colon = '\0';
                snprintf(user, ulen, "%s", (char *)buf);
                snprintf(pass, plen, "%s", colon + 1);
                ok = true;
            }
            OPENSSL_cleanse(buf, (size_t)n);
        }
        free(buf);
        return ok;
    }
    const char *u = json_string_value(json_object_get(e, "username"));
    const char *p = json_string_value(json_object_get(e, "password"));
    if (!u || !p)
        return false;
    snprintf(user, ulen, "%s", u);
    snprintf(pass, plen, "%s", p);
    return true;
}

static void load_file(json_t *into, const char *rel)
{
    char path[4096];
    config_path(rel, path, sizeof path);
    json_t *doc = json_load_file(path, 0, NULL);
    const char *key;
    json_t *e;
    json_object_foreach(json_object_get(doc, "auths"), key, e) {
        char user[256], pass[512];
        if (!json_object_get(into, key) && entry_decode(e, user, sizeof user, pass, sizeof pass))
            json_object_set_new(into, key, json_pack("{s:s,s:s}", "user", user, "pass", pass));
    }
    json_decref(doc);
}

bool creds_get(struct berth_client *c, const char *registry, char *user, size_t ulen,
               char *pass, size_t plen)
{
    bool found = false;
    pthread_mutex_lock(&c->lock);
    if (!c->creds) {
        c->creds = json_object();
        load_file(c->creds, ".config/berth/auth.json");   /* ours win */
        load_file(c->creds, ".docker/config.json");
    }
    const char *key;
    json_t *e;
    json_object_foreach(c->creds, key, e) {
        if (key_matches(key, registry)) {
            snprintf(user, ulen, "%s", json_string_value(json_object_get(e, "user")));
            snprintf(pass, plen, "%s", json_string_value(json_object_get(e, "pass")));
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

void berth_client_set_credentials(struct berth_client *c, const char *registry,
                                  const char *user, const char *password)
{
    creds_set_memory(c, registry, user, password);
}

void creds_set_memory(struct berth_client *c, const char *registry, const char *user,
                      const char *pass)
{
    pthread_mutex_lock(&c->lock);
    if (!c->creds)
        c->creds = json_object();
    /* drop any other spelling of this registry first */
    const char *key;
    json_t *e;
    void *tmp;
    json_object_foreach_safe(c->creds, tmp, key, e) {
        if (key_matches(key, registry))
            json_object_del(c->creds, key);
    }
    json_object_set_new(c->creds, store_key(registry),
                        json_pack("{s:s,s:s}", "user", user, "pass", pass));
    json_object_clear(c->tokens);
    pthread_mutex_unlock(&c->lock);
}

/* Rewrite auth.json through a temporary file, 0600 from the start. */
static int write_auths(json_t *doc, struct berr *err)
{
    char dir[4096], path[4200], tmp[4300];
    config_path(".config/berth", dir, sizeof dir);
    if (mkdir_p(dir, 0700) < 0)
        return berr_set(err, BERR_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/auth.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    return json_write_atomic(doc, path, tmp, 0600, err);
}

static json_t *read_auths(void)
{
    char path[4096];
    config_path(".config/berth/auth.json", path, sizeof path);
    json_t *doc = json_load_file(path, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        doc = json_object();
    }
    if (!json_is_object(json_object_get(doc, "auths")))
        json_object_set_new(doc, "auths", json_object());
    return doc;
}

int creds_save(const char *registry, const char *user, const char *pass, struct berr *err)
{
    json_t *doc = read_auths();
    char plain[1024];
    int n = snprintf(plain, sizeof plain, "%s:%s", user, pass);
    if (n < 0 || (size_t)n >= sizeof plain) {   /* n is what was wanted, not written */
        OPENSSL_cleanse(plain, sizeof plain);
        json_decref(doc);
        return berr_set(err, BERR_TOOBIG, "user name and password too long to store");
    }
    unsigned char enc[1400];
    EVP_EncodeBlock(enc, (unsigned char *)plain, n);
    OPENSSL_cleanse(plain, sizeof plain);
    json_object_set_new(json_object_get(doc, "auths"), store_key(registry),
                        json_pack("{s:s}", "auth", (char *)enc));
    int rc = write_auths(doc, err);
    json_decref(doc);
    return rc;
}

int creds_remove(const char *registry, struct berr *err)
{
    json_t *doc = read_auths();
    json_t *auths = json_object_get(doc, "auths");
    const char *key;
    json_t *e;
    void *tmp;
    bool found = false;
    json_object_foreach_safe(auths, tmp, key, e) {
        if (key_matches(key, registry)) {
            json_object_del(auths, key);
            found = true;
        }
    }
    int rc = found ? write_auths(doc, err)
                   : berr_set(err, BERR_NOTFOUND, "not logged in to %s", registry);
    json_decref(doc);
    return rc;
}
