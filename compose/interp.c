/*
 * interp.c - ${VAR} interpolation, as the Compose Specification defines it:
 * $VAR and ${VAR}; ${VAR:-default} / ${VAR-default} (unset or empty / unset);
 * ${VAR:?message} / ${VAR?message} (an error); ${VAR:+alt} / ${VAR+alt};
 * $$ for a literal $. The words after an operator may hold more ${...}
 * (expanded only when used). Values are expanded, keys are not.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An interpolated value may not grow past this: a few ${BIG}s repeated
 * cannot fill memory. */
#define INTERP_MAX (1u << 20)

struct obuf {
    char *s;
    size_t len, cap;
    bool over;
};

static void put(struct obuf *b, const char *s, size_t n)
{
    if (b->over || b->len + n > INTERP_MAX) {
        b->over = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static bool name_start(char ch)
{
    return isalpha((unsigned char)ch) || ch == '_';
}

static bool name_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_';
}

static char *whyf(const char *fmt, const char *a, size_t alen)
{
    char *s = NULL;
    if (asprintf(&s, fmt, (int)(alen > 60 ? 60 : alen), a) < 0)
        return NULL;
    return s;
}

static int expand(const char *s, size_t n, json_t *vars, struct obuf *b, char **why, int depth);

/* The end of the word after an operator: the '}' closing it, nested ${ } skipped. */
static const char *word_end(const char *p, const char *end)
{
    int nest = 0;
    for (; p < end; p++) {
        if (*p == '$' && p + 1 < end && p[1] == '$')
            p++;
        else if (*p == '$' && p + 1 < end && p[1] == '{')
            nest++, p++;
        else if (*p == '}') {
            if (nest == 0)
                return p;
            nest--;
        }
    }
    return NULL;
}

static int braced(const char **pp, const char *end, const char *whole, size_t wlen, json_t *vars,
                  struct obuf *b, char **why, int depth)
{
    const char *p = *pp; /* after "${" */
    const char *name = p;
    while (p < end && name_char(*p))
        p++;
    size_t nl = (size_t)(p - name);
    if (nl == 0 || !name_start(name[0]) || p >= end) {
        *why = whyf("invalid interpolation format in \"%.*s\"", whole, wlen);
        return -1;
    }
    char var[256];
    if (nl >= sizeof var) {
        *why = whyf("variable name too long in \"%.*s\"", whole, wlen);
        return -1;
    }
    memcpy(var, name, nl);
    var[nl] = '\0';
    json_t *jv = json_object_get(vars, var);
    const char *val = json_string_value(jv);
    bool set = val != NULL, nonempty = set && *val;
    if (*p == '}') {
        if (val)
            put(b, val, strlen(val));
        *pp = p + 1;
        return 0;
    }
    bool colon = *p == ':';
    if (colon)
        p++;
    char op = p < end ? *p : '\0';
    if (op != '-' && op != '?' && op != '+') {
        *why = whyf("invalid interpolation format in \"%.*s\"", whole, wlen);
        return -1;
    }
    p++;
    const char *we = word_end(p, end);
    if (!we) {
        *why = whyf("unterminated ${ in \"%.*s\"", whole, wlen);
        return -1;
    }
    bool has = colon ? nonempty : set;
    *pp = we + 1;
    switch (op) {
    case '-':
        if (has)
            put(b, val, strlen(val));
        else
            return expand(p, (size_t)(we - p), vars, b, why, depth + 1);
        return 0;
    case '+':
        if (has)
            return expand(p, (size_t)(we - p), vars, b, why, depth + 1);
        return 0;
    default: /* '?' */
        if (has) {
            put(b, val, strlen(val));
            return 0;
        }
        struct obuf m = {0};
        put(&m, "", 0);
        if (expand(p, (size_t)(we - p), vars, &m, why, depth + 1) < 0) {
            free(m.s);
            return -1;
        }
        if (asprintf(why, "required variable %s is missing a value%s%.120s", var,
                     m.len ? ": " : "", m.s) < 0)
            *why = NULL;
        free(m.s);
        return -1;
    }
}

static int expand(const char *s, size_t n, json_t *vars, struct obuf *b, char **why, int depth)
{
    const char *p = s, *end = s + n;
    if (depth > 16) {
        *why = whyf("interpolation nested too deep in \"%.*s\"", s, n);
        return -1;
    }
    while (p < end) {
        const char *d = memchr(p, '$', (size_t)(end - p));
        if (!d) {
            put(b, p, (size_t)(end - p));
            break;
        }
        put(b, p, (size_t)(d - p));
        p = d + 1;
        if (p < end && *p == '$') {
            put(b, "$", 1);
            p++;
        } else if (p < end && *p == '{') {
            p++;
            if (braced(&p, end, s, n, vars, b, why, depth) < 0)
                return -1;
        } else if (p < end && name_start(*p)) {
            const char *name = p;
            while (p < end && name_char(*p))
                p++;
            char var[256];
            size_t nl = (size_t)(p - name);
            if (nl >= sizeof var) {
                *why = whyf("variable name too long in \"%.*s\"", s, n);
                return -1;
            }
            memcpy(var, name, nl);
            var[nl] = '\0';
            const char *val = json_string_value(json_object_get(vars, var));
            if (val)
                put(b, val, strlen(val));
        } else {
            *why = whyf("invalid interpolation format in \"%.*s\" (a literal $ is written $$)", s, n);
            return -1;
        }
    }
    return 0;
}

int interp_string(const char *s, json_t *vars, char **out, char **why)
{
    struct obuf b = {0};
    *why = NULL;
    put(&b, "", 0);
    if (expand(s, strlen(s), vars, &b, why, 0) < 0) {
        free(b.s);
        return -1;
    }
    if (b.over) {
        free(b.s);
        *why = whyf("the value of \"%.*s\" is longer than 1 MiB once interpolated", s, strlen(s));
        return -1;
    }
    *out = b.s;
    return 0;
}

int interp_tree(struct cctx *c, json_t *in, json_t **out)
{
    size_t i;
    const char *key;
    json_t *v, *res;
    int rc = 0;
    if (json_is_string(in)) {
        const char *s = json_string_value(in);
        if (!strchr(s, '$')) {
            *out = json_incref(in);
            return 0;
        }
        char *o, *why;
        if (interp_string(s, c->vars, &o, &why) < 0) {
            rc = cc_fail(c, "%s", why ? why : "out of memory");
            free(why);
            return rc;
        }
        *out = json_string(o);
        free(o);
        if (!*out)
            return cc_fail(c, "interpolated value is not UTF-8");
        return 0;
    }
    if (json_is_array(in)) {
        res = json_array();
        json_array_foreach(in, i, v) {
            json_t *e;
            size_t keep = cc_idx(c, i);
            rc = interp_tree(c, v, &e);
            cc_pop(c, keep);
            if (rc < 0)
                break;
            json_array_append_new(res, e);
        }
    } else if (json_is_object(in)) {
        res = json_object();
        json_object_foreach(in, key, v) {
            json_t *e;
            size_t keep = cc_key(c, key);
            rc = interp_tree(c, v, &e);
            cc_pop(c, keep);
            if (rc < 0)
                break;
            json_object_set_new(res, key, e);
        }
    } else {
        *out = json_incref(in);
        return 0;
    }
    return cc_give(rc, res, out);
}
