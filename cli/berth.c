/*
 * berth.c - the berth command: global options, then one command.
 *
 *   berth [--root DIR] [--insecure REGISTRY]... [--ca FILE] COMMAND [ARGS]
 */
#include "builtin.h"
#include "../common/version.h"
#include "../runtime/runtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *name;
    int (*run)(struct cli *, int, char **);
    const char *help;
} commands[] = {
    {"login", cmd_login, "log in to a registry"},
    {"logout", cmd_logout, "log out from a registry"},
    {"pull", cmd_pull, "pull an image from a registry"},
    {"push", cmd_push, "push an image to a registry"},
    {"images", cmd_images, "list images"},
    {"tag", cmd_tag, "give an image another name"},
    {"rmi", cmd_rmi, "remove images"},
    {"inspect", cmd_inspect, "show a container's or an image's details as JSON"},
    {"history", cmd_history, "show an image's layers"},
    {"save", cmd_save, "write images to a docker-archive tar"},
    {"load", cmd_load, "read images from a docker-archive or OCI archive"},
    {"import", cmd_import, "make an image from a root filesystem tarball"},
    {"catalog", cmd_catalog, "list a registry's repositories"},
    {"tags", cmd_tags, "list a repository's tags"},
    {"mirror", cmd_mirror, "copy repositories from one registry to another"},
    {"run", cmd_run, "run a command in a new container"},
    {"exec", cmd_exec, "run a command in a running container"},
    {"ps", cmd_ps, "list containers"},
    {"logs", cmd_logs, "show a container's output"},
    {"stop", cmd_stop, "stop containers (SIGTERM, then SIGKILL)"},
    {"kill", cmd_kill, "send a signal to containers"},
    {"rm", cmd_rm, "remove containers"},
    {"wait", cmd_wait, "wait for containers to stop; print their exit codes"},
    {"port", cmd_port, "show where a container's ports are published"},
    {"start", cmd_start, "start stopped containers again"},
    {"restart", cmd_restart, "stop and start containers"},
    {"build", cmd_build, "build an image from a Dockerfile"},
    {"commit", cmd_commit, "make an image of a container's changes"},
    {"image", cmd_image, "manage images (ls, rm, prune, ...)"},
    {"container", cmd_container, "manage containers (ls, rm, ...)"},
    {"network", cmd_network, "manage networks (create, ls, inspect, rm, prune)"},
    {"builder", cmd_builder, "manage the build cache (prune)"},
    {"system", cmd_system, "show the disk space the store uses (df)"},
    {"compose", cmd_compose, "run a multi-container project from compose files"},
};

/* The commands that start processes inside containers: they run from a
 * sealed copy of this binary (rt_exe_reexec_sealed). */
static const char *const enter_containers[] = {"run", "exec", "build", "start", "restart",
                                              "compose"};

static void usage(FILE *out)
{
    fprintf(out, "\nUsage:  berth [--root DIR] [--insecure REGISTRY]... [--ca FILE] COMMAND "
                 "[ARGS]\n        berth --version\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
}

/* The commands with subcommands, and compose's options before its own. */
static const char *const managers[] = {"image", "container", "network", "builder", "system",
                                       "compose", NULL};
static const char *const compose_valued[] = {"-f", "--file", "-p", "--project-name",
                                             "--project-directory", "--env-file", NULL};
/* Those whose options end at their first argument (the rest is a command's). */
static const char *const command_takers[] = {"run", "exec", "container run", "container exec",
                                             "compose run", "compose exec", NULL};
/* Those with no options at all. */
static const char *const optionless[] = {"logout", "tag", "image tag", "import", "image import", "catalog",
                                         "tags", "port", "container port", "wait",
                                         "container wait", "system df", "network inspect",
                                         "network rm", "network remove", NULL};

static bool among(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* What docker's command parser settles before a command runs, for every
 * command at once: an unknown subcommand (1), --help (the usage, 0) and
 * options given to a command that has none (125). -1: run the command.
 * argv[0] is the command. */
static int command_checks(int argc, char **argv)
{
    char path[128];
    int first = 1, last = 0;   /* the first argument after the path; the path's last word */
    snprintf(path, sizeof path, "%s", argv[0]);
    cli_command = argv[0];
    if (among(managers, argv[0])) {
        int j = 1;
        while (strcmp(argv[0], "compose") == 0 && j < argc && argv[j][0] == '-' &&
               strcmp(argv[j], "--help") != 0 && strcmp(argv[j], "-h") != 0)
            j += among(compose_valued, argv[j]) ? 2 : 1;
        if (j < argc && argv[j][0] != '-') {
            snprintf(path, sizeof path, "%s %s", argv[0], argv[j]);
            if (!cli_usage_known(path)) {
                fprintf(stderr, "berth: '%s' is not a berth command.\n", path);
                cli_usage_print(stderr, argv[0]);
                return 1;
            }
            last = j;
            first = j + 1;
        } else if (j >= argc) {   /* docker's: the usage, and 0 */
            cli_usage_print(stderr, path);
            return 0;
        }
    }
    bool takes_command = among(command_takers, path);
    for (int k = first; k < argc && strcmp(argv[k], "--") != 0; k++) {
        if (takes_command && argv[k][0] != '-')
            break;
        if (strcmp(argv[k], "--help") == 0 ||
            (strcmp(argv[k], "-h") == 0 && strcmp(path, "run") != 0 &&
             strcmp(path, "container run") != 0)) {
            cli_usage_print(stdout, path);
            return 0;
        }
    }
    if (among(optionless, path))
        cli_no_options(argc - last, argv + last);   /* exits on an option */
    return -1;
}

int cli_fail(const char *cmd, const struct berr *err)
{
    fprintf(stderr, "berth %s: %s\n", cmd, err->msg[0] ? err->msg : "failed");
    return 1;
}

int cli_store(struct cli *g, struct berth_store **s)
{
    struct berr err = {0};
    if (berth_store_open(g->root, s, &err) < 0)
        return cli_fail("store", &err);
    return 0;
}

int cli_client(struct cli *g, struct berth_client **c)
{
    struct berr err = {0};
    g->opts.insecure = g->insecure;
    if (berth_client_new(&g->opts, c, &err) < 0)
        return cli_fail("client", &err);
    return 0;
}

/* characters, not bytes: "…" is one column */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; s && *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* docker's tables (Go's tabwriter: minwidth 10, padding 3): a column is as
 * wide as its widest cell and 3 spaces, 10 at least; the last is not padded */
void cli_table_print(json_t *rows)
{
    size_t widths[16] = {0}, i, j;
    json_t *row, *cell;
    json_array_foreach(rows, i, row)
        json_array_foreach(row, j, cell)
            if (j < 16 && text_width(json_string_value(cell)) + 3 > widths[j])
                widths[j] = text_width(json_string_value(cell)) + 3;
    json_array_foreach(rows, i, row) {
        size_t n = json_array_size(row);
        json_array_foreach(row, j, cell) {
            const char *text = json_string_value(cell);
            size_t w = widths[j < 16 ? j : 15];
            if (j + 1 == n)
                printf("%s\n", text);
            else
                printf("%s%*s", text, (int)((w < 10 ? 10 : w) - text_width(text)), "");
        }
    }
}

/* docker's "3 minutes ago" (go-units HumanDuration, then " ago") */
void cli_ago(int64_t t, char *out, size_t len)
{
    int64_t d = (int64_t)time(NULL) - t, h = (d + 1800) / 3600;
    if (t <= 0)
        snprintf(out, len, "N/A");
    else if (d < 1)
        snprintf(out, len, "Less than a second ago");
    else if (d == 1)
        snprintf(out, len, "1 second ago");
    else if (d < 60)
        snprintf(out, len, "%lld seconds ago", (long long)d);
    else if (d < 120)
        snprintf(out, len, "About a minute ago");
    else if (d < 3600)
        snprintf(out, len, "%lld minutes ago", (long long)(d / 60));
    else if (h == 1)
        snprintf(out, len, "About an hour ago");
    else if (h < 48)
        snprintf(out, len, "%lld hours ago", (long long)h);
    else if (h < 24 * 14)
        snprintf(out, len, "%lld days ago", (long long)(h / 24));
    else if (h < 24 * 60)
        snprintf(out, len, "%lld weeks ago", (long long)(h / 24 / 7));
    else if (h < 24 * 730)
        snprintf(out, len, "%lld months ago", (long long)(h / 24 / 30));
    else
        snprintf(out, len, "%lld years ago", (long long)(d / 3600 / 24 / 365));
}

int main(int argc, char **argv)
{
    struct cli g = {.opts = {.parallel = 4, .out = stderr}};
    size_t ninsecure = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (strcmp(a, "--root") == 0 && has_next)
            g.root = argv[++i];
        else if (strcmp(a, "--ca") == 0 && has_next)
            g.opts.ca_file = argv[++i];
        else if (strcmp(a, "--insecure") == 0 && has_next && ninsecure < 31)
            g.insecure[ninsecure++] = argv[++i];
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("berth version %s\n", BERTH_VERSION);
            return 0;
        } else {
            bool valued = strcmp(a, "--root") == 0 || strcmp(a, "--ca") == 0 ||
                          strcmp(a, "--insecure") == 0;
            fprintf(stderr, "%s: %.*s\nSee 'berth --help'.\n",
                    !valued ? "unknown flag" : has_next ? "too many values for flag"
                                                        : "flag needs an argument",
                    (int)strcspn(a, "="), a);
            return 125;
        }
    }
    if (i >= argc) {   /* as docker alone: its usage */
        usage(stderr);
        return 0;
    }
    bool known = false;
    for (size_t c = 0; c < sizeof commands / sizeof *commands; c++)
        known = known || strcmp(argv[i], commands[c].name) == 0;
    if (!known) {
        fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'\n", argv[i]);
        return 1;
    }
    int rc = command_checks(argc - i, argv + i);
    if (rc >= 0)
        return rc;
    for (size_t c = 0; c < sizeof enter_containers / sizeof *enter_containers; c++) {
        struct berr err = {0};
        /* also as `berth container run` */
        const char *name = strcmp(argv[i], "container") == 0 && i + 1 < argc ? argv[i + 1]
                                                                          : argv[i];
        if (strcmp(name, enter_containers[c]) == 0 && rt_exe_reexec_sealed(argv, &err) < 0)
            return cli_fail(name, &err);
    }
    for (size_t c = 0; c < sizeof commands / sizeof *commands; c++)
        if (strcmp(argv[i], commands[c].name) == 0) {
            /* what a killed pull or load left behind goes first */
            berth_store_clean_temp(g.root);
            return commands[c].run(&g, argc - i, argv + i);
        }
    return 1;
}
