/*
 * volumes.c - named volumes, as docker's "local" driver keeps them: a
 * directory <store>/volumes/<name>/_data that containers bind-mount, and
 * <store>/volumes/<name>/volume.json (Name, Driver, Mountpoint, CreatedAt,
 * Labels). A volume outlives the containers that use it; compose makes
 * them for a project and removes them at `down -v`.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* docker's: [a-zA-Z0-9][a-zA-Z0-9_.-]+, so never "..", "/" or empty */
static int name_check(const char *name, struct berr *err)
{
    size_t n = strlen(name);
    bool ok = n >= 2 && n <= 200 && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789", name[0]);
    for (size_t i = 1; ok && i < n; i++)
        ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
                    name[i]) != NULL;
    return ok ? 0 : berr_set(err, BERR_INVALID, "invalid volume name \"%s\": only "
                             "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
}

static void volume_dir(struct berth_store *s, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/volumes/%s", berth_store_root(s), name);
}

int rt_volume_get(struct berth_store *s, const char *name, char path[4096], struct berr *err)
{
    char dir[4096];
    struct stat st;
    if (name_check(name, err) < 0)
        return -BERR_INVALID;
    volume_dir(s, name, dir, sizeof dir);
    if (strlen(dir) + 7 > 4096)
        return berr_set(err, BERR_INVALID, "volume path too long: %s", dir);
    memcpy(path, dir, strlen(dir));
    memcpy(path + strlen(dir), "/_data", 7);
    if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return berr_set(err, BERR_NOTFOUND, "no such volume: %s", name);
    return 0;
}

int rt_volume_create(struct berth_store *s, const char *name, json_t *labels,
                     char path[4096], bool *created, struct berr *err)
{
    char dir[4096], doc[4200], tmp[4200], now[64];
    if (created)
        *created = false;
    struct berr gerr = {0};
    int rc = rt_volume_get(s, name, path, &gerr);
    if (rc == 0 || gerr.code != BERR_NOTFOUND) {
        if (rc < 0)
            *err = gerr;
        return rc;
    }
    volume_dir(s, name, dir, sizeof dir);
    if (mkdir_p(path, 0755) < 0 && errno != EEXIST)
        return berr_set(err, BERR_IO, "cannot create volume %s: %s", name, strerror(errno));
    time_t t = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s}", "Name", name, "Driver", "local",
                          "Mountpoint", path, "CreatedAt", now, "Labels",
                          labels ? json_deep_copy(labels) : json_object(), "Scope", "local");
    snprintf(doc, sizeof doc, "%s/volume.json", dir);
    snprintf(tmp, sizeof tmp, "%s/.volume.json.tmp", dir);
    rc = json_write_atomic(v, doc, tmp, 0644, err);
    json_decref(v);
    if (rc == 0 && created)
        *created = true;
    return rc;
}

json_t *rt_volume_inspect(struct berth_store *s, const char *name)
{
    char dir[4096], doc[4200];
    struct berr err = {0};
    if (name_check(name, &err) < 0)
        return NULL;
    volume_dir(s, name, dir, sizeof dir);
    snprintf(doc, sizeof doc, "%s/volume.json", dir);
    return json_load_file(doc, 0, NULL);
}

struct in_use {
    const char *path;
    const char *by;
    char name[256];
};

static int mount_uses(void *arg, json_t *state)
{
    struct in_use *u = arg;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(state, "Mounts"), i, m) {
        const char *src = json_string_value(json_object_get(m, "Source"));
        if (src && strcmp(src, u->path) == 0) {
            snprintf(u->name, sizeof u->name, "%s",
                     json_string_value(json_object_get(state, "Id")) ?: "?");
            return 1;
        }
    }
    return 0;
}

int rt_volume_remove(struct berth_store *s, const char *name, struct berr *err)
{
    char path[4096], dir[4096];
    if (rt_volume_get(s, name, path, err) < 0)
        return -err->code;
    struct in_use u = {.path = path};
    struct berr lerr = {0};
    rt_list(s, true, mount_uses, &u, &lerr);
    if (u.name[0])
        return berr_set(err, BERR_CONFLICT, "remove %s: volume is in use - [%.64s]", name,
                        u.name);
    volume_dir(s, name, dir, sizeof dir);
    int rc = rmtree(dir);
    if (rc < 0)
        return berr_set(err, BERR_IO, "cannot remove volume %s: %s", name, strerror(-rc));
    return 0;
}
