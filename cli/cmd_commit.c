/*
 * cmd_commit.c - berth commit [-a AUTHOR] [-m MSG] [-c INSTRUCTION]...
 * [-p|--pause[=false]] CONTAINER [REPOSITORY[:TAG]], as docker commit:
 * the new image's ID (sha256:...) on stdout.
 */
#include "builtin.h"
#include "../builder/builder.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int usage(FILE *out)
{
    fprintf(out, "usage: berth commit [-a AUTHOR] [-m MESSAGE] [-c INSTRUCTION]... "
                 "[--pause=true|false] CONTAINER [REPOSITORY[:TAG]]\n");
    return out == stdout ? 0 : 2;
}

int cmd_commit(struct cli *g, int argc, char **argv)
{
    static const struct option longs[] = {
        {"author", required_argument, NULL, 'a'},
        {"message", required_argument, NULL, 'm'},
        {"change", required_argument, NULL, 'c'},
        {"pause", optional_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct commit_opts o = {.pause = true};
    char **changes = calloc((size_t)argc + 1, sizeof *changes);
    if (!changes)
        return 1;
    int c;
    while ((c = getopt_long(argc, argv, "a:m:c:ph", longs, NULL)) != -1) {
        switch (c) {
        case 'a': o.author = optarg; break;
        case 'm': o.message = optarg; break;
        case 'c': changes[o.nchanges++] = optarg; break;
        case 'p':
            if (!optarg || strcmp(optarg, "true") == 0 || strcmp(optarg, "1") == 0)
                o.pause = true;
            else if (strcmp(optarg, "false") == 0 || strcmp(optarg, "0") == 0)
                o.pause = false;
            else {
                fprintf(stderr, "berth commit: invalid value \"%s\" for --pause: true or "
                                "false\n", optarg);
                free(changes);
                return 2;
            }
            break;
        case 'h':
            free(changes);
            return usage(stdout);
        default:
            free(changes);
            return usage(stderr);
        }
    }
    if (optind >= argc || argc - optind > 2) {
        free(changes);
        return usage(stderr);
    }
    o.changes = changes;
    const char *container = argv[optind], *ref = optind + 1 < argc ? argv[optind + 1] : NULL;
    struct berth_store *s;
    if (cli_store(g, &s) != 0) {
        free(changes);
        return 1;
    }
    char id[DIGEST_MAX];
    struct berr err = {0};
    int rc = builder_commit(s, container, ref, &o, id, &err);
    if (rc == 0)
        printf("%s\n", id);
    berth_store_close(s);
    free(changes);
    return rc == 0 ? 0 : cli_fail("commit", &err);
}
