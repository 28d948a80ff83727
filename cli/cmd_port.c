/*
 * cmd_port.c - berth port CONTAINER [PRIVATE_PORT[/PROTO]]: where a
 * container's ports are published on the host, as docker prints them
 * ("5000/tcp -> 0.0.0.0:32768"; with a port, "0.0.0.0:32768"). It reads
 * NetworkSettings.Ports, where `run` and `start` record the host ports
 * they bound (random ones included); a container that is not running has
 * none bound, as docker's.
 */
#include "builtin.h"
#include "../runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_port_print(json_t *state, const char *name, const char *private_port,
                   struct berr *err)
{
    json_t *st = json_object_get(state, "State");
    bool up = json_is_true(json_object_get(st, "Running")) ||
              json_is_true(json_object_get(st, "Restarting"));
    json_t *ports = up ? json_object_get(json_object_get(state, "NetworkSettings"), "Ports")
                       : NULL;
    const char *key;
    json_t *binds, *b;
    size_t i;
    if (!private_port) {
        json_object_foreach(ports, key, binds)
            json_array_foreach(binds, i, b)
                printf("%s -> %s:%s\n", key,
                       json_string_value(json_object_get(b, "HostIp")) ?: "",
                       json_string_value(json_object_get(b, "HostPort")) ?: "");
        return 0;
    }
    char want[32], *end;
    unsigned long port = strtoul(private_port, &end, 10);
    if (private_port[0] < '0' || private_port[0] > '9' || port == 0 || port > 65535 ||
        (*end && strcmp(end, "/tcp") != 0 && strcmp(end, "/udp") != 0))
        return berr_set(err, BERR_INVALID, "invalid port \"%.40s\" (PORT[/tcp|udp])",
                        private_port);
    snprintf(want, sizeof want, "%lu%s", port, *end ? end : "/tcp");
    binds = json_object_get(ports, want);
    if (!json_array_size(binds))
        return berr_set(err, BERR_NOTFOUND, "No public port '%s' published for %s", want, name);
    json_array_foreach(binds, i, b)
        printf("%s:%s\n", json_string_value(json_object_get(b, "HostIp")) ?: "",
               json_string_value(json_object_get(b, "HostPort")) ?: "");
    return 0;
}

int cmd_port(struct cli *g, int argc, char **argv)
{
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        fprintf(stderr, "usage: berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    json_t *state = NULL;
    struct berr err = {0};
    int rc = rt_inspect(s, argv[1], &state, &err);
    if (rc == 0)
        rc = cli_port_print(state, argv[1], argc == 3 ? argv[2] : NULL, &err);
    json_decref(state);
    berth_store_close(s);
    return rc < 0 ? cli_fail("port", &err) : 0;
}
