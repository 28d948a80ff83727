/*
 * dotenv.c - the project's .env and a service's env_file: KEY=VALUE lines
 * as docker compose reads them. Blank lines and "#" comments are skipped,
 * "export " is allowed before a key; a value is 'literal', "with \n
 * escapes" (both may span lines) or bare (cut at " #", trimmed). Bare and
 * double-quoted values are interpolated with the variables defined above
 * them and those given. A bare KEY takes its value from those given.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DOTENV_MAX (1u << 20)

/* the line p is on: counted on from the last call, the file is read forward */
struct lines {
    const char *at;
    int n;
};

static int line_of(struct lines *l, const char *p)
{
    for (; l->at < p; l->at++)
        l->n += *l->at == '\n';
    return l->n;
}

/* look: the given variables with those set so far over them */
static int set_value(const char *file, int line, json_t *look, json_t *out, const char *key,
                     const char *raw, size_t len, bool interp, struct berr *err)
{
    char *s = strndup(raw, len);
    if (interp && strchr(s, '$')) {
        char *o, *why;
        int rc = interp_string(s, look, &o, &why);
        free(s);
        if (rc < 0) {
            rc = berr_set(err, BERR_INVALID, "%s: line %d: %s", file, line, why ? why : "out of memory");
            free(why);
            return rc;
        }
        s = o;
    }
    json_t *v = json_string(s);
    free(s);
    if (!v)
        return berr_set(err, BERR_INVALID, "%s: line %d: the value is not UTF-8", file, line);
    json_object_set(look, key, v);
    json_object_set_new(out, key, v);
    return 0;
}

static int parse(const char *buf, size_t len, const char *file, json_t *vars, json_t *look,
                 json_t *out, struct berr *err)
{
    const char *p = buf, *end = buf + len;
    struct lines lines = {buf, 1};
    if (memchr(buf, '\0', len))
        return berr_set(err, BERR_INVALID, "%s: not a text file", file);
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 byte order mark */
        p += 3;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (p >= end)
            break;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (*p == '#') {
            p = eol;
            continue;
        }
        int line = line_of(&lines, p);
        if ((size_t)(eol - p) > 7 && strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
            p += 7;
            while (p < eol && (*p == ' ' || *p == '\t'))
                p++;
        }
        const char *k = p;
        while (p < eol && (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-'))
            p++;
        size_t kl = (size_t)(p - k);
        char key[256];
        if (kl == 0 || kl >= sizeof key || isdigit((unsigned char)k[0]) || k[0] == '.' || k[0] == '-')
            return berr_set(err, BERR_INVALID, "%s: line %d: invalid variable name \"%.*s\"", file,
                            line, (int)((eol - k) > 40 ? 40 : (eol - k)), k);
        memcpy(key, k, kl);
        key[kl] = '\0';
        while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p == eol) { /* a bare KEY: from the environment, when set there */
            json_t *v = json_object_get(vars, key);
            if (json_is_string(v)) {
                json_object_set(out, key, v);
                json_object_set(look, key, v);
            }
            p = eol;
            continue;
        }
        if (*p != '=')
            return berr_set(err, BERR_INVALID, "%s: line %d: invalid variable name \"%.*s\"", file,
                            line, (int)((eol - k) > 40 ? 40 : (eol - k)), k);
        p++;
        while (p < eol && (*p == ' ' || *p == '\t'))
            p++;
        int rc;
        if (p < end && *p == '\'') {
            const char *q = memchr(p + 1, '\'', (size_t)(end - p - 1));
            if (!q)
                return berr_set(err, BERR_INVALID, "%s: line %d: unterminated quote", file, line);
            rc = set_value(file, line, look, out, key, p + 1, (size_t)(q - p - 1), false, err);
            p = q + 1;
        } else if (p < end && *p == '"') {
            char *v = malloc((size_t)(end - p) + 1);
            size_t vl = 0;
            const char *q = p + 1;
            for (; q < end && *q != '"'; q++) {
                if (*q == '\\' && q + 1 < end) {
                    q++;
                    switch (*q) {
                    case 'n': v[vl++] = '\n'; break;
                    case 't': v[vl++] = '\t'; break;
                    case 'r': v[vl++] = '\r'; break;
                    case '\\': case '"': v[vl++] = *q; break;
                    case '$': v[vl++] = '$'; v[vl++] = '$'; break; /* stays literal */
                    default: v[vl++] = '\\'; v[vl++] = *q; break;
                    }
                } else
                    v[vl++] = *q;
            }
            if (q >= end) {
                free(v);
                return berr_set(err, BERR_INVALID, "%s: line %d: unterminated quote", file, line);
            }
            rc = set_value(file, line, look, out, key, v, vl, true, err);
            free(v);
            p = q + 1;
        } else {
            const char *e = p;
            while (e < eol && !(*e == '#' && e > p && (e[-1] == ' ' || e[-1] == '\t')))
                e++;
            while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
            rc = set_value(file, line, look, out, key, p, (size_t)(e - p), true, err);
            p = eol;
        }
        if (rc < 0)
            return rc;
        /* after a quoted value: only blanks or a comment up to the end of the line */
        const char *rest_end = memchr(p, '\n', (size_t)(end - p));
        if (!rest_end)
            rest_end = end;
        for (const char *r = p; r < rest_end; r++) {
            if (*r == '#')
                break;
            if (*r != ' ' && *r != '\t' && *r != '\r')
                return berr_set(err, BERR_INVALID, "%s: line %d: text after the closing quote",
                                file, line_of(&lines, r));
        }
        p = rest_end;
    }
    return 0;
}

int dotenv_parse(const char *buf, size_t len, const char *file, json_t *vars, json_t *out,
                 struct berr *err)
{
    json_t *look = json_copy(vars);
    json_object_update(look, out);
    int rc = parse(buf, len, file, vars, look, out, err);
    json_decref(look);
    return rc;
}

int dotenv_read(const char *path, const char *name, json_t *vars, json_t *out, struct berr *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno == ENOENT ? BERR_NOTFOUND : BERR_IO, "cannot read %s: %s", name,
                        strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return berr_set(err, BERR_INVALID, "%s: not a regular file", name);
    }
    if (st.st_size > DOTENV_MAX) {
        close(fd);
        return berr_set(err, BERR_TOOBIG, "%s: larger than %u bytes", name, DOTENV_MAX);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t n = 0, r;
    while (n < st.st_size && (r = read(fd, buf + n, (size_t)(st.st_size - n))) > 0)
        n += r;
    close(fd);
    int rc = dotenv_parse(buf, (size_t)n, name, vars, out, err);
    free(buf);
    return rc;
}
