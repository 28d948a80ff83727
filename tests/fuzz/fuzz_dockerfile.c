/*
 * fuzz_dockerfile.c - Dockerfiles (builder/dockerfile.c) as `berth build`
 * parses them: directives, comments, continuations, heredocs, flags,
 * JSON and shell forms; the same text as an ONBUILD fragment; and the
 * .dockerignore parser (builder/ignore.c) over it.
 */
#include "fuzz.h"
#include "../../builder/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dockerfile df = {0};
    struct berr err = {0};
    if (dockerfile_parse((const char *)data, size, "Dockerfile", &df, &err) == 0)
        dockerfile_free(&df);
    else if (!err.msg[0])
        abort();

    struct dockerfile frag = {0};
    struct berr e2 = {0};
    if (df_parse_fragment((const char *)data, size, "Dockerfile", &frag, &e2) == 0)
        dockerfile_free(&frag);

    struct df_ignore *ig = NULL;
    struct berr e3 = {0};
    if (df_ignore_parse((const char *)data, size, &ig, &e3) == 0)
        df_ignore_free(ig);
    return 0;
}
