/*
 * cmd_run.c - berth run [OPTIONS] IMAGE [COMMAND [ARG...]] and
 * berth exec [OPTIONS] CONTAINER COMMAND [ARG...], with docker's options.
 * Options end at the image (or container): what follows is the command.
 * A missing image is pulled first. The exit status is the container's;
 * 125 when berth itself fails, 126 or 127 when the command cannot run.
 */
#include "builtin.h"
#include "../runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* -e KEY=VALUE; a bare KEY takes the value of ours, or is left out. */
static void env_add(char ***env, size_t *n, const char *kv)
{
    char *copy;
    if (strchr(kv, '='))
        copy = strdup(kv);
    else if (getenv(kv) && asprintf(&copy, "%s=%s", kv, getenv(kv)) < 0)
        copy = NULL;
    else if (!getenv(kv))
        return;
    char **grown = realloc(*env, (*n + 1) * sizeof **env);
    if (!grown || !copy) {
        free(copy);
        return;
    }
    *env = grown;
    (*env)[(*n)++] = copy;
}

/* docker's --env-file: KEY=VALUE lines, # comments, blank lines skipped. */
static int env_file(char ***env, size_t *n, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "berth run: cannot open env file %s: %m\n", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *kv = line + strspn(line, " \t");
        if (*kv && *kv != '#')
            env_add(env, n, kv);
    }
    free(line);
    fclose(f);
    return 0;
}

static void env_free(char **env, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(env[i]);
    free(env);
}

static int run_usage(void)
{
    fprintf(stderr,
            "usage: berth run [-d] [-i] [-t] [--rm] [--name NAME] [-e KEY=VALUE] [--env-file FILE]\n"
            "                 [-w DIR] [-u USER[:GROUP]] [--entrypoint CMD] [-v HOST:CTR[:ro]]\n"
            "                 [-p [[IP:][HOSTPORT]:]CTRPORT] [-P] [--read-only] [--network NAME|host|none]\n"
            "                 [--network-alias ALIAS]... [--security-opt OPT]...\n"
            "                 [--hostname NAME] [-m BYTES] [--cpus N] [--pids-limit N]\n"
            "                 [--log-opt max-size=SIZE] [--log-opt max-file=N]\n"
            "                 [--restart no|always|on-failure[:N]|unless-stopped] [-l KEY=VALUE]\n"
            "                 [--stop-signal SIG] [--stop-timeout N] [--health-cmd CMD]\n"
            "                 [--health-interval D] [--health-timeout D] [--health-retries N]\n"
            "                 [--health-start-period D] [--no-healthcheck]\n"
            "                 [--cap-add CAP] [--cap-drop CAP] [--ulimit TYPE=SOFT[:HARD]]\n"
            "                 [--add-host NAME:IP] [--tmpfs PATH[:OPTS]] [--shm-size SIZE]\n"
            "                 [--group-add GROUP] [--mount type=bind|volume|tmpfs,...]\n"
            "                 [--cidfile FILE] [--init]\n"
            "                 [--platform OS/ARCH] IMAGE [COMMAND [ARG...]]\n");
    return 125;
}

/* The image, pulled when it is not in the store yet. */
static int ensure_image(struct cli *g, struct berth_store *s, const char *image,
                        const char *platform)
{
    struct berr err = {0};
    if (berth_image_get(s, image, NULL, NULL, NULL, &err) == 0)
        return 0;
    if (err.code != BERR_NOTFOUND)
        return cli_fail("run", &err);
    struct berth_ref ref;
    char full[600];
    if (berth_ref_parse(image, &ref, &err) < 0)
        return cli_fail("run", &err);
    berth_ref_familiar(&ref, full, sizeof full);
    fprintf(stderr, "Unable to find image '%s:%s' locally\n", full,
            ref.tag[0] ? ref.tag : "latest");
    struct berth_client *c;
    char digest[DIGEST_MAX];
    /* an image the registry does not have, or a registry that does not
     * answer, fails at once, as docker's run: one try before the pull */
    int retries = g->opts.retries;
    g->opts.retries = -1;
    int rc = cli_client(g, &c);
    g->opts.retries = retries;
    if (rc != 0)
        return 1;
    rc = berth_manifest_head(c, &ref, ref.digest[0] ? ref.digest : ref.tag[0] ? ref.tag
                             : "latest", digest, &err);
    berth_client_free(c);
    if (rc < 0)
        return cli_fail("run", &err);
    if (cli_client(g, &c) != 0)
        return 1;
    rc = berth_pull(c, s, image, platform, digest, &err);
    berth_client_free(c);
    return rc < 0 ? cli_fail("run", &err) : 0;
}

enum { O_RM = 256, O_NAME, O_ENVFILE, O_ENTRY, O_RO, O_NET, O_HOST, O_CPUS, O_PIDS, O_PLAT,
       O_LOGOPT, O_ALIAS, O_RESTART, O_STOPSIG, O_STOPTIME, O_HCMD, O_HINT, O_HTIME, O_HRETRY,
       O_HSTART, O_NOHC, O_EXPOSE, O_SECOPT, O_HOSTOPT, O_CIDFILE };

/* A whole number for --stop-timeout, --health-retries. */
static int int_arg(const char *name, const char *s, int min, int *v, struct berr *err)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (!*s || *end || n < min || n > 1000000000)
        return berr_set(err, BERR_INVALID, "invalid argument \"%s\" for \"--%s\" flag: a "
                        "whole number from %d is expected", s, name, min);
    *v = (int)n;
    return 0;
}

int cmd_run(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"detach", no_argument, NULL, 'd'}, {"interactive", no_argument, NULL, 'i'},
        {"tty", no_argument, NULL, 't'}, {"rm", no_argument, NULL, O_RM},
        {"name", required_argument, NULL, O_NAME}, {"env", required_argument, NULL, 'e'},
        {"env-file", required_argument, NULL, O_ENVFILE},
        {"workdir", required_argument, NULL, 'w'}, {"user", required_argument, NULL, 'u'},
        {"entrypoint", required_argument, NULL, O_ENTRY},
        {"volume", required_argument, NULL, 'v'}, {"publish", required_argument, NULL, 'p'},
        {"publish-all", no_argument, NULL, 'P'},
        {"read-only", no_argument, NULL, O_RO}, {"network", required_argument, NULL, O_NET},
        {"net", required_argument, NULL, O_NET}, {"hostname", required_argument, NULL, 'h'},
        {"memory", required_argument, NULL, 'm'}, {"cpus", required_argument, NULL, O_CPUS},
        {"pids-limit", required_argument, NULL, O_PIDS},
        {"platform", required_argument, NULL, O_PLAT}, {"quiet", no_argument, NULL, 'q'},
        {"log-opt", required_argument, NULL, O_LOGOPT},
        {"network-alias", required_argument, NULL, O_ALIAS},
        {"net-alias", required_argument, NULL, O_ALIAS},
        {"restart", required_argument, NULL, O_RESTART}, {"label", required_argument, NULL, 'l'},
        {"stop-signal", required_argument, NULL, O_STOPSIG},
        {"stop-timeout", required_argument, NULL, O_STOPTIME},
        {"health-cmd", required_argument, NULL, O_HCMD},
        {"health-interval", required_argument, NULL, O_HINT},
        {"health-timeout", required_argument, NULL, O_HTIME},
        {"health-retries", required_argument, NULL, O_HRETRY},
        {"health-start-period", required_argument, NULL, O_HSTART},
        {"no-healthcheck", no_argument, NULL, O_NOHC},
        {"expose", required_argument, NULL, O_EXPOSE},
        {"security-opt", required_argument, NULL, O_SECOPT},
        /* rt_host_opt's, by their names */
        {"cap-add", required_argument, NULL, O_HOSTOPT},
        {"cap-drop", required_argument, NULL, O_HOSTOPT},
        {"ulimit", required_argument, NULL, O_HOSTOPT},
        {"add-host", required_argument, NULL, O_HOSTOPT},
        {"tmpfs", required_argument, NULL, O_HOSTOPT},
        {"shm-size", required_argument, NULL, O_HOSTOPT},
        {"group-add", required_argument, NULL, O_HOSTOPT},
        {"mount", required_argument, NULL, O_HOSTOPT},
        {"init", no_argument, NULL, O_HOSTOPT},
        {"cidfile", required_argument, NULL, O_CIDFILE}, {0},
    };
    char *labels[256], *expose[256], *secopts[16], *health_test[2] = {"CMD-SHELL", NULL}, policy[16];
    int max;
    struct rt_run_opts o = {0};
    char *aliases[64];
    size_t naliases = 0, nmodes = 0;
    struct rt_net nets[16];
    struct rt_volume vols[64];
    struct rt_port ports[64];
    const char *platform = NULL;
    struct berr err = {0};
    int c, bad = 0, idx = 0, cidfd = -1;
    o.host_config = json_object();
    opterr = 1;
    while (!bad && (c = getopt_long(argc, argv, "+ditqPe:w:u:v:p:h:m:l:", opts, &idx)) != -1) {
        switch (c) {
        case O_HOSTOPT:
            bad = rt_host_opt(o.host_config, opts[idx].name, optarg ? optarg : "", &err);
            break;
        case O_CIDFILE: o.cidfile = optarg; break;
        case 'd': o.detach = true; break;
        case 'i': o.interactive = true; break;
        case 't': o.tty = true; break;
        case 'q': g->opts.quiet = 1; break;
        case 'P': o.publish_all = true; break;
        case O_RM: o.auto_remove = true; break;
        case O_NAME: o.name = optarg; break;
        case 'e': env_add(&o.env, &o.nenv, optarg); break;
        case O_ENVFILE: bad = env_file(&o.env, &o.nenv, optarg) < 0; break;
        case 'w': o.workdir = optarg; break;
        case 'u': o.user = optarg; break;
        case O_ENTRY: o.entrypoint = optarg; break;
        case 'h': o.hostname = optarg; break;
        case O_RO: o.read_only = true; break;
        case O_PLAT: platform = optarg; break;
        case O_NET:
            if (o.nnetworks == 16)
                bad = berr_set(&err, BERR_INVALID, "too many networks");
            else if (strcmp(optarg, "host") == 0 || strcmp(optarg, "none") == 0 ||
                     strcmp(optarg, "default") == 0 || strcmp(optarg, "bridge") == 0) {
                nmodes++;
                o.network_host = o.network_host || strcmp(optarg, "host") == 0;
                o.network_none = o.network_none || strcmp(optarg, "none") == 0;
            } else   /* user-defined: rt_run checks that it exists */
                nets[o.nnetworks++] = (struct rt_net){.name = optarg};
            o.networks = nets;
            break;
        case O_ALIAS:
            if (naliases == 64)
                bad = berr_set(&err, BERR_INVALID, "too many network aliases");
            else
                aliases[naliases++] = optarg;
            break;
        case 'v':
            bad = o.nvolumes == 64 ? berr_set(&err, BERR_INVALID, "too many volumes")
                                   : rt_volume_parse(optarg, &vols[o.nvolumes++], &err);
            o.volumes = vols;
            break;
        case 'p':
            bad = o.nports == 64 ? berr_set(&err, BERR_INVALID, "too many ports")
                                 : rt_port_parse(optarg, &ports[o.nports++], &err);
            o.ports = ports;
            break;
        case 'm': bad = rt_size_parse(optarg, &o.memory, &err); break;
        case O_CPUS: bad = rt_cpus_parse(optarg, &o.cpu_quota, &err); break;
        case O_LOGOPT: bad = rt_log_opt_parse(optarg, &o, &err); break;
        case O_RESTART:
            o.restart = optarg;
            bad = rt_restart_parse(optarg, policy, &max, &err);
            break;
        case 'l':
            bad = o.nlabels == 256 ? berr_set(&err, BERR_INVALID, "too many labels")
                  : !*optarg || *optarg == '=' ? berr_set(&err, BERR_INVALID, "invalid label "
                                                          "'%s': KEY=VALUE expected", optarg)
                                               : 0;
            labels[o.nlabels++] = optarg;
            o.labels = labels;
            break;
        case O_SECOPT:
            if (o.nsecurity_opt == 16)
                bad = berr_set(&err, BERR_INVALID, "too many security options");
            else
                secopts[o.nsecurity_opt++] = optarg;
            o.security_opt = secopts;
            break;
        case O_EXPOSE:
            bad = o.nexpose == 256 ? berr_set(&err, BERR_INVALID, "too many ports to expose")
                                   : rt_expose_check(optarg, &err);
            expose[o.nexpose++] = optarg;
            o.expose = expose;
            break;
        case O_STOPSIG:
            o.stop_signal = optarg;
            if (rt_signal_parse(optarg) < 0)
                bad = berr_set(&err, BERR_INVALID, "invalid signal: %s", optarg);
            break;
        case O_STOPTIME:
            bad = int_arg("stop-timeout", optarg, -1, &o.stop_timeout, &err);
            o.stop_timeout_set = true;
            break;
        case O_HCMD:
            health_test[1] = optarg;
            o.health_test = health_test;
            o.nhealth_test = 2;
            break;
        case O_HINT: bad = rt_duration_parse(optarg, &o.health_interval, &err); break;
        case O_HTIME: bad = rt_duration_parse(optarg, &o.health_timeout, &err); break;
        case O_HSTART: bad = rt_duration_parse(optarg, &o.health_start_period, &err); break;
        case O_HRETRY: bad = int_arg("health-retries", optarg, 0, &o.health_retries, &err); break;
        case O_NOHC: o.no_healthcheck = true; break;
        case O_PIDS:
            o.pids_limit = strtoll(optarg, NULL, 10);
            if (o.pids_limit < 0 && o.pids_limit != -1)
                bad = berr_set(&err, BERR_INVALID, "invalid --pids-limit: %s", optarg);
            o.pids_limit = o.pids_limit < 0 ? 0 : o.pids_limit;
            break;
        default: bad = 1; break;
        }
    }
    int status = 125;
    if (!bad && o.no_healthcheck && o.nhealth_test > 0)
        bad = berr_set(&err, BERR_INVALID, "--no-healthcheck conflicts with --health-* options");
    /* docker's rules: host and none alone; the legacy --network-alias goes to the
     * first network only (network connect --alias gives the others theirs) */
    if (!bad && nmodes > 0 && (nmodes > 1 || o.nnetworks > 0))
        bad = berr_set(&err, BERR_INVALID, "conflicting options: cannot attach both "
                       "user-defined and non-user-defined network-modes");
    if (!bad && naliases > 0 && o.nnetworks == 0)
        bad = berr_set(&err, BERR_INVALID, "network-scoped aliases are only supported for "
                       "user-defined networks");
    if (o.nnetworks > 0) {
        nets[0].aliases = aliases;
        nets[0].naliases = naliases;
    }
    if (!bad && o.auto_remove && o.restart && strcmp(policy, "no") != 0)
        bad = berr_set(&err, BERR_INVALID, "Conflicting options: --restart and --rm");
    /* docker's daemon refuses it before the container is made */
    if (!bad && o.workdir && o.workdir[0] != '/')
        bad = berr_set(&err, BERR_INVALID, "the working directory '%s' is invalid, it needs "
                       "to be an absolute path", o.workdir);
    if (bad || optind >= argc) {
        if (err.msg[0])
            cli_fail("run", &err);
        else
            run_usage();
        goto out;
    }
    if (o.network_host && (o.nports > 0 || o.publish_all)) {
        /* the container's ports are the host's already */
        fprintf(stderr, "WARNING: Published ports are discarded when using host network mode\n");
        o.nports = 0;
        o.publish_all = false;
    }
    if (o.tty && o.interactive && !o.detach && !isatty(0)) {   /* docker's check, and status */
        fprintf(stderr, "the input device is not a TTY\n");
        status = 1;
        goto out;
    }
    /* docker refuses an existing file, and makes it before the container */
    if (o.cidfile && (cidfd = open(o.cidfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
        if (errno == EEXIST)
            fprintf(stderr, "berth run: container ID file found, make sure the other container "
                            "isn't running or delete %s\n", o.cidfile);
        else
            fprintf(stderr, "berth run: failed to create the container ID file: %s: %m\n",
                    o.cidfile);
        goto out;
    }
    o.image = argv[optind];
    o.cmd = argv + optind + 1;
    o.ncmd = argc - optind - 1;
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        goto out;
    char id[RT_ID_LEN + 1];
    id[0] = '\0';
    if (ensure_image(g, s, o.image, platform) == 0) {
        if (rt_run(s, &o, id, &status, &err) < 0) {
            if (o.detach && id[0])   /* made, then failed to start: docker prints it */
                printf("%s\n", id);
            fflush(stdout);
            fprintf(stderr, "berth run: %s\n", err.msg);
            status = status ? status : 125;
        } else if (o.detach)
            printf("%s\n", id);
    }
    berth_store_close(s);
out:
    if (cidfd >= 0) {
        struct stat st;
        /* no container was made: no id file left behind */
        if (fstat(cidfd, &st) == 0 && st.st_size == 0)
            unlink(o.cidfile);
        close(cidfd);
    }
    json_decref(o.host_config);
    for (size_t i = 0; i < o.nvolumes; i++) {
        free(vols[i].host);
        free(vols[i].ctr);
    }
    env_free(o.env, o.nenv);
    return status;
}

int cmd_exec(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"interactive", no_argument, NULL, 'i'}, {"tty", no_argument, NULL, 't'},
        {"env", required_argument, NULL, 'e'}, {"workdir", required_argument, NULL, 'w'},
        {"user", required_argument, NULL, 'u'}, {"detach", no_argument, NULL, 'd'}, {0},
    };
    struct rt_exec_opts o = {0};
    int c;
    while ((c = getopt_long(argc, argv, "+dite:w:u:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o.detach = true; break;
        case 'i': o.interactive = true; break;
        case 't': o.tty = true; break;
        case 'e': env_add(&o.env, &o.nenv, optarg); break;
        case 'w': o.workdir = optarg; break;
        case 'u': o.user = optarg; break;
        default: env_free(o.env, o.nenv); return 125;
        }
    }
    if (argc - optind < 2) {
        fprintf(stderr, "\"berth exec\" requires at least 2 arguments.\n"
                        "See 'berth exec --help'.\n\n"
                        "Usage:  berth exec [OPTIONS] CONTAINER COMMAND [ARG...]\n");
        env_free(o.env, o.nenv);
        return 1;
    }
    if (o.tty && o.interactive && !isatty(0)) {   /* as run -it */
        fprintf(stderr, "the input device is not a TTY\n");
        env_free(o.env, o.nenv);
        return 1;
    }
    o.argv = argv + optind + 1;
    struct berth_store *s;
    struct berr err = {0};
    int status = 125;
    if (cli_store(g, &s) == 0) {
        /* an unknown or stopped container: docker's daemon error, 1 */
        if (rt_exec(s, argv[optind], &o, &status, &err) < 0) {
            fprintf(stderr, "berth exec: %s\n", err.msg);
            status = 1;
        }
        berth_store_close(s);
    }
    env_free(o.env, o.nenv);
    return status;
}
