/*
 * log.c - one line per event on stderr, as plain text or as JSON lines.
 * Lines are formatted into a local buffer and written with a single
 * write(2), so lines from worker threads never interleave.
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
    snprintf(buf + n, len - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

static void emit(json_t *obj, const char *text_line)
{
    char line[2048];
    int n;
    if (as_json) {
        char *s = json_dumps(obj, JSON_COMPACT);
        n = snprintf(line, sizeof line, "%s\n", s ? s : "{}");
        free(s);
    } else {
        n = snprintf(line, sizeof line, "%s\n", text_line);
    }
    if (n >= (int)sizeof line) {
        n = sizeof line;
        line[n - 1] = '\n';
    }
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if ((int)level < min_level)
        return;
    char msg[1024], ts[40], text[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    timestamp(ts, sizeof ts);
    json_t *obj = NULL;
    if (as_json)
        obj = json_pack("{s:s,s:s,s:s}", "time", ts, "level",
                        level_names[level], "msg", msg);
    else
        snprintf(text, sizeof text, "%s %-5s %s", ts, level_names[level], msg);
    emit(obj, text);
    json_decref(obj);
}

void log_request(const char *id, const char *client, const char *method, const char *path,
                 unsigned status, uint64_t bytes_in, uint64_t bytes_out, double seconds)
{
    if ((int)LOG_INFO < min_level)
        return;
    char ts[40], text[1200];
    timestamp(ts, sizeof ts);
    json_t *obj = NULL;
    if (as_json)
        obj = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:f}", "time", ts, "level",
                        "info", "request_id", id, "method", method, "path", path, "status",
                        (int)status, "bytes", (json_int_t)(bytes_in + bytes_out),
                        "bytes_in", (json_int_t)bytes_in, "bytes_out", (json_int_t)bytes_out,
                        "duration", seconds);
    if (obj)
        json_object_set_new(obj, "client", json_string(client));
    else
        snprintf(text, sizeof text, "%s info  %s %s %s %u %llu %.6fs %s", ts, id, method, path,
                 status, (unsigned long long)(bytes_in + bytes_out), seconds, client);
    emit(obj, text);
    json_decref(obj);
}
