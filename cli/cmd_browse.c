/*
 * cmd_browse.c - berth catalog REGISTRY and berth tags REPOSITORY: what a
 * registry holds, all pages of it.
 */
#include "builtin.h"

#include <stdio.h>

static int print_name(void *arg, const char *name)
{
    (void)arg;
    printf("%s\n", name);
    return 0;
}

int cmd_catalog(struct cli *g, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: berth catalog REGISTRY\n");
        return 2;
    }
    struct berth_client *c;
    if (cli_client(g, &c) != 0)
        return 1;
    struct berr err = {0};
    int rc = berth_catalog(c, argv[1], print_name, NULL, &err);
    berth_client_free(c);
    return rc == 0 ? 0 : cli_fail("catalog", &err);
}

int cmd_tags(struct cli *g, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: berth tags REPOSITORY\n");
        return 2;
    }
    struct berth_ref ref;
    struct berr err = {0};
    if (berth_ref_parse(argv[1], &ref, &err) < 0)
        return cli_fail("tags", &err);
    struct berth_client *c;
    if (cli_client(g, &c) != 0)
        return 1;
    int rc = berth_tags(c, &ref, print_name, NULL, &err);
    berth_client_free(c);
    return rc == 0 ? 0 : cli_fail("tags", &err);
}
