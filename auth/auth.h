/*
 * auth.h - who may do what: htpasswd users, Docker-style bearer tokens
 * (issued here or by an external issuer), and per-repository access rules.
 *
 * The server asks one question per request, auth_check: given the
 * Authorization header and what the request needs (pull, push, delete on a
 * repository, or catalog), is it allowed, does the client need to
 * authenticate (401 and a challenge), is it denied (403), or is it
 * rate-limited (429)? The token service (auth_token_issue) answers the
 * requests docker sends to the realm named in a Bearer challenge.
 * Nothing here knows about HTTP servers; nothing here logs a secret.
 */
#ifndef BERTH_AUTH_H
#define BERTH_AUTH_H

#include "../common/common.h"

#include <jansson.h>

struct auth;

enum auth_action {
    ACT_PULL = 1,
    ACT_PUSH = 2,
    ACT_DELETE = 4,
    ACT_CATALOG = 8,
};

/* Build from the "auth" object of the configuration (NULL: no auth at all:
 * everything is allowed). Refuses a bad htpasswd line, key or rule with a
 * message naming it. */
int auth_open(json_t *cfg, struct auth **out, struct berr *err);
void auth_close(struct auth *a);
/* What auth_open would refuse, without creating anything (check-config). */
int auth_check_config(json_t *cfg, struct berr *err);
bool auth_enabled(const struct auth *a);
/* The path the built-in token service answers on, or NULL. */
const char *auth_token_path(const struct auth *a);

enum auth_verdict {
    AUTH_ALLOW,
    AUTH_CHALLENGE,   /* 401 UNAUTHORIZED with `challenge` */
    AUTH_DENY,        /* 403 DENIED */
    AUTH_LIMITED,     /* 429 TOOMANYREQUESTS, Retry-After: retry_after */
};

struct auth_result {
    enum auth_verdict verdict;
    char account[128];        /* "" when anonymous */
    char challenge[2048];     /* WWW-Authenticate value (auth.c: always fits) */
    int retry_after;          /* seconds */
    /* what the credentials carried, for auth_may */
    bool via_token;
    json_t *granted;          /* the token's access claim; owned */
    bool token_rules;         /* issued here: granted is also bounded by the rules */
};

/* `name` is a repository name, or NULL for registry-wide requests (the
 * base endpoint needs only authentication; the catalog needs ACT_CATALOG). */
void auth_check(struct auth *a, const char *authorization, const char *client,
                const char *name, unsigned actions, struct auth_result *out);
/* After auth_check allowed a request: may that same caller also do
 * `actions` on `name` with the credentials it sent? (Cross-repository
 * mounts: a token must carry the scope.) */
bool auth_may(struct auth *a, const struct auth_result *who, const char *name,
              unsigned actions);
/* Would the rules let that caller pull `name`? (What _catalog lists.) */
bool auth_visible(struct auth *a, const struct auth_result *who, const char *name);
void auth_result_clear(struct auth_result *r);

/* The token service. `param` gives the i-th value of a request parameter
 * (query for GET, form for POST; NULL past the last); `authorization` is
 * the Basic header, if any. On success *status is 200 and *body the JSON
 * answer; otherwise *status is 400, 401 or 429 and *body an error
 * document (res->retry_after set for 429). */
typedef const char *(*auth_param_fn)(void *ctx, const char *key, int i);
void auth_token_issue(struct auth *a, bool post, auth_param_fn param, void *ctx,
                      const char *authorization, const char *client,
                      unsigned *status, json_t **body, struct auth_result *res);

/* htpasswd files: add or change USER with a bcrypt hash of password. */
int htpasswd_set(const char *file, const char *user, const char *password,
                 struct berr *err);

#endif
