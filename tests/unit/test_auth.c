/*
 * test_auth.c - unit tests for auth/: base64url, JWT signing and
 * verification (ES256 signing; ES256, RS256, EdDSA verification; refusals
 * of tampered, none, HS256 and wrong-key tokens; x5c), the libtrust key id,
 * access rules, rate limiting, htpasswd files, Basic header decoding and
 * the per-request decision (auth_check) in Basic and token modes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../auth/internal.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/berth-unit-auth.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- base64url ------------------------------------------------------------ */

static void test_base64url_round_trip(void **state)
{
    (void)state;
    unsigned char in[200];
    RAND_bytes(in, sizeof in);
    for (size_t len = 0; len <= sizeof in; len++) {
        char *enc = NULL;
        assert_int_equal(base64url_encode(in, len, &enc), 0);
        assert_int_equal(strlen(enc), (len * 4 + 2) / 3);        /* no padding */
        assert_null(strpbrk(enc, "+/="));
        unsigned char *dec = NULL;
        size_t dlen = 0;
        assert_int_equal(base64url_decode(enc, strlen(enc), &dec, &dlen), 0);
        assert_int_equal(dlen, len);
        assert_memory_equal(dec, in, len);
        free(enc);
        free(dec);
    }
}

static void test_base64url_known(void **state)
{
    (void)state;
    const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char *enc = NULL;
    assert_int_equal(base64url_encode(bytes, 3, &enc), 0);
    assert_string_equal(enc, "-_-_");
    free(enc);
    assert_int_equal(base64url_encode((const unsigned char *)"hi", 2, &enc), 0);
    assert_string_equal(enc, "aGk");
    free(enc);

    unsigned char *dec = NULL;
    size_t dlen = 0;
    assert_int_equal(base64url_decode("eyJhbGciOiJFUzI1NiJ9", 20, &dec, &dlen), 0);
    assert_int_equal(dlen, 15);
    assert_memory_equal(dec, "{\"alg\":\"ES256\"}", 15);
    free(dec);
    /* the standard alphabet, padding and impossible lengths are refused */
    assert_int_not_equal(base64url_decode("+/+/", 4, &dec, &dlen), 0);
    assert_int_not_equal(base64url_decode("aGk=", 4, &dec, &dlen), 0);
    assert_int_not_equal(base64url_decode("aGkxa", 5, &dec, &dlen), 0);
    assert_int_not_equal(base64url_decode("a!b#", 4, &dec, &dlen), 0);
}

/* ---- keys and JWTs ---------------------------------------------------------- */

static EVP_PKEY *gen_key(const char *type)
{
    if (strcmp(type, "P-256") == 0 || strcmp(type, "P-384") == 0)
        return EVP_EC_gen(type);
    if (strcmp(type, "RSA") == 0)
        return EVP_RSA_gen(2048);
    return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

/* Write key's public half to a PEM file and load it as the trusted keys. */
static void trust_public(struct jwt_keys *k, EVP_PKEY *key, const char *name)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, key), 1);
    fclose(f);
    struct berr err = {0};
    assert_int_equal(jwt_keys_load(k, path, &err), 0);
}

static char *b64url_str(const char *s)
{
    char *out = NULL;
    assert_int_equal(base64url_encode((const unsigned char *)s, strlen(s), &out), 0);
    return out;
}

/* A compact JWS of header.claims signed by hand: alg one of ES256, RS256,
 * EdDSA, HS256 (secret = hmac_key), none. */
static char *sign_raw(const char *header, const char *claims, const char *alg,
                      EVP_PKEY *key, const unsigned char *hmac_key, size_t hmac_len)
{
    char *h = b64url_str(header), *c = b64url_str(claims);
    size_t inlen = strlen(h) + strlen(c) + 1;
    char *input = malloc(inlen + 1);
    snprintf(input, inlen + 1, "%s.%s", h, c);
    unsigned char sig[1024];
    size_t siglen = 0;
    if (strcmp(alg, "HS256") == 0) {
        unsigned int n = 0;
        HMAC(EVP_sha256(), hmac_key, (int)hmac_len, (unsigned char *)input, inlen, sig, &n);
        siglen = n;
    } else if (strcmp(alg, "none") != 0) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const EVP_MD *md = strcmp(alg, "EdDSA") == 0 ? NULL : EVP_sha256();
        unsigned char der[1024];
        size_t derlen = sizeof der;
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, key), 1);
        assert_int_equal(EVP_DigestSign(ctx, der, &derlen, (unsigned char *)input, inlen), 1);
        EVP_MD_CTX_free(ctx);
        if (strcmp(alg, "ES256") == 0) {
            const unsigned char *p = der;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
            assert_non_null(es);
            int n = (EVP_PKEY_bits(key) + 7) / 8;
            BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, n);
            BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + n, n);
            siglen = 2 * (size_t)n;
            ECDSA_SIG_free(es);
        } else {
            memcpy(sig, der, derlen);
            siglen = derlen;
        }
    }
    char *s = NULL;
    assert_int_equal(base64url_encode(sig, siglen, &s), 0);
    size_t len = inlen + strlen(s) + 2;
    char *out = malloc(len);
    snprintf(out, len, "%s.%s", input, s);
    free(h);
    free(c);
    free(s);
    free(input);
    return out;
}

static const char *CLAIMS = "{\"iss\":\"i\",\"sub\":\"alice\",\"aud\":\"s\",\"exp\":9999999999}";

static void test_jwt_sign_verify(void **state)
{
    (void)state;
    EVP_PKEY *key = gen_key("P-256");
    char kid[64];
    assert_int_equal(jwt_key_id(key, kid), 0);
    struct jwt_keys k = {0};
    trust_public(&k, key, "es.pub");
    assert_int_equal(k.nkeys, 1);
    assert_string_equal(k.kids[0], kid);

    json_t *claims = json_pack("{s:s,s:s,s:[{s:s,s:s,s:[s]}]}", "iss", "berth", "sub", "alice",
                               "access", "type", "repository", "name", "a/b", "actions", "pull");
    char *token = jwt_sign(key, kid, claims);
    assert_non_null(token);

    /* header: ES256, JWT, kid */
    const char *dot = strchr(token, '.');
    assert_non_null(dot);
    unsigned char *hdr = NULL;
    size_t hlen = 0;
    assert_int_equal(base64url_decode(token, (size_t)(dot - token), &hdr, &hlen), 0);
    json_t *h = json_loadb((char *)hdr, hlen, 0, NULL);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), kid);
    json_decref(h);
    free(hdr);
    /* the signature is raw r||s: 64 bytes */
    const char *sig = strrchr(token, '.') + 1;
    assert_int_equal(strlen(sig), 86);

    json_t *out = NULL;
    struct berr err = {0};
    assert_int_equal(jwt_verify(&k, token, &out, &err), 0);
    assert_true(json_equal(out, claims));
    json_decref(out);

    /* tampered payload: same signature, other claims */
    json_object_set_new(claims, "sub", json_string("admin"));
    char *other = jwt_sign(key, kid, claims);
    const char *p1 = strchr(token, '.'), *p2 = strrchr(token, '.');
    const char *o1 = strchr(other, '.'), *o2 = strrchr(other, '.');
    char spliced[4096];
    snprintf(spliced, sizeof spliced, "%.*s%.*s%s", (int)(p1 - token), token,
             (int)(o2 - o1), o1, p2);
    out = NULL;
    assert_int_not_equal(jwt_verify(&k, spliced, &out, &err), 0);
    assert_null(out);
    /* tampered signature */
    snprintf(spliced, sizeof spliced, "%s", token);
    char *last = strrchr(spliced, '.') + 5;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_not_equal(jwt_verify(&k, spliced, &out, &err), 0);
    /* truncated, extra parts, garbage */
    assert_int_not_equal(jwt_verify(&k, "", &out, &err), 0);
    assert_int_not_equal(jwt_verify(&k, "a.b", &out, &err), 0);
    assert_int_not_equal(jwt_verify(&k, "a.b.c.d", &out, &err), 0);
    snprintf(spliced, sizeof spliced, "%.*s.", (int)(p2 - token), token);
    assert_int_not_equal(jwt_verify(&k, spliced, &out, &err), 0);
    assert_null(out);

    /* wrong key: a token from another P-256 key, even naming ours */
    EVP_PKEY *other_key = gen_key("P-256");
    char *forged = jwt_sign(other_key, kid, claims);
    assert_int_not_equal(jwt_verify(&k, forged, &out, &err), 0);
    assert_null(out);

    free(forged);
    free(other);
    free(token);
    json_decref(claims);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(key);
    jwt_keys_free(&k);
}

static void test_jwt_refuses_none_and_hs256(void **state)
{
    (void)state;
    EVP_PKEY *rsa = gen_key("RSA");
    EVP_PKEY *ec = gen_key("P-256");
    struct jwt_keys k = {0};
    trust_public(&k, rsa, "rsa.pub");
    trust_public(&k, ec, "ec.pub");
    json_t *out = NULL;
    struct berr err = {0};

    char *t = sign_raw("{\"alg\":\"none\",\"typ\":\"JWT\"}", CLAIMS, "none", NULL, NULL, 0);
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);
    t = sign_raw("{\"alg\":\"NONE\"}", CLAIMS, "none", NULL, NULL, 0);
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);
    t = sign_raw("{\"typ\":\"JWT\"}", CLAIMS, "ES256", ec, NULL, 0);     /* no alg */
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);

    /* HS256 keyed with the public key's PEM text (the classic confusion) */
    for (int i = 0; i < 2; i++) {
        const char *file = tmp_path(i ? "ec.pub" : "rsa.pub");
        FILE *f = fopen(file, "r");
        assert_non_null(f);
        unsigned char pem[4096];
        size_t n = fread(pem, 1, sizeof pem, f);
        fclose(f);
        t = sign_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", CLAIMS, "HS256", NULL, pem, n);
        assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
        free(t);
        /* and keyed with the DER public key */
        unsigned char *der = NULL;
        int dlen = i2d_PUBKEY(i ? ec : rsa, &der);
        t = sign_raw("{\"alg\":\"HS256\"}", CLAIMS, "HS256", NULL, der, (size_t)dlen);
        assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
        free(t);
        OPENSSL_free(der);
    }
    /* an algorithm that does not match the key type */
    t = sign_raw("{\"alg\":\"ES256\"}", CLAIMS, "RS256", rsa, NULL, 0);
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);
    t = sign_raw("{\"alg\":\"PS256\"}", CLAIMS, "RS256", rsa, NULL, 0);
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);
    t = sign_raw("{\"alg\":\"RS512\"}", CLAIMS, "RS256", rsa, NULL, 0);
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);
    assert_null(out);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    jwt_keys_free(&k);
}

static void test_jwt_external_algorithms(void **state)
{
    (void)state;
    EVP_PKEY *rsa = gen_key("RSA"), *ec = gen_key("P-256"), *ed = gen_key("ED25519");
    EVP_PKEY *p384 = gen_key("P-384"), *stranger = gen_key("ED25519");
    struct jwt_keys k = {0};
    trust_public(&k, rsa, "x-rsa.pub");
    trust_public(&k, ec, "x-ec.pub");
    trust_public(&k, ed, "x-ed.pub");
    trust_public(&k, p384, "x-p384.pub");
    assert_int_equal(k.nkeys, 4);
    json_t *out = NULL;
    struct berr err = {0};
    struct {
        const char *alg;
        EVP_PKEY *key;
        bool ok;
    } cases[] = {
        {"RS256", rsa, true}, {"ES256", ec, true}, {"EdDSA", ed, true},
        {"ES256", p384, false},                   /* ES256 is P-256 only */
        {"EdDSA", stranger, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char header[64];
        snprintf(header, sizeof header, "{\"alg\":\"%s\"}", cases[i].alg);
        char *t = sign_raw(header, CLAIMS, cases[i].alg, cases[i].key, NULL, 0);
        int rc = jwt_verify(&k, t, &out, &err);
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_string_equal(json_string_value(json_object_get(out, "sub")), "alice");
            json_decref(out);
            out = NULL;
        } else {
            assert_int_not_equal(rc, 0);
        }
        free(t);
    }
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(stranger);
    jwt_keys_free(&k);
}

/* A certificate for key, signed by ca_key (self-signed when ca is NULL). */
static X509 *make_cert(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, bool is_ca, const char *cn)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), rand() & 0x7fffffff);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca ? ca : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                                              is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, ca_key ? ca_key : key, EVP_sha256()) > 0);
    return x;
}

static char *cert_b64(X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    char *out = malloc(4 * ((size_t)len + 2) / 3 + 4);
    EVP_EncodeBlock((unsigned char *)out, der, len);
    OPENSSL_free(der);
    return out;
}

static void test_jwt_x5c(void **state)
{
    (void)state;
    EVP_PKEY *ca_key = gen_key("P-256"), *leaf_key = gen_key("P-256"), *self_key = gen_key("P-256");
    X509 *ca = make_cert(ca_key, NULL, NULL, true, "test CA");
    X509 *leaf = make_cert(leaf_key, ca, ca_key, false, "signer");
    X509 *self = make_cert(self_key, NULL, NULL, true, "self");
    const char *path = tmp_path("ca.crt");
    FILE *f = fopen(path, "w");
    PEM_write_X509(f, ca);
    fclose(f);
    struct jwt_keys k = {0};
    struct berr err = {0};
    assert_int_equal(jwt_keys_load(&k, path, &err), 0);
    assert_non_null(k.roots);

    char *lb = cert_b64(leaf), *cb = cert_b64(ca), *sb = cert_b64(self);
    char header[8192];
    json_t *out = NULL;
    snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"x5c\":[\"%s\"]}", lb);
    char *t = sign_raw(header, CLAIMS, "ES256", leaf_key, NULL, 0);
    assert_int_equal(jwt_verify(&k, t, &out, &err), 0);
    json_decref(out);
    out = NULL;
    free(t);
    snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"x5c\":[\"%s\",\"%s\"]}", lb, cb);
    t = sign_raw(header, CLAIMS, "ES256", leaf_key, NULL, 0);
    assert_int_equal(jwt_verify(&k, t, &out, &err), 0);
    json_decref(out);
    out = NULL;
    free(t);
    /* the chain is right but another key signed */
    snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"x5c\":[\"%s\"]}", lb);
    t = sign_raw(header, CLAIMS, "ES256", self_key, NULL, 0);
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);
    /* a self-signed certificate nobody configured */
    snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"x5c\":[\"%s\"]}", sb);
    t = sign_raw(header, CLAIMS, "ES256", self_key, NULL, 0);
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);
    snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"x5c\":[\"%s\",\"%s\"]}", sb, cb);
    t = sign_raw(header, CLAIMS, "ES256", self_key, NULL, 0);
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);
    /* the leaf key without its certificate is not trusted */
    t = sign_raw("{\"alg\":\"ES256\"}", CLAIMS, "ES256", leaf_key, NULL, 0);
    assert_int_not_equal(jwt_verify(&k, t, &out, &err), 0);
    free(t);
    assert_null(out);

    free(lb);
    free(cb);
    free(sb);
    X509_free(ca);
    X509_free(leaf);
    X509_free(self);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(self_key);
    jwt_keys_free(&k);
}

static void test_jwt_key_id_format(void **state)
{
    (void)state;
    regex_t re;
    assert_int_equal(regcomp(&re, "^[A-Z2-7]{4}(:[A-Z2-7]{4}){11}$", REG_EXTENDED | REG_NOSUB), 0);
    const char *types[] = {"P-256", "RSA", "ED25519"};
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *key = gen_key(types[i]);
        char kid[64], again[64];
        assert_int_equal(jwt_key_id(key, kid), 0);
        assert_int_equal(strlen(kid), 59);
        assert_int_equal(regexec(&re, kid, 0, NULL, 0), 0);
        assert_int_equal(jwt_key_id(key, again), 0);
        assert_string_equal(kid, again);
        EVP_PKEY *other = gen_key(types[i]);
        assert_int_equal(jwt_key_id(other, again), 0);
        assert_string_not_equal(kid, again);
        EVP_PKEY_free(other);
        EVP_PKEY_free(key);
    }
    regfree(&re);

    /* libtrust: base32 of the first 30 bytes of SHA-256(DER SubjectPublicKeyInfo) */
    EVP_PKEY *key = gen_key("P-256");
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(key, &der);
    unsigned char md[32];
    EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL);
    OPENSSL_free(der);
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    char want[64];
    size_t o = 0;
    uint64_t acc = 0;
    int bits = 0, chars = 0;
    for (int i = 0; i < 30; i++) {
        acc = acc << 8 | md[i];
        bits += 8;
        while (bits >= 5) {
            if (chars && chars % 4 == 0)
                want[o++] = ':';
            want[o++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
            chars++;
        }
    }
    want[o] = '\0';
    char kid[64];
    assert_int_equal(jwt_key_id(key, kid), 0);
    assert_string_equal(kid, want);
    EVP_PKEY_free(key);
}

/* ---- rules -------------------------------------------------------------------- */

static struct rules *rules_from(const char *access, const char *groups)
{
    json_t *a = access ? json_loads(access, 0, NULL) : NULL;
    json_t *g = groups ? json_loads(groups, 0, NULL) : NULL;
    struct rules *r = NULL;
    struct berr err = {0};
    int rc = rules_load(a, g, &r, &err);
    json_decref(a);
    json_decref(g);
    return rc == 0 ? r : NULL;
}

static void test_rules_allowed(void **state)
{
    (void)state;
    struct rules *r = rules_from(
        "[{\"account\":\"alice\",\"repository\":\"team/*\",\"actions\":[\"pull\",\"push\"]},"
        " {\"account\":\"alice\",\"repository\":\"lib/?x\",\"actions\":[\"delete\"]},"
        " {\"group\":\"devs\",\"repository\":\"dev/*\",\"actions\":[\"*\"]},"
        " {\"group\":\"all\",\"repository\":\"shared\",\"actions\":[\"pull\"]},"
        " {\"account\":\"*\",\"repository\":\"*\",\"actions\":[\"catalog\"]},"
        " {\"account\":\"anonymous\",\"repository\":\"public/*\",\"actions\":[\"pull\"]},"
        " {\"account\":\"root\",\"repository\":\"*\",\"actions\":[\"*\"]}]",
        "{\"devs\":[\"bob\",\"carol\"],\"all\":[\"*\"]}");
    assert_non_null(r);
    /* repository names: the catalog bit ("*" matches every name) is masked */
    const unsigned ALL = ACT_PULL | ACT_PUSH | ACT_DELETE | ACT_CATALOG;
    assert_int_equal(rules_allowed(r, "alice", "team/app") & ~ACT_CATALOG, ACT_PULL | ACT_PUSH);
    assert_int_equal(rules_allowed(r, "alice", "team/a/b/c") & ~ACT_CATALOG, ACT_PULL | ACT_PUSH); /* '*' crosses '/' */
    assert_int_equal(rules_allowed(r, "alice", "team") & ~ACT_CATALOG, 0);
    assert_int_equal(rules_allowed(r, "alice", "teams/x") & ~ACT_CATALOG, 0);
    assert_int_equal(rules_allowed(r, "alice", "lib/ax") & ~ACT_CATALOG, ACT_DELETE);
    assert_int_equal(rules_allowed(r, "alice", "lib/abx") & ~ACT_CATALOG, 0);
    assert_int_equal(rules_allowed(r, "Alice", "team/app") & ~ACT_CATALOG, 0);
    assert_int_equal(rules_allowed(r, "alice", "*"), ACT_CATALOG);
    assert_int_equal(rules_allowed(r, "bob", "dev/x"), ALL);
    assert_int_equal(rules_allowed(r, "carol", "dev/y/z"), ALL);
    assert_int_equal(rules_allowed(r, "alice", "dev/x") & ~ACT_CATALOG, 0);
    assert_int_equal(rules_allowed(r, "zed", "shared") & ~ACT_CATALOG, ACT_PULL);        /* group "*" */
    assert_int_equal(rules_allowed(r, "", "shared") & ~ACT_CATALOG, 0);                  /* not anonymous */
    assert_int_equal(rules_allowed(r, "zed", "*"), ACT_CATALOG);
    assert_int_equal(rules_allowed(r, "", "*"), 0);
    assert_int_equal(rules_allowed(r, "", "public/img") & ~ACT_CATALOG, ACT_PULL);
    assert_int_equal(rules_allowed(r, "zed", "public/img") & ~ACT_CATALOG, ACT_PULL);    /* anonymous = everyone */
    assert_int_equal(rules_allowed(r, "", "team/app") & ~ACT_CATALOG, 0);
    assert_int_equal(rules_allowed(r, "root", "anything/at/all"), ALL);
    assert_int_equal(rules_allowed(r, "anonymous", "team/app") & ~ACT_CATALOG, 0);
    assert_int_equal(rules_allowed(r, "alice", "team/app"), ACT_PULL | ACT_PUSH | ACT_CATALOG);
    assert_int_equal(rules_allowed(r, "", "public/img"), ACT_PULL);
    rules_free(r);

    /* open mode: no access list */
    r = rules_from(NULL, NULL);
    assert_non_null(r);
    assert_int_equal(rules_allowed(r, "anyone", "x/y"), ALL);
    assert_int_equal(rules_allowed(r, "anyone", "*"), ALL);
    assert_int_equal(rules_allowed(r, "", "x/y"), 0);
    rules_free(r);
    /* an empty list allows nothing */
    r = rules_from("[]", NULL);
    assert_non_null(r);
    assert_int_equal(rules_allowed(r, "anyone", "x/y"), 0);
    rules_free(r);

    assert_int_equal(action_parse("pull"), ACT_PULL);
    assert_int_equal(action_parse("push"), ACT_PUSH);
    assert_int_equal(action_parse("delete"), ACT_DELETE);
    assert_int_equal(action_parse("catalog"), ACT_CATALOG);
    assert_int_equal(action_parse("*"), ALL);
    assert_int_equal(action_parse("Pull"), 0);
    assert_int_equal(action_parse(""), 0);
    assert_int_equal(action_parse(NULL), 0);
}

static void test_rules_refused(void **state)
{
    (void)state;
    assert_null(rules_from("[{\"account\":\"a\",\"repository\":\"*\",\"actions\":[\"write\"]}]", NULL));
    assert_null(rules_from("[{\"account\":\"a\",\"actions\":[\"pull\"]}]", NULL));
    assert_null(rules_from("[{\"repository\":\"*\",\"actions\":[\"pull\"]}]", NULL));
    assert_null(rules_from("[{\"account\":\"a\",\"group\":\"g\",\"repository\":\"*\",\"actions\":[\"pull\"]}]", NULL));
    assert_null(rules_from("[{\"account\":\"a\",\"repository\":\"*\",\"actions\":\"pull\"}]", NULL));
    assert_null(rules_from("[\"x\"]", NULL));
    assert_null(rules_from("{}", NULL));
    assert_null(rules_from(NULL, "[]"));
    struct rules *r = NULL;
    struct berr err = {0};
    json_t *a = json_loads("[{\"account\":\"a\",\"repository\":\"*\",\"actions\":[\"pull\"]},"
                           "{\"account\":\"a\",\"repository\":\"*\",\"actions\":[\"fly\"]}]", 0, NULL);
    assert_int_not_equal(rules_load(a, NULL, &r, &err), 0);
    assert_non_null(strstr(err.msg, "access[1]"));
    json_decref(a);
}

/* ---- rate limiting -------------------------------------------------------------- */

static void test_ratelimit(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_new(3, 2);
    assert_non_null(rl);
    assert_int_equal(ratelimit_blocked(rl, "1.2.3.4"), 0);
    ratelimit_fail(rl, "1.2.3.4");
    ratelimit_fail(rl, "1.2.3.4");
    assert_int_equal(ratelimit_blocked(rl, "1.2.3.4"), 0);
    ratelimit_fail(rl, "1.2.3.4");
    int wait = ratelimit_blocked(rl, "1.2.3.4");
    assert_in_range(wait, 1, 2);
    assert_int_equal(ratelimit_blocked(rl, "1.2.3.5"), 0);
    assert_int_equal(ratelimit_blocked(rl, "user:alice"), 0);
    ratelimit_fail(rl, "user:alice");
    assert_int_equal(ratelimit_blocked(rl, "user:alice"), 0);
    /* many other keys do not evict a blocked one in practice */
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "10.0.%d.%d", i / 256, i % 256);
        ratelimit_fail(rl, key);
    }
    assert_int_not_equal(ratelimit_blocked(rl, "1.2.3.4"), 0);
    sleep((unsigned)wait + 1);
    assert_int_equal(ratelimit_blocked(rl, "1.2.3.4"), 0);
    /* a new window: counting starts again */
    ratelimit_fail(rl, "1.2.3.4");
    assert_int_equal(ratelimit_blocked(rl, "1.2.3.4"), 0);
    ratelimit_free(rl);

    rl = ratelimit_new(1, 60);
    ratelimit_fail(rl, "k");
    assert_in_range(ratelimit_blocked(rl, "k"), 59, 60);
    ratelimit_free(rl);
}

/* ---- htpasswd --------------------------------------------------------------------- */

static void expect_refused(const char *name, const char *content, int line)
{
    const char *path = tmp_path(name);
    write_file(path, content);
    struct htpasswd *h = NULL;
    struct berr err = {0};
    assert_int_not_equal(htpasswd_load(path, &h, &err), 0);
    assert_null(h);
    char want[300];
    snprintf(want, sizeof want, "%s:%d:", path, line);
    if (!strstr(err.msg, want))
        fail_msg("%s: expected '%s' in '%s'", name, want, err.msg);
}

static void test_htpasswd_refuses(void **state)
{
    (void)state;
    const char *good = "bob:$2y$05$W5yHEpZ5Fz1/MmRkFyZQ/.GBGfdrCo6Qr2YBazM4RJoMrZRHoSlnK\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "# comment\n%smd5:$apr1$dEVeFLOO$AJzL1Jh4tIsBaO0Nm0Bbx.\n", good);
    expect_refused("md5", buf, 3);
    snprintf(buf, sizeof buf, "%ssha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", good);
    expect_refused("sha", buf, 2);
    snprintf(buf, sizeof buf, "\n\n%splain:secret\n", good);
    expect_refused("plain", buf, 4);
    expect_refused("crypt", "des:rqXexS6ZhobKA\n", 1);
    snprintf(buf, sizeof buf, "%s%snocolon\n", good, good);
    expect_refused("nocolon", buf, 3);
    snprintf(buf, sizeof buf, ":%s", strchr(good, '$'));
    expect_refused("nouser", buf, 1);
    expect_refused("short", "bob:$2y$05$W5yHEpZ5Fz1/MmRkFyZQ\n", 1);
    expect_refused("empty-hash", "bob:\n", 1);

    struct htpasswd *h = NULL;
    struct berr err = {0};
    assert_int_not_equal(htpasswd_load(tmp_path("does-not-exist"), &h, &err), 0);
    assert_null(h);

    /* comments, blank lines, CRLF and the three bcrypt prefixes are fine */
    snprintf(buf, sizeof buf, "# users\r\n\r\n%s", good);
    write_file(tmp_path("ok"), buf);
    assert_int_equal(htpasswd_load(tmp_path("ok"), &h, &err), 0);
    htpasswd_free(h);
}

static void test_htpasswd_set_verify(void **state)
{
    (void)state;
    const char *path = tmp_path("users");
    struct berr err = {0};
    assert_int_equal(htpasswd_set(path, "alice", "pw one", &err), 0);
    assert_int_equal(htpasswd_set(path, "bob", "bob:pw", &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    struct htpasswd *h = NULL;
    assert_int_equal(htpasswd_load(path, &h, &err), 0);
    assert_true(htpasswd_verify(h, "alice", "pw one"));
    assert_true(htpasswd_verify(h, "alice", "pw one"));       /* cached */
    assert_false(htpasswd_verify(h, "alice", "pw two"));
    assert_false(htpasswd_verify(h, "alice", "pw on"));
    assert_false(htpasswd_verify(h, "alice", ""));
    assert_true(htpasswd_verify(h, "bob", "bob:pw"));
    assert_false(htpasswd_verify(h, "bob", "pw one"));
    assert_false(htpasswd_verify(h, "carol", "pw one"));
    assert_false(htpasswd_verify(h, "", "pw one"));
    htpasswd_free(h);

    /* change alice: one line for her, bob untouched, old password gone */
    FILE *f = fopen(path, "r");
    char before[2][256];
    assert_non_null(fgets(before[0], sizeof before[0], f));
    assert_non_null(fgets(before[1], sizeof before[1], f));
    fclose(f);
    assert_int_equal(htpasswd_set(path, "alice", "pw two", &err), 0);
    f = fopen(path, "r");
    char line[256];
    int n = 0, alices = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        if (strncmp(line, "alice:", 6) == 0) {
            alices++;
            assert_string_not_equal(line, before[0]);
            assert_int_equal(strlen(line), 6 + 60 + 1);
            assert_memory_equal(line + 6, "$2", 2);
        }
        if (strncmp(line, "bob:", 4) == 0)
            assert_string_equal(line, before[1]);
    }
    fclose(f);
    assert_int_equal(n, 2);
    assert_int_equal(alices, 1);
    assert_int_equal(htpasswd_load(path, &h, &err), 0);
    assert_false(htpasswd_verify(h, "alice", "pw one"));
    assert_true(htpasswd_verify(h, "alice", "pw two"));
    assert_true(htpasswd_verify(h, "bob", "bob:pw"));
    htpasswd_free(h);

    /* "al" is not a prefix match for "alice" */
    assert_int_equal(htpasswd_set(path, "al", "x", &err), 0);
    assert_int_equal(htpasswd_load(path, &h, &err), 0);
    assert_true(htpasswd_verify(h, "alice", "pw two"));
    assert_true(htpasswd_verify(h, "al", "x"));
    htpasswd_free(h);

    assert_int_not_equal(htpasswd_set(path, "", "x", &err), 0);
    assert_int_not_equal(htpasswd_set(path, "a:b", "x", &err), 0);
    assert_int_not_equal(htpasswd_set(path, "a\nb", "x", &err), 0);
    assert_int_not_equal(htpasswd_set(path, "dave", "", &err), 0);
}

/* ---- Basic header decoding ------------------------------------------------------- */

static void test_basic_decode(void **state)
{
    (void)state;
    char user[128], pass[512];
    assert_int_equal(basic_decode("Basic YWxpY2U6cHc=", user, sizeof user, pass, sizeof pass), 0);
    assert_string_equal(user, "alice");
    assert_string_equal(pass, "pw");
    /* "a:b:c" → user a, password b:c */
    assert_int_equal(basic_decode("basic YTpiOmM=", user, sizeof user, pass, sizeof pass), 0);
    assert_string_equal(user, "a");
    assert_string_equal(pass, "b:c");
    /* "alice:" → empty password is decoded (and then fails the check) */
    assert_int_equal(basic_decode("Basic YWxpY2U6", user, sizeof user, pass, sizeof pass), 0);
    assert_string_equal(pass, "");
    assert_int_not_equal(basic_decode("Basic OnB3", user, sizeof user, pass, sizeof pass), 0); /* ":pw" */
    assert_int_not_equal(basic_decode("Basic YWxpY2U=", user, sizeof user, pass, sizeof pass), 0); /* no colon */
    assert_int_not_equal(basic_decode("Basic", user, sizeof user, pass, sizeof pass), 0);
    assert_int_not_equal(basic_decode("Basic !!!!", user, sizeof user, pass, sizeof pass), 0);
    assert_int_not_equal(basic_decode("Bearer YWxpY2U6cHc=", user, sizeof user, pass, sizeof pass), 0);
    assert_int_not_equal(basic_decode(NULL, user, sizeof user, pass, sizeof pass), 0);
    assert_int_not_equal(basic_decode("Basic YWxpY2U6cHc", user, sizeof user, pass, sizeof pass), 0);
    /* an embedded NUL ("a\0:pw") */
    assert_int_not_equal(basic_decode("Basic YQA6cHc=", user, sizeof user, pass, sizeof pass), 0);
}

/* ---- auth_open + auth_check --------------------------------------------------------- */

static struct auth *open_auth(const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_error_t jerr;
    json_t *cfg = json_loads(text, 0, &jerr);
    if (!cfg)
        fail_msg("bad test config: %s: %s", jerr.text, text);
    struct auth *a = NULL;
    struct berr err = {0};
    int rc = auth_open(cfg, &a, &err);
    json_decref(cfg);
    if (rc < 0)
        fail_msg("auth_open: %s", err.msg);
    return a;
}

static char *basic(const char *user, const char *pass)
{
    static char out[256];
    char raw[128];
    unsigned char enc[200];
    snprintf(raw, sizeof raw, "%s:%s", user, pass);
    EVP_EncodeBlock(enc, (unsigned char *)raw, (int)strlen(raw));
    snprintf(out, sizeof out, "Basic %s", enc);
    return out;
}

static enum auth_verdict verdict(struct auth *a, const char *authz, const char *client,
                                 const char *name, unsigned actions, char *challenge)
{
    struct auth_result r;
    auth_check(a, authz, client, name, actions, &r);
    enum auth_verdict v = r.verdict;
    if (challenge)
        snprintf(challenge, 768, "%.767s", r.challenge);
    auth_result_clear(&r);
    return v;
}

static void test_auth_check_basic(void **state)
{
    (void)state;
    const char *ht = tmp_path("check.htpasswd");
    struct berr err = {0};
    assert_int_equal(htpasswd_set(ht, "carol", "cpw", &err), 0);
    assert_int_equal(htpasswd_set(ht, "eve", "epw", &err), 0);
    struct auth *a = open_auth(
        "{\"realm\":\"R\",\"htpasswd\":\"%s\",\"ratelimit\":{\"attempts\":2,\"window\":60},"
        "\"access\":[{\"account\":\"carol\",\"repository\":\"proj/a\",\"actions\":[\"pull\"]},"
        "{\"account\":\"carol\",\"repository\":\"proj/b\",\"actions\":[\"push\"]},"
        "{\"account\":\"anonymous\",\"repository\":\"pub/*\",\"actions\":[\"pull\"]}]}", ht);
    assert_true(auth_enabled(a));
    assert_null(auth_token_path(a));
    char ch[768];
    char cbuf[256];
    snprintf(cbuf, sizeof cbuf, "%s", basic("carol", "cpw"));
    assert_int_equal(verdict(a, NULL, "c1", NULL, 0, ch), AUTH_CHALLENGE);
    assert_string_equal(ch, "Basic realm=\"R\"");
    assert_int_equal(verdict(a, cbuf, "c1", NULL, 0, NULL), AUTH_ALLOW);
    assert_int_equal(verdict(a, cbuf, "c1", "proj/a", ACT_PULL, NULL), AUTH_ALLOW);
    assert_int_equal(verdict(a, cbuf, "c1", "proj/a", ACT_PUSH, NULL), AUTH_DENY);
    assert_int_equal(verdict(a, cbuf, "c1", "proj/b", ACT_PUSH, NULL), AUTH_ALLOW);
    assert_int_equal(verdict(a, cbuf, "c1", "proj/b", ACT_PULL, NULL), AUTH_DENY);
    assert_int_equal(verdict(a, cbuf, "c1", "proj/b", ACT_DELETE, NULL), AUTH_DENY);
    assert_int_equal(verdict(a, cbuf, "c1", NULL, ACT_CATALOG, NULL), AUTH_DENY);
    assert_int_equal(verdict(a, NULL, "c1", "pub/x", ACT_PULL, NULL), AUTH_ALLOW);
    assert_int_equal(verdict(a, NULL, "c1", "pub/x", ACT_PUSH, NULL), AUTH_CHALLENGE);
    assert_int_equal(verdict(a, NULL, "c1", "proj/a", ACT_PULL, NULL), AUTH_CHALLENGE);

    struct auth_result who;
    auth_check(a, cbuf, "c1", "proj/b", ACT_PUSH, &who);
    assert_true(auth_may(a, &who, "proj/a", ACT_PULL));
    assert_false(auth_may(a, &who, "pub/x", ACT_PUSH));
    assert_false(auth_may(a, &who, "other", ACT_PULL));
    assert_true(auth_visible(a, &who, "proj/a"));
    assert_true(auth_visible(a, &who, "pub/x"));
    assert_false(auth_visible(a, &who, "proj/b"));
    auth_result_clear(&who);

    /* two failures from c2 for eve: c2 and eve are blocked, others are not */
    assert_int_equal(verdict(a, basic("eve", "x"), "c2", NULL, 0, NULL), AUTH_CHALLENGE);
    assert_int_equal(verdict(a, basic("eve", "y"), "c2", NULL, 0, NULL), AUTH_CHALLENGE);
    struct auth_result r;
    auth_check(a, basic("eve", "epw"), "c3", NULL, 0, &r);
    assert_int_equal(r.verdict, AUTH_LIMITED);
    assert_in_range(r.retry_after, 1, 60);
    auth_result_clear(&r);
    assert_int_equal(verdict(a, cbuf, "c2", NULL, 0, NULL), AUTH_LIMITED);
    assert_int_equal(verdict(a, cbuf, "c3", NULL, 0, NULL), AUTH_ALLOW);
    auth_close(a);
    auth_close(NULL);

    /* no auth object: everything allowed */
    struct auth *none = NULL;
    assert_int_equal(auth_open(NULL, &none, &err), 0);
    assert_null(none);
    assert_false(auth_enabled(none));
    assert_int_equal(verdict(none, NULL, "c", "x", ACT_DELETE, NULL), AUTH_ALLOW);
}

static void test_auth_check_token(void **state)
{
    (void)state;
    const char *ht = tmp_path("tok.htpasswd");
    const char *keyfile = tmp_path("signing.pem");
    struct berr err = {0};
    assert_int_equal(htpasswd_set(ht, "alice", "apw", &err), 0);
    unlink(keyfile);
    struct auth *a = open_auth(
        "{\"htpasswd\":\"%s\",\"token\":{\"realm\":\"https://r/t\",\"service\":\"svc\","
        "\"issuer\":\"iss\",\"path\":\"/auth/token\",\"key\":\"%s\",\"leeway\":0},"
        "\"access\":[{\"account\":\"alice\",\"repository\":\"a/*\",\"actions\":[\"pull\",\"push\"]}]}",
        ht, keyfile);
    assert_string_equal(auth_token_path(a), "/auth/token");
    struct stat st;
    assert_int_equal(stat(keyfile, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char ch[768];
    assert_int_equal(verdict(a, NULL, "c", "a/x", ACT_PULL | ACT_PUSH, ch), AUTH_CHALLENGE);
    assert_string_equal(ch, "Bearer realm=\"https://r/t\",service=\"svc\",scope=\"repository:a/x:pull,push\"");
    assert_int_equal(verdict(a, NULL, "c", NULL, ACT_CATALOG, ch), AUTH_CHALLENGE);
    assert_string_equal(ch, "Bearer realm=\"https://r/t\",service=\"svc\",scope=\"registry:catalog:*\"");
    assert_int_equal(verdict(a, basic("alice", "apw"), "c", NULL, 0, ch), AUTH_CHALLENGE);

    time_t now = time(NULL);
    json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:[{s:s,s:s,s:[s]}]}", "iss", "iss", "sub",
                               "alice", "aud", "svc", "exp", (json_int_t)now + 60, "nbf",
                               (json_int_t)now - 1, "access", "type", "repository", "name",
                               "a/x", "actions", "pull");
    char *t = jwt_sign(a->signing_key, a->signing_kid, claims);
    char bearer[4096];
    snprintf(bearer, sizeof bearer, "Bearer %s", t);
    for (int i = 0; i < 2; i++) {       /* the second time from the cache */
        assert_int_equal(verdict(a, bearer, "c", NULL, 0, NULL), AUTH_ALLOW);
        assert_int_equal(verdict(a, bearer, "c", "a/x", ACT_PULL, NULL), AUTH_ALLOW);
        assert_int_equal(verdict(a, bearer, "c", "a/x", ACT_PUSH, ch), AUTH_CHALLENGE);
        assert_non_null(strstr(ch, "error=\"insufficient_scope\""));
        assert_int_equal(verdict(a, bearer, "c", "a/y", ACT_PULL, NULL), AUTH_CHALLENGE);
        assert_int_equal(verdict(a, bearer, "c", "b/x", ACT_PULL, NULL), AUTH_DENY);
    }
    free(t);
    /* claims that must be refused */
    const char *bad[][2] = {
        {"exp", "past"}, {"nbf", "future"}, {"aud", "other"}, {"iss", "other"}, {"refresh", "true"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *c = json_deep_copy(claims);
        if (strcmp(bad[i][0], "exp") == 0)
            json_object_set_new(c, "exp", json_integer(now - 5));
        else if (strcmp(bad[i][0], "nbf") == 0)
            json_object_set_new(c, "nbf", json_integer(now + 30));
        else if (strcmp(bad[i][0], "refresh") == 0)
            json_object_set_new(c, "refresh", json_true());
        else
            json_object_set_new(c, bad[i][0], json_string(bad[i][1]));
        t = jwt_sign(a->signing_key, a->signing_kid, c);
        snprintf(bearer, sizeof bearer, "Bearer %s", t);
        if (verdict(a, bearer, "c", "a/x", ACT_PULL, NULL) != AUTH_CHALLENGE)
            fail_msg("a token with a bad %s was accepted", bad[i][0]);
        free(t);
        json_decref(c);
    }
    json_decref(claims);
    assert_int_equal(verdict(a, "Bearer x.y.z", "c", "a/x", ACT_PULL, NULL), AUTH_CHALLENGE);
    auth_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64url_round_trip),
        cmocka_unit_test(test_base64url_known),
        cmocka_unit_test(test_jwt_sign_verify),
        cmocka_unit_test(test_jwt_refuses_none_and_hs256),
        cmocka_unit_test(test_jwt_external_algorithms),
        cmocka_unit_test(test_jwt_x5c),
        cmocka_unit_test(test_jwt_key_id_format),
        cmocka_unit_test(test_rules_allowed),
        cmocka_unit_test(test_rules_refused),
        cmocka_unit_test(test_ratelimit),
        cmocka_unit_test(test_htpasswd_refuses),
        cmocka_unit_test(test_htpasswd_set_verify),
        cmocka_unit_test(test_basic_decode),
        cmocka_unit_test(test_auth_check_basic),
        cmocka_unit_test(test_auth_check_token),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
