/*
 * token.c - the built-in token service of Docker's token authentication.
 *
 *   GET  <path>?service=S&scope=repository:team/app:pull,push[&offline_token=true]
 *        with Basic credentials, or none for an anonymous token
 *   POST <path>  grant_type=password&username=U&password=P&service=S&scope=...
 *        grant_type=refresh_token&refresh_token=R&service=S&scope=...
 *
 * The answer is {"token", "access_token", "expires_in", "issued_at"} and a
 * "refresh_token" when one was asked for (offline_token=true on GET,
 * access_type=offline on POST, or any refresh grant). Scopes granted are
 * what was asked for intersected with what the rules allow: asking too
 * much is never an error, it just yields less.
 */
#include "internal.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static json_t *error_doc(const char *code, const char *message)
{
    return json_pack("{s:[{s:s,s:s}]}", "errors", "code", code, "message", message);
}

static void jti_new(char out[33])
{
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* One scope "type[(class)]:name:actions" → an access entry, or NULL. */
static json_t *scope_grant(struct auth *a, const char *account, const char *scope)
{
    const char *c1 = strchr(scope, ':');
    const char *c2 = strrchr(scope, ':');
    if (!c1 || c2 == c1)
        return NULL;
    char type[32], name[NAME_MAX_LEN + 1];
    size_t tlen = strcspn(scope, "(:");
    size_t nlen = (size_t)(c2 - c1 - 1);
    if (tlen >= sizeof type || nlen >= sizeof name)
        return NULL;
    memcpy(type, scope, tlen);
    type[tlen] = '\0';
    memcpy(name, c1 + 1, nlen);
    name[nlen] = '\0';

    unsigned asked = 0;
    char acts[128];
    snprintf(acts, sizeof acts, "%s", c2 + 1);
    for (char *save = NULL, *t = strtok_r(acts, ",", &save); t; t = strtok_r(NULL, ",", &save))
        asked |= action_parse(t);

    json_t *actions = json_array();
    if (strcmp(type, "repository") == 0 && repo_name_valid(name)) {
        unsigned ok = asked & rules_allowed(a->rules, account, name) &
                      (ACT_PULL | ACT_PUSH | ACT_DELETE);
        if (ok & ACT_PULL)
            json_array_append_new(actions, json_string("pull"));
        if (ok & ACT_PUSH)
            json_array_append_new(actions, json_string("push"));
        if (ok & ACT_DELETE)
            json_array_append_new(actions, json_string("delete"));
    } else if (strcmp(type, "registry") == 0 && strcmp(name, "catalog") == 0) {
        if ((asked & ACT_CATALOG) && (rules_allowed(a->rules, account, "*") & ACT_CATALOG))
            json_array_append_new(actions, json_string("*"));
    }
    if (json_array_size(actions) == 0) {
        json_decref(actions);
        return NULL;
    }
    return json_pack("{s:s,s:s,s:o}", "type", type, "name", name, "actions", actions);
}

static json_t *grant_all(struct auth *a, const char *account, auth_param_fn param,
                         void *ctx)
{
    json_t *access = json_array();
    const char *v;
    for (int i = 0; i < 64 && (v = param(ctx, "scope", i)); i++) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", v);
        for (char *save = NULL, *s = strtok_r(buf, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
            json_t *g = scope_grant(a, account, s);
            if (g)
                json_array_append_new(access, g);
        }
    }
    return access;
}

static char *sign_claims(struct auth *a, const char *account, time_t now, int ttl,
                         json_t *access, bool refresh)
{
    char jti[33];
    jti_new(jti);
    json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "iss", a->issuer, "sub",
                               account, "aud", a->service, "exp", (json_int_t)(now + ttl),
                               "nbf", (json_int_t)now, "iat", (json_int_t)now, "jti", jti);
    char fp[33];
    if (refresh) {
        json_object_set_new(claims, "refresh", json_true());
        if (a->users && htpasswd_fingerprint(a->users, account, fp))
            json_object_set_new(claims, "pwh", json_string(fp));
    } else {
        json_object_set(claims, "access", access);
        /* marks the token as this service's (see bearer_verify) */
        if (!(a->users && account[0] && htpasswd_fingerprint(a->users, account, fp)))
            fp[0] = '\0';
        json_object_set_new(claims, "pwh", json_string(fp));
    }
    char *token = jwt_sign(a->signing_key, a->signing_kid, claims);
    json_decref(claims);
    return token;
}

/* The account a refresh token speaks for, or -1. */
static int refresh_account(struct auth *a, const char *token, char *account, size_t len)
{
    json_t *claims = NULL;
    if (!token || jwt_verify(&a->keys, token, &claims, NULL) < 0)
        return -1;
    time_t now = time(NULL);
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    json_t *exp = json_object_get(claims, "exp");
    const char *pwh = json_string_value(json_object_get(claims, "pwh"));
    char fp[33];
    int rc = -1;
    /* the account must still exist with the password the token was given for */
    if (json_is_true(json_object_get(claims, "refresh")) && iss && aud && sub && sub[0] &&
        strcmp(iss, a->issuer) == 0 && strcmp(aud, a->service) == 0 &&
        json_is_integer(exp) && json_integer_value(exp) >= now && pwh && a->users &&
        htpasswd_fingerprint(a->users, sub, fp) && strcmp(fp, pwh) == 0) {
        snprintf(account, len, "%s", sub);
        rc = 0;
    }
    json_decref(claims);
    return rc;
}

static bool param_is(auth_param_fn param, void *ctx, const char *key, const char *value)
{
    const char *v = param(ctx, key, 0);
    return v && strcmp(v, value) == 0;
}

void auth_token_issue(struct auth *a, bool post, auth_param_fn param, void *ctx,
                      const char *authorization, const char *client,
                      unsigned *status, json_t **body, struct auth_result *res)
{
    memset(res, 0, sizeof *res);
    const char *service = param(ctx, "service", 0);
    if (service && strcmp(service, a->service) != 0) {
        *status = 400;
        *body = error_doc("UNSUPPORTED", "unknown service");
        return;
    }
    char account[128] = "", pass[512] = "";
    bool want_refresh = false;
    int rc = 0;
    if (post) {
        const char *grant = param(ctx, "grant_type", 0);
        if (grant && strcmp(grant, "password") == 0) {
            const char *u = param(ctx, "username", 0), *p = param(ctx, "password", 0);
            if (!u || !*u || !p || strlen(u) >= sizeof account)
                rc = -BERR_INVALID;
            else
                rc = login_check(a, client, u, p, &res->retry_after);
            if (rc == 0)
                snprintf(account, sizeof account, "%s", u);
            want_refresh = param_is(param, ctx, "access_type", "offline");
        } else if (grant && strcmp(grant, "refresh_token") == 0) {
            rc = refresh_account(a, param(ctx, "refresh_token", 0), account, sizeof account);
            want_refresh = true;
        } else {
            *status = 400;
            *body = error_doc("UNSUPPORTED", "grant_type must be password or refresh_token");
            return;
        }
    } else if (authorization) {
        rc = basic_decode(authorization, account, sizeof account, pass, sizeof pass);
        if (rc == 0)
            rc = login_check(a, client, account, pass, &res->retry_after);
        OPENSSL_cleanse(pass, sizeof pass);
        want_refresh = param_is(param, ctx, "offline_token", "true");
    }
    if (rc == -BERR_CONFLICT) {
        *status = 429;
        *body = error_doc("TOOMANYREQUESTS", "too many failed logins; try again later");
        res->verdict = AUTH_LIMITED;
        return;
    }
    if (rc < 0) {
        *status = 401;
        *body = error_doc("UNAUTHORIZED", "authentication failed");
        res->verdict = AUTH_CHALLENGE;
        snprintf(res->challenge, sizeof res->challenge, "Basic realm=\"%s\"", a->realm);
        return;
    }

    time_t now = time(NULL);
    json_t *access = grant_all(a, account, param, ctx);
    char *token = sign_claims(a, account, now, a->expiration, access, false);
    char *refresh = want_refresh && account[0]
                        ? sign_claims(a, account, now, 30 * 24 * 3600, NULL, true)
                        : NULL;
    json_decref(access);
    if (!token) {
        free(refresh);
        *status = 500;
        *body = error_doc("UNSUPPORTED", "cannot sign token");
        return;
    }
    char issued[32];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(issued, sizeof issued, "%Y-%m-%dT%H:%M:%SZ", &tm);
    *body = json_pack("{s:s,s:s,s:i,s:s}", "token", token, "access_token", token,
                      "expires_in", a->expiration, "issued_at", issued);
    if (refresh)
        json_object_set_new(*body, "refresh_token", json_string(refresh));
    free(token);
    free(refresh);
    snprintf(res->account, sizeof res->account, "%s", account);
    res->verdict = AUTH_ALLOW;
    *status = 200;
}
