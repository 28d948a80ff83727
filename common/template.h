/*
 * template.h - Go text/template, the subset docker's --format speaks, over
 * jansson values: {{.A.B}}, {{$}}, {{$v := ...}}, pipes, if/else/range/with,
 * {{- -}} trimming, comments, and docker's functions (json, upper, lower,
 * join, split, title, pad, truncate) beside Go's (printf, print, println,
 * len, index, and, or, not, eq, ne, lt, le, gt, ge), and docker's Label
 * method ({{.Label "k"}}: a value of the Labels beside it). {{template}},
 * {{define}} and {{block}} are refused. Values print as Go prints the
 * decoded JSON: [a b], map[k:v], <nil>, <no value> for a missing key.
 */
#ifndef BERTH_COMMON_TEMPLATE_H
#define BERTH_COMMON_TEMPLATE_H

#include "common.h"

#include <jansson.h>

struct tmpl;

/* Parse; on error err's message is Go's ("template: :1: unclosed action"). */
int tmpl_parse(const char *text, struct tmpl **out, struct berr *err);
/* Run over data; *out (malloc'd, NUL-terminated) is the output. */
int tmpl_exec(const struct tmpl *t, json_t *data, char **out, struct berr *err);
void tmpl_free(struct tmpl *t);

#endif
