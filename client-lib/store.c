/*
 * store.c - the local image store: an OCI image layout.
 *
 *   <root>/oci-layout, <root>/index.json   the layout and its names
 *   <root>/blobs/sha256/<hex>              manifests, configs, layers
 *   <root>/tmp/                            downloads in progress, named
 *                                          after their process, removed
 *                                          once it is gone (a kill -9)
 *   <root>/lock                            flock: shared to read index.json,
 *                                          exclusive to change it
 *   <root>/pins/<hex>.<pid>-<start>-XXXXXX a blob kept from rmi's sweep
 *                                          while its process lives: a
 *                                          layer written but not yet
 *                                          used by an image
 *   <root>/gzip/<hex>                      "sha256:<gzip hex> <size>": the
 *                                          gzip blob a push made of the
 *                                          uncompressed layer <hex>
 *
 * Blobs are written to tmp/, verified, fsynced and renamed into place, so
 * a blob present is a blob complete. index.json is rewritten through a
 * temporary file and a rename under the exclusive lock, so two berth
 * processes never lose each other's names and a crash never leaves half an
 * index. Each name is an index entry annotated with
 * org.opencontainers.image.ref.name (the full reference) and
 * dev.berth.repo-digest (what the registry called the image). An image
 * stored by id only (a commit, a build step) has no name; a build step's
 * is marked dev.berth.intermediate, listed only by `images -a`, and every
 * commit's entry names its parent image (dev.berth.parent). Every entry,
 * named or not, keeps its blobs from rmi's sweep.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <time.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define ANN_NAME "org.opencontainers.image.ref.name"
#define ANN_REPO_DIGEST "dev.berth.repo-digest"
#define ANN_INTERMEDIATE "dev.berth.intermediate"
#define ANN_PARENT "dev.berth.parent"

struct berth_store {
    char root[2048];
    int lock_fd;
    int pin_fd;        /* <root>/pin: shared while writing, exclusive to sweep */
    json_t *pins;      /* digest -> [pin file, ...] made by this handle */
};

const char *berth_store_root(struct berth_store *s)
{
    return s->root;
}

void berth_blob_path(struct berth_store *s, const char *digest, char *out, size_t len)
{
    store_blob_path(s, digest, out, len);
}

int berth_store_open(const char *root, struct berth_store **out, struct berr *err)
{
    if (!root)
        root = getenv("BERTH_ROOT");
    if (!root || !*root)
        root = "/var/lib/berth";
    struct berth_store *s = calloc(1, sizeof *s);
    if (!s)
        return berr_set(err, BERR_IO, "out of memory");
    snprintf(s->root, sizeof s->root, "%s", root);
    char path[2200];
    snprintf(path, sizeof path, "%s/blobs/sha256", root);
    int rc = mkdir_p(path, 0755);
    snprintf(path, sizeof path, "%s/tmp", root);
    if (rc == 0)
        rc = mkdir_p(path, 0700);
    if (rc < 0) {
        free(s);
        return berr_set(err, BERR_IO, "cannot create the image store in %s: %s", root,
                        strerror(errno));
    }
    snprintf(path, sizeof path, "%s/oci-layout", root);
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size == 0) {
        /* whole or not at all: a store made on a full disk must not keep
         * an empty oci-layout once there is room */
        FILE *f = fopen(path, "w");
        if (f) {
            bool ok = fputs("{\"imageLayoutVersion\":\"1.0.0\"}\n", f) >= 0;
            if (fclose(f) != 0 || !ok)
                unlink(path);
        }
    }
    snprintf(path, sizeof path, "%s/lock", root);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        free(s);
        return berr_set(err, BERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/pin", root);
    s->pin_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    s->pins = json_object();
    *out = s;
    return 0;
}

void store_pin(struct berth_store *s)
{
    while (flock(s->pin_fd, LOCK_SH) < 0 && errno == EINTR)
        ;
}

void store_unpin(struct berth_store *s)
{
    flock(s->pin_fd, LOCK_UN);
}

void berth_store_close(struct berth_store *s)
{
    if (!s)
        return;
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe(s->pins, tmp, k, v)
        store_unpin_blob(s, k);
    json_decref(s->pins);
    close(s->pin_fd);
    close(s->lock_fd);
    free(s);
}

int store_lock(struct berth_store *s, bool exclusive)
{
    while (flock(s->lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
        if (errno != EINTR)
            return -BERR_IO;
    return 0;
}

void store_unlock(struct berth_store *s)
{
    flock(s->lock_fd, LOCK_UN);
}

void store_blob_path(struct berth_store *s, const char *digest, char *out, size_t len)
{
    snprintf(out, len, "%s/blobs/%.6s/%s", s->root, digest, digest_hex(digest));
}

bool store_has_blob(struct berth_store *s, const char *digest)
{
    char path[2400];
    if (!digest_valid(digest))
        return false;
    store_blob_path(s, digest, path, sizeof path);
    return access(path, F_OK) == 0;
}

int store_temp(struct berth_store *s, char *path, size_t len)
{
    /* blob-PID-START-XXXXXX: berth_store_clean_temp tells a live
     * download from one whose process is gone */
    snprintf(path, len, "%s/tmp/blob-%d-%llu-XXXXXX", s->root, (int)getpid(),
             proc_start_time(getpid()));
    return mkostemp(path, O_CLOEXEC);
}

/* Is the process that made tmp/NAME gone? Names not made by this scheme
 * are never touched. */
static bool temp_is_stale(const char *name)
{
    int pid;
    unsigned long long start;
    char tail[16];
    if (sscanf(name, "blob-%d-%llu-%15s", &pid, &start, tail) == 3 && pid > 0 &&
        strlen(tail) == 6) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        unsigned long long now = proc_start_time(pid);
        /* another process has the pid now (an unknown start is not proof) */
        return now && start && now != start;
    }
    if (sscanf(name, "index.json.%d", &pid) == 1 && pid > 0)
        return kill(pid, 0) < 0 && errno == ESRCH;
    return false;
}

/* pins/<hex>.<pid>-<start>-XXXXXX: is its process gone? */
static bool pin_is_stale(const char *name)
{
    const char *dot = strchr(name, '.');
    char blob[64];
    if (!dot || dot - name != 64)
        return false;
    snprintf(blob, sizeof blob, "blob-%s", dot + 1);
    return temp_is_stale(blob);
}

static void clean_stale_pins(const char *root)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/pins", root);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && pin_is_stale(e->d_name))
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
}

int store_pin_blob(struct berth_store *s, const char *digest, struct berr *err)
{
    char path[2400];
    snprintf(path, sizeof path, "%s/pins", s->root);
    mkdir_p(path, 0700);
    snprintf(path, sizeof path, "%s/pins/%s.%d-%llu-XXXXXX", s->root, digest_hex(digest),
             (int)getpid(), proc_start_time(getpid()));
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, BERR_IO, "cannot pin layer %s: %s", digest, strerror(errno));
    close(fd);
    json_t *list = json_object_get(s->pins, digest);
    if (!list)
        json_object_set_new(s->pins, digest, list = json_array());
    json_array_append_new(list, json_string(path));
    return 0;
}

void store_unpin_blob(struct berth_store *s, const char *digest)
{
    json_t *list = json_object_get(s->pins, digest);
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
        unlink(json_string_value(p));
    json_object_del(s->pins, digest);
}

/* The blobs pinned by live processes (stale pins are removed). */
static void mark_pinned(struct berth_store *s, json_t *used)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/pins", s->root);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *dot = strchr(e->d_name, '.');
        if (e->d_name[0] == '.' || !dot || dot - e->d_name != 64)
            continue;
        if (pin_is_stale(e->d_name)) {
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        char digest[DIGEST_MAX];
        snprintf(digest, sizeof digest, "sha256:%.64s", e->d_name);
        json_object_set_new(used, digest, json_true());
    }
    if (d)
        closedir(d);
}

/* gzip/<hex>: the gzip blob a push made of layer <hex>. */
bool store_gzip_get(struct berth_store *s, const char *digest, char gz[DIGEST_MAX],
                    uint64_t *size)
{
    char path[2400], line[200];
    unsigned long long n = 0;
    snprintf(path, sizeof path, "%s/gzip/%s", s->root, digest_hex(digest));
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(line, sizeof line, f) && sscanf(line, "%79s %llu", gz, &n) == 2 &&
              digest_valid(gz) && store_has_blob(s, gz);
    fclose(f);
    *size = n;
    return ok;
}

int store_gzip_set(struct berth_store *s, const char *digest, const char *gz, uint64_t size,
                   struct berr *err)
{
    char path[2400], tmp[2500];
    snprintf(path, sizeof path, "%s/gzip", s->root);
    mkdir_p(path, 0755);
    snprintf(path, sizeof path, "%s/gzip/%s", s->root, digest_hex(digest));
    int fd = store_temp(s, tmp, sizeof tmp);   /* one per thread: pushes run several */
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f && fd >= 0)
        close(fd);
    bool ok = f && fprintf(f, "%s %llu\n", gz, (unsigned long long)size) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (fd >= 0 && (!ok || rename(tmp, path) < 0)) {
        ok = false;
        unlink(tmp);
    }
    if (!ok)
        return berr_set(err, BERR_IO, "cannot record the gzip form of %s: %s", digest,
                        strerror(errno));
    return 0;
}

/* The gzip forms of used layers are used; the records of others go. */
static void mark_gzip(struct berth_store *s, json_t *used)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/gzip", s->root);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char digest[DIGEST_MAX], gz[DIGEST_MAX];
        uint64_t size;
        if (strlen(e->d_name) != 64)
            continue;
        snprintf(digest, sizeof digest, "sha256:%s", e->d_name);
        if (!json_object_get(used, digest))
            unlinkat(dirfd(d), e->d_name, 0);
        else if (store_gzip_get(s, digest, gz, &size))
            json_object_set_new(used, gz, json_true());
    }
    if (d)
        closedir(d);
}

void berth_store_clean_temp(const char *root)
{
    if (!root)
        root = getenv("BERTH_ROOT");
    if (!root || !*root)
        root = "/var/lib/berth";
    char path[2200];
    snprintf(path, sizeof path, "%s/tmp", root);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
            continue;
        if (temp_is_stale(e->d_name))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
    clean_stale_pins(root);
}

/* The caller has verified tmp's digest; this makes it durable and visible. */
int store_commit_blob(struct berth_store *s, const char *tmp, const char *digest,
                      struct berr *err)
{
    char path[2400], dir[2400];
    store_blob_path(s, digest, path, sizeof path);
    snprintf(dir, sizeof dir, "%s/blobs/%.6s", s->root, digest);
    mkdir_p(dir, 0755);
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 && fchmod(fd, 0644) == 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    if (rc < 0 || rename(tmp, path) < 0 || fsync_dir(dir) < 0) {
        unlink(tmp);
        return berr_set(err, BERR_IO, "cannot store blob %s: %s", digest, strerror(errno));
    }
    return 0;
}

int store_put_blob(struct berth_store *s, const void *buf, size_t len,
                   char digest[DIGEST_MAX], struct berr *err)
{
    if (digest_buffer(DIGEST_SHA256, buf, len, digest) < 0)
        return berr_set(err, BERR_IO, "cannot hash");
    if (store_has_blob(s, digest))
        return 0;
    char tmp[2400];
    int fd = store_temp(s, tmp, sizeof tmp);
    if (fd < 0)
        return berr_set(err, BERR_IO, "cannot write to the image store: %s", strerror(errno));
    int rc = write_all(fd, buf, len);
    int e = errno;
    close(fd);
    if (rc < 0) {
        unlink(tmp);
        return berr_set(err, BERR_IO, "cannot write to the image store: %s", strerror(e));
    }
    return store_commit_blob(s, tmp, digest, err);
}

int store_read_blob(struct berth_store *s, const char *digest, size_t max, char **buf,
                    size_t *len, struct berr *err)
{
    char path[2400];
    if (!digest_valid(digest))
        return berr_set(err, BERR_INVALID, "invalid digest %s", digest);
    store_blob_path(s, digest, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return berr_set(err, BERR_NOTFOUND, "blob %s is not in the image store", digest);
    char *data = malloc(max + 1);
    size_t n = data ? fread(data, 1, max + 1, f) : 0;
    fclose(f);
    if (!data || n > max) {
        free(data);
        return berr_set(err, BERR_TOOBIG, "blob %s is too large to read", digest);
    }
    data[n] = '\0';
    *buf = data;
    *len = n;
    return 0;
}

/* ---- index.json ---------------------------------------------------------------- */

static json_t *index_read(struct berth_store *s)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/index.json", s->root);
    json_t *doc = json_load_file(path, 0, NULL);
    if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "manifests"))) {
        json_decref(doc);
        doc = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType",
                        "application/vnd.oci.image.index.v1+json", "manifests");
    }
    return doc;
}

static int index_write(struct berth_store *s, json_t *doc, struct berr *err)
{
    char path[2200], tmp[2300];
    snprintf(path, sizeof path, "%s/index.json", s->root);
    snprintf(tmp, sizeof tmp, "%s/tmp/index.json.%d", s->root, (int)getpid());
    return json_write_atomic(doc, path, tmp, 0644, err);
}

static const char *entry_name(json_t *e)
{
    return json_string_value(json_object_get(json_object_get(e, "annotations"), ANN_NAME));
}

static bool entry_intermediate(json_t *e)
{
    const char *v = json_string_value(
        json_object_get(json_object_get(e, "annotations"), ANN_INTERMEDIATE));
    return v && strcmp(v, "true") == 0;
}

static int index_put(struct berth_store *s, const char *name, const char *manifest_digest,
                     const char *media_type, uint64_t size, const char *repo_digest,
                     bool intermediate, const char *parent, struct berr *err)
{
    if (store_lock(s, true) < 0)
        return berr_set(err, BERR_IO, "cannot lock the image store");
    json_t *doc = index_read(s);
    json_t *list = json_object_get(doc, "manifests");
    size_t i;
    json_t *e;
    /* a name moves to the new image; an unnamed image is kept once */
    /* and an image that gets a name is no longer one without (a build
     * step stays one: it is part of the build cache) */
    for (i = json_array_size(list); i-- > 0;) {
        e = json_array_get(list, i);
        const char *n = entry_name(e);
        const char *d = json_string_value(json_object_get(e, "digest"));
        if (name ? (n && strcmp(n, name) == 0) ||
                       (!n && !entry_intermediate(e) && d && strcmp(d, manifest_digest) == 0)
                 : !n && d && strcmp(d, manifest_digest) == 0)
            json_array_remove(list, i);
    }
    json_t *ann = json_pack("{s:s}", ANN_REPO_DIGEST, repo_digest ? repo_digest : manifest_digest);
    if (name)
        json_object_set_new(ann, ANN_NAME, json_string(name));
    if (!name && intermediate)
        json_object_set_new(ann, ANN_INTERMEDIATE, json_string("true"));
    if (!name && parent)
        json_object_set_new(ann, ANN_PARENT, json_string(parent));
    json_array_append_new(list, json_pack("{s:s,s:s,s:I,s:o}", "mediaType", media_type,
                                          "digest", manifest_digest, "size", (json_int_t)size,
                                          "annotations", ann));
    int rc = index_write(s, doc, err);
    json_decref(doc);
    store_unlock(s);
    return rc;
}

int store_set_name(struct berth_store *s, const char *name, const char *manifest_digest,
                   const char *media_type, uint64_t size, const char *repo_digest,
                   struct berr *err)
{
    return index_put(s, name, manifest_digest, media_type, size, repo_digest, false, NULL, err);
}

int store_add_image(struct berth_store *s, const char *manifest_digest, const char *media_type,
                    uint64_t size, bool intermediate, const char *parent, struct berr *err)
{
    return index_put(s, NULL, manifest_digest, media_type, size, NULL, intermediate, parent,
                     err);
}

/* ---- images ------------------------------------------------------------------------- */

/* Manifest and config of an index entry. */
static int entry_load(struct berth_store *s, json_t *e, json_t **manifest, json_t **config,
                      struct berr *err)
{
    const char *digest = json_string_value(json_object_get(e, "digest"));
    char *buf = NULL;
    size_t len;
    *manifest = *config = NULL;
    if (!digest || store_read_blob(s, digest, 4 << 20, &buf, &len, err) < 0)
        return -BERR_NOTFOUND;
    *manifest = json_loadb(buf, len, 0, NULL);
    free(buf);
    const char *cd = json_string_value(json_object_get(json_object_get(*manifest, "config"), "digest"));
    if (!cd || store_read_blob(s, cd, 16 << 20, &buf, &len, err) < 0) {
        json_decref(*manifest);
        *manifest = NULL;
        return berr_set(err, BERR_NOTFOUND, "image %s is incomplete in the store", digest);
    }
    *config = json_loadb(buf, len, 0, NULL);
    free(buf);
    return 0;
}

static int64_t parse_created(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

/* Is manifest digest d the image of a named entry? */
static bool digest_named(json_t *list, const char *d)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *ed = json_string_value(json_object_get(e, "digest"));
        if (entry_name(e) && ed && d && strcmp(ed, d) == 0)
            return true;
    }
    return false;
}

static int list_images(struct berth_store *s, int which, berth_image_fn each, void *arg,
                       struct berr *err)
{
    if (store_lock(s, false) < 0)
        return berr_set(err, BERR_IO, "cannot lock the image store");
    json_t *doc = index_read(s);
    store_unlock(s);
    json_t *list = json_object_get(doc, "manifests");
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(list, i, e) {
        json_t *manifest, *config;
        struct berr ignore = {0};
        bool inter = entry_intermediate(e);
        const char *md = json_string_value(json_object_get(e, "digest"));
        if (!entry_name(e)) {
            /* one without a name is listed once, and only when nothing
             * names the same image */
            if (which == 0 || (inter && which < 2) || digest_named(list, md))
                continue;
        }
        if (entry_load(s, e, &manifest, &config, &ignore) < 0)
            continue;
        uint64_t size = 0;
        size_t j;
        json_t *l;
        json_array_foreach(json_object_get(manifest, "layers"), j, l)
            size += (uint64_t)json_integer_value(json_object_get(l, "size"));
        struct berth_image img = {
            .name = entry_name(e),
            .manifest_digest = md,
            .repo_digest = json_string_value(
                json_object_get(json_object_get(e, "annotations"), ANN_REPO_DIGEST)),
            .config_digest = json_string_value(
                json_object_get(json_object_get(manifest, "config"), "digest")),
            .created = parse_created(json_string_value(json_object_get(config, "created"))),
            .size = size,
            .intermediate = inter,
            .parent = json_string_value(
                json_object_get(json_object_get(e, "annotations"), ANN_PARENT)),
        };
        rc = each(arg, &img);
        json_decref(manifest);
        json_decref(config);
        if (rc < 0)
            break;
    }
    json_decref(doc);
    return rc;
}

int berth_images(struct berth_store *s, berth_image_fn each, void *arg, struct berr *err)
{
    return list_images(s, 0, each, arg, err);
}

int berth_images_all(struct berth_store *s, bool intermediate, berth_image_fn each, void *arg,
                     struct berr *err)
{
    return list_images(s, intermediate ? 2 : 1, each, arg, err);
}

/* Does index entry e match `what`: a reference, an image id (config
 * digest, or a prefix of its hex of 4+ characters), or a manifest digest? */
static bool entry_matches(struct berth_store *s, json_t *e, const char *what,
                          const char *full)
{
    const char *name = entry_name(e);
    if (full && name && strcmp(name, full) == 0)
        return true;
    const char *md = json_string_value(json_object_get(e, "digest"));
    if (md && strcmp(md, what) == 0)
        return true;
    const char *hex = strncmp(what, "sha256:", 7) == 0 ? what + 7 : what;
    size_t n = strlen(hex);
    if (n < 4 || n > 64 || strspn(hex, "0123456789abcdef") != n)
        return false;
    json_t *manifest, *config;
    struct berr ignore = {0};
    if (entry_load(s, e, &manifest, &config, &ignore) < 0)
        return false;
    const char *cd = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
    bool ok = cd && strncmp(cd + 7, hex, n) == 0;
    json_decref(manifest);
    json_decref(config);
    return ok;
}

static void full_name(const char *what, char *out, size_t len)
{
    struct berth_ref ref;
    struct berr ignore = {0};
    out[0] = '\0';
    if (berth_ref_parse(what, &ref, &ignore) == 0)
        berth_ref_format(&ref, out, len);
}

int berth_image_get(struct berth_store *s, const char *what, json_t **manifest,
                    json_t **config, char digest[DIGEST_MAX], struct berr *err)
{
    char full[600];
    full_name(what, full, sizeof full);
    if (store_lock(s, false) < 0)
        return berr_set(err, BERR_IO, "cannot lock the image store");
    json_t *doc = index_read(s);
    store_unlock(s);
    size_t i;
    json_t *e;
    int rc = berr_set(err, BERR_NOTFOUND, "No such image: %s", what);
    /* names first, so a name that looks like hex is still a name */
    for (int pass = 0; pass < 2 && rc < 0; pass++) {
        json_array_foreach(json_object_get(doc, "manifests"), i, e) {
            bool hit = pass == 0 ? (entry_name(e) && strcmp(entry_name(e), full) == 0)
                                 : entry_matches(s, e, what, NULL);
            if (!hit)
                continue;
            json_t *m, *c;
            if ((rc = entry_load(s, e, &m, &c, err)) < 0)
                break;
            if (manifest)
                *manifest = m;
            else
                json_decref(m);
            if (config)
                *config = c;
            else
                json_decref(c);
            if (digest)
                snprintf(digest, DIGEST_MAX, "%s", json_string_value(json_object_get(e, "digest")));
            break;
        }
    }
    json_decref(doc);
    return rc;
}

int berth_tag(struct berth_store *s, const char *source, const char *target,
              struct berr *err)
{
    struct berth_ref ref;
    if (berth_ref_parse(target, &ref, err) < 0)
        return -BERR_INVALID;
    if (ref.digest[0])
        return berr_set(err, BERR_INVALID, "a tag cannot carry a digest: %s", target);
    char digest[DIGEST_MAX], name[600];
    json_t *manifest;
    if (berth_image_get(s, source, &manifest, NULL, digest, err) < 0)
        return -BERR_NOTFOUND;
    const char *mt = json_string_value(json_object_get(manifest, "mediaType"));
    char path[2400];
    struct stat st = {0};
    store_blob_path(s, digest, path, sizeof path);
    stat(path, &st);
    berth_ref_format(&ref, name, sizeof name);
    int rc = store_set_name(s, name, digest, mt ? mt : "application/vnd.oci.image.manifest.v1+json",
                            (uint64_t)st.st_size, NULL, err);
    json_decref(manifest);
    return rc;
}

/* Every blob some remaining image uses. */
static void mark_used(struct berth_store *s, json_t *doc, json_t *used)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "manifests"), i, e) {
        json_t *manifest, *config;
        struct berr ignore = {0};
        const char *md = json_string_value(json_object_get(e, "digest"));
        if (md)
            json_object_set_new(used, md, json_true());
        if (entry_load(s, e, &manifest, &config, &ignore) < 0)
            continue;
        json_object_set_new(used, json_string_value(json_object_get(
                                      json_object_get(manifest, "config"), "digest")),
                            json_true());
        size_t j;
        json_t *l;
        json_array_foreach(json_object_get(manifest, "layers"), j, l)
            json_object_set_new(used, json_string_value(json_object_get(l, "digest")),
                                json_true());
        json_decref(manifest);
        json_decref(config);
    }
}

int berth_rmi(struct berth_store *s, const char *what, bool force, struct berr *err)
{
    char full[600];
    full_name(what, full, sizeof full);
    if (store_lock(s, true) < 0)
        return berr_set(err, BERR_IO, "cannot lock the image store");
    json_t *doc = index_read(s);
    json_t *list = json_object_get(doc, "manifests");
    int rc = 0;
    size_t i;
    json_t *e;
    ssize_t by_name = -1;
    json_array_foreach(list, i, e)
        if (entry_name(e) && strcmp(entry_name(e), full) == 0)
            by_name = (ssize_t)i;
    if (by_name >= 0) {
        json_array_remove(list, (size_t)by_name);
    } else {
        /* by id: every name of that image, which needs force if several */
        json_t *keep = json_array();
        size_t hits = 0;
        size_t matched = 0;
        json_array_foreach(list, i, e) {
            if (entry_matches(s, e, what, NULL)) {
                matched++;
                hits += entry_name(e) != NULL;   /* the id's own entry is no name */
            } else {
                json_array_append(keep, e);
            }
        }
        if (matched && !hits)
            hits = 1;
        if (hits == 0)
            rc = berr_set(err, BERR_NOTFOUND, "No such image: %s", what);
        else if (hits > 1 && !force)
            rc = berr_set(err, BERR_CONFLICT,
                          "conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories",
                          what);
        else
            json_object_set(doc, "manifests", keep);
        json_decref(keep);
    }
    if (rc == 0)
        rc = index_write(s, doc, err);
    /* Delete blobs no remaining image uses, unless a pull or load is
     * writing blobs right now: then the next rmi does it. */
    if (rc == 0 && flock(s->pin_fd, LOCK_EX | LOCK_NB) == 0) {
        json_t *used = json_object();
        mark_used(s, doc, used);
        mark_pinned(s, used);
        mark_gzip(s, used);
        char dir[2200];
        snprintf(dir, sizeof dir, "%s/blobs/sha256", s->root);
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            char digest[DIGEST_MAX];
            if (strlen(de->d_name) != 64)
                continue;
            snprintf(digest, sizeof digest, "sha256:%s", de->d_name);
            if (!json_object_get(used, digest))
                unlinkat(dirfd(d), de->d_name, 0);
        }
        if (d)
            closedir(d);
        json_decref(used);
        flock(s->pin_fd, LOCK_UN);
    }
    json_decref(doc);
    store_unlock(s);
    return rc;
}

int berth_untag_keep(struct berth_store *s, const char *name, struct berr *err)
{
    char digest[DIGEST_MAX], path[2400];
    json_t *manifest;
    if (berth_image_get(s, name, &manifest, NULL, digest, err) < 0)
        return -BERR_NOTFOUND;
    const char *mt = json_string_value(json_object_get(manifest, "mediaType"));
    struct stat st = {0};
    store_blob_path(s, digest, path, sizeof path);
    stat(path, &st);
    /* the unnamed entry first, so that no moment leaves the image unlisted
     * for a concurrent rmi to sweep its blobs */
    int rc = store_add_image(s, digest, mt ? mt : "application/vnd.oci.image.manifest.v1+json",
                             (uint64_t)st.st_size, false, NULL, err);
    json_decref(manifest);
    if (rc == 0)
        rc = berth_rmi(s, name, false, err);
    return rc;
}

/* `builder prune`: the build steps' images go, but for those `keep` asks
 * for, then every blob no remaining image uses (unless a pull or load is
 * writing blobs: then the next prune or rmi sweeps them). */
int berth_prune_intermediate(struct berth_store *s, bool (*keep)(void *arg, const char *id),
                             void *arg, uint64_t *freed, struct berr *err)
{
    *freed = 0;
    if (store_lock(s, true) < 0)
        return berr_set(err, BERR_IO, "cannot lock the image store");
    json_t *doc = index_read(s);
    json_t *list = json_object_get(doc, "manifests");
    size_t removed = 0;
    for (size_t i = json_array_size(list); i-- > 0;) {
        json_t *e = json_array_get(list, i), *manifest, *config;
        struct berr ignore = {0};
        if (entry_name(e) || !entry_intermediate(e))
            continue;
        const char *id = NULL;
        if (entry_load(s, e, &manifest, &config, &ignore) == 0) {
            id = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
            bool kept = keep && id && keep(arg, id);
            json_decref(manifest);
            json_decref(config);
            if (kept)
                continue;
        }
        json_array_remove(list, i);
        removed++;
    }
    int rc = removed ? index_write(s, doc, err) : 0;
    if (rc == 0 && flock(s->pin_fd, LOCK_EX | LOCK_NB) == 0) {
        json_t *used = json_object();
        mark_used(s, doc, used);
        mark_pinned(s, used);
        mark_gzip(s, used);
        char dir[2200];
        snprintf(dir, sizeof dir, "%s/blobs/sha256", s->root);
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            char digest[DIGEST_MAX];
            struct stat st;
            if (strlen(de->d_name) != 64)
                continue;
            snprintf(digest, sizeof digest, "sha256:%s", de->d_name);
            if (json_object_get(used, digest) ||
                fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                *freed += (uint64_t)st.st_size;
        }
        if (d)
            closedir(d);
        json_decref(used);
        flock(s->pin_fd, LOCK_UN);
    }
    json_decref(doc);
    store_unlock(s);
    return rc;
}

int berth_image_unmark_intermediate(struct berth_store *s, const char *id, struct berr *err)
{
    if (store_lock(s, true) < 0)
        return berr_set(err, BERR_IO, "cannot lock the image store");
    json_t *doc = index_read(s);
    size_t i, changed = 0;
    json_t *e;
    json_array_foreach(json_object_get(doc, "manifests"), i, e) {
        json_t *manifest, *config;
        struct berr ignore = {0};
        if (entry_name(e) || !entry_intermediate(e) ||
            entry_load(s, e, &manifest, &config, &ignore) < 0)
            continue;
        const char *cd = json_string_value(json_object_get(json_object_get(manifest, "config"),
                                                           "digest"));
        if (cd && strcmp(cd, id) == 0) {
            json_object_del(json_object_get(e, "annotations"), ANN_INTERMEDIATE);
            changed++;
        }
        json_decref(manifest);
        json_decref(config);
    }
    int rc = changed ? index_write(s, doc, err) : 0;
    json_decref(doc);
    store_unlock(s);
    return rc;
}
