/*
 * api_lists.c - the listing endpoints: tags/list, _catalog and referrers.
 *
 * Listings are paginated with `n` and `last`: `n` is clamped to
 * limits.page_max (never refused), rows are streamed from the metadata one
 * at a time into the JSON array, and a Link header points at the next page
 * when more rows remain.
 */
#include "http.h"

#include <string.h>

static int append_string(void *arg, const char *value)
{
    return json_array_append_new(arg, json_string(value)) == 0 ? 0 : -1;
}

struct visible_list {
    struct request *rq;
    json_t *items;
    int want;
    char last[NAME_MAX_LEN + 1];   /* the last name read, visible or not */
    bool full;
};

/* _catalog lists only the repositories the caller may pull. */
static int append_visible(void *arg, const char *name)
{
    struct visible_list *v = arg;
    snprintf(v->last, sizeof v->last, "%s", name);
    if (v->full || !auth_visible(v->rq->auth, &v->rq->who, name))
        return 0;
    if ((int)json_array_size(v->items) == v->want) {
        v->full = true;    /* one more visible name: there is a next page */
        return 0;
    }
    return append_string(v->items, name);
}

static bool get_only(struct request *rq)
{
    if (strcmp(rq->method, "GET") == 0 || is_head(rq))
        return true;
    respond_error(rq, 405, "UNSUPPORTED", "method %s not allowed", rq->method);
    return false;
}

/* Read n and last; answers 400 and returns false when they are malformed. */
static bool page_params(struct request *rq, int *n, const char **last)
{
    if (page_size_parse(req_query(rq, "n"), rq->cfg->page_max, n) < 0) {
        respond_error(rq, 400, "PAGINATION_NUMBER_INVALID", "n must be a non-negative integer");
        return false;
    }
    *last = req_query(rq, "last");
    return true;
}

static enum MHD_Result respond_page(struct request *rq, json_t *doc, json_t *items,
                                    const char *base, int n, bool more)
{
    struct MHD_Response *resp = NULL;
    const char *next = NULL;
    size_t count = json_array_size(items);
    if (more && count > 0)
        next = json_string_value(json_array_get(items, count - 1));
    char *next_copy = next ? strdup(next) : NULL;
    resp = response_json(rq, doc);
    if (resp && next_copy)
        header_add(resp, "Link", "<%s?n=%d&last=%s>; rel=\"next\"", base, n, next_copy);
    free(next_copy);
    return respond(rq, 200, resp);
}

enum MHD_Result api_tags(struct request *rq)
{
    if (!get_only(rq))
        return MHD_YES;
    const char *name = rq->route.name, *last;
    int n;
    if (!page_params(rq, &n, &last))
        return MHD_YES;
    int exists = meta_repo_exists(rq->srv->meta, name);
    if (exists < 0)
        return respond_error(rq, 503, "UNAVAILABLE", "the registry's metadata cannot be read");
    if (!exists)
        return respond_error(rq, 404, "NAME_UNKNOWN", "repository %s unknown", name);
    json_t *tags = json_array();
    bool more = false;
    if (meta_tags_list(rq->srv->meta, name, last, n, append_string, tags, &more) < 0) {
        json_decref(tags);
        return respond_error(rq, 500, "UNSUPPORTED", "metadata query failed");
    }
    char base[NAME_MAX_LEN + 32];
    snprintf(base, sizeof base, "/v2/%s/tags/list", name);
    json_t *doc = json_pack("{s:s,s:o}", "name", name, "tags", tags);
    return respond_page(rq, doc, tags, base, n, more);
}

enum MHD_Result api_catalog(struct request *rq)
{
    if (!get_only(rq))
        return MHD_YES;
    const char *last;
    int n;
    if (!page_params(rq, &n, &last))
        return MHD_YES;
    json_t *repos = json_array();
    bool more = n > 0;
    struct visible_list v = {.rq = rq, .items = repos, .want = n};
    snprintf(v.last, sizeof v.last, "%s", last ? last : "");
    /* Read pages of names until n visible ones and one more are found (or
     * the names run out): what the caller may not see never shortens a
     * page or hides the next one. */
    while (more && !v.full) {
        char from[NAME_MAX_LEN + 1];
        snprintf(from, sizeof from, "%s", v.last);
        if (meta_catalog(rq->srv->meta, from, rq->cfg->page_max, append_visible, &v,
                         &more) < 0) {
            json_decref(repos);
            return respond_error(rq, 500, "UNSUPPORTED", "metadata query failed");
        }
    }
    json_t *doc = json_pack("{s:o}", "repositories", repos);
    return respond_page(rq, doc, repos, "/v2/_catalog", n, v.full);
}

static int append_referrer(void *arg, const struct referrer *r)
{
    json_t *d = json_pack("{s:s,s:s,s:I}", "mediaType", r->media_type, "digest",
                          r->digest, "size", (json_int_t)r->size);
    if (!d)
        return -1;
    if (r->artifact_type)
        json_object_set_new(d, "artifactType", json_string(r->artifact_type));
    if (r->annotations) {
        json_t *ann = json_loads(r->annotations, 0, NULL);
        if (ann)
            json_object_set_new(d, "annotations", ann);
    }
    return json_array_append_new(arg, d) == 0 ? 0 : -1;
}

enum MHD_Result api_referrers(struct request *rq)
{
    if (!get_only(rq) || !digest_check(rq, rq->route.ref))
        return MHD_YES;
    const char *artifact_type = req_query(rq, "artifactType");
    if (artifact_type && !*artifact_type)
        artifact_type = NULL;
    json_t *list = json_array();
    if (meta_referrers(rq->srv->meta, rq->route.name, rq->route.ref, artifact_type,
                       append_referrer, list) < 0) {
        json_decref(list);
        return respond_error(rq, 500, "UNSUPPORTED", "metadata query failed");
    }
    json_t *doc = json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType",
                            "application/vnd.oci.image.index.v1+json", "manifests", list);
    struct MHD_Response *resp = response_json(rq, doc);
    if (!resp)
        return MHD_NO;
    MHD_del_response_header(resp, "Content-Type", "application/json");
    header_add(resp, "Content-Type", "application/vnd.oci.image.index.v1+json");
    if (artifact_type)
        header_add(resp, "OCI-Filters-Applied", "artifactType");
    return respond(rq, 200, resp);
}
