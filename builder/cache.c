/*
 * cache.c - the build cache, and `builder prune`.
 *
 * One small file per step made: <store>/build-cache/<hex of the key>
 * holds the ID of the image the step produced. The key is a sha256 over
 * what makes a step the same step (its parent image, its instruction as
 * expanded, the build args in effect, the hash of its sources), each part
 * length-prefixed so that no two different sets of parts hash alike. A
 * hit counts only while its image is still in the store; entries are
 * written through a temporary file and a rename, so a reader never sees
 * half of one, and two builds racing on the same step just both win.
 *
 * `builder prune` empties the cache and removes the build steps' images,
 * but those a container was made from; their blobs go with them unless a
 * named image (or another kept one) shares them.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void cache_dir(struct berth_store *s, char *out, size_t len)
{
    snprintf(out, len, "%s/build-cache", berth_store_root(s));
}

void cache_key(const char *parent, const char *text, const char *args, const char *hash,
               char key[DIGEST_MAX])
{
    const char *parts[] = {parent, text, args, hash};
    struct hasher *h = hasher_new(DIGEST_SHA256);
    key[0] = '\0';
    if (!h)
        return;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        const char *p = parts[i] ? parts[i] : "";
        char len[32];
        int n = snprintf(len, sizeof len, "%zu:", strlen(p));
        hasher_update(h, len, (size_t)n);
        hasher_update(h, p, strlen(p));
        hasher_update(h, "\n", 1);
    }
    hasher_final(h, key);
    hasher_free(h);
}

int cache_lookup(struct berth_store *s, const char *key, char id[DIGEST_MAX])
{
    char dir[2200], path[2400], buf[DIGEST_MAX + 2] = "";
    if (!digest_valid(key))
        return -BERR_NOTFOUND;
    cache_dir(s, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, digest_hex(key));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -BERR_NOTFOUND;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -BERR_NOTFOUND;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    struct berr ignore = {0};
    if (!digest_valid(buf) || berth_image_get(s, buf, NULL, NULL, NULL, &ignore) < 0)
        return -BERR_NOTFOUND;
    snprintf(id, DIGEST_MAX, "%s", buf);
    return 0;
}

int cache_store(struct berth_store *s, const char *key, const char *id, struct berr *err)
{
    char dir[2200], path[2400], tmp[2400];
    if (!digest_valid(key) || !digest_valid(id))
        return berr_set(err, BERR_INVALID, "invalid build cache entry");
    cache_dir(s, dir, sizeof dir);
    if (mkdir_p(dir, 0700) < 0 && errno != EEXIST)
        return berr_set(err, BERR_IO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/%s", dir, digest_hex(key));
    snprintf(tmp, sizeof tmp, "%s/.tmp-%d-%s", dir, (int)getpid(), digest_hex(key));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return berr_set(err, BERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    char line[DIGEST_MAX + 1];
    int n = snprintf(line, sizeof line, "%s\n", id);
    int rc = write_all(fd, line, (size_t)n);
    if (close(fd) < 0)
        rc = -1;
    if (rc < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return berr_set(err, BERR_IO, "cannot write the build cache: %s", strerror(e));
    }
    return 0;
}

/* Remove every cache entry; the bytes their files held. */
static uint64_t cache_clear(struct berth_store *s)
{
    char dir[2200];
    cache_dir(s, dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint64_t freed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            freed += (uint64_t)st.st_size;
    }
    closedir(d);
    return freed;
}

static int container_image(void *arg, json_t *state)
{
    const char *image = json_string_value(json_object_get(state, "Image"));
    if (image && *image)
        json_object_set_new(arg, image, json_true());
    return 0;
}

static bool used_by_container(void *arg, const char *id)
{
    return json_object_get(arg, id) != NULL;
}

int builder_prune(struct berth_store *s, uint64_t *freed, struct berr *err)
{
    json_t *used = json_object();
    int rc = rt_list(s, true, container_image, used, err);
    uint64_t images = 0;
    *freed = 0;
    if (rc == 0)
        *freed = cache_clear(s);
    if (rc == 0)
        rc = berth_prune_intermediate(s, used_by_container, used, &images, err);
    *freed += images;
    json_decref(used);
    return rc;
}
