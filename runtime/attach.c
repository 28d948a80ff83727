/*
 * attach.c - `berth run` without -d: a client of the container's monitor.
 *
 * The monitor is forked into a session of its own, as with -d, so that
 * the container outlives this process as docker's outlives its CLI: kill
 * `berth run`, even with SIGKILL, and the container runs on; its monitor
 * still records its end and, with --rm, removes it. What this process
 * does is what docker's CLI does while attached:
 *
 *   - the container's stdout and stderr come from the monitor on two
 *     pipes and are copied to ours; our stdin goes to it on a third (-i);
 *   - our terminal is put in raw mode with -t, and the monitor is given a
 *     descriptor of it for its window size, never to read from;
 *   - signals we get (SIGINT, SIGTERM, ...) are passed to the monitor,
 *     which passes them to the container, even those we were started
 *     with ignored (a shell's background job ignores SIGINT);
 *   - the monitor's exit status is the container's, and ours.
 *
 * Nothing of ours is held by the monitor but those pipes: when we are
 * gone, its writes to them fail (and are dropped) and the container's
 * stdin ends, as docker's does when its client goes. Only a client that
 * was itself made to die with its parent (PR_SET_PDEATHSIG: the builder's
 * RUN steps) takes its container with it: the monitor gets the same.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const int passed_on[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define NPASSED (sizeof passed_on / sizeof *passed_on)

struct client {
    int out, err;            /* from the monitor, -1 once ended */
    int src, dst;            /* our stdin -> the monitor's, -1 when not */
    struct inbuf in;         /* read from our stdin, not yet taken */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* One read of a stream copied to ours; false once it has ended. A reader
 * of ours that has gone ends it too (the monitor's writes then fail). */
static bool copy_stream(int *from, int to)
{
    char buf[65536];
    ssize_t n = read(*from, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0 || write_all(to, buf, (size_t)n) < 0) {
        close_fd(from);
        return false;
    }
    return true;
}

static void stdin_end(struct client *cl)
{
    cl->src = -1;
    inbuf_clear(&cl->in);
    close_fd(&cl->dst);   /* the container's stdin ends */
}

static void stdin_flush(struct client *cl)
{
    if (inbuf_flush(&cl->in, cl->dst) < 0)
        stdin_end(cl);
}

static void stdin_read(struct client *cl)
{
    if (inbuf_read(&cl->in, cl->src, cl->dst) < 0)
        stdin_end(cl);
}

/* Copy until the monitor has ended, then what it left in the pipes. */
static void relay(struct client *cl, int sigfd, int monitor)
{
    for (bool done = false; !done;) {
        bool waiting = inbuf_held(&cl->in);
        struct pollfd pfd[] = {
            {sigfd, POLLIN, 0}, {monitor, POLLIN, 0}, {cl->out, POLLIN, 0},
            {cl->err, POLLIN, 0}, {waiting ? -1 : cl->src, POLLIN, 0},
            {waiting ? cl->dst : -1, POLLOUT, 0},
        };
        if (poll(pfd, sizeof pfd / sizeof *pfd, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == sizeof si)
                pidfd_send_signal(monitor, (int)si.ssi_signo, NULL, 0);
        }
        done = pfd[1].revents != 0;
        if (pfd[2].revents)
            copy_stream(&cl->out, 1);
        if (pfd[3].revents)
            copy_stream(&cl->err, 2);
        if (pfd[4].revents && cl->src >= 0)
            stdin_read(cl);
        if (pfd[5].revents && cl->dst >= 0)
            stdin_flush(cl);
    }
    /* its children (a port's relay) may hold the pipes: no waiting for
     * their end, only for what is in them */
    for (int *fd = &cl->out; fd <= &cl->err; fd++)
        if (*fd >= 0) {
            fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
            while (*fd >= 0 && copy_stream(fd, fd == &cl->out ? 1 : 2)) {
                struct pollfd p = {*fd, POLLIN, 0};
                if (poll(&p, 1, 0) <= 0)
                    break;
            }
        }
}

/* In the forked monitor: its stdio become the pipes to us. */
static void __attribute__((noreturn))
monitor_main(struct rt_container *c, int ready, int in, int out, int err, int term,
             int deathsig, pid_t client)
{
    if (deathsig && (prctl(PR_SET_PDEATHSIG, deathsig) < 0 || getppid() != client))
        _exit(125);
    setsid();
    /* our terminal, for its window size only (before 0 is replaced) */
    c->term = term >= 0 ? fcntl(term, F_DUPFD_CLOEXEC, 3) : -1;
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(in >= 0 ? in : null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(125);
    int fds[] = {in, out, err, null};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
        if (fds[i] > 2)
            close(fds[i]);
    if (chdir("/") < 0)
        _exit(125);
    int st = 125;
    struct berr e2 = {0};
    if (monitor_run(c, true, ready, &st, &e2) < 0 && st == 0)
        st = 125;
    _exit(st);
}

int run_attached(struct rt_container *c, int *status, struct berr *err)
{
    const struct rt_run_opts *o = c->o;
    int ready[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, in[2] = {-1, -1};
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
        pipe2(errp, O_CLOEXEC) < 0 || (o->interactive && pipe2(in, O_CLOEXEC) < 0)) {
        int e = errno;
        for (int *fd = (int[]){ready[0], ready[1], out[0], out[1], errp[0], errp[1], -2};
             *fd != -2; fd++)
            if (*fd >= 0)
                close(*fd);
        return berr_set(err, BERR_IO, "pipe: %s", strerror(e));
    }
    /* taken before the fork, as for -d: never a container without its
     * monitor's lock */
    if (c->monitor_lock < 0)
        c->monitor_lock = monitor_lock(c->dir);
    /* blocked from before the fork, so that none is missed; their
     * default actions while blocked, whatever we were started with, so
     * that an ignored one is still passed on */
    sigset_t mask, saved_mask;
    struct sigaction dfl = {.sa_handler = SIG_DFL}, saved[NPASSED];
    sigemptyset(&mask);
    for (size_t i = 0; i < NPASSED; i++)
        sigaddset(&mask, passed_on[i]);
    sigprocmask(SIG_BLOCK, &mask, &saved_mask);
    for (size_t i = 0; i < NPASSED; i++)
        sigaction(passed_on[i], &dfl, &saved[i]);
    int term = o->tty && isatty(0) ? 0 : -1;
    /* a client that is to die with its parent (a build's RUN step, whose
     * container goes with the build) has its monitor die with it, and
     * so the container (the monitor's PDEATHSIG on it) */
    int deathsig = 0;
    prctl(PR_GET_PDEATHSIG, &deathsig);
    pid_t client = getpid(), pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(out[0]);
        close(errp[0]);
        if (in[1] >= 0)
            close(in[1]);
        monitor_main(c, ready[1], in[0], out[1], errp[1], term, deathsig, client);
    }
    int e = errno;
    close(ready[1]);
    close(out[1]);
    close(errp[1]);
    close_fd(&in[0]);
    if (c->monitor_lock >= 0)   /* the monitor's now */
        close(c->monitor_lock);
    c->monitor_lock = -1;
    struct client cl = {.out = out[0], .err = errp[0], .src = o->interactive ? 0 : -1,
                        .dst = in[1]};
    int rc = 0;
    if (pid < 0)
        rc = berr_set(err, BERR_IO, "fork: %s", strerror(e));
    /* its word on the start, as for -d */
    char msg[1100];
    ssize_t n = 0, r;
    while (rc == 0 && n < (ssize_t)sizeof msg - 1 &&
           (r = read(ready[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0)
        n += r;
    close(ready[0]);
    msg[n > 0 ? n : 0] = '\0';
    if (rc == 0 && (n <= 0 || msg[0] != '\0')) {
        *status = n > 0 ? (unsigned char)msg[0] : 125;
        rc = berr_set(err, BERR_INVALID, "%s", n > 1 ? msg + 1 : "the container's monitor "
                      "failed to start");
    }
    int monitor = rc == 0 ? pidfd_open(pid, 0) : -1;
    int sigfd = monitor >= 0 ? signalfd(-1, &mask, SFD_CLOEXEC) : -1;
    if (rc == 0 && sigfd < 0)
        rc = berr_set(err, BERR_IO, "cannot follow the container's monitor: %s",
                      strerror(errno));
    if (rc == 0) {
        void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
        if (cl.dst >= 0)
            fcntl(cl.dst, F_SETFL, fcntl(cl.dst, F_GETFL) | O_NONBLOCK);
        struct termios saved_term;
        bool raw = term >= 0 && tcgetattr(0, &saved_term) == 0;
        if (raw) {
            struct termios t = saved_term;
            cfmakeraw(&t);
            tcsetattr(0, TCSANOW, &t);
        }
        relay(&cl, sigfd, monitor);
        if (raw)
            tcsetattr(0, TCSANOW, &saved_term);
        signal(SIGPIPE, old_pipe);
    }
    /* ended, or it has said why it failed and ends: its status; a
     * monitor we cannot follow is left to its container */
    int ws = 0;
    bool ended = rc == 0 || (pid > 0 && (n <= 0 || msg[0] != '\0'));
    while (ended && pid > 0 && waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (rc == 0)
        *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    close_fd(&sigfd);
    close_fd(&monitor);
    close_fd(&cl.out);
    close_fd(&cl.err);
    close_fd(&cl.dst);
    /* what came while they were blocked is not ours to act on now */
    for (size_t i = 0; i < NPASSED; i++) {
        struct sigaction ign = {.sa_handler = SIG_IGN};
        sigaction(passed_on[i], &ign, NULL);
    }
    sigprocmask(SIG_SETMASK, &saved_mask, NULL);
    for (size_t i = 0; i < NPASSED; i++)
        sigaction(passed_on[i], &saved[i], NULL);
    return rc;
}
