/*
 * common.h - the small vocabulary every part of Berth shares.
 *
 * Errors: functions return 0 or a negative value and describe the failure in
 * a caller-owned `struct berr`, so a message travels up without allocation.
 * Digests: "algo:hex" strings, sha256 and sha512 only, hashed with OpenSSL
 * EVP. Names: the distribution spec's repository, tag and digest grammars,
 * checked before anything is looked up or any path is built. Logging: one
 * line per event, plain text or JSON lines.
 */
#ifndef BERTH_COMMON_H
#define BERTH_COMMON_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- errors ---------------------------------------------------------- */

struct berr {
    int code;           /* a BERR_* kind, 0 when no error was set */
    char msg[256];
};

enum {
    BERR_OK = 0,
    BERR_IO = 1,        /* disk or system call failure */
    BERR_NOTFOUND,      /* no such object */
    BERR_INVALID,       /* malformed input */
    BERR_DIGEST,        /* digest mismatch or bad digest */
    BERR_CONFLICT,      /* state does not allow the operation */
    BERR_TOOBIG,        /* over a configured limit */
    BERR_UNSUPPORTED,
};

/* Set err (if not NULL) and return -code, so `return berr_set(...)` reads. */
int berr_set(struct berr *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- cleanup helpers -------------------------------------------------- */

void cleanup_freep(void *p);
void cleanup_closep(int *fd);
#define auto_free __attribute__((cleanup(cleanup_freep)))
#define auto_close __attribute__((cleanup(cleanup_closep)))

/* ---- digests ------------------------------------------------------------ */

enum digest_algo { DIGEST_SHA256 = 1, DIGEST_SHA512 = 2 };

/* Longest digest string: "sha512:" + 128 hex + NUL. */
#define DIGEST_MAX 136

/* Parse and validate "sha256:<64 hex>" or "sha512:<128 hex>" (lower case).
 * Returns the algorithm, or a negative error for anything else. */
int digest_parse(const char *s, enum digest_algo *algo);
bool digest_valid(const char *s);
/* The hex part of a valid digest string. */
const char *digest_hex(const char *digest);

struct hasher;   /* an in-progress digest computation */
struct hasher *hasher_new(enum digest_algo algo);
int hasher_update(struct hasher *h, const void *data, size_t len);
/* Writes "algo:hex" into out (DIGEST_MAX bytes); the hasher may be reused
 * only after hasher_free. */
int hasher_final(struct hasher *h, char out[DIGEST_MAX]);
void hasher_free(struct hasher *h);
enum digest_algo hasher_algo(const struct hasher *h);
/* Digest of a whole buffer. */
int digest_buffer(enum digest_algo algo, const void *data, size_t len,
                  char out[DIGEST_MAX]);
/* Hash the first `len` bytes of an open file into h. */
int hasher_update_fd(struct hasher *h, int fd, uint64_t len);

/* ---- names ------------------------------------------------------------- */

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

bool repo_name_valid(const char *name);
bool tag_valid(const char *tag);
/* Upload ids are 32 lower-case hex characters made by the server. */
bool upload_id_valid(const char *id);
void upload_id_new(char out[33]);

/* ---- HTTP helpers that are pure functions (unit-tested) ------------------ */

/* Parse a single "bytes=a-b" range (also "a-" and "-n") against a resource
 * of `size` bytes. Returns 0 and an inclusive [first,last] on success,
 * -BERR_INVALID for a malformed or multi-range header (serve the whole body),
 * -BERR_TOOBIG when the range is unsatisfiable (416). */
int range_parse(const char *hdr, uint64_t size, uint64_t *first, uint64_t *last);
/* Parse an upload Content-Range "a-b" (also "bytes a-b" and "bytes=a-b").
 * Returns 0 or -BERR_INVALID. */
int content_range_parse(const char *hdr, uint64_t *first, uint64_t *last);
/* Pagination: a `n` query value clamped to [0, max]; NULL or empty -> max. */
int page_size_parse(const char *n, int max, int *out);

/* ---- JSON (jansson) and formatting ---------------------------------------- */

/* Refuse keys of obj not in the NULL-terminated list, naming `where`. */
int json_check_keys(json_t *obj, const char *where, const char *const *keys,
                    struct berr *err);
/* Write doc to tmp (created with mode), fsync, rename over path. */
int json_write_atomic(json_t *doc, const char *path, const char *tmp, int mode,
                      struct berr *err);
/* "12.3MB", as docker prints sizes. */
void format_size(uint64_t n, char *out, size_t len);

/* ---- bounded strings ----------------------------------------------------- */

/* Append printf-style output at buf + *len. Never writes past buf[size - 1]
 * and always leaves buf NUL-terminated (when size > 0). *len becomes the
 * length the whole string needs, so after a truncation it is >= size and
 * every later append writes nothing: check once at the end, or at each
 * call. Returns 0, -BERR_TOOBIG when the output did not fit (or an earlier
 * append had not), -BERR_INVALID on an encoding error. */
int buf_appendf(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int buf_vappendf(char *buf, size_t size, size_t *len, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* ---- files ------------------------------------------------------------- */

int mkdir_p(const char *path, int mode);
int fsync_dir(const char *path);
/* Write all of buf, retrying short writes. */
int write_all(int fd, const void *buf, size_t len);
/* When process pid started, in clock ticks since boot (/proc/PID/stat field
 * 22): with the pid it names one process even after the pid is reused. 0
 * when there is no such process, or it is a zombie. */
unsigned long long proc_start_time(int pid);
/* The parent of process pid, or 0. */
int proc_parent(int pid);

/* ---- logging ----------------------------------------------------------- */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
void log_setup(enum log_level level, bool json);
enum log_level log_level_parse(const char *s, bool *ok);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One access-log line: request id, client address, account ("" for none),
 * method, path, status, body bytes in and out, duration. */
void log_request(const char *id, const char *client, const char *account, const char *method,
                 const char *path, unsigned status, uint64_t bytes_in, uint64_t bytes_out,
                 double seconds);

/* Copy `in` to out (size bytes, NUL-terminated) as one printable line of
 * valid UTF-8: control characters (C0, DEL, C1), bytes that are not UTF-8
 * and, when `space`, spaces become \xNN; a backslash becomes \\. Cuts
 * only between characters. Returns the length written. */
size_t log_escape(const char *in, char *out, size_t size, bool space);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
