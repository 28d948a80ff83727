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
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The project's directory (the working_dir label): --project-directory,
 * else the first file's directory, else the current one; and the files
 * read, absolute and comma-separated (the config_files label). */
static int project_paths(const struct compose_opts *o, char dir[PATH_MAX], char **files)
{
    static const char *const defaults[] = {"compose.yaml", "compose.yml", "docker-compose.yml",
                                           "docker-compose.yaml"};
    char path[PATH_MAX], first[PATH_MAX];
    size_t n = 0;
    const char *base = o->workdir ? o->workdir : ".";
    if (!o->workdir && o->nfiles > 0 && strcmp(o->files[0], "-") != 0) {
        snprintf(first, sizeof first, "%s", o->files[0]);
        base = dirname(first);
    }
    if (!realpath(base, dir))
        return -1;
    FILE *f = open_memstream(files, &n);
    if (!f)
        return -1;
    for (size_t i = 0; i < o->nfiles; i++)
        fprintf(f, "%s%s", i ? "," : "",
                realpath(o->files[i], path) ? path : o->files[i]);
    for (size_t i = 0; o->nfiles == 0 && i < 4; i++) {
        char *cand;
        if (asprintf(&cand, "%s/%s", dir, defaults[i]) < 0)
            break;
        bool found = access(cand, F_OK) == 0;
        if (found)
            fprintf(f, "%s", cand);
        free(cand);
        if (found)
            break;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Load the project, open the store, run one of compose_run.c's commands. */
static int with_project(struct compose_cli *cc, int (*fn)(struct compose_project *, int, char **),
                        int argc, char **argv)
{
    json_t *model;
    char dir[PATH_MAX], *files = NULL;
    int rc = compose_cli_load(cc, &model);
    if (rc)
        return rc;
    if (project_paths(&cc->o, dir, &files) < 0) {
        fprintf(stderr, "berth compose: the project directory: %m\n");
        free(files);
        json_decref(model);
        return 1;
    }
    struct berth_store *s;
    if (cli_store(cc->g, &s) != 0) {
        free(files);
        json_decref(model);
        return 1;
    }
    cc->g->opts.insecure = cc->g->insecure;
    struct compose_project p = {.model = model, .workdir = dir, .config_files = files,
                                .store = s, .client_opts = &cc->g->opts, .out = stderr};
    rc = fn(&p, argc, argv);
    compose_project_close(&p);
    berth_store_close(s);
    free(files);
    json_decref(model);
    return rc;
}

#define PROJECT_COMMAND(name)                                                   \
    static int sub_##name(struct compose_cli *cc, int argc, char **argv)       \
    {                                                                           \
        return with_project(cc, compose_cmd_##name, argc, argv);                \
    }
PROJECT_COMMAND(up)
PROJECT_COMMAND(down)
PROJECT_COMMAND(ps)
PROJECT_COMMAND(logs)
PROJECT_COMMAND(start)
PROJECT_COMMAND(stop)
PROJECT_COMMAND(restart)
PROJECT_COMMAND(exec)
PROJECT_COMMAND(run)
PROJECT_COMMAND(build)
PROJECT_COMMAND(pull)
PROJECT_COMMAND(push)
PROJECT_COMMAND(port)

static const struct {
    const char *name;
    int (*run)(struct compose_cli *, int, char **);
    const char *help;
} subcommands[] = {
    {"config", compose_config, "check the project's files and print the resolved model"},
    {"up", sub_up, "create and start the services' containers"},
    {"down", sub_down, "stop and remove the project's containers and networks"},
    {"ps", sub_ps, "list the project's containers"},
    {"logs", sub_logs, "show the services' output"},
    {"start", sub_start, "start the services' stopped containers"},
    {"stop", sub_stop, "stop the services' containers"},
    {"restart", sub_restart, "restart the services' containers"},
    {"exec", sub_exec, "run a command in a service's running container"},
    {"run", sub_run, "run a one-off command in a new container of a service"},
    {"build", sub_build, "build the services' images"},
    {"pull", sub_pull, "pull the services' images"},
    {"push", sub_push, "push the services' images"},
    {"port", sub_port, "show where a service's port is published"},
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
