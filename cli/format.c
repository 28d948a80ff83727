/*
 * format.c - --format for ps, images and history (inspect's is in
 * cmd_inspect.c): docker's Go templates over one JSON object per row,
 * with docker's "table" prefix (a header row made by running the template
 * over the column names, cells cut at tabs and aligned as Go's tabwriter
 * with docker's settings: at least 10 wide, 3 spaces of padding).
 */
#include "builtin.h"
#include "../common/template.h"

#include <stdio.h>
#include <string.h>

/* \t and \n written as two characters mean a tab and a newline, as docker's. */
static char *unescape(const char *fmt)
{
    char *s = strdup(fmt), *w = s;
    for (const char *r = fmt; s && *r; r++) {
        if (r[0] == '\\' && (r[1] == 't' || r[1] == 'n')) {
            *w++ = r[1] == 't' ? '\t' : '\n';
            r++;
        } else
            *w++ = *r;
    }
    if (s)
        *w = 0;
    return s;
}

static size_t utf8_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)s[i] & 0xc0) != 0x80;
    return w;
}

/* Go's tabwriter (minwidth 10, padding 3): a tab ends a cell; cells of a
 * column are as wide as its widest; the last cell of a line is not aligned. */
static void print_aligned(const char *text)
{
    size_t widths[64] = {0};
    for (int pass = 0; pass < 2; pass++) {
        const char *line = text;
        while (*line) {
            const char *eol = strchr(line, '\n');
            size_t len = eol ? (size_t)(eol - line) : strlen(line);
            size_t col = 0, start = 0;
            for (size_t i = 0; i <= len; i++) {
                if (i < len && line[i] != '\t')
                    continue;
                size_t w = utf8_width(line + start, i - start);
                if (i < len && col < 64) {
                    if (pass == 0 && w + 3 > widths[col])
                        widths[col] = w + 3;
                    if (pass == 1)
                        printf("%.*s%*s", (int)(i - start), line + start,
                               (int)((widths[col] < 10 ? 10 : widths[col]) - w), "");
                } else if (pass == 1)
                    printf("%.*s", (int)(i - start), line + start);
                col++;
                start = i + 1;
            }
            if (pass == 1)
                printf("\n");
            line += len + (eol ? 1 : 0);
        }
    }
}

int cli_format_print(const char *cmd, const char *format, json_t *items, json_t *headers)
{
    bool table = strncmp(format, "table", 5) == 0;
    const char *body = table ? format + 5 : format;
    while (*body == ' ')
        body++;
    char *text = unescape(body);
    size_t n = strlen(text);
    while (n && text[n - 1] == ' ')
        text[--n] = 0;
    struct tmpl *t;
    struct berr err = {0};
    if (tmpl_parse(text, &t, &err) < 0) {
        fprintf(stderr, "berth %s: failed to parse template: %s\n", cmd, err.msg);
        free(text);
        return 1;
    }
    free(text);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    int status = 0;
    if (table) {
        char *row;
        if (tmpl_exec(t, headers, &row, &err) == 0) {
            fprintf(f, "%s\n", row);
            free(row);
        }
        memset(&err, 0, sizeof err);
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        char *row;
        if (tmpl_exec(t, item, &row, &err) < 0) {
            fprintf(stderr, "berth %s: %s\n", cmd, err.msg);
            status = 1;
            break;
        }
        fprintf(f, "%s\n", row);
        free(row);
    }
    fclose(f);
    if (status == 0) {
        if (table)
            print_aligned(out);
        else
            fputs(out, stdout);
    }
    free(out);
    tmpl_free(t);
    return status;
}
