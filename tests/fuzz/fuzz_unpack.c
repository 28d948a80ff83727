/*
 * fuzz_unpack.c - the layer unpacker (runtime/unpack.c): the input is a
 * layer blob (tar, gzip or zstd) unpacked by layer_unpack into a layers
 * directory, as `berth run` does for each layer of an image. The diff-id
 * given is the input's own digest, which is right for a plain tar (so the
 * tree is kept) and wrong for a compressed one (so the unpacker's cleanup
 * runs). Whatever the entries say (absolute paths, "..", symlinks then
 * files through them, hard links out, whiteouts), nothing may appear
 * outside the layers directory: its sandbox must hold only it afterwards,
 * and two sentinel directories must stay empty: one beside it (for
 * relative escapes) and one at a fixed absolute path the seed corpus
 * names in symlinks and hard links (for absolute ones).
 */
#include "fuzz.h"
#include "../../runtime/internal.h"
#include <dirent.h>
#include <sys/stat.h>

#define ABS_SENTINEL "/tmp/berth-fuzz-sentinel"

static char root[512], layers[600], sentinel[600], blob[600];

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        abort();
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0]) {
        snprintf(root, sizeof root, "%s/sandbox", fuzz_tmpdir());
        snprintf(layers, sizeof layers, "%s/layers", root);
        snprintf(sentinel, sizeof sentinel, "%s/sentinel", root);
        snprintf(blob, sizeof blob, "%s/blob", fuzz_tmpdir());
        if (mkdir(root, 0700) < 0 || mkdir(layers, 0700) < 0 || mkdir(sentinel, 0700) < 0)
            abort();
        (void)mkdir(ABS_SENTINEL, 0755);
        if (entries(ABS_SENTINEL) != 0) {
            fprintf(stderr, "%s is not empty: remove what is in it\n", ABS_SENTINEL);
            abort();
        }
    }
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        abort();
    fuzz_file("blob", data, size, blob, sizeof blob);
    char diff_id[DIGEST_MAX];
    if (digest_buffer(DIGEST_SHA256, data, size, diff_id) < 0)
        abort();
    char out[1024];
    struct berr err = {0};
    int rc = layer_unpack(layers, blob, diff_id, out, sizeof out, &err);
    if (rc < 0 && !err.msg[0])
        abort();

    char now[4096];
    if (!getcwd(now, sizeof now) || strcmp(now, cwd) != 0) {
        fprintf(stderr, "layer_unpack left the working directory in %s\n", now);
        abort();
    }
    if (entries(root) != 2 || entries(sentinel) != 0 || entries(ABS_SENTINEL) != 0) {
        fprintf(stderr, "layer_unpack wrote outside %s\n", layers);
        abort();
    }
    /* the layer (or nothing, on an error) and no temporary directory */
    if (entries(layers) > (rc == 0 ? 1u : 0u)) {
        fprintf(stderr, "layer_unpack left %zu entries in %s (rc %d: %s)\n", entries(layers),
                layers, rc, err.msg);
        abort();
    }
    if (rc == 0 && rmtree(out) < 0)
        abort();
    return 0;
}
