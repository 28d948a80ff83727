/*
 * progress.c - per-blob progress, as docker shows it.
 *
 * On a terminal: one line per blob ("a1b2c3d4e5f6: Downloading  12.3MB/45.6MB  8.1MB/s"),
 * redrawn in place at most ten times a second. Elsewhere: a plain line
 * when a blob starts and when it is done. Quiet: nothing.
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_init(struct progress *p, FILE *out, int quiet, const char *verb)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->quiet = quiet;
    p->tty = !quiet && isatty(fileno(out));
    p->verb = verb;
    pthread_mutex_init(&p->lock, NULL);
}

int progress_add(struct progress *p, const char *digest, uint64_t total)
{
    pthread_mutex_lock(&p->lock);
    int i = p->n < PROGRESS_MAX ? p->n++ : PROGRESS_MAX - 1;
    struct progress_item *it = &p->items[i];
    snprintf(it->id, sizeof it->id, "%.12s", digest_hex(digest));
    it->total = total;
    it->done = 0;
    snprintf(it->state, sizeof it->state, "Waiting");
    pthread_mutex_unlock(&p->lock);
    return i;
}

/* With the lock held: redraw every line (terminal only). */
static void redraw(struct progress *p)
{
    if (p->drawn)
        fprintf(p->out, "\033[%dA", p->drawn);
    double t = now();
    for (int i = 0; i < p->n; i++) {
        struct progress_item *it = &p->items[i];
        char done[16], total[16], speed[16] = "";
        format_size(it->done, done, sizeof done);
        format_size(it->total, total, sizeof total);
        if (it->started > 0 && t > it->started && it->done < it->total) {
            format_size((uint64_t)((double)it->done / (t - it->started)), speed, sizeof speed);
            size_t n = strlen(speed);
            buf_appendf(speed, sizeof speed, &n, "/s");   /* display only: may be cut */
        }
        if (strcmp(it->state, p->verb) == 0)
            fprintf(p->out, "\033[2K%s: %-12s %8s/%-8s %s\n", it->id, it->state, done, total,
                    speed);
        else
            fprintf(p->out, "\033[2K%s: %s\n", it->id, it->state);
    }
    p->drawn = p->n;
    p->last = t;
    fflush(p->out);
}

void progress_state(struct progress *p, int i, const char *state)
{
    if (i < 0)
        return;   /* a blob with no line of its own (the config) */
    pthread_mutex_lock(&p->lock);
    struct progress_item *it = &p->items[i];
    snprintf(it->state, sizeof it->state, "%s", state);
    if (strcmp(state, p->verb) == 0 && it->started == 0)
        it->started = now();
    if (p->tty)
        redraw(p);
    else if (!p->quiet)
        fprintf(p->out, "%s: %s\n", it->id, state);
    pthread_mutex_unlock(&p->lock);
}

void progress_bytes(void *arg, uint64_t n)
{
    struct progress_ref *ref = arg;
    struct progress *p = ref->p;
    if (ref->i < 0)
        return;
    pthread_mutex_lock(&p->lock);
    p->items[ref->i].done += n;
    if (p->tty && now() - p->last > 0.1)
        redraw(p);
    pthread_mutex_unlock(&p->lock);
}

void progress_done(struct progress *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->tty)
        redraw(p);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
}
