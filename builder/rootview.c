/*
 * rootview.c - a read-only view of an image's root filesystem, for COPY
 * and ADD to resolve their destination and --chown names in, and for
 * COPY --from to read a stage's or an image's files.
 *
 * The image's unpacked layers become one overlay mount with lower
 * directories only (read-only by nature), on a new temporary directory.
 * overlayfs lists the top layer first, so the array (lowest first, as
 * rt_image_layers gives it) is given in reverse; the option string holds
 * one page, so the names are given relative to the layers' common
 * directory when they share one. A single layer is a read-only bind
 * mount (overlay wants two lower layers when it has no upper one); an
 * image with no layers is an empty directory.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory every layer is in, or "" when they are not in one. */
static void common_dir(char *const *lower, size_t n, char *out, size_t len)
{
    out[0] = '\0';
    const char *slash = strrchr(lower[0], '/');
    if (!slash || slash == lower[0])
        return;
    size_t dl = (size_t)(slash - lower[0]);
    for (size_t i = 1; i < n; i++)
        if (strncmp(lower[i], lower[0], dl) != 0 || lower[i][dl] != '/' ||
            strchr(lower[i] + dl + 1, '/'))
            return;
    if (dl < len)
        snprintf(out, len, "%.*s", (int)dl, lower[0]);
}

static int mount_overlay(char *const *lower, size_t n, const char *target, struct berr *err)
{
    char dir[PATH_MAX], opts[4096];
    common_dir(lower, n, dir, sizeof dir);
    size_t skip = *dir ? strlen(dir) + 1 : 0;
    size_t len = 0;
    buf_appendf(opts, sizeof opts, &len, "lowerdir=");
    for (size_t i = n; i-- > 0;)
        buf_appendf(opts, sizeof opts, &len, "%s%s", lower[i] + skip, i ? ":" : "");
    /* a cut-off option string would show the wrong layers: refuse instead */
    if (buf_appendf(opts, sizeof opts, &len, "%s", "") < 0)
        return berr_set(err, BERR_TOOBIG, "the image has too many layers for one overlay mount");
    int cwd = -1, rc = 0;
    if (*dir && ((cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || chdir(dir) < 0))
        rc = berr_set(err, BERR_IO, "%s: %s", dir, strerror(errno));
    if (rc == 0 && mount("overlay", target, "overlay", MS_RDONLY, opts) < 0)
        rc = berr_set(err, BERR_IO, "mounting the image's root file system: %s", strerror(errno));
    if (cwd >= 0) {
        if (fchdir(cwd) < 0 && rc == 0)
            rc = berr_set(err, BERR_IO, "fchdir: %s", strerror(errno));
        close(cwd);
    }
    return rc;
}

static int mount_bind(const char *layer, const char *target, struct berr *err)
{
    if (mount(layer, target, NULL, MS_BIND, NULL) < 0)
        return berr_set(err, BERR_IO, "bind-mounting %s: %s", layer, strerror(errno));
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
        int e = errno;
        umount2(target, MNT_DETACH);
        return berr_set(err, BERR_IO, "making %s read-only: %s", target, strerror(e));
    }
    return 0;
}

int rootview_mount(char *const *lower, size_t n, char **path, struct berr *err)
{
    *path = NULL;
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    if (asprintf(&dir, "%s/berth-root-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
        return berr_set(err, BERR_IO, "out of memory");
    if (!mkdtemp(dir)) {
        int rc = berr_set(err, BERR_IO, "mkdtemp %s: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    int rc = 0;
    if (n == 1)
        rc = mount_bind(lower[0], dir, err);
    else if (n > 1)
        rc = mount_overlay(lower, n, dir, err);
    if (rc < 0) {
        rmdir(dir);
        free(dir);
        return rc;
    }
    *path = dir;
    return 0;
}

/* Unmount, remove the directory, and free `path` (rootview_mount's). */
void rootview_umount(char *path)
{
    if (!path)
        return;
    /* an empty view was never mounted (EINVAL); one still mounted keeps its
     * directory (rmdir fails), which is better than removing what is under it */
    umount2(path, MNT_DETACH);
    rmdir(path);
    free(path);
}
