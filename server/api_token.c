/*
 * api_token.c - the HTTP side of the built-in token service (auth.token.path).
 *
 * GET reads its parameters from the query string, POST from an
 * application/x-www-form-urlencoded body, decoded by libmicrohttpd's post
 * processor. auth/token.c decides; this file only carries parameters in
 * and the JSON answer out. Neither passwords nor tokens are logged.
 */
#include "http.h"

#include <string.h>

struct params {
    struct request *rq;
    json_t *form;                 /* POST: {"key": ["value", ...]} */
    struct MHD_PostProcessor *pp;
};

/* The i-th value of a query parameter. */
struct query_scan {
    const char *key;
    int want, seen;
    const char *value;
};

static enum MHD_Result scan_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct query_scan *s = cls;
    if (strcmp(key, s->key) == 0 && s->seen++ == s->want) {
        s->value = value ? value : "";
        return MHD_NO;
    }
    return MHD_YES;
}

static const char *param(void *ctx, const char *key, int i)
{
    struct params *p = ctx;
    if (p->form)
        return json_string_value(json_array_get(json_object_get(p->form, key), (size_t)i));
    struct query_scan s = {.key = key, .want = i};
    MHD_get_connection_values(p->rq->conn, MHD_GET_ARGUMENT_KIND, scan_query, &s);
    return s.value;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *encoding, const char *data, uint64_t off,
                                  size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)encoding;
    json_t *form = cls;
    json_t *list = json_object_get(form, key);
    if (!list) {
        list = json_array();
        json_object_set_new(form, key, list);
    }
    /* a value may arrive in pieces: append to the last one */
    if (off > 0 && json_array_size(list) > 0) {
        json_t *last = json_array_get(list, json_array_size(list) - 1);
        size_t len = json_string_length(last);
        if (len + size > 8192)
            return MHD_NO;
        char *joined = malloc(len + size + 1);
        if (!joined)
            return MHD_NO;
        memcpy(joined, json_string_value(last), len);
        memcpy(joined + len, data, size);
        joined[len + size] = '\0';
        json_string_setn_nocheck(last, joined, len + size);
        free(joined);
    } else if (json_array_size(list) < 64) {
        json_array_append_new(list, json_stringn_nocheck(data, size));
    }
    return MHD_YES;
}

static void answer(struct request *rq, struct params *p, bool post)
{
    unsigned status;
    json_t *body = NULL;
    auth_result_clear(&rq->who);
    auth_token_issue(rq->auth, post, param, p, req_header(rq, "Authorization"),
                     rq->client, &status, &body, &rq->who);
    if (status == 401 && !rq->who.challenge[0])
        snprintf(rq->who.challenge, sizeof rq->who.challenge, "Basic realm=\"berth\"");
    struct MHD_Response *resp = response_json(rq, body);
    if (resp)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    respond(rq, status, resp);
}

static int form_body(struct request *rq, const char *data, size_t len)
{
    struct params *p = rq->state;
    if (rq->bytes_in > 65536 || MHD_post_process(p->pp, data, len) != MHD_YES)
        return body_fail(rq, 400, "UNSUPPORTED", "malformed form body");
    return 0;
}

static int form_end(struct request *rq)
{
    answer(rq, rq->state, true);
    return 0;
}

static void params_free(void *state)
{
    struct params *p = state;
    if (p->pp)
        MHD_destroy_post_processor(p->pp);
    json_decref(p->form);
    free(p);
}

enum MHD_Result api_token(struct request *rq)
{
    if (strcmp(rq->method, "GET") == 0) {
        struct params p = {.rq = rq};
        answer(rq, &p, false);
        return MHD_YES;
    }
    if (strcmp(rq->method, "POST") != 0)
        return respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
    struct params *p = calloc(1, sizeof *p);
    if (!p)
        return MHD_NO;
    rq->state = p;
    rq->free_state = params_free;
    p->rq = rq;
    p->form = json_object();
    p->pp = MHD_create_post_processor(rq->conn, 4096, form_field, p->form);
    if (!p->pp)
        return respond_error(rq, 400, "UNSUPPORTED",
                             "POST needs an application/x-www-form-urlencoded body");
    rq->on_body = form_body;
    rq->on_end = form_end;
    return MHD_YES;
}
