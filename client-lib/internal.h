/*
 * internal.h - what the files of client-lib/ share (private).
 */
#ifndef BERTH_CLIENT_INTERNAL_H
#define BERTH_CLIENT_INTERNAL_H

#include "berth.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sys/socket.h>

struct berth_client {
    struct berth_options o;
    char **insecure;
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t lock;        /* tokens and credentials */
    json_t *tokens;              /* "registry scope" -> {"token", "exp"} */
    json_t *creds;               /* registry -> {"user", "pass"}; loaded lazily */
    json_t *internal;            /* registry -> true: it is itself at an internal address */
    bool via_proxy;              /* an http(s)_proxy is set: only host names can be checked */
    long stall_s;                /* no byte in either direction for this long: fail */
    long low_speed, low_time;    /* below low_speed bytes/s for low_time s: fail */
};

/* ---- transport.c ------------------------------------------------------------ */

enum sink { SINK_NONE, SINK_MEMORY, SINK_FILE, SINK_CALLBACK };

struct http_req {
    const char *method;
    char url[2048];              /* absolute */
    const char *content_type;    /* of the request body */
    const char *accept;          /* Accept header value(s), comma separated */
    char extra[128];             /* one more request header line, or "" */
    /* request body: memory, or a file range */
    const void *body;
    size_t body_len;
    int body_fd;                 /* -1 for none */
    uint64_t body_off;
    uint64_t range_from;         /* ask for bytes from here (resume), 0: all */
    /* response */
    enum sink sink;
    size_t max;                  /* SINK_MEMORY: refuse bodies above this */
    char *buf;                   /* SINK_MEMORY: the body, NUL-terminated */
    size_t len;
    int fd;                      /* SINK_FILE: appended to */
    berth_data_fn each;          /* SINK_CALLBACK: given the data */
    berth_size_fn on_size;       /* SINK_CALLBACK: told the length first */
    void *each_arg;
    bool size_told;
    struct hasher *hash;         /* SINK_FILE: fed what is written */
    uint64_t written;
    uint64_t limit;              /* SINK_FILE/CALLBACK: at most this many bytes in all */
    bool has_limit;
    bool too_big;                /* the response passed `limit` (or `max`) */
    bool fatal;                  /* a refusal a retry cannot fix */
    int write_errno;             /* SINK_FILE: why the local write failed, or 0 */
    void (*on_bytes)(void *arg, uint64_t n);   /* progress */
    void *on_bytes_arg;
    long status;
    char location[2048];
    char digest[DIGEST_MAX];     /* Docker-Content-Digest */
    char resp_type[256];         /* Content-Type */
    char challenge[1024];        /* WWW-Authenticate */
    char resp_range[64];
    char link[1024];             /* Link: <...>; rel="next" target, if any */
    uint64_t content_length;
};

void http_req_init(struct http_req *r, const char *method);
/* Loopback, private (RFC 1918, RFC 4193, CGNAT), link-local or unspecified:
 * an address a registry's redirect or token realm must not lead to unless
 * the registry itself is at one. */
bool addr_is_internal(const struct sockaddr *sa);
bool ip_is_internal(const char *ip);
/* The same for a URL's host: "localhost" and IP literals (names are
 * checked when they are resolved, at connect time). */
bool host_is_internal(const char *host);
void http_req_clear(struct http_req *r);
/* The base URL of a registry: http:// for loopback and --insecure ones. */
void registry_base(struct berth_client *c, const char *registry, char *out, size_t len);
/* Perform with auth (following a 401 challenge once) and retries (5xx,
 * 429 and network errors, with backoff). `scope` is "repository:NAME:ACTIONS"
 * or "registry:catalog:*" or NULL. The caller checks r->status. */
int http_do(struct berth_client *c, const char *registry, const char *scope,
            struct http_req *r, struct berr *err);
/* One line for a failed request: the registry's error message if any. */
int http_error(struct http_req *r, const char *what, struct berr *err);

/* ---- registry.c: the distribution API ------------------------------------------ */

#define MANIFEST_ACCEPT                                                         \
    "application/vnd.oci.image.index.v1+json,"                                  \
    "application/vnd.docker.distribution.manifest.list.v2+json,"                \
    "application/vnd.oci.image.manifest.v1+json,"                               \
    "application/vnd.docker.distribution.manifest.v2+json"

int reg_manifest_put(struct berth_client *c, const struct berth_ref *ref, const char *body,
                     size_t len, const char *media_type, char digest[DIGEST_MAX],
                     struct berr *err);
/* 1 when present, 0 when not, negative on error. */
int reg_blob_exists(struct berth_client *c, const struct berth_ref *ref, const char *digest,
                    const char *scope_actions, struct berr *err);
/* Download a blob into the store, verified (resuming on retries); more
 * than `size` bytes (its descriptor's) stop the download. */
int reg_blob_fetch(struct berth_client *c, struct berth_store *s, const struct berth_ref *ref,
                   const char *digest, uint64_t size, void (*on_bytes)(void *, uint64_t),
                   void *arg, struct berr *err);
/* Upload a blob of the store (mounting from `from` when given). */
int reg_blob_push(struct berth_client *c, struct berth_store *s, const struct berth_ref *ref,
                  const char *digest, uint64_t size, const char *from,
                  void (*on_bytes)(void *, uint64_t), void *arg, struct berr *err);

/* ---- transfer.c ---------------------------------------------------------------------- */

/* "linux/amd64" and the like, for this machine. */
void host_platform(char *out, size_t len);
/* Does an index entry's platform object match "os/arch[/variant]"? */
bool platform_matches(json_t *platform, const char *want);

/* ---- layer.c ------------------------------------------------------------------ */

/* The gzip form of an uncompressed layer of the store, as a blob of the
 * store: made once, then found in gzip/ (the caller holds store_pin). */
int layer_gzip(struct berth_store *s, const char *digest, char gz[DIGEST_MAX], uint64_t *size,
               struct berr *err);

/* ---- creds.c ------------------------------------------------------------------ */

/* Stored credentials for a registry; false when none. */
bool creds_get(struct berth_client *c, const char *registry, char *user, size_t ulen,
               char *pass, size_t plen);
void creds_set_memory(struct berth_client *c, const char *registry, const char *user,
                      const char *pass);
int creds_save(const char *registry, const char *user, const char *pass, struct berr *err);
int creds_remove(const char *registry, struct berr *err);

/* ---- store.c ------------------------------------------------------------------- */

/* Exclusive lock for changing index.json; shared for reading it. */
int store_lock(struct berth_store *s, bool exclusive);
void store_unlock(struct berth_store *s);
/* Held (shared) while blobs are written that no name points at yet, so
 * rmi's sweep of unused blobs leaves them alone. */
void store_pin(struct berth_store *s);
void store_unpin(struct berth_store *s);
bool store_has_blob(struct berth_store *s, const char *digest);
void store_blob_path(struct berth_store *s, const char *digest, char *out, size_t len);
/* A temp file in the store, on the same filesystem as blobs/. */
int store_temp(struct berth_store *s, char *path, size_t len);
/* fsync and move a temp file, already verified by the caller, into blobs/. */
int store_commit_blob(struct berth_store *s, const char *tmp, const char *digest,
                      struct berr *err);
int store_put_blob(struct berth_store *s, const void *buf, size_t len,
                   char digest[DIGEST_MAX], struct berr *err);
int store_read_blob(struct berth_store *s, const char *digest, size_t max, char **buf,
                    size_t *len, struct berr *err);
/* Keep a blob from rmi's sweep (a file under pins/, honoured while this
 * process lives) until store_unpin_blob or berth_store_close. Make the
 * pin before the blob appears in blobs/, under the shared store lock. */
int store_pin_blob(struct berth_store *s, const char *digest, struct berr *err);
void store_unpin_blob(struct berth_store *s, const char *digest);
/* The gzip blob made of an uncompressed layer by an earlier push. */
bool store_gzip_get(struct berth_store *s, const char *digest, char gz[DIGEST_MAX],
                    uint64_t *size);
int store_gzip_set(struct berth_store *s, const char *digest, const char *gz, uint64_t size,
                   struct berr *err);
/* An image stored by id only (no name); `parent` is the ID it was
 * committed on, or NULL. */
int store_add_image(struct berth_store *s, const char *manifest_digest, const char *media_type,
                    uint64_t size, bool intermediate, const char *parent, struct berr *err);
/* Record name -> manifest (with repo_digest) in index.json, replacing the
 * name if present; a NULL name keeps an unnamed image (findable by id).
 * Takes the exclusive lock itself. */
int store_set_name(struct berth_store *s, const char *name, const char *manifest_digest,
                   const char *media_type, uint64_t size, const char *repo_digest,
                   struct berr *err);

/* certs_d.c: docker's certs.d files for the registry of an https URL
 * (CAs unless ca_given, and a client certificate) set on h. */
void certs_d_apply(CURL *h, const char *url, bool ca_given);

#endif
