/*
 * cmd_compose.c - berth compose: the global options once, then one
 * subcommand from the table (as berth.c does for commands).
 *
 *   berth compose [-f FILE]... [-p NAME] [--project-directory DIR]
 *                 [--env-file FILE] SUBCOMMAND [ARGS]
 *
 * A subcommand gets its own arguments (argv[0] is its name; getopt starts
 * afresh) and loads the project with compose_cli_load. A compose file
 * that cannot be loaded exits 15, as docker compose does.
 */
#include "builtin.h"
#include "../compose/compose.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPOSE_EXIT_BAD_FILE 15

struct compose_cli {
    struct cli *g;
    struct compose_opts o;
};

/* Load the project; on an error print it and return the exit status. */
static int compose_cli_load(struct compose_cli *cc, json_t **project)
{
    struct berr err = {0};
    if (compose_load(&cc->o, project, &err) < 0) {
        /* a message quotes the file: control characters in it stay on one line */
        char line[4 * sizeof err.msg];
        log_escape(err.msg[0] ? err.msg : "cannot load the project", line, sizeof line, false);
        fprintf(stderr, "berth compose: %s\n", line);
        return COMPOSE_EXIT_BAD_FILE;
    }
    return 0;
}

static int compose_config(struct compose_cli *cc, int argc, char **argv)
{
    static const struct option opts[] = {
        {"services", no_argument, NULL, 's'}, {"quiet", no_argument, NULL, 'q'},
        {"format", required_argument, NULL, 'F'}, {"volumes", no_argument, NULL, 'v'},
        {"images", no_argument, NULL, 'i'}, {0},
    };
    bool services = false, quiet = false, json = false, volumes = false, images = false;
    int c;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        if (c == 's')
            services = true;
        else if (c == 'q')
            quiet = true;
        else if (c == 'v')
            volumes = true;
        else if (c == 'i')
            images = true;
        else if (c == 'F' && (strcmp(optarg, "yaml") == 0 || strcmp(optarg, "json") == 0))
            json = strcmp(optarg, "json") == 0;
        else {
            if (c == 'F')
                fprintf(stderr, "berth compose config: --format is yaml or json, not '%s'\n", optarg);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "usage: berth compose config [--services|--volumes|--images] [-q] "
                        "[--format yaml|json]\n");
        return 2;
    }
    json_t *p;
    int rc = compose_cli_load(cc, &p);
    if (rc)
        return rc;
    struct berr err = {0};
    if (quiet)
        ;
    else if (services) {
        const char *name;
        json_t *s;
        json_object_foreach(json_object_get(p, "services"), name, s)
            printf("%s\n", name);
    } else if (volumes) {
        const char *name;
        json_t *v;
        json_object_foreach(json_object_get(p, "volumes"), name, v)
            printf("%s\n", name);
    } else if (images) {
        /* a service without an image is built as <project>-<service> */
        const char *name;
        json_t *s;
        json_object_foreach(json_object_get(p, "services"), name, s) {
            const char *img = json_string_value(json_object_get(s, "image"));
            if (img)
                printf("%s\n", img);
            else
                printf("%s-%s\n", json_string_value(json_object_get(p, "name")), name);
        }
    } else if (json) {
        if (json_dumpf(p, stdout, JSON_INDENT(2)) < 0)
            rc = 1;
        printf("\n");
    } else if (compose_write_yaml(p, stdout, &err) < 0)
        rc = cli_fail("compose config", &err);
    json_decref(p);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}

static const struct {
    const char *name;
    int (*run)(struct compose_cli *, int, char **);
    const char *help;
} subcommands[] = {
    {"config", compose_config, "check the project's files and print the resolved model"},
};

static void compose_usage(FILE *out)
{
    fprintf(out, "usage: berth compose [-f FILE]... [-p NAME] [--project-directory DIR] "
                 "[--env-file FILE] COMMAND [ARGS]\n\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++)
        fprintf(out, "  %-9s %s\n", subcommands[i].name, subcommands[i].help);
}

int cmd_compose(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"project-name", required_argument, NULL, 'p'},
        {"project-directory", required_argument, NULL, 'd'},
        {"env-file", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct compose_cli cc = {.g = g};
    char **files = calloc((size_t)argc + 1, sizeof *files);
    int c, rc;
    /* "+": options stop at the subcommand, which parses its own */
    while ((c = getopt_long(argc, argv, "+f:p:h", opts, NULL)) != -1) {
        if (c == 'f')
            files[cc.o.nfiles++] = optarg;
        else if (c == 'p')
            cc.o.project = optarg;
        else if (c == 'd')
            cc.o.workdir = optarg;
        else if (c == 'e')
            cc.o.env_file = optarg;
        else if (c == 'h') {
            compose_usage(stdout);
            free(files);
            return 0;
        } else {
            free(files);
            return 2;
        }
    }
    cc.o.files = files;
    if (optind >= argc) {
        compose_usage(stderr);
        free(files);
        return 2;
    }
    const char *sub = argv[optind];
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++)
        if (strcmp(sub, subcommands[i].name) == 0) {
            int sargc = argc - optind;
            char **sargv = argv + optind;
            optind = 0; /* getopt starts afresh for the subcommand */
            rc = subcommands[i].run(&cc, sargc, sargv);
            free(files);
            return rc;
        }
    fprintf(stderr, "berth compose: '%s' is not a compose command (see berth compose --help)\n", sub);
    free(files);
    return 2;
}
