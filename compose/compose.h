/*
 * compose.h - `berth compose`: compose files (the Compose Specification)
 * read into one project, and that project run on berth's runtime and
 * builder. The one public header of compose/, used by the berth command.
 *
 * Loading is a pipeline over JSON trees (jansson): each YAML file (libyaml)
 * becomes a tree, the trees are merged in the order given, ${VAR}s are
 * interpolated from the environment and the project's .env, and the result
 * is checked and normalised into the canonical model, the shape that
 * `docker compose config --format json` prints: every short syntax
 * expanded, paths absolute, env_file folded into environment. Everything
 * after loading reads only that model.
 *
 * The model, per service (keys absent when not set):
 *   image            string
 *   build            {context: absolute dir, dockerfile: string, args: {K: V}, target}
 *   command, entrypoint  arrays of strings (a string is split as a shell would)
 *   environment      {K: V}; V null for a bare K with no value anywhere
 *   ports            [{target: int, published: string, host_ip: string, protocol: "tcp", mode: "ingress"}]
 *   expose           [string]
 *   volumes          [{type: "bind"|"volume"|"tmpfs", source: string (absent: anonymous),
 *                      target: string, read_only: bool}]; bind sources absolute
 *   depends_on       {SERVICE: {condition: "service_started"|"service_healthy"|
 *                      "service_completed_successfully", required: bool, restart: bool}}
 *   healthcheck      {test: [..] ("CMD"/"CMD-SHELL"/"NONE" first), interval, timeout,
 *                      start_period: duration strings ("1m30s"), retries: int, disable: bool}
 *   restart          "no"|"always"|"on-failure[:N]"|"unless-stopped"
 *   working_dir, user, hostname, container_name, stop_signal, stop_grace_period: strings
 *   labels           {K: V}
 *   tty, stdin_open  bool
 *   networks         {NETWORK: {aliases: [..]} or null}; {"default": null} when none is given
 *   deploy           {resources: {limits: {memory: int bytes, cpus: number}}}
 * Top level: name (the project), services, networks ({NET: {name: "<project>_NET",
 * external: bool, labels}}, "default" always present), volumes ({VOL: {name:
 * "<project>_VOL", external: bool, labels}}). x- extension keys are dropped.
 */
#ifndef BERTH_COMPOSE_H
#define BERTH_COMPOSE_H

#include "../client-lib/berth.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct compose_opts {
    char **files;            /* -f, merged in order; none: compose.yaml, compose.yml,
                              * docker-compose.yml, docker-compose.yaml in workdir */
    size_t nfiles;
    const char *project;     /* -p; NULL: COMPOSE_PROJECT_NAME, else the project
                              * directory's name, lower-cased, [a-z0-9_-] only */
    const char *workdir;     /* --project-directory: the default files are looked for
                              * there and relative paths resolve there; NULL: the
                              * current directory, and paths resolve in the first
                              * file's directory */
    char **environ;          /* the environment ${VAR} reads (over .env); NULL: ours */
    const char *env_file;    /* --env-file; NULL: .env in the project directory, if any */
};

/* Read, merge, interpolate, check and normalise. A file that is not valid
 * (YAML, an unknown key, a wrong type, a depends_on naming no service, a
 * cycle, ${VAR:?msg} unset) is refused with the file, the key path and the
 * reason: "compose.yaml: services.web.ports[0]: invalid port \"x\"". */
int compose_load(const struct compose_opts *o, json_t **project, struct berr *err);

/* The services to act on, dependencies first: `want` (all when nwant is
 * 0) and, unless no_deps, everything they depend on. `order` gets an array
 * of service names; reverse it to stop. */
int compose_order(json_t *project, char **want, size_t nwant, bool no_deps, json_t **order,
                  struct berr *err);
/* The services of `order` in the waves they stop in: an array of arrays,
 * dependents before what they depend on, each wave's services stopped at
 * once (as docker compose stops them). */
json_t *compose_stop_waves(json_t *project, json_t *order);

/* A duration as compose writes them ("1m30s", "10s", "500ms", "2h") in ns. */
int compose_duration(const char *s, int64_t *ns, struct berr *err);

/* The model as YAML, as `compose config` prints it. */
int compose_write_yaml(json_t *project, FILE *out, struct berr *err);

/* ---- a loaded project on berth's runtime (up.c, down.c, ps.c, ...) ----------------
 *
 * The project's containers are found by their labels, as docker compose
 * labels them: com.docker.compose.project, .service, .container-number,
 * .oneoff, .config-hash (the service's model and its image ID, hashed:
 * what decides whether `up` recreates it), .project.working_dir,
 * .project.config_files, .depends_on, .image. Networks are
 * <project>_<key> and volumes <project>_<key> unless named, labelled with
 * the project too. Progress goes to `out` as docker compose prints it. */
struct compose_project {
    json_t *model;               /* compose_load's */
    const char *workdir;         /* absolute; the working_dir label */
    const char *config_files;    /* absolute, comma-separated; the config_files label */
    struct berth_store *store;
    struct berth_client *client; /* for pull and push; NULL: none needed yet */
    struct berth_options *client_opts; /* to make one when needed */
    FILE *out;                   /* progress; stderr */
};
void compose_project_close(struct compose_project *p);

struct compose_up_opts {
    char **services;             /* none: all */
    size_t nservices;
    bool detach, build, force_recreate, no_deps, no_start;
    bool no_build;               /* never build: a service with build: whose image is
                                  * missing is refused before anything starts */
    bool remove_orphans;         /* containers of services gone from the model are
                                  * removed; without it they are warned about and kept */
    int timeout;                 /* stop's, for recreations; -1: the service's */
};
/* Networks, volumes, images, then containers in depends_on order, each
 * after its dependencies' conditions hold. Without detach, the services'
 * output follows, prefixed, until they all end or SIGINT/SIGTERM, and
 * then they are stopped. */
int compose_up(struct compose_project *p, const struct compose_up_opts *o, struct berr *err);

struct compose_down_opts {
    bool volumes, remove_orphans;
    const char *rmi;             /* NULL, "local" or "all" */
    int timeout;                 /* -1: each service's stop_grace_period */
};
int compose_down(struct compose_project *p, const struct compose_down_opts *o, struct berr *err);

/* `ps`: `rows` gets the table (NAME IMAGE COMMAND SERVICE CREATED STATUS
 * PORTS, a header first), `ids` the containers' IDs, both in service order. */
int compose_ps(struct compose_project *p, char **services, size_t n, bool all, json_t **rows,
               json_t **ids, struct berr *err);

struct compose_logs_opts {
    char **services;
    size_t nservices;
    bool follow, timestamps, no_prefix;
    long tail;                   /* -1: all */
};
int compose_logs(struct compose_project *p, const struct compose_logs_opts *o, struct berr *err);

enum compose_action { COMPOSE_START, COMPOSE_STOP, COMPOSE_RESTART };
/* start/stop/restart the services' existing containers (stop: dependents
 * first); timeout -1: each service's stop_grace_period. */
int compose_lifecycle(struct compose_project *p, enum compose_action a, char **services,
                      size_t n, int timeout, struct berr *err);

/* The running container `index` (1: the first) of a service. */
int compose_container_of(struct compose_project *p, const char *service, int index,
                         char id[65], struct berr *err);

struct compose_run_opts {
    const char *service;
    char **cmd;                  /* none: the service's command */
    int ncmd;
    char **env;                  /* KEY=VALUE over the service's */
    size_t nenv;
    const char *name, *entrypoint, *user, *workdir;
    bool rm, detach, no_deps, tty, interactive, service_ports;
};
/* A one-off container of a service (labelled oneoff=True), its
 * dependencies started first; `status` its exit status when attached. */
int compose_run(struct compose_project *p, const struct compose_run_opts *o, int *status,
                struct berr *err);

/* build (services with build:), pull (those with image:), push (those
 * with both). */
int compose_build(struct compose_project *p, char **services, size_t n, bool no_cache,
                  struct berr *err);
int compose_pull(struct compose_project *p, char **services, size_t n, struct berr *err);
int compose_push(struct compose_project *p, char **services, size_t n, struct berr *err);

#endif
