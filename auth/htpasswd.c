/*
 * htpasswd.c - Apache-style password files, bcrypt only.
 *
 * Each line is USER:HASH with a $2y$, $2b$ (or $2a$) bcrypt hash; blank
 * lines and # comments are skipped; anything else stops the load with the
 * line number, so a weak or mistyped entry is never silently accepted.
 * Hashes are checked with libxcrypt's crypt_r. bcrypt is slow on purpose,
 * so a success is remembered for a minute under a SHA-256 of the
 * credentials (never the credentials themselves).
 */
#include "internal.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct entry {
    char *user;
    char *hash;
};

enum { CACHE_SLOTS = 256, CACHE_SECONDS = 60 };

struct htpasswd {
    char dummy[CRYPT_OUTPUT_SIZE];   /* checked for unknown users */
    struct entry *entries;
    size_t n;
    pthread_mutex_t lock;
    struct {
        unsigned char key[32];
        time_t until;
    } cache[CACHE_SLOTS];
};

static bool is_bcrypt(const char *h)
{
    return (strncmp(h, "$2y$", 4) == 0 || strncmp(h, "$2b$", 4) == 0 ||
            strncmp(h, "$2a$", 4) == 0) && strlen(h) == 60;
}

void htpasswd_free(struct htpasswd *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->entries[i].user);
        free(h->entries[i].hash);
    }
    free(h->entries);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int htpasswd_load(const char *file, struct htpasswd **out, struct berr *err)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return berr_set(err, BERR_IO, "%s: %s", file, strerror(errno));
    struct htpasswd *h = calloc(1, sizeof *h);
    struct crypt_data *cd = calloc(1, sizeof *cd);
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    const char *dummy = NULL;
    if (h && cd && crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof salt))
        dummy = crypt_r("no user has this password", salt, cd);
    if (!dummy || dummy[0] == '*') {
        free(cd);
        free(h);
        fclose(f);
        return berr_set(err, BERR_IO, "bcrypt is not available");
    }
    snprintf(h->dummy, sizeof h->dummy, "%s", dummy);
    free(cd);
    pthread_mutex_init(&h->lock, NULL);
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char *colon = strchr(line, ':');
        if (!colon || colon == line) {
            rc = berr_set(err, BERR_INVALID, "%s:%d: expected USER:HASH", file, lineno);
            break;
        }
        *colon = '\0';
        if (!is_bcrypt(colon + 1)) {
            rc = berr_set(err, BERR_INVALID,
                          "%s:%d: user %s: only bcrypt ($2y$/$2b$) hashes are accepted",
                          file, lineno, line);
            break;
        }
        struct entry *e = realloc(h->entries, (h->n + 1) * sizeof *e);
        if (!e) {
            rc = berr_set(err, BERR_IO, "out of memory");
            break;
        }
        h->entries = e;
        h->entries[h->n].user = strdup(line);
        h->entries[h->n].hash = strdup(colon + 1);
        h->n++;
    }
    free(line);
    fclose(f);
    if (rc < 0) {
        htpasswd_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

static void cache_key(const char *user, const char *password, const char *hash,
                      unsigned char key[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, user, strlen(user) + 1);
    EVP_DigestUpdate(ctx, password, strlen(password) + 1);
    EVP_DigestUpdate(ctx, hash, strlen(hash));
    EVP_DigestFinal_ex(ctx, key, NULL);
    EVP_MD_CTX_free(ctx);
}

bool htpasswd_verify(struct htpasswd *h, const char *user, const char *password)
{
    /* An unknown user is checked against a dummy hash, so timing does not
     * tell which users exist. */
    const char *dummy = h->dummy;
    const char *hash = dummy;
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->entries[i].user, user) == 0)
            hash = h->entries[i].hash;

    unsigned char key[32];
    cache_key(user, password, hash, key);
    size_t slot = key[0] % CACHE_SLOTS;
    time_t now = time(NULL);
    pthread_mutex_lock(&h->lock);
    bool cached = h->cache[slot].until > now &&
                  CRYPTO_memcmp(h->cache[slot].key, key, sizeof key) == 0;
    pthread_mutex_unlock(&h->lock);
    if (cached)
        return hash != dummy;

    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return false;
    const char *got = crypt_r(password, hash, cd);
    bool ok = got && got[0] != '*' && strlen(got) == strlen(hash) &&
              CRYPTO_memcmp(got, hash, strlen(hash)) == 0 && hash != dummy;
    free(cd);
    if (ok) {
        pthread_mutex_lock(&h->lock);
        memcpy(h->cache[slot].key, key, sizeof key);
        h->cache[slot].until = now + CACHE_SECONDS;
        pthread_mutex_unlock(&h->lock);
    }
    return ok;
}

bool htpasswd_fingerprint(struct htpasswd *h, const char *user, char out[33])
{
    for (size_t i = 0; i < h->n; i++) {
        if (strcmp(h->entries[i].user, user) != 0)
            continue;
        unsigned char md[32];
        EVP_Digest(h->entries[i].hash, strlen(h->entries[i].hash), md, NULL, EVP_sha256(), NULL);
        for (int j = 0; j < 16; j++)
            snprintf(out + 2 * j, 3, "%02x", md[j]);
        return true;
    }
    return false;
}

int htpasswd_set(const char *file, const char *user, const char *password,
                 struct berr *err)
{
    if (!*user || strchr(user, ':') || strchr(user, '\n'))
        return berr_set(err, BERR_INVALID, "a user name must be non-empty, without ':'");
    if (!*password)
        return berr_set(err, BERR_INVALID, "empty password");
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof salt))
        return berr_set(err, BERR_IO, "cannot make a bcrypt salt");
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *hash = cd ? crypt_r(password, salt, cd) : NULL;
    if (!hash || hash[0] == '*') {
        free(cd);
        return berr_set(err, BERR_IO, "bcrypt failed");
    }

    /* Rewrite the file through a temporary one, keeping other lines. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", file, (int)getpid());
    FILE *out = fopen(tmp, "w");
    if (!out) {
        free(cd);
        return berr_set(err, BERR_IO, "%s: %s", tmp, strerror(errno));
    }
    /* The new file takes the old one's owner, group and mode: root edits
     * a file the service user reads, and the edit must not lock it out. A
     * new file is 0640 in its directory's group (/etc/berthd is the
     * service's group), so berthd can read it without a chgrp. */
    struct stat st;
    if (stat(file, &st) == 0) {
        if (fchown(fileno(out), st.st_uid, st.st_gid) < 0 && errno != EPERM) {
            int e = errno;
            fclose(out);
            unlink(tmp);
            free(cd);
            return berr_set(err, BERR_IO, "%s: cannot keep its owner: %s", file, strerror(e));
        }
        fchmod(fileno(out), st.st_mode & 07777);
    } else {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", file);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
            dir[1] = '\0';
        else if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
        struct stat ds;
        if (stat(dir, &ds) == 0 && ds.st_gid != getegid())
            (void)!fchown(fileno(out), (uid_t)-1, ds.st_gid);
        fchmod(fileno(out), 0640);
    }
    FILE *in = fopen(file, "r");
    bool replaced = false;
    if (in) {
        char *line = NULL;
        size_t cap = 0;
        size_t ulen = strlen(user);
        while (getline(&line, &cap, in) >= 0) {
            if (strncmp(line, user, ulen) == 0 && line[ulen] == ':') {
                if (!replaced)
                    fprintf(out, "%s:%s\n", user, hash);
                replaced = true;
            } else {
                fputs(line, out);
                if (line[0] && line[strlen(line) - 1] != '\n')
                    fputc('\n', out);
            }
        }
        free(line);
        fclose(in);
    }
    if (!replaced)
        fprintf(out, "%s:%s\n", user, hash);
    free(cd);
    int rc = fflush(out) == 0 && fsync(fileno(out)) == 0 ? 0 : -1;
    if (fclose(out) != 0 || rc < 0 || rename(tmp, file) < 0) {
        unlink(tmp);
        return berr_set(err, BERR_IO, "cannot write %s: %s", file, strerror(errno));
    }
    return 0;
}
