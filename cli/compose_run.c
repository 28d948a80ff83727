/*
 * compose_run.c - the `berth compose` subcommands that run a project (up,
 * down, ps, logs, start, stop, restart, exec, run, build, pull, push):
 * their options, as docker compose's, parsed here; the work is compose/'s.
 * cmd_compose.c loads the project and calls them through its table.
 */
#include "builtin.h"
#include "../compose/compose.h"
#include "../runtime/runtime.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *sub, const struct berr *err)
{
    fprintf(stderr, "berth compose %s: %s\n", sub, err->msg[0] ? err->msg : "failed");
    return 1;
}

static int usage(const char *text)
{
    fprintf(stderr, "usage: berth compose %s\n", text);
    return 2;
}

static int parse_timeout(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 0 || v > 86400) {
        fprintf(stderr, "berth compose: invalid timeout: %s\n", s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int compose_cmd_up(struct compose_project *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"detach", no_argument, NULL, 'd'}, {"build", no_argument, NULL, 'b'},
        {"force-recreate", no_argument, NULL, 'f'}, {"no-deps", no_argument, NULL, 'n'},
        {"no-start", no_argument, NULL, 's'}, {"timeout", required_argument, NULL, 't'},
        {"no-build", no_argument, NULL, 'N'}, {"remove-orphans", no_argument, NULL, 'r'},
        {0},
    };
    struct compose_up_opts o = {.timeout = -1};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+dt:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o.detach = true; break;
        case 'b': o.build = true; break;
        case 'f': o.force_recreate = true; break;
        case 'n': o.no_deps = true; break;
        case 's': o.no_start = true; break;
        case 'N': o.no_build = true; break;
        case 'r': o.remove_orphans = true; break;
        case 't': if (parse_timeout(optarg, &o.timeout) < 0) return 2; break;
        default:
            return usage("up [-d] [--build|--no-build] [--force-recreate] [--no-deps] "
                         "[--no-start] [--remove-orphans] [-t N] [SERVICE...]");
        }
    }
    if (o.build && o.no_build) {
        fprintf(stderr, "berth compose up: --build and --no-build are incompatible\n");
        return 2;
    }
    o.services = argv + optind;
    o.nservices = (size_t)(argc - optind);
    struct berr err = {0};
    return compose_up(p, &o, &err) < 0 ? fail("up", &err) : 0;
}

int compose_cmd_down(struct compose_project *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"volumes", no_argument, NULL, 'v'}, {"rmi", required_argument, NULL, 'r'},
        {"remove-orphans", no_argument, NULL, 'o'}, {"timeout", required_argument, NULL, 't'},
        {0},
    };
    struct compose_down_opts o = {.timeout = -1};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "vt:", opts, NULL)) != -1) {
        switch (c) {
        case 'v': o.volumes = true; break;
        case 'o': o.remove_orphans = true; break;
        case 't': if (parse_timeout(optarg, &o.timeout) < 0) return 2; break;
        case 'r':
            if (strcmp(optarg, "local") != 0 && strcmp(optarg, "all") != 0) {
                fprintf(stderr, "berth compose down: invalid --rmi %s: local or all\n", optarg);
                return 2;
            }
            o.rmi = optarg;
            break;
        default: return usage("down [-v] [--rmi local|all] [--remove-orphans] [-t N]");
        }
    }
    if (optind != argc)
        return usage("down [-v] [--rmi local|all] [--remove-orphans] [-t N]");
    struct berr err = {0};
    return compose_down(p, &o, &err) < 0 ? fail("down", &err) : 0;
}

int compose_cmd_ps(struct compose_project *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'}, {"all", no_argument, NULL, 'a'},
        {"services", no_argument, NULL, 's'}, {0},
    };
    bool quiet = false, all = false, services = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "qa", opts, NULL)) != -1) {
        switch (c) {
        case 'q': quiet = true; break;
        case 'a': all = true; break;
        case 's': services = true; break;
        default: return usage("ps [-q] [-a] [--services] [SERVICE...]");
        }
    }
    json_t *rows, *ids;
    struct berr err = {0};
    if (compose_ps(p, argv + optind, (size_t)(argc - optind), all, &rows, &ids, &err) < 0)
        return fail("ps", &err);
    size_t i;
    json_t *v;
    if (services)
        json_array_foreach(rows, i, v) {
            if (i > 0)
                printf("%s\n", json_string_value(json_array_get(v, 3)));
        }
    else if (quiet)
        json_array_foreach(ids, i, v)
            printf("%s\n", json_string_value(v));
    else
        cli_table_print(rows);
    json_decref(rows);
    json_decref(ids);
    return 0;
}

int compose_cmd_logs(struct compose_project *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'}, {"timestamps", no_argument, NULL, 't'},
        {"tail", required_argument, NULL, 'n'}, {"no-log-prefix", no_argument, NULL, 'P'},
        {"no-color", no_argument, NULL, 'C'}, {0},
    };
    struct compose_logs_opts o = {.tail = -1};
    int c;
    char *end;
    optind = 0;
    while ((c = getopt_long(argc, argv, "ftn:", opts, NULL)) != -1) {
        switch (c) {
        case 'f': o.follow = true; break;
        case 't': o.timestamps = true; break;
        case 'P': o.no_prefix = true; break;
        case 'C': break;
        case 'n':
            if (strcmp(optarg, "all") == 0)
                break;
            o.tail = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || o.tail < 0) {
                fprintf(stderr, "berth compose logs: invalid --tail: %s\n", optarg);
                return 2;
            }
            break;
        default: return usage("logs [-f] [-t] [--tail N] [SERVICE...]");
        }
    }
    o.services = argv + optind;
    o.nservices = (size_t)(argc - optind);
    struct berr err = {0};
    return compose_logs(p, &o, &err) < 0 ? fail("logs", &err) : 0;
}

static int lifecycle(struct compose_project *p, enum compose_action a, const char *name,
                     int argc, char **argv)
{
    static const struct option opts[] = {{"timeout", required_argument, NULL, 't'}, {0}};
    int c, timeout = -1;
    optind = 0;
    while ((c = getopt_long(argc, argv, a == COMPOSE_START ? "" : "t:", opts, NULL)) != -1) {
        if (c != 't' || a == COMPOSE_START) {
            fprintf(stderr, "usage: berth compose %s%s [SERVICE...]\n", name,
                    a == COMPOSE_START ? "" : " [-t N]");
            return 2;
        }
        if (parse_timeout(optarg, &timeout) < 0)
            return 2;
    }
    struct berr err = {0};
    return compose_lifecycle(p, a, argv + optind, (size_t)(argc - optind), timeout, &err) < 0
               ? fail(name, &err)
               : 0;
}

int compose_cmd_start(struct compose_project *p, int argc, char **argv)
{
    return lifecycle(p, COMPOSE_START, "start", argc, argv);
}

int compose_cmd_stop(struct compose_project *p, int argc, char **argv)
{
    return lifecycle(p, COMPOSE_STOP, "stop", argc, argv);
}

int compose_cmd_restart(struct compose_project *p, int argc, char **argv)
{
    return lifecycle(p, COMPOSE_RESTART, "restart", argc, argv);
}

/* -e KEY=VALUE; a bare KEY takes our value, or is left out */
static int env_add(json_t *env, const char *kv)
{
    if (strchr(kv, '='))
        return json_array_append_new(env, json_string(kv));
    if (getenv(kv)) {
        char *s;
        if (asprintf(&s, "%s=%s", kv, getenv(kv)) < 0)
            return -1;
        json_array_append_new(env, json_string(s));
        free(s);
    }
    return 0;
}

static char **env_array(json_t *env)
{
    char **v = calloc(json_array_size(env) + 1, sizeof *v);
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
        if (v)
            v[i] = (char *)json_string_value(e);
    return v;
}

int compose_cmd_exec(struct compose_project *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-TTY", no_argument, NULL, 'T'}, {"env", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'}, {"workdir", required_argument, NULL, 'w'},
        {"index", required_argument, NULL, 'i'}, {"detach", no_argument, NULL, 'd'},
        {0},
    };
    struct rt_exec_opts o = {.interactive = isatty(0), .tty = isatty(0) && isatty(1)};
    json_t *env = json_array();
    int c, index = 1, status = 1;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+Te:u:w:d", opts, NULL)) != -1) {
        switch (c) {
        case 'T': o.tty = false; break;
        case 'e': env_add(env, optarg); break;
        case 'u': o.user = optarg; break;
        case 'w': o.workdir = optarg; break;
        case 'd': break;
        case 'i': index = atoi(optarg); break;
        default: goto bad;
        }
    }
    if (argc - optind < 2 || index < 1)
        goto bad;
    char id[65];
    struct berr err = {0};
    o.argv = argv + optind + 1;
    o.env = env_array(env);
    o.nenv = json_array_size(env);
    if (compose_container_of(p, argv[optind], index, id, &err) < 0)
        status = fail("exec", &err);
    else if (rt_exec(p->store, id, &o, &status, &err) < 0)
        status = fail("exec", &err) + 125;
    free(o.env);
    json_decref(env);
    return status;
bad:
    json_decref(env);
    usage("exec [-T] [-e KEY=VALUE] [-u USER] [-w DIR] [--index N] SERVICE COMMAND [ARG...]");
    return 2;
}

int compose_cmd_port(struct compose_project *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"index", required_argument, NULL, 'x'}, {"protocol", required_argument, NULL, 'P'},
        {0},
    };
    const char *proto = "tcp";
    int c, index = 1;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'x':
            index = (int)strtol(optarg, &end, 10);
            if (*end || index < 1)
                goto bad;
            break;
        case 'P': proto = optarg; break;
        default: goto bad;
        }
    }
    if (argc - optind != 2 || strchr(argv[optind + 1], '/'))
        goto bad;
    char id[65], port[64];
    json_t *state = NULL;
    struct berr err = {0};
    snprintf(port, sizeof port, "%.20s/%.20s", argv[optind + 1], proto);
    int rc = compose_container_of(p, argv[optind], index, id, &err);
    if (rc == 0)
        rc = rt_inspect(p->store, id, &state, &err);
    if (rc == 0)
        rc = cli_port_print(state, argv[optind], port, &err);
    json_decref(state);
    return rc < 0 ? fail("port", &err) : 0;
bad:
    return usage("port [--index N] [--protocol tcp|udp] SERVICE PRIVATE_PORT");
}

int compose_cmd_run(struct compose_project *p, int argc, char **argv)
{
    static const struct option opts[] = {
        {"rm", no_argument, NULL, 'r'}, {"detach", no_argument, NULL, 'd'},
        {"no-deps", no_argument, NULL, 'n'}, {"no-TTY", no_argument, NULL, 'T'},
        {"env", required_argument, NULL, 'e'}, {"user", required_argument, NULL, 'u'},
        {"workdir", required_argument, NULL, 'w'}, {"name", required_argument, NULL, 'N'},
        {"entrypoint", required_argument, NULL, 'E'},
        {"service-ports", no_argument, NULL, 'P'}, {"interactive", no_argument, NULL, 'i'},
        {0},
    };
    struct compose_run_opts o = {.tty = isatty(0) && isatty(1), .interactive = true};
    json_t *env = json_array();
    int c, status = 1;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+dTe:u:w:i", opts, NULL)) != -1) {
        switch (c) {
        case 'r': o.rm = true; break;
        case 'd': o.detach = true; break;
        case 'n': o.no_deps = true; break;
        case 'T': o.tty = false; break;
        case 'e': env_add(env, optarg); break;
        case 'u': o.user = optarg; break;
        case 'w': o.workdir = optarg; break;
        case 'N': o.name = optarg; break;
        case 'E': o.entrypoint = optarg; break;
        case 'P': o.service_ports = true; break;
        case 'i': break;
        default: goto bad;
        }
    }
    if (optind >= argc)
        goto bad;
    if (o.detach)
        o.tty = o.interactive = false;
    o.service = argv[optind];
    o.cmd = argv + optind + 1;
    o.ncmd = argc - optind - 1;
    o.env = env_array(env);
    o.nenv = json_array_size(env);
    struct berr err = {0};
    if (compose_run(p, &o, &status, &err) < 0)
        status = fail("run", &err);
    else if (o.detach)
        status = 0;
    free(o.env);
    json_decref(env);
    return status;
bad:
    json_decref(env);
    usage("run [-d] [--rm] [--no-deps] [-T] [-e KEY=VALUE] [-u USER] [-w DIR] [--name NAME]\n"
          "                         [--entrypoint CMD] [--service-ports] SERVICE [COMMAND [ARG...]]");
    return 2;
}

static int images(struct compose_project *p, const char *name, int argc, char **argv)
{
    static const struct option opts[] = {{"no-cache", no_argument, NULL, 'c'},
                                         {"quiet", no_argument, NULL, 'q'}, {0}};
    bool no_cache = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        if (c == 'c' && strcmp(name, "build") == 0)
            no_cache = true;
        else if (c != 'q') {
            fprintf(stderr, "usage: berth compose %s%s [SERVICE...]\n", name,
                    strcmp(name, "build") == 0 ? " [--no-cache]" : "");
            return 2;
        }
    }
    struct berr err = {0};
    char **svcs = argv + optind;
    size_t n = (size_t)(argc - optind);
    int rc = strcmp(name, "build") == 0  ? compose_build(p, svcs, n, no_cache, &err)
             : strcmp(name, "pull") == 0 ? compose_pull(p, svcs, n, &err)
                                         : compose_push(p, svcs, n, &err);
    return rc < 0 ? fail(name, &err) : 0;
}

int compose_cmd_build(struct compose_project *p, int argc, char **argv)
{
    return images(p, "build", argc, argv);
}

int compose_cmd_pull(struct compose_project *p, int argc, char **argv)
{
    return images(p, "pull", argc, argv);
}

int compose_cmd_push(struct compose_project *p, int argc, char **argv)
{
    return images(p, "push", argc, argv);
}
