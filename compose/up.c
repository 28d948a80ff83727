/*
 * up.c - `compose up`: the plan and its execution. The services to act on
 * come dependencies first (compose_order); the networks and volumes they
 * use are made; then each service in turn gets its image (built when it
 * has build: and the image is missing or --build, else pulled when
 * missing) and its container, once the conditions of its depends_on hold.
 * A service's container is left alone when its config-hash label (its
 * model and image ID hashed) is unchanged and it runs, started when it is
 * stopped, and replaced when the hash differs or --force-recreate.
 * Attached (no -d), the services' output follows until they end or a
 * signal, and they are then stopped. Before any of it: with --no-build
 * every service with build: must have its image already (or nothing
 * starts), and containers of services gone from the file (orphans) are
 * warned about, or removed with --remove-orphans.
 */
#include "project.h"
#include "../builder/builder.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* The image's ID (its config's digest), or BERR_NOTFOUND. */
static int image_id(struct compose_project *p, const char *image, char id[DIGEST_MAX],
                    struct berr *err)
{
    json_t *m;
    int rc = berth_image_get(p->store, image, &m, NULL, NULL, err);
    if (rc < 0)
        return rc;
    snprintf(id, DIGEST_MAX, "%s",
             json_string_value(json_object_get(json_object_get(m, "config"), "digest")) ?: "");
    json_decref(m);
    return 0;
}

int up_build(struct compose_project *p, const char *service, bool no_cache, struct berr *err)
{
    json_t *svc = proj_service(p, service), *build = json_object_get(svc, "build"), *v;
    char image[1024], file[4096], id[DIGEST_MAX];
    const char *context = json_string_value(json_object_get(build, "context"));
    const char *dockerfile = json_string_value(json_object_get(build, "dockerfile"));
    const char *k;
    if (!context)
        return berr_set(err, BERR_INVALID, "service %s has no build context", service);
    proj_image_name(p, service, image, sizeof image);
    if (dockerfile && dockerfile[0] == '/')
        snprintf(file, sizeof file, "%s", dockerfile);
    else
        snprintf(file, sizeof file, "%s/%s", context, dockerfile ?: "Dockerfile");
    json_t *args = json_array();
    json_object_foreach(json_object_get(build, "args"), k, v) {
        char *kv = NULL;
        if (json_is_string(v) && asprintf(&kv, "%s=%s", k, json_string_value(v)) >= 0)
            json_array_append_new(args, json_string(kv));
        else if (json_is_null(v))
            json_array_append_new(args, json_string(k));
        free(kv);
    }
    size_t n = json_array_size(args), i;
    char **argv = calloc(n + 1, sizeof *argv);
    json_array_foreach(args, i, v)
        if (argv)
            argv[i] = (char *)json_string_value(v);
    const char *tags[1] = {image};
    int status = 0;
    struct build_opts o = {.context = context, .file = file, .tags = tags, .ntags = 1,
                           .build_args = argv, .nbuild_args = argv ? n : 0,
                           .target = json_string_value(json_object_get(build, "target")),
                           .no_cache = no_cache, .out = p->out ?: stderr, .status = &status};
    proj_progress(p, "Service", service, "Building");
    if (proj_client(p, err) < 0) {
        free(argv);
        json_decref(args);
        return -err->code;
    }
    int rc = builder_build(p->store, p->client, &o, id, err);
    free(argv);
    json_decref(args);
    if (rc < 0)
        return berr_set(err, -rc, "service %s: failed to build: %s", service, err->msg);
    proj_progress(p, "Service", service, "Built");
    return 0;
}

int up_pull(struct compose_project *p, const char *image, struct berr *err)
{
    char digest[DIGEST_MAX];
    if (proj_client(p, err) < 0)
        return -err->code;
    proj_progress(p, "Image", image, "Pulling");
    int rc = berth_pull(p->client, p->store, image, NULL, digest, err);
    proj_progress(p, "Image", image, rc < 0 ? "Error" : "Pulled");
    return rc;
}

static int no_build_refused(const char *service, const char *image, struct berr *err)
{
    return berr_set(err, BERR_NOTFOUND, "service %s: image %s not found; run without "
                    "--no-build to build it", service, image);
}

/* The service's image in the store, built or pulled if need be. */
int up_image(struct compose_project *p, const char *service, enum up_build build,
             char id[DIGEST_MAX], struct berr *err)
{
    json_t *svc = proj_service(p, service);
    char image[1024];
    struct berr e = {0};
    proj_image_name(p, service, image, sizeof image);
    int rc = image_id(p, image, id, &e);
    if (rc < 0 && e.code != BERR_NOTFOUND) {
        *err = e;
        return rc;
    }
    if (rc < 0 && build == UP_BUILD_NEVER && json_object_get(svc, "build"))
        return no_build_refused(service, image, err);
    if (json_object_get(svc, "build") && build != UP_BUILD_NEVER &&
        (build == UP_BUILD_ALWAYS || rc < 0))
        rc = up_build(p, service, false, err);
    else if (rc < 0)
        rc = up_pull(p, image, err);
    else
        return 0;
    return rc < 0 ? rc : image_id(p, image, id, err);
}

/* The container of `dep` to wait for, or NULL. Caller json_decref's. */
static json_t *dep_container(struct compose_project *p, const char *dep)
{
    json_t *all, *mine;
    struct berr err = {0};
    if (proj_containers(p, false, &all, &err) < 0)
        return NULL;
    mine = proj_service_containers(all, dep);
    json_t *c = json_incref(json_array_get(mine, 0));
    json_decref(mine);
    json_decref(all);
    return c;
}

static int wait_dependency(struct compose_project *p, const char *service, const char *dep,
                           const char *cond, struct berr *err)
{
    if (!cond || strcmp(cond, "service_started") == 0)
        return 0;
    bool healthy = strcmp(cond, "service_healthy") == 0;
    bool waiting = false;
    for (;;) {
        json_t *c = dep_container(p, dep), *state = NULL;
        if (!c)
            return berr_set(err, BERR_NOTFOUND, "service %s depends on %s, which has no "
                            "container", service, dep);
        const char *id = json_string_value(json_object_get(c, "Id"));
        char name[300];
        snprintf(name, sizeof name, "%s", ctr_name(c));
        struct berr e = {0};
        if (rt_inspect(p->store, id, &state, &e) < 0) {
            json_decref(c);
            *err = e;
            return -e.code;
        }
        json_decref(c);
        json_t *st = json_object_get(state, "State");
        bool running = ctr_running(state);
        int code = (int)json_integer_value(json_object_get(st, "ExitCode"));
        const char *health = glue_health(state);
        int rc = 1;
        if (!waiting) {
            proj_progress(p, "Container", name, "Waiting");
            waiting = true;
        }
        if (healthy) {
            if (!health)
                rc = berr_set(err, BERR_INVALID, "dependency failed to start: container %s "
                              "has no healthcheck configured", name);
            else if (strcmp(health, "healthy") == 0)
                rc = 0;
            else if (strcmp(health, "unhealthy") == 0 || !running)
                rc = berr_set(err, BERR_CONFLICT, "dependency failed to start: container %s "
                              "is %s", name, running ? "unhealthy" : "not running");
        } else if (!running) {
            rc = code == 0 ? 0 : berr_set(err, BERR_CONFLICT, "service \"%s\" didn't complete "
                                          "successfully: exit %d", dep, code);
        }
        if (rc <= 0) {
            if (rc < 0)
                proj_log_tail(p, json_string_value(json_object_get(state, "Id")), 10);
            else
                proj_progress(p, "Container", name, healthy ? "Healthy" : "Exited");
            json_decref(state);
            return rc;
        }
        json_decref(state);
        if (interrupted)
            return berr_set(err, BERR_CONFLICT, "interrupted");
        poll(NULL, 0, 200);
    }
}

static int remove_container(struct compose_project *p, json_t *c, int timeout,
                            struct berr *err)
{
    const char *id = json_string_value(json_object_get(c, "Id"));
    if (ctr_running(c)) {
        struct berr e = {0};
        rt_stop(p->store, id, timeout, &e);
    }
    return rt_remove(p->store, id, true, err);
}

/* Create and start one container; on failure its log tail is shown and
 * the container removed. */
int up_create(struct compose_project *p, const char *service, const struct svc_identity *id,
              svc_adjust_fn adjust, const void *arg, struct svc_opts *so,
              char cid[RT_ID_LEN + 1], int *status, struct berr *err)
{
    json_t *svc = proj_service(p, service);
    int rc = svc_opts_build(p, svc, id, so, err);
    if (rc == 0 && adjust)
        adjust(so, arg);
    if (rc == 0)
        rc = glue_run_opts(so, err);
    if (rc < 0)
        return rc;
    int st = 0;
    proj_progress(p, "Container", id->name, "Starting");
    cid[0] = '\0';
    rc = rt_run(p->store, &so->o, cid, status ? status : &st, err);
    if (rc < 0) {
        struct berr e = {0};
        json_t *state;
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        berr_set(err, -rc, "service %s failed to start: %s", service, msg);
        proj_progress(p, "Container", id->name, "Error");
        /* only the container this call made: the name may be held by
         * another's (a concurrent `up` made it first) */
        if (cid[0] && rt_inspect(p->store, id->name, &state, &e) == 0) {
            const char *made = json_string_value(json_object_get(state, "Id"));
            if (made && strcmp(made, cid) == 0) {
                proj_log_tail(p, made, 20);
                rt_remove(p->store, made, true, &e);
            }
            json_decref(state);
        }
        return rc;
    }
    if (so->o.detach)
        proj_progress(p, "Container", id->name, "Started");
    return 0;
}

static int up_service(struct compose_project *p, const struct compose_up_opts *o,
                      const char *service, json_t *attach, struct berr *err)
{
    json_t *svc = proj_service(p, service), *d;
    const char *dep;
    char image[DIGEST_MAX], hash[65], name[300];
    json_object_foreach(json_object_get(svc, "depends_on"), dep, d) {
        if (o->no_deps)
            break;
        int rc = wait_dependency(p, service, dep,
                                 json_string_value(json_object_get(d, "condition")), err);
        if (rc < 0)
            return rc;
    }
    int rc = up_image(p, service, o->no_build ? UP_BUILD_NEVER
                                 : o->build ? UP_BUILD_ALWAYS : UP_BUILD_MISSING, image, err);
    if (rc < 0)
        return rc;
    if (proj_config_hash(svc, image, hash) < 0)
        return berr_set(err, BERR_IO, "out of memory");
    json_t *all, *mine;
    if ((rc = proj_containers(p, false, &all, err)) < 0)
        return rc;
    mine = proj_service_containers(all, service);
    json_decref(all);
    const char *cname = json_string_value(json_object_get(svc, "container_name"));
    if (cname)
        snprintf(name, sizeof name, "%s", cname);
    else
        snprintf(name, sizeof name, "%s-%s-1", proj_name(p), service);
    int timeout = o->timeout >= 0 ? o->timeout : proj_stop_timeout(svc);
    json_t *c = json_array_get(mine, 0);
    size_t i;
    json_t *extra;
    /* one container per service: what a former scale left goes */
    json_array_foreach(mine, i, extra)
        if (i > 0) {
            struct berr e = {0};
            proj_progress(p, "Container", ctr_name(extra), "Removing");
            remove_container(p, extra, timeout, &e);
        }
    if (c && !o->force_recreate && strcmp(ctr_label(c, LABEL_HASH) ?: "", hash) == 0) {
        const char *id = json_string_value(json_object_get(c, "Id"));
        if (ctr_running(c))
            proj_progress(p, "Container", ctr_name(c), "Running");
        else if (!o->no_start) {
            proj_progress(p, "Container", ctr_name(c), "Starting");
            if ((rc = glue_start(p, id, err)) < 0) {
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                berr_set(err, -rc, "service %s failed to start: %s", service, msg);
                proj_log_tail(p, id, 20);
            } else
                proj_progress(p, "Container", ctr_name(c), "Started");
        }
        if (rc == 0)
            json_array_append_new(attach, json_pack("{s:s,s:s+}", "id", id, "prefix",
                                                    service, "-1"));
        json_decref(mine);
        return rc;
    }
    if (c) {
        proj_progress(p, "Container", ctr_name(c), "Recreate");
        struct berr e = {0};
        if ((rc = remove_container(p, c, timeout, &e)) < 0) {
            *err = e;
            json_decref(mine);
            return rc;
        }
    }
    json_decref(mine);
    if (o->no_start)
        return 0;
    struct svc_identity id = {.service = service, .name = name, .image_id = image, .hash = hash,
                              .number = 1};
    struct svc_opts so;
    char cid[RT_ID_LEN + 1];
    rc = up_create(p, service, &id, NULL, NULL, &so, cid, NULL, err);
    svc_opts_free(&so);
    if (rc == 0)
        json_array_append_new(attach, json_pack("{s:s,s:s+}", "id", cid, "prefix", service,
                                                "-1"));
    return rc;
}

/* Start `order`'s services; `attach` gets {id, prefix} of each. */
int up_services(struct compose_project *p, const struct compose_up_opts *o, json_t *order,
                json_t *attach, struct berr *err)
{
    size_t i;
    json_t *name;
    int rc = proj_resources_up(p, order, err);
    json_array_foreach(order, i, name)
        if (rc == 0)
            rc = up_service(p, o, json_string_value(name), attach, err);
    return rc;
}

static void stop_attached(struct compose_project *p, json_t *attach)
{
    size_t i = json_array_size(attach);
    while (i-- > 0) {
        json_t *a = json_array_get(attach, i), *state;
        struct berr e = {0};
        const char *id = json_string_value(json_object_get(a, "id"));
        if (rt_inspect(p->store, id, &state, &e) < 0)
            continue;
        if (ctr_running(state)) {
            const char *svc = ctr_label(state, LABEL_SERVICE);
            proj_progress(p, "Container", ctr_name(state), "Stopping");
            rt_stop(p->store, id, proj_stop_timeout(proj_service(p, svc ?: "")), &e);
            proj_progress(p, "Container", ctr_name(state), "Stopped");
        }
        json_decref(state);
    }
}

int compose_up(struct compose_project *p, const struct compose_up_opts *o, struct berr *err)
{
    json_t *order, *attach = json_array();
    int rc = proj_check_services(p, o->services, o->nservices, err);
    if (rc == 0 && o->build && o->no_build)
        rc = berr_set(err, BERR_INVALID, "--build and --no-build are incompatible");
    if (rc == 0)
        rc = compose_order(p->model, o->services, o->nservices, o->no_deps, &order, err);
    if (rc < 0) {
        json_decref(attach);
        return rc;
    }
    /* --no-build: every image is there, or nothing starts */
    size_t k;
    json_t *svc;
    json_array_foreach(o->no_build ? order : NULL, k, svc) {
        const char *name = json_string_value(svc);
        char image[1024], id[DIGEST_MAX];
        struct berr e = {0};
        if (!json_object_get(proj_service(p, name), "build"))
            continue;
        proj_image_name(p, name, image, sizeof image);
        if (image_id(p, image, id, &e) < 0) {
            rc = e.code == BERR_NOTFOUND ? no_build_refused(name, image, err)
                                         : (*err = e, -e.code);
            break;
        }
    }
    if (rc == 0)
        rc = proj_orphans(p, false, o->remove_orphans, o->timeout, err);
    if (rc < 0) {
        json_decref(attach);
        json_decref(order);
        return rc;
    }
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = up_services(p, o, order, attach, err);
    if (rc == 0 && !o->detach && !o->no_start) {
        size_t n = json_array_size(attach), i;
        struct log_source *src = calloc(n ? n : 1, sizeof *src);
        json_t *a;
        json_array_foreach(attach, i, a)
            if (src)
                src[i] = (struct log_source){
                    .id = json_string_value(json_object_get(a, "id")),
                    .prefix = json_string_value(json_object_get(a, "prefix"))};
        struct rt_logs_opts lo = {.follow = true, .tail = -1};
        fprintf(p->out ?: stderr, "Attaching to %zu container%s\n", n, n == 1 ? "" : "s");
        if (src)
            logs_print(p, src, n, &lo, true, &interrupted, err);
        free(src);
        if (interrupted)
            fprintf(p->out ?: stderr, "Gracefully stopping... (press Ctrl+C again to force)\n");
        sigaction(SIGINT, &old_int, NULL);
        stop_attached(p, attach);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    json_decref(attach);
    json_decref(order);
    return rc;
}
