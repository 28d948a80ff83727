/*
 * cgroup.c - one cgroup per container, for its limits and its devices.
 * Under cgroup v2 (a unified hierarchy at /sys/fs/cgroup) it is
 * /sys/fs/cgroup/berth/<id>; under v1 a berth/<id> directory in each of the
 * memory, cpu and pids hierarchies that is mounted, and in the devices one,
 * which must be. On a hybrid host (v1 controllers beside a cgroup2 mount at
 * /sys/fs/cgroup/unified) the container also gets berth/<id> there with the
 * v2 device program, a second lock on the same door. The monitor puts the
 * container's first process in before that process runs anything of the
 * image's, so nothing escapes the limits; exec joins the same cgroups, and
 * fails rather than run a process outside the device rules.
 *
 * A container can be frozen while its file system is read (commit
 * --pause): cgroup.freeze under v2 (also on the hybrid host's cgroup2
 * mount, where the container is too), else the v1 freezer hierarchy.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define HYBRID_ROOT CGROUP_ROOT "/unified"

/* "devices" is last: its index is DEVICES; "freezer" is there for
 * commit --pause */
static const char *const v1_controllers[] = {"memory", "cpu", "pids", "freezer", "devices"};
#define NV1 (sizeof v1_controllers / sizeof *v1_controllers)
#define DEVICES 4

static bool unified(void)
{
    return access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0;
}

static int put(const char *dir, const char *file, const char *value)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, value, strlen(value));
    close(fd);
    return rc < 0 ? -EIO : 0;
}

static int limit(const char *dir, const char *file, int64_t value, struct berr *err)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)value);
    if (put(dir, file, v) < 0)
        return berr_set(err, BERR_IO, "cannot set %s/%s: %s", dir, file, strerror(errno));
    return 0;
}

static int enter_v2(const char *id, pid_t pid, const struct rt_run_opts *o, struct berr *err)
{
    char dir[256], v[64];
    put(CGROUP_ROOT, "cgroup.subtree_control", "+memory +cpu +pids");
    mkdir(CGROUP_ROOT "/berth", 0755);
    put(CGROUP_ROOT "/berth", "cgroup.subtree_control", "+memory +cpu +pids");
    snprintf(dir, sizeof dir, CGROUP_ROOT "/berth/%s", id);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return berr_set(err, BERR_IO, "cannot create cgroup %s: %s", dir, strerror(errno));
    if (cgroup_devices_limit(dir, err) < 0)
        return -BERR_IO;
    if (o->memory && (limit(dir, "memory.max", o->memory, err) < 0 ||
                      (access(CGROUP_ROOT "/berth/memory.swap.max", F_OK) == 0 &&
                       limit(dir, "memory.swap.max", 0, err) < 0)))
        return -BERR_IO;
    if (o->cpu_quota) {
        snprintf(v, sizeof v, "%lld 100000", (long long)o->cpu_quota);
        if (put(dir, "cpu.max", v) < 0)
            return berr_set(err, BERR_IO, "cannot set %s/cpu.max", dir);
    }
    if (o->pids_limit && limit(dir, "pids.max", o->pids_limit, err) < 0)
        return -BERR_IO;
    return limit(dir, "cgroup.procs", pid, err);
}

static int enter_v1(const char *id, pid_t pid, const struct rt_run_opts *o, struct berr *err)
{
    for (size_t i = 0; i < NV1; i++) {
        const char *c = v1_controllers[i];
        char dir[256];
        snprintf(dir, sizeof dir, CGROUP_ROOT "/%s", c);
        if (access(dir, F_OK) < 0) {
            bool wanted = (i == 0 && o->memory) || (i == 1 && o->cpu_quota) ||
                          (i == 2 && o->pids_limit) || i == DEVICES;
            if (wanted)
                return berr_set(err, BERR_UNSUPPORTED, "the %s cgroup controller is not "
                                "mounted", c);
            continue;
        }
        snprintf(dir, sizeof dir, CGROUP_ROOT "/%s/berth", c);
        mkdir(dir, 0755);
        snprintf(dir, sizeof dir, CGROUP_ROOT "/%s/berth/%s", c, id);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return berr_set(err, BERR_IO, "cannot create cgroup %s: %s", dir, strerror(errno));
        int rc = 0;
        if (i == 0 && o->memory) {
            rc = limit(dir, "memory.limit_in_bytes", o->memory, err);
            /* no swap beyond the limit, as docker's default */
            if (rc == 0 && access(CGROUP_ROOT "/memory/memory.memsw.limit_in_bytes", F_OK) == 0)
                rc = limit(dir, "memory.memsw.limit_in_bytes", o->memory, err);
            put(dir, "memory.swappiness", "0");
        }
        if (i == 1 && o->cpu_quota) {
            rc = limit(dir, "cpu.cfs_period_us", 100000, err);
            if (rc == 0)
                rc = limit(dir, "cpu.cfs_quota_us", o->cpu_quota, err);
        }
        if (i == 2 && o->pids_limit)
            rc = limit(dir, "pids.max", o->pids_limit, err);
        if (i == DEVICES)
            rc = cgroup_devices_limit(dir, err);
        if (rc == 0)
            rc = limit(dir, "cgroup.procs", pid, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A cgroup2 mount beside the v1 hierarchies. */
static bool hybrid(void)
{
    struct statfs fs;
    return statfs(HYBRID_ROOT, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Best effort: the v1 devices controller already holds the rules. */
static void enter_hybrid(const char *id, pid_t pid)
{
    char dir[256], v[32];
    struct berr err = {0};
    mkdir(HYBRID_ROOT "/berth", 0755);
    snprintf(dir, sizeof dir, HYBRID_ROOT "/berth/%s", id);
    snprintf(v, sizeof v, "%d", (int)pid);
    if ((mkdir(dir, 0755) == 0 || errno == EEXIST) && cgroup_devices_limit(dir, &err) == 0)
        put(dir, "cgroup.procs", v);
}

int cgroup_enter(const char *id, pid_t pid, const struct rt_run_opts *o, struct berr *err)
{
    /* every container start passes here, whichever command made it */
    if (rt_exe_require_sealed(err) < 0)
        return -BERR_IO;
    if (unified())
        return enter_v2(id, pid, o, err);
    int rc = enter_v1(id, pid, o, err);
    if (rc == 0 && hybrid())
        enter_hybrid(id, pid);
    return rc;
}

int cgroup_join(const char *id, pid_t pid, struct berr *err)
{
    char dir[256], v[32];
    snprintf(v, sizeof v, "%d", (int)pid);
    if (unified()) {
        snprintf(dir, sizeof dir, CGROUP_ROOT "/berth/%s", id);
        if (put(dir, "cgroup.procs", v) < 0)
            return berr_set(err, BERR_IO, "cannot join the container's cgroup %s: %s", dir,
                            strerror(errno));
        return 0;
    }
    for (size_t i = 0; i < NV1; i++) {
        snprintf(dir, sizeof dir, CGROUP_ROOT "/%s/berth/%s", v1_controllers[i], id);
        /* limits are best kept; the device rules must be */
        if (put(dir, "cgroup.procs", v) < 0 && i == DEVICES)
            return berr_set(err, BERR_IO, "cannot join the container's cgroup %s: %s", dir,
                            strerror(errno));
    }
    snprintf(dir, sizeof dir, HYBRID_ROOT "/berth/%s", id);
    if (hybrid() && access(dir, F_OK) == 0)
        put(dir, "cgroup.procs", v);
    return 0;
}

/* The last processes of a container may take a moment to leave. */
static void remove_dir(const char *dir)
{
    for (int i = 0; i < 200 && rmdir(dir) < 0 && errno == EBUSY; i++)
        usleep(5000);
}

void cgroup_remove(const char *id)
{
    char dir[256];
    if (unified()) {
        snprintf(dir, sizeof dir, CGROUP_ROOT "/berth/%s", id);
        remove_dir(dir);
        return;
    }
    for (size_t i = 0; i < NV1; i++) {
        snprintf(dir, sizeof dir, CGROUP_ROOT "/%s/berth/%s", v1_controllers[i], id);
        remove_dir(dir);
    }
    snprintf(dir, sizeof dir, HYBRID_ROOT "/berth/%s", id);
    if (access(dir, F_OK) == 0)
        remove_dir(dir);
}

bool cgroup_oom_killed(const char *id)
{
    char path[256], line[128];
    if (unified())
        snprintf(path, sizeof path, CGROUP_ROOT "/berth/%s/memory.events", id);
    else
        snprintf(path, sizeof path, CGROUP_ROOT "/memory/berth/%s/memory.oom_control", id);
    FILE *f = fopen(path, "re");
    long long n = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "oom_kill %lld", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n > 0;
}

/* ---- the freezer ----------------------------------------------------------------- */

static bool file_has(const char *path, const char *want)
{
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return strstr(buf, want) != NULL;
}

/* Up to 10 s for the freezer to take every process of the container. */
static int freeze_wait(const char *path, const char *want)
{
    for (int i = 0; i < 2000; i++) {
        if (file_has(path, want))
            return 0;
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    return -1;
}

/* Where the container's freezer is: "v2" with cgroup.freeze, "v1" with
 * freezer.state; 0 when there is none. */
static int freezer_dir(const char *id, char *dir, size_t len)
{
    snprintf(dir, len, CGROUP_ROOT "/berth/%s", id);
    if (unified())
        return access(dir, F_OK) == 0 ? 2 : 0;
    snprintf(dir, len, CGROUP_ROOT "/freezer/berth/%s", id);
    if (access(dir, F_OK) == 0)
        return 1;
    snprintf(dir, len, HYBRID_ROOT "/berth/%s", id);
    char path[512];
    snprintf(path, sizeof path, "%s/cgroup.freeze", dir);
    return hybrid() && access(path, F_OK) == 0 ? 2 : 0;
}

int cgroup_freeze(const char *id, bool frozen, struct berr *err)
{
    char dir[256], path[512];
    int v = freezer_dir(id, dir, sizeof dir);
    if (v == 0)
        return 1;
    if (v == 2) {
        snprintf(path, sizeof path, "%s/cgroup.events", dir);
        if (put(dir, "cgroup.freeze", frozen ? "1" : "0") < 0)
            return berr_set(err, BERR_IO, "cannot %s the container: %s/cgroup.freeze: %s",
                            frozen ? "pause" : "unpause", dir, strerror(errno));
        if (frozen && freeze_wait(path, "frozen 1") < 0) {
            put(dir, "cgroup.freeze", "0");
            return berr_set(err, BERR_IO, "the container did not pause in time");
        }
        return 0;
    }
    snprintf(path, sizeof path, "%s/freezer.state", dir);
    if (put(dir, "freezer.state", frozen ? "FROZEN" : "THAWED") < 0)
        return berr_set(err, BERR_IO, "cannot %s the container: %s: %s",
                        frozen ? "pause" : "unpause", path, strerror(errno));
    if (frozen && freeze_wait(path, "FROZEN") < 0) {
        put(dir, "freezer.state", "THAWED");
        return berr_set(err, BERR_IO, "the container did not pause in time");
    }
    return 0;
}
