/*
 * run.c - `berth run`: from an image in the store to a started container.
 *
 * Everything that can be refused is checked before anything is made: the
 * image, its layers (unpacked once per diff-id), the published ports
 * (bound here, so a port in use fails now), the name (unique, under the
 * containers lock). Then the container's directory and state.json are
 * written and its monitor takes over: a child of its own session, which
 * reports back once the container's program has been executed (or why it
 * could not be); with -d that is all, attached this process stays its
 * client (attach.c).
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- option parsing ------------------------------------------------------------- */

int rt_volume_parse(const char *s, struct rt_volume *v, struct berr *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", s);
    char *ctr = strchr(buf, ':'), *mode = ctr ? strchr(ctr + 1, ':') : NULL;
    if (ctr)
        *ctr++ = '\0';
    if (mode)
        *mode++ = '\0';
    memset(v, 0, sizeof *v);
    if (!ctr || !*buf || !*ctr)
        return berr_set(err, BERR_INVALID, "invalid volume specification: '%s' "
                        "(expected HOST:CONTAINER[:ro|rw])", s);
    /* not a path: a named volume (docker's names) */
    bool named = buf[0] != '/';
    for (const char *c = buf; named && *c; c++)
        if (!isalnum((unsigned char)*c) && (c == buf || !strchr("_.-", *c)))
            return berr_set(err, BERR_INVALID, "create %s: \"%s\" includes invalid characters "
                            "for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are "
                            "allowed. If you intended to pass a host directory, use absolute "
                            "path", buf, buf);
    if (named && strlen(buf) < 2)
        return berr_set(err, BERR_INVALID, "invalid volume name \"%s\": at least 2 "
                        "characters are needed", buf);
    if (ctr[0] != '/' || strcmp(ctr, "/") == 0)
        return berr_set(err, BERR_INVALID, "invalid volume specification: '%s': the "
                        "container path must be absolute and not '/'", s);
    /* ro or rw, and z or Z (SELinux relabelling: no SELinux here, taken
     * and ignored), comma-separated */
    int rw = 0, label = 0;
    for (char *save = NULL, *m = mode ? strtok_r(mode, ",", &save) : NULL; m;
         m = strtok_r(NULL, ",", &save)) {
        if (strcmp(m, "ro") == 0 || strcmp(m, "rw") == 0) {
            v->ro = strcmp(m, "ro") == 0;
            rw++;
        } else if (strcmp(m, "z") == 0 || strcmp(m, "Z") == 0)
            label++;
        else
            rw = 9;
    }
    if (rw > 1 || label > 1 || (mode && !*mode))
        return berr_set(err, BERR_INVALID, "invalid mode: %s", strchr(strchr(s, ':') + 1, ':') + 1);
    if (mode)   /* as given (strtok_r cut it at its commas) */
        snprintf(v->mode, sizeof v->mode, "%s", strchr(strchr(s, ':') + 1, ':') + 1);
    v->host = strdup(buf);
    v->ctr = strdup(ctr);
    return v->host && v->ctr ? 0 : berr_set(err, BERR_IO, "out of memory");
}

int rt_size_parse(const char *s, int64_t *bytes, struct berr *err)
{
    char *end;
    double v = strtod(s, &end);
    int64_t unit = 1;
    if (end == s)
        return berr_set(err, BERR_INVALID, "invalid size: '%s'", s);
    switch (*end | 0x20) {
    case 'k': unit = 1024; end++; break;
    case 'm': unit = 1024 * 1024; end++; break;
    case 'g': unit = 1024 * 1024 * 1024; end++; break;
    case 'b': end++; break;
    default: break;
    }
    if ((*end | 0x20) == 'b' && unit > 1)
        end++;
    if (*end || !(v >= 0) || v * (double)unit > 9e18)
        return berr_set(err, BERR_INVALID, "invalid size: '%s'", s);
    *bytes = (int64_t)(v * (double)unit);
    if (*bytes > 0 && *bytes < 6 * 1024 * 1024)
        return berr_set(err, BERR_INVALID, "Minimum memory limit allowed is 6MB");
    return 0;
}

int rt_cpus_parse(const char *s, int64_t *quota, struct berr *err)
{
    char *end;
    double v = strtod(s, &end);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (end == s || *end || !(v >= 0.01) || v > (double)ncpu)
        return berr_set(err, BERR_INVALID, "Range of CPUs is from 0.01 to %ld.00, as there "
                        "are only %ld CPUs available", ncpu, ncpu);
    *quota = (int64_t)(v * 100000 + 0.5);
    return 0;
}

/* go-units' FromHumanSize, which docker's json-file uses: "64k", "1.5m",
 * "10 MB", "1gib": k, m, g, t, p are powers of 1000 whatever follows. */
static int human_size(const char *s, int64_t *bytes)
{
    static const char units[] = "kmgtp";
    if (!isdigit((unsigned char)*s))
        return -1;
    char *end;
    double v = strtod(s, &end), unit = 1;
    if (*end == ' ')
        end++;
    const char *u = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
    if (u) {
        for (const char *k = units; k <= u; k++)
            unit *= 1000;
        end++;
    }
    if ((*end | 0x20) == 'i')
        end++;
    if ((*end | 0x20) == 'b')
        end++;
    if (*end || !(v * unit >= 1) || v * unit > 4e18)
        return -1;
    *bytes = (int64_t)(v * unit);
    return 0;
}

int rt_log_opt_parse(const char *s, struct rt_run_opts *o, struct berr *err)
{
    const char *eq = strchr(s, '=');
    size_t k = eq ? (size_t)(eq - s) : strlen(s);
    if (!eq)
        return berr_set(err, BERR_INVALID, "invalid log opt '%s': expected KEY=VALUE", s);
    if (k == 8 && strncmp(s, "max-size", k) == 0) {
        if (human_size(eq + 1, &o->log_max_size) < 0)
            return berr_set(err, BERR_INVALID, "invalid log opt max-size '%s': a positive "
                            "size is expected (10k, 10m, 1g)", eq + 1);
        return 0;
    }
    if (k == 8 && strncmp(s, "max-file", k) == 0) {
        char *end;
        long n = strtol(eq + 1, &end, 10);
        if (!isdigit((unsigned char)eq[1]) || *end || n < 1 || n > 10000)
            return berr_set(err, BERR_INVALID, "invalid log opt max-file '%s': a number from "
                            "1 to 10000 is expected", eq + 1);
        o->log_max_file = (int)n;
        return 0;
    }
    return berr_set(err, BERR_INVALID, "unknown log opt '%.*s' for json-file log driver "
                    "(berth knows max-size and max-file)", (int)k, s);
}

/* ---- the container's files ------------------------------------------------------- */

static void container_id(char id[RT_ID_LEN + 1])
{
    unsigned char r[RT_ID_LEN / 2];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)rand();
    size_t n = 0;
    for (size_t i = 0; i < sizeof r; i++)
        buf_appendf(id, RT_ID_LEN + 1, &n, "%02x", r[i]);
}

/* docker's kind of name: adjective_surname */
static void container_name(char *out, size_t len)
{
    static const char *const adj[] = {
        "brave", "calm", "eager", "fervent", "gentle", "happy", "jolly", "keen", "lucid",
        "merry", "nifty", "quirky", "serene", "sharp", "tender", "vivid", "wizardly", "zen"};
    static const char *const who[] = {
        "babbage", "curie", "dijkstra", "euler", "fermi", "gauss", "hopper", "kepler",
        "lamport", "lovelace", "noether", "pascal", "ritchie", "shannon", "thompson",
        "turing", "wozniak", "yalow"};
    unsigned r[3];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        r[0] = r[1] = r[2] = (unsigned)rand();
    snprintf(out, len, "%s_%s_%u", adj[r[0] % 18], who[r[1] % 18], r[2] % 100);
}

static int write_file(const char *dir, const char *name, const char *text, struct berr *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, text, strlen(text)) < 0) {
        if (fd >= 0)
            close(fd);
        return berr_set(err, BERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    close(fd);
    return 0;
}

static int etc_files(const char *dir, const char *hostname, bool host_net, struct berr *err)
{
    char hosts[1024], *resolv = NULL, line[600];
    size_t n = 0;
    FILE *f = fopen("/etc/resolv.conf", "re");
    if (!f || getdelim(&resolv, &n, '\0', f) < 0) {
        free(resolv);
        resolv = NULL;
    }
    if (f)
        fclose(f);
    if (host_net) {
        f = fopen("/etc/hosts", "re");
        size_t len = f ? fread(hosts, 1, sizeof hosts - 1, f) : 0;
        hosts[len] = '\0';
        if (f)
            fclose(f);
    } else
        snprintf(hosts, sizeof hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                 "ip6-loopback\n127.0.0.1\t%s\n", hostname);
    snprintf(line, sizeof line, "%s\n", hostname);
    int rc = write_file(dir, "hosts", hosts, err);
    if (rc == 0)
        rc = write_file(dir, "hostname", line, err);
    if (rc == 0)
        rc = write_file(dir, "resolv.conf", resolv ? resolv : "", err);
    free(resolv);
    return rc;
}

/* ---- the state document ---------------------------------------------------------- */

static json_t *strings(char **v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* KEY=VALUE into env: replacing one of the same KEY when `replace`, else
 * only when it has none. */
static void env_set(json_t *env, const char *kv, bool replace)
{
    size_t j;
    json_t *v;
    if (!kv)
        return;
    json_array_foreach(env, j, v)
        if (env_key_len(json_string_value(v)) == env_key_len(kv) &&
            strncmp(json_string_value(v), kv, env_key_len(kv)) == 0)
            break;
    if (j == json_array_size(env))
        json_array_append_new(env, json_string(kv));
    else if (replace)
        json_array_set_new(env, j, json_string(kv));
}

/* The command line's variables, then the image's that they do not name:
 * only these, in docker's order (its daemon merges them so); HOSTNAME,
 * TERM and a missing PATH are the process's, added when it starts. */
static json_t *env_merge(json_t *image_env, char **add, size_t n)
{
    json_t *env = json_array(), *v;
    for (size_t k = 0; k <= n; k++) {
        size_t i;
        json_array_foreach(k < n ? NULL : image_env, i, v)
            env_set(env, json_string_value(v), false);
        if (k < n)
            env_set(env, add[k], true);
    }
    return env;
}

/* The image's Labels with the command line's KEY=VALUE on top. */
static json_t *labels_merge(json_t *image, char **add, size_t n)
{
    json_t *labels = json_object();
    if (json_is_object(image))
        json_object_update(labels, image);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(add[i], '=');
        char key[1024];
        snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - add[i]) : (int)strlen(add[i]), add[i]);
        json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
    }
    return labels;
}

/* The image's HEALTHCHECK with the command line's fields on top, as
 * docker merges them; NULL when there is none at all. */
static json_t *healthcheck_merge(const struct rt_run_opts *o, json_t *image)
{
    json_t *hc = json_is_object(image) ? json_deep_copy(image) : json_object();
    if (o->no_healthcheck)
        json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
    else if (o->nhealth_test > 0)
        json_object_set_new(hc, "Test", strings(o->health_test, (int)o->nhealth_test));
    const struct { const char *key; int64_t v; } set[] = {
        {"Interval", o->health_interval}, {"Timeout", o->health_timeout},
        {"StartPeriod", o->health_start_period}, {"Retries", o->health_retries}};
    for (size_t i = 0; i < sizeof set / sizeof *set; i++)
        if (set[i].v > 0)
            json_object_set_new(hc, set[i].key, json_integer((json_int_t)set[i].v));
    if (!json_object_get(hc, "Test")) {
        json_decref(hc);
        return json_null();
    }
    return hc;
}

/* "80", "8000-8010", "53/udp": the first and last port and the protocol. */
static bool expose_split(const char *s, long *lo, long *hi, const char **proto)
{
    char *end;
    *proto = "tcp";
    *lo = *hi = strtol(s, &end, 10);
    if (*end == '-' && end[1] != '-')
        *hi = strtol(end + 1, &end, 10);
    if (*end == '/' && (strcmp(end + 1, "tcp") == 0 || strcmp(end + 1, "udp") == 0))
        *proto = end + 1;
    else if (*end)
        return false;
    return end != s && *lo >= 1 && *hi <= 65535 && *lo <= *hi;
}

int rt_expose_check(const char *s, struct berr *err)
{
    long lo, hi;
    const char *proto;
    return expose_split(s, &lo, &hi, &proto)
               ? 0 : berr_set(err, BERR_INVALID, "invalid port to expose: \"%.40s\" "
                              "(expected PORT[-PORT][/tcp|udp])", s);
}

/* The image's ExposedPorts, those of --expose and the published ones, as
 * docker lists them: {"80/tcp": {}, ...}. */
static json_t *exposed_ports(const struct rt_run_opts *o, json_t *image)
{
    json_t *ports = json_deep_copy(json_object_get(image, "ExposedPorts"));
    if (!json_is_object(ports)) {
        json_decref(ports);
        ports = json_object();
    }
    char key[32];
    for (size_t i = 0; i < o->nexpose; i++) {
        long lo = 1, hi = 0;
        const char *proto;
        if (!expose_split(o->expose[i], &lo, &hi, &proto))
            continue;   /* refused before: rt_expose_check */
        for (long p = lo; p <= hi; p++) {
            snprintf(key, sizeof key, "%ld/%s", p, proto);
            json_object_set_new(ports, key, json_object());
        }
    }
    for (size_t i = 0; i < o->nports; i++) {
        snprintf(key, sizeof key, "%u/tcp", o->ports[i].ctr_port);
        json_object_set_new(ports, key, json_object());
    }
    return ports;
}

static json_t *make_config(const struct rt_run_opts *o, json_t *image, const char *hostname)
{
    json_t *ep = json_object_get(image, "Entrypoint"), *cmd = json_object_get(image, "Cmd");
    ep = o->entrypoint ? (*o->entrypoint ? json_pack("[s]", o->entrypoint) : json_null())
                       : json_incref(ep ? ep : json_null());
    if (o->ncmd > 0)
        cmd = strings(o->cmd, o->ncmd);
    else   /* --entrypoint drops the image's Cmd, as docker does */
        cmd = o->entrypoint || !cmd ? json_null() : json_incref(cmd);
    const char *wd = json_string_value(json_object_get(image, "WorkingDir"));
    const char *user = json_string_value(json_object_get(image, "User"));
    json_t *stop = o->stop_signal ? json_string(o->stop_signal)
                                  : json_incref(json_object_get(image, "StopSignal"));
    json_t *config = json_pack("{s:s,s:s,s:o,s:o,s:o,s:s,s:s,s:b,s:b,s:o,s:o,s:o}",
                     "Hostname", hostname, "User", o->user ? o->user : user ? user : "",
                     "Env", env_merge(json_object_get(image, "Env"), o->env, o->nenv),
                     "Cmd", cmd, "Entrypoint", ep,
                     "WorkingDir", o->workdir ? o->workdir : wd ? wd : "",
                     "Image", o->image, "Tty", o->tty, "OpenStdin", o->interactive,
                     "Labels", labels_merge(json_object_get(image, "Labels"), o->labels,
                                            o->nlabels),
                     "StopSignal", stop ? stop : json_null(),
                     "Healthcheck", healthcheck_merge(o, json_object_get(image, "Healthcheck")));
    /* what the client attached to, as docker records it: nothing with -d */
    json_object_set_new(config, "AttachStdin", json_boolean(o->interactive && !o->detach));
    json_object_set_new(config, "AttachStdout", json_boolean(!o->detach));
    json_object_set_new(config, "AttachStderr", json_boolean(!o->detach));
    json_object_set_new(config, "StdinOnce", json_boolean(o->interactive && !o->detach));
    json_t *timeout = json_object_get(image, "StopTimeout");
    if (o->stop_timeout_set)
        json_object_set_new(config, "StopTimeout", json_integer(o->stop_timeout));
    else if (json_is_integer(timeout))
        json_object_set(config, "StopTimeout", timeout);
    if (json_is_null(json_object_get(config, "Healthcheck")))
        json_object_del(config, "Healthcheck");
    json_t *exposed = exposed_ports(o, image);
    if (json_object_size(exposed))
        json_object_set(config, "ExposedPorts", exposed);
    json_decref(exposed);
    return config;
}

static json_t *make_state(struct rt_container *c, json_t *image_config, json_t *manifest,
                          json_t *layers)
{
    const struct rt_run_opts *o = c->o;
    char now[64], path[4200];
    rfc3339_now(now, sizeof now);
    json_t *config = make_config(o, image_config, c->root.hostname);
    json_t *args = json_array();
    json_array_extend(args, json_object_get(config, "Entrypoint"));
    json_array_extend(args, json_object_get(config, "Cmd"));
    json_t *path0 = json_array_size(args) ? json_incref(json_array_get(args, 0))
                                          : json_string("");
    json_array_remove(args, 0);
    json_t *binds = json_array(), *mounts = json_array();
    for (size_t k = 0; k < o->nvolumes; k++) {
        const struct rt_volume *vol = &o->volumes[k];
        char bind[8300];
        snprintf(bind, sizeof bind, "%s:%s%s%s", vol->name ? vol->name : vol->host, vol->ctr,
                 vol->mode[0] ? ":" : vol->ro ? ":ro" : "", vol->mode);
        if (!vol->mount)
            json_array_append_new(binds, json_string(bind));
        json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "Type", vol->name ? "volume" : "bind",
                              "Source", vol->host, "Destination", vol->ctr,
                              "Mode", vol->mount ? "" : vol->mode, "RW", !vol->ro,
                              "Propagation", vol->name ? "" : "rprivate");
        if (vol->name) {
            json_object_set_new(m, "Name", json_string(vol->name));
            json_object_set_new(m, "Driver", json_string("local"));
        }
        json_array_append_new(mounts, m);
    }
    size_t k;
    json_t *tm;
    json_array_foreach(json_object_get(o->host_config, "Mounts"), k, tm)
        if (strcmp(json_string_value(json_object_get(tm, "Type")) ?: "", "tmpfs") == 0)
            json_array_append_new(mounts, json_pack(
                "{s:s,s:s,s:s,s:s,s:b,s:s}", "Type", "tmpfs", "Source", "", "Destination",
                json_string_value(json_object_get(tm, "Target")) ?: "", "Mode", "", "RW",
                !json_is_true(json_object_get(tm, "ReadOnly")), "Propagation", ""));
    snprintf(path, sizeof path, "%s/log.json", c->dir);
    const char *image = json_string_value(json_object_get(json_object_get(manifest, "config"),
                                                          "digest"));
    json_t *state = json_pack(
        "{s:s,s:s,s:o,s:o,s:s,s:s,s:s,"
        "s:{s:s,s:b,s:b,s:b,s:b,s:b,s:i,s:i,s:s,s:s,s:s},"
        "s:o,s:{s:o,s:s,s:o,s:b,s:b,s:b,s:I,s:I,s:o},s:o,s:{s:o},s:{s:O}}",
        "Id", c->id, "Created", now, "Path", path0, "Args", args, "Name", "/",
        "Image", image ? image : "", "LogPath", path,
        "State", "Status", "created", "Running", 0, "Paused", 0, "Restarting", 0,
        "OOMKilled", 0, "Dead", 0, "Pid", 0, "ExitCode", 0, "Error", "",
        "StartedAt", "0001-01-01T00:00:00Z", "FinishedAt", "0001-01-01T00:00:00Z",
        "Config", config,
        "HostConfig", "Binds", binds, "NetworkMode",
        o->network_host ? "host" : o->network_none ? "none"
        : o->nnetworks ? o->networks[0].name : "default",
        "PortBindings", ports_json(o->ports, o->nports, true), "PublishAllPorts",
        o->publish_all, "AutoRemove", o->auto_remove, "ReadonlyRootfs", o->read_only,
        "Memory", (json_int_t)o->memory, "NanoCpus", (json_int_t)o->cpu_quota * 10000,
        /* null when unset, as docker's */
        "PidsLimit", o->pids_limit ? json_integer((json_int_t)o->pids_limit) : json_null(),
        "Mounts", mounts, "NetworkSettings", "Ports", ports_json(o->ports, o->nports, false),
        "Berth", "Layers", layers);
    /* the limits in force, in docker's words */
    char size[32], files[16];
    const char *unit = "gmk";
    int64_t n = o->log_max_size, scale = 1000000000;
    for (; *unit && n % scale != 0; unit++)
        scale /= 1000;
    if (*unit)
        snprintf(size, sizeof size, "%lld%c", (long long)(n / scale), *unit);
    else
        snprintf(size, sizeof size, "%lld", (long long)n);
    snprintf(files, sizeof files, "%d", o->log_max_file);
    char policy[16] = "no";
    int max = 0;
    struct berr ignored = {0};
    if (o->restart)
        rt_restart_parse(o->restart, policy, &max, &ignored);
    json_object_set_new(json_object_get(state, "HostConfig"), "RestartPolicy",
                        json_pack("{s:s,s:i}", "Name", policy, "MaximumRetryCount", max));
    json_object_set_new(state, "RestartCount", json_integer(0));
    json_t *secopt = o->nsecurity_opt ? json_array() : json_null();
    for (size_t i = 0; i < o->nsecurity_opt; i++)
        json_array_append_new(secopt, json_string(o->security_opt[i]));
    json_object_set_new(json_object_get(state, "HostConfig"), "SecurityOpt", secopt);
    /* docker's defaults, then what rt_host_opt made of the command line */
    json_t *hc = json_object_get(state, "HostConfig");
    json_object_set_new(hc, "ShmSize", json_integer(64 * 1024 * 1024));
    for (const char *const *key = (const char *const[]){"CapAdd", "CapDrop", "ExtraHosts",
                                                         "GroupAdd", NULL};
         *key; key++)
        json_object_set_new(hc, *key, json_null());
    json_object_set_new(hc, "Ulimits", json_array());   /* Init: absent, as docker's */
    if (json_is_object(o->host_config))
        json_object_update(hc, o->host_config);
    json_object_set_new(json_object_get(state, "HostConfig"), "LogConfig",
                        json_pack("{s:s,s:{s:s,s:s}}", "Type", "json-file", "Config",
                                  "max-size", size, "max-file", files));
    return state;
}

/* ---- run ----------------------------------------------------------------------------- */

/* Unpack every layer; `names` gets their directory names, bottom first. */
static int unpack_layers(struct berth_store *s, json_t *manifest, json_t *config,
                         const char *layers_dir, json_t *names, struct berr *err)
{
    json_t *layers = json_object_get(manifest, "layers");
    json_t *diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
    if (json_array_size(layers) != json_array_size(diffs))
        return berr_set(err, BERR_INVALID, "the image's config lists %zu layers, its manifest "
                        "%zu", json_array_size(diffs), json_array_size(layers));
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l) {
        const char *digest = json_string_value(json_object_get(l, "digest"));
        const char *diff = json_string_value(json_array_get(diffs, i));
        if (!digest || !digest_valid(digest) || !diff || !digest_valid(diff))
            return berr_set(err, BERR_INVALID, "the image's layer %zu has no valid digest", i);
        char blob[4096], dir[4096];
        berth_blob_path(s, digest, blob, sizeof blob);
        int rc = layer_unpack(layers_dir, blob, diff, dir, sizeof dir, err);
        if (rc < 0)
            return rc;
        json_array_append_new(names, json_string(strrchr(dir, '/') + 1));
    }
    return 0;
}

int rt_image_layers(struct berth_store *s, const char *image, char ***dirs, size_t *n,
                    struct berr *err)
{
    json_t *manifest = NULL, *config = NULL, *names = json_array();
    char layers_dir[4096];
    snprintf(layers_dir, sizeof layers_dir, "%s/layers", berth_store_root(s));
    *dirs = NULL;
    *n = 0;
    int rc = berth_image_get(s, image, &manifest, &config, NULL, err);
    if (rc == 0)
        rc = rt_image_config_check(config, err);
    if (rc == 0)
        rc = unpack_layers(s, manifest, config, layers_dir, names, err);
    char **v = rc == 0 ? calloc(json_array_size(names) + 1, sizeof *v) : NULL;
    if (rc == 0 && !v)
        rc = berr_set(err, BERR_IO, "out of memory");
    size_t i;
    json_t *name;
    json_array_foreach(rc == 0 ? names : NULL, i, name) {
        if (asprintf(&v[i], "%s/%s", layers_dir, json_string_value(name)) < 0) {
            v[i] = NULL;
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            v = NULL;
            rc = berr_set(err, BERR_IO, "out of memory");
            break;
        }
    }
    if (rc == 0) {
        *dirs = v;
        *n = json_array_size(names);
    }
    json_decref(names);
    json_decref(manifest);
    json_decref(config);
    return rc;
}

/* docker's container names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
static bool name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 2 || n > 255 || !isalnum((unsigned char)name[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
            return false;
    return true;
}

/* Under the containers lock: the name is free, the directory made. */
static int create(struct rt_container *c, const char *name, struct berr *err)
{
    char name_buf[128];
    if (name && !name_valid(name))
        return berr_set(err, BERR_INVALID, "Invalid container name (%s), only "
                        "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
    int lock = state_lock(c->s);
    if (lock < 0)
        return berr_set(err, BERR_IO, "cannot lock the containers directory");
    for (int tries = 0;; tries++) {
        if (!name) {
            container_name(name_buf, sizeof name_buf);
            name = name_buf;
        }
        json_t *other;
        char other_id[RT_ID_LEN + 1];
        struct berr e2 = {0};
        if (state_find(c->s, name, other_id, &other, &e2) == 0 &&
            strcmp(json_string_value(json_object_get(other, "Name")) + 1, name) == 0) {
            json_decref(other);
            if (name == name_buf && tries < 10) {
                name = NULL;
                continue;
            }
            close(lock);
            return berr_set(err, BERR_CONFLICT, "Conflict. The container name \"/%s\" is "
                            "already in use by container \"%s\". You have to remove (or "
                            "rename) that container to be able to reuse that name.",
                            name, other_id);
        }
        break;
    }
    char sub[4200];
    int rc = 0;
    for (const char *const *d = (const char *const[]){"upper", "work", "rootfs", "empty", NULL};
         *d && rc == 0; d++) {
        snprintf(sub, sizeof sub, "%s/%s", c->dir, *d);
        if (mkdir_p(sub, 0755) < 0)
            rc = berr_set(err, BERR_IO, "cannot create %s: %s", sub, strerror(errno));
    }
    if (rc == 0)
        rc = etc_files(c->dir, c->root.hostname, c->o->network_host, err);
    /* its monitor's lock, taken before the container can be seen: a
     * `start` racing this run finds it held and leaves the container to
     * the monitor forked from here (which inherits it) */
    if (rc == 0)
        c->monitor_lock = monitor_lock(c->dir);
    if (rc == 0) {
        char slash[300];
        snprintf(slash, sizeof slash, "/%s", name);
        json_object_set_new(c->state, "Name", json_string(slash));
        rc = state_write(c->s, c->id, c->state, err);
    }
    if (rc < 0) {
        if (c->monitor_lock >= 0)
            close(c->monitor_lock);
        c->monitor_lock = -1;
        rmtree(c->dir);
    }
    close(lock);
    return rc;
}

/* -d: the monitor in a session of its own; wait for its word on the start. */
int run_detached(struct rt_container *c, int *status, struct berr *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return berr_set(err, BERR_IO, "pipe: %s", strerror(errno));
    /* taken before the fork, so that the container is never without a
     * live monitor's lock: `rm -f` in between would take its directory
     * from under a monitor about to start it */
    if (c->monitor_lock < 0)
        c->monitor_lock = monitor_lock(c->dir);
    pid_t pid = fork();
    if (pid < 0)
        return berr_set(err, BERR_IO, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(p[0]);
        setsid();
        int null = open("/dev/null", O_RDWR);
        for (int i = 0; i < 3; i++)
            dup2(null, i);
        if (chdir("/") < 0)
            _exit(125);
        int st = 125;
        struct berr e2 = {0};
        if (monitor_run(c, false, p[1], &st, &e2) < 0 && st == 0)
            st = 125;
        _exit(st);
    }
    close(p[1]);
    if (c->monitor_lock >= 0)   /* the monitor's now */
        close(c->monitor_lock);
    c->monitor_lock = -1;
    char msg[1100];
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof msg - 1 && (r = read(p[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0)
        n += r;
    close(p[0]);
    msg[n > 0 ? n : 0] = '\0';
    if (n <= 0 || msg[0] != '\0') {
        *status = n > 0 ? (unsigned char)msg[0] : 125;
        if (n <= 0)   /* the monitor died before it could say */
            waitpid(pid, NULL, 0);
        return berr_set(err, BERR_INVALID, "%s", n > 1 ? msg + 1 : "the container's monitor "
                        "failed to start");
    }
    *status = 0;
    return 0;
}

int rt_run(struct berth_store *s, const struct rt_run_opts *o, char id[RT_ID_LEN + 1],
           int *status, struct berr *err)
{
    json_t *manifest = NULL, *config = NULL;
    *status = 125;
    id[0] = '\0';   /* set once the container exists, even if it fails to start */
    /* logs are bounded unless said otherwise (docker's json-file is not):
     * 5 files of 20 MB, as docker's local driver keeps; a max-size alone
     * keeps one file, as json-file does */
    struct rt_run_opts with_defaults = *o;
    if (o->log_max_file <= 0)
        with_defaults.log_max_file = o->log_max_size > 0 ? 1 : 5;
    if (o->log_max_size <= 0)
        with_defaults.log_max_size = 20 * 1000 * 1000;
    o = &with_defaults;
    int rc = rt_exe_require_sealed(err);
    char policy[16];
    int max;
    if (rc == 0 && o->restart)
        rc = rt_restart_parse(o->restart, policy, &max, err);
    if (rc == 0 && o->restart && o->auto_remove && strcmp(policy, "no") != 0)
        rc = berr_set(err, BERR_INVALID, "Conflicting options: --restart and --rm");
    const char *sig = o->stop_signal;
    if (rc == 0 && sig && rt_signal_parse(sig) < 0)
        rc = berr_set(err, BERR_INVALID, "Invalid signal: %s", sig);
    if (rc == 0 && o->stop_timeout_set && o->stop_timeout < -1)
        rc = berr_set(err, BERR_INVALID, "invalid --stop-timeout: %d", o->stop_timeout);
    for (size_t i = 0; rc == 0 && i < o->nlabels; i++)
        if (o->labels[i][0] == '=' || o->labels[i][0] == '\0')
            rc = berr_set(err, BERR_INVALID, "invalid label '%s': a KEY=VALUE is expected",
                          o->labels[i]);
    if (rc == 0 && (o->health_retries < 0 || o->health_interval < 0 || o->health_timeout < 0 ||
                    o->health_start_period < 0))
        rc = berr_set(err, BERR_INVALID, "health check values must not be negative");
    const struct { const char *what; int64_t v; } durations[] = {
        {"Interval", o->health_interval}, {"Timeout", o->health_timeout},
        {"StartPeriod", o->health_start_period}};
    for (size_t i = 0; rc == 0 && i < sizeof durations / sizeof *durations; i++)
        if (durations[i].v > 0 && durations[i].v < 1000000)   /* docker's floor */
            rc = berr_set(err, BERR_INVALID, "%s in Healthcheck cannot be less than 1ms",
                          durations[i].what);
    json_t *secopt = json_array();
    for (size_t i = 0; i < o->nsecurity_opt; i++)
        json_array_append_new(secopt, json_string(o->security_opt[i] ?: ""));
    if (rc == 0)
        rc = rt_security_opts(secopt, NULL, err);
    json_decref(secopt);
    if (rc == 0)
        rc = berth_image_get(s, o->image, &manifest, &config, NULL, err);
    if (rc < 0)
        return rc;
    struct rt_container c = {.s = s, .o = o, .pin = -1, .monitor_lock = -1, .term = -1};
    char layers_dir[4096], hostname[256];
    snprintf(layers_dir, sizeof layers_dir, "%s/layers", berth_store_root(s));
    json_t *layers = json_array();
    int listeners[64];
    size_t nlisteners = 0;
    /* a config of the wrong shape is refused before any of it is read */
    rc = rt_image_config_check(config, err);
    if (rc == 0)
        rc = net_check(s, o, err);
    /* held from before the layers are looked at until the overlay is
     * mounted on them (the monitor lets go), so that a prune cannot take
     * them away in between */
    if (rc == 0 && (c.pin = rt_layers_pin(s, err)) < 0)
        rc = c.pin;
    if (rc == 0)
        rc = unpack_layers(s, manifest, config, layers_dir, layers, err);
    /* a copy, where the random ports get their numbers (and -P its ports) */
    struct rt_port ports[64];
    if (rc == 0 && o->nports > 64)
        rc = berr_set(err, BERR_INVALID, "too many published ports");
    if (rc == 0) {
        for (size_t i = 0; i < o->nports; i++)
            ports[i] = o->ports[i];
        with_defaults.ports = ports;
    }
    if (rc == 0 && o->publish_all && !o->network_host) {
        json_t *exposed = exposed_ports(o, json_object_get(config, "config"));
        rc = ports_publish_all(ports, &with_defaults.nports, 64, exposed, err);
        json_decref(exposed);
    }
    for (size_t i = 0; rc == 0 && !o->network_host && i < o->nports; i++) {
        rc = ports_listen(&ports[i], err);
        if (rc >= 0)
            listeners[nlisteners++] = rc, rc = 0;
    }
    /* named volumes made, --mount's binds and volumes with the -v ones */
    struct host_binds *binds = calloc(1, sizeof *binds);
    if (rc == 0 && !binds)
        rc = berr_set(err, BERR_IO, "out of memory");
    if (rc == 0)
        rc = host_binds_make(s, o->volumes, o->nvolumes, o->host_config, binds, err);
    if (rc == 0) {
        with_defaults.volumes = binds->v;
        with_defaults.nvolumes = binds->n;
    }
    for (size_t i = 0; rc == 0 && i < o->nvolumes; i++)
        if (mkdir_p(o->volumes[i].host, 0755) < 0 && errno != EEXIST)   /* as docker -v */
            rc = berr_set(err, BERR_INVALID, "invalid mount config: cannot create bind source "
                          "path %s: %s", o->volumes[i].host, strerror(errno));
    if (rc < 0)
        goto out;

    container_id(c.id);
    snprintf(id, RT_ID_LEN + 1, "%s", c.id);
    state_dir(s, c.id, c.dir, sizeof c.dir);
    if (o->hostname)
        snprintf(hostname, sizeof hostname, "%s", o->hostname);
    else if (o->network_host)
        gethostname(hostname, sizeof hostname);
    else
        snprintf(hostname, sizeof hostname, "%.12s", c.id);
    char **lower = calloc(json_array_size(layers) + 1, sizeof *lower);
    size_t i;
    json_t *v;
    json_array_foreach(layers, i, v)
        lower[i] = (char *)json_string_value(v);
    c.root = (struct rt_rootfs){.layers = layers_dir, .lower = lower,
                                .nlower = json_array_size(layers), .dir = c.dir,
                                .hostname = hostname, .volumes = o->volumes,
                                .nvolumes = o->nvolumes, .read_only = o->read_only,
                                .network_host = o->network_host};
    c.listeners = listeners;
    c.state = make_state(&c, json_object_get(config, "config"), manifest, layers);
    rc = create(&c, o->name, err);
    if (rc < 0)
        id[0] = '\0';
    if (rc == 0)
        host_etc_hosts(c.dir, o->host_config);
    if (rc == 0 && o->cidfile) {   /* made (empty, exclusively) by the caller */
        int fd = open(o->cidfile, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || write_all(fd, c.id, strlen(c.id)) < 0)
            fprintf(stderr, "WARNING: cannot write the container ID file %s: %s\n",
                    o->cidfile, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (rc == 0)
        rc = o->detach ? run_detached(&c, status, err)
                       : run_attached(&c, status, err);
    json_decref(c.state);
    free(lower);
out:
    if (binds) {
        host_binds_free(binds);
        free(binds);
    }
    if (c.pin >= 0)
        close(c.pin);
    for (size_t k = 0; k < nlisteners; k++)
        close(listeners[k]);
    json_decref(layers);
    json_decref(manifest);
    json_decref(config);
    return rc;
}
