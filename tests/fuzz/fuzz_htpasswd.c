/*
 * fuzz_htpasswd.c - htpasswd files (auth/htpasswd.c) as auth_open loads
 * them, and the Basic Authorization header every request may carry
 * (auth/auth.c basic_decode). The password check itself is bcrypt, which
 * is not parsing: it is left out (a line's cost factor is the admin's).
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

    /* the file: only inputs that look like one, bcrypt's setup is slow */
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
