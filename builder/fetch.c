/*
 * fetch.c - ADD of a URL.
 *
 * The URL (http or https, redirects followed) is fetched with libcurl to a
 * file in the plan's temporary directory (removed with the plan), hashed
 * as it is written. The layer gets it as a file of mode 0600 (or --chmod)
 * named after the URL's last path component, with the Last-Modified time
 * when the server gives one. An answer other than 2xx fails the step as
 * docker's does: "failed to GET <url> with status 404 Not Found".
 */
#include "internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fetch {
    int fd;
    EVP_MD_CTX *md;
    uint64_t size;
    char status[128];            /* the status line's reason, "404 Not Found" */
    bool failed;
};

static size_t fetch_write(char *data, size_t sz, size_t nm, void *arg)
{
    struct fetch *f = arg;
    size_t len = sz * nm;
    if (write_all(f->fd, data, len) < 0) {
        f->failed = true;
        return 0;
    }
    EVP_DigestUpdate(f->md, data, len);
    f->size += len;
    return len;
}

static size_t fetch_header(char *data, size_t sz, size_t nm, void *arg)
{
    struct fetch *f = arg;
    size_t len = sz * nm;
    if (len > 5 && !strncmp(data, "HTTP/", 5)) {
        const char *sp = memchr(data, ' ', len);
        size_t n = sp ? len - (size_t)(sp + 1 - data) : 0;
        while (n && (sp[n] == '\r' || sp[n] == '\n'))
            n--;
        if (sp)
            snprintf(f->status, sizeof f->status, "%.*s", (int)n, sp + 1);
    }
    return len;
}

/* The file name a URL gives: its path's last component, %-decoded. */
static char *url_filename(CURL *h, const char *url)
{
    const char *s = strstr(url, "://");
    s = s ? strchr(s + 3, '/') : NULL;
    if (!s)
        return strdup("");
    size_t end = strcspn(s, "?#");
    const char *last = s;
    for (size_t i = 0; i < end; i++)
        if (s[i] == '/')
            last = s + i;
    int n = 0;
    char *dec = curl_easy_unescape(h, last + 1, (int)(s + end - last - 1), &n);
    char *name = dec ? strndup(dec, (size_t)n) : NULL;
    curl_free(dec);
    if (name && (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))) {
        free(name);
        return strdup("");
    }
    return name;
}

/* Fetch `url` into the plan's temporary directory. */
int copy_fetch(struct copy_plan *p, const char *url, char **path, char **name, struct stat *st,
               unsigned char sha[32], struct berr *err)
{
    if (!p->tmpdir) {
        const char *t = getenv("TMPDIR");
        if (asprintf(&p->tmpdir, "%s/berth-add-XXXXXX", t && *t ? t : "/tmp") < 0) {
            p->tmpdir = NULL;
            return berr_set(err, BERR_IO, "out of memory");
        }
        if (!mkdtemp(p->tmpdir)) {
            free(p->tmpdir);
            p->tmpdir = NULL;
            return copy_fail(p, err, BERR_IO, "ADD failed: mkdtemp: %s", strerror(errno));
        }
    }
    CURL *h = curl_easy_init();
    if (!h)
        return berr_set(err, BERR_IO, "curl_easy_init failed");
    *name = url_filename(h, url);
    static unsigned counter;
    if (!*name || asprintf(path, "%s/%u", p->tmpdir, counter++) < 0) {
        curl_easy_cleanup(h);
        return berr_set(err, BERR_IO, "out of memory");
    }
    struct fetch f = { .fd = open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600),
                       .md = EVP_MD_CTX_new() };
    int rc = 0;
    if (f.fd < 0 || !f.md || !EVP_DigestInit_ex(f.md, EVP_sha256(), NULL)) {
        rc = copy_fail(p, err, BERR_IO, "ADD failed: %s: %s", *path, strerror(errno));
        goto out;
    }
    char curlerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "berth-build");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fetch_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &f);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && status >= 400)) {
        rc = copy_fail(p, err, BERR_IO, "ADD failed: Get \"%s\": %s", url,
                       *curlerr ? curlerr : curl_easy_strerror(cc));
        goto out;
    }
    if (status >= 400 || status < 200) {
        rc = copy_fail(p, err, BERR_NOTFOUND, "ADD failed: failed to GET %s with status %s", url,
                       *f.status ? f.status : "(none)");
        goto out;
    }
    if (f.failed) {
        rc = copy_fail(p, err, BERR_IO, "ADD failed: writing %s: %s", *path, strerror(errno));
        goto out;
    }
    EVP_DigestFinal_ex(f.md, sha, NULL);
    curl_off_t ft = -1;
    curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ft);
    if (fstat(f.fd, st) < 0) {
        rc = copy_fail(p, err, BERR_IO, "ADD failed: stat %s: %s", *path, strerror(errno));
        goto out;
    }
    if (ft >= 0) {
        st->st_mtim.tv_sec = (time_t)ft;
        st->st_mtim.tv_nsec = 0;
    }
out:
    if (f.fd >= 0)
        close(f.fd);
    EVP_MD_CTX_free(f.md);
    curl_easy_cleanup(h);
    return rc;
}
