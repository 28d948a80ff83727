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

/* A duration as compose writes them ("1m30s", "10s", "500ms", "2h") in ns. */
int compose_duration(const char *s, int64_t *ns, struct berr *err);

/* The model as YAML, as `compose config` prints it. */
int compose_write_yaml(json_t *project, FILE *out, struct berr *err);

#endif
