/*
 * internal.h - the parts of auth/ that talk to each other (private).
 */
#ifndef BERTH_AUTH_INTERNAL_H
#define BERTH_AUTH_INTERNAL_H

#include "auth.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <time.h>

/* ---- htpasswd.c ---------------------------------------------------------- */

struct htpasswd;
int htpasswd_load(const char *file, struct htpasswd **out, struct berr *err);
void htpasswd_free(struct htpasswd *h);
/* Constant-time in the password; bcrypt results are cached so a client
 * sending Basic credentials on every request pays bcrypt once. */
bool htpasswd_verify(struct htpasswd *h, const char *user, const char *password);
/* A short fingerprint of a user's current hash (hex), so a refresh token
 * dies when the password changes or the user goes; false if no such user. */
bool htpasswd_fingerprint(struct htpasswd *h, const char *user, char out[33]);

/* ---- jwt.c --------------------------------------------------------------- */

/* Verification keys: public keys and certificates from the configuration. */
struct jwt_keys {
    EVP_PKEY **keys;
    char **kids;
    size_t nkeys;
    X509_STORE *roots;        /* certificates, for x5c chains */
};
int jwt_keys_load(struct jwt_keys *k, const char *file, struct berr *err);
void jwt_keys_free(struct jwt_keys *k);
/* The libtrust-style key id docker's distribution uses. */
int jwt_key_id(EVP_PKEY *key, char out[64]);
/* Sign claims as ES256 with a P-256 private key. */
char *jwt_sign(EVP_PKEY *key, const char *kid, json_t *claims);
/* Verify signature and algorithm; the claims are returned, not checked. */
int jwt_verify(const struct jwt_keys *k, const char *token, json_t **claims,
               struct berr *err);
int base64url_encode(const unsigned char *in, size_t len, char **out);
int base64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

/* ---- rules.c ------------------------------------------------------------- */

struct rules;
int rules_load(json_t *access, json_t *groups, struct rules **out, struct berr *err);
void rules_free(struct rules *r);
/* What `account` ("" for anonymous) may do on `name` (a repository name;
 * "*" for registry-wide). */
unsigned rules_allowed(const struct rules *r, const char *account, const char *name);
unsigned action_parse(const char *s);

/* ---- ratelimit.c --------------------------------------------------------- */

struct ratelimit;
struct ratelimit *ratelimit_new(int attempts, int window_seconds);
void ratelimit_free(struct ratelimit *rl);
/* Seconds until `key` may try again, 0 when it may now. */
int ratelimit_blocked(struct ratelimit *rl, const char *key);
void ratelimit_fail(struct ratelimit *rl, const char *key);

/* ---- auth.c: the whole state ---------------------------------------------- */

enum auth_mode { MODE_BASIC, MODE_TOKEN };
enum { TOKEN_CACHE = 1024 };

struct token_entry {
    char *token;               /* the verified token itself */
    size_t len;
    time_t exp;
    char account[128];
    json_t *access;            /* NULL: empty slot */
    bool rules;                /* our service's: grants checked against the rules */
};

struct auth {
    enum auth_mode mode;
    bool check_only;           /* auth_check_config: create no files */
    char *realm;               /* Basic realm */
    struct htpasswd *users;
    struct rules *rules;
    struct ratelimit *limits;
    /* token mode */
    char *token_realm, *service, *issuer, *token_path;
    int expiration, leeway;
    struct jwt_keys keys;
    EVP_PKEY *signing_key;
    char signing_kid[64];
    pthread_rwlock_t cache_lock;
    struct token_entry cache[TOKEN_CACHE];
};

bool printable(const char *s);
int basic_decode(const char *authorization, char *user, size_t ulen, char *pass,
                 size_t plen);
/* Rate-limited password check: 0, -BERR_INVALID, or -BERR_CONFLICT when
 * blocked (*retry_after seconds). */
int login_check(struct auth *a, const char *client, const char *user,
                const char *password, int *retry_after);
unsigned granted_actions(json_t *granted, const char *type, const char *name);

#endif
