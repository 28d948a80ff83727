/*
 * archive.c - images in and out of tar files.
 *
 *   berth_save    a docker-archive, the layout `docker save` writes and
 *                 `docker load` reads: manifest.json, <config hex>.json,
 *                 <diff-id hex>/layer.tar (uncompressed), repositories
 *   berth_load    a docker-archive (old layout, or docker 25's with blobs
 *                 under blobs/sha256/) or an OCI archive (oci-layout tar)
 *   berth_import  a root filesystem tarball becomes a one-layer image, its
 *                 layer kept uncompressed (layer.c's writer)
 *
 * Every tar and compression byte goes through libarchive. Layers stream
 * through temp files in the store's tmp/ (a tar entry needs its size up
 * front, and a tar is read once, front to back), hashed as they go; blobs
 * are committed only once verified, and names are set last, so a failure
 * leaves no half image behind, and no temp file.
 *
 * A small archive must not fill the disk: a member's size (from its tar
 * header) is checked before anything is written (against the free space,
 * and against what the archive's own size can hold once decompressed), and
 * decompression stops once the output outgrows the input read so far by
 * more than a ratio (BERTH_LOAD_MAX_RATIO, 100 by default) plus a floor of
 * 64 MiB. A ratio, not an absolute cap: an archive of many gigabytes is
 * normal, a docker save | gzip of real images shrinks by 2 to 5 times, and
 * a bomb by a thousand.
 */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define ANN_NAME "org.opencontainers.image.ref.name"
#define ANN_CONTAINERD_NAME "io.containerd.image.name"

#define CHUNK (1 << 20)
#define INFLATE_FLOOR (64ull << 20)   /* decompressed bytes always allowed */
#define JSON_MAX (16 << 20)      /* manifest.json, index.json, configs */
#define PATH_LEN 4096

/* ---- small helpers ------------------------------------------------------------ */

static const char *host_arch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__i386__)
    return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}

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

static time_t parse_rfc3339(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return timegm(&tm);
}

static bool is_index_type(const char *mt)
{
    return mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

/* An archive's member name as a lookup key: "./a//b/../c" is "a/c". The
 * keys are never used as paths on disk. */
static void path_clean(const char *in, char *out, size_t len)
{
    char buf[PATH_LEN];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", in);
    out[0] = '\0';
    char *save = NULL;
    for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (strcmp(p, ".") == 0)
            continue;
        if (strcmp(p, "..") == 0) {
            char *slash = strrchr(out, '/');
            n = slash ? (size_t)(slash - out) : 0;
            out[n] = '\0';
            continue;
        }
        size_t plen = strlen(p);
        if (n + plen + 2 > len)
            break;
        if (n)
            out[n++] = '/';
        memcpy(out + n, p, plen + 1);
        n += plen;
    }
}

/* Strip what makes a member name absolute or "./"-relative: "./bin/sh" and
 * "/bin/sh" are "bin/sh"; "./" itself is "". */
static const char *path_strip(const char *p)
{
    for (;;) {
        while (*p == '/')
            p++;
        if (p[0] == '.' && p[1] == '/')
            p += 2;
        else if (p[0] == '.' && p[1] == '\0')
            p++;
        else
            return p;
    }
}

static int archive_fail(struct archive *a, struct berr *err, const char *what)
{
    const char *msg = a ? archive_error_string(a) : NULL;
    return berr_set(err, BERR_IO, "%s: %s", what, msg ? msg : "unknown error");
}

/* Open a file ("-": stdin) for reading through a reader set up by the caller. */
static int archive_open_input(struct archive *a, const char *file, struct berr *err)
{
    int fd = STDIN_FILENO;
    if (strcmp(file, "-") != 0) {
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return berr_set(err, BERR_NOTFOUND, "cannot open %s: %s", file, strerror(errno));
    }
    if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
        const char *msg = archive_error_string(a);
        berr_set(err, BERR_INVALID, "cannot read %s: %s", file, msg ? msg : "not an archive");
        if (fd != STDIN_FILENO)
            close(fd);
        return -BERR_INVALID;
    }
    return fd;
}

/* Read a whole file of at most JSON_MAX bytes as JSON. */
static json_t *json_file(const char *path, struct berr *err, const char *what)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return berr_set(err, BERR_IO, "cannot read %s: %s", what, strerror(errno)), NULL;
    if (st.st_size > JSON_MAX)
        return berr_set(err, BERR_TOOBIG, "%s is too large", what), NULL;
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        berr_set(err, BERR_INVALID, "%s is not valid JSON: %s", what, jerr.text);
    return doc;
}

static json_t *json_blob(struct berth_store *s, const char *digest, struct berr *err)
{
    char *buf = NULL;
    size_t len = 0;
    if (store_read_blob(s, digest, JSON_MAX, &buf, &len, err) < 0)
        return NULL;
    json_error_t jerr;
    json_t *doc = json_loadb(buf, len, 0, &jerr);
    free(buf);
    if (!doc)
        berr_set(err, BERR_INVALID, "blob %s is not valid JSON: %s", digest, jerr.text);
    return doc;
}

/* How much larger than its compressed input decompressed data may grow. */
static uint64_t inflate_ratio(void)
{
    const char *v = getenv("BERTH_LOAD_MAX_RATIO");
    char *end;
    unsigned long long n = v && *v ? strtoull(v, &end, 10) : 0;
    return v && *v && !*end && n > 0 ? n : 100;
}

static uint64_t inflate_bound(uint64_t compressed)
{
    uint64_t r = inflate_ratio();
    return compressed > (UINT64_MAX - INFLATE_FLOOR) / r ? UINT64_MAX
                                                         : compressed * r + INFLATE_FLOOR;
}

/* Has a reader's decompressed output outgrown what it read? (Filter 0 is
 * the data the format sees, the last one the bytes of the file.) */
static bool inflated_too_far(struct archive *a)
{
    la_int64_t out = archive_filter_bytes(a, 0), in = archive_filter_bytes(a, -1);
    return out > 0 && in >= 0 && (uint64_t)out > inflate_bound((uint64_t)in);
}

/* Stream the decompressed bytes of a file (gzip, zstd, ... or none: any
 * filter libarchive knows) into out_fd (-1: nowhere), hashing them. */
static int decompress_file(const char *path, int out_fd, char digest[DIGEST_MAX],
                           uint64_t *size, struct berr *err)
{
    struct archive *a = archive_read_new();
    struct hasher *h = hasher_new(DIGEST_SHA256);
    char *buf = malloc(CHUNK);
    struct archive_entry *e;
    uint64_t total = 0;
    int rc = 0;
    if (!a || !h || !buf) {
        rc = berr_set(err, BERR_IO, "out of memory");
        goto out;
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK ||
        archive_read_next_header(a, &e) != ARCHIVE_OK) {
        rc = archive_fail(a, err, "cannot decompress a layer");
        goto out;
    }
    for (;;) {
        la_ssize_t n = archive_read_data(a, buf, CHUNK);
        if (n == 0)
            break;
        if (n < 0) {
            rc = archive_fail(a, err, "cannot decompress a layer");
            goto out;
        }
        if (inflated_too_far(a)) {
            rc = berr_set(err, BERR_TOOBIG,
                          "a layer decompresses to more than %llu times its size (a decompression bomb?)",
                          (unsigned long long)inflate_ratio());
            goto out;
        }
        if (hasher_update(h, buf, (size_t)n) < 0) {
            rc = berr_set(err, BERR_IO, "cannot hash");
            goto out;
        }
        if (out_fd >= 0 && write_all(out_fd, buf, (size_t)n) < 0) {
            rc = berr_set(err, BERR_IO, "cannot write to the image store: %s", strerror(errno));
            goto out;
        }
        total += (uint64_t)n;
    }
    if (hasher_final(h, digest) < 0)
        rc = berr_set(err, BERR_IO, "cannot hash");
    *size = total;
out:
    hasher_free(h);
    free(buf);
    if (a)
        archive_read_free(a);
    return rc;
}

/* ---- save ------------------------------------------------------------------------ */

static int tar_header(struct archive *a, const char *path, int type, int mode, uint64_t size,
                      time_t mtime, struct berr *err)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return berr_set(err, BERR_IO, "out of memory");
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, (unsigned)type);
    archive_entry_set_perm(e, (mode_t)mode);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : archive_fail(a, err, "cannot write the archive");
    archive_entry_free(e);
    return rc;
}

static int tar_write(struct archive *a, const void *buf, size_t len, struct berr *err)
{
    const char *p = buf;
    while (len > 0) {
        la_ssize_t n = archive_write_data(a, p, len);
        if (n <= 0)
            return archive_fail(a, err, "cannot write the archive");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int tar_add_buf(struct archive *a, const char *path, const void *buf, size_t len,
                       time_t mtime, struct berr *err)
{
    int rc = tar_header(a, path, AE_IFREG, 0644, len, mtime, err);
    return rc < 0 ? rc : tar_write(a, buf, len, err);
}

static int tar_add_json(struct archive *a, const char *path, json_t *doc, time_t mtime,
                        struct berr *err)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    if (!body)
        return berr_set(err, BERR_IO, "out of memory");
    int rc = tar_add_buf(a, path, body, strlen(body), mtime, err);
    free(body);
    return rc;
}

/* The first `size` bytes of fd (from offset 0) as one entry. */
static int tar_add_fd(struct archive *a, const char *path, int fd, uint64_t size,
                      time_t mtime, struct berr *err)
{
    int rc = tar_header(a, path, AE_IFREG, 0644, size, mtime, err);
    if (rc < 0)
        return rc;
    auto_free char *buf = malloc(CHUNK);
    if (!buf)
        return berr_set(err, BERR_IO, "out of memory");
    uint64_t off = 0;
    while (off < size) {
        size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return berr_set(err, BERR_IO, "cannot read a layer: %s",
                            n < 0 ? strerror(errno) : "file shrank");
        if ((rc = tar_write(a, buf, (size_t)n, err)) < 0)
            return rc;
        off += (uint64_t)n;
    }
    return 0;
}

/* <hex>/layer.tar, uncompressed and checked against its diff_id, plus
 * <hex>/VERSION and <hex>/json as docker save writes them. */
static int save_layer(struct berth_store *s, struct archive *a, const char *layer_digest,
                      const char *diff_id, const char *parent_hex, time_t mtime,
                      struct berr *err)
{
    const char *hex = digest_hex(diff_id);
    char path[2400], name[256];
    int rc;
    if (!store_has_blob(s, layer_digest))
        return berr_set(err, BERR_NOTFOUND, "layer %s is not in the image store", layer_digest);
    store_blob_path(s, layer_digest, path, sizeof path);
    auto_close int fd = -1;
    uint64_t size = 0;
    if (strcmp(layer_digest, diff_id) == 0) {
        /* stored uncompressed, and verified when it was committed */
        struct stat st;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
            return berr_set(err, BERR_IO, "cannot read layer %s: %s", layer_digest, strerror(errno));
        size = (uint64_t)st.st_size;
    } else {
        char tmp[2400], got[DIGEST_MAX];
        fd = store_temp(s, tmp, sizeof tmp);
        if (fd < 0)
            return berr_set(err, BERR_IO, "cannot write to the image store: %s", strerror(errno));
        unlink(tmp);    /* the open fd is all we need: nothing left behind */
        if ((rc = decompress_file(path, fd, got, &size, err)) < 0)
            return rc;
        if (strcmp(got, diff_id) != 0)
            return berr_set(err, BERR_DIGEST,
                            "layer %s does not match the image's diff_id %s (it is corrupt)",
                            layer_digest, diff_id);
    }
    snprintf(name, sizeof name, "%s", hex);
    if ((rc = tar_header(a, name, AE_IFDIR, 0755, 0, mtime, err)) < 0)
        return rc;
    snprintf(name, sizeof name, "%s/VERSION", hex);
    if ((rc = tar_add_buf(a, name, "1.0", 3, mtime, err)) < 0)
        return rc;
    json_t *legacy = json_pack("{s:s}", "id", hex);
    if (parent_hex)
        json_object_set_new(legacy, "parent", json_string(parent_hex));
    snprintf(name, sizeof name, "%s/json", hex);
    rc = tar_add_json(a, name, legacy, mtime, err);
    json_decref(legacy);
    if (rc < 0)
        return rc;
    snprintf(name, sizeof name, "%s/layer.tar", hex);
    return tar_add_fd(a, name, fd, size, mtime, err);
}

/* Is `full` a name in the store's index.json (rather than an id)? */
static bool store_has_name(struct berth_store *s, const char *full)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/index.json", berth_store_root(s));
    if (store_lock(s, false) < 0)
        return false;
    json_t *doc = json_load_file(path, 0, NULL);
    store_unlock(s);
    bool found = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "manifests"), i, e) {
        const char *n = json_string_value(
            json_object_get(json_object_get(e, "annotations"), ANN_NAME));
        if (n && strcmp(n, full) == 0)
            found = true;
    }
    json_decref(doc);
    return found;
}

/* One image to save: refs naming the same image share one manifest.json
 * entry, as docker save does. */
struct save_image {
    json_t *manifest;
    json_t *config;
    char config_digest[DIGEST_MAX];
    json_t *tags;       /* ["busybox:latest", ...] */
};

static int save_resolve(struct berth_store *s, const char *const *refs, size_t n,
                        struct save_image *imgs, size_t *count, struct berr *err)
{
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *manifest = NULL, *config = NULL;
        char mdigest[DIGEST_MAX];
        if (berth_image_get(s, refs[i], &manifest, &config, mdigest, err) < 0)
            return -BERR_NOTFOUND;
        const char *cd = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
        if (!cd || !digest_valid(cd)) {
            json_decref(manifest);
            json_decref(config);
            return berr_set(err, BERR_INVALID, "image %s has no valid config", refs[i]);
        }
        size_t k;
        for (k = 0; k < *count; k++)
            if (strcmp(imgs[k].config_digest, cd) == 0)
                break;
        if (k == *count) {
            imgs[k].manifest = manifest;
            imgs[k].config = config;
            imgs[k].tags = json_array();
            snprintf(imgs[k].config_digest, DIGEST_MAX, "%s", cd);
            (*count)++;
        } else {
            json_decref(manifest);
            json_decref(config);
        }
        struct berth_ref ref;
        struct berr ignore = {0};
        char full[600], familiar[600], tag[800];
        if (berth_ref_parse(refs[i], &ref, &ignore) < 0 || !ref.tag[0] || ref.digest[0])
            continue;
        berth_ref_format(&ref, full, sizeof full);
        if (!store_has_name(s, full))
            continue;   /* an image id: docker saves it without tags */
        berth_ref_familiar(&ref, familiar, sizeof familiar);
        snprintf(tag, sizeof tag, "%s:%s", familiar, ref.tag);
        bool dup = false;
        size_t j;
        json_t *t;
        json_array_foreach(imgs[k].tags, j, t)
            dup |= strcmp(json_string_value(t), tag) == 0;
        if (!dup)
            json_array_append_new(imgs[k].tags, json_string(tag));
    }
    return 0;
}

static int save_image(struct berth_store *s, struct archive *a, struct save_image *img,
                      json_t *written, json_t *manifest_json, json_t *repositories,
                      struct berr *err)
{
    json_t *layers = json_object_get(img->manifest, "layers");
    json_t *diff_ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
    if (!json_is_array(layers) || !json_is_array(diff_ids) ||
        json_array_size(layers) != json_array_size(diff_ids))
        return berr_set(err, BERR_INVALID,
                        "image %s: its manifest's layers do not match its config's diff_ids",
                        img->config_digest);
    time_t mtime = parse_rfc3339(json_string_value(json_object_get(img->config, "created")));
    int rc;
    char name[256];
    char *cbuf = NULL;
    size_t clen;
    /* the config's exact bytes: their digest is the image id */
    if ((rc = store_read_blob(s, img->config_digest, JSON_MAX, &cbuf, &clen, err)) < 0)
        return rc;
    snprintf(name, sizeof name, "%s.json", digest_hex(img->config_digest));
    if (!json_object_get(written, name))
        rc = tar_add_buf(a, name, cbuf, clen, mtime, err);
    free(cbuf);
    if (rc < 0)
        return rc;
    json_object_set_new(written, name, json_true());

    json_t *paths = json_array();
    const char *parent = NULL;
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l) {
        const char *ld = json_string_value(json_object_get(l, "digest"));
        const char *diff = json_string_value(json_array_get(diff_ids, i));
        if (!ld || !digest_valid(ld) || !diff || !digest_valid(diff) ||
            strncmp(diff, "sha256:", 7) != 0) {
            json_decref(paths);
            return berr_set(err, BERR_INVALID, "image %s has an invalid layer or diff_id",
                            img->config_digest);
        }
        if (!json_object_get(written, diff)) {
            if ((rc = save_layer(s, a, ld, diff, parent, mtime, err)) < 0) {
                json_decref(paths);
                return rc;
            }
            json_object_set_new(written, diff, json_true());
        }
        parent = digest_hex(diff);
        snprintf(name, sizeof name, "%s/layer.tar", digest_hex(diff));
        json_array_append_new(paths, json_string(name));
    }
    snprintf(name, sizeof name, "%s.json", digest_hex(img->config_digest));
    json_array_append_new(manifest_json,
                          json_pack("{s:s,s:O,s:o}", "Config", name, "RepoTags",
                                    json_array_size(img->tags) ? img->tags : json_null(),
                                    "Layers", paths));
    /* legacy `repositories`: repo -> tag -> top layer id */
    json_t *t;
    json_array_foreach(img->tags, i, t) {
        char repo[800];
        snprintf(repo, sizeof repo, "%s", json_string_value(t));
        char *colon = strrchr(repo, ':');
        if (!colon || !parent)
            continue;
        *colon = '\0';
        json_t *r = json_object_get(repositories, repo);
        if (!r)
            json_object_set_new(repositories, repo, r = json_object());
        json_object_set_new(r, colon + 1, json_string(parent));
    }
    return 0;
}

int berth_save(struct berth_store *s, const char *const *refs, size_t n, const char *file,
               struct berr *err)
{
    if (n == 0)
        return berr_set(err, BERR_INVALID, "no image to save");
    struct save_image *imgs = calloc(n, sizeof *imgs);
    if (!imgs)
        return berr_set(err, BERR_IO, "out of memory");
    size_t count = 0;
    bool to_stdout = strcmp(file, "-") == 0;
    /* a destination that exists and is not a regular file (/dev/null, a
     * FIFO, a terminal) is written to as it is: renaming a temp file over
     * it would replace the node */
    struct stat dst;
    bool direct = !to_stdout && stat(file, &dst) == 0 && !S_ISREG(dst.st_mode);
    char tmp[PATH_LEN + 32] = "";
    int fd = -1;
    struct archive *a = NULL;
    json_t *written = json_object(), *manifest_json = json_array(),
           *repositories = json_object();
    store_pin(s);   /* rmi sweeps no blob while we read it */
    int rc = save_resolve(s, refs, n, imgs, &count, err);
    if (rc < 0)
        goto out;

    if (to_stdout) {
        fd = STDOUT_FILENO;
    } else if (direct) {
        if (S_ISDIR(dst.st_mode) || (fd = open(file, O_WRONLY | O_CLOEXEC)) < 0) {
            rc = berr_set(err, BERR_IO, "cannot write %s: %s", file,
                          strerror(S_ISDIR(dst.st_mode) ? EISDIR : errno));
            goto out;
        }
    } else {
        if (strlen(file) >= PATH_LEN) {
            rc = berr_set(err, BERR_INVALID, "file name too long");
            goto out;
        }
        snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", file);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
            tmp[0] = '\0';
            rc = berr_set(err, BERR_IO, "cannot write %s: %s", file, strerror(errno));
            goto out;
        }
        fchmod(fd, 0644);
    }
    a = archive_write_new();
    if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        rc = archive_fail(a, err, "cannot write the archive");
        goto out;
    }
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = save_image(s, a, &imgs[i], written, manifest_json, repositories, err);
    if (rc == 0)
        rc = tar_add_json(a, "manifest.json", manifest_json, 0, err);
    if (rc == 0 && json_object_size(repositories))
        rc = tar_add_json(a, "repositories", repositories, 0, err);
    if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
        rc = archive_fail(a, err, "cannot write the archive");
    if (rc == 0 && !to_stdout && !direct) {
        if (fsync(fd) < 0 || rename(tmp, file) < 0)
            rc = berr_set(err, BERR_IO, "cannot write %s: %s", file, strerror(errno));
        else
            tmp[0] = '\0';
    }
out:
    if (a)
        archive_write_free(a);
    if (fd >= 0 && !to_stdout)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    store_unpin(s);
    for (size_t i = 0; i < count; i++) {
        json_decref(imgs[i].manifest);
        json_decref(imgs[i].config);
        json_decref(imgs[i].tags);
    }
    free(imgs);
    json_decref(written);
    json_decref(manifest_json);
    json_decref(repositories);
    return rc;
}

/* ---- load -------------------------------------------------------------------------- */

/* The archive's members, extracted: key (cleaned member name) ->
 *   {"tmp": path, "digest": sha256, "size": n}     a regular file
 *   {"link": key}                                  a symlink or hard link
 * and, once committed to the store, "done": true. */
struct loader {
    struct berth_store *s;
    const char *file;
    json_t *files;
    json_t *names;      /* [[name, manifest digest, media type, size, repo digest|null]] */
    json_t *ids;        /* [[image id, manifest digest, media type, size]] loaded without a name */
    uint64_t input_size;   /* of the archive file, 0 when unknown (stdin, a pipe) */
    uint64_t declared;     /* member sizes so far, from their tar headers */
};

static void loader_clean(struct loader *L)
{
    const char *k;
    json_t *v;
    json_object_foreach(L->files, k, v) {
        const char *tmp = json_string_value(json_object_get(v, "tmp"));
        if (tmp && !json_is_true(json_object_get(v, "done")))
            unlink(tmp);
    }
}

static int extract_member(struct loader *L, struct archive *a, const char *key,
                          struct berr *err)
{
    char tmp[2400], digest[DIGEST_MAX];
    int fd = store_temp(L->s, tmp, sizeof tmp);
    if (fd < 0)
        return berr_set(err, BERR_IO, "cannot write to the image store: %s", strerror(errno));
    /* recorded first, so cleanup finds it whatever happens next */
    json_t *old = json_object_get(L->files, key);
    const char *old_tmp = json_string_value(json_object_get(old, "tmp"));
    if (old_tmp)
        unlink(old_tmp);
    json_t *f = json_pack("{s:s}", "tmp", tmp);
    json_object_set_new(L->files, key, f);
    struct hasher *h = hasher_new(DIGEST_SHA256);
    char *buf = malloc(CHUNK);
    uint64_t total = 0;
    int rc = 0;
    if (!h || !buf)
        rc = berr_set(err, BERR_IO, "out of memory");
    while (rc == 0) {
        la_ssize_t n = archive_read_data(a, buf, CHUNK);
        if (n == 0)
            break;
        if (n < 0)
            rc = berr_set(err, BERR_INVALID, "cannot read %s: %s", L->file,
                          archive_error_string(a) ? archive_error_string(a) : "bad archive");
        else if (inflated_too_far(a))
            rc = berr_set(err, BERR_TOOBIG,
                          "%s decompresses to more than %llu times its size (a decompression bomb?)",
                          L->file, (unsigned long long)inflate_ratio());
        else if (hasher_update(h, buf, (size_t)n) < 0)
            rc = berr_set(err, BERR_IO, "cannot hash");
        else if (write_all(fd, buf, (size_t)n) < 0)
            rc = berr_set(err, BERR_IO, "cannot write to the image store (disk full?): %s",
                          strerror(errno));
        total += n > 0 ? (uint64_t)n : 0;
    }
    if (rc == 0 && hasher_final(h, digest) < 0)
        rc = berr_set(err, BERR_IO, "cannot hash");
    if (rc == 0) {
        json_object_set_new(f, "digest", json_string(digest));
        json_object_set_new(f, "size", json_integer((json_int_t)total));
    }
    hasher_free(h);
    free(buf);
    close(fd);
    return rc;
}

/* Before a member is written: does its declared size fit? */
static int member_fits(struct loader *L, struct archive_entry *e, const char *key,
                       struct berr *err)
{
    if (!archive_entry_size_is_set(e))
        return 0;   /* the running check in extract_member still applies */
    uint64_t size = (uint64_t)archive_entry_size(e);
    L->declared += size;
    if (L->input_size && L->declared > inflate_bound(L->input_size))
        return berr_set(err, BERR_TOOBIG,
                        "%s: its members declare %llu bytes (%.200s alone %llu), more than %llu times the archive's size (a decompression bomb?)",
                        L->file, (unsigned long long)L->declared, key, (unsigned long long)size,
                        (unsigned long long)inflate_ratio());
    char tmp[2200];
    struct statvfs vfs;
    snprintf(tmp, sizeof tmp, "%s/tmp", berth_store_root(L->s));
    if (statvfs(tmp, &vfs) == 0 && size > (uint64_t)vfs.f_bavail * vfs.f_frsize)
        return berr_set(err, BERR_TOOBIG,
                        "%s: member %.200s needs %llu bytes, the image store has %llu free",
                        L->file, key, (unsigned long long)size,
                        (unsigned long long)vfs.f_bavail * vfs.f_frsize);
    return 0;
}

static int load_extract(struct loader *L, struct berr *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    int rc = 0;
    if (!a)
        return berr_set(err, BERR_IO, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int fd = archive_open_input(a, L->file, err);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        L->input_size = (uint64_t)st.st_size;
    int r;
    while (rc == 0) {
        r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = berr_set(err, BERR_INVALID, "cannot read %s: %s", L->file,
                          archive_error_string(a) ? archive_error_string(a) : "bad archive");
            break;
        }
        const char *name = archive_entry_pathname(e);
        char key[PATH_LEN], target[PATH_LEN], joined[2 * PATH_LEN + 2];
        if (!name)
            continue;
        path_clean(name, key, sizeof key);
        if (!key[0])
            continue;
        if (archive_entry_hardlink(e)) {
            path_clean(archive_entry_hardlink(e), target, sizeof target);
            json_object_set_new(L->files, key, json_pack("{s:s}", "link", target));
        } else if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e)) {
            const char *t = archive_entry_symlink(e);
            const char *slash = strrchr(key, '/');
            if (t[0] == '/' || !slash)
                snprintf(joined, sizeof joined, "%s", t);
            else
                snprintf(joined, sizeof joined, "%.*s/%s", (int)(slash - key), key, t);
            path_clean(joined, target, sizeof target);
            json_object_set_new(L->files, key, json_pack("{s:s}", "link", target));
        } else if (archive_entry_filetype(e) == AE_IFREG) {
            rc = member_fits(L, e, key, err);
            if (rc == 0)
                rc = extract_member(L, a, key, err);
        }
    }
    archive_read_free(a);
    a = NULL;
    if (fd != STDIN_FILENO)
        close(fd);
out:
    if (a)
        archive_read_free(a);
    return rc;
}

/* A member by name, following links. */
static json_t *member(struct loader *L, const char *name)
{
    char key[PATH_LEN];
    path_clean(name, key, sizeof key);
    json_t *f = json_object_get(L->files, key);
    for (int depth = 0; f && json_object_get(f, "link") && depth < 16; depth++)
        f = json_object_get(L->files, json_string_value(json_object_get(f, "link")));
    return f && json_object_get(f, "digest") ? f : NULL;
}

static json_t *member_blob(struct loader *L, const char *digest)
{
    char key[300];
    if (!digest || !digest_valid(digest) || strncmp(digest, "sha256:", 7) != 0)
        return NULL;
    snprintf(key, sizeof key, "blobs/sha256/%s", digest_hex(digest));
    return member(L, key);
}

static const char *member_tmp(json_t *f)
{
    return json_string_value(json_object_get(f, "tmp"));
}

static const char *member_digest(json_t *f)
{
    return json_string_value(json_object_get(f, "digest"));
}

static uint64_t member_size(json_t *f)
{
    return (uint64_t)json_integer_value(json_object_get(f, "size"));
}

/* Content-addressed members must be what their names say. */
static int load_check_blobs(struct loader *L, struct berr *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(L->files, k, v) {
        const char *d = member_digest(v);
        if (!d || strncmp(k, "blobs/sha256/", 13) != 0)
            continue;
        if (strcmp(k + 13, digest_hex(d)) != 0)
            return berr_set(err, BERR_DIGEST,
                            "%s in the archive does not match its digest (it is %s)", k, d);
    }
    return 0;
}

static int member_commit(struct loader *L, json_t *f, struct berr *err)
{
    if (json_is_true(json_object_get(f, "done")))
        return 0;
    const char *tmp = member_tmp(f), *digest = member_digest(f);
    int rc = 0;
    if (store_has_blob(L->s, digest))
        unlink(tmp);    /* an existing blob is never overwritten */
    else
        rc = store_commit_blob(L->s, tmp, digest, err);
    json_object_set_new(f, "done", json_true());    /* gone either way */
    return rc;
}

static int add_name(struct loader *L, const char *name, const char *manifest_digest,
                    const char *media_type, uint64_t size, const char *repo_digest)
{
    return json_array_append_new(
        L->names, json_pack("[s,s,s,I,s?]", name, manifest_digest, media_type,
                            (json_int_t)size, repo_digest));
}

/* Check the first bytes of a layer for a compression magic number. */
static const char *layer_media_type(const char *path)
{
    unsigned char m[4] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, m, sizeof m, 0) : -1;
    if (fd >= 0)
        close(fd);
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        return MT_OCI_LAYER_GZIP;
    if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
        return MT_OCI_LAYER_ZSTD;
    return MT_OCI_LAYER;
}

/* manifest.json: [{"Config": path, "RepoTags": [...], "Layers": [path, ...]}]. Every
 * image is checked, then every blob committed, then the names recorded. */
static int load_docker(struct loader *L, json_t *mf, struct berr *err)
{
    json_t *doc = json_file(member_tmp(mf), err, "manifest.json");
    if (!doc)
        return -BERR_INVALID;
    json_t *commits = json_array(), *manifests = json_array();
    int rc = 0;
    if (!json_is_array(doc) || json_array_size(doc) == 0)
        rc = berr_set(err, BERR_INVALID, "manifest.json lists no images");
    size_t i;
    json_t *img;
    json_array_foreach(doc, i, img) {
        if (rc < 0)
            break;
        const char *cpath = json_string_value(json_object_get(img, "Config"));
        json_t *cf = cpath ? member(L, cpath) : NULL;
        if (!cf) {
            rc = berr_set(err, BERR_INVALID, "the archive lacks the config %s",
                          cpath ? cpath : "(none named)");
            break;
        }
        json_t *config = json_file(member_tmp(cf), err, cpath);
        if (!config) {
            rc = -BERR_INVALID;
            break;
        }
        json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
        json_t *lpaths = json_object_get(img, "Layers");
        if (!json_is_array(diff_ids) || !json_is_array(lpaths) ||
            json_array_size(diff_ids) != json_array_size(lpaths)) {
            json_decref(config);
            rc = berr_set(err, BERR_INVALID,
                          "image %s: manifest.json's layers do not match the config's diff_ids",
                          cpath);
            break;
        }
        json_t *descs = json_array();
        size_t j;
        json_t *lp;
        json_array_foreach(lpaths, j, lp) {
            const char *path = json_string_value(lp);
            const char *diff = json_string_value(json_array_get(diff_ids, j));
            json_t *lf = path ? member(L, path) : NULL;
            if (!lf) {
                rc = berr_set(err, BERR_INVALID, "the archive lacks the layer %s",
                              path ? path : "(none named)");
                break;
            }
            const char *mt = layer_media_type(member_tmp(lf));
            char got[DIGEST_MAX];
            uint64_t usize = 0;
            if (strcmp(mt, MT_OCI_LAYER) == 0)
                snprintf(got, sizeof got, "%s", member_digest(lf));
            else if ((rc = decompress_file(member_tmp(lf), -1, got, &usize, err)) < 0)
                break;
            if (!diff || strcmp(got, diff) != 0) {
                rc = berr_set(err, BERR_DIGEST,
                              "layer %s is %s, but the image's config says %s", path, got,
                              diff ? diff : "nothing");
                break;
            }
            json_array_append_new(descs, json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest",
                                                   member_digest(lf), "size",
                                                   (json_int_t)member_size(lf)));
            json_array_append(commits, lf);
        }
        json_decref(config);
        if (rc < 0) {
            json_decref(descs);
            break;
        }
        json_array_append(commits, cf);
        json_t *m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2,
                              "mediaType", MT_OCI_MANIFEST, "config", "mediaType",
                              MT_OCI_CONFIG, "digest", member_digest(cf), "size",
                              (json_int_t)member_size(cf), "layers", descs);
        json_array_append_new(manifests, json_pack("{s:o,s:O,s:s}", "manifest", m, "tags",
                                                   json_object_get(img, "RepoTags") ?: json_null(),
                                                   "id", member_digest(cf)));
    }
    /* all names parse before anything is stored */
    json_array_foreach(manifests, i, img) {
        size_t j;
        json_t *t;
        json_array_foreach(json_object_get(img, "tags"), j, t) {
            struct berth_ref ref;
            if (rc < 0)
                break;
            if (!json_is_string(t))
                rc = berr_set(err, BERR_INVALID, "manifest.json: a RepoTags entry is no string");
            else if (berth_ref_parse(json_string_value(t), &ref, err) < 0)
                rc = -BERR_INVALID;
        }
    }
    json_array_foreach(commits, i, img)
        if (rc == 0)
            rc = member_commit(L, img, err);
    json_array_foreach(manifests, i, img) {
        if (rc < 0)
            break;
        char *body = json_dumps(json_object_get(img, "manifest"), JSON_COMPACT);
        char md[DIGEST_MAX];
        if (!body) {
            rc = berr_set(err, BERR_IO, "out of memory");
            break;
        }
        rc = store_put_blob(L->s, body, strlen(body), md, err);
        size_t blen = strlen(body);
        free(body);
        if (rc < 0)
            break;
        json_t *tags = json_object_get(img, "tags");
        size_t j;
        json_t *t;
        json_array_foreach(tags, j, t) {
            struct berth_ref ref;
            char full[600];
            berth_ref_parse(json_string_value(t), &ref, NULL);
            berth_ref_format(&ref, full, sizeof full);
            add_name(L, full, md, MT_OCI_MANIFEST, blen, NULL);
        }
        if (json_array_size(tags) == 0)
            json_array_append_new(L->ids, json_pack("[s,s,s,I]", json_string_value(json_object_get(img, "id")),
                                                    md, MT_OCI_MANIFEST, (json_int_t)blen));
    }
    json_decref(commits);
    json_decref(manifests);
    json_decref(doc);
    return rc;
}

/* A blob's JSON, from the archive or else the store. */
static json_t *oci_json(struct loader *L, const char *digest, struct berr *err)
{
    json_t *f = member_blob(L, digest);
    if (f)
        return json_file(member_tmp(f), err, digest);
    if (digest && store_has_blob(L->s, digest))
        return json_blob(L->s, digest, err);
    berr_set(err, BERR_INVALID, "the archive lacks blob %s", digest ? digest : "(none named)");
    return NULL;
}

static bool oci_present(struct loader *L, const char *digest)
{
    return member_blob(L, digest) || (digest && digest_valid(digest) && store_has_blob(L->s, digest));
}

/* From an index.json descriptor to an image manifest: through indexes, to
 * this machine's platform (or the only manifest the archive has). Every blob
 * the image needs is added to `commits`. */
static int oci_resolve(struct loader *L, json_t *desc, char digest[DIGEST_MAX],
                       char media_type[128], uint64_t *size, json_t *commits, int depth,
                       struct berr *err)
{
    const char *d = json_string_value(json_object_get(desc, "digest"));
    if (!d || !digest_valid(d))
        return berr_set(err, BERR_INVALID, "index.json: a descriptor has no valid digest");
    if (depth > 4)
        return berr_set(err, BERR_INVALID, "index %s nests too deep", d);
    json_t *doc = oci_json(L, d, err);
    if (!doc)
        return -BERR_INVALID;
    const char *mt = json_string_value(json_object_get(doc, "mediaType"));
    if (!mt)
        mt = json_string_value(json_object_get(desc, "mediaType"));
    int rc = 0;
    if (is_index_type(mt) || json_is_array(json_object_get(doc, "manifests"))) {
        json_t *pick = NULL, *only = NULL, *m;
        size_t i, present = 0;
        json_array_foreach(json_object_get(doc, "manifests"), i, m) {
            const char *cd = json_string_value(json_object_get(m, "digest"));
            if (!oci_present(L, cd))
                continue;
            present++;
            only = m;
            json_t *p = json_object_get(m, "platform");
            const char *os = json_string_value(json_object_get(p, "os"));
            const char *arch = json_string_value(json_object_get(p, "architecture"));
            if (!pick && os && arch && strcmp(os, "linux") == 0 && strcmp(arch, host_arch()) == 0)
                pick = m;
        }
        if (!pick && present == 1)
            pick = only;
        if (!pick)
            rc = berr_set(err, BERR_NOTFOUND, "index %s has no image for linux/%s in the archive",
                          d, host_arch());
        else
            rc = oci_resolve(L, pick, digest, media_type, size, commits, depth + 1, err);
        json_decref(doc);
        return rc;
    }
    json_t *cfg = json_object_get(doc, "config");
    json_t *layers = json_object_get(doc, "layers");
    if (!json_is_object(cfg) || !json_is_array(layers)) {
        json_decref(doc);
        return berr_set(err, BERR_INVALID, "%s is not an image manifest", d);
    }
    json_t *need = json_array();
    json_array_append(need, json_object_get(cfg, "digest"));
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
        json_array_append(need, json_object_get(l, "digest"));
    json_t *n;
    json_array_foreach(need, i, n) {
        const char *nd = json_string_value(n);
        if (!oci_present(L, nd)) {
            rc = berr_set(err, BERR_INVALID, "image %s is incomplete: the archive lacks blob %s",
                          d, nd ? nd : "(none named)");
            break;
        }
        json_t *f = member_blob(L, nd);
        if (f)
            json_array_append(commits, f);
    }
    json_decref(need);
    json_t *mf = member_blob(L, d);
    if (rc == 0) {
        if (mf) {
            json_array_append(commits, mf);
            *size = member_size(mf);
        } else {
            char path[2400];
            struct stat st = {0};
            store_blob_path(L->s, d, path, sizeof path);
            stat(path, &st);
            *size = (uint64_t)st.st_size;
        }
        snprintf(digest, DIGEST_MAX, "%s", d);
        snprintf(media_type, 128, "%s", mt ? mt : MT_OCI_MANIFEST);
    }
    json_decref(doc);
    return rc;
}

/* The name an index.json entry gives its image: containerd's full name,
 * else org.opencontainers.image.ref.name when it is a reference, else
 * (only a tag, as the OCI layout spec has it) the archive's file name as
 * repository with that tag: busybox.tar + "latest" is busybox:latest. */
static int oci_name(struct loader *L, json_t *desc, char *out, size_t len, struct berr *err)
{
    json_t *ann = json_object_get(desc, "annotations");
    const char *full = json_string_value(json_object_get(ann, ANN_CONTAINERD_NAME));
    const char *tag = json_string_value(json_object_get(ann, ANN_NAME));
    struct berth_ref ref;
    char buf[1024];
    out[0] = '\0';
    if (full || (tag && strpbrk(tag, ":/@"))) {
        if (berth_ref_parse(full ? full : tag, &ref, err) < 0)
            return -BERR_INVALID;
    } else if (tag) {
        if (!tag_valid(tag))
            return berr_set(err, BERR_INVALID, "index.json: invalid image name %s", tag);
        const char *base = strrchr(L->file, '/');
        base = base ? base + 1 : L->file;
        char repo[512];
        snprintf(repo, sizeof repo, "%s", base);
        static const char *const exts[] = {".gz", ".tgz", ".zst", ".xz", ".bz2", ".tar", ".oci"};
        for (bool again = true; again;) {
            again = false;
            for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
                size_t n = strlen(repo), e = strlen(exts[i]);
                if (n > e && strcmp(repo + n - e, exts[i]) == 0) {
                    repo[n - e] = '\0';
                    again = true;
                }
            }
        }
        for (char *p = repo; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        snprintf(buf, sizeof buf, "%s:%s", repo, tag);
        if (strcmp(L->file, "-") == 0)
            return berr_set(err, BERR_INVALID,
                            "the archive names an image only by its tag '%s': load it from a file named after its repository (REPO.tar)",
                            tag);
        if (berth_ref_parse(buf, &ref, NULL) < 0)
            return berr_set(err, BERR_INVALID,
                            "the archive names an image only by its tag '%s', and its file name '%s' is no repository name: rename the file (REPO.tar)",
                            tag, repo);
    } else {
        return 0;   /* no name: loaded by id */
    }
    if (!ref.tag[0] || ref.digest[0])
        return berr_set(err, BERR_INVALID, "index.json: image name %s has no tag",
                        full ? full : tag);
    berth_ref_format(&ref, out, len);
    return 0;
}

static int load_oci(struct loader *L, json_t *xf, struct berr *err)
{
    json_t *index = json_file(member_tmp(xf), err, "index.json");
    if (!index)
        return -BERR_INVALID;
    json_t *commits = json_array(), *pending = json_array(), *pending_ids = json_array();
    int rc = 0;
    json_t *list = json_object_get(index, "manifests");
    if (!json_is_array(list) || json_array_size(list) == 0)
        rc = berr_set(err, BERR_INVALID, "index.json lists no images");
    size_t i;
    json_t *desc;
    json_array_foreach(list, i, desc) {
        if (rc < 0)
            break;
        char name[600], md[DIGEST_MAX], mt[128];
        uint64_t size = 0;
        if ((rc = oci_name(L, desc, name, sizeof name, err)) < 0 ||
            (rc = oci_resolve(L, desc, md, mt, &size, commits, 0, err)) < 0)
            break;
        const char *d = json_string_value(json_object_get(desc, "digest"));
        const char *repo_digest = strcmp(d, md) != 0 ? d : NULL;
        if (name[0]) {
            json_array_append_new(pending, json_pack("[s,s,s,I,s?]", name, md, mt,
                                                     (json_int_t)size, repo_digest));
        } else {
            json_t *m = oci_json(L, md, err);
            const char *cd = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
            json_array_append_new(pending_ids, json_pack("[s,s,s,I]", cd ? cd : md, md, mt,
                                                         (json_int_t)size));
            json_decref(m);
        }
    }
    json_array_foreach(commits, i, desc)
        if (rc == 0)
            rc = member_commit(L, desc, err);
    if (rc == 0) {
        json_array_extend(L->names, pending);
        json_array_extend(L->ids, pending_ids);
    }
    json_decref(pending_ids);
    json_decref(commits);
    json_decref(pending);
    json_decref(index);
    return rc;
}

int berth_load(struct berth_store *s, const char *file, berth_name_fn each, void *arg,
               struct berr *err)
{
    struct loader L = {
        .s = s, .file = file, .files = json_object(), .names = json_array(), .ids = json_array(),
    };
    store_pin(s);   /* blobs no name points at yet: rmi leaves them alone */
    int rc = load_extract(&L, err);
    json_t *mf = NULL, *xf = NULL;
    if (rc == 0)
        rc = load_check_blobs(&L, err);
    if (rc == 0) {
        mf = member(&L, "manifest.json");
        xf = member(&L, "index.json");
        if (mf)
            rc = load_docker(&L, mf, err);
        else if (xf)
            rc = load_oci(&L, xf, err);
        else
            rc = berr_set(err, BERR_INVALID,
                          "%s is neither a docker archive (no manifest.json) nor an OCI archive (no index.json)",
                          file);
    }
    size_t i;
    json_t *n;
    json_array_foreach(L.names, i, n) {
        if (rc < 0)
            break;
        const char *name = json_string_value(json_array_get(n, 0));
        rc = store_set_name(s, name, json_string_value(json_array_get(n, 1)),
                            json_string_value(json_array_get(n, 2)),
                            (uint64_t)json_integer_value(json_array_get(n, 3)),
                            json_string_value(json_array_get(n, 4)), err);
        if (rc == 0 && each)
            rc = each(arg, name);
    }
    /* an image without a name is kept by its id, as docker load does */
    json_array_foreach(L.ids, i, n) {
        if (rc < 0)
            break;
        rc = store_add_image(s, json_string_value(json_array_get(n, 1)),
                             json_string_value(json_array_get(n, 2)),
                             (uint64_t)json_integer_value(json_array_get(n, 3)), false, NULL, err);
        if (rc == 0 && each)
            rc = each(arg, json_string_value(json_array_get(n, 0)));
    }
    loader_clean(&L);
    store_unpin(s);
    json_decref(L.files);
    json_decref(L.names);
    json_decref(L.ids);
    return rc;
}

/* ---- import ---------------------------------------------------------------------- */

/* Copy every member of the tarball into the layer's writer. */
static int import_copy(const char *tarball, struct archive *out, struct berr *err)
{
    struct archive *in = archive_read_new();
    struct archive_entry *e;
    int rc = 0;
    if (!in)
        return berr_set(err, BERR_IO, "out of memory");
    auto_free char *buf = malloc(CHUNK);
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    int fd = archive_open_input(in, tarball, err), r;
    if (fd < 0)
        rc = fd;
    else if (!buf)
        rc = berr_set(err, BERR_IO, "out of memory");
    size_t members = 0;
    while (rc == 0) {
        r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = berr_set(err, BERR_INVALID, "cannot read %s: %s", tarball,
                          archive_error_string(in) ? archive_error_string(in) : "bad tarball");
            break;
        }
        members++;
        const char *name = archive_entry_pathname(e);
        if (!name)
            continue;
        const char *clean = path_strip(name);
        if (!*clean)
            continue;   /* "./": the root directory itself */
        if (clean != name) {
            char copy[PATH_LEN];
            snprintf(copy, sizeof copy, "%s", clean);
            archive_entry_copy_pathname(e, copy);
        }
        const char *link = archive_entry_hardlink(e);
        if (link && path_strip(link) != link) {
            char copy[PATH_LEN];
            snprintf(copy, sizeof copy, "%s", path_strip(link));
            archive_entry_copy_hardlink(e, copy);
        }
        if (archive_write_header(out, e) < ARCHIVE_WARN) {
            rc = archive_fail(out, err, "cannot write the layer");
            break;
        }
        for (;;) {
            la_ssize_t n = archive_read_data(in, buf, CHUNK);
            if (n == 0)
                break;
            if (n < 0) {
                rc = berr_set(err, BERR_INVALID, "cannot read %s: %s", tarball,
                              archive_error_string(in) ? archive_error_string(in) : "bad tarball");
                break;
            }
            if ((rc = tar_write(out, buf, (size_t)n, err)) < 0)
                break;
        }
    }
    if (rc == 0 && members == 0)
        rc = berr_set(err, BERR_INVALID, "%s is an empty tarball", tarball);
    archive_read_free(in);
    if (fd > STDIN_FILENO)
        close(fd);
    return rc;
}

/* The layer is kept uncompressed, written once through the layer writer
 * (layer.c): what costs is the disk, not a compressor on one core. A push
 * compresses it. */
int berth_import(struct berth_store *s, const char *tarball, const char *ref,
                 char image_id[DIGEST_MAX], struct berr *err)
{
    struct berth_ref r;
    char name[600], config_digest[DIGEST_MAX], digest[DIGEST_MAX], now[64];
    if (berth_ref_parse(ref, &r, err) < 0)
        return -BERR_INVALID;
    if (r.digest[0])
        return berr_set(err, BERR_INVALID, "cannot import to a digest reference: %s", ref);
    berth_ref_format(&r, name, sizeof name);

    struct berth_layer_writer *w = NULL;
    struct berth_layer layer = {0};
    json_t *config = NULL, *manifest = NULL;
    char *body = NULL;
    int rc = berth_layer_new(s, &w, err);
    store_pin(s);   /* the config and manifest until the name is set */
    if (rc < 0)
        goto out;
    if ((rc = import_copy(tarball, berth_layer_archive(w), err)) < 0 ||
        (rc = berth_layer_finish(w, &layer, err)) < 0)
        goto out;

    rfc3339_now(now, sizeof now);
    config = json_pack("{s:s,s:s,s:s,s:{s:[s]},s:{s:s,s:[s]},s:[{s:s,s:s}]}",
                       "architecture", host_arch(), "os", "linux", "created", now,
                       "config", "Env",
                       "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       "rootfs", "type", "layers", "diff_ids", layer.diff_id,
                       "history", "created", now, "created_by", "berth import");
    body = config ? json_dumps(config, JSON_COMPACT) : NULL;
    if (!body) {
        rc = berr_set(err, BERR_IO, "out of memory");
        goto out;
    }
    size_t config_len = strlen(body);
    if ((rc = store_put_blob(s, body, config_len, config_digest, err)) < 0)
        goto out;
    free(body);
    manifest = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:[{s:s,s:s,s:I}]}", "schemaVersion", 2,
                         "mediaType", MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG,
                         "digest", config_digest, "size", (json_int_t)config_len, "layers",
                         "mediaType", layer.media_type, "digest", layer.digest, "size",
                         (json_int_t)layer.size);
    body = manifest ? json_dumps(manifest, JSON_COMPACT) : NULL;
    if (!body) {
        rc = berr_set(err, BERR_IO, "out of memory");
        goto out;
    }
    if ((rc = store_put_blob(s, body, strlen(body), digest, err)) < 0)
        goto out;
    rc = store_set_name(s, name, digest, MT_OCI_MANIFEST, strlen(body), NULL, err);
    if (rc == 0) {
        store_unpin_blob(s, layer.digest);
        memcpy(image_id, config_digest, DIGEST_MAX);
    }
out:
    berth_layer_free(w);
    json_decref(config);
    json_decref(manifest);
    free(body);
    store_unpin(s);
    return rc;
}
