/*
 * cmd_inspect.c - berth inspect NAME... (JSON, like docker inspect: a container's
 * state, or an image's details)
 * and berth history IMAGE (one line per history entry, newest first).
 */
#include "builtin.h"
#include "../runtime/runtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct names {
    const char *manifest_digest;
    json_t *tags, *digests;
};

static int collect_names(void *arg, const struct berth_image *img)
{
    struct names *n = arg;
    if (strcmp(img->manifest_digest, n->manifest_digest) != 0)
        return 0;
    struct berth_ref ref;
    struct berr err = {0};
    if (berth_ref_parse(img->name, &ref, &err) < 0)
        return 0;
    char repo[600], buf[900];
    berth_ref_familiar(&ref, repo, sizeof repo);
    snprintf(buf, sizeof buf, "%s:%s", repo, ref.tag);
    json_array_append_new(n->tags, json_string(buf));
    snprintf(buf, sizeof buf, "%s@%s", repo, img->repo_digest);
    json_array_append_new(n->digests, json_string(buf));
    return 0;
}

int cmd_inspect(struct cli *g, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: berth inspect IMAGE...\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    json_t *out = json_array();
    int status = 0;
    for (int i = 1; i < argc; i++) {
        json_t *manifest, *config, *container;
        char digest[DIGEST_MAX];
        struct berr err = {0};
        /* a container first, then an image, as docker inspect looks */
        if (rt_inspect(s, argv[i], &container, &err) == 0) {
            json_array_append_new(out, container);
            continue;
        }
        if (berth_image_get(s, argv[i], &manifest, &config, digest, &err) < 0) {
            if (err.code == BERR_NOTFOUND)
                berr_set(&err, BERR_NOTFOUND, "No such object: %s", argv[i]);
            status = cli_fail("inspect", &err);
            continue;
        }
        struct names n = {digest, json_array(), json_array()};
        berth_images(s, collect_names, &n, &err);
        uint64_t size = 0;
        size_t j;
        json_t *l;
        json_array_foreach(json_object_get(manifest, "layers"), j, l)
            size += (uint64_t)json_integer_value(json_object_get(l, "size"));
        json_t *cfg = json_object_get(config, "config");
        json_array_append_new(out, json_pack(
            "{s:O,s:o,s:o,s:s,s:O,s:O,s:O,s:O,s:I,s:O,s:O}",
            "Id", json_object_get(json_object_get(manifest, "config"), "digest"),
            "RepoTags", n.tags, "RepoDigests", n.digests,
            "ManifestDigest", digest,
            "Created", json_object_get(config, "created") ? json_object_get(config, "created") : json_null(),
            "Architecture", json_object_get(config, "architecture") ? json_object_get(config, "architecture") : json_null(),
            "Os", json_object_get(config, "os") ? json_object_get(config, "os") : json_null(),
            "Config", cfg ? cfg : json_null(),
            "Size", (json_int_t)size,
            "RootFS", json_object_get(config, "rootfs") ? json_object_get(config, "rootfs") : json_null(),
            "Layers", json_object_get(manifest, "layers")));
        json_decref(manifest);
        json_decref(config);
    }
    char *text = json_dumps(out, JSON_INDENT(4));
    if (text && json_array_size(out))
        printf("%s\n", text);
    free(text);
    json_decref(out);
    berth_store_close(s);
    return status;
}

int cmd_history(struct cli *g, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: berth history IMAGE\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    json_t *manifest, *config;
    struct berr err = {0};
    if (berth_image_get(s, argv[1], &manifest, &config, NULL, &err) < 0) {
        berth_store_close(s);
        return cli_fail("history", &err);
    }
    json_t *history = json_object_get(config, "history");
    json_t *layers = json_object_get(manifest, "layers");
    /* each non-empty history entry owns the next layer, in order */
    size_t n = json_array_size(history), layer = 0;
    uint64_t *sizes = calloc(n + 1, sizeof *sizes);
    for (size_t i = 0; i < n; i++) {
        json_t *h = json_array_get(history, i);
        if (!json_is_true(json_object_get(h, "empty_layer")))
            sizes[i] = (uint64_t)json_integer_value(
                json_object_get(json_array_get(layers, layer++), "size"));
    }
    json_t *rows = json_pack("[[s,s,s,s,s]]", "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT");
    char id[16];
    snprintf(id, sizeof id, "%.12s",
             digest_hex(json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"))));
    for (size_t k = n; k-- > 0;) {
        json_t *h = json_array_get(history, k);
        struct tm tm = {0};
        const char *when = json_string_value(json_object_get(h, "created"));
        int64_t t = when && strptime(when, "%Y-%m-%dT%H:%M:%S", &tm) ? (int64_t)timegm(&tm) : 0;
        char created[64], size[32], by[46];
        cli_ago(t, created, sizeof created);
        format_size(sizes[k], size, sizeof size);
        const char *cb = json_string_value(json_object_get(h, "created_by"));
        snprintf(by, sizeof by, "%s", cb ? cb : "");
        if (cb && strlen(cb) > 44)
            memcpy(by + 41, "...", 4);
        const char *comment = json_string_value(json_object_get(h, "comment"));
        json_array_append_new(rows, json_pack("[s,s,s,s,s]", k == n - 1 ? id : "<missing>",
                                              created, by, size, comment ? comment : ""));
    }
    cli_table_print(rows);
    json_decref(rows);
    free(sizes);
    json_decref(manifest);
    json_decref(config);
    berth_store_close(s);
    return 0;
}
