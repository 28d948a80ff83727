/*
 * yaml.c - one compose file, read with libyaml's event parser into a
 * jansson tree.
 *
 * Scalars are typed as compose reads them: plain null/~/empty, true/false,
 * integers (decimal, 0x, 0o) and floats become JSON values, anything quoted
 * or tagged !!str stays a string. Anchors are kept as built trees; an alias
 * is a deep copy, counted against COMPOSE_NODES_MAX with everything else, so
 * a file of nested aliases ("billion laughs") is refused long before it
 * could fill memory. `<<` merge keys fill in the keys a mapping does not set
 * itself (the first of several sources wins). A key given twice is refused.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct yctx {
    yaml_parser_t p;
    yaml_event_t ev;
    bool have_ev;
    const char *file;
    json_t *anchors;         /* name -> [tree, node count] */
    json_t *marks;           /* [{path, op}] for !reset and !override; NULL: refused */
    size_t nodes;
    char path[200];
    size_t plen;
    struct berr *err;
};

static int yfail(struct yctx *y, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int yfail(struct yctx *y, size_t line, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (y->plen)
        return berr_set(y->err, BERR_INVALID, "%s: %s: %s (line %zu)", y->file, y->path, why,
                        line + 1);
    return berr_set(y->err, BERR_INVALID, "%s: %s (line %zu)", y->file, why, line + 1);
}

static int next(struct yctx *y)
{
    if (y->have_ev)
        yaml_event_delete(&y->ev);
    y->have_ev = false;
    if (!yaml_parser_parse(&y->p, &y->ev)) {
        const char *what = y->p.problem ? y->p.problem : "invalid YAML";
        if (y->p.error == YAML_READER_ERROR)
            return berr_set(y->err, BERR_INVALID, "%s: byte %zu: %s", y->file, y->p.problem_offset,
                            what);
        return berr_set(y->err, BERR_INVALID, "%s: line %zu column %zu: %s", y->file,
                        y->p.problem_mark.line + 1, y->p.problem_mark.column + 1, what);
    }
    y->have_ev = true;
    return 0;
}

static bool all(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i]))
            return false;
    return n > 0;
}

json_t *cy_plain(const char *s, size_t len)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++)
        if (len == strlen(nulls[i]) && memcmp(s, nulls[i], len) == 0)
            return json_null();
    if ((len == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))))
        return json_true();
    if ((len == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))))
        return json_false();
    if (len > 64 || memchr(s, '\0', len))
        return json_stringn(s, len);
    char buf[72];
    memcpy(buf, s, len);
    buf[len] = '\0';
    const char *d = buf + (buf[0] == '-' || buf[0] == '+');
    size_t dl = strlen(d);
    int base = 0;
    const char *digits = d;
    if (dl > 2 && d[0] == '0' && d[1] == 'x' && all(d + 2, dl - 2, "0123456789abcdefABCDEF"))
        base = 16, digits = d + 2;
    else if (dl > 2 && d[0] == '0' && d[1] == 'o' && all(d + 2, dl - 2, "01234567"))
        base = 8, digits = d + 2;
    else if (all(d, dl, "0123456789"))
        base = 10;
    if (base) {
        errno = 0;
        char *end;
        unsigned long long u = strtoull(digits, &end, base);
        bool neg = buf[0] == '-';
        if (errno == 0 && *end == '\0' && u <= (neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX))
            return json_integer(neg ? (long long)(0 - u) : (long long)u);
        if (base != 10)
            return json_stringn(s, len);
        /* too big for an integer: a float, as YAML readers do */
    }
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    const char *q = d;
    size_t intd = 0, fracd = 0;
    while (*q >= '0' && *q <= '9')
        q++, intd++;
    if (*q == '.') {
        q++;
        while (*q >= '0' && *q <= '9')
            q++, fracd++;
    }
    if (intd + fracd == 0)
        return json_stringn(s, len);
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '-' || *q == '+')
            q++;
        if (!(*q >= '0' && *q <= '9'))
            return json_stringn(s, len);
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q)
        return json_stringn(s, len);
    errno = 0;
    double v = strtod(buf, NULL);
    if (errno == ERANGE || !isfinite(v))
        return json_stringn(s, len);
    return json_real(v);
}

static bool tag_is(const yaml_char_t *tag, const char *what)
{
    return tag && strcmp((const char *)tag, what) == 0;
}

/* !reset and !override (the merge's own tags): noted with the node's path,
 * then read as if untagged. False for any other tag. */
static bool merge_tag(struct yctx *y, const yaml_char_t *tag)
{
    const char *op = tag_is(tag, "!reset") ? "reset" : tag_is(tag, "!override") ? "override" : NULL;
    if (!op || !y->marks)
        return false;
    json_array_append_new(y->marks, json_pack("{s:s,s:s}", "path", y->path, "op", op));
    return true;
}

static int scalar(struct yctx *y, json_t **out)
{
    const yaml_char_t *tag = y->ev.data.scalar.tag;
    const char *v = (const char *)y->ev.data.scalar.value;
    size_t len = y->ev.data.scalar.length;
    if (merge_tag(y, tag))
        tag = NULL;
    if (memchr(v, '\0', len))
        return yfail(y, y->ev.start_mark.line, "a NUL character in a scalar");
    if (tag && strcmp((const char *)tag, "!") != 0 &&
        strncmp((const char *)tag, "tag:yaml.org,2002:", 18) != 0)
        return yfail(y, y->ev.start_mark.line, "unsupported YAML tag %s", (const char *)tag);
    if (tag_is(tag, "tag:yaml.org,2002:str") || tag_is(tag, "!") ||
        (!tag && y->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE))
        *out = json_stringn(v, len);
    else
        *out = cy_plain(v, len);
    if (!*out)
        return yfail(y, y->ev.start_mark.line, "invalid scalar (not UTF-8?)");
    return 0;
}

static int node(struct yctx *y, int depth, json_t **out);

static int sequence(struct yctx *y, int depth, json_t *arr)
{
    for (size_t i = 0;; i++) {
        int rc = next(y);
        if (rc < 0)
            return rc;
        if (y->ev.type == YAML_SEQUENCE_END_EVENT)
            return 0;
        size_t keep = y->plen;
        buf_appendf(y->path, sizeof y->path, &y->plen, "[%zu]", i);
        json_t *v;
        rc = node(y, depth + 1, &v);
        y->plen = keep < sizeof y->path ? keep : sizeof y->path - 1;
        y->path[y->plen] = '\0';
        if (rc < 0)
            return rc;
        json_array_append_new(arr, v);
    }
}

static int merge_source(struct yctx *y, json_t *v, json_t *merges, size_t line)
{
    size_t i;
    json_t *m;
    if (json_is_object(v))
        return json_array_append(merges, v);
    if (json_is_array(v)) {
        json_array_foreach(v, i, m)
            if (!json_is_object(m))
                return yfail(y, line, "a << merge takes mappings");
        json_array_foreach(v, i, m)
            json_array_append(merges, m);
        return 0;
    }
    return yfail(y, line, "a << merge takes a mapping or a list of mappings");
}

static int mapping(struct yctx *y, int depth, json_t *obj)
{
    json_t *merges = json_array();
    int rc = 0;
    for (;;) {
        if ((rc = next(y)) < 0)
            break;
        if (y->ev.type == YAML_MAPPING_END_EVENT)
            break;
        size_t line = y->ev.start_mark.line;
        json_t *k;
        bool merge_key = y->ev.type == YAML_SCALAR_EVENT && !y->ev.data.scalar.tag &&
                         y->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                         strcmp((const char *)y->ev.data.scalar.value, "<<") == 0;
        if ((rc = node(y, depth + 1, &k)) < 0)
            break;
        char kbuf[64];
        const char *key;
        if (json_is_string(k))
            key = json_string_value(k);
        else if (json_is_integer(k) || json_is_real(k) || json_is_boolean(k) || json_is_null(k)) {
            /* a plain key that looked like a number: its text is the key */
            if (json_is_integer(k))
                snprintf(kbuf, sizeof kbuf, "%lld", (long long)json_integer_value(k));
            else if (json_is_boolean(k))
                snprintf(kbuf, sizeof kbuf, "%s", json_is_true(k) ? "true" : "false");
            else if (json_is_null(k))
                snprintf(kbuf, sizeof kbuf, "null");
            else
                snprintf(kbuf, sizeof kbuf, "%g", json_real_value(k));
            key = kbuf;
        } else {
            json_decref(k);
            rc = yfail(y, line, "a mapping key must be a scalar");
            break;
        }
        if (!merge_key && json_object_get(obj, key)) {
            rc = yfail(y, line, "duplicate key \"%.60s\"", key);
            json_decref(k);
            break;
        }
        size_t keep = y->plen;
        buf_appendf(y->path, sizeof y->path, &y->plen, "%s%.80s", keep ? "." : "", key);
        if ((rc = next(y)) == 0) {
            json_t *v;
            if ((rc = node(y, depth + 1, &v)) == 0) {
                if (merge_key)
                    rc = merge_source(y, v, merges, line), json_decref(v);
                else
                    json_object_set_new(obj, key, v);
            }
        }
        y->plen = keep < sizeof y->path ? keep : sizeof y->path - 1;
        y->path[y->plen] = '\0';
        json_decref(k);
        if (rc < 0)
            break;
    }
    if (rc == 0) {
        size_t i;
        json_t *src, *v;
        const char *key;
        json_array_foreach(merges, i, src)
            json_object_foreach(src, key, v)
                if (!json_object_get(obj, key)) {
                    json_t *copy = json_deep_copy(v);
                    json_object_set_new(obj, key, copy);
                }
    }
    json_decref(merges);
    return rc;
}

static size_t count_nodes(json_t *v)
{
    size_t n = 1, i;
    json_t *c;
    const char *k;
    if (json_is_array(v))
        json_array_foreach(v, i, c)
            n += count_nodes(c);
    else if (json_is_object(v))
        json_object_foreach(v, k, c)
            n += count_nodes(c);
    return n;
}

static int node(struct yctx *y, int depth, json_t **out)
{
    size_t line = y->ev.start_mark.line;
    const yaml_char_t *anchor = NULL;
    int rc = 0;
    *out = NULL;
    if (depth > COMPOSE_DEPTH_MAX)
        return yfail(y, line, "nested deeper than %d levels", COMPOSE_DEPTH_MAX);
    if (++y->nodes > COMPOSE_NODES_MAX)
        return yfail(y, line, "more than %d nodes (aliases expanded)", COMPOSE_NODES_MAX);
    switch (y->ev.type) {
    case YAML_SCALAR_EVENT:
        anchor = y->ev.data.scalar.anchor;
        rc = scalar(y, out);
        break;
    case YAML_SEQUENCE_START_EVENT: {
        anchor = y->ev.data.sequence_start.anchor;
        const yaml_char_t *tag = y->ev.data.sequence_start.tag;
        if (tag && !tag_is(tag, "tag:yaml.org,2002:seq") && !merge_tag(y, tag))
            return yfail(y, line, "unsupported YAML tag %s", (const char *)tag);
        *out = json_array();
        break;
    }
    case YAML_MAPPING_START_EVENT: {
        anchor = y->ev.data.mapping_start.anchor;
        const yaml_char_t *tag = y->ev.data.mapping_start.tag;
        if (tag && !tag_is(tag, "tag:yaml.org,2002:map") && !merge_tag(y, tag))
            return yfail(y, line, "unsupported YAML tag %s", (const char *)tag);
        *out = json_object();
        break;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)y->ev.data.alias.anchor;
        json_t *a = json_object_get(y->anchors, name);
        if (!a)
            return yfail(y, line, "unknown alias *%.60s", name);
        size_t n = (size_t)json_integer_value(json_array_get(a, 1));
        if (n > COMPOSE_NODES_MAX || y->nodes + n > COMPOSE_NODES_MAX)
            return yfail(y, line, "more than %d nodes (aliases expanded)", COMPOSE_NODES_MAX);
        y->nodes += n - 1;
        *out = json_deep_copy(json_array_get(a, 0));
        return *out ? 0 : yfail(y, line, "out of memory");
    }
    default:
        return yfail(y, line, "unexpected YAML event");
    }
    if (rc < 0)
        return rc;
    /* the anchor's name is freed by the next event: keep a copy */
    char *aname = anchor ? strdup((const char *)anchor) : NULL;
    size_t before = y->nodes;
    if (json_is_array(*out) && y->ev.type == YAML_SEQUENCE_START_EVENT)
        rc = sequence(y, depth, *out);
    else if (json_is_object(*out) && y->ev.type == YAML_MAPPING_START_EVENT)
        rc = mapping(y, depth, *out);
    if (rc == 0 && aname) {
        size_t n = y->nodes - before + 1;
        if (json_is_object(*out))
            n = count_nodes(*out); /* merge keys copied nodes in */
        json_object_set_new(y->anchors, aname, json_pack("[O,I]", *out, (json_int_t)n));
    }
    free(aname);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int cy_parse(const char *buf, size_t len, const char *file, json_t **out, struct berr *err)
{
    return cy_parse_marks(buf, len, file, out, NULL, err);
}

int cy_parse_marks(const char *buf, size_t len, const char *file, json_t **out, json_t *marks,
                   struct berr *err)
{
    struct yctx y = {.file = file, .err = err, .marks = marks};
    *out = NULL;
    if (len > COMPOSE_FILE_MAX)
        return berr_set(err, BERR_TOOBIG, "%s: larger than %u bytes", file, COMPOSE_FILE_MAX);
    if (!yaml_parser_initialize(&y.p))
        return berr_set(err, BERR_IO, "%s: cannot start the YAML parser", file);
    yaml_parser_set_input_string(&y.p, (const unsigned char *)buf, len);
    y.anchors = json_object();
    json_t *doc = NULL;
    int rc, ndocs = 0;
    while ((rc = next(&y)) == 0 && y.ev.type != YAML_STREAM_END_EVENT) {
        if (y.ev.type != YAML_DOCUMENT_START_EVENT)
            continue;
        if (++ndocs > 1) {
            rc = yfail(&y, y.ev.start_mark.line, "more than one YAML document");
            break;
        }
        if ((rc = next(&y)) < 0)
            break;
        if ((rc = node(&y, 0, &doc)) < 0)
            break;
        json_object_clear(y.anchors);
    }
    if (y.have_ev)
        yaml_event_delete(&y.ev);
    yaml_parser_delete(&y.p);
    json_decref(y.anchors);
    if (rc < 0) {
        json_decref(doc);
        return rc;
    }
    if (json_is_null(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    *out = doc;
    return 0;
}
