/*
 * layer.c - making images: the layer writer and image commit.
 *
 * A layer is written as a pax tar by libarchive straight into a temp file
 * of the store (tmp/), hashed with SHA-256 as the bytes go by, so the
 * digest is known the moment the tar is closed: no second pass, no copy.
 * Layers are kept uncompressed (application/vnd.oci.image.layer.v1.tar,
 * digest == diff_id): writing them costs what the disk costs; a push
 * compresses them (transfer.c). finish fsyncs the file and, under the
 * store's shared lock, pins the digest (pins/) and renames the file into
 * blobs/: a concurrent rmi sweeps either before the blob is there or
 * after the pin is, never between. The pin belongs to the store handle:
 * it is released when an image that uses the layer is committed, or
 * when the handle is closed.
 *
 * berth_image_commit makes an image from a parent (or scratch): its
 * layers and history, plus the new layer or an empty-layer history entry,
 * with a new config object if given; the config and an OCI manifest are
 * stored as blobs and the image gets an index entry without a name
 * (marked intermediate for build steps), found by its ID, the config
 * digest, as docker's.
 */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define WRITE_BLOCK (1 << 20)

struct berth_layer_writer {
    struct berth_store *s;
    struct archive *a;
    int fd;
    char tmp[2400];              /* "" once moved into blobs/ or removed */
    struct hasher *h;
    uint64_t bytes;
    bool finished;
    bool abandoned;              /* freed unfinished: the trailer goes nowhere */
};

static la_ssize_t writer_write(struct archive *a, void *arg, const void *buf, size_t len)
{
    struct berth_layer_writer *w = arg;
    if (w->abandoned)
        return (la_ssize_t)len;
    if (hasher_update(w->h, buf, len) < 0) {
        archive_set_error(a, EIO, "cannot hash");
        return -1;
    }
    if (write_all(w->fd, buf, len) < 0) {
        archive_set_error(a, errno, "cannot write to the image store: %s", strerror(errno));
        return -1;
    }
    w->bytes += len;
    return (la_ssize_t)len;
}

int berth_layer_new(struct berth_store *s, struct berth_layer_writer **out, struct berr *err)
{
    struct berth_layer_writer *w = calloc(1, sizeof *w);
    if (!w)
        return berr_set(err, BERR_IO, "out of memory");
    w->s = s;
    w->fd = store_temp(s, w->tmp, sizeof w->tmp);
    if (w->fd < 0) {
        w->tmp[0] = '\0';
        berth_layer_free(w);
        return berr_set(err, BERR_IO, "cannot write to the image store: %s", strerror(errno));
    }
    w->h = hasher_new(DIGEST_SHA256);
    w->a = archive_write_new();
    /* big blocks for few writes; no padding after the tar's own end, so
     * the blob is exactly the tar that the diff_id names */
    if (!w->h || !w->a || archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(w->a, WRITE_BLOCK) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
        archive_write_open2(w->a, w, NULL, writer_write, NULL, NULL) != ARCHIVE_OK) {
        berth_layer_free(w);
        return berr_set(err, BERR_IO, "cannot set up the layer writer");
    }
    *out = w;
    return 0;
}

struct archive *berth_layer_archive(struct berth_layer_writer *w)
{
    return w->a;
}

int berth_layer_finish(struct berth_layer_writer *w, struct berth_layer *out, struct berr *err)
{
    char digest[DIGEST_MAX];
    if (w->finished || !w->tmp[0])
        return berr_set(err, BERR_INVALID, "the layer is already finished");
    w->finished = true;
    if (archive_write_close(w->a) != ARCHIVE_OK) {
        const char *msg = archive_error_string(w->a);
        return berr_set(err, BERR_IO, "cannot write the layer: %s", msg ? msg : "unknown error");
    }
    if (hasher_final(w->h, digest) < 0)
        return berr_set(err, BERR_IO, "cannot hash");
    /* the data reaches the disk before the lock is taken: rmi waits for
     * a rename, not for a flush */
    if (fsync(w->fd) < 0)
        return berr_set(err, BERR_IO, "cannot write to the image store: %s", strerror(errno));
    close(w->fd);
    w->fd = -1;
    if (store_lock(w->s, false) < 0)
        return berr_set(err, BERR_IO, "cannot lock the image store");
    int rc = store_pin_blob(w->s, digest, err);
    if (rc == 0 && store_has_blob(w->s, digest))
        unlink(w->tmp);     /* an existing blob is never overwritten */
    else if (rc == 0)
        rc = store_commit_blob(w->s, w->tmp, digest, err);
    store_unlock(w->s);
    if (rc < 0)
        return rc;
    w->tmp[0] = '\0';
    memset(out, 0, sizeof *out);
    snprintf(out->digest, sizeof out->digest, "%s", digest);
    snprintf(out->diff_id, sizeof out->diff_id, "%s", digest);
    snprintf(out->media_type, sizeof out->media_type, "%s", MT_OCI_LAYER);
    out->size = w->bytes;
    return 0;
}

void berth_layer_free(struct berth_layer_writer *w)
{
    if (!w)
        return;
    if (w->a) {
        /* an abandoned writer writes nothing more */
        w->abandoned = !w->finished;
        archive_write_free(w->a);
    }
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp[0])
        unlink(w->tmp);
    hasher_free(w->h);
    free(w);
}

/* ---- commit ----------------------------------------------------------------------- */

static void rfc3339_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char sec[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%09ldZ", sec, ts.tv_nsec);
}

/* A scratch image's config: the platform, empty rootfs and history. */
static json_t *scratch_config(const char *platform, struct berr *err)
{
    char host[128], os[64] = "", arch[64] = "", variant[64] = "";
    if (!platform) {
        host_platform(host, sizeof host);
        platform = host;
    }
    if (sscanf(platform, "%63[^/]/%63[^/]/%63s", os, arch, variant) < 2 || !os[0] || !arch[0])
        return berr_set(err, BERR_INVALID, "invalid platform %s (os/arch[/variant])", platform),
               NULL;
    json_t *c = json_pack("{s:s,s:s}", "architecture", arch, "os", os);
    if (c && variant[0])
        json_object_set_new(c, "variant", json_string(variant));
    return c;
}

/* Layers in an OCI manifest carry OCI media types (the same bytes). */
static json_t *oci_layer_desc(json_t *l)
{
    json_t *d = json_deep_copy(l);
    const char *mt = json_string_value(json_object_get(d, "mediaType"));
    if (mt && strcmp(mt, MT_DOCKER_LAYER_GZIP) == 0)
        json_object_set_new(d, "mediaType", json_string(MT_OCI_LAYER_GZIP));
    else if (mt && strcmp(mt, MT_DOCKER_LAYER) == 0)
        json_object_set_new(d, "mediaType", json_string(MT_OCI_LAYER));
    return d;
}

/* The new image's config and manifest layers, from the parent's. */
static int commit_build(struct berth_store *s, const struct berth_commit *c, json_t *pm,
                        json_t *pc, json_t **config, json_t **layers, struct berr *err)
{
    char now[64];
    json_t *cfg = pc ? json_deep_copy(pc) : scratch_config(c->platform, err);
    if (!cfg)
        return err && err->code ? -err->code : berr_set(err, BERR_IO, "out of memory");
    *config = cfg;
    *layers = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(pm, "layers"), i, l)
        json_array_append_new(*layers, oci_layer_desc(l));
    /* what described the parent's making */
    static const char *const stale[] = {"id", "parent", "container", "container_config"};
    for (i = 0; i < sizeof stale / sizeof *stale; i++)
        json_object_del(cfg, stale[i]);
    if (c->config)
        json_object_set_new(cfg, "config", json_deep_copy(c->config));
    rfc3339_now(now, sizeof now);
    json_object_set_new(cfg, "created", json_string(now));
    if (c->author)
        json_object_set_new(cfg, "author", json_string(c->author));

    json_t *rootfs = json_object_get(cfg, "rootfs");
    if (!json_is_object(rootfs))
        json_object_set_new(cfg, "rootfs", rootfs = json_object());
    json_object_set_new(rootfs, "type", json_string("layers"));
    json_t *diff_ids = json_object_get(rootfs, "diff_ids");
    if (!json_is_array(diff_ids))
        json_object_set_new(rootfs, "diff_ids", diff_ids = json_array());
    if (json_array_size(diff_ids) != json_array_size(*layers))
        return berr_set(err, BERR_INVALID,
                        "image %s: its manifest's layers do not match its config's diff_ids",
                        c->parent);

    json_t *history = json_object_get(cfg, "history");
    if (!json_is_array(history))
        json_object_set_new(cfg, "history", history = json_array());
    json_t *h = json_pack("{s:s}", "created", now);
    if (c->created_by)
        json_object_set_new(h, "created_by", json_string(c->created_by));
    if (c->author)
        json_object_set_new(h, "author", json_string(c->author));
    if (c->comment)
        json_object_set_new(h, "comment", json_string(c->comment));

    if (c->layer) {
        const struct berth_layer *nl = c->layer;
        if (!digest_valid(nl->digest) || !digest_valid(nl->diff_id))
            return berr_set(err, BERR_INVALID, "the new layer has no valid digest");
        if (!store_has_blob(s, nl->digest))
            return berr_set(err, BERR_NOTFOUND, "layer %s is not in the image store",
                            nl->digest);
        json_array_append_new(diff_ids, json_string(nl->diff_id));
        json_array_append_new(*layers,
                              json_pack("{s:s,s:s,s:I}", "mediaType",
                                        nl->media_type[0] ? nl->media_type : MT_OCI_LAYER,
                                        "digest", nl->digest, "size", (json_int_t)nl->size));
    } else {
        json_object_set_new(h, "empty_layer", json_true());
    }
    json_array_append_new(history, h);
    return 0;
}

int berth_image_commit(struct berth_store *s, const struct berth_commit *c, char id[DIGEST_MAX],
                       struct berr *err)
{
    json_t *pm = NULL, *pc = NULL, *config = NULL, *layers = NULL, *manifest = NULL;
    char *body = NULL, parent_id[DIGEST_MAX] = "", md[DIGEST_MAX];
    int rc = 0;
    store_pin(s);   /* the config and manifest are blobs no name points at yet */
    if (c->parent) {
        if ((rc = berth_image_get(s, c->parent, &pm, &pc, NULL, err)) < 0)
            goto out;
        const char *cd = json_string_value(json_object_get(json_object_get(pm, "config"), "digest"));
        snprintf(parent_id, sizeof parent_id, "%s", cd ? cd : "");
    }
    if ((rc = commit_build(s, c, pm, pc, &config, &layers, err)) < 0)
        goto out;
    body = json_dumps(config, JSON_COMPACT);
    if (!body) {
        rc = berr_set(err, BERR_IO, "out of memory");
        goto out;
    }
    size_t config_len = strlen(body);
    if ((rc = store_put_blob(s, body, config_len, id, err)) < 0)
        goto out;
    free(body);
    manifest = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:O}", "schemaVersion", 2, "mediaType",
                         MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest", id,
                         "size", (json_int_t)config_len, "layers", layers);
    body = manifest ? json_dumps(manifest, JSON_COMPACT) : NULL;
    if (!body) {
        rc = berr_set(err, BERR_IO, "out of memory");
        goto out;
    }
    if ((rc = store_put_blob(s, body, strlen(body), md, err)) < 0)
        goto out;
    rc = store_add_image(s, md, MT_OCI_MANIFEST, strlen(body), c->intermediate,
                         parent_id[0] ? parent_id : NULL, err);
    if (rc == 0 && c->layer)
        store_unpin_blob(s, c->layer->digest);
out:
    store_unpin(s);
    free(body);
    json_decref(pm);
    json_decref(pc);
    json_decref(config);
    json_decref(layers);
    json_decref(manifest);
    return rc;
}

/* ---- gzip for a push ------------------------------------------------------------------ */

struct gzip_sink {
    int fd;
    struct hasher *h;
    uint64_t bytes;
};

static la_ssize_t gzip_write(struct archive *a, void *arg, const void *buf, size_t len)
{
    struct gzip_sink *k = arg;
    if (hasher_update(k->h, buf, len) < 0 || write_all(k->fd, buf, len) < 0) {
        archive_set_error(a, errno ? errno : EIO, "cannot write to the image store: %s",
                          strerror(errno));
        return -1;
    }
    k->bytes += len;
    return (la_ssize_t)len;
}

/* Compress blob `digest` (an uncompressed layer) into a new gzip blob. No
 * timestamp or name in the gzip header: the same layer gives the same
 * bytes, whichever store compresses it. */
static int gzip_blob(struct berth_store *s, const char *digest, char gz[DIGEST_MAX],
                     uint64_t *size, struct berr *err)
{
    char path[2400], tmp[2400];
    struct archive *a = NULL;
    struct archive_entry *e = NULL;
    struct gzip_sink k = {.fd = -1};
    auto_close int in = -1;
    auto_free char *buf = malloc(WRITE_BLOCK);
    int rc = 0;
    store_blob_path(s, digest, path, sizeof path);
    in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return berr_set(err, BERR_NOTFOUND, "layer %s is not in the image store", digest);
    k.fd = store_temp(s, tmp, sizeof tmp);
    if (k.fd < 0)
        return berr_set(err, BERR_IO, "cannot write to the image store: %s", strerror(errno));
    k.h = hasher_new(DIGEST_SHA256);
    a = archive_write_new();
    e = archive_entry_new();
    if (!buf || !k.h || !a || !e || archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
        archive_write_set_filter_option(a, "gzip", "timestamp", NULL) < ARCHIVE_WARN ||
        archive_write_set_format_raw(a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a, WRITE_BLOCK) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open2(a, &k, NULL, gzip_write, NULL, NULL) != ARCHIVE_OK) {
        rc = berr_set(err, BERR_IO, "cannot set up gzip");
        goto out;
    }
    archive_entry_set_filetype(e, AE_IFREG);
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        rc = berr_set(err, BERR_IO, "cannot compress %s: %s", digest, archive_error_string(a));
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, buf, WRITE_BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = berr_set(err, BERR_IO, "cannot read layer %s: %s", digest, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            la_ssize_t w = archive_write_data(a, buf + off, (size_t)(n - off));
            if (w <= 0) {
                rc = berr_set(err, BERR_IO, "cannot compress %s: %s", digest,
                              archive_error_string(a) ? archive_error_string(a) : "write failed");
                goto out;
            }
            off += w;
        }
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        rc = berr_set(err, BERR_IO, "cannot compress %s: %s", digest,
                      archive_error_string(a) ? archive_error_string(a) : "close failed");
        goto out;
    }
    if (hasher_final(k.h, gz) < 0) {
        rc = berr_set(err, BERR_IO, "cannot hash");
        goto out;
    }
    *size = k.bytes;
    close(k.fd);
    k.fd = -1;
    if (store_has_blob(s, gz))
        unlink(tmp);
    else
        rc = store_commit_blob(s, tmp, gz, err);
    tmp[0] = '\0';
out:
    if (a)
        archive_write_free(a);
    archive_entry_free(e);
    if (k.fd >= 0)
        close(k.fd);
    if (tmp[0])
        unlink(tmp);
    hasher_free(k.h);
    return rc;
}

int layer_gzip(struct berth_store *s, const char *digest, char gz[DIGEST_MAX], uint64_t *size,
               struct berr *err)
{
    if (store_gzip_get(s, digest, gz, size))
        return 0;
    int rc = gzip_blob(s, digest, gz, size, err);
    return rc < 0 ? rc : store_gzip_set(s, digest, gz, *size, err);
}
