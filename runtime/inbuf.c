/*
 * inbuf.c - standard input on its way to a container. It is read from one
 * end and written to the other without blocking, so that a process that
 * does not read its input can still have its output copied meanwhile: what
 * the process has not taken yet waits here, and nothing more is read until
 * it has. The monitor (ours -> the container's), the attached client (the
 * user's -> the monitor's) and exec (the user's -> the process's) pass
 * their input so, each with its own way to end it.
 */
#include "internal.h"

#include <errno.h>
#include <unistd.h>

int inbuf_flush(struct inbuf *b, int to)
{
    while (b->off < b->len) {
        ssize_t n = write(to, b->data + b->off, b->len - b->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;   /* the rest when the reader has taken some */
        if (n <= 0) {
            inbuf_clear(b);
            return -1;
        }
        b->off += (size_t)n;
    }
    inbuf_clear(b);
    return 0;
}

int inbuf_read(struct inbuf *b, int from, int to)
{
    ssize_t n = read(from, b->data, sizeof b->data);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return -1;
    b->len = (size_t)n;
    b->off = 0;
    return inbuf_flush(b, to);
}
