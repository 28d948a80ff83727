/*
 * project.h - what the files of compose/ that run a project share
 * (project.c, runopts.c, resources.c, glue.c, up.c, down.c, logs.c, ps.c,
 * ops.c); nothing outside compose/ includes it.
 */
#ifndef BERTH_COMPOSE_PROJECT_H
#define BERTH_COMPOSE_PROJECT_H

#include "compose.h"
#include "../runtime/runtime.h"

#define LABEL_PROJECT "com.docker.compose.project"
#define LABEL_SERVICE "com.docker.compose.service"
#define LABEL_NUMBER "com.docker.compose.container-number"
#define LABEL_ONEOFF "com.docker.compose.oneoff"
#define LABEL_HASH "com.docker.compose.config-hash"
#define LABEL_WORKDIR "com.docker.compose.project.working_dir"
#define LABEL_FILES "com.docker.compose.project.config_files"
#define LABEL_DEPENDS "com.docker.compose.depends_on"
#define LABEL_IMAGE "com.docker.compose.image"
#define LABEL_NETWORK "com.docker.compose.network"
#define LABEL_VOLUME "com.docker.compose.volume"
#define LABEL_VERSION "com.docker.compose.version"

/* ---- project.c: the project's names and containers ------------------------------- */

const char *proj_name(struct compose_project *p);
/* A service of the model, or NULL. */
json_t *proj_service(struct compose_project *p, const char *name);
/* Refuse names in `services` that are not services of the model. */
int proj_check_services(struct compose_project *p, char **services, size_t n,
                        struct berr *err);
/* The image a service runs: its image:, else <project>-<service>. */
void proj_image_name(struct compose_project *p, const char *service, char *out, size_t len);
/* Every container of the project (state documents, newest first), with
 * the one-off ones (`run`) only when `oneoff`. */
int proj_containers(struct compose_project *p, bool oneoff, json_t **list, struct berr *err);
/* Those of one service (not one-off), lowest number first. */
json_t *proj_service_containers(json_t *all, const char *service);
/* A label of a container's state document, or NULL. */
const char *ctr_label(json_t *state, const char *key);
const char *ctr_name(json_t *state);     /* without the leading '/' */
bool ctr_running(json_t *state);
/* hex sha256 of the service's model (keys sorted) and its image ID */
int proj_config_hash(json_t *service, const char *image_id, char out[65]);
/* A registry client, made the first time it is needed. */
int proj_client(struct compose_project *p, struct berr *err);
/* A service's stop timeout in seconds: its stop_grace_period, else 10. */
int proj_stop_timeout(json_t *service);
/* Stop the running ones of `ctrs` (state documents) at once, with
 * progress lines; timeout < 0: each one's service's stop timeout (an
 * orphan's: its own). */
int proj_stop(struct compose_project *p, json_t *ctrs, int timeout, struct berr *err);
/* " Container NAME  WHAT" lines, as docker compose prints progress. */
void proj_progress(struct compose_project *p, const char *kind, const char *name,
                   const char *what);
/* The last `lines` lines of a container's log, on `out`, indented. */
void proj_log_tail(struct compose_project *p, const char *id, int lines);

/* ---- runopts.c: a service's model as the runtime's options ----------------------- */

struct svc_opts {
    struct rt_run_opts o;
    json_t *hold;                /* owns every string the options point at */
    char **env, **cmd, **labels, **health, **expose;
    size_t nlabels;
    struct rt_volume *volumes;
    struct rt_port *ports;
    struct rt_net *networks;     /* each with its aliases (allocated) */
    size_t nnetworks;
    const char *restart, *stop_signal;
    int stop_timeout;
    json_t *healthcheck;         /* the model's, or NULL */
};
struct svc_identity {
    const char *service, *name, *image_id, *hash;
    int number;
    bool oneoff;
};
int svc_opts_build(struct compose_project *p, json_t *svc, const struct svc_identity *id,
                   struct svc_opts *so, struct berr *err);
void svc_opts_free(struct svc_opts *so);

/* ---- resources.c: networks and volumes of the project ---------------------------- */

/* The networks and named volumes the services use (created when missing;
 * external ones must exist). */
int proj_resources_up(struct compose_project *p, json_t *services, struct berr *err);
/* The project's networks, and with `volumes` its volumes. */
int proj_resources_down(struct compose_project *p, bool volumes, struct berr *err);
/* The runtime's name of a network key ("default": <project>_default). */
const char *proj_network_name(struct compose_project *p, const char *key);
/* The runtime's name of a volume key, or NULL when it is not declared. */
const char *proj_volume_name(struct compose_project *p, const char *key);

/* ---- glue.c: the runtime's networks, labels, policies and start ------------------ */

int glue_network_ensure(struct compose_project *p, const char *name, json_t *labels,
                        bool *created, struct berr *err);
int glue_network_exists(struct compose_project *p, const char *name);
char *glue_network_project(struct compose_project *p, const char *name);
int glue_network_remove(struct compose_project *p, const char *name, struct berr *err);
/* The rest of svc_opts (labels, network, restart, health, stop) onto so->o. */
int glue_run_opts(struct svc_opts *so, struct berr *err);
int glue_start(struct compose_project *p, const char *id, struct berr *err);
/* State.Health.Status, or NULL when the container has no health check. */
const char *glue_health(json_t *state);

/* ---- logs.c: several containers' logs, prefixed -------------------------------- */

struct log_source {
    const char *id;
    const char *prefix;          /* "web-1", padded by logs_print */
};
/* Until every source has ended (follow) or printed its lines; `stop`
 * (may be NULL) ends it early when it becomes non-zero. */
int logs_print(struct compose_project *p, struct log_source *src, size_t n,
               const struct rt_logs_opts *o, bool prefix, volatile int *stop,
               struct berr *err);

/* ---- up.c: what up, run, build and pull share ------------------------------------ */

int up_build(struct compose_project *p, const char *service, bool no_cache, struct berr *err);
int up_pull(struct compose_project *p, const char *image, struct berr *err);
/* The service's image ID, the image built or pulled when missing (or
 * built anyway with UP_BUILD_ALWAYS; never built with UP_BUILD_NEVER). */
enum up_build { UP_BUILD_MISSING, UP_BUILD_ALWAYS, UP_BUILD_NEVER };
int up_image(struct compose_project *p, const char *service, enum up_build build,
             char id[DIGEST_MAX], struct berr *err);
/* One container from its options (so is filled, free it after); on
 * failure the service's name and the container's log tail are shown and
 * the container is removed. */
typedef void (*svc_adjust_fn)(struct svc_opts *so, const void *arg);
int up_create(struct compose_project *p, const char *service, const struct svc_identity *id,
              svc_adjust_fn adjust, const void *arg, struct svc_opts *so,
              char cid[RT_ID_LEN + 1], int *status, struct berr *err);
/* Networks, volumes, then `order`'s services; `attach` gets {id, prefix}. */
int up_services(struct compose_project *p, const struct compose_up_opts *o, json_t *order,
                json_t *attach, struct berr *err);

/* ---- down.c: what up and down share --------------------------------------------- */

/* The project's containers whose service is no longer in the model:
 * with `remove` stopped and removed, else named in docker compose's
 * warning and kept. */
int proj_orphans(struct compose_project *p, bool oneoff, bool remove, int timeout,
                 struct berr *err);

#endif
