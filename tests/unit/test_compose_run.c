/*
 * test_compose_run.c - a service of the model as the runtime's options
 * (compose/runopts.c and glue.c) and the config hash that decides whether
 * `up` recreates a container: each key mapped, what cannot be run refused
 * with the service and the key, the hash stable across key order and
 * changed by the model or the image. No store is touched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../compose/project.h"

static json_t *model(const char *services)
{
    char *text;
    assert_true(asprintf(&text,
                         "{\"name\": \"proj\", \"services\": %s,"
                         " \"networks\": {\"default\": {\"name\": \"proj_default\"},"
                         "               \"back\": {\"name\": \"proj_back\"}},"
                         " \"volumes\": {\"data\": {\"name\": \"proj_data\"}}}",
                         services) > 0);
    json_error_t je;
    json_t *m = json_loads(text, 0, &je);
    free(text);
    assert_non_null(m);
    return m;
}

static bool has(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static int build(json_t *m, const char *service, struct svc_opts *so, struct berr *err)
{
    struct compose_project p = {.model = m, .workdir = "/srv/proj", .config_files = "/srv/proj/compose.yaml"};
    struct svc_identity id = {.service = service, .name = "proj-web-1", .image_id = "sha256:ab",
                              .hash = "h", .number = 1};
    FILE *devnull = fopen("/dev/null", "w");
    p.out = devnull;
    int rc = svc_opts_build(&p, proj_service(&p, service), &id, so, err);
    if (rc == 0)
        rc = glue_run_opts(so, err);
    fclose(devnull);
    return rc;
}

static void every_key_mapped(void **state)
{
    (void)state;
    json_t *m = model(
        "{\"web\": {\"image\": \"bb\", \"entrypoint\": [\"/bin/ep\", \"-x\"], \"command\": [\"run\"],"
        " \"environment\": {\"A\": \"1\", \"B\": null, \"N\": 5},"
        " \"ports\": [{\"target\": 80, \"published\": \"8080\", \"host_ip\": \"127.0.0.1\", \"protocol\": \"tcp\"},"
        "             {\"target\": 81, \"protocol\": \"tcp\"}],"
        " \"labels\": {\"tier\": \"front\"}, \"networks\": {\"back\": {\"aliases\": [\"www\"]}},"
        " \"healthcheck\": {\"test\": [\"CMD-SHELL\", \"true\"], \"interval\": \"2s\", \"retries\": 4},"
        " \"deploy\": {\"resources\": {\"limits\": {\"memory\": 1048576, \"cpus\": 1.5}}},"
        " \"restart\": \"on-failure:3\", \"stop_signal\": \"SIGINT\", \"stop_grace_period\": \"3s\","
        " \"working_dir\": \"/app\", \"user\": \"1000\", \"hostname\": \"h1\", \"tty\": true,"
        " \"depends_on\": {\"db\": {\"condition\": \"service_healthy\", \"restart\": true}}}}");
    struct svc_opts so;
    struct berr err = {0};
    assert_int_equal(build(m, "web", &so, &err), 0);
    struct rt_run_opts *o = &so.o;
    assert_string_equal(o->image, "bb");
    assert_string_equal(o->name, "proj-web-1");
    assert_string_equal(o->entrypoint, "/bin/ep");
    assert_int_equal(o->ncmd, 2);
    assert_string_equal(o->cmd[0], "-x");
    assert_string_equal(o->cmd[1], "run");
    assert_int_equal(o->nenv, 2);
    assert_true(has(o->env, o->nenv, "A=1"));
    assert_true(has(o->env, o->nenv, "N=5"));
    assert_int_equal(o->nports, 2);
    assert_int_equal(o->ports[0].host_port, 8080);
    assert_int_equal(o->ports[0].ctr_port, 80);
    assert_string_equal(o->ports[0].host_ip, "127.0.0.1");
    assert_false(o->ports[0].random);
    /* no published port: a random one */
    assert_int_equal(o->ports[1].host_port, 0);
    assert_int_equal(o->ports[1].ctr_port, 81);
    assert_string_equal(o->ports[1].host_ip, "0.0.0.0");
    assert_true(o->ports[1].random);
    assert_int_equal(o->nnetworks, 1);
    assert_string_equal(o->networks[0].name, "proj_back");
    assert_int_equal(o->networks[0].naliases, 2);
    assert_string_equal(o->networks[0].aliases[0], "web");
    assert_string_equal(o->networks[0].aliases[1], "www");
    assert_true(has(o->labels, o->nlabels, "tier=front"));
    assert_true(has(o->labels, o->nlabels, "com.docker.compose.project=proj"));
    assert_true(has(o->labels, o->nlabels, "com.docker.compose.service=web"));
    assert_true(has(o->labels, o->nlabels, "com.docker.compose.container-number=1"));
    assert_true(has(o->labels, o->nlabels, "com.docker.compose.oneoff=False"));
    assert_true(has(o->labels, o->nlabels, "com.docker.compose.image=sha256:ab"));
    assert_true(has(o->labels, o->nlabels, "com.docker.compose.project.working_dir=/srv/proj"));
    assert_true(has(o->labels, o->nlabels, "com.docker.compose.depends_on=db:service_healthy:true"));
    assert_int_equal(o->nhealth_test, 2);
    assert_string_equal(o->health_test[0], "CMD-SHELL");
    assert_int_equal(o->health_interval, 2000000000LL);
    assert_int_equal(o->health_retries, 4);
    assert_int_equal(o->memory, 1048576);
    assert_int_equal(o->cpu_quota, 150000);
    assert_string_equal(o->restart, "on-failure:3");
    assert_string_equal(o->stop_signal, "SIGINT");
    assert_true(o->stop_timeout_set);
    assert_int_equal(o->stop_timeout, 3);
    assert_string_equal(o->workdir, "/app");
    assert_string_equal(o->user, "1000");
    assert_string_equal(o->hostname, "h1");
    assert_true(o->tty);
    assert_true(o->detach);
    svc_opts_free(&so);
    json_decref(m);
}

static void entrypoint_alone_and_disabled_health(void **state)
{
    (void)state;
    json_t *m = model("{\"web\": {\"image\": \"bb\", \"entrypoint\": [],"
                      " \"healthcheck\": {\"disable\": true}, \"networks\": {\"default\": null}}}");
    struct svc_opts so;
    struct berr err = {0};
    assert_int_equal(build(m, "web", &so, &err), 0);
    assert_string_equal(so.o.entrypoint, "");   /* none, not the image's */
    assert_int_equal(so.o.ncmd, 0);
    assert_true(so.o.no_healthcheck);
    assert_int_equal(so.o.nnetworks, 1);
    assert_string_equal(so.o.networks[0].name, "proj_default");
    assert_int_equal(so.o.networks[0].naliases, 1);
    assert_false(so.o.stop_timeout_set);
    svc_opts_free(&so);
    json_decref(m);
}

/* docker compose's order: priority, highest first, then the name; the
 * first network is the primary one */
static void networks_by_priority(void **state)
{
    (void)state;
    json_t *m = model("{\"web\": {\"image\": \"bb\", \"networks\": {\"default\": null,"
                      " \"back\": null}}}");
    struct svc_opts so;
    struct berr err = {0};
    assert_int_equal(build(m, "web", &so, &err), 0);
    assert_int_equal(so.o.nnetworks, 2);
    assert_string_equal(so.o.networks[0].name, "proj_back");   /* the names alike: by name */
    assert_string_equal(so.o.networks[1].name, "proj_default");
    svc_opts_free(&so);
    json_decref(m);

    m = model("{\"web\": {\"image\": \"bb\", \"networks\": {\"back\": {\"aliases\": [\"b\"]},"
              " \"default\": {\"priority\": 10}}}}");
    assert_int_equal(build(m, "web", &so, &err), 0);
    assert_int_equal(so.o.nnetworks, 2);
    assert_string_equal(so.o.networks[0].name, "proj_default");
    assert_int_equal(so.o.networks[0].naliases, 1);
    assert_string_equal(so.o.networks[1].name, "proj_back");
    assert_int_equal(so.o.networks[1].naliases, 2);
    assert_string_equal(so.o.networks[1].aliases[1], "b");
    svc_opts_free(&so);
    json_decref(m);

    m = model("{\"web\": {\"image\": \"bb\", \"networks\": {\"default\": {\"priority\": -5},"
              " \"back\": {\"priority\": -1}}}}");
    assert_int_equal(build(m, "web", &so, &err), 0);
    assert_string_equal(so.o.networks[0].name, "proj_back");
    svc_opts_free(&so);
    json_decref(m);
}

static void refused(const char *services, const char *want)
{
    json_t *m = model(services);
    struct svc_opts so;
    struct berr err = {0};
    assert_true(build(m, "web", &so, &err) < 0);
    if (!strstr(err.msg, want))
        fail_msg("\"%s\" does not say \"%s\"", err.msg, want);
    svc_opts_free(&so);
    json_decref(m);
}

static void what_cannot_run_is_refused(void **state)
{
    (void)state;
    refused("{\"web\": {\"image\": \"bb\", \"ports\": [{\"target\": 80, \"published\": \"8000-8001\"}]}}",
            "service web: ports[0]");
    refused("{\"web\": {\"image\": \"bb\", \"ports\": [{\"target\": 80, \"published\": \"99999\"}]}}",
            "ports[0]");
    refused("{\"web\": {\"image\": \"bb\", \"ports\": [{\"target\": 53, \"published\": \"53\", "
            "\"protocol\": \"udp\"}]}}", "only tcp");
    refused("{\"web\": {\"image\": \"bb\", \"volumes\": [{\"type\": \"tmpfs\", \"target\": \"/t\"}]}}",
            "service web: volumes[0]: tmpfs");
    refused("{\"web\": {\"image\": \"bb\", \"volumes\": [{\"type\": \"volume\", \"source\": \"nope\","
            " \"target\": \"/t\"}]}}", "\"nope\" is not declared");
    refused("{\"web\": {\"image\": \"bb\", \"volumes\": [{\"type\": \"bind\", \"source\": \"rel\","
            " \"target\": \"/t\"}]}}", "absolute");
    refused("{\"web\": {\"image\": \"bb\", \"volumes\": [{\"type\": \"bind\", \"source\": \"/x\","
            " \"target\": \"t\"}]}}", "absolute");
}

static void config_hash(void **state)
{
    (void)state;
    json_t *a = json_loads("{\"image\": \"bb\", \"environment\": {\"A\": \"1\", \"B\": \"2\"}}", 0, NULL);
    json_t *b = json_loads("{\"environment\": {\"B\": \"2\", \"A\": \"1\"}, \"image\": \"bb\"}", 0, NULL);
    json_t *c = json_loads("{\"image\": \"bb\", \"environment\": {\"A\": \"1\", \"B\": \"3\"}}", 0, NULL);
    char ha[65], hb[65], hc[65], hd[65];
    assert_int_equal(proj_config_hash(a, "sha256:1", ha), 0);
    assert_int_equal(proj_config_hash(b, "sha256:1", hb), 0);
    assert_int_equal(proj_config_hash(c, "sha256:1", hc), 0);
    assert_int_equal(proj_config_hash(a, "sha256:2", hd), 0);
    assert_int_equal(strlen(ha), 64);
    assert_string_equal(ha, hb);          /* key order does not matter */
    assert_string_not_equal(ha, hc);      /* the model does */
    assert_string_not_equal(ha, hd);      /* so does the image */
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_key_mapped),
        cmocka_unit_test(entrypoint_alone_and_disabled_health),
        cmocka_unit_test(what_cannot_run_is_refused),
        cmocka_unit_test(networks_by_priority),
        cmocka_unit_test(config_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
