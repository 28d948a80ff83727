/*
 * fuzz_config.c - berthd's JSON configuration file (server/config.c):
 * config_load as `berthd serve -c FILE` and `check-config` call it, then
 * the checks serve makes (config_validate, and auth_check_config on the
 * "auth" object, which reads no files it is not named).
 */
#include "fuzz.h"
#include "../../server/server.h"
#include "../../auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        /* only the file: no BERTH_* variable of the environment */
        for (char **e = environ; e && *e;)
            if (strncmp(*e, "BERTH_", 6) == 0) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
            } else {
                e++;
            }
        once = true;
    }
    char path[512];
    fuzz_file("config.json", data, size, path, sizeof path);
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct berr err = {0};
    if (config_load(&cfg, path, &err) == 0) {
        struct berr e2 = {0};
        (void)config_validate(&cfg, &e2);
        (void)config_trusted_proxy(&cfg, "127.0.0.1");
        (void)config_trusted_proxy(&cfg, "::1");
        struct sockaddr_storage ss;
        (void)config_parse_listen(cfg.listen, &ss);
        if (cfg.auth) {
            struct berr e3 = {0};
            (void)auth_check_config(cfg.auth, &e3);
        }
        config_free(&cfg);
    }
    return 0;
}
