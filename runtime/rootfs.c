/*
 * rootfs.c - the file system a container sees, set up by its first process
 * inside its new mount namespace (so that every mount here disappears with
 * the container, whatever happens to it).
 *
 * The overlay (lower: the image's unpacked layers; upper and work: the
 * container's own) is mounted and pivot_root'ed into first. Only then are
 * /proc, /dev, /sys, the bind mounts and /etc/hosts & co. mounted, at
 * paths resolved inside the new root: a symlink in the image such as
 * `proc -> /` can then point nowhere but into the container. Sources from
 * the host are cloned before the pivot as
 * detached copies (open_tree) and moved into place after it. Read-only
 * comes last, after every mount point exists (with it, /etc/hosts & co.
 * are read-only too, as docker's). With -t, rootfs_console makes the
 * terminal inside, from the container's own devpts.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FAIL(...) (snprintf(msg, len, __VA_ARGS__), -1)

/* Files of the host that stay visible: what docker masks or makes read-only. */
static const char *const masked[] = {
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware",
    /* RAPL energy counters: a side channel on the host's secrets
     * (CVE-2020-8694, PLATYPUS), masked by docker too */
    "/sys/devices/virtual/powercap",
};
static const char *const readonly[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static const struct {
    const char *name;
    unsigned major, minor;
} devices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static int mount_overlay(const struct rt_rootfs *r, char *msg, size_t len)
{
    /* lowerdir is given relative to the layers directory: the option
     * string is limited to a page, and each absolute path would cost it */
    char opts[4096], target[4096];
    size_t n = 0;
    buf_appendf(opts, sizeof opts, &n, "lowerdir=");
    for (size_t i = r->nlower; i-- > 0;)
        buf_appendf(opts, sizeof opts, &n, "%s%s", r->lower[i], i ? ":" : "");
    if (r->nlower == 0)   /* an image without layers: one empty lower layer */
        buf_appendf(opts, sizeof opts, &n, "%s/empty", r->dir);
    /* a cut-off option string would mount the wrong layers: refuse instead */
    if (buf_appendf(opts, sizeof opts, &n, ",upperdir=%s/upper,workdir=%s/work", r->dir,
                    r->dir) < 0)
        return FAIL("the image has too many layers for one overlay mount");
    snprintf(target, sizeof target, "%s/rootfs", r->dir);
    if (chdir(r->layers) < 0)
        return FAIL("mounting the container's root file system: %s", strerror(errno));
    /* The upper directory is what commit and build take as the layer: a
     * renamed directory must be copied up whole (no redirect xattr) and a
     * chmod'ed file with its data (no metacopy). Kernels that know the
     * options accept them; an older one fails with EINVAL and then does
     * neither anyway. */
    size_t base = n;
    if (buf_appendf(opts, sizeof opts, &n, ",redirect_dir=off,metacopy=off") == 0 &&
        mount("overlay", target, "overlay", 0, opts) == 0)
        return 0;
    opts[base] = '\0';
    if (mount("overlay", target, "overlay", 0, opts) < 0)
        return FAIL("mounting the container's root file system: %s", strerror(errno));
    return 0;
}

static int pivot(const char *dir, char *msg, size_t len)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/rootfs", dir);
    /* the old root is stacked under the new one, then detached */
    if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        return FAIL("pivot_root: %s", strerror(errno));
    return 0;
}

/* mkdir -p, or create an empty file, at a path of the new root. */
static int make_target(const char *path, bool dir)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        mkdir_p(parent, 0755);
    }
    if (dir)
        return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0)
        close(fd);
    return fd < 0 && errno != EEXIST && errno != ELOOP && errno != EISDIR ? -1 : 0;
}

static int mount_at(const char *src, const char *target, const char *type,
                    unsigned long flags, const char *data, char *msg, size_t len)
{
    if (make_target(target, true) < 0 || mount(src, target, type, flags, data) < 0)
        return FAIL("mounting %s on %s: %s", type ? type : src, target, strerror(errno));
    return 0;
}

static int setup_dev(char *msg, size_t len)
{
    if (mount_at("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                 "mode=755,size=65536k", msg, len) < 0)
        return -1;
    for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
        char path[64];
        snprintf(path, sizeof path, "/dev/%s", devices[i].name);
        if (mknod(path, S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) < 0 ||
            chmod(path, 0666) < 0)
            return FAIL("creating %s: %s", path, strerror(errno));
    }
    if (mount_at("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620,gid=5", msg, len) < 0 ||
        mount_at("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 "mode=1777,size=65536k", msg, len) < 0 ||
        mount_at("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                 msg, len) < 0)
        return -1;
    if (symlink("pts/ptmx", "/dev/ptmx") < 0 || symlink("/proc/self/fd", "/dev/fd") < 0 ||
        symlink("/proc/self/fd/0", "/dev/stdin") < 0 ||
        symlink("/proc/self/fd/1", "/dev/stdout") < 0 ||
        symlink("/proc/self/fd/2", "/dev/stderr") < 0)
        return FAIL("creating /dev links: %s", strerror(errno));
    return 0;
}

static void mask_host_files(void)
{
    for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
        struct stat st;
        if (stat(masked[i], &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, NULL);
        else
            mount("/dev/null", masked[i], NULL, MS_BIND, NULL);
    }
    for (size_t i = 0; i < sizeof readonly / sizeof *readonly; i++)
        if (mount(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL) == 0)
            mount(NULL, readonly[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL);
}

/* A copy of a host path's mounts, taken before the pivot. */
static int clone_tree(const char *path)
{
    return open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
}

/* ... moved to `target` after it. */
static int bind_fd(int fd, const char *target, bool dir, bool ro, char *msg, size_t len)
{
    if (make_target(target, dir) < 0 ||
        move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return FAIL("mounting %s: %s", target, strerror(errno));
    if (ro && mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
        return FAIL("making %s read-only: %s", target, strerror(errno));
    return 0;
}

/* ---- /sys/fs/cgroup: the container's own cgroups, as docker shows them ---- */

/* Each cgroup hierarchy mounted under /sys/fs/cgroup in which the
 * container has a cgroup of its own (berth/<id>, where cgroup.c puts it),
 * cloned before the pivot and bound read-only at the same place inside:
 * on a v1 host a tmpfs with memory/, cpu/, pids/... as docker's runc
 * makes it; on a v2 host the one directory is /sys/fs/cgroup. A runtime
 * then reads its limits where it looks for them (memory.max or
 * memory/memory.limit_in_bytes), and nothing of the host's tree is seen. */
#define MAX_CG 16
struct cg_view {
    int fd[MAX_CG];
    char target[MAX_CG][256];
    size_t n;
};

/* Are all of the comma-separated `names` among the options `opts`? */
static bool has_all(const char *names, const char *opts)
{
    char buf[256], o[1100], want[300];
    snprintf(buf, sizeof buf, "%.255s", names);
    snprintf(o, sizeof o, ",%.1023s,", opts);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        snprintf(want, sizeof want, ",%s,", t);
        if (!strstr(o, want))
            return false;
    }
    return true;
}

static void cg_view_open(const char *id, struct cg_view *v)
{
    v->n = 0;
    char ctl[MAX_CG][256], path[MAX_CG][1024];
    size_t nctl = 0;
    FILE *f = fopen("/proc/self/cgroup", "re");
    char *line = NULL;
    size_t cap = 0;
    while (f && nctl < MAX_CG && getline(&line, &cap, f) > 0) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(ctl[nctl], sizeof ctl[nctl], "%.*s", (int)(b - a - 1), a + 1);
        snprintf(path[nctl], sizeof path[nctl], "%s", b + 1);
        const char *last = strrchr(path[nctl], '/');
        if (last && strcmp(last + 1, id) == 0)   /* one of the container's own */
            nctl++;
    }
    if (f)
        fclose(f);
    f = fopen("/proc/self/mountinfo", "re");
    while (f && v->n < MAX_CG && getline(&line, &cap, f) > 0) {
        char root[1024], mnt[1024], type[64], super[1024];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*d %*d %*s %1023s %1023s", root, mnt) != 2 ||
            sscanf(dash + 3, "%63s %*s %1023s", type, super) != 2)
            continue;
        bool v2 = strcmp(type, "cgroup2") == 0;
        if ((!v2 && strcmp(type, "cgroup") != 0) || strncmp(mnt, "/sys/fs/cgroup", 14) != 0 ||
            (mnt[14] != '\0' && mnt[14] != '/'))
            continue;
        for (size_t i = 0; i < nctl; i++) {
            if (v2 ? ctl[i][0] != '\0' : !ctl[i][0] || !has_all(ctl[i], super))
                continue;
            size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
            if (strncmp(path[i], root, rl) != 0)
                continue;
            char src[2100];
            if (strlen(mnt) >= sizeof v->target[v->n] || strlen(path[i] + rl) > 1000)
                continue;
            snprintf(src, sizeof src, "%.1023s%.1000s", mnt, path[i] + rl);
            int fd = clone_tree(src);
            if (fd < 0)
                continue;
            v->fd[v->n] = fd;
            snprintf(v->target[v->n], sizeof v->target[v->n], "%.255s", mnt);
            v->n++;
            break;
        }
    }
    free(line);
    if (f)
        fclose(f);
}

static int cg_view_mount(struct cg_view *v, char *msg, size_t len)
{
    bool whole = v->n == 1 && strcmp(v->target[0], "/sys/fs/cgroup") == 0;
    if (v->n > 0 && !whole &&
        mount("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0)
        return FAIL("mounting /sys/fs/cgroup: %s", strerror(errno));
    for (size_t i = 0; i < v->n; i++) {
        if (bind_fd(v->fd[i], v->target[i], true, true, msg, len) < 0)
            return -1;
        close(v->fd[i]);
        v->fd[i] = -1;
    }
    if (v->n > 0 && !whole &&
        mount(NULL, "/sys/fs/cgroup", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
              MS_NOEXEC, "mode=755") < 0)
        return FAIL("making /sys/fs/cgroup read-only: %s", strerror(errno));
    return 0;
}

static const char *const etc_files[] = {"hosts", "hostname", "resolv.conf"};
#define NETC (sizeof etc_files / sizeof *etc_files)

int rootfs_enter(const struct rt_rootfs *r, char *msg, size_t len)
{
    int etc[NETC], vol[64];
    if (r->nvolumes > 64)
        return FAIL("too many volumes");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return FAIL("making the mounts private: %s", strerror(errno));
    for (size_t i = 0; i < NETC; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", r->dir, etc_files[i]);
        if ((etc[i] = clone_tree(path)) < 0)
            return FAIL("opening %s: %s", path, strerror(errno));
    }
    for (size_t i = 0; i < r->nvolumes; i++)
        if ((vol[i] = clone_tree(r->volumes[i].host)) < 0)
            return FAIL("invalid mount config: bind source path does not exist: %s",
                        r->volumes[i].host);
    struct cg_view cg;
    const char *id = strrchr(r->dir, '/');
    cg_view_open(id ? id + 1 : r->dir, &cg);
    if (mount_overlay(r, msg, len) < 0 || pivot(r->dir, msg, len) < 0)
        return -1;
    if (mount_at("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, msg,
                 len) < 0 ||
        setup_dev(msg, len) < 0)
        return -1;
    if (mount_at("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL,
                 msg, len) < 0)
        return -1;
    if (cg_view_mount(&cg, msg, len) < 0)
        return -1;
    mask_host_files();
    for (size_t i = 0; i < NETC; i++) {
        char target[64];
        snprintf(target, sizeof target, "/etc/%s", etc_files[i]);
        /* read-only with the root, as docker's */
        if (bind_fd(etc[i], target, false, r->read_only, msg, len) < 0)
            return -1;
        close(etc[i]);
    }
    for (size_t i = 0; i < r->nvolumes; i++) {
        struct stat st;
        if (fstat(vol[i], &st) < 0 ||
            bind_fd(vol[i], r->volumes[i].ctr, S_ISDIR(st.st_mode), r->volumes[i].ro, msg,
                    len) < 0)
            return -1;
        close(vol[i]);
    }
    if (host_mounts(r->host, msg, len) < 0)
        return -1;
    if (r->read_only && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
        return FAIL("making the root file system read-only: %s", strerror(errno));
    return 0;
}

/* The container's terminal, as runc makes it: a pty of the container's
 * own devpts instance (/dev/pts/0, root:tty 620 by the mount's options),
 * also bind-mounted on /dev/console, made the controlling terminal and
 * stdin, stdout and stderr. Returns the master, for the monitor. */
int rootfs_console(char *msg, size_t len)
{
    char name[64];
    int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0) {
        int e = errno;
        if (master >= 0)
            close(master);
        return FAIL("cannot allocate a terminal: %s", strerror(e));
    }
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_CLOEXEC);
    if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
        int e = errno;
        close(master);
        if (slave >= 0)
            close(slave);
        return FAIL("cannot open the container's terminal: %s", strerror(e));
    }
    if (make_target("/dev/console", false) < 0 ||
        mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0) {
        int e = errno;
        close(master);
        close(slave);
        return FAIL("mounting /dev/console: %s", strerror(e));
    }
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0) {
            int e = errno;
            close(master);
            close(slave);
            return FAIL("cannot set up the container's stdio: %s", strerror(e));
        }
    close(slave);
    return master;
}
