/*
 * json.c - the JSON chores several parts share (jansson does the JSON):
 * refusing unknown keys in configuration objects, replacing a JSON file
 * atomically, and printing sizes.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int json_check_keys(json_t *obj, const char *where, const char *const *keys, struct berr *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool known = false;
        for (const char *const *p = keys; *p; p++)
            known |= strcmp(k, *p) == 0;
        if (!known)
            return berr_set(err, BERR_INVALID, "%s: unknown key '%s'", where, k);
    }
    return 0;
}

int json_write_atomic(json_t *doc, const char *path, const char *tmp, int mode,
                      struct berr *err)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return berr_set(err, BERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    int rc = json_dumpfd(doc, fd, JSON_INDENT(2)) == 0 && fsync(fd) == 0 ? 0 : -1;
    close(fd);
    if (rc < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return berr_set(err, BERR_IO, "cannot write %s (disk full?)", path);
    }
    return 0;
}

/* docker's sizes (go-units HumanSizeWithPrecision(n, 3)): powers of 1000,
 * three significant digits, no trailing zeros: 1.98MB, 2MB, 65.5kB, 0B */
void format_size(uint64_t n, char *out, size_t len)
{
    static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1000 && u + 1 < sizeof units / sizeof *units) {
        v /= 1000;
        u++;
    }
    snprintf(out, len, "%.3g%s", v, units[u]);
}
