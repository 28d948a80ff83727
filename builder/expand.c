/*
 * expand.c - variables, quotes and words in Dockerfile arguments, as
 * docker's shell lexer (buildkit's frontend/dockerfile/shell) does them.
 *
 * One left-to-right scan: '$' starts a substitution ($NAME, ${NAME} and
 * the ${NAME<op>word} forms, where `word` is itself scanned up to the '}'),
 * single quotes keep everything up to the next one, double quotes keep
 * everything but substitutions and the escape character before '"', '$'
 * or itself, and outside quotes the escape character makes the next one
 * literal (an escape at the very end is dropped). The result is kept both
 * as one string (df_expand) and as words split at white space that came
 * from the text or from a substitution, never from inside quotes or an
 * escape (df_words). As in docker, an empty pair of quotes makes no word.
 *
 * Also here: Go's %q quoting, which docker's history texts use.
 */
#include "internal.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

struct sbuf {
    char *p;
    size_t n, cap;
};

static void sb_addn(struct sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np)
            abort();
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_addc(struct sbuf *b, char c)
{
    sb_addn(b, &c, 1);
}

static char *sb_take(struct sbuf *b)
{
    if (!b->p)
        sb_addn(b, "", 0);
    char *r = b->p;
    memset(b, 0, sizeof *b);
    return r;
}

/* ---- words ------------------------------------------------------------------ */

struct words {
    char **v;
    size_t n;
    struct sbuf cur;
    bool in_word;
};

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void w_push(struct words *w)
{
    char **nv = realloc(w->v, (w->n + 2) * sizeof *nv);
    if (!nv)
        abort();
    w->v = nv;
    w->v[w->n++] = sb_take(&w->cur);
    w->v[w->n] = NULL;
}

static void w_raw_char(struct words *w, char c)
{
    if (!w)
        return;
    sb_addc(&w->cur, c);
    w->in_word = true;
}

static void w_char(struct words *w, char c)
{
    if (!w)
        return;
    if (space(c)) {
        if (w->in_word && w->cur.n) {
            w_push(w);
            w->in_word = false;
        }
    } else {
        w_raw_char(w, c);
    }
}

static void w_string(struct words *w, const char *s, size_t n)
{
    for (size_t i = 0; w && i < n; i++)
        w_char(w, s[i]);
}

static void w_raw_string(struct words *w, const char *s, size_t n)
{
    if (!w)
        return;
    sb_addn(&w->cur, s, n);
    w->in_word = true;
}

/* ---- the lexer ----------------------------------------------------------------- */

struct lex {
    const char *s;
    size_t pos, len;
    char esc;
    df_lookup_fn lookup;
    void *arg;
    struct berr *err;
    int depth;                   /* of ${...} inside ${...} */
};

static int peek(const struct lex *lx)
{
    return lx->pos < lx->len ? (unsigned char)lx->s[lx->pos] : -1;
}

static int next(struct lex *lx)
{
    return lx->pos < lx->len ? (unsigned char)lx->s[lx->pos++] : -1;
}

static int lerr(struct lex *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lerr(struct lex *lx, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return berr_set(lx->err, BERR_INVALID, "%s", msg);
}

static int stop_on(struct lex *lx, int stop, bool raw_esc, struct sbuf *res, struct words *w);

static int single_quote(struct lex *lx, struct sbuf *out)
{
    next(lx);
    for (;;) {
        int c = next(lx);
        if (c < 0)
            return lerr(lx, "unexpected end of statement while looking for matching single-quote");
        if (c == '\'')
            return 0;
        sb_addc(out, (char)c);
    }
}

static int dollar(struct lex *lx, struct sbuf *out);

static int double_quote(struct lex *lx, struct sbuf *out)
{
    next(lx);
    for (;;) {
        int c = peek(lx);
        if (c < 0)
            return lerr(lx, "unexpected end of statement while looking for matching double-quote");
        if (c == '"') {
            next(lx);
            return 0;
        }
        if (c == '$') {
            int rc = dollar(lx, out);
            if (rc < 0)
                return rc;
            continue;
        }
        c = next(lx);
        if (c == (unsigned char)lx->esc) {
            int n = peek(lx);
            if (n < 0)
                continue;                    /* dropped at the end of the word */
            if (n == '"' || n == '$' || n == (unsigned char)lx->esc)
                c = next(lx);
        }
        sb_addc(out, (char)c);
    }
}

static bool name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c >= 0x80;
}

static void read_name(struct lex *lx, struct sbuf *name)
{
    int c = peek(lx);
    if (c >= '0' && c <= '9') {
        while ((c = peek(lx)) >= '0' && c <= '9')
            sb_addc(name, (char)next(lx));
        return;
    }
    if (c >= 0 && strchr("@*#?-$!0", c)) {
        sb_addc(name, (char)next(lx));
        return;
    }
    while (name_char(peek(lx)))
        sb_addc(name, (char)next(lx));
}

static const char *getenv_(struct lex *lx, const char *name)
{
    return lx->lookup ? lx->lookup(lx->arg, name) : NULL;
}

/* ${NAME#pat}, ${NAME##pat}, ${NAME%pat}, ${NAME%%pat} */
static void trim_pattern(struct sbuf *out, const char *value, const char *word, int op)
{
    bool greedy = word[0] == op;
    const char *pat = greedy ? word + 1 : word;
    size_t len = strlen(value);
    char *tmp = strdup(value);
    if (!tmp)
        abort();
    for (size_t k = 0; k <= len; k++) {
        /* prefixes: shortest first (or longest first when greedy) */
        size_t i = op == '#' ? (greedy ? len - k : k) : (greedy ? k : len - k);
        int m;
        if (op == '#') {
            char save = tmp[i];
            tmp[i] = '\0';
            m = fnmatch(pat, tmp, 0);
            tmp[i] = save;
            if (m == 0) {
                sb_addn(out, value + i, len - i);
                free(tmp);
                return;
            }
        } else if (fnmatch(pat, value + i, 0) == 0) {
            sb_addn(out, value, i);
            free(tmp);
            return;
        }
    }
    free(tmp);
    sb_addn(out, value, len);
}

static int dollar(struct lex *lx, struct sbuf *out)
{
    next(lx);
    struct sbuf name = {0};
    if (peek(lx) != '{') {
        read_name(lx, &name);
        if (!name.n) {
            sb_addc(out, '$');
        } else {
            const char *v = getenv_(lx, name.p);
            if (v)
                sb_addn(out, v, strlen(v));
        }
        free(name.p);
        return 0;
    }
    next(lx);
    int c = peek(lx);
    if (c < 0)
        return lerr(lx, "syntax error: missing '}'");
    if (c == '{' || c == '}' || c == ':')
        return lerr(lx, "syntax error: bad substitution");
    read_name(lx, &name);
    sb_addn(&name, "", 0);
    int ch = next(lx);
    bool null_unset = false;
    char chs[3] = {(char)ch, 0, 0};
    int rc = 0;
    if (ch == '}') {
        const char *v = getenv_(lx, name.p);
        if (v)
            sb_addn(out, v, strlen(v));
        free(name.p);
        return 0;
    }
    if (ch == ':') {
        null_unset = true;
        ch = next(lx);
        chs[1] = (char)ch;
    }
    if (ch < 0) {
        free(name.p);
        return lerr(lx, "syntax error: missing '}'");
    }
    if (!strchr("+-?#%", ch)) {
        free(name.p);
        return lerr(lx, "unsupported modifier (%s) in substitution", chs);
    }
    struct sbuf word = {0};
    if (++lx->depth > 256) {
        free(name.p);
        return lerr(lx, "syntax error: substitutions nested too deeply");
    }
    rc = stop_on(lx, '}', ch == '#' || ch == '%', &word, NULL);
    lx->depth--;
    if (rc < 0) {
        if (peek(lx) < 0)
            rc = lerr(lx, "syntax error: missing '}'");
        free(word.p);
        free(name.p);
        return rc;
    }
    sb_addn(&word, "", 0);
    const char *v = getenv_(lx, name.p);
    bool empty = !v || (null_unset && !*v);
    switch (ch) {
    case '-':
        if (empty)
            sb_addn(out, word.p, word.n);
        else
            sb_addn(out, v, strlen(v));
        break;
    case '+':
        if (!empty)
            sb_addn(out, word.p, word.n);
        break;
    case '?':
        if (!v)
            rc = lerr(lx, "%s: %s", name.p, word.n ? word.p : "is not allowed to be unset");
        else if (null_unset && !*v)
            rc = lerr(lx, "%s: %s", name.p, word.n ? word.p : "is not allowed to be empty");
        else
            sb_addn(out, v, strlen(v));
        break;
    default:
        trim_pattern(out, v ? v : "", word.p, ch);
        break;
    }
    free(word.p);
    free(name.p);
    return rc;
}

static int stop_on(struct lex *lx, int stop, bool raw_esc, struct sbuf *res, struct words *w)
{
    while (lx->pos < lx->len) {
        int c = peek(lx);
        if (stop >= 0 && c == stop) {
            next(lx);
            return 0;
        }
        if (c == '$' || c == '\'' || c == '"') {
            struct sbuf tmp = {0};
            int rc = c == '$' ? dollar(lx, &tmp)
                     : c == '\'' ? single_quote(lx, &tmp) : double_quote(lx, &tmp);
            if (rc < 0) {
                free(tmp.p);
                return rc;
            }
            sb_addn(res, tmp.p ? tmp.p : "", tmp.n);
            if (c == '$')
                w_string(w, tmp.p, tmp.n);
            else
                w_raw_string(w, tmp.p ? tmp.p : "", tmp.n);
            free(tmp.p);
            continue;
        }
        c = next(lx);
        if (c == (unsigned char)lx->esc) {
            if (raw_esc) {
                w_raw_char(w, (char)c);
                sb_addc(res, (char)c);
            }
            c = next(lx);
            if (c < 0)
                break;
            w_raw_char(w, (char)c);
        } else {
            w_char(w, (char)c);
        }
        sb_addc(res, (char)c);
    }
    if (stop >= 0)
        return lerr(lx, "unexpected end of statement while looking for matching %c", stop);
    return 0;
}

static int process(const char *in, char escape, df_lookup_fn lookup, void *arg, struct sbuf *res,
                   struct words *w, struct berr *err)
{
    struct lex lx = {.s = in, .len = strlen(in), .esc = escape, .lookup = lookup, .arg = arg,
                     .err = err};
    int rc = stop_on(&lx, -1, false, res, w);
    if (rc < 0 && err) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        /* a long source is cut, so that the cause still fits the message */
        size_t cut = strlen(in) > 80 ? 60 : strlen(in);
        while (cut > 0 && cut < strlen(in) && ((unsigned char)in[cut] & 0xc0) == 0x80)
            cut--;
        char *src = strndup(in, cut);
        if (!src)
            abort();
        char *q = df_go_quote(src);
        berr_set(err, BERR_INVALID, "failed to process %s%s: %s", q, in[cut] ? "..." : "", msg);
        free(q);
        free(src);
    }
    return rc;
}

int df_expand(const char *in, char escape, df_lookup_fn lookup, void *arg, char **out,
              struct berr *err)
{
    struct sbuf res = {0};
    int rc = process(in, escape, lookup, arg, &res, NULL, err);
    if (rc < 0) {
        free(res.p);
        return rc;
    }
    *out = sb_take(&res);
    return 0;
}

int df_words(const char *in, char escape, df_lookup_fn lookup, void *arg, char ***out,
             size_t *n, struct berr *err)
{
    struct sbuf res = {0};
    struct words w = {0};
    int rc = process(in, escape, lookup, arg, &res, &w, err);
    free(res.p);
    if (rc == 0 && w.cur.n)
        w_push(&w);
    free(w.cur.p);
    if (rc < 0) {
        df_words_free(w.v);
        return rc;
    }
    if (!w.v) {
        w.v = calloc(1, sizeof *w.v);
        if (!w.v)
            abort();
    }
    *out = w.v;
    if (n)
        *n = w.n;
    return 0;
}

void df_words_free(char **words)
{
    if (!words)
        return;
    for (char **p = words; *p; p++)
        free(*p);
    free(words);
}

/* ---- Go's strconv.Quote ------------------------------------------------------------ */

/* The length of the UTF-8 sequence at s (0: not valid UTF-8) and its rune. */
static size_t utf8_rune(const unsigned char *s, size_t n, unsigned *r)
{
    if (s[0] < 0x80) {
        *r = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (s[0] > 0xf4 || !len || len > n)
        return 0;
    unsigned v = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *r = v;
    return len;
}

/* Go's unicode.IsPrint, near enough: what it refuses among the runes a
 * Dockerfile may hold (controls, format characters, separators other
 * than ' ', private use, noncharacters). */
static bool rune_printable(unsigned r)
{
    if (r < 0x20 || (r >= 0x7f && r <= 0xa0) || r == 0xad)
        return false;
    if ((r >= 0x2000 && r <= 0x200f) || (r >= 0x2028 && r <= 0x202f) ||
        (r >= 0x205f && r <= 0x206f) || r == 0x3000 || r == 0xfeff ||
        (r >= 0xfff9 && r <= 0xfffb) || (r >= 0xe000 && r <= 0xf8ff) ||
        (r & 0xfffe) == 0xfffe || r >= 0xf0000)
        return false;
    return true;
}

static void quote_rune(struct sbuf *b, unsigned r, char q)
{
    char tmp[16];
    switch (r) {
    case '\a': sb_addn(b, "\\a", 2); return;
    case '\b': sb_addn(b, "\\b", 2); return;
    case '\f': sb_addn(b, "\\f", 2); return;
    case '\n': sb_addn(b, "\\n", 2); return;
    case '\r': sb_addn(b, "\\r", 2); return;
    case '\t': sb_addn(b, "\\t", 2); return;
    case '\v': sb_addn(b, "\\v", 2); return;
    case '\\': sb_addn(b, "\\\\", 2); return;
    }
    if (r == (unsigned)q) {
        sb_addc(b, '\\');
        sb_addc(b, q);
    } else if (r < 0x20 || r == 0x7f) {
        snprintf(tmp, sizeof tmp, "\\x%02x", r);
        sb_addn(b, tmp, 4);
    } else if (r < 0x80) {
        sb_addc(b, (char)r);
    } else if (!rune_printable(r)) {
        snprintf(tmp, sizeof tmp, r < 0x10000 ? "\\u%04x" : "\\U%08x", r);
        sb_addn(b, tmp, strlen(tmp));
    } else {
        unsigned char u[4];
        size_t n;
        if (r < 0x800) {
            u[0] = (unsigned char)(0xc0 | r >> 6);
            u[1] = (unsigned char)(0x80 | (r & 0x3f));
            n = 2;
        } else if (r < 0x10000) {
            u[0] = (unsigned char)(0xe0 | r >> 12);
            u[1] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
            u[2] = (unsigned char)(0x80 | (r & 0x3f));
            n = 3;
        } else {
            u[0] = (unsigned char)(0xf0 | r >> 18);
            u[1] = (unsigned char)(0x80 | ((r >> 12) & 0x3f));
            u[2] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
            u[3] = (unsigned char)(0x80 | (r & 0x3f));
            n = 4;
        }
        sb_addn(b, (char *)u, n);
    }
}

char *df_go_quote(const char *s)
{
    struct sbuf b = {0};
    sb_addc(&b, '"');
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        unsigned r;
        size_t l = utf8_rune(p, n, &r);
        if (!l) {
            char tmp[8];
            snprintf(tmp, sizeof tmp, "\\x%02x", *p);
            sb_addn(&b, tmp, 4);
            l = 1;
        } else {
            quote_rune(&b, r, '"');
        }
        p += l;
        n -= l;
    }
    sb_addc(&b, '"');
    return sb_take(&b);
}

char *df_go_quote_rune(long long r)
{
    struct sbuf b = {0};
    sb_addc(&b, '\'');
    if (r < 0 || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
        r = 0xfffd;
    quote_rune(&b, (unsigned)r, '\'');
    sb_addc(&b, '\'');
    return sb_take(&b);
}
