/*
 * jwt.c - JSON Web Tokens as Docker's token authentication uses them.
 *
 * Signing is ES256 only (P-256, SHA-256, the signature as raw r||s).
 * Verification accepts ES256, RS256 and EdDSA, each only with a key of the
 * matching type, so no token can pick a weaker algorithm or trick an RSA
 * key into an HMAC check; "none" and everything else are refused. Keys
 * come from the configuration only: a token naming a key (kid) picks among
 * them; a token carrying a certificate chain (x5c) is accepted when the
 * chain ends at a configured certificate; a key embedded in the token
 * (jwk) is never used by itself.
 */
#include "internal.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>

int base64url_encode(const unsigned char *in, size_t len, char **out)
{
    char *buf = malloc(4 * ((len + 2) / 3) + 1);
    if (!buf)
        return -BERR_IO;
    int n = EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
    while (n > 0 && buf[n - 1] == '=')
        n--;
    buf[n] = '\0';
    for (int i = 0; i < n; i++)
        buf[i] = buf[i] == '+' ? '-' : buf[i] == '/' ? '_' : buf[i];
    *out = buf;
    return 0;
}

int base64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    size_t padded = (len + 3) / 4 * 4;
    if (len % 4 == 1)
        return -BERR_INVALID;
    char *tmp = malloc(padded + 1);
    unsigned char *buf = malloc(padded / 4 * 3 + 1);
    if (!tmp || !buf) {
        free(tmp);
        free(buf);
        return -BERR_IO;
    }
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '+' || c == '/' || c == '=') {   /* url alphabet only */
            free(tmp);
            free(buf);
            return -BERR_INVALID;
        }
        tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    for (size_t i = len; i < padded; i++)
        tmp[i] = '=';
    int n = EVP_DecodeBlock(buf, (unsigned char *)tmp, (int)padded);
    free(tmp);
    if (n < 0) {
        free(buf);
        return -BERR_INVALID;
    }
    n -= (int)(padded - len);   /* EVP_DecodeBlock counts padding as zeros */
    *out = buf;
    *outlen = (size_t)n;
    return 0;
}

/* libtrust key id: base32 of the first 240 bits of SHA-256(DER public
 * key), in groups of four separated by colons. */
int jwt_key_id(EVP_PKEY *key, char out[64])
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(key, &der);
    if (len <= 0)
        return -BERR_INVALID;
    unsigned char md[32];
    EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char b32[49];
    for (int i = 0; i < 48; i++) {          /* 30 bytes = 48 x 5 bits */
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)md[byte] << 8 | (byte + 1 < 32 ? md[byte + 1] : 0);
        b32[i] = alphabet[(v >> (11 - shift)) & 31];
    }
    b32[48] = '\0';
    size_t o = 0;
    for (int i = 0; i < 48; i += 4) {
        if (i)
            out[o++] = ':';
        memcpy(out + o, b32 + i, 4);
        o += 4;
    }
    out[o] = '\0';
    return 0;
}

static int keys_add(struct jwt_keys *k, EVP_PKEY *key)
{
    EVP_PKEY **keys = realloc(k->keys, (k->nkeys + 1) * sizeof *keys);
    char **kids = realloc(k->kids, (k->nkeys + 1) * sizeof *kids);
    if (keys)
        k->keys = keys;
    if (kids)
        k->kids = kids;
    char kid[64];
    if (!keys || !kids || jwt_key_id(key, kid) < 0)
        return -BERR_IO;
    k->keys[k->nkeys] = key;
    k->kids[k->nkeys] = strdup(kid);
    k->nkeys++;
    return 0;
}

int jwt_keys_load(struct jwt_keys *k, const char *file, struct berr *err)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return berr_set(err, BERR_IO, "cannot read key %s", file);
    if (!k->roots)
        k->roots = X509_STORE_new();
    int found = 0;
    /* A file may hold public keys, private keys or certificates. */
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long len = 0;
        if (!PEM_read(f, &name, &header, &data, &len))
            break;
        const unsigned char *p = data;
        EVP_PKEY *key = NULL;
        if (strcmp(name, "CERTIFICATE") == 0) {
            X509 *cert = d2i_X509(NULL, &p, len);
            if (cert) {
                X509_STORE_add_cert(k->roots, cert);
                key = X509_get_pubkey(cert);
                X509_free(cert);
            }
        } else if (strcmp(name, "PUBLIC KEY") == 0) {
            key = d2i_PUBKEY(NULL, &p, len);
        } else if (strstr(name, "PRIVATE KEY")) {
            key = d2i_AutoPrivateKey(NULL, &p, len);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        if (key && keys_add(k, key) == 0)
            found++;
        else
            EVP_PKEY_free(key);
    }
    fclose(f);
    ERR_clear_error();
    if (!found)
        return berr_set(err, BERR_INVALID, "%s: no key or certificate in it", file);
    return 0;
}

void jwt_keys_free(struct jwt_keys *k)
{
    for (size_t i = 0; i < k->nkeys; i++) {
        EVP_PKEY_free(k->keys[i]);
        free(k->kids[i]);
    }
    free(k->keys);
    free(k->kids);
    X509_STORE_free(k->roots);
    memset(k, 0, sizeof *k);
}

static char *b64_json(json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    char *out = NULL;
    if (text)
        base64url_encode((unsigned char *)text, strlen(text), &out);
    free(text);
    return out;
}

char *jwt_sign(EVP_PKEY *key, const char *kid, json_t *claims)
{
    json_t *header = json_pack("{s:s,s:s,s:s}", "typ", "JWT", "alg", "ES256", "kid", kid);
    char *h = b64_json(header), *c = b64_json(claims), *s = NULL, *out = NULL;
    json_decref(header);
    size_t silen = (h ? strlen(h) : 0) + (c ? strlen(c) : 0) + 2;
    char *signing_input = malloc(silen);
    unsigned char der[128], raw[64];
    size_t derlen = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ECDSA_SIG *sig = NULL;
    if (!h || !c || !signing_input || !ctx)
        goto out;
    snprintf(signing_input, silen, "%s.%s", h, c);
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, der, &derlen, (unsigned char *)signing_input,
                       strlen(signing_input)) != 1)
        goto out;
    const unsigned char *p = der;
    if (!(sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)))
        goto out;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) != 32 ||
        base64url_encode(raw, 64, &s) < 0)
        goto out;
    size_t len = strlen(signing_input) + strlen(s) + 2;
    if ((out = malloc(len)))
        snprintf(out, len, "%s.%s", signing_input, s);
out:
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    free(signing_input);
    free(h);
    free(c);
    free(s);
    return out;
}

/* The key type an algorithm demands. */
static int alg_key_type(const char *alg, const EVP_MD **md)
{
    if (strcmp(alg, "ES256") == 0) {
        *md = EVP_sha256();
        return EVP_PKEY_EC;
    }
    if (strcmp(alg, "RS256") == 0) {
        *md = EVP_sha256();
        return EVP_PKEY_RSA;
    }
    if (strcmp(alg, "EdDSA") == 0) {
        *md = NULL;
        return EVP_PKEY_ED25519;
    }
    return -1;
}

static bool verify_with(EVP_PKEY *key, const char *alg, const char *input,
                        size_t inlen, const unsigned char *sig, size_t siglen)
{
    const EVP_MD *md;
    int type = alg_key_type(alg, &md);
    if (type < 0 || EVP_PKEY_base_id(key) != type)
        return false;
    unsigned char der[160];
    if (type == EVP_PKEY_EC) {
        /* ES256 is P-256 only, and its signature is raw r||s */
        if (EVP_PKEY_bits(key) != 256 || siglen != 64)
            return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
            BN_free(r);
            BN_free(s);
            ECDSA_SIG_free(es);
            return false;
        }
        unsigned char *p = der;
        int n = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        if (n <= 0)
            return false;
        sig = der;
        siglen = (size_t)n;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
              EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)input, inlen) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* The leaf key of an x5c chain, when the chain ends at a configured
 * certificate. */
static EVP_PKEY *x5c_key(const struct jwt_keys *k, json_t *x5c)
{
    if (!json_is_array(x5c) || json_array_size(x5c) == 0 || !k->roots)
        return NULL;
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509 *leaf = NULL;
    EVP_PKEY *key = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(x5c, i, v) {
        /* x5c entries are standard base64 DER */
        const char *b64 = json_string_value(v);
        if (!b64)
            goto out;
        size_t len = strlen(b64);
        unsigned char *der = malloc(len);
        int n = der ? EVP_DecodeBlock(der, (const unsigned char *)b64, (int)len) : -1;
        const unsigned char *p = der;
        X509 *cert = n > 0 ? d2i_X509(NULL, &p, n) : NULL;
        free(der);
        if (!cert)
            goto out;
        if (i == 0)
            leaf = cert;
        else
            sk_X509_push(chain, cert);
    }
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx && X509_STORE_CTX_init(ctx, k->roots, leaf, chain) == 1 &&
        X509_verify_cert(ctx) == 1)
        key = X509_get_pubkey(leaf);
    X509_STORE_CTX_free(ctx);
out:
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return key;
}

int jwt_verify(const struct jwt_keys *k, const char *token, json_t **claims,
               struct berr *err)
{
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.'))
        return berr_set(err, BERR_INVALID, "not a JWS compact token");
    unsigned char *hjson = NULL, *cjson = NULL, *sig = NULL;
    size_t hlen, clen, siglen;
    json_t *header = NULL, *body = NULL;
    int rc = berr_set(err, BERR_INVALID, "malformed token");
    if (base64url_decode(token, (size_t)(dot1 - token), &hjson, &hlen) < 0 ||
        base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &cjson, &clen) < 0 ||
        base64url_decode(dot2 + 1, strlen(dot2 + 1), &sig, &siglen) < 0)
        goto out;
    header = json_loadb((char *)hjson, hlen, JSON_REJECT_DUPLICATES, NULL);
    body = json_loadb((char *)cjson, clen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(header) || !json_is_object(body))
        goto out;
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const EVP_MD *md;
    if (!alg || alg_key_type(alg, &md) < 0) {
        rc = berr_set(err, BERR_INVALID, "token algorithm not accepted");
        goto out;
    }
    const char *kid = json_string_value(json_object_get(header, "kid"));
    const char *input = token;
    size_t inlen = (size_t)(dot2 - token);
    bool ok = false;
    EVP_PKEY *chained = x5c_key(k, json_object_get(header, "x5c"));
    if (chained) {
        ok = verify_with(chained, alg, input, inlen, sig, siglen);
        EVP_PKEY_free(chained);
    } else {
        /* the named key first; any configured key may have signed it */
        for (size_t i = 0; i < k->nkeys && !ok; i++)
            if (kid && strcmp(kid, k->kids[i]) == 0)
                ok = verify_with(k->keys[i], alg, input, inlen, sig, siglen);
        for (size_t i = 0; i < k->nkeys && !ok; i++)
            ok = verify_with(k->keys[i], alg, input, inlen, sig, siglen);
    }
    if (!ok) {
        rc = berr_set(err, BERR_INVALID, "token signature not valid for any trusted key");
        goto out;
    }
    *claims = body;
    body = NULL;
    rc = 0;
out:
    json_decref(header);
    json_decref(body);
    free(hjson);
    free(cjson);
    free(sig);
    return rc;
}
