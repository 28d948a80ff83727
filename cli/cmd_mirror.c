/*
 * cmd_mirror.c - berth mirror SRC DST [--tags PATTERN] [--all-platforms],
 * and berth mirror --config FILE for a list of repositories:
 *
 *   {"mirrors": [{"source": "docker.io/library/busybox",
 *                 "destination": "registry.internal:5000/library/busybox",
 *                 "tags": "1.36*", "all_platforms": true}]}
 */
#include "builtin.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int mirror_config(struct berth_client *c, struct berth_store *s, const char *file)
{
    json_error_t jerr;
    json_t *doc = json_load_file(file, 0, &jerr);
    json_t *list = json_object_get(doc, "mirrors");
    if (!json_is_array(list)) {
        fprintf(stderr, "berth mirror: %s:%d: expected {\"mirrors\": [...]}%s%s\n", file,
                jerr.line, doc ? "" : ": ", doc ? "" : jerr.text);
        json_decref(doc);
        return 1;
    }
    int status = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *src = json_string_value(json_object_get(e, "source"));
        const char *dst = json_string_value(json_object_get(e, "destination"));
        const char *tags = json_string_value(json_object_get(e, "tags"));
        struct berr err = {0};
        if (!src || !dst) {
            fprintf(stderr, "berth mirror: %s: mirrors[%zu] needs source and destination\n", file, i);
            status = 1;
        } else if (berth_mirror(c, s, src, dst, tags,
                                json_is_true(json_object_get(e, "all_platforms")), &err) < 0) {
            status = cli_fail("mirror", &err);
        }
    }
    json_decref(doc);
    return status;
}

int cmd_mirror(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"tags", required_argument, NULL, 't'},
        {"all-platforms", no_argument, NULL, 'a'},
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {0},
    };
    const char *tags = NULL, *config = NULL;
    bool all = false;
    int c;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        if (c == 't')
            tags = optarg;
        else if (c == 'a')
            all = true;
        else if (c == 'c')
            config = optarg;
        else if (c == 'q')
            g->opts.quiet = 1;
        else
            return 2;
    }
    if (config ? optind != argc : optind != argc - 2) {
        fprintf(stderr, "usage: berth mirror SRC DST [--tags PATTERN] [--all-platforms]\n"
                        "       berth mirror --config FILE\n");
        return 2;
    }
    g->opts.out = stdout;   /* the report is the command's output */
    struct berth_store *s;
    struct berth_client *cl;
    if (cli_store(g, &s) != 0)
        return 1;
    if (cli_client(g, &cl) != 0) {
        berth_store_close(s);
        return 1;
    }
    int status;
    if (config) {
        status = mirror_config(cl, s, config);
    } else {
        struct berr err = {0};
        status = berth_mirror(cl, s, argv[optind], argv[optind + 1], tags, all, &err) == 0
                     ? 0 : cli_fail("mirror", &err);
    }
    berth_client_free(cl);
    berth_store_close(s);
    return status;
}
