/*
 * template.c - a small Go text/template engine over jansson values (see
 * template.h): a lexer that cuts the text into tokens, a recursive parser
 * into a tree of nodes, and an evaluator that walks it. Limits keep hostile
 * templates harmless: nesting depth, output size, a parse error for what is
 * not supported, never a crash.
 */
#include "template.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 100
#define MAX_OUTPUT (16u << 20)

/* ---- lexer ------------------------------------------------------------------------- */

enum tok { T_EOF, T_TEXT, T_LEFT, T_RIGHT, T_FIELD, T_IDENT, T_VAR, T_STRING, T_NUMBER,
           T_PIPE, T_LPAREN, T_RPAREN, T_DECL, T_ASSIGN, T_COMMA, T_DOT, T_SPACE };

struct token {
    enum tok kind;
    char *s;     /* text, name, unquoted string, number text */
    size_t len;
    int line;
};

struct lexer {
    const char *src;
    size_t pos;
    int line;
    struct token *toks;
    size_t n, cap;
    struct berr *err;
};

static int lex_err(struct lexer *l, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return berr_set(l->err, BERR_INVALID, "template: :%d: %s", l->line, msg);
}

static int emit(struct lexer *l, enum tok kind, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct token *t = realloc(l->toks, cap * sizeof *t);
        if (!t)
            return lex_err(l, "out of memory");
        l->toks = t, l->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return lex_err(l, "out of memory");
    memcpy(copy, s, len);
    copy[len] = 0;
    l->toks[l->n++] = (struct token){kind, copy, len, l->line};
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_alnum(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int count_lines(const char *s, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n';
    return k;
}

/* A quoted string: its value, with Go's escapes, into a token. */
static int lex_quoted(struct lexer *l)
{
    const char *s = l->src;
    size_t i = l->pos + 1;
    char *buf = malloc(strlen(s + i) * 4 + 1);
    size_t n = 0;
    if (!buf)
        return lex_err(l, "out of memory");
    for (;; i++) {
        char c = s[i];
        if (c == 0 || c == '\n') {
            free(buf);
            return lex_err(l, "unterminated quoted string");
        }
        if (c == '"')
            break;
        if (c != '\\') {
            buf[n++] = c;
            continue;
        }
        c = s[++i];
        const char *esc = "n\nt\tr\r\\\\\"\"''a\ab\bf\fv\v", *e;
        for (e = esc; *e && *e != c; e += 2)
            ;
        if (c && *e) {
            buf[n++] = e[1];
            continue;
        }
        int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
        unsigned long v = 0;
        if (c >= '0' && c <= '7') {
            for (int k = 0; k < 3; k++, i++) {
                if (s[i] < '0' || s[i] > '7') {
                    free(buf);
                    return lex_err(l, "invalid syntax");
                }
                v = v * 8 + (unsigned long)(s[i] - '0');
            }
            i--;
            if (v > 255) {
                free(buf);
                return lex_err(l, "invalid syntax");
            }
            buf[n++] = (char)v;
            continue;
        }
        if (!digits) {
            free(buf);
            return lex_err(l, "invalid syntax");
        }
        for (int k = 0; k < digits; k++) {
            char h = s[++i];
            if (!isxdigit((unsigned char)h)) {
                free(buf);
                return lex_err(l, "invalid syntax");
            }
            v = v * 16 + (unsigned long)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
        }
        if (c == 'x')
            buf[n++] = (char)v;
        else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) {
            free(buf);
            return lex_err(l, "invalid syntax");
        } else if (v < 0x80)
            buf[n++] = (char)v;
        else if (v < 0x800)
            buf[n++] = (char)(0xc0 | v >> 6), buf[n++] = (char)(0x80 | (v & 0x3f));
        else if (v < 0x10000)
            buf[n++] = (char)(0xe0 | v >> 12), buf[n++] = (char)(0x80 | ((v >> 6) & 0x3f)),
            buf[n++] = (char)(0x80 | (v & 0x3f));
        else
            buf[n++] = (char)(0xf0 | v >> 18), buf[n++] = (char)(0x80 | ((v >> 12) & 0x3f)),
            buf[n++] = (char)(0x80 | ((v >> 6) & 0x3f)), buf[n++] = (char)(0x80 | (v & 0x3f));
    }
    l->pos = i + 1;
    int rc = emit(l, T_STRING, buf, n);
    free(buf);
    return rc;
}

/* Inside {{ }}: tokens up to the closing delimiter. */
static int lex_action(struct lexer *l)
{
    const char *s = l->src;
    for (;;) {
        size_t p = l->pos;
        char c = s[p];
        if (c == 0)
            return lex_err(l, "unclosed action");
        if (is_space(c)) {
            size_t q = p;
            while (is_space(s[q]))
                q++;
            if (s[q] == '-' && s[q + 1] == '}' && s[q + 2] == '}') {
                l->line += count_lines(s + p, q - p);
                l->pos = q + 3;
                while (is_space(s[l->pos]))
                    l->line += s[l->pos++] == '\n';
                return emit(l, T_RIGHT, "", 0);
            }
            l->line += count_lines(s + p, q - p);
            l->pos = q;
            if (emit(l, T_SPACE, "", 0) < 0)
                return -1;
            continue;
        }
        if (c == '}' && s[p + 1] == '}') {
            l->pos = p + 2;
            return emit(l, T_RIGHT, "", 0);
        }
        if (c == '"') {
            if (lex_quoted(l) < 0)
                return -1;
            continue;
        }
        if (c == '`') {
            const char *end = strchr(s + p + 1, '`');
            if (!end)
                return lex_err(l, "unterminated raw quoted string");
            if (emit(l, T_STRING, s + p + 1, (size_t)(end - s - p - 1)) < 0)
                return -1;
            l->line += count_lines(s + p, (size_t)(end - s - p));
            l->pos = (size_t)(end - s) + 1;
            continue;
        }
        enum tok single = c == '|' ? T_PIPE : c == '(' ? T_LPAREN : c == ')' ? T_RPAREN
                        : c == ',' ? T_COMMA : c == '=' ? T_ASSIGN : T_EOF;
        if (single != T_EOF) {
            l->pos++;
            if (emit(l, single, s + p, 1) < 0)
                return -1;
            continue;
        }
        if (c == ':' && s[p + 1] == '=') {
            l->pos += 2;
            if (emit(l, T_DECL, ":=", 2) < 0)
                return -1;
            continue;
        }
        if (c == '$' || (c == '.' && is_alnum(s[p + 1]) && !isdigit((unsigned char)s[p + 1]))) {
            size_t q = p + 1;
            while (is_alnum(s[q]))
                q++;
            if (emit(l, c == '$' ? T_VAR : T_FIELD, s + p + 1, q - p - 1) < 0)
                return -1;
            l->pos = q;
            continue;
        }
        if (c == '.' && !isdigit((unsigned char)s[p + 1])) {
            l->pos++;
            if (emit(l, T_DOT, ".", 1) < 0)
                return -1;
            continue;
        }
        if (isdigit((unsigned char)c) || c == '.' ||
            ((c == '-' || c == '+') && (isdigit((unsigned char)s[p + 1]) || s[p + 1] == '.'))) {
            size_t q = p + 1;
            while (is_alnum(s[q]) || s[q] == '.' ||
                   ((s[q] == '-' || s[q] == '+') && tolower(s[q - 1]) == 'e'))
                q++;
            if (emit(l, T_NUMBER, s + p, q - p) < 0)
                return -1;
            l->pos = q;
            continue;
        }
        if (isalpha((unsigned char)c) || c == '_') {
            size_t q = p + 1;
            while (is_alnum(s[q]))
                q++;
            if (emit(l, T_IDENT, s + p, q - p) < 0)
                return -1;
            l->pos = q;
            continue;
        }
        if ((unsigned char)c >= 0x80 || iscntrl((unsigned char)c))
            return lex_err(l, "unrecognized character in action: byte 0x%02x", (unsigned char)c);
        return lex_err(l, "unrecognized character in action: U+%04X '%c'", c, c);
    }
}

static int lex(struct lexer *l)
{
    const char *s = l->src;
    for (;;) {
        const char *open = strstr(s + l->pos, "{{");
        size_t end = open ? (size_t)(open - s) : strlen(s);
        size_t text_end = end;
        bool trim = open && open[2] == '-' && is_space(open[3]);
        if (trim)
            while (text_end > l->pos && is_space(s[text_end - 1]))
                text_end--;
        if (text_end > l->pos && emit(l, T_TEXT, s + l->pos, text_end - l->pos) < 0)
            return -1;
        l->line += count_lines(s + l->pos, end - l->pos);
        if (!open)
            return emit(l, T_EOF, "", 0);
        l->pos = end + 2 + (trim ? 2 : 0);
        size_t p = l->pos;
        if (s[p] == '/' && s[p + 1] == '*') {
            const char *close = strstr(s + p + 2, "*/");
            if (!close)
                return lex_err(l, "unclosed comment");
            size_t q = (size_t)(close - s) + 2;
            l->line += count_lines(s + p, q - p);
            bool rtrim = is_space(s[q]) && s[q + 1] == '-' && s[q + 2] == '}' && s[q + 3] == '}';
            if (!rtrim && !(s[q] == '}' && s[q + 1] == '}'))
                return lex_err(l, "comment ends before closing delimiter");
            l->pos = q + (rtrim ? 4 : 2);
            if (rtrim)
                while (is_space(s[l->pos]))
                    l->line += s[l->pos++] == '\n';
            continue;
        }
        if (emit(l, T_LEFT, "", 0) < 0 || lex_action(l) < 0)
            return -1;
    }
}

/* ---- parser ------------------------------------------------------------------------ */

enum kind { N_LIST, N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH, N_PIPE, N_CMD, N_FIELD,
            N_VAR, N_DOT, N_IDENT, N_STRING, N_NUMBER, N_BOOL, N_NIL, N_PAREN };

struct node {
    enum kind kind;
    int line;
    char *s;              /* text, string, identifier, variable name */
    size_t len;
    char **fields;        /* .A.B after a field, variable or (pipe) */
    size_t nfields;
    json_t *value;        /* number or bool */
    struct node **kids;   /* list items, pipe commands, command args */
    size_t nkids;
    struct node *pipe, *list, *else_list;
    char *decl[2];        /* $a, $b := */
    size_t ndecl;
    bool assign;
};

struct tmpl {
    struct node *root;
};

struct parser {
    struct token *t;
    size_t i, n;
    int depth;
    struct berr *err;
    const char *vars[256];   /* the variables in scope ("" is $) */
    size_t nvars;
};

static bool var_known(struct parser *p, const char *name)
{
    for (size_t i = p->nvars; i-- > 0;)
        if (strcmp(p->vars[i], name) == 0)
            return true;
    return false;
}

static void node_free(struct node *x)
{
    if (!x)
        return;
    free(x->s);
    for (size_t i = 0; i < x->nfields; i++)
        free(x->fields[i]);
    free(x->fields);
    json_decref(x->value);
    for (size_t i = 0; i < x->nkids; i++)
        node_free(x->kids[i]);
    free(x->kids);
    node_free(x->pipe);
    node_free(x->list);
    node_free(x->else_list);
    free(x->decl[0]);
    free(x->decl[1]);
    free(x);
}

static struct node *node_new(enum kind kind, int line)
{
    struct node *x = calloc(1, sizeof *x);
    if (x)
        x->kind = kind, x->line = line;
    return x;
}

static int add_kid(struct node *x, struct node *kid)
{
    struct node **k = realloc(x->kids, (x->nkids + 1) * sizeof *k);
    if (!k) {
        node_free(kid);
        return -1;
    }
    x->kids = k;
    x->kids[x->nkids++] = kid;
    return 0;
}

static int add_field(struct node *x, const char *name)
{
    char **f = realloc(x->fields, (x->nfields + 1) * sizeof *f);
    if (!f)
        return -1;
    x->fields = f;
    if (!(x->fields[x->nfields] = strdup(name)))
        return -1;
    x->nfields++;
    return 0;
}

static int perr(struct parser *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return berr_set(p->err, BERR_INVALID, "template: :%d: %s", p->t[p->i].line, msg);
}

static struct token *peek(struct parser *p)
{
    return &p->t[p->i];
}

static struct token *next(struct parser *p)
{
    struct token *t = &p->t[p->i];
    if (p->i + 1 < p->n)
        p->i++;
    return t;
}

static void skip_space(struct parser *p)
{
    while (peek(p)->kind == T_SPACE)
        next(p);
}

static const char *const functions[] = {
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "json", "upper", "lower", "join", "split", "title", "pad",
    "truncate", NULL,
};

static bool is_function(const char *name)
{
    for (size_t i = 0; functions[i]; i++)
        if (strcmp(functions[i], name) == 0)
            return true;
    return false;
}

static const char *tok_text(const struct token *t)
{
    switch (t->kind) {
    case T_EOF: return "EOF";
    case T_RIGHT: return "}}";
    case T_PIPE: return "|";
    case T_LPAREN: return "(";
    case T_RPAREN: return ")";
    case T_COMMA: return ",";
    case T_DECL: return ":=";
    case T_ASSIGN: return "=";
    default: return t->s;
    }
}

static struct node *parse_pipe(struct parser *p, const char *context, enum tok end);

/* .A.B right after an operand (no space between) */
static int parse_chain(struct parser *p, struct node *x)
{
    while (peek(p)->kind == T_FIELD)
        if (add_field(x, next(p)->s) < 0)
            return -1;
    return 0;
}

static struct node *parse_operand(struct parser *p)
{
    struct token *t = peek(p);
    struct node *x = NULL;
    switch (t->kind) {
    case T_FIELD:
        x = node_new(N_FIELD, t->line);
        if (x && parse_chain(p, x) < 0)
            goto oom;
        return x;
    case T_DOT:
        next(p);
        if (peek(p)->kind == T_FIELD) {
            perr(p, "unexpected . after term \".\"");
            return NULL;
        }
        return node_new(N_DOT, t->line);
    case T_VAR:
        if (!var_known(p, t->s)) {
            perr(p, "undefined variable \"$%s\"", t->s);
            return NULL;
        }
        next(p);
        x = node_new(N_VAR, t->line);
        if (!x || !(x->s = strdup(t->s)) || parse_chain(p, x) < 0)
            goto oom;
        return x;
    case T_STRING:
        next(p);
        x = node_new(N_STRING, t->line);
        if (!x || !(x->s = malloc(t->len + 1)))
            goto oom;
        memcpy(x->s, t->s, t->len + 1);
        x->len = t->len;
        return x;
    case T_NUMBER: {
        next(p);
        char *end;
        errno = 0;
        long long v = strtoll(t->s, &end, 0);
        x = node_new(N_NUMBER, t->line);
        if (!x)
            goto oom;
        if (*end == 0 && errno == 0)
            x->value = json_integer(v);
        else {
            double d = strtod(t->s, &end);
            if (*end || !isfinite(d)) {
                node_free(x);
                perr(p, "bad number syntax: \"%s\"", t->s);
                return NULL;
            }
            x->value = json_real(d);
        }
        return x;
    }
    case T_LPAREN: {
        next(p);
        if (++p->depth > MAX_DEPTH) {
            perr(p, "nesting too deep");
            return NULL;
        }
        x = node_new(N_PAREN, t->line);
        if (!x)
            goto oom;
        x->pipe = parse_pipe(p, "parenthesized pipeline", T_RPAREN);
        p->depth--;
        if (!x->pipe) {
            node_free(x);
            return NULL;
        }
        next(p);
        if (parse_chain(p, x) < 0)
            goto oom;
        return x;
    }
    case T_IDENT:
        next(p);
        if (strcmp(t->s, "true") == 0 || strcmp(t->s, "false") == 0) {
            x = node_new(N_BOOL, t->line);
            if (x)
                x->value = json_boolean(t->s[0] == 't');
            return x;
        }
        if (strcmp(t->s, "nil") == 0)
            return node_new(N_NIL, t->line);
        if (!is_function(t->s)) {
            perr(p, "function \"%s\" not defined", t->s);
            return NULL;
        }
        x = node_new(N_IDENT, t->line);
        if (!x || !(x->s = strdup(t->s)))
            goto oom;
        return x;
    default:
        return NULL;
    }
oom:
    node_free(x);
    berr_set(p->err, BERR_IO, "out of memory");
    return NULL;
}

static struct node *parse_pipe(struct parser *p, const char *context, enum tok end)
{
    struct node *pipe = node_new(N_PIPE, peek(p)->line);
    if (!pipe)
        return NULL;
    skip_space(p);
    /* $x := or $i, $v := */
    size_t save = p->i;
    while (peek(p)->kind == T_VAR && pipe->ndecl < 2) {
        char *name = peek(p)->s;
        next(p);
        skip_space(p);
        enum tok k = peek(p)->kind;
        if (k == T_DECL || k == T_ASSIGN || (k == T_COMMA && pipe->ndecl == 0)) {
            if (k == T_ASSIGN && !var_known(p, name)) {
                perr(p, "undefined variable \"$%s\"", name);
                node_free(pipe);
                return NULL;
            }
            if (k != T_ASSIGN) {
                if (p->nvars == sizeof p->vars / sizeof *p->vars) {
                    perr(p, "too many variables");
                    node_free(pipe);
                    return NULL;
                }
                p->vars[p->nvars++] = name;
            }
            pipe->decl[pipe->ndecl++] = strdup(name);
            pipe->assign = k == T_ASSIGN;
            next(p);
            skip_space(p);
            if (k != T_COMMA)
                break;
            continue;
        }
        for (size_t i = 0; i < pipe->ndecl; i++)
            free(pipe->decl[i]), pipe->decl[i] = NULL;
        pipe->ndecl = 0;
        p->i = save;
        break;
    }
    struct node *cmd = NULL;
    for (;;) {
        skip_space(p);
        struct token *t = peek(p);
        if (t->kind == end || t->kind == T_PIPE) {
            if (!cmd || cmd->nkids == 0) {
                perr(p, pipe->nkids || t->kind == T_PIPE ? "missing value for command"
                                                          : "missing value for %s", context);
                node_free(cmd);
                node_free(pipe);
                return NULL;
            }
            if (add_kid(pipe, cmd) < 0) {
                node_free(pipe);
                return NULL;
            }
            cmd = NULL;
            if (t->kind == end)
                return pipe;
            next(p);
            continue;
        }
        if (!cmd && !(cmd = node_new(N_CMD, t->line))) {
            node_free(pipe);
            return NULL;
        }
        struct node *arg = parse_operand(p);
        if (!arg) {
            if (!p->err->code)
                perr(p, t->kind == T_EOF ? "unclosed action"
                                         : "unexpected \"%s\" in %s", tok_text(t),
                     context);
            node_free(cmd);
            node_free(pipe);
            return NULL;
        }
        if (arg->kind == N_NIL && cmd->nkids == 0 && (peek(p)->kind == end ||
                                                      peek(p)->kind == T_PIPE)) {
            node_free(arg);
            node_free(cmd);
            node_free(pipe);
            perr(p, "nil is not a command");
            return NULL;
        }
        if (add_kid(cmd, arg) < 0) {
            node_free(cmd);
            node_free(pipe);
            return NULL;
        }
    }
}

/* Items up to {{end}} or {{else}}; *stop tells which ("" at EOF). */
static struct node *parse_list(struct parser *p, const char **stop);

static struct node *parse_control(struct parser *p, enum kind kind, const char *name)
{
    struct node *x = node_new(kind, peek(p)->line);
    if (!x)
        return NULL;
    if (++p->depth > MAX_DEPTH) {
        node_free(x);
        perr(p, "nesting too deep");
        return NULL;
    }
    const char *stop;
    size_t scope = p->nvars;
    if (!(x->pipe = parse_pipe(p, name, T_RIGHT)))
        goto fail;
    next(p);
    if (!(x->list = parse_list(p, &stop)))
        goto fail;
    if (!*stop) {
        perr(p, "unexpected EOF");
        goto fail;
    }
    if (strcmp(stop, "else") == 0) {
        skip_space(p);
        if (peek(p)->kind == T_IDENT && kind != N_RANGE &&
            strcmp(peek(p)->s, kind == N_IF ? "if" : "with") == 0) {
            /* {{else if ...}}: a nested if that ends with this one's {{end}} */
            next(p);
            x->else_list = node_new(N_LIST, peek(p)->line);
            struct node *inner = x->else_list ? parse_control(p, kind, name) : NULL;
            if (!inner || add_kid(x->else_list, inner) < 0)
                goto fail;
            p->depth--;
            p->nvars = scope;
            return x;
        }
        skip_space(p);
        if (peek(p)->kind != T_RIGHT) {
            perr(p, "unexpected \"%s\" in else", tok_text(peek(p)));
            goto fail;
        }
        next(p);
        if (!(x->else_list = parse_list(p, &stop)))
            goto fail;
        if (strcmp(stop, "end") != 0) {
            perr(p, *stop ? "expected end; found {{else}}" : "unexpected EOF");
            goto fail;
        }
    }
    p->depth--;
    p->nvars = scope;
    return x;
fail:
    node_free(x);
    return NULL;
}

static struct node *parse_list(struct parser *p, const char **stop)
{
    struct node *list = node_new(N_LIST, peek(p)->line);
    size_t scope = p->nvars;
    *stop = "";
    while (list) {
        struct token *t = next(p);
        if (t->kind == T_EOF) {
            p->nvars = scope;
            return list;
        }
        if (t->kind == T_TEXT) {
            struct node *x = node_new(N_TEXT, t->line);
            if (!x || !(x->s = malloc(t->len + 1)) || add_kid(list, x) < 0)
                break;
            memcpy(x->s, t->s, t->len + 1);
            x->len = t->len;
            continue;
        }
        /* T_LEFT */
        skip_space(p);
        struct token *k = peek(p);
        if (k->kind == T_IDENT) {
            const char *w = k->s;
            if (strcmp(w, "end") == 0 || strcmp(w, "else") == 0) {
                next(p);
                *stop = strcmp(w, "end") == 0 ? "end" : "else";
                if (strcmp(w, "end") == 0) {
                    skip_space(p);
                    if (peek(p)->kind != T_RIGHT) {
                        perr(p, "unexpected \"%s\" in end", tok_text(peek(p)));
                        break;
                    }
                    next(p);
                }
                p->nvars = scope;
                return list;
            }
            if (strcmp(w, "template") == 0 || strcmp(w, "define") == 0 ||
                strcmp(w, "block") == 0 || strcmp(w, "break") == 0 ||
                strcmp(w, "continue") == 0) {
                perr(p, "{{%s}} is not supported", w);
                break;
            }
            enum kind kind = strcmp(w, "if") == 0 ? N_IF : strcmp(w, "range") == 0 ? N_RANGE
                           : strcmp(w, "with") == 0 ? N_WITH : N_ACTION;
            if (kind != N_ACTION) {
                next(p);
                struct node *x = parse_control(p, kind, w);
                if (!x || add_kid(list, x) < 0)
                    break;
                continue;
            }
        }
        struct node *x = node_new(N_ACTION, k->line);
        if (!x || !(x->pipe = parse_pipe(p, "command", T_RIGHT)) || add_kid(list, x) < 0) {
            node_free(x);
            break;
        }
        next(p);
    }
    node_free(list);
    return NULL;
}

int tmpl_parse(const char *text, struct tmpl **out, struct berr *err)
{
    struct berr local = {0};
    if (!err)
        err = &local;
    *out = NULL;
    struct lexer l = {.src = text, .line = 1, .err = err};
    int rc = lex(&l);
    struct node *root = NULL;
    if (rc == 0) {
        struct parser p = {.t = l.toks, .n = l.n, .err = err, .vars = {""}, .nvars = 1};
        const char *stop;
        root = parse_list(&p, &stop);
        if (root && *stop) {
            perr(&p, "unexpected {{%s}}", stop);
            node_free(root);
            root = NULL;
        }
        if (!root && !err->code)
            berr_set(err, BERR_IO, "out of memory");
        rc = root ? 0 : -err->code;
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.toks[i].s);
    free(l.toks);
    if (rc < 0)
        return rc;
    if (!(*out = malloc(sizeof **out))) {
        node_free(root);
        return berr_set(err, BERR_IO, "out of memory");
    }
    (*out)->root = root;
    return 0;
}

void tmpl_free(struct tmpl *t)
{
    if (t) {
        node_free(t->root);
        free(t);
    }
}

/* ---- execution --------------------------------------------------------------------- */

struct buf {
    char *s;
    size_t len, cap;
    bool full;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->full || b->len + n + 1 > MAX_OUTPUT) {
        b->full = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s2 = realloc(b->s, cap);
        if (!s2) {
            b->full = true;
            return;
        }
        b->s = s2, b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

struct var {
    char *name;
    json_t *v;    /* NULL: no value */
};

struct exec {
    struct var vars[256];
    size_t nvars;
    struct buf out;
    struct berr *err;
    int line;
    const char *at;
    char at_buf[256];   /* the operand being evaluated, as Go names it: <.A.B> */
};

static int xerr(struct exec *e, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (e->err->code)
        return -e->err->code;
    return berr_set(e->err, BERR_INVALID, "template: :%d: executing \"\" at <%s>: %s", e->line,
                    e->at ? e->at : "", msg);
}

static const char *type_name(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: return "map[string]interface {}";
    case JSON_ARRAY: return "[]interface {}";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "int";
    case JSON_REAL: return "float64";
    case JSON_TRUE: case JSON_FALSE: return "bool";
    default: return "interface {}";
    }
}

/* Go's %v for a float64: shortest digits, exponent outside [-4, 21). */
static void format_real(double d, char *out, size_t len)
{
    int prec;
    char tmp[64];
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    int exp = atoi(strchr(tmp, 'e') + 1);
    if (exp < -4 || exp >= 21)
        snprintf(out, len, "%s", tmp);
    else
        snprintf(out, len, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
}

static int sort_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted keys of an object (the caller frees the array, not the keys). */
static const char **keys_of(json_t *o, size_t *n)
{
    *n = json_object_size(o);
    const char **k = calloc(*n + 1, sizeof *k);
    const char *key;
    json_t *v;
    size_t i = 0;
    if (!k)
        return NULL;
    json_object_foreach(o, key, v)
        k[i++] = key;
    qsort(k, *n, sizeof *k, sort_keys);
    return k;
}

/* What docker's json gives: Go encodes a struct's fields in their order
 * and a map's keys sorted. Here an object whose keys all start with a
 * capital, as Go's exported fields do, is a struct and keeps its order
 * (berth writes its documents in docker's order); any other (labels,
 * ports, networks, mount points) is a map and is sorted. A new reference. */
static json_t *go_ordered(json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array(), *e;
        size_t i;
        json_array_foreach(v, i, e)
            json_array_append_new(a, go_ordered(e));
        return a;
    }
    if (!json_is_object(v))
        return json_incref(v);
    bool map = false;
    const char *key;
    json_t *e, *o = json_object();
    json_object_foreach(v, key, e)
        map |= !(key[0] >= 'A' && key[0] <= 'Z');
    size_t n;
    const char **keys = map ? keys_of(v, &n) : NULL;
    if (keys) {
        for (size_t i = 0; i < n; i++)
            json_object_set_new(o, keys[i], go_ordered(json_object_get(v, keys[i])));
        free(keys);
    } else
        json_object_foreach(v, key, e)
            json_object_set_new(o, key, go_ordered(e));
    return o;
}

static void print_value(struct buf *b, json_t *v, bool top)
{
    char num[64];
    if (!v) {
        puts_(b, top ? "<no value>" : "<nil>");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        put(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        puts_(b, num);
        break;
    case JSON_REAL:
        format_real(json_real_value(v), num, sizeof num);
        puts_(b, num);
        break;
    case JSON_TRUE: puts_(b, "true"); break;
    case JSON_FALSE: puts_(b, "false"); break;
    case JSON_NULL: puts_(b, "<nil>"); break;
    case JSON_ARRAY: {
        puts_(b, "[");
        for (size_t i = 0; i < json_array_size(v) && !b->full; i++) {
            if (i)
                puts_(b, " ");
            print_value(b, json_array_get(v, i), false);
        }
        puts_(b, "]");
        break;
    }
    case JSON_OBJECT: {
        size_t n;
        const char **k = keys_of(v, &n);
        puts_(b, "map[");
        for (size_t i = 0; k && i < n && !b->full; i++) {
            if (i)
                puts_(b, " ");
            puts_(b, k[i]);
            puts_(b, ":");
            print_value(b, json_object_get(v, k[i]), false);
        }
        free(k);
        puts_(b, "]");
        break;
    }
    }
}

static bool truth(json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0;
    case JSON_TRUE: return true;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT: return json_object_size(v) > 0;
    default: return false;
    }
}

static json_t *ref(json_t *v)
{
    return v ? json_incref(v) : NULL;
}

/* .A.B on v: a new reference, NULL for a missing key; < 0 on error. */
static int walk_fields(struct exec *e, json_t *v, char **fields, size_t n, json_t **out)
{
    json_t *cur = ref(v);
    for (size_t i = 0; i < n; i++) {
        if (!cur || json_is_null(cur)) {
            json_decref(cur);
            return xerr(e, "nil pointer evaluating interface {}.%s", fields[i]);
        }
        if (!json_is_object(cur)) {
            int rc = xerr(e, "can't evaluate field %s in type %s", fields[i], type_name(cur));
            json_decref(cur);
            return rc;
        }
        json_t *next = ref(json_object_get(cur, fields[i]));
        json_decref(cur);
        cur = next;
    }
    *out = cur;
    return 0;
}

static int eval_pipe(struct exec *e, struct node *pipe, json_t *dot, json_t **out);

static struct var *lookup(struct exec *e, const char *name)
{
    for (size_t i = e->nvars; i-- > 0;)
        if (strcmp(e->vars[i].name, name) == 0)
            return &e->vars[i];
    return NULL;
}

static void name_operand(struct exec *e, struct node *a)
{
    size_t n = 0;
    e->at_buf[0] = 0;
    if (a->kind == N_VAR)
        n += (size_t)snprintf(e->at_buf, sizeof e->at_buf, "$%s", a->s);
    for (size_t i = 0; i < a->nfields && n < sizeof e->at_buf; i++)
        n += (size_t)snprintf(e->at_buf + n, sizeof e->at_buf - n, ".%s", a->fields[i]);
    e->at = e->at_buf;
}

static int eval_arg(struct exec *e, struct node *a, json_t *dot, json_t **out)
{
    e->line = a->line;
    if (a->kind == N_FIELD || a->kind == N_VAR)
        name_operand(e, a);
    switch (a->kind) {
    case N_DOT:
        *out = ref(dot);
        return 0;
    case N_FIELD:
        return walk_fields(e, dot, a->fields, a->nfields, out);
    case N_VAR: {
        struct var *v = lookup(e, a->s);
        if (!v)
            return xerr(e, "undefined variable: $%s", a->s);
        return walk_fields(e, v->v, a->fields, a->nfields, out);
    }
    case N_STRING:
        *out = json_stringn_nocheck(a->s, a->len);
        return 0;
    case N_NUMBER: case N_BOOL:
        *out = ref(a->value);
        return 0;
    case N_NIL:
        *out = json_null();
        return 0;
    case N_PAREN: {
        json_t *v;
        if (eval_pipe(e, a->pipe, dot, &v) < 0)
            return -1;
        int rc = walk_fields(e, v, a->fields, a->nfields, out);
        json_decref(v);
        return rc;
    }
    default:
        return xerr(e, "can't evaluate %s", a->s ? a->s : "command");
    }
}

static int compare(struct exec *e, json_t *a, json_t *b, int *cmp)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) {
            json_int_t x = json_integer_value(a), y = json_integer_value(b);
            *cmp = x < y ? -1 : x > y;
        } else {
            double x = json_number_value(a), y = json_number_value(b);
            *cmp = x < y ? -1 : x > y;
        }
        return 0;
    }
    if (json_is_string(a) && json_is_string(b)) {
        *cmp = strcmp(json_string_value(a), json_string_value(b));
        return 0;
    }
    if (json_is_boolean(a) && json_is_boolean(b)) {
        *cmp = json_is_true(a) == json_is_true(b) ? 0 : 2;
        return 0;
    }
    if (a && b && json_is_null(a) && json_is_null(b)) {
        *cmp = 0;
        return 0;
    }
    return xerr(e, "error calling %s: incompatible types for comparison", e->at);
}

static json_t *string_of(json_t *v)
{
    struct buf b = {0};
    print_value(&b, v, true);
    json_t *s = json_stringn_nocheck(b.s ? b.s : "", b.len);
    free(b.s);
    return s;
}

/* Go's fmt.Sprintf for the verbs templates use. */
static json_t *go_sprintf(json_t **args, size_t n)
{
    struct buf b = {0};
    const char *f = json_string_value(args[0]);
    size_t ai = 1;
    for (; f && *f && !b.full; f++) {
        if (*f != '%') {
            put(&b, f, 1);
            continue;
        }
        if (f[1] == '%') {
            puts_(&b, "%");
            f++;
            continue;
        }
        char spec[32] = "%";
        size_t sl = 1;
        f++;
        while (*f && strchr("+-# 0123456789.", *f) && sl < 20)
            spec[sl++] = *f++;
        char verb = *f;
        if (!verb)
            break;
        if (ai >= n) {
            puts_(&b, "%!");
            put(&b, &verb, 1);
            puts_(&b, "(MISSING)");
            continue;
        }
        json_t *a = args[ai++];
        char *tmp = NULL;
        int digits = 0, most = 0;
        for (size_t k = 1; k < sl; k++) {
            digits = isdigit((unsigned char)spec[k]) ? digits + 1 : 0;
            most = digits > most ? digits : most;
        }
        if (most > 4) {
            /* Go's answer to a width or precision it will not honour */
            puts_(&b, "%!(BADWIDTH)");
            continue;
        }
        if ((verb == 'd' || verb == 'x' || verb == 'X' || verb == 'o') && json_is_integer(a)) {
            spec[sl++] = 'l', spec[sl++] = 'l', spec[sl++] = verb, spec[sl] = 0;
            if (asprintf(&tmp, spec, (long long)json_integer_value(a)) < 0)
                tmp = NULL;
        } else if ((verb == 'f' || verb == 'g' || verb == 'e') && json_is_number(a)) {
            spec[sl++] = verb, spec[sl] = 0;
            if (asprintf(&tmp, spec, json_number_value(a)) < 0)
                tmp = NULL;
        } else if ((!a || json_is_null(a)) && verb != 'v') {
            if (asprintf(&tmp, "%%!%c(<nil>)", verb) < 0)
                tmp = NULL;
        } else if (!a || json_is_null(a)) {
            puts_(&b, "<nil>");
        } else if (verb == 's' || verb == 'v' || verb == 'q') {
            json_t *s = string_of(a);
            if (verb == 'q') {
                tmp = json_dumps(s, JSON_ENCODE_ANY);
            } else if (sl == 1) {
                put(&b, json_string_value(s), json_string_length(s));
            } else {
                spec[sl++] = 's', spec[sl] = 0;
                if (asprintf(&tmp, spec, json_string_value(s)) < 0)
                    tmp = NULL;
            }
            json_decref(s);
        } else {
            json_t *s = string_of(a);
            if (asprintf(&tmp, "%%!%c(%s=%s)", verb, type_name(a), json_string_value(s)) < 0)
                tmp = NULL;
            json_decref(s);
        }
        if (tmp)
            puts_(&b, tmp);
        free(tmp);
    }
    for (; ai < n && !b.full; ai++) {
        puts_(&b, ai == 1 || b.len == 0 ? "%!(EXTRA " : ", ");
        json_t *s = string_of(args[ai]);
        puts_(&b, type_name(args[ai]));
        puts_(&b, "=");
        puts_(&b, json_string_value(s));
        json_decref(s);
        if (ai + 1 == n)
            puts_(&b, ")");
    }
    json_t *s = json_stringn_nocheck(b.s ? b.s : "", b.len);
    free(b.s);
    return s;
}

static int need(struct exec *e, size_t n, size_t want, bool at_least)
{
    if (at_least ? n >= want : n == want)
        return 0;
    return xerr(e, "wrong number of args for %s: want %s%zu got %zu", e->at,
                at_least ? "at least " : "", want, n);
}

static int need_string(struct exec *e, json_t *v, const char *what)
{
    if (json_is_string(v))
        return 0;
    return xerr(e, "wrong type for value; expected string; got %s (%s)", type_name(v), what);
}

static json_t *map_case(json_t *v, int (*fn)(int))
{
    char *s = strndup(json_string_value(v), json_string_length(v));
    if (!s)
        return NULL;
    for (size_t i = 0; i < json_string_length(v); i++)
        if ((unsigned char)s[i] < 0x80)
            s[i] = (char)fn((unsigned char)s[i]);
    json_t *r = json_stringn_nocheck(s, json_string_length(v));
    free(s);
    return r;
}

static int call(struct exec *e, const char *fn, json_t **a, size_t n, json_t **out)
{
    e->at = fn;
    *out = NULL;
    if (strcmp(fn, "and") == 0 || strcmp(fn, "or") == 0) {
        if (need(e, n, 1, true) < 0)
            return -1;
        size_t i = 0;
        bool want = fn[0] == 'o';
        while (i + 1 < n && truth(a[i]) != want)
            i++;
        *out = ref(a[i]);
        return 0;
    }
    if (strcmp(fn, "not") == 0) {
        if (need(e, n, 1, false) < 0)
            return -1;
        *out = json_boolean(!truth(a[0]));
        return 0;
    }
    if (strcmp(fn, "len") == 0) {
        if (need(e, n, 1, false) < 0)
            return -1;
        if (json_is_string(a[0]))
            *out = json_integer((json_int_t)json_string_length(a[0]));
        else if (json_is_array(a[0]))
            *out = json_integer((json_int_t)json_array_size(a[0]));
        else if (json_is_object(a[0]))
            *out = json_integer((json_int_t)json_object_size(a[0]));
        else
            return xerr(e, "error calling len: len of type %s", type_name(a[0]));
        return 0;
    }
    if (strcmp(fn, "index") == 0) {
        if (need(e, n, 1, true) < 0)
            return -1;
        json_t *cur = ref(a[0]);
        for (size_t i = 1; i < n; i++) {
            json_t *nx;
            if (json_is_object(cur) && json_is_string(a[i]))
                nx = ref(json_object_get(cur, json_string_value(a[i])));
            else if (json_is_array(cur) && json_is_integer(a[i])) {
                json_int_t k = json_integer_value(a[i]);
                if (k < 0 || (size_t)k >= json_array_size(cur)) {
                    json_decref(cur);
                    return xerr(e, "error calling index: index out of range: %lld", (long long)k);
                }
                nx = ref(json_array_get(cur, (size_t)k));
            } else if (!cur || json_is_null(cur)) {
                json_decref(cur);
                return xerr(e, "error calling index: index of untyped nil");
            } else {
                json_decref(cur);
                return xerr(e, "error calling index: cannot index %s with %s", type_name(cur),
                            type_name(a[i]));
            }
            json_decref(cur);
            cur = nx;
        }
        *out = cur;
        return 0;
    }
    if (strcmp(fn, "print") == 0 || strcmp(fn, "println") == 0) {
        struct buf b = {0};
        bool ln = fn[5] == 'l';
        for (size_t i = 0; i < n; i++) {
            if (i && (ln || (!json_is_string(a[i]) && !json_is_string(a[i - 1]))))
                puts_(&b, " ");
            print_value(&b, a[i], false);
        }
        if (ln)
            puts_(&b, "\n");
        *out = json_stringn_nocheck(b.s ? b.s : "", b.len);
        free(b.s);
        return 0;
    }
    if (strcmp(fn, "printf") == 0) {
        if (need(e, n, 1, true) < 0 || need_string(e, a[0], "printf format") < 0)
            return -1;
        *out = go_sprintf(a, n);
        return 0;
    }
    if (fn[0] == 'e' || fn[0] == 'n' || fn[0] == 'l' || fn[0] == 'g') {
        if (strcmp(fn, "eq") == 0 || strcmp(fn, "ne") == 0 || strlen(fn) == 2) {
            if (need(e, n, 2, strcmp(fn, "eq") == 0) < 0)
                return -1;
            int cmp = 1;
            bool r = false;
            for (size_t i = 1; i < n && !r; i++) {
                if (compare(e, a[0], a[i], &cmp) < 0)
                    return -1;
                r = strcmp(fn, "eq") == 0 ? cmp == 0 : strcmp(fn, "ne") == 0 ? cmp != 0
                  : cmp == 2 ? (xerr(e, "error calling %s: invalid type for comparison", fn), 0)
                  : strcmp(fn, "lt") == 0 ? cmp < 0 : strcmp(fn, "le") == 0 ? cmp <= 0
                  : strcmp(fn, "gt") == 0 ? cmp > 0 : cmp >= 0;
                if (e->err->code)
                    return -1;
            }
            *out = json_boolean(r);
            return 0;
        }
    }
    if (strcmp(fn, "json") == 0) {
        if (need(e, n, 1, false) < 0)
            return -1;
        json_t *ordered = a[0] ? go_ordered(a[0]) : NULL;
        char *s = ordered ? json_dumps(ordered, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("null");
        json_decref(ordered);
        if (!s)
            return xerr(e, "error calling json: cannot encode");
        struct buf b = {0};
        /* Go's encoder escapes <, > and & (they only occur inside strings) */
        for (const char *c = s; *c; c++)
            if (*c == '<' || *c == '>' || *c == '&') {
                char u[8];
                snprintf(u, sizeof u, "\\u%04x", *c);
                puts_(&b, u);
            } else
                put(&b, c, 1);
        free(s);
        *out = json_stringn_nocheck(b.s ? b.s : "", b.len);
        free(b.s);
        return 0;
    }
    if (strcmp(fn, "upper") == 0 || strcmp(fn, "lower") == 0 || strcmp(fn, "title") == 0) {
        if (need(e, n, 1, false) < 0 || need_string(e, a[0], fn) < 0)
            return -1;
        if (fn[0] != 't') {
            *out = map_case(a[0], fn[0] == 'u' ? toupper : tolower);
            return 0;
        }
        char *s = strndup(json_string_value(a[0]), json_string_length(a[0]));
        bool start = true;
        for (size_t i = 0; s && i < json_string_length(a[0]); i++) {
            unsigned char c = (unsigned char)s[i];
            if (start && c < 0x80)
                s[i] = (char)toupper(c);
            start = c < 0x80 && !isalnum(c) && c != '_';
        }
        *out = s ? json_stringn_nocheck(s, json_string_length(a[0])) : NULL;
        free(s);
        return 0;
    }
    if (strcmp(fn, "join") == 0) {
        if (need(e, n, 2, false) < 0 || need_string(e, a[1], "join separator") < 0)
            return -1;
        if (!json_is_array(a[0]))
            return xerr(e, "wrong type for value; expected []string; got %s", type_name(a[0]));
        struct buf b = {0};
        for (size_t i = 0; i < json_array_size(a[0]); i++) {
            if (i)
                put(&b, json_string_value(a[1]), json_string_length(a[1]));
            print_value(&b, json_array_get(a[0], i), false);
        }
        *out = json_stringn_nocheck(b.s ? b.s : "", b.len);
        free(b.s);
        return 0;
    }
    if (strcmp(fn, "split") == 0) {
        if (need(e, n, 2, false) < 0 || need_string(e, a[0], "split") < 0 ||
            need_string(e, a[1], "split separator") < 0)
            return -1;
        const char *s = json_string_value(a[0]), *sep = json_string_value(a[1]);
        size_t len = json_string_length(a[0]), sl = json_string_length(a[1]);
        *out = json_array();
        for (size_t i = 0; i <= len && *out;) {
            size_t j = i;
            if (sl == 0) {
                if (i == len)
                    break;
                j = i + 1;
                while (j < len && ((unsigned char)s[j] & 0xc0) == 0x80)
                    j++;
                json_array_append_new(*out, json_stringn_nocheck(s + i, j - i));
                i = j;
                continue;
            }
            while (j + sl <= len && memcmp(s + j, sep, sl) != 0)
                j++;
            if (j + sl > len)
                j = len;
            json_array_append_new(*out, json_stringn_nocheck(s + i, j - i));
            i = j + sl;
            if (j == len)
                break;
        }
        return 0;
    }
    if (strcmp(fn, "pad") == 0 || strcmp(fn, "truncate") == 0) {
        bool pad = fn[0] == 'p';
        if (need(e, n, pad ? 3 : 2, false) < 0 || need_string(e, a[0], fn) < 0)
            return -1;
        for (size_t i = 1; i < n; i++)
            if (!json_is_integer(a[i]) || json_integer_value(a[i]) < 0 ||
                json_integer_value(a[i]) > 4096)
                return xerr(e, "wrong type for value; expected a small int");
        size_t len = json_string_length(a[0]);
        if (!pad) {
            size_t k = (size_t)json_integer_value(a[1]);
            *out = json_stringn_nocheck(json_string_value(a[0]), k < len ? k : len);
            return 0;
        }
        size_t before = (size_t)json_integer_value(a[1]), after = (size_t)json_integer_value(a[2]);
        char *s = malloc(before + len + after + 1);
        if (!s)
            return xerr(e, "out of memory");
        memset(s, ' ', before);
        memcpy(s + before, json_string_value(a[0]), len);
        memset(s + before + len, ' ', after);
        *out = json_stringn_nocheck(s, before + len + after);
        free(s);
        return 0;
    }
    return xerr(e, "function \"%s\" not defined", fn);
}

/* docker's Label method of a row ({{.Label "k"}} in ps, network and volume
 * formats): the value of label k of the object before .Label, whose
 * Labels is an object or docker's "k=v,k2=v2" text; "" when it has none. */
static int label_method(struct exec *e, struct node *field, struct node *arg, json_t *dot,
                        json_t **out)
{
    json_t *owner, *key;
    if (walk_fields(e, dot, field->fields, field->nfields - 1, &owner) < 0)
        return -1;
    if (eval_arg(e, arg, dot, &key) < 0) {
        json_decref(owner);
        return -1;
    }
    int rc = 0;
    json_t *labels = json_is_object(owner) ? json_object_get(owner, "Labels") : NULL;
    const char *k = json_string_value(key), *v = NULL;
    size_t vlen = 0;
    if (!k)
        rc = xerr(e, "wrong type for value; expected string; got %s", type_name(key));
    else if (json_is_object(labels) && json_is_string(json_object_get(labels, k))) {
        v = json_string_value(json_object_get(labels, k));
        vlen = strlen(v);
    } else if (json_is_string(labels)) {
        size_t klen = strlen(k);
        for (const char *p = json_string_value(labels); p && *p;) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (len > klen && strncmp(p, k, klen) == 0 && p[klen] == '=') {
                v = p + klen + 1;
                vlen = len - klen - 1;
                break;
            }
            p = end ? end + 1 : p + len;
        }
    }
    if (rc == 0)
        *out = json_stringn_nocheck(v ? v : "", vlen);
    json_decref(owner);
    json_decref(key);
    return rc;
}

static int eval_cmd(struct exec *e, struct node *cmd, json_t *dot, json_t *prev, bool has_prev,
                    json_t **out)
{
    struct node *first = cmd->kids[0];
    if (first->kind == N_FIELD && first->nfields > 0 && cmd->nkids == 2 && !has_prev &&
        strcmp(first->fields[first->nfields - 1], "Label") == 0)
        return label_method(e, first, cmd->kids[1], dot, out);
    if (first->kind != N_IDENT) {
        if (cmd->nkids > 1 || has_prev) {
            e->line = first->line;
            name_operand(e, first);
            return xerr(e, "can't give argument to non-function %s",
                        first->kind == N_FIELD ? "field" : "value");
        }
        return eval_arg(e, first, dot, out);
    }
    size_t n = cmd->nkids - 1 + (has_prev ? 1 : 0);
    json_t **args = calloc(n + 1, sizeof *args);
    if (!args)
        return xerr(e, "out of memory");
    int rc = 0;
    size_t i;
    for (i = 0; i + 1 < cmd->nkids && rc == 0; i++)
        rc = eval_arg(e, cmd->kids[i + 1], dot, &args[i]);
    if (rc == 0 && has_prev)
        args[n - 1] = ref(prev);
    if (rc == 0) {
        e->line = first->line;
        rc = call(e, first->s, args, n, out);
    }
    for (i = 0; i < n; i++)
        json_decref(args[i]);
    free(args);
    return rc;
}

static int eval_pipe(struct exec *e, struct node *pipe, json_t *dot, json_t **out)
{
    json_t *v = NULL;
    for (size_t i = 0; i < pipe->nkids; i++) {
        json_t *nv;
        if (eval_cmd(e, pipe->kids[i], dot, v, i > 0, &nv) < 0) {
            json_decref(v);
            return -1;
        }
        json_decref(v);
        v = nv;
    }
    *out = v;
    return 0;
}

static int set_var(struct exec *e, const char *name, json_t *v, bool assign)
{
    if (assign) {
        struct var *x = lookup(e, name);
        if (!x)
            return xerr(e, "undefined variable: $%s", name);
        json_decref(x->v);
        x->v = ref(v);
        return 0;
    }
    if (e->nvars == sizeof e->vars / sizeof *e->vars)
        return xerr(e, "too many variables");
    e->vars[e->nvars++] = (struct var){(char *)name, ref(v)};
    return 0;
}

static void pop_vars(struct exec *e, size_t mark)
{
    while (e->nvars > mark)
        json_decref(e->vars[--e->nvars].v);
}

static int exec_list(struct exec *e, struct node *list, json_t *dot);

static int exec_range(struct exec *e, struct node *x, json_t *v, json_t *dot)
{
    size_t n = json_is_array(v) ? json_array_size(v) : json_is_object(v) ? json_object_size(v) : 0;
    if (v && !json_is_array(v) && !json_is_object(v) && !json_is_null(v)) {
        json_t *s = string_of(v);
        int rc = xerr(e, "range can't iterate over %s", json_string_value(s));
        json_decref(s);
        return rc;
    }
    if (n == 0)
        return x->else_list ? exec_list(e, x->else_list, dot) : 0;
    size_t nk = 0;
    const char **keys = json_is_object(v) ? keys_of(v, &nk) : NULL;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0 && !e->out.full; i++) {
        json_t *item = keys ? json_object_get(v, keys[i]) : json_array_get(v, i);
        json_t *key = keys ? json_string(keys[i]) : json_integer((json_int_t)i);
        size_t mark = e->nvars;
        if (x->pipe->ndecl == 1)
            rc = set_var(e, x->pipe->decl[0], item, false);
        else if (x->pipe->ndecl == 2)
            rc = set_var(e, x->pipe->decl[0], key, false) ?: set_var(e, x->pipe->decl[1], item, false);
        json_decref(key);
        if (rc == 0)
            rc = exec_list(e, x->list, item);
        pop_vars(e, mark);
    }
    free(keys);
    return rc;
}

static int exec_list(struct exec *e, struct node *list, json_t *dot)
{
    size_t mark = e->nvars;
    int rc = 0;
    for (size_t i = 0; i < list->nkids && rc == 0; i++) {
        if (e->out.full) {
            rc = berr_set(e->err, BERR_TOOBIG, "template: output larger than %u bytes",
                          MAX_OUTPUT);
            break;
        }
        struct node *x = list->kids[i];
        if (x->kind == N_TEXT) {
            put(&e->out, x->s, x->len);
            continue;
        }
        json_t *v;
        if (eval_pipe(e, x->pipe, dot, &v) < 0) {
            rc = -1;
            break;
        }
        if (x->kind == N_ACTION) {
            if (x->pipe->ndecl)
                rc = set_var(e, x->pipe->decl[0], v, x->pipe->assign);
            else
                print_value(&e->out, v, true);
        } else if (x->kind == N_RANGE) {
            rc = exec_range(e, x, v, dot);
        } else {
            size_t inner = e->nvars;
            if (x->pipe->ndecl)
                rc = set_var(e, x->pipe->decl[0], v, x->pipe->assign);
            if (rc == 0 && truth(v))
                rc = exec_list(e, x->list, x->kind == N_WITH ? v : dot);
            else if (rc == 0 && x->else_list)
                rc = exec_list(e, x->else_list, dot);
            pop_vars(e, inner);
        }
        json_decref(v);
    }
    pop_vars(e, mark);
    if (rc == 0 && e->out.full)
        rc = berr_set(e->err, BERR_TOOBIG, "template: output larger than %u bytes", MAX_OUTPUT);
    return rc < 0 ? (e->err->code ? -e->err->code : -BERR_INVALID) : 0;
}

int tmpl_exec(const struct tmpl *t, json_t *data, char **out, struct berr *err)
{
    struct berr local = {0};
    struct exec *e = calloc(1, sizeof *e);
    *out = NULL;
    if (!e)
        return berr_set(err, BERR_IO, "out of memory");
    e->err = err ? err : &local;
    e->vars[e->nvars++] = (struct var){"", ref(data)};
    int rc = exec_list(e, t->root, data);
    pop_vars(e, 0);
    if (rc == 0)
        *out = e->out.s ? e->out.s : strdup("");
    else
        free(e->out.s);
    free(e);
    if (rc == 0 && !*out)
        return berr_set(err, BERR_IO, "out of memory");
    return rc;
}
