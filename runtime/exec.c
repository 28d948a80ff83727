/*
 * exec.c - `berth exec`: a new process in a running container. A child of
 * this process joins the container's cgroup and its IPC, UTS, network, PID
 * and mount namespaces (setns), then forks again, because only a child
 * lands in the PID namespace; that one chroots to the container's root (as its first
 * process sees it, through /proc/<pid>/root) and goes through the same last
 * steps as that process (process.c). With -t, a pty is made here and
 * copied to and from our terminal.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const struct {
    const char *name;
    int type;
} namespaces[] = {
    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
};
#define NNS (sizeof namespaces / sizeof *namespaces)

/* Copy our terminal to the pty and back until the process is done. */
static void relay_pty(int master, bool interactive)
{
    struct termios saved, raw;
    bool tty = isatty(0) && tcgetattr(0, &saved) == 0;
    if (tty) {
        struct winsize ws;
        if (ioctl(0, TIOCGWINSZ, &ws) == 0)
            ioctl(master, TIOCSWINSZ, &ws);
        raw = saved;
        cfmakeraw(&raw);
        tcsetattr(0, TCSANOW, &raw);
    }
    char buf[65536];
    struct pollfd pfd[2] = {{master, POLLIN, 0}, {interactive ? 0 : -1, POLLIN, 0}};
    while (poll(pfd, 2, -1) > 0 || errno == EINTR) {
        if (pfd[0].revents) {
            ssize_t n = read(master, buf, sizeof buf);
            if (n <= 0 || write_all(1, buf, (size_t)n) < 0)
                break;
        }
        if (pfd[1].revents) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n <= 0 || write_all(master, buf, (size_t)n) < 0)
                pfd[1].fd = -1;
        }
    }
    if (tty)
        tcsetattr(0, TCSANOW, &saved);
}

/* A pty of the container's own devpts instance, so that it has a name in
 * there (/dev/pts/N), as docker exec -t gives. The ptmx is looked up
 * inside the container's root, whatever its symlinks say. */
static int open_pty(int root, int *master, int *slave)
{
    struct open_how how = {.flags = O_RDWR | O_NOCTTY | O_CLOEXEC,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    *master = (int)syscall(SYS_openat2, root, "dev/pts/ptmx", &how, sizeof how);
    if (*master < 0 || unlockpt(*master) < 0)
        return -1;
    *slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    return *slave < 0 ? -1 : 0;
}

/* In a child, so that this process keeps its own namespaces: join the
 * container's, then fork once more into its PID namespace and exec there.
 * Exits with the process's status. */
static void __attribute__((noreturn))
enter_and_exec(const char *id, const int *ns, int root, int slave, const struct rt_exec_opts *o,
               const struct rt_process *p)
{
    struct berr err = {0};
    if (cgroup_join(id, getpid(), &err) < 0) {
        fprintf(stderr, "berth exec: %s\n", err.msg);
        _exit(125);
    }
    for (size_t i = 0; i < NNS; i++)
        if (setns(ns[i], namespaces[i].type) < 0) {
            fprintf(stderr, "berth exec: cannot enter the container's %s namespace: %s\n",
                    namespaces[i].name, strerror(errno));
            _exit(125);
        }
    pid_t pid = fork();
    if (pid == 0) {
        if (fchdir(root) < 0 || chroot(".") < 0)
            _exit(125);
        if (o->tty) {
            setsid();
            ioctl(slave, TIOCSCTTY, 0);
            for (int i = 0; i < 3; i++)
                dup2(slave, i);
        } else if (!o->interactive) {
            int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
            dup2(null, 0);
        }
        char msg[1024];
        int code;
        rt_process_exec(p, &code, msg, sizeof msg);
        fprintf(stderr, "berth exec: %s\n", msg);
        _exit(code);
    }
    int ws = 0;
    while (pid > 0 && waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    _exit(pid < 0 ? 125 : WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
}

int rt_exec(struct berth_store *s, const char *what, const struct rt_exec_opts *o,
            int *status, struct berr *err)
{
    char id[RT_ID_LEN + 1], path[64];
    json_t *st;
    int rc = rt_exe_require_sealed(err);
    if (rc == 0)
        rc = state_find(s, what, id, &st, err);
    if (rc < 0)
        return rc;
    json_t *state = json_object_get(st, "State");
    pid_t pid = (pid_t)json_integer_value(json_object_get(state, "Pid"));
    if (!json_is_true(json_object_get(state, "Running"))) {
        json_decref(st);
        return berr_set(err, BERR_CONFLICT, "Container %s is not running", what);
    }
    struct rt_process p;
    if ((rc = rt_process_from(json_object_get(st, "Config"), o, &p, err)) < 0) {
        json_decref(st);
        return rc;
    }
    int ns[NNS], root;
    snprintf(path, sizeof path, "/proc/%d/root", (int)pid);
    root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (size_t i = 0; i < NNS; i++) {
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, namespaces[i].name);
        ns[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (ns[i] < 0 || root < 0)
            rc = berr_set(err, BERR_CONFLICT, "Container %s is not running", what);
    }
    int master = -1, slave = -1;
    if (rc == 0 && o->tty && open_pty(root, &master, &slave) < 0)
        rc = berr_set(err, BERR_IO, "cannot allocate a terminal: %s", strerror(errno));
    pid_t child = rc == 0 ? fork() : -1;
    if (child == 0)
        enter_and_exec(id, ns, root, slave, o, &p);
    if (rc == 0 && child < 0)
        rc = berr_set(err, BERR_IO, "fork: %s", strerror(errno));
    if (slave >= 0)
        close(slave);
    if (rc == 0) {
        if (o->tty)
            relay_pty(master, o->interactive);
        int ws;
        while (waitpid(child, &ws, 0) < 0 && errno == EINTR)
            ;
        *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    for (size_t i = 0; i < NNS; i++)
        if (ns[i] >= 0)
            close(ns[i]);
    if (root >= 0)
        close(root);
    if (master >= 0)
        close(master);
    rt_process_free(&p);
    json_decref(st);
    return rc;
}
