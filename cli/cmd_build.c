/*
 * cmd_build.c - berth build [OPTIONS] PATH | -, with docker build's
 * options and output (the classic builder's). Options may come before or
 * after the context; boolean options take docker's "=true"/"=false".
 * The exit status is docker's: 0, a failing RUN's code, 128 + N after
 * signal N, 1 for anything else.
 */
#include "builtin.h"
#include "../builder/builder.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void build_usage(FILE *out)
{
    fprintf(out,
            "usage: berth build [-t NAME[:TAG]]... [-f FILE] [--build-arg KEY[=VALUE]]...\n"
            "                   [--target STAGE] [--no-cache] [--pull] [--network host|none]\n"
            "                   [--platform OS/ARCH] [--label KEY=VALUE]... [-q] [--iidfile FILE]\n"
            "                   PATH | -\n");
}

/* docker's boolean flags: "--pull", "--pull=true", "--pull=false". */
static int flag_bool(const char *name, const char *arg, bool *out)
{
    if (!arg || strcasecmp(arg, "true") == 0 || strcmp(arg, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcasecmp(arg, "false") == 0 || strcmp(arg, "0") == 0) {
        *out = false;
        return 0;
    }
    fprintf(stderr, "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseBool: parsing "
                    "\"%s\": invalid syntax\n", arg, name, arg);
    return -1;
}

enum { O_BUILD_ARG = 256, O_TARGET, O_NO_CACHE, O_PULL, O_NETWORK, O_PLATFORM, O_LABEL,
       O_IIDFILE, O_RM, O_FORCE_RM, O_PROGRESS };

int cmd_build(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"tag", required_argument, NULL, 't'}, {"file", required_argument, NULL, 'f'},
        {"build-arg", required_argument, NULL, O_BUILD_ARG},
        {"target", required_argument, NULL, O_TARGET},
        {"no-cache", optional_argument, NULL, O_NO_CACHE},
        {"pull", optional_argument, NULL, O_PULL},
        {"network", required_argument, NULL, O_NETWORK},
        {"platform", required_argument, NULL, O_PLATFORM},
        {"label", required_argument, NULL, O_LABEL},
        {"quiet", optional_argument, NULL, 'q'},
        {"iidfile", required_argument, NULL, O_IIDFILE},
        {"rm", optional_argument, NULL, O_RM}, {"force-rm", optional_argument, NULL, O_FORCE_RM},
        {"progress", required_argument, NULL, O_PROGRESS}, {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char **tags = calloc((size_t)argc + 1, sizeof *tags);
    char **bargs = calloc((size_t)argc + 1, sizeof *bargs);
    char **labels = calloc((size_t)argc + 1, sizeof *labels);
    int status = 1;
    struct build_opts o = {.tags = tags, .build_args = bargs, .labels = labels, .out = stdout,
                           .status = &status};
    bool ignored;
    int c, bad = !tags || !bargs || !labels;
    opterr = 1;
    while (!bad && (c = getopt_long(argc, argv, "t:f:q", opts, NULL)) != -1) {
        switch (c) {
        case 't': tags[o.ntags++] = optarg; break;
        case 'f': o.file = optarg; break;
        case O_BUILD_ARG: bargs[o.nbuild_args++] = optarg; break;
        case O_LABEL: labels[o.nlabels++] = optarg; break;
        case O_TARGET: o.target = optarg; break;
        case O_PLATFORM: o.platform = optarg; break;
        case O_IIDFILE: o.iidfile = optarg; break;
        case O_NO_CACHE: bad = flag_bool("no-cache", optarg, &o.no_cache) < 0; break;
        case O_PULL: bad = flag_bool("pull", optarg, &o.pull) < 0; break;
        case 'q': bad = flag_bool("quiet", optarg, &o.quiet) < 0; break;
        case O_RM: bad = flag_bool("rm", optarg, &ignored) < 0; break;   /* always removed */
        case O_FORCE_RM: bad = flag_bool("force-rm", optarg, &ignored) < 0; break;
        case O_PROGRESS: break;   /* the classic builder's output is the only one */
        case 'h':
            build_usage(stdout);
            status = 0;
            goto out;
        case O_NETWORK:
            if (strcmp(optarg, "none") == 0)
                o.network_none = true;
            else if (strcmp(optarg, "host") != 0 && strcmp(optarg, "default") != 0 &&
                     strcmp(optarg, "bridge") != 0) {
                fprintf(stderr, "network %s not found\n", optarg);
                bad = 1;
            }
            break;
        default: bad = 1; break;
        }
    }
    if (!bad && argc - optind != 1) {
        fprintf(stderr, "\"berth build\" requires exactly 1 argument.\n");
        bad = 1;
    }
    if (bad) {
        build_usage(stderr);
        goto out;
    }
    o.context = argv[optind];
    if (o.platform && (strchr(o.platform, '/') == NULL || strchr(o.platform, ' '))) {
        fprintf(stderr, "\"%s\": unknown operating system or architecture: invalid argument\n",
                o.platform);
        goto out;
    }
    struct berth_store *s;
    struct berth_client *client;
    g->opts.out = stdout;
    g->opts.quiet = o.quiet;
    if (cli_store(g, &s) != 0)
        goto out;
    if (cli_client(g, &client) != 0) {
        berth_store_close(s);
        goto out;
    }
    char id[DIGEST_MAX];
    struct berr err = {0};
    fflush(stdout);
    if (builder_build(s, client, &o, id, &err) < 0) {
        fflush(stdout);
        fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "the build failed");
        if (status == 0)
            status = 1;
    } else {
        if (o.quiet)
            printf("%s\n", id);
        status = 0;
    }
    berth_client_free(client);
    berth_store_close(s);
out:
    free(tags);
    free(bargs);
    free(labels);
    return status;
}
