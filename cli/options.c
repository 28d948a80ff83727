/*
 * options.c - docker's flag handling, once for every berth command.
 *
 * builtin.h renames getopt and getopt_long to the two functions here, so
 * every command's option loop goes through them. They ask glibc's getopt
 * quietly and turn what it refuses into docker 20.10's words and status:
 *
 *   unknown flag: --bogus                  (125)
 *   unknown shorthand flag: 'z' in -z      (125)
 *   flag needs an argument: --name         (125)
 *   See 'berth run --help'.
 *
 * --help (and -h where the command has no -h of its own) prints the
 * command's usage on stdout and exits 0. Long options are matched whole:
 * glibc takes unambiguous prefixes (--no for --no-trunc), docker does not.
 *
 * The command's path ("network ls", "compose up") is the one berth.c
 * named (cli_command) followed by the argv[0] the option loop is given,
 * when that is a subcommand's name.
 */
#include "builtin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef getopt
#undef getopt_long

const char *cli_command = "";

static const struct usage {
    const char *path, *args, *what;
} usages[] = {
    {"login", "[OPTIONS] [SERVER]", "Log in to a registry"},
    {"logout", "[SERVER]", "Log out from a registry"},
    {"pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Pull an image from a registry"},
    {"push", "[OPTIONS] NAME[:TAG]", "Push an image to a registry"},
    {"images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images"},
    {"tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
    {"rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images"},
    {"inspect", "[OPTIONS] NAME|ID [NAME|ID...]",
     "Return low-level information on containers and images"},
    {"history", "[OPTIONS] IMAGE", "Show the history of an image"},
    {"save", "[OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive"},
    {"load", "[OPTIONS]", "Load an image from a tar archive"},
    {"import", "file REFERENCE", "Import the contents from a tarball to create an image"},
    {"catalog", "REGISTRY", "List a registry's repositories"},
    {"tags", "REPOSITORY", "List a repository's tags"},
    {"mirror", "[OPTIONS] SOURCE DESTINATION", "Copy repositories from one registry to another"},
    {"run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Run a command in a new container"},
    {"exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Run a command in a running container"},
    {"ps", "[OPTIONS]", "List containers"},
    {"logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container"},
    {"stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers"},
    {"kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers"},
    {"rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers"},
    {"wait", "CONTAINER [CONTAINER...]",
     "Block until one or more containers stop, then print their exit codes"},
    {"port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
     "List port mappings or a specific mapping for the container"},
    {"start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers"},
    {"restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers"},
    {"build", "[OPTIONS] PATH", "Build an image from a Dockerfile"},
    {"commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
     "Create a new image from a container's changes"},
    {"image", "COMMAND", "Manage images"},
    {"image prune", "[OPTIONS]", "Remove unused images"},
    {"container", "COMMAND", "Manage containers"},
    {"network", "COMMAND", "Manage networks"},
    {"network create", "[OPTIONS] NETWORK", "Create a network"},
    {"network ls", "[OPTIONS]", "List networks"},
    {"network inspect", "NETWORK [NETWORK...]",
     "Display detailed information on one or more networks"},
    {"network rm", "NETWORK [NETWORK...]", "Remove one or more networks"},
    {"network prune", "[OPTIONS]", "Remove all unused networks"},
    {"network connect", "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network"},
    {"network disconnect", "[OPTIONS] NETWORK CONTAINER",
     "Disconnect a container from a network"},
    {"builder", "COMMAND", "Manage builds"},
    {"builder prune", "[OPTIONS]", "Remove build cache"},
    {"system", "COMMAND", "Manage berth"},
    {"system df", "", "Show the disk space the store uses"},
    {"compose", "[OPTIONS] COMMAND", "Define and run multi-container applications"},
    {"compose config", "[OPTIONS]", "Check the project's files and print the resolved model"},
    {"compose up", "[OPTIONS] [SERVICE...]", "Create and start the services' containers"},
    {"compose down", "[OPTIONS]", "Stop and remove the project's containers and networks"},
    {"compose ps", "[OPTIONS] [SERVICE...]", "List the project's containers"},
    {"compose logs", "[OPTIONS] [SERVICE...]", "View the services' output"},
    {"compose start", "[SERVICE...]", "Start the services' stopped containers"},
    {"compose stop", "[OPTIONS] [SERVICE...]", "Stop the services' containers"},
    {"compose restart", "[OPTIONS] [SERVICE...]", "Restart the services' containers"},
    {"compose exec", "[OPTIONS] SERVICE COMMAND [ARGS...]",
     "Run a command in a service's running container"},
    {"compose run", "[OPTIONS] SERVICE [COMMAND] [ARGS...]",
     "Run a one-off command in a new container of a service"},
    {"compose build", "[OPTIONS] [SERVICE...]", "Build the services' images"},
    {"compose pull", "[OPTIONS] [SERVICE...]", "Pull the services' images"},
    {"compose push", "[OPTIONS] [SERVICE...]", "Push the services' images"},
    {"compose port", "[OPTIONS] SERVICE PRIVATE_PORT",
     "Print the public port for a port binding"},
};

/* Other names of the same commands. */
static const char *const aliases[][2] = {
    {"image ls", "images"}, {"image list", "images"}, {"image rm", "rmi"},
    {"container ls", "ps"}, {"container list", "ps"}, {"container ps", "ps"},
    {"network list", "network ls"}, {"network remove", "network rm"},
};

/* The subcommands of image and container that are top-level commands too. */
static const char *const image_subs[] = {"history", "import", "inspect", "load", "ls", "pull",
                                         "push", "rm", "save", "tag", NULL};
static const char *const container_subs[] = {"commit", "exec", "inspect", "kill", "logs", "ls",
                                             "port", "restart", "rm", "run", "start", "stop",
                                             "wait", NULL};

static bool listed(const char *const *subs, const char *name)
{
    for (; *subs; subs++)
        if (strcmp(*subs, name) == 0)
            return true;
    return false;
}

static const struct usage *usage_find(const char *path)
{
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (strcmp(path, aliases[i][0]) == 0)
            path = aliases[i][1];
    for (size_t i = 0; i < sizeof usages / sizeof *usages; i++)
        if (strcmp(path, usages[i].path) == 0)
            return &usages[i];
    /* image tag, container run, ...: the top-level command's */
    if ((strncmp(path, "image ", 6) == 0 && listed(image_subs, path + 6)) ||
        (strncmp(path, "container ", 10) == 0 && listed(container_subs, path + 10)))
        return usage_find(strchr(path, ' ') + 1);
    return NULL;
}

bool cli_usage_known(const char *path)
{
    return usage_find(path) != NULL;
}

void cli_usage_print(FILE *out, const char *path)
{
    const struct usage *u = usage_find(path);
    fprintf(out, "\nUsage:  berth %s%s%s\n", path, u && *u->args ? " " : "", u ? u->args : "");
    if (u)
        fprintf(out, "\n%s\n", u->what);
    /* a management command: its subcommands, those it shares with the
     * top level first */
    const char *const *shared = strcmp(path, "image") == 0 ? image_subs
                                : strcmp(path, "container") == 0 ? container_subs : NULL;
    size_t n = strlen(path), count = 0;
    char full[64];
    for (; shared && *shared; shared++) {
        snprintf(full, sizeof full, "%s %s", path, *shared);
        fprintf(out, "%s  %-12s%s\n", count++ ? "" : "\nCommands:\n", *shared,
                usage_find(full)->what);
    }
    for (size_t i = 0; i < sizeof usages / sizeof *usages; i++)
        if (strncmp(usages[i].path, path, n) == 0 && usages[i].path[n] == ' ')
            fprintf(out, "%s  %-12s%s\n", count++ ? "" : "\nCommands:\n",
                    usages[i].path + n + 1, usages[i].what);
    if (count)
        fprintf(out, "\nRun 'berth %s COMMAND --help' for more information on a command.\n",
                path);
}

/* cli_command, and argv[0] when it names a subcommand of it. */
static void command_path(char *const *argv, char *path, size_t len)
{
    const char *last = strrchr(cli_command, ' ');
    last = last ? last + 1 : cli_command;
    if (argv[0] && *cli_command && strcmp(argv[0], last) != 0)
        snprintf(path, len, "%s %s", cli_command, argv[0]);
    else
        snprintf(path, len, "%s", *cli_command ? cli_command : argv[0] ? argv[0] : "");
}

_Noreturn static void flag_error(char *const *argv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

_Noreturn static void flag_error(char *const *argv, const char *fmt, ...)
{
    char path[256];
    command_path(argv, path, sizeof path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nSee 'berth %s --help'.\n", path);
    exit(125);
}

_Noreturn static void help(char *const *argv)
{
    char path[256];
    command_path(argv, path, sizeof path);
    cli_usage_print(stdout, path);
    exit(0);
}

/* The -xyz that short option c came from (the one being read, or the one
 * just finished). */
static const char *cluster_of(int argc, char *const *argv, int c)
{
    if (c <= 0 || c > 255)
        return NULL;
    for (int i = optind; i >= optind - 1 && i >= 1; i--)
        if (i < argc && argv[i][0] == '-' && argv[i][1] != '-' && strchr(argv[i] + 1, c))
            return argv[i];
    return NULL;
}

static int parse(int argc, char *const *argv, const char *shortopts,
                 const struct option *longopts, int *longind)
{
    /* quiet, and ':' for a missing argument, after glibc's '+' or '-' */
    char opts[256];
    size_t n = 0;
    if (*shortopts == '+' || *shortopts == '-')
        opts[n++] = *shortopts++;
    opts[n++] = ':';
    if (*shortopts == ':')
        shortopts++;
    snprintf(opts + n, sizeof opts - n, "%s", shortopts);
    int idx = -1;
    opterr = 0;
    /* getopt's too: with no long options, --help is still one */
    static const struct option none[] = {{0}};
    int c = getopt_long(argc, argv, opts, longopts ? longopts : none, &idx);
    if (longind)
        *longind = idx;
    const char *text = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
    if (c == '?' || c == ':') {
        bool is_long = strncmp(text, "--", 2) == 0 &&
                       (c == ':' || !cluster_of(argc, argv, optopt));
        if (is_long) {
            size_t len = strcspn(text, "=");
            if (strncmp(text, "--help", len) == 0 && len == 6)
                help(argv);
            if (c == ':')
                flag_error(argv, "flag needs an argument: %.*s", (int)len, text);
            flag_error(argv, "unknown flag: %.*s", (int)len, text);
        }
        if (optopt == 'h' && c == '?')
            help(argv);
        const char *cl = cluster_of(argc, argv, optopt);
        if (c == ':')
            flag_error(argv, "flag needs an argument: '%c' in %s", optopt, cl ? cl : "-");
        flag_error(argv, "unknown shorthand flag: '%c' in %s", optopt, cl ? cl : "-");
    }
    if (idx >= 0 && longopts && c != -1) {
        /* the argument that named it: the one before its value, when the
         * value was the next argument */
        if (longopts[idx].has_arg != no_argument && optarg && optind >= 2 &&
            optarg == argv[optind - 1])
            text = argv[optind - 2];
        if (strncmp(text, "--", 2) == 0) {
            size_t len = strcspn(text + 2, "=");
            if (strlen(longopts[idx].name) != len || strncmp(text + 2, longopts[idx].name, len))
                flag_error(argv, "unknown flag: --%.*s", (int)len, text + 2);
        }
    }
    return c;
}

int cli_getopt_long(int argc, char *const *argv, const char *shortopts,
                    const struct option *longopts, int *longind)
{
    return parse(argc, argv, shortopts, longopts, longind);
}

int cli_getopt(int argc, char *const *argv, const char *shortopts)
{
    return parse(argc, argv, shortopts, NULL, NULL);
}

/* berth.c: a command that has no options of its own is refused any
 * (or shows its usage for --help), as docker's are. */
void cli_no_options(int argc, char **argv)
{
    optind = 0;
    while (cli_getopt(argc, argv, "-") != -1)
        ;
    /* getopt afresh, and optind where a new process has it (1): a
     * command that takes its arguments from optind without calling
     * getopt finds them there */
    optind = 0;
    getopt(1, (char *[]){argv[0], NULL}, "");
}
