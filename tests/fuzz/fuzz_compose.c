/*
 * fuzz_compose.c - compose files (compose/) as `berth compose` loads them:
 * the input is compose.yaml in a project directory of its own, read by
 * compose_load (YAML, interpolation, merge, shape checks, normalisation);
 * a project that loads is then ordered and written back as YAML, as
 * `compose config` does.
 */
#include "fuzz.h"
#include "../../compose/compose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_file("compose.yaml", data, size, path, sizeof path);
    char *env[] = {"HOME=/root", "TAG=1.0", "EMPTY=", NULL};
    struct compose_opts o = {
        .project = "fuzz",
        .workdir = fuzz_tmpdir(),
        .environ = env,
    };
    json_t *project = NULL;
    struct berr err = {0};
    if (compose_load(&o, &project, &err) == 0) {
        json_t *order = NULL;
        struct berr e2 = {0};
        if (compose_order(project, NULL, 0, false, &order, &e2) == 0)
            json_decref(order);
        FILE *null = fopen("/dev/null", "w");
        if (!null)
            abort();
        struct berr e3 = {0};
        (void)compose_write_yaml(project, null, &e3);
        fclose(null);
        json_decref(project);
    } else if (!err.msg[0]) {
        abort();
    }
    return 0;
}
