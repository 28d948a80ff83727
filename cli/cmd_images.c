/*
 * cmd_images.c - berth images [-a] [-q] [--no-trunc] [REPO[:TAG]], berth tag SOURCE
 * TARGET, berth rmi [-f] IMAGE...
 *
 * images lists every name, and the images without one as <none>:<none>
 * (dangling ones always, build steps' with -a), newest first, as docker.
 */
#include "builtin.h"
#include "../runtime/runtime.h"

#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct listing {
    bool quiet, no_trunc;
    const char *format;          /* --format TEMPLATE, or NULL */
    const char *repo, *tag;      /* images REPO[:TAG]: shell patterns, as docker's */
    json_t *items;               /* [created, order seen, id, row, --format's fields] */
};

/* "2021-03-04 10:00:00 +0000 UTC", as docker's CreatedAt */
static void created_at(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm))
        snprintf(out, len, "%s", "");
}

/* `images REPO[:TAG]`: the familiar name ("busybox", "127.0.0.1:5000/x/y") or
 * the full one ("docker.io/library/busybox") matches the pattern */
static bool name_matches(const struct listing *l, const char *repo, const char *tag)
{
    char full[700];
    snprintf(full, sizeof full, "%s%s", strchr(repo, '/') ? "" : "library/", repo);
    bool named = fnmatch(l->repo, repo, FNM_PATHNAME) == 0 ||
                 fnmatch(l->repo, full, FNM_PATHNAME) == 0 ||
                 (strncmp(l->repo, "docker.io/", 10) == 0 &&
                  fnmatch(l->repo + 10, full, FNM_PATHNAME) == 0);
    return named && (!l->tag || fnmatch(l->tag, tag, 0) == 0);
}

static int collect_image(void *arg, const struct berth_image *img)
{
    struct listing *l = arg;
    char id[DIGEST_MAX];
    if (l->no_trunc)
        snprintf(id, sizeof id, "%s", img->config_digest);
    else
        snprintf(id, sizeof id, "%.12s", digest_hex(img->config_digest));
    struct berth_ref ref;
    struct berr err = {0};
    char repo[600] = "<none>", tag[TAG_MAX_LEN + 1] = "<none>", created[64], size[32];
    /* without a name: dangling, or (-a) a build step's, as <none>:<none> */
    if (img->name) {
        if (berth_ref_parse(img->name, &ref, &err) < 0)
            return 0;
        berth_ref_familiar(&ref, repo, sizeof repo);
        if (ref.tag[0])
            snprintf(tag, sizeof tag, "%s", ref.tag);
    }
    if (l->repo && (!img->name || !name_matches(l, repo, tag)))
        return 0;
    cli_ago(img->created, created, sizeof created);
    format_size(img->size, size, sizeof size);
    char at[64], digest[DIGEST_MAX + 8] = "<none>";
    created_at(img->created, at, sizeof at);
    if (img->name && img->repo_digest)
        snprintf(digest, sizeof digest, "%s", img->repo_digest);
    json_array_append_new(l->items, json_pack("[I,I,s,[s,s,s,s,s],{s:s,s:s,s:s,s:s,s:s,s:s,s:s}]",
                                              (json_int_t)img->created,
                                              (json_int_t)json_array_size(l->items), id, repo,
                                              tag, id, created, size, "ID", id, "Repository", repo,
                                              "Tag", tag, "Digest", digest, "CreatedSince", created,
                                              "CreatedAt", at, "Size", size));
    return 0;
}

/* Newest first, as docker lists them. */
static int by_created(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t cx = json_integer_value(json_array_get(x, 0));
    json_int_t cy = json_integer_value(json_array_get(y, 0));
    if (cx != cy)
        return cx > cy ? -1 : 1;
    json_int_t ox = json_integer_value(json_array_get(x, 1));
    json_int_t oy = json_integer_value(json_array_get(y, 1));
    return ox < oy ? -1 : ox > oy;
}

static int print_images(struct listing *l)
{
    size_t n = json_array_size(l->items);
    int rc = 0;
    json_t **v = calloc(n + 1, sizeof *v);
    json_t *rows = json_pack("[[s,s,s,s,s]]", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
    if (!v || !rows) {
        free(v);
        json_decref(rows);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(l->items, i);
    qsort(v, n, sizeof *v, by_created);
    if (l->format && !l->quiet) {
        json_t *items = json_array();
        json_t *headers = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "IMAGE ID",
                                    "Repository", "REPOSITORY", "Tag", "TAG", "Digest", "DIGEST",
                                    "CreatedSince", "CREATED", "CreatedAt", "CREATED AT",
                                    "Size", "SIZE");
        for (size_t i = 0; i < n; i++)
            json_array_append(items, json_array_get(v[i], 4));
        rc = cli_format_print("images", l->format, items, headers);
        json_decref(items);
        json_decref(headers);
        json_decref(rows);
        free(v);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (l->quiet)
            printf("%s\n", json_string_value(json_array_get(v[i], 2)));
        else
            json_array_append(rows, json_array_get(v[i], 3));
    }
    if (!l->quiet)
        cli_table_print(rows);
    json_decref(rows);
    free(v);
    return rc;
}

int cmd_images(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'}, {"quiet", no_argument, NULL, 'q'},
        {"no-trunc", no_argument, NULL, 'T'}, {"format", required_argument, NULL, 'F'}, {0},
    };
    struct listing l = {0};
    bool all = false;
    int c;
    while ((c = getopt_long(argc, argv, "aq", opts, NULL)) != -1) {
        if (c == 'a')
            all = true;
        else if (c == 'q')
            l.quiet = true;
        else if (c == 'T')
            l.no_trunc = true;
        else if (c == 'F')
            l.format = strcmp(optarg, "table") == 0 || !*optarg ? NULL : optarg;
        else
            return 2;
    }
    if (optind < argc - 1) {
        fprintf(stderr, "usage: berth images [-a] [-q] [--no-trunc] [--format TEMPLATE] "
                        "[REPOSITORY[:TAG]]\n");
        return 2;
    }
    char pattern[700];
    if (optind == argc - 1) {
        snprintf(pattern, sizeof pattern, "%s", argv[optind]);
        char *colon = strrchr(pattern, ':');
        if (colon && !strchr(colon, '/')) {   /* a tag, not a registry's port */
            *colon = '\0';
            l.tag = colon + 1;
        }
        l.repo = pattern;
        if (!*l.repo || (l.tag && !*l.tag)) {
            fprintf(stderr, "berth images: invalid reference format: %s\n", argv[optind]);
            return 1;
        }
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    l.items = json_array();
    struct berr err = {0};
    int rc = berth_images_all(s, all, collect_image, &l, &err);
    int status = rc == 0 ? print_images(&l) : 0;
    json_decref(l.items);
    berth_store_close(s);
    return rc == 0 ? status : cli_fail("images", &err);
}

int cmd_tag(struct cli *g, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: berth tag SOURCE TARGET\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    int rc = berth_tag(s, argv[1], argv[2], &err);
    berth_store_close(s);
    return rc == 0 ? 0 : cli_fail("tag", &err);
}

/* What an image is to rmi: its names, whether `what` is one of them, and
 * the containers that use it (the first one, and the first running one). */
struct rmi_facts {
    const char *id, *full;
    size_t names;
    bool by_name;
    char any[80], running[80];
};

static int rmi_count_name(void *arg, const struct berth_image *img)
{
    struct rmi_facts *f = arg;
    if (!img->config_digest || strcmp(img->config_digest, f->id) != 0)
        return 0;
    f->names++;
    f->by_name |= *f->full && strcmp(img->name, f->full) == 0;
    return 0;
}

static int rmi_find_user(void *arg, json_t *state)
{
    struct rmi_facts *f = arg;
    const char *image = json_string_value(json_object_get(state, "Image"));
    const char *cid = json_string_value(json_object_get(state, "Id"));
    if (!image || !cid || strcmp(image, f->id) != 0)
        return 0;
    if (!f->any[0])
        snprintf(f->any, sizeof f->any, "%.12s", cid);
    if (!f->running[0] &&
        json_is_true(json_object_get(json_object_get(state, "State"), "Running")))
        snprintf(f->running, sizeof f->running, "%.12s", cid);
    return 0;
}

/* Docker's conflicts: a name whose image a container uses is only untagged
 * with -f when it is the image's last name; an id is never removed while a
 * running container uses it, nor without -f while a stopped one does. A
 * container keeps its own unpacked root either way; `rmi -f NAME` of a
 * running one's image leaves it without a name (1), as docker does. */
static int rmi_check(struct berth_store *s, const char *what, bool force, struct berr *err)
{
    json_t *manifest;
    struct berr ignore = {0};
    if (berth_image_get(s, what, &manifest, NULL, NULL, &ignore) < 0)
        return 0;   /* berth_rmi says what is missing */
    char id[DIGEST_MAX], full[600] = "";
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"))
                 ?: "");
    json_decref(manifest);
    struct berth_ref ref;
    if (berth_ref_parse(what, &ref, &ignore) == 0)
        berth_ref_format(&ref, full, sizeof full);
    struct rmi_facts f = {.id = id, .full = full};
    if (berth_images(s, rmi_count_name, &f, err) < 0 || rt_list(s, true, rmi_find_user, &f, err) < 0)
        return -1;
    if (!f.any[0])
        return 0;
    const char *hex = digest_hex(id);
    if (f.by_name) {
        if (!force && f.names <= 1)
            return berr_set(err, BERR_CONFLICT,
                            "conflict: unable to remove repository reference \"%s\" (must force) - "
                            "container %s is using its referenced image %.12s",
                            what, f.any, hex);
        return f.names <= 1 && f.running[0] ? 1 : 0;
    }
    if (f.running[0])
        return berr_set(err, BERR_CONFLICT,
                        "conflict: unable to delete %.12s (cannot be forced) - image is being "
                        "used by running container %s",
                        hex, f.running);
    if (!force && f.names <= 1)
        return berr_set(err, BERR_CONFLICT,
                        "conflict: unable to delete %.12s (must be forced) - image is being "
                        "used by stopped container %s",
                        hex, f.any);
    return 0;
}

/* The names (familiar, "repo:tag") that image `id` has now. */
struct rmi_names {
    const char *id;
    json_t *names;
};
static int rmi_name_of(void *arg, const struct berth_image *img)
{
    struct rmi_names *n = arg;
    if (!img->name || strcmp(img->config_digest, n->id) != 0)
        return 0;
    struct berth_ref ref;
    struct berr ignore = {0};
    char repo[600], name[900];
    if (berth_ref_parse(img->name, &ref, &ignore) < 0)
        snprintf(name, sizeof name, "%s", img->name);
    else {
        berth_ref_familiar(&ref, repo, sizeof repo);
        snprintf(name, sizeof name, "%s:%s", repo, ref.tag);
    }
    json_array_append_new(n->names, json_string(name));
    return 0;
}
static json_t *rmi_names(struct berth_store *s, const char *id)
{
    struct rmi_names n = {id, json_array()};
    struct berr ignore = {0};
    berth_images(s, rmi_name_of, &n, &ignore);
    return n.names;
}
static bool rmi_has(json_t *names, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
        if (strcmp(json_string_value(v), name) == 0)
            return true;
    return false;
}

static int rmi_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What docker prints: "Untagged: NAME" for each name that went (an ID
 * given is not a name), in order, then "Deleted: ID" when the image went. */
static void rmi_report(struct berth_store *s, const char *id, json_t *before)
{
    json_t *after = rmi_names(s, id), *v;
    size_t i, n = 0;
    const char **gone = calloc(json_array_size(before) + 1, sizeof *gone);
    json_array_foreach(before, i, v)
        if (gone && !rmi_has(after, json_string_value(v)))
            gone[n++] = json_string_value(v);
    if (gone)
        qsort(gone, n, sizeof *gone, rmi_name_cmp);
    for (i = 0; i < n; i++)
        printf("Untagged: %s\n", gone[i]);
    free(gone);
    json_decref(after);
    json_t *manifest;
    struct berr err = {0};
    if (berth_image_get(s, id, &manifest, NULL, NULL, &err) == 0)
        json_decref(manifest);
    else if (err.code == BERR_NOTFOUND)
        printf("Deleted: %s\n", id);
}

int cmd_rmi(struct cli *g, int argc, char **argv)
{
    bool force = false;
    int c;
    while ((c = getopt(argc, argv, "f")) != -1) {
        if (c == 'f')
            force = true;
        else
            return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: berth rmi [-f] IMAGE...\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct berr err = {0};
        json_t *manifest = NULL;
        char id[DIGEST_MAX] = "";
        if (berth_image_get(s, argv[i], &manifest, NULL, NULL, &err) == 0) {
            snprintf(id, sizeof id, "%s", json_string_value(json_object_get(
                                              json_object_get(manifest, "config"), "digest")) ?: "");
            json_decref(manifest);
        }
        memset(&err, 0, sizeof err);
        json_t *before = id[0] ? rmi_names(s, id) : json_array();
        int how = rmi_check(s, argv[i], force, &err);
        if (how < 0 || (how == 1 ? berth_untag_keep(s, argv[i], &err)
                                 : berth_rmi(s, argv[i], force, &err)) < 0)
            status = cli_fail("rmi", &err);
        else if (id[0])
            rmi_report(s, id, before);
        else
            printf("Untagged: %s\n", argv[i]);
        json_decref(before);
    }
    berth_store_close(s);
    return status;
}
