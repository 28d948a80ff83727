/*
 * cmd_system.c - what the store holds and how to free it, as docker has
 * it: berth system df, berth image prune [-a] [-f], berth builder prune
 * [-a] [-f]; and the management-command spellings of the other commands
 * (berth image ls, berth container rm...).
 *
 * Sizes are of what the store keeps: an image's layers as stored (shared
 * layers counted once), a container's changes (its upper directory), the
 * build steps' layers no image shares. Pruning removes images through
 * berth_rmi, which frees the blobs no image uses any more, then the
 * unpacked layers no image or container uses (rt_layers_prune); the space
 * reclaimed is what left the disk.
 */
#include "builtin.h"
#include "../builder/builder.h"

#include <dirent.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ---- what is there ------------------------------------------------------------------ */

static uint64_t walked;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (flag == FTW_F && S_ISREG(st->st_mode))
        walked += (uint64_t)st->st_size;
    return 0;
}

static uint64_t tree_size(const char *path)
{
    walked = 0;
    nftw(path, add_size, 32, FTW_PHYS | FTW_MOUNT);
    return walked;
}

static uint64_t blobs_size(struct berth_store *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/blobs", berth_store_root(s));
    return tree_size(path);
}

/* config digest -> {"names": [...], "manifest": digest, "intermediate": bool} */
static int collect_image(void *arg, const struct berth_image *img)
{
    json_t *all = arg, *e = json_object_get(all, img->config_digest);
    if (!e) {
        e = json_pack("{s:[],s:s,s:b}", "names", "manifest", img->manifest_digest,
                      "intermediate", img->intermediate);
        json_object_set_new(all, img->config_digest, e);
    }
    if (img->name)
        json_array_append_new(json_object_get(e, "names"), json_string(img->name));
    if (!img->intermediate)
        json_object_set_new(e, "intermediate", json_false());
    return 0;
}

static json_t *images_all(struct berth_store *s, bool intermediate, struct berr *err)
{
    json_t *all = json_object();
    if (berth_images_all(s, intermediate, collect_image, all, err) < 0) {
        json_decref(all);
        return NULL;
    }
    return all;
}

/* {"images": {config digest: running?}, "list": [state...]} */
static int collect_container(void *arg, json_t *state)
{
    json_t *c = arg;
    const char *image = json_string_value(json_object_get(state, "Image"));
    bool running = json_is_true(json_object_get(json_object_get(state, "State"), "Running"));
    if (image && !json_is_true(json_object_get(json_object_get(c, "images"), image)))
        json_object_set_new(json_object_get(c, "images"), image, json_boolean(running));
    json_array_append(json_object_get(c, "list"), state);
    return 0;
}

static json_t *containers_all(struct berth_store *s, struct berr *err)
{
    json_t *c = json_pack("{s:{},s:[]}", "images", "list");
    if (rt_list(s, true, collect_container, c, err) != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* Add the image's layers (digest -> size) to `layers`. */
static void image_layers(struct berth_store *s, const char *id, json_t *layers)
{
    json_t *manifest = NULL, *l;
    struct berr ignore = {0};
    if (berth_image_get(s, id, &manifest, NULL, NULL, &ignore) < 0)
        return;
    size_t i;
    json_array_foreach(json_object_get(manifest, "layers"), i, l) {
        const char *d = json_string_value(json_object_get(l, "digest"));
        if (d)
            json_object_set_new(layers, d, json_integer(json_integer_value(
                                               json_object_get(l, "size"))));
    }
    json_decref(manifest);
}

static uint64_t layers_sum(json_t *layers, json_t *except)
{
    uint64_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(layers, k, v)
        if (!except || !json_object_get(except, k))
            n += (uint64_t)json_integer_value(v);
    return n;
}

static void df_row(json_t *rows, const char *type, size_t total, size_t active, uint64_t size,
                   uint64_t reclaimable)
{
    char t[32], a[32], sz[32], r[64], rs[32];
    snprintf(t, sizeof t, "%zu", total);
    snprintf(a, sizeof a, "%zu", active);
    format_size(size, sz, sizeof sz);
    format_size(reclaimable, rs, sizeof rs);
    if (size > 0)
        snprintf(r, sizeof r, "%s (%d%%)", rs, (int)(reclaimable * 100 / size));
    else
        snprintf(r, sizeof r, "%s", rs);
    json_array_append_new(rows, json_pack("[s,s,s,s,s]", type, t, a, sz, r));
}

static int system_df(struct berth_store *s)
{
    struct berr err = {0};
    json_t *images = images_all(s, false, &err), *everything = NULL;
    json_t *ctrs = images ? containers_all(s, &err) : NULL;
    if (ctrs)
        everything = images_all(s, true, &err);
    if (!everything) {
        json_decref(images);
        json_decref(ctrs);
        return cli_fail("system df", &err);
    }
    json_t *used = json_object_get(ctrs, "images");
    json_t *all_layers = json_object(), *active_layers = json_object(), *cache = json_object();
    size_t nactive = 0, ncache = 0;
    const char *id;
    json_t *v;
    json_object_foreach(images, id, v) {
        image_layers(s, id, all_layers);
        if (json_object_get(used, id)) {
            nactive++;
            image_layers(s, id, active_layers);
        }
    }
    json_object_foreach(everything, id, v)
        if (!json_object_get(images, id)) {
            ncache++;
            image_layers(s, id, cache);
        }
    uint64_t isize = layers_sum(all_layers, NULL);
    uint64_t ireclaim = layers_sum(all_layers, active_layers);
    uint64_t csize = 0, creclaim = 0;
    size_t nrunning = 0, i;
    json_t *st;
    json_array_foreach(json_object_get(ctrs, "list"), i, st) {
        char upper[4200];
        snprintf(upper, sizeof upper, "%s/containers/%s/upper", berth_store_root(s),
                 json_string_value(json_object_get(st, "Id")));
        uint64_t n = tree_size(upper);
        csize += n;
        if (json_is_true(json_object_get(json_object_get(st, "State"), "Running")))
            nrunning++;
        else
            creclaim += n;
    }
    uint64_t bsize = layers_sum(cache, all_layers);
    json_t *rows = json_pack("[[s,s,s,s,s]]", "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
    df_row(rows, "Images", json_object_size(images), nactive, isize, ireclaim);
    df_row(rows, "Containers", json_array_size(json_object_get(ctrs, "list")), nrunning, csize,
           creclaim);
    df_row(rows, "Local Volumes", 0, 0, 0, 0);
    df_row(rows, "Build Cache", ncache, 0, bsize, bsize);
    cli_table_print(rows);
    json_decref(rows);
    json_decref(all_layers);
    json_decref(active_layers);
    json_decref(cache);
    json_decref(images);
    json_decref(everything);
    json_decref(ctrs);
    return 0;
}

/* ---- prune ---------------------------------------------------------------------------- */

static bool confirm(const char *warning)
{
    printf("WARNING! %s\nAre you sure you want to continue? [y/N] ", warning);
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

static int prune_opts(int argc, char **argv, bool *all, bool *force, const char *use)
{
    static const struct option longs[] = {
        {"all", no_argument, NULL, 'a'},
        {"force", no_argument, NULL, 'f'},
        {0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "af", longs, NULL)) != -1) {
        if (c == 'a')
            *all = true;
        else if (c == 'f')
            *force = true;
        else {
            fprintf(stderr, "usage: %s\n", use);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "usage: %s\n", use);
        return 2;
    }
    return 0;
}

static void layers_prune(struct berth_store *s, uint64_t *freed)
{
    struct berr err = {0};
    uint64_t n = 0;
    if (rt_layers_prune(s, &n, &err) < 0)
        fprintf(stderr, "berth: warning: %s\n", err.msg);
    *freed += n;
}

static void print_reclaimed(uint64_t n)
{
    char size[32];
    format_size(n, size, sizeof size);
    printf("Total reclaimed space: %s\n", size);
}

/* Remove one image (every name of it); says what it did as docker does. */
static int image_remove(struct berth_store *s, const char *id, json_t *img, bool *header)
{
    json_t *names = json_object_get(img, "names"), *n;
    size_t i;
    int rc = 0;
    struct berr err = {0};
    if (!*header) {
        printf("Deleted Images:\n");
        *header = true;
    }
    json_array_foreach(names, i, n) {
        struct berth_ref ref;
        char familiar[600];
        if (berth_rmi(s, json_string_value(n), false, &err) < 0) {
            rc = cli_fail("image prune", &err);
            continue;
        }
        if (berth_ref_parse(json_string_value(n), &ref, &err) == 0) {
            berth_ref_familiar(&ref, familiar, sizeof familiar);
            printf("untagged: %s:%s\n", familiar, ref.tag);
        }
    }
    if (json_array_size(names) == 0 &&
        berth_rmi(s, json_string_value(json_object_get(img, "manifest")), true, &err) < 0)
        return cli_fail("image prune", &err);
    if (rc == 0)
        printf("deleted: %s\n", id);
    return rc;
}

static int image_prune(struct cli *g, int argc, char **argv)
{
    bool all = false, force = false;
    int rc = prune_opts(argc, argv, &all, &force, "berth image prune [-a] [-f]");
    if (rc != 0)
        return rc;
    if (!force && !confirm(all ? "This will remove all images without at least one "
                                 "container associated to them."
                               : "This will remove all dangling images."))
        return 0;
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    json_t *images = images_all(s, false, &err);
    json_t *ctrs = images ? containers_all(s, &err) : NULL;
    if (!ctrs) {
        json_decref(images);
        berth_store_close(s);
        return cli_fail("image prune", &err);
    }
    uint64_t before = blobs_size(s), freed = 0;
    bool header = false;
    const char *id;
    json_t *img;
    int status = 0;
    json_object_foreach(images, id, img) {
        bool named = json_array_size(json_object_get(img, "names")) > 0;
        if (json_object_get(json_object_get(ctrs, "images"), id) || (named && !all))
            continue;
        if (image_remove(s, id, img, &header) != 0)
            status = 1;
    }
    uint64_t after = blobs_size(s);
    freed = before > after ? before - after : 0;
    layers_prune(s, &freed);
    if (header)
        printf("\n");
    print_reclaimed(freed);
    json_decref(images);
    json_decref(ctrs);
    berth_store_close(s);
    return status;
}

static int builder_prune_cmd(struct cli *g, int argc, char **argv)
{
    bool all = false, force = false;
    int rc = prune_opts(argc, argv, &all, &force, "berth builder prune [-a] [-f]");
    if (rc != 0)
        return rc;
    if (!force && !confirm(all ? "This will remove all build cache."
                               : "This will remove all dangling build cache."))
        return 0;
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    uint64_t freed = 0;
    if (builder_prune(s, &freed, &err) < 0) {
        berth_store_close(s);
        return cli_fail("builder prune", &err);
    }
    layers_prune(s, &freed);
    print_reclaimed(freed);
    berth_store_close(s);
    return 0;
}

/* ---- the management commands ------------------------------------------------------------ */

struct sub {
    const char *name;
    int (*run)(struct cli *, int, char **);
};

static int dispatch(struct cli *g, int argc, char **argv, const struct sub *subs, size_t n)
{
    if (argc >= 2)
        for (size_t i = 0; i < n; i++)
            if (strcmp(argv[1], subs[i].name) == 0)
                return subs[i].run(g, argc - 1, argv + 1);
    fprintf(stderr, "usage: berth %s COMMAND, one of:", argv[0]);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %s", subs[i].name);
    fprintf(stderr, "\n");
    return 2;
}

static int system_df_cmd(struct cli *g, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: berth system df\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    int rc = system_df(s);
    berth_store_close(s);
    return rc;
}

int cmd_system(struct cli *g, int argc, char **argv)
{
    static const struct sub subs[] = {{"df", system_df_cmd}};
    return dispatch(g, argc, argv, subs, sizeof subs / sizeof *subs);
}

/* `image inspect` and `container inspect`: inspect --type TYPE ARGS */
static int typed_inspect(struct cli *g, int argc, char **argv, const char *type)
{
    char **v = calloc((size_t)argc + 3, sizeof *v);
    if (!v)
        return 1;
    v[0] = argv[0];
    v[1] = "--type";
    v[2] = (char *)type;
    memcpy(v + 3, argv + 1, (size_t)(argc - 1) * sizeof *v);
    int rc = cmd_inspect(g, argc + 2, v);
    free(v);
    return rc;
}
static int image_inspect(struct cli *g, int argc, char **argv)
{
    return typed_inspect(g, argc, argv, "image");
}
static int container_inspect(struct cli *g, int argc, char **argv)
{
    return typed_inspect(g, argc, argv, "container");
}

int cmd_image(struct cli *g, int argc, char **argv)
{
    static const struct sub subs[] = {
        {"ls", cmd_images}, {"list", cmd_images}, {"rm", cmd_rmi}, {"prune", image_prune},
        {"tag", cmd_tag}, {"history", cmd_history}, {"inspect", image_inspect},
        {"pull", cmd_pull}, {"push", cmd_push}, {"save", cmd_save}, {"load", cmd_load},
        {"import", cmd_import},
    };
    return dispatch(g, argc, argv, subs, sizeof subs / sizeof *subs);
}

int cmd_builder(struct cli *g, int argc, char **argv)
{
    static const struct sub subs[] = {{"prune", builder_prune_cmd}};
    return dispatch(g, argc, argv, subs, sizeof subs / sizeof *subs);
}

int cmd_container(struct cli *g, int argc, char **argv)
{
    static const struct sub subs[] = {
        {"ls", cmd_ps}, {"list", cmd_ps}, {"ps", cmd_ps}, {"rm", cmd_rm}, {"run", cmd_run},
        {"exec", cmd_exec}, {"logs", cmd_logs}, {"stop", cmd_stop}, {"kill", cmd_kill},
        {"wait", cmd_wait}, {"inspect", container_inspect}, {"commit", cmd_commit},
        {"start", cmd_start}, {"restart", cmd_restart}, {"port", cmd_port},
    };
    return dispatch(g, argc, argv, subs, sizeof subs / sizeof *subs);
}
