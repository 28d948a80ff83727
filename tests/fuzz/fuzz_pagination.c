/*
 * fuzz_pagination.c - the ?n=&last= of the catalog and tag lists: `n` is
 * clamped to [0, max] by page_size_parse (common/util.c); `last` is a name
 * compared as a string. The first line is n, the second the max.
 */
#include "fuzz.h"
#include "../../common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *n, *rest;
    size_t len;
    fuzz_split(data, size, &n, &rest, &len);
    int max = atoi(rest);
    if (max < 0)
        max = 0;
    int out = -1;
    if (page_size_parse(n, max, &out) == 0 && (out < 0 || out > max)) {
        fprintf(stderr, "n=\"%s\" max %d gives %d\n", n, max, out);
        abort();
    }
    if (page_size_parse(NULL, max, &out) != 0 || out != max)
        abort();
    free(n);
    free(rest);
    return 0;
}
