/*
 * gc.c - unpacked layers (<store>/layers/<hex>/) are freed once nothing
 * needs them.
 *
 * A layer is needed while an image of the store lists its diff-id (named
 * or not: build steps and untagged commits are images too) or a container
 * runs on it (state.json's Berth.Layers). Between the moment a layer is
 * unpacked, or found already unpacked, and the moment its user has it
 * mounted (or recorded in its state), nothing says so on disk: that user
 * holds the pin, a shared flock on <store>/layers/.lock, and prune takes
 * it exclusively, so it never removes a layer under a container or a
 * build step that is about to mount it. A pin holder can be a build step
 * that runs for minutes: prune waits for it a bounded time, then gives up
 * and says so. Unpacks that died half-way (.tmp-*) are removed too: under
 * the exclusive lock no unpack is running.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PRUNE_WAIT_S 30

static int lock_open(struct berth_store *s, struct berr *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/layers", berth_store_root(s));
    if (mkdir_p(path, 0700) < 0)
        return berr_set(err, BERR_IO, "cannot create %s: %s", path, strerror(errno));
    strcat(path, "/.lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return berr_set(err, BERR_IO, "cannot open %s: %s", path, strerror(errno));
    return fd;
}

int rt_layers_pin(struct berth_store *s, struct berr *err)
{
    int fd = lock_open(s, err);
    if (fd < 0)
        return fd;
    while (flock(fd, LOCK_SH) < 0) {
        if (errno != EINTR) {
            close(fd);
            return berr_set(err, BERR_IO, "cannot lock the unpacked layers: %s",
                            strerror(errno));
        }
    }
    return fd;
}

/* ---- what is in use ------------------------------------------------------------------ */

static json_t *blob_json(struct berth_store *s, const char *digest)
{
    char path[4200];
    if (!digest || !digest_valid(digest))
        return NULL;
    berth_blob_path(s, digest, path, sizeof path);
    return json_load_file(path, 0, NULL);
}

/* The diff-ids (as hex) of every image of the store, named or not: the
 * store is an OCI image layout, and its index.json lists them all. */
static void mark_images(struct berth_store *s, json_t *used)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/index.json", berth_store_root(s));
    json_t *index = json_load_file(path, 0, NULL), *e;
    size_t i;
    json_array_foreach(json_object_get(index, "manifests"), i, e) {
        json_t *m = blob_json(s, json_string_value(json_object_get(e, "digest")));
        json_t *c = blob_json(s, json_string_value(json_object_get(json_object_get(m, "config"),
                                                                   "digest")));
        json_t *d;
        size_t k;
        json_array_foreach(json_object_get(json_object_get(c, "rootfs"), "diff_ids"), k, d)
            if (json_string_value(d) && digest_valid(json_string_value(d)))
                json_object_set_new(used, digest_hex(json_string_value(d)), json_true());
        json_decref(c);
        json_decref(m);
    }
    json_decref(index);
}

/* The layers of every container, running or not. */
static void mark_containers(struct berth_store *s, json_t *used)
{
    char path[4200];
    state_dir(s, NULL, path, sizeof path);
    DIR *dir = opendir(path);
    for (struct dirent *de; dir && (de = readdir(dir));) {
        if (de->d_name[0] == '.' || strlen(de->d_name) != RT_ID_LEN)
            continue;
        char file[4400];
        snprintf(file, sizeof file, "%s/%s/state.json", path, de->d_name);
        json_t *st = json_load_file(file, 0, NULL), *l;
        size_t i;
        json_array_foreach(json_object_get(json_object_get(st, "Berth"), "Layers"), i, l)
            if (json_string_value(l))
                json_object_set_new(used, json_string_value(l), json_true());
        json_decref(st);
    }
    if (dir)
        closedir(dir);
}

/* ---- prune ------------------------------------------------------------------------------- */

static uint64_t tree_bytes;

static int count(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path, (void)flag, (void)ftw;
    tree_bytes += (uint64_t)st->st_blocks * 512;
    return 0;
}

/* The disk space a tree takes (hard links within it counted once each
 * name: close enough for a report). */
static uint64_t tree_size(const char *path)
{
    tree_bytes = 0;
    nftw(path, count, 32, FTW_PHYS | FTW_MOUNT);
    return tree_bytes;
}

static int lock_exclusive(int fd, struct berr *err)
{
    for (int waited = 0;; waited++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return berr_set(err, BERR_IO, "cannot lock the unpacked layers: %s",
                            strerror(errno));
        if (waited >= PRUNE_WAIT_S * 10)
            return berr_set(err, BERR_CONFLICT, "unpacked layers not pruned: a container "
                            "start or a build is using them; try again later");
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
}

int rt_layers_prune(struct berth_store *s, uint64_t *freed, struct berr *err)
{
    *freed = 0;
    auto_close int fd = lock_open(s, err);
    if (fd < 0)
        return fd;
    int rc = lock_exclusive(fd, err);
    if (rc < 0)
        return rc;
    json_t *used = json_object();
    mark_images(s, used);
    mark_containers(s, used);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/layers", berth_store_root(s));
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        const char *name = de->d_name;
        bool partial = strncmp(name, ".tmp-", 5) == 0;
        if (!partial && (name[0] == '.' || json_object_get(used, name)))
            continue;
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        uint64_t size = tree_size(path);
        /* away from its name first, so a removal cut short never leaves a
         * partial tree under a name that says "unpacked" */
        char doomed[4600];
        snprintf(doomed, sizeof doomed, "%s/.tmp-gc-%s", dir, name + (partial ? 5 : 0));
        if (!partial && rename(path, doomed) < 0)
            continue;
        if (rmtree(partial ? path : doomed) == 0)
            *freed += size;
    }
    if (d)
        closedir(d);
    json_decref(used);
    return 0;   /* the lock goes with the descriptor */
}
