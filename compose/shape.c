/*
 * shape.c - the small checkers the shapers share: key paths for messages,
 * typed reads of scalars (compose accepts "8080" where an int is wanted,
 * since interpolation makes strings), known keys, key=value lists and
 * maps, commands split as a shell would.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t cc_key(struct cctx *c, const char *key)
{
    size_t keep = c->plen;
    buf_appendf(c->path, sizeof c->path, &c->plen, "%s%.60s", keep ? "." : "", key);
    return keep;
}

size_t cc_idx(struct cctx *c, size_t i)
{
    size_t keep = c->plen;
    buf_appendf(c->path, sizeof c->path, &c->plen, "[%zu]", i);
    return keep;
}

void cc_pop(struct cctx *c, size_t len)
{
    c->plen = len < sizeof c->path ? len : sizeof c->path - 1;
    c->path[c->plen] = '\0';
}

int cc_fail(struct cctx *c, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (c->plen)
        return berr_set(c->err, BERR_INVALID, "%s: %s: %s", c->file, c->path, why);
    return berr_set(c->err, BERR_INVALID, "%s: %s", c->file, why);
}

void cc_show(json_t *v, char *out, size_t len)
{
    if (json_is_string(v))
        snprintf(out, len, "\"%.40s%s\"", json_string_value(v),
                 json_string_length(v) > 40 ? "..." : "");
    else if (json_is_integer(v))
        snprintf(out, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, len, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, len, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_null(v))
        snprintf(out, len, "null");
    else
        snprintf(out, len, "a %s", json_is_array(v) ? "list" : "mapping");
}

static const char *type_name(json_t *v)
{
    if (!v)
        return "missing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int sh_check_keys(struct cctx *c, json_t *v, const char *const *known, const char *const *spec)
{
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        bool ok = strncmp(key, "x-", 2) == 0, unsupported = false;
        for (size_t i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        for (size_t i = 0; spec && spec[i]; i++)
            unsupported |= strcmp(key, spec[i]) == 0;
        if (!ok) {
            size_t keep = cc_key(c, key);
            int rc = cc_fail(c, unsupported ? "not supported by berth" : "unknown key");
            cc_pop(c, keep);
            return rc;
        }
    }
    return 0;
}

int sh_string(struct cctx *c, json_t *v, const char **out)
{
    if (!json_is_string(v))
        return cc_fail(c, "must be a string, not %s", type_name(v));
    *out = json_string_value(v);
    return 0;
}

int sh_scalar_str(struct cctx *c, json_t *v, json_t **out)
{
    char buf[64];
    if (json_is_string(v)) {
        *out = json_incref(v);
        return 0;
    }
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    else
        return cc_fail(c, "must be a string, a number or a boolean, not %s", type_name(v));
    *out = json_string(buf);
    return 0;
}

int sh_bool(struct cctx *c, json_t *v, bool *out)
{
    const char *s = json_string_value(v);
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0))
        *out = true;
    else if (s && (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0))
        *out = false;
    else {
        char shown[64];
        cc_show(v, shown, sizeof shown);
        return cc_fail(c, "must be a boolean, not %s", shown);
    }
    return 0;
}

int sh_int(struct cctx *c, json_t *v, long long min, long long max, long long *out)
{
    char shown[64];
    long long n;
    if (json_is_integer(v))
        n = json_integer_value(v);
    else if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 24) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno || *end || isspace((unsigned char)s[0]))
            goto bad;
    } else
        goto bad;
    if (n < min || n > max) {
        cc_show(v, shown, sizeof shown);
        return cc_fail(c, "%s is out of range (%lld to %lld)", shown, min, max);
    }
    *out = n;
    return 0;
bad:
    cc_show(v, shown, sizeof shown);
    return cc_fail(c, "must be an integer, not %s", shown);
}

static json_t *lookup(struct cctx *c, const char *name)
{
    json_t *v = json_object_get(c->vars, name);
    return v ? json_incref(v) : json_null();
}

/* environment, labels, build args: a map or a list of "K=V" / "K". A bare
 * key (no value) is looked up in the variables when `lookup`, else is null,
 * or "" when null_empty. */
int sh_kv(struct cctx *c, json_t *v, bool do_lookup, bool null_empty, json_t **out)
{
    json_t *res = json_object(), *item;
    size_t i;
    const char *key;
    int rc = 0;
    if (json_is_object(v)) {
        json_object_foreach(v, key, item) {
            size_t keep = cc_key(c, key);
            json_t *s = NULL;
            if (!*key)
                rc = cc_fail(c, "empty name");
            else if (json_is_null(item))
                s = do_lookup ? lookup(c, key) : null_empty ? json_string("") : json_null();
            else
                rc = sh_scalar_str(c, item, &s);
            cc_pop(c, keep);
            if (rc < 0)
                break;
            json_object_set_new(res, key, s);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            size_t keep = cc_idx(c, i);
            const char *s;
            if ((rc = sh_string(c, item, &s)) == 0) {
                const char *eq = strchr(s, '=');
                char name[256];
                size_t nl = eq ? (size_t)(eq - s) : strlen(s);
                if (nl == 0 || nl >= sizeof name)
                    rc = cc_fail(c, "invalid entry \"%.60s\" (want NAME=VALUE)", s);
                else {
                    memcpy(name, s, nl);
                    name[nl] = '\0';
                    json_t *val = eq ? json_string(eq + 1)
                                     : do_lookup ? lookup(c, name)
                                     : null_empty ? json_string("") : json_null();
                    json_object_set_new(res, name, val);
                }
            }
            cc_pop(c, keep);
            if (rc < 0)
                break;
        }
    } else if (!json_is_null(v))
        rc = cc_fail(c, "must be a mapping or a list of NAME=VALUE, not %s", type_name(v));
    return cc_give(rc, res, out);
}

int sh_strings(struct cctx *c, json_t *v, json_t **out)
{
    size_t i;
    json_t *item;
    if (!json_is_array(v))
        return cc_fail(c, "must be a list, not %s", type_name(v));
    json_t *res = json_array();
    json_array_foreach(v, i, item) {
        size_t keep = cc_idx(c, i);
        json_t *s;
        int rc = sh_scalar_str(c, item, &s);
        cc_pop(c, keep);
        if (rc < 0) {
            json_decref(res);
            return rc;
        }
        json_array_append_new(res, s);
    }
    *out = res;
    return 0;
}

/* Words as a POSIX shell splits them, without expansions: blanks separate,
 * quotes group, a backslash escapes (in double quotes only \ " $ `). */
int shell_split(const char *s, json_t **out, const char **why)
{
    json_t *words = json_array();
    size_t n = strlen(s);
    char *w = malloc(n + 1);
    size_t wl = 0;
    bool inword = false;
    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            if (inword)
                json_array_append_new(words, json_stringn(w, wl));
            wl = 0, inword = false;
            continue;
        }
        inword = true;
        if (*p == '\\') {
            if (!p[1]) {
                w[wl++] = '\\';
                break;
            }
            w[wl++] = *++p;
        } else if (*p == '\'') {
            const char *e = strchr(p + 1, '\'');
            if (!e)
                goto unterminated;
            memcpy(w + wl, p + 1, (size_t)(e - p - 1));
            wl += (size_t)(e - p - 1);
            p = e;
        } else if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1] && strchr("\\\"$`", p[1]))
                    p++;
                w[wl++] = *p;
            }
            if (!*p)
                goto unterminated;
        } else
            w[wl++] = *p;
    }
    if (inword)
        json_array_append_new(words, json_stringn(w, wl));
    free(w);
    *out = words;
    return 0;
unterminated:
    free(w);
    json_decref(words);
    *why = "unterminated quote";
    return -BERR_INVALID;
}

int sh_command(struct cctx *c, json_t *v, json_t **out)
{
    if (json_is_string(v)) {
        const char *why = NULL;
        if (shell_split(json_string_value(v), out, &why) < 0)
            return cc_fail(c, "%s in \"%.60s\"", why, json_string_value(v));
        return 0;
    }
    if (json_is_array(v))
        return sh_strings(c, v, out);
    return cc_fail(c, "must be a string or a list of strings, not %s", type_name(v));
}
