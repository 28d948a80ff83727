/*
 * exe.c - berth runs from a sealed in-memory copy of itself whenever it
 * starts processes that enter containers (the runc CVE-2019-5736 pattern).
 *
 * Every process that enters a container is, until its last execve, a berth
 * process: the container's first process between clone and exec, and exec's
 * process between setns and exec. Its /proc/<pid>/exe, and /proc/self/exe
 * as an image's entrypoint, lead from inside the container to the binary
 * berth was started from. If that were the host's file, a process of the
 * image could hold it open and write over it once nothing executes it any
 * more, and the next berth run on the host would be the attacker's.
 *
 * So before anything else such a command copies /proc/self/exe into a
 * memfd, seals it (no write, no resize, no more seals) and executes that:
 * from then on /proc/self/exe of berth and of everything it forks is the
 * sealed copy, which nobody can change and which vanishes with its last
 * user. rt_run and rt_exec refuse to start anything from an unsealed binary,
 * so a command that forgets to re-execute itself fails instead of exposing
 * the host's file.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_EXEC   /* Linux 6.3: a memfd that may be executed, said explicitly */
#define MFD_EXEC 0x0010U
#endif

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
/* set for the copy, so that a copy that somehow is not sealed stops
 * instead of copying itself again and again */
#define MARKER "_BERTH_SEALED_EXE"

extern char **environ;

bool rt_exe_sealed(void)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    int seals = fcntl(fd, F_GET_SEALS);
    close(fd);
    return seals >= 0 && (seals & SEALS) == SEALS;
}

static int sealed_copy(struct berr *err)
{
    int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return berr_set(err, BERR_IO, "cannot open /proc/self/exe: %s", strerror(errno));
    int fd = memfd_create("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL)   /* a kernel before MFD_EXEC */
        fd = memfd_create("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    /* read and write, not sendfile: pages a splice still holds would make
     * F_SEAL_WRITE fail (EBUSY) on a busy machine */
    size_t cap = 1 << 20;
    char *buf = fd < 0 ? NULL : malloc(cap);
    int rc = buf ? 0 : -1;
    for (;;) {
        ssize_t n = rc == 0 ? read(src, buf, cap) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && write_all(fd, buf, (size_t)n) < 0))
            rc = -1;
        if (n <= 0 || rc < 0)
            break;
    }
    free(buf);
    if (rc == 0 && fchmod(fd, 0555) < 0)
        rc = -1;
    /* still EBUSY: a page of it pinned by someone else for a moment */
    for (int i = 0; rc == 0 && fcntl(fd, F_ADD_SEALS, SEALS) < 0; i++)
        if (errno != EBUSY || i == 50 || usleep(20000) < 0)
            rc = -1;
    int e = errno;
    close(src);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return berr_set(err, BERR_IO, "cannot make a sealed copy of berth: %s", strerror(e));
    }
    return fd;
}

int rt_exe_reexec_sealed(char **argv, struct berr *err)
{
    if (rt_exe_sealed()) {
        unsetenv(MARKER);   /* nothing berth starts needs to see it */
        /* ps and pgrep would show the memfd's name */
        const char *name = argv[0] ? strrchr(argv[0], '/') : NULL;
        prctl(PR_SET_NAME, name ? name + 1 : argv[0] ? argv[0] : "berth", 0, 0, 0);
        return 0;
    }
    if (getenv(MARKER))
        return berr_set(err, BERR_IO, "cannot run from a sealed copy of berth: the copy "
                        "started is not sealed");
    int fd = sealed_copy(err);
    if (fd < 0)
        return fd;
    if (setenv(MARKER, "1", 1) < 0)
        return berr_set(err, BERR_IO, "out of memory");
    fexecve(fd, argv, environ);
    int e = errno;
    close(fd);
    unsetenv(MARKER);
    return berr_set(err, BERR_IO, "cannot execute a sealed copy of berth: %s", strerror(e));
}

int rt_exe_require_sealed(struct berr *err)
{
    if (rt_exe_sealed())
        return 0;
    return berr_set(err, BERR_IO, "refusing to start a container process from an "
                    "unsealed berth binary (call rt_exe_reexec_sealed first)");
}
