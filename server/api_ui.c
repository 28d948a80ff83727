/*
 * api_ui.c - the web UI: GET and HEAD /ui/ (index.html) and /ui/<file>,
 * served from the table ui/embed.sh builds into berthd (ui_files.h).
 *
 * The UI needs no registry auth of its own: it is static files, and the
 * pages authenticate their calls to the registry API like any client. Files
 * are revalidated with an ETag (they change with the binary, not with a
 * name), and every answer carries a content security policy that keeps the
 * page to this origin.
 */
#include "http.h"
#include "ui_files.h"

#include <stdio.h>
#include <string.h>

#define UI_PREFIX "/ui/"
#define UI_CSP "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static const struct ui_file *ui_file_find(const char *name)
{
    for (size_t i = 0; i < ui_files_count; i++)
        if (strcmp(ui_files[i].name, name) == 0)
            return &ui_files[i];
    return NULL;
}

/* FNV-1a over the bytes: a validator, not a security measure. */
static void ui_etag(const struct ui_file *f, char *out, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < f->len; i++) {
        h ^= f->data[i];
        h *= 0x100000001b3ULL;
    }
    snprintf(out, len, "\"%016llx-%zx\"", (unsigned long long)h, f->len);
}

/* Does If-None-Match list this ETag (or "*")? */
static bool etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match)
        return false;
    if (strcmp(if_none_match, "*") == 0)
        return true;
    size_t n = strlen(etag);
    for (const char *p = strstr(if_none_match, etag); p; p = strstr(p + 1, etag)) {
        bool starts = p == if_none_match || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/';
        bool ends = p[n] == '\0' || p[n] == ',' || p[n] == ' ';
        if (starts && ends)
            return true;
    }
    return false;
}

static void ui_headers(struct MHD_Response *resp, const char *etag)
{
    header_add(resp, "Cache-Control", "no-cache");
    header_add(resp, "ETag", "%s", etag);
    header_add(resp, "Content-Security-Policy", "%s", UI_CSP);
    header_add(resp, "X-Content-Type-Options", "nosniff");
    header_add(resp, "X-Frame-Options", "DENY");
    header_add(resp, "Referrer-Policy", "no-referrer");
}

enum MHD_Result api_ui(struct request *rq)
{
    if (strcmp(rq->method, "GET") != 0 && !is_head(rq)) {
        static const char body[] =
            "{\"errors\":[{\"code\":\"UNSUPPORTED\",\"message\":\"the operation is unsupported\","
            "\"detail\":\"the web UI answers GET and HEAD only\"}]}";
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
        if (resp) {
            header_add(resp, "Content-Type", "application/json");
            header_add(resp, "Allow", "GET, HEAD");
        }
        return respond(rq, 405, resp);
    }
    if (strcmp(rq->path, "/ui") == 0) {
        struct MHD_Response *resp = response_empty();
        if (resp)
            header_add(resp, "Location", UI_PREFIX);
        return respond(rq, 301, resp);
    }
    if (strncmp(rq->path, UI_PREFIX, strlen(UI_PREFIX)) != 0)
        return respond_error(rq, 404, "NAME_UNKNOWN", "no such endpoint: %s", rq->path);
    const char *name = rq->path + strlen(UI_PREFIX);
    if (!*name)
        name = "index.html";
    const struct ui_file *f = ui_file_find(name);
    if (!f)
        return respond_error(rq, 404, "NAME_UNKNOWN", "no such file in the web UI: %s", name);

    char etag[48];
    ui_etag(f, etag, sizeof etag);
    struct MHD_Response *resp;
    unsigned status = 200;
    if (etag_matches(req_header(rq, "If-None-Match"), etag)) {
        resp = response_empty();
        status = 304;
    } else {
        resp = MHD_create_response_from_buffer(f->len, (void *)f->data,
                                               MHD_RESPMEM_PERSISTENT);
        if (resp)
            header_add(resp, "Content-Type", "%s", f->content_type);
        if (!is_head(rq))
            rq->bytes_out = f->len;
    }
    if (resp)
        ui_headers(resp, etag);
    return respond(rq, status, resp);
}
