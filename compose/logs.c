/*
 * logs.c - several containers' logs at once, each line prefixed by its
 * source ("web-1  | "), as docker compose prints them. Each container's
 * log is read by rt_logs in a child process writing into a pipe; this
 * process reads the pipes as lines arrive, so that -f interleaves the
 * services' output in the order it comes.
 */
#include "project.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct reader {
    int fd;
    pid_t pid;
    char buf[8192];
    size_t len;
};

static void emit(const char *prefix, int width, const char *line, size_t n, bool with_prefix)
{
    if (with_prefix)
        printf("%-*s | %.*s\n", width, prefix, (int)n, line);
    else
        printf("%.*s\n", (int)n, line);
}

/* Print the whole lines in r->buf; a line longer than the buffer goes out
 * in pieces. */
static void drain(struct reader *r, const char *prefix, int width, bool with_prefix, bool eof)
{
    size_t start = 0;
    for (size_t i = 0; i < r->len; i++)
        if (r->buf[i] == '\n') {
            emit(prefix, width, r->buf + start, i - start, with_prefix);
            start = i + 1;
        }
    if (start == 0 && (r->len == sizeof r->buf || (eof && r->len))) {
        emit(prefix, width, r->buf, r->len, with_prefix);
        start = r->len;
    }
    memmove(r->buf, r->buf + start, r->len - start);
    r->len -= start;
    fflush(stdout);
}

static pid_t spawn(struct compose_project *p, const char *id, const struct rt_logs_opts *o,
                   int *fd)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        struct berr err = {0};
        /* up's handlers are not this reader's: SIGTERM from the parent ends it */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        int rc = rt_logs(p->store, id, o, &err);
        if (rc < 0)
            fprintf(stderr, "%s\n", err.msg);
        fflush(stdout);
        fflush(stderr);
        _exit(rc < 0);
    }
    close(pipefd[1]);
    if (pid < 0) {
        close(pipefd[0]);
        return -1;
    }
    *fd = pipefd[0];
    return pid;
}

int logs_print(struct compose_project *p, struct log_source *src, size_t n,
               const struct rt_logs_opts *o, bool prefix, volatile int *stop,
               struct berr *err)
{
    struct reader *r = calloc(n ? n : 1, sizeof *r);
    struct pollfd *pfd = calloc(n ? n : 1, sizeof *pfd);
    int width = 0, open = 0;
    if (!r || !pfd) {
        free(r);
        free(pfd);
        return berr_set(err, BERR_IO, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(src[i].prefix);
        width = w > width ? w : width;
        r[i].fd = -1;
        r[i].pid = spawn(p, src[i].id, o, &r[i].fd);
        if (r[i].pid > 0)
            open++;
    }
    width++;
    while (open > 0 && !(stop && *stop)) {
        for (size_t i = 0; i < n; i++)
            pfd[i] = (struct pollfd){.fd = r[i].fd, .events = POLLIN};
        int k = poll(pfd, n, 250);
        if (k < 0 && errno != EINTR)
            break;
        for (size_t i = 0; k > 0 && i < n; i++) {
            if (r[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(r[i].fd, r[i].buf + r[i].len, sizeof r[i].buf - r[i].len);
            if (got > 0) {
                r[i].len += (size_t)got;
                drain(&r[i], src[i].prefix, width, prefix, false);
            } else if (got == 0 || errno != EINTR) {
                drain(&r[i], src[i].prefix, width, prefix, true);
                close(r[i].fd);
                r[i].fd = -1;
                open--;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i].fd >= 0) {
            close(r[i].fd);
            if (r[i].pid > 0)
                kill(r[i].pid, SIGTERM);
        }
        if (r[i].pid > 0)
            while (waitpid(r[i].pid, NULL, 0) < 0 && errno == EINTR)
                ;
    }
    free(r);
    free(pfd);
    return 0;
}

int compose_logs(struct compose_project *p, const struct compose_logs_opts *o, struct berr *err)
{
    json_t *all;
    int rc = proj_check_services(p, o->services, o->nservices, err);
    if (rc == 0)
        rc = proj_containers(p, false, &all, err);
    if (rc < 0)
        return rc;
    size_t n = json_array_size(all), k = 0, i;
    struct log_source *src = calloc(n ? n : 1, sizeof *src);
    json_t *c, *prefixes = json_array();
    /* oldest first, so that the order is stable from one call to the next */
    for (i = n; i-- > 0;) {
        c = json_array_get(all, i);
        const char *svc = ctr_label(c, LABEL_SERVICE);
        bool wanted = o->nservices == 0;
        for (size_t j = 0; !wanted && j < o->nservices; j++)
            wanted = svc && strcmp(svc, o->services[j]) == 0;
        if (!wanted || !src)
            continue;
        json_array_append_new(prefixes, json_string(ctr_name(c)));
        src[k].id = json_string_value(json_object_get(c, "Id"));
        src[k].prefix = json_string_value(json_array_get(prefixes, k));
        k++;
    }
    struct rt_logs_opts lo = {.follow = o->follow, .timestamps = o->timestamps, .tail = o->tail};
    rc = src ? logs_print(p, src, k, &lo, !o->no_prefix, NULL, err)
             : berr_set(err, BERR_IO, "out of memory");
    free(src);
    json_decref(prefixes);
    json_decref(all);
    return rc;
}
