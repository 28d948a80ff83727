/*
 * transfer.c - berth pull and berth push.
 *
 * pull: resolve the reference to a manifest (an index picks this
 * machine's platform, or --platform), then fetch the config and layers
 * the store does not have yet, several at a time, each verified against
 * its digest before it lands; name the image last, so an interrupted pull
 * leaves no half image behind, only whole blobs a retry reuses.
 *
 * push: for each blob, ask the registry whether it has it (HEAD), else
 * mount it from another repository of the same registry that the store
 * knows has it, else upload it; then put the manifest, byte for byte as
 * stored, so its digest is the same everywhere. Layers the store keeps
 * uncompressed (made by import, commit, build, or loaded from an archive)
 * are pushed as gzip, as every client expects: compressed once (layer.c
 * remembers the result in gzip/), with the manifest's descriptors
 * rewritten to the gzip blobs (the config, and so the image ID and
 * diff_ids, stay the same). An uncompressed layer that a registry served
 * as it is stays so: pull records it in gzip/ as its own gzip form, and a
 * push of it, like a copy with skopeo, keeps every digest.
 */
#include "internal.h"
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

struct job {
    char digest[DIGEST_MAX];
    uint64_t size;
    bool gzip;                   /* push: compress the store's blob first */
    bool gzipped;                /* push: the digest is now the gzip form's */
    char from[256];              /* push: a repository to mount from, or "" */
    struct progress_ref pr;
};

struct batch {
    struct berth_client *c;
    struct berth_store *s;
    const struct berth_ref *ref;
    struct progress *p;
    bool push;
    struct job *jobs;
    size_t njobs, next;
    pthread_mutex_t lock;
    int rc;
    struct berr err;
};

static int run_job(struct batch *b, struct job *j, struct berr *err)
{
    if (!b->push) {
        if (store_has_blob(b->s, j->digest)) {
            progress_state(b->p, j->pr.i, "Already exists");
            return 0;
        }
        progress_state(b->p, j->pr.i, "Downloading");
        int rc = reg_blob_fetch(b->c, b->s, b->ref, j->digest, j->size, progress_bytes, &j->pr,
                                err);
        if (rc == 0)
            progress_state(b->p, j->pr.i, "Pull complete");
        return rc;
    }
    if (j->gzip) {
        char gz[DIGEST_MAX];
        uint64_t size;
        progress_state(b->p, j->pr.i, "Preparing");
        int rc = layer_gzip(b->s, j->digest, gz, &size, err);
        if (rc < 0)
            return rc;
        j->gzipped = strcmp(gz, j->digest) != 0;
        snprintf(j->digest, sizeof j->digest, "%s", gz);
        j->size = size;
        j->gzip = false;
        if (j->pr.i >= 0) {
            pthread_mutex_lock(&b->p->lock);
            b->p->items[j->pr.i].total = size;
            pthread_mutex_unlock(&b->p->lock);
        }
    }
    int have = reg_blob_exists(b->c, b->ref, j->digest, "pull,push", err);
    if (have < 0)
        return have;
    if (have) {
        progress_state(b->p, j->pr.i, "Layer already exists");
        return 0;
    }
    if (j->from[0]) {
        int rc = reg_blob_push(b->c, b->s, b->ref, j->digest, j->size, j->from, NULL, NULL, err);
        if (rc == 0 && reg_blob_exists(b->c, b->ref, j->digest, "pull,push", err) == 1) {
            char state[300];
            snprintf(state, sizeof state, "Mounted from %s", j->from);
            progress_state(b->p, j->pr.i, state);
            return 0;
        }
    }
    progress_state(b->p, j->pr.i, "Pushing");
    int rc = reg_blob_push(b->c, b->s, b->ref, j->digest, j->size, NULL, progress_bytes,
                           &j->pr, err);
    if (rc == 0)
        progress_state(b->p, j->pr.i, "Pushed");
    return rc;
}

static void *worker(void *arg)
{
    struct batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        struct job *j = b->rc == 0 && b->next < b->njobs ? &b->jobs[b->next++] : NULL;
        pthread_mutex_unlock(&b->lock);
        if (!j)
            return NULL;
        struct berr err = {0};
        if (run_job(b, j, &err) < 0) {
            pthread_mutex_lock(&b->lock);
            if (b->rc == 0) {
                b->rc = -(err.code ? err.code : BERR_IO);
                b->err = err;
            }
            pthread_mutex_unlock(&b->lock);
        }
    }
}

static int run_batch(struct batch *b, struct berr *err)
{
    pthread_mutex_init(&b->lock, NULL);
    int n = b->c->o.parallel;
    if ((size_t)n > b->njobs)
        n = (int)b->njobs;
    pthread_t th[32];
    if (n > 32)
        n = 32;
    int started = 0;
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, worker, b) == 0)
            started++;
    if (started == 0 && b->njobs)
        worker(b);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&b->lock);
    if (b->rc < 0 && err)
        *err = b->err;
    return b->rc;
}

/* The media type a stored uncompressed layer is pushed as (gzip), or NULL
 * when it is pushed as it is. */
static const char *gzip_type(const char *mt)
{
    if (mt && strcmp(mt, MT_OCI_LAYER) == 0)
        return MT_OCI_LAYER_GZIP;
    if (mt && strcmp(mt, MT_DOCKER_LAYER) == 0)
        return MT_DOCKER_LAYER_GZIP;
    return NULL;
}

/* ---- pull ---------------------------------------------------------------------------- */

void host_platform(char *out, size_t len)
{
    struct utsname u;
    const char *arch = "amd64";
    if (uname(&u) == 0) {
        if (strcmp(u.machine, "aarch64") == 0)
            arch = "arm64";
        else if (strncmp(u.machine, "arm", 3) == 0)
            arch = "arm";
        else if (strcmp(u.machine, "x86_64") != 0)
            arch = u.machine;
    }
    snprintf(out, len, "linux/%s", arch);
}

bool platform_matches(json_t *plat, const char *want)
{
    char os[64] = "", arch[64] = "", variant[64] = "";
    sscanf(want, "%63[^/]/%63[^/]/%63s", os, arch, variant);
    const char *pos = json_string_value(json_object_get(plat, "os"));
    const char *parch = json_string_value(json_object_get(plat, "architecture"));
    const char *pvar = json_string_value(json_object_get(plat, "variant"));
    if (!pos || !parch || strcmp(pos, os) != 0 || strcmp(parch, arch) != 0)
        return false;
    return !variant[0] || (pvar && strcmp(pvar, variant) == 0);
}

/* An index: pick the child for the platform. */
static int pick_platform(struct berth_manifest *index, const char *platform,
                         char digest[DIGEST_MAX], struct berr *err)
{
    json_t *doc = json_loadb(index->body, index->len, 0, NULL);
    size_t i;
    json_t *m;
    int rc = berr_set(err, BERR_NOTFOUND,
                      "no matching manifest for %s in the manifest list entries", platform);
    json_array_foreach(json_object_get(doc, "manifests"), i, m) {
        if (platform_matches(json_object_get(m, "platform"), platform)) {
            snprintf(digest, DIGEST_MAX, "%s", json_string_value(json_object_get(m, "digest")));
            rc = 0;
            break;
        }
    }
    json_decref(doc);
    return rc;
}

static bool is_index(const char *mt)
{
    return strstr(mt, "image.index") || strstr(mt, "manifest.list");
}

int berth_pull(struct berth_client *c, struct berth_store *s, const char *refstr,
               const char *platform, char digest[DIGEST_MAX], struct berr *err)
{
    struct berth_ref ref;
    if (berth_ref_parse(refstr, &ref, err) < 0)
        return -BERR_INVALID;
    char plat[128];
    if (platform)
        snprintf(plat, sizeof plat, "%s", platform);
    else
        host_platform(plat, sizeof plat);
    FILE *out = c->o.out;
    if (!c->o.quiet)
        fprintf(out, "%s: Pulling from %s\n", ref.tag[0] ? ref.tag : ref.digest, ref.repository);

    struct berth_manifest top, image = {0};
    int rc = berth_manifest_fetch(c, &ref, ref.digest[0] ? ref.digest : ref.tag, &top, err);
    if (rc < 0)
        return rc;
    snprintf(digest, DIGEST_MAX, "%s", top.digest);
    if (is_index(top.media_type)) {
        char child[DIGEST_MAX];
        rc = pick_platform(&top, plat, child, err);
        if (rc == 0)
            rc = berth_manifest_fetch(c, &ref, child, &image, err);
    } else {
        image = top;
        top.body = NULL;
    }
    free(top.body);
    json_t *doc = rc == 0 ? json_loadb(image.body, image.len, 0, NULL) : NULL;
    json_t *config = json_object_get(doc, "config");
    json_t *layers = json_object_get(doc, "layers");
    if (rc == 0 && (!json_is_object(config) || !json_is_array(layers)))
        rc = berr_set(err, BERR_INVALID, "%s: not an image manifest (%s)", refstr, image.media_type);

    store_pin(s);
    struct progress p;
    progress_init(&p, out, c->o.quiet, "Downloading");
    size_t n = rc == 0 ? json_array_size(layers) + 1 : 0;
    struct job *jobs = calloc(n + 1, sizeof *jobs);
    for (size_t i = 0; i < n; i++) {
        json_t *d = i < n - 1 ? json_array_get(layers, i) : config;
        snprintf(jobs[i].digest, sizeof jobs[i].digest, "%s",
                 json_string_value(json_object_get(d, "digest")));
        jobs[i].size = (uint64_t)json_integer_value(json_object_get(d, "size"));
        if (!digest_valid(jobs[i].digest))
            rc = berr_set(err, BERR_INVALID, "%s: a descriptor has an invalid digest", refstr);
        /* the size bounds the download */
        else if (!json_is_integer(json_object_get(d, "size")) ||
                 json_integer_value(json_object_get(d, "size")) < 0)
            rc = berr_set(err, BERR_INVALID, "%s: descriptor %s has no valid size", refstr,
                          jobs[i].digest);
        jobs[i].pr.p = &p;
        jobs[i].pr.i = i < n - 1 ? progress_add(&p, jobs[i].digest, jobs[i].size) : -1;
    }
    if (rc == 0 && n > 1) {
        /* the config is fetched with the layers, without a line of its own */
        struct batch b = {.c = c, .s = s, .ref = &ref, .p = &p, .jobs = jobs, .njobs = n};
        rc = run_batch(&b, err);
    }
    progress_done(&p);
    /* an uncompressed layer the registry served as it is goes back as it
     * is: its gzip form is itself */
    for (size_t i = 0; rc == 0 && i + 1 < n; i++) {
        json_t *l = json_array_get(layers, i);
        char gz[DIGEST_MAX];
        uint64_t gsize;
        struct berr ignore = {0};
        if (gzip_type(json_string_value(json_object_get(l, "mediaType"))) &&
            !store_gzip_get(s, jobs[i].digest, gz, &gsize))
            store_gzip_set(s, jobs[i].digest, jobs[i].digest, jobs[i].size, &ignore);
    }
    char mdigest[DIGEST_MAX];
    if (rc == 0)
        rc = store_put_blob(s, image.body, image.len, mdigest, err);
    if (rc == 0 && strcmp(mdigest, image.digest) != 0)
        rc = berr_set(err, BERR_DIGEST, "manifest digest mismatch");
    char name[600];
    berth_ref_format(&ref, name, sizeof name);
    if (rc == 0)
        rc = store_set_name(s, name, image.digest, image.media_type, image.len, digest, err);
    store_unpin(s);
    free(jobs);
    json_decref(doc);
    free(image.body);
    return rc;
}

/* ---- push ------------------------------------------------------------------------------ */

/* A repository of the same registry that the store knows has this blob. */
struct mount_scan {
    struct berth_store *s;
    const struct berth_ref *target;
    const char *digest;
    char from[256];
};

static int find_mount(void *arg, const struct berth_image *img)
{
    struct mount_scan *m = arg;
    struct berth_ref r;
    struct berr ignore = {0};
    if (m->from[0] || berth_ref_parse(img->name, &r, &ignore) < 0 ||
        strcmp(r.registry, m->target->registry) != 0 ||
        strcmp(r.repository, m->target->repository) == 0)
        return 0;
    json_t *manifest = NULL;
    if (berth_image_get(m->s, img->name, &manifest, NULL, NULL, &ignore) < 0)
        return 0;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(manifest, "layers"), i, l) {
        const char *d = json_string_value(json_object_get(l, "digest"));
        if (d && strcmp(d, m->digest) == 0)
            snprintf(m->from, sizeof m->from, "%s", r.repository);
    }
    json_decref(manifest);
    return 0;
}

/* The manifest with the gzip layers in place of the uncompressed ones. */
static int push_manifest_body(json_t *manifest, struct job *jobs, char **body, size_t *len,
                              struct berr *err)
{
    json_t *m = json_deep_copy(manifest);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(m, "layers"), i, l) {
        const char *gt = gzip_type(json_string_value(json_object_get(l, "mediaType")));
        if (!gt || !jobs[i].gzipped)
            continue;
        json_object_set_new(l, "mediaType", json_string(gt));
        json_object_set_new(l, "digest", json_string(jobs[i].digest));
        json_object_set_new(l, "size", json_integer((json_int_t)jobs[i].size));
    }
    free(*body);
    *body = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    if (!*body)
        return berr_set(err, BERR_IO, "out of memory");
    *len = strlen(*body);
    return 0;
}

int berth_push(struct berth_client *c, struct berth_store *s, const char *refstr,
               char digest[DIGEST_MAX], struct berr *err)
{
    struct berth_ref ref;
    if (berth_ref_parse(refstr, &ref, err) < 0)
        return -BERR_INVALID;
    json_t *manifest = NULL;
    char mdigest[DIGEST_MAX];
    if (berth_image_get(s, refstr, &manifest, NULL, mdigest, err) < 0)
        return berr_set(err, BERR_NOTFOUND, "An image does not exist locally with the tag: %s", refstr);
    char *body = NULL;
    size_t len = 0;
    int rc = store_read_blob(s, mdigest, 4 << 20, &body, &len, err);
    if (!c->o.quiet)
        fprintf(c->o.out, "The push refers to repository [%s/%s]\n", ref.registry, ref.repository);

    json_t *layers = json_object_get(manifest, "layers");
    json_t *config = json_object_get(manifest, "config");
    size_t n = json_array_size(layers) + 1;
    struct job *jobs = calloc(n, sizeof *jobs);
    struct progress p;
    progress_init(&p, c->o.out, c->o.quiet, "Pushing");
    bool rewrite = false;
    store_pin(s);   /* rmi sweeps nothing while blobs are read, or made */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *d = i < n - 1 ? json_array_get(layers, i) : config;
        snprintf(jobs[i].digest, sizeof jobs[i].digest, "%s",
                 json_string_value(json_object_get(d, "digest")));
        jobs[i].size = (uint64_t)json_integer_value(json_object_get(d, "size"));
        jobs[i].gzip = i < n - 1 && gzip_type(json_string_value(json_object_get(d, "mediaType")));
        rewrite |= jobs[i].gzip;
        /* another repository of the store's that has this layer got the
         * same gzip blob, if pushed from here */
        struct mount_scan m = {.s = s, .target = &ref, .digest = jobs[i].digest};
        struct berr ignore = {0};
        berth_images(s, find_mount, &m, &ignore);
        snprintf(jobs[i].from, sizeof jobs[i].from, "%s", m.from);
        jobs[i].pr.p = &p;
        jobs[i].pr.i = i < n - 1 ? progress_add(&p, jobs[i].digest, jobs[i].size) : -1;
    }
    /* a registry that refuses us does so before anything is compressed:
     * a failed push leaves the store as it was */
    if (rc == 0 && rewrite) {
        int have = reg_blob_exists(c, &ref, jobs[n - 1].digest, "pull,push", err);
        rc = have < 0 ? have : 0;
    }
    if (rc == 0) {
        struct batch b = {.c = c, .s = s, .ref = &ref, .p = &p, .push = true,
                          .jobs = jobs, .njobs = n};
        rc = run_batch(&b, err);
    }
    progress_done(&p);
    const char *mt = json_string_value(json_object_get(manifest, "mediaType"));
    if (!mt)
        mt = "application/vnd.oci.image.manifest.v1+json";
    /* only when a layer was sent as gzip: else the stored bytes */
    bool gzipped = false;
    for (size_t i = 0; i + 1 < n; i++)
        gzipped |= jobs[i].gzipped;
    rewrite = rewrite && gzipped;
    if (rc == 0 && rewrite)
        rc = push_manifest_body(manifest, jobs, &body, &len, err);
    if (rc == 0)
        rc = reg_manifest_put(c, &ref, body, len, mt, digest, err);
    /* the name now has a digest in that registry, as after a pull */
    char name[600];
    berth_ref_format(&ref, name, sizeof name);
    if (rc == 0 && rewrite && !ref.digest[0]) {
        struct berr ignore = {0};
        char path[2400];
        struct stat st = {0};
        store_blob_path(s, mdigest, path, sizeof path);
        stat(path, &st);
        store_set_name(s, name, mdigest, mt, (uint64_t)st.st_size, digest, &ignore);
    }
    store_unpin(s);
    if (rc == 0 && !c->o.quiet)
        fprintf(c->o.out, "%s: digest: %s size: %zu\n", ref.tag[0] ? ref.tag : "latest", digest, len);
    free(jobs);
    free(body);
    json_decref(manifest);
    return rc;
}
