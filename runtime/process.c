/*
 * process.c - the last steps of a container's process (or of an exec into
 * one), run inside its root after pivot_root or chroot: user and groups
 * from the container's own /etc/passwd and /etc/group (never the host's
 * NSS), the working directory, file descriptors, capabilities,
 * seccomp, no_new_privs, and exec with the container's PATH.
 *
 * The order matters: the user is resolved and the directory created while
 * still root; the seccomp filter is loaded while CAP_SYS_ADMIN is still
 * there (without no_new_privs the kernel wants it); capabilities are cut
 * (bounding set, then setuid, then the sets), the inheritable set left
 * empty as docker leaves it; no_new_privs only with --security-opt
 * no-new-privileges, so that a setuid program works as under docker; the
 * PATH search runs last, as the user, so that a failure reports what
 * docker reports.
 */
#include "internal.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* docker's default capability set */
static const int default_caps[] = {
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW,
    CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
    CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE,
};

static bool is_default_cap(int cap)
{
    for (size_t i = 0; i < sizeof default_caps / sizeof *default_caps; i++)
        if (default_caps[i] == cap)
            return true;
    return false;
}

uint64_t process_default_caps(void)
{
    uint64_t caps = 0;
    for (size_t i = 0; i < sizeof default_caps / sizeof *default_caps; i++)
        caps |= 1ULL << default_caps[i];
    return caps;
}

/* docker's set, or the one --cap-add/--cap-drop made */
static bool keeps(const struct rt_process *p, int cap)
{
    return p->caps_given ? cap < 64 && (p->caps >> cap & 1) : is_default_cap(cap);
}

static int caps_drop(const struct rt_process *p, char *msg, size_t len)
{
    int last = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    if (f) {
        if (fscanf(f, "%d", &last) != 1)
            last = CAP_LAST_CAP;
        fclose(f);
    }
    for (int cap = 0; cap <= last; cap++)
        if (!keeps(p, cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
            errno != EINVAL) {
            snprintf(msg, len, "dropping capability %d: %s", cap, strerror(errno));
            return -1;
        }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    return 0;
}

/* After setuid: root keeps docker's set, anyone else has none left. */
static int caps_set(const struct rt_process *p, char *msg, size_t len)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    for (int c = 0; geteuid() == 0 && c < 64; c++)
        if (keeps(p, c) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) {
            d[c / 32].effective |= 1u << (c % 32);
            d[c / 32].permitted |= 1u << (c % 32);
        }
    if (syscall(SYS_capset, &h, d) < 0) {
        snprintf(msg, len, "setting capabilities: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* "user[:group]", names or numbers, looked up in the container's files. */
static int user_resolve(const char *spec, uid_t *uid, gid_t *gid, gid_t *groups,
                        size_t *ngroups, char *home, size_t hlen, char *msg, size_t len)
{
    char user[256], group[256] = "";
    snprintf(user, sizeof user, "%s", *spec ? spec : "0");
    char *colon = strchr(user, ':');
    if (colon) {
        snprintf(group, sizeof group, "%s", colon + 1);
        *colon = '\0';
    }
    bool found = false;
    *uid = 0;
    *gid = 0;
    snprintf(home, hlen, "/");
    FILE *f = fopen("/etc/passwd", "re");
    for (struct passwd *pw; f && (pw = fgetpwent(f));)
        if (all_digits(user) ? pw->pw_uid == (uid_t)strtoul(user, NULL, 10)
                             : strcmp(pw->pw_name, user) == 0) {
            *uid = pw->pw_uid;
            *gid = pw->pw_gid;
            snprintf(home, hlen, "%s", pw->pw_dir);
            snprintf(user, sizeof user, "%s", pw->pw_name);
            found = true;
            break;
        }
    if (f)
        fclose(f);
    if (!found) {
        if (!all_digits(user)) {
            snprintf(msg, len, "unable to find user %s: no matching entries in passwd file",
                     user);
            return -1;
        }
        *uid = (uid_t)strtoul(user, NULL, 10);
    }
    *ngroups = 0;
    bool group_found = !*group;
    f = fopen("/etc/group", "re");
    for (struct group *gr; f && (gr = fgetgrent(f));) {
        if (*group && (all_digits(group) ? gr->gr_gid == (gid_t)strtoul(group, NULL, 10)
                                         : strcmp(gr->gr_name, group) == 0)) {
            *gid = gr->gr_gid;
            group_found = true;
        }
        for (char **m = gr->gr_mem; found && !*group && *m && *ngroups < 64; m++)
            if (strcmp(*m, user) == 0)
                groups[(*ngroups)++] = gr->gr_gid;
    }
    if (f)
        fclose(f);
    if (!group_found) {
        if (!all_digits(group)) {
            snprintf(msg, len, "unable to find group %s: no matching entries in group file",
                     group);
            return -1;
        }
        *gid = (gid_t)strtoul(group, NULL, 10);
    }
    return 0;
}

/* --group-add: a gid, or a name of the container's /etc/group */
static int groups_add(const struct rt_process *p, gid_t gid0, gid_t *groups, size_t *ngroups,
                      char *msg, size_t len, int *status)
{
    /* the user's own group is listed too, as docker's groups are (docker
     * gives it with or without --group-add: `id` shows groups=GID) */
    bool has = false;
    for (size_t i = 0; i < *ngroups; i++)
        has |= groups[i] == gid0;
    if (!has && *ngroups < 64)
        groups[(*ngroups)++] = gid0;
    for (size_t i = 0; i < p->ngroup_add && *ngroups < 64; i++) {
        const char *g = p->group_add[i];
        bool found = all_digits(g);
        gid_t gid = found ? (gid_t)strtoul(g, NULL, 10) : 0;
        FILE *f = found ? NULL : fopen("/etc/group", "re");
        for (struct group *gr; f && (gr = fgetgrent(f));)
            if (strcmp(gr->gr_name, g) == 0) {
                gid = gr->gr_gid;
                found = true;
                break;
            }
        if (f)
            fclose(f);
        if (!found) {
            *status = 125;
            snprintf(msg, len, "Unable to find group %s: no matching entries in group file", g);
            return -1;
        }
        groups[(*ngroups)++] = gid;
    }
    return 0;
}

static const char *env_get(char **env, const char *key)
{
    size_t k = strlen(key);
    for (; *env; env++)
        if (strncmp(*env, key, k) == 0 && (*env)[k] == '=')
            return *env + k + 1;
    return NULL;
}

/* Create the working directory as docker does, then make sure the process
 * really stands inside its root: getcwd fails or says "(unreachable)" for
 * a directory outside it. */
static int enter_workdir(const char *cwd, char *msg, size_t len)
{
    char path[4096], here[4096];
    snprintf(path, sizeof path, "%s", cwd);
    if (path[0] != '/') {
        snprintf(msg, len, "the working directory '%s' is invalid, it needs to be an "
                           "absolute path", cwd);
        return -1;
    }
    mkdir_p(path, 0755);
    if (chdir(path) < 0) {
        snprintf(msg, len, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd,
                 strerror(errno));
        return -1;
    }
    if (!getcwd(here, sizeof here) || here[0] != '/') {
        snprintf(msg, len, "current working directory is outside of container mount "
                           "namespace root");
        return -1;
    }
    return 0;
}

/* execvp with the container's PATH, reporting as docker does. */
static void exec_search(const struct rt_process *p, int *status, char *msg, size_t len)
{
    const char *file = p->argv[0];
    if (strchr(file, '/')) {
        execve(file, p->argv, p->env);
        int e = errno;
        *status = e == ENOENT ? 127 : 126;
        if (e == ENOENT)
            snprintf(msg, len, "exec: \"%s\": stat %s: no such file or directory", file, file);
        else
            snprintf(msg, len, "exec: \"%s\": %s", file, strerror(e));
        return;
    }
    const char *path = env_get(p->env, "PATH");
    bool denied = false;
    for (const char *dir = path ? path : ""; path;) {
        const char *end = strchrnul(dir, ':');
        char full[4096];
        snprintf(full, sizeof full, "%.*s/%s", (int)(end - dir), end == dir ? "." : dir,
                 file);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            execve(full, p->argv, p->env);
            denied |= errno == EACCES;
        }
        if (!*end)
            break;
        dir = end + 1;
    }
    *status = denied ? 126 : 127;
    snprintf(msg, len, denied ? "exec: \"%s\": permission denied"
                              : "exec: \"%s\": executable file not found in $PATH", file);
}

void rt_process_exec(const struct rt_process *p, int *status, char *msg, size_t len)
{
    uid_t uid;
    gid_t gid, groups[64];
    size_t ngroups;
    char home[1024];
    *status = 126;
    if (user_resolve(p->user, &uid, &gid, groups, &ngroups, home, sizeof home, msg,
                     len) < 0 ||
        enter_workdir(p->cwd, msg, len) < 0 ||
        groups_add(p, gid, groups, &ngroups, msg, len, status) < 0)
        return;
    if (!env_get(p->env, "HOME")) {
        /* spec.c leaves room for this one */
        static char kv[1100];
        snprintf(kv, sizeof kv, "HOME=%s", home);
        char **e = p->env;
        while (*e)
            e++;
        e[0] = kv;
        e[1] = NULL;
    }
    /* every descriptor but stdio closes at exec (an inherited directory fd
     * is how a process finds its way out of its root) */
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    if (!p->unconfined && seccomp_load_default(msg, len) < 0)
        return;
    for (size_t i = 0; i < p->nrlimits; i++) {
        struct rlimit rl = {p->rlimits[i].soft, p->rlimits[i].hard};
        if (setrlimit(p->rlimits[i].resource, &rl) < 0) {
            snprintf(msg, len, "setting the container's ulimits: %s", strerror(errno));
            return;
        }
    }
    if (caps_drop(p, msg, len) < 0)
        return;
    if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        snprintf(msg, len, "setting user %s: %s", p->user, strerror(errno));
        return;
    }
    if (caps_set(p, msg, len) < 0)
        return;
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(msg, len, "no_new_privs: %s", strerror(errno));
        return;
    }
    exec_search(p, status, msg, len);
}
