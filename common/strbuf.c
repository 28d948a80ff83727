/*
 * strbuf.c - bounded string building for fixed-size buffers.
 *
 * buf_appendf replaces the `n += snprintf(buf + n, size - n, ...)` idiom,
 * which walks past the end of the buffer as soon as one piece does not fit
 * (snprintf returns the length it wanted, not the length it wrote, and
 * `size - n` then wraps around).
 */
#include "common.h"

#include <stdio.h>

int buf_vappendf(char *buf, size_t size, size_t *len, const char *fmt, va_list ap)
{
    size_t at = *len;
    if (at >= size) {
        /* already truncated: nothing is written, but the length the whole
         * string would need keeps counting, so a caller can size a buffer */
        int want = vsnprintf(NULL, 0, fmt, ap);
        if (want > 0)
            *len = at + (size_t)want;
        return -BERR_TOOBIG;
    }
    int n = vsnprintf(buf + at, size - at, fmt, ap);
    if (n < 0) {          /* an encoding error: keep what was there */
        buf[at] = '\0';
        return -BERR_INVALID;
    }
    *len = at + (size_t)n;
    return *len < size ? 0 : -BERR_TOOBIG;
}

int buf_appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vappendf(buf, size, len, fmt, ap);
    va_end(ap);
    return rc;
}
