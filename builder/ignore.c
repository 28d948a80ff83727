/*
 * ignore.c - .dockerignore, with docker's pattern rules (moby's
 * patternmatcher and its ignorefile reader).
 *
 * Each line is a pattern: white space around it is trimmed, lines starting
 * with '#' and blank lines are skipped, a leading '!' makes it an
 * exception, and the pattern is cleaned as Go's filepath.Clean does ("./a",
 * "a//b/", "a/../b") with a leading '/' dropped, so "/x" and "x" are the
 * same. In a pattern '*' is any run of characters but '/', '?' one
 * character but '/', [...] a class, '\' escapes the next character, and
 * "**" any number of directories (zero included). A path is excluded when
 * the last pattern that matches it, or matches one of its parent
 * directories, is not an exception. Docker's shortcuts are kept, quirks
 * included: a pattern with no special characters is compared as a
 * string, "foo**" is a prefix and "**foo" a suffix.
 *
 * What the context always sends, whatever these patterns say (the
 * Dockerfile and the .dockerignore itself, as docker does), is for the
 * context walker to decide, not for this file.
 */
#include "internal.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

enum tok_kind { T_LIT, T_ANY, T_CLASS, T_STAR, T_DSTAR_SLASH, T_DSTAR_END };

struct range {
    unsigned lo, hi;
};

struct tok {
    enum tok_kind kind;
    unsigned rune;               /* T_LIT */
    struct range *ranges;        /* T_CLASS */
    size_t nranges;
    bool negate;
};

enum match_type { M_EXACT, M_PREFIX, M_SUFFIX, M_REGEX };

struct pattern {
    char *clean;                 /* without the '!' */
    bool exception;
    enum match_type type;
    struct tok *toks;
    size_t ntoks;
};

struct df_ignore {
    struct pattern *v;
    size_t n;
    bool exceptions;
};

/* ---- runes -------------------------------------------------------------------- */

/* Decode one UTF-8 rune; a byte that starts no valid sequence is a rune
 * of its own, outside Unicode, so it only ever matches itself. */
static size_t rune_at(const char *s, size_t n, unsigned *r)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) {
        *r = u[0];
        return 1;
    }
    size_t len = u[0] >= 0xf0 && u[0] <= 0xf4 ? 4 : u[0] >= 0xe0 ? 3 : u[0] >= 0xc2 ? 2 : 0;
    bool ok = len && len <= n && u[0] <= 0xf4;
    unsigned v = ok ? (u[0] & (0x7fu >> len)) : 0;
    for (size_t i = 1; ok && i < len; i++) {
        ok = (u[i] & 0xc0) == 0x80;
        v = v << 6 | (u[i] & 0x3f);
    }
    if (!ok) {
        *r = 0x110000u + u[0];
        return 1;
    }
    *r = v;
    return len;
}

/* The runes of s[0..len) into buf (len entries at least). */
static size_t decode(const char *s, size_t len, unsigned *buf)
{
    size_t k = 0;
    for (size_t i = 0; i < len;)
        i += rune_at(s + i, len - i, &buf[k++]);
    return k;
}

/* ---- Go's filepath.Clean -------------------------------------------------------------- */

char *df_clean_path(const char *path)
{
    size_t len = strlen(path);
    if (len == 0)
        return strdup(".");
    bool rooted = path[0] == '/';
    char *out = malloc(len + 2);
    if (!out)
        abort();
    size_t w = 0, dotdot = 0;            /* out[..dotdot] can not be backtracked over */
    if (rooted) {
        out[w++] = '/';
        dotdot = 1;
    }
    for (size_t r = rooted ? 1 : 0; r < len;) {
        if (path[r] == '/') {
            r++;
        } else if (path[r] == '.' && (r + 1 == len || path[r + 1] == '/')) {
            r++;
        } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == len || path[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            for (; r < len && path[r] != '/'; r++)
                out[w++] = path[r];
        }
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = '\0';
    return out;
}

/* ---- patterns ------------------------------------------------------------------------ */

/* One character of a class: an escape takes the next one; '-' and ']'
 * can not start a range (Go's getEsc). */
static int class_char(const char *p, size_t n, size_t *i, unsigned *r)
{
    if (*i >= n || p[*i] == '-' || p[*i] == ']')
        return -1;
    if (p[*i] == '\\') {
        (*i)++;
        if (*i >= n)
            return -1;
    }
    *i += rune_at(p + *i, n - *i, r);
    return 0;
}

/* A class at p[*i] (just after '['), as filepath.Match reads it. */
static int parse_class(const char *p, size_t n, size_t *i, struct tok *t)
{
    t->kind = T_CLASS;
    if (*i < n && p[*i] == '^') {
        t->negate = true;
        (*i)++;
    }
    for (;;) {
        if (*i < n && p[*i] == ']' && t->nranges > 0) {
            (*i)++;
            return 0;
        }
        struct range rg;
        if (class_char(p, n, i, &rg.lo) < 0)
            return -1;
        rg.hi = rg.lo;
        if (*i < n && p[*i] == '-') {
            (*i)++;
            if (class_char(p, n, i, &rg.hi) < 0 || rg.hi < rg.lo)
                return -1;
        }
        struct range *nr = realloc(t->ranges, (t->nranges + 1) * sizeof *nr);
        if (!nr)
            abort();
        t->ranges = nr;
        t->ranges[t->nranges++] = rg;
    }
}

static void add_tok(struct pattern *pt, struct tok t)
{
    struct tok *nt = realloc(pt->toks, (pt->ntoks + 1) * sizeof *nt);
    if (!nt)
        abort();
    pt->toks = nt;
    pt->toks[pt->ntoks++] = t;
}

/* docker's Pattern.compile, into tokens; -1 for what filepath.Match
 * refuses (an unfinished class or escape). */
static int compile(struct pattern *pt)
{
    const char *p = pt->clean;
    size_t n = strlen(p), i = 0;
    pt->type = M_EXACT;
    for (size_t idx = 0; i < n; idx++) {
        char c = p[i];
        if (c == '*') {
            i++;
            if (i < n && p[i] == '*') {
                i++;
                if (i < n && p[i] == '/')
                    i++;
                if (i >= n) {
                    if (pt->type == M_EXACT) {
                        pt->type = M_PREFIX;
                    } else {
                        add_tok(pt, (struct tok){.kind = T_DSTAR_END});
                        pt->type = M_REGEX;
                    }
                } else {
                    add_tok(pt, (struct tok){.kind = T_DSTAR_SLASH});
                    pt->type = M_REGEX;
                }
                if (idx == 0)
                    pt->type = M_SUFFIX;
            } else {
                add_tok(pt, (struct tok){.kind = T_STAR});
                pt->type = M_REGEX;
            }
        } else if (c == '?') {
            i++;
            add_tok(pt, (struct tok){.kind = T_ANY});
            pt->type = M_REGEX;
        } else if (c == '\\') {
            i++;
            if (i >= n)
                return -1;
            unsigned r;
            i += rune_at(p + i, n - i, &r);
            add_tok(pt, (struct tok){.kind = T_LIT, .rune = r});
            pt->type = M_REGEX;
        } else if (c == '[') {
            i++;
            struct tok t = {0};
            if (parse_class(p, n, &i, &t) < 0) {
                free(t.ranges);
                return -1;
            }
            add_tok(pt, t);
            pt->type = M_REGEX;
        } else {
            unsigned r;
            i += rune_at(p + i, n - i, &r);
            add_tok(pt, (struct tok){.kind = T_LIT, .rune = r});
            if (c == ']')
                pt->type = M_REGEX;
        }
    }
    return 0;
}

static bool class_has(const struct tok *t, unsigned r)
{
    bool in = false;
    for (size_t i = 0; i < t->nranges && !in; i++)
        in = r >= t->ranges[i].lo && r <= t->ranges[i].hi;
    return in != t->negate;
}

/* The tokens as the regular expression docker makes of them, anchored at
 * both ends; run as an NFA: state 2k is "at token k", 2k+1 is "inside the
 * (.*\/)? of token k". */
static bool regex_match(const struct pattern *pt, const char *path, size_t len)
{
    size_t m = pt->ntoks, ns = 2 * (m + 1);
    /* small paths and patterns need no allocation: this runs for every
     * file of a context */
    unsigned sbuf[512];
    bool sstate[2][130];
    unsigned *s = len <= 512 ? sbuf : malloc(len * sizeof *s);
    bool *cur = ns <= 130 ? sstate[0] : calloc(ns, sizeof *cur);
    bool *nxt = ns <= 130 ? sstate[1] : calloc(ns, sizeof *nxt);
    if (!s || !cur || !nxt)
        abort();
    size_t n = decode(path, len, s);
    memset(cur, 0, ns * sizeof *cur);
    cur[0] = true;
    for (size_t i = 0;; i++) {
        for (size_t k = 0; k < m; k++)           /* the empty moves, forward only */
            if (cur[2 * k] && (pt->toks[k].kind == T_STAR || pt->toks[k].kind == T_DSTAR_END ||
                               pt->toks[k].kind == T_DSTAR_SLASH))
                cur[2 * (k + 1)] = true;
        if (i == n)
            break;
        unsigned c = s[i];
        memset(nxt, 0, ns * sizeof *nxt);
        bool any = false;
        for (size_t k = 0; k < m; k++) {
            const struct tok *t = &pt->toks[k];
            if (cur[2 * k]) {
                switch (t->kind) {
                case T_LIT:
                    nxt[2 * (k + 1)] |= c == t->rune;
                    break;
                case T_ANY:
                    nxt[2 * (k + 1)] |= c != '/';
                    break;
                case T_CLASS:
                    nxt[2 * (k + 1)] |= class_has(t, c);
                    break;
                case T_STAR:
                    nxt[2 * k] |= c != '/';
                    break;
                case T_DSTAR_END:
                    nxt[2 * k] = true;
                    break;
                case T_DSTAR_SLASH:
                    nxt[2 * k + 1] = true;
                    nxt[2 * (k + 1)] |= c == '/';
                    break;
                }
            }
            if (cur[2 * k + 1]) {
                nxt[2 * k + 1] = true;
                nxt[2 * (k + 1)] |= c == '/';
            }
        }
        for (size_t k = 0; k < ns; k++)
            any |= nxt[k];
        bool *tmp = cur;
        cur = nxt;
        nxt = tmp;
        if (!any)
            break;
    }
    bool ok = cur[2 * m];               /* false too when it stopped early */
    if (s != sbuf)
        free(s);
    if (ns > 130) {
        free(cur);
        free(nxt);
    }
    return ok;
}

/* Does the pattern match path[0..pl)? */
static bool pattern_match(const struct pattern *pt, const char *path, size_t pl)
{
    size_t cl = strlen(pt->clean);
    switch (pt->type) {
    case M_EXACT:
        return pl == cl && memcmp(path, pt->clean, pl) == 0;
    case M_PREFIX:
        return pl >= cl - 2 && memcmp(path, pt->clean, cl - 2) == 0;
    case M_SUFFIX: {
        const char *suf = pt->clean + 2;
        size_t sl = cl - 2;
        if (pl >= sl && memcmp(path + pl - sl, suf, sl) == 0)
            return true;
        return suf[0] == '/' && pl == sl - 1 && memcmp(path, suf + 1, pl) == 0;
    }
    case M_REGEX:
        break;
    }
    return regex_match(pt, path, pl);
}

/* ---- the file ------------------------------------------------------------------------- */

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t' || **s == '\r' || **s == '\v' || **s == '\f')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' ||
                      (*s)[*n - 1] == '\v' || (*s)[*n - 1] == '\f'))
        (*n)--;
}

void df_ignore_free(struct df_ignore *ig)
{
    if (!ig)
        return;
    for (size_t i = 0; i < ig->n; i++) {
        free(ig->v[i].clean);
        for (size_t k = 0; k < ig->v[i].ntoks; k++)
            free(ig->v[i].toks[k].ranges);
        free(ig->v[i].toks);
    }
    free(ig->v);
    free(ig);
}

static int add_pattern(struct df_ignore *ig, const char *line, size_t n, int lineno,
                       struct berr *err)
{
    bool exception = n > 0 && line[0] == '!';
    if (exception) {
        line++;
        n--;
        trim(&line, &n);
    }
    if (n == 0 && exception)
        return berr_set(err, BERR_INVALID, ".dockerignore:%d: illegal exclusion pattern: \"!\"",
                        lineno);
    char *raw = strndup(line, n);
    if (!raw)
        abort();
    char *clean = df_clean_path(raw);
    free(raw);
    if (strlen(clean) > 1 && clean[0] == '/')
        memmove(clean, clean + 1, strlen(clean));
    struct pattern *nv = realloc(ig->v, (ig->n + 1) * sizeof *nv);
    if (!nv)
        abort();
    ig->v = nv;
    struct pattern *pt = &ig->v[ig->n++];
    memset(pt, 0, sizeof *pt);
    pt->clean = clean;
    pt->exception = exception;
    ig->exceptions |= exception;
    if (compile(pt) < 0)
        return berr_set(err, BERR_INVALID, ".dockerignore:%d: syntax error in pattern", lineno);
    return 0;
}

int df_ignore_parse(const char *text, size_t len, struct df_ignore **out, struct berr *err)
{
    struct df_ignore *ig = calloc(1, sizeof *ig);
    if (!ig)
        abort();
    const char *p = text, *end = text + len;
    int lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *line = p;
        size_t n = (size_t)(e - p);
        p = nl ? nl + 1 : end;
        if (lineno++ == 0 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
            line += 3;
            n -= 3;
        }
        trim(&line, &n);
        if (n == 0 || line[0] == '#')
            continue;
        if (add_pattern(ig, line, n, lineno, err) < 0) {
            df_ignore_free(ig);
            return -BERR_INVALID;
        }
    }
    *out = ig;
    return 0;
}

/* docker's MatchesOrParentMatches */
bool df_ignore_match(const struct df_ignore *ig, const char *path)
{
    if (!ig || !path || !*path || strcmp(path, ".") == 0)
        return false;
    const char *slash = strrchr(path, '/');
    bool matched = false;
    for (size_t i = 0; i < ig->n; i++) {
        const struct pattern *pt = &ig->v[i];
        if (pt->exception != matched)
            continue;
        bool m = pattern_match(pt, path, strlen(path));
        /* the parent directories, shortest first */
        for (const char *q = path; !m && slash && q <= slash; q++)
            if (*q == '/')
                m = pattern_match(pt, path, (size_t)(q - path));
        if (m)
            matched = !pt->exception;
    }
    return matched;
}

bool df_ignore_may_reinclude(const struct df_ignore *ig, const char *dir)
{
    if (!ig || !ig->exceptions)
        return false;
    for (size_t i = 0; i < ig->n; i++) {
        const struct pattern *pt = &ig->v[i];
        if (!pt->exception)
            continue;
        /* walk the pattern's segments along the directory's */
        const char *ps = pt->clean, *ds = dir;
        bool possible = true;
        while (*ds && possible) {
            const char *pe = strchr(ps, '/'), *de = strchr(ds, '/');
            size_t pl = pe ? (size_t)(pe - ps) : strlen(ps);
            size_t dl = de ? (size_t)(de - ds) : strlen(ds);
            char *pseg = strndup(ps, pl), *dseg = strndup(ds, dl);
            if (!pseg || !dseg)
                abort();
            if (strstr(pseg, "**")) {
                free(pseg);
                free(dseg);
                return true;
            }
            possible = *ps && fnmatch(pseg, dseg, 0) != FNM_NOMATCH;
            free(pseg);
            free(dseg);
            ds = de ? de + 1 : ds + dl;
            ps = pe ? pe + 1 : ps + pl;
            if (possible && !pe && *ds)
                possible = false;            /* the pattern ends above the directory */
        }
        if (possible)
            return true;
    }
    return false;
}
