/*
 * monitor.c - the one process that watches a container from start to end.
 *
 * It clones the container's first process into new mount, PID, UTS, IPC
 * and network namespaces, puts it in its cgroup, and only then lets it go
 * on (a byte on a sync pipe). That process sets up its root (rootfs.c) and
 * execs; an error pipe that closes on exec tells the monitor whether it
 * got that far, and if not, why (docker's message and exit status).
 *
 * Then one poll loop: the container's stdout and stderr (pipes, or a pty
 * with -t) go to log.json in docker's json-file format, and to our own
 * stdout and stderr when attached; our stdin goes to the container with
 * -i; signals arrive on a signalfd and are forwarded; published ports are
 * accepted here, on the host, and each connection is relayed by a child
 * that connects from inside the container's network namespace. The
 * container's process is PID 1 of its namespace: when it ends, the kernel
 * kills the rest, the pipes close, and the monitor records the exit.
 * The container is also killed if the monitor dies (PDEATHSIG). The
 * monitor is never the `berth run` a user started: attached, "our"
 * stdio are pipes to that client (attach.c), which may go at any time.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

struct stream {
    int fd;                  /* read end, -1 once closed */
    const char *name;        /* "stdout" or "stderr" */
    int echo;                /* our fd to copy to when attached, else -1 */
    char line[16384];
    size_t len;
};

struct monitor {
    struct rt_container *c;
    int log;
    char log_path[4200];
    int64_t log_size;        /* of log.json */
    int nrotated;            /* log.json.1 ... log.json.<nrotated> exist */
    struct stream out, err;
    int in_src, in_dst;      /* our stdin -> the container's, -1 when not */
    struct inbuf in;         /* read from our stdin, not yet taken by the container */
    int sigfd, netns;
    pid_t child;
    int wstatus;
    bool exited;
    bool stop;               /* told to end (a signal of ours) while not running */
    int tty_sock;            /* with -t: the terminal's master comes on it */
    struct health health;
};

/* ---- the log ------------------------------------------------------------------- */

/* log.json is full: with max-file > 1 it becomes log.json.1 (the others
 * move up one, the oldest goes), else it starts again empty, as docker's
 * json-file does. */
static void log_rotate(struct monitor *m)
{
    const struct rt_run_opts *o = m->c->o;
    if (o->log_max_file <= 1) {
        if (ftruncate(m->log, 0) == 0)
            m->log_size = 0;
        return;
    }
    char from[4300], to[4300];
    int keep = o->log_max_file - 1;
    for (int k = m->nrotated; k >= 1; k--) {
        snprintf(from, sizeof from, "%s.%d", m->log_path, k);
        snprintf(to, sizeof to, "%s.%d", m->log_path, k + 1);
        if (k >= keep)
            unlink(from);
        else
            rename(from, to);
    }
    snprintf(to, sizeof to, "%s.1", m->log_path);
    if (rename(m->log_path, to) < 0)
        return;
    m->nrotated = m->nrotated < keep ? m->nrotated + 1 : keep;
    close(m->log);
    m->log = open(m->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    m->log_size = 0;
}

/* The length of the valid UTF-8 sequence at p (of n bytes), 0 if none:
 * no overlong forms, surrogates or code points past U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
                 : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return len;
}

/* jansson takes UTF-8 only: each byte that is not part of a valid
 * sequence becomes U+FFFD, as docker's json-file writes it, rather than
 * the line being lost. `out` holds 3 bytes for each of `in`. */
static size_t utf8_clean(const char *in, size_t n, char *out)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
        }
    }
    return o;
}

static void log_line(struct monitor *m, struct stream *s)
{
    char now[64], clean[3 * sizeof s->line];
    rfc3339_now(now, sizeof now);
    size_t len = utf8_clean(s->line, s->len, clean);
    json_t *entry = json_pack("{s:s%,s:s,s:s}", "log", clean, len, "stream", s->name,
                              "time", now);
    char *text = entry ? json_dumps(entry, JSON_COMPACT) : NULL;
    if (text) {
        size_t n = strlen(text);
        text[n] = '\n';   /* json_dumps's NUL becomes the line's end */
        /* rotated before the line that would pass max-size, so that no
         * file is ever larger (but by a line longer than max-size) */
        if (m->log_size > 0 && m->log_size + (int64_t)n + 1 > m->c->o->log_max_size)
            log_rotate(m);
        if (m->log < 0)   /* could not be made again at the last rotation */
            m->log = open(m->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (m->log >= 0 && write_all(m->log, text, n + 1) == 0)
            m->log_size += (int64_t)n + 1;
        free(text);
    }
    json_decref(entry);
    s->len = 0;
}

/* Split what a stream gave into lines, as docker's json-file does. */
static void log_data(struct monitor *m, struct stream *s, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s->line[s->len++] = data[i];
        if (data[i] == '\n' || s->len == sizeof s->line)
            log_line(m, s);
    }
}

static void stream_read(struct monitor *m, struct stream *s)
{
    char buf[65536];
    ssize_t n = read(s->fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
        return;
    if (n < 0 && errno == EAGAIN)   /* a pty's master is non-blocking with -i */
        return;
    if (n <= 0) {   /* EOF, or EIO from a pty whose last user left */
        if (s->len)
            log_line(m, s);
        close(s->fd);
        s->fd = -1;
        return;
    }
    if (s->echo >= 0)
        write_all(s->echo, buf, (size_t)n);
    log_data(m, s, buf, (size_t)n);
}

/* Our stdin has ended, or the container's is gone. */
static void stdin_end(struct monitor *m)
{
    m->in_src = -1;
    inbuf_clear(&m->in);
    if (m->in_dst >= 0 && m->in_dst != m->out.fd)   /* a pipe: the container sees EOF */
        close(m->in_dst);
    m->in_dst = -1;
}

static void stdin_flush(struct monitor *m)
{
    if (inbuf_flush(&m->in, m->in_dst) < 0)
        stdin_end(m);
}

static void stdin_read(struct monitor *m)
{
    if (inbuf_read(&m->in, m->in_src, m->in_dst) < 0)
        stdin_end(m);
}

/* ---- the container's first process ------------------------------------------------- */

static void loopback_up(void)
{
    struct ifreq ifr = {0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    if (fd >= 0)
        close(fd);
}

struct child_io {
    int stdio[3];            /* for a pty, -1: it is made inside (rootfs_console) */
    int tty;                 /* with -t: where the pty's master is sent, else -1 */
    struct winsize ws;       /* with -t: the size it starts with (ws_row 0: none) */
    int sync, report;
};

/* The pty's master, from the container's devpts, to the monitor. */
static int send_fd(int sock, int fd)
{
    char c = 't';
    struct iovec iov = {&c, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    memset(&u, 0, sizeof u);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
    char c;
    struct iovec iov = {&c, 1};
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) != 1)
        return -1;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    int fd = -1;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
}

static void report(int fd, int status, const char *msg)
{
    char buf[1100];
    int n = snprintf(buf, sizeof buf, "%c%s", status, msg);
    write_all(fd, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
    _exit(status);
}

/* docker run's status for a container whose program could not be run,
 * which its CLI reads from the message: 127 for a program not found,
 * 126 for one that may not be run, else 125 (a user not found, a
 * working directory that cannot be entered, ...). */
static int run_status(const char *msg)
{
    if (strstr(msg, "executable file not found") || strcasestr(msg, "no such file or directory"))
        return 127;
    return strcasestr(msg, "permission denied") ? 126 : 125;
}

static void child_main(struct rt_container *c, struct child_io *io)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* the program starts with every signal's default action, whatever
     * berth run was started with (a shell's background job ignores
     * SIGINT, and a shell that starts with it ignored cannot trap it) */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setsid();
    for (int i = 0; io->tty < 0 && i < 3; i++)
        if (dup2(io->stdio[i], i) < 0)
            report(io->report, 125, "cannot set up the container's stdio");
    char go;
    if (read(io->sync, &go, 1) != 1)
        _exit(125);   /* the monitor gave up */
    char msg[1024] = "";
    int status = 125;
    const char *host = c->root.hostname;
    if (sethostname(host, strlen(host)) < 0)
        report(io->report, 125, "cannot set the hostname");
    if (!c->root.network_host)
        loopback_up();
    json_t *hostconfig = json_object_get(c->state, "HostConfig");
    c->root.host = hostconfig;
    if (rootfs_enter(&c->root, msg, sizeof msg) < 0)
        report(io->report, 125, msg);
    if (io->tty >= 0) {
        int master = rootfs_console(msg, sizeof msg);
        if (master < 0)
            report(io->report, 125, msg);
        /* sized before the program runs, which may ask at once */
        if (io->ws.ws_row)
            ioctl(master, TIOCSWINSZ, &io->ws);
        if (send_fd(io->tty, master) < 0)
            report(io->report, 125, "cannot hand the container's terminal to its monitor");
        close(master);
        close(io->tty);
    }
    struct rt_process p;
    struct berr err = {0};
    if (rt_process_from(json_object_get(c->state, "Config"), NULL, &p, &err) < 0 ||
        rt_security_opts(json_object_get(hostconfig, "SecurityOpt"), &p, &err) < 0 ||
        host_process(hostconfig, &p, &err) < 0)
        report(io->report, 125, err.msg);
    if (p.init)
        host_init(io->report, p.argv);
    rt_process_exec(&p, &status, msg, sizeof msg);
    report(io->report, run_status(msg), msg);
}

/* ---- ports ------------------------------------------------------------------------ */

static void accept_connection(struct monitor *m, int listener, uint16_t port)
{
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* a connection that outlives the container must not keep its
         * ports: `start` binds them again */
        const struct rt_run_opts *o = m->c->o;
        for (size_t i = 0; !o->network_host && i < o->nports && i < 64; i++)
            close(m->c->listeners[i]);
        close(m->c->monitor_lock);   /* nor stand for a monitor */
        ports_relay(client, m->netns, net_address(m->c), port);
        _exit(0);
    }
    close(client);
}

/* ---- the loop ---------------------------------------------------------------------- */

static void reap(struct monitor *m)
{
    int ws;
    pid_t pid;
    while ((pid = waitpid(-1, &ws, WNOHANG)) > 0)
        if (pid == m->child) {
            m->wstatus = ws;
            m->exited = true;
        } else
            health_reaped(&m->health, m->c, pid, ws);
}

static void handle_signal(struct monitor *m)
{
    struct signalfd_siginfo si;
    if (read(m->sigfd, &si, sizeof si) != sizeof si)
        return;
    if (si.ssi_signo == SIGCHLD)
        reap(m);
    else if (si.ssi_signo == SIGWINCH) {
        struct winsize ws;
        if (m->out.echo >= 0 && m->c->term >= 0 && ioctl(m->c->term, TIOCGWINSZ, &ws) == 0)
            ioctl(m->out.fd, TIOCSWINSZ, &ws);
    } else {
        /* the monitor itself told to end (^C when attached): the
         * container is not restarted after it */
        if (si.ssi_signo != SIGUSR1 && si.ssi_signo != SIGUSR2)
            m->stop = true;
        if (!m->exited)
            kill(m->child, (int)si.ssi_signo);
    }
}

static void loop(struct monitor *m)
{
    const struct rt_run_opts *o = m->c->o;
    size_t nl = o->network_host ? 0 : o->nports;
    struct pollfd pfd[6 + 64];
    if (m->in_dst >= 0)
        fcntl(m->in_dst, F_SETFL, fcntl(m->in_dst, F_GETFL) | O_NONBLOCK);
    while (!m->exited || m->out.fd >= 0 || m->err.fd >= 0) {
        bool waiting = inbuf_held(&m->in);   /* for the container to take its input */
        size_t n = 0;
        pfd[n++] = (struct pollfd){m->sigfd, POLLIN, 0};
        pfd[n++] = (struct pollfd){m->out.fd, POLLIN, 0};
        pfd[n++] = (struct pollfd){m->err.fd, POLLIN, 0};
        pfd[n++] = (struct pollfd){waiting ? -1 : m->in_src, POLLIN, 0};
        pfd[n++] = (struct pollfd){waiting ? m->in_dst : -1, POLLOUT, 0};
        pfd[n++] = (struct pollfd){m->exited ? -1 : health_fd(&m->health), POLLIN, 0};
        for (size_t i = 0; i < nl && i < 64; i++)
            pfd[n++] = (struct pollfd){m->exited ? -1 : m->c->listeners[i], POLLIN, 0};
        /* once the process is gone, whatever held its output goes too; a
         * second is the most a stray writer is given */
        int ready = poll(pfd, n, m->exited ? 1000 : health_wait_ms(&m->health));
        if (ready == 0 && m->exited)
            break;
        if (!m->exited)
            health_due(&m->health, m->c);
        if (ready <= 0)
            continue;
        if (pfd[0].revents)
            handle_signal(m);
        if (pfd[1].revents) {
            int master = m->out.fd;
            stream_read(m, &m->out);
            if (m->out.fd < 0 && m->in_dst == master) {   /* with -t it was both */
                m->in_dst = m->in_src = -1;
                inbuf_clear(&m->in);
            }
        }
        if (pfd[2].revents)
            stream_read(m, &m->err);
        if (pfd[3].revents && m->in_src >= 0)
            stdin_read(m);
        if (pfd[4].revents && m->in_dst >= 0)
            stdin_flush(m);
        if (pfd[5].revents && health_fd(&m->health) >= 0)
            health_read(&m->health);
        for (size_t i = 0; i < nl && i < 64; i++)
            if (pfd[6 + i].revents)
                accept_connection(m, m->c->listeners[i], o->ports[i].ctr_port);
    }
    while (!m->exited)
        reap(m);
}

/* ---- start and end ----------------------------------------------------------------- */

static void state_set(struct monitor *m, const char *status, pid_t pid, int code,
                      const char *error)
{
    json_t *st = json_object_get(m->c->state, "State");
    char now[64];
    rfc3339_now(now, sizeof now);
    bool running = strcmp(status, "running") == 0;
    /* waiting to be restarted is running still, as docker says it */
    bool restarting = strcmp(status, "restarting") == 0;
    json_object_set_new(st, "Status", json_string(status));
    json_object_set_new(st, "Running", json_boolean(running || restarting));
    json_object_set_new(st, "Restarting", json_boolean(restarting));
    json_object_set_new(st, "Pid", json_integer(pid));
    json_object_set_new(st, "ExitCode", json_integer(code));
    json_object_set_new(st, "Error", json_string(error ? error : ""));
    if (strcmp(status, "created") == 0) {   /* it never ran: no times */
        json_object_set_new(st, "StartedAt", json_string("0001-01-01T00:00:00Z"));
        json_object_set_new(st, "FinishedAt", json_string("0001-01-01T00:00:00Z"));
    } else
        json_object_set_new(st, running ? "StartedAt" : "FinishedAt", json_string(now));
    if (!running)
        json_object_set_new(st, "OOMKilled", json_boolean(cgroup_oom_killed(m->c->id)));
    if (!running && !restarting)
        state_ports_clear(m->c->state);
    struct berr err = {0};
    if (state_write(m->c->s, m->c->id, m->c->state, &err) < 0 && m->out.echo >= 0)
        fprintf(stderr, "berth: %s\n", err.msg);
}

static int exit_status(int ws)
{
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 255;
}

static void finish(struct monitor *m)
{
    net_leave(m->c);
    cgroup_remove(m->c->id);
    if (m->c->o->auto_remove) {
        int lock = state_lock(m->c->s);
        rmtree(m->c->dir);
        if (lock >= 0)
            close(lock);
    }
}

static int set_up_stdio(struct monitor *m, struct child_io *io, bool attached,
                        struct berr *err)
{
    const struct rt_run_opts *o = m->c->o;
    int in[2] = {-1, -1}, out[2], errp[2];
    io->tty = -1;
    if (o->tty) {   /* the pty is the container's own: made inside, its master sent here */
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
            return berr_set(err, BERR_IO, "socketpair: %s", strerror(errno));
        m->tty_sock = sv[0];
        io->tty = sv[1];
        if (!attached || m->c->term < 0 || ioctl(m->c->term, TIOCGWINSZ, &io->ws) < 0)
            io->ws.ws_row = 0;
        return 0;
    }
    if (pipe2(out, O_CLOEXEC) < 0)
        return berr_set(err, BERR_IO, "pipe: %s", strerror(errno));
    if (pipe2(errp, O_CLOEXEC) < 0 || (o->interactive && pipe2(in, O_CLOEXEC) < 0)) {
        close(out[0]);
        close(out[1]);
        return berr_set(err, BERR_IO, "pipe: %s", strerror(errno));
    }
    io->stdio[0] = o->interactive ? in[0] : rt_null_stdin();
    io->stdio[1] = out[1];
    io->stdio[2] = errp[1];
    m->out.fd = out[0];
    m->err.fd = errp[0];
    m->in_dst = in[1];
    return 0;
}

/* Our ends of the container's streams, once it has ended. */
static void streams_close(struct monitor *m)
{
    if (m->in_dst >= 0 && m->in_dst != m->out.fd)
        close(m->in_dst);
    if (m->out.fd >= 0)
        close(m->out.fd);
    if (m->err.fd >= 0)
        close(m->err.fd);
    if (m->tty_sock >= 0)
        close(m->tty_sock);
    m->in_dst = m->out.fd = m->err.fd = m->in_src = m->tty_sock = -1;
}

/* Start the container's process once; its first start and every restart
 * go through here: new stdio, a clone into new namespaces (the same
 * overlay upper directory is mounted again inside), its cgroup, then it is
 * let go and this waits until it has executed its program. 0 when it
 * runs; else `msg` holds its status byte and why not. */
static int start_once(struct monitor *m, bool attached, char *msg, size_t len,
                      struct berr *err)
{
    struct rt_container *c = m->c;
    struct child_io io = {.stdio = {-1, -1, -1}};
    int sync[2], rep[2];
    m->out.fd = m->err.fd = m->in_dst = m->in_src = -1;
    m->out.len = m->err.len = 0;
    inbuf_clear(&m->in);
    m->exited = false;
    m->wstatus = 0;
    if (set_up_stdio(m, &io, attached, err) < 0) {
        snprintf(msg, len, "%c%s", 125, err->msg);
        return -1;
    }
    if (attached && c->o->interactive)
        m->in_src = 0;
    if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
        snprintf(msg, len, "%ccannot set up the monitor: %s", 125, strerror(errno));
        streams_close(m);
        return -1;
    }
    io.sync = sync[0];
    io.report = rep[1];

    unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
    if (!c->o->network_host)
        flags |= CLONE_NEWNET;
    /* fork-like: a copy of this process in new namespaces */
    m->child = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
    if (m->child == 0)
        child_main(c, &io);
    for (int i = 0; i < 3; i++)
        if (io.stdio[i] >= 0 && (i == 0 || io.stdio[i] != io.stdio[0]))
            close(io.stdio[i]);
    if (io.tty >= 0)
        close(io.tty);
    close(sync[0]);
    close(rep[1]);
    if (m->child < 0) {
        snprintf(msg, len, "%ccannot create the container: %s", 125, strerror(errno));
        close(sync[1]);
        close(rep[0]);
        streams_close(m);
        return -1;
    }
    char path_ns[64];
    snprintf(path_ns, sizeof path_ns, "/proc/%d/ns/net", (int)m->child);
    if (m->netns >= 0)
        close(m->netns);
    m->netns = open(path_ns, O_RDONLY | O_CLOEXEC);
    /* every start joins the container's network again */
    int started = net_join(c, m->child, err);
    if (started == 0)
        started = cgroup_enter(c->id, m->child, c->o, err);
    if (started == 0) {
        state_set(m, "running", m->child, 0, NULL);
        if (write(sync[1], "x", 1) != 1)
            started = -1;
    }
    close(sync[1]);
    ssize_t n = started == 0 ? read(rep[0], msg, len - 1) : 0;
    close(rep[0]);
    if (m->tty_sock >= 0) {   /* sent before the exec that closed rep */
        int master = started == 0 && n == 0 ? recv_fd(m->tty_sock) : -1;
        close(m->tty_sock);
        m->tty_sock = -1;
        if (master >= 0) {
            m->out.fd = master;
            m->in_dst = c->o->interactive ? master : -1;
        } else if (started == 0 && n == 0) {
            n = snprintf(msg, len, "%ccannot open the container's terminal", 125);
        }
    }
    /* the overlay is mounted (or never will be): its layers are in use */
    if (c->pin >= 0) {
        close(c->pin);
        c->pin = -1;
    }
    if (started < 0 || n > 0) {
        /* it never ran the image's program */
        msg[n > 0 ? n : 0] = '\0';
        if (started < 0)
            snprintf(msg, len, "%c%s", 125, err->msg);
        kill(m->child, SIGKILL);
        waitpid(m->child, NULL, 0);
        streams_close(m);
        return -1;
    }
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Does docker's restart policy start it again after it ended with
 * `status`, having been restarted `count` times? */
static bool policy_restarts(json_t *state, int status, json_int_t count)
{
    json_t *p = json_object_get(json_object_get(state, "HostConfig"), "RestartPolicy");
    const char *name = json_string_value(json_object_get(p, "Name"));
    json_int_t max = json_integer_value(json_object_get(p, "MaximumRetryCount"));
    if (!name)
        return false;
    if (strcmp(name, "always") == 0 || strcmp(name, "unless-stopped") == 0)
        return true;
    return strcmp(name, "on-failure") == 0 && status != 0 && (max <= 0 || count < max);
}

/* Wait `ms` before a restart, the way docker's restart manager does;
 * false when the user stopped it meanwhile. */
static bool restart_wait(struct monitor *m, int64_t ms)
{
    int64_t end = mono_ms() + ms;
    for (;;) {
        if (m->stop || state_manually_stopped(m->c->dir))
            return false;
        int64_t left = end - mono_ms();
        if (left <= 0)
            return true;
        struct pollfd p = {m->sigfd, POLLIN, 0};
        if (poll(&p, 1, left < 50 ? (int)left : 50) > 0)
            handle_signal(m);
    }
}

/* The published ports are free before anyone reads that it has stopped:
 * `start` binds them again. */
static void ports_close(struct rt_container *c)
{
    for (size_t i = 0; !c->o->network_host && i < c->o->nports && i < 64; i++)
        if (c->listeners[i] >= 0) {
            close(c->listeners[i]);
            c->listeners[i] = -1;
        }
}

/* Run the container once: copy its streams until it ends; its status. */
static int run_once(struct monitor *m, bool attached)
{
    health_start(&m->health, m->c);
    struct termios saved;
    bool raw = attached && m->c->o->tty && tcgetattr(0, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        cfmakeraw(&t);
        tcsetattr(0, TCSANOW, &t);
    }
    loop(m);
    if (raw)
        tcsetattr(0, TCSANOW, &saved);
    health_stop(&m->health, m->c);
    streams_close(m);
    return exit_status(m->wstatus);
}

int monitor_lock(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/monitor.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int monitor_run(struct rt_container *c, bool attached, int ready_fd, int *status,
                struct berr *err)
{
    /* a new container's (run), or handed over by start */
    if (c->monitor_lock < 0)
        c->monitor_lock = monitor_lock(c->dir);
    struct monitor m = {.c = c, .in_src = -1, .in_dst = -1, .netns = -1, .tty_sock = -1,
                        .out = {.fd = -1, .name = "stdout", .echo = attached ? 1 : -1},
                        .err = {.fd = -1, .name = "stderr", .echo = attached ? 2 : -1},
                        .health = {.out = -1}};
    snprintf(m.log_path, sizeof m.log_path, "%s/log.json", c->dir);
    m.log = open(m.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (m.log < 0)
        return berr_set(err, BERR_IO, "cannot open %s: %s", m.log_path, strerror(errno));
    struct stat sb;
    m.log_size = fstat(m.log, &sb) == 0 ? (int64_t)sb.st_size : 0;

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        sigaddset(&mask, forwarded[i]);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    m.sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (m.sigfd < 0) {
        close(m.log);
        return berr_set(err, BERR_IO, "cannot set up the monitor: %s", strerror(errno));
    }
    json_t *b = json_object_get(c->state, "Berth");
    json_object_set_new(b, "MonitorPid", json_integer(getpid()));
    json_object_set_new(b, "MonitorStart", json_integer((json_int_t)proc_start_time(getpid())));

    char msg[1100];
    int64_t delay = 0;
    /* a container that has never run stays "created" when its first start
     * fails (docker's "Created", its error and exit code recorded) */
    const char *began_at = json_string_value(json_object_get(json_object_get(c->state, "State"),
                                                             "StartedAt"));
    bool never_ran = !began_at || strncmp(began_at, "0001-", 5) == 0;
    for (int run = 0;; run++) {
        const char *error = NULL;
        int64_t began = mono_ms();
        msg[0] = '\0';
        if (start_once(&m, attached, msg, sizeof msg, err) < 0) {
            *status = (unsigned char)msg[0];
            if (run == 0) {
                ports_close(c);
                state_set(&m, never_ran ? "created" : "exited", 0, *status, msg + 1);
                close(m.log);
                finish(&m);
                if (c->monitor_lock >= 0)
                    close(c->monitor_lock);
                c->monitor_lock = -1;
                if (ready_fd >= 0)
                    write_all(ready_fd, msg, strlen(msg));
                return berr_set(err, BERR_INVALID, "%s", msg + 1);
            }
            error = msg + 1;
        } else {
            if (run == 0 && ready_fd >= 0) {
                write_all(ready_fd, "\0", 1);
                close(ready_fd);
            }
            *status = run_once(&m, attached);
        }
        json_int_t count = json_integer_value(json_object_get(c->state, "RestartCount"));
        if (m.stop || state_manually_stopped(c->dir) ||
            !policy_restarts(c->state, *status, count)) {
            ports_close(c);
            state_set(&m, "exited", 0, *status, error);
            break;
        }
        /* docker's delay: 100 ms, doubling up to a minute, back to 100 ms
         * after a run of 10 s or more */
        delay = mono_ms() - began >= 10000 || delay == 0 ? 100 : delay * 2;
        delay = delay > 60000 ? 60000 : delay;
        state_set(&m, "restarting", 0, *status, error);
        net_leave(c);
        cgroup_remove(c->id);
        if (!restart_wait(&m, delay)) {
            ports_close(c);
            state_set(&m, "exited", 0, *status, error);
            break;
        }
        json_object_set_new(c->state, "RestartCount", json_integer(count + 1));
    }
    if (m.netns >= 0)
        close(m.netns);
    close(m.sigfd);
    if (m.log >= 0)
        close(m.log);
    finish(&m);
    if (c->monitor_lock >= 0)
        close(c->monitor_lock);
    c->monitor_lock = -1;
    return 0;
}
