/*
 * fuzz_names.c - repository names and tags (common/names.c) and the
 * request-path router that extracts them (server/routes.c), as berthd
 * sees a request path. Whatever the router accepts as a name must be a
 * valid repository name, since it becomes a storage key.
 */
#include "fuzz.h"
#include "../../server/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    bool name = repo_name_valid(s), tag = tag_valid(s);
    if (name && strlen(s) > NAME_MAX_LEN)
        abort();
    if (tag && strlen(s) > TAG_MAX_LEN)
        abort();
    (void)upload_id_valid(s);

    struct route r;
    route_parse(s, "/auth/token", &r);
    if (r.name[0] && !r.name_invalid && !repo_name_valid(r.name)) {
        fprintf(stderr, "route \"%s\" gives the invalid name \"%s\"\n", s, r.name);
        abort();
    }
    free(s);
    return 0;
}
