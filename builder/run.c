/*
 * run.c - a RUN step's command: a container of the current image, its
 * output, and the layer it leaves.
 *
 * The container is run by a child process, which is its monitor (rt_run)
 * and writes the container's stdout and stderr into a pipe; this process
 * copies the pipe to the build's output. The container's ID is learned by
 * its name (chosen here) once the runtime has made it: docker prints
 * " ---> Running in <id>" before the command's output, so output that
 * comes first is held until then.
 *
 * On SIGINT, SIGTERM or SIGHUP (build_signal, set by build.c's handler)
 * the container is killed, and its monitor too if it has not gone within
 * five seconds; it is waited for and removed, and the build stops with
 * 128 + the signal's number. A command that exits non-zero fails the
 * build with its status. Otherwise the container's upper directory
 * becomes a layer, which the caller commits (and caches) before the
 * container is removed, as docker's "Removing intermediate container".
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void random_hex(char *out, size_t nbytes)
{
    unsigned char r[32];
    if (nbytes > sizeof r)
        nbytes = sizeof r;
    if (getrandom(r, nbytes, 0) != (ssize_t)nbytes)
        for (size_t i = 0; i < nbytes; i++)
            r[i] = (unsigned char)(rand() ^ (int)getpid() ^ (int)time(NULL));
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", r[i]);
}

struct run_child {
    pid_t pid;
    int out;                     /* its stdout and stderr, read here */
    char name[64];               /* the container's name, chosen here */
    char id[RT_ID_LEN + 1];      /* its id, once it exists */
};

/* The child: the container's monitor, its output into the pipe. */
static void __attribute__((noreturn))
run_child_main(const struct run_cmd *r, int out, const char *name, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(125);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(125);
    size_t nargv = json_array_size(r->argv), nenv = json_array_size(r->env);
    char **cmd = calloc(nargv + 1, sizeof *cmd), **envv = calloc(nenv + 1, sizeof *envv);
    if (!cmd || !envv)
        _exit(125);
    for (size_t i = 0; i < nargv; i++)
        cmd[i] = (char *)json_string_value(json_array_get(r->argv, i));
    for (size_t i = 0; i < nenv; i++)
        envv[i] = (char *)json_string_value(json_array_get(r->env, i));
    struct berth_store *s;
    struct berr err = {0};
    int status = 125;
    char id[RT_ID_LEN + 1];
    if (berth_store_open(berth_store_root(r->s), &s, &err) == 0) {
        struct rt_run_opts o = {
            .image = r->image, .name = name, .cmd = cmd, .ncmd = (int)nargv, .entrypoint = "",
            .env = envv, .nenv = nenv, .network_host = !r->network_none,
        };
        if (rt_run(s, &o, id, &status, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            if (status == 0)
                status = 125;
        }
    } else {
        fprintf(stderr, "%s\n", err.msg);
    }
    _exit(status);
}

/* Once the container exists: its id, and docker's " ---> Running in". */
static void announce(const struct run_cmd *r, struct run_child *rc)
{
    json_t *st = NULL;
    struct berr ignore = {0};
    if (rc->id[0] || rt_inspect(r->s, rc->name, &st, &ignore) < 0)
        return;
    const char *id = json_string_value(json_object_get(st, "Id"));
    if (id) {
        snprintf(rc->id, sizeof rc->id, "%s", id);
        fprintf(r->out, " ---> Running in %.12s\n", rc->id);
        fflush(r->out);
    }
    json_decref(st);
}

/* Output seen before the container is announced is held until it is. */
struct held {
    char *data;
    size_t len, cap;
};

static void held_add(struct held *h, const char *buf, size_t n)
{
    if (h->len + n > h->cap) {
        size_t cap = (h->len + n) * 2;
        char *grown = realloc(h->data, cap);
        if (!grown)
            return;
        h->data = grown;
        h->cap = cap;
    }
    memcpy(h->data + h->len, buf, n);
    h->len += n;
}

static void held_flush(const struct run_cmd *r, struct held *h)
{
    if (h->len) {
        fwrite(h->data, 1, h->len, r->out);
        fflush(r->out);
    }
    h->len = 0;
}

/* Run argv in a container of the current image, copying its output as it
 * comes; *status gets its exit status. On SIGINT or SIGTERM the container
 * is killed. The container is left for the caller (rc->id, or rc->name
 * when it was never seen). */
static int run_container(const struct run_cmd *r, struct run_child *rc, int *status,
                         struct berr *err)
{
    int p[2];
    char hex[16];
    random_hex(hex, 6);
    snprintf(rc->name, sizeof rc->name, "berth-build-%s", hex);
    rc->id[0] = '\0';
    if (pipe2(p, O_CLOEXEC) < 0)
        return berr_set(err, BERR_IO, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t parent = getpid();
    rc->pid = fork();
    if (rc->pid < 0) {
        close(p[0]);
        close(p[1]);
        return berr_set(err, BERR_IO, "fork: %s", strerror(errno));
    }
    if (rc->pid == 0)
        run_child_main(r, p[1], rc->name, parent);
    close(p[1]);
    rc->out = p[0];
    struct held held = {0};
    bool killed = false;
    time_t killed_at = 0;
    for (;;) {
        if (build_signal && !killed) {
            struct berr ignore = {0};
            announce(r, rc);
            if (!rc->id[0] || rt_kill(r->s, rc->id, SIGKILL, &ignore) < 0)
                kill(rc->pid, SIGKILL);
            killed = true;
            killed_at = time(NULL);
        }
        if (killed && time(NULL) - killed_at > 5)
            kill(rc->pid, SIGKILL);
        struct pollfd pf = {rc->out, POLLIN, 0};
        int n_ready = poll(&pf, 1, rc->id[0] && !killed ? -1 : 50);
        if (n_ready < 0 && errno != EINTR)
            break;
        announce(r, rc);
        if (n_ready <= 0)
            continue;
        char buf[16384];
        ssize_t n = read(rc->out, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        announce(r, rc);
        held_add(&held, buf, (size_t)n);
        if (rc->id[0])
            held_flush(r, &held);
    }
    close(rc->out);
    int ws = 0;
    while (waitpid(rc->pid, &ws, 0) < 0 && errno == EINTR)
        ;
    announce(r, rc);
    held_flush(r, &held);   /* what a container that never ran said */
    free(held.data);
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 125;
    return 0;
}

static void run_cleanup(const struct run_cmd *r, struct run_child *rc)
{
    struct berr ignore = {0};
    if (rt_remove(r->s, rc->id[0] ? rc->id : rc->name, true, &ignore) < 0 && rc->id[0])
        rt_remove(r->s, rc->name, true, &ignore);
}

int run_command(const struct run_cmd *r, struct berr *err)
{
    struct run_child child = {0};
    int status = 0;
    int rc = run_container(r, &child, &status, err);
    if (rc == 0 && build_signal) {
        rc = build_interrupted(r->status, err);
    } else if (rc == 0 && status != 0) {
        *r->status = status;
        rc = berr_set(err, BERR_INVALID, "The command '%s' returned a non-zero code: %d", r->cmd,
                      status);
    } else if (rc == 0) {
        struct berth_layer_writer *w = NULL;
        struct berth_layer layer;
        rc = berth_layer_new(r->s, &w, err);
        if (rc == 0)
            rc = rt_container_layer_write(r->s, child.id, w, err);
        if (rc == 0)
            rc = berth_layer_finish(w, &layer, err);
        if (rc == 0)
            rc = r->commit(r->arg, &layer, err);
        berth_layer_free(w);
        if (rc == 0) {
            fprintf(r->out, "Removing intermediate container %.12s\n", child.id);
            fflush(r->out);
        }
    }
    if (child.pid > 0)
        run_cleanup(r, &child);
    return rc;
}
