/*
 * digest.c - content digests: parsing "algo:hex" strings and hashing with
 * OpenSSL's EVP interface. Only sha256 and sha512 exist for Berth; every
 * other algorithm is refused at parse time so that no caller has to care.
 */
#include "common.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct hasher {
    EVP_MD_CTX *ctx;
    enum digest_algo algo;
};

static bool all_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

int digest_parse(const char *s, enum digest_algo *algo)
{
    if (!s)
        return -BERR_INVALID;
    enum digest_algo a;
    size_t hexlen;
    if (strncmp(s, "sha256:", 7) == 0) {
        a = DIGEST_SHA256;
        hexlen = 64;
    } else if (strncmp(s, "sha512:", 7) == 0) {
        a = DIGEST_SHA512;
        hexlen = 128;
    } else {
        return -BERR_UNSUPPORTED;
    }
    if (!all_lower_hex(s + 7, hexlen))
        return -BERR_INVALID;
    if (algo)
        *algo = a;
    return (int)a;
}

bool digest_valid(const char *s)
{
    return digest_parse(s, NULL) > 0;
}

const char *digest_hex(const char *digest)
{
    const char *colon = strchr(digest, ':');
    return colon ? colon + 1 : digest;
}

static const EVP_MD *algo_md(enum digest_algo algo)
{
    return algo == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();
}

static const char *algo_name(enum digest_algo algo)
{
    return algo == DIGEST_SHA512 ? "sha512" : "sha256";
}

struct hasher *hasher_new(enum digest_algo algo)
{
    struct hasher *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->algo = algo;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, algo_md(algo), NULL) != 1) {
        hasher_free(h);
        return NULL;
    }
    return h;
}

int hasher_update(struct hasher *h, const void *data, size_t len)
{
    return EVP_DigestUpdate(h->ctx, data, len) == 1 ? 0 : -BERR_IO;
}

int hasher_final(struct hasher *h, char out[DIGEST_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1)
        return -BERR_IO;
    static const char hex[] = "0123456789abcdef";
    size_t off = (size_t)snprintf(out, DIGEST_MAX, "%s:", algo_name(h->algo));
    for (unsigned i = 0; i < len; i++) {
        out[off++] = hex[md[i] >> 4];
        out[off++] = hex[md[i] & 15];
    }
    out[off] = '\0';
    return 0;
}

void hasher_free(struct hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

enum digest_algo hasher_algo(const struct hasher *h)
{
    return h->algo;
}

int digest_buffer(enum digest_algo algo, const void *data, size_t len,
                  char out[DIGEST_MAX])
{
    struct hasher *h = hasher_new(algo);
    if (!h)
        return -BERR_IO;
    int rc = hasher_update(h, data, len);
    if (rc == 0)
        rc = hasher_final(h, out);
    hasher_free(h);
    return rc;
}

int hasher_update_fd(struct hasher *h, int fd, uint64_t len)
{
    enum { CHUNK = 1 << 20 };
    auto_free char *buf = malloc(CHUNK);
    if (!buf)
        return -BERR_IO;
    uint64_t off = 0;
    while (off < len) {
        size_t want = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -BERR_IO;
        if (hasher_update(h, buf, (size_t)n) < 0)
            return -BERR_IO;
        off += (uint64_t)n;
    }
    return 0;
}
