/*
 * berth.h - libberth: talk to any OCI / Docker registry and keep images in
 * a local OCI image layout. The one public header of client-lib/; it sits
 * behind the berth command and behind berthd's pull-through cache.
 *
 * A `struct berth_client` carries the HTTP transport (libcurl, connections
 * kept alive and shared between threads), credentials and cached tokens.
 * A `struct berth_store` is the local image layout (blobs/sha256,
 * index.json) under /var/lib/berth or $BERTH_ROOT, safe to share between
 * berth processes. Every function returns 0 or a negative error with a
 * one-line message in `err`.
 */
#ifndef BERTH_CLIENT_H
#define BERTH_CLIENT_H

#include "../common/common.h"

#include <jansson.h>
#include <stdio.h>

/* ---- references --------------------------------------------------------- */

struct berth_ref {
    char registry[256];     /* "docker.io", "127.0.0.1:5000" */
    char repository[256];   /* "library/busybox" */
    char tag[TAG_MAX_LEN + 1];   /* "" when only a digest was given */
    char digest[DIGEST_MAX];     /* "" when none */
};

/* docker's normalisation: "busybox" is docker.io/library/busybox:latest. */
int berth_ref_parse(const char *s, struct berth_ref *ref, struct berr *err);
/* "registry/repository:tag" or "registry/repository@digest". */
void berth_ref_format(const struct berth_ref *ref, char *out, size_t len);
/* The name docker shows: without "docker.io/" and "library/". */
void berth_ref_familiar(const struct berth_ref *ref, char *out, size_t len);

/* ---- client --------------------------------------------------------------- */

struct berth_options {
    const char *ca_file;            /* extra CA bundle, or NULL for the system's */
    const char *const *insecure;    /* registries to reach over plain HTTP */
    int parallel;                   /* blob transfers at once (default 4) */
    int quiet;                      /* 1: only results; 0: progress */
    int retries;                    /* attempts after a failure (0: 4; < 0: none) */
    FILE *out;                      /* progress goes here (default stderr) */
    /* Redirects, upload Locations and token realms that lead away from the
     * registry's own origin are refused when they reach a loopback,
     * private or link-local address, unless the registry itself is at such
     * an address (judged per registry from its name or the address it is
     * reached at). true: allow them for every registry. */
    bool allow_internal_redirects;
};

struct berth_client;
struct berth_store;
int berth_client_new(const struct berth_options *o, struct berth_client **out,
                     struct berr *err);
void berth_client_free(struct berth_client *c);

/* Check credentials against the registry and store them (0600). */
int berth_login(struct berth_client *c, const char *registry, const char *user,
                const char *password, struct berr *err);
int berth_logout(const char *registry, struct berr *err);

/* Browse a registry: repositories, or the tags of ref's repository. */
typedef int (*berth_name_fn)(void *arg, const char *name);
int berth_catalog(struct berth_client *c, const char *registry, berth_name_fn each,
                  void *arg, struct berr *err);
int berth_tags(struct berth_client *c, const struct berth_ref *ref, berth_name_fn each,
               void *arg, struct berr *err);

/* ---- single objects, for caches and mirrors ------------------------------------ */

/* Credentials for one registry, held in memory only (not saved). */
void berth_client_set_credentials(struct berth_client *c, const char *registry,
                                  const char *user, const char *password);

struct berth_manifest {
    char *body;                  /* malloc'd, exactly as the registry sent it */
    size_t len;
    char media_type[256];
    char digest[DIGEST_MAX];     /* computed from the body, and checked */
};
/* GET a manifest by tag or digest (any of the four manifest types). */
int berth_manifest_fetch(struct berth_client *c, const struct berth_ref *ref,
                         const char *reference, struct berth_manifest *out, struct berr *err);
/* HEAD a manifest: its digest, as the registry reports it. */
int berth_manifest_head(struct berth_client *c, const struct berth_ref *ref,
                        const char *reference, char digest[DIGEST_MAX], struct berr *err);
/* Stream a blob: `size` once its length is known, then `each` with the
 * data; the digest is verified at the end (an error if it does not match,
 * after all the data was given). */
typedef int (*berth_data_fn)(void *arg, const void *data, size_t len);
typedef void (*berth_size_fn)(void *arg, uint64_t size);
int berth_blob_fetch(struct berth_client *c, const struct berth_ref *ref, const char *digest,
                     berth_size_fn size, berth_data_fn each, void *arg, struct berr *err);
/* HEAD a blob: 0 and *size (the Content-Length, 0 when none was sent) when
 * the registry has it in that repository, -BERR_NOTFOUND when it has not. */
int berth_blob_head(struct berth_client *c, const struct berth_ref *ref, const char *digest,
                    uint64_t *size, struct berr *err);
/* Copy the tags of a repository to another registry, blobs first, keeping
 * digests; `tags` is a glob (NULL: all); without all_platforms an index
 * is copied as this machine's platform's manifest only. */
int berth_mirror(struct berth_client *c, struct berth_store *s, const char *src,
                 const char *dst, const char *tags, bool all_platforms, struct berr *err);

/* ---- local store ------------------------------------------------------------ */

struct berth_store;
/* NULL root: $BERTH_ROOT, else /var/lib/berth. */
int berth_store_open(const char *root, struct berth_store **out, struct berr *err);
void berth_store_close(struct berth_store *s);
/* Remove the temp files (tmp/) of berth processes that are gone, e.g. a
 * pull killed with SIGKILL; those of running processes stay. NULL root:
 * as berth_store_open. A store that does not exist is left alone. */
void berth_store_clean_temp(const char *root);
/* The store's directory, and where a blob of it lives. */
const char *berth_store_root(struct berth_store *s);
void berth_blob_path(struct berth_store *s, const char *digest, char *out, size_t len);

struct berth_image {
    const char *name;            /* full reference, "docker.io/library/busybox:latest" */
    const char *manifest_digest; /* the image manifest in the store */
    const char *repo_digest;     /* what the registry called it (index or manifest) */
    const char *config_digest;   /* docker's IMAGE ID */
    int64_t created;             /* from the config, unix seconds */
    uint64_t size;               /* layers, compressed */
    bool intermediate;           /* a build step's image (berth_images_all only) */
    const char *parent;          /* the image it was committed on (an ID), or NULL */
};
typedef int (*berth_image_fn)(void *arg, const struct berth_image *img);
/* Every name (an image with two names comes twice). */
int berth_images(struct berth_store *s, berth_image_fn each, void *arg, struct berr *err);
/* The same, plus the images without a name (img->name NULL) that no name
 * points at: dangling ones, and with `intermediate` the build steps' too,
 * as `docker images [-a]` lists them. */
int berth_images_all(struct berth_store *s, bool intermediate, berth_image_fn each, void *arg,
                     struct berr *err);
/* Look up an image by reference, short or long id: its manifest and config. */
int berth_image_get(struct berth_store *s, const char *what, json_t **manifest,
                    json_t **config, char digest[DIGEST_MAX], struct berr *err);
int berth_tag(struct berth_store *s, const char *source, const char *target,
              struct berr *err);
/* Untag; with force, remove every name of that image. Blobs no image uses
 * any more are deleted. */
int berth_rmi(struct berth_store *s, const char *what, bool force, struct berr *err);
/* Untag NAME but keep its image, without a name if that was its last one
 * (docker's `rmi -f NAME` of an image a running container uses). */
int berth_untag_keep(struct berth_store *s, const char *name, struct berr *err);
/* `builder prune`: remove the build steps' images (intermediate) but those
 * `keep` (NULL: none) answers true for, given their IDs; then the blobs no
 * image uses any more. `freed` gets the bytes of the blobs deleted. */
int berth_prune_intermediate(struct berth_store *s, bool (*keep)(void *arg, const char *id),
                             void *arg, uint64_t *freed, struct berr *err);
/* A build step's image (by ID) becomes an image of its own without a name,
 * as the result of an untagged build is: listed by `images` as <none>,
 * left by `builder prune`. */
int berth_image_unmark_intermediate(struct berth_store *s, const char *id, struct berr *err);

/* ---- moving images ------------------------------------------------------------ */

/* platform: "os/arch[/variant]" or NULL for this machine's. Prints
 * progress to o->out; *digest is what the registry calls the image. */
int berth_pull(struct berth_client *c, struct berth_store *s, const char *ref,
               const char *platform, char digest[DIGEST_MAX], struct berr *err);
int berth_push(struct berth_client *c, struct berth_store *s, const char *ref,
               char digest[DIGEST_MAX], struct berr *err);

/* docker-archive (what `docker save` writes and `docker load` reads). */
int berth_save(struct berth_store *s, const char *const *refs, size_t n,
               const char *file, struct berr *err);
/* A docker-archive or an OCI archive; `each` gets every name loaded. */
int berth_load(struct berth_store *s, const char *file, berth_name_fn each, void *arg,
               struct berr *err);
/* A root filesystem tarball becomes a one-layer image named ref;
 * image_id: its ID (its config's digest, what `berth images` shows). */
int berth_import(struct berth_store *s, const char *tarball, const char *ref,
                 char image_id[DIGEST_MAX], struct berr *err);


/* ---- making images (berth build, commit, import) ------------------------------- */

/* A layer as the store keeps it. Layers made here are kept uncompressed
 * (application/vnd.oci.image.layer.v1.tar: digest == diff_id), cheap to
 * write; a push compresses them to gzip (and remembers the result, so
 * the next push of the same layer does not compress it again). */
struct berth_layer {
    char digest[DIGEST_MAX];     /* the blob in the store */
    char diff_id[DIGEST_MAX];    /* of the uncompressed tar */
    uint64_t size;               /* of the blob */
    char media_type[128];
};

/* Write a new layer: add entries to the libarchive writer (pax tar) that
 * berth_layer_archive gives, then finish, which puts the blob in the
 * store, fsynced. Until an image uses it (berth_image_commit), or the
 * store handle is closed, the blob is kept from rmi's sweep, by any
 * process. Free the writer after finish, or to abandon it. */
struct archive;
struct berth_layer_writer;
int berth_layer_new(struct berth_store *s, struct berth_layer_writer **out, struct berr *err);
struct archive *berth_layer_archive(struct berth_layer_writer *w);
int berth_layer_finish(struct berth_layer_writer *w, struct berth_layer *out, struct berr *err);
void berth_layer_free(struct berth_layer_writer *w);

/* A new image: the parent's layers and history, plus `layer` (or, when
 * NULL, an empty-layer history entry), with `config` as its "config"
 * object. It is stored under no name, found by its ID (the config
 * digest); `intermediate` ones (build steps) are not listed by
 * berth_images and are what `builder prune` removes. */
struct berth_commit {
    const char *parent;              /* an image of the store (ref or ID); NULL: scratch */
    const struct berth_layer *layer; /* NULL: none */
    json_t *config;                  /* NULL: the parent's */
    const char *created_by;          /* the history entry's */
    const char *comment, *author;    /* or NULL */
    const char *platform;            /* scratch only: "os/arch[/variant]"; NULL: this machine's */
    bool intermediate;
};
int berth_image_commit(struct berth_store *s, const struct berth_commit *c, char id[DIGEST_MAX],
                       struct berr *err);

#endif
