/*
 * cmd_transfer.c - berth pull [-q] [--platform OS/ARCH[/VARIANT]] REF and
 * berth push [-q] REF.
 */
#include "builtin.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int cmd_pull(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"platform", required_argument, NULL, 'P'},
        {0},
    };
    const char *platform = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        if (c == 'q')
            g->opts.quiet = 1;
        else if (c == 'P')
            platform = optarg;
        else
            return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: berth pull [-q] [--platform OS/ARCH] REF\n");
        return 2;
    }
    struct berth_store *s;
    struct berth_client *cl;
    if (cli_store(g, &s) != 0)
        return 1;
    if (cli_client(g, &cl) != 0) {
        berth_store_close(s);
        return 1;
    }
    struct berr err = {0};
    char digest[DIGEST_MAX];
    int rc = berth_pull(cl, s, argv[optind], platform, digest, &err);
    if (rc == 0) {
        struct berth_ref ref;
        char full[600];
        berth_ref_parse(argv[optind], &ref, &err);
        berth_ref_format(&ref, full, sizeof full);
        if (!g->opts.quiet)
            printf("Digest: %s\nStatus: Downloaded image for %s\n", digest, argv[optind]);
        printf("%s\n", full);
    }
    berth_client_free(cl);
    berth_store_close(s);
    return rc == 0 ? 0 : cli_fail("pull", &err);
}

int cmd_push(struct cli *g, int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "q")) != -1) {
        if (c == 'q')
            g->opts.quiet = 1;
        else
            return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: berth push [-q] REF\n");
        return 2;
    }
    struct berth_store *s;
    struct berth_client *cl;
    if (cli_store(g, &s) != 0)
        return 1;
    if (cli_client(g, &cl) != 0) {
        berth_store_close(s);
        return 1;
    }
    struct berr err = {0};
    char digest[DIGEST_MAX];
    int rc = berth_push(cl, s, argv[optind], digest, &err);
    if (rc == 0 && g->opts.quiet)
        printf("%s\n", digest);
    berth_client_free(cl);
    berth_store_close(s);
    return rc == 0 ? 0 : cli_fail("push", &err);
}
