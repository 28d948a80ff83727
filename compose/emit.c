/*
 * emit.c - compose_write_yaml: the model as YAML, with libyaml's emitter,
 * as `compose config` prints it. A string that a YAML reader would take for
 * something else (null, a boolean, a number; also yes/no/on/off, which
 * YAML 1.1 readers turn into booleans) is double-quoted, so the output
 * reads back as the same model.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

static int out_fn(void *data, unsigned char *buf, size_t size)
{
    return fwrite(buf, 1, size, (FILE *)data) == size;
}

static bool needs_quotes(const char *s, size_t len)
{
    static const char *const words[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                        "on", "On", "ON", "off", "Off", "OFF"};
    if (len == 0)
        return true;
    for (size_t i = 0; i < len; i++) /* "a\nb" reads better than a folded block */
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    json_t *v = cy_plain(s, len);
    bool str = json_is_string(v);
    json_decref(v);
    /* "1:30" and the like: sexagesimal numbers to YAML 1.1 readers */
    if (str && strspn(s, "0123456789:_.+-") == len && strchr(s, ':'))
        return true;
    return !str;
}

static int scalar(yaml_emitter_t *e, const char *s, size_t len, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style);
    return yaml_emitter_emit(e, &ev) ? 0 : -1;
}

static int emit(yaml_emitter_t *e, json_t *v)
{
    yaml_event_t ev;
    char buf[64];
    size_t i;
    const char *k;
    json_t *c;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return -1;
        json_object_foreach(v, k, c) {
            if (scalar(e, k, strlen(k), needs_quotes(k, strlen(k)) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                                   : YAML_ANY_SCALAR_STYLE) < 0 ||
                emit(e, c) < 0)
                return -1;
        }
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev) ? 0 : -1;
    case JSON_ARRAY:
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return -1;
        json_array_foreach(v, i, c)
            if (emit(e, c) < 0)
                return -1;
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev) ? 0 : -1;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        yaml_scalar_style_t style = needs_quotes(s, len) || memchr(s, '\0', len)
                                        ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                        : YAML_ANY_SCALAR_STYLE;
        return scalar(e, s, len, style);
    }
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return scalar(e, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL: {
        double d = json_real_value(v);
        /* the shortest text that reads back as the same double, with a '.' */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        if (!strpbrk(buf, ".eEn"))
            strcat(buf, ".0");
        return scalar(e, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
    }
    case JSON_TRUE:
        return scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    default:
        return scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE);
    }
}

int compose_write_yaml(json_t *project, FILE *out, struct berr *err)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return berr_set(err, BERR_IO, "cannot start the YAML emitter");
    yaml_emitter_set_output(&e, out_fn, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    bool ok = yaml_emitter_emit(&e, &ev);
    if (ok) {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        ok = yaml_emitter_emit(&e, &ev);
    }
    ok = ok && emit(&e, project) == 0;
    if (ok) {
        yaml_document_end_event_initialize(&ev, 1);
        ok = yaml_emitter_emit(&e, &ev);
    }
    if (ok) {
        yaml_stream_end_event_initialize(&ev);
        ok = yaml_emitter_emit(&e, &ev);
    }
    if (ok)
        ok = yaml_emitter_flush(&e);
    const char *problem = e.problem;
    yaml_emitter_delete(&e);
    if (!ok)
        return berr_set(err, BERR_IO, "writing YAML: %s", problem ? problem : "failed");
    return 0;
}
