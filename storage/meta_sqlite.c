/*
 * meta_sqlite.c - the sqlite metadata driver.
 *
 * One database in WAL mode; one connection per worker thread (kept in a
 * thread-specific slot and closed when the thread ends), each with its
 * prepared statements cached, so a manifest or blob lookup is one indexed
 * query and no allocation. Writes that must be atomic with a check (a
 * manifest whose blobs must exist) run in one IMMEDIATE transaction.
 *
 * A WAL database cannot even be read when its disk is full and no
 * connection has it open (the first one must size the -shm file). When the
 * WAL is empty, the database file alone is the whole truth, so a connection
 * then opens it immutable: reads go on (after a restart on a full disk
 * too), writes fail, and each such connection tries a normal open again at
 * most once a second, so it serves reads that may be a second stale at
 * worst once space returns.
 */
#include "driver.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS repositories("
    "  name TEXT PRIMARY KEY, created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS blobs("
    "  digest TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    "  created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS repo_blobs("
    "  repo TEXT NOT NULL, digest TEXT NOT NULL, created INTEGER NOT NULL,"
    "  PRIMARY KEY(repo, digest)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS repo_blobs_digest ON repo_blobs(digest);"
    "CREATE TABLE IF NOT EXISTS manifests("
    "  repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL,"
    "  size INTEGER NOT NULL, subject TEXT, artifact_type TEXT,"
    "  annotations TEXT, created INTEGER NOT NULL, pulled INTEGER, cached INTEGER,"
    "  PRIMARY KEY(repo, digest)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject)"
    "  WHERE subject IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS manifests_digest ON manifests(digest);"
    "CREATE TABLE IF NOT EXISTS manifest_refs("
    "  repo TEXT NOT NULL, digest TEXT NOT NULL, child TEXT NOT NULL,"
    "  kind TEXT NOT NULL, PRIMARY KEY(repo, digest, child, kind)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS manifest_refs_child ON manifest_refs(child);"
    "CREATE TABLE IF NOT EXISTS tags("
    "  repo TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL,"
    "  updated INTEGER NOT NULL, PRIMARY KEY(repo, name)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS tags_digest ON tags(repo, digest);"
    "CREATE TABLE IF NOT EXISTS uploads("
    "  id TEXT PRIMARY KEY, repo TEXT NOT NULL,"
    "  created INTEGER NOT NULL) WITHOUT ROWID;";

enum stmt_id {
    S_BEGIN, S_COMMIT, S_ROLLBACK,
    S_REPO_ADD, S_REPO_EXISTS,
    S_BLOB_ADD, S_REPO_BLOB_ADD, S_REPO_BLOB_GET, S_REPO_BLOB_DEL,
    S_UPLOAD_ADD, S_UPLOAD_GET, S_UPLOAD_DEL,
    S_MANIFEST_ADD, S_MANIFEST_HAS, S_REF_ADD, S_TAG_SET,
    S_MANIFEST_BY_DIGEST, S_MANIFEST_BY_TAG,
    S_MANIFEST_DEL, S_REFS_DEL, S_TAGS_DEL_DIGEST, S_TAG_DEL,
    S_TAGS_LIST, S_CATALOG, S_REFERRERS, S_REFERRERS_TYPE,
    S_TAGS_DETAIL, S_GC_ORPHAN_REFERRERS, S_GC_UNTAGGED, S_GC_MANIFEST_CHECK,
    S_GC_UNLINK, S_GC_BLOBS, S_GC_BLOB_CHECK, S_BLOB_KNOWN,
    S_BLOB_DEL, S_REPO_BLOBS_DEL, S_GC_UPLOADS, S_GC_REPOS, S_GC_REPO_DEL,
    S_USAGE, S_TOTAL, S_TOUCH, S_EVICT_CANDIDATES,
    S_COUNT
};

/* The collector's conditions, shared by its listing and re-checking
 * queries so the two can never disagree. */
#define UNTAGGED_UNUSED(m)                                                     \
    m ".subject IS NULL AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo = " m \
    ".repo AND t.digest = " m ".digest) AND NOT EXISTS (SELECT 1 FROM"           \
    " manifest_refs r WHERE r.repo = " m ".repo AND r.child = " m ".digest"      \
    " AND r.kind = 'manifest')"
#define ORPHAN_REFERRER(m)                                                     \
    m ".subject IS NOT NULL AND NOT EXISTS (SELECT 1 FROM manifests s WHERE"    \
    " s.repo = " m ".repo AND s.digest = " m ".subject)"
#define BLOB_UNUSED(b)                                                         \
    b ".created < ?1 AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest"  \
    " = " b ".digest) AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE"      \
    " r.child = " b ".digest AND r.kind = 'blob') AND NOT EXISTS (SELECT 1"     \
    " FROM repo_blobs rb WHERE rb.digest = " b ".digest AND rb.created >= ?1)"
#define LINK_UNUSED                                                            \
    "created < ?1 AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE"         \
    " r.repo = repo_blobs.repo AND r.child = repo_blobs.digest AND r.kind = 'blob')"
#define REPO_EMPTY(r)                                                          \
    "NOT EXISTS (SELECT 1 FROM manifests WHERE repo = " r ") AND NOT EXISTS"    \
    " (SELECT 1 FROM repo_blobs WHERE repo = " r ") AND NOT EXISTS (SELECT 1"   \
    " FROM tags WHERE repo = " r ")"

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_REPO_ADD] = "INSERT OR IGNORE INTO repositories(name, created) VALUES(?1, ?2)",
    [S_REPO_EXISTS] = "SELECT 1 FROM repositories WHERE name = ?1",
    [S_BLOB_ADD] = "INSERT OR IGNORE INTO blobs(digest, size, created) VALUES(?1, ?2, ?3)",
    [S_REPO_BLOB_ADD] = "INSERT OR REPLACE INTO repo_blobs(repo, digest, created)"
                        " VALUES(?1, ?2, ?3)",
    [S_REPO_BLOB_GET] = "SELECT b.size FROM repo_blobs r JOIN blobs b"
                        " ON b.digest = r.digest WHERE r.repo = ?1 AND r.digest = ?2",
    [S_REPO_BLOB_DEL] = "DELETE FROM repo_blobs WHERE repo = ?1 AND digest = ?2",
    [S_UPLOAD_ADD] = "INSERT INTO uploads(id, repo, created) VALUES(?1, ?2, ?3)",
    [S_UPLOAD_GET] = "SELECT repo FROM uploads WHERE id = ?1",
    [S_UPLOAD_DEL] = "DELETE FROM uploads WHERE id = ?1",
    [S_MANIFEST_ADD] = "INSERT OR REPLACE INTO manifests(repo, digest, media_type,"
                       " size, subject, artifact_type, annotations, created, cached)"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_MANIFEST_HAS] = "SELECT 1 FROM manifests WHERE repo = ?1 AND digest = ?2",
    [S_REF_ADD] = "INSERT OR IGNORE INTO manifest_refs(repo, digest, child, kind)"
                  " VALUES(?1, ?2, ?3, ?4)",
    [S_TAG_SET] = "INSERT OR REPLACE INTO tags(repo, name, digest, updated)"
                  " VALUES(?1, ?2, ?3, ?4)",
    [S_MANIFEST_BY_DIGEST] = "SELECT digest, media_type, size, subject, created FROM manifests"
                             " WHERE repo = ?1 AND digest = ?2",
    [S_MANIFEST_BY_TAG] = "SELECT m.digest, m.media_type, m.size, m.subject, t.updated"
                          " FROM tags t JOIN manifests m"
                          " ON m.repo = t.repo AND m.digest = t.digest"
                          " WHERE t.repo = ?1 AND t.name = ?2",
    [S_MANIFEST_DEL] = "DELETE FROM manifests WHERE repo = ?1 AND digest = ?2",
    [S_REFS_DEL] = "DELETE FROM manifest_refs WHERE repo = ?1 AND digest = ?2",
    [S_TAGS_DEL_DIGEST] = "DELETE FROM tags WHERE repo = ?1 AND digest = ?2",
    [S_TAG_DEL] = "DELETE FROM tags WHERE repo = ?1 AND name = ?2",
    [S_TAGS_LIST] = "SELECT name FROM tags WHERE repo = ?1 AND name > ?2"
                    " ORDER BY name LIMIT ?3",
    [S_CATALOG] = "SELECT name FROM repositories WHERE name > ?1"
                  " ORDER BY name LIMIT ?2",
    [S_REFERRERS] = "SELECT digest, media_type, size, artifact_type, annotations"
                    " FROM manifests WHERE repo = ?1 AND subject = ?2"
                    " ORDER BY digest",
    [S_REFERRERS_TYPE] = "SELECT digest, media_type, size, artifact_type, annotations"
                         " FROM manifests WHERE repo = ?1 AND subject = ?2"
                         " AND artifact_type = ?3 ORDER BY digest",
    [S_TAGS_DETAIL] = "SELECT name, digest, updated FROM tags WHERE repo = ?1"
                      " ORDER BY updated DESC, name DESC",
    [S_GC_ORPHAN_REFERRERS] = "SELECT m.repo, m.digest FROM manifests m"
                              " WHERE m.created < ?1 AND " ORPHAN_REFERRER("m"),
    [S_GC_UNTAGGED] = "SELECT m.repo, m.digest FROM manifests m"
                      " WHERE m.created < ?1 AND " UNTAGGED_UNUSED("m"),
    [S_GC_MANIFEST_CHECK] = "SELECT 1 FROM manifests m WHERE m.repo = ?2 AND m.digest = ?3"
                            " AND m.created < ?1 AND ((" ORPHAN_REFERRER("m") ")"
                            " OR (?4 AND " UNTAGGED_UNUSED("m") "))",
    [S_GC_UNLINK] = "DELETE FROM repo_blobs WHERE " LINK_UNUSED,
    [S_GC_BLOBS] = "SELECT b.digest, b.size FROM blobs b WHERE " BLOB_UNUSED("b"),
    [S_GC_BLOB_CHECK] = "SELECT 1 FROM blobs b WHERE b.digest = ?2 AND " BLOB_UNUSED("b"),
    [S_BLOB_KNOWN] = "SELECT 1 FROM blobs WHERE digest = ?1",
    [S_BLOB_DEL] = "DELETE FROM blobs WHERE digest = ?1",
    [S_REPO_BLOBS_DEL] = "DELETE FROM repo_blobs WHERE digest = ?1",
    [S_GC_UPLOADS] = "SELECT id FROM uploads WHERE created < ?1",
    [S_GC_REPOS] = "SELECT name FROM repositories r WHERE " REPO_EMPTY("r.name"),
    [S_GC_REPO_DEL] = "DELETE FROM repositories WHERE name = ?1 AND " REPO_EMPTY("?1"),
    [S_USAGE] = "WITH used(repo, digest) AS ("
                "  SELECT repo, digest FROM repo_blobs"
                "  UNION SELECT repo, digest FROM manifests"
                "  UNION SELECT repo, child FROM manifest_refs WHERE kind = 'blob'),"
                " users(digest, n) AS (SELECT digest, COUNT(*) FROM used GROUP BY digest)"
                " SELECT u.repo, SUM(CASE WHEN s.n = 1 THEN b.size ELSE 0 END),"
                "  SUM(CASE WHEN s.n > 1 THEN b.size ELSE 0 END)"
                " FROM used u JOIN users s ON s.digest = u.digest"
                " JOIN blobs b ON b.digest = u.digest GROUP BY u.repo ORDER BY u.repo",
    [S_TOTAL] = "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM blobs",
    /* at most one write a minute per manifest, however often it is pulled */
    [S_TOUCH] = "UPDATE manifests SET pulled = ?3 WHERE repo = ?1 AND digest = ?2"
                " AND (pulled IS NULL OR pulled < ?3 - 60)",
    [S_EVICT_CANDIDATES] = "SELECT m.repo, m.digest, m.size + (SELECT COALESCE(SUM(b.size), 0)"
                           " FROM manifest_refs r JOIN blobs b ON b.digest = r.child"
                           " WHERE r.repo = m.repo AND r.digest = m.digest AND r.kind = 'blob')"
                           " FROM manifests m WHERE m.cached = 1"
                           " ORDER BY COALESCE(m.pulled, m.created) LIMIT 10000",
};

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    bool frozen;                /* opened immutable: the disk was full */
    time_t opened;
};

static atomic_bool frozen_said;   /* the fallback was logged (once per outage) */

struct sqlite_state {
    char *path;
    pthread_key_t key;
};

static void conn_free(void *p)
{
    struct conn *c = p;
    if (!c)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    sqlite3_close(c->db);
    free(c);
}

static struct conn *conn_open_flags(const char *name, int flags, struct berr *err)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        berr_set(err, BERR_IO, "out of memory");
        return NULL;
    }
    c->opened = time(NULL);
    if (sqlite3_open_v2(name, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        berr_set(err, BERR_IO, "cannot open %s: %s", name, sqlite3_errmsg(c->db));
        conn_free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, 10000);
    /* NORMAL is durable in WAL mode except for the last transactions before
     * a power loss; blob files are fsynced separately. FULL keeps even those. */
    sqlite3_exec(c->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;",
                 NULL, NULL, NULL);
    return c;
}

/* Is the WAL absent or empty, so that the database file is all there is? */
static bool wal_empty(const char *path)
{
    char wal[4200];
    struct stat st;
    if (snprintf(wal, sizeof wal, "%s-wal", path) >= (int)sizeof wal)
        return false;
    return stat(wal, &st) < 0 ? errno == ENOENT : st.st_size == 0;
}

/* The database opened immutable and read-only (a URI: the path escaped). */
static struct conn *conn_open_frozen(const char *path)
{
    char uri[13000] = "file:", *o = uri + 5;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (o > uri + sizeof uri - 32)
            return NULL;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/._-", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    strcpy(o, "?immutable=1");
    struct conn *c = conn_open_flags(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    if (c && sqlite3_exec(c->db, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL) != SQLITE_OK) {
        conn_free(c);
        return NULL;
    }
    if (c)
        c->frozen = true;
    return c;
}

static struct conn *conn_open(const char *path, struct berr *err)
{
    struct conn *c = conn_open_flags(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err);
    if (!c)
        return NULL;
    /* the first read maps the WAL index: what a full disk refuses */
    int rc = sqlite3_exec(c->db, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        if (atomic_exchange(&frozen_said, false))
            log_info("metadata %s: opened normally again, writes resume", path);
        return c;
    }
    if ((rc & 0xff) == SQLITE_IOERR && wal_empty(path)) {
        struct conn *f = conn_open_frozen(path);
        if (f) {
            conn_free(c);
            if (!atomic_exchange(&frozen_said, true))
                log_warn("metadata %s cannot be opened for writing (%s; a full disk?): "
                         "serving it read-only until it can", path, sqlite3_errstr(rc));
            return f;
        }
    }
    return c;   /* its queries fail and say why */
}

/* This thread's connection, opened on first use. */
/* Set when this thread's connection met an error that a new connection
 * may not (the database file became unwritable, then writable again). */
static _Thread_local bool conn_suspect;

static void note_error(int rc)
{
    int primary = rc & 0xff;
    if (primary == SQLITE_READONLY || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
        primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
        conn_suspect = true;
}

static bool sq_retry(void *state)
{
    (void)state;
    return conn_suspect;   /* conn_get replaces the connection */
}

static struct conn *conn_get(struct sqlite_state *s)
{
    struct conn *c = pthread_getspecific(s->key);
    if (c && c->frozen && time(NULL) > c->opened) {
        struct conn *n = conn_open(s->path, NULL);
        if (n) {   /* normal again, or frozen anew: either way the newer view */
            conn_free(c);
            c = n;
            pthread_setspecific(s->key, c);
        } else {
            c->opened = time(NULL);
        }
    }
    if (c && conn_suspect) {
        conn_free(c);     /* start over: the next query gets a fresh connection */
        c = NULL;
        pthread_setspecific(s->key, NULL);
    }
    conn_suspect = false;
    if (!c) {
        c = conn_open(s->path, NULL);
        if (c)
            pthread_setspecific(s->key, c);
    }
    return c;
}

static sqlite3_stmt *stmt(struct conn *c, enum stmt_id id)
{
    if (!c->stmt[id] &&
        sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                           &c->stmt[id], NULL) != SQLITE_OK) {
        log_error("sqlite prepare failed: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    return c->stmt[id];
}

/* Bind text/int parameters from a format string: 's' text (NULL allowed),
 * 'i' int64. */
static sqlite3_stmt *prep(struct conn *c, enum stmt_id id, const char *fmt, ...)
{
    sqlite3_stmt *st = stmt(c, id);
    if (!st)
        return NULL;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    va_list ap;
    va_start(ap, fmt);
    for (int i = 1; fmt[i - 1]; i++) {
        if (fmt[i - 1] == 's') {
            const char *v = va_arg(ap, const char *);
            if (v)
                sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
        } else {
            sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
        }
    }
    va_end(ap);
    return st;
}

/* Run a statement that returns no rows. */
static int exec_stmt(sqlite3_stmt *st)
{
    if (!st)
        return -BERR_IO;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    note_error(rc);
    return -BERR_IO;
}

/* Step a query once: 1 for a row, 0 for none, negative on error. The
 * caller resets the statement after reading the row. */
static int step_row(sqlite3_stmt *st)
{
    if (!st)
        return -BERR_IO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    note_error(rc);
    return -BERR_IO;
}

/* Inside a transaction: does a check query return a row? */
static int check_row(sqlite3_stmt *st)
{
    int rc = step_row(st);
    if (rc > 0)
        sqlite3_reset(st);
    return rc;
}

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, len, "%s", v ? v : "");
}

static int sq_open(const char *path, void **state, struct berr *err)
{
    struct conn *c = conn_open(path, err);
    if (!c)
        return -BERR_IO;
    char *msg = NULL;
    /* read-only on a full disk: the schema must be there already */
    const char *sql = c->frozen ? "SELECT 1 FROM tags LIMIT 1" : schema;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = berr_set(err, BERR_IO, "cannot create schema in %s: %s", path,
                          msg ? msg : "?");
        sqlite3_free(msg);
        conn_free(c);
        return rc;
    }
    /* databases made before these columns existed get them now */
    if (!c->frozen) {
        sqlite3_exec(c->db, "ALTER TABLE manifests ADD COLUMN pulled INTEGER", NULL, NULL, NULL);
        sqlite3_exec(c->db, "ALTER TABLE manifests ADD COLUMN cached INTEGER", NULL, NULL, NULL);
    }
    conn_free(c);
    struct sqlite_state *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return berr_set(err, BERR_IO, "out of memory");
    }
    pthread_key_create(&s->key, conn_free);
    *state = s;
    return 0;
}

static void sq_close(void *state)
{
    struct sqlite_state *s = state;
    conn_free(pthread_getspecific(s->key));
    pthread_setspecific(s->key, NULL);
    pthread_key_delete(s->key);
    free(s->path);
    free(s);
}

/* End a transaction: commit when rc is 0, else roll back. */
static int finish_tx(struct conn *c, int rc)
{
    if (rc == 0)
        rc = exec_stmt(prep(c, S_COMMIT, ""));
    if (rc < 0)
        exec_stmt(prep(c, S_ROLLBACK, ""));
    return rc;
}

/* Publish a staged file inside the open transaction; *fresh: the blob file
 * is new, so a commit that fails takes it back (finish_tx_staged). */
static int publish_staged(const struct staged *f, const char *digest, bool *fresh,
                          struct berr *err)
{
    *fresh = !blob_exists(f->bs, digest);
    return blob_publish(f->bs, f->id, digest, err);
}

/* finish_tx for a transaction that published a blob: when it does not
 * commit (a full disk, most often), a blob file it made goes too, or it
 * would hold its space with nothing referring to it until the collector
 * runs. The file goes while a write transaction is open and the metadata
 * does not know the digest: sqlite may have rolled the failed one back
 * already, and another writer may have come to rely on the file since. */
static int finish_tx_staged(struct conn *c, int rc, const struct staged *f,
                            const char *digest, bool fresh, struct berr *err)
{
    if (rc == 0) {
        sqlite3_stmt *st = prep(c, S_COMMIT, "");
        int src = st ? sqlite3_step(st) : SQLITE_ERROR;
        if (st)
            sqlite3_reset(st);
        if (src == SQLITE_DONE)
            return 0;
        note_error(src);
        rc = berr_set(err, BERR_IO, "metadata write failed: %s", sqlite3_errstr(src));
    }
    if (fresh && (!sqlite3_get_autocommit(c->db) || exec_stmt(prep(c, S_BEGIN, "")) == 0)) {
        sqlite3_stmt *st = prep(c, S_BLOB_KNOWN, "s", digest);
        if (step_row(st) == 0)
            blob_unpublish(f->bs, digest);
        else if (st)
            sqlite3_reset(st);
    }
    if (!sqlite3_get_autocommit(c->db))
        exec_stmt(prep(c, S_ROLLBACK, ""));
    return rc;
}

static int sq_blob_link(void *state, const char *repo, const char *digest,
                        uint64_t size, const struct staged *file, struct berr *err)
{
    struct conn *c = conn_get(state);
    if (!c || exec_stmt(prep(c, S_BEGIN, "")) < 0)
        return berr_set(err, BERR_IO, "metadata unavailable");
    int64_t t = now();
    bool fresh = false;
    int rc = exec_stmt(prep(c, S_REPO_ADD, "si", repo, t));
    if (rc == 0)
        rc = exec_stmt(prep(c, S_BLOB_ADD, "sii", digest, (int64_t)size, t));
    if (rc == 0)
        rc = exec_stmt(prep(c, S_REPO_BLOB_ADD, "ssi", repo, digest, t));
    if (rc == 0 && file && file->bs)
        rc = publish_staged(file, digest, &fresh, err);
    else if (rc < 0)
        berr_set(err, BERR_IO, "metadata write failed");
    return finish_tx_staged(c, rc, file, digest, fresh, err);
}

static int sq_blob_mount(void *state, const char *from, const char *repo,
                         const char *digest)
{
    struct conn *c = conn_get(state);
    if (!c || exec_stmt(prep(c, S_BEGIN, "")) < 0)
        return -BERR_IO;
    sqlite3_stmt *st = prep(c, S_REPO_BLOB_GET, "ss", from, digest);
    int rc = step_row(st);
    if (rc > 0) {
        sqlite3_reset(st);
        int64_t t = now();
        rc = exec_stmt(prep(c, S_REPO_ADD, "si", repo, t));
        if (rc == 0)
            rc = exec_stmt(prep(c, S_REPO_BLOB_ADD, "ssi", repo, digest, t));
    } else if (rc == 0) {
        rc = -BERR_NOTFOUND;
    }
    return finish_tx(c, rc);
}

static int sq_blob_get(void *state, const char *repo, const char *digest,
                       uint64_t *size)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    sqlite3_stmt *st = prep(c, S_REPO_BLOB_GET, "ss", repo, digest);
    int rc = step_row(st);
    if (rc <= 0)
        return rc == 0 ? -BERR_NOTFOUND : rc;
    if (size)
        *size = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int sq_blob_unlink(void *state, const char *repo, const char *digest)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    int rc = exec_stmt(prep(c, S_REPO_BLOB_DEL, "ss", repo, digest));
    if (rc == 0 && sqlite3_changes(c->db) == 0)
        return -BERR_NOTFOUND;
    return rc;
}

static int sq_upload_add(void *state, const char *id, const char *repo)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    return exec_stmt(prep(c, S_UPLOAD_ADD, "ssi", id, repo, now()));
}

static int sq_upload_repo(void *state, const char *id, char repo[NAME_MAX_LEN + 1])
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    sqlite3_stmt *st = prep(c, S_UPLOAD_GET, "s", id);
    int rc = step_row(st);
    if (rc <= 0)
        return rc == 0 ? -BERR_NOTFOUND : rc;
    copy_col(repo, NAME_MAX_LEN + 1, st, 0);
    sqlite3_reset(st);
    return 0;
}

static int sq_upload_remove(void *state, const char *id)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    return exec_stmt(prep(c, S_UPLOAD_DEL, "s", id));
}

/* Inside a transaction: is every ref of a manifest present? */
static int check_refs(struct conn *c, const char *repo,
                      const struct manifest_put *put, struct berr *err)
{
    for (size_t i = 0; i < put->nrefs; i++) {
        const struct manifest_ref *r = &put->refs[i];
        enum stmt_id id = r->kind == REF_BLOB ? S_REPO_BLOB_GET : S_MANIFEST_HAS;
        sqlite3_stmt *st = prep(c, id, "ss", repo, r->digest);
        int rc = step_row(st);
        if (rc < 0)
            return berr_set(err, BERR_IO, "metadata query failed");
        sqlite3_reset(st);
        if (rc == 0)
            return berr_set(err, BERR_NOTFOUND, "%s %s is not in repository %s",
                            r->kind == REF_BLOB ? "blob" : "manifest", r->digest,
                            repo);
    }
    return 0;
}

static int sq_manifest_put(void *state, const char *repo,
                           const struct manifest_put *put, struct berr *err)
{
    struct conn *c = conn_get(state);
    if (!c || exec_stmt(prep(c, S_BEGIN, "")) < 0)
        return berr_set(err, BERR_IO, "metadata unavailable");
    const struct manifest_info *mi = &put->info;
    int64_t t = now();
    int rc = put->cached ? 0 : check_refs(c, repo, put, err);
    if (rc == 0)
        rc = exec_stmt(prep(c, S_REPO_ADD, "si", repo, t));
    if (rc == 0)
        rc = exec_stmt(prep(c, S_BLOB_ADD, "sii", mi->digest, (int64_t)mi->size, t));
    if (rc == 0)
        rc = exec_stmt(prep(c, S_MANIFEST_ADD, "sssisssii", repo, mi->digest,
                            mi->media_type, (int64_t)mi->size,
                            mi->subject[0] ? mi->subject : NULL,
                            put->artifact_type, put->annotations, t, (int64_t)put->cached));
    for (size_t i = 0; rc == 0 && i < put->nrefs; i++)
        rc = exec_stmt(prep(c, S_REF_ADD, "ssss", repo, mi->digest,
                            put->refs[i].digest,
                            put->refs[i].kind == REF_BLOB ? "blob" : "manifest"));
    if (rc == 0 && mi->subject[0])
        rc = exec_stmt(prep(c, S_REF_ADD, "ssss", repo, mi->digest, mi->subject,
                            "subject"));
    if (rc == 0 && put->tag)
        rc = exec_stmt(prep(c, S_TAG_SET, "sssi", repo, put->tag, mi->digest, t));
    bool fresh = false;
    if (rc == 0 && put->body.bs)
        rc = publish_staged(&put->body, mi->digest, &fresh, err);
    rc = finish_tx_staged(c, rc, &put->body, mi->digest, fresh, err);
    if (rc < 0 && err && !err->code)
        berr_set(err, BERR_IO, "metadata write failed");
    return rc;
}

static int sq_manifest_get(void *state, const char *repo, const char *reference,
                           struct manifest_info *out)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    enum stmt_id id = digest_valid(reference) ? S_MANIFEST_BY_DIGEST : S_MANIFEST_BY_TAG;
    sqlite3_stmt *st = prep(c, id, "ss", repo, reference);
    int rc = step_row(st);
    if (rc <= 0)
        return rc == 0 ? -BERR_NOTFOUND : rc;
    copy_col(out->digest, sizeof out->digest, st, 0);
    copy_col(out->media_type, sizeof out->media_type, st, 1);
    out->size = (uint64_t)sqlite3_column_int64(st, 2);
    copy_col(out->subject, sizeof out->subject, st, 3);
    out->updated = sqlite3_column_int64(st, 4);
    sqlite3_reset(st);
    return 0;
}

static int sq_manifest_delete(void *state, const char *repo, const char *digest)
{
    struct conn *c = conn_get(state);
    if (!c || exec_stmt(prep(c, S_BEGIN, "")) < 0)
        return -BERR_IO;
    int rc = exec_stmt(prep(c, S_MANIFEST_DEL, "ss", repo, digest));
    bool found = rc == 0 && sqlite3_changes(c->db) > 0;
    if (rc == 0)
        rc = exec_stmt(prep(c, S_REFS_DEL, "ss", repo, digest));
    if (rc == 0)
        rc = exec_stmt(prep(c, S_TAGS_DEL_DIGEST, "ss", repo, digest));
    if (rc == 0)
        rc = exec_stmt(prep(c, S_COMMIT, ""));
    if (rc < 0) {
        exec_stmt(prep(c, S_ROLLBACK, ""));
        return rc;
    }
    return found ? 0 : -BERR_NOTFOUND;
}

static int sq_tag_delete(void *state, const char *repo, const char *tag)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    int rc = exec_stmt(prep(c, S_TAG_DEL, "ss", repo, tag));
    if (rc == 0 && sqlite3_changes(c->db) == 0)
        return -BERR_NOTFOUND;
    return rc;
}

static int sq_tag_set(void *state, const char *repo, const char *tag, const char *digest)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    return exec_stmt(prep(c, S_TAG_SET, "sssi", repo, tag, digest, now()));
}

static int sq_repo_exists(void *state, const char *repo)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    return check_row(prep(c, S_REPO_EXISTS, "s", repo));
}

/* Rows of a name listing: ask for n+1 to learn whether more remain. */
static int list_rows(sqlite3_stmt *st, int n, meta_row_fn each, void *arg,
                     bool *more)
{
    int rc, count = 0;
    *more = false;
    while ((rc = step_row(st)) > 0) {
        if (count == n) {
            *more = true;
            sqlite3_reset(st);
            break;
        }
        count++;
        if (each(arg, (const char *)sqlite3_column_text(st, 0)) < 0) {
            sqlite3_reset(st);
            return -BERR_IO;
        }
    }
    return rc < 0 ? rc : 0;
}

static int sq_tags_list(void *state, const char *repo, const char *last, int n,
                        meta_row_fn each, void *arg, bool *more)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    if (n <= 0) {
        *more = false;
        return 0;
    }
    return list_rows(prep(c, S_TAGS_LIST, "ssi", repo, last ? last : "",
                          (int64_t)n + 1),
                     n, each, arg, more);
}

static int sq_catalog(void *state, const char *last, int n, meta_row_fn each,
                      void *arg, bool *more)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    if (n <= 0) {
        *more = false;
        return 0;
    }
    return list_rows(prep(c, S_CATALOG, "si", last ? last : "", (int64_t)n + 1),
                     n, each, arg, more);
}

static int sq_referrers(void *state, const char *repo, const char *digest,
                        const char *artifact_type, meta_referrer_fn each, void *arg)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    sqlite3_stmt *st = artifact_type
                           ? prep(c, S_REFERRERS_TYPE, "sss", repo, digest, artifact_type)
                           : prep(c, S_REFERRERS, "ss", repo, digest);
    int rc;
    while ((rc = step_row(st)) > 0) {
        struct referrer r = {
            .digest = (const char *)sqlite3_column_text(st, 0),
            .media_type = (const char *)sqlite3_column_text(st, 1),
            .size = (uint64_t)sqlite3_column_int64(st, 2),
            .artifact_type = (const char *)sqlite3_column_text(st, 3),
            .annotations = (const char *)sqlite3_column_text(st, 4),
        };
        if (each(arg, &r) < 0) {
            sqlite3_reset(st);
            return -BERR_IO;
        }
    }
    return rc;
}

/* ---- the collector's queries ---------------------------------------------- */

static int sq_tags_detail(void *state, const char *repo, meta_tag_fn each, void *arg)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    sqlite3_stmt *st = prep(c, S_TAGS_DETAIL, "s", repo);
    int rc;
    while ((rc = step_row(st)) > 0) {
        if (each(arg, (const char *)sqlite3_column_text(st, 0),
                 (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2)) < 0) {
            sqlite3_reset(st);
            return -BERR_IO;
        }
    }
    return rc;
}

/* Rows of (text, text) pairs, collected before calling back so the
 * callback may write: a statement still stepping holds the database. */
static int pairs(sqlite3_stmt *st, meta_manifest_fn each, void *arg)
{
    json_t *rows = json_array();
    int rc;
    while ((rc = step_row(st)) > 0)
        json_array_append_new(rows, json_pack("[s,s]", sqlite3_column_text(st, 0),
                                              sqlite3_column_text(st, 1)));
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (rc == 0 && each(arg, json_string_value(json_array_get(row, 0)),
                            json_string_value(json_array_get(row, 1))) < 0)
            rc = -BERR_IO;
    }
    json_decref(rows);
    return rc;
}

static int sq_gc_manifests(void *state, int64_t cutoff, bool untagged,
                           meta_manifest_fn each, void *arg)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    int rc = pairs(prep(c, S_GC_ORPHAN_REFERRERS, "i", cutoff), each, arg);
    if (rc == 0 && untagged)
        rc = pairs(prep(c, S_GC_UNTAGGED, "i", cutoff), each, arg);
    return rc;
}


static int sq_gc_manifest_delete(void *state, const char *repo, const char *digest,
                                 int64_t cutoff, bool untagged)
{
    struct conn *c = conn_get(state);
    if (!c || exec_stmt(prep(c, S_BEGIN, "")) < 0)
        return -BERR_IO;
    int rc = check_row(prep(c, S_GC_MANIFEST_CHECK, "issi", cutoff, repo, digest,
                            (int64_t)untagged));
    if (rc == 0)
        rc = -BERR_CONFLICT;
    else if (rc > 0)
        rc = exec_stmt(prep(c, S_MANIFEST_DEL, "ss", repo, digest));
    if (rc == 0)
        rc = exec_stmt(prep(c, S_REFS_DEL, "ss", repo, digest));
    if (rc == 0)
        rc = exec_stmt(prep(c, S_TAGS_DEL_DIGEST, "ss", repo, digest));
    return finish_tx(c, rc);
}

static int sq_gc_unlink_unused(void *state, int64_t cutoff)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    int rc = exec_stmt(prep(c, S_GC_UNLINK, "i", cutoff));
    return rc < 0 ? rc : sqlite3_changes(c->db);
}

static int sq_gc_blobs(void *state, int64_t cutoff, meta_blob_fn each, void *arg)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    sqlite3_stmt *st = prep(c, S_GC_BLOBS, "i", cutoff);
    json_t *rows = json_array();
    int rc;
    while ((rc = step_row(st)) > 0)
        json_array_append_new(rows, json_pack("[s,I]", sqlite3_column_text(st, 0),
                                              (json_int_t)sqlite3_column_int64(st, 1)));
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (rc == 0 && each(arg, json_string_value(json_array_get(row, 0)),
                            (uint64_t)json_integer_value(json_array_get(row, 1))) < 0)
            rc = -BERR_IO;
    }
    json_decref(rows);
    return rc;
}

static int sq_gc_blob_delete(void *state, const char *digest, int64_t cutoff,
                             struct blob_store *bs)
{
    struct conn *c = conn_get(state);
    if (!c || exec_stmt(prep(c, S_BEGIN, "")) < 0)
        return -BERR_IO;
    int rc = check_row(prep(c, S_BLOB_KNOWN, "s", digest));
    if (rc > 0)
        rc = check_row(prep(c, S_GC_BLOB_CHECK, "is", cutoff, digest));
    else if (rc == 0)
        rc = 1;   /* a file no row knows: left by a crash between link and commit */
    if (rc == 0)
        rc = -BERR_CONFLICT;
    else if (rc > 0)
        rc = exec_stmt(prep(c, S_BLOB_DEL, "s", digest));
    if (rc == 0)
        rc = exec_stmt(prep(c, S_REPO_BLOBS_DEL, "s", digest));
    if (rc == 0 && bs)
        rc = blob_trash(bs, digest);
    return finish_tx(c, rc);
}

static int sq_snapshot(void *state, const char *path)
{
    struct conn *c = conn_get(state);
    sqlite3_stmt *st = NULL;
    if (!c || sqlite3_prepare_v2(c->db, "VACUUM INTO ?1", -1, &st, NULL) != SQLITE_OK)
        return -BERR_IO;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -BERR_IO;
    sqlite3_finalize(st);
    return rc;
}

static bool sq_blob_known(void *state, const char *digest)
{
    struct conn *c = conn_get(state);
    return c && check_row(prep(c, S_BLOB_KNOWN, "s", digest)) > 0;
}

/* Rows of one text column, collected before calling back. */
static int names(sqlite3_stmt *st, meta_row_fn each, void *arg)
{
    json_t *rows = json_array();
    int rc;
    while ((rc = step_row(st)) > 0)
        json_array_append_new(rows, json_string((const char *)sqlite3_column_text(st, 0)));
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (rc == 0 && each(arg, json_string_value(row)) < 0)
            rc = -BERR_IO;
    }
    json_decref(rows);
    return rc;
}

static int sq_gc_uploads(void *state, int64_t cutoff, meta_row_fn each, void *arg)
{
    struct conn *c = conn_get(state);
    return c ? names(prep(c, S_GC_UPLOADS, "i", cutoff), each, arg) : -BERR_IO;
}

struct repo_gc {
    struct conn *c;
    meta_row_fn each;
    void *arg;
};

static int repo_gc_one(void *arg, const char *name)
{
    struct repo_gc *g = arg;
    if (exec_stmt(prep(g->c, S_GC_REPO_DEL, "s", name)) < 0)
        return -BERR_IO;
    if (sqlite3_changes(g->c->db) == 0)
        return 0;   /* something arrived meanwhile */
    return g->each ? g->each(g->arg, name) : 0;
}

static int sq_gc_repositories(void *state, meta_row_fn each, void *arg)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    struct repo_gc g = {c, each, arg};
    return names(prep(c, S_GC_REPOS, ""), repo_gc_one, &g);
}

static int sq_usage(void *state, meta_usage_fn each, void *arg, uint64_t *total)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    sqlite3_stmt *st = prep(c, S_USAGE, "");
    int rc;
    while ((rc = step_row(st)) > 0) {
        if (each(arg, (const char *)sqlite3_column_text(st, 0),
                 (uint64_t)sqlite3_column_int64(st, 1),
                 (uint64_t)sqlite3_column_int64(st, 2)) < 0) {
            sqlite3_reset(st);
            return -BERR_IO;
        }
    }
    if (rc < 0)
        return rc;
    st = prep(c, S_TOTAL, "");
    if ((rc = step_row(st)) <= 0)
        return rc < 0 ? rc : -BERR_IO;
    *total = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int sq_manifest_touch(void *state, const char *repo, const char *digest)
{
    struct conn *c = conn_get(state);
    return c ? exec_stmt(prep(c, S_TOUCH, "ssi", repo, digest, now())) : -BERR_IO;
}

static int sq_gc_evictable(void *state, meta_evict_fn each, void *arg)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    sqlite3_stmt *st = prep(c, S_EVICT_CANDIDATES, "");
    json_t *rows = json_array();
    int rc;
    while ((rc = step_row(st)) > 0)
        json_array_append_new(rows, json_pack("[s,s,I]", sqlite3_column_text(st, 0),
                                              sqlite3_column_text(st, 1),
                                              (json_int_t)sqlite3_column_int64(st, 2)));
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (rc == 0 && each(arg, json_string_value(json_array_get(row, 0)),
                            json_string_value(json_array_get(row, 1)),
                            (uint64_t)json_integer_value(json_array_get(row, 2))) != 0)
            break;
    }
    json_decref(rows);
    return rc;
}

static int sq_totals(void *state, uint64_t *blobs, uint64_t *bytes)
{
    struct conn *c = conn_get(state);
    if (!c)
        return -BERR_IO;
    sqlite3_stmt *st = prep(c, S_TOTAL, "");
    int rc = step_row(st);
    if (rc <= 0)
        return rc < 0 ? rc : -BERR_IO;
    *bytes = (uint64_t)sqlite3_column_int64(st, 0);
    *blobs = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return 0;
}

const struct meta_driver meta_driver_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .retry = sq_retry,
    .blob_link = sq_blob_link,
    .blob_get = sq_blob_get,
    .blob_unlink = sq_blob_unlink,
    .upload_add = sq_upload_add,
    .upload_repo = sq_upload_repo,
    .upload_remove = sq_upload_remove,
    .manifest_put = sq_manifest_put,
    .manifest_get = sq_manifest_get,
    .manifest_delete = sq_manifest_delete,
    .tag_delete = sq_tag_delete,
    .tag_set = sq_tag_set,
    .repo_exists = sq_repo_exists,
    .tags_list = sq_tags_list,
    .catalog = sq_catalog,
    .referrers = sq_referrers,
    .blob_mount = sq_blob_mount,
    .tags_detail = sq_tags_detail,
    .gc_manifests = sq_gc_manifests,
    .gc_manifest_delete = sq_gc_manifest_delete,
    .gc_unlink_unused = sq_gc_unlink_unused,
    .gc_blobs = sq_gc_blobs,
    .gc_blob_delete = sq_gc_blob_delete,
    .blob_known = sq_blob_known,
    .snapshot = sq_snapshot,
    .gc_uploads = sq_gc_uploads,
    .gc_repositories = sq_gc_repositories,
    .usage = sq_usage,
    .totals = sq_totals,
    .manifest_touch = sq_manifest_touch,
    .gc_evictable = sq_gc_evictable,
};
