/*
 * log.c - one line per event on stderr, as plain text or as JSON lines.
 * Lines are formatted into a local buffer and written with a single
 * write(2), so lines from worker threads never interleave. What comes from
 * outside (paths, user names) is escaped so that it can neither start a
 * line of its own nor make a JSON line unencodable.
 */
#include "common.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Set again by a reload while other threads log. */
static _Atomic int min_level = LOG_INFO;
static _Atomic bool as_json;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level level, bool json)
{
    min_level = level;
    as_json = json;
}

enum log_level log_level_parse(const char *s, bool *ok)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *ok = true;
            return (enum log_level)i;
        }
    }
    *ok = false;
    return LOG_INFO;
}

static void timestamp(char *buf, size_t len)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_appendf(buf, len, &n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

size_t log_escape(const char *in, char *out, size_t size, bool space)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t o = 0;
    if (size == 0)
        return 0;
    while (*p) {
        size_t n = utf8_len(p);
        /* C1 controls (U+0080..U+009F) act on some terminals as ESC does */
        bool c1 = n == 2 && p[0] == 0xc2 && p[1] < 0xa0;
        char unit[8];
        size_t ulen = 0;
        const unsigned char *take = p;
        if (n == 0 || c1 || *p < 0x20 || *p == 0x7f || (space && *p == ' ')) {
            n = 1;   /* one byte at a time: the rest of a bad sequence follows */
            unit[0] = '\\', unit[1] = 'x', unit[2] = hex[*p >> 4], unit[3] = hex[*p & 15];
            ulen = 4;
            take = (const unsigned char *)unit;
        } else if (*p == '\\') {
            unit[0] = unit[1] = '\\';   /* so "\x0a" in the input stays tellable */
            ulen = 2;
            take = (const unsigned char *)unit;
        } else {
            ulen = n;
        }
        if (o + ulen >= size)
            break;   /* never half an escape or half a character */
        memcpy(out + o, take, ulen);
        o += ulen;
        p += n;
    }
    out[o] = '\0';
    return o;
}

/* One write(2) per line, so lines from several threads never interleave. */
static void emit(json_t *obj, const char *text_line)
{
    char *dumped = as_json && obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    const char *s = as_json ? (dumped ? dumped : "{}") : text_line;
    size_t len = strlen(s);
    char small[4096], *line = len < sizeof small ? small : malloc(len + 1);
    if (line) {
        memcpy(line, s, len);
        line[len] = '\n';
        if (write(STDERR_FILENO, line, len + 1) < 0) {
            /* nowhere left to report it */
        }
        if (line != small)
            free(line);
    }
    free(dumped);
}

/* What reaches a log line from a request (a path, a user name) is escaped
 * by log_escape: a line stays one line, and valid UTF-8, so a JSON line is
 * never refused by the encoder and lost. Up to 4 bytes out per byte in. */
void log_msg(enum log_level level, const char *fmt, ...)
{
    if ((int)level < min_level)
        return;
    char msg[1024], esc[4 * sizeof msg + 1], ts[40], text[sizeof esc + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_escape(msg, esc, sizeof esc, false);
    timestamp(ts, sizeof ts);
    json_t *obj = NULL;
    if (as_json)
        obj = json_pack("{s:s,s:s,s:s}", "time", ts, "level",
                        level_names[level], "msg", esc);
    else
        snprintf(text, sizeof text, "%s %-5s %s", ts, level_names[level], esc);
    emit(obj, text);
    json_decref(obj);
}

void log_request(const char *id, const char *client, const char *account, const char *method,
                 const char *path, unsigned status, uint64_t bytes_in, uint64_t bytes_out,
                 double seconds)
{
    if ((int)LOG_INFO < min_level)
        return;
    /* in text lines a space would start a new field: escaped there too */
    char ts[40], eid[80], emethod[128], epath[4 * 1024 + 1], eacct[4 * 128 + 1];
    char text[sizeof epath + sizeof eacct + 400];
    log_escape(id, eid, sizeof eid, !as_json);
    log_escape(method, emethod, sizeof emethod, !as_json);
    log_escape(path, epath, sizeof epath, !as_json);
    log_escape(account ? account : "", eacct, sizeof eacct, !as_json);
    timestamp(ts, sizeof ts);
    json_t *obj = NULL;
    if (as_json)
        obj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:f}", "time", ts, "level",
                        "info", "request_id", eid, "method", emethod, "path", epath, "status",
                        (int)status, "bytes", (json_int_t)(bytes_in + bytes_out),
                        "bytes_in", (json_int_t)bytes_in, "bytes_out", (json_int_t)bytes_out,
                        "duration", seconds);
    if (obj) {
        json_object_set_new(obj, "client", json_string(client));
        json_object_set_new(obj, "account", json_string(eacct));
    } else {
        /* the account last, after the client, when there is one */
        snprintf(text, sizeof text, "%s info  %s %s %s %u %llu %.6fs %s%s%s", ts, eid, emethod,
                 epath, status, (unsigned long long)(bytes_in + bytes_out), seconds, client,
                 eacct[0] ? " " : "", eacct);
    }
    emit(obj, text);
    json_decref(obj);
}
