/*
 * hostopts.c - docker's run options that shape a container beyond its
 * image and command: --cap-add/--cap-drop, --ulimit, --add-host, --tmpfs,
 * --shm-size, --group-add, --init and --mount.
 *
 * The command line is parsed into HostConfig's fields in docker's shape
 * (CapAdd, Ulimits, ExtraHosts, Tmpfs, ShmSize, GroupAdd, Init, Mounts),
 * which state.json keeps: a `start` applies them again from there, and
 * `inspect` shows them where docker does. The container's first process
 * (and an exec, which gets the same capabilities, limits and groups)
 * reads them back: host_process for what the process is, host_mounts
 * for the tmpfs mounts inside its root, host_binds for the directories
 * of the host and the named volumes it mounts.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const cap_names[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
    "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
};
#define NCAPS (int)(sizeof cap_names / sizeof *cap_names)

static const struct {
    const char *name;
    int resource;
} ulimits[] = {
    {"core", RLIMIT_CORE}, {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE}, {"locks", RLIMIT_LOCKS}, {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE}, {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC}, {"rss", RLIMIT_RSS}, {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
};
#define NULIMITS (sizeof ulimits / sizeof *ulimits)

/* "NET_ADMIN", "CAP_NET_ADMIN", any case: its number, NCAPS for ALL, -1. */
static int cap_lookup(const char *s)
{
    char up[64];
    size_t n = 0;
    for (; s[n] && n < sizeof up - 1; n++)
        up[n] = (char)toupper((unsigned char)s[n]);
    up[n] = '\0';
    const char *name = strncmp(up, "CAP_", 4) == 0 ? up + 4 : up;
    if (strcmp(up, "ALL") == 0)
        return NCAPS;
    for (int i = 0; i < NCAPS; i++)
        if (strcmp(name, cap_names[i]) == 0)
            return i;
    return -1;
}

/* Add `v` to the array `key` of host, creating it. */
static void append(json_t *host, const char *key, json_t *v)
{
    json_t *a = json_object_get(host, key);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(host, key, a);
    }
    json_array_append_new(a, v);
}

/* A size as --shm-size takes it (rt_size_parse's, without -m's floor). */
static bool size_arg(const char *s, int64_t *n)
{
    struct berr e = {0};
    *n = 0;
    return (rt_size_parse(s, n, &e) == 0 || strstr(e.msg, "Minimum")) && *n > 0;
}

static int bad_arg(struct berr *err, const char *opt, const char *value, const char *why)
{
    return berr_set(err, BERR_INVALID, "invalid argument \"%s\" for \"--%s\" flag: %s", value,
                    opt, why);
}

static int parse_ulimit(json_t *host, const char *s, struct berr *err)
{
    const char *eq = strchr(s, '=');
    char why[200];
    if (!eq) {
        snprintf(why, sizeof why, "invalid ulimit argument: %s", s);
        return bad_arg(err, "ulimit", s, why);
    }
    size_t k = (size_t)(eq - s), i;
    for (i = 0; i < NULIMITS; i++)
        if (strlen(ulimits[i].name) == k && strncmp(ulimits[i].name, s, k) == 0)
            break;
    if (i == NULIMITS) {
        snprintf(why, sizeof why, "invalid ulimit type: %.*s", (int)k, s);
        return bad_arg(err, "ulimit", s, why);
    }
    char *end;
    errno = 0;
    long long soft = strtoll(eq + 1, &end, 10), hard = soft;
    if (end == eq + 1 || errno || (*end && *end != ':')) {
        snprintf(why, sizeof why, "strconv.ParseInt: parsing \"%.*s\": invalid syntax",
                 (int)strcspn(eq + 1, ":"), eq + 1);
        return bad_arg(err, "ulimit", s, why);
    }
    if (*end == ':') {
        const char *h = end + 1;
        hard = strtoll(h, &end, 10);
        if (end == h || *end || errno) {
            snprintf(why, sizeof why, "strconv.ParseInt: parsing \"%s\": invalid syntax", h);
            return bad_arg(err, "ulimit", s, why);
        }
    }
    if (soft > hard) {
        snprintf(why, sizeof why, "ulimit soft limit must be less than or equal to hard "
                 "limit: %lld > %lld", soft, hard);
        return bad_arg(err, "ulimit", s, why);
    }
    /* a later one of the same name replaces it, as docker's do */
    json_t *a = json_object_get(host, "Ulimits"), *u;
    size_t j;
    json_array_foreach(a, j, u)
        if (strncmp(json_string_value(json_object_get(u, "Name")), s, k) == 0 &&
            strlen(json_string_value(json_object_get(u, "Name"))) == k) {
            json_array_remove(a, j);
            break;
        }
    char name[16];
    snprintf(name, sizeof name, "%.*s", (int)k, s);
    append(host, "Ulimits", json_pack("{s:s,s:I,s:I}", "Name", name, "Hard", (json_int_t)hard,
                                      "Soft", (json_int_t)soft));
    return 0;
}

static bool ip_valid(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* "name:ip" (the ip may be IPv6, with its colons) */
static int parse_add_host(json_t *host, const char *s, struct berr *err)
{
    const char *colon = strchr(s, ':');
    char why[300];
    if (!colon || colon == s) {
        snprintf(why, sizeof why, "bad format for add-host: \"%s\"", s);
        return bad_arg(err, "add-host", s, why);
    }
    if (!ip_valid(colon + 1)) {
        snprintf(why, sizeof why, "invalid IP address in add-host: \"%s\"", colon + 1);
        return bad_arg(err, "add-host", s, why);
    }
    for (const char *c = s; c < colon; c++)
        if (isspace((unsigned char)*c) || *c == '#') {
            snprintf(why, sizeof why, "bad format for add-host: \"%s\"", s);
            return bad_arg(err, "add-host", s, why);
        }
    append(host, "ExtraHosts", json_string(s));
    return 0;
}

static int path_check(const char *path, struct berr *err)
{
    if (path[0] != '/')
        return berr_set(err, BERR_INVALID, "invalid mount path: '%s' mount path must be "
                        "absolute", path);
    if (strcmp(path, "/") == 0)
        return berr_set(err, BERR_INVALID, "invalid specification: destination can't be '/'");
    return 0;
}

/* tmpfs options as mount(8) takes them: flags, and the rest for the fs */
static int tmpfs_options(const char *opts, unsigned long *flags, char *data, size_t len,
                         struct berr *err)
{
    static const struct {
        const char *name;
        unsigned long set, clear;
    } known[] = {
        {"ro", MS_RDONLY, 0}, {"rw", 0, MS_RDONLY}, {"exec", 0, MS_NOEXEC},
        {"noexec", MS_NOEXEC, 0}, {"suid", 0, MS_NOSUID}, {"nosuid", MS_NOSUID, 0},
        {"dev", 0, MS_NODEV}, {"nodev", MS_NODEV, 0}, {"atime", 0, MS_NOATIME},
        {"noatime", MS_NOATIME, 0}, {"relatime", MS_RELATIME, 0},
        {"strictatime", MS_STRICTATIME, 0}, {"sync", MS_SYNCHRONOUS, 0}, {"async", 0, MS_SYNCHRONOUS},
    };
    static const char *const data_keys[] = {"size", "mode", "uid", "gid", "nr_inodes",
                                            "nr_blocks", "mpol", "huge"};
    *flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    size_t n = 0;
    data[0] = '\0';
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", opts ? opts : "");
    for (char *save = NULL, *o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        size_t i, k = strcspn(o, "=");
        for (i = 0; i < sizeof known / sizeof *known; i++)
            if (strcmp(o, known[i].name) == 0)
                break;
        if (i < sizeof known / sizeof *known) {
            *flags = (*flags | known[i].set) & ~known[i].clear;
            continue;
        }
        bool ok = false;
        for (i = 0; i < sizeof data_keys / sizeof *data_keys && o[k] == '='; i++)
            ok |= strlen(data_keys[i]) == k && strncmp(o, data_keys[i], k) == 0;
        if (!ok)
            return berr_set(err, BERR_INVALID, "invalid tmpfs option [\"%s\"]", o);
        buf_appendf(data, len, &n, "%s%s", n ? "," : "", o);
    }
    return 0;
}

static int parse_tmpfs(json_t *host, const char *s, struct berr *err)
{
    char path[4096];
    const char *colon = strchr(s, ':');
    snprintf(path, sizeof path, "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
    int rc = path_check(path, err);
    unsigned long flags;
    char data[1024];
    if (rc == 0)
        rc = tmpfs_options(colon ? colon + 1 : "", &flags, data, sizeof data, err);
    if (rc < 0)
        return rc;
    json_t *t = json_object_get(host, "Tmpfs");
    if (!json_is_object(t)) {
        t = json_object();
        json_object_set_new(host, "Tmpfs", t);
    }
    json_object_set_new(t, path, json_string(colon ? colon + 1 : ""));
    return 0;
}

/* docker's --mount: type=bind|volume|tmpfs, source|src, target|destination|dst,
 * readonly|ro[=BOOL], tmpfs-size, tmpfs-mode; other keys of docker's refused */
static int parse_mount(json_t *host, const char *s, struct berr *err)
{
    char buf[8192], type[16] = "volume";
    const char *src = NULL, *dst = NULL;
    bool ro = false;
    int64_t size = 0;
    long mode = -1;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(f, '=');
        const char *v = eq ? eq + 1 : NULL;
        if (eq)
            *eq = '\0';
        if (strcmp(f, "readonly") == 0 || strcmp(f, "ro") == 0) {
            if (v && strcmp(v, "true") && strcmp(v, "1") && strcmp(v, "false") && strcmp(v, "0"))
                return bad_arg(err, "mount", s, "invalid value for readonly");
            ro = !v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
            continue;
        }
        if (!v)
            return berr_set(err, BERR_INVALID, "invalid argument \"%s\" for \"--mount\" flag: "
                            "invalid field '%s' must be a key=value pair", s, f);
        if (strcmp(f, "type") == 0) {
            if (strcmp(v, "bind") && strcmp(v, "volume") && strcmp(v, "tmpfs"))
                return berr_set(err, BERR_INVALID, "invalid mount config for type \"%s\": "
                                "mount type unknown", v);
            snprintf(type, sizeof type, "%s", v);
        } else if (strcmp(f, "source") == 0 || strcmp(f, "src") == 0)
            src = s + (v - buf);
        else if (strcmp(f, "target") == 0 || strcmp(f, "destination") == 0 ||
                 strcmp(f, "dst") == 0)
            dst = s + (v - buf);
        else if (strcmp(f, "tmpfs-size") == 0) {
            if (!size_arg(v, &size))
                return bad_arg(err, "mount", s, "invalid value for tmpfs-size");
        } else if (strcmp(f, "tmpfs-mode") == 0) {
            char *end;
            mode = strtol(v, &end, 8);
            if (!*v || *end || mode < 0 || mode > 07777)
                return bad_arg(err, "mount", s, "invalid value for tmpfs-mode");
        } else if (strcmp(f, "bind-propagation") && strcmp(f, "consistency") &&
                   strcmp(f, "volume-nocopy"))
            return berr_set(err, BERR_INVALID, "invalid argument \"%s\" for \"--mount\" flag: "
                            "unexpected key '%s' in '%s=%s'", s, f, f, v);
    }
    /* the copies point into s: the values end at the next comma */
    char srcv[4096] = "", dstv[4096] = "";
    if (src)
        snprintf(srcv, sizeof srcv, "%.*s", (int)strcspn(src, ","), src);
    if (dst)
        snprintf(dstv, sizeof dstv, "%.*s", (int)strcspn(dst, ","), dst);
    if (!*dstv)
        return berr_set(err, BERR_INVALID, "invalid argument \"%s\" for \"--mount\" flag: "
                        "target is required", s);
    int rc = path_check(dstv, err);
    if (rc < 0)
        return rc;
    bool tmpfs = strcmp(type, "tmpfs") == 0;
    if (strcmp(type, "bind") == 0 && !*srcv)
        return berr_set(err, BERR_INVALID, "invalid mount config for type \"bind\": field "
                        "Source must not be empty");
    if (strcmp(type, "bind") == 0) {
        struct stat st;
        if (srcv[0] != '/')
            return berr_set(err, BERR_INVALID, "invalid mount config for type \"bind\": "
                            "invalid mount path: '%s' mount path must be absolute", srcv);
        if (stat(srcv, &st) < 0)
            return berr_set(err, BERR_INVALID, "invalid mount config for type \"bind\": bind "
                            "source path does not exist: %s", srcv);
    }
    if (strcmp(type, "volume") == 0 && *srcv && (srcv[0] == '/' || strchr(srcv, '/')))
        return berr_set(err, BERR_INVALID, "create %s: \"%s\" includes invalid characters for "
                        "a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. "
                        "If you intended to pass a host directory, use absolute path", srcv, srcv);
    if (tmpfs && *srcv)
        return berr_set(err, BERR_INVALID, "invalid mount config for type \"tmpfs\": field "
                        "Source must not be specified");
    if (!tmpfs && (size || mode >= 0))
        return berr_set(err, BERR_INVALID, "invalid mount config for type \"%s\": field "
                        "TmpfsOptions must not be specified", type);
    json_t *m = json_pack("{s:s}", "Type", type);
    if (*srcv)
        json_object_set_new(m, "Source", json_string(srcv));
    json_object_set_new(m, "Target", json_string(dstv));
    if (ro)
        json_object_set_new(m, "ReadOnly", json_true());
    if (tmpfs && (size || mode >= 0)) {
        json_t *t = json_object();
        if (size)
            json_object_set_new(t, "SizeBytes", json_integer(size));
        if (mode >= 0)
            json_object_set_new(t, "Mode", json_integer(mode));
        json_object_set_new(m, "TmpfsOptions", t);
    }
    append(host, "Mounts", m);
    return 0;
}

int rt_host_opt(json_t *host, const char *opt, const char *value, struct berr *err)
{
    if (strcmp(opt, "cap-add") == 0 || strcmp(opt, "cap-drop") == 0) {
        int cap = cap_lookup(value);
        char name[64];
        if (cap < 0)
            return berr_set(err, BERR_INVALID, "invalid %s: unknown capability: \"%s%s\"",
                            opt[4] == 'a' ? "CapAdd" : "CapDrop",
                            strncasecmp(value, "CAP_", 4) == 0 ? "" : "CAP_", value);
        snprintf(name, sizeof name, cap == NCAPS ? "ALL" : "CAP_%s",
                 cap == NCAPS ? "" : cap_names[cap]);
        append(host, opt[4] == 'a' ? "CapAdd" : "CapDrop", json_string(name));
        return 0;
    }
    if (strcmp(opt, "ulimit") == 0)
        return parse_ulimit(host, value, err);
    if (strcmp(opt, "add-host") == 0)
        return parse_add_host(host, value, err);
    if (strcmp(opt, "tmpfs") == 0)
        return parse_tmpfs(host, value, err);
    if (strcmp(opt, "mount") == 0)
        return parse_mount(host, value, err);
    if (strcmp(opt, "shm-size") == 0) {
        int64_t n = 0;
        char why[100];
        snprintf(why, sizeof why, "invalid size: '%s'", value);
        if (!size_arg(value, &n))
            return bad_arg(err, "shm-size", value, why);
        json_object_set_new(host, "ShmSize", json_integer(n));
        return 0;
    }
    if (strcmp(opt, "group-add") == 0) {
        if (!*value || strchr(value, ':'))
            return berr_set(err, BERR_INVALID, "invalid --group-add: \"%s\"", value);
        append(host, "GroupAdd", json_string(value));
        return 0;
    }
    if (strcmp(opt, "init") == 0) {
        json_object_set_new(host, "Init", json_true());
        return 0;
    }
    return berr_set(err, BERR_INVALID, "unknown option --%s", opt);
}

/* ---- in the container -------------------------------------------------------------- */

int host_process(json_t *host, struct rt_process *p, struct berr *err)
{
    uint64_t caps = process_default_caps();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(host, "CapDrop"), i, v) {
        int cap = cap_lookup(json_string_value(v) ?: "");
        if (cap < 0)
            return berr_set(err, BERR_INVALID, "the container's CapDrop is not valid");
        caps &= cap == NCAPS ? 0 : ~(1ULL << cap);
    }
    json_array_foreach(json_object_get(host, "CapAdd"), i, v) {
        int cap = cap_lookup(json_string_value(v) ?: "");
        if (cap < 0)
            return berr_set(err, BERR_INVALID, "the container's CapAdd is not valid");
        if (cap < NCAPS) {
            caps |= 1ULL << cap;
            continue;
        }
        /* ALL: every capability this kernel has and we may give */
        for (int c = 0; c < 64; c++)
            if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
                caps |= 1ULL << c;
    }
    p->caps = caps;
    p->caps_given = true;
    json_t *ul = json_object_get(host, "Ulimits");
    p->nrlimits = 0;
    json_array_foreach(ul, i, v) {
        const char *name = json_string_value(json_object_get(v, "Name"));
        size_t k;
        for (k = 0; name && k < NULIMITS; k++)
            if (strcmp(ulimits[k].name, name) == 0)
                break;
        if (!name || k == NULIMITS || p->nrlimits == sizeof p->rlimits / sizeof *p->rlimits)
            return berr_set(err, BERR_INVALID, "the container's Ulimits are not valid");
        json_int_t soft = json_integer_value(json_object_get(v, "Soft"));
        json_int_t hard = json_integer_value(json_object_get(v, "Hard"));
        p->rlimits[p->nrlimits].resource = ulimits[k].resource;
        p->rlimits[p->nrlimits].soft = soft < 0 ? RLIM_INFINITY : (rlim_t)soft;
        p->rlimits[p->nrlimits].hard = hard < 0 ? RLIM_INFINITY : (rlim_t)hard;
        p->nrlimits++;
    }
    p->ngroup_add = 0;
    json_array_foreach(json_object_get(host, "GroupAdd"), i, v)
        if (json_is_string(v) && p->ngroup_add < sizeof p->group_add / sizeof *p->group_add)
            p->group_add[p->ngroup_add++] = json_string_value(v);
    p->init = json_is_true(json_object_get(host, "Init"));
    return 0;
}

static int mount_tmpfs(const char *target, unsigned long flags, const char *data, char *msg,
                       size_t len)
{
    if (mkdir_p(target, 0755) < 0 && errno != EEXIST) {
        snprintf(msg, len, "creating tmpfs mount point %s: %s", target, strerror(errno));
        return -1;
    }
    if (mount(strcmp(target, "/dev/shm") == 0 ? "shm" : "tmpfs", target, "tmpfs", flags,
              data) < 0) {
        snprintf(msg, len, "mounting tmpfs on %s: %s", target, strerror(errno));
        return -1;
    }
    return 0;
}

int host_mounts(json_t *host, char *msg, size_t len)
{
    json_int_t shm = json_integer_value(json_object_get(host, "ShmSize"));
    char data[1100];
    struct berr err = {0};
    unsigned long flags;
    if (shm > 0) {
        snprintf(data, sizeof data, "mode=1777,size=%lld", (long long)shm);
        umount2("/dev/shm", MNT_DETACH);
        if (mount_tmpfs("/dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC, data, msg, len) < 0)
            return -1;
    }
    const char *path;
    json_t *v;
    json_object_foreach(json_object_get(host, "Tmpfs"), path, v) {
        if (tmpfs_options(json_string_value(v), &flags, data, sizeof data, &err) < 0) {
            snprintf(msg, len, "%s", err.msg);
            return -1;
        }
        if (mount_tmpfs(path, flags, data, msg, len) < 0)
            return -1;
    }
    size_t i;
    json_array_foreach(json_object_get(host, "Mounts"), i, v) {
        const char *type = json_string_value(json_object_get(v, "Type"));
        const char *target = json_string_value(json_object_get(v, "Target"));
        if (!type || strcmp(type, "tmpfs") != 0 || !target)
            continue;
        json_t *t = json_object_get(v, "TmpfsOptions");
        size_t n = 0;
        data[0] = '\0';
        json_int_t size = json_integer_value(json_object_get(t, "SizeBytes"));
        if (size > 0)
            buf_appendf(data, sizeof data, &n, "size=%lld", (long long)size);
        if (json_is_integer(json_object_get(t, "Mode")))
            buf_appendf(data, sizeof data, &n, "%smode=%llo", n ? "," : "",
                        (long long)json_integer_value(json_object_get(t, "Mode")));
        flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (json_is_true(json_object_get(v, "ReadOnly")))
            flags |= MS_RDONLY;
        if (mount_tmpfs(target, flags, data, msg, len) < 0)
            return -1;
    }
    return 0;
}

void host_extra_hosts(FILE *f, json_t *host)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(host, "ExtraHosts"), i, v) {
        const char *s = json_string_value(v) ?: "";
        const char *colon = strchr(s, ':');
        /* checked by rt_host_opt; a state.json edited since is not trusted */
        if (colon && ip_valid(colon + 1) && !strpbrk(s, "\n\t #"))
            fprintf(f, "%s\t%.*s\n", colon + 1, (int)(colon - s), s);
    }
}

void host_etc_hosts(const char *dir, json_t *host)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/hosts", dir);
    FILE *f = json_array_size(json_object_get(host, "ExtraHosts")) ? fopen(path, "ae") : NULL;
    if (f) {
        host_extra_hosts(f, host);
        fclose(f);
    }
}

/* ---- binds and volumes -------------------------------------------------------------- */

static int keep(struct host_binds *b, char *s, struct berr *err)
{
    if (!s)
        return berr_set(err, BERR_IO, "out of memory");
    b->owned[b->nowned++] = s;
    return 0;
}

int host_binds_make(struct berth_store *s, const struct rt_volume *vols, size_t n, json_t *host,
                    struct host_binds *b, struct berr *err)
{
    memset(b, 0, sizeof *b);
    char path[4096];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (b->n == 64)
            return berr_set(err, BERR_INVALID, "too many volumes");
        b->v[b->n] = vols[i];
        if (vols[i].host[0] != '/') {   /* a named volume, made if need be */
            rc = rt_volume_create(s, vols[i].host, NULL, path, NULL, err);
            if (rc == 0 && (rc = keep(b, strdup(path), err)) == 0) {
                b->v[b->n].name = vols[i].host;
                b->v[b->n].host = b->owned[b->nowned - 1];
            }
        }
        b->n++;
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(host, "Mounts"), i, m) {
        const char *type = json_string_value(json_object_get(m, "Type")) ?: "";
        const char *src = json_string_value(json_object_get(m, "Source"));
        const char *dst = json_string_value(json_object_get(m, "Target"));
        if (rc < 0 || strcmp(type, "tmpfs") == 0)
            continue;
        if (b->n == 64 || !dst)
            return rc < 0 ? rc : berr_set(err, BERR_INVALID, "too many volumes");
        struct rt_volume *v = &b->v[b->n];
        memset(v, 0, sizeof *v);
        v->ro = json_is_true(json_object_get(m, "ReadOnly"));
        v->mount = true;
        rc = keep(b, strdup(dst), err);
        if (rc < 0)
            break;
        v->ctr = b->owned[b->nowned - 1];
        if (strcmp(type, "bind") == 0)
            rc = keep(b, strdup(src ?: ""), err);
        else {
            char name[80];
            if (!src || !*src) {   /* anonymous: a name of its own, kept for start */
                unsigned char r[32];
                if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
                    return berr_set(err, BERR_IO, "getrandom: %s", strerror(errno));
                size_t k = 0;
                for (size_t j = 0; j < sizeof r; j++)
                    buf_appendf(name, sizeof name, &k, "%02x", r[j]);
                json_object_set_new(m, "Source", json_string(name));
                src = json_string_value(json_object_get(m, "Source"));
            }
            v->name = src;
            rc = rt_volume_create(s, src, NULL, path, NULL, err);
            if (rc == 0)
                rc = keep(b, strdup(path), err);
        }
        if (rc == 0) {
            v->host = b->owned[b->nowned - 1];
            b->n++;
        }
    }
    return rc;
}

void host_binds_free(struct host_binds *b)
{
    for (size_t i = 0; i < b->nowned; i++)
        free(b->owned[i]);
    b->nowned = 0;
}

/* ---- --init: PID 1 that reaps and forwards ------------------------------------------- */

/* ps shows it as docker's: "/sbin/docker-init -- COMMAND..." rather than
 * the command line berth was started with (the process is berth's): the
 * arguments' memory (arg_start to arg_end of /proc/self/stat) is written
 * over, as far as it goes */
static void init_cmdline(char **argv)
{
    char stat[2048];
    FILE *f = fopen("/proc/self/stat", "re");
    size_t n = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
    if (f)
        fclose(f);
    stat[n] = '\0';
    char *p = strrchr(stat, ')');
    unsigned long start = 0, end = 0, env_start = 0, env_end = 0;
    /* past the comm, field 3 onwards: arg_start, arg_end, env_start and
     * env_end are 48 to 51 */
    for (int field = 3; p && *p && field <= 51; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            break;
        unsigned long v = field >= 48 ? strtoul(p + 1, NULL, 10) : 0;
        if (field == 48)
            start = v;
        else if (field == 49)
            end = v;
        else if (field == 50)
            env_start = v;
        else if (field == 51)
            env_end = v;
    }
    /* the environment berth was started with is the host's: nothing of it
     * stays in the container */
    clearenv();
    if (env_start && env_end > env_start)
        memset((char *)env_start, 0, env_end - env_start);
    if (!start || end <= start)
        return;
    char *area = (char *)start;
    size_t len = end - start, k = 0;
    memset(area, 0, len);
    const char *head[] = {"/sbin/docker-init", "--"};
    for (size_t i = 0; i < 2; i++) {
        size_t l = strlen(head[i]);
        if (k + l + 1 > len)
            return;
        memcpy(area + k, head[i], l);
        k += l + 1;
    }
    for (; argv && *argv && k + strlen(*argv) + 1 <= len; argv++) {
        memcpy(area + k, *argv, strlen(*argv));
        k += strlen(*argv) + 1;
    }
}

void host_init(int report_fd, char **argv)
{
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &all, NULL);
    pid_t child = fork();
    if (child < 0) {
        char msg[200];
        int n = snprintf(msg, sizeof msg, "%cinit: fork: %s", 125, strerror(errno));
        write_all(report_fd, msg, (size_t)n);
        _exit(125);
    }
    if (child == 0) {
        /* a process group of its own, the terminal's foreground one (as
         * tini does): ^C reaches the command once, not through init too */
        setpgid(0, 0);
        if (isatty(0))
            tcsetpgrp(0, getpid());   /* SIGTTOU is blocked still */
        sigprocmask(SIG_SETMASK, &none, NULL);
        return;   /* on to exec the container's command */
    }
    /* the init: nothing of the monitor's, no privilege, not traceable */
    close(report_fd);
    syscall(SYS_close_range, 3U, ~0U, 0);
    prctl(PR_SET_NAME, "docker-init", 0, 0, 0);
    init_cmdline(argv);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    for (int c = 0; c < 64; c++)
        prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    syscall(SYS_capset, &h, d);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int ws;
        pid_t pid;
        while ((pid = waitpid(-1, &ws, WNOHANG)) > 0)
            if (pid == child)
                _exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
    }
}
