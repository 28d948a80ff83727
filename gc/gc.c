/*
 * gc.c - one collection, in the order that lets each step free the next:
 *
 *   1. settle blobs a crashed run left moved aside;
 *   2. retention: remove tags the policy does not keep;
 *   3. manifests: referrers whose subject is gone and, by policy, untagged
 *      manifests no index uses (repeated, as removing an index frees its
 *      children);
 *   4. repository links to blobs no manifest of that repository uses;
 *   5. blobs nothing uses any more, and blob files no row knows;
 *   6. abandoned uploads;
 *   7. repositories left empty.
 *
 * Only one collection runs per root at a time (an flock on <root>/gc.lock),
 * whether it is berthd's schedule or `berthd gc`. A dry run is the same
 * collection against a snapshot of the metadata, touching no file, so it
 * lists exactly what a real run would remove, cascades included.
 */
#include "gc.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct run {
    struct blob_store *bs;
    struct meta *m;
    const struct gc_policy *p;
    bool dry_run;
    int64_t now, cutoff;
    gc_note_fn note;
    void *arg;
    struct gc_report *r;
    /* retention's state for the repository at hand */
    const struct gc_retention *rule;
    const char *repo;
    int unprotected_seen;
    bool removed_any;
    json_t *blobs_removed;   /* a dry run leaves files in place: count each once */
};

static void note(struct run *run, const char *kind, const char *name, uint64_t bytes)
{
    if (run->note)
        run->note(run->arg, kind, name, bytes);
}

/* ---- retention ------------------------------------------------------------ */

static bool protected_tag(const struct gc_retention *rule, const char *tag)
{
    for (size_t i = 0; i < rule->nprotect; i++)
        if (fnmatch(rule->protect[i], tag, 0) == 0)
            return true;
    return false;
}

static int retention_tag(void *arg, const char *tag, const char *digest, int64_t updated)
{
    (void)digest;
    struct run *run = arg;
    const struct gc_retention *rule = run->rule;
    if (protected_tag(rule, tag))
        return 0;
    bool over_count = rule->keep_last && run->unprotected_seen >= rule->keep_last;
    bool too_old = rule->max_age && updated < run->now - rule->max_age;
    run->unprotected_seen++;
    if (!over_count && !too_old)
        return 0;
    if (meta_tag_delete(run->m, run->repo, tag) < 0)
        return 0;   /* already gone */
    char name[NAME_MAX_LEN + TAG_MAX_LEN + 2];
    snprintf(name, sizeof name, "%s:%s", run->repo, tag);
    note(run, "tag", name, 0);
    run->r->tags++;
    return 0;
}

static int retention_repo(void *arg, const char *repo)
{
    struct run *run = arg;
    for (size_t i = 0; i < run->p->nretention; i++) {
        const struct gc_retention *rule = &run->p->retention[i];
        if (fnmatch(rule->repository, repo, 0) != 0)
            continue;
        run->rule = rule;
        run->repo = repo;
        run->unprotected_seen = 0;
        return meta_tags_detail(run->m, repo, retention_tag, run);
    }
    return 0;
}

static int append_name(void *arg, const char *name)
{
    return json_array_append_new(arg, json_string(name));
}

/* Every repository, a page at a time (a page is read before it is worked
 * on, so the work may write). */
static int each_repository(struct run *run, meta_row_fn each)
{
    char last[NAME_MAX_LEN + 1] = "";
    bool more = true;
    int rc = 0;
    while (more && rc == 0) {
        json_t *names = json_array();
        rc = meta_catalog(run->m, last, 500, append_name, names, &more);
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v) {
            if (rc == 0)
                rc = each(run, json_string_value(v));
            snprintf(last, sizeof last, "%s", json_string_value(v));
        }
        json_decref(names);
    }
    return rc;
}

/* ---- manifests, links, blobs ------------------------------------------------- */

static int manifest_candidate(void *arg, const char *repo, const char *digest)
{
    struct run *run = arg;
    if (meta_gc_manifest_delete(run->m, repo, digest, run->cutoff, run->p->delete_untagged) < 0)
        return 0;   /* no longer qualifies */
    char name[NAME_MAX_LEN + DIGEST_MAX + 2];
    snprintf(name, sizeof name, "%s@%s", repo, digest);
    note(run, "manifest", name, 0);
    run->r->manifests++;
    run->removed_any = true;
    return 0;
}

static int blob_candidate(void *arg, const char *digest, uint64_t size)
{
    struct run *run = arg;
    if (meta_gc_blob_delete(run->m, digest, run->cutoff, run->dry_run ? NULL : run->bs) < 0)
        return 0;
    json_object_set_new(run->blobs_removed, digest, json_true());
    note(run, "blob", digest, size);
    run->r->blobs++;
    run->r->bytes += size;
    return 0;
}

/* A file in the blob store with no row: left by a crash between a
 * publish and its commit. */
static int blob_file(void *arg, const char *digest, int64_t age)
{
    struct run *run = arg;
    if (age <= run->p->grace || meta_blob_known(run->m, digest) ||
        json_object_get(run->blobs_removed, digest))
        return 0;
    int fd;
    uint64_t size = 0;
    if (blob_open(run->bs, digest, &fd, &size) == 0)
        close(fd);
    return blob_candidate(run, digest, size);
}

static bool still_recorded(void *arg, const char *digest)
{
    return meta_blob_known(arg, digest);
}

/* ---- uploads and repositories ---------------------------------------------- */

static int upload_file(void *arg, const char *id, int64_t age)
{
    struct run *run = arg;
    if (age <= run->p->upload_ttl)
        return 0;
    if (!run->dry_run)
        upload_remove(run->bs, id);
    meta_upload_remove(run->m, id);
    note(run, "upload", id, 0);
    run->r->uploads++;
    return 0;
}

/* A session row whose file is gone (or was never made). */
static int upload_session(void *arg, const char *id)
{
    struct run *run = arg;
    uint64_t size;
    if (upload_size(run->bs, id, &size) == 0)
        return 0;   /* the file decides, by its age: upload_file */
    meta_upload_remove(run->m, id);
    note(run, "upload", id, 0);
    run->r->uploads++;
    return 0;
}

static int empty_repository(void *arg, const char *name)
{
    struct run *run = arg;
    note(run, "repository", name, 0);
    run->r->repositories++;
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int lock_root(const char *root)
{
    char lockpath[4200];
    snprintf(lockpath, sizeof lockpath, "%s/gc.lock", root);
    int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -BERR_IO;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return -BERR_CONFLICT;
    }
    return fd;
}

void gc_recover(const char *root, struct blob_store *bs, struct meta *m)
{
    int lock = lock_root(root);
    if (lock < 0)
        return;
    blob_trash_settle(bs, still_recorded, m);
    close(lock);
}

/* ---- the cache bound ---------------------------------------------------------- */

struct eviction {
    struct run *run;
    uint64_t need;          /* bytes to free */
};

static int evict_one(void *arg, const char *repo, const char *digest, uint64_t bytes)
{
    struct eviction *e = arg;
    if (meta_manifest_delete(e->run->m, repo, digest) == 0) {
        char name[NAME_MAX_LEN + DIGEST_MAX + 2];
        snprintf(name, sizeof name, "%s@%s", repo, digest);
        note(e->run, "manifest", name, 0);
        e->run->r->manifests++;
        e->need = bytes >= e->need ? 0 : e->need - bytes;
    }
    return e->need == 0;   /* stop once enough is freed */
}

/* Above the cache bound: drop the least recently pulled cached manifests
 * until what they hold covers the excess; the sweep then frees their
 * blobs (shared blobs stay, so this errs on keeping). */
static int evict(struct run *run)
{
    uint64_t blobs, bytes;
    if (!run->p->cache_max_bytes || meta_totals(run->m, &blobs, &bytes) < 0 ||
        bytes <= run->p->cache_max_bytes)
        return 0;
    struct eviction e = {run, bytes - run->p->cache_max_bytes};
    return meta_gc_evictable(run->m, evict_one, &e);
}

/* The collection itself, against m (the live metadata, or a snapshot). */
static int collect(struct run *run)
{
    const struct gc_policy *p = run->p;
    struct meta *m = run->m;
    int rc = 0;
    if (p->nretention)
        rc = each_repository(run, retention_repo);
    if (rc == 0)
        rc = evict(run);
    for (int pass = 0; rc == 0 && pass < 32; pass++) {
        run->removed_any = false;
        rc = meta_gc_manifests(m, run->cutoff, p->delete_untagged, manifest_candidate, run);
        if (!run->removed_any)
            break;
    }
    if (rc == 0) {
        int n = meta_gc_unlink_unused(m, run->cutoff);
        if (n < 0)
            rc = n;
        else
            run->r->links = (uint64_t)n;
    }
    if (rc == 0)
        rc = meta_gc_blobs(m, run->cutoff, blob_candidate, run);
    if (rc == 0)
        rc = blob_list(run->bs, blob_file, run);
    if (!run->dry_run)
        blob_trash_settle(run->bs, still_recorded, m);
    if (rc == 0)
        rc = upload_list(run->bs, upload_file, run);
    if (rc == 0)
        rc = meta_gc_uploads(m, run->now - p->upload_ttl, upload_session, run);
    if (rc == 0)
        rc = meta_gc_repositories(m, empty_repository, run);
    return rc;
}

int gc_run(const char *root, struct blob_store *bs, struct meta *m,
           const struct gc_policy *p, bool dry_run, gc_note_fn note_fn, void *arg,
           struct gc_report *out, struct berr *err)
{
    memset(out, 0, sizeof *out);
    auto_close int lock = lock_root(root);
    if (lock == -BERR_CONFLICT)
        return berr_set(err, BERR_CONFLICT, "another collection is running on %s", root);
    if (lock < 0)
        return berr_set(err, BERR_IO, "cannot lock %s/gc.lock", root);

    double started = now_seconds();
    struct run run = {
        .bs = bs, .m = m, .p = p, .dry_run = dry_run, .note = note_fn, .arg = arg, .r = out,
        .now = (int64_t)time(NULL),
    };
    run.cutoff = run.now - p->grace;
    run.blobs_removed = json_object();
    char snap[4200] = "";
    if (dry_run) {
        snprintf(snap, sizeof snap, "%s/gc-dry-run.db", root);
        unlink(snap);
        if (meta_snapshot(m, snap) < 0 || meta_open(snap, &run.m, err) < 0) {
            unlink(snap);
            json_decref(run.blobs_removed);
            return berr_set(err, BERR_IO, "cannot snapshot the metadata for a dry run");
        }
    } else {
        blob_trash_settle(bs, still_recorded, m);
    }
    int rc = collect(&run);
    json_decref(run.blobs_removed);
    if (dry_run) {
        meta_close(run.m);
        unlink(snap);
    }
    out->seconds = now_seconds() - started;
    if (rc < 0)
        return berr_set(err, BERR_IO, "collection stopped: metadata or storage error");
    return 0;
}
