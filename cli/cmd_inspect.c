/*
 * cmd_inspect.c - berth inspect [--type container|image] NAME... (JSON, like
 * docker inspect: a container's state, or an image's details; `berth image
 * inspect` and `berth container inspect` are inspect with a --type)
 * and berth history [-q] [--no-trunc] [-H] IMAGE (one line per history
 * entry, newest first; IMAGE is the ID of the image that entry made when
 * the store has it, as docker shows a local build's steps, else <missing>).
 */
#include "builtin.h"
#include "../common/template.h"
#include "../runtime/runtime.h"

#include <getopt.h>
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

/* Fields docker always shows that a container's state leaves out because
 * berth has one answer for them: its platform, and no privileged mode. */
static void docker_defaults(json_t *c)
{
    json_t *host = json_object_get(c, "HostConfig");
    if (!json_object_get(c, "Platform"))
        json_object_set_new(c, "Platform", json_string("linux"));
    if (json_is_object(host) && !json_object_get(host, "Privileged"))
        json_object_set_new(host, "Privileged", json_false());
}

/* -f TEMPLATE: one line per object, as docker's (a bad template: exit 64) */
static int inspect_formatted(struct tmpl *t, json_t *out)
{
    size_t i;
    json_t *obj;
    int status = 0;
    json_array_foreach(out, i, obj) {
        char *text;
        struct berr err = {0};
        if (tmpl_exec(t, obj, &text, &err) < 0) {
            fprintf(stderr, "berth inspect: template parsing error: %s\n", err.msg);
            return 1;
        }
        printf("%s\n", text);
        free(text);
    }
    return status;
}

int cmd_inspect(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"type", required_argument, NULL, 'T'}, {0},
    };
    const char *format = NULL, *type = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
        if (c == 'f')
            format = optarg;
        else if (c == 'T')
            type = optarg;
        else
            return 2;
    }
    if (type && strcmp(type, "container") != 0 && strcmp(type, "image") != 0) {
        fprintf(stderr, "berth inspect: \"%s\" is not a valid value for --type\n", type);
        return 1;
    }
    bool containers = !type || strcmp(type, "container") == 0;
    bool images = !type || strcmp(type, "image") == 0;
    if (optind >= argc) {
        fprintf(stderr, "usage: berth inspect [-f TEMPLATE] [--type container|image] NAME...\n");
        return 2;
    }
    struct tmpl *t = NULL;
    if (format && *format) {
        struct berr err = {0};
        if (tmpl_parse(format, &t, &err) < 0) {
            fprintf(stderr, "berth inspect: template parsing error: %s\n", err.msg);
            return 64;
        }
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0) {
        tmpl_free(t);
        return 1;
    }
    json_t *out = json_array();
    int status = 0;
    for (int i = optind; i < argc; i++) {
        json_t *manifest, *config, *container;
        char digest[DIGEST_MAX];
        struct berr err = {0};
        /* a container first, then an image, as docker inspect looks */
        if (containers && rt_inspect(s, argv[i], &container, &err) == 0) {
            docker_defaults(container);
            json_array_append_new(out, container);
            continue;
        }
        if (!images) {
            berr_set(&err, BERR_NOTFOUND, "No such container: %s", argv[i]);
            status = cli_fail("inspect", &err);
            continue;
        }
        if (berth_image_get(s, argv[i], &manifest, &config, digest, &err) < 0) {
            if (err.code == BERR_NOTFOUND)
                berr_set(&err, BERR_NOTFOUND, "No such %s: %s", containers ? "object" : "image",
                         argv[i]);
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
        /* docker's Comment is the last history entry's (commit -m) */
        json_t *history = json_object_get(config, "history");
        const char *comment = json_string_value(json_object_get(
            json_array_get(history, json_array_size(history) - 1), "comment"));
        const char *author = json_string_value(json_object_get(config, "author"));
        /* docker's RootFS: {"Type": "layers", "Layers": [diff_ids]} */
        json_t *rf = json_object_get(config, "rootfs"), *rootfs = json_null();
        if (json_is_object(rf))
            rootfs = json_pack("{s:s,s:O}", "Type",
                               json_string_value(json_object_get(rf, "type")) ?: "layers",
                               "Layers", json_object_get(rf, "diff_ids") ?: json_array());
        json_array_append_new(out, json_pack(
            "{s:O,s:o,s:o,s:s,s:s,s:O,s:s,s:O,s:O,s:O,s:I,s:o,s:O}",
            "Id", json_object_get(json_object_get(manifest, "config"), "digest"),
            "RepoTags", n.tags, "RepoDigests", n.digests,
            "ManifestDigest", digest,
            "Comment", comment ? comment : "",
            "Created", json_object_get(config, "created") ? json_object_get(config, "created") : json_null(),
            "Author", author ? author : "",
            "Architecture", json_object_get(config, "architecture") ? json_object_get(config, "architecture") : json_null(),
            "Os", json_object_get(config, "os") ? json_object_get(config, "os") : json_null(),
            "Config", cfg ? cfg : json_null(),
            "Size", (json_int_t)size,
            "RootFS", rootfs,
            "Layers", json_object_get(manifest, "layers")));
        json_decref(manifest);
        json_decref(config);
    }
    if (t) {
        if (inspect_formatted(t, out) != 0)
            status = 1;
        tmpl_free(t);
        json_decref(out);
        berth_store_close(s);
        return status;
    }
    /* what was found, "[]" when nothing was, as docker's */
    char *text = json_dumps(out, JSON_INDENT(4));
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(out);
    berth_store_close(s);
    return status;
}

/* ---- history ----------------------------------------------------------------------- */

/* Every image of the store (named, dangling, build steps): its ID once. */
static int collect_ids(void *arg, const struct berth_image *img)
{
    json_object_set_new(arg, img->config_digest, json_true());
    return 0;
}

static json_t *config_of(struct berth_store *s, const char *id)
{
    char path[2400];
    if (!digest_valid(id))
        return NULL;
    berth_blob_path(s, id, path, sizeof path);
    return json_load_file(path, 0, NULL);
}

static size_t nonempty(json_t *history, size_t upto)
{
    size_t n = 0;
    for (size_t i = 0; i < upto; i++)
        n += !json_is_true(json_object_get(json_array_get(history, i), "empty_layer"));
    return n;
}

/* Does image `c` (a config) make the first entries of history `h` with
 * layers `diff_ids`? Then it is the image history entry len-1 produced. */
static size_t prefix_of(json_t *c, json_t *h, json_t *diff_ids)
{
    json_t *ch = json_object_get(c, "history");
    json_t *cd = json_object_get(json_object_get(c, "rootfs"), "diff_ids");
    size_t n = json_array_size(ch);
    if (n == 0 || n > json_array_size(h) || json_array_size(cd) != nonempty(h, n) ||
        json_array_size(cd) > json_array_size(diff_ids))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!json_equal(json_array_get(ch, i), json_array_get(h, i)))
            return 0;
    for (size_t i = 0; i < json_array_size(cd); i++)
        if (!json_equal(json_array_get(cd, i), json_array_get(diff_ids, i)))
            return 0;
    return n;
}

/* ids[k]: the ID of the image of the store that history entry k
 * produced (the image itself for the last), or NULL: docker shows the
 * images a local build left, <missing> for the rest. */
static json_t *history_ids(struct berth_store *s, const char *self, json_t *config)
{
    json_t *h = json_object_get(config, "history");
    json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    json_t *ids = json_array(), *all = json_object();
    for (size_t i = 0; i < json_array_size(h); i++)
        json_array_append_new(ids, json_null());
    struct berr ignore = {0};
    berth_images_all(s, true, collect_ids, all, &ignore);
    const char *id;
    json_t *v;
    json_object_foreach(all, id, v) {
        if (strcmp(id, self) == 0)
            continue;
        json_t *c = config_of(s, id);
        size_t n = c ? prefix_of(c, h, diff_ids) : 0;
        if (n && json_is_null(json_array_get(ids, n - 1)))
            json_array_set_new(ids, n - 1, json_string(id));
        json_decref(c);
    }
    if (json_array_size(ids))
        json_array_set_new(ids, json_array_size(ids) - 1, json_string(self));
    json_decref(all);
    return ids;
}

int cmd_history(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-trunc", no_argument, NULL, 'T'}, {"quiet", no_argument, NULL, 'q'},
        {"human", required_argument, NULL, 'H'}, {"format", required_argument, NULL, 'F'}, {0},
    };
    bool no_trunc = false, quiet = false, human = true;
    const char *format = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "qH:", opts, NULL)) != -1) {
        if (c == 'T')
            no_trunc = true;
        else if (c == 'q')
            quiet = true;
        else if (c == 'H') {
            const char *v = optarg + (*optarg == '=');   /* -H=false reaches here as "=false" */
            human = strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
        }
        else if (c == 'F')
            format = strcmp(optarg, "table") == 0 || !*optarg ? NULL : optarg;
        else
            return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: berth history [-q] [--no-trunc] [-H=true|false] "
                "[--format TEMPLATE] IMAGE\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    json_t *manifest, *config;
    struct berr err = {0};
    if (berth_image_get(s, argv[optind], &manifest, &config, NULL, &err) < 0) {
        berth_store_close(s);
        return cli_fail("history", &err);
    }
    json_t *history = json_object_get(config, "history");
    json_t *layers = json_object_get(manifest, "layers");
    const char *self = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
    json_t *ids = history_ids(s, self ? self : "", config);
    /* each non-empty history entry owns the next layer, in order */
    size_t n = json_array_size(history), layer = 0;
    uint64_t *sizes = calloc(n + 1, sizeof *sizes);
    for (size_t i = 0; i < n; i++) {
        json_t *h = json_array_get(history, i);
        if (!json_is_true(json_object_get(h, "empty_layer")))
            sizes[i] = (uint64_t)json_integer_value(
                json_object_get(json_array_get(layers, layer++), "size"));
    }
    json_t *rows = json_pack("[[s,s,s,s,s]]", "IMAGE", human ? "CREATED" : "CREATED AT",
                             "CREATED BY", "SIZE", "COMMENT");
    json_t *items = json_array();
    for (size_t k = n; k-- > 0;) {
        json_t *h = json_array_get(history, k);
        const char *hid = json_string_value(json_array_get(ids, k));
        char id[DIGEST_MAX] = "<missing>";
        if (hid)
            snprintf(id, sizeof id, no_trunc ? "%s" : "%.12s", no_trunc ? hid : digest_hex(hid));
        if (quiet) {
            printf("%s\n", id);
            continue;
        }
        struct tm tm = {0};
        const char *when = json_string_value(json_object_get(h, "created"));
        int64_t t = when && strptime(when, "%Y-%m-%dT%H:%M:%S", &tm) ? (int64_t)timegm(&tm) : 0;
        char created[64], size[32], by[64], at[64] = "";
        if (t > 0) {
            time_t tt = (time_t)t;
            struct tm g;
            if (gmtime_r(&tt, &g))
                strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &g);
        }
        if (human)
            cli_ago(t, created, sizeof created);
        else
            snprintf(created, sizeof created, "%s", at);
        if (human)
            format_size(sizes[k], size, sizeof size);
        else
            snprintf(size, sizeof size, "%llu", (unsigned long long)sizes[k]);
        /* docker's Ellipsis(CreatedBy, 45): 44 characters and "…" */
        const char *cb = json_string_value(json_object_get(h, "created_by"));
        snprintf(by, sizeof by, "%s", cb ? cb : "");
        if (cb && !no_trunc) {
            size_t chars = 0, cut = 0;
            for (const char *p = cb; *p; p++)
                if (((unsigned char)*p & 0xc0) != 0x80 && ++chars == 45)
                    cut = (size_t)(p - cb);
            if (chars > 45 && cut + 4 <= sizeof by)
                memcpy(by + cut, "\xe2\x80\xa6", 4);
        }
        const char *comment = json_string_value(json_object_get(h, "comment"));
        json_array_append_new(rows, json_pack("[s,s,s,s,s]", id, created,
                                              no_trunc && cb ? cb : by, size,
                                              comment ? comment : ""));
        json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "ID", id,
                                               "CreatedSince", created, "CreatedAt", at,
                                               "CreatedBy", no_trunc && cb ? cb : by,
                                               "Size", size, "Comment", comment ? comment : ""));
    }
    int status = 0;
    if (format && !quiet) {
        json_t *headers = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "IMAGE", "CreatedSince",
                                    "CREATED", "CreatedAt", "CREATED AT", "CreatedBy",
                                    "CREATED BY", "Size", "SIZE", "Comment", "COMMENT");
        status = cli_format_print("history", format, items, headers);
        json_decref(headers);
    } else if (!quiet)
        cli_table_print(rows);
    json_decref(items);
    json_decref(rows);
    json_decref(ids);
    free(sizes);
    json_decref(manifest);
    json_decref(config);
    berth_store_close(s);
    return status;
}
