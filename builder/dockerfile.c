/*
 * dockerfile.c - the Dockerfile, parsed as docker's parser does.
 *
 * Two passes, as in docker. The first turns the text into logical lines:
 * parser directives (`# escape=`, `# syntax=`) are read only before
 * anything else (a blank line, a comment that is not a directive or an
 * instruction ends them); a line ending in the escape character (spaces
 * and tabs after it allowed) continues on the next one; comment lines and
 * blank lines inside a continuation are skipped; a line is a comment only
 * when '#' is its first non-blank character. The second pass splits each
 * logical line into its instruction name (any case), its --flags (only
 * before the arguments, checked against what each instruction accepts)
 * and its arguments, in the form each instruction's arguments take
 * (internal.h says which). Nothing is expanded here: variables take the
 * values in effect when the build reaches the instruction.
 *
 * Error messages are docker's, prefixed with the file name and line:
 * "Dockerfile:3: unknown instruction: FROBNICATE".
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    enum df_kind kind;
} instr_names[] = {
    {"from", DF_FROM}, {"run", DF_RUN}, {"cmd", DF_CMD}, {"entrypoint", DF_ENTRYPOINT},
    {"env", DF_ENV}, {"arg", DF_ARG}, {"label", DF_LABEL}, {"maintainer", DF_MAINTAINER},
    {"expose", DF_EXPOSE}, {"workdir", DF_WORKDIR}, {"user", DF_USER}, {"volume", DF_VOLUME},
    {"stopsignal", DF_STOPSIGNAL}, {"shell", DF_SHELL}, {"healthcheck", DF_HEALTHCHECK},
    {"onbuild", DF_ONBUILD}, {"copy", DF_COPY}, {"add", DF_ADD},
};

/* The flags each instruction accepts: 'b' a boolean (--link, --link=true),
 * 's' a string given once, 'S' a string that may be repeated. */
static const struct {
    enum df_kind kind;
    const char *name;
    char type;
} instr_flags[] = {
    {DF_FROM, "platform", 's'},
    {DF_RUN, "mount", 'S'}, {DF_RUN, "network", 's'}, {DF_RUN, "security", 's'},
    {DF_RUN, "device", 'S'},
    {DF_COPY, "from", 's'}, {DF_COPY, "chown", 's'}, {DF_COPY, "chmod", 's'},
    {DF_COPY, "link", 'b'}, {DF_COPY, "parents", 'b'}, {DF_COPY, "exclude", 'S'},
    {DF_ADD, "chown", 's'}, {DF_ADD, "chmod", 's'}, {DF_ADD, "link", 'b'},
    {DF_ADD, "keep-git-dir", 'b'}, {DF_ADD, "checksum", 's'}, {DF_ADD, "exclude", 'S'},
    {DF_HEALTHCHECK, "interval", 's'}, {DF_HEALTHCHECK, "timeout", 's'},
    {DF_HEALTHCHECK, "start-period", 's'}, {DF_HEALTHCHECK, "start-interval", 's'},
    {DF_HEALTHCHECK, "retries", 's'},
};

const char *df_kind_name(enum df_kind k)
{
    static const char *const names[] = {
        "FROM", "RUN", "CMD", "ENTRYPOINT", "ENV", "ARG", "LABEL", "MAINTAINER", "EXPOSE",
        "WORKDIR", "USER", "VOLUME", "STOPSIGNAL", "SHELL", "HEALTHCHECK", "ONBUILD", "COPY",
        "ADD",
    };
    return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

/* docker's reWhitespace: [\t\v\f\r ] (a logical line has no '\n') */
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n';
}

static char *xstrndup(const char *s, size_t n)
{
    char *r = strndup(s, n);
    if (!r)
        abort();
    return r;
}

static char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

static void push_str(char ***v, size_t *n, char *s)
{
    char **nv = realloc(*v, (*n + 2) * sizeof **v);
    if (!nv)
        abort();
    nv[(*n)++] = s;
    nv[*n] = NULL;
    *v = nv;
}

static void instr_clear(struct df_instr *in)
{
    if (!in)
        return;
    free(in->text);
    for (size_t i = 0; i < in->nflags; i++) {
        free(in->flags[i].name);
        free(in->flags[i].value);
    }
    free(in->flags);
    for (size_t i = 0; i < in->nargs; i++)
        free(in->args[i]);
    free(in->args);
    if (in->sub) {
        instr_clear(in->sub);
        free(in->sub);
    }
    memset(in, 0, sizeof *in);
}

void dockerfile_free(struct dockerfile *df)
{
    if (!df)
        return;
    for (size_t i = 0; i < df->n; i++)
        instr_clear(&df->v[i]);
    free(df->v);
    free(df->syntax);
    memset(df, 0, sizeof *df);
}

const char *df_flag(const struct df_instr *in, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < in->nflags; i++)    /* the last one given */
        if (strcmp(in->flags[i].name, name) == 0)
            v = in->flags[i].value;
    return v;
}

/* ---- the arguments of one instruction ---------------------------------------- */

struct pctx {
    const char *file;
    int line;
    char esc;
    struct berr *err;
};

static int perr(const struct pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(const struct pctx *p, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return berr_set(p->err, BERR_INVALID, "%s:%d: %s", p->file, p->line, msg);
}

/* The flags at the start of `line` (words beginning with "--", quotes
 * removed, a backslash escaping the next character, "--" ending them), as
 * docker's extractBuilderFlags; *rest gets what follows them. */
static void split_flags(const char *line, char ***flags, size_t *nflags, const char **rest)
{
    size_t pos = 0, len = strlen(line);
    for (;;) {
        while (pos < len && is_ws(line[pos]))
            pos++;
        if (pos >= len || line[pos] != '-' || pos + 1 >= len || line[pos + 1] != '-') {
            *rest = line + pos;
            return;
        }
        char *w = malloc(len - pos + 1);
        if (!w)
            abort();
        size_t wl = 0;
        char quote = 0;
        bool blank_ok = false;
        for (; pos < len; pos++) {
            char c = line[pos];
            if (!quote && is_ws(c))
                break;
            if (!quote && (c == '\'' || c == '"')) {
                quote = c;
                blank_ok = true;
                continue;
            }
            if (quote && c == quote) {
                quote = 0;
                continue;
            }
            if (c == '\\') {
                if (pos + 1 == len)
                    continue;
                c = line[++pos];
            }
            w[wl++] = c;
        }
        w[wl] = '\0';
        if (strcmp(w, "--") == 0) {
            free(w);
            *rest = line + pos;
            return;
        }
        if (blank_ok || wl > 0)
            push_str(flags, nflags, w);
        else
            free(w);
    }
}

/* Check the flags against what the instruction accepts; keep them. */
static int take_flags(const struct pctx *p, struct df_instr *in, char **words, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *arg = words[i] + 2;
        const char *eq = strchr(arg, '=');
        size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
        char type = 0;
        const char *fname = NULL;
        for (size_t k = 0; k < sizeof instr_flags / sizeof *instr_flags; k++)
            if (instr_flags[k].kind == in->kind && strlen(instr_flags[k].name) == nl &&
                memcmp(instr_flags[k].name, arg, nl) == 0) {
                type = instr_flags[k].type;
                fname = instr_flags[k].name;
            }
        if (!type)
            return perr(p, "Unknown flag: %.*s", (int)nl, arg);
        if (type != 'S' && df_flag(in, fname))
            return perr(p, "Duplicate flag specified: %s", fname);
        const char *value = eq ? eq + 1 : "";
        if (type == 'b') {
            if (eq && !*value)
                return perr(p, "Missing a value on flag: %s", fname);
            if (*value && strcasecmp(value, "true") != 0 && strcasecmp(value, "false") != 0)
                return perr(p, "Expecting boolean value for flag %s, not: %s", fname, value);
        } else if (!eq) {
            return perr(p, "Missing a value on flag: %s", fname);
        }
        struct df_flag *nf = realloc(in->flags, (in->nflags + 1) * sizeof *nf);
        if (!nf)
            abort();
        in->flags = nf;
        in->flags[in->nflags].name = xstrdup(fname);
        in->flags[in->nflags].value = xstrdup(value);
        in->nflags++;
    }
    return 0;
}

/* A JSON array of strings: 1 (args set), 0 not JSON (shell form), or an
 * error for an array with something else in it. */
static int parse_json(const struct pctx *p, const char *rest, struct df_instr *in)
{
    while (is_ws(*rest))
        rest++;
    if (*rest != '[')
        return 0;
    json_t *a = json_loads(rest, 0, NULL);
    if (!a || !json_is_array(a)) {
        json_decref(a);
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) {
            json_decref(a);
            return perr(p, "when using JSON array syntax, arrays must be comprised of strings "
                           "only");
        }
    }
    json_array_foreach(a, i, v)
        push_str(&in->args, &in->nargs, xstrdup(json_string_value(v)));
    json_decref(a);
    in->json = true;
    return 1;
}

/* Count the words of `s` split at white space (docker's reWhitespace). */
static size_t count_ws_words(const char *s, char ***out)
{
    size_t n = 0;
    const char *q = s;
    while (*q) {
        while (is_ws(*q))
            q++;
        if (!*q)
            break;
        const char *b = q;
        while (*q && !is_ws(*q))
            q++;
        if (out)
            push_str(out, &n, xstrndup(b, (size_t)(q - b)));
        else
            n++;
    }
    return n;
}

/* docker's parseWords: words at unquoted white space, quotes and escapes
 * kept (they are processed when the word is expanded). */
static void parse_words(const char *rest, char esc, char ***out, size_t *n)
{
    size_t len = strlen(rest);
    char *w = malloc(len + 1);
    if (!w)
        abort();
    size_t wl = 0;
    enum { SPACES, WORD, QUOTE } phase = SPACES;
    char quote = 0;
    bool blank_ok = false;
    for (size_t pos = 0; pos <= len; pos++) {
        char c = pos < len ? rest[pos] : 0;
        if (phase == SPACES) {
            if (pos == len)
                break;
            if (is_ws(c))
                continue;
            phase = WORD;
        }
        if (pos == len) {
            if (blank_ok || wl > 0)
                push_str(out, n, xstrndup(w, wl));
            break;
        }
        if (phase == WORD) {
            if (is_ws(c)) {
                phase = SPACES;
                if (blank_ok || wl > 0)
                    push_str(out, n, xstrndup(w, wl));
                wl = 0;
                blank_ok = false;
                continue;
            }
            if (c == '\'' || c == '"') {
                quote = c;
                blank_ok = true;
                phase = QUOTE;
            }
            if (c == esc) {
                if (pos + 1 == len)
                    continue;
                w[wl++] = c;
                c = rest[++pos];
            }
            w[wl++] = c;
            continue;
        }
        /* QUOTE */
        if (c == quote)
            phase = WORD;
        if (c == esc && quote != '\'') {
            if (pos + 1 == len) {
                phase = WORD;
                continue;
            }
            w[wl++] = c;
            c = rest[++pos];
        }
        w[wl++] = c;
    }
    free(w);
}

static void free_words(char **w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

/* ENV and LABEL: "K=V K2=V2..." or the legacy "K V W" (one pair). */
static int parse_name_val(const struct pctx *p, const char *rest, struct df_instr *in,
                          const char *what)
{
    char **words = NULL;
    size_t n = 0;
    parse_words(rest, p->esc, &words, &n);
    if (n == 0) {
        free_words(words, n);
        return perr(p, "%s requires at least one argument", what);
    }
    if (!strchr(words[0], '=')) {
        free_words(words, n);
        const char *k = rest;
        while (*k && !is_ws(*k))
            k++;
        const char *v = k;
        while (is_ws(*v))
            v++;
        if (!*k)
            return perr(p, "%s must have two arguments", what);
        push_str(&in->args, &in->nargs, xstrndup(rest, (size_t)(k - rest)));
        push_str(&in->args, &in->nargs, xstrdup(v));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(words[i], '=');
        if (!eq) {
            int rc = perr(p, "Syntax error - can't find = in \"%s\". Must be of the form: "
                             "name=value", words[i]);
            free_words(words, n);
            return rc;
        }
        if (eq == words[i]) {
            free_words(words, n);
            return perr(p, "%s names can not be blank", what);
        }
        push_str(&in->args, &in->nargs, xstrndup(words[i], (size_t)(eq - words[i])));
        push_str(&in->args, &in->nargs, xstrdup(eq + 1));
    }
    free_words(words, n);
    return 0;
}

static int parse_arg(const struct pctx *p, const char *rest, struct df_instr *in)
{
    char **words = NULL;
    size_t n = 0;
    parse_words(rest, p->esc, &words, &n);
    if (n == 0) {
        free_words(words, n);
        return perr(p, "ARG requires at least one argument");
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *eq = strchr(words[i], '=');
        if (eq == words[i]) {
            rc = perr(p, "ARG names can not be blank");
            break;
        }
        /* args[] is NULL-terminated for the others; ARG's may hold NULL
         * defaults, so nargs is what counts */
        push_str(&in->args, &in->nargs, eq ? xstrndup(words[i], (size_t)(eq - words[i]))
                                           : xstrdup(words[i]));
        push_str(&in->args, &in->nargs, eq ? xstrdup(eq + 1) : NULL);
    }
    free_words(words, n);
    return rc;
}

static bool stage_name_valid(const char *s)
{
    if (!(*s >= 'a' && *s <= 'z'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return false;
    return true;
}

static int parse_from(const struct pctx *p, const char *rest, struct df_instr *in)
{
    char **w = NULL;
    size_t n = count_ws_words(rest, &w);
    int rc = 0;
    if (n == 3 && strcasecmp(w[1], "as") == 0) {
        char *lower = xstrdup(w[2]);
        for (char *c = lower; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!stage_name_valid(lower))
            rc = perr(p, "invalid name for build stage: \"%s\", name can't start with a number "
                         "or contain symbols", w[2]);
        free(lower);
    } else if (n != 1) {
        rc = perr(p, "FROM requires either one or three arguments");
    }
    free_words(w, n);
    if (rc == 0)
        push_str(&in->args, &in->nargs, xstrdup(rest));
    return rc;
}

/* Go's time.ParseDuration; nanoseconds. */
int df_parse_duration(const char *s, int64_t *ns)
{
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (!*s)
        return -1;
    long double total = 0;
    while (*s) {
        if (!(*s == '.' || (*s >= '0' && *s <= '9')))
            return -1;
        long double v = 0;
        bool digits = false;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (*s++ - '0');
            digits = true;
        }
        if (*s == '.') {
            s++;
            long double scale = 1;
            while (*s >= '0' && *s <= '9') {
                scale /= 10;
                v += (*s++ - '0') * scale;
                digits = true;
            }
        }
        if (!digits)
            return -1;
        const char *u = s;
        while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
            s++;
        size_t ul = (size_t)(s - u);
        long double unit;
        if (ul == 0)
            return -2;                       /* missing unit */
        else if (ul == 2 && memcmp(u, "ns", 2) == 0)
            unit = 1;
        else if ((ul == 2 && memcmp(u, "us", 2) == 0) ||
                 (ul == 3 && (memcmp(u, "\xc2\xb5s", 3) == 0 || memcmp(u, "\xce\xbcs", 3) == 0)))
            unit = 1e3;
        else if (ul == 2 && memcmp(u, "ms", 2) == 0)
            unit = 1e6;
        else if (ul == 1 && *u == 's')
            unit = 1e9;
        else if (ul == 1 && *u == 'm')
            unit = 60e9;
        else if (ul == 1 && *u == 'h')
            unit = 3600e9;
        else
            return -3;                       /* unknown unit */
        total += v * unit;
        if (total > 9.2233720368547758e18L)
            return -1;
    }
    *ns = (int64_t)(neg ? -total : total);
    return 0;
}

static int check_duration_flag(const struct pctx *p, const struct df_instr *in, const char *name)
{
    const char *v = df_flag(in, name);
    if (!v || !*v)
        return 0;
    int64_t ns;
    int rc = df_parse_duration(v, &ns);
    if (rc == -2)
        return perr(p, "time: missing unit in duration \"%s\"", v);
    if (rc == -3)
        return perr(p, "time: unknown unit in duration \"%s\"", v);
    if (rc < 0)
        return perr(p, "time: invalid duration \"%s\"", v);
    if (ns != 0 && ns < 1000000)
        return perr(p, "Interval \"%s\" cannot be less than 1ms", name);
    return 0;
}

static int parse_healthcheck(const struct pctx *p, const char *rest, struct df_instr *in)
{
    size_t sep = 0;
    while (rest[sep] && !is_ws(rest[sep]))
        sep++;
    if (sep == 0)
        return perr(p, "HEALTHCHECK requires at least one argument");
    const char *cmd = rest + sep;
    while (is_ws(*cmd))
        cmd++;
    char typ[16];
    size_t tl = sep < sizeof typ - 1 ? sep : sizeof typ - 1;
    for (size_t i = 0; i < tl; i++)
        typ[i] = (char)toupper((unsigned char)rest[i]);
    typ[tl] = '\0';
    if (sep == 4 && strcmp(typ, "NONE") == 0) {
        if (*cmd)
            return perr(p, "HEALTHCHECK NONE takes no arguments");
        return 0;
    }
    int rc;
    if (sep != 3 || strcmp(typ, "CMD") != 0)
        return perr(p, "Unknown type \"%s\" in HEALTHCHECK (try CMD)", typ);
    if ((rc = parse_json(p, cmd, in)) < 0)
        return rc;
    if (rc == 0 && *cmd)
        push_str(&in->args, &in->nargs, xstrdup(cmd));
    if (in->nargs == 0)
        return perr(p, "Missing command after HEALTHCHECK CMD");
    const char *durs[] = {"interval", "timeout", "start-period", "start-interval"};
    for (size_t i = 0; i < 4; i++)
        if ((rc = check_duration_flag(p, in, durs[i])) < 0)
            return rc;
    const char *r = df_flag(in, "retries");
    if (r && *r) {
        char *end;
        long long v = strtoll(r, &end, 10);
        if (*end || end == r || v > 2147483647LL || v < -2147483648LL)
            return perr(p, "strconv.ParseInt: parsing \"%s\": invalid syntax", r);
        if (v < 0)
            return perr(p, "--retries cannot be negative (%lld)", v);
    }
    return 0;
}

static int parse_instr(const struct pctx *p, const char *line, struct df_instr *in);

static int parse_onbuild(const struct pctx *p, const char *rest, const char *text,
                         struct df_instr *in)
{
    if (!*rest)
        return perr(p, "ONBUILD requires at least one argument");
    size_t wl = 0;
    while (rest[wl] && !is_ws(rest[wl]))
        wl++;
    if (wl == 7 && strncasecmp(rest, "ONBUILD", 7) == 0)
        return perr(p, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if ((wl == 4 && strncasecmp(rest, "FROM", 4) == 0) ||
        (wl == 10 && strncasecmp(rest, "MAINTAINER", 10) == 0)) {
        char up[11];
        for (size_t i = 0; i < wl; i++)
            up[i] = (char)toupper((unsigned char)rest[i]);
        up[wl] = '\0';
        return perr(p, "%s isn't allowed as an ONBUILD trigger", up);
    }
    in->sub = calloc(1, sizeof *in->sub);
    if (!in->sub)
        abort();
    int rc = parse_instr(p, rest, in->sub);
    if (rc < 0)
        return rc;
    /* the trigger as docker records it: the text without "ONBUILD" and
     * the white space after it */
    const char *t = text;
    while (is_ws(*t))
        t++;
    t += 7;
    while (is_ws(*t))
        t++;
    free(in->sub->text);
    in->sub->text = xstrdup(t);
    push_str(&in->args, &in->nargs, xstrdup(t));
    return 0;
}

static int parse_args(const struct pctx *p, const char *rest, const char *text,
                      struct df_instr *in)
{
    int rc;
    switch (in->kind) {
    case DF_FROM:
        return parse_from(p, rest, in);
    case DF_RUN:
    case DF_CMD:
    case DF_ENTRYPOINT:
    case DF_SHELL:
        if (*rest && (rc = parse_json(p, rest, in)) != 0) {
            if (rc < 0)
                return rc;
        } else if (*rest) {
            push_str(&in->args, &in->nargs, xstrdup(rest));
        }
        if (in->kind == DF_SHELL) {
            if (in->nargs == 0)
                return perr(p, "SHELL requires at least one argument");
            if (!in->json)
                return perr(p, "SHELL requires the arguments to be in JSON form");
        }
        return 0;
    case DF_ENV:
        return parse_name_val(p, rest, in, "ENV");
    case DF_LABEL:
        return parse_name_val(p, rest, in, "LABEL");
    case DF_ARG:
        return parse_arg(p, rest, in);
    case DF_MAINTAINER:
    case DF_STOPSIGNAL:
    case DF_USER:
    case DF_WORKDIR:
        if (!*rest)
            return perr(p, "%s requires exactly one argument", df_kind_name(in->kind));
        push_str(&in->args, &in->nargs, xstrdup(rest));
        return 0;
    case DF_EXPOSE:
        if (!*rest)
            return perr(p, "EXPOSE requires at least one argument");
        push_str(&in->args, &in->nargs, xstrdup(rest));
        return 0;
    case DF_VOLUME:
        if ((rc = parse_json(p, rest, in)) < 0)
            return rc;
        if (rc == 0 && *rest)
            push_str(&in->args, &in->nargs, xstrdup(rest));
        if (in->nargs == 0)
            return perr(p, "VOLUME requires at least one argument");
        for (size_t i = 0; in->json && i < in->nargs; i++) {
            const char *v = in->args[i];
            while (is_ws(*v))
                v++;
            if (!*v)
                return perr(p, "VOLUME specified can not be an empty string");
        }
        return 0;
    case DF_COPY:
    case DF_ADD:
        if ((rc = parse_json(p, rest, in)) < 0)
            return rc;
        if (rc == 0)
            push_str(&in->args, &in->nargs, xstrdup(rest));
        if ((in->json ? in->nargs : count_ws_words(rest, NULL)) < 2)
            return perr(p, "%s requires at least two arguments, but only one was provided. "
                           "Destination could not be determined", df_kind_name(in->kind));
        return 0;
    case DF_HEALTHCHECK:
        return parse_healthcheck(p, rest, in);
    case DF_ONBUILD:
        return parse_onbuild(p, rest, text, in);
    }
    return perr(p, "unknown instruction");
}

/* One logical line into `in`. */
static int parse_instr(const struct pctx *p, const char *line, struct df_instr *in)
{
    while (is_ws(*line))
        line++;
    size_t tl = strlen(line);
    while (tl > 0 && is_ws(line[tl - 1]))
        tl--;
    in->text = xstrndup(line, tl);
    in->line = p->line;
    in->escape = p->esc;

    const char *name = in->text;
    size_t nl = 0;
    while (name[nl] && !is_ws(name[nl]))
        nl++;
    bool found = false;
    for (size_t i = 0; i < sizeof instr_names / sizeof *instr_names; i++)
        if (strlen(instr_names[i].name) == nl && strncasecmp(instr_names[i].name, name, nl) == 0) {
            in->kind = instr_names[i].kind;
            found = true;
        }
    if (!found) {
        char up[64];
        size_t n = nl < sizeof up - 1 ? nl : sizeof up - 1;
        for (size_t i = 0; i < n; i++)
            up[i] = (char)toupper((unsigned char)name[i]);
        up[n] = '\0';
        return perr(p, "unknown instruction: %s", up);
    }

    char **fw = NULL;
    size_t nfw = 0;
    const char *rest;
    split_flags(name + nl, &fw, &nfw, &rest);
    while (is_ws(*rest))
        rest++;
    char *args = xstrdup(rest);
    size_t al = strlen(args);
    while (al > 0 && is_ws(args[al - 1]))
        args[--al] = '\0';

    int rc = 0;
    /* HEALTHCHECK NONE never looks at its flags (as docker) */
    bool hc_none = false;
    if (in->kind == DF_HEALTHCHECK) {
        hc_none = strncasecmp(args, "NONE", 4) == 0 && (!args[4] || is_ws(args[4]));
    }
    if (!hc_none)
        rc = take_flags(p, in, fw, nfw);
    free_words(fw, nfw);
    if (rc == 0)
        rc = parse_args(p, args, in->text, in);
    free(args);
    return rc;
}

/* ---- the first pass: logical lines -------------------------------------------- */

struct scan {
    const char *p, *end;
    int lineno;
};

/* The next physical line, '\r' before the '\n' dropped (as bufio.ScanLines). */
static bool next_line(struct scan *s, const char **line, size_t *len)
{
    if (s->p >= s->end)
        return false;
    const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
    const char *e = nl ? nl : s->end;
    *line = s->p;
    *len = (size_t)(e - s->p);
    if (*len > 0 && (*line)[*len - 1] == '\r')
        (*len)--;
    if (s->lineno == 0 && *len >= 3 && memcmp(*line, "\xef\xbb\xbf", 3) == 0) {
        *line += 3;
        *len -= 3;
    }
    s->p = nl ? nl + 1 : s->end;
    s->lineno++;
    return true;
}

static bool is_comment(const char *l, size_t n)
{
    size_t i = 0;
    while (i < n && is_ws(l[i]))
        i++;
    return i < n && l[i] == '#';
}

static bool is_blank(const char *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_ws(l[i]))
            return false;
    return true;
}

struct directives {
    bool done, seen_escape, seen_syntax;
    char escape;
    char *syntax;
};

/* docker's possibleParserDirective: `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
 * on the line without its leading white space. */
static int directive(struct directives *d, const char *l, size_t n, const struct pctx *p)
{
    if (d->done)
        return 0;
    size_t i = 0;
    while (i < n && is_ws(l[i]))
        i++;
    if (i >= n || l[i] != '#') {
        d->done = true;
        return 0;
    }
    i++;
    while (i < n && is_ws(l[i]))
        i++;
    size_t k0 = i;
    if (i >= n || !isalpha((unsigned char)l[i])) {
        d->done = true;
        return 0;
    }
    while (i < n && isalnum((unsigned char)l[i]))
        i++;
    size_t k1 = i;
    while (i < n && is_ws(l[i]))
        i++;
    if (i >= n || l[i] != '=') {
        d->done = true;
        return 0;
    }
    i++;
    while (i < n && is_ws(l[i]))
        i++;
    size_t v0 = i, v1 = n;
    while (v1 > v0 && is_ws(l[v1 - 1]))
        v1--;
    if (v1 == v0) {
        d->done = true;
        return 0;
    }
    size_t kl = k1 - k0;
    bool esc = kl == 6 && strncasecmp(l + k0, "escape", 6) == 0;
    bool syn = kl == 6 && strncasecmp(l + k0, "syntax", 6) == 0;
    if (!esc && !syn) {
        d->done = true;
        return 0;
    }
    if ((esc && d->seen_escape) || (syn && d->seen_syntax))
        return perr(p, "only one %s parser directive can be used", esc ? "escape" : "syntax");
    if (syn) {
        d->seen_syntax = true;
        free(d->syntax);
        d->syntax = xstrndup(l + v0, v1 - v0);
        return 0;
    }
    d->seen_escape = true;
    if (v1 - v0 != 1 || (l[v0] != '`' && l[v0] != '\\'))
        return perr(p, "invalid escape token '%.*s' does not match ` or \\", (int)(v1 - v0),
                    l + v0);
    d->escape = l[v0];
    return 0;
}

/* Strip the escape character (and spaces and tabs after it) at the end of
 * the line: true when it was there (the line continues). */
static bool continues(const char *l, size_t *n, char esc)
{
    size_t e = *n;
    while (e > 0 && (l[e - 1] == ' ' || l[e - 1] == '\t'))
        e--;
    if (e > 0 && l[e - 1] == esc) {
        *n = e - 1;
        return true;
    }
    return false;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        char *nb = realloc(*buf, *cap);
        if (!nb)
            abort();
        *buf = nb;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static int add_instr(struct dockerfile *df, const struct pctx *p, const char *line)
{
    struct df_instr *nv = realloc(df->v, (df->n + 1) * sizeof *nv);
    if (!nv)
        abort();
    df->v = nv;
    struct df_instr *in = &df->v[df->n];
    memset(in, 0, sizeof *in);
    df->n++;
    return parse_instr(p, line, in);
}

static int parse_text(const char *text, size_t len, const char *filename, struct dockerfile *out,
                      struct berr *err)
{
    memset(out, 0, sizeof *out);
    struct directives d = {.escape = '\\'};
    struct scan s = {.p = text, .end = text + len};
    struct pctx p = {.file = filename ? filename : "Dockerfile", .err = err};
    const char *l;
    size_t n;
    char *buf = NULL;
    size_t blen = 0, cap = 0;
    int rc = 0;

    while (rc == 0 && next_line(&s, &l, &n)) {
        p.line = s.lineno;
        while (n > 0 && is_ws(*l))
            l++, n--;
        if ((rc = directive(&d, l, n, &p)) < 0)
            break;
        if (n > 0 && *l == '#')
            n = 0;                           /* a comment */
        int start = s.lineno;
        bool more = continues(l, &n, d.escape);
        if (!more && n == 0)
            continue;
        blen = 0;
        append(&buf, &blen, &cap, l, n);
        while (more && next_line(&s, &l, &n)) {
            p.line = s.lineno;
            if ((rc = directive(&d, l, n, &p)) < 0)
                break;
            if (is_comment(l, n))
                continue;
            if (is_blank(l, n))
                continue;
            more = continues(l, &n, d.escape);
            append(&buf, &blen, &cap, l, n);
        }
        if (rc < 0)
            break;
        p.line = start;
        p.esc = d.escape;
        rc = add_instr(out, &p, buf);
    }
    free(buf);
    out->escape = d.escape;
    out->syntax = d.syntax;
    if (rc < 0) {
        dockerfile_free(out);
        return rc;
    }
    return 0;
}

int dockerfile_parse(const char *text, size_t len, const char *filename, struct dockerfile *out,
                     struct berr *err)
{
    const char *name = filename ? filename : "Dockerfile";
    int rc = parse_text(text, len, name, out, err);
    if (rc < 0)
        return rc;
    if (out->n == 0) {
        dockerfile_free(out);
        return berr_set(err, BERR_INVALID, "the Dockerfile (%s) cannot be empty", name);
    }
    /* only ARG may come before the first FROM */
    for (size_t i = 0; i < out->n && out->v[i].kind != DF_FROM; i++)
        if (out->v[i].kind != DF_ARG) {
            rc = berr_set(err, BERR_INVALID, "%s:%d: No build stage in current context", name,
                          out->v[i].line);
            dockerfile_free(out);
            return rc;
        }
    return 0;
}

int df_parse_fragment(const char *text, size_t len, const char *filename,
                      struct dockerfile *out, struct berr *err)
{
    return parse_text(text, len, filename ? filename : "Dockerfile", out, err);
}

int df_parse_changes(char *const *changes, size_t n, struct dockerfile *out, struct berr *err)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(changes[i]) + 1;
    char *text = malloc(total);
    if (!text)
        abort();
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(changes[i]);
        memcpy(text + at, changes[i], l);
        at += l;
        text[at++] = '\n';
    }
    text[at] = '\0';
    int rc = parse_text(text, at, "-c", out, err);
    free(text);
    return rc;
}
