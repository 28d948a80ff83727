/*
 * fuzz.h - what every libFuzzer target of tests/fuzz shares.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput and calls one of
 * Berth's real parsers the way berthd or berth calls it. The parsers take
 * NUL-terminated strings or files, so the input is copied into a fresh
 * buffer (ASan then sees any read past its end) or into a file of a
 * per-process temporary directory. A target returns 0 for any input: a bug
 * is a sanitizer report, a leak, a timeout or an abort() of a check here.
 */
#ifndef BERTH_FUZZ_H
#define BERTH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string (NUL bytes end it early, as they would in a
 * header or a command-line argument). Free with free(). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A directory of this process's, made once and kept (under $TMPDIR). */
static inline const char *fuzz_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/berth-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir))
            abort();
    }
    return dir;
}

/* Write the input to <tmpdir>/<name>; the path goes to out. */
static inline void fuzz_file(const char *name, const uint8_t *data, size_t size,
                             char *out, size_t len)
{
    snprintf(out, len, "%s/%s", fuzz_tmpdir(), name);
    FILE *f = fopen(out, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
}

/* Split the input at its first newline: the first line (a header, a
 * media type, a key) and the rest. Both are fresh C strings. */
static inline void fuzz_split(const uint8_t *data, size_t size, char **head, char **rest,
                              size_t *rest_len)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t h = nl ? (size_t)(nl - data) : size;
    *head = fuzz_cstr(data, h);
    size_t off = nl ? h + 1 : size;
    *rest = fuzz_cstr(data + off, size - off);
    *rest_len = size - off;
}

#endif
