/*
 * builtin.h - the berth commands, one file each (as git's builtin/).
 * Each gets its arguments after the command name and returns the exit
 * status; errors are one line on stderr.
 */
#ifndef BERTH_CLI_BUILTIN_H
#define BERTH_CLI_BUILTIN_H

#include "../client-lib/berth.h"

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

/* options.c: every command's option loop goes through these, which give
 * docker's flag errors (125, "unknown flag: --x") and --help (usage on
 * stdout, 0). cli_command: the command berth.c runs ("network"). */
int cli_getopt_long(int argc, char *const *argv, const char *shortopts,
                    const struct option *longopts, int *longind);
int cli_getopt(int argc, char *const *argv, const char *shortopts);
#define getopt_long cli_getopt_long
#define getopt cli_getopt
extern const char *cli_command;
/* The usage of a command path ("run", "network ls"), as docker prints it. */
void cli_usage_print(FILE *out, const char *path);
bool cli_usage_known(const char *path);
/* Refuse any option (125), or print the usage for --help (0). */
void cli_no_options(int argc, char **argv);

/* Global options, parsed by berth.c before the command. */
struct cli {
    struct berth_options opts;
    const char *root;
    const char *insecure[32];
};

/* Open what a command needs; print the error and return non-zero on failure. */
int cli_store(struct cli *g, struct berth_store **s);
int cli_client(struct cli *g, struct berth_client **c);
/* Print "berth: <msg>" and return 1. */
int cli_fail(const char *cmd, const struct berr *err);
/* Tables as docker prints them: columns as wide as their widest cell,
 * three spaces apart. Add rows (JSON arrays of strings), then print. */
void cli_table_print(json_t *rows);
/* format.c: --format FORMAT (docker's Go template, "table" prefix) over
 * items (one JSON object a row); headers: each field's column name.
 * Returns the exit status. */
int cli_format_print(const char *cmd, const char *format, json_t *items, json_t *headers);
/* "2 hours ago". */
void cli_ago(int64_t t, char *out, size_t len);

int cmd_login(struct cli *g, int argc, char **argv);
int cmd_logout(struct cli *g, int argc, char **argv);
int cmd_pull(struct cli *g, int argc, char **argv);
int cmd_push(struct cli *g, int argc, char **argv);
int cmd_images(struct cli *g, int argc, char **argv);
int cmd_tag(struct cli *g, int argc, char **argv);
int cmd_rmi(struct cli *g, int argc, char **argv);
int cmd_inspect(struct cli *g, int argc, char **argv);
int cmd_history(struct cli *g, int argc, char **argv);
int cmd_save(struct cli *g, int argc, char **argv);
int cmd_load(struct cli *g, int argc, char **argv);
int cmd_import(struct cli *g, int argc, char **argv);
int cmd_catalog(struct cli *g, int argc, char **argv);
int cmd_tags(struct cli *g, int argc, char **argv);
int cmd_mirror(struct cli *g, int argc, char **argv);
int cmd_run(struct cli *g, int argc, char **argv);
int cmd_exec(struct cli *g, int argc, char **argv);
int cmd_ps(struct cli *g, int argc, char **argv);
int cmd_logs(struct cli *g, int argc, char **argv);
int cmd_stop(struct cli *g, int argc, char **argv);
int cmd_kill(struct cli *g, int argc, char **argv);
int cmd_rm(struct cli *g, int argc, char **argv);
int cmd_wait(struct cli *g, int argc, char **argv);
int cmd_port(struct cli *g, int argc, char **argv);
/* cmd_port.c: a container's published ports (state: its inspect
 * document), or where PRIVATE_PORT is published, as docker prints them */
int cli_port_print(json_t *state, const char *name, const char *private_port,
                   struct berr *err);
int cmd_start(struct cli *g, int argc, char **argv);
int cmd_restart(struct cli *g, int argc, char **argv);
int cmd_build(struct cli *g, int argc, char **argv);
int cmd_commit(struct cli *g, int argc, char **argv);
int cmd_system(struct cli *g, int argc, char **argv);
int cmd_image(struct cli *g, int argc, char **argv);
int cmd_builder(struct cli *g, int argc, char **argv);
int cmd_container(struct cli *g, int argc, char **argv);
int cmd_network(struct cli *g, int argc, char **argv);
int cmd_compose(struct cli *g, int argc, char **argv);

/* compose_run.c: the compose subcommands that run a project */
struct compose_project;
int compose_cmd_up(struct compose_project *p, int argc, char **argv);
int compose_cmd_down(struct compose_project *p, int argc, char **argv);
int compose_cmd_ps(struct compose_project *p, int argc, char **argv);
int compose_cmd_logs(struct compose_project *p, int argc, char **argv);
int compose_cmd_start(struct compose_project *p, int argc, char **argv);
int compose_cmd_stop(struct compose_project *p, int argc, char **argv);
int compose_cmd_restart(struct compose_project *p, int argc, char **argv);
int compose_cmd_exec(struct compose_project *p, int argc, char **argv);
int compose_cmd_run(struct compose_project *p, int argc, char **argv);
int compose_cmd_build(struct compose_project *p, int argc, char **argv);
int compose_cmd_pull(struct compose_project *p, int argc, char **argv);
int compose_cmd_push(struct compose_project *p, int argc, char **argv);
int compose_cmd_port(struct compose_project *p, int argc, char **argv);

#endif
