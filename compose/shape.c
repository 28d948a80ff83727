/*
 * shape.c - the small checkers the shapers share: key paths for messages,
 * typed reads of scalars (compose accepts "8080" where an int is wanted,
 * since interpolation makes strings), key=value lists and maps, commands
 * split as a shell would, durations, byte sizes, absolute paths.
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
    if (rc < 0) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
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

/* Go's time.Duration syntax, as compose uses it: "1m30s", "1.5s", "500ms". */
int compose_duration(const char *s, int64_t *ns, struct berr *err)
{
    static const struct { const char *unit; double ns; } units[] = {
        {"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
    };
    double total = 0;
    const char *p = s;
    if (!s || !*s)
        return berr_set(err, BERR_INVALID, "empty duration");
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    while (*p) {
        char *end;
        if (!(isdigit((unsigned char)*p) || *p == '.'))
            return berr_set(err, BERR_INVALID, "invalid duration \"%.40s\"", s);
        errno = 0;
        double n = strtod(p, &end);
        if (end == p || errno)
            return berr_set(err, BERR_INVALID, "invalid duration \"%.40s\"", s);
        p = end;
        size_t best = 0, bl = 0;
        for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, l) == 0 && l > bl)
                best = i, bl = l;
        }
        if (!bl)
            return berr_set(err, BERR_INVALID, "invalid duration \"%.40s\" (a unit: ns, us, ms, s, m, h)", s);
        p += bl;
        total += n * units[best].ns;
        if (total > 9.2e18)
            return berr_set(err, BERR_INVALID, "duration \"%.40s\" is too long", s);
    }
    *ns = (int64_t)total;
    return 0;
}

/* As Go's Duration.String prints it: "1m30s", "2h0m0s", "500ms". */
static void duration_format(int64_t ns, char *out, size_t len)
{
    size_t n = 0;
    if (ns == 0) {
        snprintf(out, len, "0s");
        return;
    }
    if (ns < 1000000000) {
        if (ns % 1000000 == 0)
            snprintf(out, len, "%lldms", (long long)(ns / 1000000));
        else if (ns % 1000 == 0)
            snprintf(out, len, "%lldus", (long long)(ns / 1000));
        else
            snprintf(out, len, "%lldns", (long long)ns);
        return;
    }
    int64_t h = ns / 3600000000000LL, m = ns / 60000000000LL % 60;
    int64_t sec = ns / 1000000000 % 60, frac = ns % 1000000000;
    out[0] = '\0';
    if (h)
        buf_appendf(out, len, &n, "%lldh", (long long)h);
    if (h || m)
        buf_appendf(out, len, &n, "%lldm", (long long)m);
    buf_appendf(out, len, &n, "%lld", (long long)sec);
    if (frac) {
        char f[16];
        snprintf(f, sizeof f, "%09lld", (long long)frac);
        for (size_t i = strlen(f); i > 0 && f[i - 1] == '0'; i--)
            f[i - 1] = '\0';
        buf_appendf(out, len, &n, ".%s", f);
    }
    buf_appendf(out, len, &n, "s");
}

int sh_duration(struct cctx *c, json_t *v, json_t **out)
{
    const char *s;
    int64_t ns;
    struct berr e = {0};
    int rc = sh_string(c, v, &s);
    if (rc < 0)
        return rc;
    if (compose_duration(s, &ns, &e) < 0)
        return cc_fail(c, "%s", e.msg);
    char buf[48];
    duration_format(ns, buf, sizeof buf);
    *out = json_string(buf);
    return 0;
}

/* "512m", "1g", "1.5GB", 1048576: bytes, binary multiples, as docker reads them. */
int sh_bytes(struct cctx *c, json_t *v, json_t **out)
{
    char shown[64];
    long long n;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || errno || !isfinite(d) || d < 0 || !isdigit((unsigned char)s[0]))
            goto bad;
        char unit[4] = "";
        size_t ul = strlen(end);
        if (ul > 3)
            goto bad;
        for (size_t i = 0; i < ul; i++)
            unit[i] = (char)tolower((unsigned char)end[i]);
        double mult = 1;
        static const char *const sfx = "bkmgtp";
        if (ul > 0) {
            const char *at = strchr(sfx, unit[0]);
            if (!at)
                goto bad;
            for (long i = 0; i < at - sfx; i++)
                mult *= 1024;
            if (ul >= 2 && !(strcmp(unit + 1, "b") == 0 || strcmp(unit + 1, "ib") == 0 ||
                             strcmp(unit + 1, "i") == 0))
                goto bad;
            if (unit[0] == 'b' && ul > 1)
                goto bad;
        }
        d *= mult;
        if (d >= 9.2e18)
            goto range;
        n = (long long)d;
    } else
        goto bad;
    if (n < 0)
        goto range;
    *out = json_integer(n);
    return 0;
range:
    cc_show(v, shown, sizeof shown);
    return cc_fail(c, "%s is out of range", shown);
bad:
    cc_show(v, shown, sizeof shown);
    return cc_fail(c, "invalid size %s (want bytes, or a number with b, k, m, g)", shown);
}

int sh_abspath(struct cctx *c, const char *p, char **out)
{
    char buf[4096];
    int n;
    if (p[0] == '/')
        n = snprintf(buf, sizeof buf, "%s", p);
    else if (p[0] == '~' && (p[1] == '/' || !p[1])) {
        const char *home = json_string_value(json_object_get(c->vars, "HOME"));
        if (!home)
            home = getenv("HOME");
        if (!home)
            return cc_fail(c, "cannot resolve \"~\": HOME is not set");
        n = snprintf(buf, sizeof buf, "%s%s", home, p + 1);
    } else
        n = snprintf(buf, sizeof buf, "%s/%s", c->projdir, p);
    if (n < 0 || (size_t)n >= sizeof buf)
        return cc_fail(c, "path too long");
    /* clean: drop "." and empty parts, fold "..", keep it absolute */
    char *parts[512];
    size_t np = 0;
    char *save, *tok;
    for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            if (np)
                np--;
            continue;
        }
        if (np == sizeof parts / sizeof *parts)
            return cc_fail(c, "path too deep");
        parts[np++] = tok;
    }
    char *res = malloc(sizeof buf + 1);
    size_t rl = 0;
    res[0] = '\0';
    for (size_t i = 0; i < np; i++)
        buf_appendf(res, sizeof buf + 1, &rl, "/%s", parts[i]);
    if (np == 0)
        strcpy(res, "/");
    *out = res;
    return 0;
}

bool sh_name_ok(const char *s)
{
    if (!isalnum((unsigned char)s[0]))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
            return false;
    return true;
}

bool project_name_ok(const char *s)
{
    if (!*s || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '-'))
            return false;
    return true;
}

void project_name_from_dir(const char *dir, char *out, size_t len)
{
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    size_t n = 0;
    for (; *base && n + 1 < len; base++) {
        char ch = (char)tolower((unsigned char)*base);
        if (islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '_' || ch == '-')
            if (n > 0 || isalnum((unsigned char)ch))
                out[n++] = ch;
    }
    out[n] = '\0';
}
