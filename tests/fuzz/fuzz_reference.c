/*
 * fuzz_reference.c - image references as berth reads them on its command
 * line (client-lib/ref.c): "name[:tag][@digest]" with docker's
 * normalisation. A parsed reference must format back into one that parses
 * to the same registry and repository (and digest, when it has no tag:
 * with both, the tag is what berth names the image by).
 */
#include "fuzz.h"
#include "../../client-lib/berth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct berth_ref ref, again;
    struct berr err = {0};
    if (berth_ref_parse(s, &ref, &err) == 0) {
        char full[1024], familiar[1024];
        berth_ref_format(&ref, full, sizeof full);
        berth_ref_familiar(&ref, familiar, sizeof familiar);
        struct berr err2 = {0};
        if (berth_ref_parse(full, &again, &err2) != 0 ||
            strcmp(again.registry, ref.registry) || strcmp(again.repository, ref.repository) ||
            (!ref.tag[0] && strcmp(again.digest, ref.digest))) {
            fprintf(stderr, "\"%s\" formats as \"%s\", which reads back otherwise (%s)\n", s,
                    full, err2.msg);
            abort();
        }
        if (!repo_name_valid(ref.repository))
            abort();
    }
    free(s);
    return 0;
}
