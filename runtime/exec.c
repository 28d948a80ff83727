/*
 * exec.c - `berth exec`: a new process in a running container. A child of
 * this process joins the container's cgroup and its IPC, UTS, network, PID
 * and mount namespaces (setns), then forks again, because only a child
 * lands in the PID namespace; that one chroots to the container's root (as its first
 * process sees it, through /proc/<pid>/root) and goes through the same last
 * steps as that process (process.c).
 *
 * The process never gets a descriptor of ours: like the first process of
 * `run`, it starts a session of its own, and its stdio are pipes (stdin
 * only with -i, else /dev/null) or, with -t, a fresh pty of the
 * container's devpts, which this process copies to and from its own
 * stdio. A host terminal handed over would let it type into the caller's
 * shell (TIOCSTI) and read what is typed there after exec returns.
 * Signals sent to this process are passed on to the exec'd one.
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
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define NFWD (sizeof forwarded / sizeof *forwarded)

/* The exec'd process's ends (stdio[]) and ours: stdout, stderr, stdin. */
struct exec_io {
    int stdio[3];
    int out, err, in;        /* -1 when not used; with -t, out and in are the master */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Ours, or the process's (the pty's slave is all three of them). */
static void io_close(struct exec_io *io, bool ours)
{
    if (ours) {
        if (io->in == io->out)
            io->in = -1;
        close_fd(&io->in);
        close_fd(&io->out);
        close_fd(&io->err);
    } else {
        for (int i = 0; i < 3; i++)
            if (i == 0 || io->stdio[i] != io->stdio[0])
                close_fd(&io->stdio[i]);
        io->stdio[0] = io->stdio[1] = io->stdio[2] = -1;
    }
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

/* Without -i (exec, and run's first process): the host's /dev/null, if
 * it is the device; a pipe with nothing in it and no writer else, rather
 * than a file that took its name. */
int rt_null_stdin(void)
{
    struct stat sb;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), p[2];
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(1, 3))
        return fd;
    if (fd >= 0)
        close(fd);
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    close(p[1]);
    return p[0];
}

static int io_open(struct exec_io *io, int root, const struct rt_exec_opts *o)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
    *io = (struct exec_io){{-1, -1, -1}, -1, -1, -1};
    if (o->detach) {   /* nothing of ours: no input, output to nowhere */
        int in = rt_null_stdin(), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        int null2 = null >= 0 ? fcntl(null, F_DUPFD_CLOEXEC, 0) : -1;
        if (in < 0 || null < 0 || null2 < 0) {
            int e = errno;
            close_fd(&in);
            close_fd(&null);
            close_fd(&null2);
            errno = e;
            return -1;
        }
        *io = (struct exec_io){{in, null, null2}, -1, -1, -1};
        return 0;
    }
    if (o->tty) {
        int master, slave;
        if (open_pty(root, &master, &slave) < 0)
            return -1;
        io->stdio[0] = io->stdio[1] = io->stdio[2] = slave;
        io->out = master;
        io->in = o->interactive ? master : -1;
        return 0;
    }
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        (o->interactive ? pipe2(in, O_CLOEXEC) : (in[0] = rt_null_stdin())) < 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            close_fd(&out[i]);
            close_fd(&err[i]);
            close_fd(&in[i]);
        }
        errno = e;
        return -1;
    }
    *io = (struct exec_io){{in[0], out[1], err[1]}, out[0], err[0], in[1]};
    return 0;
}

/* ---- the child, in the container ------------------------------------------------- */

static volatile sig_atomic_t target;
/* exec -d: where the process says why it could not be executed (closes
 * at exec: an empty read means that it runs) */
static int detach_report = -1;

static void pass_on(int sig)
{
    if (target > 0)
        kill((pid_t)target, sig);
}

/* In a child, so that this process keeps its own namespaces: take the
 * container's stdio, leave our session, join the container's namespaces,
 * then fork once more into its PID namespace and exec there. Exits with
 * the process's status; signals that reach it are passed on. */
static void __attribute__((noreturn))
enter_and_exec(const char *id, const int *ns, int root, struct exec_io *io, int sigfd,
               bool tty, bool die_with_caller, const char *workdir, const struct rt_process *p)
{
    pid_t caller = getppid();
    if (die_with_caller && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != caller))
        _exit(125);
    /* first of all: none of our stdio goes any further (moved above 2
     * first, in case we were started without some of ours) */
    int fds[3];
    for (int i = 0; i < 3; i++)
        if ((fds[i] = fcntl(io->stdio[i], F_DUPFD_CLOEXEC, 3)) < 0)
            _exit(125);
    for (int i = 0; i < 3; i++)
        if (dup2(fds[i], i) < 0)
            _exit(125);
    /* nor our ends of its streams: its stdin would never end */
    io_close(io, true);
    close(sigfd);
    setsid();   /* no terminal of ours, and not in our process group */
    struct sigaction sa = {.sa_handler = pass_on, .sa_flags = SA_RESTART};
    for (size_t i = 0; i < NFWD; i++)
        sigaction(forwarded[i], &sa, NULL);
    signal(SIGPIPE, SIG_DFL);
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
        /* its parent is outside its PID namespace (0) unless it has died */
        if (die_with_caller && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != 0))
            _exit(125);
        sigset_t none;
        sigemptyset(&none);
        for (size_t i = 0; i < NFWD; i++)
            signal(forwarded[i], SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (fchdir(root) < 0 || chroot(".") < 0)
            _exit(125);
        setsid();
        if (tty && ioctl(0, TIOCSCTTY, 0) < 0) {
            fprintf(stderr, "berth exec: cannot open the terminal: %s\n", strerror(errno));
            _exit(125);
        }
        /* docker's exec enters the directory it is given, or fails: it
         * is made for the container's first process only */
        struct stat sb;
        int bad = !workdir ? 0 : stat(workdir, &sb) < 0 ? errno
                  : !S_ISDIR(sb.st_mode) ? ENOTDIR : 0;
        if (bad) {
            fprintf(stderr, "berth exec: chdir to cwd (\"%s\") set in config.json failed: %s\n",
                    workdir, bad == ENOENT ? "no such file or directory"
                             : bad == ENOTDIR ? "not a directory" : strerror(bad));
            _exit(126);
        }
        char msg[1024];
        int code;
        rt_process_exec(p, &code, msg, sizeof msg);
        fprintf(stderr, "berth exec: %s\n", msg);
        if (detach_report >= 0)
            write_all(detach_report, msg, strlen(msg));
        /* docker's status for an exec that could not start, whatever the
         * reason (a command not found, a user not found, ...) */
        _exit(126);
    }
    if (detach_report >= 0)
        close(detach_report);
    target = pid;
    sigset_t fwd;
    sigemptyset(&fwd);
    for (size_t i = 0; i < NFWD; i++)
        sigaddset(&fwd, forwarded[i]);
    sigprocmask(SIG_UNBLOCK, &fwd, NULL);
    int ws = 0;
    while (pid > 0 && waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    _exit(pid < 0 ? 125 : WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
}

/* ---- here: copy the streams until the process is done ---------------------------- */

struct relay {
    struct exec_io *io;
    int sigfd;
    pid_t child;
    int wstatus;
    bool exited, tty;
    int src;                 /* our stdin with -i, -1 once it has ended */
    struct inbuf in;         /* read from our stdin, not yet taken by the process */
};

/* One read from `*from` copied to `to`; the stream is closed at its end,
 * and when `to` is gone (the process then gets EPIPE, as in a pipeline). */
static void copy_out(int *from, int to)
{
    char buf[65536];
    ssize_t n = read(*from, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0 || write_all(to, buf, (size_t)n) < 0)   /* EIO: the pty's last user left */
        close_fd(from);
}

/* Our stdin has ended, or the process's is gone. */
static void stdin_done(struct relay *r)
{
    r->src = -1;
    inbuf_clear(&r->in);
    if (!r->tty)   /* a pipe: the process sees the end of its input */
        close_fd(&r->io->in);
}

static void flush_in(struct relay *r)
{
    if (inbuf_flush(&r->in, r->io->in) < 0)
        stdin_done(r);
}

static void copy_in(struct relay *r)
{
    if (inbuf_read(&r->in, r->src, r->io->in) < 0)
        stdin_done(r);
}

static void handle_signal(struct relay *r)
{
    struct signalfd_siginfo si;
    if (read(r->sigfd, &si, sizeof si) != sizeof si)
        return;
    if (si.ssi_signo == SIGCHLD) {
        int ws;
        if (waitpid(r->child, &ws, WNOHANG) == r->child) {
            r->wstatus = ws;
            r->exited = true;
        }
    } else if (si.ssi_signo == SIGWINCH) {
        struct winsize ws;
        if (r->tty && ioctl(0, TIOCGWINSZ, &ws) == 0)
            ioctl(r->io->out, TIOCSWINSZ, &ws);
    } else if (!r->exited)
        kill(r->child, (int)si.ssi_signo);
}

static void relay(struct relay *r)
{
    struct exec_io *io = r->io;
    if (io->in >= 0)
        fcntl(io->in, F_SETFL, fcntl(io->in, F_GETFL) | O_NONBLOCK);
    while (!r->exited || io->out >= 0 || io->err >= 0) {
        bool waiting = inbuf_held(&r->in);   /* for the process to take its input */
        struct pollfd pfd[5] = {{r->sigfd, POLLIN, 0}, {io->out, POLLIN, 0},
                                {io->err, POLLIN, 0}, {waiting ? -1 : r->src, POLLIN, 0},
                                {waiting ? io->in : -1, POLLOUT, 0}};
        /* once the process is gone, whatever it left behind that holds
         * its output is given a second of quiet at most, as with run */
        int n = poll(pfd, 5, r->exited ? 1000 : -1);
        if (n == 0)
            break;
        if (n < 0)
            continue;
        if (pfd[0].revents)
            handle_signal(r);
        if (pfd[1].revents) {
            copy_out(&io->out, 1);
            if (r->tty && io->out < 0) {   /* the pty's master was both */
                io->in = -1;
                r->src = -1;
                inbuf_clear(&r->in);
            }
        }
        if (pfd[2].revents)
            copy_out(&io->err, 2);
        if (pfd[3].revents && r->src >= 0)
            copy_in(r);
        if (pfd[4].revents && io->in >= 0)
            flush_in(r);
    }
    while (!r->exited) {
        int ws;
        if (waitpid(r->child, &ws, 0) == r->child) {
            r->wstatus = ws;
            r->exited = true;
        } else if (errno != EINTR)
            break;
    }
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
    /* an exec is held to the container's no_new_privs and seccomp */
    if ((rc = rt_security_opts(json_object_get(json_object_get(st, "HostConfig"), "SecurityOpt"),
                               &p, err)) < 0 ||
        (rc = host_process(json_object_get(st, "HostConfig"), &p, err)) < 0) {
        rt_process_free(&p);
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
    struct exec_io io = {{-1, -1, -1}, -1, -1, -1};
    if (rc == 0 && io_open(&io, root, o) < 0)
        rc = berr_set(err, BERR_IO, "cannot set up the process's %s: %s",
                      o->tty ? "terminal" : "stdio", strerror(errno));

    sigset_t mask, saved_mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGWINCH);
    for (size_t i = 0; i < NFWD; i++)
        sigaddset(&mask, forwarded[i]);
    sigprocmask(SIG_BLOCK, &mask, &saved_mask);
    struct relay r = {.io = &io, .sigfd = -1, .child = -1, .tty = o->tty,
                      .src = o->interactive ? 0 : -1};
    if (rc == 0 && (r.sigfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0)
        rc = berr_set(err, BERR_IO, "signalfd: %s", strerror(errno));
    int report[2] = {-1, -1};
    if (rc == 0 && o->detach && pipe2(report, O_CLOEXEC) < 0)
        rc = berr_set(err, BERR_IO, "pipe: %s", strerror(errno));
    detach_report = report[1];
    if (rc == 0 && (r.child = fork()) == 0)
        enter_and_exec(id, ns, root, &io, r.sigfd, o->tty, o->die_with_caller, o->workdir,
                       &p);
    if (rc == 0 && r.child < 0)
        rc = berr_set(err, BERR_IO, "fork: %s", strerror(errno));
    io_close(&io, false);
    close_fd(&report[1]);
    detach_report = -1;
    if (rc == 0 && o->detach) {
        /* the child has a session of its own and waits for the process
         * itself: it is left to run, and reaped by whoever inherits it;
         * a process that could not be executed fails here, as docker's */
        char msg[1024];
        ssize_t n, len = 0;
        while (len < (ssize_t)sizeof msg - 1 &&
               ((n = read(report[0], msg + len, sizeof msg - 1 - (size_t)len)) > 0 ||
                (n < 0 && errno == EINTR)))
            len += n > 0 ? n : 0;
        msg[len] = '\0';
        *status = 0;
        if (len > 0) {
            *status = 1;
            rc = berr_set(err, BERR_INVALID, "%s", msg);
        }
    } else if (rc == 0) {
        void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
        struct termios saved;
        bool raw = o->tty && isatty(0) && tcgetattr(0, &saved) == 0;
        if (raw) {
            struct termios t = saved;
            struct winsize ws;
            if (ioctl(0, TIOCGWINSZ, &ws) == 0)
                ioctl(io.out, TIOCSWINSZ, &ws);
            cfmakeraw(&t);
            tcsetattr(0, TCSANOW, &t);
        }
        relay(&r);
        if (raw)
            tcsetattr(0, TCSANOW, &saved);
        signal(SIGPIPE, old_pipe);
        int ws = r.wstatus;
        *status = !r.exited ? 125 : WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    close_fd(&report[0]);
    close_fd(&r.sigfd);
    sigprocmask(SIG_SETMASK, &saved_mask, NULL);
    for (size_t i = 0; i < NNS; i++)
        close_fd(&ns[i]);
    close_fd(&root);
    io_close(&io, true);
    rt_process_free(&p);
    json_decref(st);
    return rc;
}
