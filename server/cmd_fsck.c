/*
 * cmd_fsck.c - `berthd fsck`: re-hash every stored blob and move the ones
 * whose bytes no longer match their digest to <root>/quarantine.
 *
 * It reads the blob files only, so it is safe while berthd serves the same
 * root: a quarantined blob answers 404 BLOB_UNKNOWN from then on and a push
 * of the same content publishes a good copy. Exit status: 0 when every blob
 * is good, 1 when any was bad (or could not be read), 2 for usage errors.
 * With --dry-run it only reports.
 */
#include "http.h"

#include <stdio.h>
#include <unistd.h>

struct fsck {
    struct blob_store *bs;
    bool dry_run;
    uint64_t checked, bad, unreadable, bytes;
};

static int fsck_blob(void *arg, const char *digest, int64_t age)
{
    (void)age;
    struct fsck *f = arg;
    int fd = -1;
    uint64_t size;
    int rc = blob_open(f->bs, digest, &fd, &size);
    if (rc == -BERR_NOTFOUND)
        return 0;   /* removed since it was listed */
    if (rc == 0)
        rc = blob_verify_fd(digest, fd, size);
    f->checked++;
    if (rc == 0) {
        close(fd);
        f->bytes += size;
        return 0;
    }
    if (rc != -BERR_DIGEST) {
        if (fd >= 0)
            close(fd);
        f->unreadable++;
        printf("unreadable %s\n", digest);
        return 0;
    }
    f->bad++;
    if (f->dry_run) {
        close(fd);
        printf("corrupt %s (%llu bytes): would quarantine\n", digest, (unsigned long long)size);
        return 0;
    }
    rc = blob_quarantine(f->bs, digest, fd);
    close(fd);
    if (rc == 0 || rc == -BERR_NOTFOUND)
        printf("corrupt %s (%llu bytes): quarantined\n", digest, (unsigned long long)size);
    else if (rc == -BERR_CONFLICT)
        printf("corrupt %s (%llu bytes): already replaced by a good copy\n", digest,
               (unsigned long long)size);
    else
        printf("corrupt %s (%llu bytes): could not quarantine it\n", digest,
               (unsigned long long)size);
    return 0;
}

int cmd_fsck(const struct config *cfg, bool dry_run)
{
    struct berr err = {0};
    if (access(cfg->root, F_OK) != 0) {
        fprintf(stderr, "berthd fsck: %s: no such data directory\n", cfg->root);
        return 2;
    }
    struct fsck f = {.dry_run = dry_run};
    if (blob_store_open(cfg->root, &f.bs, &err) < 0) {
        fprintf(stderr, "berthd fsck: %s\n", err.msg);
        return 2;
    }
    int rc = blob_list(f.bs, fsck_blob, &f);
    blob_store_close(f.bs);
    if (rc < 0) {
        fprintf(stderr, "berthd fsck: cannot list the blobs under %s\n", cfg->root);
        return 1;
    }
    printf("%llu blobs checked (%llu bytes good), %llu corrupt%s, %llu unreadable\n",
           (unsigned long long)f.checked, (unsigned long long)f.bytes,
           (unsigned long long)f.bad,
           !f.bad ? "" : dry_run ? " (would quarantine)" : " (quarantined)",
           (unsigned long long)f.unreadable);
    return f.bad || f.unreadable ? 1 : 0;
}
