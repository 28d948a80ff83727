/*
 * cmd_compose.c - berth compose [-f FILE]... [-p NAME] [--project-directory DIR]
 * SUBCOMMAND [ARGS]: the global options parsed once, the project loaded,
 * then one subcommand of the table.
 */
#include "builtin.h"
#include "../compose/compose.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *name;
    int (*run)(struct compose_project *, int, char **);
    const char *help;
} subcommands[] = {
    {"up", compose_cmd_up, "create and start the services' containers"},
    {"down", compose_cmd_down, "stop and remove containers and networks"},
    {"ps", compose_cmd_ps, "list the project's containers"},
    {"logs", compose_cmd_logs, "show the services' output"},
    {"start", compose_cmd_start, "start the services' stopped containers"},
    {"stop", compose_cmd_stop, "stop the services' containers"},
    {"restart", compose_cmd_restart, "restart the services' containers"},
    {"exec", compose_cmd_exec, "run a command in a service's running container"},
    {"run", compose_cmd_run, "run a one-off command in a new container of a service"},
    {"build", compose_cmd_build, "build the services' images"},
    {"pull", compose_cmd_pull, "pull the services' images"},
    {"push", compose_cmd_push, "push the services' images"},
};

static int compose_usage(FILE *out)
{
    fprintf(out, "usage: berth compose [-f FILE]... [-p NAME] [--project-directory DIR] "
                 "COMMAND [ARGS]\n\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++)
        fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].help);
    return 2;
}

/* The files the project was read from, absolute, comma-separated: the
 * config_files label. */
static char *config_files(const struct compose_opts *o, const char *workdir)
{
    static const char *const defaults[] = {"compose.yaml", "compose.yml", "docker-compose.yml",
                                           "docker-compose.yaml"};
    char path[PATH_MAX + 64], *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    if (!f)
        return NULL;
    for (size_t i = 0; i < o->nfiles; i++) {
        const char *file = o->files[i];
        if (file[0] != '/') {
            snprintf(path, sizeof path, "%s/%s", workdir, file);
            file = path;
        }
        fprintf(f, "%s%s", i ? "," : "", file);
    }
    for (size_t i = 0; o->nfiles == 0 && i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", workdir, defaults[i]);
        if (access(path, F_OK) == 0) {
            fprintf(f, "%s", path);
            break;
        }
    }
    fclose(f);
    return out;
}

int cmd_compose(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'}, {"project-name", required_argument, NULL, 'p'},
        {"project-directory", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct compose_opts o = {0};
    char *files[64];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+f:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (o.nfiles == 64) {
                fprintf(stderr, "berth compose: too many -f files\n");
                return 2;
            }
            files[o.nfiles++] = optarg;
            o.files = files;
            break;
        case 'p': o.project = optarg; break;
        case 'd': o.workdir = optarg; break;
        case 'h': compose_usage(stdout); return 0;
        default: return compose_usage(stderr);
        }
    }
    if (optind >= argc)
        return compose_usage(stderr);
    const char *sub = argv[optind];
    size_t k = 0;
    while (k < sizeof subcommands / sizeof *subcommands && strcmp(subcommands[k].name, sub))
        k++;
    if (k == sizeof subcommands / sizeof *subcommands) {
        fprintf(stderr, "berth compose: '%s' is not a compose command\n", sub);
        return compose_usage(stderr);
    }
    char workdir[PATH_MAX];
    if (!realpath(o.workdir ? o.workdir : ".", workdir)) {
        fprintf(stderr, "berth compose: %s: %m\n", o.workdir ? o.workdir : ".");
        return 1;
    }
    o.workdir = workdir;
    struct berr err = {0};
    json_t *model;
    if (compose_load(&o, &model, &err) < 0)
        return cli_fail("compose", &err);
    struct berth_store *s;
    if (cli_store(g, &s) != 0) {
        json_decref(model);
        return 1;
    }
    g->opts.insecure = g->insecure;
    char *cfg = config_files(&o, workdir);
    struct compose_project p = {.model = model, .workdir = workdir, .config_files = cfg,
                                .store = s, .client_opts = &g->opts, .out = stderr};
    int rc = subcommands[k].run(&p, argc - optind, argv + optind);
    compose_project_close(&p);
    free(cfg);
    berth_store_close(s);
    json_decref(model);
    return rc;
}
