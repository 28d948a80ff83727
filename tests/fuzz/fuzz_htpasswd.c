/*
 * fuzz_htpasswd.c - htpasswd files (auth/htpasswd.c) as auth_open loads
 * them. The password check itself is bcrypt, which is not parsing: it is
 * left out (a line's cost factor is the admin's). Each load computes one
 * bcrypt hash (the dummy that hides which users exist), so this target
 * runs at tens of inputs a second; the Basic header is fuzz_basic's.
 */
#include "fuzz.h"
#include "../../auth/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* only inputs that can hold a user line: bcrypt's setup is slow */
    if (!memchr(data, ':', size))
        return 0;
    char path[512];
    fuzz_file("htpasswd", data, size, path, sizeof path);
    struct htpasswd *h = NULL;
    struct berr err = {0};
    if (htpasswd_load(path, &h, &err) == 0) {
        char fp[33];
        (void)htpasswd_fingerprint(h, "alice", fp);
        (void)htpasswd_fingerprint(h, "", fp);
        htpasswd_free(h);
    } else if (!err.msg[0]) {
        abort();
    }
    return 0;
}
