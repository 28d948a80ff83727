/*
 * ratelimit.c - failed-login throttling, per client address and per
 * account. Each key has a fixed window: after `attempts` failures inside
 * `window` seconds, the key is blocked until the window ends. A small open
 * hash table bounds the memory whatever an attacker sends.
 *
 * Slots come from an HMAC of the key under a secret drawn at start, so
 * nobody can pick names that land beside a victim's counter; a blocked key
 * is never replaced, and a key that finds no slot it may take counts as
 * blocked: a flood of failures can only make logins harder, never reset a
 * counter.
 */
#include "internal.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>
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
    unsigned char secret[32];
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
    if (RAND_bytes(rl->secret, sizeof rl->secret) != 1) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->lock, NULL);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    OPENSSL_cleanse(rl->secret, sizeof rl->secret);
    free(rl);
}

static void key_of(const struct ratelimit *rl, const char *s, unsigned char out[16])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), rl->secret, (int)sizeof rl->secret, (const unsigned char *)s,
         strlen(s), md, &len);
    memcpy(out, md, 16);
}

static bool blocked(const struct ratelimit *rl, const struct slot *s, time_t now)
{
    return s->failures >= rl->attempts && now < s->start + rl->window;
}

/* The slot for key (with the lock held). When absent and `create`: an
 * empty or expired slot, else the one with the fewest failures that is not
 * blocked. NULL when absent, or when every candidate is blocked. */
static struct slot *find(struct ratelimit *rl, const unsigned char key[16],
                         time_t now, bool create)
{
    size_t base = ((size_t)key[0] << 8 | key[1]) % SLOTS;
    struct slot *victim = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct slot *s = &rl->slots[(base + (size_t)i) % SLOTS];
        if (memcmp(s->key, key, 16) == 0)
            return s;
        if (blocked(rl, s, now))
            continue;
        bool stale = s->failures == 0 || now >= s->start + rl->window;
        bool victim_stale = victim && (victim->failures == 0 || now >= victim->start + rl->window);
        if (!victim || (stale && !victim_stale) ||
            (stale == victim_stale && (s->failures < victim->failures ||
                                       (s->failures == victim->failures &&
                                        s->start < victim->start))))
            victim = s;
    }
    if (!create || !victim)
        return NULL;
    memcpy(victim->key, key, 16);
    victim->start = now;
    victim->failures = 0;
    return victim;
}

/* When every slot key could take is blocked: until the first frees up. */
static int crowded_wait(struct ratelimit *rl, const unsigned char key[16], time_t now)
{
    size_t base = ((size_t)key[0] << 8 | key[1]) % SLOTS;
    int wait = 0;
    for (int i = 0; i < PROBE; i++) {
        const struct slot *s = &rl->slots[(base + (size_t)i) % SLOTS];
        if (!blocked(rl, s, now))
            return 0;
        int w = (int)(s->start + rl->window - now);
        if (!wait || w < wait)
            wait = w;
    }
    return wait;
}

int ratelimit_blocked(struct ratelimit *rl, const char *key)
{
    unsigned char k[16];
    key_of(rl, key, k);
    time_t now = time(NULL);
    int wait = 0;
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, k, now, false);
    if (s && blocked(rl, s, now))
        wait = (int)(s->start + rl->window - now);
    else if (!s)
        wait = crowded_wait(rl, k, now);
    pthread_mutex_unlock(&rl->lock);
    return wait;
}

void ratelimit_fail(struct ratelimit *rl, const char *key)
{
    unsigned char k[16];
    key_of(rl, key, k);
    time_t now = time(NULL);
    pthread_mutex_lock(&rl->lock);
    struct slot *s = find(rl, k, now, true);
    if (s && now >= s->start + rl->window) {
        s->start = now;
        s->failures = 0;
    }
    if (s)
        s->failures++;
    pthread_mutex_unlock(&rl->lock);
}
