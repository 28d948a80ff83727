/*
 * fuzz_jwt.c - bearer tokens (auth/jwt.c): jwt_verify against a fixed
 * P-256 key, as auth_check calls it on every "Authorization: Bearer", then
 * the access claim read as auth_check reads it (granted_actions). An input
 * starting with '{' is also taken as claims: signed with the key, the
 * token must verify and give the same claims back.
 */
#include "fuzz.h"
#include "../../auth/internal.h"
#include <openssl/pem.h>

static struct jwt_keys keys;
static EVP_PKEY *key;
static char kid[64];

static void setup(void)
{
    key = EVP_EC_gen("P-256");
    char path[512];
    snprintf(path, sizeof path, "%s/key.pem", fuzz_tmpdir());
    FILE *f = fopen(path, "w");
    struct berr err = {0};
    if (!key || !f || !PEM_write_PUBKEY(f, key) || fclose(f) != 0 ||
        jwt_keys_load(&keys, path, &err) < 0 || jwt_key_id(key, kid) < 0) {
        fprintf(stderr, "fuzz_jwt: setup: %s\n", err.msg);
        abort();
    }
}

static void check_claims(json_t *claims)
{
    json_t *access = json_object_get(claims, "access");
    (void)granted_actions(access, "repository", "library/busybox");
    (void)granted_actions(access, "registry", "catalog");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!key)
        setup();
    char *tok = fuzz_cstr(data, size);
    json_t *claims = NULL;
    struct berr err = {0};
    if (jwt_verify(&keys, tok, &claims, &err) == 0) {
        check_claims(claims);
        json_decref(claims);
    }
    free(tok);

    if (size && data[0] == '{') {
        json_error_t jerr;
        json_t *in = json_loadb((const char *)data, size, 0, &jerr);
        if (json_is_object(in)) {
            char *signed_tok = jwt_sign(key, kid, in);
            if (!signed_tok)
                abort();
            json_t *out = NULL;
            struct berr e2 = {0};
            if (jwt_verify(&keys, signed_tok, &out, &e2) < 0 || !json_equal(in, out)) {
                fprintf(stderr, "a token signed here does not verify: %s\n", e2.msg);
                abort();
            }
            check_claims(out);
            json_decref(out);
            free(signed_tok);
        }
        json_decref(in);
    }
    return 0;
}
