/*
 * names.c - the distribution spec's grammars for repository names, tags and
 * upload ids, and the header values a registry parses (Range,
 * Content-Range, page sizes). All pure functions: every value is checked
 * here before it is looked up or turned into a path.
 */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <string.h>

static bool is_alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static const char *component_end(const char *p)
{
    if (!is_alnum_lower(*p))
        return NULL;
    while (is_alnum_lower(*p))
        p++;
    for (;;) {
        const char *q = p;
        if (*q == '.') {
            q++;
        } else if (*q == '_') {
            q++;
            if (*q == '_')
                q++;
        } else if (*q == '-') {
            while (*q == '-')
                q++;
        } else {
            return p;
        }
        if (!is_alnum_lower(*q))
            return NULL;
        while (is_alnum_lower(*q))
            q++;
        p = q;
    }
}

bool repo_name_valid(const char *name)
{
    if (!name || strlen(name) > NAME_MAX_LEN)
        return false;
    const char *p = name;
    for (;;) {
        p = component_end(p);
        if (!p)
            return false;
        if (*p == '\0')
            return true;
        if (*p != '/')
            return false;
        p++;
    }
}

bool tag_valid(const char *tag)
{
    if (!tag || !*tag)
        return false;
    size_t n = strlen(tag);
    if (n > TAG_MAX_LEN)
        return false;
    if (!(isalnum((unsigned char)tag[0]) || tag[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)tag[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

bool upload_id_valid(const char *id)
{
    if (!id || strlen(id) != 32)
        return false;
    for (int i = 0; i < 32; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

void upload_id_new(char out[33])
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        abort();   /* no randomness means no safe ids: do not limp on */
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
}

/* Parse a decimal uint64 at *p, advancing it; false when there is none. */
static bool parse_u64(const char **p, uint64_t *out)
{
    if (!isdigit((unsigned char)**p))
        return false;
    uint64_t v = 0;
    while (isdigit((unsigned char)**p)) {
        unsigned d = (unsigned)(**p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        (*p)++;
    }
    *out = v;
    return true;
}

int range_parse(const char *hdr, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!hdr || strncmp(hdr, "bytes=", 6) != 0)
        return -BERR_INVALID;
    const char *p = hdr + 6;
    while (*p == ' ')
        p++;
    uint64_t a = 0, b = 0;
    if (*p == '-') {                    /* suffix: the last n bytes */
        p++;
        if (!parse_u64(&p, &b))
            return -BERR_INVALID;
        while (*p == ' ')
            p++;
        if (*p)
            return -BERR_INVALID;
        if (b == 0 || size == 0)
            return -BERR_TOOBIG;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 0;
    }
    if (!parse_u64(&p, &a) || *p++ != '-')
        return -BERR_INVALID;
    bool open_ended = !parse_u64(&p, &b);
    while (*p == ' ')
        p++;
    if (*p)                             /* several ranges or junk */
        return -BERR_INVALID;
    if (!open_ended && b < a)
        return -BERR_INVALID;
    if (a >= size)
        return -BERR_TOOBIG;
    *first = a;
    *last = open_ended || b >= size ? size - 1 : b;
    return 0;
}

int content_range_parse(const char *hdr, uint64_t *first, uint64_t *last)
{
    if (!hdr)
        return -BERR_INVALID;
    const char *p = hdr;
    if (strncmp(p, "bytes", 5) == 0) {
        p += 5;
        if (*p == '=' || *p == ' ')
            p++;
    }
    uint64_t a, b;
    if (!parse_u64(&p, &a) || *p++ != '-' || !parse_u64(&p, &b))
        return -BERR_INVALID;
    if (*p == '/') {                   /* a total length, or an asterisk */
        p++;
        uint64_t total;
        if (*p == '*')
            p++;
        else if (!parse_u64(&p, &total) || total <= b)
            return -BERR_INVALID;
    }
    if (*p || b < a)
        return -BERR_INVALID;
    *first = a;
    *last = b;
    return 0;
}

int page_size_parse(const char *n, int max, int *out)
{
    if (!n || !*n) {
        *out = max;
        return 0;
    }
    /* digits only; any number too large for 64 bits is simply above max */
    size_t len = strlen(n);
    if (strspn(n, "0123456789") != len)
        return -BERR_INVALID;
    const char *p = n;
    uint64_t v;
    if (!parse_u64(&p, &v) || *p)
        v = UINT64_MAX;
    *out = v > (uint64_t)max ? max : (int)v;
    return 0;
}
