/*
 * cmd_network.c - berth network create|ls|inspect|rm|prune|connect|disconnect,
 * as docker's: user-defined networks that `berth run --network NAME` joins
 * (any number of them) and that a container joins or leaves later
 * (runtime/network.c). The predefined host and none are modes of run,
 * not networks, and are not listed.
 */
#include "builtin.h"
#include "../runtime/runtime.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int usage(const char *what)
{
    fprintf(stderr, "usage: berth network %s\n", what);
    return 2;
}

static int net_create(struct cli *g, int argc, char **argv)
{
    static const struct option longs[] = {
        {"subnet", required_argument, NULL, 's'}, {"label", required_argument, NULL, 'l'},
        {"driver", required_argument, NULL, 'd'}, {0},
    };
    const char *use = "create [--subnet CIDR] [--label KEY=VALUE]... [-d bridge] NAME";
    const char *subnet = NULL;
    json_t *labels = json_object();
    struct berr err = {0};
    int c, rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "d:", longs, NULL)) != -1) {
        if (c == 's')
            subnet = optarg;
        else if (c == 'l') {
            const char *eq = strchr(optarg, '=');
            char key[256];
            snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - optarg) : (int)strlen(optarg),
                     optarg);
            if (!key[0] || strlen(optarg) > 4096) {
                fprintf(stderr, "berth network create: invalid label '%.100s'\n", optarg);
                rc = 1;
            } else
                json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
        } else if (c == 'd' && strcmp(optarg, "bridge") != 0) {
            fprintf(stderr, "berth network create: plugin \"%s\" not found (berth has the "
                    "bridge driver only)\n", optarg);
            rc = 1;
        } else if (c != 'd')
            rc = usage(use);
    }
    if (rc == 0 && optind + 1 != argc)
        rc = usage(use);
    struct berth_store *s;
    if (rc == 0 && (rc = cli_store(g, &s)) == 0) {
        char id[RT_ID_LEN + 1];
        if (rt_network_create(s, argv[optind], subnet, labels, id, &err) < 0)
            rc = cli_fail("network create", &err);
        else
            printf("%s\n", id);
        berth_store_close(s);
    }
    json_decref(labels);
    return rc;
}

static int net_ls(struct cli *g, int argc, char **argv)
{
    static const struct option longs[] = {
        {"quiet", no_argument, NULL, 'q'}, {"no-trunc", no_argument, NULL, 'n'}, {0},
    };
    bool quiet = false, full = false;
    int c;
    while ((c = getopt_long(argc, argv, "q", longs, NULL)) != -1) {
        if (c == 'q')
            quiet = true;
        else if (c == 'n')
            full = true;
        else
            return usage("ls [-q] [--no-trunc]");
    }
    if (optind != argc)
        return usage("ls [-q] [--no-trunc]");
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    json_t *docs, *d;
    struct berr err = {0};
    if (rt_network_list(s, &docs, &err) < 0) {
        berth_store_close(s);
        return cli_fail("network ls", &err);
    }
    json_t *rows = json_array();
    json_array_append_new(rows, json_pack("[s,s,s,s]", "NETWORK ID", "NAME", "DRIVER", "SCOPE"));
    size_t i;
    json_array_foreach(docs, i, d) {
        char id[RT_ID_LEN + 1];
        snprintf(id, sizeof id, full ? "%s" : "%.12s",
                 json_string_value(json_object_get(d, "Id")));
        if (quiet)
            printf("%s\n", id);
        else
            json_array_append_new(rows, json_pack("[s,s,s,s]", id,
                                                  json_string_value(json_object_get(d, "Name")),
                                                  "bridge", "local"));
    }
    if (!quiet)
        cli_table_print(rows);
    json_decref(rows);
    json_decref(docs);
    berth_store_close(s);
    return 0;
}

static int net_inspect(struct cli *g, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')
        return usage("inspect NETWORK...");
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    json_t *out = json_array();
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        json_t *doc;
        struct berr err = {0};
        if (rt_network_inspect(s, argv[i], &doc, &err) < 0) {
            /* docker prints what it found, then the errors */
            fprintf(stderr, "Error: %s\n", err.msg);
            rc = 1;
        } else
            json_array_append_new(out, doc);
    }
    char *text = json_dumps(out, JSON_INDENT(4));
    if (text && (json_array_size(out) > 0 || rc == 0))
        printf("%s\n", text);
    free(text);
    json_decref(out);
    berth_store_close(s);
    return rc;
}

static int net_rm(struct cli *g, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')
        return usage("rm NETWORK...");
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct berr err = {0};
        if (rt_network_remove(s, argv[i], &err) < 0)
            rc = cli_fail("network rm", &err);
        else
            printf("%s\n", argv[i]);
    }
    berth_store_close(s);
    return rc;
}

static int net_prune(struct cli *g, int argc, char **argv)
{
    static const struct option longs[] = {{"force", no_argument, NULL, 'f'}, {0}};
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "f", longs, NULL)) != -1) {
        if (c != 'f')
            return usage("prune [-f]");
        force = true;
    }
    if (optind != argc)
        return usage("prune [-f]");
    if (!force) {
        printf("WARNING! This will remove all custom networks not used by at least one "
               "container.\nAre you sure you want to continue? [y/N] ");
        fflush(stdout);
        char line[64];
        if (!fgets(line, sizeof line, stdin) || (line[0] != 'y' && line[0] != 'Y'))
            return 0;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    json_t *names, *n;
    struct berr err = {0};
    int rc = 0;
    if (rt_network_prune(s, &names, &err) < 0)
        rc = cli_fail("network prune", &err);
    else {
        size_t i;
        if (json_array_size(names) > 0)
            printf("Deleted Networks:\n");
        json_array_foreach(names, i, n)
            printf("%s\n", json_string_value(n));
        json_decref(names);
    }
    berth_store_close(s);
    return rc;
}

static int net_connect(struct cli *g, int argc, char **argv)
{
    static const struct option longs[] = {{"alias", required_argument, NULL, 'a'}, {0}};
    const char *use = "connect [--alias ALIAS]... NETWORK CONTAINER";
    char *aliases[64];
    size_t naliases = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c != 'a')
            return usage(use);
        if (naliases == 64) {
            fprintf(stderr, "berth network connect: too many aliases\n");
            return 1;
        }
        aliases[naliases++] = optarg;
    }
    if (optind + 2 != argc)
        return usage(use);
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    int rc = 0;
    if (rt_network_connect(s, argv[optind], argv[optind + 1], aliases, naliases, &err) < 0)
        rc = cli_fail("network connect", &err);
    berth_store_close(s);
    return rc;
}

static int net_disconnect(struct cli *g, int argc, char **argv)
{
    static const struct option longs[] = {{"force", no_argument, NULL, 'f'}, {0}};
    const char *use = "disconnect [-f] NETWORK CONTAINER";
    int c;
    while ((c = getopt_long(argc, argv, "f", longs, NULL)) != -1)
        if (c != 'f')   /* the container's end is always removed, -f or not */
            return usage(use);
    if (optind + 2 != argc)
        return usage(use);
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    int rc = 0;
    if (rt_network_disconnect(s, argv[optind], argv[optind + 1], &err) < 0)
        rc = cli_fail("network disconnect", &err);
    berth_store_close(s);
    return rc;
}

int cmd_network(struct cli *g, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(struct cli *, int, char **);
    } subs[] = {
        {"create", net_create}, {"ls", net_ls}, {"list", net_ls}, {"inspect", net_inspect},
        {"rm", net_rm}, {"remove", net_rm}, {"prune", net_prune},
        {"connect", net_connect}, {"disconnect", net_disconnect},
    };
    if (argc >= 2)
        for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
            if (strcmp(argv[1], subs[i].name) == 0)
                return subs[i].run(g, argc - 1, argv + 1);
    fprintf(stderr, "usage: berth network COMMAND, one of: create ls inspect rm prune "
            "connect disconnect\n");
    return 2;
}
