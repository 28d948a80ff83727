/*
 * fuzz_manifest.c - manifest and index validation (server/manifest.c), as
 * a manifest PUT and the pull-through cache call it: the first line of the
 * input is the Content-Type (empty: none), the rest is the body.
 */
#include "fuzz.h"
#include "../../server/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *ct, *body;
    size_t len;
    fuzz_split(data, size, &ct, &body, &len);
    struct manifest_doc doc = {0};
    struct berr err = {0};
    if (manifest_parse(ct[0] ? ct : NULL, body, len, &doc, &err) == 0) {
        /* what the server reads out of a valid document */
        if (!manifest_type_known(doc.media_type))
            abort();
        for (size_t i = 0; i < doc.nrefs; i++)
            (void)doc.refs[i];
    } else if (!err.msg[0]) {
        abort();   /* a refusal always says why */
    }
    manifest_doc_free(&doc);   /* on a refusal too, as its callers do */
    free(ct);
    free(body);
    return 0;
}
