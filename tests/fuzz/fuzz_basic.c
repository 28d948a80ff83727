/*
 * fuzz_basic.c - the "Authorization: Basic" header every request may
 * carry, decoded by basic_decode (auth/auth.c) before any password check:
 * the user and password it gives always fit their buffers.
 */
#include "fuzz.h"
#include "../../auth/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *hdr = fuzz_cstr(data, size);
    char user[128], pass[256];
    if (basic_decode(hdr, user, sizeof user, pass, sizeof pass) == 0 &&
        (strlen(user) >= sizeof user || strlen(pass) >= sizeof pass))
        abort();
    free(hdr);
    return 0;
}
