/*
 * fuzz_range.c - the Range header of a blob GET and the Content-Range of
 * an upload PATCH (common/util.c). The first 8 bytes are the blob's size.
 * Whatever range_parse accepts must lie inside the blob.
 */
#include "fuzz.h"
#include "../../common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t blob = 0;
    if (size >= 8) {
        memcpy(&blob, data, 8);
        data += 8;
        size -= 8;
    }
    char *s = fuzz_cstr(data, size);
    uint64_t first, last;
    if (range_parse(s, blob, &first, &last) == 0 && (first > last || last >= blob)) {
        fprintf(stderr, "\"%s\" on %llu bytes gives %llu-%llu\n", s,
                (unsigned long long)blob, (unsigned long long)first, (unsigned long long)last);
        abort();
    }
    if (content_range_parse(s, &first, &last) == 0 && first > last)
        abort();
    free(s);
    return 0;
}
