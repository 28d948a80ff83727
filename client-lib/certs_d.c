/*
 * certs_d.c - docker's per-registry TLS files, used by berth as they are:
 * for a registry at HOST:PORT (HOST alone for port 443), the directories
 * /etc/docker/certs.d/HOST[:PORT]/ and ~/.docker/certs.d/HOST[:PORT]/ hold
 * *.crt files (CAs trusted for that registry, beside the system's) and
 * NAME.cert with NAME.key (a client certificate). A docker user's files
 * work for berth with nothing more to do. --ca FILE still wins for CAs.
 */
#include "internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum { CA_MAX = 1 << 20 };   /* bytes of CA files read for one registry */

/* "HOST:PORT" of an https URL as written, ":443" dropped; false when
 * there is none or it could name another directory. */
static bool url_authority(const char *url, char *out, size_t len)
{
    if (strncasecmp(url, "https://", 8) != 0)
        return false;
    const char *a = url + 8;
    size_t n = strcspn(a, "/?#");
    const char *at = memchr(a, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    if (n == 0 || n >= len)
        return false;
    snprintf(out, len, "%.*s", (int)n, a);
    size_t l = strlen(out);
    if (l > 4 && strcmp(out + l - 4, ":443") == 0)
        out[l - 4] = '\0';
    return strstr(out, "..") == NULL && out[0] != '.';
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && strcmp(s + a - b, suffix) == 0;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Append a CA file to the buffer (within CA_MAX in all). */
static void append_file(FILE *mem, size_t *total, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && *total + n <= CA_MAX) {
        fwrite(chunk, 1, n, mem);
        *total += n;
    }
    fputc('\n', mem);
    fclose(f);
}

void certs_d_apply(CURL *h, const char *url, bool ca_given)
{
    char auth[300];
    if (!url_authority(url, auth, sizeof auth))
        return;
    const char *home = getenv("HOME");
    char dirs[2][4096];
    int ndirs = 0;
    snprintf(dirs[ndirs++], sizeof dirs[0], "/etc/docker/certs.d/%s", auth);
    if (home && home[0] == '/')
        snprintf(dirs[ndirs++], sizeof dirs[0], "%s/.docker/certs.d/%s", home, auth);
    char *cas = NULL;
    size_t cas_len = 0, total = 0;
    FILE *mem = open_memstream(&cas, &cas_len);
    bool client = false;
    for (int i = 0; i < ndirs && mem; i++) {
        struct dirent **names = NULL;
        int n = scandir(dirs[i], &names, NULL, alphasort);
        for (int j = 0; j < n; j++) {
            char path[8192 + 512], key[8192 + 512];
            const char *name = names[j]->d_name;
            snprintf(path, sizeof path, "%s/%s", dirs[i], name);
            if (ends_with(name, ".crt") && !ca_given && is_file(path)) {
                append_file(mem, &total, path);
            } else if (ends_with(name, ".cert") && !client && is_file(path)) {
                snprintf(key, sizeof key, "%s/%.*s.key", dirs[i], (int)(strlen(name) - 5), name);
                if (is_file(key)) {
                    curl_easy_setopt(h, CURLOPT_SSLCERT, path);
                    curl_easy_setopt(h, CURLOPT_SSLKEY, key);
                    client = true;
                }
            }
            free(names[j]);
        }
        free(names);
    }
    if (mem && fclose(mem) == 0 && total > 0) {
        /* in addition to the system's CAs (CURLOPT_CAINFO stays) */
        struct curl_blob blob = {.data = cas, .len = cas_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    }
    free(cas);
}
