/*
 * ratelimit.c - failed-login throttling, per client address and per
 * account. Each key has a fixed window: after `attempts` failures inside
 * `window` seconds, the key is blocked until the window ends. A small open
 * hash table with oldest-first replacement bounds the memory whatever an
 * attacker sends.
 */
#include "internal.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

enum { SLOTS = 4096, PROBE = 8 };

struct slot {
    unsigned char key[16];
    time_t start;
    int failures;
};

struct ratelimit {
    int attempts, window;
    pthread_mutex_t lock;
    struct slot slots[SLOTS];
};

struct ratelimit *ratelimit_new(int attempts, int window_seconds)
{
    struct ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->attempts = attempts;
    rl->window = window_seconds;
    pthread_mutex_init(&rl->lock, NULL);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static void key_of(const char *s, unsigned char out[16])
{
    unsigned char md[32];
    EVP_Digest(s, strlen(s), md, NULL, EVP_sha256(), NULL);
    memcpy(out, md, 16);
}

/* The slot for key (with the lock held), claiming the stalest if absent. */
static struct slot *find(struct ratelimit *rl, const unsigned char key[16],
                         time_t now, bool create)
{
    size_t base = ((size_t)key[0] << 8 | key[1]) % SLOTS;
    struct slot *oldest = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct slot *s = &rl->slots[(base + (size_t)i) % SLOTS];
        if (memcmp(s->key, key, 16) == 0)
            return s;
        if (!oldest || s->start < oldest->start)
            oldest = s;
    }
    if (!create)
        return NULL;
    memcpy(oldest->key, key, 16);
    oldest->start = now;
    oldest->failures = 0;
    return oldest;
}

int ratelimit_blocked(struct ratelimit *rl, const char *key)
{
    unsigned char k[16];
    key_of(key, k);
    time_t now = time(NULL);
    int wait = 0;
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, k, now, false);
    if (s && s->failures >= rl->attempts && now < s->start + rl->window)
        wait = (int)(s->start + rl->window - now);
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

void ratelimit_fail(struct ratelimit *rl, const char *key)
{
    unsigned char k[16];
    key_of(key, k);
    time_t now = time(NULL);
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, k, now, true);
    if (now >= s->start + rl->window) {
        s->start = now;
        s->failures = 0;
    }
    s->failures++;
    pthread_mutex_unlock(&rl->lock);
}
