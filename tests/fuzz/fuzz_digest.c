/*
 * fuzz_digest.c - digest strings (common/digest.c): "sha256:<64 hex>" and
 * "sha512:<128 hex>" only, as berthd reads them from paths and manifests.
 */
#include "fuzz.h"
#include "../../common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    enum digest_algo algo;
    int rc = digest_parse(s, &algo);
    if ((rc >= 0) != digest_valid(s))
        abort();
    if (rc >= 0) {
        size_t want = algo == DIGEST_SHA256 ? 7 + 64 : 7 + 128;
        if (strlen(s) != want || strlen(digest_hex(s)) != want - 7)
            abort();
    }
    /* and the digest of the input itself is a valid digest */
    char d[DIGEST_MAX];
    if (digest_buffer(DIGEST_SHA256, data, size, d) < 0 || !digest_valid(d))
        abort();
    free(s);
    return 0;
}
