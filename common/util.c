/*
 * util.c - errors, cleanup attributes and the few file operations that need
 * care: creating directory trees, making a rename durable, full writes; and
 * when a process started, which tells a live process from a reused pid.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int berr_set(struct berr *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return -code;
}

void cleanup_freep(void *p)
{
    free(*(void **)p);
}

void cleanup_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

int mkdir_p(const char *path, int mode)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return -BERR_INVALID;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -BERR_IO;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -BERR_IO;
    return 0;
}

int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -BERR_IO;
    int rc = fsync(fd);
    close(fd);
    return rc < 0 ? -BERR_IO : 0;
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -BERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* /proc/PID/stat into buf, from after the command name (which may hold
 * spaces and parentheses: it ends at the last ')'); NULL if none. */
static const char *proc_stat(int pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] ? p + 2 : NULL;
}

unsigned long long proc_start_time(int pid)
{
    char buf[1024];
    const char *p = proc_stat(pid, buf, sizeof buf);
    unsigned long long start = 0;
    if (!p || *p == 'Z')   /* a zombie is gone for our purposes */
        return 0;
    if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                  "%*d %*d %*d %llu", &start) != 1)
        return 0;
    return start;
}

int proc_parent(int pid)
{
    char buf[1024];
    const char *p = proc_stat(pid, buf, sizeof buf);
    int ppid;
    return p && sscanf(p, "%*c %d", &ppid) == 1 ? ppid : 0;
}
