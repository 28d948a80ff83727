/*
 * routes.c - turning a request path into a route.
 *
 * Repository names contain slashes, so a path is read from its end: the
 * last components say which endpoint it is, everything between /v2/ and
 * them is the name. Nothing is looked up here; a name that does not match
 * the spec's grammar is flagged so the caller answers NAME_INVALID.
 */
#include "http.h"

#include <stdio.h>
#include <string.h>

/* Does path end with "/<a>/<b>" (b may be "" for a trailing slash, or NULL
 * to accept any final component)? On success *name_end points at the
 * slash before <a> and *last at the final component. */
static bool ends_with(const char *path, const char *a, const char *b,
                      const char **name_end, const char **last)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return false;
    const char *final = slash + 1;
    if (b && strcmp(final, b) != 0)
        return false;
    if (!b && !*final)
        return false;
    size_t alen = strlen(a);
    if ((size_t)(slash - path) < alen + 1)
        return false;
    const char *start = slash - alen;
    if (memcmp(start, a, alen) != 0 || start[-1] != '/')
        return false;
    *name_end = start - 1;
    *last = final;
    return true;
}

void route_parse(const char *path, const char *token_path, struct route *out)
{
    memset(out, 0, sizeof *out);
    if (token_path && strcmp(path, token_path) == 0) {
        out->kind = ROUTE_TOKEN;
        return;
    }
    if (strcmp(path, "/v2/") == 0 || strcmp(path, "/v2") == 0) {
        out->kind = ROUTE_BASE;
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        out->kind = ROUTE_HEALTH;
        return;
    }
    if (strcmp(path, "/readyz") == 0) {
        out->kind = ROUTE_READY;
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        out->kind = ROUTE_METRICS;
        return;
    }
    if (strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0) {
        out->kind = ROUTE_UI;
        return;
    }
    if (strcmp(path, "/admin/storage") == 0) {
        out->kind = ROUTE_ADMIN_STORAGE;
        return;
    }
    if (strcmp(path, "/v2/_catalog") == 0) {
        out->kind = ROUTE_CATALOG;
        return;
    }
    if (strncmp(path, "/v2/", 4) != 0)
        return;

    const char *name_end = NULL, *last = NULL;
    enum route_kind kind = ROUTE_NONE;
    const char *p = path + 3;   /* keep the slash: ends_with wants one */
    if (ends_with(p, "blobs/uploads", "", &name_end, &last) ||
        ends_with(p, "blobs", "uploads", &name_end, &last))
        kind = ROUTE_UPLOAD_START;
    else if (ends_with(p, "blobs/uploads", NULL, &name_end, &last))
        kind = ROUTE_UPLOAD;
    else if (ends_with(p, "tags", "list", &name_end, &last))
        kind = ROUTE_TAGS;
    else if (ends_with(p, "manifests", NULL, &name_end, &last))
        kind = ROUTE_MANIFEST;
    else if (ends_with(p, "blobs", NULL, &name_end, &last))
        kind = ROUTE_BLOB;
    else if (ends_with(p, "referrers", NULL, &name_end, &last))
        kind = ROUTE_REFERRERS;
    else
        return;

    out->kind = kind;
    size_t nlen = (size_t)(name_end - (p + 1));
    if (name_end <= p || nlen > NAME_MAX_LEN) {
        out->name_invalid = true;
        return;
    }
    memcpy(out->name, p + 1, nlen);
    out->name[nlen] = '\0';
    out->name_invalid = !repo_name_valid(out->name);
    if (kind != ROUTE_UPLOAD_START && kind != ROUTE_TAGS)
        snprintf(out->ref, sizeof out->ref, "%s", last);
    if (strlen(last) >= sizeof out->ref)
        out->ref[0] = '\0';     /* too long to be any valid reference */
}
