/*
 * units.c - values with a syntax of their own: durations as Go writes them
 * (what compose uses), byte sizes as docker reads them, paths made
 * absolute against the project directory, and the names of services,
 * resources and projects.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    json_t *utf8 = json_string(res); /* the model holds JSON strings */
    if (!utf8) {
        free(res);
        return cc_fail(c, "the path is not UTF-8");
    }
    json_decref(utf8);
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
